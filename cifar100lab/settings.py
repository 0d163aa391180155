"""Settings spelled on a command line: ``--set KEY=VALUE`` pairs, where a dotted KEY reaches into a mapping
field (``--set overrides.lr=0.05`` changes one recipe field and keeps the others)."""
from __future__ import annotations

import copy
from dataclasses import fields
from typing import Any

from .config import TrainConfig
from .config_files import ConfigError, did_you_mean, parse_yaml
from .recipes import Recipe

# The TrainConfig fields that are mappings, and what their keys are: a bare key of theirs is refused with its
# dotted spelling.
MAPPING_FIELDS = {"overrides": "recipe field", "options": "model option"}


def parse_set(pairs: list[str] | None) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs as {KEY: VALUE}, each VALUE read as YAML (so JSON too); a malformed pair or a
    key given twice is a ConfigError naming it."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or not key or "" in key.split("."):
            raise ConfigError(f"--set expects KEY=VALUE or FIELD.KEY=VALUE (e.g. --set epochs=10, "
                              f"--set overrides.lr=0.05), got {pair!r}")
        if key in out:
            raise ConfigError(f"--set {key} is given twice; give each key once")
        out[key] = parse_yaml(value, f"--set {pair!r}")
    return out


def check_set_key(key: str) -> list[str]:
    """``key``'s path, refused unless it names a TrainConfig field, or one key inside a mapping field."""
    path = key.split(".")
    field_names = [f.name for f in fields(TrainConfig)]
    if path[0] not in field_names:
        recipe_fields = {f.name for f in fields(Recipe)}
        if key in recipe_fields:
            guess, hint = "", f"{key} is a recipe field: use --set overrides.{key}=VALUE"
        else:
            guess = did_you_mean(path[0], field_names) or did_you_mean(path[0], recipe_fields, "overrides.")
            hint = "a recipe field is set as overrides.KEY, a model option as options.KEY"
        raise ConfigError(f"--set {key}: unknown key{guess}; {hint} (training fields: {', '.join(field_names)})")
    if len(path) > 1 and path[0] not in MAPPING_FIELDS:
        raise ConfigError(f"--set {key}: {path[0]} is not a mapping, so it has no keys; set it whole "
                          f"(--set {path[0]}=VALUE). Dotted keys reach into {', '.join(MAPPING_FIELDS)}")
    if len(path) > 2:
        raise ConfigError(f"--set {key}: a {MAPPING_FIELDS[path[0]]} is one key deep "
                          f"(--set {path[0]}.{path[1]}=VALUE)")
    return path


def apply_set(base: dict, values: dict[str, Any]) -> dict:
    """``base`` (a mapping of TrainConfig fields, left unchanged) with every ``--set`` value on top: a plain key
    replaces its field, a dotted one changes one key of a mapping field and keeps the rest."""
    out = copy.deepcopy(base)
    check_mapping_fields({key: value for key, value in values.items() if "." not in key}, "--set")
    keys = list(values)
    # a whole mapping after one of its keys replaced it: --set overrides.lr=0.05 --set overrides={…} lost the lr
    if lost := next((k for i, k in enumerate(keys) if "." in k and field_and_key(k)[0] in keys[i + 1:]), None):
        field, inner = field_and_key(lost)
        raise ConfigError(f"--set {lost} is followed by --set {field}=…, which replaces the whole "
                          f"mapping and would drop it; give the whole mapping first, or put {inner} in it")
    for key, value in values.items():
        path = check_set_key(key)
        if len(path) == 1:
            out[key] = value
            continue
        inner = out.get(path[0])
        if inner is None:
            inner = {}
        if not isinstance(inner, dict):
            raise ConfigError(f"--set {key}: {path[0]} is {inner!r}, not a mapping; set it whole instead")
        out[path[0]] = {**inner, path[1]: value}
    return out


def check_mapping_fields(fields: dict, where: str) -> None:
    """The mapping fields (overrides, options) in ``fields`` as mappings (None: left out): a run's are merged key
    by key over the campaign's, so a number or a word there is refused before any run, naming the key."""
    for key, what in MAPPING_FIELDS.items():
        if fields.get(key) is not None and not isinstance(fields[key], dict):
            raise ConfigError(f"{where}: {key} must be a mapping of {what}s ({{NAME: VALUE}}; one of them: "
                              f"{key}.NAME), got {fields[key]!r}")


def field_and_key(key: str) -> tuple[str, str | None]:
    """A ``--set`` key as (TrainConfig field, key inside that mapping field or None): ``overrides.lr`` →
    (overrides, lr)."""
    field, _, inner = key.partition(".")
    return field, inner or None


def top_level_keys(values: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig fields ``values`` touches (``overrides.lr`` touches ``overrides``)."""
    return {field_and_key(key)[0]: value for key, value in values.items()}


def _set_pairs(values: dict[str, Any]):
    """``--set`` values as (field, key or None, value): a whole mapping field's value key by key."""
    for key, value in values.items():
        field, inner = field_and_key(key)
        if inner is None and field in MAPPING_FIELDS and isinstance(value, dict):
            yield from ((field, k, v) for k, v in value.items())
        else:
            yield field, inner, value


def refuse_entry_conflicts(values: dict[str, Any], entries: list[dict], where: str) -> None:
    """A campaign's ``--set`` value that a model entry sets otherwise: the entry's own value wins for its runs, so
    ``--set epochs=1`` ("for every run") left an entry's ``epochs: 5`` training 5 epochs without a word. Refused,
    naming both; an entry that sets the same value is no conflict."""
    for field, key, value in _set_pairs(values):
        for e in entries:
            inner = e.get(field)
            asked = field in e if key is None else isinstance(inner, dict) and key in inner
            own = inner if key is None else (inner or {}).get(key) if asked else None
            if asked and own != value:
                shown = field if key is None else f"{field}.{key}"
                raise ConfigError(f"{where}: --set {shown}={value!r}, but model entry {e.get('name') or e['model']} "
                                  f"sets its own {shown} ({own!r}), which its runs would keep; drop it from the "
                                  f"entry or from --set")
