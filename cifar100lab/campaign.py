"""Campaigns: a YAML file expands into runs; each run is ``notebooks/train.ipynb`` executed by papermill
into ``book/runs/<run_id>.ipynb``; finished runs are skipped, interrupted ones resume from their
checkpoint, failures are recorded and do not stop the others.

Campaign YAML keys: ``name``, ``description``, ``dataset``, ``num_processes``, ``seeds``, ``models``
(names or ``all``), ``defaults`` (TrainConfig fields for every run), ``studies`` (ablation YAML paths),
``study_seeds`` (seeds for study runs; default: the study's own ``seeds``), ``jobs`` (runs side by side:
a number or ``auto``, see :func:`resolve_jobs`).
Study YAML keys: ``study``, ``title`` / ``question`` (``en`` and ``zh``), ``seeds``, ``variants``
(each ``label``, ``model``, optional ``options`` and ``label_zh``).
"""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import records
from .registry import get_spec, model_names
from .train import ConfigError, TrainConfig

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN_KEYS = ("name", "description", "dataset", "num_processes", "seeds", "models", "defaults", "studies",
                 "study_seeds", "jobs")
STUDY_KEYS = ("study", "title", "question", "seeds", "variants", "metric")
VARIANT_KEYS = ("label", "label_zh", "model", "options")
DATASET_ENV = "CIFAR100LAB_DATASET"


@dataclass
class Variant:
    label: str
    model: str
    options: dict
    label_zh: str | None = None


@dataclass
class Study:
    name: str
    title: dict
    question: dict
    seeds: list[int]
    variants: list[Variant]
    path: str


@dataclass
class Run:
    run_id: str
    config: TrainConfig
    notebook: Path

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
    runs: list[Run] = field(default_factory=list)


def _read_yaml(path: Path, keys: tuple[str, ...], what: str) -> dict:
    if not path.is_file():
        raise ConfigError(f"{what} file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    bad = sorted(set(data) - set(keys))
    if bad:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(bad)}; valid keys: {', '.join(keys)}")
    return data


def _seeds(value, where: str) -> list[int]:
    seeds = list(range(value)) if isinstance(value, int) else list(value)
    if not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"{where}: seeds must be a count or a list of integers, got {value!r}")
    return seeds


def load_study(path: str | os.PathLike) -> Study:
    path = Path(path)
    d = _read_yaml(path, STUDY_KEYS, "study")
    variants = []
    for i, v in enumerate(d.get("variants") or []):
        bad = sorted(set(v) - set(VARIANT_KEYS))
        if bad:
            raise ConfigError(f"{path}: variant {i + 1} has unknown key(s) {', '.join(bad)}; "
                              f"valid keys: {', '.join(VARIANT_KEYS)}")
        if "label" not in v or "model" not in v:
            raise ConfigError(f"{path}: variant {i + 1} needs 'label' and 'model'")
        variants.append(Variant(str(v["label"]), v["model"], dict(v.get("options") or {}), v.get("label_zh")))
    if not variants:
        raise ConfigError(f"{path}: a study needs at least one variant")
    name = d.get("study") or path.stem
    return Study(name, d.get("title") or {"en": name, "zh": name}, d.get("question") or {},
                 _seeds(d.get("seeds", 3), str(path)), variants, str(path))


def canonical_options(model: str, options: dict) -> dict:
    """Options with those equal to the model's defaults dropped, so equal configs get one run."""
    defaults = get_spec(model).options
    return {k: v for k, v in sorted(options.items()) if not (k in defaults and defaults[k] == v)}


def run_id_for(campaign: str, model: str, options: dict, seed: int) -> str:
    parts = [campaign, model] + [f"{k}-{v}" for k, v in options.items()] + [f"s{seed}"]
    return "-".join(str(p).replace("/", "_").replace(" ", "_") for p in parts)


