"""The one training function: CPU, one GPU, N GPUs (DDP) and several nodes, through Accelerate.

``train(plan)`` runs on every process (the launcher starts them); it writes, under ``run_dir``:
``config.json``, ``metrics.jsonl`` (one row per epoch), ``checkpoint.pt`` (each epoch) and
``record.json`` (``running`` once the attempt is under way, then ``complete``, ``failed`` or ``skipped``:
see :class:`records.RunRecord`). Every write is atomic and durable (:func:`records.atomic_write`).
Resuming restarts at the epoch after the last checkpoint and reproduces the uninterrupted run exactly:
the sample order, augmentation draws and global RNG are re-derived from ``(seed, epoch)``.

It reads in phases: setup (the run folder, the accelerator, the data, the network), resume (the checkpoint),
one epoch at a time, finish (the record). ``build_network`` + ``Network.step`` are the one build-and-step that
``evaluate_checkpoint`` and the benchmark use too.
"""
from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from . import data as data_mod
from . import recipes, records
from .config import ConfigError, RunPlan, TrainConfig, fingerprint, resolve
from .devices import visible_gpus
from .models import PretrainedWeightsUnavailable, classifier_name, count_flops, count_params, create_model, weights_file

__all__ = ["CheckpointError", "ConfigError", "TrainConfig", "TrainingDiverged", "train", "evaluate_checkpoint", "build_network"]

class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class CheckpointError(ConfigError):
    """A checkpoint is missing, corrupt, not ours, or holds something other than tensors and plain values."""


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


def make_accelerator(precision: str, cpu: bool = False, log_with: str | None = None, project_dir=None):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    cuda = visible_gpus() > 0 and not cpu  # NVML: on a machine without GPUs the CUDA runtime is never asked
    # Accelerate keeps one AcceleratorState per process; several runs in one kernel may differ in precision.
    # The process group (PartialState) is kept.
    AcceleratorState._reset_state()
    # cpu=True on a machine without GPUs makes a multi-process launch one gloo job (MULTI_CPU) instead of
    # independent single-process copies.
    return Accelerator(mixed_precision=choose_precision(precision, cuda), cpu=not cuda, log_with=log_with,
                       project_dir=project_dir)


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)



# ------------------------------------------------------------------ the one build-and-step

class Frozen:
    """The backbone (everything but the classifier) held fixed until epoch ``until``: its gradients are dropped
    before each optimizer step (so neither the update nor weight decay touches it) and its modules stay in eval
    mode (BatchNorm statistics and dropout stay put). Dropping gradients rather than switching
    ``requires_grad`` keeps DDP's buckets valid when the backbone is released."""

    def __init__(self, model: torch.nn.Module, until: int):
        head = classifier_name(model)
        inside = lambda name: name == head or name.startswith(head + ".")  # noqa: E731
        self.params = [p for n, p in model.named_parameters() if not inside(n)]
        # every module outside the classifier that does not contain it (eval() reaches a module's children)
        self.modules = [m for n, m in model.named_modules() if n and not inside(n) and not head.startswith(n + ".")]
        self.until, self.now = until, until > 0

    def set_epoch(self, epoch: int) -> None:
        self.now = epoch < self.until

    def hold(self) -> None:
        if self.now:
            for m in self.modules:
                m.eval()

    def drop_grads(self) -> None:
        if self.now:
            for p in self.params:
                p.grad = None


