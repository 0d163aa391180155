"""The one training function: CPU, one GPU, N GPUs (DDP) and several nodes, through Accelerate.

``train(config)`` runs on every process (the launcher starts them); it writes, under ``run_dir``:
``config.json``, ``metrics.jsonl`` (one row per epoch), ``checkpoint.pt`` (each epoch) and
``record.json`` (``running`` once the attempt is under way, then ``complete``, ``failed`` or ``skipped``:
see :class:`records.RunRecord`). Every write is atomic and durable (:func:`records.atomic_write`).
Resuming restarts at the epoch after the last checkpoint and reproduces the uninterrupted run exactly:
the sample order, augmentation draws and global RNG are re-derived from ``(seed, epoch)``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import data as data_mod
from . import recipes, records
from .devices import visible_gpus
from .registry import (PretrainedWeightsUnavailable, check_options, count_flops, count_params, create_model,
                       get_spec, resolve_input_size)

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
# Config fields that may change between an interrupted run and its resume without changing the result.
RESUME_FREE = {"run_dir", "run_id", "resume", "campaign", "data_root", "download",
               "eval_batch_size", "progress", "notes"}


class ConfigError(ValueError):
    """A configuration is invalid; raised before any work starts."""


class CheckpointError(ConfigError):
    """A checkpoint is missing, corrupt, not ours, or holds something other than tensors and plain values."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class TrainConfig:
    model: str = "resnet_20"
    options: dict = field(default_factory=dict)  # model options (k_size, ratio, position, …)
    pretrained: str | None = "default"  # default (the model's), off, hub, or a local weights path
    img_size: int | None = None  # None: 32, or the pretraining size when fine-tuning
    dataset: str = "cifar100"  # cifar100 | fashion-mnist | synthetic
    data_root: str | None = None  # default: $CIFAR100LAB_DATA or ./data
    download: bool = True
    train_subset: int | None = None  # fixed seeded subset sizes (None: all)
    test_subset: int | None = None
    epochs: int = 200
    batch_size: int = 128  # per process
    eval_batch_size: int = 1000  # per process
    recipe: str | None = None  # None: the model's default recipe
    overrides: dict = field(default_factory=dict)  # recipe fields to override (lr, weight_decay, …)
    seed: int = 0
    precision: str = "auto"  # auto: bf16 (fp16 on GPUs without bf16); fp32 disables autocast
    channels_last: bool = True
    compile: bool = False  # torch.compile the model
    deterministic: bool = False  # deterministic kernels (exact resume on GPU); off: cudnn.benchmark picks the fastest
    fused_optimizer: bool = False  # fused SGD/AdamW kernels (CPU and GPU)
    augment: bool = True  # random crop (4-px padding) + horizontal flip, batched on the device
    max_steps_per_epoch: int | None = None  # cap for smoke tests
    run_dir: str = "runs/default"
    run_id: str | None = None
    resume: bool = True  # continue from run_dir's checkpoint; False refuses to touch an existing run
    campaign: str | None = None
    progress: bool = True
    notes: str = ""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_namespace(cls, namespace: dict[str, Any]) -> "TrainConfig":
        """The config from a notebook's parameter variables (every field must be there)."""
        missing = [k for k in cls.field_names() if k not in namespace]
        if missing:
            raise ConfigError(f"parameters missing: {', '.join(missing)}")
        return cls.from_dict({k: namespace[k] for k in cls.field_names()})

    @classmethod
    def coerce(cls, config: "TrainConfig | dict") -> "TrainConfig":
        """A validated config from a TrainConfig or a dict (validated once either way)."""
        if isinstance(config, cls):
            config.validate()
            return config
        return cls.from_dict(config)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        valid = cls.field_names()
        bad = sorted(set(d) - set(valid))
        if bad:
            raise ConfigError(f"unknown training key(s) {', '.join(bad)}; valid keys: {', '.join(valid)}")
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Everything that can be checked without data or a model, so bad input fails before work."""
        try:
            check_options(self.model, self.options)
            with torch.device("meta"):  # option values are checked by building the model without memory
                create_model(self.model, num_classes=10, img_size=self.img_size, **self.options)
            recipes.build_recipe(self.resolved_recipe(), self.overrides)
        except (KeyError, ValueError, TypeError) as e:
            raise ConfigError(str(e)) from None
        if self.dataset not in data_mod.DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; valid: {', '.join(data_mod.DATASETS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if not isinstance(self.deterministic, bool):
            raise ConfigError(f"deterministic must be true or false, got {self.deterministic!r}")
        for key in ("epochs", "batch_size", "eval_batch_size"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ConfigError(f"{key} must be a positive integer, got {getattr(self, key)!r}")
        spec = get_spec(self.model)
        if self.resolved_pretrained() and not spec.pretrainable:
            raise ConfigError(f"model {self.model!r} has no pretrained weights; use pretrained: off")

    def resolved_recipe(self) -> str:
        return self.recipe or get_spec(self.model).recipe

    def resolved_pretrained(self) -> str | None:
        value = get_spec(self.model).default_pretrained if self.pretrained == "default" else self.pretrained
        return None if value in (None, "", "off", False) else str(value)


def choose_precision(precision: str, cuda: bool) -> str:
    """Accelerate's mixed_precision value: bf16 where supported (CPU autocast too), else fp16 on GPU."""
    if precision == "fp32":
        return "no"
    if precision == "auto":
        return "bf16" if (not cuda or torch.cuda.is_bf16_supported()) else "fp16"
    return precision


