"""The report package on run records written in-process (tests/fake_campaign.py): honest comparisons,
uncertainty, facts rendered from records in both languages; and the book on a fresh clone."""
import csv
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from fake_campaign import offline_fine_tune_with_scratch_row, write_fake_campaign

from cifar100lab import intervals, records, report
from cifar100lab.report import i18n, sources


def _report(tmp_path, **kw):
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, **kw)
    out = report.write_campaign_report("mini", runs, book / "generated")
    report.write_study_report("mini", "eca_kernel", runs, book / "generated")
    return out, book / "generated"


def _pages_without_figures(monkeypatch) -> None:
    """write_campaign_report as it is, but its figures are named, not drawn (nor written): drawing them took nine
    tenths of a report's time, and a test that reads the pages' words and tables, not their figures, needs only
    their names. The stand_in report draws them, as do tests/test_figures_read.py and tests/test_campaign_book.py."""
    from cifar100lab.report import pages
    monkeypatch.setattr(pages, "save_in_every_language",
                        lambda make, stem: {lang: f"{stem.name}_{lang}.png" for lang in i18n.LANGS})


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    return _report(tmp_path_factory.mktemp("stand_in"), dataset="fashion-mnist")


@pytest.fixture(scope="module")
def full_protocol(tmp_path_factory):
    """The fake campaign on CIFAR-100 itself, two seeds of each model trained the published 200 epochs (its pages'
    words and tables: no test reads its figures)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _pages_without_figures(monkeypatch)
        return _report(tmp_path_factory.mktemp("full_protocol"), dataset="cifar100", epochs=200, seeds=(0, 1))


def test_the_interval_sentence_says_the_seeds_share_their_test_images(stand_in, full_protocol):
    """With several seeds the sentence said each top-1 was measured on 1,000 images beside an interval over the
    seeds' images pooled; the seeds share those images, and the sentence says so."""
    one, seeds = ((gen / f"results_{lang}.md").read_text() for (_, gen) in (stand_in, full_protocol)
                  for lang in ("en",))
    assert "Each top-1 was measured on 1,000 test images, so its 95 % (Wilson) interval is about ±" in one
    assert "Each top-1 was measured on" not in seeds
    assert "Each top-1 is a mean over 2 seeds, all measured on the same 1,000 test images, so its 95 % (Wilson) " \
           "interval is over those images, about ±" in seeds
    assert "每个 Top-1 是 2 个种子的平均值，各种子都在同样的 1,000 张测试图像上测得" in (full_protocol[1] / "results_zh.md").read_text()


def test_the_interval_sentence_gives_each_count_of_seeds_where_rows_differ(tmp_path, monkeypatch):
    """A model with one complete seed beside models with two was "a mean over seeds" like the others."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, seeds=(0, 1))
    shutil.rmtree(runs / "mini" / "mini-resnet_20-s1")
    report.write_campaign_report("mini", runs, book / "generated")
    assert "Each top-1 is a mean over 1 or 2 seeds, all measured on the same 1,000 test images" in \
        (book / "generated" / "results_en.md").read_text()
    assert "每个 Top-1 是 1 或 2 个种子的平均值" in (book / "generated" / "results_zh.md").read_text()


def test_seeds_and_models_scored_on_the_same_test_images_do_not_narrow_an_interval(full_protocol):
    """Seeds (and a group's models) answer the same test images: their accuracies' mean was given Wilson's interval
    over runs × images, √runs narrower than the images allow, and a group whose models had different seed counts
    an interval around the seed-weighted accuracy, which could miss the group's mean that Table 2 shows beside it
    (80 % over 3 seeds and 40 % over 1: mean 60 %, interval 69.5-70.4)."""
    rows = full_protocol[0]["rows"]
    done = rows[rows.status == "complete"]
    assert (done.seeds == 2).all() and (done.evaluated == 1000).all()
    for row in done.itertuples():
        assert (row.top1_lo, row.top1_hi) == pytest.approx(intervals.wilson(row.top1, 1000))
    groups = sources.group_intervals(pd.DataFrame({
        "model": ["resnet_20", "resnet_32", "mlp_mixer_tiny"], "group": ["basic", "basic", "mlp"],
        "status": "complete", "top1": [80.0, 40.0, 58.0], "evaluated": 10_000, "seeds": [3, 1, 1]}))
    basic = groups.set_index("group").loc["basic"]
    assert basic.top1 == 60.0 and basic.lo < 60.0 < basic.hi
    assert (basic.lo, basic.hi) == pytest.approx(intervals.wilson(60.0, 10_000))


def test_the_seed_sentence_gives_the_range_when_models_have_different_seed_counts(full_protocol):
    """One model left with one seed (a failed seed) made the page say every model has one seed."""
    from cifar100lab.report.prose import results_prose
    rows = full_protocol[0]["rows"]
    assert "With 2 seeds per model" in results_prose(rows, "en")
    mixed = rows.assign(seeds=[1] + [2] * (len(rows) - 1))
    en, zh = results_prose(mixed, "en"), results_prose(mixed, "zh")
    assert "Each model has one seed" not in en and "With 1 seeds" not in en
    assert "Models have between 1 and 2 seeds (Table 1's Seeds column)" in en and "各模型有 1 到 2 个种子" in zh


def _header(path: Path) -> list[str]:
    """The CSV's column names (after its leading comment line, which says what the table was measured on)."""
    return next(csv.reader(line for line in path.open(encoding="utf-8") if not line.startswith("#")))


def test_every_fact_has_one_template_per_language_with_the_same_fields():
    fields = lambda t: {f for _, f, _, _ in string.Formatter().parse(t) if f}
    for fact, text in i18n.MESSAGES.items():
        assert set(text) == set(i18n.LANGS), fact
        assert fields(text["en"]) == fields(text["zh"]), fact


def test_comparison_refuses_to_subtract_across_datasets(stand_in):
    _, gen = stand_in
    assert "ours_minus_claim_pp" not in _header(gen / "comparison.csv")
    assert "Ours − claim" not in (gen / "comparison.tex").read_text()
    for lang, says in (("en", "Nothing is subtracted"), ("zh", "不计算任何差值")):
        for page in ("comparison", "findings", "summary"):
            text = (gen / f"{page}_{lang}.md").read_text()
            assert says in text and "rank correlation" not in text and "秩相关" not in text, (page, lang)


def test_comparison_subtracts_when_dataset_and_protocol_match(full_protocol):
    _, gen = full_protocol
    assert "ours_minus_claim_pp" in _header(gen / "comparison.csv") and "Ours − claim" in (gen / "comparison.tex").read_text()
    assert "differs from the claim" in (gen / "comparison_en.md").read_text()


def _stand_in_campaign(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """The fake Fashion-MNIST campaign's runs folder and the folder its pages are written to (figures unwritten)."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    return runs, book / "generated"


def _results_pages(runs: Path, gen: Path, **record_changes) -> tuple[str, str]:
    """The campaign's Results pages (en, zh), written after mini-resnet_20-s0's record takes ``record_changes``."""
    if record_changes:
        path = runs / "mini" / "mini-resnet_20-s0" / records.RECORD
        records.atomic_write_json(path, {**records.read_json(path), **record_changes})
    report.write_campaign_report("mini", runs, gen)
    return tuple((gen / f"results_{lang}.md").read_text() for lang in i18n.LANGS)


def test_the_provenance_names_every_version_the_runs_trained_with(tmp_path, monkeypatch):
    """A campaign resumed after an upgrade: the provenance named the first record's torch as every run's."""
    runs, gen = _stand_in_campaign(tmp_path, monkeypatch)
    en, _ = _results_pages(runs, gen)
    assert "torch 2.x, timm 1.x, accelerate 1.x;" in en
    en, zh = _results_pages(runs, gen, versions={"python": "3.11", "torch": "2.14.1", "timm": "1.x", "accelerate": "1.x"})
    assert "torch 2.14.1 / 2.x, timm 1.x, accelerate 1.x;" in en and "torch 2.14.1 / 2.x" in zh


def test_the_provenance_gives_one_day_once_and_a_span_as_its_first_and_last_day(tmp_path, monkeypatch):
    """A campaign run within a day said it ran "from 2026-01-01 to 2026-01-01"."""
    runs, gen = _stand_in_campaign(tmp_path, monkeypatch)
    en, zh = _results_pages(runs, gen)
    assert "; runs on 2026-01-01." in en and "运行时间 2026-01-01。" in zh and "to 2026-01-01" not in en
    en, zh = _results_pages(runs, gen, finished="2026-01-03T09:00:00+00:00")
    assert "; runs from 2026-01-01 to 2026-01-03." in en and "运行时间 2026-01-01 至 2026-01-03。" in zh


def _subtracts_nothing_as_runs_saw_a_subset(runs, gen, sizes: str) -> None:
    """The campaign's pages, written again, set no claim against its runs and say they saw a subset (``sizes``)."""
    report.write_campaign_report("mini", runs, gen)
    en, zh = (gen / "comparison_en.md").read_text(), (gen / "comparison_zh.md").read_text()
    assert "differs from the claim" not in en and "ours_minus_claim_pp" not in _header(gen / "comparison.csv")
    assert ("**Nothing is subtracted here**: some of our runs trained or were tested on a subset of CIFAR-100 "
            f"({sizes})") in en
    assert "本项目的部分运行只在 CIFAR-100 的子集上训练或测试" in zh


def test_no_subtraction_from_the_claims_when_a_run_trained_on_a_subset_of_cifar100(tmp_path, monkeypatch):
    """200 epochs on CIFAR-100, but a model entry's train_subset: the page subtracted the whole-dataset claims
    from a run that saw a fifth of the images."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="cifar100", epochs=200)
    gen = book / "generated"
    report.write_campaign_report("mini", runs, gen)
    assert "differs from the claim" in (gen / "comparison_en.md").read_text()  # the whole dataset: subtracted
    assert "| Rank |" in (gen / "results_en.md").read_text()  # and one protocol: a ranking
    run = runs / "mini" / "mini-resnet_20-s0"
    rec = records.read_json(run / records.RECORD)
    records.atomic_write_json(run / records.RECORD, {**rec, "config": {**rec["config"], "train_subset": 10000},
                                                     "dataset": {**rec["dataset"], "train_size": 10000}})
    _subtracts_nothing_as_runs_saw_a_subset(runs, gen, "2,000 or 10,000 training / 1,000 test images")
    results = (gen / "results_en.md").read_text()  # rows trained on different sets are no ranking either
    assert "| Rank |" not in results and "| No. |" in results and "Models in order of top-1" in results
    assert "## All models, by top-1 (not a ranking)" in (gen / "findings_en.md").read_text()


def test_no_subtraction_from_the_claims_when_a_run_held_out_a_validation_split(tmp_path, monkeypatch):
    """200 epochs on CIFAR-100 with val_fraction 0.1: the run trained on nine tenths of the training set, yet the
    page subtracted the whole-dataset claims from it as if it had seen all of it."""
    runs, book = _full_protocol_with(tmp_path, monkeypatch, lambda rec: {
        **rec, "config": {**rec["config"], "val_fraction": 0.1}, "dataset": {**rec["dataset"], "train_size": 1800}})
    _subtracts_nothing_as_runs_saw_a_subset(runs, book / "generated", "1,800 training / 1,000 test images")


def _full_protocol_with(tmp_path, monkeypatch, change) -> tuple:
    """(runs, book) of a fake 200-epoch CIFAR-100 campaign whose complete records ``change`` rewrites."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="cifar100", epochs=200)
    for run in sorted((runs / "mini").iterdir()):
        rec = records.read_json(run / records.RECORD) if (run / records.RECORD).is_file() else {}
        if rec.get("status") == "complete":
            records.atomic_write_json(run / records.RECORD, change(rec))
    return runs, book


def test_runs_capped_at_a_few_steps_an_epoch_are_neither_ranked_nor_set_against_the_claims(tmp_path, monkeypatch):
    """200 epochs on CIFAR-100 with max_steps_per_epoch 2 (a smoke test of the full protocol): each run trained on
    400 batches in all, yet Table 1 was a "Rank", the pages subtracted the claims (Ours − claim +8.66 for
    resnet_20) and nothing on them said that the epochs were cut short."""
    runs, book = _full_protocol_with(tmp_path, monkeypatch, lambda rec: {  # 48 full batches of 1,024 an epoch
        **rec, "config": {**rec["config"], "max_steps_per_epoch": 2}, "dataset": {**rec["dataset"], "train_size": 50000}})
    gen = book / "generated"
    assert sources.steps_cap({"config": {"max_steps_per_epoch": 31}, "recipe": {"global_batch": 64},
                              "dataset": {"train_size": 2000}}) is None  # 31 full batches of 64: no step cut
    report.write_campaign_report("mini", runs, gen)
    en, zh = (gen / "comparison_en.md").read_text(), (gen / "comparison_zh.md").read_text()
    assert "differs from the claim" not in en and "ours_minus_claim_pp" not in _header(gen / "comparison.csv")
    assert "**Nothing is subtracted here**: every epoch of our runs stopped after at most 2 steps" in en
    assert "每个 epoch 最多只训练 2 步" in zh
    results = (gen / "results_en.md").read_text()
    assert "| Rank |" not in results and "| No. |" in results
    assert (gen / "table1.csv").read_text().splitlines()[0].endswith("(every epoch at most 2 steps: max_steps_per_epoch)")
    assert "Every epoch stopped after at most 2 steps (max_steps_per_epoch, a smoke test's cap)" in results
    assert "每个 epoch 最多只训练 2 步（max_steps_per_epoch，冒烟测试用的上限）" in (gen / "results_zh.md").read_text()


def test_runs_at_another_global_batch_than_the_claims_are_set_beside_them_not_subtracted(tmp_path, monkeypatch):
    """full.yaml with --jobs 8 trains each run on one GPU: a global batch of 128 at the lr the original stated for
    1,024. The page subtracted the claims all the same ("differs from the claim by … on average")."""
    runs, book = _full_protocol_with(tmp_path, monkeypatch,
                                     lambda rec: {**rec, "recipe": {**rec["recipe"], "global_batch": 128}})
    gen = book / "generated"
    report.write_campaign_report("mini", runs, gen)
    en, zh = (gen / "comparison_en.md").read_text(), (gen / "comparison_zh.md").read_text()
    assert "differs from the claim" not in en and "ours_minus_claim_pp" not in _header(gen / "comparison.csv")
    assert "**Nothing is subtracted here**: our runs trained at a global batch of 128 images, while the claims " \
           "trained at 1,024" in en
    assert "本项目的运行以 128 张图像的全局批量训练，而声称值以 1,024" in zh
    assert "| Rank |" in (gen / "results_en.md").read_text()  # a ranking still: every run trained alike


def test_wilson_interval_matches_the_textbook_value():
    lo, hi = intervals.wilson(60.0, 1000)
    assert round(lo, 1) == 56.9 and round(hi, 1) == 63.0
    assert intervals.wilson(100.0, 50)[1] == pytest.approx(100.0)


def test_ranking_names_the_neighbours_inside_each_others_interval(stand_in):
    out, gen = stand_in
    text = (gen / "results_en.md").read_text()
    assert "95 % CI" in text and "not separable" in text
    assert "eca_resnet_20 / resnet_32" in text  # 64.0 vs 62.5 on 1,000 images
    assert "ghost_resnet_20 / mlp_mixer_tiny" not in text  # 52 vs 35 is separable


def test_top5_is_shown_only_with_more_than_ten_classes(stand_in, full_protocol):
    _, gen = stand_in
    assert "top5_mean_pct" not in _header(gen / "table1.csv") and "Top-5" not in (gen / "table1.tex").read_text()
    assert "Top-5 is not in the table" in (gen / "results_en.md").read_text()
    _, gen100 = full_protocol
    assert "top5_mean_pct" in _header(gen100 / "table1.csv") and "Top-5" in (gen100 / "table1.tex").read_text()


def test_seed_spread_is_given_with_n_only_where_there_are_seeds(stand_in, full_protocol):
    _, gen = stand_in
    assert "one seed" in (gen / "results_en.md").read_text() and " ± " not in (gen / "table1.tex").read_text()
    _, gen2 = full_protocol
    text = (gen2 / "results_en.md").read_text()
    assert "With 2 seeds per model" in text and "Seeds" not in (gen2 / "table1.tex").read_text()
    assert "2 seeds per model" in text  # n, in the provenance box
    assert " ± " in (gen2 / "table1.tex").read_text()


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


def test_recipes_table_gives_each_run_the_global_batch_it_trained_with():
    """Runs of one recipe at different global batches (a model entry with its own batch_size, lr_scaling on the
    process count only) were one row of the recipes table, with the first run's batch: resnet_32, trained at a
    global batch of 32, read "128" on the Method page."""
    from fake_campaign import RECIPE

    from cifar100lab.report.tables import recipes_table
    runs = [{"run_id": m, "model": m, "status": "complete", "recipe": {**RECIPE, "global_batch": b}}
            for m, b in (("resnet_20", 128), ("resnet_32", 32))]
    for lang in i18n.LANGS:
        rows = [line for line in recipes_table(sources.recipes_used(runs), lang).splitlines()
                if line.startswith("| resnet_sgd |")]
        assert len(rows) == 2, rows
        assert rows[0].startswith("| resnet_sgd | resnet_<wbr>20 |") and rows[0].endswith("| 128 |"), rows
        assert rows[1].startswith("| resnet_sgd | resnet_<wbr>32 |") and rows[1].endswith("| 32 |"), rows


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
    # the stand-in's top-1 numbers are listed under its name, never unlabelled
    assert index.index("**Dataset: Fashion-MNIST (stand-in for CIFAR-100) · 数据集：Fashion-MNIST（CIFAR-100 的替代数据集）**") \
        < index.index("| Run · 运行 |")
    assert "[resnet_20](../runs/mini-resnet_20-s0.ipynb)" in (gen / "results_en.md").read_text()


@pytest.mark.slow
def test_book_builds_on_a_fresh_clone_before_any_campaign(copy_repo_book):
    """No generated/ and no run notebooks: -W passes and the results pages say which command fills them."""
    gen = copy_repo_book / "book" / "generated"
    gen.mkdir()
    proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", "book/", "-W", "-n",
                           "--keep-going"], capture_output=True, text=True, cwd=copy_repo_book)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Warning" not in proc.stderr, proc.stderr[-2000:]  # e.g. nbformat's MissingIDFieldWarning
    html = copy_repo_book / "_build" / "html"
    text = lambda page: re.sub(r"<[^>]+>", "", (html / page).read_text())
    for page in ("en/results.html", "zh/results.html", "en/comparison.html", "runs/index.html", "index.html",
                 "en/robustness.html", "zh/robustness.html"):
        assert "make report" in text(page), page
    assert "python -m cifar100lab robustness runs/" in text("zh/robustness.html")
    assert (html / "generated" / "analysis.html").exists()
    quick = yaml.safe_load((copy_repo_book / "params" / "quick.yaml").read_text())["defaults"]
    for page in ("en/method.html", "zh/method.html"):  # the campaigns table is the YAMLs', not typed in
        row = next(r for r in re.findall(r"<tr.*?</tr>", (html / page).read_text(), re.S) if ">quick<" in r)
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert cells[3:7] == [f"{quick['epochs']}", f"{quick['train_subset']:,}", f"{quick['test_subset']:,}",
                              f"{quick['batch_size']}"], cells