@dataclass
class Network:
    """A network as the trainer runs it: prepared by Accelerate, fed through the run's normalizer, under
    its autocast. ``step`` is the training step (Mixup/CutMix, loss, backward through the scaler, frozen
    backbone, gradient clipping, optimizer, scheduler, EMA); ``forward`` is the compiled module when
    ``compile`` is on."""
    accelerator: Any
    model: torch.nn.Module
    forward: Callable
    prepare: Callable
    optimizer: Any = None
    scheduler: Any = None
    criterion: Callable = F.cross_entropy
    mix: Callable | None = None  # timm Mixup: (images, labels) -> (mixed images, soft targets)
    grad_clip: float = 0.0
    ema: Any = None  # timm ModelEmaV3
    frozen: Frozen | None = None

    def step(self, xb: torch.Tensor, yb: torch.Tensor, key: int = 0):
        x, target = self.prepare(xb), yb
        if self.mix is not None:
            with data_mod.seeded(key):  # the step's own draw: a resumed run mixes as the uninterrupted one did
                x, target = self.mix(x, yb)
        with self.accelerator.autocast():
            logits = self.forward(x)
            loss = self.criterion(logits.float(), target)
        self.optimizer.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        if self.frozen is not None:
            self.frozen.drop_grads()
        if self.grad_clip:
            self.accelerator.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.accelerator.unwrap_model(self.model), step=self.scheduler.last_epoch)
        return loss, logits

    def logits(self, xb: torch.Tensor) -> torch.Tensor:
        with self.accelerator.autocast():
            return self.model(self.prepare(xb)).float()

    def train_mode(self, epoch: int | None = None) -> None:
        """Training mode, with a frozen backbone held in eval mode (``epoch``: the one about to run)."""
        if self.frozen is not None and epoch is not None:
            self.frozen.set_epoch(epoch)
        self.model.train()
        if self.frozen is not None:
            self.frozen.hold()

    def ema_network(self) -> "Network":
        """The EMA weights as an evaluable network (same normalizer and autocast)."""
        return Network(self.accelerator, self.ema.module, self.ema.module, self.prepare)


def new_model(plan: RunPlan, num_classes: int, weights: bool = True) -> torch.nn.Module:
    """The plan's network; ``weights=False`` skips pretrained weights (they come from a checkpoint, or speed
    is all that is measured)."""
    cfg = plan.config
    return create_model(cfg.model, num_classes=num_classes, pretrained=plan.pretrained if weights else None,
                        img_size=plan.input_size, **cfg.options)


def build_network(plan: RunPlan, accelerator, model: torch.nn.Module, steps_per_epoch: int | None = None,
                  state: dict | None = None, num_classes: int | None = None) -> Network:
    """Wrap ``model`` the way the trainer runs it. With ``steps_per_epoch`` it can train (optimizer and
    schedule from the plan's recipe, ``state`` restored from a checkpoint); without, it only evaluates.
    ``num_classes``: the loaded dataset's (Mixup's soft targets), default the dataset spec's."""
    cfg, world = plan.config, accelerator.num_processes
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    prepare = data_mod.normalizer(plan.mean, plan.std, accelerator.device, plan.input_size, cfg.channels_last)
    if steps_per_epoch is None:
        model = accelerator.prepare(model)
        return Network(accelerator, model, model, prepare)
    recipe = plan.recipe
    frozen = None
    if recipe.freeze == "backbone" or recipe.freeze_epochs:
        frozen = Frozen(model, cfg.epochs if recipe.freeze == "backbone" else recipe.freeze_epochs)
        if recipe.freeze == "backbone":  # never released: no backbone gradients are computed at all
            for p in frozen.params:
                p.requires_grad_(False)
    optimizer = recipes.make_optimizer(model, recipe, world, fused=cfg.fused_optimizer or None)
    scheduler = recipes.make_scheduler(optimizer, recipe, cfg.epochs, steps_per_epoch)
    if state:  # before prepare: the states name the unwrapped model's parameters
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    model, optimizer = accelerator.prepare(model, optimizer)
    if state and state.get("scaler") and accelerator.scaler is not None:
        accelerator.scaler.load_state_dict(state["scaler"])
    if cfg.compile:  # a kernel that compiled other models before (a kept job kernel, a re-run cell) would reach
        torch._dynamo.reset()  # dynamo's recompile limit and fall back to eager without saying so
    forward = torch.compile(model, mode=cfg.compile_mode) if cfg.compile else model
    mix, criterion = None, functools.partial(F.cross_entropy, label_smoothing=recipe.label_smoothing)
    if recipe.mixup or recipe.cutmix:
        from timm.data import Mixup
        from timm.loss import SoftTargetCrossEntropy
        mix = Mixup(mixup_alpha=recipe.mixup, cutmix_alpha=recipe.cutmix, prob=recipe.mix_prob,
                    switch_prob=recipe.mix_switch_prob, label_smoothing=recipe.label_smoothing,
                    num_classes=num_classes or plan.dataset.num_classes)  # label smoothing: in the targets
        criterion = SoftTargetCrossEntropy()
    ema = None
    if recipe.ema_decay:
        from timm.utils import ModelEmaV3
        # timm's decay warm-up: a short run's EMA is not stuck near the initial weights
        ema = ModelEmaV3(accelerator.unwrap_model(model), decay=recipe.ema_decay, use_warmup=True)
        if state and state.get("ema"):
            ema.load_state_dict(state["ema"])
    return Network(accelerator, model, forward, prepare, optimizer, scheduler, criterion, mix, recipe.grad_clip,
                   ema, frozen)


