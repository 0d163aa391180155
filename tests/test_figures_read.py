"""Figures a reader can read: point labels apart and inside the plot; many models as small multiples."""
import contextlib
import json
from pathlib import Path

import pandas as pd
import pytest

from cifar100lab import records
from cifar100lab.report import figures


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test's figures closed after it (pyplot keeps every one it made open)."""
    yield
    import matplotlib.pyplot as plt
    plt.close("all")


def _rows(points: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"model": m, "group": "attention", "status": "complete", "params_m": p, "top1": t,
                          "flops_m": 100.0, "chance": 10.0, "diverged": None} for m, p, t in points])


def _boxes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    return ax.get_window_extent(renderer), [t.get_window_extent(renderer) for t in ax.texts]


def test_point_labels_of_near_equal_models_neither_overlap_nor_leave_the_plot():
    # Three models a hair apart (as segnext / lsknet were) and the largest model with a long name at the edge.
    fig = figures.figure_acc_params(_rows([("segnext_mscan_tiny", 4.0, 52.0), ("lsknet_tiny", 4.1, 51.2),
                                           ("lsknet_tiny_b", 4.2, 51.6), ("resnet_20", 0.27, 39.9),
                                           ("convnext_tiny_with_a_long_name", 27.8, 40.4)]), "zh")
    axes, labels = _boxes(fig)
    assert len(labels) == 5
    overlapping = [(a, b) for i, a in enumerate(labels) for b in labels[i + 1:] if a.overlaps(b)]
    assert not overlapping
    outside = [b for b in labels if b.x0 < axes.x0 - 1 or b.x1 > axes.x1 + 1 or b.y0 < axes.y0 - 1 or b.y1 > axes.y1 + 1]
    assert not outside  # none clipped at the plot's edge



# The quick campaign's complete models on Fashion-MNIST: name, parameters (M), top-1, MFLOPs[, loss diverged]
QUICK_MODELS = [("cspresnet50-scratch", 20.60, 60.6, 141), ("segnext_mscan_tiny", 3.906, 52.0, 145),
                ("lsknet_tiny", 3.993, 51.2, 146), ("resnest50d-scratch", 25.45, 49.0, 223),
                ("eca_resnet_20", 0.2697, 46.0, 81), ("hornet_tiny", 21.90, 42.4, 647), ("ghostnet_100", 3.914, 40.4, 11),
                ("convnext_tiny", 27.82, 40.4, 726), ("resnet_20", 0.2697, 39.8, 81), ("ghost_resnet_20", 0.1405, 32.6, 43),
                ("coatnet_0-scratch", 26.61, 23.4, 173), ("eca_resnet_32", 0.4642, 21.8, 138),
                ("mlp_mixer_tiny", 1.743, 19.2, 237), ("resnet_32", 0.4642, 15.8, 138),
                ("ghost_resnet_32", 0.2410, 11.4, 72, {"epoch": 2, "loss": 305.8}),
                ("resnet_56", 0.8530, 9.0, 251, {"epoch": 1, "loss": 7.27})]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_point_label_ends_flush_with_the_plots_frame(lang):
    """adjustText keeps a label inside the axes by pushing it against the frame: on the quick campaign's figure
    the labels of the largest models (cspresnet50-scratch, resnest50d-scratch) ended on its right edge."""
    rows = _rows([m[:3] for m in QUICK_MODELS])
    rows["flops_m"] = [float(m[3]) for m in QUICK_MODELS]
    rows["diverged"] = [m[4] if len(m) > 4 else None for m in QUICK_MODELS]
    fig = figures.figure_acc_params(rows, lang)
    axes, labels = _boxes(fig)
    assert len(labels) == len(QUICK_MODELS)
    gaps = {t.get_text(): min(b.x0 - axes.x0, axes.x1 - b.x1, b.y0 - axes.y0, axes.y1 - b.y1)
            for t, b in zip(fig.axes[0].texts, labels)}
    assert not {name: gap for name, gap in gaps.items() if gap < 2}  # pixels from the frame


