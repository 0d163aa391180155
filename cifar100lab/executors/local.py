"""The local executor: a campaign's runs as papermill jobs on this machine. Finished runs are skipped,
interrupted ones resume from their checkpoint, failures are recorded and do not stop the others; complete runs
whose recorded config differs from what the campaign asks now are reported as stale (re-run with ``force``).

One campaign per runs folder: a process holds OS locks on the campaign (for the manifest, the timing record and
the analysis) and on each run it runs; a second process on the same campaign skips what the first holds, and
runs that a live Slurm job of the campaign will train (queued, it holds no run lock yet) are left to it.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from .. import locks, records
from ..campaign import Campaign, write_manifest
from ..config_files import ConfigError
from ..data import dataset_entry
from ..devices import gpu_names, visible_gpu_ids, visible_gpus
from ..kernels import (
    MEMORY_PER_SHARED_RUN,
    KernelSlot,
    campaign_jobs,
    job_envs,
    keep_kernels,
    notebook_jobs,
    processes_per_run,
    run_in_slots,
)
from ..launch import choose_processes, torch_threads
from ..runs import (
    NOTEBOOKS,
    Run,
    attempts_so_far,
    execute_notebook,
    record_outcome,
    record_stopped,
    restore_damaged_metrics,
    run_lock,
    skipped_offline,
    skipped_under_other_settings,
    stale_fields,
    stale_groups,
    stale_note,
    status_of,
    unresumable_fields,
    unresumable_note,
)
from ..step_graph import launch_conflict
from .slurm_jobs import SlurmError, alive, job_states, recorded_jobs


class CannotStart(RuntimeError):
    """The campaign's folder cannot be written (disk full, read-only, not ours); nothing was started."""

    def __init__(self, folder: Path, error: OSError):
        super().__init__(f"cannot write the campaign folder {folder}: {error.strerror or error}; free space there or "
                         f"choose another --runs-root (nothing was started)")


def campaign_lock(campaign: Campaign, runs_root: str | os.PathLike) -> Path:
    return Path(runs_root) / campaign.name / locks.LOCKS / "campaign.lock"


def runs_to_do(campaign: Campaign, force: bool, done: set[str], summary: dict, log) -> list[Run]:
    """The runs to execute; done ones go to ``already``, complete ones whose config changed to ``stale``."""
    todo, stale_by_run = [], {}
    for run in campaign.runs:
        try:
            stale = [] if force else stale_fields(run)
        except records.RecordError as e:  # this run is reported; the others go on
            summary["damaged"].append(run.run_id)
            log(f"{run.run_id}: damaged, not run: {e} (--force moves the run folder aside and re-runs it)")
            continue
        if stale:
            summary["stale"].append(run.run_id)
            stale_by_run[run.run_id] = stale
        elif not force and status_of(run) in done and not skipped_under_other_settings(run):
            restore_damaged_metrics(run, log)
            summary["already"].append(run.run_id)
        elif not force and (changed := unresumable_fields(run)):  # the trainer would refuse it in its notebook
            summary["unresumable"].append(run.run_id)
            log(unresumable_note(run.run_id, changed))
        else:
            todo.append(run)
    for changed, run_ids in stale_groups(stale_by_run).items():  # one line per change, not per run
        log(f"stale, not re-run: {stale_note(changed, run_ids)}")
    return todo


def leave_to_slurm(campaign: Campaign, runs_root, todo: list[Run], force: bool, summary: dict, log) -> list[Run]:
    """``todo`` less the runs a live Slurm job will train (a queued job holds no run lock yet), each named and
    listed as ``slurm``. Live is what Slurm says, not the record: a job cancelled or failed while queued blocks
    nothing. ``force`` is refused for them, as the job would still train the run over this one. Where Slurm
    cannot be asked, the jobs are named and their runs trained here: a job long gone must not block them."""
    try:
        jobs = recorded_jobs(campaign, runs_root, todo)
        states = job_states(sorted(set(jobs.values())), then="")
    except records.RecordError as e:  # only the Slurm executor needs slurm.json whole
        log(f"warning: {e}; cannot tell which runs Slurm jobs will train, so every run to do is trained here")
        return todo
    except SlurmError as e:
        log(f"warning: Slurm job(s) {', '.join(sorted(set(jobs.values())))} of runs to do cannot be checked: {e} "
            f"Their runs are trained here; if a job is still queued or running, `scancel` it, or it trains its "
            f"run again")
        return todo
    live = {rid: (job, states[job].lower()) for rid, job in jobs.items() if alive(states.get(job))}
    if force and live:
        raise ConfigError(f"--force would train {len(live)} run(s) here that live Slurm jobs will train too ("
                          + "; ".join(f"{rid}: job {job}, {state}" for rid, (job, state) in live.items())
                          + f"); `scancel {' '.join(sorted({job for job, _ in live.values()}))}` first, then run "
                          f"again (nothing was started)")
    for rid, (job, state) in live.items():
        log(f"{rid}: left to Slurm job {job} ({state}), not run here (`scancel {job}` first to run it here)")
    summary["slurm"] = list(live)
    return [r for r in todo if r.run_id not in live]


