"""Acceptance checks that a GPU machine runs (``benchmarks/gpu_check.sh``) and the CPU tests run too.

* ``fork``: after everything a notebook kernel does before ``notebook_launcher`` forks (config validation,
  process count, job plan), a forked child creates a tensor on the device — on a GPU, the path that dies when
  the kernel has touched the CUDA runtime.
* ``resume``: a run killed (SIGKILL, a real process) after its first checkpoint and resumed ends with the same
  per-epoch metrics as the same run left alone.

Each returns a record (a dict with ``check``, ``passed`` and the evidence) and ``main`` writes it as JSON.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from . import locks, records
from .config_files import ConfigError, refuse_file_as_folder

RUN_NAMES = ("straight", "interrupted")  # the resume check's runs: one left alone, one killed and resumed


def _environment() -> dict:
    import torch

    from .devices import visible_gpus
    return {"gpus": visible_gpus(), "torch": torch.__version__, "created": records.now()}


def fork_check(config: dict) -> dict:
    """Prepare as the kernel does, fork, and let the child make a tensor on the GPU (or the CPU)."""
    from .config import resolve
    from .devices import visible_gpus  # before the fork: the child imports nothing
    from .kernels import job_envs, resolve_jobs
    from .launch import choose_processes
    resolve(config)
    processes = choose_processes("auto")
    job_envs(resolve_jobs("auto"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report, then leave without running anything of the parent's
        import torch
        try:
            bad = torch._C._cuda_isInBadFork()
            device = "cuda" if visible_gpus() else "cpu"
            value = float(torch.ones(2, device=device).sum().item())
            message = f"bad_fork={bad} device={device} sum={value}"
        except Exception as e:  # the failure a poisoned fork gives: report it, never raise in the child
            message = f"error {type(e).__name__}: {e}"
        os.write(write, message.encode()[:4000])
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode()
    passed = child.startswith("bad_fork=False") and child.endswith("sum=2.0")
    return {"check": "fork", "passed": passed, "child": child, "processes_auto": processes, **_environment()}


def fresh_work_dir(work_dir: Path) -> None:
    """Make ``work_dir`` and empty it of an earlier check's runs: a run found complete trains nothing, and the
    check would pass having tested nothing. Only runs this check made there go (their folder is the run_dir of
    the config it wrote beside them); anything else, or a run still training, is refused before any is removed."""
    refuse_file_as_folder(work_dir, "--work-dir")
    left = [work_dir / name for name in RUN_NAMES if (work_dir / name).exists()]
    for run_dir in left:
        if not _made_by_check(run_dir):
            raise ConfigError(f"{run_dir} was not made by `check resume`, and the check would replace it; pass "
                              f"another --work-dir, or move it aside")
        if holder := locks.holder(run_dir / locks.TRAINING_LOCK):
            raise ConfigError(f"{run_dir} is being trained by {holder} (another check in this work dir?); wait "
                              f"for it, or pass another --work-dir")
    for run_dir in left:
        shutil.rmtree(run_dir)
    work_dir.mkdir(parents=True, exist_ok=True)


def _made_by_check(run_dir: Path) -> bool:
    """Whether ``run_dir`` is the run of the config file the check writes beside it."""
    try:
        cfg = yaml.safe_load(run_dir.with_suffix(".yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(cfg, dict) and cfg.get("run_dir") == str(run_dir) and cfg.get("run_id") == run_dir.name


def _start_run(config_path: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cifar100lab", "train", str(config_path)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def resume_check(config: dict, work_dir: str | os.PathLike, timeout: float = 900) -> dict:
    """Run ``config`` straight through and, in another run folder, kill it after its first checkpoint and
    resume it; compare every epoch's metrics (timings aside)."""
    if config["checkpoint_every"] >= config["epochs"]:  # its first checkpoint is its last: nothing to resume
        raise ConfigError(f"check resume needs a checkpoint before the last epoch to kill the run after, and this "
                          f"config's first is after epoch {config['epochs']} (epochs {config['epochs']}, "
                          f"checkpoint_every {config['checkpoint_every']}); give at least 2 epochs and a smaller "
                          f"checkpoint_every")
    work_dir = Path(work_dir)
    fresh_work_dir(work_dir)
    runs = {}
    for name in RUN_NAMES:
        cfg = {**config, "run_dir": str(work_dir / name), "run_id": name, "progress": False}
        path = work_dir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        runs[name] = path
    straight = _start_run(runs["straight"], work_dir / "straight.log")
    straight.wait(timeout)
    if straight.returncode != 0:  # nothing to compare with: say why, without two more runs that fail alike
        return {"check": "resume", "passed": False, "killed_mid_run": False, "config": config,
                "errors": {"straight": _tail(work_dir / "straight.log")}, **_environment()}
    victim = _start_run(runs["interrupted"], work_dir / "interrupted.log")
    checkpoint = work_dir / "interrupted" / records.CHECKPOINT
    deadline = time.time() + timeout
    while not checkpoint.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    killed = victim.poll() is None
    if killed:
        os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    resumed = _start_run(runs["interrupted"], work_dir / "resumed.log")
    resumed.wait(timeout)
    keys = ("epoch", "train_loss", "train_acc", "top1", "top5", "test_loss", "lr")
    curves = {name: [{k: row[k] for k in keys} for row in records.read_metrics(work_dir / name)]
              for name in RUN_NAMES}
    record_path = work_dir / "interrupted" / records.RECORD
    record = records.read_json(record_path) if record_path.exists() else {}
    # killed mid-run only if the resume had epochs left to train: one killed as it ended (after its last checkpoint)
    # was resumed as "already complete", or from its last epoch, and passed having resumed nothing
    killed = killed and 0 < (record.get("resumed_from_epoch") or 0) < config["epochs"]
    passed = (killed and straight.returncode == 0 and resumed.returncode == 0
              and len(curves["straight"]) == config["epochs"] and curves["straight"] == curves["interrupted"])
    # a run that failed says why in the record (its log's last lines), not only "FAILED"
    errors = {"resumed": _tail(work_dir / "resumed.log")} if resumed.returncode != 0 else {}
    return {"check": "resume", "passed": passed, "killed_mid_run": killed, "errors": errors,
            "resumed_from_epoch": record.get("resumed_from_epoch"), "kernels": record.get("kernels"),
            "hardware": record.get("hardware"), "config": config, "curves": curves, **_environment()}


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("check", choices=("fork", "resume"), help="fork: the kernel forks after preparing; "
                   "resume: a killed-and-resumed run equals an uninterrupted one")
    p.add_argument("config", help="YAML of TrainConfig fields (the run the check uses)")
    p.add_argument("--work-dir", default="runs/checks", help="where the resume check's runs go")
    p.add_argument("--out", help="write the record here (JSON)")
    p.set_defaults(fn=main)


def main(a) -> int:
    from .config import resolve
    from .config_files import read_yaml_mapping
    config = resolve(read_yaml_mapping(a.config, None, "check config")).config.to_dict()
    result = fork_check(config) if a.check == "fork" else resume_check(config, Path(a.work_dir) / a.check)
    if a.out:
        records.atomic_write_json(Path(a.out), result)
    for name, tail in result.get("errors", {}).items():
        print(f"{a.check}: the {name} run failed:\n{tail}", file=sys.stderr)
    print(f"{a.check}: {'passed' if result['passed'] else 'FAILED'}")
    return 0 if result["passed"] else 1