# The quick campaign's Ghost ratio study on Fashion-MNIST (one seed), and the same shape with three seeds and the
# most accurate variant the smallest: variant, Chinese label, model, parameters (M), each seed's top-1
GHOST_RATIO = {"quick": [("plain convs", "普通卷积", "resnet_20", 0.269722, [39.8]),
                         ("ratio 2", "比例 2", "ghost_resnet_20", 0.140458, [32.6]),
                         ("ratio 4", "比例 4", "ghost_resnet_20", 0.075154, [32.6])],
               "smallest best": [("plain convs", "普通卷积", "resnet_20", 0.269722, [30.0, 31.2, 29.5]),
                                 ("ratio 2", "比例 2", "ghost_resnet_20", 0.140458, [32.6, 33.0, 31.9]),
                                 ("ratio 4", "比例 4", "ghost_resnet_20", 0.075154, [40.0, 41.1, 39.2])]}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("study", list(GHOST_RATIO))
def test_no_point_label_of_a_study_against_parameters_ends_on_or_past_the_frame(study, lang):
    """A study plotted against parameters labelled its points at a fixed offset: on the quick campaign's Ghost
    ratio figure the most accurate variant's label ran over the top of the frame (and a leftmost one's past it)."""
    df = pd.DataFrame([{"variant": v, "variant_zh": zh, "model": m, "params_m": p, "values": top1,
                        "mean": sum(top1) / len(top1), "chance": 10.0, "base": 0}
                       for v, zh, m, p, top1 in GHOST_RATIO[study]])
    fig = figures.figure_study(df, "Ghost ratio on ResNet-20", lang, x="params_m", notice="Not CIFAR-100")
    axes, labels = _boxes(fig)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(df.variant if lang == "en" else df.variant_zh)
    gaps = {t.get_text(): min(b.x0 - axes.x0, axes.x1 - b.x1, b.y0 - axes.y0, axes.y1 - b.y1)
            for t, b in zip(fig.axes[0].texts, labels)}
    assert not {name: gap for name, gap in gaps.items() if gap < 2}  # pixels from the frame


def _saved(monkeypatch) -> dict[str, dict]:
    """Each figure the report saves, by file name: its size and each visible axes' box, y ticks, y limits and
    point labels (text, place) as saved (the figure drawn, so the ticks are those of its laid-out axes)."""
    import re

    from matplotlib.figure import Figure
    saved, savefig = {}, Figure.savefig

    def spy(fig, target, **kw):
        fig.draw_without_rendering()
        name = re.sub(r"^\.(.+)\.\d+\.tmp$", r"\1", Path(getattr(target, "name", str(target))).name)
        saved[name] = {"size": tuple(fig.get_size_inches()),
                       "axes": [(tuple(ax.get_position().bounds), list(ax.get_yticks()), ax.get_ylim(),
                                 [(t.get_text(), tuple(t.get_position())) for t in ax.texts])
                                for ax in fig.axes if ax.get_visible()]}
        return savefig(fig, target, **kw)
    monkeypatch.setattr(Figure, "savefig", spy)
    return saved


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image
    with Image.open(path) as image:
        return image.size


def test_a_studys_figure_is_the_same_in_both_languages_but_for_its_words(tmp_path, monkeypatch):
    """The quick campaign's ECA kernel figure was ticked every 5 in English and every 10 in Chinese: each language
    was laid out to fit its own words, the Chinese labels' taller lines shrank its axes by 1 %, and matplotlib's
    locator picks the step by the axes' length."""
    from conftest import ROOT
    from fake_campaign import write_fake_study

    from cifar100lab import report
    from cifar100lab.campaign import load_study
    quick = {"no ECA": [39.8], "k=3": [46.0], "k=5": [39.6], "k=7": [43.8], "adaptive k": [46.0]}
    write_fake_study(tmp_path / "runs", load_study(ROOT / "params" / "ablations" / "eca_kernel.yaml"), quick,
                     name="quick", dataset="fashion-mnist")
    saved = _saved(monkeypatch)
    report.write_study_report("quick", "eca_kernel", tmp_path / "runs", tmp_path / "gen")
    en, zh = saved["study-eca_kernel_en.png"], saved["study-eca_kernel_zh.png"]
    assert en == zh  # figure size; each axes' place, size, y ticks and y limits
    assert _png_size(tmp_path / "gen" / "study-eca_kernel_en.png") == _png_size(tmp_path / "gen" / "study-eca_kernel_zh.png")