def refuse_both_flags(jobs, runs_per_gpu) -> None:
    if jobs is not None and runs_per_gpu is not None:
        raise ConfigError("give --jobs (runs side by side in all) or --runs-per-gpu (runs sharing each GPU), not both")


def side_by_side(campaign: Campaign, jobs=None, runs_per_gpu: int | None = None) -> tuple[int, bool]:
    """How many runs go side by side, and whether they share GPUs (one GPU to a run): ``--jobs`` or
    ``--runs-per-gpu``, else the campaign's ``jobs`` or ``runs_per_gpu`` (the command line wins over the file)."""
    refuse_both_flags(jobs, runs_per_gpu)
    flag = "--runs-per-gpu" if runs_per_gpu is not None else "--jobs" if jobs is not None else None
    if flag is None:
        jobs, runs_per_gpu = campaign.jobs, campaign.runs_per_gpu
    return campaign_jobs(jobs, runs_per_gpu, flag or campaign.path or campaign.name), runs_per_gpu is not None


def run_processes(campaign: Campaign, jobs: int, shared: bool) -> int | str:
    """Each run's num_processes: the campaign's with one job at a time; several jobs, or runs sharing GPUs, each
    ``auto`` on its own GPUs. Checked against this machine's GPUs or CPUs, so a count it cannot start is refused
    before anything is written rather than by the first run."""
    nproc = campaign.num_processes if jobs == 1 and not shared else "auto"
    try:
        choose_processes(nproc)
    except ConfigError as e:
        raise ConfigError(f"{campaign.path or campaign.name}: {e}") from None
    return nproc


def shared_run_memory(campaign: Campaign, todo: list[Run]) -> int:
    """GPU memory each run sharing a GPU must find free: the largest peak that the campaign's ``executor:
    epoch_times`` record (``bench --campaign`` on a GPU) measured for a run to do, and at least
    :data:`MEMORY_PER_SHARED_RUN`, which a small network needs (a 224-px fine-tune needs far more)."""
    if not campaign.executor.epoch_times:
        return MEMORY_PER_SHARED_RUN
    bench = records.read_json(campaign.executor.epoch_times)
    peak = {rid: n.get("peak_memory_bytes") or 0 for n in bench.get("networks", []) for rid in n["runs"]}
    return max([MEMORY_PER_SHARED_RUN, *(peak.get(r.run_id, 0) for r in todo)])


def refuse_graphs_that_cannot_run(todo: list[Run], jobs: int, num_processes) -> None:
    """One error before any run starts, rather than every ``cuda_graph: true`` run failing in its notebook: no
    GPU here, or more than one process to a run."""
    graphed = [r.run_id for r in todo if r.config.cuda_graph]
    if graphed and (why := launch_conflict(visible_gpus(), processes_per_run(jobs, num_processes))):
        named = ", ".join(graphed[:3]) + (f" and {len(graphed) - 3} more" if len(graphed) > 3 else "")
        raise ConfigError(f"{why} ({len(graphed)} run(s) to do ask for it: {named}; nothing was started)")


# A killed campaign's kernel runs in a session of its own, so the kill misses it; ipykernel's poller ends it
# within about a second of seeing its parent gone, and a campaign started again at once waits that long for it.
ORPHAN_GRACE_S = 10.0


def _trainer(run: Run) -> str | None:
    """Who trains ``run`` now (a Slurm job, a notebook), after waiting out a killed campaign's kernel."""
    path = run.run_dir / locks.TRAINING_LOCK
    if holder := locks.holder(path):
        deadline = time.monotonic() + ORPHAN_GRACE_S
        while (holder := locks.holder(path)) and time.monotonic() < deadline:
            time.sleep(0.5)
    return holder


