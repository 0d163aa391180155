"""Run records: one JSON per run (the only source of every number in the book), plus per-epoch curves in
``metrics.jsonl`` beside it.

This module owns the record: its shape (:class:`RunRecord`), its transitions (:func:`start`, then one of
:func:`finish`, :func:`fail`, :func:`skip`), and the one atomic and durable write (:func:`atomic_write`) that
every file the package writes goes through. The OS locks that say who is writing are in :mod:`.locks`.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import subprocess
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Iterable, TypedDict

RECORD = "record.json"
METRICS = "metrics.jsonl"
CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
MANIFEST = "campaign.json"  # a campaign's resolved plan, beside its run folders
TIMING = "timing.json"  # how long the campaign's last invocation that ran something took, beside its run folders
REPLACED = ".replaced-"  # a run folder moved aside by a forced re-run: <run folder>.replaced-<unix time>
# interrupted: stopped by hand (Ctrl-C, a notebook's stop button) with its checkpoint kept, or, for an earlier
# attempt, ended without a word (killed, power loss); either way the next run resumes it. pruned: a tuning
# trial its study's pruner stopped (the record says at which epoch and why)
STATUSES = ("complete", "failed", "skipped", "running", "interrupted", "pruned")
ATTEMPT_STATUSES = STATUSES


class Attempt(TypedDict):
    """One try at a run. ``interrupted``: it ended without a word (killed, power loss)."""
    started: str
    finished: str | None
    status: str  # one of ATTEMPT_STATUSES
    reason: str | None


class RunRecord(TypedDict, total=False):
    """``record.json``. The top level always describes the latest attempt; ``attempts`` keeps them all.

    Written at every transition: ``start`` (status running) and then ``finish`` (complete), ``fail``
    (failed, with ``reason``) or ``skip`` (skipped, with ``reason``).
    """
    run_id: str
    status: str  # one of STATUSES
    reason: str | None  # why it failed or was skipped
    failed_process: int  # a multi-process run's: the process (rank) whose error failed it first
    started: str  # ISO timestamps (UTC) of the latest attempt
    finished: str | None
    attempts: list[Attempt]  # every attempt, oldest first; the last one is the top level's
    campaign: str | None
    model: str
    family: str
    group: str
    source: str
    options: dict  # as asked (canonical: defaults dropped)
    resolved_options: dict  # with the model's defaults
    pretrained: str | None
    pretrained_weights: dict  # a fine-tune's: {"hub": "timm/<name>.<tag>"} or {"file", "bytes", "sha256"}
    seed: int
    config: dict  # the full training config (TrainConfig fields)
    recipe: dict | None  # the recipe used: fields with overrides, effective_lr, global_batch
    git_commit: str | None
    versions: dict  # python, torch, torchvision, timm, accelerate, cifar100lab
    dataset: dict  # name, kind, label, checksum, sizes
    input_size: int
    normalization: dict  # source, mean, std (config.RunPlan.normalization)
    params: int
    flops: int
    hardware: dict  # device, count, nodes, precision, distributed
    kernels: dict  # deterministic, cudnn_benchmark, tf32, cublas_workspace_config (train.set_kernel_policy)
    resumed_from_epoch: int  # present when this attempt resumed from a checkpoint
    epochs_done: int
    final: dict  # top1, top5, test_loss, evaluated (last epoch)
    best: dict  # epoch, selected_on (validation | test: then the peak of the test curve, optimistic), top1, top5
    train_seconds: float  # sum of every epoch's training time, resumes included
    eval_seconds: float
    wall_seconds: float  # this attempt only (restarts on resume)
    images_per_second: float
    eval_images_per_second: float  # every image an epoch's evaluations take (test, validation, EMA) per second
    history_tail: list[dict]  # the last metrics row of a diverged run
    run_dir: str  # added by load_records when read back; not written


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- the one atomic + durable write ---------------------------------------------------------------------

def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename or a new file in ``folder`` survive power loss (the entry lives in the folder)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Write ``path`` all or nothing, and durably: ``write(f)`` fills a temporary file beside it, which is
    fsynced, renamed over ``path``, and then the folder is fsynced. Readers (and a crash) see the old file or
    the new one, never half of one. The temporary name carries the pid, so two writers never share one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        _raise_if_disk_full(e, path)
        raise
    fsync_dir(path.parent)


class DiskFull(OSError):
    """A write failed because the file system is full; the message names the file and what to do."""


def _raise_if_disk_full(error: BaseException, path: Path) -> None:
    """Say "no space left on device" and where, whatever the writer raised (torch.save reports a full disk as
    ``RuntimeError: [enforce fail at inline_container.cc…]``)."""
    if not isinstance(error, Exception) or isinstance(error, DiskFull):
        return
    st = os.statvfs(path.parent)
    free = (st.f_bfree if os.geteuid() == 0 else st.f_bavail) * st.f_frsize
    if getattr(error, "errno", None) == errno.ENOSPC or free < 1 << 20:
        raise DiskFull(errno.ENOSPC, f"no space left on device writing {path} ({free} bytes free there); free "
                                     f"some space and run again (a run resumes from its last checkpoint)") from None


RUN_FILES = (RECORD, CHECKPOINT, CONFIG, METRICS)  # a run folder's own files: no other output goes over them


def writable_output(path: str | os.PathLike, what: str) -> Path:
    """``path``, an output file a command writes at its end, checked before the command's work: a folder that is
    missing, a file or not writable would lose that work when :func:`atomic_write` fails on it."""
    from .config_files import ConfigError
    path = Path(path)
    folder = path.parent
    why = ("it is a folder" if path.is_dir() else
           f"its folder {folder} does not exist" if not folder.exists() else
           f"{folder} is a file, not a folder" if not folder.is_dir() else
           f"its folder {folder} is not writable" if not os.access(folder, os.W_OK) else None)
    if why:
        raise ConfigError(f"cannot write {what} to {path}: {why}; pass --out FILE in a writable folder")
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str))


def append_jsonl(path: str | os.PathLike, row: dict) -> None:
    """One line, fsynced. A crash mid-append can tear the last line; :func:`read_metrics` drops it."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        _raise_if_disk_full(e, Path(path))
        raise


