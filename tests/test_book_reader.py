"""The book as a reader meets it, built from run records written in-process (tests/fake_campaign.py) and read in
headless Chromium at 1400 and 1000 px in both languages: tables fit, no column squeezed to a character, every
image described, every ablation page titled by its study."""
import base64
import json
import os
import queue
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fake_campaign import write_fake_campaign

from cifar100lab import records, report
from cifar100lab.report import i18n

# A study variant's run title names every recipe change: the longest titles a runs index shows.
LONG_RECIPE = {"mixup": 0.8, "cutmix": 1.0, "label_smoothing": 0.1, "auto_augment": "randaugment",
               "random_erasing": 0.25, "ema_decay": 0.9998}


def _ablation_page(gen: Path, study: str, figure_of: str) -> None:
    """The study's notebook page as the campaign's analysis executes it: the generic heading, then the study's
    figure displayed as an output (myst-nb names it by the sha256 of its bytes)."""
    png = base64.b64encode((gen / f"study-{figure_of}_en.png").read_bytes()).decode()
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Ablation study\n\nEvery variant.\n"},
                    {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "report.show_study(r)",
                     "outputs": [{"output_type": "display_data", "metadata": {},
                                  "data": {"image/png": png, "text/plain": "<IPython.core.display.Image object>"}}]}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (gen / f"ablation-{study}.ipynb").write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def reader_book(tmp_path_factory, copy_repo_book_module):
    proj = copy_repo_book_module
    runs, book, gen = proj / "runs", proj / "book", proj / "book" / "generated"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    rid = "mini-resnet_20-s0"
    rec = records.read_json(runs / "mini" / rid / records.RECORD)
    records.atomic_write_json(runs / "mini" / rid / records.RECORD, {**rec, "recipe": {**rec["recipe"], **LONG_RECIPE}})
    report.write_campaign_report("mini", runs, gen)
    report.write_study_report("mini", "eca_kernel", runs, gen)
    for lang in i18n.LANGS:  # a second study page: the same variants under their own name and title
        text = (gen / f"study-eca_kernel_{lang}.md").read_text(encoding="utf-8")
        (gen / f"study-ghost_ratio_{lang}.md").write_text(
            text.replace("ECA kernel size", "Ghost ratio").replace("ECA 卷积核大小", "Ghost 比例"), encoding="utf-8")
    for study in ("eca_kernel", "ghost_ratio"):
        _ablation_page(gen, study, "eca_kernel")
    for lang in i18n.LANGS:  # the Models page is the registry's (tested with the campaign); skip its 18 builds
        (gen / f"models_{lang}.md").write_text("models\n")
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", "book/", "-W", "-n",
                           "--keep-going"], capture_output=True, text=True, cwd=proj)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proj / "_build" / "html"


@pytest.fixture(scope="module")
def copy_repo_book_module(tmp_path_factory):
    import shutil

    from conftest import ROOT
    dst = tmp_path_factory.mktemp("reader") / "proj"
    shutil.copytree(ROOT / "book", dst / "book", ignore=shutil.ignore_patterns("_build", "generated", "*.ipynb"))
    shutil.copy(ROOT / "_config.yml", dst / "_config.yml")
    shutil.copytree(ROOT / "params", dst / "params")
    return dst


@pytest.mark.slow
def test_each_ablation_page_is_titled_by_its_study_in_both_languages(reader_book):
    titles = {p.name: re.search(r"<title>(.*?) &#8212;", p.read_text()).group(1)
              for p in (reader_book / "generated").glob("ablation-*.html")}
    assert titles == {"ablation-eca_kernel.html": "Ablation: ECA kernel size on ResNet-20 · 消融实验：ResNet-20 上 ECA 卷积核大小",
                      "ablation-ghost_ratio.html": "Ablation: Ghost ratio on ResNet-20 · 消融实验：ResNet-20 上 Ghost 比例"}
    sidebar = (reader_book / "en" / "results.html").read_text()
    assert all(t in sidebar for t in titles.values())


@pytest.mark.slow
def test_pages_in_chromium_fit_describe_their_images_and_squeeze_no_column_at_both_widths(reader_book):
    import chromium
    browser = chromium.find()
    if not browser:
        if os.environ.get("CI"):
            pytest.fail("chromium must be installed in CI (.ci/run installs it)")
        pytest.skip("chromium not installed")
    pages = [f"{lang}/{p}.html" for lang in i18n.LANGS for p in ("results", "ablations", "method", "performance")]
    pages += ["runs/index.html", "runs/mini-resnet_20-s0.html", "generated/ablation-eca_kernel.html",
              "generated/analysis.html"]
    profiles = queue.Queue()  # two browsers side by side, each with a profile of its own (a profile is locked)
    for i in range(2):
        profiles.put(reader_book.parent / f"chrome{i}")

    def measure(page: str, width: int) -> tuple[str, int, dict]:
        profile = profiles.get()
        try:
            return page, width, chromium.table_widths(browser, reader_book / page, width, profile)
        finally:
            profiles.put(profile)

    with ThreadPoolExecutor(2) as pool:
        measured = list(pool.map(lambda job: measure(*job), [(p, w) for p in pages for w in (1400, 1000)]))
    too_wide = [(page, width, round(w), what[:20]) for page, width, m in measured for w, what in m["tables"]
                if w > m["column"] + 1]
    assert not too_wide, too_wide  # runs/index's Status and Top-1 columns stay in view too
    squeezed = [(page, width, m["narrowest_cell"]) for page, width, m in measured
                if m["narrowest_cell"] and m["narrowest_cell"][0] < 2]
    assert not squeezed, squeezed  # no "已/跳/过", one character per line
    undescribed = [(page, src, alt) for page, _, m in measured for src, alt in m["images"]
                   if "_images/" in src and (len(alt) < 20 or "/" in alt and alt.endswith(".png"))]
    assert not undescribed, undescribed
    zh = next(m for page, _, m in measured if page == "zh/results.html")
    assert any(alt.startswith("条形图") for _, alt in zh["images"])  # in the page's language