def _attempt(run: Run, force: bool, done: set[str], execute_run) -> str:
    """One run, under its lock: re-checked (another process may have finished it meanwhile, perhaps with other
    settings: stale, not this campaign's result), then executed."""
    if not force and status_of(run) in done and not skipped_under_other_settings(run):
        return "stale" if stale_fields(run) else "already"
    if trainer := _trainer(run):  # a Slurm job, a notebook: its record stays theirs
        raise locks.Locked(run.run_dir / locks.TRAINING_LOCK, trainer)
    if force and run.run_dir.exists():  # keep what was there: move it aside, never delete it
        run.run_dir.rename(records.moved_aside(run.run_dir))
    before = attempts_so_far(run)
    if skipped_offline(run):
        run.notebook.unlink(missing_ok=True)  # an earlier attempt's page would show results it no longer has
        return "skipped"
    code, tail = execute_run(run)
    return record_outcome(run, code, tail, before)


def execute(campaign: Campaign, runs_root: str | os.PathLike = "runs", notebook: str | os.PathLike | None = None,
            force: bool = False, retry_skipped: bool = False, jobs: int | None = None, runs_per_gpu: int | None = None,
            log=print) -> dict:
    """Execute every run not already done; returns {status: [run ids]}, with ``stale`` (complete runs whose
    config changed, not re-run without ``force``), ``locked`` (runs another campaign process holds) and ``slurm``
    (runs a live Slurm job will train).

    This process holds the campaign's lock (for the manifest) and each run's lock while it runs it. A second
    process on the same campaign runs only what nobody holds and reports the rest as ``locked``. The locks are
    OS locks, gone with their process, so a killed campaign leaves none behind."""
    notebook = Path(notebook or NOTEBOOKS / "train.ipynb")
    jobs, shared = side_by_side(campaign, jobs, runs_per_gpu)
    done = {"complete"} | (set() if retry_skipped else {"skipped"})
    log_dir = Path(runs_root) / campaign.name / "logs"
    nproc = run_processes(campaign, jobs, shared)
    per_run = processes_per_run(jobs, nproc)
    for run in campaign.runs:  # a complete run trained on another count is stale (manifest and runs to do alike)
        run.processes = per_run
    asked = campaign.num_processes  # full.yaml's 8 GPUs × 128 is the original's protocol; --jobs 8 is not
    if nproc == "auto" and str(asked).isdecimal() and int(asked) not in (0, per_run):
        log(f"campaign {campaign.name}: num_processes: {asked} gives way to {jobs} runs side by side: each trains on "
            f"{per_run} process(es), so its global batch is batch_size × {per_run}, not × {asked} as the file asks "
            f"(another protocol: the book sets such runs beside the original's claims without subtracting them)")

    def attempt(run: Run, slot: KernelSlot) -> str:
        return _attempt(run, force, done, lambda r: execute_notebook(r, notebook, slot, log_dir, nproc))

    summary = {"complete": [], "skipped": [], "failed": [], "already": [], "stale": [], "locked": [], "damaged": [],
               "unresumable": [], "slurm": []}
    with contextlib.ExitStack() as held:
        owner = False  # of the campaign's lock, hence of its manifest and timing record
        try:
            held.enter_context(locks.lock(campaign_lock(campaign, runs_root)))
            write_manifest(campaign, runs_root)
            owner = True
        except locks.Locked as e:
            log(f"campaign {campaign.name}: another campaign process holds it ({e.holder}); the runs it holds "
                f"are skipped here (reported as locked)")
        except OSError as e:  # a full disk, a read-only or foreign folder: found before any run starts
            raise CannotStart(Path(runs_root) / campaign.name, e) from None
        todo = runs_to_do(campaign, force, done, summary, log)
        todo = leave_to_slurm(campaign, runs_root, todo, force, summary, log)  # held: no submission comes after
        refuse_graphs_that_cannot_run(todo, jobs, nproc)
        skipped_before = sum(status_of(r) == "skipped" for r in campaign.runs if r.run_id in summary["already"])
        log(f"campaign {campaign.name}: {len(campaign.runs)} runs on {dataset_entry(campaign.dataset).label['en']}; "
            f"{len(summary['already'])} already done"
            + (f" ({skipped_before} of them skipped for want of pretrained weights: --retry-skipped tries again)"
               if skipped_before else "") + f", {len(todo)} to run"
            + (f", {len(summary['stale'])} stale (kept: --force re-runs them)" if summary["stale"] else ""))
        started, clock = records.now(), records.Timer()
        # The kernels' own logs are the campaign lock holder's; another process's kernels log beside them
        # under its pid, so it never writes a file the holder writes.
        kernel_logs = "kernel-job" if owner else f"kernel-pid{os.getpid()}-job"
        seconds = _run_parallel(todo, jobs, attempt, summary, log, keep_kernels(nproc), log_dir, kernel_logs,
                                shared_run_memory(campaign, todo))
        if todo and owner:
            write_timing(campaign, runs_root, started, clock(), jobs, seconds, summary)
            # a run another process completed meanwhile under other settings is stale: the book leaves it out
            write_manifest(campaign, runs_root)
    return summary


