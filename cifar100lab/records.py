"""Run records: one JSON per run (the only source of every number in the book), written atomically,
plus per-epoch curves in ``metrics.jsonl`` beside it."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

RECORD = "record.json"
METRICS = "metrics.jsonl"
CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
MANIFEST = "campaign.json"  # a campaign's resolved plan, beside its run folders
STATUSES = ("complete", "failed", "skipped", "running")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def append_jsonl(path: str | os.PathLike, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, default=str) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_metrics(run_dir: str | os.PathLike) -> list[dict]:
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def find_records(root: str | os.PathLike) -> list[Path]:
    return sorted(Path(root).glob(f"**/{RECORD}"))


def load_records(root: str | os.PathLike | Iterable[str | os.PathLike]) -> list[dict]:
    """Every run record under ``root`` (or under each of several roots), each with its ``run_dir``."""
    roots = [root] if isinstance(root, (str, os.PathLike)) else list(root)
    out = []
    for r in roots:
        for path in find_records(r):
            rec = read_json(path)
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
            "pretrained": r.get("pretrained"), "seed": r.get("seed"), "dataset": ds.get("name"),
            "dataset_kind": ds.get("kind"), "dataset_label": ds.get("label"), "params": r.get("params"),
            "flops": r.get("flops"), "input_size": r.get("input_size"),
            "top1": (r.get("final") or {}).get("top1"), "top5": (r.get("final") or {}).get("top5"),
            "best_top1": (r.get("best") or {}).get("top1"), "best_epoch": (r.get("best") or {}).get("epoch"),
            "epochs": (r.get("config") or {}).get("epochs"), "epochs_done": r.get("epochs_done"),
            "wall_seconds": r.get("wall_seconds"), "images_per_second": r.get("images_per_second"),
            "device": hw.get("device"), "device_count": hw.get("count"), "precision": hw.get("precision"),
            "run_dir": r.get("run_dir"),
        })
    return pd.DataFrame(rows)


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
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device) -> str:
    import torch
    if getattr(device, "type", str(device)) == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_name()} ({os.cpu_count()} logical CPUs)"


class Timer:
    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
