"""Trained models one line away.

* :func:`load_trained` rebuilds a run's network with its weights from a run folder, its ``checkpoint.pt`` or an
  exported folder; ``model.pretrained_cfg`` carries the mean, std, input size, class count and label names the
  run trained with, as timm's models do. ``hubconf.py`` serves it:
  ``torch.hub.load(repo_or_dir, "resnet_20", pretrained=RUN_DIR)``.
* :func:`export_run` writes ``model.safetensors`` and ``config.json`` in timm's Hugging Face Hub layout
  (``architecture``, ``num_classes``, ``label_names``, ``model_args``, ``pretrained_cfg``), so the folder can be
  pushed to a hub as it is and a timm-backed run loads with ``timm.create_model("local-dir:EXPORT",
  pretrained=True)``. What timm does not read sits under the key ``cifar100lab``, which timm ignores: the
  registry name and options that rebuild our own networks, and the sha256 of ``model.safetensors`` that
  :func:`load_trained` checks, so altered or torn weights are refused.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn as nn

from . import data as data_mod
from . import records
from .checkpoint import CheckpointError, checkpoint_file, load_weights, read_checkpoint
from .models import classifier_name, create_model, model_entry, shaped_by_input_size
from .run_listing import listed_run_hint

WEIGHTS = "model.safetensors"
EXPORT_CONFIG = "config.json"  # the name timm and the Hugging Face hub give a model's config
OWN_KEY = "cifar100lab"  # the config's section timm ignores
# Records written before normalization came from config.resolve named it; these are the statistics they used.
LEGACY_NORMALIZATION = {"cifar100": (data_mod.CIFAR100_MEAN, data_mod.CIFAR100_STD),
                        "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}
# The pretrained-cfg fields that describe the architecture itself; the rest of timm's cfg (licence, hub ids,
# test-time sizes) describes the ImageNet weights a run may have started from, not the exported ones.
ARCHITECTURE_CFG_KEYS = ("first_conv", "classifier", "fixed_input_size")
# What marks a folder as a run's: its own files but config.json, whose name the export's config shares.
RUN_MARKS = tuple(name for name in records.RUN_FILES if name != records.CONFIG)
RECORD_REMEDY = "restore it, or move it aside to export from the checkpoint's config alone"
EXPORT_REMEDY = "export the run again with `python -m cifar100lab export`"


class ExportError(ValueError):
    """The source is not a run folder, checkpoint or exported model, or its weights do not fit its model."""


# ------------------------------------------------------------------ reading a run or an export

def read_json_file(path: Path, what: str, remedy: str) -> dict:
    """A JSON object from ``path``; damage is one ExportError naming the file (``what``) and what to do."""
    try:
        return records.read_json(path)
    except records.RecordError as e:
        raise ExportError(f"{e}: {what} cannot be read; {remedy}") from None


def _run_facts(config: dict, record: dict | None, ckpt: dict, source: Path) -> dict:
    """Model, options, classes, input size and normalisation of the run that wrote ``config``; the checkpoint
    ``ckpt`` and the record, when there is one, say what the run actually used."""
    from .config import ConfigError, resolve
    try:
        plan = resolve(config, stored=True)
    except ConfigError as e:
        raise ExportError(f"{source} carries a run config that is not valid: {e}") from None
    record = record or {}
    try:
        pretrained = record["pretrained"] if "pretrained" in record else plan.pretrained
        input_size = int(record.get("input_size") or plan.input_size)
        mean, std = ([float(v) for v in values] for values in _normalization(
            ckpt.get("normalization") or record.get("normalization"), plan))
    except (KeyError, TypeError, ValueError) as e:
        raise ExportError(f"{source.parent / records.RECORD} is damaged (its input size or normalization cannot "
                          f"be read: {type(e).__name__}: {e}); {RECORD_REMEDY}") from None
    cfg = plan.config
    img_size = input_size if pretrained else cfg.img_size
    num_classes = _classes_of_weights(cfg.model, cfg.options, img_size, ckpt["model"]) or plan.dataset.num_classes
    return {"model": cfg.model, "options": dict(cfg.options), "num_classes": num_classes, "input_size": input_size,
            "mean": mean, "std": std, "img_size": img_size,
            "label_names": _label_names(cfg.dataset, cfg.data_root, num_classes, record.get("dataset")),
            "trained_on": {"dataset": cfg.dataset, "kind": plan.dataset.kind, "label": plan.dataset.label["en"]}}


def _normalization(kept, plan) -> tuple:
    if isinstance(kept, dict):
        return kept["mean"], kept["std"]
    if kept:
        return LEGACY_NORMALIZATION[kept]
    return plan.mean, plan.std  # neither says (a checkpoint on its own, of before they kept it): the plan's rule


def _classes_of_weights(model: str, options: dict, img_size: int | None, state: dict) -> int | None:
    """The classifier's output count in ``state`` (a synthetic run's class count is the generated data's, which
    neither its config nor the dataset registry knows); None when ``state`` has no such classifier."""
    with torch.device("meta"):  # only the classifier's name is wanted: no memory, no init
        head = classifier_name(create_model(model, num_classes=1, img_size=img_size, **options))
    weight = state.get(f"{head}.weight")
    return int(weight.shape[0]) if isinstance(weight, torch.Tensor) and weight.ndim >= 1 else None


def _label_names(dataset: str, root: str | None, num_classes: int, measured: dict | None) -> list[str] | None:
    """The class names, in label order, from the dataset's own small files (its registry entry's
    ``class_names``); None when those are not on this machine, do not match the weights' class count, or are an
    image folder's that changed since the run measured it (``measured``: its record's dataset): a class folder
    renamed since would shift every name onto another label."""
    from .data.imagefolder import folder_now
    if measured and folder_now(measured):
        return None
    try:
        entry = data_mod.dataset_entry(dataset)
        names = entry.class_names(data_mod.DataRequest(data_mod.data_root(root))) if entry.class_names else None
    except (OSError, ValueError, KeyError, data_mod.DataError):
        return None
    return names if names and len(names) == num_classes else None


def _from_checkpoint(path: Path) -> tuple[dict, dict]:
    ckpt = read_checkpoint(path)
    try:
        record = records.load(path.parent)
    except records.RecordError as e:
        raise ExportError(f"{e}: the run record cannot be read; {RECORD_REMEDY}") from None
    recorded = (record or {}).get("config")
    if not isinstance(recorded, dict) or recorded.get("model") != ckpt["config"]["model"]:
        record = None  # a record beside a foreign checkpoint says nothing about it
    # which weights these are: the last epoch written, and whether the run went on to finish
    trained_for = {"epoch": int(ckpt["epoch"]), "epochs": ckpt["config"].get("epochs"),
                   "status": (record or {}).get("status")}
    return ({**_run_facts(ckpt["config"], record, ckpt, path), "weights": str(path),
             "trained_for": trained_for}, ckpt["model"])


def _from_export(folder: Path) -> tuple[dict, dict]:
    """An export's facts and weights, after checking the weights are the ones its config.json hashed."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors
    config_path, weights_path = folder / EXPORT_CONFIG, folder / WEIGHTS
    config = read_json_file(config_path, "the export's config", EXPORT_REMEDY)
    ours = config.get(OWN_KEY)
    if not isinstance(ours, dict) or "weights_sha256" not in ours:
        raise ExportError(f"{config_path} is not a cifar100lab export with a content hash (written by another "
                          f"tool or an older version); {EXPORT_REMEDY}")
    blob = weights_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != ours["weights_sha256"]:
        raise ExportError(f"{weights_path} is not the file that was exported (its sha256 differs from the one in "
                          f"{config_path}): altered or damaged; {EXPORT_REMEDY}")
    try:
        state = load_safetensors(blob)
        cfg = config["pretrained_cfg"]
        facts = {"model": ours["model"], "options": dict(ours["options"]), "img_size": ours["img_size"],
                 "num_classes": int(config["num_classes"]), "input_size": int(cfg["input_size"][-1]),
                 "mean": list(cfg["mean"]), "std": list(cfg["std"]), "label_names": config.get("label_names"),
                 "trained_on": ours.get("trained_on"), "trained_for": ours.get("trained_for"),
                 "weights": str(weights_path)}
    except (SafetensorError, KeyError, TypeError, ValueError) as e:
        raise ExportError(f"{folder} is damaged ({type(e).__name__}: {e}); {EXPORT_REMEDY}") from None
    return facts, state


