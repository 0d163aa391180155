"""A real single-node Slurm on localhost for the tests (Debian's slurm-wlm and munge, no systemd, no cgroups).

The config lines that matter were measured on these machines (see issue 15): pgid process tracking and no
task/accounting plugins (no cgroups here), a 10 s credential lifetime and a 2 s scheduler interval (or a
requeued job waits minutes), ``KillWait=5`` (submitit ignores SIGTERM), and one real ``srun true`` before the
cluster counts as ready (slurmctld may call the node idle from saved state before slurmd registered).
Ports are free ones and every file lives in one folder, so the cluster touches nothing outside it but munge.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

BINARIES = ("munged", "slurmctld", "slurmd", "srun", "sbatch", "squeue", "scancel", "scontrol")


class SlurmUnavailable(RuntimeError):
    """The local cluster could not start; the message says exactly why."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line() -> str:
    """This machine's node line from ``slurmd -C``, renamed to localhost on 127.0.0.1."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=30).stdout.splitlines()
    fields = [f for f in (out[0].split() if out else []) if not f.startswith("NodeName=")]
    return " ".join(["NodeName=localhost", "NodeAddr=127.0.0.1", *fields])


def write_conf(folder: Path) -> Path:
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    lines = [
        "ClusterName=cifar100lab", "SlurmctldHost=localhost(127.0.0.1)",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge", "CredType=cred/munge",
        "AuthInfo=cred_expire=10",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'slurmd.log'}",
        "ProctrackType=proctrack/pgid", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core", "MpiDefault=none", "ReturnToService=2",
        "SchedulerParameters=sched_interval=2,bf_interval=1", "KillWait=5",
        _node_line(), "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
    ]
    conf = folder / "slurm.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def _munge_works() -> bool:
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        return cred.returncode == 0 and subprocess.run(["unmunge"], input=cred.stdout, capture_output=True,
                                                       timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class LocalSlurm:
    """Start munged (unless one answers already), slurmctld and slurmd in the foreground as children."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.procs: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}

    def log_tail(self) -> str:
        tails = []
        for name in ("munged", "slurmctld", "slurmd"):
            path = self.folder / f"{name}.log"
            if path.exists():
                tails.append(f"--- {name}.log ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(tails)

    def _spawn(self, name: str, cmd: list[str], **kw) -> None:
        log = open(self.folder / f"{name}.out", "w")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, **kw)

    def _start_munge(self) -> None:
        if _munge_works():
            return
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        if not Path("/etc/munge/munge.key").exists():
            raise SlurmUnavailable("munge has no key at /etc/munge/munge.key (reinstall munge or run mungekey -c)")
        self._spawn("munged", ["munged", "--foreground"], user="munge", group="munge")
        for _ in range(50):
            if _munge_works():
                return
            time.sleep(0.1)
        raise SlurmUnavailable(f"munged did not answer within 5 s: {(self.folder / 'munged.out').read_text()}")

    def start(self, ready_timeout: float = 60) -> "LocalSlurm":
        missing = [b for b in BINARIES if shutil.which(b) is None]
        if missing:
            raise SlurmUnavailable(f"not installed: {', '.join(missing)} (apt-get install -y slurm-wlm munge)")
        if os.geteuid() != 0:
            raise SlurmUnavailable("the local Slurm runs its daemons as root (SlurmUser=root); tests run as "
                                   f"uid {os.geteuid()}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "SLURM_CONF": str(write_conf(self.folder))}
        self._start_munge()
        self._spawn("slurmctld", ["slurmctld", "-D", "-c"])
        time.sleep(0.5)
        self._spawn("slurmd", ["slurmd", "-D", "-N", "localhost"])
        deadline = time.time() + ready_timeout
        while True:  # a real job step proves slurmd registered (saved state may claim so earlier)
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise SlurmUnavailable(f"{name} exited with {p.returncode}:\n"
                                           f"{(self.folder / f'{name}.out').read_text()}\n{self.log_tail()}")
            left = deadline - time.time()
            if left <= 0:
                raise SlurmUnavailable(f"`srun true` did not succeed within {ready_timeout:.0f} s\n{self.log_tail()}")
            try:
                if subprocess.run(["srun", "-t", "1", "true"], env=self.env, capture_output=True,
                                  timeout=min(left, 20)).returncode == 0:
                    return self
            except subprocess.TimeoutExpired:
                pass
            time.sleep(0.5)

    def stop(self) -> None:
        """Cancel every job first (running jobs outlive slurmd), then stop the daemons this object started."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run(["scancel", "--user", "root"], env=self.env, capture_output=True, timeout=30)
            for _ in range(40):
                left = subprocess.run(["squeue", "-h"], env=self.env, capture_output=True, text=True, timeout=30)
                if not left.stdout.strip():
                    break
                time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.get(name)
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
