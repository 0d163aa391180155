"""Resource policy in one place, and ``train`` started on the right number of processes.

Everything that decides how much of the machine a run gets lives here: the GPU count (never through a CUDA
runtime call: a forked child cannot use a CUDA context made by its parent), the process count of one run,
how many runs a campaign puts side by side (``resolve_jobs``), and the GPU subset or CPU-thread share each
of them gets (``job_envs``, ``worker``).

``accelerate.notebook_launcher`` returns None and forks worker processes, so the run record is read back
from ``run_dir`` after the launch.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

from . import records
from .config import ConfigError, RunPlan, TrainConfig, resolve
from .devices import visible_gpus  # NVML only (see devices): the CUDA runtime is never asked here

THREADS_ENV = "OMP_NUM_THREADS"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def choose_processes(num_processes: int | str | None = "auto") -> int:
    """``auto``: one process per visible GPU, or one on a machine without GPUs.

    An explicit count above 1 without GPUs runs one multi-process gloo job on the CPU (the trainer builds
    its Accelerator with ``cpu=True`` there, so the processes form one group instead of independent copies).
    """
    gpus = visible_gpus()
    if num_processes in (None, "auto", 0):
        return max(1, gpus)
    n = int(num_processes)
    if n < 1:
        raise ConfigError(f"num_processes must be >= 1 or 'auto', got {num_processes!r}")
    if gpus and n > gpus:
        raise ConfigError(f"num_processes={n} but only {gpus} GPU(s) are visible; use 'auto' or at most {gpus}")
    if not gpus and n > (os.cpu_count() or 1):
        raise ConfigError(f"num_processes={n} exceeds the {os.cpu_count()} CPUs of this machine")
    return n


def thread_share(parts: int) -> int:
    """CPU threads for one of ``parts`` processes or runs sharing this machine's cores."""
    return max(1, (os.cpu_count() or 1) // parts)


def resolve_jobs(jobs, where: str = "jobs") -> int:
    """How many runs go side by side. ``auto``: 1 with GPUs (each run takes the GPUs its ``num_processes``
    asks for); 2 on a CPU-only machine with 2 or more cores, each run getting half of them, because a run's
    start-up (kernel, imports, model build) is single-threaded and overlaps with the other's training —
    measured: the quick campaign on 2 cores in 9.6 min instead of 15.1. With GPUs, at most one job per GPU."""
    gpus = visible_gpus()
    if jobs == "auto":
        return 1 if gpus else min(2, os.cpu_count() or 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"{where}: jobs must be a positive integer or 'auto', got {jobs!r}")
    if gpus and jobs > gpus:
        raise ConfigError(f"{where}: {jobs} jobs need {jobs} GPUs (one each at least); {gpus} visible")
    return jobs


def notebook_jobs(count: int) -> int:
    """Analysis notebooks side by side: up to one per CPU core (each kernel is single-threaded report work)."""
    return max(1, min(count, os.cpu_count() or 1))


def job_envs(jobs: int) -> list[dict]:
    """One environment per parallel job: a disjoint GPU subset each (or a CPU-thread share)."""
    gpus = visible_gpus()
    envs = []
    for j in range(jobs):
        env = dict(os.environ)
        if gpus:
            ids = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(gpus)))).split(",")
            env["CUDA_VISIBLE_DEVICES"] = ",".join(ids[j::jobs])
        elif jobs > 1:
            env[THREADS_ENV] = str(thread_share(jobs))
        envs.append(env)
    return envs


def worker(plan: RunPlan, threads: int | None) -> None:
    """One launched process: its CPU-thread share, then the trainer."""
    from .train import train
    if threads:
        # Set in the forked child itself: this also keeps it from entering an OpenMP pool inherited from its
        # parent across fork (a known libgomp hang).
        import torch
        torch.set_num_threads(threads)
    train(plan)


def run(config: RunPlan | TrainConfig | dict, num_processes: int | str | None = "auto", port: int | None = None) -> dict:
    """Resolve the config (once), launch ``train`` on ``num_processes`` processes, and return the run record."""
    from accelerate import notebook_launcher
    from .train import train
    plan = resolve(config)
    n = choose_processes(num_processes)
    if n == 1:
        return train(plan)  # no fork needed: same process, and the record comes back directly
    # A kernel that already trained in-process holds Accelerate state, which notebook_launcher refuses to fork;
    # the parent takes no part in the launched job, so its state is dropped.
    from accelerate.state import AcceleratorState
    AcceleratorState._reset_state(reset_partial_state=True)
    threads = None if visible_gpus() else thread_share(n)
    notebook_launcher(worker, (plan, threads), num_processes=n, use_port=str(port or free_port()))
    path = Path(plan.config.run_dir) / records.RECORD
    if not path.exists():
        raise RuntimeError(f"the launched run wrote no record at {path}")
    return records.read_json(path)
