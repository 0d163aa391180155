"""The runs listing: one row per run found under a runs folder (campaign runs and runs made by hand alike),
read from the records alone: status, epochs done of total, final top-1 with its 95 % interval, time, dataset (a
line under the table names each one that is not CIFAR-100), and a short id (the full one stays in the record and
names the folder)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from . import locks, records
from .config_files import ConfigError
from .intervals import wilson  # the book's interval, so the listing and the book agree
from .listing import Column, fixed, render, text  # noqa: F401 (render: the status table's too)

SHORT_ID_MAX = 40  # a longer id keeps its start and gets a hash of the whole, so two ids never print alike
COLUMNS = [Column("campaign", "campaign", text), Column("short_id", "run"), Column("status", "status"),
           Column("epochs", "epochs", right=True), Column("top1", "top-1 %", fixed(2), right=True),
           Column("interval", "95% interval", text, right=True), Column("time", "time", right=True),
           Column("dataset", "data", text)]


def short_id(run_id: str, campaign: str | None) -> str:
    """``run_id`` without its campaign's prefix, cut to :data:`SHORT_ID_MAX` characters with a hash."""
    short = run_id[len(campaign) + 1:] if campaign and run_id.startswith(f"{campaign}-") else run_id
    if len(short) <= SHORT_ID_MAX:
        return short
    return f"{short[:SHORT_ID_MAX - 9]}~{hashlib.sha1(run_id.encode()).hexdigest()[:8]}"


def listed_run_hint(path: str | Path) -> str:
    """For a run path that does not exist, built from the listing's short id (``runs/quick/resnet_56-s0``), the
    folder that run is in (``runs/quick/quick-resnet_56-s0``), as a clause for an error line; "" otherwise."""
    path = Path(path)
    folder = path.parent if path.name == records.CHECKPOINT else path
    if folder.exists() or not folder.parent.is_dir():
        return ""
    campaign = folder.parent.name
    found = sorted(d for d in folder.parent.iterdir() if d.is_dir() and short_id(d.name, campaign) == folder.name)
    if len(found) != 1:
        return ""
    return (f" (the runs listing shows its runs without the campaign's prefix: run {folder.name} of campaign "
            f"{campaign} is {found[0] / path.relative_to(folder)})")


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}"


def record_row(record: dict, run_dir: Path) -> dict:
    """A run's row, from its record (and its metrics, for a run still going)."""
    final = record.get("final") or {}
    done = record.get("epochs_done")
    if done is None:
        done = len(records.read_metrics(run_dir))
    # a record without the count of images evaluated (written before it was kept) has no interval to show
    low, high = wilson(final["top1"], final["evaluated"]) if final.get("top1") is not None and final.get(
        "evaluated") else (None, None)
    seconds = [record.get(k) for k in ("train_seconds", "eval_seconds") if record.get(k) is not None]
    run_id = record.get("run_id") or run_dir.name
    dataset = record.get("dataset") or {}
    status, reason = record.get("status"), record.get("reason")
    if status == "running" and (why := locks.killed(run_dir)):
        status, reason = "interrupted", why
    return {"campaign": record.get("campaign"), "short_id": short_id(run_id, record.get("campaign")),
            "status": status, "epochs": f"{done}/{(record.get('config') or {}).get('epochs', '?')}",
            "top1": final.get("top1"), "interval": f"{low:.2f}-{high:.2f}" if low is not None else None,
            "time": clock(sum(seconds)) if seconds else "-", "dataset": dataset.get("name"),
            "dataset_kind": dataset.get("kind"), "dataset_label": dataset.get("label"), "reason": reason,
            "run_id": run_id, "run_dir": str(run_dir)}


def run_rows(runs_root: str | Path, campaign: str | None = None) -> list[dict]:
    """Every run under ``runs_root`` (only ``campaign``'s when given), by campaign then id; a damaged record is
    a row that says so, not a stop."""
    rows = []
    for path in records.find_records(runs_root):
        try:
            row = record_row(records.load(path.parent), path.parent)
        except records.RecordError as e:
            row = {"short_id": path.parent.name, "status": "damaged", "reason": str(e), "run_id": path.parent.name,
                   "run_dir": str(path.parent)}
        rows.append(row)
    if campaign is not None:
        rows = [r for r in rows if r.get("campaign") == campaign]
    return sorted(rows, key=lambda r: (r.get("campaign") or "", r["run_id"]))


def runs_listing(runs_root: str | Path, campaign: str | None = None, fmt: str = "table") -> str:
    problem = listing_problem(runs_root, campaign)
    if problem:
        raise ConfigError(problem)
    rows = run_rows(runs_root, campaign)
    if not rows and fmt == "table":
        return f"no runs under {runs_root}"
    note = not_cifar100_note(rows) if fmt in ("table", "markdown") else ""
    gap = "\n\n" if fmt == "markdown" else "\n"  # Markdown would read a line right under a table as a row
    return render(rows, COLUMNS, fmt) + (gap + note if note else "")


def not_cifar100_note(rows: list[dict]) -> str:
    """One line naming each dataset of the listing that is not CIFAR-100 itself (a stand-in, synthetic data,
    other images), as its records label it: those top-1 numbers are no CIFAR-100 result."""
    others = {r["dataset"]: r.get("dataset_label") or r["dataset"] for r in rows
              if r.get("dataset") and r.get("dataset_kind") != "real"}
    if not others:
        return ""
    return "not CIFAR-100 results: the runs " + "; ".join(f"on {name}, {label}" for name, label in sorted(others.items()))


def listing_problem(runs_root: str | Path, campaign: str | None) -> str | None:
    """What is wrong with the listing's arguments (a missing folder, a campaign with no runs there), or None."""
    if not Path(runs_root).is_dir():
        what = "is a file, not a folder" if Path(runs_root).exists() else "does not exist"
        return (f"runs folder {runs_root} {what}; pass --runs-root FOLDER (the campaign's --runs-root, "
                f"default runs)")
    if campaign is not None and not run_rows(runs_root, campaign):
        found = sorted({r.get("campaign") for r in run_rows(runs_root) if r.get("campaign")})
        return f"no runs of campaign {campaign!r} under {runs_root}; campaigns there: {', '.join(found) or 'none'}"
    return None


STATUS_COLUMNS = [Column("short_id", "run"), Column("state", "state"), Column("job", "job", text)] + COLUMNS[3:]


def status_rows(campaign, states: dict[str, dict]) -> list[dict]:
    """``campaign --status``'s rows: each planned run's state and job (``states``: run id -> state, job,
    reason) with what its record says so far (nothing yet for a run that has not started)."""
    rows = []
    for run in campaign.runs:
        s = states[run.run_id]
        try:
            record = records.load(run.run_dir)
        except records.RecordError:
            record = None
        row = record_row(record, Path(run.run_dir)) if record else {
            "epochs": f"0/{run.config.epochs}", "time": "-", "run_id": run.run_id}
        rows.append({**row, "short_id": short_id(run.run_id, campaign.name), "state": s["state"],
                     "job": s.get("job"), "reason": s.get("reason")})
    return rows


def skipped_lines(runs: list[tuple[str, str | None]], again: str) -> list[str]:
    """One line per reason for skipping (a fine-tune's weights unavailable, and the fix), naming its runs and how
    to try them again: ``runs`` is (run id, reason) pairs, in order."""
    by_reason: dict[str | None, list[str]] = {}
    for run_id, reason in runs:
        by_reason.setdefault(reason, []).append(run_id)
    return [f"  skipped: {', '.join(ids)} ({reason}{again})" for reason, ids in by_reason.items()]