@torch.inference_mode()
def evaluate(network: Network, x, y, batch_size: int) -> dict:
    """Top-1/top-5 over the whole test set; under DDP each process takes every world_size-th sample,
    so every sample is counted exactly once (no padding duplicates)."""
    accelerator = network.accelerator
    rank, world = accelerator.process_index, accelerator.num_processes
    idx = torch.arange(rank, len(y), world, device=y.device)
    totals = torch.zeros(4, dtype=torch.float64, device=accelerator.device)  # n, top1, top5, loss
    was_training = network.model.training
    network.model.eval()
    for start in range(0, len(idx), batch_size):
        b = idx[start:start + batch_size]
        logits, target = network.logits(x[b]), y[b]
        hit = logits.topk(min(5, logits.shape[1]), dim=1).indices == target[:, None]
        # scalar adds on the device: a tensor made from the count would be a blocking host-to-device copy
        totals[0] += len(b)
        totals[1:] += torch.stack([hit[:, 0].sum().double(), hit.any(1).sum().double(),
                                   F.cross_entropy(logits, target, reduction="sum").double()])
    if was_training:
        network.train_mode()
    totals = accelerator.reduce(totals, reduction="sum")
    n = totals[0].item()
    return {"top1": 100 * totals[1].item() / n, "top5": 100 * totals[2].item() / n,
            "test_loss": totals[3].item() / n, "evaluated": int(n)}


# ------------------------------------------------------------------ run folder, checkpoint, record

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
    config = ckpt["config"]
    # TrainConfig's defaults would stand in for a missing model or dataset: refuse rather than guess
    if not isinstance(config, dict) or not all(isinstance(config.get(k), str) for k in ("model", "dataset")):
        raise CheckpointError(f"{path} is damaged: its 'config' is not the mapping of TrainConfig fields, naming "
                              f"the model and the dataset, that the trainer writes")
    if not isinstance(ckpt["model"], dict) or not all(isinstance(v, torch.Tensor) for v in ckpt["model"].values()):
        raise CheckpointError(f"{path} is damaged: its 'model' must be a state dict (names to tensors)")
    return ckpt


def load_weights(model: torch.nn.Module, state: dict, source, name: str) -> torch.nn.Module:
    """Load ``state`` into ``model`` (the network ``name``) exactly: every tensor there, none extra, every shape
    equal and every value finite. Anything else is one CheckpointError naming ``source``, because a partial or
    foreign state dict would otherwise give a network that runs and answers wrongly."""
    expected = model.state_dict()
    found = {"missing": [k for k in expected if k not in state],
             "unexpected": [k for k in state if k not in expected],
             "of another shape": [k for k in expected if k in state and state[k].shape != expected[k].shape]}
    if any(found.values()):
        what = "; ".join(f"{len(keys)} {kind} (first: {keys[0]})" for kind, keys in found.items() if keys)
        raise CheckpointError(f"{source} holds weights that do not fit {name}: {what}; they belong to another "
                              f"model or configuration")
    nonfinite = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if nonfinite:
        raise CheckpointError(f"{source} holds inf or NaN in {nonfinite}: damaged or altered weights; "
                              f"use the run's own checkpoint or export it again")
    model.load_state_dict(state)
    return model


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


def save_checkpoint(run_dir, network: Network, cfg: TrainConfig, epoch, best, history) -> None:
    accelerator = network.accelerator
    state = {"model": accelerator.unwrap_model(network.model).state_dict(),
             "optimizer": network.optimizer.state_dict(), "scheduler": network.scheduler.state_dict(),
             "scaler": accelerator.scaler.state_dict() if accelerator.scaler else None,
             "ema": network.ema.state_dict() if network.ema is not None else None,
             "config": cfg.to_dict(), "epoch": epoch, "best": best, "history": history}
    records.atomic_write(run_dir / records.CHECKPOINT, lambda f: torch.save(state, f))


