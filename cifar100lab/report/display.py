"""What notebooks show: one run (glued for its book page), a campaign, a study (the records explorer: :mod:`.explorer`)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import records
from .figures import figure_run_curves
from .i18n import fmt
from .sources import hardware_label


def _int(v) -> str:
    return f"{v:,}" if isinstance(v, (int, float)) and v == v else "–"


def best_label(best: dict) -> str:
    """Chosen on a validation split, the best epoch's test top-1 is fair; chosen on the test curve itself (no
    split, the original protocol) it is optimistic, and says so."""
    if best.get("selected_on") == "validation":
        return "test top-1 at the best validation epoch (%)"
    return "peak test top-1, optimistic (%)"


def run_summary(record: dict) -> pd.Series:
    """The record as a readable two-column table: formatted numbers, provenance and the recipe used."""
    ds, hw = record.get("dataset") or {}, record.get("hardware") or {}
    final, best, rec = record.get("final") or {}, record.get("best") or {}, record.get("recipe") or {}
    versions = record.get("versions") or {}
    rows = {"run": record["run_id"], "status": record["status"], "model": record["model"],
            "options": json.dumps(record.get("options") or {}), "seed": record.get("seed"),
            "dataset": ds.get("label"), "top-1 (%)": fmt(final.get("top1")), "top-5 (%)": fmt(final.get("top5")),
            best_label(best): fmt(best.get("top1")) + (f" (epoch {best['epoch']})" if best.get("epoch") else ""),
            "params": _int(record.get("params")), "FLOPs": _int(record.get("flops")),
            "epochs": record.get("epochs_done"), "train time (s)": fmt(record.get("train_seconds"), 1),
            "images/s": fmt(record.get("images_per_second"), 0), "hardware": hardware_label(hw, short=False) if hw else None,
            "recipe": rec.get("name"), "effective lr": f"{rec['effective_lr']:g}" if "effective_lr" in rec else "–",
            "global batch": rec.get("global_batch"), "commit": (record.get("git_commit") or "–")[:12],
            "versions": ", ".join(f"{k} {versions[k]}" for k in ("torch", "timm", "accelerate") if k in versions)}
    if record.get("reason"):
        rows["reason"] = record["reason"]
    return pd.Series({k: ("–" if v is None else v) for k, v in rows.items()})


def _glue():
    """myst-nb's glue (the book's numbers come from it); without the book extra installed, as on a training
    server, a stand-in that shows what should be shown and keeps the run's notebook from failing."""
    try:
        from myst_nb import glue
        return glue
    except ImportError:
        from IPython.display import display as show

        def glue(name, value, display=True):
            if display:
                show(value)
        return glue


def show_run(record: dict) -> None:
    """Display one run in its notebook and glue its numbers and figure (shown once) for the book."""
    from IPython.display import Markdown, display
    glue = _glue()
    summary = run_summary(record)
    kind = (record.get("dataset") or {}).get("kind")
    if kind and kind != "real":
        display(Markdown(f"**Dataset: {summary['dataset']} — not CIFAR-100.**"))
    with pd.option_context("display.max_colwidth", None):  # hardware and versions in full, not cut at 50
        display(summary.to_frame("value"))
    glue("status", record["status"], display=False)
    final = record.get("final") or {}
    for key in ("top1", "top5"):
        glue(key, final.get(key, float("nan")), display=False)
    glue("params_m", (record.get("params") or 0) / 1e6, display=False)
    if record["status"] == "complete":
        import matplotlib.pyplot as plt
        fig = figure_run_curves(records.curve(record),
                                record["run_id"])
        glue("curves", fig, display=True)
        plt.close(fig)  # glue displayed it; closing stops the inline backend from showing it a second time


def show_markdown(path: Path) -> None:
    """A generated Markdown fragment, rendered (figures are displayed apart by the callers)."""
    from IPython.display import Markdown, display
    display(Markdown(Path(path).read_text(encoding="utf-8").split("```{figure}")[0]))


def show_campaign(results: dict) -> None:
    from IPython.display import Image, display
    show_markdown(Path(results["out_dir"]) / "results_en.md")
    for name in results["figures"]:
        display(Image(filename=str(Path(results["out_dir"]) / name)))


def show_study(result: dict) -> None:
    from IPython.display import Image, display
    name = result["study"]["name"]
    show_markdown(Path(result["out_dir"]) / f"study-{name}_en.md")
    display(Image(filename=str(Path(result["out_dir"]) / f"study-{name}_en.png")))

