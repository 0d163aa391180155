"""One attempt at a run, as its record tells it: the record started from the plan, written when the attempt is
under way and closed as complete, failed or skipped (see :class:`records.RunRecord`). The trainer runs an attempt;
a campaign asks here, without the trainer, whether a run is already complete or must be skipped."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

from . import locks, records
from .checkpoint import CheckpointWriter, overlaps_training, resumes_from_checkpoint
from .config import ConfigError, RunPlan, field_changes, fingerprint
from .learner import build_model
from .models import PretrainedWeightsUnavailable, missing_weights, weights_file
from .models.timm_backed import load_without_memory


class RunState:
    """One attempt at a run: its folder, accelerator, record and wall clock; ``close`` writes how it ended."""

    def __init__(self, plan: RunPlan, accelerator):
        cfg = plan.config
        self.plan, self.cfg, self.accelerator = plan, cfg, accelerator
        self.main = accelerator.is_main_process
        self.run_dir = Path(cfg.run_dir)
        self.run_id = cfg.run_id or self.run_dir.name
        self.wall = records.Timer()
        self.record = start_record(plan)
        self.checkpoints = CheckpointWriter(background=overlaps_training(accelerator.device))
        self.closed = False  # the record says how the attempt ended

    def save(self) -> None:
        if self.main:
            records.save(self.run_dir, self.record)

    def close(self, transition, *reason, **fields) -> dict:
        """End the attempt through ``records.finish`` / ``fail`` / ``skip`` and write the record, once the last
        checkpoint is on disk (a failed write fails a run that would have finished)."""
        self.checkpoints.wait(raise_error=transition is not records.fail)
        self.record = transition(self.record, *reason, wall_seconds=self.wall(), **fields)
        self.save()
        self.closed = True
        if transition is not records.fail:  # a failed process's peers may be in another collective (a barrier
            self.accelerator.wait_for_everyone()  # here would hang them both) or gone: it ends without them
        return self.record

    def interrupt(self, epochs_done: int) -> None:
        """Record the attempt as stopped by hand, with the epoch its next run resumes from (the last checkpoint
        on disk). No collective call: in a multi-process run the other processes may have stopped already."""
        self.checkpoints.wait(raise_error=False)
        again = records.then_again(self.checkpoints.on_disk(), self.cfg.epochs)
        reason = f"stopped by hand {where_stopped(epochs_done, self.cfg.epochs)}; running it again {again}"
        self.record = records.interrupt(self.record, reason, wall_seconds=self.wall(), epochs_done=epochs_done)
        self.save()
        self.closed = True
        if self.main:
            print(f"{self.run_id}: {reason}", flush=True)


def as_recorded(value):
    """``value`` as a record keeps it (JSON: tuples become lists, other objects their text), to compare with one."""
    return json.loads(json.dumps(value, default=str))


def recipe_changes(previous: dict, recipe: dict) -> list[str]:
    """``field: old → now`` for each field of ``recipe`` (this attempt's record's) that the record of the attempt
    before it (``previous``) trained with otherwise: a recipe edited in the package between a stop and its resume.
    The checkpoint keeps no recipe, so the rest of the run would train under the new one (its optimizer keeping the
    old weight decay), recorded as if the whole run had. A field the old record lacks is taken as unchanged; the
    global batch follows the process count, refused on its own."""
    old = previous.get("recipe")
    if not isinstance(old, dict):
        return []
    now = {k: v for k, v in as_recorded(recipe).items() if k != "global_batch"}
    return field_changes({k: old.get(k, v) for k, v in now.items()}, now)


def hold_training_lock(run_dir: Path, held: contextlib.ExitStack) -> None:
    """The run folder's lock, held in ``held`` by the process that trains it: a second process training the same
    folder at once is refused before it writes anything, and a listing tells a run whose process was killed
    from one still training (:func:`locks.holder_gone`)."""
    try:
        held.enter_context(locks.lock(run_dir / locks.TRAINING_LOCK))
    except locks.Locked as e:
        raise ConfigError(f"{run_dir} is being trained by another process ({e.holder}); wait for it to end, "
                          f"or give this run another run_dir") from None
    except OSError:  # a file system without flock: trained unguarded, as before there was a lock
        pass


def refuse_campaign_folder(run_dir: str | Path) -> None:
    """A ConfigError when ``run_dir`` is a campaign's own folder (it holds the campaign's manifest): a run trained
    there would be listed as a run of no campaign and write its files beside the manifest and the campaign's
    locks. The campaign's run folders, under it, are where its notebooks train."""
    manifest = Path(run_dir) / records.MANIFEST
    if not manifest.is_file():
        return
    try:
        source = records.read_json(manifest).get("source")
    except (OSError, records.RecordError):
        source = None
    rerun = f"python -m cifar100lab campaign {source}" if isinstance(source, str) and source else "its campaign"
    name = Path(run_dir).resolve().name
    raise ConfigError(f"run_dir {run_dir} is the folder of campaign {name} (it holds {records.MANIFEST}), not a "
                      f"run folder; give the run a folder of its own outside the campaign's (e.g. run_dir="
                      f"{Path(run_dir).parent / (name + '-extra')}), or train the campaign's runs with {rerun}")