class RunState:
    """One attempt at a run: its folder, accelerator, record and wall clock; ``close`` writes how it ended."""

    def __init__(self, plan: RunPlan, accelerator):
        cfg = plan.config
        self.plan, self.cfg, self.accelerator = plan, cfg, accelerator
        self.main = accelerator.is_main_process
        self.run_dir = Path(cfg.run_dir)
        self.run_id = cfg.run_id or self.run_dir.name
        self.wall = records.Timer()
        self.policy = None  # the recipe's RandAugment / erasing (data.policy_augmentation), set up with the data
        self.record = start_record(plan)

    def save(self) -> None:
        if self.main:
            records.save(self.run_dir, self.record)

    def close(self, transition, *reason, **fields) -> dict:
        """End the attempt through ``records.finish`` / ``fail`` / ``skip`` and write the record."""
        self.record = transition(self.record, *reason, wall_seconds=self.wall(), **fields)
        self.save()
        self.accelerator.wait_for_everyone()
        return self.record


def start_record(plan: RunPlan) -> dict:
    """A new attempt's record: what the plan says about the run, before any work."""
    cfg, spec = plan.config, plan.spec
    return records.start(
        cfg.run_dir, run_id=cfg.run_id or Path(cfg.run_dir).name, campaign=cfg.campaign, model=cfg.model,
        family=spec.family, group=spec.group, source=spec.source, options=cfg.options,
        resolved_options={**spec.options, **cfg.options}, pretrained=plan.pretrained, seed=cfg.seed,
        config=cfg.to_dict(), recipe=None, input_size=plan.input_size, normalization=plan.normalization,
        dataset={"name": plan.dataset.name, "kind": plan.dataset.kind, "label": plan.dataset.label["en"]},
        git_commit=records.git_commit(), versions=records.versions())


def missing_weights(plan: RunPlan) -> str | None:
    """Why a fine-tune cannot have its pretrained weights (offline, not cached), or None."""
    if not plan.pretrained:
        return None
    try:
        weights_file(plan.spec.pretrained_source, plan.pretrained)
    except PretrainedWeightsUnavailable as e:
        return f"pretrained weights unavailable: {e}"
    return None


def skip_without_weights(plan: RunPlan) -> dict | None:
    """The skipped record of a fine-tune whose weights cannot be had, written; None when it can run. A campaign
    asks this before it starts a notebook kernel, so finding out costs no kernel start."""
    wall = records.Timer()
    reason = missing_weights(plan)
    if reason is None:
        return None
    record = records.skip(start_record(plan), reason, wall_seconds=wall())
    records.save(plan.config.run_dir, record)
    return record


def previous_result(plan: RunPlan) -> dict | None:
    """The record of this very run when it is already complete; refuses a folder that ``resume=False`` may
    not touch."""
    cfg, run_dir = plan.config, Path(plan.config.run_dir)
    record_path = run_dir / records.RECORD
    if not cfg.resume and (record_path.exists() or (run_dir / records.CHECKPOINT).exists()):
        raise ConfigError(f"{run_dir} already holds a run; pass resume=True to continue it or choose another run_dir")
    previous = records.read_json(record_path) if record_path.exists() else None
    if previous and previous.get("status") == "complete" and fingerprint(previous["config"]) == fingerprint(cfg.to_dict()):
        return previous
    return None


def steps_per_epoch(plan: RunPlan, n_train: int, world: int) -> int:
    cfg = plan.config
    steps = n_train // (cfg.batch_size * world)
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    if steps == 0:
        raise ConfigError(f"{n_train} training images are fewer than one global batch "
                          f"({cfg.batch_size} × {world} processes)")
    return steps


# ------------------------------------------------------------------ the phases of a run

