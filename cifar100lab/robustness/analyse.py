"""The post-training robustness step: each run's own checkpoint evaluated on the clean and corrupted test
images, batched on the run's device, its calibration and per-class errors, written to ``robustness.json``
beside ``record.json``. A run whose checkpoint and settings are unchanged since its last analysis is skipped.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import torch

from .. import records
from ..checkpoint import CheckpointError, read_checkpoint
from ..config import ConfigError, eval_batch
from ..data import DataError, data_root, load_dataset
from ..data.datasets import fixed_subset
from ..evaluation import check_same_data, load_for_evaluation
from ..models import model_entry
from .calibration import ece_interval, expected_calibration_error, reliability
from .corruptions import CACHE_FOLDER, PUBLISHED_FOLDER, CorruptedSet, generated_set, images_checksum, published_set
from .gradcam import panel
from .per_class import confusion, per_class_accuracy, superclasses
from .results import OUT, campaign_runs, entry_of, read_result
from .settings import RobustnessSettings, measured, refuse_unknown_baseline

FORMAT = 2  # bumped when what is measured changes, so older files count as out of date
RECIPE_FIELDS = ("label_smoothing", "mixup", "cutmix")  # known to change calibration: named beside ECE


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def up_to_date_key(checkpoint: Path, settings: RobustnessSettings) -> dict:
    return {"format": FORMAT, "checkpoint_sha256": file_sha256(checkpoint), "settings": settings.measured}


def stored_key(result: dict | None) -> dict | None:
    """A result's key as :func:`up_to_date_key` makes it now (an older one held the baseline too)."""
    key = (result or {}).get("key")
    return {**key, "settings": measured(key.get("settings"))} if isinstance(key, dict) else key


def measured_on_runs_data(result: dict, record: dict) -> bool:
    """Whether ``result`` was measured on the data the run's record says it was measured on (a result written
    from another copy of the data before such copies were refused is analysed again)."""
    theirs, ours = ((d or {}).get("checksum") for d in (result.get("dataset"), record.get("dataset")))
    return not (theirs and ours) or theirs == ours