def test_the_campaigns_figures_are_the_same_in_both_languages_but_for_their_words(tmp_path, monkeypatch):
    """The Results pages' figures were laid out per language too: their axes sat up to 1 % apart, so their ticks
    could differ as the study figure's did, and the point labels of Figure 2 sat elsewhere in each language."""
    from fake_campaign import write_fake_campaign

    from cifar100lab import report
    write_fake_campaign(tmp_path / "runs", dataset="fashion-mnist")
    saved = _saved(monkeypatch)
    report.write_campaign_report("mini", tmp_path / "runs", tmp_path / "gen")
    pairs = sorted(name[:-len("_en.png")] for name in saved if name.startswith("fig_") and name.endswith("_en.png"))
    assert pairs == ["fig_curves", "fig_curves_all", "fig_params", "fig_top1"]
    for key in pairs:
        assert saved[f"{key}_en.png"] == saved[f"{key}_zh.png"], key
        assert _png_size(tmp_path / "gen" / f"{key}_en.png") == _png_size(tmp_path / "gen" / f"{key}_zh.png"), key


def test_no_point_label_covers_a_models_marker_however_large():
    """The markers grow with FLOPs: the quick campaign's HorNet and ConvNeXt labels sat on their own bubbles."""
    import math
    rows = _rows([("hornet_tiny", 22.0, 42.4), ("convnext_tiny", 27.8, 40.4), ("resnest50d", 25.0, 48.0),
                  ("coatnet_0", 26.0, 23.0), ("resnet_20", 0.27, 20.4), ("ghostnet_100", 4.0, 36.8)])
    rows["flops_m"] = [4400.0, 4500.0, 1200.0, 900.0, 41.0, 12.0]
    fig = figures.figure_acc_params(rows, "en")
    _, labels = _boxes(fig)
    markers = fig.axes[0].collections[0]
    centres = markers.get_offset_transform().transform(markers.get_offsets())
    radii = [math.sqrt(s) / 2 * fig.dpi / 72 for s in markers.get_sizes()]  # sizes are areas in points²
    assert len(labels) == len(centres) == len(radii) == 6

    def gap(box, centre):  # from the marker's centre to the nearest point of the label's box, in pixels
        return math.hypot(max(box.x0 - centre[0], 0, centre[0] - box.x1), max(box.y0 - centre[1], 0, centre[1] - box.y1))
    covered = [(i, j) for i, box in enumerate(labels) for j, (c, r) in enumerate(zip(centres, radii)) if gap(box, c) < r - 1]
    assert not covered, covered