def train(config: RunPlan | TrainConfig | dict) -> dict:
    """Train one run (on every process) and return its run record."""
    plan = resolve(config)
    done = previous_result(plan)
    if done:  # nothing to redo, nothing overwritten
        if int(os.environ.get("RANK", 0)) == 0:  # the launched processes' first (no accelerator yet to ask)
            print(f"{done['run_id']}: already complete, nothing trained ({plan.config.run_dir})")
        return done
    kernels = set_kernel_policy(plan.config.deterministic)  # before the first CUDA call (cuBLAS reads its env then)
    cfg = plan.config
    run = RunState(plan, make_accelerator(cfg.precision, log_with=cfg.log_with, project_dir=cfg.run_dir))
    run.record["kernels"] = kernels
    seed_everything(plan.config.seed)
    setup = _setup(run)
    if isinstance(setup, dict):
        return setup  # skipped
    dataset, model, steps = setup
    ckpt = _resume(run)
    network = build_network(plan, run.accelerator, model, steps, ckpt, dataset.num_classes)
    start, history, best = (ckpt["epoch"], ckpt["history"], ckpt["best"]) if ckpt else (0, [], {"epoch": None})
    device = run.accelerator.device
    data = [None if t is None else t.to(device) for t in
            (dataset.train_x, dataset.train_y, dataset.test_x, dataset.test_y, dataset.val_x, dataset.val_y)]
    try:
        for epoch in range(start, plan.config.epochs):
            row = _epoch(run, network, data, steps, epoch)
            history.append(row)
            best = best_epoch(best, row)
            _end_of_epoch(run, network, row, best, history)
    except TrainingDiverged as e:
        run.close(records.fail, str(e), epochs_done=len(history), history_tail=history[-1:])
        raise
    except Exception as e:
        run.close(records.fail, f"{type(e).__name__}: {e}", epochs_done=len(history))
        raise
    finally:  # trackers flush and close however the run ended (end_training() would end the process group too)
        for tracker in run.accelerator.trackers:
            tracker.finish()
    return _finish(run, history, best, fresh=history[start:], ema=network.ema is not None)


def _setup(run: RunState):
    """Data, network and steps per epoch; a record (skipped) when the pretrained weights cannot be had."""
    plan, cfg, accelerator = run.plan, run.cfg, run.accelerator
    if run.main:
        run.run_dir.mkdir(parents=True, exist_ok=True)
    reason = missing_weights(plan)  # offline, a fine-tune is skipped here: before the data is read or a network built
    if reason:
        return run.close(records.skip, reason)
    try:
        dataset = data_mod.load_dataset(cfg.dataset, cfg.data_root, cfg.download, cfg.train_subset, cfg.test_subset,
                                        val_fraction=cfg.val_fraction)
        run.record["dataset"] = dataset.describe()
        model = new_model(plan, dataset.num_classes)
    except PretrainedWeightsUnavailable as e:
        return run.close(records.skip, f"pretrained weights unavailable: {e}")
    run.record.update(params=count_params(model), flops=count_flops(model, plan.input_size))
    world = accelerator.num_processes
    steps = steps_per_epoch(plan, len(dataset.train_y), world)
    run.record["recipe"] = plan.recipe_record(world)
    run.policy = data_mod.policy_augmentation(plan.recipe, plan.mean)
    if cfg.log_with:
        _start_trackers(run)
    run.record["hardware"] = {"device": records.device_name(accelerator.device), "count": world,
                              "nodes": int(os.environ.get("NUM_NODES", 1)), "precision": accelerator.mixed_precision,
                              "distributed": str(accelerator.distributed_type)}
    return dataset, model, steps


def _start_trackers(run: RunState) -> None:
    """Accelerate's tracker (TensorBoard under ``<run_dir>/tensorboard``, or a wandb / MLflow run named after
    the run), with the config and recipe as its hyperparameters (scalars; the rest as JSON text)."""
    cfg = run.cfg
    hparams = {k: v if isinstance(v, (int, float, str, bool)) else json.dumps(v)
               for k, v in {**cfg.to_dict(), **{f"recipe.{k}": v for k, v in run.record["recipe"].items()}}.items()}
    project = "tensorboard" if cfg.log_with == "tensorboard" else (cfg.campaign or "cifar100lab")
    run.accelerator.init_trackers(project, config=hparams, init_kwargs={"wandb": {"name": run.run_id},
                                                                         "mlflow": {"run_name": run.run_id}})


def _resume(run: RunState) -> dict | None:
    """The checkpoint to continue from, checked against this config before anything is written (a refused
    resume leaves config.json describing what is there), and the metrics cut to the epochs it knows about."""
    ckpt = load_checkpoint(run.run_dir, run.cfg.to_dict()) if run.cfg.resume else None
    metrics = run.run_dir / records.METRICS
    if ckpt:
        run.record["resumed_from_epoch"] = ckpt["epoch"]
        if run.main:
            print(f"{run.run_id}: resumed from epoch {ckpt['epoch']} of {run.cfg.epochs}")
    if run.main:
        records.atomic_write_json(run.run_dir / records.CONFIG, run.cfg.to_dict())
        run.save()  # this attempt is under way: the record says so (and keeps the earlier attempts)
        if not ckpt and metrics.exists():
            metrics.unlink()  # a leftover from a run that died before its first checkpoint
        elif ckpt:
            # exactly the rows the checkpoint knows about: a crash can land between append and checkpoint, and a
            # torn or lost line in the file is restored from the checkpoint's copy
            write_metrics(run.run_dir, ckpt["history"])
    return ckpt


