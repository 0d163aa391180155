"""The report package on run records written in-process (tests/fake_campaign.py): honest comparisons,
uncertainty, facts rendered from records in both languages; and the book on a fresh clone."""
import csv
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fake_campaign import write_fake_campaign

from cifar100lab import report
from cifar100lab.report import i18n, sources


def _report(tmp_path, **kw):
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, **kw)
    out = report.write_campaign_report("mini", runs, book / "generated")
    report.write_study_report("mini", "eca_kernel", runs, book / "generated")
    return out, book / "generated"


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    return _report(tmp_path_factory.mktemp("stand_in"), dataset="fashion-mnist")


def _header(path: Path) -> list[str]:
    return next(csv.reader(path.open(encoding="utf-8")))


def test_every_fact_has_one_template_per_language_with_the_same_fields():
    fields = lambda t: {f for _, f, _, _ in string.Formatter().parse(t) if f}
    for fact, text in i18n.MESSAGES.items():
        assert set(text) == set(i18n.LANGS), fact
        assert fields(text["en"]) == fields(text["zh"]), fact


def test_comparison_refuses_to_subtract_across_datasets(stand_in):
    _, gen = stand_in
    assert "Ours − claim" not in _header(gen / "comparison.csv")
    for lang, says in (("en", "Nothing is subtracted"), ("zh", "不计算任何差值")):
        for page in ("comparison", "findings", "summary"):
            text = (gen / f"{page}_{lang}.md").read_text()
            assert says in text and "rank correlation" not in text and "秩相关" not in text, (page, lang)


def test_comparison_subtracts_when_dataset_and_protocol_match(tmp_path):
    _, gen = _report(tmp_path, dataset="cifar100", epochs=200)
    assert "Ours − claim" in _header(gen / "comparison.csv")
    assert "differs from the claim" in (gen / "comparison_en.md").read_text()


def test_wilson_interval_matches_the_textbook_value():
    lo, hi = sources.wilson(60.0, 1000)
    assert round(lo, 1) == 56.9 and round(hi, 1) == 63.0
    assert sources.wilson(100.0, 50)[1] == pytest.approx(100.0)


def test_ranking_names_the_neighbours_inside_each_others_interval(stand_in):
    out, gen = stand_in
    text = (gen / "results_en.md").read_text()
    assert "95 % CI" in text and "not separable" in text
    assert "eca_resnet_20 / resnet_32" in text  # 64.0 vs 62.5 on 1,000 images
    assert "ghost_resnet_20 / mlp_mixer_tiny" not in text  # 52 vs 35 is separable


def test_top5_is_shown_only_with_more_than_ten_classes(stand_in, tmp_path):
    _, gen = stand_in
    assert "Top-5 (%)" not in _header(gen / "table1.csv")
    assert "Top-5 is not shown" in (gen / "results_en.md").read_text()
    _, gen100 = _report(tmp_path, dataset="cifar100")
    assert "Top-5 (%)" in _header(gen100 / "table1.csv")


def test_seed_spread_is_given_with_n_only_where_there_are_seeds(stand_in, tmp_path):
    _, gen = stand_in
    assert "one seed" in (gen / "results_en.md").read_text() and " ± " not in (gen / "table1.csv").read_text()
    _, gen2 = _report(tmp_path, dataset="cifar100", seeds=(0, 1))
    text = (gen2 / "results_en.md").read_text()
    assert "With 2 seeds per model" in text and "Seeds" not in _header(gen2 / "table1.csv")
    assert "2 seed(s) per model" in text  # n, in the provenance box
    assert " ± " in (gen2 / "table1.csv").read_text()


def test_adaptive_k_that_builds_the_k3_network_is_reported_as_a_repeat(stand_in):
    _, gen = stand_in
    en, zh = (gen / "study-eca_kernel_en.md").read_text(), (gen / "study-eca_kernel_zh.md").read_text()
    assert "**adaptive k** builds the same network as **k=3**" in en
    assert "**自适应 k** 与 **k=3** 构建的是同一个网络" in zh
    assert "k=5** builds" not in en


def test_table1_train_time_is_the_sum_of_epoch_times_not_the_wall_time(stand_in):
    out, _ = stand_in
    row = out["rows"].set_index("model").loc["resnet_20"]
    assert row.train_seconds == 20.0 + len("resnet_20")  # the fake records' wall_seconds is 999


def test_recipes_table_shows_what_the_runs_used(stand_in):
    _, gen = stand_in
    text = (gen / "recipes_en.md").read_text()
    assert "| resnet_sgd |" in text and "| cosine, warmup 0.5 ep |" in text  # the campaign's warmup override, not the code's 0
    assert "0.1 → 0.1" in text


def test_every_build_dependent_sentence_follows_the_records(stand_in):
    _, gen = stand_in
    en, zh = (gen / "results_en.md").read_text(), (gen / "results_zh.md").read_text()
    assert "Fashion-MNIST (stand-in for CIFAR-100)" in en and "not CIFAR-100 results" in en
    assert "Fashion-MNIST（CIFAR-100 的替代数据集）" in zh
    assert "rank models on real images" not in en and "not a ranking" in en  # 2 epochs: a pipeline test
    assert "convnext_tiny_timm" in en and "预训练权重不可用" in zh  # skip reason, translated
    assert "Figure 1." in en and "图 1." in zh  # numbered per page, in the page's language