def test_a_figure_whose_drawing_fails_leaves_the_last_one_whole(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    path = tmp_path / "fig_top1_en.png"
    path.write_bytes(b"the last build's figure")
    fig = plt.figure()

    def draws_half(target, **kw):  # a stop, or a full disk, halfway through the PNG
        with open(target, "wb") if isinstance(target, (str, Path)) else contextlib.nullcontext(target) as f:
            f.write(b"\x89PNG half")
        raise KeyboardInterrupt
    monkeypatch.setattr(fig, "savefig", draws_half)
    with pytest.raises(KeyboardInterrupt):
        figures.save(fig, path)
    assert path.read_bytes() == b"the last build's figure" and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert not plt.fignum_exists(fig.number)  # closed all the same


def test_the_same_records_draw_the_same_labelled_figure_on_a_slower_machine(monkeypatch):
    """adjustText stopped after 1 s by default, so where the labels sat (and the book's image) changed with the
    machine's speed and load: a rebuild from the same records overwrote the figure with another."""
    import io

    import adjustText
    rows = _rows([("segnext_mscan_tiny", 4.0, 52.0), ("lsknet_tiny", 4.1, 51.2), ("lsknet_tiny_b", 4.2, 51.6),
                  ("resnet_20", 0.27, 39.9), ("convnext_tiny_with_a_long_name", 27.8, 40.4)])

    def png() -> bytes:
        out = io.BytesIO()
        figures.figure_acc_params(rows, "en").savefig(out, format="png")
        return out.getvalue()
    here = png()
    assert png() == here
    clock = iter(range(0, 10**6, 3))  # each reading 3 s after the last: a machine far slower than this one
    monkeypatch.setattr(adjustText, "timer", lambda: float(next(clock)))
    assert png() == here


def test_the_top1_bars_legend_covers_no_bar_and_no_whisker():
    """It sat in the plot's lower right, over the longest bars' ends and their intervals."""
    rows = _rows([("resnet_20", 0.27, 61.0), ("resnet_32", 0.46, 62.5), ("eca_resnet_20", 0.28, 64.0),
                  ("ghost_resnet_20", 0.2, 52.0), ("mlp_mixer_tiny", 0.3, 35.0)])
    rows["group"] = ["basic ResNet", "basic ResNet", "attention", "lightweight", "MLP"]
    rows["top1_lo"], rows["top1_hi"] = rows.top1 - 3, rows.top1 + 3
    for lang in ("en", "zh"):
        fig = figures.figure_top1(rows, lang)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent(renderer)
        bars = [b.get_window_extent(renderer) for b in ax.patches if b.get_width() > 0]
        whiskers = [box for c in ax.collections if (box := c.get_window_extent(renderer)).width > 0]  # not the
        # empty ones (infinite boxes, which overlap everything)
        assert len(bars) == 5 and not [b for b in bars + whiskers if legend.overlaps(b)], lang


def test_point_labels_of_models_within_two_percent_in_size_sit_by_their_points():
    """An ablation's variants differ by a few parameters: each label started 15 % right of its point in data
    units, beyond the axis' whole span, and ended at the far edge on a long leader line."""
    points = [("eca_resnet_20", 0.283, 64.0), ("resnet_32", 0.279, 62.5), ("resnet_20", 0.279, 61.0),
              ("ghost_resnet_20", 0.285, 52.0), ("mlp_mixer_tiny", 0.284, 35.0)]
    fig = figures.figure_acc_params(_rows(points), "en")
    _, labels = _boxes(fig)
    ax = fig.axes[0]
    for (name, x, y), box in zip(points, labels):
        px, py = ax.transData.transform((x, y))
        gap = (max(box.x0 - px, 0, px - box.x1) ** 2 + max(box.y0 - py, 0, py - box.y1) ** 2) ** 0.5
        assert gap < 30, (name, gap)  # pixels

def test_every_models_curves_are_small_multiples_one_titled_panel_per_model(tmp_path):
    recs = []
    for i in range(6):
        run = tmp_path / f"m{i}"
        records.atomic_write_text(run / records.METRICS, "".join(
            json.dumps({"epoch": e, "top1": 10.0 * e + i}) + "\n" for e in (1, 2)))
        recs.append({"status": "complete", "model": f"m{i}", "seed": 0, "run_dir": str(run),
                     "dataset": {"num_classes": 10}})
    fig = figures.figure_curves_panels(recs, [f"m{i}" for i in range(6)], "en", columns=4)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == [f"m{i}" for i in range(6)]
    # each panel: every model's curve, its own in colour and the others in grey
    assert all(len(ax.lines) >= 6 for ax in shown)
    # epochs are labelled under each column's last panel (the second row has two panels; columns 3-4 end above)
    assert [ax.xaxis.get_tick_params()["labelbottom"] for ax in shown] == [False, False, True, True, True, True]


def _curve_records(tmp_path, runs: list[tuple[str, str | None, int, list[float]]]) -> list[dict]:
    """Complete run records (model, pretrained, seed, top-1 per epoch) with their metrics files."""
    recs = []
    for model, pretrained, seed, top1 in runs:
        run = tmp_path / f"{model}-{pretrained}-s{seed}"
        records.atomic_write_text(run / records.METRICS, "".join(
            json.dumps({"epoch": e, "top1": t}) + "\n" for e, t in enumerate(top1, 1)))
        recs.append({"status": "complete", "model": model, "pretrained": pretrained, "seed": seed,
                     "run_dir": str(run), "dataset": {"num_classes": 10}})
    return recs


def _drawn(ax) -> dict[str, list]:
    """Each legend label's plotted y values: seaborn draws a hue's data unlabelled, in its legend entry's colour."""
    data = {line.get_color(): list(line.get_ydata()) for line in ax.lines if line.get_label().startswith("_")}
    handles, labels = ax.get_legend_handles_labels()
    return {lab: data[h.get_color()] for h, lab in zip(handles, labels) if h.get_color() in data}


def test_a_fine_tune_models_scratch_row_has_its_curves_drawn(tmp_path):
    """Figures 3 and 4 are asked for results rows: coatnet_0 trained from scratch is the row 'coatnet_0-scratch',
    while its record says model 'coatnet_0'; its legend entry had no line and its panel was missing."""
    recs = _curve_records(tmp_path, [("coatnet_0", None, 0, [20.0, 30.0]), ("resnet_20", None, 0, [15.0, 25.0])])
    rows = ["coatnet_0-scratch", "resnet_20"]
    fig = figures.figure_curves(recs, rows, "en")
    assert _drawn(fig.axes[0]) == {"coatnet_0-scratch": [20.0, 30.0], "resnet_20": [15.0, 25.0]}
    panels = figures.figure_curves_panels(recs, rows, "en")
    assert [ax.get_title() for ax in panels.axes if ax.get_visible()] == rows


def test_a_panel_shows_the_mean_of_its_models_seeds(tmp_path):
    recs = _curve_records(tmp_path, [("resnet_20", None, 0, [10.0, 20.0]), ("resnet_20", None, 1, [30.0, 40.0])])
    fig = figures.figure_curves_panels(recs, ["resnet_20"], "en")
    own = [line for line in fig.axes[0].lines if line.get_color() == "C0"]
    assert [list(line.get_ydata()) for line in own] == [[20.0, 30.0]]


def test_a_one_epoch_curve_is_ticked_at_its_epoch_only(tmp_path):
    recs = _curve_records(tmp_path, [("resnet_20", None, 0, [20.0])])
    ax = figures.figure_curves(recs, ["resnet_20"], "en").axes[0]
    ax.figure.canvas.draw()
    lo, hi = ax.get_xlim()
    assert [t for t in ax.get_xticks() if lo <= t <= hi] == [1.0]


def test_campaign_figures_name_a_stand_in_dataset_and_say_not_cifar():
    import matplotlib.pyplot as plt
    for lang, says in (("en", "Fashion-MNIST (stand-in for CIFAR-100) · Not CIFAR-100"),
                       ("zh", "Fashion-MNIST（CIFAR-100 的替代数据集） · 不是 CIFAR-100")):
        fig = figures.mark_not_cifar(plt.figure(), {"kind": "stand-in", "dataset": "fashion-mnist"}, lang)
        assert fig._suptitle is not None and fig._suptitle.get_text() == says
    assert figures.mark_not_cifar(plt.figure(), {"kind": "real", "dataset": "cifar100"}, "en")._suptitle is None


def test_models_of_near_equal_size_get_a_readable_parameter_axis():
    """Two models 0.1 % apart: the log axis spanned 0.2721-0.2725 and labelled nine ticks '0.272'."""
    fig = figures.figure_acc_params(_rows([("resnet_20", 0.27215, 40.0), ("eca_resnet_20", 0.27245, 46.0)]), "en")
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    shown = [t.get_text() for t in ax.get_xticklabels(which="both") if t.get_text() and lo <= t.get_position()[0] <= hi]
    assert shown and len(shown) == len(set(shown)), shown
    assert hi >= 2 * lo * 0.999


def test_parameter_axis_of_models_within_one_decade_has_plain_numbers_every_font_can_draw():
    """Within a decade a log axis labels its minor ticks in mathtext (2.8×10⁻¹), whose minus the CJK fonts
    lack: the labels drew boxes, in both languages."""
    for lang in ("en", "zh"):
        fig = figures.figure_acc_params(_rows([("resnet_20", 0.279, 61.0), ("eca_resnet_20", 0.283, 64.0),
                                               ("ghost_resnet_20", 0.285, 52.0)]), lang)
        fig.canvas.draw()
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_xticklabels(which="both") if t.get_text()]
        assert labels, "the axis has labelled ticks"
        assert all("$" not in t and float(t) for t in labels), labels



