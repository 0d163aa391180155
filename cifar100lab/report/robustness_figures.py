"""The Robustness chapter's figures, one per language: accuracy against severity per corruption family,
reliability diagrams, and the confusion of the best and worst models."""
from __future__ import annotations

import math

from ..robustness.settings import FAMILIES, family_of
from .figures import style
from .robustness_text import text


def label(result: dict) -> str:
    """The model (as its Results row names it: ``coatnet_0-scratch`` for a fine-tune model trained from scratch),
    its options where that name does not say them, and (with several seeds) its seed, as the chapter names a run.
    A model entry without a name is its row by model and options, as in its run ids: "resnet_20-shortcut-B
    shortcut=B" said them twice."""
    row, options = result.get("row") or result["model"], result.get("options") or {}
    said = "".join(f" {k}={v}" for k, v in options.items() if f"-{k}-{_id_value(v)}-" not in f"{row}-")
    return f"{row}{said}" + (f" (s{result['seed']})" if result.get("seed") else "")


def _id_value(value) -> str:
    """An option's value as a run id spells it (campaign.run_id_for)."""
    text = "_".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text.replace("/", "_").replace(" ", "_")


def family_accuracy(result: dict) -> dict[str, dict[int, float]]:
    """family -> severity -> top-1 (%) averaged over the family's measured corruptions; severity 0 is clean."""
    out: dict[str, dict[int, list[float]]] = {}
    for name, by_severity in result["corrupted"].items():
        for s, v in by_severity.items():
            out.setdefault(family_of(name), {}).setdefault(int(s), []).append(100 - v["error"])
    return {f: {0: result["clean"]["top1"], **{s: sum(v) / len(v) for s, v in sorted(by.items())}}
            for f, by in out.items()}


def figure_severity(results: list[dict], lang: str):
    import matplotlib.pyplot as plt
    style()
    families = [f for f in FAMILIES if any(f in family_accuracy(r) for r in results)]
    fig, axes = plt.subplots(1, len(families), figsize=(3.4 * len(families), 3.4), sharey=True, squeeze=False)
    for ax, family in zip(axes[0], families):
        for r in results:
            curve = family_accuracy(r).get(family)
            if curve:
                ax.plot(list(curve), list(curve.values()), marker="o", linewidth=1.3, markersize=3, label=label(r))
        ax.set_title(text(family, lang))
        ax.set_xlabel(text("severity", lang))
    axes[0][0].set_ylabel(text("ax_accuracy", lang))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0), ncol=min(5, len(labels)), fontsize=8,
               frameon=False)
    fig.tight_layout()
    return fig


def _reliability_curve(ax, bins: dict, **kw) -> None:
    points = [(c, a) for c, a in zip(bins["confidence"], bins["accuracy"]) if c is not None]
    if points:
        ax.plot(*zip(*points), marker="o", markersize=2.5, linewidth=1.1, **kw)


def figure_reliability(results: list[dict], lang: str):
    import matplotlib.pyplot as plt
    style()
    cols = min(5, len(results))
    rows = math.ceil(len(results) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.5 * rows), sharex=True, sharey=True, squeeze=False)
    for ax in axes.flat[len(results):]:
        ax.axis("off")
    for ax, r in zip(axes.flat, results):
        ax.plot([0, 1], [0, 1], color="0.6", linewidth=0.8, linestyle=":")
        _reliability_curve(ax, r["clean"]["reliability"], color="C0", label=text("clean", lang))
        if "corrupted_calibration" in r:
            _reliability_curve(ax, r["corrupted_calibration"]["reliability"], color="C3", linestyle="--",
                               label=f"{text('severity', lang)} {r['calibration_severity']}")
        ax.set_title(label(r), fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    for ax in axes[-1]:
        ax.set_xlabel(text("ax_confidence", lang))
    for ax in axes[:, 0]:
        ax.set_ylabel(text("ax_bin_accuracy", lang))
    fig.tight_layout()
    return fig


def figure_confusion(results: list[dict], lang: str):
    """Row-normalised confusion heat maps side by side (the names of a large label set are left off)."""
    import matplotlib.pyplot as plt
    import numpy as np
    style()
    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.8), squeeze=False)
    for ax, r in zip(axes[0], results):
        confusion = r["clean"]["confusion"]
        counts = np.asarray(confusion["counts"], dtype=float)
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        ticks = range(len(confusion["names"]))
        ax.set_xticks(ticks, confusion["names"], rotation=90, fontsize=6)
        ax.set_yticks(ticks, confusion["names"], fontsize=6)
        ax.grid(False)
        ax.set_title(f"{label(r)}: {r['clean']['top1']:.1f} %", fontsize=9)
        ax.set_xlabel(text("ax_predicted", lang))
        ax.set_ylabel(text("ax_true", lang))
    fig.tight_layout()
    return fig
