"""What Slurm says of a campaign's jobs, for both executors: ``runs/<campaign>/slurm.json`` (which job trains
which run; :mod:`.slurm` writes it under :func:`locked`) and ``squeue`` / ``sacct`` (whether a job still lives).
The local executor asks too: a job still queued holds no run lock yet, and only Slurm knows whether it will
train its run (:func:`cifar100lab.executors.local.leave_to_slurm`)."""
from __future__ import annotations

import fcntl
import subprocess
from contextlib import contextmanager
from pathlib import Path

from .. import records
from ..campaign import Campaign
from ..runs import Run

STATE_FILE = "slurm.json"
# Slurm states after which no job runs any more; every other state Slurm reports is a live job.
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL",
            "DEADLINE", "PREEMPTED", "REVOKED", "SPECIAL_EXIT"}
STARTED = {"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING"}


def state_path(campaign: Campaign, runs_root) -> Path:
    return Path(runs_root) / campaign.name / STATE_FILE


def read_state(path: Path) -> dict:
    return records.read_json(path) if path.exists() else {"runs": {}}


def lock_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextmanager
def locked(path: Path):
    """One submitter at a time per campaign (two at once could both see a run as new); a local campaign reads
    the state under it too, so it sees a submission under way whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file(path), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


class SlurmError(RuntimeError):
    """Slurm could not be asked; nothing is submitted on a guess (the local executor warns, naming the jobs)."""


def last_line(text: str, limit: int = 300) -> str:
    """The last line of a Slurm command's error text, where sbatch and squeue say why ("fatal: …"), so the
    refusal stays one line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[:limit] + " …"


def query(cmd: list[str], required: bool, then: str = "Nothing was submitted.") -> list[str]:
    """The command's output lines; ``required``: SlurmError when it fails, ending with ``then`` (what the caller
    did not do for it)."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        proc = subprocess.CompletedProcess(cmd, -1, "", str(e))
    if proc.returncode == 0:
        return proc.stdout.splitlines()
    if required:  # without the live view every job would look gone, and live runs would be submitted again
        raise SlurmError(f"`{' '.join(cmd)}` failed ({last_line(proc.stderr) or proc.returncode}); is Slurm "
                         f"reachable from here?{f' {then}' if then else ''}")
    return []  # sacct without accounting: squeue alone knows the live jobs


def job_states(job_ids: list[str], then: str = "Nothing was submitted.") -> dict[str, str]:
    """Slurm's state of each job it still knows: sacct (where accounting is on) for finished ones, squeue's
    live view on top. Jobs Slurm has forgotten are missing."""
    if not job_ids:
        return {}
    states = {}
    for line in query(["sacct", "-n", "-P", "-X", "-o", "JobID,State", "-j", ",".join(job_ids)], required=False):
        job, _, state = line.partition("|")
        states[job] = state.split()[0] if state else ""
    for line in query(["squeue", "--me", "-h", "-r", "-o", "%i|%T"], required=True, then=then):
        job, _, state = line.partition("|")
        states[job] = state
    return {j: states[j] for j in job_ids if j in states}


def alive(slurm_state: str | None) -> bool:
    return slurm_state is not None and slurm_state not in FINISHED


def recorded_jobs(campaign: Campaign, runs_root, runs: list[Run]) -> dict[str, str]:
    """run id -> the Slurm job last submitted for it, for those of ``runs`` a submission recorded."""
    path = state_path(campaign, runs_root)
    if not path.exists() and not lock_file(path).exists():  # never submitted: nothing to ask Slurm
        return {}
    with locked(path):  # a first submission under way writes slurm.json before it lets go
        submitted = read_state(path).get("runs", {})
    return {r.run_id: submitted[r.run_id]["job_id"] for r in runs if r.run_id in submitted}
