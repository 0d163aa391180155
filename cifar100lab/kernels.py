"""Where a campaign's notebooks execute: each job is a thread with a ``KernelSlot`` (papermill on a kernel
started with the job's environment, kept between runs where that is safe), and how many jobs go side by side,
each with its GPU subset or CPU-thread share. The GPU count comes from NVML only: a forked child cannot use a
CUDA context made by its parent, so the CUDA runtime is never asked here.

Stop signals (a terminal's, a scheduler's) raise :class:`Stopped` where Ctrl-C raises KeyboardInterrupt, so the
one cleanup kills the jobs' kernels, which lead sessions of their own that no signal to this process reaches.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import yaml

from .config import ConfigError
from .devices import visible_gpu_ids, visible_gpus  # NVML only (see devices): the CUDA runtime is never asked here
from .launch import choose_processes, thread_share
from .stopping import STOP_SIGNALS, Stopped, raise_stopped, stop_signals  # noqa: F401 (the kernels' names too)

THREADS_ENV = "OMP_NUM_THREADS"


# GPU memory each run placed on a shared GPU must find free (checked through NVML before any run starts): a
# CIFAR ResNet-20 at batch 128 needs well under 1 GiB; 2 GiB leaves room for cuDNN workspaces and compilation.
MEMORY_PER_SHARED_RUN = 2 * 2**30


def resolve_jobs(jobs, where: str = "jobs") -> int:
    """How many runs go side by side. ``auto``: 1 with GPUs (each run takes the GPUs its ``num_processes``
    asks for); 2 on a CPU-only machine with 2 or more cores, each run getting half of them, because a run's
    start-up (kernel, imports, model build) is single-threaded and overlaps with the other's training. With
    GPUs, more jobs than GPUs put several runs on one GPU (small networks cannot fill a large GPU alone; see
    :func:`job_envs`)."""
    if jobs == "auto":
        return 1 if visible_gpus() else min(2, os.cpu_count() or 1)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"{where}: jobs must be a positive integer or 'auto', got {jobs!r}")
    return jobs


def check_runs_per_gpu(value, where: str) -> int | None:
    """A campaign's ``runs_per_gpu`` (or ``--runs-per-gpu``): a positive integer, or None when not given."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"{where}: runs_per_gpu must be a positive integer (runs sharing each GPU), got {value!r}")
    return value


def campaign_jobs(jobs, per_gpu: int | None, where: str) -> int:
    """Runs side by side: ``per_gpu`` on each visible GPU (one GPU to a run), else ``jobs`` (:func:`resolve_jobs`).
    ``where`` names the setting in an error."""
    if per_gpu is None:
        return resolve_jobs(jobs, where)
    if not (gpus := visible_gpus()):
        raise ConfigError(f"{where}: runs_per_gpu {per_gpu} shares GPUs, and this machine has none (NVML reports no "
                          "GPU); use jobs for runs side by side on the CPU")
    return per_gpu * gpus


