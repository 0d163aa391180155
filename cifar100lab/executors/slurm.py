"""Campaigns on a Slurm cluster through submitit: each run is one Slurm job (one job array per submission).

Inside a job the unit is the same as on one machine: papermill executes ``notebooks/train.ipynb`` into
``book/runs/<run>.ipynb`` (:func:`cifar100lab.runs.execute_notebook`), so notebooks and run records come out
exactly as with the local executor. The repository, the runs root, the book and the data are assumed to be on shared storage.

- ``runs/<campaign>/slurm.json`` maps every submitted run to its job ids; it is written atomically under a
  lock, and a run is never submitted while a job for it is alive.
- A run's state comes from Slurm (``squeue``; ``sacct`` where accounting is on) and its run record:
  queued / running while a job is alive, else the record's complete / failed / skipped / interrupted; a job
  cancelled while pending (no record) is new again, any other job gone without a final record is failed.
  Interrupted runs (``scancel``: the job records where it stopped) are submitted again like new ones and resume
  from their checkpoint; failed runs only with ``--retry-failed``.
- Preemption and time limits: Slurm sends SIGUSR2 ahead of either, submitit calls :meth:`RunJob.checkpoint`
  and requeues the job; the trainer checkpoints every epoch, so the requeued job resumes from ``run_dir``.
  ``record["slurm"]["requeues"]`` counts the restarts.
- ``nodes: N > 1``: every node's task starts ``accelerate launch -m cifar100lab train`` with the rendezvous
  taken from the Slurm environment (:func:`accelerate_command`); node 0 then renders the notebook, which shows
  the record that launch left (:data:`cifar100lab.launch.RENDER_ONLY_ENV`) and trains nothing.

YAML (``executor:``) keys are :class:`cifar100lab.config.ExecutorConfig`'s; ``--partition`` etc. override them.
"""
from __future__ import annotations

import io
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from pathlib import Path

from .. import locks, records
from ..campaign import Campaign, write_manifest
from ..config import ConfigError, ExecutorConfig
from ..kernels import KernelSlot, Stopped, raise_stopped
from ..launch import RENDER_ONLY_ENV
from ..runs import (
    TRAIN_SKIPPED,
    Run,
    attempts_so_far,
    execute_notebook,
    record_outcome,
    record_stopped,
    skipped_under_other_settings,
    stale_fields,
    status_of,
    unresumable_fields,
    unresumable_note,
)
from ..step_graph import launch_conflict
from .local import campaign_lock
from .slurm_jobs import STARTED, SlurmError, alive, job_states, last_line, locked, query, read_state, state_path

STOPPED_WAIT_S = 300  # after SIGTERM: longer than any KillWait, so preemption's SIGUSR2 or scancel's SIGKILL ends the job
STOPPED = {"CANCELLED", "PREEMPTED"}  # somebody (or the scheduler) stopped the job: its run resumes, as after Ctrl-C
# submitit counts an interrupt as a time-out when the limit is short, and time-outs are
# capped (3 requeues), so a computed limit is never shorter.
MIN_TIME_MIN = 60
DEFAULT_TIME_MIN = 24 * 60
START_UP_MIN = 10  # kernel, imports, data and model before the first epoch


def time_limit_min(runs: list[Run], executor: ExecutorConfig, gpus: int) -> int:
    """The job's time limit: given, or the bench's epoch time × epochs × margin over the processes."""
    if executor.time_min:
        return executor.time_min
    if not executor.epoch_times:
        return DEFAULT_TIME_MIN
    bench = records.read_json(executor.epoch_times)
    epoch_s = {rid: n["epoch_seconds"] for n in bench.get("networks", []) for rid in n["runs"]}
    missing = [r.run_id for r in runs if r.run_id not in epoch_s]
    if missing:
        raise ConfigError(f"{executor.epoch_times} has no epoch time for {', '.join(missing[:3])}"
                          f"{' …' if len(missing) > 3 else ''}; time it with `bench --campaign` or set time_min")
    processes = max(1, gpus) * executor.nodes  # the bench timed one process
    seconds = max(epoch_s[r.run_id] * r.config.epochs for r in runs) * executor.time_margin / processes
    return max(MIN_TIME_MIN, START_UP_MIN + math.ceil(seconds / 60))


