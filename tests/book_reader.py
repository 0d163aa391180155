"""The book as a reader meets it, built once per test session (the ``reader_book`` fixture in conftest) from run
records written in-process (tests/fake_campaign.py): no training, one Jupyter Book build for every book test that
reads pages."""
import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

from fake_campaign import offline_fine_tune_with_scratch_row, write_fake_campaign

from cifar100lab import records, report
from cifar100lab.report import i18n

# A study variant's run title names every recipe change: the longest titles a runs index shows.
LONG_RECIPE = {"mixup": 0.8, "cutmix": 1.0, "label_smoothing": 0.1, "auto_augment": "randaugment",
               "random_erasing": 0.25, "ema_decay": 0.9998}


def _display_outputs(show) -> list[dict]:
    """What ``show()`` displays (Markdown, images), as the display_data outputs of the notebook cell that ran it."""
    import IPython.display
    from IPython.core.formatters import DisplayFormatter
    shown = []
    real, IPython.display.display = IPython.display.display, lambda *objs, **kw: shown.extend(objs)
    try:
        show()
    finally:
        IPython.display.display = real
    return [{"output_type": "display_data", "metadata": {},
             "data": {"image/png": base64.b64encode(o.data).decode(), "text/plain": "<IPython.core.display.Image object>"}
             if isinstance(o, IPython.display.Image) else DisplayFormatter().format(o)[0]}  # Markdown: MyST and HTML
            for o in shown]


def _ablation_page(gen: Path, study: str, figure_of: str, outputs: list[dict] | None = None) -> None:
    """The study's notebook page as the campaign's analysis executes it: the generic heading, then ``outputs``
    (default: only the study's figure; myst-nb names an image by the sha256 of its bytes)."""
    png = base64.b64encode((gen / f"study-{figure_of}_en.png").read_bytes()).decode()
    outputs = outputs or [{"output_type": "display_data", "metadata": {},
                           "data": {"image/png": png, "text/plain": "<IPython.core.display.Image object>"}}]
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# Ablation study\n\nEvery variant.\n"},
                    {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "report.show_study(r)",
                     "outputs": outputs}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (gen / f"ablation-{study}.ipynb").write_text(json.dumps(nb))


def build_reader_book(tmp_path_factory) -> Path:
    """A scratch copy of the book with a fake campaign's pages and two study pages, built; its HTML folder."""
    proj = _copy_repo_book(tmp_path_factory)
    runs, book, gen = proj / "runs", proj / "book", proj / "book" / "generated"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    offline_fine_tune_with_scratch_row(runs)  # Table 1's Note column, with its longest note
    rid = "mini-resnet_20-s0"
    rec = records.read_json(runs / "mini" / rid / records.RECORD)
    records.atomic_write_json(runs / "mini" / rid / records.RECORD, {**rec, "recipe": {**rec["recipe"], **LONG_RECIPE}})
    report.write_campaign_report("mini", runs, gen)
    study = report.write_study_report("mini", "eca_kernel", runs, gen)
    for lang in i18n.LANGS:  # a second study page: the same variants under their own name and title
        text = (gen / f"study-eca_kernel_{lang}.md").read_text(encoding="utf-8")
        (gen / f"study-ghost_ratio_{lang}.md").write_text(
            text.replace("ECA kernel size", "Ghost ratio").replace("ECA 卷积核大小", "Ghost 比例"), encoding="utf-8")
    # one page as show_study shows it, in English and then in Chinese; the other with its figure only
    _ablation_page(gen, "eca_kernel", "eca_kernel", _display_outputs(lambda: report.show_study(study)))
    _ablation_page(gen, "ghost_ratio", "eca_kernel")
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", "book/", "-W", "-n",
                           "--keep-going"], capture_output=True, text=True, cwd=proj)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proj / "_build" / "html"


def _copy_repo_book(tmp_path_factory) -> Path:
    from conftest import ROOT
    dst = tmp_path_factory.mktemp("reader") / "proj"
    shutil.copytree(ROOT / "book", dst / "book", ignore=shutil.ignore_patterns("_build", "generated", "*.ipynb"))
    shutil.copy(ROOT / "_config.yml", dst / "_config.yml")
    shutil.copytree(ROOT / "params", dst / "params")
    return dst