def runs_per_gpu(jobs: int, gpus: int) -> int:
    """The most runs any one GPU carries when ``jobs`` runs share ``gpus`` GPUs (1 when each has its own)."""
    return max(1, -(-jobs // gpus)) if gpus else 0


def processes_per_run(jobs: int, num_processes) -> int:
    """The processes a campaign run launches with ``jobs`` jobs side by side: the campaign's ``num_processes``
    with one job; otherwise ``auto`` within the job's GPU subset (:func:`job_envs`: every subset alike), or 1 on
    a machine without GPUs."""
    if jobs == 1:
        return choose_processes(num_processes)
    gpus = visible_gpus()
    return max(1, gpus // jobs)


def notebook_jobs(count: int) -> int:
    """Analysis notebooks side by side: up to one per CPU core (each kernel is single-threaded report work)."""
    return max(1, min(count, os.cpu_count() or 1))


def job_envs(jobs: int, memory_per_run: int = MEMORY_PER_SHARED_RUN) -> list[dict]:
    """One environment per parallel job: a disjoint GPU subset each, all of one size, or, with more jobs than GPUs,
    one GPU each shared round-robin (k runs on a GPU, after NVML says each of them finds ``memory_per_run`` free
    there); on a machine without GPUs a CPU-thread share each."""
    gpus = visible_gpus()
    ids = visible_gpu_ids(gpus)
    if gpus and jobs > gpus:
        check_shared_memory(ids, runs_per_gpu(jobs, gpus), memory_per_run)
    envs = []
    for j in range(jobs):
        env = dict(os.environ)
        if gpus:
            # as many GPUs to each job (those left over idle): a run's GPU count sets its global batch and lr,
            # so a job with one more would train its runs to another result than its neighbours'
            env["CUDA_VISIBLE_DEVICES"] = ",".join(ids[j::jobs][:gpus // jobs]) if jobs <= gpus else ids[j % gpus]
        elif jobs > 1:
            env[THREADS_ENV] = str(thread_share(jobs))
        envs.append(env)
    return envs


def check_shared_memory(ids: list[str], runs: int, memory_per_run: int) -> None:
    """Refuse, before any run starts, to put ``runs`` runs on a GPU whose free memory cannot hold them."""
    from .devices import gpu_memory
    memory = gpu_memory(ids)
    if memory is None:
        return  # NVML cannot say (MIG instances): the runs find out themselves
    gib = 2**30
    for gpu, (free, total) in memory.items():
        if free < runs * memory_per_run:
            raise ConfigError(f"{runs} runs per GPU need {runs * memory_per_run / gib:.1f} GiB free on GPU {gpu} "
                              f"({memory_per_run / gib:.1f} GiB each); it has {free / gib:.1f} of {total / gib:.1f} "
                              f"GiB free. Use fewer jobs (at most {max(1, free // memory_per_run) * len(ids)}) "
                              f"or free the GPU")


@functools.cache
def _engine() -> str:
    """papermill's nbclient engine on a kernel the caller starts and keeps (``KernelSlot``), registered on first
    use (papermill is imported only when a notebook runs)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    class KeptKernelEngine(NBClientEngine):
        """nbclient on the caller's kernel. nbclient leaves a kernel it does not own running, and its client's
        channels open (a heartbeat thread each): they are closed here after every notebook."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, km=None,
                                     log=None, **_):
            client = PapermillNotebookClient(nb_man, km=km, kernel_name=kernel_name, log=log or papermill_logger,
                                             log_output=log_output, stdout_file=stdout_file,
                                             stderr_file=stderr_file, startup_timeout=start_timeout,
                                             timeout=execution_timeout)
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()

    from papermill.log import logger as papermill_logger
    papermill_engines.register("cifar100lab", KeptKernelEngine)
    return "cifar100lab"

def _local_sockets() -> dict:
    """Unix sockets (ipc) named after a connection file of their own: the kernel is on this machine, ipykernel
    warns about unencrypted TCP on every start, and without their own name kernels started side by side in one
    folder would race for ``kernel-ipc-N``. TCP where the socket path would pass the Unix limit (108 bytes)."""
    from jupyter_core.paths import jupyter_runtime_dir
    connection_file = Path(jupyter_runtime_dir()) / f"kernel-{uuid.uuid4().hex[:12]}.json"
    if len(str(connection_file)) > 90:
        return {}
    connection_file.parent.mkdir(parents=True, exist_ok=True)
    return {"transport": "ipc", "connection_file": str(connection_file)}


class KernelSlot:
    """Where one job's notebooks execute: papermill in this process, on a kernel started with the job's
    environment (its GPU subset or CPU-thread share).

    With ``keep`` the kernel stays up for the job's next notebook. A quick run trains for seconds, and a fresh
    kernel's start and imports (torch, timm, accelerate) cost seconds of CPU each time; a kept kernel pays
    them once per job. After a failure, or when the kernel died, the next notebook gets a fresh kernel.
    ``execute`` returns papermill's exit status (0 or 1) and the tail of the error."""

    def __init__(self, env: dict, keep: bool = False, kernel_log: Path | None = None):
        # kernel_log: the kernel process's own output (start-up warnings, a crash's last words); the notebook's
        # streams go to each notebook's log
        self.env, self.keep, self.kernel_log, self._km = env, keep, kernel_log, None
        self.killed = False  # by kill(): the notebook did not fail, it was stopped

    def _kernel(self):
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync
        if self._km is not None and not run_sync(self._km.is_alive)():
            self.close()
        if self._km is None:
            self._km = AsyncKernelManager(kernel_name="python3", **_local_sockets())
            if self.kernel_log:
                self.kernel_log.parent.mkdir(parents=True, exist_ok=True)
            # The child keeps its own copy of the log's descriptor; without a log it inherits ours.
            with open(self.kernel_log, "ab") if self.kernel_log else contextlib.nullcontext() as out:
                run_sync(self._km.start_kernel)(env=self.env, cwd=os.getcwd(), stdout=out, stderr=out)
        if self.killed:  # stopped while this kernel started: it must not outlive the campaign
            self.kill()
            raise KeyboardInterrupt("stopped before the notebook began")
        return self._km

    def execute(self, notebook: Path, target: Path, params: dict, log_stem: Path) -> tuple[int, str]:
        """The notebook with ``params``, into ``target``; its parameters, streams and error beside ``log_stem``."""
        import papermill
        target.parent.mkdir(parents=True, exist_ok=True)
        log_stem.with_name(log_stem.name + ".params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True),
                                                                       encoding="utf-8")
        code, tail = 0, ""
        with open(log_stem.with_name(log_stem.name + ".log"), "w", encoding="utf-8") as log:
            try:
                papermill.execute_notebook(str(notebook), str(target), parameters=params, kernel_name="python3",
                                           engine_name=_engine(), km=self._kernel(), progress_bar=False,
                                           stdout_file=log, stderr_file=log, log=_SilentOnceKilled(self))
            except Exception as e:  # the notebook's own error, a dead kernel, a kernel that would not start
                if self.killed:  # stopped from another thread (Ctrl-C, a stop signal): no failure to record
                    raise KeyboardInterrupt(f"{notebook.name}: its kernel was stopped") from None
                code, tail = 1, f"{type(e).__name__}: {e}".rstrip() + "\n"
                log.write(tail)
            except BaseException:  # interrupted: Ctrl-C, or submitit's exit on a scheduler's preemption signal
                self.kill()
                raise
        if code or not self.keep:
            self.close()
        return code, tail[-2000:]

    def kill(self) -> None:
        """Stop the kernel, and the workers it launched, now; from any thread. The kernel leads a session of
        its own, so a terminal's Ctrl-C or a scheduler's signal to the campaign's process group misses it."""
        self.killed = True
        process = getattr(getattr(self._km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):  # gone before anyone writes what it wrote last
                process.wait(timeout=10)

    def close(self) -> None:
        from jupyter_core.utils import run_sync
        km, self._km = self._km, None
        if km is not None:
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # already gone
                pass


class _SilentOnceKilled(logging.LoggerAdapter):
    """papermill's logger for a slot's notebook, silent once the slot is killed: nbclient, still waiting in the
    job's thread, would then log the kernel's death after the stop's one line, though the stop killed it."""

    def __init__(self, slot: KernelSlot):
        super().__init__(logging.getLogger("papermill"), {})
        self.slot = slot

    def isEnabledFor(self, level) -> bool:  # noqa: N802 -- logging's name
        return not self.slot.killed and super().isEnabledFor(level)


def keep_kernels(num_processes) -> bool:
    """Whether a job keeps its kernel between runs: only where each run trains inside the kernel on the CPU.
    A GPU run, or a launch that forks workers (whose parent must be untouched by CUDA and Accelerate), starts
    from a fresh kernel, as the GPU checks were run."""
    return not visible_gpus() and choose_processes(num_processes) == 1


STOP_GRACE_SECONDS = 10  # how long a stop waits for the job threads to finish with their killed kernels


def run_in_slots(items: list, slots: list[KernelSlot], work, stopped=None) -> None:
    """One thread per slot (a kernel client is tied to its thread's event loop), calling ``work(item, slot)`` on
    the next item until none is left or the caller is interrupted; each slot's kernel is shut down when its
    thread ends. When the caller is interrupted, ``stopped(item)`` is called for each item under way, once its
    kernel is gone."""
    pending: queue.Queue = queue.Queue()
    for item in items:
        pending.put(item)
    stop = threading.Event()
    under_way: dict[int, object] = {}

    def job(index: int, slot: KernelSlot) -> None:
        try:
            while not stop.is_set():
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    return
                under_way[index] = item
                work(item, slot)
                under_way.pop(index, None)
        except KeyboardInterrupt:  # its kernel was killed because the caller was interrupted: the caller reports it
            pass
        finally:
            slot.close()
            job_ended[index].set()

    job_ended = [threading.Event() for _ in slots]
    threads = [threading.Thread(target=job, args=(i, slot), daemon=True) for i, slot in enumerate(slots)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    except BaseException:  # interrupted (Ctrl-C, a stop signal): the jobs take nothing new, and their kernels stop now
        stop.set()
        for slot in slots:
            slot.kill()
        # The jobs' own handling of the stop (a tune trial marked interrupted, so the next tune retries it) ends
        # before this process may exit and before the records say where each run stopped.
        # (Their ends are events: a Thread.join that Ctrl-C interrupted returns at once when called again.)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for t, ended in zip(threads, job_ended):
            if t.ident is not None:
                ended.wait(max(0.0, deadline - time.monotonic()))
        for item in list(under_way.values()) if stopped else ():
            stopped(item)
        raise