def accelerate_command(run_file: str | os.PathLike, executor: ExecutorConfig, gpus: int, job_env=None) -> tuple[list, dict]:
    """The command and environment one node's task starts for a multi-node run (rendezvous on node 0)."""
    import submitit
    env = job_env or submitit.JobEnvironment()
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
           "--num_machines", str(env.num_nodes), "--machine_rank", str(env.node),
           "--main_process_ip", env.hostnames[0], "--main_process_port", str(executor.port),
           "--num_processes", str(env.num_nodes * gpus), "-m", "cifar100lab", "train", str(run_file)]
    return cmd, {**os.environ, "NUM_NODES": str(env.num_nodes)}


# a stopped run's reason: "stopped {this} in epoch …"
STOPPED_BY_SLURM = "by Slurm (its job was cancelled, preempted or reached its time limit)"


@dataclass
class RunJob:
    """What one Slurm job executes: the run's notebook, as the local executor does."""
    run: Run
    notebook: str
    log_dir: str
    cwd: str
    executor: ExecutorConfig
    gpus: int

    def __call__(self) -> str:
        import submitit
        os.chdir(self.cwd)
        threads_from_slurm()
        job_env = submitit.JobEnvironment()
        attempts_before = attempts_so_far(self.run)
        if self.executor.nodes == 1:
            status = self._notebook("auto")  # on every GPU Slurm gave the job
        else:
            cmd, env = accelerate_command(run_file(self.run, self.log_dir), self.executor, self.gpus, job_env)
            before = attempts_so_far(self.run)
            code = subprocess.run(cmd, env=env).returncode
            if job_env.global_rank != 0:
                return "worker"
            # node 0 renders the notebook from the finished record (nothing is trained or recorded again), also
            # for a run skipped for want of its weights (exit 3): its page says why
            status = (self._notebook(1) if code in (0, TRAIN_SKIPPED)
                      else record_outcome(self.run, code, f"accelerate launch exited with {code}", before))
        note_job(self.run.run_dir, job_env, attempts_before)
        if status == "failed":  # the job fails too, so Slurm's accounting agrees with the record
            raise RuntimeError(f"{self.run.run_id} failed: {(records.load(self.run.run_dir) or {}).get('reason')}")
        return status

    def _notebook(self, num_processes) -> str:
        before = attempts_so_far(self.run)
        # the record says where a cancelled run stopped, so the next submission resumes it as it would a new
        # run, rather than reading a vanished job as failed
        # a multi-node run was trained by `accelerate launch` on every node: its notebook only shows the record
        render_only = self.executor.nodes > 1
        env = {**os.environ, **({RENDER_ONLY_ENV: "1"} if render_only else {})}
        with stopped_by_slurm(lambda: record_stopped(self.run, STOPPED_BY_SLURM, "submitting the campaign again")):
            code, tail = execute_notebook(self.run, Path(self.notebook), KernelSlot(env),
                                          Path(self.log_dir), num_processes)
        if render_only and code != 0:  # only its page failed (a kernel that died): the launch's record stands
            why = last_line(tail) or f"exit status {code}"
            print(f"{self.run.run_id}: its notebook page could not be made ({why}); the run's record is as the launch "
                  f"left it", file=sys.stderr)
            return status_of(self.run) or "failed"
        return record_outcome(self.run, code, tail, before)

    def checkpoint(self, *args, **kwargs):
        # The trainer checkpoints every epoch in run_dir, so requeuing the same call resumes the run.
        import submitit
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


@contextmanager
def stopped_by_slurm(on_stop=lambda: None):
    """Within, in a job: scancel's SIGTERM (which submitit ignores) raises :class:`Stopped`, so the job's kernels,
    each in a session of its own that Slurm's signals miss, are killed on the way out and every run keeps its last
    checkpoint; then ``on_stop()`` records the stop, and the job waits for Slurm to end it."""
    previous = signal.signal(signal.SIGTERM, raise_stopped)
    try:
        yield
    except Stopped:
        on_stop()
        # A preemption follows SIGTERM with submitit's SIGUSR2 (it requeues the job), scancel with SIGKILL
        # after Slurm's KillWait: wait for either rather than end the job as if its work had finished.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(STOPPED_WAIT_S)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def threads_from_slurm() -> None:
    """In a job: torch's threads are the CPUs Slurm gave the task (unless the user chose), not every core of a
    node other jobs share."""
    if "SLURM_CPUS_PER_TASK" in os.environ:
        os.environ.setdefault("OMP_NUM_THREADS", os.environ["SLURM_CPUS_PER_TASK"])


