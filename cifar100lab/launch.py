"""Start ``train`` on the right number of processes from a notebook or a script, and return its record.

``accelerate.notebook_launcher`` returns None and forks worker processes, so: the process count is chosen
through NVML, never the CUDA runtime (see :mod:`cifar100lab.devices`: a kernel that has called it cannot fork
CUDA workers), and the run record is read back from ``run_dir`` after the launch.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

from . import records
from .devices import visible_gpus
from .train import ConfigError, TrainConfig, train


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


def run(config: TrainConfig | dict, num_processes: int | str | None = "auto", port: int | None = None) -> dict:
    """Validate, launch ``train`` on ``num_processes`` processes, and return the run record."""
    from accelerate import notebook_launcher
    cfg = TrainConfig.coerce(config)
    n = choose_processes(num_processes)
    if n == 1:
        return train(cfg)  # no fork needed: same process, and the record comes back directly
    # A kernel that already trained in-process holds Accelerate state, which notebook_launcher refuses to fork;
    # the parent takes no part in the launched job, so its state is dropped.
    from accelerate.state import AcceleratorState
    AcceleratorState._reset_state(reset_partial_state=True)
    threads = max(1, (os.cpu_count() or 1) // n) if not visible_gpus() else None
    env = {"OMP_NUM_THREADS": str(threads)} if threads else {}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        notebook_launcher(train, (cfg,), num_processes=n, use_port=str(port or free_port()))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    path = Path(cfg.run_dir) / records.RECORD
    if not path.exists():
        raise RuntimeError(f"the launched run wrote no record at {path}")
    return records.read_json(path)
