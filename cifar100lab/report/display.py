"""What notebooks show: one run (glued for its book page), a campaign, a study (the records explorer: :mod:`.explorer`)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .. import records
from ..progress import not_cifar_notice
from .figures import figure_run_curves
from .i18n import LANGS, fmt, precision_label, say
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


def _show_table(summary: pd.Series, dataset: dict) -> None:
    """A summary under its dataset's notice when that is not CIFAR-100, with long values (hardware, versions)
    in full, not cut at 50 characters."""
    from IPython.display import Markdown, display
    if dataset.get("kind") not in (None, "real"):
        display(Markdown(f"**Dataset: {dataset.get('label') or dataset.get('name')} — not CIFAR-100.**"))
    with pd.option_context("display.max_colwidth", None):
        display(summary.to_frame("value"))


def show_run(record: dict) -> None:
    """Display one run in its notebook and glue its numbers and figure (shown once) for the book."""
    glue = _glue()
    _show_table(run_summary(record), record.get("dataset") or {})
    glue("status", record["status"], display=False)
    final = record.get("final") or {}
    for key in ("top1", "top5"):
        glue(key, final.get(key, float("nan")), display=False)
    glue("params_m", (record.get("params") or 0) / 1e6, display=False)
    if record["status"] == "complete":
        import matplotlib.pyplot as plt
        ds = record.get("dataset") or {}
        notice = not_cifar_notice(ds.get("kind"), ds.get("label"))
        fig = figure_run_curves(records.curve(record), record["run_id"] + (f"\n{notice}" if notice else ""))
        glue("curves", fig, display=True)
        plt.close(fig)  # glue displayed it; closing stops the inline backend from showing it a second time


def _metrics(metrics: dict, weights: str = "") -> dict:
    return {f"top-1 (%){weights}": fmt(metrics.get("top1")), f"top-5 (%){weights}": fmt(metrics.get("top5")),
            f"test loss{weights}": fmt(metrics.get("test_loss"), 4)}


def evaluation_summary(result: dict) -> pd.Series:
    """An evaluation (:func:`cifar100lab.evaluation.evaluate_checkpoint`) as a readable two-column table; a run
    that kept an EMA of its weights (recipe ema_decay) has both weights' metrics, each row saying whose."""
    ds, hw, versions = result.get("dataset") or {}, result.get("hardware") or {}, result.get("versions") or {}
    ema = result.get("ema")
    metrics = ({**_metrics(result, ", raw weights"), **_metrics(ema, ", EMA weights")} if ema
               else _metrics(result))
    rows = {"checkpoint": result.get("checkpoint"), "epoch": result.get("epoch"), "model": result.get("model"),
            "options": json.dumps(result.get("options") or {}), "dataset": ds.get("label"),
            "test images": _int(result.get("evaluated")), **metrics,
            "eval time (s)": fmt(result.get("eval_seconds"), 1), "params": _int(result.get("params")),
            "hardware": f"{hw['device']} ({precision_label(hw.get('precision'))})" if hw.get("device") else None,
            "commit": (result.get("git_commit") or "–")[:12],
            "versions": ", ".join(f"{k} {versions[k]}" for k in ("torch", "timm", "accelerate") if k in versions)}
    return pd.Series({k: ("–" if v is None else v) for k, v in rows.items()})


def show_evaluation(result: dict) -> None:
    if result.get("tuning_trial"):  # a trial's test score is not its study's result (evaluation.tuning_trial)
        from IPython.display import Markdown, display
        display(Markdown(f"**Note:** {result['tuning_trial']['note']}"))
    _show_table(evaluation_summary(result), result.get("dataset") or {})


# The book's MyST, as plain Markdown renders it: for Jupyter, where MyST's directives and roles would read as raw
# text (the book renders a notebook's fragment from its MyST: BookMarkdown).
_FENCE = re.compile(r"^(:::|```)\{(\w+)\}\s*(.*)$")
_ROLE = re.compile(r"\{(\w+)\}`([^`<]*?)\s*(?:<[^>]*>)?`")
_RELATIVE_LINK = re.compile(r"\[([^\]]+)\]\((?!https?:|mailto:)[^)]*\)")  # a book page's: no target in Jupyter