def write_metrics(run_dir: Path, history: list[dict]) -> None:
    records.atomic_write_text(Path(run_dir) / records.METRICS, "".join(json.dumps(r) + "\n" for r in history))


def restore_metrics(run_dir: str | os.PathLike) -> None:
    """Rewrite a run's ``metrics.jsonl`` from its checkpoint's history (the copy written with the weights)."""
    write_metrics(Path(run_dir), read_checkpoint(Path(run_dir) / records.CHECKPOINT)["history"])


def _epoch(run: RunState, network: Network, data, steps: int, epoch: int) -> dict:
    """Train one epoch, evaluate, and return its metrics row."""
    from tqdm.auto import tqdm
    cfg, accelerator = run.cfg, run.accelerator
    train_x, train_y, test_x, test_y, val_x, val_y = data
    torch.manual_seed(cfg.seed * 1_000_003 + epoch * 97 + accelerator.process_index)  # dropout/drop-path
    network.train_mode(epoch)
    t0 = time.perf_counter()
    rank = accelerator.process_index
    batches = data_mod.train_batches(train_x, train_y, cfg.batch_size, epoch, cfg.seed,
                                     rank, accelerator.num_processes, cfg.augment, run.policy)
    bar = tqdm(total=steps, desc=f"{run.run_id} epoch {epoch + 1}/{cfg.epochs}", leave=False,
               disable=not (run.main and cfg.progress))
    keys = (data_mod.step_seed(cfg.seed, epoch, step, rank) + 1 for step in range(steps))
    totals = train_steps(network, batches, keys, on_step=bar.update)
    bar.close()
    totals = accelerator.reduce(totals, "sum")
    if not torch.isfinite(totals[0]):
        raise TrainingDiverged(f"loss became {totals[0].item()} in epoch {epoch + 1}; lower the learning "
                               f"rate ({run.record['recipe']['effective_lr']}) or check the data")
    train_time = time.perf_counter() - t0
    t1 = time.perf_counter()
    metrics = evaluate(network, test_x, test_y, cfg.eval_batch_size)
    if val_y is not None:
        val = evaluate(network, val_x, val_y, cfg.eval_batch_size)
        metrics.update(val_top1=val["top1"], val_top5=val["top5"], val_loss=val["test_loss"])
    if network.ema is not None:  # the EMA weights, evaluated beside the raw ones
        ema = evaluate(network.ema_network(), test_x, test_y, cfg.eval_batch_size)
        metrics.update(ema_top1=ema["top1"], ema_top5=ema["top5"], ema_test_loss=ema["test_loss"])
    return {"epoch": epoch + 1, "train_loss": totals[0].item() / totals[2].item(),
            "train_acc": 100 * totals[1].item() / totals[2].item(), **metrics,
            "lr": network.optimizer.param_groups[0]["lr"], "epoch_seconds": train_time,
            "eval_seconds": time.perf_counter() - t1, "images_per_second": totals[2].item() / train_time}


def train_steps(network: Network, batches, keys, on_step: Callable = lambda: None) -> torch.Tensor:
    """One training step per key (a :func:`data.step_seed`; fewer if the batches run out); returns (loss sum, correct, images seen) as one float64 tensor on the
    device. Nothing in here waits for the device: no ``.item()``, no tensor made from host values (a blocking
    host-to-device copy), no branch on a device value, so the host queues steps ahead of the GPU. A diverged
    loss shows in the sum, which the caller reads once, after the epoch."""
    sums = None
    seen = 0
    for key, (xb, yb) in zip(keys, batches):  # keys first: no batch is prepared past the last key
        loss, logits = network.step(xb, yb, key=key)
        batch = torch.stack([loss.detach().double() * len(yb), (logits.detach().argmax(1) == yb).sum().double()])
        sums = batch if sums is None else sums + batch
        seen += len(yb)
        on_step()
    if sums is None:
        raise ValueError("an epoch without a single step")
    return torch.cat([sums, sums.new_full((1,), float(seen))])