class RecordError(ValueError):
    """A file the package wrote (a run record, a manifest, metrics, …) is damaged: not JSON, not UTF-8, not a
    mapping, a record without a valid status, or metrics that do not hold what the record says. The message
    names the file."""


def read_json(path: str | os.PathLike) -> dict:
    """The JSON mapping at ``path``; a damaged file is a :class:`RecordError` naming it (a missing one stays
    FileNotFoundError)."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise RecordError(f"{path} is damaged (not UTF-8 text at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise RecordError(f"{path} is damaged (not JSON: {e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path} is damaged (a JSON {type(data).__name__}, not the expected mapping)")
    return data


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    """The rows of ``metrics.jsonl``. A torn last line (a crash or a full disk mid-append) is dropped with a
    warning; a bad line before the last is real damage and raises."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = []
    for i, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            if i < len(lines):
                raise RecordError(f"{path}, line {i}: not a metrics row ({e}); only a torn last line is "
                                  f"expected after a crash") from None
            warnings.warn(f"{path}: dropped a torn last line (an interrupted write): {line[:60]!r}",
                          stacklevel=2)
    return rows


def metrics_damage(run_dir: str | os.PathLike, epochs_done: int) -> str | None:
    """What is wrong with a complete run's ``metrics.jsonl`` (None: one whole row per epoch, 1..epochs_done)."""
    path = Path(run_dir) / METRICS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            epochs = [row.get("epoch") for row in read_metrics(run_dir)]
        except RecordError as e:
            return str(e)
    if epochs != list(range(1, epochs_done + 1)):
        return (f"{path} holds epochs {epochs or 'none'} but the run trained {epochs_done} (a torn or lost line); "
                f"the run's checkpoint holds every epoch: run its campaign again to restore the file from it")
    return None


