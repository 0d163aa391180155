"""Figures, one per language: titles, axes and legends in the page's language."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import records
from ..curves import CJK_FONTS, figure_run_curves, integer_epochs, style  # noqa: F401 (the report's names too)
from ..model_catalog import catalog_rows
from ..model_facts import GROUPS
from .i18n import LANGS, dataset_label, group, say
from .sources import chance_level, num_classes, record_row, table_records

DPI = 130


def save(fig, path: Path, box=None) -> str:
    """Write the figure all or nothing, as every result file is: a stopped analysis leaves the last figure whole.
    Cropped to what it draws, or to ``box`` (inches; :func:`save_in_every_language`)."""
    import matplotlib.pyplot as plt
    try:
        records.atomic_write(path, lambda f: fig.savefig(f, format=Path(path).suffix[1:], dpi=DPI,
                                                         bbox_inches="tight" if box is None else box))
    finally:
        plt.close(fig)
    return Path(path).name


def lay_out(fig, layout: dict | None = None) -> None:
    """Fit the figure's axes to its words (tight_layout), or place them as ``layout`` (subplot parameters) says."""
    if layout is None:
        fig.tight_layout()
    else:
        fig.subplots_adjust(**layout)


def in_every_language(make) -> dict:
    """``make(lang, layout)`` in every language, each figure's axes at the same place and size. Laid out alone,
    each language's figure fitted its own words: the Chinese labels' taller lines shrank its axes, and matplotlib's
    tick locator, which picks its step by the axes' length, ticked a study by 10 in Chinese and by 5 in English.
    So each language is drafted once, and every figure is drawn again with the margins that fit every language's
    words; point labels are then placed on the same axes in each."""
    import matplotlib.pyplot as plt
    drafts = [make(lang, None) for lang in LANGS]
    params = [fig.subplotpars for fig in drafts]
    layout = {"left": max(p.left for p in params), "right": min(p.right for p in params),
              "bottom": max(p.bottom for p in params), "top": min(p.top for p in params),
              "wspace": max(p.wspace for p in params), "hspace": max(p.hspace for p in params)}
    for fig in drafts:
        plt.close(fig)
    return {lang: make(lang, layout) for lang in LANGS}


def save_in_every_language(make, stem: Path) -> dict[str, str]:
    """:func:`in_every_language`'s figures saved as ``<stem>_<lang>.png``, each cropped to the box that holds
    every language's drawing: the images are the same size, their axes at the same pixels (cropping each to its
    own words moved the plot by a few pixels between the languages). {lang: file name}."""
    import matplotlib as mpl
    from matplotlib.transforms import Bbox
    figs = in_every_language(make)
    boxes = []
    for fig in figs.values():
        fig.set_dpi(DPI)  # the text's extent as saved
        boxes.append(fig.get_tightbbox(fig.canvas.get_renderer()))
    box = Bbox.union(boxes).padded(mpl.rcParams["savefig.pad_inches"])
    return {lang: save(fig, stem.with_name(f"{stem.name}_{lang}.png"), box) for lang, fig in figs.items()}


def not_cifar_heading(ctx: dict, lang: str) -> str:
    """The dataset and "Not CIFAR-100" for a figure of runs on a stand-in or synthetic data ("" for CIFAR-100): a
    figure is also seen alone (downloaded, copied into slides), away from the page's notice."""
    return f"{dataset_label(ctx.get('dataset'))[lang]} · {say('not_cifar_title', lang)}" if ctx.get("kind") != "real" else ""


def mark_not_cifar(fig, ctx: dict, lang: str, layout: dict | None = None):
    """``fig`` headed with :func:`not_cifar_heading`, where it has one."""
    if heading := not_cifar_heading(ctx, lang):
        fig.suptitle(heading, fontsize=9, color="#9a3412", x=0.01, ha="left")
        lay_out(fig, layout)
    return fig


def _done(rows: pd.DataFrame, lang: str) -> pd.DataFrame:
    done = rows[rows.status == "complete"].copy()
    done["group_label"] = [group(g)[lang] for g in done.group]
    return done


