"""A Sphinx extension for the book (listed in ``_config.yml``): the book builds before any campaign (the
languages' own reading is :mod:`.sphinx_lang`, set up from here).

* Before Sphinx reads the table of contents, fragments that no campaign has written yet are written in
  their empty state (each says that no runs exist and which command makes them), the Models and
  Performance pages are computed (they need no runs), the campaigns table is rendered from
  ``params/*.yaml``, and the campaign analysis page is a placeholder.
* Sphinx's figure numbers are off (the report numbers figures per page, in the page's language).
* Each ablation study's page is titled by its study in both languages (the notebook's heading is generic).
* Every image has alt text: a notebook page's image (named by its content's sha256 by myst-nb) gets the alt
  text the report recorded for the generated figure with the same content; a run page's curves say whose.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from docutils import nodes

from .i18n import LANGS, say

PLACEHOLDER_NOTEBOOKS = {"analysis": "# Campaign analysis · 实验分析\n\n"}


def _placeholder_notebook(path: Path, heading: str) -> None:
    import nbformat  # its constructors give each cell the id that format 4.5 requires
    text = heading + say("no_runs", "en") + "\n\n" + say("no_runs", "zh") + "\n"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def ensure_pages(book_dir: Path) -> None:
    from .models_page import write_models_page
    from .pages import write_campaigns_page, write_empty_pages
    from .performance import write_performance_page
    from .robustness import write_empty_robustness_page
    from .tuning import ensure_tuning_page
    out = Path(book_dir) / "generated"
    write_empty_pages(out)
    ensure_tuning_page(out)
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


STUDY_PAGE = "generated/ablation-"


def study_page_title(generated: Path, study: str) -> str | None:
    """'Ablation: <title> · 消融实验：<标题>' from the study's rendered fragments, or None before they exist."""
    titles = {}
    for lang in LANGS:
        fragment = generated / f"study-{study}_{lang}.md"
        first = fragment.read_text(encoding="utf-8").split("\n", 1)[0] if fragment.exists() else ""
        if not first.startswith("## "):
            return None
        titles[lang] = say("study_page_title", lang, title=first[3:].strip())
    return " · ".join(titles[lang] for lang in LANGS)


def _retitle_study_page(app, doctree) -> None:
    # Runs before Sphinx collects the title (priority 500), so the sidebar, <title> and Next/Previous agree.
    docname = app.env.docname
    if not docname.startswith(STUDY_PAGE):
        return
    title = study_page_title(Path(app.srcdir) / "generated", docname[len(STUDY_PAGE):])
    section = next(iter(doctree.findall(nodes.section)), None)
    if title and section is not None and isinstance(section[0], nodes.title):
        section[0].children = [nodes.Text(title)]


def notebook_alt_texts(generated: Path) -> dict[str, str]:
    """sha256 of each generated figure's bytes -> its recorded alt text, in the figure's language (a notebook page
    shows each language's figure in that language's part)."""
    path = generated / "alt.json"
    texts = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {hashlib.sha256((generated / name).read_bytes()).hexdigest(): text
            for name, text in texts.items() if (generated / name).exists()}


def _alt_texts(app, doctree) -> None:
    images = [i for i in doctree.findall(nodes.image) if not i.get("alt")]
    if not images:
        return
    docname = app.env.docname
    known = notebook_alt_texts(Path(app.srcdir) / "generated")
    for image in images:
        alt = known.get(Path(image["uri"]).stem)
        if alt is None and docname.startswith("runs/"):
            alt = say("alt_run", "en", run=docname.split("/", 1)[1])
        if alt:
            image["alt"] = alt


def setup(app):
    app.connect("config-inited", _config_inited, priority=100)  # before sphinx-external-toc reads the toc (900)
    app.connect("config-inited", _no_book_wide_figure_numbers, priority=10_000)
    app.setup_extension("cifar100lab.report.sphinx_lang")  # each language's own theme words, navigation, switch
    app.connect("doctree-read", _retitle_study_page, priority=400)
    app.connect("doctree-read", _alt_texts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