def drop_unused_folder(run_dir: Path) -> None:
    """Remove a run folder this attempt made and left holding nothing but its training lock (the attempt was
    refused before it wrote anything): bad input leaves no trace."""
    try:
        if {p.name for p in run_dir.iterdir()} <= {locks.TRAINING_LOCK}:
            (run_dir / locks.TRAINING_LOCK).unlink(missing_ok=True)
            run_dir.rmdir()
    except OSError:
        pass  # something else is there after all, or the folder went: either way nothing of ours to remove


def where_stopped(epochs_done: int, epochs: int) -> str:
    """Where in a run a stop landed, as its reason says it: "in epoch 3 of 10", or after the last epoch."""
    return f"in epoch {epochs_done + 1} of {epochs}" if epochs_done < epochs else \
        "after its last epoch, before its record was written"


def start_record(plan: RunPlan) -> dict:
    """A new attempt's record: what the plan says about the run, before any work."""
    cfg, entry = plan.config, plan.model
    return records.start(
        cfg.run_dir, run_id=cfg.run_id or Path(cfg.run_dir).name, campaign=cfg.campaign, model=cfg.model,
        family=entry.family, group=entry.group, source=entry.source, options=cfg.options,
        resolved_options={**entry.options, **cfg.options}, pretrained=plan.pretrained, seed=cfg.seed,
        config=cfg.to_dict(), recipe=None, input_size=plan.input_size, normalization=plan.normalization,
        dataset={"name": plan.dataset.name, "kind": plan.dataset.kind, "label": plan.dataset.label["en"]},
        git_commit=records.git_commit(), versions=records.versions())


def weights_unavailable(plan: RunPlan) -> str | None:
    """Why the plan's fine-tune cannot have its pretrained weights (offline, not cached), or None; None too for a
    run that resumes, whose checkpoint holds every weight."""
    return None if resumes_from_checkpoint(plan) else missing_weights(plan.model.pretrained_source, plan.pretrained)


def skip_without_weights(plan: RunPlan) -> dict | None:
    """The skipped record of a fine-tune whose weights cannot be had, written; None when it can run. A campaign
    asks this before it starts a notebook kernel, so finding out costs no kernel start."""
    wall = records.Timer()
    reason = weights_unavailable(plan)
    if reason is None:
        return None
    record = records.skip(start_record(plan), reason, wall_seconds=wall())
    records.save(plan.config.run_dir, record)
    return record


_WEIGHTS_CHECKED: set = set()  # (network, weights file as it was) found to load, once per process


