"""``python -m cifar100lab evaluate``: a saved checkpoint evaluated on its run's test images, the metrics
written beside it."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from accelerate import Accelerator

from . import records
from .accelerator import build_accelerator
from .checkpoint import CheckpointError, checkpoint_file, load_weights, read_checkpoint
from .config import ConfigError, RunPlan, eval_batch, resolve
from .data import DATASETS, Dataset, load_dataset
from .data import data_root as data_folder
from .learner import as_trained
from .models import count_params
from .train import Learner, build_learner, build_model, evaluate

EVALUATION = "evaluation.json"  # beside the checkpoint, unless --out says otherwise
EVALUATION_KEYS = {"checkpoint", "epoch", "evaluated_at"}  # what marks a file as an earlier evaluation


@dataclass
class Loaded:
    """A checkpoint ready to evaluate: its run's plan, the run's dataset and a learner holding its weights."""
    plan: RunPlan
    dataset: Dataset
    learner: Learner
    accelerator: Accelerator
    ema: Learner | None = None  # the run's EMA weights (recipe ema_decay), when asked for and the checkpoint has them


def load_for_evaluation(checkpoint: Path, ckpt: dict, data_root: str | None = None, read=load_dataset,
                        ema: bool = False) -> Loaded:
    """The network of ``ckpt`` (read from ``checkpoint``) with its weights, on this process's device, and the
    run's dataset (its own subsets), so every evaluation sees the images the run was measured on. ``read``:
    :func:`~cifar100lab.data.load_dataset` or one that returns a dataset it already read. ``ema``: also the
    network with the run's EMA weights, where the checkpoint keeps them."""
    try:
        plan = resolve({**ckpt["config"], "data_root": data_root or ckpt["config"].get("data_root")}, stored=True)
    except ConfigError as e:
        raise CheckpointError(f"{checkpoint} carries a run config that is not valid: {e}") from None
    plan = as_trained(plan, ckpt, record_of(checkpoint, ckpt))  # fed as it trained, whatever became of its weights
    cfg = plan.config
    accelerator = build_accelerator(cfg.precision)
    # with its validation split, as the run read it: the evaluation's "dataset" describes the run's data
    dataset = read(cfg.dataset, cfg.data_root, cfg.download, cfg.train_subset, cfg.test_subset,
                   val_fraction=cfg.val_fraction, image_size=plan.input_size)
    model = build_model(plan, dataset.num_classes, weights=False)  # the weights are the checkpoint's
    load_weights(model, ckpt["model"], checkpoint, cfg.model)
    averaged = None
    if ema and isinstance(ckpt.get("ema"), dict):  # timm's ModelEmaV3 state: the network's under "module."
        averaged = build_model(plan, dataset.num_classes, weights=False)
        load_weights(averaged, {k.removeprefix("module."): v for k, v in ckpt["ema"].items()}, checkpoint, cfg.model)
        averaged = build_learner(plan, accelerator, averaged)
    return Loaded(plan, dataset, build_learner(plan, accelerator, model), accelerator, averaged)


def check_out(out: Path) -> None:
    """The evaluation goes to a new file or over an earlier evaluation, never over a run's own files (a record
    replaced by an evaluation reads as no run at all) nor over a file it did not write."""
    if {out.name, out.resolve().name} & set(records.RUN_FILES):
        raise ConfigError(f"cannot write the evaluation to {out}: {', '.join(records.RUN_FILES)} are a run's own files; "
                          f"pass --out another file (default: {EVALUATION} beside the checkpoint)")
    records.writable_output(out, "the evaluation")
    if out.exists() and not _is_evaluation(out):
        raise ConfigError(f"cannot write the evaluation to {out}: it holds something other than an earlier "
                          f"evaluation, which would be lost; pass --out a new file, or move it aside")


def record_of(checkpoint: Path, ckpt: dict) -> dict | None:
    """The record of the run that wrote ``ckpt``, beside it; None for a checkpoint on its own, a damaged record (which
    an evaluation may be what replaces) or one of another model's run."""
    try:
        record = records.load(checkpoint.parent)
    except records.RecordError:
        return None
    return record if (record or {}).get("config", {}).get("model") == ckpt["config"]["model"] else None