def test_the_placeholder_analysis_notebook_is_valid_nbformat_without_warnings(tmp_path):
    import warnings

    import nbformat

    from cifar100lab.report import sphinx_ext
    path = tmp_path / "analysis.ipynb"
    sphinx_ext._placeholder_notebook(path, "# Campaign analysis\n\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MissingIDFieldWarning: a 4.5 notebook's cell without an id
        nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert i18n.say("no_runs", "zh") in nb.cells[0].source


def test_campaigns_table_follows_the_campaign_files(tmp_path):
    from cifar100lab.report.pages import write_campaigns_page
    params, out = tmp_path / "params", tmp_path / "gen"
    params.mkdir()
    (params / "a.yaml").write_text("name: a\nmodels: [resnet_20, resnet_32]\nnum_processes: 2\nseeds: [0, 1]\n"
                                   "study_seeds: [0, 1, 2]\ndefaults: {epochs: 3, batch_size: 8, train_subset: 1234}\n")
    (params / "b.yaml").write_text("name: b\nmodels: study\ndefaults: {epochs: 1}\n")
    write_campaigns_page(params, out)
    en, zh = ((out / f"campaigns_{lang}.md").read_text().splitlines() for lang in ("en", "zh"))
    assert en[2].startswith("| `b` | the study's 18 |") and zh[2].startswith("| `b` | 原研究的 18 个 |") and "| 1 / – | 1 | all | all | – | one per GPU" in en[2]  # fewest epochs first
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


def _findings_after(tmp_path, monkeypatch, run_id: str, change) -> tuple[str, str]:
    """The Findings page (en, zh) of the fake Fashion-MNIST campaign once ``change`` rewrote ``run_id``'s record."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    run = runs / "mini" / run_id
    records.atomic_write_json(run / records.RECORD, change(records.read_json(run / records.RECORD)))
    report.write_campaign_report("mini", runs, book / "generated")
    return tuple((book / "generated" / f"findings_{lang}.md").read_text() for lang in ("en", "zh"))


def test_a_pairwise_question_is_not_answered_from_two_rows_trained_differently(tmp_path, monkeypatch):
    """eca_resnet_20's entry trained 4 epochs, resnet_20's 2: the Findings page still answered "ECA on resnet_20"
    with their difference ("+3.00 points") and a verdict, a difference in part of their training."""
    en, zh = _findings_after(tmp_path, monkeypatch, "mini-eca_resnet_20-s0",
                             lambda rec: {**rec, "config": {**rec["config"], "epochs": 4}})
    assert "+3.00 points" not in en and "eca_resnet_20 reaches" not in en
    assert ("**eca_resnet_20 against resnet_20.** Not compared: the two trained differently (Epochs: 4 against 2), "
            "so a difference between them would be in part their training's.") in en
    assert "**eca_resnet_20 与 resnet_20。** 不作比较：两者的训练条件不同（轮数：4 对 2）" in zh
    assert "Ghost modules on resnet_20" in en  # a pair trained alike is still answered


def test_the_conclusions_summary_says_what_eca_and_ghost_change_as_its_text_promises(stand_in):
    """The Conclusion says that what ECA and Ghost modules change is rendered below it; its summary held the ranking
    and the comparison with the claims only."""
    _, gen = stand_in
    for lang in ("en", "zh"):
        summary, findings = (gen / f"summary_{lang}.md").read_text(), (gen / f"findings_{lang}.md").read_text()
        pairs = [line for line in findings.splitlines() if line.startswith("- **") and "resnet_20" in line]
        assert pairs and all(line in summary.splitlines() for line in pairs), (pairs, summary)


def test_a_pairwise_question_is_not_answered_from_rows_trained_under_different_recipes(tmp_path, monkeypatch):
    """A campaign entry `{model: eca_resnet_20, overrides: {lr: 0.2}}` is row eca_resnet_20: the Findings page read
    its gain over resnet_20 at lr 0.1 as ECA's ("eca_resnet_20 reaches 64.00 % against …"), the lr's part unsaid."""
    en, zh = _findings_after(tmp_path, monkeypatch, "mini-eca_resnet_20-s0",
                             lambda rec: {**rec, "recipe": {**rec["recipe"], "lr": 0.2, "effective_lr": 0.2}})
    assert ("**eca_resnet_20 against resnet_20.** Not compared: the two trained differently (recipe effective_lr, lr: "
            "0.2, 0.2 against 0.1, 0.1)") in en and "eca_resnet_20 reaches" not in en
    assert "**eca_resnet_20 与 resnet_20。** 不作比较：两者的训练条件不同（配方 effective_lr, lr：0.2, 0.2 对 0.1, 0.1）" in zh
    assert "ghost_resnet_20 has" in en  # the pair trained alike is answered


def test_a_pairwise_question_is_not_answered_against_a_row_whose_training_failed(tmp_path, monkeypatch):
    """resnet_20 ended at 9.00 %, below chance (10 % of Fashion-MNIST's 10 classes): the Findings page still said
    eca_resnet_20 "reaches 64.00 % against 9.00 % without ECA (+55.00 points; outside both 95 % intervals)", the
    size of a failed training read as ECA's gain."""
    en, zh = _findings_after(tmp_path, monkeypatch, "mini-resnet_20-s0",
                             lambda rec: {**rec, "final": {**rec["final"], "top1": 9.0}})
    assert "+55.00 points" not in en and "eca_resnet_20 reaches" not in en and "changes top-1 by" not in en
    assert ("**eca_resnet_20 against resnet_20.** Not compared: the training of resnet_20 failed (Table 1's Note "
            "says how)") in en and "**ghost_resnet_20 against resnet_20.** Not compared" in en
    assert "**eca_resnet_20 与 resnet_20。** 不作比较：resnet_20 的训练失败了" in zh
    assert "**Training time.**" in en


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


# ---------------------------------------------------------------- claims checked against the records (issue 23)

def _sentence_numbers(text: str, pattern: str) -> tuple[float, ...]:
    found = re.search(pattern, text)
    assert found, pattern
    return tuple(float(v) for v in found.groups())


def test_top5_sentence_states_the_range_the_records_hold(stand_in):
    out, gen = stand_in
    done = out["rows"][out["rows"].status == "complete"]
    en, zh = (gen / "results_en.md").read_text(), (gen / "results_zh.md").read_text()
    assert _sentence_numbers(en, r"ranges from ([\d.]+) % to ([\d.]+) %") == (done.top5.min(), done.top5.max())
    assert _sentence_numbers(zh, r"介于 ([\d.]+)% 与 ([\d.]+)%") == (done.top5.min(), done.top5.max())
    assert "near 100" not in en


def _rows(groups: dict[str, list[float]], n_test: int = 1000):
    import pandas as pd
    return pd.DataFrame([{"model": f"{g}-{i}", "group": g, "status": "complete", "top1": v, "evaluated": n_test,
                          "seeds": 1} for g, vals in groups.items() for i, v in enumerate(vals)])


def test_group_claim_is_made_only_when_the_group_intervals_separate():
    from cifar100lab.report import prose
    apart = prose.group_facts(_rows({"attention": [70.0, 72.0], "MLP": [40.0]}))
    assert [f for f, _ in apart] == ["groups", "groups_single"]
    assert apart[0][1]["top_ci"] == "68.1–73.7" and apart[1][1] == {"k": 1, "n": 2}
    close = prose.group_facts(_rows({"attention": [42.75], "hybrid & advanced": [42.40]}, n_test=500))
    assert close[0][0] == "groups_noise"
    text = prose.render(close, "en")
    assert "within noise" in text and "highest average top-1" in text and "95 % CI" in text


def test_group_sentence_on_the_results_page_follows_the_intervals_it_prints(stand_in):
    out, gen = stand_in
    groups = sources.group_intervals(out["rows"])
    top, nxt = groups.iloc[0], groups.iloc[1]
    en = (gen / "results_en.md").read_text()
    assert f"({top.top1:.2f} %, 95 % CI {top.lo:.1f}–{top.hi:.1f})" in en
    assert ("within noise" in en) == (top.lo <= nxt.hi)
    assert "| 95 % CI |" in (gen / "results_en.md").read_text().split("Table 2")[1]


def test_a_short_protocol_orders_models_without_calling_it_a_rank(stand_in, full_protocol):
    _, gen = stand_in
    assert _header(gen / "table1.csv")[0] == "order" and "rank" not in _header(gen / "table1.csv")
    en = (gen / "results_en.md").read_text()
    assert "not a ranking" in en and "| Rank |" not in en and "Overall ranking" not in (gen / "findings_en.md").read_text()
    _, full = full_protocol
    assert _header(full / "table1.csv")[0] == "rank" and "Models ranked by top-1" in (full / "results_en.md").read_text()


def _fail_resnet_20(runs: Path) -> None:
    """resnet_20 of the fake campaign ends below chance after a training loss far above a uniform guess's."""
    import json

    from cifar100lab import records
    run = runs / "mini" / "mini-resnet_20-s0"
    rec = json.loads((run / records.RECORD).read_text())
    rec["final"]["top1"] = 8.0
    records.atomic_write_json(run / records.RECORD, rec)
    (run / records.METRICS).unlink()
    for epoch, (loss, top1) in enumerate([(9.5, 9.0), (2.5, 8.0)], 1):
        records.append_jsonl(run / records.METRICS, {"epoch": epoch, "train_loss": loss, "train_acc": 10.0,
                                                     "top1": top1, "top5": 50.0, "test_loss": 2.4, "epoch_seconds": 1.0})


def test_a_test_loss_that_diverged_while_training_did_not_is_named_as_such(tmp_path, monkeypatch):
    """The quick campaign's resnet_32 on Fashion-MNIST (fp32): training loss 3.88 then 2.26, test loss 1218 then
    14.9, top-1 9.4 %. Its Note said "loss diverged", which a reader takes for the training loss."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    run = runs / "mini" / "mini-resnet_20-s0"
    (run / records.METRICS).unlink()
    for epoch, (train_loss, test_loss) in enumerate([(3.88, 1218.5), (2.26, 14.89)], 1):
        records.append_jsonl(run / records.METRICS, {"epoch": epoch, "train_loss": train_loss, "train_acc": 20.0,
                                                     "top1": 30.0, "top5": 60.0, "test_loss": test_loss,
                                                     "epoch_seconds": 1.0})
    report.write_campaign_report("mini", runs, book / "generated")
    gen = book / "generated"
    en, zh = (gen / "results_en.md").read_text(), (gen / "results_zh.md").read_text()
    row = next(line for line in en.splitlines() if "[resnet_20](../runs/" in line)
    assert "| test loss diverged (epoch 2: 14.9; training loss 2.26) |" in row
    assert ("For resnet_20 only the final test loss diverged, not the training loss (Table 1's Note column gives the "
            "epoch and both losses).") in en
    assert "The loss diverged for" not in en, "the model is named once, by the sentence that says which loss"
    assert "resnet_20 只有最后的测试损失发散，训练损失没有（表 1 的备注列给出发生的 epoch 及两项损失）。" in zh
    assert "的损失发散（表 1 的备注列给出是哪一项损失" not in zh
    assert "测试损失发散（第 2 个 epoch：14.9；训练损失 2.26）" in zh
    lines = (gen / "models.csv").read_text().splitlines()[1:]  # below its "# ..." caption
    [model_row] = [r for r in csv.DictReader(lines) if r["model"] == "resnet_20"]
    assert (model_row["diverged_epoch"], model_row["diverged_loss"], model_row["diverged_which"]) == ("2", "14.89", "test")


def test_runs_trained_on_different_hardware_are_not_ranked_by_their_training_time(tmp_path, monkeypatch):
    """A campaign whose runs trained on two machines (a Slurm cluster of mixed nodes, or a campaign resumed
    elsewhere): the Findings page called the spread of their training times one "on the same hardware", and the
    Results page listed the 5 fastest to train, a ranking of the machines as much as of the models."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    run = runs / "mini" / "mini-resnet_20-s0"
    rec = records.read_json(run / records.RECORD)
    gen = book / "generated"
    # another precision on the same machine is a setting of the run, not another machine: the list stays
    records.atomic_write_json(run / records.RECORD, {**rec, "hardware": {**rec["hardware"], "precision": "no"}})
    report.write_campaign_report("mini", runs, gen)
    assert "The 5 fastest to train" in (gen / "results_en.md").read_text()
    records.atomic_write_json(run / records.RECORD, {**rec, "hardware": {"device": "NVIDIA H200", "count": 1,
                                                                         "precision": "bf16"}})
    out = report.write_campaign_report("mini", runs, gen)
    results, results_zh = (gen / "results_en.md").read_text(), (gen / "results_zh.md").read_text()
    findings, findings_zh = (gen / "findings_en.md").read_text(), (gen / "findings_zh.md").read_text()
    both = "1 × Intel Xeon CPU, 1 × NVIDIA H200"
    assert f"The runs trained on more than one kind of hardware ({both}), so their training times" in results
    assert "The 5 fastest to train" not in results and "训练最快的 5 个模型不予列出" in results_zh
    assert "训练最快的 5 个模型**" not in results_zh and "Top 5 by accuracy per parameter" in results
    row = next(line for line in results.splitlines() if "[resnet_20](../runs/" in line)
    assert row.endswith("| trained on 1 × NVIDIA H200 |"), row
    other = next(line for line in results.splitlines() if "[eca_resnet_20](../runs/" in line)
    assert other.endswith("| trained on 1 × Intel Xeon CPU |"), other
    assert "训练于 1 × NVIDIA H200" in results_zh
    assert "**Training time.** Not compared: the runs trained on more than one kind of hardware (1 × Intel Xeon CPU; " \
           "1 × NVIDIA H200)." in findings and "same hardware" not in findings
    assert "**训练时间。** 不作比较：这些运行在不止一种硬件上训练（1 × Intel Xeon CPU；1 × NVIDIA H200）。" \
        in findings_zh and "同一硬件上" not in findings_zh
    lines = (gen / "models.csv").read_text().splitlines()[1:]  # below its "# ..." caption
    hardware = {r["model"]: r["hardware"] for r in csv.DictReader(lines)}
    assert hardware["resnet_20"] == "1 × NVIDIA H200" and hardware["eca_resnet_20"] == "1 × Intel Xeon CPU"
    assert "hardware" in (gen / "table1.csv").read_text().splitlines()[1]
    assert len(out["rows"]) > 2


def test_model_entries_trained_on_their_own_epochs_and_subsets_show_them_row_by_row(tmp_path, monkeypatch):
    """A model entry may set its own epochs and subsets ({model: resnet_20, name: r20_long, epochs: 4,
    train_subset: ...}). The provenance named the first record's image counts as everyone's, the interval sentence
    and Table 1's caption the first row's test images, and Table 1 set rows trained differently side by side with
    nothing to tell them apart."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    gen = book / "generated"
    report.write_campaign_report("mini", runs, gen)
    same = (gen / "results_en.md").read_text()
    assert "| Epochs |" not in same and "Not every row trained alike" not in same  # one protocol: the box says it
    assert "(stand-in dataset, 10 classes, 2,000 training / 1,000 test images), 2 epochs" in same
    run = runs / "mini" / "mini-resnet_20-s0"
    rec = records.read_json(run / records.RECORD)
    records.atomic_write_json(run / records.RECORD, {
        **rec, "config": {**rec["config"], "epochs": 4}, "dataset": {**rec["dataset"], "train_size": 8000,
                                                                      "test_size": 500},
        "final": {**rec["final"], "evaluated": 500}})
    report.write_campaign_report("mini", runs, gen)
    en, zh = (gen / "results_en.md").read_text(), (gen / "results_zh.md").read_text()
    assert "2,000 or 8,000 training / 500 or 1,000 test images), 2 or 4 epochs" in en
    assert "2,000 或 8,000" in zh and "500 或 1,000" in zh
    assert "Each top-1 was measured on 500 or 1,000 test images" in en
    assert "Wilson's interval over the 500 or 1,000 test images" in en
    assert "Not every row trained alike (Table 1's column Epochs / Training images / Test images gives each " \
           "row's)" in en
    assert "并非每行的训练条件都相同（表 1 的“轮数 / 训练图像 / 测试图像”列给出每行的取值）" in zh
    # training times of different budgets measure the budgets: no 5-fastest list, no spread of times
    assert "Their training times measure their budgets too, so the 5 fastest to train are not listed." in en
    assert "The 5 fastest to train" not in en and "训练最快的 5 个模型**" not in zh
    findings = (gen / "findings_en.md").read_text()
    assert "**Training time.** Not compared: the models trained for different numbers of epochs or images." in findings
    assert "between the fastest" not in findings
    header = next(line for line in en.splitlines() if line.startswith("| No. |"))
    assert header.endswith("| Epochs / Training images / Test images |"), header  # one column: Table 1 must fit
    row = next(line for line in en.splitlines() if "[resnet_20](../runs/" in line)
    other = next(line for line in en.splitlines() if "[eca_resnet_20](../runs/" in line)
    assert row.endswith("| 4 / 8,000 / 500 |") and other.endswith("| 2 / 2,000 / 1,000 |"), (row, other)
    lines = (gen / "table1.csv").read_text().splitlines()
    assert "2 or 4 epochs on 2,000 or 8,000 training images" in lines[0]
    [csv_row] = [r for r in csv.DictReader(lines[1:]) if r["model"] == "resnet_20"]
    assert (csv_row["epochs"], csv_row["train_images"], csv_row["test_images_per_seed"]) == ("4", "8000", "500")


def test_runs_at_or_below_chance_and_diverged_losses_are_marked_in_tables_prose_and_figures(tmp_path, monkeypatch):
    from cifar100lab.report import figures
    _pages_without_figures(monkeypatch)  # the figure is checked below, as figure_top1 draws it for the page
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    _fail_resnet_20(runs)
    out = report.write_campaign_report("mini", runs, book / "generated")
    report.write_study_report("mini", "eca_kernel", runs, book / "generated")
    gen = book / "generated"
    en, zh = (gen / "results_en.md").read_text(), (gen / "results_zh.md").read_text()
    row = next(line for line in en.splitlines() if "[resnet_20](../runs/" in line)  # Table 1's row
    assert "at or below chance (10 %); training loss diverged (epoch 1: 9.5) |" in row
    assert "At or below chance (10 %, a uniform guess over 10 classes): resnet_20." in en
    assert "The loss diverged for resnet_20" in en and "resnet_20 的损失发散" in zh
    assert "The dashed line is chance" in en and "† marks a model whose loss diverged" in en
    study_row = next(line for line in (gen / "study-eca_kernel_en.md").read_text().splitlines() if "| no ECA" in line)
    assert "at or below chance (10 %)" in study_row
    fig = figures.figure_top1(out["rows"], "en")
    assert any(list(line.get_xdata()) == [10.0, 10.0] for line in fig.axes[0].get_lines())  # the chance line
    assert "resnet_20 †" in [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_english_pages_agree_their_plurals_with_their_numbers(stand_in):
    _, gen = stand_in
    for page in gen.glob("*_en.md"):
        assert not re.search(r"\w\(s\)", page.read_text()), page.name
    assert "1 seed per model" in (gen / "results_en.md").read_text()


def test_downloads_and_study_pages_name_the_dataset_campaign_and_scale(stand_in):
    import pandas as pd
    _, gen = stand_in
    label = "Measured on Fashion-MNIST (stand-in for CIFAR-100), campaign mini: 2 epochs on 2,000 training images"
    for name in ("table1", "table2", "comparison"):
        assert (gen / f"{name}.csv").read_text().splitlines()[0].startswith("# Table") or name == "comparison"
        assert label in (gen / f"{name}.csv").read_text().splitlines()[0]
        assert "\\caption{" in (gen / f"{name}.tex").read_text() and label in (gen / f"{name}.tex").read_text()
        assert len(pd.read_csv(gen / f"{name}.csv", comment="#"))
    assert (gen / "study-eca_kernel.csv").read_text().startswith("# Measured on Fashion-MNIST")
    study = (gen / "study-eca_kernel_en.md").read_text()
    assert "campaign mini: 2,000 training images, 2 epochs, 1 seed per variant" in study
    assert "| Variant | Top-1 (%) | 95 % CI |" in study
    assert "实验配置 mini：2,000 张训练图像，2 个 epoch，每个变体 1 个种子" in (gen / "study-eca_kernel_zh.md").read_text()


def test_epoch_axes_are_ticked_at_whole_epochs(stand_in):
    from cifar100lab.report import figures
    _, gen = stand_in
    _, recs = sources.load_campaign_records("mini", gen.parent.parent / "runs")
    ax = figures.figure_curves(recs, ["resnet_20", "resnet_32"], "en").axes[0]
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks)


BOOK = Path(__file__).resolve().parent.parent / "book"


def test_future_work_does_not_deny_the_validation_split_method_documents():
    from cifar100lab.config import TrainConfig
    assert "val_fraction" in TrainConfig.__dataclass_fields__
    for lang, denial in (("en", "there is none today"), ("zh", "目前还没有")):
        text = (BOOK / lang / "future_work.md").read_text()
        assert "`val_fraction`" in text and denial not in text, lang


def test_reproducibility_gives_the_same_existing_notebook_paths_in_both_languages():
    paths = {lang: set(re.findall(r"[\w./-]+\.ipynb", (BOOK / lang / "reproducibility.md").read_text()))
             - {"out.ipynb", "eval.ipynb"} for lang in i18n.LANGS}
    assert paths["en"] == paths["zh"] and paths["en"]
    assert all((BOOK.parent / p).is_file() and not p.startswith("cifar100lab/") for p in paths["en"]), paths


def test_introduction_states_the_one_rule_for_where_claims_appear():
    for lang, column in (("en", "Original claim"), ("zh", "原报告声称")):
        text = (BOOK / lang / "introduction.md").read_text()
        assert column in text and "ablations.md" in text and "comparison.md" in text, lang


def test_a_fine_tune_trained_from_scratch_is_its_own_labelled_row_never_set_against_the_fine_tunes_claim(
        tmp_path, monkeypatch):
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    offline_fine_tune_with_scratch_row(runs)
    out = report.write_campaign_report("mini", runs, book / "generated")
    gen = book / "generated"
    en, zh = (gen / "results_en.md").read_text(), (gen / "results_zh.md").read_text(encoding="utf-8")
    row = next(line for line in en.splitlines() if line.startswith("|") and "convnext_tiny_timm-scratch" in line)
    assert "from scratch; ImageNet weights unavailable" in row and "从头训练；ImageNet 权重不可用" in zh
    assert "| Weights |" not in en  # every row trained from scratch: the column would say nothing
    # The skipped fine-tune's reason reads as a sentence in each language, naming the row that stands in for it.
    assert "ConnectError" not in en + zh and "Errno" not in en + zh
    assert "ImageNet weights unavailable: huggingface.co cannot be reached" in en
    assert "Trained from scratch instead: row **convnext_tiny_timm-scratch**" in en
    assert "本机无法连接 huggingface.co（离线）" in zh and "已改为从头训练" in zh
    # Never set against the pretrained model's claim or its pairwise finding.
    cmp = (gen / "comparison_en.md").read_text()
    scratch = out["rows"][out["rows"].model == "convnext_tiny_timm-scratch"].iloc[0]
    assert scratch.fallback and not scratch.pretrained and scratch.status == "complete"
    assert sources.claims_matched(out["rows"]).model.tolist().count("convnext_tiny_timm") == 0
    assert "| convnext_tiny_timm-scratch | 50.00 | – |" in cmp  # no claim beside it
    # Beside a completed ImageNet fine-tune, a Weights column says where each row started.
    rid = next(r for r in out["rows"].run_ids.iloc[0])
    rec = records.read_json(runs / "mini" / rid / records.RECORD)
    records.atomic_write_json(runs / "mini" / rid / records.RECORD, {**rec, "pretrained": "hub"})
    report.write_campaign_report("mini", runs, gen)
    en, zh = (gen / "results_en.md").read_text(), (gen / "results_zh.md").read_text(encoding="utf-8")
    assert "| Weights |" in en and "| ImageNet fine-tune |" in en and "| from scratch |" in en and "| 权重 |" in zh


def _with_entries(runs: Path, entries: list[tuple[str, str, float, str | None]]) -> None:
    """The fake campaign ``mini`` with more model entries, each ``(name, model, top-1, pretrained)`` one seed's
    run named ``mini-<name>-s0``, and its manifest listing every entry's runs (``model_runs``), as
    campaign.write_manifest does."""
    from fake_campaign import _record
    root = runs / "mini"
    manifest = records.read_json(root / records.MANIFEST)
    added = []
    for name, model, top1, pretrained in entries:
        rid = f"mini-{name}-s0"
        rec = _record("mini", rid, model, {}, 0, [top1 - 10, top1], "fashion-mnist", 2, 1000, 0.0)
        records.atomic_write_json(root / rid / records.RECORD, {**rec, "pretrained": pretrained})
        for epoch, t in enumerate([top1 - 10, top1], 1):
            records.append_jsonl(root / rid / records.METRICS, {"epoch": epoch, "train_loss": 1.0, "train_acc": t,
                                                                "top1": t, "top5": 90.0, "test_loss": 1.0})
        added.append(rid)
    records.atomic_write_json(root / records.MANIFEST, {
        **manifest, "models": manifest["models"] + [name for name, *_ in entries], "runs": manifest["runs"] + added,
        "model_runs": [f"mini-{m}-s0" for m in manifest["models"]] + added})


def test_each_model_entry_is_its_own_row_never_averaged_with_another_entry_of_its_model(tmp_path, monkeypatch):
    """models: [resnet_20, {model: resnet_20, name: r20_long, epochs: 4}]: the two entries were one row, their
    top-1 averaged as two seeds of one configuration."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    _with_entries(runs, [("r20_long", "resnet_20", 70.0, None)])
    out = report.write_campaign_report("mini", runs, book / "generated")
    rows = out["rows"].set_index("model")
    assert (rows.loc["resnet_20", "seeds"], rows.loc["resnet_20", "top1"]) == (1, 61.0)  # the plain entry's alone
    assert (rows.loc["r20_long", "seeds"], rows.loc["r20_long", "top1"]) == (1, 70.0)
    assert rows.loc["r20_long", "base_model"] == "resnet_20" and not rows.loc["r20_long", "fallback"]
    gen = book / "generated"
    for lang in ("en", "zh"):
        table = (gen / f"results_{lang}.md").read_text(encoding="utf-8")
        assert "r20_long" in table and "| Seeds |" not in table and "| 种子数 |" not in table  # one seed each
    assert out["context"]["seeds"] == [1]
    # A named entry has other settings than the model the original report measured: no claim beside it.
    assert "r20_long" not in sources.claims_matched(out["rows"]).model.tolist()
    assert "| r20_long | 70.00 | – |" in (gen / "comparison_en.md").read_text()


def test_a_named_entry_whose_model_is_not_listed_plainly_has_its_row(tmp_path):
    """models: [..., {model: eca_resnet_32, name: eca32}]: the table kept runs of the models in the manifest's
    models, which holds entry names (eca32), so the entry was left out."""
    runs = tmp_path / "runs"
    write_fake_campaign(runs, dataset="fashion-mnist")
    _with_entries(runs, [("eca32", "eca_resnet_32", 55.0, None)])
    manifest, recs = sources.load_campaign_records("mini", runs)
    rows = sources.model_rows(sources.model_records(manifest, recs), manifest["models"]).set_index("model")
    assert rows.loc["eca32", "top1"] == 55.0 and rows.loc["eca32", "base_model"] == "eca_resnet_32"
    assert (rows.status == "complete").sum() == len(manifest["models"]) - 1  # every entry but the skipped one


def test_a_named_from_scratch_entry_of_a_fine_tune_model_is_its_scratch_row(tmp_path, monkeypatch):
    """params/full.yaml's {model: deit_tiny, name: deit_tiny_scratch, pretrained: off} beside deit_tiny (here
    convnext_tiny_timm, skipped offline) is row <model>-scratch, as a campaign's own from-scratch entry is; another
    named from-scratch entry of that model is a row of its own, not a second seed of it."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    skipped = runs / "mini" / "mini-convnext_tiny_timm-s0" / records.RECORD  # the fine-tune, asked with weights
    records.atomic_write_json(skipped, {**records.read_json(skipped), "pretrained": "hub"})
    _with_entries(runs, [("convnext_tiny_timm_scratch", "convnext_tiny_timm", 50.0, None),
                         ("cnx_short", "convnext_tiny_timm", 40.0, None)])
    out = report.write_campaign_report("mini", runs, book / "generated")
    rows = out["rows"].set_index("model")
    assert rows.loc["convnext_tiny_timm-scratch", "top1"] == 50.0 and rows.loc["cnx_short-scratch", "top1"] == 40.0
    assert rows.loc[["convnext_tiny_timm-scratch", "cnx_short-scratch"], "seeds"].tolist() == [1, 1]
    assert rows.loc["convnext_tiny_timm", "status"] == "skipped"
    assert "Trained from scratch instead: row **convnext_tiny_timm-scratch**" in (
        book / "generated" / "results_en.md").read_text()


def test_the_campaign_estimate_is_called_an_estimate_and_set_beside_the_campaigns_measured_time(tmp_path):
    from cifar100lab import records
    runs, bench = tmp_path / "runs", tmp_path / "bench"
    timing = {"campaign": "c", "source": "params/c.yaml", "dataset": "synthetic", "started": "2026-12-02T21:15:16",
              "wall_seconds": 60.0, "jobs": 1, "cpu": "CPU", "cpus": 2, "gpus": 0, "runs": [
                  {"run_id": "c-a-s0", "status": "complete", "seconds": 40.0},
                  {"run_id": "c-b-s0", "status": "skipped", "seconds": 0.1}]}
    records.atomic_write_json(runs / "c" / records.TIMING, timing)
    records.atomic_write_json(runs / "c" / "c-a-s0" / records.RECORD,
                              {"run_id": "c-a-s0", "status": "complete", "train_seconds": 20.0, "eval_seconds": 10.0})
    net = {"options": {}, "input_size": 32, "batch_size": 32, "train_images_per_second": 1.0,
           "eval_images_per_second": 1.0, "precision": "fp32", "channels_last": False, "compile": False,
           "optimizer": "SGD", "epoch_seconds": 45.0, "run_epochs": 2}
    records.atomic_write_json(bench / "cpu-c-epoch-times.json", {
        "kind": "epoch_times", "device": "CPU (2 logical CPUs)", "campaign": "c", "campaign_file": "c.yaml", "measured": "2026-12-02",
        "versions": {"torch": "2.x"}, "train_images": 500, "test_images": 500, "dataset": "synthetic",
        "predicted_campaign_seconds": 3690.0, "networks": [
            {**net, "model": "a", "runs": ["c-a-s0"], "predicted_seconds": 90.0},  # a trained: 90 s against 30 s
            {**net, "model": "b", "pretrained": "hub", "runs": ["c-b-s0"], "predicted_seconds": 3600.0}]})  # skipped
    report.write_performance_page(bench, tmp_path / "gen", runs, "c")
    en = (tmp_path / "gen" / "performance_en.md").read_text()
    zh = (tmp_path / "gen" / "performance_zh.md").read_text(encoding="utf-8")
    assert "lower bound" not in en and "下限" not in zh
    # What the estimate is, beside what the same campaign measured: its wall time, what did not train, the ratio.
    assert "**Estimated epoch time of the whole campaign on one process of this device: 1.0 h" in en
    assert "The campaign itself ran on 2026-12-02: 1.0 min of wall time with 1 run side by side; 1 run did not " \
           "train (skipped), holding 1.0 h of the estimate. For the 1 run that trained, the estimate is 1.5 min of " \
           "epochs; their records hold 0.5 min, so the estimate is **3.0×** what was measured: an over-estimate." in en
    assert "估计为实测的 **3.0×**：估计偏高" in zh and "占估计中的 1.0 h" in zh
    # Two runs side by side on the CPU each trained on half its threads: their epochs are no test of the estimate.
    records.atomic_write_json(runs / "c" / records.TIMING, {**timing, "jobs": 2})
    report.write_performance_page(bench, tmp_path / "gen", runs, "c")
    en = (tmp_path / "gen" / "performance_en.md").read_text()
    assert "what was measured" not in en and "over-estimate" not in en
    assert "with 2 runs side by side; 1 run did not train (skipped), holding 1.0 h of the estimate. For the 1 run " \
           "that trained, the estimate is 1.5 min of epochs, one run at a time on the whole device; theirs shared " \
           "it, each on a share, so the 0.5 min of epochs their records hold is not a measurement of the estimate" in en
    assert "不能用来检验此估计" in (tmp_path / "gen" / "performance_zh.md").read_text(encoding="utf-8")
    # One run to each of two GPUs shares nothing: the comparison stands, when the estimate is of that GPU.
    estimate = records.read_json(bench / "cpu-c-epoch-times.json")
    records.atomic_write_json(bench / "cpu-c-epoch-times.json", {**estimate, "device": "NVIDIA H200"})
    on_gpus = {**timing, "jobs": 2, "gpus": 2, "device": "NVIDIA H200"}
    records.atomic_write_json(runs / "c" / records.TIMING, on_gpus)
    report.write_performance_page(bench, tmp_path / "gen", runs, "c")
    en = (tmp_path / "gen" / "performance_en.md").read_text()
    assert "**3.0×** what was measured" in en and "2 side by side, on CPU (2 logical CPUs) with 2 GPUs, NVIDIA H200." in en
    assert "，2 块 GPU（NVIDIA H200）" in (tmp_path / "gen" / "performance_zh.md").read_text(encoding="utf-8")
    # The campaign ran on another machine than the estimate's (an Intel Xeon's estimate beside an AMD EPYC's
    # campaign on this page): its epochs measure that machine, so no ratio and no verdict; what ran where is said.
    for device, named in [("AMD EPYC (2 logical CPUs)", "another device, AMD EPYC (2 logical CPUs)"),
                          (None, "another device, which its timing record does not name")]:
        records.atomic_write_json(runs / "c" / records.TIMING, {**on_gpus, "device": device})
        report.write_performance_page(bench, tmp_path / "gen", runs, "c")
        en = (tmp_path / "gen" / "performance_en.md").read_text()
        zh = (tmp_path / "gen" / "performance_zh.md").read_text(encoding="utf-8")
        assert "what was measured" not in en and "-estimate" not in en and "估计为实测" not in zh
        assert f"The campaign itself ran on 2026-12-02 on {named}: 1.0 min of wall time with 2 runs side by side. " \
               "The estimate is of the device named here, so the two are not compared" in en
        assert "因此两者不作比较" in zh
    # A timing record written before it named its device: a CPU's is known from its parts.
    records.atomic_write_json(bench / "cpu-c-epoch-times.json", estimate)
    records.atomic_write_json(runs / "c" / records.TIMING, timing)
    report.write_performance_page(bench, tmp_path / "gen", runs, "c")
    assert "**3.0×** what was measured" in (tmp_path / "gen" / "performance_en.md").read_text()


def test_provenance_and_run_summary_call_an_fp32_run_fp32_not_accelerates_no():
    """A CPU without native bf16 trains in fp32, which the record keeps as Accelerate's "no"; readers see fp32."""
    from fake_campaign import _record
    rec = _record("mini", "mini-resnet_20-s0", "resnet_20", {}, 0, [30.0, 50.0], "fashion-mnist", 2, 1000, 0.0)
    rec["hardware"] = {"device": "AMD EPYC (2 logical CPUs)", "count": 1, "precision": "no"}
    assert sources.context({"name": "mini", "runs": [rec["run_id"]]}, [rec])["hardware"] == ["1 × AMD EPYC CPU (fp32)"]
    assert report.run_summary(rec)["hardware"] == "1 × AMD EPYC (2 logical CPUs) (fp32)"
    assert i18n.precision_label("bf16") == "bf16"


@pytest.mark.parametrize("en, zh", [
    ("stopped by hand in epoch 3 of 10; running it again resumes from epoch 2",
     "手动停止，于第 3 个 epoch（共 10 个）；再次运行将从第 2 个 epoch 的检查点继续"),
    ("stopped by hand after its last epoch, before its record was written; running it again finishes it without "
     "training", "手动停止，于最后一个 epoch 之后、记录写入之前；再次运行将直接完成，无需再训练"),
    ("stopped with its campaign in epoch 1 of 2; running the campaign again resumes from its last checkpoint",
     "随实验配置一同停止，于第 1 个 epoch（共 2 个）；再次运行实验配置将从最后一个检查点继续"),
    ("stopped with its campaign in epoch 1 of 2; running the campaign again starts it over from epoch 1: no "
     "checkpoint was saved yet", "随实验配置一同停止，于第 1 个 epoch（共 2 个）；再次运行实验配置将从第 1 个 epoch 重新开始：尚未保存任何检查点"),
    ("stopped by hand in epoch 1 of 2; running it again starts it over from epoch 1: no checkpoint was saved yet",
     "手动停止，于第 1 个 epoch（共 2 个）；再次运行将从第 1 个 epoch 重新开始：尚未保存任何检查点"),
    ("stopped so-and-so in epoch 1 of 2; running it again resumes from epoch 1",  # unknown words stay English
     "stopped so-and-so in epoch 1 of 2; running it again resumes from epoch 1"),
    ("loss became nan in epoch 4; lower the learning rate (0.4) or check the data",
     "损失在第 4 个 epoch 变为 nan；请降低学习率（0.4）或检查数据"),
    ("notebook failed: CUDA error: out of memory", "笔记本执行失败: CUDA error: out of memory")])
def test_a_stop_reason_reads_as_one_chinese_sentence_and_other_reasons_keep_their_details(en, zh):
    assert i18n.reason(en) == {"en": en, "zh": zh}


def _displayed(monkeypatch) -> list:
    """What IPython would show, in order."""
    import IPython.display
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.extend(objs))
    return shown


def test_the_analysis_and_ablation_notebooks_show_plain_markdown_with_every_figure_and_its_caption(stand_in,
                                                                                                  monkeypatch):
    """In Jupyter the campaign's fragments read ':::{admonition} Not CIFAR-100 :class: warning' and
    '{download}`table1.csv <../generated/table1.csv>`', and the text stopped at the first figure: the figures
    came without their captions."""
    from IPython.display import Image, Markdown

    from cifar100lab.report import display
    out, gen = stand_in
    shown = _displayed(monkeypatch)
    display.show_campaign(out)
    texts = [o.data for o in shown if isinstance(o, (Markdown, display.BookMarkdown))]  # what Jupyter shows
    assert texts[0].startswith("## English\n\n> **Not CIFAR-100**\n>\n> These results were measured on **Fashion-MNIST")
    page = "\n".join(texts)
    assert ":::" not in page and "{download}" not in page and "](../" not in page and "```" not in page
    assert f"`{(gen / 'table1.csv').as_posix()}`" in page  # where the notebook wrote it
    images = [Path(o.filename).name for o in shown if isinstance(o, Image)]
    # each once, in place: the English part's, then the Chinese part's
    assert images == [n for n in images if n.endswith("_en.png")] + [n.replace("_en.", "_zh.") for n in images
                                                                    if n.endswith("_en.png")]
    assert sorted(images[:len(images) // 2]) == sorted(out["figures"])
    for n in range(1, len(images) // 2 + 1):
        assert any(t.startswith(f"*Figure {n}. ") for t in texts) and any(t.startswith(f"*图 {n}") for t in texts), n
    shown.clear()
    display.show_study(report.write_study_report("mini", "eca_kernel", gen.parent.parent / "runs", gen))
    assert [Path(o.filename).name for o in shown if isinstance(o, Image)] == ["study-eca_kernel_en.png",
                                                                               "study-eca_kernel_zh.png"]
    assert any(isinstance(o, Markdown) and o.data.startswith("*Figure 1. ") for o in shown)


def test_the_analysis_notebook_gives_the_book_the_results_pages_notes_and_download_links_and_jupyter_plain_markdown(
        stand_in, monkeypatch):
    """The analysis page showed the 'Not CIFAR-100' and 'Provenance' notes as plain quotes where the Results pages
    show them as warning and note boxes, and its downloads as file paths: the notebook's one Markdown output was
    the plain form Jupyter needs, and the book rendered that."""
    from IPython.core.formatters import DisplayFormatter

    from cifar100lab.report import display
    out, gen = stand_in
    shown = _displayed(monkeypatch)
    display.show_campaign(out)
    english = DisplayFormatter().format(shown[0])[0]  # the notebook's output, as IPython writes it
    book, jupyter = english["text/markdown"], english["text/html"]
    # the book (myst-nb, Markdown above HTML): the Results page's own MyST, up to its first figure
    heading = "## English\n\n"
    assert book.startswith(heading + ":::{admonition} Not CIFAR-100\n:class: warning\n")
    assert ":::{admonition} Provenance\n:class: note\n" in book and "{figure}" not in book
    assert (gen / "results_en.md").read_text().startswith(book[len(heading):])
    assert "{download}`table1.csv <../generated/table1.csv>`" in book
    # Jupyter (HTML above Markdown): the plain form, the notes as quotes and the downloads as where they are
    assert "<blockquote>\n<p><strong>Not CIFAR-100</strong></p>" in jupyter and ":::" not in jupyter
    assert f"<code>{(gen / 'table1.csv').as_posix()}</code>" in jupyter and "{download}" not in jupyter
    assert english["text/plain"] == shown[0].data and "<table>" in jupyter
    chinese = next(DisplayFormatter().format(o)[0] for o in shown if isinstance(o, display.BookMarkdown)
                   and o.data.startswith("## 中文"))
    assert chinese["text/markdown"].startswith("## 中文\n\n:::{admonition} 不是 CIFAR-100\n:class: warning\n")


def test_without_markdown_it_a_notebook_shows_its_plain_markdown_in_jupyter_and_the_book_alike(monkeypatch):
    """A training server without the book extra has no Markdown-to-HTML renderer: the output is the plain
    Markdown, which Jupyter reads as before (raw MyST would read as ':::{admonition}' there)."""
    import sys

    from cifar100lab.report import display
    monkeypatch.setitem(sys.modules, "markdown_it", None)  # its import fails
    part = display.BookMarkdown("> **Provenance**", ":::{admonition} Provenance\n:class: note\n:::")
    assert part._repr_mimebundle_() == {"text/markdown": "> **Provenance**", "text/plain": "> **Provenance**"}


def test_a_study_page_of_its_own_numbers_its_one_figure_1_while_the_ablations_page_keeps_its_number(
        tmp_path, monkeypatch):
    """The second study's own page (its notebook) showed one figure, captioned "Figure 2." as on the Ablations
    page, which shows every study."""
    from IPython.display import Markdown

    from cifar100lab.report import display
    root = write_fake_campaign(tmp_path / "runs")
    manifest = records.read_json(root / records.MANIFEST)
    manifest["studies"].insert(0, {**manifest["studies"][0], "name": "first"})
    records.atomic_write_json(root / records.MANIFEST, manifest)
    result = report.write_study_report("mini", "eca_kernel", tmp_path / "runs", tmp_path / "gen")
    assert "\nFigure 2. " in (tmp_path / "gen" / "study-eca_kernel_en.md").read_text()
    assert "\n图 2. " in (tmp_path / "gen" / "study-eca_kernel_zh.md").read_text()
    shown = _displayed(monkeypatch)
    display.show_study(result)
    captions = [o.data for o in shown if isinstance(o, Markdown) and o.data.startswith("*")]
    assert len(captions) == 2 and captions[0].startswith("*Figure 1. ") and captions[1].startswith("*图 1. "), captions


def test_a_study_page_serves_both_languages_each_under_its_name_with_its_own_figure(tmp_path, monkeypatch):
    """The study pages under "Runs · 运行记录" are titled in both languages, but showed the English text and
    figure only: a Chinese reader landed on English."""
    from IPython.display import Image, Markdown

    from cifar100lab.report import display
    write_fake_campaign(tmp_path / "runs")
    result = report.write_study_report("mini", "eca_kernel", tmp_path / "runs", tmp_path / "gen")
    shown = _displayed(monkeypatch)
    display.show_study(result)
    parts = [Path(o.filename).name if isinstance(o, Image) else o.data for o in shown
             if isinstance(o, (Markdown, display.BookMarkdown, Image))]
    # each language's text, then its figure and the figure's caption, in that language
    assert len(parts) == 6 and parts[1:3] == ["study-eca_kernel_en.png", parts[2]] and parts[4] == "study-eca_kernel_zh.png"
    english, chinese = parts[0] + parts[2], parts[3] + parts[5]
    assert parts[0].startswith("## English\n") and parts[3].startswith("## 中文\n")
    assert "Does k matter?" in english and "| Variant |" in english and parts[2].startswith("*Figure 1. ")
    assert "k 重要吗？" in chinese and "| 变体 |" in chinese and parts[5].startswith("*图 1. ")
    assert "| Variant |" not in chinese and "Does k matter?" not in chinese
    assert "ECA kernel size on ResNet-20" not in parts[0]  # the page's own title names the study


def test_the_chinese_part_of_a_bilingual_notebook_output_is_marked_chinese_in_html():
    """A notebook page of the Runs part is <html lang="en">: its Chinese part (show_in_both_languages) was
    read as English by screen readers, in a font chosen for English."""
    from docutils import nodes
    from docutils.core import publish_from_doctree
    from docutils.utils import new_document

    from cifar100lab.report.sphinx_lang import mark_chinese_part
    doc = new_document("page")
    output = nodes.container(classes=["cell_output"])
    output += [nodes.rubric(text="English"), nodes.paragraph(text="Does k matter?"),
               nodes.rubric(text="中文"), nodes.paragraph(text="k 重要吗？"), nodes.image(uri="fig_zh.png", alt="图")]
    doc += output
    assert mark_chinese_part(output)
    html = publish_from_doctree(doc, writer_name="html5").decode()
    english, chinese = html.split('<div lang="zh-CN">')
    assert "Does k matter?" in english and "中文" not in english
    assert chinese.index("中文") < chinese.index("k 重要吗？") < chinese.index("fig_zh.png") < chinese.index("</div>")
    one_language = nodes.container("", nodes.rubric(text="Results"), classes=["cell_output"])
    assert not mark_chinese_part(one_language) and len(one_language) == 1


def test_a_bilingual_outputs_parts_are_anchored_and_its_chinese_part_links_back_to_the_english_part():
    """A reader of Chinese reached a study page's or the analysis's Chinese part only by scrolling through the
    whole English part: nothing linked to it (a MyST label per page would be a duplicate label under -W)."""
    from docutils import nodes
    from docutils.core import publish_from_doctree
    from docutils.utils import new_document

    from cifar100lab.report.sphinx_lang import PART_IDS, link_parts, mark_chinese_part
    doc = new_document("page")
    output = nodes.container(classes=["cell_output"])
    output += [nodes.rubric(text="English", ids=["english"]), nodes.paragraph(text="Does k matter?"),
               nodes.rubric(text="中文", ids=["id1"]), nodes.paragraph(text="k 重要吗？")]
    doc += output
    assert mark_chinese_part(output) and link_parts(output)
    html = publish_from_doctree(doc, writer_name="html5").decode()
    english, chinese = html.split('<div lang="zh-CN">')
    assert f'id="{PART_IDS["en"]}">English<' in english and 'id="english"' not in html
    back = re.search(r'<a href="#([\w-]+)" lang="en" title="[^"]+">English ↑</a>', chinese)
    assert back and back[1] == PART_IDS["en"] and back.start() < chinese.index(f'id="{PART_IDS["zh"]}">中文<')
    one_language = nodes.container("", nodes.rubric(text="English"), nodes.paragraph(text="only"),
                                   classes=["cell_output"])
    assert not link_parts(one_language) and len(one_language) == 2 and one_language[0]["ids"] == []


def test_the_readme_names_the_links_between_a_bilingual_pages_parts_as_the_book_writes_them():
    """The README's account of the Chinese book said nothing of the links between a bilingual page's parts."""
    from conftest import ROOT

    from cifar100lab.report.sphinx_lang import part_link
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for lang, arrow in (("zh", "↓"), ("en", "↑")):
        words = re.search(r">([^<>]+)</a>", part_link(lang, arrow).astext())[1]
        assert f'"{words}"' in readme, words


def test_a_study_pages_figures_are_described_each_in_its_own_language(tmp_path):
    """A study page now shows the Chinese figure too; the book described only the English figures a notebook
    shows, so the Chinese one would have had no alt text."""
    import hashlib

    from cifar100lab.report.sphinx_ext import notebook_alt_texts
    write_fake_campaign(tmp_path / "runs")
    report.write_study_report("mini", "eca_kernel", tmp_path / "runs", tmp_path / "gen")
    known = notebook_alt_texts(tmp_path / "gen")
    for lang in i18n.LANGS:
        figure = tmp_path / "gen" / f"study-eca_kernel_{lang}.png"
        alt = known.get(hashlib.sha256(figure.read_bytes()).hexdigest())
        assert alt == records.read_json(tmp_path / "gen" / "alt.json")[figure.name] and alt, lang


def test_an_evaluation_shows_its_dataset_and_says_when_it_is_not_cifar(monkeypatch):
    """The evaluate notebook showed the raw metrics dict, its dataset cut off inside it."""
    from IPython.display import Markdown

    from cifar100lab.report import display
    shown = _displayed(monkeypatch)
    dataset = {"name": "fashion-mnist", "kind": "stand-in", "label": "Fashion-MNIST (stand-in for CIFAR-100)"}
    display.show_evaluation({"checkpoint": "runs/r/checkpoint.pt", "epoch": 2, "model": "resnet_20", "top1": 61.5,
                             "evaluated": 200, "dataset": dataset,
                             "hardware": {"device": "AMD EPYC (2 logical CPUs)", "precision": "no"}})
    assert shown[0].data == "**Dataset: Fashion-MNIST (stand-in for CIFAR-100) — not CIFAR-100.**"
    table = shown[1]["value"]
    assert table["hardware"] == "AMD EPYC (2 logical CPUs) (fp32)"  # Accelerate's "no" read "(no)"
    assert table["top-1 (%)"] == "61.50" and table["test images"] == "200" and table["dataset"] == dataset["label"]
    shown.clear()
    display.show_evaluation({"dataset": {"name": "cifar100", "kind": "real", "label": "CIFAR-100"}})
    assert not any(isinstance(o, Markdown) for o in shown)


def test_an_evaluation_of_a_run_with_ema_weights_shows_both_weights_metrics(monkeypatch):
    """evaluation.json held the EMA weights' top-1/top-5 of a run trained with ema_decay; the table showed only
    the raw weights'."""
    from cifar100lab.report import display
    shown = _displayed(monkeypatch)
    result = {"checkpoint": "runs/r/checkpoint.pt", "epoch": 2, "model": "resnet_20", "top1": 61.5, "top5": 88.25,
              "test_loss": 1.5, "ema": {"top1": 63.0, "top5": 89.5, "test_loss": 1.25},
              "dataset": {"name": "cifar100", "kind": "real", "label": "CIFAR-100"}}
    display.show_evaluation(result)
    table = shown[0]["value"]
    assert (table["top-1 (%), raw weights"], table["top-5 (%), raw weights"]) == ("61.50", "88.25")
    assert (table["top-1 (%), EMA weights"], table["top-5 (%), EMA weights"]) == ("63.00", "89.50")
    assert table["test loss, EMA weights"] == "1.2500" and "top-1 (%)" not in table.index
    del result["ema"]
    shown.clear()
    display.show_evaluation(result)
    assert shown[0]["value"]["top-1 (%)"] == "61.50" and not any("EMA" in k for k in shown[0]["value"].index)


def _context(**changes) -> dict:
    ctx = {"campaign": "c", "complete": 2, "total": 2, "dataset": "cifar100", "kind": "real", "classes": 100,
           "train_size": 50000, "test_size": 10000, "epochs": [200], "seeds": [3], "hardware": [], "commits": [],
           "versions": {}, "checksum": None, "start": "–", "end": "–", "studies": 0}
    return {**ctx, **changes}


def test_every_dataset_that_is_not_cifar100_says_so_in_its_own_words(monkeypatch):
    """A stand-in was described as Fashion-MNIST's 28×28 grey images whatever it was, and CIFAR-10 or an image
    folder at the full protocol got no notice at all."""
    from cifar100lab.data import DATASETS, DatasetEntry
    from cifar100lab.report.prose import provenance
    other = provenance(_context(dataset="cifar10", kind="other", classes=10), "en")
    assert other.startswith(":::{admonition} Not CIFAR-100\n:class: warning\nThese results were measured on "
                            "**CIFAR-10** (10 classes): real images, but **not CIFAR-100 results**")
    assert "**CIFAR-10**（10 类）上测得" in provenance(_context(dataset="cifar10", kind="other", classes=10), "zh")
    fashion = provenance(_context(dataset="fashion-mnist", kind="stand-in", classes=10), "en")
    assert "**Fashion-MNIST (stand-in for CIFAR-100)**: real images, but 10 classes of 28×28 grey" in fashion
    monkeypatch.setitem(DATASETS, "blobs", DatasetEntry("blobs", "stand-in", {"en": "Blobs", "zh": "Blobs"}, 4,
                                                        (100, 10), (0.5,) * 3, (0.2,) * 3))
    for lang in ("en", "zh"):
        text = provenance(_context(dataset="blobs", kind="stand-in", classes=4), lang)
        assert "Blobs" in text and "28×28" not in text
    assert "Not CIFAR-100" not in provenance(_context(), "en")


def test_run_pages_of_another_campaign_are_indexed_under_its_name_with_their_dataset(stand_in, tmp_path):
    """The sidebar lists every page in book/runs; the index listed this campaign's only, so an earlier
    campaign's pages were there without a word of what they were."""
    import json
    import shutil

    from cifar100lab.report.runpages import runs_index
    out, gen = stand_in
    book, runs = tmp_path / "book", gen.parent.parent / "runs"
    shutil.copytree(gen.parent / "runs", book / "runs")
    recs = records.load_records(runs / "mini")
    kept = [r for r in recs if r["run_id"] != "mini-resnet_20-s0"]  # as if resnet_20 were another campaign's
    page = json.loads((book / "runs" / "mini-resnet_20-s0.ipynb").read_text())
    page.setdefault("metadata", {})["papermill"] = {"parameters": {"campaign": "mini", "run_id": "mini-resnet_20-s0",
                                                                    "run_dir": "elsewhere"}}
    (book / "runs" / "mini-resnet_20-s0.ipynb").write_text(json.dumps(page))
    (book / "runs" / "lost-s0.ipynb").write_text("{}")  # a page whose run cannot be found
    index = runs_index(kept, book, runs)
    head = "## Runs of campaign mini, not the one this book reports"
    assert index.index("(mini-eca_resnet_20-s0.ipynb)") < index.index(head) < index.index("(mini-resnet_20-s0.ipynb)")
    other = index[index.index(head):]
    assert "**Dataset: Fashion-MNIST (stand-in for CIFAR-100)" in other and "[resnet_20 · seed 0]" in other
    assert "[lost-s0](lost-s0.ipynb) | – · – | – |" in index


def test_a_runs_curves_name_a_dataset_that_is_not_cifar100(monkeypatch):
    """The run page's curve (and the live one, through the same notice) said only the run id."""
    from cifar100lab.progress import not_cifar_notice
    from cifar100lab.report import display
    titles = []
    monkeypatch.setattr(display, "figure_run_curves", lambda history, title: titles.append(title) or
                        __import__("matplotlib.pyplot").pyplot.figure())
    _displayed(monkeypatch)
    monkeypatch.setattr(display, "_glue", lambda: lambda *a, **kw: None)
    stand_in = {"kind": "stand-in", "label": "Fashion-MNIST (stand-in for CIFAR-100)"}
    for dataset in (stand_in, {"kind": "real", "label": "CIFAR-100"}):
        display.show_run({"run_id": "r", "status": "complete", "model": "resnet_20", "dataset": dataset,
                          "history": []})
    __import__("matplotlib.pyplot").pyplot.close("all")
    assert titles == ["r\nFashion-MNIST (stand-in for CIFAR-100) · not CIFAR-100", "r"]
    assert not_cifar_notice("synthetic", "synthetic data") == "synthetic data · not CIFAR-100"
    assert not_cifar_notice("real", "CIFAR-100") == not_cifar_notice(None, None) == ""


def test_run_pages_of_a_model_removed_from_the_campaign_are_not_called_another_campaigns(tmp_path, monkeypatch):
    """resnet_32 is taken out of the campaign's models: its page stays in book/runs (and the sidebar), and the
    runs index listed it under 'Runs of campaign mini, not the one this book reports' -- the campaign the book
    reports. Now it says the campaign's YAML no longer asks for the run as recorded."""
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    root = write_fake_campaign(runs, book)
    manifest = records.read_json(root / records.MANIFEST)
    manifest["runs"] = [r for r in manifest["runs"] if r != "mini-resnet_32-s0"]
    manifest["models"] = [m for m in manifest["models"] if m != "resnet_32"]
    records.atomic_write_json(root / records.MANIFEST, manifest)
    import json
    for page in (book / "runs").glob("*.ipynb"):  # as papermill executed them, for this campaign
        nb = json.loads(page.read_text())
        nb["metadata"]["papermill"] = {"parameters": {"campaign": "mini", "run_id": page.stem}}
        page.write_text(json.dumps(nb))
    report.write_campaign_report("mini", runs, book / "generated")
    index = (book / "generated" / "runs_index.md").read_text()
    assert "not the one this book reports" not in index
    head = "## Runs of campaign mini left out of its results: its YAML no longer asks for them, or asks for other"
    assert index.index("(mini-resnet_20-s0.ipynb)") < index.index(head) < index.index("(mini-resnet_32-s0.ipynb)")
    assert "| resnet_32 |" not in (book / "generated" / "results_en.md").read_text()


def test_hand_written_pages_code_lines_fit_the_text_column_at_1000_px():
    # A code block scrolls sideways instead of wrapping: at 1000 px the column shows about 82 monospace columns
    # (a CJK character takes two), so a longer line hid its end -- the Slurm block's comments, the papermill
    # and evaluate commands' arguments, the Design page's data-flow line.
    import unicodedata

    def width(line: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)

    long = []
    for page in sorted(BOOK.glob("[ez][nh]/*.md")):
        inside = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("```"):
                inside = not inside
            elif inside and width(line.rstrip()) > 82:
                long.append(f"{page.relative_to(BOOK)}:{number}: {line.strip()[:50]}")
    assert not long, long


def test_the_executed_analysis_notebook_is_titled_in_both_languages_as_its_placeholder():
    # The placeholder (before any campaign) read "Campaign analysis · 实验分析"; the notebook a campaign executes
    # said "Campaign analysis" only, so with results the Chinese navigation's Runs part had an English heading
    # beside the bilingual study pages under it.
    import json

    from cifar100lab.report.sphinx_ext import PLACEHOLDER_NOTEBOOKS
    nb = json.loads((BOOK.parent / "notebooks" / "analysis.ipynb").read_text(encoding="utf-8"))
    first = "".join(next(c for c in nb["cells"] if c["cell_type"] == "markdown")["source"]).split("\n", 1)[0]
    assert first == PLACEHOLDER_NOTEBOOKS["analysis"].split("\n", 1)[0]


def test_introduction_says_the_runs_part_holds_the_campaign_analysis_and_study_pages():
    toc = (BOOK / "_toc.yml").read_text(encoding="utf-8")
    assert "generated/analysis" in toc and "generated/ablation-*" in toc
    for lang, words in (("en", ("campaign analysis", "one page per ablation study")), ("zh", ("实验分析", "每个消融实验各一页"))):
        text = " ".join((BOOK / lang / "introduction.md").read_text(encoding="utf-8").split())
        assert all(w in text for w in words), lang


def test_counts_that_differ_between_runs_read_as_alternatives_not_a_list():
    """A campaign whose models had 1 and 2 seeds (a study's second seed of one model) and 1 and 4 epochs said
    "1, 4 epochs, 1, 2 seeds per model" in its Provenance note, its short-protocol notice and its studies' scale."""
    import pandas as pd

    from cifar100lab.report.prose import provenance
    from cifar100lab.report.studies import study_label
    ctx = _context(dataset="synthetic", kind="synthetic", classes=10, train_size=512, epochs=[1, 4], seeds=[1, 2])
    en, zh = provenance(ctx, "en"), provenance(ctx, "zh")
    assert "1 or 4 epochs, 1 or 2 seeds per model;" in en and "1 or 4 epochs on 512 training images" in en
    assert "1 或 4 个 epoch，每个模型 1 或 2 个种子" in zh
    assert "1, 2" not in en and "1、2" not in zh
    three = pd.DataFrame({"seeds": [0, 1, 2, 3], "epochs": [[], [2], [2], [2]], "train_sizes": [[], [512], [512], [512]]})
    assert study_label(ctx, three, "en").endswith("2 epochs, 1, 2 or 3 seeds per variant")
    two = pd.DataFrame({"seeds": [2, 2], "epochs": [[1], [4]], "train_sizes": [[512], [512]]})
    assert study_label(ctx, two, "zh").endswith("1 或 4 个 epoch，每个变体 2 个种子")


def test_the_training_time_sentence_shows_times_precise_enough_to_read_its_ratio():
    """A model trained in 0.17 s made the findings say "From 0 s (r32_quick) to 8 s (resnet_20): 48.4×": a ratio
    beside times rounded to whole seconds."""
    import pandas as pd

    from cifar100lab.report.findings import render_pairs
    rows = pd.DataFrame([{"model": "r32_quick", "status": "complete", "top1": 40.0, "train_seconds": 0.17},
                         {"model": "resnet_20", "status": "complete", "top1": 98.0, "train_seconds": 8.23},
                         {"model": "resnet_56", "status": "complete", "top1": 60.0, "train_seconds": 3.6}])
    assert "From 0.17 s (r32_quick) to 8.2 s (resnet_20): 48.4× between" in render_pairs(rows, "en")
    assert "从 0.17 秒（r32_quick）到 8.2 秒（resnet_20）：同一硬件上最快与最慢的模型相差 48.4 倍" in render_pairs(rows, "zh")
    slow = rows.assign(train_seconds=[95.0, 1234.4, 300.0])  # whole seconds where they have two digits already
    assert "From 95 s (r32_quick) to 1,234 s (resnet_20): 13.0×" in render_pairs(slow, "en")


def test_the_tables_show_training_times_to_two_significant_digits_and_the_downloads_keep_them_as_numbers(
        stand_in, tmp_path):
    """Table 1, Table 2 and the "5 fastest to train" list gave times in whole seconds: a run of 0.17 s read "0",
    as fast as nothing, and two quick runs alike."""
    import pandas as pd

    from cifar100lab.report.findings import short_lists
    from cifar100lab.report.i18n import head
    from cifar100lab.report.pages import _write_tables
    from cifar100lab.report.tables import table1, table2
    out, _ = stand_in
    done = out["rows"].status == "complete"
    quick = [0.17, 8.23, 1234.4] + [0.04] * (int(done.sum()) - 3)  # whole seconds: "0", "8", "1234", "0"
    rows = out["rows"].copy()
    rows.loc[done, "train_seconds"] = quick
    shown = {"0.17", "8.2", "1234", "0.040"}
    for lang in ("en", "zh"):
        assert set(table1(rows, lang)[head("time", lang)]) == shown, lang
        assert f"| {rows[done].model.iloc[0]} | 0.17 |" in short_lists(rows, lang), lang
        alike = table2(rows.assign(train_seconds=0.17), lang)[head("time", lang)]
        assert set(alike) == {"0.17"}, lang
    _write_tables(rows, out["context"], tmp_path, tmp_path)
    # the CSV download holds the times unrounded; the LaTeX one is Table 1 as the page shows it
    csv_times = pd.read_csv(tmp_path / "table1.csv", comment="#")["train_seconds_mean"]
    assert csv_times.dtype == float and set(csv_times) == {0.17, 8.23, 1234.4, 0.04}
    assert "& 0.17 &" in (tmp_path / "table1.tex").read_text()


def _runs_named(gen: Path, run_ids: str) -> list[dict]:
    """The run records a download's ``run_ids`` cell names (``;``-separated)."""
    return [records.read_json(gen.parent.parent / "runs" / "mini" / rid / records.RECORD) for rid in run_ids.split(";")]


def test_the_tables_csv_downloads_are_the_records_numbers_unrounded_with_their_seeds_spread_and_run_ids(
        stand_in, full_protocol):
    """Table 1's, Table 2's, the comparison's and the studies' CSV downloads held the tables as displayed
    ('64.20 ± 0.28', '62.1–66.3', params '0.283' M): text to parse back, rounded, without the runs behind a row.
    Each is now the numbers behind its table: its rows in its order with its labels, one column per quantity
    at full precision, each row's seeds, spread and run ids."""
    import statistics

    import pandas as pd

    from cifar100lab.report.i18n import head
    from cifar100lab.report.tables import comparison_table, table1, table2
    for (out, gen), seeds in ((stand_in, 1), (full_protocol, 2)):
        rows, read = out["rows"], lambda name: pd.read_csv(gen / name, comment="#")  # noqa: B023
        t1 = read("table1.csv")
        assert list(t1.model) == list(table1(rows, "en")[head("model", "en")])
        assert t1.params.dtype == "int64" and t1.seeds.dtype == "int64" and t1.top1_mean_pct.dtype == float
        means = {}
        for row in t1.itertuples():
            runs = _runs_named(gen, row.run_ids)
            top1 = [r["final"]["top1"] for r in runs]
            means[row.model] = statistics.fmean(top1)
            assert {r["model"] for r in runs} == {row.model} and row.seeds == len(runs) == seeds
            assert row.top1_mean_pct == pytest.approx(statistics.fmean(top1), rel=1e-12)
            if seeds > 1:
                assert row.top1_std_pct == pytest.approx(statistics.stdev(top1), rel=1e-12) and row.top1_std_pct > 0
            else:
                assert pd.isna(row.top1_std_pct)
            assert row.params == runs[0]["params"] and row.flops_per_image == runs[0]["flops"]
            assert row.train_seconds_mean == pytest.approx(statistics.fmean(r["train_seconds"] for r in runs))
            assert row.test_images_per_seed == runs[0]["final"]["evaluated"]
        t2 = read("table2.csv")
        assert list(t2.group) == list(table2(rows, "en")[head("group", "en")])
        for row in t2.itertuples():
            models = row.model_names.split(";")
            assert row.models == len(models) and row.runs == len(_runs_named(gen, row.run_ids)) == seeds * len(models)
            assert row.top1_mean_pct == pytest.approx(statistics.fmean(means[m] for m in models), rel=1e-12)
        cmp = read("comparison.csv")
        assert list(cmp.model) == list(comparison_table(rows, "en", False)[head("model", "en")])
        ours = cmp[cmp.run_ids.notna()]
        assert len(ours) == len(t1) and all(r.top1_mean_pct == pytest.approx(means[r.model], rel=1e-12)
                                            for r in ours.itertuples())
        study = read("study-eca_kernel.csv")
        assert list(study.variant) == ["no ECA", "k=3", "k=5", "adaptive k"]
        for row in study.itertuples():
            runs = _runs_named(gen, row.run_ids)
            assert row.seeds == len(runs) == seeds and row.params == runs[0]["params"]
            assert row.top1_mean_pct == pytest.approx(statistics.fmean(r["final"]["top1"] for r in runs), rel=1e-12)
        for lang in ("en", "zh"):
            assert "{download}`study-eca_kernel.csv <../generated/study-eca_kernel.csv>`" in \
                (gen / f"study-eca_kernel_{lang}.md").read_text()


def test_the_downloads_give_each_rows_epochs_and_training_images_as_numbers(full_protocol):
    """table1.csv and models.csv held a row's training images as Table 1 shows them, "2,000": text beside
    test_images_per_seed's 1000 (and 2.0 where a comma is the decimal mark). A row whose seeds differ keeps both
    counts, "2000 / 8000"."""
    from cifar100lab.report.downloads import models_data
    out, gen = full_protocol
    for name in ("table1.csv", "models.csv"):
        data = pd.read_csv(gen / name, comment="#")
        done = data[data.seeds > 0]
        for column, value in (("train_images", 2000), ("epochs", 200)):  # numbers (models.csv: NaN where none ran)
            assert pd.api.types.is_numeric_dtype(data[column]) and set(done[column]) == {value}, data[column]
    rows = out["rows"].assign(train_size=lambda r: r.train_size.where(r.index != 0, "2,000 / 8,000"))
    assert models_data(rows).train_images.iloc[0] == "2000 / 8000"


def test_a_campaign_of_recipe_changing_study_variants_only_gets_its_pages(tmp_path, monkeypatch):
    """A valid campaign of one study whose every variant changes the recipe (a learning-rate sweep) has no model
    row: its report stopped with AttributeError: 'DataFrame' object has no attribute 'top1_std', and no page."""
    from fake_campaign import write_fake_study

    from cifar100lab.campaign import Study, Variant
    _pages_without_figures(monkeypatch)
    sweep = Study("lr", {"en": "LR", "zh": "学习率"}, {"en": "Which?", "zh": "哪个？"}, [0],
                  [Variant("lr 0.05", "resnet_20", {}, overrides={"lr": 0.05}),
                   Variant("lr 0.2", "resnet_20", {}, overrides={"lr": 0.2})], "params/ablations/lr.yaml")
    runs, gen = tmp_path / "runs", tmp_path / "book" / "generated"
    write_fake_study(runs, sweep, {"lr 0.05": [50.0], "lr 0.2": [55.0]}, name="lr")
    out = report.write_campaign_report("lr", runs, gen)
    assert out["rows"].empty
    assert pd.read_csv(gen / "table1.csv", comment="#").empty and pd.read_csv(gen / "models.csv", comment="#").empty
    en, zh = ((gen / f"results_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "2 of 2 runs complete" in en and "no model ranking here" in en and "没有模型排名" in zh
    assert "has completed yet" not in en  # it said so, beside "2 of 2 runs complete"
    assert "| resnet_sgd | resnet_<wbr>20 |" in (gen / "recipes_en.md").read_text()


def test_the_analysis_page_links_every_models_numbers_in_both_languages(stand_in, monkeypatch):
    """The whole campaign's numeric models.csv was written but no page linked it: the analysis page (and the
    Results pages it shows) offered only the rounded tables."""
    import pandas as pd

    from cifar100lab.report import display
    out, gen = stand_in
    shown = _displayed(monkeypatch)
    display.show_campaign(out)
    book = "\n".join(o.myst for o in shown if isinstance(o, display.BookMarkdown))  # the analysis page's MyST
    link = "{download}`models.csv <../generated/models.csv>`"
    assert "Every number of this campaign, one row per model" in book and "本实验配置的全部数值" in book
    assert book.count(link) == 2 and all(link in (gen / f"results_{lang}.md").read_text() for lang in ("en", "zh"))
    models = pd.read_csv(gen / "models.csv", comment="#")
    rows = out["rows"]
    assert list(models.model) == list(rows.model) and list(models.status) == list(rows.status)
    t1 = pd.read_csv(gen / "table1.csv", comment="#")
    done = models[models.status == "complete"].reset_index(drop=True)
    # Table 1's numbers, as it orders them (a column with the skipped row's gaps reads as floats)
    pd.testing.assert_frame_equal(done[t1.columns], t1, check_dtype=False)
    assert "rank" not in models  # a 2-epoch campaign's order is no ranking, as Table 1 says
    skipped = models[models.status == "skipped"].iloc[0]
    assert skipped.seeds == 0 and pd.isna(skipped.top1_mean_pct)
    assert skipped.reason == "pretrained weights unavailable offline"


def test_a_model_entry_the_campaign_has_not_run_yet_is_listed_as_missing_and_counted(tmp_path, monkeypatch):
    """A model entry whose run has no record yet (the campaign stopped before it, or it is queued on Slurm) had no
    row at all: a campaign of 6 models read "Of 5 models, 4 completed", the provenance "7 of 8 runs" for its 9, and
    the table of models that did not complete left it out."""
    import shutil
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    write_fake_campaign(runs, book, dataset="fashion-mnist")
    manifest = records.read_json(runs / "mini" / records.MANIFEST)
    records.atomic_write_json(runs / "mini" / records.MANIFEST,
                              {**manifest, "model_runs": [f"mini-{m}-s0" for m in manifest["models"]]})
    shutil.rmtree(runs / "mini" / "mini-resnet_32-s0")
    out = report.write_campaign_report("mini", runs, book / "generated")
    rows = out["rows"].set_index("model")
    assert rows.loc["resnet_32", "status"] == "missing" and rows.loc["resnet_32", "seeds"] == 0
    assert (out["context"]["complete"], out["context"]["total"]) == (7, len(manifest["runs"])) == (7, 9)
    en = (book / "generated" / "results_en.md").read_text(encoding="utf-8")
    zh = (book / "generated" / "results_zh.md").read_text(encoding="utf-8")
    assert "Of 6 models, 4 completed" in en and "7 of 9 runs complete" in en
    assert "| resnet_32 | missing | no record yet: not run, or still queued" in en
    assert "| resnet_32 | 缺失 | 尚无运行记录" in zh


def test_a_seed_that_did_not_complete_is_named_beside_the_mean_of_the_others(tmp_path):
    """One of resnet_20's three seeds diverged (failed): Table 1 and the study table showed 61.40 ± 0.57 over 2
    seeds with Note "–", a mean of the survivors nothing on the page told from a mean of every seed it ran."""
    from cifar100lab.report.studies import study_table
    from cifar100lab.report.tables import study_display, table1
    runs = tmp_path / "runs"
    write_fake_campaign(runs, dataset="fashion-mnist", seeds=(0, 1, 2))
    path = runs / "mini" / "mini-resnet_20-s1" / records.RECORD
    rec = records.read_json(path)
    del rec["final"]
    records.atomic_write_json(path, {**rec, "status": "failed", "reason": "loss became nan in epoch 2; lower the "
                                     "learning rate (0.1) or check the data"})
    manifest, recs = sources.load_campaign_records("mini", runs)
    rows = sources.model_rows(sources.model_records(manifest, recs), manifest["models"])
    study = study_table(manifest["studies"][0], {r["run_id"]: r for r in recs})
    for lang, words in (("en", "1 of 3 runs did not complete (failed 1), left out of the mean"),
                        ("zh", "3 次运行中有 1 次未完成（失败 1），未计入平均值")):
        t1 = table1(rows, lang)
        note = t1[i18n.head("note", lang)][t1[i18n.head("model", lang)] == "resnet_20"].item()
        assert words in note, (lang, note)
        shown = study_display(study, pd.DataFrame(), lang)
        assert words in shown[i18n.head("note", lang)].iloc[0], lang  # the "no ECA" variant: resnet_20's runs
        assert shown[i18n.head("note", lang)].iloc[1] == "–"
    assert rows.set_index("model").loc["resnet_20", "seeds"] == 2


def test_the_conclusions_numbers_come_with_their_provenance_and_the_not_cifar100_warning(tmp_path, monkeypatch):
    """The Conclusion page (summary_<lang>.md) opened a Fashion-MNIST build with "The most accurate is
    **eca_resnet_20** (64.00 % top-1 …)" under no warning and with no campaign, dataset or hardware, though the page
    says they are given; its only word of the data was the last sentence's "our runs used Fashion-MNIST"."""
    _pages_without_figures(monkeypatch)
    _, gen = _report(tmp_path, dataset="fashion-mnist")
    for lang, words in (("en", ("Not CIFAR-100", "**not CIFAR-100 results**", "Campaign **mini**", "hardware: 1 × Intel")),
                        ("zh", ("不是 CIFAR-100", "**不是 CIFAR-100 结果**", "实验配置 **mini**", "硬件：1 × Intel"))):
        summary = (gen / f"summary_{lang}.md").read_text(encoding="utf-8")
        first_number = summary.index("64.00")
        assert all(-1 < summary.find(w) < first_number for w in words), (lang, summary[:first_number])


def test_a_claim_whose_run_fine_tuned_imagenet_weights_is_never_subtracted_from_our_run_from_scratch(tmp_path,
                                                                                                     monkeypatch):
    """The original fine-tuned HorNet-T from timm's ImageNet weights (its §3.4.3); ours trains from scratch at 32 px.
    The full protocol's comparison page took Ours − claim for it all the same (50.00 − 64.04 = -14.04) and counted
    it in the gap's mean (+1.08 over 6 models, against +4.10 over the 5 that started alike) and rank correlation."""
    from fake_campaign import _record
    _pages_without_figures(monkeypatch)
    runs, book = tmp_path / "runs", tmp_path / "book"
    root = write_fake_campaign(runs, book, dataset="cifar100", epochs=200)
    rid = "mini-hornet_tiny-s0"
    records.atomic_write_json(root / rid / records.RECORD,
                              _record("mini", rid, "hornet_tiny", {}, 0, [30.0, 50.0], "cifar100", 200, 1000, 0.0))
    for epoch in range(1, 201):
        records.append_jsonl(root / rid / records.METRICS, {"epoch": epoch, "train_loss": 1.0, "train_acc": 50.0,
                                                            "top1": 50.0, "top5": 80.0, "test_loss": 1.0})
    manifest = records.read_json(root / records.MANIFEST)
    records.atomic_write_json(root / records.MANIFEST, {**manifest, "models": manifest["models"] + ["hornet_tiny"],
                                                        "runs": manifest["runs"] + [rid]})
    out = report.write_campaign_report("mini", runs, book / "generated")
    gen = book / "generated"
    en, zh = (gen / "comparison_en.md").read_text(), (gen / "comparison_zh.md").read_text(encoding="utf-8")
    assert "| hornet_tiny | 50.00 | 64.04 | – |" in en  # the claim beside ours, nothing subtracted
    assert "| eca_resnet_20 | 64.00 | 54.93 | 9.07 |" in en  # a claim from scratch beside a run from scratch: taken
    assert "For the 5 models measured here, our top-1 differs from the claim by +4.10 points" in en
    assert ("**hornet_tiny** is not subtracted from its claim: the original report's run fine-tuned ImageNet weights "
            "(its §3.4.3) and ours trained from scratch") in en
    assert "**hornet_tiny** 不与其声称值相减：原报告的运行微调了 ImageNet 预训练权重" in zh
    assert "hornet_tiny" not in sources.claims_matched(out["rows"]).model.tolist()
    data = pd.read_csv(gen / "comparison.csv", comment="#").set_index("model")
    assert pd.isna(data.ours_minus_claim_pp["hornet_tiny"]) and round(data.ours_minus_claim_pp["eca_resnet_20"], 2) == 9.07
    claims = pd.read_csv(sources.REFERENCE / "original_claims.csv")  # §3.4.3's fine-tunes, the rest from scratch
    assert set(claims[claims.weights == "imagenet"].model) == {"convnext_tiny_timm", "coatnet_0", "cspresnet50",
                                                               "resnest50d", "hornet_tiny", "mlp_mixer_b16"}


def test_each_published_number_on_the_comparison_page_names_its_recipe(full_protocol, stand_in):
    """The page gave 67.51 as mlp_mixer_tiny's published top-1, naming only its source: that is Mixer-nano (0.67 M
    parameters, ours 1.76 M) trained 300 epochs with AutoAugment and CutMix, and the page said nothing of it; its
    no-subtraction note called every published result CIFAR-100 at 200 epochs (RepDistiller's are 240, Mixer's 300)."""
    gen = full_protocol[1]
    en = (gen / "comparison_en.md").read_text()
    row = next(line for line in en.splitlines() if line.startswith("| mlp_mixer_tiny |"))
    assert "67.51 | omihub777/MLP-Mixer-CIFAR README (Mixer-nano from scratch, 300 ep, Adam 1e-3" in row
    assert "HobbitLong/RepDistiller README (240 ep, batch 64, SGD 0.05" in en
    data = pd.read_csv(gen / "comparison.csv", comment="#").set_index("model")
    assert data.published_recipe["mlp_mixer_tiny"].startswith("Mixer-nano from scratch, 300 ep")
    note = (stand_in[1] / "comparison_en.md").read_text()
    assert "**Nothing is subtracted here**" in note and "published results are CIFAR-100 at 200 epochs" not in note
    assert "published results CIFAR-100 under their sources' recipes" in note


def test_no_model_is_called_the_most_accurate_when_the_runner_up_is_within_its_interval(tmp_path):
    """The Conclusion, Results and Findings pages said "The most accurate is **eca_resnet_20** (64.00 % top-1" though
    resnet_32's 62.50 % lay within its 95 % interval (60.97-66.91 on 1,000 test images): a winner that test-set
    noise cannot tell apart, which the group sentence beside it refuses to name."""
    from cifar100lab.report.prose import results_prose
    for n_test, tied in ((1000, True), (100_000, False)):
        runs = tmp_path / str(n_test)
        write_fake_campaign(runs, n_test=n_test)
        manifest, recs = sources.load_campaign_records("mini", runs)
        rows = sources.model_rows(sources.model_records(manifest, recs), manifest["models"])
        en, zh = results_prose(rows, "en"), results_prose(rows, "zh")
        assert ("The most accurate is **eca_resnet_20**" in en) is not tied, en
        assert ("完成训练。准确率最高的是 **eca_resnet_20**" in zh) is not tied, zh
        if tied:
            assert ("The highest top-1 is **eca_resnet_20**'s (64.00 %, 0.28 M parameters), within noise of "
                    "**resnet_32** (62.50 %)") in en
            assert "与 **resnet_32**（62.50%）的差异在噪声之内" in zh
            assert "neither can be called the most accurate" in en and "The least accurate is **mlp_mixer_tiny**" in en


def test_a_campaign_figures_alt_text_says_its_data_is_not_cifar100(tmp_path, monkeypatch):
    """Each figure of a Fashion-MNIST campaign is headed "Fashion-MNIST (stand-in for CIFAR-100) · Not CIFAR-100",
    but its alt text, read in the image's place, said only "Bar chart of test top-1 accuracy for 5 models ...": a
    reader who cannot see the image lost the one word of the data the figure itself carries."""
    _pages_without_figures(monkeypatch)
    _, gen = _report(tmp_path, dataset="fashion-mnist")
    alts = records.read_json(gen / "alt.json")
    for lang, says in (("en", "Fashion-MNIST (stand-in for CIFAR-100) · Not CIFAR-100"),
                       ("zh", "Fashion-MNIST（CIFAR-100 的替代数据集） · 不是 CIFAR-100")):
        page = (gen / f"results_{lang}.md").read_text(encoding="utf-8")
        for key in ("fig_top1", "fig_params", "fig_curves", "fig_curves_all"):
            assert alts[f"{key}_{lang}.png"].startswith(says), (key, alts[f"{key}_{lang}.png"])
            assert f"{key}_{lang}.png\n:width: 100%\n:alt: {says}" in page, key
    _, real = _report(tmp_path / "real", dataset="cifar100")
    assert records.read_json(real / "alt.json")["fig_top1_en.png"].startswith("Bar chart")
