"""``train`` started on the right number of processes: ``run`` resolves a config once and starts the trainer in
this process or, through ``accelerate.notebook_launcher``, on one forked worker per GPU (or a gloo group on the
CPU). Here lives the process count of one run (``choose_processes``) and each worker's CPU-thread share; how many
runs go side by side, and on which kernels, is :mod:`cifar100lab.kernels`' job.

``accelerate.notebook_launcher`` returns None and forks worker processes, so the run record is read back
from ``run_dir`` after the launch.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from . import records
from .config import ConfigError, RunPlan, TrainConfig, resolve
from .data import DataError
from .devices import visible_gpus  # NVML only (see devices): the CUDA runtime is never asked here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_processes(num_processes: int | str | None, where: str = "num_processes") -> None:
    """``num_processes`` as written: ``auto`` (or None, 0) or a whole number. This machine is not asked, so a
    campaign's file is checked so where its runs will not execute (a dry run, a Slurm login node)."""
    whole = isinstance(num_processes, int) and not isinstance(num_processes, bool)
    if not (num_processes in (None, "auto") or whole or (isinstance(num_processes, str) and num_processes.isdigit())):
        raise ConfigError(f"{where} must be 'auto' or a whole number of processes, got {num_processes!r}")
    if whole and num_processes < 0:
        raise ConfigError(f"{where} must be >= 1 or 'auto', got {num_processes!r}")


def choose_processes(num_processes: int | str | None = "auto") -> int:
    """``auto``: one process per visible GPU, or one on a machine without GPUs.

    An explicit count above 1 without GPUs runs one multi-process gloo job on the CPU (the trainer builds
    its Accelerator with ``cpu=True`` there, so the processes form one group instead of independent copies).
    """
    check_processes(num_processes)
    gpus = visible_gpus()
    if num_processes in (None, "auto", 0, "0"):
        return max(1, gpus)
    n = int(num_processes)
    if gpus and n > gpus:
        raise ConfigError(f"num_processes={n} but only {gpus} GPU(s) are visible; use 'auto' or at most {gpus}")
    if not gpus and n > (os.cpu_count() or 1):
        raise ConfigError(f"num_processes={n} exceeds the {os.cpu_count()} CPUs of this machine; use 'auto' or at "
                          f"most {os.cpu_count()}")
    return n


