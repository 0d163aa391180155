"""One run's life, shared by every executor: its notebook executed by papermill (``notebooks/train.ipynb`` with
the run's config as parameters, into ``book/runs/<run_id>.ipynb``), its status and attempts as its record says,
the outcome of an attempt written to the record whatever ended it, its lock, and whether its recorded config is
still what the campaign asks for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import locks, records
from .attempt import as_recorded, recipe_changes, skip_without_weights, where_stopped
from .checkpoint import CheckpointError, restore_metrics
from .config import RunPlan, TrainConfig, field_changes, fingerprint, resolved_fingerprint
from .kernels import KernelSlot

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"  # package data: found in a checkout and an install
TRAIN_SKIPPED = 3  # `train`'s exit status when its run is skipped (as a campaign's 3: none failed, not all done)


@dataclass
class Run:
    run_id: str
    plan: RunPlan
    notebook: Path  # the executed notebook, the run's page in the book
    processes: int | None = None  # what the executor launches it on, once it knows (None: not compared)

    @property
    def config(self) -> TrainConfig:
        return self.plan.config

    @property
    def run_dir(self) -> Path:
        return Path(self.config.run_dir)


def status_of(run: Run) -> str | None:
    """The run's recorded status (None: no record); a damaged record is a :class:`records.RecordError`."""
    record = records.load(run.run_dir)
    return record.get("status") if record else None


def attempts_so_far(run: Run) -> int:
    return len(records.attempts_of(records.load(run.run_dir)))


def stale_fields(run: Run) -> list[str]:
    """How a complete run's recorded config differs from what the campaign asks for now, one
    ``field: recorded → asked`` per field that changes the result (none: up to date or not complete).
    Resolved plans are compared, not spellings, so ``lr: 0.1`` on a recipe whose lr is 0.1 changes nothing;
    a field added after the run was recorded had its default then. The process count is compared once the executor
    has set ``run.processes``."""
    record = records.load(run.run_dir)
    if not record or record.get("status") != "complete":
        return []
    recorded = record.get("config") or {}
    new, old = as_recorded(resolved_fingerprint(run.plan)), as_recorded(resolved_fingerprint(recorded))
    old.update(recipe_used(record, new["overrides"]) if isinstance(new.get("overrides"), dict) else {})
    spelled_old, spelled_new = {**TrainConfig().to_dict(), **recorded}, run.config.to_dict()

    def shown(k):  # as the YAML spells it where the spellings differ; else as resolved
        if k in spelled_new and spelled_old.get(k) != spelled_new[k]:
            return [f"{k}: {spelled_old.get(k)!r} → {spelled_new[k]!r}"]
        if k == "overrides" and isinstance(old.get(k), dict):  # the recipe edited since: the fields it changed
            return [f"{k}.{change}" for change in field_changes(old[k], new[k])]
        return [f"{k}: {old.get(k)!r} → {new.get(k)!r}"]
    changed = [line for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k) for line in shown(k)]
    # no config field, yet the count sets the global batch and lr: the trainer refuses such a record as not its result
    trained_on = (record.get("hardware") or {}).get("count")
    if run.processes and trained_on and trained_on != run.processes:
        changed.append(f"processes: {trained_on} → {run.processes}")
    from .data.imagefolder import folder_now
    if now := folder_now(record.get("dataset") or {}):  # the same settings, other images: not the folder's result
        changed.append(f"images: {record['dataset']['checksum']} → {now}")
    from .distill import teacher_changed
    if teacher := teacher_changed(record, run.plan):  # the same teacher folder, retrained since
        changed.append(f"teacher weights: {teacher[0][:12]} → {teacher[1][:12]}")
    return changed


def skipped_under_other_settings(run: Run) -> bool:
    """Whether ``run`` was skipped under other settings than the campaign asks now (a fine-tune skipped for want
    of its weights, since asked to train from scratch): nothing of it is kept, so it is tried again, not done."""
    record = records.load(run.run_dir)
    if not record or record.get("status") != "skipped":
        return False
    return resolved_fingerprint(record.get("config") or {}) != resolved_fingerprint(run.plan)


def recipe_used(record: dict, asked: dict) -> dict:
    """The recipe fields of ``asked`` (the resolved recipe, as JSON keeps it) as the record says the run trained
    with them, and the recipe's name ({} for a record without its recipe). Resolved again, the recorded config
    takes the recipe as the code says it now: a recipe edited since (its lr, say) made the old result look up to
    date. A field the record lacks had its default then."""
    used = record.get("recipe")
    if not isinstance(used, dict):
        return {}
    return {"recipe": used.get("name"), "overrides": {k: used.get(k, v) for k, v in asked.items()}}


