"""The run-records explorer (``notebooks/explore.ipynb``, and as an app through Voila): pick a campaign (or the
runs made outside one), runs and a metric; the curves and the table follow live.

The explorer is shown once, as the cell's value. Its view (the figure as a PNG and the table) is one HTML widget,
and where widgets cannot render (a saved notebook opened without its widget state, an HTML export) the same
display carries that HTML. No Output widget: nbclient (papermill, Voila) answers an Output widget's messages on
the shell channel while it waits there for the cell's reply, and the execution sometimes hung (nbclient issue 312).
"""
from __future__ import annotations

import base64
import io

import pandas as pd

from .. import records
from ..curves import integer_epochs

OUTSIDE = "(runs outside a campaign)"
METRICS = ["top1", "top5", "test_loss", "train_loss", "train_acc", "lr"]
# An HTML widget gets none of the notebook's table styling: a light one of its own.
TABLE_STYLE = ("<style>.explorer-table { border-collapse: collapse; font-size: 0.9em; margin-top: 0.5em; } "
               ".explorer-table th, .explorer-table td { padding: 0.2em 0.6em; text-align: right; } "
               ".explorer-table th { border-bottom: 1px solid #888; } "
               ".explorer-table tr:nth-child(even) td { background: rgba(128, 128, 128, 0.08); }</style>")
COLUMNS = ["run_id", "model", "seed", "top1", "top5", "params", "flops", "wall_seconds", "images_per_second",
           "dataset_label"]
SHOWN_AS = {"top1": "{:.2f}", "top5": "{:.2f}", "params": "{:,.0f}", "flops": "{:,.0f}", "wall_seconds": "{:.1f}",
            "images_per_second": "{:,.0f}"}


def explorer(runs_root="runs"):
    """The explorer's widget over the complete runs under ``runs_root`` (None, with a line, when there are none)."""
    import ipywidgets as w
    frame = records.records_frame([r for r in records.load_records(runs_root) if r.get("status") == "complete"])
    if frame.empty:
        print(f"no complete run records under {runs_root}")
        return None
    frame["campaign"] = frame.campaign.fillna(OUTSIDE)
    pick_campaign = w.Dropdown(options=sorted(frame.campaign.unique(), key=lambda c: (c == OUTSIDE, c)),
                               description="campaign")
    pick_runs = w.SelectMultiple(description="runs", rows=10, layout=w.Layout(width="36em"))  # whole run ids
    pick_metric = w.Dropdown(options=METRICS, description="metric")
    view, quiet = w.HTML(), []

    def refresh_runs(*_):
        sub = frame[frame.campaign == pick_campaign.value]
        quiet.append(True)  # new options empty the selection first: one redraw for the new runs, not two
        try:
            pick_runs.options = [(r.run_id, r.run_dir) for r in sub.itertuples()]
            pick_runs.value = tuple(sub.run_dir[:3])
        finally:
            quiet.clear()
        draw()

    def draw(*_):
        if not quiet:
            view.value = view_html(frame[frame.run_dir.isin(pick_runs.value)], pick_metric.value)

    pick_campaign.observe(refresh_runs, "value")
    for widget in (pick_runs, pick_metric):
        widget.observe(draw, "value")
    box = w.VBox([w.HBox([pick_campaign, pick_metric]), pick_runs, view])
    refresh_runs()
    box._repr_mimebundle_ = lambda **kw: {**w.VBox._repr_mimebundle_(box, **kw), "text/html": view.value}
    return box


def view_html(chosen: pd.DataFrame, metric: str) -> str:
    """The chosen runs' ``metric`` curves (a PNG) and their table, as HTML."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4))
    for r in chosen.itertuples():
        m = pd.DataFrame(records.read_metrics(r.run_dir))
        ax.plot(m.epoch, m[metric], marker="o", label=r.run_id)
    ax.set(xlabel="epoch", ylabel=metric)
    integer_epochs(ax)
    if len(chosen):
        ax.legend(fontsize=7)
    png = io.BytesIO()
    fig.savefig(png, format="png", bbox_inches="tight")
    plt.close(fig)  # never shown as a figure: the inline backend would show it at the cell's end
    table = chosen[[c for c in COLUMNS if c in chosen]]
    return (f'<img alt="{metric} by epoch" src="data:image/png;base64,{base64.b64encode(png.getvalue()).decode()}">'
            + TABLE_STYLE + table.to_html(index=False, border=0, classes="explorer-table", formatters={
                c: (lambda v, f=f: "–" if pd.isna(v) else f.format(v)) for c, f in SHOWN_AS.items() if c in table}))
