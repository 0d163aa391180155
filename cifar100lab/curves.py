"""A run's training curves (loss; top-1 and top-5 by epoch) and the figures' common style: drawn live by the
trainer's progress display and by the report's run pages, so it depends on neither."""
from __future__ import annotations

import functools
import warnings

import pandas as pd

# matplotlib's default fonts have no CJK glyphs; these are tried in order (CI installs WenQuanYi Zen Hei), then
# DejaVu Sans
CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Droid Sans Fallback"]
CJK_FONT_PACKAGES = "fonts-noto-cjk or fonts-wqy-zenhei (Debian, Ubuntu), google-noto-sans-cjk-fonts (Fedora)"
CURVES_SIZE = (9, 3.4)  # inches: loss beside accuracy


@functools.cache
def find_cjk_font() -> str | None:
    """The first of :data:`CJK_FONTS` matplotlib can draw with, or None. matplotlib lists the system's fonts once,
    in a cache it never refreshes: a CJK font installed after that (by the README's setup, or CI's) stayed
    unknown, and every Chinese figure drew empty boxes. So when none is known, the system's fonts are listed
    again (about 0.1 s, once per process); with none installed at all, one warning says what to install."""
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)
    if known() is None:
        listed = {f.fname for f in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in listed:
                font_manager.fontManager.addfont(path)
    name = known()
    if name is None:
        warnings.warn(f"no CJK font is installed, so the Chinese figures' text shows as boxes; install one of "
                      f"{CJK_FONT_PACKAGES}", stacklevel=3)
    return name


def style():
    import logging

    import seaborn as sns
    find_cjk_font()
    # A CJK font with one weight makes matplotlib log a line per figure; those lines would land in run pages.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    sns.set_theme(style="whitegrid", context="notebook", palette="deep",
                  rc={"font.sans-serif": CJK_FONTS + ["DejaVu Sans", "sans-serif"], "axes.unicode_minus": False})


def integer_epochs(ax) -> None:
    """Epoch ticks at whole epochs only (a 2-epoch axis is otherwise ticked at 1.2, 1.4, ...; a 1-epoch one, whose
    axis spans less than one epoch, at 0.945, 0.960, ... unless one tick is enough)."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def figure_run_curves(history: list[dict], title: str = ""):
    """The curves on a pyplot figure (a notebook shows it; the caller closes it)."""
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=CURVES_SIZE)
    draw_run_curves(fig, history, title)
    return fig


def run_curves_png(history: list[dict], title: str = "") -> bytes:
    """The curves as PNG, drawn on a figure pyplot never holds: the live display's. A stop landing mid-draw
    then leaves no open figure for IPython's end-of-cell hook to draw again under the traceback (where an error
    of its own would replace the KeyboardInterrupt as the cell's error)."""
    import io

    from matplotlib.figure import Figure
    fig, png = Figure(figsize=CURVES_SIZE), io.BytesIO()
    draw_run_curves(fig, history, title)
    fig.savefig(png, format="png", bbox_inches="tight")
    return png.getvalue()


def draw_run_curves(fig, history: list[dict], title: str) -> None:
    style()
    a, b = fig.subplots(1, 2)
    df = pd.DataFrame(history)
    if len(df):
        a.plot(df.epoch, df.train_loss, marker="o", label="train")
        a.plot(df.epoch, df.test_loss, marker="o", label="test")
        b.plot(df.epoch, df.train_acc, marker="o", label="train top-1")
        b.plot(df.epoch, df.top1, marker="o", label="test top-1")
        b.plot(df.epoch, df.top5, marker="o", label="test top-5")
    integer_epochs(a), integer_epochs(b)
    a.set(xlabel="epoch", ylabel="loss")
    b.set(xlabel="epoch", ylabel="accuracy (%)")
    a.legend(), b.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