def load_campaign(path: str | os.PathLike, dataset: str | None = None, runs_root: str | os.PathLike = "runs",
                  book_dir: str | os.PathLike = "book", set_values: dict | None = None) -> Campaign:
    """Read and fully validate a campaign (every run's config) before any work starts."""
    path = Path(path)
    d = _read_yaml(path, CAMPAIGN_KEYS, "campaign")
    name = d.get("name") or path.stem
    models = d.get("models") or []
    if models == "all":
        models = model_names()
    defaults = dict(d.get("defaults") or {})
    defaults.update(set_values or {})
    dataset = dataset or os.environ.get(DATASET_ENV) or d.get("dataset") or "cifar100"
    studies = [load_study(ROOT / s if not Path(s).is_absolute() and not Path(s).exists() else s)
               for s in d.get("studies") or []]
    camp = Campaign(name, d.get("description", ""), dataset, d.get("num_processes", "auto"),
                    _seeds(d.get("seeds", [0]), str(path)), list(models), defaults, studies,
                    d.get("jobs", 1), str(path))
    resolve_jobs(camp.jobs, str(path))
    study_seeds = d.get("study_seeds")
    # A model entry is a name or a mapping {model, options, name (run-id stem), any TrainConfig field}.
    entries = [dict(e) if isinstance(e, dict) else {"model": e} for e in models]
    for e in entries:
        if "model" not in e:
            raise ConfigError(f"{path}: model entry {e} has no 'model'")
    camp.models = [e.get("name") or e["model"] for e in entries]
    wanted = [(e["model"], e.get("options") or {}, s, e.get("name"),
               {k: v for k, v in e.items() if k not in ("model", "options", "name")})
              for e in entries for s in camp.seeds]
    for st in studies:
        seeds = _seeds(study_seeds, str(path)) if study_seeds is not None else st.seeds
        wanted += [(v.model, v.options, s, None, {}) for v in st.variants for s in seeds]
    seen = {}
    for model, options, seed, stem, extra in wanted:
        try:
            options = canonical_options(model, options)
        except KeyError as e:
            raise ConfigError(f"{path}: {e}") from None
        rid = run_id_for(name, stem or model, options, seed)
        if rid in seen:
            continue
        merged_overrides = {**defaults.get("overrides", {}), **extra.get("overrides", {})}
        cfg = {**defaults, **extra, "overrides": merged_overrides, "model": model, "options": options, "seed": seed, "dataset": dataset,
               "run_dir": str(Path(runs_root) / name / rid), "run_id": rid, "campaign": name, "resume": True}
        try:
            config = TrainConfig.from_dict(cfg)
        except ConfigError as e:
            raise ConfigError(f"{path}, run {rid}: {e}") from None
        seen[rid] = Run(rid, config, Path(book_dir) / "runs" / f"{rid}.ipynb")
    camp.runs = list(seen.values())
    return camp


def study_runs(campaign: Campaign, study: Study) -> dict[str, list[str]]:
    """Variant label -> run ids of that variant (one per seed) in this campaign."""
    out = {}
    for v in study.variants:
        opts = canonical_options(v.model, v.options)
        out[v.label] = [r.run_id for r in campaign.runs if r.config.model == v.model and r.config.options == opts]
    return out


def write_manifest(campaign: Campaign, runs_root: str | os.PathLike) -> Path:
    path = Path(runs_root) / campaign.name / records.MANIFEST
    records.atomic_write_json(path, {
        "name": campaign.name, "description": campaign.description, "dataset": campaign.dataset,
        "source": campaign.path, "models": campaign.models, "seeds": campaign.seeds,
        "runs": [r.run_id for r in campaign.runs],
        "studies": [{"name": s.name, "title": s.title, "question": s.question, "path": s.path,
                     "variants": [{"label": v.label, "label_zh": v.label_zh or v.label, "model": v.model,
                                   "options": v.options} for v in s.variants],
                     "runs": study_runs(campaign, s)} for s in campaign.studies]})
    return path


def status_of(run: Run) -> str | None:
    path = run.run_dir / records.RECORD
    return records.read_json(path).get("status") if path.exists() else None


def _execute(run: Run, notebook: Path, env: dict, log_dir: Path, num_processes) -> tuple[int, str]:
    """Run papermill in a child process (so each job can see its own GPU subset)."""
    params = {**run.config.to_dict(), "num_processes": num_processes}
    run.notebook.parent.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    params_file = log_dir / f"{run.run_id}.params.yaml"
    params_file.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    cmd = [sys.executable, "-m", "papermill", str(notebook), str(run.notebook), "-f", str(params_file),
           "--cwd", str(Path.cwd()), "--no-progress-bar", "-k", "python3"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    (log_dir / f"{run.run_id}.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    return proc.returncode, (proc.stderr or proc.stdout)[-2000:]


def resolve_jobs(jobs, where: str = "jobs") -> int:
    """How many runs go side by side. ``auto``: 1 with GPUs (each run takes the GPUs its ``num_processes``
    asks for); 2 on a CPU-only machine with 2 or more cores, each run getting half of them, because a run's
    start-up (kernel, imports, model build) is single-threaded and overlaps with the other's training —
    measured: the quick campaign on 2 cores in 9.6 min instead of 15.1. With GPUs, at most one job per GPU."""
    from .launch import visible_gpus
    gpus = visible_gpus()
    if jobs == "auto":
        return 1 if gpus else min(2, os.cpu_count() or 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"{where}: jobs must be a positive integer or 'auto', got {jobs!r}")
    if gpus and jobs > gpus:
        raise ConfigError(f"{where}: {jobs} jobs need {jobs} GPUs (one each at least); {gpus} visible")
    return jobs


def _job_envs(jobs: int) -> list[dict]:
    """One environment per parallel job: a disjoint GPU subset each (or a CPU-thread share)."""
    from .launch import visible_gpus
    gpus = visible_gpus()
    envs = []
    for j in range(jobs):
        env = dict(os.environ)
        if gpus:
            ids = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(gpus)))).split(",")
            env["CUDA_VISIBLE_DEVICES"] = ",".join(ids[j::jobs])
        elif jobs > 1:
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // jobs))
        envs.append(env)
    return envs