def set_kernel_policy(deterministic: bool) -> dict:
    """Deterministic kernels, or the fastest ones; returned for the run record.

    TF32 stays on for fp32 matmuls and convolutions either way (it is deterministic, and 8× faster than fp32 on
    Ampere and later). Deterministic mode must set ``CUBLAS_WORKSPACE_CONFIG`` before cuBLAS starts, which this
    does on every process before its first CUDA call. Ops with no deterministic kernel warn rather than stop a
    run (``warn_only``): the warning names them in the run's log.
    """
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    return {"deterministic": deterministic, "cudnn_benchmark": not deterministic, "tf32": True,
            "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}


def make_accelerator(precision: str):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    cuda = visible_gpus() > 0  # NVML: on a machine without GPUs the CUDA runtime is never asked
    # Accelerate keeps one AcceleratorState per process; several runs in one kernel may differ in precision.
    # The process group (PartialState) is kept.
    AcceleratorState._reset_state()
    # cpu=True on a machine without GPUs makes a multi-process launch one gloo job (MULTI_CPU) instead of
    # independent single-process copies.
    return Accelerator(mixed_precision=choose_precision(precision, cuda), cpu=not cuda)


def seed_everything(seed: int) -> None:
    import random
    import numpy as np
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@torch.inference_mode()
def evaluate(model, x, y, prepare, accelerator, batch_size: int) -> dict:
    """Top-1/top-5 over the whole test set; under DDP each process takes every world_size-th sample,
    so every sample is counted exactly once (no padding duplicates)."""
    rank, world = accelerator.process_index, accelerator.num_processes
    idx = torch.arange(rank, len(y), world, device=y.device)
    totals = torch.zeros(4, dtype=torch.float64, device=accelerator.device)  # n, top1, top5, loss
    model.eval()
    for start in range(0, len(idx), batch_size):
        b = idx[start:start + batch_size]
        with accelerator.autocast():
            logits = model(prepare(x[b])).float()
        target = y[b]
        top5 = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hit = top5 == target[:, None]
        totals += torch.stack([torch.tensor(len(b), device=totals.device, dtype=torch.float64),
                               hit[:, 0].sum().double(), hit.any(1).sum().double(),
                               F.cross_entropy(logits, target, reduction="sum").double()])
    model.train()
    totals = accelerator.reduce(totals, reduction="sum")
    n = totals[0].item()
    return {"top1": 100 * totals[1].item() / n, "top5": 100 * totals[2].item() / n,
            "test_loss": totals[3].item() / n, "evaluated": int(n)}


def fingerprint(cfg: dict) -> dict:
    """The fields that decide the result; a field newer than the run that wrote ``cfg`` takes its default."""
    defaults = TrainConfig().to_dict()
    return {k: cfg.get(k, defaults[k]) for k in defaults if k not in RESUME_FREE}


CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "config", "epoch", "best", "history")


