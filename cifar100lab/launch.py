"""``train`` started on the right number of processes: ``run`` resolves a config once and starts the trainer in
this process or, through ``accelerate.notebook_launcher``, on one forked worker per GPU (or a gloo group on the
CPU). Here lives the process count of one run (``choose_processes``) and each worker's CPU-thread share; how many
runs go side by side, and on which kernels, is :mod:`cifar100lab.kernels`' job.

``accelerate.notebook_launcher`` returns None and forks worker processes, so the run record is read back
from ``run_dir`` after the launch. A failed worker notes its error (:func:`note_failure`); the launch raises the
error that failed the run first, as that worker raised it, and its record names it.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from . import records
from .attempt import drop_unused_folder
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
    # isdecimal, not isdigit: "²" is a digit that int() refuses
    if not (num_processes in (None, "auto") or whole or (isinstance(num_processes, str) and num_processes.isdecimal())):
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
    n = 0 if num_processes in (None, "auto") else int(num_processes)
    if n == 0:  # "00" too: it was 0 processes, and the launch divided by it
        return max(1, gpus)
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


def _stop_once(failures: Path, signum, frame):
    signal.signal(signum, signal.SIG_IGN)  # one stop: the launcher passes the stop button's SIGINT on again
    if any(failures.glob(FAILURE_NOTES)):
        # no stop by hand: the launcher stops the other processes once one has failed (and noted why)
        raise RuntimeError("stopped by the launcher: another process had failed")
    raise KeyboardInterrupt


def worker(plan: RunPlan, threads: int | None, failures: str, tempdir: str | None) -> None:
    """One launched process: its CPU-thread share, then the trainer. A stop (the stop button's SIGINT reaches the
    kernel's whole process group; SIGTERM) reaches the trainer as KeyboardInterrupt, which records the run as
    interrupted; with the launcher's inherited handler it raised SignalException and the run was recorded failed.
    An error is noted in the folder ``failures`` for the launching process. ``tempdir``: the temporary folder
    as it was before the launch (the launcher's own files went to one it removes; a compile cache goes here)."""
    from .train import train
    tempfile.tempdir = tempdir
    failures = Path(failures)
    stop = functools.partial(_stop_once, failures)
    for signum in LAUNCHER_SIGNALS:
        signal.signal(signum, stop if signum in (signal.SIGINT, signal.SIGTERM) else signal.SIG_DFL)
    if threads:
        # Set in the forked child itself: this also keeps it from entering an OpenMP pool inherited from its
        # parent across fork (a known libgomp hang).
        import torch
        torch.set_num_threads(threads)
    try:
        train(plan)
    except Exception as e:
        for signum in (signal.SIGINT, signal.SIGTERM):  # the launcher's, once it sees a process fail: the note
            signal.signal(signum, signal.SIG_IGN)  # is written first, and this process ends right after
        note_failure(failures, e)
        raise


FAILURE_NOTES = "failure-*.pickle"


def note_failure(folder: Path, error: Exception) -> None:
    """This process's error, for the launching process to raise and record. Its time tells the process that failed
    first from its peers, which fail after it, on the connection it closes as it ends."""
    rank = int(os.environ.get("RANK", 0))
    note = {"rank": rank, "time": time.time(), "reason": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc()}
    try:
        pickle.loads(data := pickle.dumps({**note, "error": error}))
    except Exception:  # an error that cannot travel between processes travels as its line and traceback
        data = pickle.dumps(note)
    records.atomic_write(folder / FAILURE_NOTES.replace("*", str(rank)), lambda f: f.write(data))


def first_failure(folder: Path, launcher_error) -> dict:
    """What failed a launch, as a note (rank, reason; the error and its traceback where it raised one): a process
    killed by a signal (it noted nothing, and the launcher saw it end first), or else the error noted first."""
    rank, seen = launcher_error.get_first_failure()
    if seen.exitcode < 0:
        return {"rank": rank, "reason": f"killed by signal {seen.signal_name()}"}
    notes = [pickle.loads(p.read_bytes()) for p in folder.glob(FAILURE_NOTES)]
    return min(notes, key=lambda note: note["time"], default={"rank": rank, "reason": f"exit code {seen.exitcode}"})


def _raised(failure: dict, n: int) -> BaseException:
    """The failure as the launch raises it: the worker's own error (a user's error as its one line; another with
    the worker's traceback as a note), or a RuntimeError saying which process ended how."""
    error = failure.get("error") or RuntimeError(f"process {failure['rank']} of {n}: {failure['reason']}")
    if "traceback" in failure and not isinstance(error, USER_ERRORS):
        error.add_note(f"raised in process {failure['rank']} of {n}:\n{failure['traceback']}")
    return error


def _record_failure(run_dir: Path, attempts_before: int, failure: dict, n: int) -> None:
    """This launch's attempt recorded as failed by the error that failed it first, and in which process. Its main
    process closed the record with what it met there, often a peer's failure (a lost connection), or as stopped
    (the launcher stops the others once one has failed), or never (killed). An earlier attempt's record (this
    one was refused before it wrote any) and a finished one are left as they are."""
    record = records.load(run_dir)
    if record and len(records.attempts_of(record)) > attempts_before and \
            record["status"] in ("running", "failed", "interrupted"):
        reason = f"process {failure['rank']} of {n}: {failure['reason']}"
        records.save(run_dir, records.fail(record, reason, failed_process=failure["rank"]))


def one_line(error: BaseException) -> BaseException:
    """``error`` as a notebook shows it: its one line, without the traceback. IPython renders an exception through
    its ``_render_traceback_()`` where it has one (and papermill's error carries what the kernel rendered)."""
    error._render_traceback_ = lambda: [f"{type(error).__name__}: {error}"]
    return error


USER_ERRORS = (ConfigError, DataError, OSError)  # the user's to fix (a bad setting, missing data, an unwritable folder)


# Set in the kernel that renders the notebook of a run another launch trained (a multi-node Slurm job's `accelerate
# launch`): there :func:`run` returns the record as that launch left it. Run again, the trainer would skip a skipped
# run once more (a second attempt) and refuse a complete one on its one process (the record then said failed).
RENDER_ONLY_ENV = "CIFAR100LAB_RENDER_ONLY"


def run(config: RunPlan | TrainConfig | dict, num_processes: int | str | None = "auto", port: int | None = None) -> dict:
    """Resolve the config (once), launch ``train`` on ``num_processes`` processes, and return the run record
    (with :data:`RENDER_ONLY_ENV` set: the record, nothing trained or written).
    An error that is the user's to fix shows as one line, also where a launched process raised it."""
    try:
        if os.environ.get(RENDER_ONLY_ENV):
            return _recorded(config)
        return _launch(config, num_processes, port)
    except USER_ERRORS as e:
        raise one_line(e)
    except KeyboardInterrupt as e:  # stopped by hand: the trainer said where, and that running again resumes
        raise one_line(KeyboardInterrupt(str(e) or "stopped; running the cell again resumes the run")) from None


def _recorded(config: RunPlan | TrainConfig | dict) -> dict:
    run_dir = Path(resolve(config).config.run_dir)
    if (record := records.load(run_dir)) is None:
        raise ConfigError(f"{run_dir} holds no run record to show ({RENDER_ONLY_ENV} is set: this notebook shows a "
                          f"run trained by another launch and trains nothing; unset it to train the run here)")
    return record


def _launch(config: RunPlan | TrainConfig | dict, num_processes, port: int | None) -> dict:
    from .train import preflight, train
    plan = resolve(config)
    n = choose_processes(num_processes)
    if n == 1:
        return train(plan)  # no fork needed: same process, and the record comes back directly
    # checked here before any process starts: a bad setting is one line, and a complete run starts none
    if done := preflight(plan, n):
        return done
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
    _launch_processes(plan, n, threads, port, env)
    path = Path(plan.config.run_dir) / records.RECORD
    if not path.exists():
        raise RuntimeError(f"the launched run wrote no record at {path}")
    return records.read_json(path)


def _launch_processes(plan: RunPlan, n: int, threads: int | None, port: int | None, env: dict) -> None:
    """``train`` on ``n`` forked processes. Their failure is raised as the process that failed first raised it,
    and its record says so; the launcher's own files (error files, log folders) go to a folder removed after."""
    from accelerate import notebook_launcher
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    run_dir = Path(plan.config.run_dir)
    made_here = not run_dir.exists()
    attempts = len(records.attempts_of(records.load(run_dir)))
    with tempfile.TemporaryDirectory(prefix="cifar100lab-launch-", ignore_cleanup_errors=True) as scratch, \
            _temporary_files_in(scratch) as tempdir, _environment(env), _without_line(sys.stdout, "Launching training on"), \
            _handlers_kept(LAUNCHER_SIGNALS), _launcher_notices_dropped():
        try:  # accelerate's line says CUDA on a CPU
            notebook_launcher(worker, (plan, threads, scratch, tempdir), num_processes=n,
                              use_port=str(port or free_port()))
        except SignalException:  # a stop, as torch's launcher reports it: its workers have recorded where
            raise KeyboardInterrupt from None
        except ChildFailedError as e:
            failure = first_failure(Path(scratch), e)
            _record_failure(run_dir, attempts, failure, n)
            error = _raised(failure, n)
            if made_here and isinstance(error, USER_ERRORS):
                # refused by the process that read the data: the main process may have been stopped by the
                # launcher before it removed the folder it had made, so bad input leaves no trace here either
                drop_unused_folder(run_dir)
            raise error from None


@contextlib.contextmanager
def _temporary_files_in(folder: str):
    """Within, :mod:`tempfile` makes its files and folders in ``folder``; yields the temporary folder before."""
    before = tempfile.tempdir
    tempfile.tempdir = folder
    try:
        yield before
    finally:
        tempfile.tempdir = before


# How torch's launcher logs a stop, as warnings: the signal, then each worker it closes; and a worker's failure,
# with a traceback of its own. The stop's one line (the trainer's "stopped by hand in epoch …") says it all, and
# the launch raises the failure as the worker raised it.
LAUNCHER_NOTICES = {("torch.distributed.elastic.agent.server.api", "Received %s death signal, shutting down workers"),
                    ("torch.distributed.elastic.multiprocessing.api", "Closing process %s via signal %s"),
                    ("torch.distributed.elastic.multiprocessing.api",
                     "failed (exitcode: %s) local_rank: %s (pid: %s) of fn: %s (start_method: %s)"),
                    ("torch.multiprocessing.spawn", "Terminating process %s via signal SIGTERM")}


@contextlib.contextmanager
def _launcher_notices_dropped():
    """Within, the launcher's notices of a stop or a failure are not logged."""
    def keep(record: logging.LogRecord) -> bool:
        return (record.name, record.msg) not in LAUNCHER_NOTICES
    loggers = [logging.getLogger(name) for name in {name for name, _ in LAUNCHER_NOTICES}]
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