def best_epoch(best: dict, row: dict) -> dict:
    """The best epoch so far. Chosen on the validation split when there is one; without one it is the peak of
    the test curve, which selects on the test set: the record says which (``selected_on``), and the book calls
    the latter "peak test top-1 (optimistic)". The headline number stays the final epoch's."""
    on = "validation" if "val_top1" in row else "test"
    score = row["val_top1"] if on == "validation" else row["top1"]
    if best.get("epoch") is not None and score <= best["score"]:
        return best
    return {"epoch": row["epoch"], "selected_on": on, "score": score, "top1": row["top1"], "top5": row["top5"],
            **({"val_top1": row["val_top1"]} if on == "validation" else {})}


def _end_of_epoch(run: RunState, network: Network, row: dict, best: dict, history: list) -> None:
    cfg = run.cfg
    if cfg.log_with:
        run.accelerator.log(row, step=row["epoch"])
    if run.main:
        records.append_jsonl(run.run_dir / records.METRICS, row)
        if checkpoint_due(row["epoch"], cfg):
            save_checkpoint(run.run_dir, network, cfg, row["epoch"], best, history)
        if cfg.progress:
            print(f"{run.run_id} epoch {row['epoch']}/{cfg.epochs}: loss {row['train_loss']:.3f} "
                  f"top1 {row['top1']:.2f} top5 {row['top5']:.2f} ({row['images_per_second']:.0f} img/s)", flush=True)
    run.accelerator.wait_for_everyone()


def checkpoint_due(epoch: int, cfg: TrainConfig) -> bool:
    """Whether the checkpoint is written after ``epoch`` (1-based): every ``checkpoint_every`` epochs and after
    the last. A short epoch would otherwise spend much of itself writing; a resume from an older checkpoint
    redoes the epochs after it, exactly (everything is re-derived from the seed and the epoch)."""
    return epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs


def _finish(run: RunState, history: list, best: dict, fresh: list, ema: bool = False) -> dict:
    """The complete record; speeds are averaged over the epochs this attempt ran (not the resumed ones)."""
    if ema:
        last = history[-1]
        run.record["ema"] = {"decay": run.plan.recipe.ema_decay,
                             "final": {k: last[f"ema_{k}"] for k in ("top1", "top5", "test_loss")}}
    return run.close(
        records.finish, epochs_done=len(history), final={k: history[-1][k] for k in ("top1", "top5", "test_loss", "evaluated")},
        best=best, train_seconds=sum(r["epoch_seconds"] for r in history),
        eval_seconds=sum(r["eval_seconds"] for r in history),
        images_per_second=sum(r["images_per_second"] for r in fresh) / max(1, len(fresh)),
        eval_images_per_second=sum(r["evaluated"] / r["eval_seconds"] for r in fresh) / max(1, len(fresh)))


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
    try:
        plan = resolve({**ckpt["config"], "data_root": data_root or ckpt["config"].get("data_root")})
    except ConfigError as e:
        raise CheckpointError(f"{checkpoint} carries a run config that is not valid: {e}") from None
    cfg = plan.config
    accelerator = make_accelerator(cfg.precision)
    dataset = data_mod.load_dataset(cfg.dataset, cfg.data_root, cfg.download, cfg.train_subset, cfg.test_subset)
    model = new_model(plan, dataset.num_classes, weights=False)  # the weights are the checkpoint's
    load_weights(model, ckpt["model"], checkpoint, cfg.model)
    network = build_network(plan, accelerator, model)
    device = accelerator.device
    t0 = time.perf_counter()
    metrics = evaluate(network, dataset.test_x.to(device), dataset.test_y.to(device), batch_size)
    result = {"checkpoint": str(checkpoint), "epoch": ckpt["epoch"], "model": cfg.model, "options": cfg.options,
              "dataset": dataset.describe(), **metrics, "eval_seconds": time.perf_counter() - t0,
              "params": count_params(accelerator.unwrap_model(network.model)), "evaluated_at": records.now(),
              "hardware": {"device": records.device_name(device), "precision": accelerator.mixed_precision},
              "versions": records.versions(), "git_commit": records.git_commit()}
    records.atomic_write_json(out, result)
    return result