def without_cjk_fonts_listed(monkeypatch):
    """matplotlib's font list without any face of a CJK font's files."""
    from matplotlib import font_manager

    from cifar100lab import curves
    files = {f.fname for f in font_manager.fontManager.ttflist if f.name in curves.CJK_FONTS}
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist if f.fname not in files])


def test_a_cjk_font_installed_after_matplotlib_listed_the_fonts_draws_the_chinese_figures(monkeypatch):
    """matplotlib lists the system's fonts once and never again: a CJK font installed after that (CI's apt line
    ran after the first import) was unknown, and every Chinese figure drew boxes for its characters."""
    import warnings

    from matplotlib import font_manager

    from cifar100lab import curves
    assert any(k in path.lower() for path in font_manager.findSystemFonts() for k in ("wqy", "cjk", "droid")), \
        "this machine has no CJK font (CI installs fonts-wqy-zenhei)"
    without_cjk_fonts_listed(monkeypatch)  # as a cache written before the font was installed
    font_manager.fontManager._findfont_cached.cache_clear()  # what it found before the list went stale
    curves.find_cjk_font.cache_clear()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph")  # "Glyph 27979 ... missing from font(s) DejaVu Sans"
        fig = figures.figure_acc_params(_rows([("resnet_20", 0.27, 39.9), ("eca_resnet_20", 0.28, 41.0)]), "zh")
        fig.canvas.draw()
    assert "准确率" in fig.axes[0].get_ylabel()
    curves.find_cjk_font.cache_clear()