def chance_line(ax, chance: float, lang: str, vertical: bool = False) -> None:
    """The accuracy of a uniform guess, dashed, so a reader sees at once which runs did not beat it."""
    if chance != chance:  # unknown class count
        return
    line = ax.axvline if vertical else ax.axhline
    line(chance, color="0.3", linestyle="--", linewidth=1, label=say("ax_chance", lang, chance=f"{chance:g}"))


def failure_label(row) -> str:
    """The model's name, marked † when its loss diverged (the Note column and the caption say so)."""
    return f"{row.model} †" if isinstance(row.diverged, dict) else row.model


def _group_order(done: pd.DataFrame, lang: str) -> list[str]:
    return [group(g)[lang] for g in GROUPS if g in set(done.group)]


def figure_top1(rows: pd.DataFrame, lang: str, layout: dict | None = None):
    import matplotlib.pyplot as plt
    import seaborn as sns
    style()
    done = _done(rows, lang)
    done["model"] = [failure_label(r) for r in done.itertuples()]
    fig, ax = plt.subplots(figsize=(8, 0.32 * max(4, len(done)) + 1))
    sns.barplot(data=done, y="model", x="top1", hue="group_label", dodge=False, ax=ax,
                hue_order=_group_order(done, lang))
    err = [done.top1 - done.top1_lo, done.top1_hi - done.top1]
    ax.errorbar(done.top1, range(len(done)), xerr=err, fmt="none", ecolor="black", capsize=2)
    chance_line(ax, done.chance.iloc[0], lang, vertical=True)
    ax.set(xlabel=say("ax_top1", lang), ylabel="")
    # beside the plot: inside, it covered the ends and whiskers of the longest bars
    ax.legend(fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left", title=say("ax_group", lang), title_fontsize=8)
    lay_out(fig, layout)
    return fig


def _plain_minor_log_formatter(**kw):
    """A log axis's minor-tick labels as plain numbers, on the ticks matplotlib's own formatter labels (none
    when the axis spans decades, some within one)."""
    from matplotlib.ticker import LogFormatter

    class PlainMinorLogFormatter(LogFormatter):
        def __call__(self, x, pos=None):
            return f"{x:.3g}" if super().__call__(x, pos) else ""
    return PlainMinorLogFormatter(**kw)


def figure_acc_params(rows: pd.DataFrame, lang: str, layout: dict | None = None):
    import matplotlib.pyplot as plt
    import seaborn as sns
    style()
    done = _done(rows, lang).drop(columns=["group"]).rename(columns={"group_label": say("ax_group", lang), "flops_m": say("ax_flops", lang)})
    done[say("ax_flops", lang)] = done[say("ax_flops", lang)].round()  # the size legend lists whole MFLOPs
    fig, ax = plt.subplots(figsize=(8, 4.8))
    sns.scatterplot(data=done, x="params_m", y="top1", hue=say("ax_group", lang), size=say("ax_flops", lang),
                    sizes=(30, 400), ax=ax, hue_order=_group_order(_done(rows, lang), lang), alpha=0.8)
    chance_line(ax, done.chance.iloc[0], lang)
    ax.set(xscale="log", xlabel=say("ax_params", lang), ylabel=say("ax_top1", lang))
    from matplotlib.ticker import FuncFormatter
    # 0.1, 1, 10, and within a decade some minor ticks' 0.28, 0.29: matplotlib's default labels are mathtext
    # (2.8×10⁻¹), whose minus sign the CJK fonts lack
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(_plain_minor_log_formatter(labelOnlyBase=False))
    ax.margins(x=0.12, y=0.1)  # room inside the axes for the outermost points' labels
    lo, hi = ax.get_xlim()
    if hi < 2 * lo:  # models of near-equal size: at least a factor of 2 wide, not 0.2721-0.2725 ticked "0.272" 9 times
        mid = (lo * hi) ** 0.5
        ax.set_xlim(mid / 2 ** 0.5, mid * 2 ** 0.5)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    lay_out(fig, layout)
    place_labels(ax, [(failure_label(r), r.params_m, r.top1) for r in done.itertuples()], markers=ax.collections[0])
    return fig


def place_labels(ax, labels: list[tuple[str, float, float]], markers=None) -> list:
    """Point labels that overlap neither each other nor the points and stay inside the axes, clear of its frame
    (adjustText moves them apart; a thin line leads from a moved label to its point). ``markers``, the points'
    scatter, keeps the labels off each marker's whole extent, not only its centre: a large model's bubble
    otherwise sat under its label."""
    from adjustText import adjust_text
    # Each label starts 8 pixels right of its point, whatever the axis spans, and adjustText moves it clear of the
    # markers (a step in data units put the labels of points within 2 % of each other at the far edge).
    xs, ys = [x for _, x, _ in labels], [y for _, _, y in labels]
    starts = ax.transData.inverted().transform(ax.transData.transform(list(zip(xs, ys))) + (8, 0)) if labels else []
    texts = [ax.text(sx, sy, text, fontsize=7, va="center") for (text, _, _), (sx, sy) in zip(labels, starts)]
    if texts:
        # A fixed number of steps: adjustText's default stops after 1 s, so the labels sat where the machine's speed
        # left them and the same records drew a different figure each time. The quick campaign's 16 labels settle
        # within 50 steps and stay put after.
        texts, arrows = adjust_text(texts, x=xs, y=ys, target_x=xs, target_y=ys, objects=markers, ax=ax,
                                    ensure_inside_axes=True, iter_lim=200, expand=(1.2, 1.5),
                                    arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.5})
        clear_of_frame(ax, texts, arrows)
    return texts


