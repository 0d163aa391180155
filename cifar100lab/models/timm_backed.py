"""The one way a timm-backed family builds its model, with the benchmark's ``pretrained`` semantics.

``pretrained``:

* ``None``: random init (timm's own init for the architecture).
* ``"hub"``: the tagged timm checkpoint (``model.safetensors`` of its Hugging Face repo). Taken from the
  local Hugging Face cache when it is there, without touching the network; otherwise downloaded after a
  short reachability probe, because an unreachable hub would otherwise cost huggingface_hub's retry
  back-off per file before failing.
* a path: a local weights file (``.safetensors``/``.pth``/``.pt``/``.bin``, a bare state dict or a
  training checkpoint holding one under ``state_dict``/``model``), or a folder holding one.

Every weights file is loaded through timm's pretrained loader, so the model's checkpoint filter applies
(e.g. CoAtNet's relative-position tables are resized to the built resolution) and the classifier is
dropped and re-initialised when the checkpoint's class count differs from ``num_classes``.
Anything that keeps the weights from being had raises ``PretrainedWeightsUnavailable`` with a one-line
reason; weights that are there but cannot be read or do not fit the architecture raise a one-line ``ValueError``.

A fine-tune normalises its images as its weights were trained (:func:`weights_statistics`): with the mean and std a
folder in timm's Hub layout states (its ``config.json``'s ``pretrained_cfg``), else with the model's default tag's.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import re
import warnings
from pathlib import Path

import timm
import torch
import torch.nn as nn
from huggingface_hub import constants as hf_constants
from huggingface_hub import get_session, hf_hub_download, try_to_load_from_cache
from timm.models import _builder as timm_builder
from timm.models import get_pretrained_cfg

from ..config_files import ConfigError, did_you_mean
from ._registry import PretrainedWeightsUnavailable
from ._weights_metadata import tensors_unread

HUB_PROBE_TIMEOUT_S = 5.0
HUB_WEIGHTS_FILE = "model.safetensors"  # every timm/ repo on the hub carries its weights as safetensors
FOLDER_WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")  # the hub layout, looked for first
WEIGHTS_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
PRETRAINED_WORDS = ("default", "off", "hub")  # what ``pretrained`` takes besides a weights path
PRETRAINED_OFF = (None, "", "off", False)  # YAML reads a bare `off` as False
HUB_CONFIG = "config.json"  # beside the weights in timm's Hub layout: pretrained_cfg (mean, std, input_size, ...)


def create_timm_model(timm_name: str, num_classes: int, pretrained: str | None = None, **kwargs) -> nn.Module:
    """``timm.create_model(timm_name, num_classes=..., **kwargs)`` with weights from ``pretrained``."""
    if pretrained is None:
        return timm.create_model(timm_name, num_classes=num_classes, **kwargs)
    return _create_from_file(timm_name, weights_file(timm_name, pretrained), num_classes, **kwargs)


def weights_file(timm_name: str, pretrained: str | Path) -> Path:
    """Where ``pretrained`` ("hub" or a path) puts ``timm_name``'s weights, found without building anything;
    ``PretrainedWeightsUnavailable`` when they cannot be had."""
    return hub_weights_file(timm_name) if pretrained == "hub" else local_weights_file(pretrained)


def missing_weights(timm_name: str | None, pretrained: str | Path | None) -> str | None:
    """Why ``pretrained`` cannot give ``timm_name`` its weights (offline and not cached, no such file), or None
    when they can be had or none are asked for. Asked before a run reads its data or builds a network."""
    if not pretrained:
        return None
    try:
        weights_file(timm_name, pretrained)
    except PretrainedWeightsUnavailable as e:
        return f"pretrained weights unavailable: {e}"
    return None


def pretrained_source(asked, model_default: str | None, stored: bool = False) -> str | None:
    """What a run's ``pretrained`` setting means: None (from scratch), ``"hub"`` or a weights path, ``default``
    being the model's own choice. A misspelling is a ConfigError (:func:`misspelt_pretrained`), but not in the
    config of a run that trained (``stored``), whose weights path may have gone since."""
    pretrained = model_default if asked == "default" else asked
    pretrained = None if pretrained in PRETRAINED_OFF else str(pretrained)
    if not stored and (why := misspelt_pretrained(pretrained)):
        raise ConfigError(why)
    return pretrained


def misspelt_pretrained(value: str | None) -> str | None:
    """Why ``value`` (a run's ``pretrained``, off already read as None) is neither ``hub`` nor a weights path, or
    None. A bare word that names no file or folder here (``hbu``, ``imagenet``, a notebook's ``-p pretrained on``)
    and a ``scheme:`` spelling (timm's ``local-dir:``, a URL) would be looked for as a file, and the run skipped for
    want of it, as if offline. A path that is not there (it has a folder or a weights suffix) is such a fine-tune."""
    if not value or value == "hub" or Path(value).expanduser().exists():
        return None
    scheme = re.match(r"([A-Za-z][\w+.-]+):", value)  # two letters at least: C:\weights is a path
    if not scheme and (re.search(r"[/\\]", value) or value.startswith(("~", ".")) or value.endswith(WEIGHTS_SUFFIXES)):
        return None
    hint = f"; for timm's local-dir: give the folder itself (pretrained: {value[scheme.end():]})" \
        if scheme and scheme.group(1) == "local-dir" else ""
    return (f"pretrained {value!r} is not one of {', '.join(PRETRAINED_WORDS)}"
            f"{did_you_mean(value.lower(), PRETRAINED_WORDS)}, nor a file or folder here; valid: default (the "
            f"model's own), off (from scratch), hub (timm's ImageNet weights) or the path of a weights file "
            f"({', '.join('*' + s for s in WEIGHTS_SUFFIXES)}) or of a folder holding one{hint}")


def hub_weights_file(timm_name: str) -> Path:
    """The local path of ``timm_name``'s hub checkpoint, downloading it if it is not cached."""
    repo_id, filename, revision = _hub_file(timm_name)
    cached = _cached_or_reachable(repo_id, filename, revision)
    if cached:
        return cached
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision))
    except Exception as err:  # any hub/network failure means the weights cannot be had
        raise PretrainedWeightsUnavailable(f"could not download {repo_id}/{filename}: {type(err).__name__}: "
                                           f"{_first_line(err)}; {_where_to_get(repo_id)}") from err


def hub_weights_unreachable(timm_name: str, probe=None) -> str | None:
    """Why ``timm_name``'s hub checkpoint cannot be had, found without downloading it (not cached, and the hub
    offline or unreachable), or None. A campaign asks it when it is loaded, to plan a from-scratch row.
    ``probe``: how to ask whether the hub answers (default: ask it now; :func:`probe_hub_once` asks once)."""
    try:
        _cached_or_reachable(*_hub_file(timm_name), probe)
    except PretrainedWeightsUnavailable as e:
        return f"pretrained weights unavailable: {e}"
    return None


def _hub_file(timm_name: str) -> tuple[str, str, str | None]:
    cfg = get_pretrained_cfg(timm_name)
    if cfg is None or not cfg.hf_hub_id:
        raise PretrainedWeightsUnavailable(f"timm has no Hugging Face hub weights for {timm_name!r}")
    repo_id, _, revision = cfg.hf_hub_id.partition("@")
    return repo_id, cfg.hf_hub_filename or HUB_WEIGHTS_FILE, revision or None


def _cached_or_reachable(repo_id: str, filename: str, revision: str | None, probe=None) -> Path | None:
    """The file's path in the local Hugging Face cache; else None once the hub is known to answer (a
    PretrainedWeightsUnavailable when it is offline or does not)."""
    cached = try_to_load_from_cache(repo_id, filename, revision=revision)
    if isinstance(cached, str):  # otherwise None or the "known not to exist" sentinel
        return Path(cached)
    if hf_constants.HF_HUB_OFFLINE:
        raise PretrainedWeightsUnavailable(
            f"HF_HUB_OFFLINE is set and {repo_id}/{filename} is not in the Hugging Face cache; unset it, or "
            f"{_where_to_get(repo_id)}")
    try:
        (probe or _probe_hub)()
    except PretrainedWeightsUnavailable as err:
        raise PretrainedWeightsUnavailable(f"{err}; {_where_to_get(repo_id)}") from None
    return None


def _where_to_get(repo_id: str) -> str:
    """Where weights the hub cannot give go: fetched where there is a network, as a folder given as the path, or
    as that machine's cache folder of the repository copied into this one's (where timm then finds them)."""
    return (f"fetch {repo_id} where there is a network (`hf download {repo_id} --local-dir DIR`) and pass DIR as "
            f"pretrained=<path>, or copy that machine's cache folder models--{repo_id.replace('/', '--')} into "
            f"{hf_constants.HF_HUB_CACHE} here")


def local_weights_file(path: str | Path) -> Path:
    """``path`` itself if it is a file, else the one weights file inside the folder ``path``."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise PretrainedWeightsUnavailable(f"pretrained weights {path} not found (no such file or folder)")
    for name in FOLDER_WEIGHTS_FILES:
        if (path / name).is_file():
            return path / name
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in WEIGHTS_SUFFIXES)
    if len(found) == 1:
        return found[0]
    if found:
        raise ValueError(f"{path} holds several weights files ({', '.join(p.name for p in found)}); "
                         f"pass the one to load")
    raise PretrainedWeightsUnavailable(
        f"no weights file ({', '.join('*' + s for s in WEIGHTS_SUFFIXES)}) in folder {path}")


def weights_statistics(timm_name: str, pretrained: str, stored: bool = False) -> tuple[tuple, tuple, str]:
    """(mean, std, where they come from) of the images ``pretrained`` ("hub" or a path) was trained on: those its
    folder states in timm's Hub layout (``config.json``'s ``pretrained_cfg``: augreg weights at 0.5/0.5 for a network
    whose default tag is at ImageNet's), else those of ``timm_name``'s tag in timm. Found without reading the weights;
    a config.json that states them wrongly is a ConfigError, but not in a trained run's config (``stored``), whose
    record and checkpoint keep the statistics it trained with."""
    cfg = get_pretrained_cfg(timm_name)
    default = f"pretrained_cfg of {cfg.hf_hub_id or timm_name}"
    config = None if pretrained == "hub" else _hub_layout_config(Path(pretrained).expanduser())
    try:
        stated = config and _stated_statistics(config)
    except ConfigError:
        if not stored:
            raise
        stated = None
    if stated:
        return (*stated, f"pretrained_cfg in {config.resolve()}")
    says = "" if pretrained == "hub" else f" (the model's default weights; {pretrained} states none of its own)"
    return tuple(cfg.mean), tuple(cfg.std), default + says


def _hub_layout_config(path: Path) -> Path | None:
    """The ``config.json`` describing the weights at ``path``: a folder's own, or the one beside the Hub layout's
    weights file; None where there is none (a bare weights file, a run folder's config is no Hub config)."""
    folder = path if path.is_dir() else path.parent if path.name in FOLDER_WEIGHTS_FILES else None
    config = folder / HUB_CONFIG if folder else None
    return config if config and config.is_file() else None


def _stated_statistics(config: Path) -> tuple[tuple, tuple] | None:
    """The mean and std ``config`` (timm's Hub config, or its older single-dict form) states, or None when it states
    none (another file of that name); statistics that are not three numbers each are a ConfigError."""
    try:
        found = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{config} cannot be read ({type(err).__name__}: {_first_line(err)}); the weights' mean and "
                          f"std are read from it: restore it, or remove it to normalise as the model's default weights")
    found = found if isinstance(found, dict) else {}
    stated = found.get("pretrained_cfg") if isinstance(found.get("pretrained_cfg"), dict) else \
        found if "architecture" in found else {}
    if "mean" not in stated and "std" not in stated:
        return None
    mean, std = stated.get("mean"), stated.get("std")
    numbers = lambda v: isinstance(v, list) and len(v) == 3 and all(  # noqa: E731
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
    if not (numbers(mean) and numbers(std) and min(std) > 0):
        raise ConfigError(f"{config}: pretrained_cfg's mean {mean!r} and std {std!r} must be three numbers each (std "
                          f"above 0); correct them, or remove both to normalise as the model's default weights")
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def weights_identity(timm_name: str, pretrained: str) -> dict:
    """Which weights ``pretrained`` gives ``timm_name`` (a run record's ``pretrained_weights``): the hub repository
    (``timm/<name>.<tag>``), or the local file's path, size and sha256."""
    if pretrained == "hub":
        repo_id, _, revision = _hub_file(timm_name)
        return {"hub": repo_id, **({"revision": revision} if revision else {})}
    path = local_weights_file(pretrained).resolve()
    return {"file": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def file_sha256(path: Path) -> str:
    """The sha256 of ``path``, hashed once per process and version of the file (its size and modification time):
    weights files run to hundreds of MB, and every run of a campaign's kernel that starts from them asks."""
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def classifier_keys(timm_name: str) -> tuple[str, ...]:
    """The names of ``timm_name``'s classifier tensors (weight and bias of each head), as its weights files hold them."""
    classifiers = get_pretrained_cfg(timm_name).classifier
    classifiers = (classifiers,) if isinstance(classifiers, str) else tuple(classifiers or ())
    return tuple(f"{name}.{p}" for name in classifiers for p in ("weight", "bias"))


def file_classes(timm_name: str, weights: Path) -> int:
    """How many classes the classifier in the weights file ``weights`` answers; 0 for a file without one (headless,
    or another network's). A file that cannot be read as weights is a one-line ValueError (:func:`read_weights`)."""
    keys = classifier_keys(timm_name)
    head = read_weights(weights).get(keys[0]) if keys else None
    return 0 if head is None or head.ndim < 1 else int(head.shape[0])


def load_without_memory(build) -> nn.Module | None:
    """Call ``build`` (it builds a network with its pretrained weights) on the meta device, where the file is read
    (for its tensors' names, shapes and dtypes: :func:`tensors_unread`) and loaded as a real build would (timm's
    checkpoint filter, the checks of :func:`_create_from_file`) but no tensor is allocated; where that fails, on the
    CPU from the file read whole, which alone then says whether the weights load: a filter may make tensors of its
    own, which cannot mix with the meta device's."""
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore")  # torch warns, tensor by tensor, that a copy to the meta device is a no-op
        try:
            with torch.device("meta"), tensors_unread():
                return build()
        except ValueError:
            return build()


def _create_from_file(timm_name: str, weights: Path, num_classes: int, **kwargs) -> nn.Module:
    # Read once for the file's class count (0: a headless file, or one its filter renames); timm reads it again to
    # load it (a state dict handed to timm in memory would be deep-copied into the model's pretrained_cfg and kept).
    # timm re-initialises the classifier when num_classes differs from the checkpoint's class count, which it
    # reads from the pretrained cfg: give it the file's count, so a file with num_classes outputs (e.g. a
    # CIFAR-100 fine-tune) keeps its head.
    seen, classes = {}, file_classes(timm_name, weights)  # a file that is no weights file: its own one line
    try:
        with watched_load(seen):
            model = timm.create_model(timm_name, num_classes=num_classes, pretrained=True,
                                      pretrained_cfg_overlay=dict(file=str(weights), num_classes=classes), **kwargs)
    except (RuntimeError, ValueError, KeyError, IndexError) as err:  # a tensor of another shape, in the load or in
        # timm's checkpoint filter, which expects its own network's tensors
        raise ValueError(f"{weights} does not fit {timm_name}: {type(err).__name__}: {_gist(err)}") from None
    if "missing" not in seen:  # timm loaded by another path than load_pretrained: nothing was checked
        raise RuntimeError(f"timm {timm.__version__} loaded {weights} without timm.models._builder.load_pretrained; "
                           f"cifar100lab.models.timm_backed.watched_load needs updating")
    if missing := [k for k in seen["missing"] if k not in classifier_keys(timm_name)]:
        raise ValueError(f"{weights} does not fit {timm_name}: {len(missing)} of its tensors are not in the file "
                         f"(first: {missing[0]})")
    if unexpected := seen["unexpected"]:
        raise ValueError(f"{weights} does not fit {timm_name}: {len(unexpected)} of the file's tensors have no place "
                         f"in it (first: {unexpected[0]}); the weights of another variant?")
    return model


@contextlib.contextmanager
def watched_load(seen: dict):
    """timm's pretrained load, with the tensors it left missing or unexpected recorded in ``seen``: timm loads
    non-strictly whenever the class count differs and only logs them, and they are known only after the model's
    checkpoint filter, which converts other layouts of the same network (FB's ConvNeXt, Microsoft's Swin) and
    resizes position tables; checked before it, such a file was refused as another network's."""
    load = timm_builder.load_pretrained

    def load_watched(model, *args, **kwargs):
        record = lambda _, keys: seen.update(missing=list(keys.missing_keys),  # noqa: E731
                                             unexpected=list(keys.unexpected_keys))
        hook = model.register_load_state_dict_post_hook(record)
        try:
            return load(model, *args, **kwargs)
        finally:
            hook.remove()

    timm_log = logging.getLogger(timm_builder.__name__)  # its warning lists every key: the error here counts them
    level = timm_log.level
    timm_log.setLevel(logging.ERROR)
    timm_builder.load_pretrained = load_watched  # what build_model_with_cfg calls, for this build only
    try:
        yield
    finally:
        timm_builder.load_pretrained = load
        timm_log.setLevel(level)


def read_weights(weights: Path) -> dict:
    """The state dict in the weights file ``weights``; a file that is not one (a truncated download, a damaged
    copy, something else under a weights name) is a one-line ValueError naming it."""
    try:
        state_dict = timm_builder.load_state_dict(str(weights))  # timm's reading (or :func:`tensors_unread`'s)
    except Exception as err:  # safetensors', torch's and pickle's errors alike: the file is no weights file
        raise ValueError(f"{weights} cannot be read as weights ({type(err).__name__}: {_gist(err)}); a truncated "
                         f"or damaged copy? copy or download it again") from None
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f"{weights} holds no state dict (tensors by name), so it cannot be read as weights")
    return state_dict


def _probe_hub() -> None:
    # The hub client's own session, so proxy settings apply; any answer at all means the hub is reachable.
    try:
        get_session().head(hf_constants.ENDPOINT, timeout=HUB_PROBE_TIMEOUT_S)
    except Exception as err:
        raise PretrainedWeightsUnavailable(
            f"cannot reach {hf_constants.ENDPOINT} ({type(err).__name__}: {_first_line(err)})") from None


def probe_hub_once():
    """A hub probe that asks once and repeats its answer: one campaign load asks about each of its fine-tunes,
    and an unreachable hub costs its timeout once, not once per model."""
    @functools.cache
    def why_unreachable() -> PretrainedWeightsUnavailable | None:
        try:
            _probe_hub()
        except PretrainedWeightsUnavailable as err:
            return err
        return None

    def probe() -> None:
        if (err := why_unreachable()) is not None:
            raise err
    return probe


def _first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else ""


def _gist(err: Exception, width: int = 300) -> str:
    """An error's message on one line: torch's load errors open with a heading line ("Error(s) in loading
    state_dict for ...:") before the line that says what is wrong, so both are kept, shortened to ``width``."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines[0] if lines else type(err).__name__)
    return text if len(text) <= width else text[:width - 1] + "…"


def imagenet_layout(label: str, img_size: int, pretrained_size: int, pretrained: str | None) -> bool:
    """Whether a family with a small-image layout builds timm's ImageNet layout: only at its pretraining size,
    the one size its pretrained weights fit; every other size gets the small-image layout."""
    if img_size == pretrained_size:
        return True
    if pretrained is not None:
        raise ValueError(f"{label} pretrained weights fit its ImageNet layout, built only at "
                         f"img_size={pretrained_size}, got {img_size}; use img_size={pretrained_size} or pretrained=off")
    return False


def check_multiple(label: str, img_size: int, step: int, why: str) -> None:
    """Refuse an ``img_size`` that is not a positive multiple of ``step`` (``why``: what needs it)."""
    if img_size < step or img_size % step:
        raise ValueError(f"{label} img_size must be a positive multiple of {step} ({why}) or its pretraining "
                         f"size, got {img_size}")