def read_trained(source: str | os.PathLike) -> tuple[dict, dict]:
    """(facts, state dict) from a run folder, a checkpoint file or an exported folder; ``facts["weights"]`` is
    the file the state dict came from."""
    source = Path(source)
    if not source.exists():
        raise ExportError(f"{source} does not exist{listed_run_hint(source)}")
    if source.is_dir() and (source / WEIGHTS).is_file() and (source / EXPORT_CONFIG).is_file():
        return _from_export(source)
    source = checkpoint_file(source)
    if not source.is_file():
        raise ExportError(f"{source} is neither a checkpoint nor a folder holding {records.CHECKPOINT} or "
                          f"{WEIGHTS} + {EXPORT_CONFIG}")
    return _from_checkpoint(source)


# ------------------------------------------------------------------ the network

def build_trained(facts: dict, state: dict) -> nn.Module:
    """The network ``facts`` describe with ``state`` loaded exactly (else one ExportError), in eval mode, with
    timm's ``pretrained_cfg`` describing how to feed it."""
    model = create_model(facts["model"], num_classes=facts["num_classes"], img_size=facts["img_size"],
                         **facts["options"])
    try:
        load_weights(model, state, facts["weights"], facts["model"])
    except CheckpointError as e:
        raise ExportError(str(e)) from None
    model.pretrained_cfg = {**getattr(model, "pretrained_cfg", {}), **data_cfg(facts)}
    return model.eval()