LABEL_GAP = 3  # pixels between a label and the axes' frame: a label flush with the frame reads as cut off


def clear_of_frame(ax, texts: list, arrows: list) -> None:
    """Move each label that ends flush with the axes' frame :data:`LABEL_GAP` pixels inside it. adjustText keeps
    a label inside the axes by pushing it against the frame: the quick campaign's largest models' labels ended
    there. A few pixels stay within the room adjustText keeps around each label (``expand``), and the leader
    line starts at the label's new centre."""
    renderer = ax.figure.canvas.get_renderer()
    frame, to_data = ax.get_window_extent(renderer), ax.transData.inverted()
    for text in texts:
        box = text.get_window_extent(renderer)
        dx = max(0.0, frame.x0 + LABEL_GAP - box.x0) - max(0.0, box.x1 - (frame.x1 - LABEL_GAP))
        dy = max(0.0, frame.y0 + LABEL_GAP - box.y0) - max(0.0, box.y1 - (frame.y1 - LABEL_GAP))
        if dx or dy:
            centre = ax.transData.transform(text.get_position())
            text.set_position(to_data.transform(centre + (dx, dy)))
            for arrow in arrows:
                if arrow.patchA is text:
                    arrow.set_positions(text.get_position(), None)


def one_per_group(rows: pd.DataFrame) -> list[str]:
    """The most accurate model of each group, as the original's Fig. 3 picked one per group."""
    done = rows[rows.status == "complete"]
    return list(done.sort_values("top1", ascending=False).groupby("group", sort=False).head(1).model)


def _plotted(recs: list[dict], models: list[str]) -> list[tuple[str, dict]]:
    """(results row, record) of every complete run of ``models``, every seed. ``models`` are results rows: a
    fine-tune model's scratch run is its '-scratch' row."""
    catalog = catalog_rows()
    rows = [(record_row(r, catalog), r) for r in table_records(recs) if r.get("status") == "complete"]
    return [(row, r) for row, r in rows if row in models]


def _chance(plotted: list[tuple[str, dict]]) -> float:
    """The chance level of the runs drawn: the campaign's first record may be a run skipped or failed before its
    data was read, which has no class count (the figure then lost the chance line its caption names)."""
    return chance_level(num_classes(plotted[0][1])) if plotted else float("nan")


