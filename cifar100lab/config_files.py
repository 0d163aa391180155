"""Settings files, read before any work: :class:`ConfigError`, the error every refused setting raises, and the one
YAML reader every campaign, study, train config and runs file goes through.

Nothing here imports torch or the rest of the package: the runs listing, for one, refuses a missing folder without
importing torch.
"""
from __future__ import annotations

import ast
import difflib
import os
import re
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration is invalid; raised before any work starts."""

    def _render_traceback_(self) -> list[str]:
        """How IPython shows it (a notebook cell, papermill's error): its one line, as the command line does."""
        return [f"{type(self).__name__}: {self}"]


def did_you_mean(given, valid, prefix: str = "") -> str:
    """' (did you mean PREFIXNAME?)' for the valid name closest to a mistyped one ('' when none is close), so an
    error that lists every valid name also points at the one meant."""
    close = difflib.get_close_matches(str(given), [str(v) for v in valid], n=1, cutoff=0.75)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def with_guesses(names, valid) -> str:
    """``names`` (the refused ones) joined by commas, each followed by its :func:`did_you_mean`."""
    return ", ".join(f"{name}{did_you_mean(name, valid)}" for name in names)


PAPERMILL_HEADER = "# Parameters"  # the first line of the cell papermill injects (papermill.translators.codify)


def _assigned(source: str) -> set[str]:
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return set()
    return {target.id for node in body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)}


def check_notebook_parameters(namespace: dict, hint: str = "") -> None:
    """Refuse a parameter papermill injected that the notebook does not declare. Papermill only warns ("Passed
    unknown parameter") and the notebook runs on its default: ``-p epoch 1`` trained 200 epochs, and
    ``-p campain full`` would write the quick campaign's report. Read from IPython's input history (``In``):
    papermill puts its injected cell right after the parameters cell, so this run's injected cell (the last) is
    checked against the names the cell before it assigns; a kernel kept between runs holds earlier runs' cells
    too. Nothing to check outside papermill. ``hint`` ends the error line."""
    history = [s for s in namespace.get("In") or () if isinstance(s, str)]
    injected_at = [i for i, source in enumerate(history) if source.split("\n", 1)[0].strip() == PAPERMILL_HEADER]
    if not injected_at or injected_at[-1] == 0:
        return
    declared = sorted(_assigned(history[injected_at[-1] - 1]))
    if unknown := sorted(_assigned(history[injected_at[-1]]) - set(declared)):
        raise ConfigError(f"unknown notebook parameter(s) {with_guesses(unknown, declared)}; this notebook's "
                          f"parameters are {', '.join(declared)}{hint}")


YAML_MAX_BYTES = 1 << 20  # settings, not data: a bigger file is a mistake, and it is copied into every record


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, except that a key given twice in one mapping is an error: PyYAML keeps the last
    silently, so an edit lower down would undo one above without a word."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may repeat keys on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader's own error says so
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping (first on line {first}); give each "
                                f"key once", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