def thread_share(parts: int) -> int:
    """CPU threads for one of ``parts`` processes or runs sharing this machine's cores."""
    return max(1, (os.cpu_count() or 1) // parts)


@contextlib.contextmanager
def torch_threads(threads: int):
    """Within: torch computes on ``threads`` CPU threads; its count before comes back after."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# The signals torch's launcher handles in the process that launches (raising its SignalException there); a forked
# worker inherits those handlers, and the launcher's process keeps them after the launch.
LAUNCHER_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _stop_once(signum, frame):
    signal.signal(signum, signal.SIG_IGN)  # one stop: the launcher passes the stop button's SIGINT on again
    raise KeyboardInterrupt


def worker(plan: RunPlan, threads: int | None) -> None:
    """One launched process: its CPU-thread share, then the trainer. A stop (the stop button's SIGINT reaches the
    kernel's whole process group; SIGTERM) reaches the trainer as KeyboardInterrupt, which records the run as
    interrupted; with the launcher's inherited handler it raised SignalException and the run was recorded failed."""
    from .train import train
    for signum in LAUNCHER_SIGNALS:
        signal.signal(signum, _stop_once if signum in (signal.SIGINT, signal.SIGTERM) else signal.SIG_DFL)
    if threads:
        # Set in the forked child itself: this also keeps it from entering an OpenMP pool inherited from its
        # parent across fork (a known libgomp hang).
        import torch
        torch.set_num_threads(threads)
    train(plan)


def one_line(error: BaseException) -> BaseException:
    """``error`` as a notebook shows it: its one line, without the traceback. IPython renders an exception through
    its ``_render_traceback_()`` where it has one (and papermill's error carries what the kernel rendered)."""
    error._render_traceback_ = lambda: [f"{type(error).__name__}: {error}"]
    return error


def run(config: RunPlan | TrainConfig | dict, num_processes: int | str | None = "auto", port: int | None = None) -> dict:
    """Resolve the config (once), launch ``train`` on ``num_processes`` processes, and return the run record.
    An error that is the user's to fix (a bad setting, missing data, an unwritable folder) shows as one line."""
    try:
        return _launch(config, num_processes, port)
    except (ConfigError, DataError, OSError) as e:
        raise one_line(e)
    except KeyboardInterrupt as e:  # stopped by hand: the trainer said where, and that running again resumes
        raise one_line(KeyboardInterrupt(str(e) or "stopped; running the cell again resumes the run")) from None


def _launch(config: RunPlan | TrainConfig | dict, num_processes, port: int | None) -> dict:
    from accelerate import notebook_launcher

    from .train import train
    plan = resolve(config)
    n = choose_processes(num_processes)
    if n == 1:
        return train(plan)  # no fork needed: same process, and the record comes back directly
    # A kernel that already trained in-process holds Accelerate state, which notebook_launcher refuses to fork;
    # the parent takes no part in the launched job, so its state is dropped.
    from .accelerator import reset_accelerate_state
    reset_accelerate_state(keep_process_group=False)
    gpus = visible_gpus()
    threads = None if gpus else thread_share(n)
    print(f"Launching training on {n} {'GPUs' if gpus else 'CPU processes (one gloo group)'}.")
    # torch's launcher warns (through two loggers) when OMP_NUM_THREADS is unset and then sets 1; it is set
    # here to each worker's share instead, unless the user chose it.
    env = {} if os.environ.get("OMP_NUM_THREADS") else {"OMP_NUM_THREADS": str(threads or 1)}
    from torch.distributed.elastic.multiprocessing.api import SignalException
    with _environment(env), _without_line(sys.stdout, "Launching training on"), _handlers_kept(LAUNCHER_SIGNALS), \
            _stop_notices_dropped():
        try:  # accelerate's line says CUDA on a CPU
            notebook_launcher(worker, (plan, threads), num_processes=n, use_port=str(port or free_port()))
        except SignalException:  # a stop, as torch's launcher reports it: its workers have recorded where
            raise KeyboardInterrupt from None
    path = Path(plan.config.run_dir) / records.RECORD
    if not path.exists():
        raise RuntimeError(f"the launched run wrote no record at {path}")
    return records.read_json(path)


# How torch's launcher logs a stop, as warnings: the signal, then each worker it closes. The stop's one line
# (the trainer's "stopped by hand in epoch …") says it all; a worker's failure is logged otherwise and kept.
LAUNCHER_STOP_NOTICES = {"torch.distributed.elastic.agent.server.api": "Received %s death signal, shutting down workers",
                         "torch.distributed.elastic.multiprocessing.api": "Closing process %s via signal %s"}


@contextlib.contextmanager
def _stop_notices_dropped():
    """Within, the launcher's notices of a stop are not logged."""
    def keep(record: logging.LogRecord) -> bool:
        return record.msg != LAUNCHER_STOP_NOTICES.get(record.name)
    loggers = [logging.getLogger(name) for name in LAUNCHER_STOP_NOTICES]
    for logger in loggers:
        logger.addFilter(keep)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(keep)


@contextlib.contextmanager
def _handlers_kept(signums):
    """Within, anything may set handlers for ``signums`` (torch's launcher does); after, they are as they were."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers are set in the main thread only (the launcher sets none from another)
        return
    before = {signum: signal.getsignal(signum) for signum in signums}
    try:
        yield
    finally:
        for signum, handler in before.items():
            if handler is not None:  # None: set outside Python, cannot be put back from here
                signal.signal(signum, handler)


@contextlib.contextmanager
def _environment(changes: dict):
    """``os.environ`` with ``changes`` within, as it was after."""
    before = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _without_line(stream, prefix: str):
    """Within: a printed line of ``stream`` starting with ``prefix`` is dropped (print writes the text and its
    newline separately, so the newline after it goes too); everything else passes through unchanged."""
    real_write, dropped = stream.write, [False]

    def write(text):
        if text.startswith(prefix) or (dropped[0] and text == "\n"):
            dropped[0] = not dropped[0]
            return len(text)
        return real_write(text)
    stream.write = write
    try:
        yield
    finally:
        stream.write = real_write