def figure_curves(recs: list[dict], models: list[str], lang: str, layout: dict | None = None):
    import matplotlib.pyplot as plt
    import seaborn as sns
    style()
    frames, plotted = [], _plotted(recs, models)
    for row, r in plotted:
        m = pd.DataFrame(records.curve(r))
        m["model"], m["seed"] = row, r["seed"]
        frames.append(m)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if frames:
        df = pd.concat(frames)
        few = len(models) <= 8
        sns.lineplot(data=df, x="epoch", y="top1", hue="model", hue_order=models, ax=ax,
                     style="model" if few else None, markers=few, dashes=few,
                     errorbar="sd" if df.seed.nunique() > 1 else None)
        chance_line(ax, _chance(plotted), lang)
        ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left", ncol=1 if few else 2)
    integer_epochs(ax)
    ax.set(xlabel=say("ax_epoch", lang), ylabel=say("ax_top1", lang))
    lay_out(fig, layout)
    return fig


def figure_curves_panels(recs: list[dict], models: list[str], lang: str, columns: int = 4, layout: dict | None = None):
    """One small panel per model (its curve in colour, every other model's in grey behind it, the same axes in
    every panel), for more models than one legend keeps apart."""
    import matplotlib.pyplot as plt
    style()
    frames, plotted = {}, _plotted(recs, models)
    for row, r in plotted:  # every seed's curve: a panel shows their mean
        frames.setdefault(row, []).append(pd.DataFrame(records.curve(r)))
    curves = {row: pd.concat(parts) for row, parts in frames.items()}
    shown = [m for m in models if m in curves]
    rows = max(1, -(-len(shown) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(8, 1.9 * rows + 0.6), sharex=True, sharey=True, squeeze=False)
    chance = _chance(plotted)
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            ax.set_visible(False)
            continue
        for other in shown:
            c = curves[other].groupby("epoch").top1.mean()
            ax.plot(c.index, c.values, color="0.8" if other != shown[i] else "C0",
                    lw=1.8 if other == shown[i] else 0.8, zorder=3 if other == shown[i] else 1)
        chance_line(ax, chance, lang)
        ax.set_title(shown[i], fontsize=9)
        ax.tick_params(labelsize=8, labelbottom=i + columns >= len(shown))  # epochs under each column's last panel
        integer_epochs(ax)
    fig.supxlabel(say("ax_epoch", lang), fontsize=10)
    fig.supylabel(say("ax_top1", lang), fontsize=10)
    lay_out(fig, layout)
    return fig


def figure_study(df: pd.DataFrame, title: str, lang: str, x: str = "variant", notice: str = "", layout: dict | None = None):
    """Top-1 per variant (or against parameters, ``x='params_m'``): each variant's mean with its 95 % interval,
    each seed a dot; one panel per model when the study compares within each model (``base`` rows other than the
    first)."""
    import matplotlib.pyplot as plt
    style()
    label = "variant" if lang == "en" else "variant_zh"
    per_model = x == "variant" and "base" in df and bool((df.base != 0).any())
    models = list(dict.fromkeys(df.model)) if per_model else [None]
    widths = [max(2, (df.model == m).sum()) if m else 1 for m in models]
    fig, axes = plt.subplots(1, len(models), figsize=(max(7, 1.1 * sum(widths)), 3.6), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    point_labels = []  # (axes, labels): placed once the layout is final, clear of the frame in pixels
    for ax, model in zip(axes[0], models):
        part = df[df.model == model] if model else df
        points = pd.DataFrame([{"variant": getattr(r, label), "params_m": r.params_m, "top1": v}
                               for r in part.itertuples() for v in r.values])
        if len(points) and x == "params_m":
            point_labels.append((ax, _study_params(ax, part, points, label, lang)))
        elif len(points):
            _study_variants(ax, part, points, label, lang, several=len(models) > 1)
        chance_line(ax, part.chance.iloc[0] if "chance" in part and len(part) else float("nan"), lang)
        ax.set(ylabel=say("ax_top1", lang) if ax is axes[0][0] else "")
        ax.tick_params(axis="both", labelsize=10)
    fig.suptitle(title + (f"\n{notice}" if notice else ""), fontsize=11)
    lay_out(fig, layout)
    for ax, labels in point_labels:
        place_labels(ax, labels)
    if x == "variant":
        fig.draw_without_rendering()  # places the tick labels, for every panel at once
        if any([_slant_if_crowded(ax) for ax in axes[0]]):
            lay_out(fig, layout)  # room under the slanted labels
    return fig


def _interval_bars(ax, xs, part: pd.DataFrame, **kw) -> None:
    """Each variant's mean with the table's 95 % interval (Wilson's, over the test images the seeds share), which
    stays within 0-100 %: a mean ± standard deviation bar claimed accuracies below 0 % (1.50 ± 2.12 for a variant
    at chance with two seeds) or above 100 %."""
    lo = part.top1_lo if "top1_lo" in part else part["mean"]
    hi = part.top1_hi if "top1_hi" in part else part["mean"]
    below, above = (part["mean"] - lo).clip(lower=0).fillna(0), (hi - part["mean"]).clip(lower=0).fillna(0)
    # an open marker: the runs' dots drawn over it stay visible
    ax.errorbar(xs, part["mean"], yerr=[below, above], color="C0", ecolor="C0", capsize=5, elinewidth=1.5,
                markersize=8, markerfacecolor="white", markeredgewidth=1.5, zorder=3, **kw)


def _study_params(ax, df: pd.DataFrame, points: pd.DataFrame, label: str, lang: str) -> list[tuple[str, float, float]]:
    """The variants' mean top-1 against their parameters, joined in order of parameters, with their intervals and
    each run as a dot; their point labels, for :func:`place_labels` (labels at a fixed offset ran past the frame:
    the quick campaign's most accurate variant's, over its top edge)."""
    done = df[df.seeds > 0].sort_values("params_m") if "seeds" in df else df.sort_values("params_m")
    _interval_bars(ax, done.params_m, done, fmt="-o")
    ax.scatter(points.params_m, points.top1, color="0.4", s=12, zorder=4)
    ax.margins(x=0.12, y=0.12)  # room inside the axes for the outermost points' labels
    ax.set_xlabel(say("ax_params", lang).replace(", log scale", "").replace("，对数坐标", ""))
    return [(getattr(r, label), r.params_m, r.mean) for r in done.itertuples()]


def _study_variants(ax, df: pd.DataFrame, points: pd.DataFrame, label: str, lang: str, several: bool) -> None:
    import seaborn as sns
    order = list(df[label])
    sns.stripplot(data=points, x="variant", y="top1", color="0.4", size=4, ax=ax, order=order, zorder=4)
    _interval_bars(ax, range(len(df)), df, fmt="o")
    ax.set_xlim(-0.5, len(order) - 0.5)  # the categories' own room, which the bars' autoscaling narrowed
    ema = [(i + 0.25, r.ema_mean) for i, r in enumerate(df.itertuples()) if r.ema_values]
    if ema:  # the EMA weights of the same runs, beside the raw weights
        ax.scatter(*zip(*ema), marker="D", s=30, facecolors="none", edgecolors="C1", label=say("ax_ema", lang))
        ax.legend(fontsize=7, loc="best")
    prefix = _shared_prefix(order)
    if prefix:  # "ResNet-56 · Mixup+CutMix" under a "ResNet-56" panel reads "Mixup+CutMix"
        ax.set_xticks(range(len(order)), [o[len(prefix):] for o in order])
    ax.set_title(prefix.rstrip(" ·") or (df.model.iloc[0] if several else ""), fontsize=10)
    ax.set_xlabel(say("ax_variant", lang))


def _slant_if_crowded(ax) -> bool:
    """Slant the x labels when two of them, level, would touch (long variant names, narrow panels); a count of
    variants missed the quick campaign's five ResNet-56 variants, whose names ran into each other. The figure has
    been drawn, so the labels are where they will be."""
    boxes = sorted((t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()), key=lambda b: b.x0)
    if not any(left.x1 + 6 > right.x0 for left, right in zip(boxes, boxes[1:])):
        return False
    ax.tick_params(axis="x", labelrotation=30)
    for t in ax.get_xticklabels():
        t.set_horizontalalignment("right")
    return True


def _shared_prefix(labels: list[str]) -> str:
    """The labels' common start up to and including a ' · ' separator ('' if they share none)."""
    first = labels[0]
    cut = first.find(" · ")
    return first[:cut + 3] if cut > 0 and all(x.startswith(first[:cut + 3]) for x in labels) else ""