# YAML 1.1 (PyYAML) reads a number whose exponent has no sign or whose mantissa no point, 1e-3, 5e-4, 1.0e30, as text: valid JSON (-p overrides
# '{"lr": 1e-3}') and --set overrides.lr=1e-3 were refused as "must be a finite number, got '1e-3'". YAML 1.2 and
# JSON read it as a float, as here.
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(
    r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"), list("-+.0123456789"))


def _yaml_problem(e: yaml.YAMLError) -> str:
    """A YAML error on one line: what is wrong and where (PyYAML's own text spans several lines)."""
    mark = getattr(e, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    context = getattr(e, "context", None)
    return where + (getattr(e, "problem", None) or str(e)).strip() + (f" ({context})" if context else "")


def file_in_the_way(folder: str | os.PathLike) -> Path | None:
    """The nearest part of ``folder`` that exists (itself, or a parent), when that is a file: the folder cannot
    be made there. None when the folder is or can be made."""
    folder = Path(folder)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    return existing if existing is not None and not existing.is_dir() else None


def refuse_file_as_folder(folder: str | os.PathLike, what: str) -> None:
    """A ConfigError when ``folder`` (the ``what`` setting), or the nearest part of it that exists, is a file:
    the folder could not be made there, and the OS's "File exists" would not say which setting is wrong."""
    folder = Path(folder)
    existing = file_in_the_way(folder)
    if existing is None:
        return
    if existing == folder:
        raise ConfigError(f"{what} {folder} is a file, not a folder; give a folder")
    raise ConfigError(f"{what} {folder} cannot be made: {existing} is a file, not a folder; give a folder")


def parse_yaml(text: str, where: str) -> Any:
    """``text`` as YAML (duplicate keys refused); a parse error is one ConfigError line naming ``where``."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        raise ConfigError(f"{where} is not valid YAML: {_yaml_problem(e)}") from None


def read_yaml(path: str | os.PathLike, what: str = "YAML") -> Any:
    """The YAML file at ``path`` (``what``: campaign, study, config …): missing, over :data:`YAML_MAX_BYTES`,
    not UTF-8 or not valid YAML is one ConfigError line that says which and what to do."""
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, /dev/null …: "does not exist" would mislead
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise ConfigError(f"{what} file {path} is {kind}; give the path of a YAML file")
    if not path.is_file():
        beside = [f.name for f in path.parent.glob("*.y*ml")] if path.parent.is_dir() else []
        guess = did_you_mean(path.name, beside, f"{path.parent}/" if path.parent != Path() else "")
        raise ConfigError(f"{what} file {path} does not exist{guess}")
    size = path.stat().st_size
    if size > YAML_MAX_BYTES:
        raise ConfigError(f"{path} is {size:,} bytes; a {what} file may be at most {YAML_MAX_BYTES:,} bytes "
                          f"(it holds settings, not data)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text (byte {e.start}: {e.object[e.start:e.start + 1]!r}); "
                          f"save it as UTF-8") from None
    return parse_yaml(text, str(path))


def read_yaml_mapping(path: str | os.PathLike, keys: tuple[str, ...] | None, what: str) -> dict:
    """A YAML file whose top level is a mapping (empty: {}), with only ``keys`` when given."""
    data = read_yaml(path, what)
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping (key: value lines) at the top level, got {type(data).__name__}")
    if keys is not None:
        refuse_unknown_keys(data, keys, str(path), whole_file=True)
    return data


LANGUAGES = ("en", "zh")  # the report's (report.i18n.LANGS; importing it here would import the report's libraries)


def bilingual(value, where: str) -> dict:
    """A text the report shows in each language, ``{en: TEXT, zh: TEXT}`` (a language left out: the report's
    fallback; the whole left out, None: {}). A plain string is refused: the report looks each language up in it."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(text, str) for text in value.values()):
        raise ConfigError(f"{where} must be a mapping of language to text, {{en: TEXT, zh: TEXT}}, got {value!r}")
    refuse_unknown_keys(value, LANGUAGES, where)
    return value


def plain_text(value, where: str) -> str:
    """A key the report shows as written (a description): left out or empty, ""; a list, a number or a mapping
    (what YAML reads ``[a, b]``, ``42`` or ``a: b`` as) is refused, not shown as Python's spelling of it."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be text, got {value!r}; put it in quotes if YAML read your text as "
                          f"something else")
    return value


# The files the commands read, each told by a key only it has (first match wins): a file given to the wrong
# command (most of its keys unknown there, not one mistyped key) is named for what it is.
FILE_KINDS = (("search", "a tune study, which `cifar100lab tune` runs"),
              ("models", "a campaign, which `cifar100lab campaign` runs"),
              ("question", "an ablation study, which a campaign runs from its `studies:` list"),
              ("base", "a runs file, which `cifar100lab timed-runs` runs"),
              ("model", "a training config, which `cifar100lab train` runs"))


def seed_list(value, where: str) -> list[int]:
    """A ``seeds`` key: a count (seeds 0 … n-1) or a list of whole numbers from 0, each once (a seed twice is one
    run counted as two); ``where`` names the key."""
    def whole(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)
    seeds = list(range(value)) if whole(value) else list(value) if isinstance(value, list) else []
    if not seeds or not all(map(whole, seeds)):
        raise ConfigError(f"{where} must be a count or a list of integers (e.g. 3 or [0, 1, 2]), got {value!r}")
    if min(seeds) < 0 or len(set(seeds)) < len(seeds):
        raise ConfigError(f"{where} must name each seed once, each a whole number from 0, got {value!r}")
    return seeds


def refuse_unknown_keys(given, valid: tuple[str, ...], where: str, whole_file: bool = False, hint: str = "") -> None:
    """The one unknown-key check: a mapping with a key outside ``valid`` is refused, listing the valid ones (and,
    for a whole file, what kind of file its keys say it is), then ``hint``."""
    bad = sorted(map(str, set(given) - set(valid)))
    if bad:
        other_file = whole_file and len(bad) > len(set(map(str, given))) - len(bad)
        kind = next((what for key, what in FILE_KINDS if key in bad), None) if other_file else None
        raise ConfigError(f"{where}: unknown key(s) {with_guesses(bad, valid)}; valid keys: {', '.join(valid)}"
                          + (f" (its keys say it is {kind})" if kind else "") + hint)