def test_run_pages_are_titled_by_run_and_show_a_plain_epoch_log(stand_in):
    import json
    _, gen = stand_in
    nb = json.loads((gen.parent / "runs" / "mini-eca_resnet_20-k_size-5-s0.ipynb").read_text())
    assert "".join(nb["cells"][0]["source"]).startswith("# eca_resnet_20 · k_size=5 · seed 0\n")
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    assert any("epoch 2: train loss" in o.get("text", "") for o in outputs)
    index = (gen / "runs_index.md").read_text()
    assert "[eca_resnet_20 · k_size=5 · seed 0](mini-eca_resnet_20-k_size-5-s0.ipynb)" in index
    assert "[resnet_20](../runs/mini-resnet_20-s0.ipynb)" in (gen / "results_en.md").read_text()


@pytest.mark.slow
def test_book_builds_on_a_fresh_clone_before_any_campaign(copy_repo_book):
    """No generated/ and no run notebooks: -W passes and the results pages say which command fills them."""
    gen = copy_repo_book / "book" / "generated"
    gen.mkdir()
    for lang in i18n.LANGS:  # the Models page is the registry's (tested with the campaign); skip its 18 builds
        (gen / f"models_{lang}.md").write_text("models\n")
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", "book/", "-W", "-n",
                           "--keep-going"], capture_output=True, text=True, cwd=copy_repo_book)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    html = copy_repo_book / "_build" / "html"
    text = lambda page: re.sub(r"<[^>]+>", "", (html / page).read_text())
    for page in ("en/results.html", "zh/results.html", "en/comparison.html", "runs/index.html", "index.html"):
        assert "make report" in text(page), page
    assert (html / "generated" / "analysis.html").exists()
    quick = yaml.safe_load((copy_repo_book / "params" / "quick.yaml").read_text())["defaults"]
    for page in ("en/method.html", "zh/method.html"):  # the campaigns table is the YAMLs', not typed in
        row = next(r for r in re.findall(r"<tr.*?</tr>", (html / page).read_text(), re.S) if ">quick<" in r)
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert cells[3:7] == [f"{quick['epochs']}", f"{quick['train_subset']:,}", f"{quick['test_subset']:,}",
                              f"{quick['batch_size']}"], cells


def test_campaigns_table_follows_the_campaign_files(tmp_path):
    from cifar100lab.report.pages import write_campaigns_page
    params, out = tmp_path / "params", tmp_path / "gen"
    params.mkdir()
    (params / "a.yaml").write_text("name: a\nmodels: [resnet_20, resnet_32]\nnum_processes: 2\nseeds: [0, 1]\n"
                                   "study_seeds: [0, 1, 2]\ndefaults: {epochs: 3, batch_size: 8, train_subset: 1234}\n")
    (params / "b.yaml").write_text("name: b\nmodels: all\ndefaults: {epochs: 1}\n")
    write_campaigns_page(params, out)
    en, zh = ((out / f"campaigns_{lang}.md").read_text().splitlines() for lang in ("en", "zh"))
    assert en[2].startswith("| `b` | all (") and "| 1 / – | 1 | all | all | – | one per GPU" in en[2]  # fewest epochs first
    assert en[3] == "| `a` | 2 | 2 / 3 | 3 | 1,234 | all | 8 | 2 |" and zh[3] == "| `a` | 2 | 2 / 3 | 3 | 1,234 | 全部 | 8 | 2 |"
    (params / "a.yaml").write_text((params / "a.yaml").read_text().replace("1234", "99"))
    write_campaigns_page(params, out)
    assert "| 99 |" in (out / "campaigns_en.md").read_text()


def test_findings_answer_the_original_pairwise_questions_from_the_records(stand_in):
    _, gen = stand_in
    en, zh = (gen / "findings_en.md").read_text(), (gen / "findings_zh.md").read_text()
    assert "**ECA on resnet_20.** eca_resnet_20 reaches 64.00 % against 61.00 % without ECA (+3.00 points; " \
           "within the 95 % intervals, so not separable here)." in en
    assert "**resnet_20 上的 ECA。**" in zh and "此处无法区分" in zh
    assert "Ghost modules on resnet_20" in en and "Training time." in en
    assert "Pretrained against scratch" not in en  # convnext_tiny_timm was skipped: no pair, no sentence
    results = (gen / "results_en.md").read_text()
    assert "Top 5 by accuracy per parameter" in results and "The 5 fastest to train" in results


@pytest.mark.slow
def test_make_report_offline_ends_with_the_data_error(tmp_path):
    """No CIFAR-100 and no network: the campaign's data error is the last thing printed; no book is built."""
    import os

    from conftest import ROOT
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".installed").touch()  # newer than pyproject.toml: make's install step has nothing to do
    # as a user's shell runs it, also when this suite itself runs under `make test` (MAKELEVEL would make
    # the inner make print "make[1]: ..." lines)
    env = {k: v for k, v in os.environ.items() if k not in ("CIFAR100LAB_DATASET", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    proc = subprocess.run(["make", "--no-print-directory", "report", f"VENV={venv}", f"PY={sys.executable}",
                           f"EXTRA=--set data_root={tmp_path / 'none'} --set download=false --runs-root {tmp_path / 'runs'}"],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    err = [line for line in proc.stderr.splitlines() if line.strip() and not re.match(r"make(\[\d+\])?:", line)]
    assert "error: CIFAR-100 not found" in proc.stderr and "DATASET=fashion-mnist" in err[-1], proc.stderr[-2000:]
    assert "jupyter-book" not in proc.stdout.lower() and "sphinx" not in (proc.stdout + proc.stderr).lower()