@torch.no_grad()
def probabilities(learner, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Softmax outputs (float32, on the CPU) for uint8 images ``x`` already on the learner's device."""
    learner.model.eval()
    return torch.cat([learner.logits(x[i:i + batch_size]).float().softmax(dim=1)
                      for i in range(0, len(x), batch_size)]).cpu()


class Shared:
    """What every run of one analysis shares, made once: each dataset read (keyed by its loading arguments)
    and each corrupted set (keyed by the clean images' checksum, corruption, severity and seed), so a
    campaign's runs on the same test images read the dataset once and corrupt it once."""

    def __init__(self):
        self.datasets: dict[tuple, object] = {}
        self.sets: dict[tuple, CorruptedSet] = {}

    def load_dataset(self, *args, **kwargs):
        key = (args, tuple(sorted(kwargs.items())))
        if key not in self.datasets:
            self.datasets[key] = load_dataset(*args, **kwargs)
        return self.datasets[key]

    def corrupted(self, key: tuple, make) -> CorruptedSet:
        if key not in self.sets:
            self.sets[key] = make()
        return self.sets[key]


def analyse_run(run_dir: str | Path, settings: RobustnessSettings, data: str | None = None,
                force: bool = False, shared: Shared | None = None) -> tuple[str, dict | None]:
    """("analysed" | "up to date" | "not complete", result) for one run folder."""
    run_dir = Path(run_dir)
    checkpoint, out = run_dir / "checkpoint.pt", run_dir / OUT
    record = records.load(run_dir)
    if not record or record.get("status") != "complete" or not checkpoint.is_file():
        return "not complete", None
    key = up_to_date_key(checkpoint, settings)
    old = read_result(out)
    if old and stored_key(old) == key and measured_on_runs_data(old, record) and not force:
        return "up to date", old
    t0 = time.perf_counter()
    shared = shared or Shared()
    # the run's device and precision; the dataset as read for an earlier run of this analysis
    ckpt = read_checkpoint(checkpoint, mmap=True)
    loaded = load_for_evaluation(checkpoint, ckpt, data, shared.load_dataset)
    # another copy of the data (a --data-root elsewhere, a synthetic set generated again) has other test images:
    # its numbers would read as the run's, and stay "up to date"; refused as the evaluate command refuses it
    check_same_data(checkpoint, ckpt, loaded.plan.config.data_root, loaded.dataset)
    result = measure(loaded, settings, data, shared)
    result.update(key=key, run_id=record["run_id"], model=record["model"], options=record.get("options") or {},
                  seed=record.get("seed"), group=record.get("group"),
                  recipe={k: (record.get("recipe") or {}).get(k, 0) for k in RECIPE_FIELDS},
                  dataset=loaded.dataset.describe(), seconds=time.perf_counter() - t0, evaluated_at=records.now(),
                  hardware={"device": records.device_name(loaded.accelerator.device),
                            "precision": loaded.accelerator.mixed_precision}, versions=records.versions())
    records.atomic_write_json(out, result)
    return "analysed", result


def _test_images(loaded, settings: RobustnessSettings):
    """The images analysed (a seeded subset of the run's test set when ``images`` is set), their labels and
    their rows in the full test set (for the published arrays)."""
    dataset, cfg = loaded.dataset, loaded.plan.config
    full = dataset.subsets.get("test_full_size", len(dataset.test_y))
    rows = fixed_subset(full, cfg.test_subset, 0)  # the trainer's own test subset (load_dataset's seed)
    rows = torch.arange(full) if rows is None else rows
    pick = fixed_subset(len(dataset.test_y), settings.images, settings.seed)
    pick = torch.arange(len(dataset.test_y)) if pick is None else pick
    return dataset.test_x[pick], dataset.test_y[pick], rows[pick]


def corrupted_sets(loaded, settings: RobustnessSettings, clean: torch.Tensor, labels, rows, data: str | None,
                   shared: Shared):
    """(corruption, severity, CorruptedSet) for every set the settings name, published arrays first; each
    made once per analysis (and generated once per data root: the cache on disk)."""
    root = data_root(data or loaded.plan.config.data_root)
    published = root / PUBLISHED_FOLDER if loaded.dataset.name == "cifar100" else None
    checksum = images_checksum(clean)
    for name in settings.corruptions:
        for severity in settings.severities:
            def make(name=name, severity=severity):
                found = published and published_set(published, name, severity, rows, labels)
                return found or generated_set(clean, name, severity, settings.seed, root / CACHE_FOLDER)
            yield name, severity, shared.corrupted((checksum, str(root), name, severity, settings.seed), make)


def correct_bits(probs: torch.Tensor, labels: torch.Tensor) -> str:
    """Which images the top-1 prediction gets right, packed 8 to a byte (hex): what the mCE's bootstrap
    interval resamples."""
    return np.packbits((probs.argmax(dim=1) == labels).numpy()).tobytes().hex()


def measure(loaded, settings: RobustnessSettings, data: str | None, shared: Shared) -> dict:
    """Clean accuracy, calibration and per-class errors; corruption error per set; calibration at the
    calibration severity over every corruption; the Grad-CAM panel."""
    clean, labels, rows = _test_images(loaded, settings)
    device = loaded.accelerator.device
    batch = eval_batch(loaded.plan.config.eval_batch_size, device.type)
    probs = probabilities(loaded.learner, clean.to(device), batch)
    result = {"images": len(labels), "clean": clean_metrics(loaded, probs, labels, settings.seed, data),
              "corrupted": {}, "calibration_severity": settings.calibration_severity, "sources": {}}
    result["clean"]["correct"] = correct_bits(probs, labels)
    at_severity = []
    for name, severity, found in corrupted_sets(loaded, settings, clean, labels, rows, data, shared):
        p = probabilities(loaded.learner, found.images.to(device), batch)
        top1 = float(100 * (p.argmax(dim=1) == labels).float().mean())
        result["corrupted"].setdefault(name, {})[str(severity)] = {"error": 100 - top1, "checksum": found.checksum,
                                                                   "correct": correct_bits(p, labels)}
        result["sources"][found.source] = result["sources"].get(found.source, 0) + 1
        if severity == settings.calibration_severity:
            at_severity.append(p)
    if at_severity:
        pooled, pooled_labels = torch.cat(at_severity), labels.repeat(len(at_severity))
        result["corrupted_calibration"] = {"ece": expected_calibration_error(pooled, pooled_labels),
                                           "reliability": reliability(pooled, pooled_labels)}
    entry = model_entry(loaded.plan.config.model)
    if settings.cam_images and entry.cam_layer:  # the panel: the first images of the (seeded) analysed subset
        result["gradcam"] = panel(loaded.learner, loaded.accelerator, entry, clean[:settings.cam_images],
                                  labels[:settings.cam_images])
    return result


def clean_metrics(loaded, probs: torch.Tensor, labels: torch.Tensor, seed: int, data: str | None) -> dict:
    num_classes = probs.shape[1]
    predicted = probs.argmax(dim=1)
    out = {"top1": float(100 * (predicted == labels).float().mean()),
           "ece": expected_calibration_error(probs, labels), "ece_interval": ece_interval(probs, labels, seed),
           "reliability": reliability(probs, labels), "classes": list(loaded.dataset.classes),
           "per_class_accuracy": per_class_accuracy(predicted, labels, num_classes)}
    coarse = superclasses(loaded.dataset.name, data or loaded.plan.config.data_root)
    if coarse is not None:  # the superclass confusion (CIFAR-100's 20 superclasses)
        coarse_of, names = coarse
        to_coarse = torch.tensor(coarse_of)
        out["confusion"] = {"level": "superclass", "names": names,
                            "counts": confusion(to_coarse[predicted], to_coarse[labels], len(names))}
    elif num_classes <= 20:  # a small label set (the stand-in's 10 classes) is its own confusion
        out["confusion"] = {"level": "class", "names": list(loaded.dataset.classes),
                            "counts": confusion(predicted, labels, num_classes)}
    return out


def analyse_campaign(folder: str | Path, data: str | None = None, force: bool = False, log=print) -> dict:
    """Every model run of the campaign in ``folder``; returns {status: [run ids]}. The settings are the
    campaign's (its manifest's ``robustness`` block)."""
    folder = Path(folder)
    manifest_path = folder / records.MANIFEST
    if not manifest_path.is_file():
        raise ConfigError(f"no campaign at {folder} (no {records.MANIFEST}); give a campaign's runs folder, "
                          f"e.g. runs/quick, after running the campaign")
    if data:
        data_root(data)  # a bad --data-root is the command's input, not each run's failure
    manifest = records.read_json(manifest_path)
    settings = RobustnessSettings.from_dict(manifest.get("robustness") or {}, f"{manifest_path}: robustness")
    run_ids = campaign_runs(manifest, manifest_path)
    if run_ids:  # the page's mCE needs its baseline's result: not found, it is one line before any run is analysed
        entries = dict.fromkeys(e for rid in run_ids if (e := entry_of(rid, manifest.get("name") or folder.name)))
        refuse_unknown_baseline(settings, entries,
                                f"{manifest_path}: robustness", f" in {manifest.get('source') or 'the campaign YAML'} "
                                "and run the campaign again (its robustness step analyses the runs)")
    summary: dict[str, list[str]] = {}
    shared = Shared()
    for rid in run_ids:
        t0 = time.perf_counter()
        try:
            status, _ = analyse_run(folder / rid, settings, data, force, shared)
        except (CheckpointError, DataError, ConfigError, records.RecordError) as e:  # this run; the others go on
            status = "failed"
            log(f"{rid}: robustness failed: {e}")
        summary.setdefault(status, []).append(rid)
        log(f"{rid}: robustness {status} ({time.perf_counter() - t0:.1f}s)")
    return summary
