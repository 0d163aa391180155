"""Trained models one line away.

* :func:`load_trained` rebuilds a run's network with its weights from a run folder, its ``checkpoint.pt`` or an
  exported folder; ``model.pretrained_cfg`` carries the mean, std and input size the run trained with, as
  timm's models do. ``hubconf.py`` serves it: ``torch.hub.load(repo_or_dir, "resnet_20", pretrained=RUN_DIR)``.
* :func:`export_run` writes ``model.safetensors`` and ``config.json`` in timm's pretrained-cfg shape, so a
  timm-backed run loads with ``timm.create_model(arch, pretrained=True, num_classes=N,
  pretrained_cfg_overlay=dict(file=".../model.safetensors"))``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch.nn as nn

from . import data as data_mod
from . import records
from .models import create_model, get_spec, resolve_input_size

WEIGHTS = "model.safetensors"
EXPORT_CONFIG = "config.json"  # the name timm and the Hugging Face hub give a model's pretrained cfg
# Records written before normalization came from config.resolve named it; these are the statistics they used.
LEGACY_NORMALIZATION = {"cifar100": (data_mod.CIFAR100_MEAN, data_mod.CIFAR100_STD),
                        "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}


class ExportError(ValueError):
    """The source is not a run folder, checkpoint or exported model."""


def _run_facts(config: dict, record: dict | None) -> dict:
    """Model, options, classes, input size and normalisation of the run that wrote ``config``."""
    pretrained = record.get("pretrained") if record else None
    if record is None:
        spec_default = get_spec(config["model"]).default_pretrained
        value = spec_default if config.get("pretrained") == "default" else config.get("pretrained")
        pretrained = None if value in (None, "", "off", False) else value
    input_size = (record or {}).get("input_size") or resolve_input_size(config["model"], pretrained,
                                                                          config.get("img_size"))
    normalization = (record or {}).get("normalization")
    if isinstance(normalization, dict):
        mean, std = normalization["mean"], normalization["std"]
    elif normalization:
        mean, std = LEGACY_NORMALIZATION[normalization]
    else:  # no record: the rule the run was trained with
        from .config import resolve
        plan = resolve(config)
        mean, std = plan.mean, plan.std
    num_classes = ((record or {}).get("dataset") or {}).get("num_classes") \
        or data_mod.dataset_spec(config["dataset"]).num_classes
    return {"model": config["model"], "options": dict(config.get("options") or {}), "num_classes": int(num_classes),
            "input_size": int(input_size), "mean": list(mean), "std": list(std),
            "img_size": input_size if pretrained else config.get("img_size")}


def _from_checkpoint(path: Path) -> tuple[dict, dict]:
    from .train import read_checkpoint
    ckpt = read_checkpoint(path)
    record_path = path.parent / records.RECORD
    record = records.read_json(record_path) if record_path.is_file() else None
    if record is not None and record.get("config", {}).get("model") != ckpt["config"]["model"]:
        record = None  # a record beside a foreign checkpoint says nothing about it
    return _run_facts(ckpt["config"], record), ckpt["model"]


def _from_export(folder: Path) -> tuple[dict, dict]:
    from safetensors.torch import load_file
    cfg = json.loads((folder / EXPORT_CONFIG).read_text(encoding="utf-8"))
    facts = cfg["cifar100lab"]
    return {**facts, "mean": cfg["mean"], "std": cfg["std"], "num_classes": cfg["num_classes"],
            "input_size": cfg["input_size"][-1]}, load_file(str(folder / WEIGHTS))


def read_trained(source: str | os.PathLike) -> tuple[dict, dict]:
    """(facts, state dict) from a run folder, a checkpoint file or an exported folder."""
    source = Path(source)
    if source.is_dir() and (source / WEIGHTS).is_file() and (source / EXPORT_CONFIG).is_file():
        return _from_export(source)
    if source.is_dir():
        source = source / records.CHECKPOINT
    if not source.is_file():
        raise ExportError(f"{source} is neither a checkpoint nor a folder holding {records.CHECKPOINT} or "
                          f"{WEIGHTS} + {EXPORT_CONFIG}")
    return _from_checkpoint(source)


def load_trained(source: str | os.PathLike, expect_model: str | None = None) -> nn.Module:
    """The trained network of ``source`` in eval mode, with ``pretrained_cfg`` (mean, std, input_size,
    num_classes). ``expect_model``: refuse weights of another model (what a hub entry point asks for)."""
    facts, state = read_trained(source)
    if expect_model and facts["model"] != expect_model:
        raise ExportError(f"{source} holds a {facts['model']!r} run, not {expect_model!r}; load it with "
                          f"torch.hub.load(..., {facts['model']!r}, pretrained=...)")
    model = create_model(facts["model"], num_classes=facts["num_classes"], img_size=facts["img_size"],
                         **facts["options"])
    model.load_state_dict(state)
    model.pretrained_cfg = {**getattr(model, "pretrained_cfg", {}), **pretrained_cfg(facts)}
    return model.eval()


def pretrained_cfg(facts: dict) -> dict:
    """timm's pretrained-cfg shape, plus what rebuilds our own models."""
    spec = get_spec(facts["model"])
    architecture = spec.pretrained_source.split(".")[0] if spec.source == "timm" and spec.pretrained_source \
        else facts["model"]
    return {"architecture": architecture, "num_classes": facts["num_classes"],
            "input_size": [3, facts["input_size"], facts["input_size"]], "mean": facts["mean"], "std": facts["std"],
            "interpolation": "bilinear", "crop_pct": 1.0,
            "cifar100lab": {"model": facts["model"], "options": facts["options"], "img_size": facts["img_size"],
                            "timm_loadable": spec.source == "timm"}}


def export_run(source: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> Path:
    """Write ``model.safetensors`` + ``config.json`` for a run (default: ``<run>/export``); returns the folder."""
    from safetensors.torch import save_file
    facts, state = read_trained(source)
    source = Path(source)
    out = Path(out_dir) if out_dir else (source if source.is_dir() else source.parent) / "export"
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{WEIGHTS}.tmp"
    save_file({k: v.detach().clone().contiguous() for k, v in state.items()}, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out / WEIGHTS)
    records.atomic_write_json(out / EXPORT_CONFIG, pretrained_cfg(facts))
    return out


def hub_entry(name: str):
    """A torch.hub entry point for model ``name``: untrained, or with a run's weights (``pretrained=``)."""
    def entry(pretrained: str | os.PathLike | None = None, num_classes: int = 100, **options) -> nn.Module:
        if pretrained:
            return load_trained(pretrained, expect_model=name)
        return create_model(name, num_classes=num_classes, **options)
    entry.__name__ = name
    entry.__doc__ = (f"{name} ({get_spec(name).paper}). pretrained: a cifar100lab run folder, its checkpoint.pt "
                     f"or an exported folder; None: untrained.")
    return entry