def check_pretrained_weights(plan: RunPlan) -> None:
    """A ConfigError, before any work, when the plan's local weights are there but cannot be loaded into its network
    (a truncated or damaged file, another architecture's tensors, a file of no tensors): the run would read its data
    and fail on them, and a campaign would train its other runs first. The trainer asks, and a campaign for every run
    when it is loaded; each network and version of a file (size, modification time) is checked once per process, from
    the file's header or a memory map (models.timm_backed.load_without_memory). Weights that are not there are left
    to the run, skipped for want of them (:func:`skip_without_weights`); hub weights are timm's own for the network;
    a run that resumes reads none: its checkpoint holds every weight."""
    if plan.pretrained in (None, "hub") or resumes_from_checkpoint(plan):
        return
    try:
        path = weights_file(plan.model.pretrained_source, plan.pretrained)
    except PretrainedWeightsUnavailable:
        return
    except ValueError as e:  # a folder of several weights files: which one is the user's to say
        raise ConfigError(f"pretrained {plan.pretrained}: {e}") from None
    cfg, stat = plan.config, path.stat()
    key = (cfg.model, repr(sorted(cfg.options.items())), plan.input_size, str(path.resolve()), stat.st_size,
           stat.st_mtime_ns)
    if key in _WEIGHTS_CHECKED:
        return
    try:
        load_without_memory(lambda: build_model(plan, plan.dataset.num_classes))  # as the trainer builds it
    except ValueError as e:
        raise ConfigError(f"pretrained {plan.pretrained}: {e}") from None
    _WEIGHTS_CHECKED.add(key)


def previous_result(plan: RunPlan, processes: int) -> dict | None:
    """The record of this very run when it is already complete on as many ``processes`` as this launch has;
    refuses a campaign's own folder, a folder that ``resume=False`` may not touch, and a complete run that is not
    this launch's result."""
    cfg, run_dir = plan.config, Path(plan.config.run_dir)
    refuse_campaign_folder(run_dir)
    if not cfg.resume and ((run_dir / records.RECORD).exists() or (run_dir / records.CHECKPOINT).exists()):
        raise ConfigError(f"{run_dir} already holds a run; pass resume=True to continue it or choose another run_dir")
    previous = records.load(run_dir)
    if not previous or previous.get("status") != "complete":
        return None
    # Checked here, not by the checkpoint's check alone: a complete run's folder may hold no checkpoint (removed to
    # save space), and the run was trained over, its record and curve replaced by the other settings'.
    if changed := field_changes(fingerprint(previous.get("config") or {}), fingerprint(cfg.to_dict())):
        raise ConfigError(f"{run_dir} holds a complete run of a different configuration (differs in: "
                          f"{'; '.join(changed)}); nothing is trained over it: train these settings in a new "
                          f"run_dir (or run_id), or move that folder aside")
    # The process count is no config field, yet it changes the result: batch_size is each process's, so the
    # global batch, the steps per epoch, each step's samples and (lr_scaling) the learning rate follow it.
    trained_on = (previous.get("hardware") or {}).get("count")
    if trained_on and trained_on != processes:
        raise ConfigError(f"{run_dir} is complete on {trained_on} process(es) and this launch has {processes}; "
                          f"the global batch, the learning rate and the sample order follow the count, so its "
                          f"result is not this launch's: launch it on {trained_on} to read it, or train "
                          f"on {processes} in a new run_dir (or run_id)")
    measured = previous.get("dataset") or {}
    from .data.imagefolder import folder_now
    if now := folder_now(measured):  # an image folder whose images have changed since
        raise ConfigError(f"{run_dir} is complete on the images {measured['folder']} held then "
                          f"({measured['checksum']}); they have changed since ({now}), so its result is not "
                          f"theirs: train them in a new run_dir (or run_id), or restore the images")
    from .distill import teacher_changed  # the teacher's weights are part of the result, as the images are
    if changed := teacher_changed(previous, plan):
        raise ConfigError(f"{run_dir} is complete, distilled from {plan.recipe.distill_from} when its weights' "
                          f"sha256 was {changed[0][:12]}…, now {changed[1][:12]}…, so its result is not this "
                          f"teacher's: train in a new run_dir (or run_id), or restore the teacher's weights")
    return previous