def check_same_data(checkpoint: Path, ckpt: dict, root: str | None, dataset: Dataset) -> None:
    """The data read must be the data the run was measured on, as its record's checksum says: another copy under
    --data-root (a synthetic set generated again, an image folder changed since) gives other test images, and a
    number that reads as the run's. Without a record of this run there is nothing to compare."""
    recorded = (record_of(checkpoint, ckpt) or {}).get("dataset") or {}
    if "checksum" not in recorded:
        return
    if recorded["checksum"] != dataset.checksum:
        where, fix = ((f" under {data_folder(root)}", "pass --data-root the folder that holds the run's data")
                      if dataset.name in DATASETS else ("", "its images have changed since the run"))
        raise ConfigError(f"the {dataset.name} data{where} ({dataset.checksum}) is not the data "
                          f"{checkpoint.parent.name} was measured on ({recorded['checksum']}, as its "
                          f"{records.RECORD} says), so its test images would differ; {fix}")


def _is_evaluation(path: Path) -> bool:
    try:  # an evaluation is a few kB: a larger file is something else, and is not read whole to find out
        return path.stat().st_size < 1 << 20 and EVALUATION_KEYS <= records.read_json(path).keys()
    except (records.RecordError, OSError):
        return False


def evaluate_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike | None = None,
                        data_root: str | None = None, batch_size: int | None = None) -> dict:
    """Evaluate a saved checkpoint on the test images its run was measured on (its test_subset, if any; single
    process), its EMA weights too where the run kept them (``ema``, as the record's), and write the metrics a run
    record holds to ``out`` (default: ``evaluation.json`` beside the checkpoint). ``checkpoint``: the file, or the
    run folder holding it. ``batch_size``: None is 1000 on a GPU, 128 on a CPU (:func:`config.eval_batch`)."""
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ConfigError(f"batch_size must be a whole number of images, at least 1, or None, got {batch_size!r}")
    checkpoint = checkpoint_file(checkpoint)
    out = Path(out) if out else checkpoint.parent / EVALUATION
    ckpt = read_checkpoint(checkpoint)  # first: a missing checkpoint's folder is no --out problem
    check_out(out)
    loaded = load_for_evaluation(checkpoint, ckpt, data_root, ema=True)
    cfg, dataset, learner, accelerator = loaded.plan.config, loaded.dataset, loaded.learner, loaded.accelerator
    check_same_data(checkpoint, ckpt, cfg.data_root, dataset)
    device = accelerator.device
    batch_size = eval_batch(batch_size, device.type)
    t0 = time.perf_counter()
    test_x, test_y = dataset.test_x.to(device), dataset.test_y.to(device)
    metrics = evaluate(learner, test_x, test_y, batch_size)
    if loaded.ema is not None:  # as the record's "ema": {"final": ...} holds them
        averaged = evaluate(loaded.ema, test_x, test_y, batch_size)
        metrics["ema"] = {k: averaged[k] for k in ("top1", "top5", "test_loss")}
    result = {"checkpoint": str(checkpoint), "epoch": ckpt["epoch"], "model": cfg.model, "options": cfg.options,
              "dataset": dataset.describe(), **metrics, "eval_seconds": time.perf_counter() - t0,
              "params": count_params(learner.network), "evaluated_at": records.now(),
              "hardware": {"device": records.device_name(device), "precision": accelerator.mixed_precision},
              "versions": records.versions(), "git_commit": records.git_commit()}
    if cfg.trial:
        result["tuning_trial"] = tuning_trial(cfg.run_id or checkpoint.parent.name, cfg.trial)
    records.atomic_write_json(out, result)
    return result


def tuning_trial(run_id: str, trial: dict) -> dict:
    """Which tuning trial an evaluated checkpoint is, and the note its test score goes with (printed by the command,
    shown by the notebook, kept in the file): a study chooses among its trials on their validation split, so one
    trial's test score is a look at that trial, not the study's result, and trials chosen by it are tuned on the
    test set. The study's test result is ``tune --finish``'s."""
    note = (f"{run_id} is trial {trial['number']} of tuning study {trial['study']}, which chooses among its trials "
            f"on their validation split: this test score is one look at one trial, not the study's result (choosing "
            f"trials by it would tune on the test set); the study's test result is what `python -m cifar100lab tune "
            f"<its study file> --finish` measures, its best trial's configuration re-run with the study's seeds")
    return {"study": trial["study"], "number": trial["number"], "note": note}