def load_trained(source: str | os.PathLike, expect_model: str | None = None) -> nn.Module:
    """The trained network of ``source`` in eval mode, with ``pretrained_cfg`` (mean, std, input_size,
    num_classes, label_names). ``expect_model``: refuse weights of another model (what a hub entry point asks
    for)."""
    facts, state = read_trained(source)
    if expect_model and facts["model"] != expect_model:
        raise ExportError(f"{source} holds a {facts['model']!r} run, not {expect_model!r}; load it with "
                          f"torch.hub.load(..., {facts['model']!r}, pretrained=...)")
    return build_trained(facts, state)


def data_cfg(facts: dict) -> dict:
    """How the network is fed and what it answers, in timm's pretrained-cfg fields."""
    size = facts["input_size"]
    cfg = {"input_size": [3, size, size], "interpolation": "bilinear", "crop_pct": 1.0, "crop_mode": "center",
           "mean": facts["mean"], "std": facts["std"], "num_classes": facts["num_classes"]}
    return {**cfg, "label_names": facts["label_names"]} if facts.get("label_names") else cfg


def timm_architecture(model: str, img_size: int) -> str | None:
    """The timm name that builds ``model`` at ``img_size``; None for networks written here, and for a timm family's
    small-image layout (a Vision Transformer below its pretraining size), whose changes timm's arguments cannot
    all express."""
    entry = model_entry(model)
    if entry.adaptation and img_size != entry.pretrained_input_size:
        return None
    return entry.pretrained_source.split(".")[0] if entry.source == "timm" and entry.pretrained_source else None


def hub_config(facts: dict, model: nn.Module, weights_sha256: str) -> dict:
    """``config.json`` in timm's Hub layout (what ``timm.create_model("local-dir:…")`` and ``hf-hub:`` read),
    plus the ``cifar100lab`` section timm ignores."""
    architecture = timm_architecture(facts["model"], facts["img_size"] or facts["input_size"])
    cfg = {k: v for k, v in (getattr(model, "pretrained_cfg", None) or {}).items() if k in ARCHITECTURE_CFG_KEYS}
    cfg.update(data_cfg(facts), classifier=classifier_name(model))
    cfg.pop("label_names", None)  # timm reads them from the top level
    how = ('timm.create_model("local-dir:<this folder>", pretrained=True)' if architecture else
           f'torch.hub.load("<owner>/cifar100lab", "{facts["model"]}", pretrained="<this folder>") '
           f'(a network written in cifar100lab, or a timm family in its small-image layout; timm cannot build it)')
    config = {"architecture": architecture or f"{OWN_KEY}/{facts['model']}", "num_classes": facts["num_classes"],
              "num_features": getattr(model, "num_features", None)}
    if facts.get("label_names"):
        config["label_names"] = facts["label_names"]
    if architecture and shaped_by_input_size(facts["model"]):
        config["model_args"] = {"img_size": facts["img_size"] or facts["input_size"]}
    config["pretrained_cfg"] = cfg
    config[OWN_KEY] = {"model": facts["model"], "options": facts["options"], "img_size": facts["img_size"],
                       "timm_loadable": architecture is not None, "load_with": how,
                       "trained_on": facts.get("trained_on"), "trained_for": facts.get("trained_for"),
                       "weights_sha256": weights_sha256}
    return {k: v for k, v in config.items() if v is not None}


# ------------------------------------------------------------------ export