def run_file(run: Run, log_dir) -> Path:
    return Path(log_dir) / f"{run.run_id}.run.json"


def note_job(run_dir: Path, job_env, attempts_before: int) -> None:
    """Add the job that produced the record, and how often Slurm restarted it, to the record: only when this job
    added an attempt to it (not a run it found complete, nor one another process trains, refused by the training
    lock), and under that lock, so the read and the write never straddle another trainer's record."""
    if not (Path(run_dir) / records.RECORD).is_file():  # nothing to add to (and no folder to make for the lock)
        return
    try:
        with locks.lock(Path(run_dir) / locks.TRAINING_LOCK):
            record = records.load(run_dir)
            if record and len(records.attempts_of(record)) > attempts_before:
                record["slurm"] = {"job_id": job_env.job_id, "nodes": job_env.num_nodes,
                                   "requeues": int(os.environ.get("SLURM_RESTART_COUNT", 0)),
                                   "hosts": list(job_env.hostnames)}
                records.atomic_write_json(Path(run_dir) / records.RECORD, record)
    except locks.Locked:  # another process trains the run now: the record is its own
        pass


# ---- state: what Slurm and the records say of each run (slurm_jobs: which job runs which) ----


def check_ready(campaign: Campaign, runs_root) -> None:
    """Before anything is written (the data, the manifest, the jobs' files): the campaign's state can be read,
    sbatch is on PATH and Slurm's controller answers. The first submission asks Slurm nothing else before
    sbatch, which would fail only after every job's files were written."""
    read_state(state_path(campaign, runs_root))  # damaged: the first thing to mend, whatever Slurm says
    refuse_while_run_here(campaign, runs_root)
    if shutil.which("sbatch") is None:
        raise ConfigError("--executor slurm needs Slurm's sbatch on PATH (run on a cluster's login node)")
    query(["squeue", "--me", "-h", "-o", "%i"], required=True)


def refuse_while_run_here(campaign: Campaign, runs_root) -> None:
    """A local campaign process holds the campaign: its runs to do have no run lock yet, so jobs would train
    them beside it."""
    if holder := locks.holder(campaign_lock(campaign, runs_root)):
        raise ConfigError(f"a campaign process on this machine is running campaign {campaign.name} ({holder}); its "
                          f"jobs would train the same runs: submit when it ends (a run it stopped resumes on Slurm)")


def run_state(record_status: str | None, submitted: bool, slurm_state: str | None) -> str:
    """queued / running while a job is alive; else the record's status; a job cancelled before it began (no
    record at all): new again; one cancelled or preempted mid-run: interrupted, even when SIGKILL came before
    its record said so; any other job gone without a final record: failed."""
    if alive(slurm_state):
        return "running" if slurm_state in STARTED else "queued"
    if record_status in ("complete", "skipped", "failed", "interrupted"):
        return record_status
    if record_status is None and slurm_state == "CANCELLED":  # scancel'd while pending: nothing ran
        return "new"
    if record_status == "running" and slurm_state in STOPPED:  # KillWait ran out before the record was written
        return "interrupted"
    return "failed" if submitted else "new"  # an ended job left no final record: killed, or it crashed on start


def campaign_states(campaign: Campaign, runs_root, state: dict) -> dict[str, dict]:
    """run id -> {state, job, slurm, reason}. Slurm is asked before the records are read, so a job that ends
    in between is seen alive (and waited for) rather than lost."""
    jobs = {rid: entry["job_id"] for rid, entry in state.get("runs", {}).items()}
    slurm = job_states(sorted(set(jobs.values())))
    out = {}
    for run in campaign.runs:
        job = jobs.get(run.run_id)
        try:
            record = records.load(run.run_dir) or {}
            state = run_state(record.get("status"), job is not None, slurm.get(job))
            if job is None and record.get("status") == "running":  # run here: its process says whether it lives
                why = locks.killed(run.run_dir)
                state, record = ("interrupted", {"reason": why}) if why else ("running", record)
            elif state == "failed" and record.get("status") != "failed":  # killed before it could say why
                record = {"reason": f"job {job} ended{f' ({slurm[job]})' if slurm.get(job) else ''} before the "
                                    f"run's record was final; --retry-failed submits it again, to resume from "
                                    f"its last checkpoint if it wrote one"}
            elif state == "new" and job is not None:
                record = {"reason": f"job {job} was cancelled before it started; the next submission submits it again"}
            elif state == "complete" and (stale := stale_fields(run)):  # the local executor's word for it too
                state, record = "stale", {"reason": f"complete, but the campaign now asks {'; '.join(stale)}; not "
                                                    f"run again: move its folder aside, or --force it locally"}
            elif state == "skipped" and skipped_under_other_settings(run):  # the local executor tries it again too
                state, record = "new", {"reason": "skipped under other settings than the campaign asks now; the "
                                                  "next submission tries it again"}
            elif state == "interrupted" and record.get("status") == "running":
                record = {"reason": f"job {job} was {slurm[job].lower()} before the run could record where it "
                                    f"stopped; the next submission {records.then_again_unread(run.run_dir)}"}
        except records.RecordError as e:  # reported, never submitted on a guess; the other runs go on
            record, state = {"reason": str(e)}, "running" if alive(slurm.get(job)) else "damaged"
        out[run.run_id] = {"state": state, "job": job, "slurm": slurm.get(job), "reason": record.get("reason")}
    return out