def execute(campaign: Campaign, runs_root: str | os.PathLike = "runs", notebook: str | os.PathLike | None = None,
            force: bool = False, retry_skipped: bool = False, jobs: int | None = None, log=print) -> dict:
    """Execute every run not already done; returns {status: [run ids]}."""
    notebook = Path(notebook or ROOT / "notebooks" / "train.ipynb")
    jobs = resolve_jobs(jobs or campaign.jobs, "--jobs")
    write_manifest(campaign, runs_root)
    done = {"complete"} | (set() if retry_skipped else {"skipped"})
    todo, summary = [], {"complete": [], "skipped": [], "failed": [], "already": []}
    for run in campaign.runs:
        if status_of(run) in done and not force:
            summary["already"].append(run.run_id)
        else:
            if force and run.run_dir.exists():  # keep what was there: move it aside, never delete it
                run.run_dir.rename(run.run_dir.with_name(f"{run.run_dir.name}.replaced-{int(time.time())}"))
            todo.append(run)
    log(f"campaign {campaign.name}: {len(campaign.runs)} runs on {campaign.dataset}; "
        f"{len(summary['already'])} already done, {len(todo)} to run")
    free_envs: queue.Queue = queue.Queue()  # a job's GPU subset is lent to one run at a time
    for env in _job_envs(jobs):
        free_envs.put(env)
    started, count = time.time(), [0]
    nproc = campaign.num_processes if jobs == 1 else "auto"
    log_dir = Path(runs_root) / campaign.name / "logs"

    def one(run):
        t0 = time.time()
        env = free_envs.get()
        try:
            code, tail = _execute(run, notebook, env, log_dir, nproc)
        finally:
            free_envs.put(env)
        status = status_of(run)
        if code != 0 and status in (None, "running", "complete"):
            prior = records.read_json(run.run_dir / records.RECORD) if status else {}
            records.atomic_write_json(run.run_dir / records.RECORD, {
                **prior, "run_id": run.run_id, "campaign": campaign.name, "model": run.config.model,
                "options": run.config.options, "seed": run.config.seed, "config": run.config.to_dict(),
                "status": "failed", "reason": f"notebook failed: {tail.strip().splitlines()[-1] if tail.strip() else code}",
                "finished": records.now()})
            status = "failed"
        status = status or "failed"
        summary.setdefault(status, []).append(run.run_id)
        count[0] += 1
        elapsed = time.time() - started
        eta = elapsed / count[0] * (len(todo) - count[0])
        log(f"[{count[0]}/{len(todo)}] {run.run_id}: {status} in {time.time() - t0:.0f}s (ETA {eta / 60:.1f} min)")

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, todo))
    return summary


def analyse(campaign: Campaign, runs_root: str | os.PathLike = "runs", book_dir: str | os.PathLike = "book",
            log=print) -> None:
    """Execute the analysis notebook (tables, figures, rendered prose) and one notebook per ablation study."""
    import papermill as pm
    out = Path(book_dir) / "generated"
    out.mkdir(parents=True, exist_ok=True)
    common = {"campaign": campaign.name, "runs_root": os.path.relpath(runs_root),  # no machine paths in the book
              "out_dir": os.path.relpath(out)}
    pm.execute_notebook(str(ROOT / "notebooks" / "analysis.ipynb"), str(out / "analysis.ipynb"),
                        parameters=common, cwd=str(Path.cwd()), progress_bar=False, kernel_name="python3")
    for study in campaign.studies:
        pm.execute_notebook(str(ROOT / "notebooks" / "ablation.ipynb"), str(out / f"ablation-{study.name}.ipynb"),
                            parameters={**common, "study": study.name}, cwd=str(Path.cwd()), progress_bar=False,
                            kernel_name="python3")
    log(f"analysis written to {out}")