def _inline(text: str, folder: Path) -> str:
    # a download is a file the notebook wrote: named by where it is
    text = _ROLE.sub(lambda m: f"`{(folder / m[2]).as_posix()}`" if m[1] == "download" else m[2], text)
    return _RELATIVE_LINK.sub(r"\1", text)


def notebook_parts(text: str, folder: Path) -> list[tuple[str, str, str] | tuple[str, Path, str]]:
    """A generated fragment as ("markdown", plain text, MyST) and ("figure", image path, caption) parts in page
    order. The plain text is the part as plain Markdown renders it: an admonition becomes a quote under its title,
    a figure its image with its caption, a role its text, a link to a book page its words. The MyST is the part as
    the fragment wrote it (its figures are parts of their own)."""
    parts, lines, source, block = [], [], [], None  # block: (kind, title, body lines, its start in source)
    for line in text.splitlines():
        source.append(line)
        fence = _FENCE.match(line)
        if block is None and fence:
            block = (fence[2], fence[3].strip(), [], len(source) - 1)
        elif block is not None and line.strip() in (":::", "```"):
            kind, title, body, start = block
            body = [b for b in body if not re.match(r"^:[\w-]+:", b)]  # the directive's options
            if kind == "figure":
                parts.append(("markdown", "\n".join(lines), "\n".join(source[:start])))
                lines, source = [], []
                parts.append(("figure", folder / Path(title).name, _inline(" ".join(b for b in body if b.strip()), folder)))
            elif kind == "div":
                lines += [_inline(b, folder) for b in body]
            else:
                lines += [f"> **{title or kind.capitalize()}**", ">"] + [f"> {_inline(b, folder)}" for b in body]
            block = None
        elif block is not None:
            block[2].append(line)
        else:
            lines.append(_inline(line, folder))
    parts.append(("markdown", "\n".join(lines), "\n".join(source)))
    return [p for p in parts if p[0] == "figure" or p[1].strip()]


class BookMarkdown:
    """A fragment's part (:func:`notebook_parts`) as each reader of a notebook shows it: the book (myst-nb, which
    ranks Markdown above HTML: ``nb_mime_priority_overrides`` in ``_config.yml``) renders its MyST, so its notes are
    the Results pages' admonitions and its downloads links; Jupyter, which shows HTML before Markdown, shows the
    plain Markdown (``data``) as HTML. Without markdown-it (no book extra), the plain Markdown for both."""

    def __init__(self, plain: str, myst: str):
        self.data, self.myst = plain, myst

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        try:
            from markdown_it import MarkdownIt
        except ImportError:
            return {"text/markdown": self.data, "text/plain": self.data}
        return {"text/markdown": self.myst, "text/html": MarkdownIt("commonmark").enable("table").render(self.data),
                "text/plain": self.data}


def show_text(text: str, folder: Path) -> list[str]:
    """Markdown in a generated fragment's form, rendered with its figures in ``folder`` (:func:`notebook_parts`,
    :class:`BookMarkdown`); the figures' names."""
    from IPython.display import Image, Markdown, display
    shown = []
    for part in notebook_parts(text, Path(folder)):
        if part[0] == "markdown":
            display(BookMarkdown(part[1], part[2]))
        elif part[1].exists():
            display(Image(filename=str(part[1])))
            display(Markdown(f"*{part[2]}*"))
            shown.append(part[1].name)
    return shown


def show_in_both_languages(texts: dict[str, str], folder: Path) -> list[str]:
    """Fragments of each language (:func:`show_text`), each under its language's name: a notebook page of the
    book's Runs part serves both languages' readers, so neither lands on the other's text only. The figures'
    names."""
    return [name for lang in LANGS for name in show_text(f"## {say('lang_name', lang)}\n\n{texts[lang]}", folder)]


def show_campaign(results: dict) -> None:
    """The campaign's results as its Results pages show them, in English and then in Chinese."""
    from IPython.display import Image, display
    out = Path(results["out_dir"])
    shown = show_in_both_languages({lang: (out / f"results_{lang}.md").read_text(encoding="utf-8") for lang in LANGS}, out)
    for name in results["figures"]:
        if name not in shown:
            display(Image(filename=str(out / name)))


def show_study(result: dict) -> None:
    """The study as its own page shows it, in English and then in Chinese: its one figure is Figure 1 of each
    language's part, not its number on the Ablations page."""
    show_in_both_languages(result["standalone"], Path(result["out_dir"]))