# ---- submitting ----

def _submitit_executor(executor: ExecutorConfig, folder: Path, timeout_min: int, gpus: int, name: str):
    import submitit
    ex = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm")
    params = {"timeout_min": timeout_min, "nodes": executor.nodes, "tasks_per_node": 1, "name": name,
              "cpus_per_task": executor.cpus_per_task or (8 * gpus if gpus else 2), "gpus_per_node": gpus or None,
              "mem_gb": executor.mem_gb, "slurm_partition": executor.partition, "slurm_account": executor.account,
              "slurm_qos": executor.qos, "slurm_constraint": executor.constraint,
              "slurm_additional_parameters": executor.extra or None}
    ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return ex


def submit_runs(campaign: Campaign, runs: list[Run], executor: ExecutorConfig, runs_root, notebook: Path) -> dict[str, str]:
    """Submit ``runs`` as one job array; returns run id -> job id."""
    gpus = executor.gpus(campaign.num_processes)
    if executor.nodes > 1 and not gpus:
        raise ConfigError(f"nodes: {executor.nodes} needs GPUs: set gpus_per_node (or num_processes) in the campaign")
    graphed = [r.run_id for r in runs if r.config.cuda_graph]  # a job trains on every GPU Slurm gives it
    no_gpu = "its Slurm jobs ask for none (gpus_per_node, or the campaign's num_processes)"
    if graphed and (why := launch_conflict(gpus, max(1, gpus) * executor.nodes, no_gpu)):
        raise ConfigError(f"{why} ({len(graphed)} run(s) to submit ask for it; each job has {gpus} GPU(s) on "
                          f"{executor.nodes} node(s); nothing was submitted)")
    import submitit
    root = Path(runs_root) / campaign.name
    log_dir = root / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:  # written here once, read by every node of a multi-node job
        records.atomic_write_json(run_file(run, log_dir), run.config.to_dict())
    ex = _submitit_executor(executor, root / "slurm", time_limit_min(runs, executor, gpus), gpus, campaign.name)
    before = set((root / "slurm").glob("*"))
    try:  # submitit prints sbatch's refusal whole on stderr before raising it: said once, in one line, below
        with redirect_stderr(io.StringIO()), ex.batch():  # (the batch is submitted as it closes)
            jobs = [ex.submit(RunJob(run, str(notebook.resolve()), str(log_dir.resolve()), os.getcwd(), executor,
                                     gpus)) for run in runs]
    except submitit.core.utils.FailedJobError as e:  # sbatch refused: its files name jobs that never were
        for leftover in [run_file(run, log_dir) for run in runs] + sorted(set((root / "slurm").glob("*")) - before):
            if not leftover.is_dir():
                leftover.unlink(missing_ok=True)
        raise SlurmError(f"Slurm could not take the jobs: {last_line(str(e))}; nothing was submitted") from None
    return {run.run_id: job.job_id for run, job in zip(runs, jobs)}