def read_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint this trainer wrote, read with ``weights_only=True``: tensors and plain values only, so a
    crafted file cannot run code on load. Anything else is one CheckpointError saying what is wrong."""
    import pickle
    import zipfile
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path} holds objects other than tensors and plain values, so it is not loaded "
                              f"(it could run code): {first}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): "
                              f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} is not a cifar100lab checkpoint (missing: {', '.join(missing)})")
    return ckpt


def load_checkpoint(run_dir: Path, cfg: dict):
    path = run_dir / records.CHECKPOINT
    if not path.exists():
        return None
    ckpt = read_checkpoint(path)
    old, new = fingerprint(ckpt["config"]), fingerprint(cfg)
    if old != new:
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise ConfigError(f"{path} was written by a run with a different configuration (differs in: "
                          f"{', '.join(diff)}); resume with the same configuration or use a new run_dir")
    return ckpt


def _base_record(cfg: TrainConfig, run_id: str) -> records.RunRecord:
    spec = get_spec(cfg.model)
    return records.start(
        cfg.run_dir, run_id=run_id, campaign=cfg.campaign, model=cfg.model, family=spec.family, group=spec.group,
        source=spec.source, options=cfg.options, resolved_options={**spec.options, **cfg.options},
        pretrained=cfg.resolved_pretrained(), seed=cfg.seed, config=cfg.to_dict(), recipe=None,
        git_commit=records.git_commit(), versions=records.versions())


def train(config: TrainConfig | dict) -> dict:
    """Train one run (on every process) and return its run record."""
    cfg = TrainConfig.coerce(config)
    from tqdm.auto import tqdm

    if not visible_gpus() and int(os.environ.get("WORLD_SIZE", 1)) > 1:
        # Forked CPU workers share the cores: the launcher's thread budget per process. This also keeps a
        # child from entering an OpenMP pool inherited from its parent across fork (a known libgomp hang).
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", 1)))
    kernels = set_kernel_policy(cfg.deterministic)  # before the first CUDA call (cuBLAS reads its env then)
    accelerator = make_accelerator(cfg.precision)
    main = accelerator.is_main_process
    run_dir = Path(cfg.run_dir)
    run_id = cfg.run_id or run_dir.name
    record = _base_record(cfg, run_id)
    record_path = run_dir / records.RECORD
    if not cfg.resume and (record_path.exists() or (run_dir / records.CHECKPOINT).exists()):
        raise ConfigError(f"{run_dir} already holds a run; pass resume=True to continue it or choose another run_dir")
    previous = records.read_json(record_path) if record_path.exists() else None
    if previous and previous.get("status") == "complete" and fingerprint(previous["config"]) == fingerprint(cfg.to_dict()):
        return previous  # already done: nothing to redo, nothing overwritten
    wall = records.Timer()
    record["kernels"] = kernels
    seed_everything(cfg.seed)
    # Check the folder's checkpoint against this config before writing anything: a refused resume must leave
    # config.json describing the checkpoint and metrics that are there.
    ckpt = load_checkpoint(run_dir, cfg.to_dict()) if cfg.resume else None
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        records.atomic_write_json(run_dir / records.CONFIG, cfg.to_dict())

    def close(ended: records.RunRecord) -> dict:
        if main:
            records.save(run_dir, ended)
        accelerator.wait_for_everyone()
        return ended

    dataset = data_mod.load_dataset(cfg.dataset, cfg.data_root, cfg.download, cfg.train_subset, cfg.test_subset)
    pretrained = cfg.resolved_pretrained()
    spec = get_spec(cfg.model)
    input_size = resolve_input_size(cfg.model, pretrained, cfg.img_size)
    normalization = "imagenet" if pretrained else "cifar100"
    record.update(dataset=dataset.describe(), input_size=input_size, normalization=normalization)
    try:
        model = create_model(cfg.model, num_classes=dataset.num_classes, pretrained=pretrained,
                             img_size=cfg.img_size, **cfg.options)
    except PretrainedWeightsUnavailable as e:
        return close(records.skip(record, f"pretrained weights unavailable: {e}", wall_seconds=wall()))
    record.update(params=count_params(model), flops=count_flops(model, input_size))

    recipe = recipes.build_recipe(cfg.resolved_recipe(), cfg.overrides)
    world = accelerator.num_processes
    steps = len(dataset.train_y) // (cfg.batch_size * world)
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    if steps == 0:
        raise ConfigError(f"{len(dataset.train_y)} training images are fewer than one global batch "
                          f"({cfg.batch_size} × {world} processes)")
    record["recipe"] = {"name": cfg.resolved_recipe(), **recipes.recipe_dict(recipe),
                        "effective_lr": recipes.scaled_lr(recipe, world), "global_batch": cfg.batch_size * world}
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = recipes.make_optimizer(model, recipe, world, fused=cfg.fused_optimizer or None)
    scheduler = recipes.make_scheduler(optimizer, recipe, cfg.epochs, steps)

    history: list[dict] = []
    start_epoch, best = 0, {"top1": -1.0, "top5": None, "epoch": None}
    if ckpt:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch, best, history = ckpt["epoch"], ckpt["best"], ckpt["history"]
        record["resumed_from_epoch"] = start_epoch
    if main:  # this attempt is under way: the record says so (and keeps the earlier attempts)
        records.save(run_dir, record)
    model, optimizer = accelerator.prepare(model, optimizer)
    if ckpt and ckpt.get("scaler") and accelerator.scaler is not None:
        accelerator.scaler.load_state_dict(ckpt["scaler"])
    train_model = torch.compile(model) if cfg.compile else model

    device = accelerator.device
    train_x, train_y = dataset.train_x.to(device), dataset.train_y.to(device)
    test_x, test_y = dataset.test_x.to(device), dataset.test_y.to(device)
    prepare = data_mod.normalizer(normalization, device, input_size, cfg.channels_last)
    record.update(hardware={"device": records.device_name(device), "count": world, "nodes": int(os.environ.get("NUM_NODES", 1)),
                            "precision": accelerator.mixed_precision, "distributed": str(accelerator.distributed_type)})
    if main and start_epoch == 0 and (run_dir / records.METRICS).exists():
        (run_dir / records.METRICS).unlink()  # a leftover from a run that died before its first checkpoint
    elif main and start_epoch:
        # keep exactly the rows the checkpoint knows about (a crash can land between append and checkpoint)
        kept = records.read_metrics(run_dir)[:start_epoch]
        records.atomic_write_text(run_dir / records.METRICS, "".join(json.dumps(r) + "\n" for r in kept))

    try:
        for epoch in range(start_epoch, cfg.epochs):
            torch.manual_seed(cfg.seed * 1_000_003 + epoch * 97 + accelerator.process_index)  # dropout/drop-path
            t0 = time.perf_counter()
            loss_sum = torch.zeros((), device=device, dtype=torch.float64)
            correct = torch.zeros((), device=device, dtype=torch.float64)
            seen = 0
            batches = data_mod.train_batches(train_x, train_y, cfg.batch_size, epoch, cfg.seed,
                                             accelerator.process_index, world, cfg.augment)
            bar = tqdm(total=steps, desc=f"{run_id} epoch {epoch + 1}/{cfg.epochs}", leave=False,
                       disable=not (main and cfg.progress))
            for step, (xb, yb) in enumerate(batches):
                if step == steps:
                    break
                with accelerator.autocast():
                    logits = train_model(prepare(xb))
                    loss = F.cross_entropy(logits.float(), yb, label_smoothing=recipe.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                loss_sum += loss.detach().double() * len(yb)
                correct += (logits.detach().argmax(1) == yb).sum()
                seen += len(yb)
                if step % 50 == 0 and not torch.isfinite(loss_sum):
                    break
                bar.update()
            bar.close()
            totals = accelerator.reduce(torch.stack([loss_sum, correct, torch.tensor(float(seen), device=device,
                                                                                  dtype=torch.float64)]), "sum")
            if not torch.isfinite(totals[0]):
                raise TrainingDiverged(f"loss became {totals[0].item()} in epoch {epoch + 1}; lower the learning "
                                       f"rate ({record['recipe']['effective_lr']}) or check the data")
            train_time = time.perf_counter() - t0
            t1 = time.perf_counter()
            metrics = evaluate(model, test_x, test_y, prepare, accelerator, cfg.eval_batch_size)
            eval_time = time.perf_counter() - t1
            row = {"epoch": epoch + 1, "train_loss": totals[0].item() / totals[2].item(),
                   "train_acc": 100 * totals[1].item() / totals[2].item(), **metrics,
                   "lr": optimizer.param_groups[0]["lr"], "epoch_seconds": train_time, "eval_seconds": eval_time,
                   "images_per_second": totals[2].item() / train_time}
            history.append(row)
            if metrics["top1"] > best["top1"]:
                best = {"top1": metrics["top1"], "top5": metrics["top5"], "epoch": epoch + 1}
            if main:
                records.append_jsonl(run_dir / records.METRICS, row)
                save_checkpoint(run_dir, accelerator, model, optimizer, scheduler, cfg, epoch + 1, best, history)
                if cfg.progress:
                    print(f"{run_id} epoch {epoch + 1}/{cfg.epochs}: loss {row['train_loss']:.3f} "
                          f"top1 {metrics['top1']:.2f} top5 {metrics['top5']:.2f} "
                          f"({row['images_per_second']:.0f} img/s)", flush=True)
            accelerator.wait_for_everyone()
    except TrainingDiverged as e:
        close(records.fail(record, str(e), wall_seconds=wall(), epochs_done=len(history), history_tail=history[-1:]))
        raise
    except Exception as e:
        close(records.fail(record, f"{type(e).__name__}: {e}", wall_seconds=wall(), epochs_done=len(history)))
        raise

    fresh = history[start_epoch:] if ckpt else history
    return close(records.finish(
        record, wall_seconds=wall(), epochs_done=len(history), final={k: history[-1][k] for k in ("top1", "top5", "test_loss", "evaluated")},
        best=best, train_seconds=sum(r["epoch_seconds"] for r in history),
        eval_seconds=sum(r["eval_seconds"] for r in history),
        images_per_second=sum(r["images_per_second"] for r in fresh) / max(1, len(fresh)),
        eval_images_per_second=sum(r["evaluated"] / r["eval_seconds"] for r in fresh) / max(1, len(fresh))))


def save_checkpoint(run_dir, accelerator, model, optimizer, scheduler, cfg, epoch, best, history) -> None:
    state = {"model": accelerator.unwrap_model(model).state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "scaler": accelerator.scaler.state_dict() if accelerator.scaler else None,
             "config": cfg.to_dict(), "epoch": epoch, "best": best, "history": history}
    records.atomic_write(run_dir / records.CHECKPOINT, lambda f: torch.save(state, f))


def evaluate_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike | None = None,
                        data_root: str | None = None, batch_size: int = 1000) -> dict:
    """Evaluate a saved checkpoint on its run's full test set (single process) and write the metrics
    a run record holds to ``out`` (default: ``evaluation.json`` beside the checkpoint)."""
    checkpoint = Path(checkpoint)
    out = Path(out) if out else checkpoint.parent / "evaluation.json"
    ckpt = read_checkpoint(checkpoint)
    if out.is_dir() or not out.parent.is_dir() or not os.access(out.parent, os.W_OK):
        raise ConfigError(f"cannot write the evaluation to {out}: its folder does not exist or is not writable "
                          f"(or it is a folder); pass --out FILE in a writable folder")
    cfg = TrainConfig.from_dict({**ckpt["config"], "data_root": data_root or ckpt["config"]["data_root"]})
    accelerator = make_accelerator(cfg.precision)
    dataset = data_mod.load_dataset(cfg.dataset, cfg.data_root, cfg.download, cfg.train_subset, cfg.test_subset)
    pretrained = cfg.resolved_pretrained()
    input_size = resolve_input_size(cfg.model, pretrained, cfg.img_size)
    # Weights come from the checkpoint, so the model is built without fetching pretrained ones.
    model = create_model(cfg.model, num_classes=dataset.num_classes, img_size=input_size if pretrained else cfg.img_size,
                         **cfg.options)
    model.load_state_dict(ckpt["model"])
    model = accelerator.prepare(model.to(memory_format=torch.channels_last) if cfg.channels_last else model)
    device = accelerator.device
    prepare = data_mod.normalizer("imagenet" if pretrained else "cifar100", device, input_size, cfg.channels_last)
    t0 = time.perf_counter()
    metrics = evaluate(model, dataset.test_x.to(device), dataset.test_y.to(device), prepare, accelerator, batch_size)
    result = {"checkpoint": str(checkpoint), "epoch": ckpt["epoch"], "model": cfg.model, "options": cfg.options,
              "dataset": dataset.describe(), **metrics, "eval_seconds": time.perf_counter() - t0,
              "params": count_params(accelerator.unwrap_model(model)), "evaluated_at": records.now(),
              "hardware": {"device": records.device_name(device), "precision": accelerator.mixed_precision},
              "versions": records.versions(), "git_commit": records.git_commit()}
    records.atomic_write_json(out, result)
    return result
