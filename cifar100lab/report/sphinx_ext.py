"""A Sphinx extension for the book (listed in ``_config.yml``): the book builds before any campaign, and
Chinese pages say they are Chinese.

* Before Sphinx reads the table of contents, fragments that no campaign has written yet are written in
  their empty state (each says that no runs exist and which command makes them), the Models and
  Performance pages are computed (they need no runs), the campaigns table is rendered from
  ``params/*.yaml``, and the campaign analysis page is a placeholder.
* Sphinx's figure numbers are off (the report numbers figures per page, in the page's language).
* ``<html lang>`` is ``zh`` on pages under ``zh/`` (Sphinx has one language per project).
"""
from __future__ import annotations

import json
from pathlib import Path

from .i18n import LANGS, say

PLACEHOLDER_NOTEBOOKS = {"analysis": "# Campaign analysis · 实验分析\n\n"}


def _placeholder_notebook(path: Path, heading: str) -> None:
    text = heading + say("no_runs", "en") + "\n\n" + say("no_runs", "zh") + "\n"
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": text}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def ensure_pages(book_dir: Path) -> None:
    from .models_page import write_models_page
    from .pages import write_campaigns_page, write_empty_pages
    from .performance import write_performance_page
    from .robustness import write_empty_robustness_page
    out = Path(book_dir) / "generated"
    write_empty_pages(out)
    write_empty_robustness_page(out)
    write_campaigns_page(Path(book_dir).resolve().parent / "params", out)  # follows the YAMLs at every build
    for name, heading in PLACEHOLDER_NOTEBOOKS.items():
        if not (out / f"{name}.ipynb").exists():
            _placeholder_notebook(out / f"{name}.ipynb", heading)
    if not all((out / f"models_{lang}.md").exists() for lang in LANGS):
        write_models_page(out)
    if not all((out / f"performance_{lang}.md").exists() for lang in LANGS):
        write_performance_page(Path(book_dir).resolve().parent / "benchmarks" / "records", out)


def _config_inited(app, config) -> None:
    ensure_pages(Path(app.srcdir))


def _no_book_wide_figure_numbers(app, config) -> None:
    # Jupyter Book turns numfig on; the report numbers figures per page in the page's language instead
    # (Sphinx's book-wide "Fig. 7" prefix is English and counts across both languages). Runs last, after
    # every extension that sets it.
    config.numfig = False


def _page_language(app, pagename, templatename, context, doctree) -> None:
    if pagename.startswith("zh/"):
        context["language"] = "zh"


def setup(app):
    app.connect("config-inited", _config_inited, priority=100)  # before sphinx-external-toc reads the toc (900)
    app.connect("config-inited", _no_book_wide_figure_numbers, priority=10_000)
    app.connect("html-page-context", _page_language)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
