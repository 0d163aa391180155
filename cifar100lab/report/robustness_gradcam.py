"""The Robustness chapter's Grad-CAM panel grid: one row per model, one column per panel image, each heat map
laid over its image, titled with the predicted class (green: right; red, marked ×: wrong)."""
from __future__ import annotations

from ..robustness.results import decode
from .figures import style
from .robustness_figures import label
from .robustness_text import text


def with_panels(results: list[dict]) -> list[dict]:
    """The results that carry a Grad-CAM panel of the same images as the first such result."""
    found = [r for r in results if r.get("gradcam")]
    first = found[0]["gradcam"]["images"] if found else None
    return [r for r in found if r["gradcam"]["images"] == first]


def figure_gradcam(results: list[dict], lang: str):
    import matplotlib.pyplot as plt
    style()
    rows = with_panels(results)
    classes = rows[0]["clean"]["classes"]
    images = decode(rows[0]["gradcam"], "images")
    cols = len(images)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.25 * cols + 1.6, 1.35 * len(rows) + 0.3), squeeze=False)
    for ax_row, r in zip(axes, rows):
        cam = r["gradcam"]
        maps = decode(cam, "maps")
        for j, ax in enumerate(ax_row):
            ax.imshow(images[j], interpolation="nearest")
            ax.imshow(maps[j], cmap="jet", alpha=0.45, vmin=0, vmax=255, interpolation="bilinear")
            right = cam["predicted"][j] == cam["labels"][j]
            # × (Latin-1, in every font the book uses) marks a wrong prediction; ✓/✗ are missing from them
            ax.set_title(("" if right else "× ") + str(classes[cam["predicted"][j]])[:12], fontsize=7,
                         color="#1a7f37" if right else "#cf222e")
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(label(r), fontsize=7, rotation=0, ha="right", va="center")
    for j, ax in enumerate(axes[-1]):
        ax.set_xlabel(f"{text('true', lang)}: {str(classes[rows[0]['gradcam']['labels'][j]])[:12]}", fontsize=7)
    fig.tight_layout()
    return fig