def curve(record: dict) -> list[dict]:
    """A run's per-epoch rows, for the report. A complete run's must hold every epoch its record counts: a
    curve with an epoch silently missing is refused (RecordError naming the file and the fix)."""
    run_dir = record.get("run_dir") or (record.get("config") or {}).get("run_dir")
    if not run_dir:
        return []
    if record.get("status") == "complete" and record.get("epochs_done") is not None:
        damage = metrics_damage(run_dir, record["epochs_done"])
        if damage:
            raise RecordError(damage)
    return read_metrics(run_dir)


def moved_aside(run_dir: str | os.PathLike) -> Path:
    """Where a forced re-run keeps the folder it replaces (kept, never deleted, never read as a result)."""
    run_dir = Path(run_dir)
    return run_dir.with_name(f"{run_dir.name}{REPLACED}{int(time.time())}")


def find_records(root: str | os.PathLike) -> list[Path]:
    """Every current run's ``record.json`` under ``root``: folders moved aside by ``--force`` are history, and
    hidden folders (locks, temporary copies) hold no results."""
    root = Path(root)
    return sorted(p for p in root.glob(f"**/{RECORD}")
                  if not any(REPLACED in part or part.startswith(".") for part in p.relative_to(root).parts[:-1]))


def load_records(root: str | os.PathLike | Iterable[str | os.PathLike]) -> list[dict]:
    """Every run record under ``root`` (or under each of several roots), each with its ``run_dir``."""
    roots = [root] if isinstance(root, (str, os.PathLike)) else list(root)
    out = []
    for r in roots:
        for path in find_records(r):
            try:
                rec = load(path.parent)
            except RecordError as e:  # one damaged record must not hide every other run; the campaign names it
                warnings.warn(f"skipped: {e}", stacklevel=2)
                continue
            rec["run_dir"] = str(path.parent)
            out.append(rec)
    return out


def records_frame(records: list[dict]):
    """Flatten records into one row per run (pandas DataFrame)."""
    import pandas as pd
    rows = []
    for r in records:
        ds, hw = r.get("dataset") or {}, r.get("hardware") or {}
        rows.append({
            "run_id": r.get("run_id"), "status": r.get("status"), "reason": r.get("reason"),
            "campaign": r.get("campaign"),
            "model": r.get("model"), "group": r.get("group"), "options": json.dumps(r.get("options") or {}),
            "pretrained": r.get("pretrained"), "pretrained_weights": weights_label(r.get("pretrained_weights")),
            "seed": r.get("seed"), "dataset": ds.get("name"),
            "dataset_kind": ds.get("kind"), "dataset_label": ds.get("label"), "params": r.get("params"),
            "flops": r.get("flops"), "input_size": r.get("input_size"),
            "top1": (r.get("final") or {}).get("top1"), "top5": (r.get("final") or {}).get("top5"),
            "best_top1": (r.get("best") or {}).get("top1"), "best_epoch": (r.get("best") or {}).get("epoch"),
            "best_selected_on": (r.get("best") or {}).get("selected_on", "test"),
            "epochs": (r.get("config") or {}).get("epochs"), "epochs_done": r.get("epochs_done"),
            "train_seconds": r.get("train_seconds"), "wall_seconds": r.get("wall_seconds"),
            "images_per_second": r.get("images_per_second"),
            "device": hw.get("device"), "device_count": hw.get("count"), "precision": hw.get("precision"),
            "run_dir": r.get("run_dir"),
        })
    return pd.DataFrame(rows)


def weights_label(weights) -> str | None:
    """A fine-tune's weights in a few words: the hub repository, or the file's name and its sha256's start; None
    without them (from scratch, or a record written before records named them)."""
    if not isinstance(weights, dict):
        return None
    return weights.get("hub") or f"{Path(str(weights.get('file'))).name} (sha256 {str(weights.get('sha256'))[:12]})"


# --- transitions ---------------------------------------------------------------------------------------

def load(run_dir: str | os.PathLike) -> RunRecord | None:
    """The run's record, or None when it has none; a damaged one is a :class:`RecordError` naming the file."""
    path = Path(run_dir) / RECORD
    if not path.exists():
        return None
    record = read_json(path)
    if record.get("status", "complete") not in STATUSES:  # (report fixtures write records without one)
        raise RecordError(f"{path} is damaged (status {record.get('status')!r}; a record's status is one of "
                          f"{', '.join(STATUSES)})")
    attempts = record.get("attempts", [])
    if not (isinstance(attempts, list) and all(isinstance(a, dict) for a in attempts)):
        raise RecordError(f"{path} is damaged ('attempts' is not a list of attempts)")
    return record


