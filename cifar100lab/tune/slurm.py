"""``tune --executor slurm``: the study's workers as one Slurm job array (submitit), each running the same loop
as a local worker (:func:`cifar100lab.tune.workers.run_trials`) on the shared storage, so together they run the
study's trials, each trial once. The storage must be reachable from every node: a server URL (MariaDB/MySQL,
PostgreSQL), or SQLite on a shared file system for a few workers. The URL reaches the jobs through their
environment (``sbatch`` exports it), never through a file, as it may hold a password."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..executors.slurm import (
    DEFAULT_TIME_MIN,
    STOPPED_BY_SLURM,
    _submitit_executor,
    stopped_by_slurm,
    threads_from_slurm,
)
from ..kernels import resolve_jobs
from ..optuna_parts import STORAGE_ENV, shown, storage_from_env


@dataclass
class TuneWorker:
    """One array task: a worker pulling trials until the study has them all."""
    study_file: str
    runs_root: str
    cwd: str
    dataset: str | None = None  # tune --dataset: over the file's

    def __call__(self) -> dict:
        from .study import load_study_file
        from .workers import run_trials
        os.chdir(self.cwd)
        threads_from_slurm()
        url = storage_from_env()
        spec = load_study_file(self.study_file, storage=url, dataset=self.dataset)
        with stopped_by_slurm():  # a stopped trial is failed and marked interrupted: the next `tune` retries it
            return run_trials(spec, self.runs_root, url, jobs=1, stopped_by=STOPPED_BY_SLURM)


def submit_workers(spec, url: str, a, log=print) -> int:
    """Submit ``--jobs`` (else the study's ``jobs``) workers as one job array; their job ids are printed."""
    from .workers import open_study
    workers = resolve_jobs(a.jobs or spec.jobs, "--jobs")
    # The storage's tables and the study are made here, once: workers starting together on a new database
    # would each create the tables, and all but one fail ("table already exists").
    open_study(spec, url, heartbeat=False)
    executor = spec.executor
    gpus = executor.gpus_per_node or 0  # a trial's run takes every GPU its job has
    folder = Path(a.runs_root) / spec.name / "slurm"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[STORAGE_ENV] = url  # exported to the jobs by sbatch
    ex = _submitit_executor(executor, folder, executor.time_min or DEFAULT_TIME_MIN, gpus, f"tune-{spec.name}")
    worker = TuneWorker(str(Path(spec.path).resolve()), str(Path(a.runs_root).resolve()), os.getcwd(), spec.dataset)
    with ex.batch():
        jobs = [ex.submit(worker) for _ in range(workers)]
    log(f"study {spec.name}: {workers} Slurm worker(s) submitted ({', '.join(j.job_id for j in jobs)}) on "
        f"{shown(url)}")
    return 0