def export_run(source: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> Path:
    """Write ``model.safetensors`` + ``config.json`` for a run (default: ``<run>/export``); returns the folder.
    Everything is checked first (the weights are loaded into their network, exactly), so a refused export
    writes nothing."""
    from safetensors.torch import save as safetensors_bytes
    source = Path(source)
    out = Path(out_dir) if out_dir else (source if source.is_dir() else source.parent) / "export"
    check_export_folder(out)
    facts, state = read_trained(source)
    model = build_trained(facts, state)
    blob = safetensors_bytes({k: v.detach().contiguous() for k, v in state.items()}, metadata={"format": "pt"})
    config = hub_config(facts, model, hashlib.sha256(blob).hexdigest())
    # weights first: a crash between the two writes leaves a config whose hash refuses the new weights
    records.atomic_write(out / WEIGHTS, lambda f: f.write(blob))
    records.atomic_write_json(out / EXPORT_CONFIG, config)
    return out


def check_export_folder(out: Path) -> None:
    """An export goes into a new folder or over an earlier export, never over what else a folder holds: a run's
    own config.json has the export config's name, and files another tool wrote are not ours to replace."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"cannot export to {out}: it is a file; pass --out FOLDER")
    held = [name for name in RUN_MARKS if (out / name).exists()]
    if held:
        raise ExportError(f"cannot export to {out}: it is a run's folder (it holds {', '.join(held)}), whose "
                          f"{EXPORT_CONFIG} the export would replace; pass --out a new folder (default: <run>/export)")
    ours = [name for name in (WEIGHTS, EXPORT_CONFIG) if (out / name).exists()]
    if ours and not _is_export_config(out / EXPORT_CONFIG):
        raise ExportError(f"cannot export to {out}: it holds {' and '.join(ours)} not written by an earlier "
                          f"cifar100lab export, which the export would replace; pass --out a new folder, or move "
                          f"them aside")


def _is_export_config(path: Path) -> bool:
    try:
        return isinstance(records.read_json(path).get(OWN_KEY), dict)
    except (records.RecordError, OSError):
        return False


def unfinished(facts: dict) -> str:
    """"the weights of epoch 3 of 200 (the run is interrupted)" for weights of a run that did not complete; ""
    for a complete run, or when nobody recorded which (an older export, a checkpoint without its record)."""
    done = facts.get("trained_for") or {}
    if done.get("status") in (None, "complete"):
        return ""
    return f"the weights of epoch {done.get('epoch')} of {done.get('epochs')} (the run is {done['status']})"


def load_message(out: Path) -> str:
    """What ``export`` prints: where the files are and the one line that loads them."""
    config = read_json_file(out / EXPORT_CONFIG, "the export's config", EXPORT_REMEDY)
    labels = "" if config.get("label_names") else \
        "; no label names (the dataset's files, which hold them, are not on this machine, or have changed since the " \
        "run)"
    trained_on = config[OWN_KEY].get("trained_on") or {}
    other = f"; trained on {trained_on['label']}, not CIFAR-100" if trained_on.get("kind") not in (None, "real") else ""
    weights = f"; {left}" if (left := unfinished(config[OWN_KEY])) else ""
    return f"exported to {out} ({WEIGHTS}, {EXPORT_CONFIG}){other}{weights}{labels}; load with " + \
        config[OWN_KEY]["load_with"].replace("<this folder>", str(out))


def hub_entry(name: str):
    """A torch.hub entry point for model ``name``: untrained, or with a run's weights (``pretrained=``)."""
    def entry(pretrained: str | os.PathLike | None = None, num_classes: int | None = None, **options) -> nn.Module:
        if not pretrained:
            return create_model(name, num_classes=100 if num_classes is None else num_classes, **options)
        if options:  # the run's own options built the network its weights fit: others were silently ignored
            raise ExportError(f"{name}(pretrained=...) takes no options (got {', '.join(sorted(options))}): the run's "
                              f"own options build the network its weights fit; drop them, or leave out pretrained")
        model = load_trained(pretrained, expect_model=name)
        if num_classes is not None and num_classes != model.pretrained_cfg["num_classes"]:
            raise ExportError(f"{pretrained} holds a {model.pretrained_cfg['num_classes']}-class head, not "
                              f"num_classes={num_classes}; drop num_classes, or leave out pretrained")
        return model
    entry.__name__ = name
    entry.__doc__ = (f"{name} ({model_entry(name).paper}). pretrained: a cifar100lab run folder, its checkpoint.pt "
                     f"or an exported folder; None: untrained.")
    return entry