def attempts_of(record: RunRecord | None) -> list[Attempt]:
    """The attempt history; a record written before histories were kept counts as one attempt."""
    if not record:
        return []
    if "attempts" in record:
        return [dict(a) for a in record["attempts"]]
    return [{"started": record.get("started"), "finished": record.get("finished"),
             "status": record.get("status"), "reason": record.get("reason")}]


def start(run_dir: str | os.PathLike, **fields) -> RunRecord:
    """A new attempt at the run in ``run_dir``: status running, the earlier attempts kept. An earlier one
    still marked running ended without a record (killed), so it becomes ``interrupted``."""
    history = attempts_of(load(run_dir))
    if history and history[-1]["status"] == "running":
        history[-1].update(status="interrupted", reason="ended without a record (killed or lost power)")
    started = now()
    return {**fields, "status": "running", "reason": None, "started": started, "finished": None,
            "attempts": history + [{"started": started, "finished": None, "status": "running", "reason": None}]}


def _end(record: RunRecord, status: str, reason: str | None, fields: dict) -> RunRecord:
    finished = now()
    attempts = [dict(a) for a in record.get("attempts") or attempts_of(record)]
    attempts[-1].update(finished=finished, status=status, reason=reason)
    return {**record, **fields, "status": status, "reason": reason, "finished": finished, "attempts": attempts}


def finish(record: RunRecord, **results) -> RunRecord:
    """The attempt completed; ``results`` (final, best, epochs_done, …) join the record."""
    return _end(record, "complete", None, results)


def fail(record: RunRecord, reason: str, **fields) -> RunRecord:
    return _end(record, "failed", reason, fields)


def skip(record: RunRecord, reason: str, **fields) -> RunRecord:
    return _end(record, "skipped", reason, fields)


def prune(record: RunRecord, reason: str, **fields) -> RunRecord:
    return _end(record, "pruned", reason, fields)


def interrupt(record: RunRecord, reason: str, **fields) -> RunRecord:
    """The attempt was stopped by hand; its checkpoint stays for the next run to resume from."""
    return _end(record, "interrupted", reason, fields)


STARTS_OVER = "starts it over from epoch 1: no checkpoint was saved yet"


def then_again(on_disk: int, epochs: int) -> str:
    """What running a stopped run again does, from the epoch of its checkpoint on disk (0: none was saved, and
    "resumes from epoch 0" read as a checkpoint to resume from)."""
    if on_disk == epochs:
        return "finishes it without training"
    return f"resumes from epoch {on_disk}" if on_disk else STARTS_OVER


def then_again_unread(run_dir: str | os.PathLike) -> str:
    """:func:`then_again` from the run folder alone, for a process that does not read the checkpoint (its epoch
    takes torch and a load of the whole file, while a campaign stops or the runs are listed): it resumes from the
    checkpoint when one was saved, else it starts over."""
    return "resumes from its last checkpoint" if (Path(run_dir) / CHECKPOINT).is_file() else STARTS_OVER


def save(run_dir: str | os.PathLike, record: RunRecord) -> None:
    atomic_write_json(Path(run_dir) / RECORD, record)


def git_commit(cwd: str | os.PathLike | None = None) -> str | None:
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (sha + ("+dirty" if dirty else "")) if sha else None


def versions() -> dict:
    import accelerate
    import timm
    import torch
    import torchvision

    from . import __version__
    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "timm": timm.__version__, "accelerate": accelerate.__version__, "cifar100lab": __version__}


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def device_name(device) -> str:
    import torch
    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_device_name(cpu_name(), os.cpu_count())


def cpu_device_name(cpu: str, count: int | None) -> str:
    """A CPU as a record names its device: 'AMD EPYC (2 logical CPUs)'."""
    return f"{cpu} ({count} logical CPUs)"


class Timer:
    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
