"""Campaigns: a YAML file expands into runs; each run is ``notebooks/train.ipynb`` executed by papermill
into ``book/runs/<run_id>.ipynb``; finished runs are skipped, interrupted ones resume from their
checkpoint, failures are recorded and do not stop the others. Complete runs whose recorded config differs from
what the campaign asks now are reported as stale (re-run with ``force``). One campaign per runs folder: a
process holds OS locks on the campaign and on each run it runs; a second one skips what the first holds.

Campaign YAML keys: ``name``, ``description``, ``dataset``, ``num_processes``, ``seeds``, ``models``
(names or ``all``), ``defaults`` (TrainConfig fields for every run), ``studies`` (ablation YAML paths),
``study_seeds`` (seeds for study runs; default: the study's own ``seeds``), ``jobs`` (runs side by side:
a number or ``auto``, see :func:`resolve_jobs`), ``executor`` (``kind: slurm`` and its resources, see
:mod:`cifar100lab.slurm`).
Study YAML keys: ``study``, ``title`` / ``question`` (``en`` and ``zh``), ``seeds``, ``variants``
(each ``label``, unique, ``model``, optional ``options``, ``overrides`` (recipe fields, over the campaign
defaults' overrides) and ``label_zh``), ``compare_within`` (``model``: each variant against the first variant
of its model; default: every variant against the study's first).
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import records
from .config import (
    ConfigError,
    RunPlan,
    TrainConfig,
    check_name,
    read_yaml_mapping,
    refuse_unknown_keys,
    resolve,
    resolved_fingerprint,
)
from .devices import visible_gpus
from .launch import KernelSlot, in_jobs, job_envs, keep_kernels, notebook_jobs, resolve_jobs
from .models import get_spec, model_names
from .train import CheckpointError, restore_metrics, skip_without_weights

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"  # package data: found in a checkout and an install
CAMPAIGN_KEYS = ("name", "description", "dataset", "num_processes", "seeds", "models", "defaults", "studies",
                 "study_seeds", "jobs", "executor")
STUDY_KEYS = ("study", "title", "question", "seeds", "variants", "metric", "compare_within")
VARIANT_KEYS = ("label", "label_zh", "model", "options", "overrides")
COMPARE_WITHIN = ("model",)
DATASET_ENV = "CIFAR100LAB_DATASET"
# TrainConfig fields the campaign sets per run, so `defaults:` (or --set) may not hold them: where each belongs.
PER_RUN = {"model": "a model entry ('models:')", "options": "a model entry ('options:') or a study variant",
           "dataset": "the campaign's 'dataset:' key or --dataset", "seed": "the campaign's 'seeds:' key",
           "run_dir": "--runs-root (run folders are <runs-root>/<campaign>/<run>)",
           "run_id": "a model entry's 'name:'", "campaign": "the campaign's 'name:' key",
           "resume": "nowhere: a campaign resumes interrupted runs; --force re-runs complete ones"}
ENTRY_KEYS = ("model", "options", "name")  # a model entry's own keys; any other is a TrainConfig field


@dataclass
class Variant:
    label: str
    model: str
    options: dict
    label_zh: str | None = None
    overrides: dict = field(default_factory=dict)  # recipe fields, as written in the study


@dataclass
class Study:
    name: str
    title: dict
    question: dict
    seeds: list[int]
    variants: list[Variant]
    path: str
    compare_within: str | None = None  # None: the whole study against its first variant; "model": per model


@dataclass
class VariantRuns:
    """What one study variant became in a campaign: the recipe fields it changes over the campaign's recipe
    (checked values; those that change nothing dropped) and its run ids, one per seed."""
    overrides: dict
    run_ids: list[str]


@dataclass
class Run:
    run_id: str
    plan: RunPlan
    notebook: Path

    @property
    def config(self) -> TrainConfig:
        return self.plan.config

    @property
    def run_dir(self) -> Path:
        return Path(self.config.run_dir)


@dataclass
class Campaign:
    name: str
    description: str
    dataset: str
    num_processes: Any
    seeds: list[int]
    models: list[str]
    defaults: dict
    studies: list[Study]
    jobs: int | str = 1  # parallel runs, or "auto" (see resolve_jobs)
    path: str = ""
    executor: Any = None  # where runs execute: local (default) or Slurm (slurm.ExecutorSpec)
    runs: list[Run] = field(default_factory=list)
    variant_runs: dict[tuple[str, str], VariantRuns] = field(default_factory=dict)  # (study, label) -> runs


def _refuse_per_run_fields(fields: dict, where: str, allowed: tuple[str, ...] = ()) -> None:
    """Fields the campaign sets for each run would be overwritten without a word: refuse them, saying where
    each belongs."""
    bad = [k for k in fields if k in PER_RUN and k not in allowed]
    if bad:
        raise ConfigError(f"{where}: {', '.join(bad)} cannot be set there (the campaign sets it per run); "
                          + "; ".join(f"{k} belongs in {PER_RUN[k]}" for k in bad))


def _seeds(value, where: str) -> list[int]:
    seeds = list(range(value)) if isinstance(value, int) else list(value)
    if not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{where}: seeds must be a count or a list of integers, got {value!r}")
    return seeds


def _variant(path: Path, i: int, v) -> Variant:
    where = f"{path}: variant {i + 1}"
    if not isinstance(v, dict):
        raise ConfigError(f"{where} must be a mapping with 'label' and 'model', got {v!r}")
    refuse_unknown_keys(v, VARIANT_KEYS, where)
    if "label" not in v or "model" not in v:
        raise ConfigError(f"{where} needs 'label' and 'model'")
    for key in ("options", "overrides"):
        if not isinstance(v.get(key) or {}, dict):
            raise ConfigError(f"{where} ({v['label']}): {key} must be a mapping, got {v[key]!r}")
    return Variant(str(v["label"]), v["model"], dict(v.get("options") or {}), v.get("label_zh"),
                   dict(v.get("overrides") or {}))


def load_study(path: str | os.PathLike) -> Study:
    path = Path(path)
    d = read_yaml_mapping(path, STUDY_KEYS, "study")
    variants = [_variant(path, i, v) for i, v in enumerate(d.get("variants") or [])]
    if not variants:
        raise ConfigError(f"{path}: a study needs at least one variant")
    labels = [v.label for v in variants]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:  # the label is the variant's key in the manifest and the tables
        raise ConfigError(f"{path}: variant label(s) {', '.join(twice)} appear more than once; labels must be unique")
    within = d.get("compare_within")
    if within is not None and within not in COMPARE_WITHIN:
        raise ConfigError(f"{path}: compare_within must be {' or '.join(COMPARE_WITHIN)} (or omitted: every "
                          f"variant against the first), got {within!r}")
    name = check_name(d.get("study") or path.stem, f"{path}: study name")
    return Study(name, d.get("title") or {"en": name, "zh": name}, d.get("question") or {},
                 _seeds(d.get("seeds", 3), str(path)), variants, str(path), within)


def canonical_options(model: str, options: dict) -> dict:
    """Options in the model's canonical form with those equal to its defaults dropped, so equal networks get
    one run (a study variant that names the same network as another shares its runs)."""
    spec = get_spec(model)
    defaults = spec.options
    options = spec.canonical(options) if spec.canonical else options
    return {k: v for k, v in sorted(options.items()) if not (k in defaults and defaults[k] == v)}


def run_id_for(campaign: str, model: str, options: dict, seed: int, overrides: dict | None = None) -> str:
    """``<campaign>-<model>[-<option>-<value>…][-<recipe field>-<value>…]-s<seed>``, each part sorted."""
    items = list(options.items()) + list((overrides or {}).items())
    parts = [campaign, model] + [f"{k}-{_id_value(v)}" for k, v in items] + [f"s{seed}"]
    return "-".join(str(p).replace("/", "_").replace(" ", "_") for p in parts)


def _id_value(value) -> str:
    return "_".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def load_campaign(path: str | os.PathLike, dataset: str | None = None, runs_root: str | os.PathLike = "runs",
                  book_dir: str | os.PathLike = "book", set_values: dict | None = None) -> Campaign:
    """Read and fully validate a campaign (every run's config) before any work starts."""
    path = Path(path)
    d = read_yaml_mapping(path, CAMPAIGN_KEYS, "campaign")
    name = check_name(d.get("name") or path.stem, f"{path}: campaign name")
    models = d.get("models") or []
    if models == "all":
        models = model_names()
    defaults = d.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: defaults must be a mapping of TrainConfig fields, got {defaults!r}")
    _refuse_per_run_fields(defaults, f"{path}: defaults")
    _refuse_per_run_fields(set_values or {}, "--set")
    defaults = {**defaults, **(set_values or {})}
    dataset = dataset or os.environ.get(DATASET_ENV) or d.get("dataset") or "cifar100"
    # Study paths are relative to the campaign file's folder, so a campaign works from any working folder.
    studies = [load_study(path.parent / s) for s in d.get("studies") or []]
    camp = Campaign(name, d.get("description", ""), dataset, d.get("num_processes", "auto"),
                    _seeds(d.get("seeds", [0]), str(path)), list(models), defaults, studies,
                    d.get("jobs", 1), str(path))
    resolve_jobs(camp.jobs, str(path))
    from .slurm import ExecutorSpec  # here so a bad executor block fails before any work, like every key
    camp.executor = ExecutorSpec.from_dict(d.get("executor"), f"{path}: executor")
    study_seeds = d.get("study_seeds")
    # A model entry is a name or a mapping {model, options, name (run-id stem), any TrainConfig field}.
    entries = [_model_entry(path, e) for e in models]
    camp.models = [e.get("name") or e["model"] for e in entries]
    runs = _Expansion(path, name, dataset, defaults, Path(runs_root), Path(book_dir))
    for e in entries:
        extra = {k: v for k, v in e.items() if k not in ENTRY_KEYS}
        for s in camp.seeds:
            runs.add(e["model"], e.get("options") or {}, s, e.get("name"), extra)
    for st in studies:
        seeds = _seeds(study_seeds, str(path)) if study_seeds is not None else st.seeds
        for v in st.variants:
            camp.variant_runs[(st.name, v.label)] = runs.add_variant(st, v, seeds)
    camp.runs = list(runs.runs.values())
    if not camp.runs:
        raise ConfigError(f"{path} defines no runs; list 'models' (names or all) or 'studies'")
    return camp


def _model_entry(path: Path, entry) -> dict:
    """A model entry: a name, or a mapping of ``model``, ``options``, ``name`` (the run-id stem, a plain name)
    and TrainConfig fields that do not vary per run."""
    e = dict(entry) if isinstance(entry, dict) else {"model": entry}
    if "model" not in e:
        raise ConfigError(f"{path}: model entry {e} has no 'model'")
    _refuse_per_run_fields(e, f"{path}: model entry {e['model']}", allowed=ENTRY_KEYS)
    if "name" in e:
        check_name(e["name"], f"{path}: model entry {e['model']}: name")
    return e


@dataclass
class _Expansion:
    """Model entries and study variants -> runs, one per distinct network, recipe and seed, each resolved
    (so checked) once."""
    path: Path
    name: str
    dataset: str
    defaults: dict
    runs_root: Path
    book_dir: Path
    runs: dict[str, Run] = field(default_factory=dict)
    base_recipes: dict = field(default_factory=dict)  # model -> its recipe under the campaign's defaults

    def config(self, model: str, options: dict, seed: int, extra: dict) -> dict:
        overrides = {**self.defaults.get("overrides", {}), **extra.get("overrides", {})}
        return {**self.defaults, **extra, "overrides": overrides, "model": model, "options": options, "seed": seed,
                "dataset": self.dataset, "campaign": self.name, "resume": True}

    def add(self, model: str, options: dict, seed: int, stem: str | None = None, extra: dict | None = None,
            changed: dict | None = None) -> str:
        """The run id of this network, recipe change and seed; the run is made and resolved on first sight."""
        try:
            options = canonical_options(model, options)
        except KeyError as e:
            raise ConfigError(f"{self.path}: {e}") from None
        rid = check_name(run_id_for(self.name, stem or model, options, seed, changed), f"{self.path}: run id")
        if rid not in self.runs:
            cfg = {**self.config(model, options, seed, extra or {}),
                   "run_dir": str(self.runs_root / self.name / rid), "run_id": rid}
            try:
                plan = resolve(cfg)
            except ConfigError as e:
                raise ConfigError(f"{self.path}, run {rid}: {e}") from None
            self.runs[rid] = Run(rid, plan, self.book_dir / "runs" / f"{rid}.ipynb")
        return rid

    def add_variant(self, study: Study, v: Variant, seeds: list[int]) -> VariantRuns:
        changed = self.changed_fields(study, v)
        extra = {"overrides": v.overrides} if changed else {}  # no change: the plain network's runs
        return VariantRuns(changed, [self.add(v.model, v.options, s, extra=extra, changed=changed) for s in seeds])

    def changed_fields(self, study: Study, v: Variant) -> dict:
        """The variant's recipe fields that differ from the campaign's recipe for its model, as the run uses
        them (checked, e.g. 1 -> 1.0), so equal recipes share one run whatever the YAML spelled."""
        if not v.overrides:
            return {}
        try:
            options = canonical_options(v.model, v.options)
            recipe = resolve(self.config(v.model, options, 0, {"overrides": v.overrides})).recipe
            if v.model not in self.base_recipes:
                self.base_recipes[v.model] = resolve(self.config(v.model, options, 0, {})).recipe
        except (ConfigError, KeyError) as e:
            raise ConfigError(f"{study.path}: variant {v.label!r}: {e}") from None
        base = self.base_recipes[v.model]
        return {k: getattr(recipe, k) for k in sorted(v.overrides) if getattr(recipe, k) != getattr(base, k)}


def study_runs(campaign: Campaign, study: Study) -> dict[str, list[str]]:
    """Variant label -> run ids of that variant (one per seed) in this campaign."""
    return {v.label: campaign.variant_runs[(study.name, v.label)].run_ids for v in study.variants}


def write_manifest(campaign: Campaign, runs_root: str | os.PathLike) -> Path:
    path = Path(runs_root) / campaign.name / records.MANIFEST
    records.atomic_write_json(path, {
        "name": campaign.name, "description": campaign.description, "dataset": campaign.dataset,
        "source": campaign.path, "models": campaign.models, "seeds": campaign.seeds,
        "runs": [r.run_id for r in campaign.runs],
        "studies": [{"name": s.name, "title": s.title, "question": s.question, "path": s.path,
                     "compare_within": s.compare_within,
                     "variants": [{"label": v.label, "label_zh": v.label_zh or v.label, "model": v.model,
                                   "options": v.options,
                                   "overrides": campaign.variant_runs[(s.name, v.label)].overrides}
                                  for v in s.variants],
                     "runs": study_runs(campaign, s)} for s in campaign.studies]})
    return path


def status_of(run: Run) -> str | None:
    """The run's recorded status (None: no record); a damaged record is a :class:`records.RecordError`."""
    record = records.load(run.run_dir)
    return record.get("status") if record else None


def stale_fields(run: Run) -> list[str]:
    """How a complete run's recorded config differs from what the campaign asks for now, one
    ``field: recorded → asked`` per field that changes the result (none: up to date or not complete).
    Resolved plans are compared, not spellings, so ``lr: 0.1`` on a recipe whose lr is 0.1 changes nothing;
    a field added after the run was recorded had its default then."""
    record = records.load(run.run_dir)
    if not record or record.get("status") != "complete":
        return []
    recorded = record.get("config") or {}
    old, new = resolved_fingerprint(recorded), resolved_fingerprint(run.plan)
    spelled_old, spelled_new = {**TrainConfig().to_dict(), **recorded}, run.config.to_dict()

    def shown(k):  # as the YAML spells it where the spellings differ; else as resolved
        if k in spelled_new and spelled_old.get(k) != spelled_new[k]:
            return spelled_old.get(k), spelled_new[k]
        return old.get(k), new.get(k)
    return [f"{k}: {shown(k)[0]!r} → {shown(k)[1]!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def campaign_lock(campaign: Campaign, runs_root: str | os.PathLike) -> Path:
    return Path(runs_root) / campaign.name / records.LOCKS / "campaign.lock"


def run_lock(run: Run) -> Path:
    return run.run_dir.parent / records.LOCKS / f"{run.run_id}.lock"


def describe(run: Run) -> str:
    """A run's state for ``--dry-run``: new, its status, stale (with the fields), locked (by whom) or damaged
    (why). It reads and writes nothing else."""
    holder = records.holder(run_lock(run))
    if holder:
        return f"locked (another campaign process is running it: {holder})"
    try:
        stale = stale_fields(run)
    except records.RecordError as e:
        return f"damaged ({e}; --force moves the run folder aside and re-runs it)"
    if stale:
        return f"stale (complete, but the campaign now asks {'; '.join(stale)}; --force re-runs it)"
    return status_of(run) or "new"


def _execute(run: Run, notebook: Path, slot: KernelSlot, log_dir: Path, num_processes) -> tuple[int, str]:
    """The run's notebook, executed by papermill with the run's config as parameters."""
    log_dir.mkdir(parents=True, exist_ok=True)
    params = {**run.config.to_dict(), "num_processes": num_processes}
    return slot.execute(notebook, run.notebook, params, log_dir / run.run_id)


def _plan(campaign: Campaign, force: bool, done: set[str], summary: dict, log) -> list[Run]:
    """The runs to execute; done ones go to ``already``, complete ones whose config changed to ``stale``."""
    todo = []
    for run in campaign.runs:
        try:
            stale = [] if force else stale_fields(run)
        except records.RecordError as e:  # this run is reported; the others go on
            summary["damaged"].append(run.run_id)
            log(f"{run.run_id}: damaged, not run: {e} (--force moves the run folder aside and re-runs it)")
            continue
        if stale:
            summary["stale"].append(run.run_id)
            log(f"{run.run_id}: stale, not re-run: complete, but the campaign now asks {'; '.join(stale)} "
                f"(--force re-runs it)")
        elif not force and status_of(run) in done:
            _restore_damaged_metrics(run, log)
            summary["already"].append(run.run_id)
        else:
            todo.append(run)
    return todo


def _restore_damaged_metrics(run: Run, log) -> None:
    """A complete run whose ``metrics.jsonl`` lost or tore a line gets it back from its checkpoint's history
    (the report refuses a curve with an epoch missing)."""
    record = records.load(run.run_dir)
    damage = record.get("status") == "complete" and records.metrics_damage(run.run_dir, record.get("epochs_done") or 0)
    if not damage or records.holder(run_lock(run)):
        return
    try:
        restore_metrics(run.run_dir)
        log(f"{run.run_id}: {records.METRICS} was damaged; restored from its checkpoint")
    except CheckpointError as e:
        log(f"{run.run_id}: {damage.split(';')[0]}, and its checkpoint cannot restore it ({e}); --force re-runs it")


def _mark_failure(run: Run, campaign: str | None, attempts_before: int, code: int, tail: str) -> None:
    """The notebook exited non-zero: the record must say so for this attempt. The trainer's own failure
    record stands; otherwise this attempt (begun by the trainer, or not even that) is marked failed."""
    record = records.load(run.run_dir)
    ours = record is not None and len(records.attempts_of(record)) > attempts_before
    if ours and record["status"] in ("failed", "skipped"):
        return
    if not ours:  # it ended before the trainer began: a new attempt, without the old one's results
        record = records.start(run.run_dir, run_id=run.run_id, campaign=campaign, model=run.config.model,
                               options=run.config.options, seed=run.config.seed, config=run.config.to_dict())
    last = tail.strip().splitlines()[-1] if tail.strip() else f"exit code {code}"
    records.save(run.run_dir, records.fail(record, f"notebook failed: {last}"))


def attempts_so_far(run: Run) -> int:
    return len(records.attempts_of(records.load(run.run_dir)))


def settle(run: Run, code: int, tail: str, attempts_before: int) -> str:
    """The run's status once its notebook (or launcher) ended with ``code``; the local and the Slurm executor
    both end here, so a failure the trainer could not record is written the same way by either."""
    if code != 0:
        _mark_failure(run, run.config.campaign, attempts_before, code, tail)
    return status_of(run) or "failed"


def _attempt(run: Run, force: bool, done: set[str], execute_run) -> str:
    """One run, under its lock: re-checked (another process may have finished it meanwhile), then executed."""
    if not force and status_of(run) in done:
        return "already"
    if force and run.run_dir.exists():  # keep what was there: move it aside, never delete it
        run.run_dir.rename(records.moved_aside(run.run_dir))
    before = attempts_so_far(run)
    if _skipped_offline(run):
        run.notebook.unlink(missing_ok=True)  # an earlier attempt's page would show results it no longer has
        return "skipped"
    code, tail = execute_run(run)
    return settle(run, code, tail, before)


def _skipped_offline(run: Run) -> bool:
    """A fine-tune whose weights cannot be had is recorded as skipped here, without a kernel start."""
    try:
        return skip_without_weights(run.plan) is not None
    except Exception:  # any other trouble with the weights: the notebook fails on it and records why
        return False


class CannotStart(RuntimeError):
    """The campaign's folder cannot be written (disk full, read-only, not ours); nothing was started."""

    def __init__(self, folder: Path, error: OSError):
        super().__init__(f"cannot write the campaign folder {folder}: {error.strerror or error}; free space there or "
                         f"choose another --runs-root (nothing was started)")


def execute(campaign: Campaign, runs_root: str | os.PathLike = "runs", notebook: str | os.PathLike | None = None,
            force: bool = False, retry_skipped: bool = False, jobs: int | None = None, log=print) -> dict:
    """Execute every run not already done; returns {status: [run ids]}, with ``stale`` (complete runs whose
    config changed, not re-run without ``force``) and ``locked`` (runs another campaign process holds).

    One campaign per runs folder: this process holds the campaign's lock (for the manifest) and each run's lock
    while it runs it. A second process on the same campaign runs only what nobody holds and reports the rest
    as ``locked``. The locks are OS locks, gone with their process, so a killed campaign leaves none behind."""
    notebook = Path(notebook or NOTEBOOKS / "train.ipynb")
    jobs = resolve_jobs(jobs or campaign.jobs, "--jobs")
    done = {"complete"} | (set() if retry_skipped else {"skipped"})
    log_dir = Path(runs_root) / campaign.name / "logs"
    nproc = campaign.num_processes if jobs == 1 else "auto"

    def attempt(run: Run, slot: KernelSlot) -> str:
        return _attempt(run, force, done, lambda r: _execute(r, notebook, slot, log_dir, nproc))

    summary = {"complete": [], "skipped": [], "failed": [], "already": [], "stale": [], "locked": [], "damaged": []}
    with contextlib.ExitStack() as held:
        owner = False  # of the campaign's lock, hence of its manifest and timing record
        try:
            held.enter_context(records.lock(campaign_lock(campaign, runs_root)))
            write_manifest(campaign, runs_root)
            owner = True
        except records.Locked as e:
            log(f"campaign {campaign.name}: another campaign process holds it ({e.holder}); the runs it holds "
                f"are skipped here (reported as locked)")
        except OSError as e:  # a full disk, a read-only or foreign folder: found before any run starts
            raise CannotStart(Path(runs_root) / campaign.name, e) from None
        todo = _plan(campaign, force, done, summary, log)
        log(f"campaign {campaign.name}: {len(campaign.runs)} runs on {campaign.dataset}; "
            f"{len(summary['already'])} already done, {len(todo)} to run"
            + (f", {len(summary['stale'])} stale (kept: --force re-runs them)" if summary["stale"] else ""))
        started, clock = records.now(), records.Timer()
        # The kernels' own logs are the campaign lock holder's; another process's kernels log beside them
        # under its pid, so it never writes a file the holder writes.
        kernel_logs = "kernel-job" if owner else f"kernel-pid{os.getpid()}-job"
        seconds = _run_parallel(todo, jobs, attempt, summary, log, keep_kernels(nproc), log_dir, kernel_logs)
        if todo and owner:
            write_timing(campaign, runs_root, started, clock(), jobs, seconds, summary)
    return summary


def write_timing(campaign: Campaign, runs_root, started: str, wall_seconds: float, jobs: int,
                 seconds: dict[str, float], summary: dict) -> Path:
    """The record of this invocation's wall time (the book's Performance page shows it): when, how long, on what,
    how many runs side by side, and each executed run's time from its start to its record."""
    status = {rid: s for s, rids in summary.items() for rid in rids}
    path = Path(runs_root) / campaign.name / records.TIMING
    records.atomic_write_json(path, {
        "campaign": campaign.name, "source": campaign.path, "dataset": campaign.dataset, "started": started,
        "finished": records.now(), "wall_seconds": wall_seconds, "jobs": jobs, "cpu": records.cpu_name(),
        "cpus": os.cpu_count(), "gpus": visible_gpus(), "already_done": len(summary["already"]),
        "runs": [{"run_id": rid, "status": status.get(rid), "seconds": s} for rid, s in seconds.items()]})
    return path


def _run_parallel(todo: list[Run], jobs: int, attempt, summary: dict, log, keep: bool = False,
                  log_dir: Path | None = None, kernel_logs: str = "kernel-job") -> dict[str, float]:
    """``jobs`` runs side by side, each job with its own environment (GPU subset or CPU-thread share) and kernel
    (its output in ``log_dir/<kernel_logs><job>.log``); every run under its run lock. Returns each run's seconds
    from its start to its end."""
    started, count, seconds, tally = time.time(), [0], {}, threading.Lock()

    def one(run: Run, slot: KernelSlot) -> None:
        t0 = time.time()
        try:
            with records.lock(run_lock(run)):
                status = attempt(run, slot)
        except records.Locked as e:
            status = "locked"
            log(f"{run.run_id}: locked, skipped: another campaign process is running it ({e.holder})")
        except records.RecordError as e:  # damaged since the plan was made: reported, the others go on
            status = "damaged"
            log(f"{run.run_id}: damaged: {e}")
        except OSError as e:  # e.g. the disk filled up: the run's record could not say so; the other runs go on
            status = "failed"
            log(f"{run.run_id}: failed, and its folder could not be written: {e}")
        with tally:
            summary.setdefault(status, []).append(run.run_id)
            seconds[run.run_id] = time.time() - t0
            count[0] += 1
            eta = (time.time() - started) / count[0] * (len(todo) - count[0])
            log(f"[{count[0]}/{len(todo)}] {run.run_id}: {status} in {seconds[run.run_id]:.0f}s "
                f"(ETA {eta / 60:.1f} min)")

    in_jobs(todo, [KernelSlot(env, keep, log_dir and log_dir / f"{kernel_logs}{i}.log")
                   for i, env in enumerate(job_envs(jobs))], one)
    return {r.run_id: seconds[r.run_id] for r in todo if r.run_id in seconds}


def analyse(campaign: Campaign, runs_root: str | os.PathLike = "runs", book_dir: str | os.PathLike = "book",
            log=print) -> None:
    """Execute the analysis notebook (tables, figures, rendered prose) and one notebook per ablation study,
    under the campaign's lock: while another campaign process holds it, its analysis is left to it."""
    try:
        with records.lock(campaign_lock(campaign, runs_root)):
            _analyse(campaign, runs_root, Path(book_dir) / "generated", log)
    except records.Locked as e:
        log(f"analysis skipped: another campaign process holds campaign {campaign.name} ({e.holder})")


def _analyse(campaign: Campaign, runs_root: str | os.PathLike, out: Path, log=print) -> None:
    """The analysis notebook and one per study, side by side (each kernel does single-threaded report work)."""
    out.mkdir(parents=True, exist_ok=True)
    common = {"campaign": campaign.name, "runs_root": os.path.relpath(runs_root),  # no machine paths in the book
              "out_dir": os.path.relpath(out)}
    books = [("analysis.ipynb", "analysis.ipynb", common)]
    books += [("ablation.ipynb", f"ablation-{s.name}.ipynb", {**common, "study": s.name}) for s in campaign.studies]
    log_dir = Path(runs_root) / campaign.name / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    failed = []

    def one(book, slot: KernelSlot) -> None:
        source, target, params = book
        code, tail = slot.execute(NOTEBOOKS / source, out / target, params, log_dir / Path(target).stem)
        if code:
            failed.append((target, tail))

    # Report work only (no CUDA, no fork), so each job keeps its kernel: the imports are paid once per job.
    in_jobs(books, [KernelSlot(dict(os.environ), True, log_dir / f"kernel-analysis{i}.log")
                    for i in range(notebook_jobs(len(books)))], one)
    if failed:
        raise RuntimeError("analysis failed: " + "; ".join(f"{t}: {tail.strip().splitlines()[-1] if tail.strip() else '?'}"
                                                          for t, tail in failed))
    log(f"analysis written to {out}")
