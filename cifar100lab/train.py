"""The one training function: CPU, one GPU, N GPUs (DDP) and several nodes, through Accelerate.

``train(plan)`` runs on every process (the launcher starts them); it writes, under ``run_dir``:
``config.json``, ``metrics.jsonl`` (one row per epoch), ``checkpoint.pt`` (see :mod:`.checkpoint`) and
``record.json`` (``running`` once the attempt is under way, then ``complete``, ``failed`` or ``skipped``:
see :mod:`.attempt`). Every write is atomic and durable (:func:`records.atomic_write`).
Resuming restarts at the epoch after the last checkpoint and reproduces the uninterrupted run exactly:
the sample order, augmentation draws and global RNG are re-derived from ``(seed, epoch)`` (:mod:`.seeds`).

``train`` reads as Accelerate's example training function does: seed, accelerator, data, model, optimizer
and schedule (:func:`.learner.build_learner`), the loop, evaluation, checkpoint. ``build_learner`` +
``Learner.step`` (:mod:`.learner`) are the one build-and-step that :mod:`.evaluation` and the benchmark use too.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from . import distill, records
from .accelerator import build_accelerator, log_epoch, set_kernel_policy, start_trackers
from .attempt import (
    RunState,
    check_pretrained_weights,
    drop_unused_folder,
    hold_training_lock,
    previous_result,
    recipe_changes,
    weights_unavailable,
)
from .checkpoint import checkpoint_due, load_checkpoint, resumes_from_checkpoint, write_metrics
from .config import ConfigError, RunPlan, TrainConfig, eval_batch, resolve
from .config_files import refuse_file_as_folder
from .data import DataError, Dataset, full_batches, load_dataset, policy_augmentation, train_batches
from .learner import (
    Learner,
    build_learner,
    build_model,
    pretrained_weights,
    resumed_as_trained,
)
from .models import PretrainedWeightsUnavailable, count_flops, count_params
from .progress import Progress, not_cifar_notice
from .seeds import dropout_seed, mix_seed, seed_everything
from .step_graph import device_conflict
from .trial import trial_report

__all__ = ["Learner", "TrainingDiverged", "build_learner", "evaluate", "build_model", "train"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@torch.inference_mode()
def evaluate(learner: Learner, x, y, batch_size: int) -> dict:
    """Top-1/top-5 over the whole test set; under DDP each process takes every world_size-th sample,
    so every sample is counted exactly once (no padding duplicates)."""
    accelerator = learner.accelerator
    rank, world = accelerator.process_index, accelerator.num_processes
    idx = torch.arange(rank, len(y), world, device=y.device)
    totals = torch.zeros(4, dtype=torch.float64, device=accelerator.device)  # n, top1, top5, loss
    was_training = learner.model.training
    learner.model.eval()
    for start in range(0, len(idx), batch_size):
        b = idx[start:start + batch_size]
        logits, target = learner.logits(x[b]), y[b]
        hit = logits.topk(min(5, logits.shape[1]), dim=1).indices == target[:, None]
        # scalar adds on the device: a tensor made from the count would be a blocking host-to-device copy
        totals[0] += len(b)
        totals[1:] += torch.stack([hit[:, 0].sum().double(), hit.any(1).sum().double(),
                                   F.cross_entropy(logits, target, reduction="sum").double()])
    if was_training:
        learner.train_mode()
    totals = accelerator.reduce(totals, reduction="sum")
    n = totals[0].item()
    return {"top1": 100 * totals[1].item() / n, "top5": 100 * totals[2].item() / n,
            "test_loss": totals[3].item() / n, "evaluated": int(n)}


# ------------------------------------------------------------------ the run

def steps_per_epoch(plan: RunPlan, n_train: int, world: int) -> int:
    """Full global batches per epoch (capped by ``max_steps_per_epoch``); a ConfigError when there is none."""
    cfg = plan.config
    steps = full_batches(n_train, cfg.batch_size, world)
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    if steps == 0:
        raise ConfigError(f"{n_train} training images are fewer than one global batch "
                          f"({cfg.batch_size} × {world} processes)")
    return steps


def preflight(plan: RunPlan, processes: int | None = None) -> dict | None:
    """The checks that need no accelerator, before any work: a ConfigError for a setting that cannot run (a run_dir
    that is a file, a teacher that is not there), or this run's record when it is already complete on as many
    ``processes`` (None: the launched processes' count). A multi-process launch makes them before it starts any
    process (:func:`launch.run`), so its error is one line there and a complete run starts none."""
    cfg = plan.config
    refuse_file_as_folder(cfg.run_dir, "run_dir")
    if done := _already_complete(plan, processes or int(os.environ.get("WORLD_SIZE", 1))):
        return done
    check_pretrained_weights(plan)  # local weights there that do not load: one line, before the data is read
    distill.check_teacher(plan)
    return None


def _already_complete(plan: RunPlan, processes: int) -> dict | None:
    """The run's record when it is complete on as many ``processes`` (nothing is trained over it), said once."""
    if done := previous_result(plan, processes):
        if int(os.environ.get("RANK", 0)) == 0:  # the launched processes' first (no accelerator yet to ask)
            print(f"{done['run_id']}: already complete, nothing trained ({plan.config.run_dir})")
    return done


def train(config: RunPlan | TrainConfig | dict) -> dict:
    """Train one run (on every process) and return its run record."""
    plan = resolve(config)
    cfg = plan.config
    if done := preflight(plan):
        return done
    kernels = set_kernel_policy(cfg.deterministic)  # before the first CUDA call (cuBLAS reads its env then)
    accelerator = build_accelerator(cfg.precision, log_with=cfg.log_with, project_dir=cfg.run_dir)
    if cfg.cuda_graph and (why := device_conflict(accelerator)):  # refused before anything is written
        raise ConfigError(why)
    main, run_dir = accelerator.is_main_process, Path(cfg.run_dir)
    created = main and not run_dir.exists()
    try:
        with contextlib.ExitStack() as held:  # released however the attempt ends, also in a kernel that lives on
            if main:
                run_dir.mkdir(parents=True, exist_ok=True)
                hold_training_lock(run_dir, held)
            accelerator.wait_for_everyone()  # the other processes read the folder once it is this launch's
            # Read under the lock: another process may have completed or checkpointed the run since preflight.
            if done := _already_complete(plan, accelerator.num_processes):
                return done
            # the checkpoint a resume continues from, read once (a ConvNeXt's is 110 MB) and refused here if another
            # configuration wrote it; the plan normalises as the run trained (its weights folder's statistics may
            # have changed or gone since it began)
            ckpt = load_checkpoint(cfg.run_dir, cfg.to_dict()) if cfg.resume else None
            return _attempt(resumed_as_trained(plan, ckpt), accelerator, kernels, ckpt)
    except (ConfigError, DataError):  # the user's to fix (no data, too few images): no folder left behind
        if created:
            drop_unused_folder(run_dir)
        raise


def _attempt(plan: RunPlan, accelerator, kernels: dict, ckpt: dict | None) -> dict:
    """The attempt, its folder held: the record started, then :func:`_train` from ``ckpt``."""
    teacher_spec = distill.check_teacher(plan)  # checked by preflight (its reading is cached): here its spec
    run = RunState(plan, accelerator)
    run.record["kernels"] = kernels
    if teacher_spec:
        run.record["distillation"] = teacher_spec.describe()
    trial = trial_report(run)  # a tuning trial reports each epoch and may be pruned; None for other runs
    seed_everything(plan.config.seed)
    return _train(run, trial, teacher_spec, ckpt)


def _skipped(run: RunState, reason: str) -> dict:
    """The run closed as skipped, and said so where it was started (a notebook cell would otherwise print
    nothing, and papermill would report success)."""
    if run.main:
        print(f"{run.run_dir.name}: skipped, nothing trained: {reason}")
    return run.close(records.skip, reason)


def _train(run: RunState, trial, teacher_spec, ckpt: dict | None) -> dict:
    """Skipped offline, or the data read, the network built and trained from its last checkpoint (``ckpt``, as
    :func:`train` read it); the record says how it ended."""
    plan, cfg, accelerator = run.plan, run.cfg, run.accelerator
    # offline, a fine-tune is skipped here: before the data is read or a network built
    if reason := weights_unavailable(plan):
        return _skipped(run, reason)
    try:
        dataset = load_dataset(cfg.dataset, cfg.data_root, cfg.download, cfg.train_subset, cfg.test_subset,
                               val_fraction=cfg.val_fraction, image_size=plan.input_size)
        dataset = trial.held_out(dataset) if trial else dataset
        run.record["dataset"] = dataset.describe()
        model = build_model(plan, dataset.num_classes, weights=not resumes_from_checkpoint(plan))
        if run.main and (weights := pretrained_weights(plan)):  # which weights: a hub tag, or a file and its sha256
            run.record["pretrained_weights"] = weights
        teacher = teacher_spec and distill.build_teacher(teacher_spec, plan, accelerator.device, dataset.num_classes)
    except PretrainedWeightsUnavailable as e:
        return _skipped(run, f"pretrained weights unavailable: {e}")
    steps = steps_per_epoch(plan, len(dataset.train_y), accelerator.num_processes)
    _describe(run, model)
    policy = policy_augmentation(plan.recipe, plan.mean)
    start, history, best = (ckpt["epoch"], ckpt["history"], ckpt["best"]) if ckpt else (0, [], {"epoch": None})
    run.checkpoints.written = start
    run.progress = None
    _resume(run, ckpt)  # from here the record says running: however the attempt ends, the record says how
    try:
        _metrics_as_checkpointed(run, ckpt)
        learner = build_learner(plan, accelerator, model, steps, ckpt, dataset.num_classes, teacher)
        run.record["kernels"]["fp32_depthwise_convs"] = learner.fp32_depthwise_convs
        data = dataset.to(accelerator.device)
        # a campaign's notebooks run unwatched: no live curve to draw there
        # nothing left to train (stopped after its last epoch): no bar, whose line would read "epoch 3/2"
        run.progress = Progress(run.run_id, cfg.epochs, steps, start, run.main and cfg.progress and start < cfg.epochs,
                                curve=not cfg.campaign, notice=not_cifar_notice(dataset.kind, dataset.label))
        for epoch in range(start, cfg.epochs):
            row = _epoch(run, learner, data, policy, steps, epoch)
            history.append(row)
            best = best_epoch(best, row)
            _end_of_epoch(run, learner, row, best, history)
            if trial and (reason := trial.prune_reason(row)):
                return run.close(records.prune, reason, epochs_done=len(history), pruned_at_epoch=row["epoch"])
        run.checkpoints.wait()  # the last checkpoint is on disk before the record says complete
        run.progress.close()
        return _finish(run, history, best, fresh=history[start:], ema=learner.ema is not None)
    except KeyboardInterrupt:  # stopped by hand (Ctrl-C, a notebook's stop button): say so, keep the checkpoint
        if not run.closed:  # a stop that lands once the record says complete changes nothing
            run.interrupt(len(history))
        raise
    except TrainingDiverged as e:
        run.close(records.fail, str(e), epochs_done=len(history), history_tail=history[-1:])
        raise
    except Exception as e:
        if not run.closed:
            run.close(records.fail, f"{type(e).__name__}: {e}", epochs_done=len(history))
        raise
    finally:  # trackers flush and close however the run ended (end_training() would end the process group too)
        if run.progress is not None:
            run.progress.close(finished=False)  # a stopped or failed run's bar and curve stay, showing where it got
        for tracker in accelerator.trackers:
            tracker.finish()


def _describe(run: RunState, model: torch.nn.Module) -> None:
    """The record's network size, recipe and hardware; the trackers started with them."""
    accelerator, world = run.accelerator, run.accelerator.num_processes
    run.record.update(params=count_params(model), flops=count_flops(model, run.plan.input_size))
    run.record["recipe"] = run.plan.recipe_record(world)
    if run.cfg.log_with:
        start_trackers(run.accelerator, run.cfg, run.record["recipe"], run.run_id)
    run.record["hardware"] = {"device": records.device_name(accelerator.device), "count": world,
                              "nodes": int(os.environ.get("NUM_NODES", 1)), "precision": accelerator.mixed_precision,
                              "distributed": str(accelerator.distributed_type)}


def _resume(run: RunState, ckpt: dict | None) -> None:
    """The attempt under way from ``ckpt`` (None: from the start), checked against this launch before anything is
    written (a refused resume leaves config.json describing what is there); :func:`_metrics_as_checkpointed` then
    cuts the metrics to the epochs it knows about."""
    if ckpt:
        previous = records.load(run.run_dir) or {}
        _refuse_changed_data(run, previous)
        _refuse_changed_processes(run, ckpt, previous)
        _refuse_changed_precision(run, ckpt, previous)
        if changed := recipe_changes(previous, run.record["recipe"]):
            raise ConfigError(f"{run.run_dir}: this run's checkpoint was trained under another recipe than its settings "
                              f"give now, edited since (differs in: {'; '.join(changed)}); resume it with the package "
                              f"version that started it, or train in a new run_dir")
        run.record["resumed_from_epoch"] = ckpt["epoch"]
        if run.main:
            print(f"{run.run_id}: resumed from epoch {ckpt['epoch']} of {run.cfg.epochs}")
    if run.main:
        records.atomic_write_json(run.run_dir / records.CONFIG, run.cfg.to_dict())
        run.save()  # this attempt is under way: the record says so (and keeps the earlier attempts)


def _metrics_as_checkpointed(run: RunState, ckpt: dict | None) -> None:
    """The metrics cut to the epochs ``ckpt`` knows about (none without one), once the record says running: a
    failure or a stop here is the attempt's, which its record then says (it said running, for good)."""
    metrics = run.run_dir / records.METRICS
    if run.main:
        if not ckpt and metrics.exists():
            metrics.unlink()  # a leftover from a run that died before its first checkpoint
        elif ckpt:
            # exactly the rows the checkpoint knows about: a crash can land between append and checkpoint, and a
            # torn or lost line in the file is restored from the checkpoint's copy
            write_metrics(run.run_dir, ckpt["history"])


def _refuse_changed_data(run: RunState, previous: dict) -> None:
    """A checkpoint continues only on the data its epochs were trained on: an image folder changed since (an
    image added, edited or removed, which also moves the held-out test images) is refused before anything is
    written, since the run would mix two datasets under the new one's checksum."""
    before = (previous.get("dataset") or {}).get("checksum")
    now = run.record["dataset"].get("checksum")
    if before and now and before != now:
        raise DataError(f"{run.run_dir}: the {run.record['dataset']['name']} data changed since this run's "
                        f"checkpoint was trained on it ({before}, now {now}); restore the data, or train the new "
                        f"data in a new run_dir")


def _refuse_changed_processes(run: RunState, ckpt: dict, previous: dict) -> None:
    """A checkpoint continues only on as many processes as trained it: the count sets the global batch, the steps
    per epoch, each process's samples and (lr_scaling) the learning rate, which the restored schedule keeps."""
    before = ckpt.get("processes") or (previous.get("hardware") or {}).get("count")
    now = run.accelerator.num_processes
    if before and before != now:
        raise ConfigError(f"{run.run_dir}: this run's checkpoint was trained on {before} process(es) and this launch "
                          f"has {now}; the global batch, the learning rate and the sample order follow the count, so "
                          f"resume it on {before}, or train in a new run_dir")


def _refuse_changed_precision(run: RunState, ckpt: dict, previous: dict) -> None:
    """A checkpoint continues only in the precision that trained it: ``auto`` resolves by the machine (bf16 or
    fp16 on a GPU, bf16 or fp32 on a CPU), and a resume elsewhere would train the rest of the run in another."""
    before = ckpt.get("precision") or (previous.get("hardware") or {}).get("precision")
    now = run.accelerator.mixed_precision
    if before and before != now:
        named = {"no": "fp32"}  # Accelerate's word for no autocast
        raise ConfigError(f"{run.run_dir}: this run's checkpoint was trained in {named.get(before, before)} and this "
                          f"launch trains in {named.get(now, now)} (precision {run.cfg.precision} on "
                          f"{run.record['hardware']['device']}); resume it where it trained in "
                          f"{named.get(before, before)}, or train in a new run_dir")


def _epoch(run: RunState, learner: Learner, data: Dataset, policy, steps: int, epoch: int) -> dict:
    """Train one epoch, evaluate, and return its metrics row."""
    cfg, accelerator, rank = run.cfg, run.accelerator, run.accelerator.process_index
    torch.manual_seed(dropout_seed(cfg.seed, epoch, rank))
    learner.train_mode(epoch)
    t0 = time.perf_counter()
    batches = train_batches(data.train_x, data.train_y, cfg.batch_size, epoch, cfg.seed,
                            rank, accelerator.num_processes, cfg.augment, policy)
    run.progress.start_epoch(epoch)
    keys = (mix_seed(cfg.seed, epoch, step, rank) for step in range(steps))
    totals = train_steps(learner, batches, keys, on_step=run.progress.step)
    totals = accelerator.reduce(totals, "sum")
    if not torch.isfinite(totals[0]):
        raise TrainingDiverged(f"loss became {totals[0].item()} in epoch {epoch + 1}; lower the learning "
                               f"rate ({run.record['recipe']['effective_lr']}) or check the data")
    train_time = time.perf_counter() - t0
    t1 = time.perf_counter()
    metrics = _evaluations(learner, data, eval_batch(cfg.eval_batch_size, learner.accelerator.device.type))
    # the training loss is each step's before its update: weights that the epoch's last update made inf or NaN
    # show first here (in the last epoch, a run recorded complete with a top-1 from NaN logits)
    if not math.isfinite(metrics["test_loss"]):
        raise TrainingDiverged(f"the test loss became {metrics['test_loss']} after epoch {epoch + 1} (the weights "
                               f"are no longer finite); lower the learning rate "
                               f"({run.record['recipe']['effective_lr']}) or check the data")
    return {"epoch": epoch + 1, "train_loss": totals[0].item() / totals[2].item(),
            "train_acc": 100 * totals[1].item() / totals[2].item(), **metrics,
            # the peak (with layer_decay, the top layer's: group 0 is the stem's, scaled by layer_decay^(L-1))
            "lr": max(float(g["lr"]) for g in learner.optimizer.param_groups), "epoch_seconds": train_time,
            "eval_seconds": time.perf_counter() - t1, "images_per_second": totals[2].item() / train_time}


def _evaluations(learner: Learner, data: Dataset, batch_size: int) -> dict:
    """The epoch's test metrics, with the validation split's and the EMA weights' beside them when there are."""
    # every process evaluates with the statistics the checkpoint keeps (Learner.logits bypasses DDP, which did this)
    _main_process_buffers(learner.accelerator, learner.network)
    metrics = evaluate(learner, data.test_x, data.test_y, batch_size)
    if data.val_y is not None:
        val = evaluate(learner, data.val_x, data.val_y, batch_size)
        metrics.update(val_top1=val["top1"], val_top5=val["top5"], val_loss=val["test_loss"])
    if learner.ema is not None:
        _main_process_buffers(learner.accelerator, learner.ema.module)
        ema = evaluate(learner.ema_learner(), data.test_x, data.test_y, batch_size)
        metrics.update(ema_top1=ema["top1"], ema_top5=ema["top5"], ema_test_loss=ema["test_loss"])
    return metrics


def images_evaluated(test_size: int, val_size: int, ema: bool) -> int:
    """The images :func:`_evaluations` takes each epoch: the test set, the validation split, and the test set
    again for the EMA weights (what the record's eval rate and the campaign-time prediction count)."""
    return test_size * (2 if ema else 1) + val_size


def _main_process_buffers(accelerator, module: torch.nn.Module) -> None:
    """``module``'s buffers (BatchNorm statistics) made the main process's on every process. Each process's EMA
    averages its own network's statistics, which DDP overwrites with the main process's only before each forward:
    evaluated as they were, each process's share of the test set met other statistics than the checkpoint keeps
    (the main process's), and a resume, which gives every process those, drew other EMA numbers."""
    if accelerator.num_processes > 1:
        for buffer in module.buffers():
            torch.distributed.broadcast(buffer, src=0)


def train_steps(learner: Learner, batches, keys, on_step: Callable = lambda: None) -> torch.Tensor:
    """One training step per key (a :func:`seeds.mix_seed`; fewer if the batches run out); returns (loss sum,
    correct, images seen) as one float64 tensor on the device. Nothing in here waits for the device: no
    ``.item()``, no tensor made from host values (a blocking host-to-device copy), no branch on a device value,
    so the host queues steps ahead of the GPU. A diverged loss shows in the sum, which the caller reads once,
    after the epoch."""
    sums = torch.zeros(2, dtype=torch.float64, device=learner.accelerator.device)
    seen = 0
    for key, (xb, yb) in zip(keys, batches):  # keys first: no batch is prepared past the last key
        sums += learner.step(xb, yb, key=key)[2]  # one launch a step; 0 + the first batch's totals is exact
        seen += len(yb)
        on_step()
    if not seen:
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


def _end_of_epoch(run: RunState, learner: Learner, row: dict, best: dict, history: list) -> None:
    cfg = run.cfg
    if cfg.log_with:
        log_epoch(run.accelerator, row)
    if run.main:
        records.append_jsonl(run.run_dir / records.METRICS, row)
        if checkpoint_due(row["epoch"], cfg):
            run.checkpoints.save(run.run_dir, {**learner.state_dict(), "config": cfg.to_dict(),
                                               "epoch": row["epoch"], "best": best, "history": history,
                                               "processes": run.accelerator.num_processes,
                                               "precision": run.accelerator.mixed_precision,
                                               "normalization": run.plan.normalization})
        run.progress.end_epoch(row, history)
    run.accelerator.wait_for_everyone()


def _finish(run: RunState, history: list, best: dict, fresh: list, ema: bool = False) -> dict:
    """The complete record; speeds are averaged over the epochs this attempt ran (not the resumed ones), or, when
    it ran none (stopped after its last epoch, before its record was written), over the epochs that trained: an
    average over none read 0 images/s."""
    fresh = fresh or history
    measured = run.record["dataset"]
    evaluated = images_evaluated(measured["test_size"], measured.get("val_size", 0), ema)  # eval_seconds times all
    if ema:
        last = history[-1]
        run.record["ema"] = {"decay": run.plan.recipe.ema_decay,
                             "final": {k: last[f"ema_{k}"] for k in ("top1", "top5", "test_loss")}}
    return run.close(
        records.finish, epochs_done=len(history), final={k: history[-1][k] for k in ("top1", "top5", "test_loss", "evaluated")},
        best=best, train_seconds=sum(r["epoch_seconds"] for r in history),
        eval_seconds=sum(r["eval_seconds"] for r in history),
        images_per_second=sum(r["images_per_second"] for r in fresh) / max(1, len(fresh)),
        eval_images_per_second=sum(evaluated / r["eval_seconds"] for r in fresh) / max(1, len(fresh)))