def plan_changes(old: RunPlan, new: RunPlan) -> list[str]:
    """``field: old → new`` for each setting two plans of one run id differ in, as resolved (the spelling of an
    equal value is no difference); ``run_dir`` and ``run_id`` are the id's own."""
    def settings(plan):
        return {**plan.config.to_dict(), **resolved_fingerprint(plan)}
    return field_changes(settings(old), settings(new), expand=("overrides", "options"))


def unresumable_fields(run: Run) -> list[str]:
    """How the settings that an unfinished run's checkpoint was trained with (its folder's ``config.json``) differ
    from what the campaign asks now, compared as the trainer compares them before it resumes, so a run it would
    refuse in its notebook is named before a kernel starts (none: it resumes, or has no checkpoint)."""
    record = records.load(run.run_dir)
    if not record or record.get("status") == "complete" or not (run.run_dir / records.CHECKPOINT).is_file():
        return []
    try:
        saved = records.read_json(run.run_dir / records.CONFIG)
    except (OSError, records.RecordError):
        return []
    trained_on = (record.get("hardware") or {}).get("count") or 1  # the lr as scaled then (a count change is its own)
    return (field_changes(fingerprint(saved), fingerprint(run.config.to_dict()))
            or [f"recipe {change}" for change in recipe_changes(record, run.plan.recipe_record(trained_on))])


def unresumable_note(run_id: str, changed: list[str], afresh: str = "--force moves its folder aside and starts it "
                                                                    "afresh") -> str:
    return (f"{run_id}: not resumed: its checkpoint was trained with other settings than the campaign now asks "
            f"({'; '.join(changed)}); put them back to resume it, or {afresh}")


def stale_runs(runs: list[Run]) -> dict[str, dict]:
    """The manifest's word on each stale run (run id -> its :func:`stale_fields` and the record's ``started`` and
    ``finished``, so that the report leaves out that record, and only that one: a forced re-run's is new). A
    damaged record is no stale run (the campaign reports it as damaged)."""
    out = {}
    for run in runs:
        try:
            changed = stale_fields(run)
        except records.RecordError:
            continue
        if changed:
            record = records.load(run.run_dir)
            out[run.run_id] = {"fields": changed, "started": record.get("started"), "finished": record.get("finished")}
    return out


def stale_groups(stale: dict[str, list[str]]) -> dict[str, list[str]]:
    """Stale runs (run id -> its :func:`stale_fields`) by what changed ("field: recorded → asked; …")."""
    groups: dict[str, list[str]] = {}
    for run_id, changed in stale.items():
        groups.setdefault("; ".join(changed), []).append(run_id)
    return groups


def stale_note(changed: str, run_ids: list[str]) -> str:
    """What a campaign says of runs kept stale: which, what changed, and how to go on. Where only the dataset
    changed (the stand-in's runs, then the real data), ``--dataset`` with the old one continues as recorded."""
    note = (f"{len(run_ids)} run(s) complete, but the campaign now asks {changed}: {', '.join(run_ids)}; --force "
            f"re-runs them (their folders are moved aside)")
    only_dataset = re.fullmatch(r"dataset: '([^']+)' → '[^']+'", changed)
    return note + (f", --dataset {only_dataset[1]} goes on with the runs as recorded" if only_dataset else "")


def run_lock(run: Run) -> Path:
    return run.run_dir.parent / locks.LOCKS / f"{run.run_id}.lock"


def describe(run: Run, force: bool = False, retry_skipped: bool = False) -> str:
    """A run's state for ``--dry-run``: new, its status, stale (with the fields), locked (by whom) or damaged
    (why), and what the same command without ``--dry-run`` does with it (``force``: re-runs whatever is there,
    ``retry_skipped``: tries a skipped run again). It reads and writes nothing else."""
    holder = locks.holder(run_lock(run))
    if holder:
        return f"locked (another campaign process is running it: {holder})"
    try:
        stale, status = stale_fields(run), status_of(run)
    except records.RecordError as e:
        return f"damaged ({e}; --force moves the run folder aside and re-runs it)"
    killed = status == "running" and locks.killed(run.run_dir)  # as the runs listing says of it
    shown = "interrupted" if killed else status
    if force and status:  # as the executor's _attempt does: every run folder moved aside, nothing resumed
        return f"{'stale' if stale else shown}, re-run from the start (--force; its folder is moved aside)"
    if stale:
        return f"stale (complete, but the campaign now asks {'; '.join(stale)}; --force re-runs it)"
    if changed := unresumable_fields(run):
        return f"{shown}, {unresumable_note(run.run_id, changed).split(': ', 1)[1]}"
    if status == "skipped" and skipped_under_other_settings(run):
        return "skipped under other settings than the campaign asks now, tried again"
    if status == "skipped" and retry_skipped:
        return "skipped, tried again (--retry-skipped)"
    return f"interrupted ({killed})" if killed else status or "new"


