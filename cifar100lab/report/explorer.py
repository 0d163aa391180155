"""The run-records explorer (``notebooks/explore.ipynb``, and as an app through Voila): pick a campaign (or the
runs made outside one), runs and a metric; the curves and the table follow live.

The explorer is shown once, as the cell's value. Its view (the figure as a PNG and the table) is one HTML widget,
and where widgets cannot render (a saved notebook opened without its widget state, an HTML export) the same
display carries that HTML. No Output widget: nbclient (papermill, Voila) answers an Output widget's messages on
the shell channel while it waits there for the cell's reply, and the execution sometimes hung (nbclient issue 312).
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from .. import records
from ..curves import integer_epochs
from ..progress import not_cifar_notice
from .i18n import seconds
from .sources import RESULTS_ROW, stale_runs, with_results_rows

OUTSIDE = "(runs outside a campaign)"
METRICS = ["top1", "top5", "test_loss", "train_loss", "train_acc", "lr"]
# An HTML widget gets none of the notebook's table styling: a light one of its own.
TABLE_STYLE = ("<style>.explorer-table { border-collapse: collapse; font-size: 0.9em; margin-top: 0.5em; } "
               ".explorer-table th, .explorer-table td { padding: 0.2em 0.6em; text-align: right; } "
               ".explorer-table th { border-bottom: 1px solid #888; } "
               ".explorer-table tr:nth-child(even) td { background: rgba(128, 128, 128, 0.08); }</style>")
# The table's columns and their headings, as a run's summary (report.run_summary) names them. Its time is the
# training time of every epoch: a record's wall_seconds is its last attempt's alone (a resumed run's, only since it
# resumed). Its model is the run's model entry, named as the Results table names its row (:func:`_entries`).
COLUMNS = {"run_id": "run", "entry": "model", "seed": "seed", "top1": "top-1 (%)", "top5": "top-5 (%)",
           "params": "params", "flops": "FLOPs", "train_seconds": "train time (s)", "images_per_second": "images/s",
           "dataset_label": "dataset"}
# A time to one decimal, and below a second to two significant digits: a 0.04 s run read "0.0" and runs of 0.15 s
# and 0.24 s alike "0.2".
SHOWN_AS = {"top1": "{:.2f}".format, "top5": "{:.2f}".format, "params": "{:,.0f}".format, "flops": "{:,.0f}".format,
            "train_seconds": lambda v: seconds(v) if v < 1 else f"{v:.1f}", "images_per_second": "{:,.0f}".format}


def _records(runs_root) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """The complete runs under ``runs_root`` (a campaign's name, or OUTSIDE), and how many others each has: not
    complete, and stale (complete under settings its campaign no longer asks for, which its Results pages leave
    out: listed, a 1-epoch run read as one more seed beside the 3-epoch runs the campaign now asks for)."""
    found = records.load_records(runs_root)
    stale = _stale(found)
    complete = [r for r in found if r.get("status") == "complete" and r["run_dir"] not in stale]
    frame = records.records_frame(complete)
    if not frame.empty:
        frame["campaign"] = frame.campaign.fillna(OUTSIDE)
        frame["entry"] = _entries(complete)
    others: dict[str, dict[str, int]] = {}
    for r in found:
        if r.get("status") != "complete" or r["run_dir"] in stale:
            counts = others.setdefault(r.get("campaign") or OUTSIDE, {"not_complete": 0, "stale": 0})
            counts["stale" if r["run_dir"] in stale else "not_complete"] += 1
    return frame, others


def _stale(recs: list[dict]) -> set[str]:
    """The folders of the campaign runs whose campaign's manifest (beside them) says they are stale, while their
    record is still the one it saw (:func:`.sources.stale_runs`, as the Results pages read it)."""
    by_folder: dict[Path, list[dict]] = {}
    for r in recs:
        if r.get("campaign"):
            by_folder.setdefault(Path(r["run_dir"]).parent, []).append(r)
    out = set()
    for folder, seen in by_folder.items():
        try:
            stale = stale_runs(records.read_json(folder / records.MANIFEST), {Path(r["run_dir"]).name: r for r in seen})
        except (OSError, records.RecordError, KeyError, TypeError, AttributeError):  # no manifest, or not one
            continue
        out |= {r["run_dir"] for r in seen if Path(r["run_dir"]).name in stale}
    return out


def _entries(recs: list[dict]) -> list[str]:
    """Each run's model as the table shows it: a campaign run's model entry, named as the Results table names its
    row (``r20_long (resnet_20)``, the model beside a name of its own: two entries of one model otherwise look
    alike), where the manifest beside its folder says which entry it is a seed of; else its model."""
    shown = [r.get("model") for r in recs]
    by_folder: dict[Path, list[int]] = {}
    for i, r in enumerate(recs):
        if r.get("campaign"):
            by_folder.setdefault(Path(r["run_dir"]).parent, []).append(i)
    for folder, seen in by_folder.items():
        try:
            manifest = records.read_json(folder / records.MANIFEST)
            marked = with_results_rows(manifest, [recs[i] for i in seen])
        except (OSError, records.RecordError, KeyError, TypeError):  # no manifest, or not one: models, as before
            continue
        for i, r in zip(seen, marked):
            if r.get(RESULTS_ROW):
                shown[i] = r[RESULTS_ROW] if r[RESULTS_ROW] == r["model"] else f"{r[RESULTS_ROW]} ({r['model']})"
    return shown


def explorer(runs_root="runs"):
    """The explorer's widget over the complete runs under ``runs_root`` (None, with a line, when there are none).
    Records are read again at each campaign pick and by its reload button: runs trained since it opened show."""
    import ipywidgets as w
    frame, others = _records(runs_root)
    if frame.empty:
        print(f"no complete run records under {runs_root}")
        return None
    state = {"frame": frame, "others": others}

    def campaigns():
        return sorted(state["frame"].campaign.unique(), key=lambda c: (c == OUTSIDE, c))

    pick_campaign = w.Dropdown(options=campaigns(), description="campaign")
    pick_runs = w.SelectMultiple(description="runs", rows=10, layout=w.Layout(width="36em"))  # whole run ids
    pick_metric = w.Dropdown(options=METRICS, description="metric")
    reload = w.Button(description="reload records", tooltip="read the run records again (runs trained since)")
    view, quiet = w.HTML(), []

    def read_again(*_):
        state["frame"], state["others"] = _records(runs_root)
        quiet.append(True)  # the campaign list may change: one redraw, by refresh_runs
        try:
            chosen = pick_campaign.value
            pick_campaign.options = campaigns()  # (which picks the first)
            if chosen in pick_campaign.options:
                pick_campaign.value = chosen
        finally:
            quiet.clear()
        refresh_runs()

    def refresh_runs(*_):
        sub = state["frame"][state["frame"].campaign == pick_campaign.value]
        kept = [d for d in pick_runs.value if d in set(sub.run_dir)]
        quiet.append(True)  # new options empty the selection first: one redraw for the new runs, not two
        try:
            pick_runs.options = [(r.run_id, r.run_dir) for r in sub.itertuples()]
            pick_runs.value = tuple(kept or sub.run_dir[:3])
        finally:
            quiet.clear()
        draw()

    def draw(*_):
        if quiet:
            return
        frame = state["frame"]
        try:
            view.value = view_html(frame[frame.run_dir.isin(pick_runs.value)], pick_metric.value,
                                   **state["others"].get(pick_campaign.value, {}))
        except Exception as e:  # a callback's error reaches no one: the view says it
            view.value = f"<p>could not draw: {html.escape(f'{type(e).__name__}: {e}')}</p>"

    pick_campaign.observe(lambda *_: read_again() if not quiet else None, "value")
    reload.on_click(read_again)
    for widget in (pick_runs, pick_metric):
        widget.observe(draw, "value")
    box = w.VBox([w.HBox([pick_campaign, pick_metric, reload]), pick_runs, view])
    refresh_runs()
    box._repr_mimebundle_ = lambda **kw: {**w.VBox._repr_mimebundle_(box, **kw), "text/html": view.value}
    return box


def view_html(chosen: pd.DataFrame, metric: str, not_complete: int = 0, stale: int = 0) -> str:
    """The chosen runs' ``metric`` curves (a PNG) and their table, as HTML; a run whose folder has gone is named,
    and so is the number of the campaign's runs not listed (not complete, stale)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4))
    gone = []
    for r in chosen.itertuples():
        m = pd.DataFrame(records.read_metrics(r.run_dir))
        if m.empty or metric not in m:
            gone.append(r.run_id)
            continue
        ax.plot(m.epoch, m[metric], marker="o", label=r.run_id)
    ax.set(xlabel="epoch", ylabel=metric)
    notices = sorted({not_cifar_notice(r.dataset_kind, r.dataset_label) for r in chosen.itertuples()} - {""})
    if notices:  # the picture alone (copied, saved) still says what it was measured on
        ax.set_title("; ".join(notices), fontsize=9, color="#9a3412", loc="left")
    integer_epochs(ax)
    if len(chosen) > len(gone):
        ax.legend(fontsize=7)
    png = io.BytesIO()
    fig.savefig(png, format="png", bbox_inches="tight")
    plt.close(fig)  # never shown as a figure: the inline backend would show it at the cell's end
    table = chosen[[c for c in COLUMNS if c in chosen]]
    notes = ([f"no {metric} curve (its folder moved or emptied; reload records): {', '.join(gone)}"] if gone else []) \
        + ([f"{not_complete} run(s) of this campaign not complete (failed, running, interrupted or skipped) are not "
            f"listed: python -m cifar100lab runs lists them"] if not_complete else []) \
        + ([f"{stale} stale run(s) of this campaign (complete under settings it no longer asks for; its Results "
            f"pages leave them out) are not listed: python -m cifar100lab campaign CAMPAIGN.yaml --dry-run names them"] if stale else [])
    # The image and the table fit the width the notebook gives them (JupyterLab's, beside its file browser).
    return (f'<img style="max-width: 100%; height: auto" alt="{metric} by epoch" '
            f'src="data:image/png;base64,{base64.b64encode(png.getvalue()).decode()}">'
            + "".join(f"<p>{html.escape(n)}</p>" for n in notes)
            + TABLE_STYLE + '<div style="overflow-x: auto">' + table.rename(columns=COLUMNS).to_html(
                index=False, border=0, classes="explorer-table", formatters={
                    COLUMNS[c]: (lambda v, f=f: "–" if pd.isna(v) else f(v))
                    for c, f in SHOWN_AS.items() if c in table})
            + "</div>")