def submit(campaign: Campaign, executor: ExecutorConfig, runs_root, notebook: Path, retry_failed=False, retry_skipped=False,
           log=print) -> list[str]:
    """Submit every run that is new (or failed / skipped, when asked) and has no live job; returns their ids."""
    path = state_path(campaign, runs_root)
    with locked(path):  # a local campaign reads slurm.json under this lock too, so it sees these jobs
        refuse_while_run_here(campaign, runs_root)  # again: one may have started since check_ready
        state = read_state(path)
        states = campaign_states(campaign, runs_root, state)
        manifest = Path(runs_root) / campaign.name / records.MANIFEST
        first = not manifest.exists()
        write_manifest(campaign, runs_root)  # after the state is read and Slurm answered: a refusal writes nothing
        again = {"new", "interrupted"} | ({"failed"} if retry_failed else set()) | ({"skipped"} if retry_skipped else set())
        todo = [r for r in campaign.runs if states[r.run_id]["state"] in again]
        # a job would start its notebook only for the trainer to refuse the checkpoint: named here instead
        unresumable = {r.run_id: changed for r in todo if (changed := unresumable_fields(r))}
        for rid, changed in unresumable.items():
            log(unresumable_note(rid, changed, "move its folder aside to start it afresh"))
        todo = [r for r in todo if r.run_id not in unresumable]
        if not todo:
            return []
        try:
            jobs = submit_runs(campaign, todo, executor, runs_root, notebook)
        except SlurmError:
            if first:  # a new campaign that Slurm refused leaves no manifest behind
                manifest.unlink(missing_ok=True)
            raise
        for rid, job in jobs.items():
            entry = state["runs"].setdefault(rid, {"jobs": []})
            entry.update(job_id=job, submitted=records.now())
            entry["jobs"].append(job)
        records.atomic_write_json(path, {**state, "campaign": campaign.name})
    log(f"submitted {len(jobs)} run(s) as one job array: {', '.join(jobs.values())}")
    return list(jobs)


# ---- reporting ----

def report(campaign: Campaign, states: dict[str, dict], log=print) -> dict[str, list[str]]:
    """Print a table of the runs (state, job, epochs, top-1, time, dataset; a line naming a dataset that is not
    CIFAR-100), the reasons of failed ones and the totals; returns {state: [run ids]}."""
    from ..run_listing import STATUS_COLUMNS, not_cifar100_note, render, skipped_lines, status_rows
    by_state: dict[str, list[str]] = {}
    for rid, s in states.items():
        by_state.setdefault(s["state"], []).append(rid)
    rows = status_rows(campaign, states)
    log(render(rows, STATUS_COLUMNS))
    if note := not_cifar100_note(rows):
        log(note)
    for row in rows:
        if row["state"] in ("failed", "damaged", "interrupted", "new", "stale") and row.get("reason"):
            log(f"  {row['state']}: {row['short_id']}: {row['reason']}")
    for line in skipped_lines([(row["short_id"], row.get("reason")) for row in rows if row["state"] == "skipped"],
                              "; --retry-skipped submits them again"):
        log(line)
    log(f"campaign {campaign.name}: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(by_state.items())))
    return by_state


def wait(campaign: Campaign, runs_root, poll_s: float = 2.0) -> dict[str, dict]:
    path = state_path(campaign, runs_root)
    while True:
        states = campaign_states(campaign, runs_root, read_state(path))
        if not any(s["state"] in ("queued", "running") for s in states.values()):
            return states
        time.sleep(poll_s)


def main(campaign: Campaign, executor: ExecutorConfig, args, notebook: Path, log=print) -> int:
    """``campaign --executor slurm`` / ``--status``: submit what is due, report, exit 1 if any run failed."""
    if executor.kind == "slurm":  # each job's processes (RunJob): its GPUs (one process without) on every node
        for run in campaign.runs:
            run.processes = max(1, executor.gpus(campaign.num_processes)) * executor.nodes
    if executor.kind == "slurm" and not args.status:
        if args.force:
            raise ConfigError("--force is for the local executor; move a run's folder aside to re-run it on Slurm")
        if not submit(campaign, executor, args.runs_root, notebook, args.retry_failed, args.retry_skipped, log):
            log("nothing to submit: every run is done, skipped (see --retry-skipped), failed (see --retry-failed) "
                "or has a live job")
    path = state_path(campaign, args.runs_root)
    states = wait(campaign, args.runs_root) if args.wait else campaign_states(campaign, args.runs_root,
                                                                              read_state(path))
    by_state = report(campaign, states, log)
    # as the local executor: 3 when nothing failed but a complete run is stale (not what the campaign now asks)
    return 1 if by_state.get("failed") or by_state.get("damaged") else 3 if by_state.get("stale") else 0
