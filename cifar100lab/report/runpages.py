"""Run pages as published: each executed run notebook titled by its run, with a plain-text epoch log
instead of progress widgets; and the runs index that lists them. (The defaults cell is tagged
``remove-cell`` in the notebook, so a page shows papermill's injected parameters only.)"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .. import records
from ..model_catalog import catalog_rows
from ..run_listing import short_id
from .i18n import STATUS, dataset_label, fmt
from .sources import RESULTS_ROW, executed_parameters, record_row
from .tables import regularisation

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def run_title(rec: dict, catalog: dict[str, dict] | None = None) -> str:
    """'eca_resnet_20 · k_size=5 · seed 0', 'resnet_56 · Mixup 0.8 · CutMix 1 · seed 0': unique within a
    campaign (a study variant's regularisation is part of it), readable in the sidebar. A fine-tune model
    trained from scratch is named as its results row is ('coatnet_0-scratch'), apart from its fine-tune."""
    name = record_row(rec, catalog_rows() if catalog is None else catalog) if rec.get("model") else None
    # a model entry's row name carries its options already (eca_resnet_20-k_size-5)
    opts = "" if rec.get(RESULTS_ROW) else " · ".join(f"{k}={v}" for k, v in (rec.get("options") or {}).items())
    reg = regularisation(rec.get("recipe") or {}, "en")
    return " · ".join(x for x in (name or rec.get("run_id"), opts, reg if reg != "–" else "",
                                  f"seed {rec.get('seed')}") if x)


def run_titles(recs: list[dict]) -> dict[str, str]:
    """run id -> page title: :func:`run_title`, with the run's short id added where two runs would share a title
    (a named model entry differing only in a recipe field, such as a deliberately diverging learning rate)."""
    catalog = catalog_rows()
    titles = {r["run_id"]: run_title(r, catalog) for r in recs}
    shared = Counter(titles.values())
    return {r["run_id"]: titles[r["run_id"]] + (f" ({short_id(r['run_id'], r.get('campaign'))})"
                                                if shared[titles[r["run_id"]]] > 1 else "") for r in recs}


def epoch_log(rec: dict) -> str:
    rows = records.curve(rec)
    return "".join(f"epoch {m['epoch']}: train loss {m.get('train_loss', float('nan')):.4f}, test top-1 "
                   f"{m.get('top1', float('nan')):.2f} %, {m.get('epoch_seconds', 0):.1f} s\n" for m in rows)


def _retitle(nb: dict, title: str) -> None:
    title = f"# {title}\n\n"
    first = next((c for c in nb["cells"] if c["cell_type"] == "markdown"), None)
    if first is None:
        nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": title})
        return
    text = "".join(first["source"])
    body = text.split("\n", 1)[1] if text.startswith("# ") else text
    first["source"] = title + body.lstrip("\n")


def _plain_outputs(cell: dict, log: str) -> None:
    outputs = cell.get("outputs") or []
    kept = [o for o in outputs if WIDGET_MIME not in (o.get("data") or {})]
    if len(kept) != len(outputs) and log:
        kept.insert(0, {"output_type": "stream", "name": "stdout", "text": log})
    cell["outputs"] = kept


def publish_run_page(path: Path, rec: dict, title: str) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    _retitle(nb, title)
    log = epoch_log(rec)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            _plain_outputs(cell, log)
    nb.get("metadata", {}).pop("widgets", None)
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if text != path.read_text(encoding="utf-8"):
        path.write_text(text, encoding="utf-8")


def _with_pages(recs: list[dict], book_dir: Path) -> list[dict]:
    return [r for r in recs if (Path(book_dir) / "runs" / f"{r['run_id']}.ipynb").exists()]


def publish_run_pages(book_dir: Path, recs: list[dict]) -> int:
    shown = _with_pages(recs, book_dir)
    titles = run_titles(shown)
    for rec in shown:
        publish_run_page(Path(book_dir) / "runs" / f"{rec['run_id']}.ipynb", rec, titles[rec["run_id"]])
    return len(shown)


def _pages_not_shown(shown: list[dict], book_dir: Path, runs_root) -> list[dict]:
    """The run pages in the book that ``shown`` (this campaign's) does not hold, each with its record where it
    can be found (its campaign's folder under ``runs_root``, or the run_dir papermill was given), else the
    little its notebook says: they stay in the book (the sidebar lists them), so the index says what they are."""
    mine = {r["run_id"] for r in shown}
    others = []
    for page in sorted((Path(book_dir) / "runs").glob("*.ipynb")):
        if page.stem in mine:
            continue
        given = executed_parameters(page)
        folders = [Path(runs_root) / str(given.get("campaign")) / page.stem, Path(str(given.get("run_dir")))]
        rec = next((r for r in map(records.load, folders) if r), None) if given else None
        others.append({**(rec or {"model": None, "status": None}), "run_id": page.stem,
                       "campaign": (rec or given).get("campaign")})
    return others


def _index_tables(recs: list[dict], titles: dict[str, str]) -> list[str]:
    """One table per dataset, under its name: a stand-in's or synthetic data's numbers never appear unlabelled."""
    by_dataset: dict[str, list[dict]] = {}
    for r in recs:
        by_dataset.setdefault((r.get("dataset") or {}).get("name") or "", []).append(r)
    parts = []
    for name, group in by_dataset.items():
        label = dataset_label(name, (group[0].get("dataset") or {}).get("label") or "–") if name else \
            {"en": "– (no record found)", "zh": "–（未找到运行记录）"}
        lines = [f"**Dataset: {label['en']} · 数据集：{label['zh']}**", "",
                 "| Run · 运行 | Status · 状态 | Top-1 (%) |", "|---|---|---|"]
        for r in group:
            st = STATUS.get(r.get("status"), {"en": r.get("status") or "–", "zh": r.get("status") or "–"})
            lines.append(f"| [{titles[r['run_id']]}]({r['run_id']}.ipynb) | {st['en']} · {st['zh']} | "
                         f"{fmt((r.get('final') or {}).get('top1'))} |")
        parts.append("\n".join(lines))
    return parts


def runs_index(recs: list[dict], book_dir: Path, runs_root="runs", campaign: str | None = None) -> str:
    """The runs index (bilingual): one line per run with a page in the book, this campaign's first, then any
    other campaign's whose pages are still in the book, under their campaign's name; pages of this campaign
    (``campaign``) whose runs are not in its results (since removed from its YAML, or stale) say so."""
    shown = _with_pages(recs, book_dir)
    others = _pages_not_shown(shown, book_dir, runs_root)
    if not shown and not others:
        return (":::{note}\nNo run has been published yet: `make report` runs the quick campaign and writes one "
                "page per run here. 尚无运行记录：`make report` 执行 quick 实验，并在此为每次运行生成一页。\n:::\n")
    titles, catalog = run_titles(shown), catalog_rows()
    titles.update({r["run_id"]: run_title(r, catalog) if r.get("model") else r["run_id"] for r in others})
    parts = _index_tables(shown, titles)
    by_campaign: dict[str, list[dict]] = {}
    for r in others:
        by_campaign.setdefault(r.get("campaign") or "–", []).append(r)
    for name, group in by_campaign.items():
        parts.append(f"## Runs of campaign {name} left out of its results: its YAML no longer asks for them, or asks "
                     f"for other settings · 实验配置 {name} 中未列入结果的运行：其 YAML 已不再要求它们，或要求的设置不同"
                     if name == campaign else f"## Runs of campaign {name}, not the one this book reports · 实验配置 "
                     f"{name} 的运行（不是本书所报告的实验配置）")
        parts += _index_tables(group, titles)
    # Run titles wrap between words so Status and Top-1 stay in view; a status stays on one line
    # (book/_static/tables.css, .run-titles and .runs-index).
    return ":::{div} run-titles runs-index\n" + "\n\n".join(parts) + "\n:::\n"