def write_timing(campaign: Campaign, runs_root, started: str, wall_seconds: float, jobs: int,
                 seconds: dict[str, float], summary: dict) -> Path:
    """The record of this invocation's wall time (the book's Performance page shows it): when, how long, on what,
    how many runs side by side, and each executed run's time from its start to its record."""
    status = {rid: s for s, rids in summary.items() for rid in rids}
    path = Path(runs_root) / campaign.name / records.TIMING
    gpus = visible_gpus()
    records.atomic_write_json(path, {
        "campaign": campaign.name, "source": campaign.path, "dataset": campaign.dataset, "started": started,
        "finished": records.now(), "wall_seconds": wall_seconds, "jobs": jobs, "cpu": records.cpu_name(),
        "cpus": os.cpu_count(), "gpus": gpus, "device": timing_device(gpus), "already_done": len(summary["already"]),
        "runs": [{"run_id": rid, "status": status.get(rid), "seconds": s} for rid, s in seconds.items()]})
    return path


def timing_device(gpus: int) -> str | None:
    """The device the runs trained on, named as a benchmark record names its own (``records.device_name``), so the
    Performance page sets an estimate beside this campaign's times only when both are of one device: the first
    GPU's name (NVML: a campaign process never starts CUDA), or the CPU's; None where NVML cannot say."""
    if not gpus:
        return records.device_name("cpu")
    first = visible_gpu_ids(gpus)[:1]
    return (gpu_names(first) or {}).get(first[0]) if first else None


# What a run ends as without executing its notebook: it took no time, so it says nothing of the pace.
UNTIMED = {"already", "stale", "skipped", "locked", "damaged"}


def eta_note(elapsed: float, timed: int, remaining: int) -> str:
    """' (ETA 3.2 min)' at the pace of the runs that executed their notebooks so far; nothing before the first of
    them ends (a quick campaign's first runs are fine-tunes skipped offline, which promised the rest in 0.2 min)
    or once none remain."""
    if not timed or not remaining:
        return ""
    return f" (ETA {elapsed / timed * remaining / 60:.1f} min)"


def _run_parallel(todo: list[Run], jobs: int, attempt, summary: dict, log, keep: bool = False,
                  log_dir: Path | None = None, kernel_logs: str = "kernel-job",
                  memory_per_run: int = MEMORY_PER_SHARED_RUN) -> dict[str, float]:
    """``jobs`` runs side by side, each job with its own environment (GPU subset or CPU-thread share, a shared
    GPU checked for ``memory_per_run`` free per run) and kernel (its output in ``log_dir/<kernel_logs><job>.log``);
    every run under its run lock. Returns each run's seconds from its start to its end."""
    started, count, timed, seconds, tally = time.time(), [0], [0], {}, threading.Lock()

    def attempt_and_count(run: Run, slot: KernelSlot) -> None:
        t0 = time.time()
        try:
            with locks.lock(run_lock(run)):
                status = attempt(run, slot)
        except locks.Locked as e:
            status = "locked"
            who = "another process is training it" if e.path.name == locks.TRAINING_LOCK else \
                "another campaign process is running it"
            log(f"{run.run_id}: locked, skipped: {who} ({e.holder})")
        except records.RecordError as e:  # damaged since the runs to do were chosen: reported, the others go on
            status = "damaged"
            log(f"{run.run_id}: damaged: {e}")
        except OSError as e:  # e.g. the disk filled up: the run's record could not say so; the other runs go on
            status = "failed"
            log(f"{run.run_id}: failed, and its folder could not be written: {e}")
        with tally:
            summary.setdefault(status, []).append(run.run_id)
            seconds[run.run_id] = time.time() - t0
            count[0] += 1
            timed[0] += status not in UNTIMED
            log(f"[{count[0]}/{len(todo)}] {run.run_id}: {status} in {seconds[run.run_id]:.0f}s"
                + eta_note(time.time() - started, timed[0], len(todo) - count[0]))

    run_in_slots(todo, [KernelSlot(env, keep, log_dir and log_dir / f"{kernel_logs}{i}.log")
                        for i, env in enumerate(job_envs(jobs, memory_per_run))], attempt_and_count,
                 stopped=record_stopped)
    return {r.run_id: seconds[r.run_id] for r in todo if r.run_id in seconds}