def test_without_any_cjk_font_the_figures_warn_once_naming_the_packages_to_install(monkeypatch):
    import warnings

    from matplotlib import font_manager

    from cifar100lab import curves
    without_cjk_fonts_listed(monkeypatch)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    curves.find_cjk_font.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curves.style(), curves.style()
    curves.find_cjk_font.cache_clear()
    said = [str(w.message) for w in caught if "CJK" in str(w.message)]
    assert len(said) == 1 and "fonts-wqy-zenhei" in said[0] and "boxes" in said[0], said


def test_the_curves_draw_chance_when_the_campaigns_first_run_was_skipped(tmp_path):
    """Both curve figures took the class count from the campaign's first record: a fine-tune skipped offline listed
    first has no dataset, so neither figure drew the chance line the caption ("The dashed line is chance") names."""
    skipped = {"status": "skipped", "model": "convnext_tiny_timm", "seed": 0, "reason": "pretrained weights unavailable"}
    recs = [skipped] + _curve_records(tmp_path, [("resnet_20", None, 0, [15.0, 25.0]), ("resnet_32", None, 0, [10.0, 20.0])])
    for fig in (figures.figure_curves(recs, ["resnet_20", "resnet_32"], "en"),
                figures.figure_curves_panels(recs, ["resnet_20", "resnet_32"], "en")):
        shown = [ax for ax in fig.axes if ax.get_visible()]
        assert all([line.get_label() for line in ax.lines if line.get_label() == "chance (10 %)"] for ax in shown)