def execute_notebook(run: Run, notebook: Path, slot: KernelSlot, log_dir: Path, num_processes) -> tuple[int, str]:
    """The run's notebook, executed by papermill with the run's config as parameters; papermill's exit status
    and the tail of the error."""
    log_dir.mkdir(parents=True, exist_ok=True)
    keep_earlier_log(log_dir / f"{run.run_id}.log")
    params = {**run.config.to_dict(), "num_processes": num_processes}
    return slot.execute(notebook, run.notebook, params, log_dir / run.run_id)


def keep_earlier_log(log: Path) -> None:
    """An earlier attempt's log (a failure's traceback, the log of a folder ``--force`` moved aside) is kept as
    ``<run>.log.1``, ``.2``, … (oldest first) rather than overwritten by this attempt's: the record keeps only
    the error's last line."""
    if log.exists():
        kept = [int(n) for p in log.parent.iterdir() if (n := p.name.removeprefix(f"{log.name}.")).isdigit()]
        log.rename(log.with_name(f"{log.name}.{max(kept, default=0) + 1}"))


def record_outcome(run: Run, code: int, tail: str, attempts_before: int) -> str:
    """The run's status once its notebook (or launcher) ended with ``code``; every executor ends here, so a
    failure the trainer could not record is written the same way by each."""
    if code != 0:
        _mark_failure(run, attempts_before, code, tail)
    return status_of(run) or "failed"


def _mark_failure(run: Run, attempts_before: int, code: int, tail: str) -> None:
    """The notebook exited non-zero: the record must say so for this attempt. The trainer's own failure
    record stands; otherwise this attempt (begun by the trainer, or not even that) is marked failed."""
    if locks.holder(run.run_dir / locks.TRAINING_LOCK):  # refused: another process trains it and keeps its record
        return
    record = records.load(run.run_dir)
    ours = record is not None and len(records.attempts_of(record)) > attempts_before
    if ours and record["status"] in ("failed", "skipped"):
        return
    if not ours:  # it ended before the trainer began: a new attempt, without the old one's results
        record = records.start(run.run_dir, run_id=run.run_id, campaign=run.config.campaign, model=run.config.model,
                               options=run.config.options, seed=run.config.seed, config=run.config.to_dict())
    last = tail.strip().splitlines()[-1] if tail.strip() else f"exit code {code}"
    records.save(run.run_dir, records.fail(record, f"notebook failed: {last}"))


def record_stopped(run: Run, cause: str = "with its campaign", again: str = "running the campaign again") -> None:
    """``run``'s kernel is gone, stopped while it trained (its campaign stopped, or Slurm stopped its job): the
    record says the run was stopped, and where, as the trainer says of a stop by hand (it said running, for good)."""
    try:
        record = records.load(run.run_dir)
    except records.RecordError:  # a damaged record stays as it is: the next campaign reports it
        return
    if not record or record.get("status") != "running":
        return
    done = len(records.read_metrics(run.run_dir))
    reason = f"stopped {cause} {where_stopped(done, run.config.epochs)}; {again} {records.then_again_unread(run.run_dir)}"
    records.save(run.run_dir, records.interrupt(record, reason, epochs_done=done))


def skipped_offline(run: Run) -> bool:
    """A fine-tune whose weights cannot be had is recorded as skipped here, without a kernel start."""
    try:
        return skip_without_weights(run.plan) is not None
    except Exception:  # any other trouble with the weights: the notebook fails on it and records why
        return False


def restore_damaged_metrics(run: Run, log) -> None:
    """A complete run whose ``metrics.jsonl`` lost or tore a line gets it back from its checkpoint's history
    (the report refuses a curve with an epoch missing)."""
    record = records.load(run.run_dir)
    damage = record.get("status") == "complete" and records.metrics_damage(run.run_dir, record.get("epochs_done") or 0)
    if not damage or locks.holder(run_lock(run)):
        return
    try:
        restore_metrics(run.run_dir)
        log(f"{run.run_id}: {records.METRICS} was damaged; restored from its checkpoint")
    except CheckpointError as e:
        log(f"{run.run_id}: {damage.split(';')[0]}, and its checkpoint cannot restore it ({e}); --force re-runs it")