def analyse(campaign: Campaign, runs_root: str | os.PathLike = "runs", book_dir: str | os.PathLike = "book",
            log=print) -> None:
    """Execute the analysis notebook (tables, figures, rendered prose) and one notebook per ablation study on
    this machine, whichever executor trained the runs, under the campaign's lock: while another campaign process
    holds it, its analysis is left to it."""
    try:
        with locks.lock(campaign_lock(campaign, runs_root)):
            _analyse(campaign, runs_root, Path(book_dir) / "generated", log)
    except locks.Locked as e:
        log(f"analysis skipped: another campaign process holds campaign {campaign.name} ({e.holder})")


def robustness_step(campaign: Campaign, runs_root: str | os.PathLike, log=print) -> int:
    """The robustness step on the campaign's folder. On a CPU-only machine it runs in this process, which has
    already imported everything it needs (a process of its own would pay those imports again, more than the
    quick campaign's whole step); with a GPU it is ``python -m cifar100lab robustness`` in a process of its
    own, so the campaign process makes no CUDA call. A failure is logged; the book then shows those runs
    without robustness numbers."""
    import torch
    folder = Path(runs_root) / campaign.name
    log_path = folder / "logs" / "robustness.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if torch.cuda.is_available():
        with open(log_path, "w", encoding="utf-8") as out:
            command = [sys.executable, "-m", "cifar100lab", "robustness", str(folder), "--no-book"]
            code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
    else:
        code = _robustness_here(folder, log_path)
    log(f"robustness: {'done' if code == 0 else f'failed (exit {code})'}; log: {log_path}")
    return code


def _robustness_here(folder: Path, log_path: Path) -> int:
    """The step in this process, on half the cores (one of two): its batches of small images gain little from
    more threads, and on a busy machine idle threads spin, costing CPU time the runs beside it need."""
    from ..robustness.analyse import analyse_campaign
    with open(log_path, "w", encoding="utf-8") as out, torch_threads(max(1, (os.cpu_count() or 2) // 2)):
        def write(line: str) -> None:
            print(line, file=out, flush=True)
        try:
            summary = analyse_campaign(folder, log=write)
        except Exception as e:  # noqa: BLE001 -- the book is still built; the log says what went wrong
            write(f"robustness step failed: {type(e).__name__}: {e}")
            return 1
    return 1 if summary.get("failed") else 0


def _analyse(campaign: Campaign, runs_root: str | os.PathLike, out: Path, log=print) -> None:
    """The analysis notebook and one per study, side by side (each kernel does single-threaded report work).
    The robustness step runs beside the study notebooks (they do not read its results; on a CPU it keeps one
    core), and the analysis notebook, whose robustness page does, starts when it has finished."""
    out.mkdir(parents=True, exist_ok=True)
    robustness = None
    if campaign.robustness is not None:
        robustness = threading.Thread(target=robustness_step, args=(campaign, runs_root, log), daemon=True)
        robustness.start()
    common = {"campaign": campaign.name, "runs_root": os.path.relpath(runs_root),  # no machine paths in the book
              "out_dir": os.path.relpath(out)}
    books = [("ablation.ipynb", f"ablation-{s.name}.ipynb", {**common, "study": s.name}) for s in campaign.studies]
    books += [("analysis.ipynb", "analysis.ipynb", common)]
    log_dir = Path(runs_root) / campaign.name / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    failed = []

    def execute_book(book, slot: KernelSlot) -> None:
        source, target, params = book
        if source == "analysis.ipynb" and robustness is not None:
            robustness.join()
        code, tail = slot.execute(NOTEBOOKS / source, out / target, params, log_dir / Path(target).stem)
        if code:
            failed.append((target, tail))

    # Report work only (no CUDA, no fork), so each job keeps its kernel: the imports are paid once per job.
    run_in_slots(books, [KernelSlot(dict(os.environ), True, log_dir / f"kernel-analysis{i}.log")
                         for i in range(notebook_jobs(len(books)))], execute_book)
    if failed:
        raise RuntimeError("analysis failed: " + "; ".join(f"{t}: {tail.strip().splitlines()[-1] if tail.strip() else '?'}"
                                                          for t, tail in failed))
    log(f"analysis written to {out}")
