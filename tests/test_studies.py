"""Ablation studies whose variants change the recipe (``overrides``), compare within each model, and keep a
weight EMA beside the raw weights: campaign expansion without training, the report on hand-made records."""
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT
from fake_campaign import RECIPE, write_fake_study
from matplotlib.collections import PathCollection

from cifar100lab import records, report
from cifar100lab.campaign import load_campaign, load_study, study_runs, write_manifest
from cifar100lab.config import ConfigError
from cifar100lab.report import figures, sources, studies, tables
from cifar100lab.report.i18n import dataset_label

REGULARISATION = ROOT / "params" / "ablations" / "regularisation.yaml"
DISTILLATION = ROOT / "params" / "ablations" / "distillation.yaml"


def _campaign(tmp_path, variants, defaults=None, models=("resnet_20",), **study):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"study": "s", "seeds": 2, "variants": variants, **study}))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "name": "c", "dataset": "synthetic", "models": list(models), "studies": ["s.yaml"],
        "defaults": {"epochs": 2, "overrides": {"warmup_epochs": 0}, **(defaults or {})}}))
    return load_campaign(tmp_path / "c.yaml", runs_root=tmp_path / "runs", book_dir=tmp_path / "book")


# ---------------------------------------------------------------- campaign: variants with recipe overrides

def test_variant_overrides_get_their_own_runs_and_a_change_that_changes_nothing_shares_the_plain_run(tmp_path):
    camp = _campaign(tmp_path, [
        {"label": "plain", "model": "resnet_20"},
        {"label": "smooth", "model": "resnet_20", "overrides": {"label_smoothing": 0.1}},
        # the same recipe spelled differently: resnet_sgd's weight decay is 5e-4 already
        {"label": "smooth, wd spelled", "model": "resnet_20", "overrides": {"weight_decay": 0.0005, "label_smoothing": 0.1}},
        {"label": "no-op", "model": "resnet_20", "overrides": {"warmup_epochs": 0}},  # the campaign's own value
    ])
    runs = study_runs(camp, camp.studies[0])
    assert runs["plain"] == runs["no-op"] == ["c-resnet_20-s0", "c-resnet_20-s1"]  # = the model entry's runs
    assert runs["smooth"] == runs["smooth, wd spelled"] == ["c-resnet_20-label_smoothing-0.1-s0",
                                                            "c-resnet_20-label_smoothing-0.1-s1"]
    assert [r.run_id for r in camp.runs] == ["c-resnet_20-s0", "c-resnet_20-s1"] + runs["smooth"]
    smooth = next(r for r in camp.runs if r.run_id == runs["smooth"][0])
    assert smooth.plan.recipe.label_smoothing == 0.1 and smooth.plan.recipe.warmup_epochs == 0  # merged
    assert camp.runs[0].plan.recipe.label_smoothing == 0.0  # the plain variant never picks up the change


def test_manifest_records_each_variants_recipe_change_and_how_the_study_compares(tmp_path):
    camp = _campaign(tmp_path, [{"label": "plain", "model": "resnet_20"},
                                {"label": "smooth", "model": "resnet_20", "overrides": {"label_smoothing": 0.1}}],
                     compare_within="model")
    st = records.read_json(write_manifest(camp, tmp_path / "runs"))["studies"][0]
    assert [v["overrides"] for v in st["variants"]] == [{}, {"label_smoothing": 0.1}]
    assert st["compare_within"] == "model" and st["runs"]["smooth"] == ["c-resnet_20-label_smoothing-0.1-s0",
                                                                        "c-resnet_20-label_smoothing-0.1-s1"]


@pytest.mark.parametrize("change, message", [
    ({"variants": [{"label": "x", "model": "resnet_20", "overrides": {"label_smoothng": 0.1}}]},
     r"s.yaml: variant 'x': unknown recipe key\(s\) label_smoothng \(did you mean label_smoothing\?\); "
     r"valid keys: .*label_smoothing"),
    ({"variants": [{"label": "x", "model": "resnet_20", "overrides": {"label_smoothing": 2}}]},
     r"variant 'x': recipe label_smoothing=2 is out of range"),
    ({"variants": [{"label": "x", "model": "resnet_20", "overrides": [0.1]}]}, r"variant 1 \(x\): overrides must be a mapping"),
    ({"variants": [{"label": "x", "model": "resnet_20"}, {"label": "x", "model": "resnet_32"}]},
     "variant label.* x appear more than once"),
    ({"variants": [{"label": "x", "model": "resnet_20"}], "compare_within": "seed"},
     "compare_within must be model .*got 'seed'"),
    ({"variants": [{"label": "x", "model": "resnet_20"}], "x_axis": "params_m"},
     "x_axis must be variant or params .*got 'params_m'"),
])
def test_bad_study_input_fails_at_load_in_one_error_naming_the_study(tmp_path, change, message):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"study": "s", "seeds": 1, **change}))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"name": "c", "dataset": "synthetic", "studies": ["s.yaml"]}))
    with pytest.raises(ConfigError, match=message):
        load_campaign(tmp_path / "c.yaml", runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("x_axis, xlabels", [(None, ["variant", "变体"]), ("params", ["parameters (M)", "参数量（M）"])])
def test_a_studys_yaml_alone_sets_whether_its_figure_plots_against_parameters(tmp_path, monkeypatch, x_axis, xlabels):
    """A new ablation is one YAML: plotting against parameter counts (the Ghost ratio's point) is its x_axis key,
    not an entry in the report's code."""
    variants = [{"label": "plain", "model": "resnet_20"},
                {"label": "ratio 4", "model": "ghost_resnet_20", "options": {"ratio": 4}}]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"study": "s", "seeds": 2, "variants": variants,
                                                     **({"x_axis": x_axis} if x_axis else {})}))
    write_fake_study(tmp_path / "runs", load_study(tmp_path / "s.yaml"),
                     {"plain": [60.0, 61.0], "ratio 4": [55.0, 56.0]}, name="c")
    made = []
    monkeypatch.setattr(studies, "figure_study", lambda *a, **k: made.append(figures.figure_study(*a, **k)) or made[-1])
    report.write_study_report("c", "s", tmp_path / "runs", tmp_path / "gen")
    made = made[-2:]  # the figures saved: each language's draft came first, to lay out both alike
    assert [fig.axes[0].get_xlabel() for fig in made] == xlabels
    # seen alone (a slide), the figure names its data as the campaign's figures do, not only "Not CIFAR-100"
    assert all(dataset_label("synthetic")[lang] in fig._suptitle.get_text() for fig, lang in zip(made, ("en", "zh")))
    for fig in made:  # the labels beside the points stay inside the axes (the rightmost ran past its frame)
        fig.canvas.draw()
        frame = fig.axes[0].get_window_extent()
        for text in fig.axes[0].texts:
            assert text.get_window_extent().x1 <= frame.x1, text.get_text()
    plt.close("all")


PLAIN_AND_GHOST = [{"label": "plain", "model": "resnet_20"},
                   {"label": "ratio 4", "label_zh": "比例 4", "model": "ghost_resnet_20", "options": {"ratio": 4}}]


def _two_variant_study(tmp_path, top1: dict, x_axis: str | None = None, monkeypatch=None) -> tuple[dict, list]:
    """The report of a study of :data:`PLAIN_AND_GHOST` with ``top1[label]`` per seed, and (with ``monkeypatch``)
    the figures it saved, English first."""
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"study": "s", "seeds": 2, "variants": PLAIN_AND_GHOST,
                                                     **({"x_axis": x_axis} if x_axis else {})}))
    write_fake_study(tmp_path / "runs", load_study(tmp_path / "s.yaml"), top1, name="c")
    made = []
    if monkeypatch:
        monkeypatch.setattr(studies, "figure_study", lambda *a, **k: made.append(figures.figure_study(*a, **k)) or made[-1])
    return report.write_study_report("c", "s", tmp_path / "runs", tmp_path / "gen"), made[-2:]


def _bar_extents(ax) -> list[tuple[float, float]]:
    """(low, high) of every vertical bar the axes draws (an error bar: a line between two heights at one x), as
    matplotlib draws them (a LineCollection) or seaborn (a line with its caps, the pieces split by NaN)."""
    from matplotlib.collections import LineCollection
    pieces = [piece for line in ax.lines for piece in np.split(line.get_xydata(), np.flatnonzero(
        np.isnan(line.get_xydata()).any(axis=1)))]
    segments = [piece[~np.isnan(piece).any(axis=1)] for piece in pieces] + [
        seg for c in ax.collections if isinstance(c, LineCollection) for seg in c.get_segments()]
    return sorted((min(seg[0][1], seg[1][1]), max(seg[0][1], seg[1][1])) for seg in segments
                  if len(seg) == 2 and seg[0][0] == seg[1][0] and seg[0][1] != seg[1][1])


@pytest.mark.parametrize("x_axis", [None, "params"])
def test_a_studys_error_bars_are_its_tables_95_intervals_within_0_and_100_percent(tmp_path, x_axis):
    """Two seeds of a variant at chance (0 % and 3 %) showed 1.50 ± 2.12 and a bar, the seeds' standard deviation,
    down to -0.62 %; two at 97 % and 100 % one up to 100.6 %. The bars are now the table's 95 % interval (Wilson's,
    over the test images the seeds share), which the caption names."""
    result, _ = _two_variant_study(tmp_path, {"plain": [0.0, 3.0], "ratio 4": [97.0, 100.0]}, x_axis)
    df = result["table"]
    fig = figures.figure_study(df, "t", "en", x="params_m" if x_axis else "variant")
    bars = [end for bar in _bar_extents(fig.axes[0]) for end in bar]
    assert bars == pytest.approx(sorted([*df.top1_lo, *df.top1_hi])) and 0 < bars[0] and bars[-1] < 100
    plt.close("all")
    en, zh = (tmp_path / "gen" / "study-s_en.md").read_text(), (tmp_path / "gen" / "study-s_zh.md").read_text()
    assert "95 % interval (Wilson's, over the test images the seeds share, as in the table)" in en
    assert "95% 置信区间（Wilson 区间，基于各种子共用的测试图像，与表中相同）" in zh
    assert "Mean ± standard deviation" not in en and "平均值 ± 标准差；" not in zh
    # the table's ± is the seeds' spread, and says so
    assert "| plain | 1.50 ± 2.12 | 0.9–2.5 |" in en and "mean ± standard deviation of the seeds' top-1" in en
    assert "各种子 Top-1 的平均值 ± 标准差" in zh


def test_a_study_against_parameters_draws_the_dots_its_caption_names_and_its_alt_text_calls_it_a_line_plot(
        tmp_path, monkeypatch):
    """A study with x_axis: params drew a line through the variants' means only, while its caption said "dots are
    single runs" and its alt text called it a dot plot, in both languages."""
    top1 = {"plain": [60.0, 61.0], "ratio 4": [55.0, 56.5]}
    result, made = _two_variant_study(tmp_path, top1, "params", monkeypatch)
    df = result["table"].set_index("variant")
    runs = sorted((df.params_m[label], v) for label, values in top1.items() for v in values)
    for fig in made:
        dots = sorted(tuple(xy) for c in fig.axes[0].collections if isinstance(c, PathCollection)
                      for xy in c.get_offsets())
        assert [xy for dot in dots for xy in dot] == pytest.approx([xy for run in runs for xy in run])
    plt.close("all")
    en, zh = (tmp_path / "gen" / "study-s_en.md").read_text(), (tmp_path / "gen" / "study-s_zh.md").read_text()
    assert "The line joins the variants' means over 2 seeds in order of parameters" in en
    assert "small dots are single runs" in en and "折线按参数量顺序连接各变体 2 个种子的平均值" in zh and "小圆点为单次运行" in zh
    alt = records.read_json(tmp_path / "gen" / studies.ALT_TEXTS)
    assert alt["study-s_en.png"].startswith("Line plot of test top-1 accuracy against parameter count (M)")
    assert alt["study-s_zh.png"].startswith("折线图") and "Dot plot" not in en and "点图" not in zh
    assert f":alt: {alt['study-s_en.png']}" in en and f":alt: {alt['study-s_zh.png']}" in zh  # the page's own
    # a study by variant is still a dot plot
    _two_variant_study(tmp_path, top1)
    assert records.read_json(tmp_path / "gen" / studies.ALT_TEXTS)["study-s_en.png"].startswith("Dot plot")


# ---------------------------------------------------------------- the regularisation study (needs the new recipe fields)

def test_regularisation_study_has_unique_bilingual_labels_and_compares_within_each_model():
    st = load_study(REGULARISATION)
    assert st.compare_within == "model" and st.seeds == [0, 1, 2] and len(st.variants) == 10
    assert {v.model for v in st.variants} == {"resnet_56", "convnext_tiny"}
    assert all(st.title[lang] and st.question[lang] for lang in ("en", "zh"))
    mixup = next(v for v in st.variants if v.label == "ConvNeXt-T · Mixup+CutMix")
    assert mixup.overrides == {"mixup": 0.8, "cutmix": 1.0, "label_smoothing": 0.1}
    for name in ("quick", "full", "fast"):
        entries = yaml.safe_load((ROOT / "params" / f"{name}.yaml").read_text())["studies"]
        assert "ablations/regularisation.yaml" in [e["study"] if isinstance(e, dict) else e for e in entries]


def test_regularisation_study_runs_three_seeds_and_shares_its_plain_variants_with_the_model_runs(tmp_path):
    """Needs recipes.Recipe's mixup / cutmix / auto_augment / random_erasing / ema_decay fields."""
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"name": "c", "dataset": "synthetic", "models": ["resnet_56"],
                                                     "studies": [str(REGULARISATION)],
                                                     "defaults": {"epochs": 2, "overrides": {"warmup_epochs": 0}}}))
    camp = load_campaign(tmp_path / "c.yaml", runs_root=tmp_path / "runs")
    runs = study_runs(camp, camp.studies[0])
    assert runs["ResNet-56 · none"] == ["c-resnet_56-s0", "c-resnet_56-s1", "c-resnet_56-s2"]
    assert runs["ResNet-56 · EMA"] == ["c-resnet_56-ema_decay-0.9998-s0", "c-resnet_56-ema_decay-0.9998-s1",
                                       "c-resnet_56-ema_decay-0.9998-s2"]
    assert runs["ConvNeXt-T · RandAugment"][0] == "c-convnext_tiny-auto_augment-randaugment-random_erasing-0.25-s0"
    assert len(camp.runs) == 10 * 3 and len({i for ids in runs.values() for i in ids}) == 30
    every = next(r for r in camp.runs if r.run_id == runs["ResNet-56 · all"][0]).plan.recipe
    assert (every.mixup, every.cutmix, every.auto_augment, every.ra_ops, every.ema_decay) == (0.8, 1.0, "randaugment", 2, 0.9998)


def test_quick_campaign_dry_run_lists_the_regularisation_runs_of_resnet56_only(capsys):
    """The quick campaign narrows the study to ResNet-56 (the main command's time); fast runs all of it."""
    from cifar100lab.cli import main
    assert main(["campaign", str(ROOT / "params" / "quick.yaml"), "--dataset", "fashion-mnist", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "quick-resnet_56-cutmix-1.0-label_smoothing-0.1-mixup-0.8-s0" in out
    assert "convnext_tiny-ema_decay" not in out and out.count("quick-convnext_tiny-s0") == 1
    assert main(["campaign", str(ROOT / "params" / "fast.yaml"), "--dataset", "fashion-mnist", "--dry-run"]) == 0
    assert "fast-convnext_tiny-ema_decay-0.9998-s0" in capsys.readouterr().out


def _narrowing_campaign(tmp_path, entry):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"name": "c", "dataset": "synthetic", "studies": [entry]}))
    return load_campaign(tmp_path / "c.yaml", runs_root=tmp_path / "runs")


def test_a_campaign_may_run_a_studys_variants_of_some_models_and_its_page_says_which_it_left_out(tmp_path, reg):
    camp = _narrowing_campaign(tmp_path, {"study": str(REGULARISATION), "models": ["resnet_56"]})
    (study,) = camp.studies
    assert [v.model for v in study.variants] == ["resnet_56"] * 5 and study.left_out == ["convnext_tiny"]
    assert not any("convnext" in r.run_id for r in camp.runs)
    write_manifest(camp, tmp_path / "runs")
    assert records.read_json(tmp_path / "runs" / "c" / records.MANIFEST)["studies"][0]["left_out"] == ["convnext_tiny"]
    # its page, on records of the variants it ran
    top1 = {v.label: TOP1[v.label] for v in study.variants}
    write_fake_study(tmp_path / "fake", study, top1, {k: v for k, v in EMA.items() if k in top1})
    report.write_study_report("reg", "regularisation", tmp_path / "fake", tmp_path / "gen")
    en, zh = ((tmp_path / "gen" / f"study-regularisation_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "runs the variants of `resnet_56` only; those of `convnext_tiny` are in the study file " \
           "(`ablations/regularisation.yaml`)" in en
    assert "只运行 `resnet_56` 的变体；`convnext_tiny` 的变体" in zh
    assert "only" not in (reg[2] / "study-regularisation_en.md").read_text().split("|")[0]  # the whole study's page


@pytest.mark.parametrize("entry, message", [
    ({"study": "ablations/regularisation.yaml", "models": ["resnet_99"]},
     r"models must name some of the study's models \(resnet_56, convnext_tiny\); resnet_99 has no variant there"),
    ({"study": "ablations/regularisation.yaml", "models": []}, "none given"),
    ({"study": "ablations/regularisation.yaml", "model": ["resnet_56"]}, r"must be a study file's path or \{study"),
])
def test_a_narrowed_study_entry_that_names_no_model_of_the_study_is_one_error_before_any_work(tmp_path, entry, message):
    entry = {k: str(REGULARISATION) if k == "study" else v for k, v in entry.items()}
    with pytest.raises(ConfigError, match=message):
        _narrowing_campaign(tmp_path, entry)
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- the report on hand-made records

# Per seed: ResNet-56's Mixup beats its plain runs by far more than the seed spread; ConvNeXt's RandAugment
# does not; the EMA variants' raw weights train like the plain ones (same numbers), their EMA is 1 point higher.
TOP1 = {"ResNet-56 · none": [60.0, 60.5, 61.0], "ResNet-56 · Mixup+CutMix": [64.0, 64.5, 65.0],
        "ResNet-56 · RandAugment": [60.2, 61.4, 60.0], "ResNet-56 · EMA": [60.0, 60.5, 61.0],
        "ResNet-56 · all": [65.0, 65.5, 66.0], "ConvNeXt-T · none": [50.0, 50.5, 51.0],
        "ConvNeXt-T · Mixup+CutMix": [53.0, 53.5, 54.0], "ConvNeXt-T · RandAugment": [50.5, 49.9, 51.2],
        "ConvNeXt-T · EMA": [50.0, 50.5, 51.0], "ConvNeXt-T · all": [55.0, 55.5, 56.0]}
EMA = {"ResNet-56 · EMA": [61.0, 61.5, 62.0], "ResNet-56 · all": [66.0, 66.5, 67.0],
       "ConvNeXt-T · EMA": [51.0, 51.5, 52.0], "ConvNeXt-T · all": [56.0, 56.5, 57.0]}


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    runs, gen = tmp_path_factory.mktemp("reg") / "runs", tmp_path_factory.mktemp("gen")
    write_fake_study(runs, load_study(REGULARISATION), TOP1, EMA)
    result = report.write_study_report("reg", "regularisation", runs, gen)
    return result, runs, gen


@pytest.fixture(scope="module")
def reg_book(reg):
    """The book's pages of the campaign :func:`reg` made, as its analysis writes them: the campaign report, then the
    study's (the report's return value, and its folder)."""
    _, runs, _ = reg
    gen = runs.parent / "book" / "generated"  # the run pages go beside it, into book/runs
    campaign = report.write_campaign_report("reg", runs, gen)
    report.write_study_report("reg", "regularisation", runs, gen)
    return campaign, gen


def test_compare_within_model_measures_each_variant_against_the_first_of_its_model(reg):
    df = reg[0]["table"].set_index("variant")
    assert df.loc["ResNet-56 · Mixup+CutMix", "delta"] == pytest.approx(4.0)
    assert df.loc["ConvNeXt-T · Mixup+CutMix", "delta"] == pytest.approx(3.0)  # not against ResNet-56 (−7)
    assert df.loc["ConvNeXt-T · none", "delta"] == 0 and df.loc["ConvNeXt-T · none", "beyond_spread"] is None
    assert df.loc["ResNet-56 · Mixup+CutMix", "beyond_spread"] and not df.loc["ConvNeXt-T · RandAugment", "beyond_spread"]
    en = (reg[2] / "study-regularisation_en.md").read_text()
    assert "Δ vs its model's first (pp)" in en
    assert "ConvNeXt-T · Mixup+CutMix (+3.00 against ConvNeXt-T · none)" in en
    assert "For resnet_56, the highest mean top-1 is **ResNet-56 · all**" in en
    assert "For convnext_tiny, the highest mean top-1 is **ConvNeXt-T · all**" in en
    assert "相对同模型首行" in (reg[2] / "study-regularisation_zh.md").read_text()


def test_a_study_without_compare_within_still_measures_every_variant_against_its_first(reg):
    manifest = records.read_json(reg[1] / "reg" / records.MANIFEST)["studies"][0]
    recs = {r["run_id"]: r for r in records.load_records(reg[1] / "reg")}
    df = studies.study_table({**manifest, "compare_within": None}, recs).set_index("variant")
    assert df.loc["ConvNeXt-T · Mixup+CutMix", "delta"] == pytest.approx(53.5 - 60.5)
    assert (df.base == 0).all()


def test_ema_top1_stands_beside_the_raw_top1_in_the_table_and_the_prose_in_both_languages(reg):
    _, _, gen = reg
    en, zh = (gen / "study-regularisation_en.md").read_text(), (gen / "study-regularisation_zh.md").read_text()
    assert "| Variant | Top-1 (%) | 95 % CI | EMA top-1 (%) |" in en and "| 变体 | Top-1 (%) | 95% 置信区间 | EMA Top-1 (%) |" in zh
    # Wilson over the 1,000 test images the 3 seeds share
    assert "| ResNet-56 · EMA | 60.50 ± 0.50 | 57.4–63.5 | 61.50 ± 0.50 |" in en
    assert "| ResNet-56 · none | 60.50 ± 0.50 | 57.4–63.5 | – |" in en
    assert ("With **ResNet-56 · EMA**, the EMA of the weights reaches 61.50 % top-1 against 60.50 % for the raw "
            "weights of the same runs (+1.00 points; 3 seeds).") in en
    assert "**ConvNeXt-T · 全部** 中，权重的 EMA 达到 56.50% 的 Top-1，同一批运行的原始权重为 55.50%" in zh
    # the EMA variant's raw weights train like the plain variant: a different recipe, so not "the same network"
    assert "builds the same network" not in en


def test_a_study_whose_every_variant_failed_says_its_highest_top1_ranks_failures(reg):
    """Every quick-campaign regularisation run diverged or stayed at chance (the Note column said so), and the
    prose still named "the highest mean top-1" as if it were a finding."""
    healthy = reg[0]["table"]
    failed = healthy.assign(diverged=[{"epoch": 1, "loss": 30.0}] * len(healthy))
    assert "failed" not in studies.study_prose(healthy, "en")
    en, zh = studies.study_prose(failed, "en"), studies.study_prose(failed, "zh")
    assert "3 seeds). **Every run of this study failed**" in en  # right after the highest
    assert "These numbers rank trainings that failed, not the variants" in en and "the table's Note column" in en
    assert "**该消融实验的所有运行都失败了**" in zh and "表中备注列" in zh
    # nor is a difference between failures measured against the seed-to-seed spread
    assert "seed-to-seed spread" not in en and "种子波动" not in zh


def test_a_one_seed_study_whose_every_run_failed_says_so_and_does_not_ask_for_more_seeds(reg):
    """The quick campaign's regularisation study (one seed, every run diverged or at chance) told the reader to
    run it with several seeds, as if the spread were what was missing."""
    healthy = reg[0]["table"]
    one_seed = healthy.assign(seeds=1, values=[v[:1] for v in healthy["values"]], std=float("nan"),
                              beyond_spread=None)
    assert "several seeds" in studies.study_prose(one_seed, "en")  # healthy runs: more seeds do help
    failed = one_seed.assign(diverged=[{"epoch": 1, "loss": 7.27}] * len(healthy))
    en, zh = studies.study_prose(failed, "en"), studies.study_prose(failed, "zh")
    assert "**Every run of this study failed**" in en and "more seeds would not change that" in en
    assert "several seeds" not in en and "`fast`" not in en
    assert "**该消融实验的所有运行都失败了**" in zh and "增加种子也无济于事" in zh
    assert "多种子" not in zh and "`fast`" not in zh


def test_a_study_whose_every_run_stopped_before_completing_says_so_and_its_table_gives_each_reason(reg):
    """Runs that all failed outright left a study page saying only that none had completed, with no word of why."""
    _, runs, _ = reg
    manifest = records.read_json(runs / "reg" / records.MANIFEST)["studies"][0]
    why = "loss became nan in epoch 2; lower the learning rate (0.1) or check the data"
    recs = {r["run_id"]: {**r, "status": "failed", "reason": why} for r in records.load_records(runs / "reg")}
    df = studies.study_table(manifest, recs)
    en, zh = studies.study_prose(df, "en"), studies.study_prose(df, "zh")
    assert en.startswith("**Every run of this study failed** before completing; the table's Note column")
    assert zh.startswith("**该消融实验的所有运行都在完成前失败了**")
    for lang, sentence in (("en", "loss became nan in epoch 2; lower the learning rate (0.1)"),
                           ("zh", "损失在第 2 个 epoch 变为 nan；请降低学习率（0.1）")):
        table = tables.study_display(df, df.iloc[:0], lang)
        assert all(note.startswith(sentence) for note in table.iloc[:, -1]), (lang, table.iloc[:, -1].tolist())
    # one variant that trained is not "every run failed"
    recs[manifest["runs"]["ResNet-56 · none"][0]]["status"] = "complete"
    assert "Every run" not in studies.study_prose(studies.study_table(manifest, recs), "en")


def test_a_study_without_ema_has_no_ema_column(tmp_path):
    from fake_campaign import write_fake_campaign
    write_fake_campaign(tmp_path / "runs")
    report.write_study_report("mini", "eca_kernel", tmp_path / "runs", tmp_path / "gen")
    assert "EMA" not in (tmp_path / "gen" / "study-eca_kernel_en.md").read_text()
    assert "Δ vs first (pp)" in (tmp_path / "gen" / "study-eca_kernel_en.md").read_text()


def test_recipe_changing_variants_stay_out_of_the_model_table_and_get_run_titles_of_their_own(reg, reg_book):
    _, runs, _ = reg
    out, _ = reg_book
    rows = out["rows"].set_index("model")
    assert rows.loc["resnet_56", "top1"] == pytest.approx(60.5) and rows.loc["resnet_56", "seeds"] == 3
    assert out["context"]["seeds"] == [3]
    recs = records.load_records(runs / "reg")
    titles = [report.runpages.run_title(r) for r in recs]
    assert len(set(titles)) == len(titles) == 30
    assert "resnet_56 · label smoothing 0.1 · Mixup 0.8 · CutMix 1 · seed 0" in titles


def test_runs_that_would_share_a_page_title_are_told_apart_by_their_run_ids():
    """A named entry (here 'diverging': resnet_20 at another learning rate) has the model, seed and regularisation
    of the plain run: both page titles and index lines name their run."""
    def rec(run_id, seed=0):
        return {"run_id": run_id, "campaign": "mini", "status": "complete", "model": "resnet_20", "seed": seed,
                "recipe": RECIPE}
    recs = [rec("mini-resnet_20-s0"), rec("mini-diverging-s0"), rec("mini-resnet_20-s1", seed=1)]
    assert report.runpages.run_titles(recs) == {"mini-resnet_20-s0": "resnet_20 · seed 0 (resnet_20-s0)",
                                                "mini-diverging-s0": "resnet_20 · seed 0 (diverging-s0)",
                                                "mini-resnet_20-s1": "resnet_20 · seed 1"}


def test_a_fine_tune_model_trained_from_scratch_is_titled_as_its_results_row():
    """The runs index and page title of a scratch run of a fine-tune model say so, as the results table does;
    the fine-tune and the scratch run of coatnet_0 are not two pages called 'coatnet_0 · seed 0'."""
    def rec(run_id, pretrained):
        return {"run_id": run_id, "campaign": "mini", "status": "complete", "model": "coatnet_0", "seed": 0,
                "pretrained": pretrained, "recipe": RECIPE}
    recs = [rec("mini-coatnet_0-s0", "timm"), rec("mini-coatnet_0_scratch-s0", None)]
    assert report.runpages.run_titles(recs) == {"mini-coatnet_0-s0": "coatnet_0 · seed 0",
                                                "mini-coatnet_0_scratch-s0": "coatnet_0-scratch · seed 0"}
    assert report.runpages.run_title({**rec("r", None), "model": "resnet_20"}) == "resnet_20 · seed 0"


def test_recipes_table_lists_the_regularisation_that_is_on_and_splits_recipes_that_differ_only_there():
    def rec(model, **change):
        return {"run_id": f"{model}{change}", "status": "complete", "model": model, "recipe": {**RECIPE, **change}}
    used = sources.recipes_used([rec("resnet_56"), rec("resnet_20"), rec("resnet_56", mixup=0.8, cutmix=1.0),
                                 rec("resnet_56", ema_decay=0.9998, grad_clip=1.0, auto_augment="randaugment",
                                     ra_ops=2, ra_magnitude=9, random_erasing=0.25, freeze="backbone",
                                     layer_decay=0.75)])
    assert len(used) == 3 and list(used.models.iloc[0]) == ["resnet_56", "resnet_20"]
    en, zh = tables.recipes_table(used, "en"), tables.recipes_table(used, "zh")
    assert "| Regularisation |" in en and "| 正则化 |" in zh
    assert "| Mixup 0.8 · CutMix 1 |" in en and "| – |" in en
    assert ("RandAugment n2 m9 · erasing 0.25 · EMA 0.9998 · clip 1 · freeze backbone · layer decay 0.75" in en)
    assert "随机擦除 0.25 · EMA 0.9998 · 梯度裁剪 1 · 冻结骨干 · 逐层学习率衰减 0.75" in zh


def test_study_figure_gives_each_model_its_own_panel_with_the_model_prefix_as_its_title(reg):
    df = reg[0]["table"]
    fig = figures.figure_study(df, "t", "en")
    axes = [a for a in fig.axes if a.get_title()]
    assert [a.get_title() for a in axes] == ["ResNet-56", "ConvNeXt-T"]
    assert [t.get_text() for t in axes[1].get_xticklabels()] == ["none", "Mixup+CutMix", "RandAugment", "EMA", "all"]
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["EMA weights (mean)"]
    one = figures.figure_study(df.assign(base=0), "t", "en")  # compared with the first: one shared axis
    assert len(one.axes) == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_one_model_studys_variant_names_neither_repeat_the_model_nor_run_into_each_other(reg, lang):
    """The quick campaign runs the regularisation study on ResNet-56 only: one panel, whose five names, each
    starting "ResNet-56 · ", ran into each other."""
    df = reg[0]["table"]
    fig = figures.figure_study(df[df.model == "resnet_56"].assign(base=0), "t", lang)
    (ax,) = fig.axes
    fig.canvas.draw()
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert ax.get_title() == "ResNet-56" and len(names) == 5 and not any("ResNet-56" in n for n in names)
    boxes = [t.get_window_extent() for t in ax.get_xticklabels()]
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
    assert {t.get_rotation() for t in ax.get_xticklabels()} == {0}  # they fit level
    long = df.assign(base=0, variant=[f"a variant named at length, number {i}" for i in range(len(df))])
    long["variant_zh"] = long.variant
    fig = figures.figure_study(long, "t", lang)
    fig.canvas.draw()
    labels = fig.axes[0].get_xticklabels()
    assert {t.get_rotation() for t in labels} == {30}  # too long to stand level: slanted
    step = labels[1].get_window_extent().x1 - labels[0].get_window_extent().x1
    line = labels[0].get_fontsize() * fig.dpi / 72  # a line's height in pixels
    assert step * 0.5 > 1.5 * line  # slanted lines a step apart (sin 30° = 0.5) clear a line's height


def test_ema_is_set_beside_the_raw_weights_of_the_same_runs_only():
    done = lambda top1, **more: {"status": "complete", "final": {"top1": top1}, "params": 1, **more}
    recs = {"r0": done(60.0, ema={"decay": 0.9, "final": {"top1": 62.0}}), "r1": done(70.0)}  # r1: no EMA kept
    df = studies.study_table({"variants": [{"label": "a", "model": "resnet_20", "overrides": {"ema_decay": 0.9}}],
                              "runs": {"a": ["r0", "r1"]}}, recs)
    assert studies.ema_facts(df, "en") == [("ema_beside_raw", {"variant": "a", "ema": "62.00", "raw": "60.00",
                                                               "diff": "+2.00", "seeds": 1})]


def _shortcut_study(a: list[float], b: list[float]):
    """A study of two variants, A first, with these top-1 per seed, each measured on 1,000 test images."""
    recs = {f"{v}{i}": {"status": "complete", "final": {"top1": t, "evaluated": 1000}, "params": 1}
            for v, values in (("a", a), ("b", b)) for i, t in enumerate(values)}
    variants = [{"label": "shortcut A", "label_zh": "捷径 A", "model": "resnet_20"},
                {"label": "shortcut B", "label_zh": "捷径 B", "model": "resnet_20", "options": {"shortcut": "B"}}]
    return studies.study_table({"variants": variants, "runs": {"shortcut A": [f"a{i}" for i in range(len(a))],
                                                               "shortcut B": [f"b{i}" for i in range(len(b))]}}, recs)


def test_two_seeds_judge_no_difference_against_the_seed_spread_in_the_table_or_the_words():
    """With 2 seeds, shortcut B was "beyond seed spread: yes" against shortcut A, whose two seeds were identical
    (81.00 ± 0.00): twice a standard error estimated from two runs each, one of them 0, while their 95 % intervals
    overlapped. Below 3 seeds per variant nothing is judged, and the table and the prose say why."""
    df = _shortcut_study([81.0, 81.0], [83.0, 84.0])
    assert df.top1_hi[0] > df.top1_lo[1]  # the intervals overlap
    assert list(df.beyond_spread) == [None, None] and list(df.too_few_seeds) == [False, True]
    en, zh = tables.study_display(df, pd.DataFrame(), "en"), tables.study_display(df, pd.DataFrame(), "zh")
    assert list(en["Beyond seed spread?"]) == ["–", "too few seeds"] and list(zh["超出种子波动？"]) == ["–", "种子太少"]
    en, zh = studies.study_prose(df, "en"), studies.study_prose(df, "zh")
    assert ("With 2 seeds per variant the seed-to-seed spread is too poorly known to tell a real difference from "
            "chance" in en and "**no variant is called better than another**" in en and "3 seeds or more" in en)
    assert "每个变体只有 2 个种子" in zh and "**这里不判定任何变体优于其他变体**" in zh
    assert "beyond the seed-to-seed spread" not in en and "超出种子波动的差异" not in zh


@pytest.mark.parametrize("a, b, beyond", [
    ([60.0, 60.5, 61.0], [61.0, 62.0, 63.2], False),  # 2.2 standard errors apart, but Welch's p = 0.12
    ([60.0, 60.5, 61.0], [64.0, 64.5, 65.0], True),
    ([70.0, 70.0, 70.0], [71.0, 71.0, 71.0], True),  # every seed alike on each side: a difference the seeds share
    ([70.0, 70.0, 70.0], [70.0, 70.0, 70.0], False),
])
def test_three_seeds_judge_a_difference_by_welchs_t_test_over_the_seeds(a, b, beyond):
    """Twice the standard error called a 1.57-point difference of 3 seeds each real; a t-test on that few seeds
    needs a t of 2.8 to 4.3."""
    df = _shortcut_study(a, b)
    assert df.beyond_spread[1] is beyond and not df.too_few_seeds.any()
    en, zh = studies.study_prose(df, "en"), studies.study_prose(df, "zh")
    if beyond:
        assert ("Differences from the first variant (shortcut A) beyond the seed-to-seed spread (Welch's t-test over "
                "the seeds, p < 0.05): shortcut B (") in en and "对各种子做 Welch t 检验，p < 0.05）有：捷径 B" in zh
    else:
        assert "No variant differs from shortcut A beyond the seed-to-seed spread (Welch's t-test" in en
        assert "没有任何变体与 捷径 A 的差异超出种子波动" in zh


def test_a_campaign_or_study_that_is_not_there_is_one_error_line_and_writes_nothing(reg, tmp_path):
    """The analysis and ablation notebooks' campaign and study parameters: a FileNotFoundError and a KeyError with
    their tracebacks, after book/generated had been made."""
    from cifar100lab.config_files import ConfigError
    _, runs, _ = reg
    gen = tmp_path / "gen"
    with pytest.raises(ConfigError, match=r"no campaign 'nosuch' under .*: run it first .*campaigns there: reg") as e:
        report.write_campaign_report("nosuch", runs, gen)
    assert e.value._render_traceback_() == [f"ConfigError: {e.value}"]
    with pytest.raises(ConfigError, match="campaign 'reg' has no study 'nosuch'; its studies: regularisation"):
        report.write_study_report("reg", "nosuch", runs, gen)
    assert not gen.exists()


def test_the_ablations_page_names_the_study_pages_another_campaign_left_in_the_book(reg, tmp_path):
    """The sidebar lists every executed ablation notebook in book/generated; one from an earlier campaign was
    there with nothing on the Ablations page to say it was not this campaign's."""
    import json
    _, runs, _ = reg
    gen = tmp_path / "book" / "generated"
    gen.mkdir(parents=True)
    for study, campaign in (("width", "earlier"), ("regularisation", "reg")):
        (gen / f"ablation-{study}.ipynb").write_text(json.dumps(
            {"cells": [], "metadata": {"papermill": {"parameters": {"campaign": campaign, "study": study}}}}))
    report.write_campaign_report("reg", runs, gen)  # the Ablations page, listing the study pages it finds
    en, zh = ((gen / f"ablations_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "Study pages of other campaigns are still in the book (the sidebar lists them), each measured on its " \
           "own campaign's runs: [width](../generated/ablation-width.ipynb) (earlier)." in en
    assert "ablation-regularisation.ipynb" not in en and "[width](../generated/ablation-width.ipynb) (earlier)" in zh
    assert "no longer runs" not in en


def test_the_ablations_page_names_the_study_pages_of_a_study_the_campaign_no_longer_runs(reg, tmp_path):
    """A study taken out of the campaign's YAML left its page (and its old numbers) in the sidebar, unexplained."""
    import json
    _, runs, _ = reg
    gen = tmp_path / "book" / "generated"
    gen.mkdir(parents=True)
    (gen / "ablation-width.ipynb").write_text(json.dumps(
        {"cells": [], "metadata": {"papermill": {"parameters": {"campaign": "reg", "study": "width"}}}}))
    report.write_campaign_report("reg", runs, gen)  # the Ablations page, listing the study pages it finds
    en, zh = ((gen / f"ablations_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "Study pages campaign reg no longer runs (its YAML no longer lists them) are still in the book (the " \
           "sidebar lists them), measured on its earlier runs: [width](../generated/ablation-width.ipynb) (reg)." in en
    assert "Study pages of other campaigns" not in en and "已不再运行的消融实验页面" in zh


def test_recipes_table_names_a_fine_tune_model_trained_from_scratch_as_its_results_row():
    """The Recipes table listed the from-scratch run of coatnet_0 as coatnet_0, the fine-tune the Results page
    lists as skipped; it is the row coatnet_0-scratch there."""
    runs = [{"run_id": "a", "status": "complete", "model": "coatnet_0", "pretrained": None, "recipe": RECIPE},
            {"run_id": "b", "status": "complete", "model": "resnet_20", "pretrained": None, "recipe": RECIPE}]
    assert list(sources.recipes_used(runs).models.iloc[0]) == ["coatnet_0-scratch", "resnet_20"]


def _page_as_read(page: Path, generated: Path) -> str:
    """A book page with its includes of generated fragments put in place: the text its reader sees."""
    return re.sub(r"```\{include\} \.\./generated/(\S+)\n```",
                  lambda m: _page_as_read(generated / m[1], generated), page.read_text(encoding="utf-8"))


def test_the_ablations_page_speaks_of_a_study_only_where_the_campaign_ran_it(reg_book, tmp_path):
    """The page described the distillation study (its teachers, how the best one is chosen) in every build, also
    of the quick campaign, which does not run it; it now says how a study is run in that study's own section."""
    _, gen = reg_book
    en, zh = (_page_as_read(ROOT / "book" / lang / "ablations.md", gen) for lang in ("en", "zh"))
    assert "distill" not in en.lower() and "蒸馏" not in zh and "Hinton" not in en + zh
    assert "each variant is compared with the plain runs of its own model" in en  # the study it ran
    assert "每个变体都与同一模型的普通运行比较" in zh

    study = load_study(DISTILLATION)
    write_fake_study(tmp_path / "runs", study, {v.label: [40.0, 41.0] for v in study.variants}, name="kd")
    gen = tmp_path / "kd" / "generated"
    report.write_campaign_report("kd", tmp_path / "runs", gen)
    result = report.write_study_report("kd", "distillation", tmp_path / "runs", gen)
    en, zh = (_page_as_read(ROOT / "book" / lang / "ablations.md", gen) for lang in ("en", "zh"))
    for text in (en, result["standalone"]["en"]):  # the Ablations page, and the study's own page
        assert "Knowledge distillation (Hinton et al., 2015)" in text and "`distill_from: best:" in text
        assert "each variant is compared with the plain runs" not in text
    for text in (zh, result["standalone"]["zh"]):
        assert "知识蒸馏（Hinton 等人，2015）" in text and "`val_fraction`" in text


def test_a_studys_scale_line_ends_with_its_languages_full_stop(reg):
    """The Chinese line said what the study was measured on and ended with an English period ('1 个种子.')."""
    _, _, gen = reg
    en, zh = ((gen / f"study-regularisation_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "3 seeds per variant.*" in en
    assert "每个变体 3 个种子。*" in zh and "个种子.*" not in zh


def test_a_studys_scale_line_counts_its_own_runs_not_the_campaigns(tmp_path):
    """A campaign whose model entry trained 1 epoch on 512 images and whose study trained 4 on 2,000 said
    "1 or 4 epochs" of the study, every run of which had 4, and the images of whichever run it read first."""
    from fake_campaign import _record
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"study": "s", "seeds": 2, "variants": PLAIN_AND_GHOST}))
    root = write_fake_study(tmp_path / "runs", load_study(tmp_path / "s.yaml"),
                            {"plain": [60.0, 61.0], "ratio 4": [55.0, 56.0]}, name="c", epochs=4)
    quick = _record("c", "c-resnet_32-s0", "resnet_32", {}, 0, [40.0, 50.0], "synthetic", 1, 1000, 0.0)
    quick["dataset"]["train_size"] = 512
    records.atomic_write_json(root / quick["run_id"] / records.RECORD, quick)
    manifest = records.read_json(root / records.MANIFEST)
    records.atomic_write_json(root / records.MANIFEST, {**manifest, "models": manifest["models"] + ["resnet_32"],
                                                        "runs": [quick["run_id"]] + manifest["runs"]})
    result = report.write_study_report("c", "s", tmp_path / "runs", tmp_path / "gen")
    assert result["context"]["epochs"] == [1, 4]  # the campaign's
    en, zh = ((tmp_path / "gen" / f"study-s_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "campaign c: 2,000 training images, 4 epochs, 2 seeds per variant.*" in en
    assert "实验配置 c：2,000 张训练图像，4 个 epoch，每个变体 2 个种子。*" in zh
    assert (tmp_path / "gen" / "study-s.csv").read_text().splitlines()[0].endswith(
        "campaign c: 2,000 training images, 4 epochs, 2 seeds per variant")
    assert "epochs" not in (tmp_path / "gen" / "study-s.csv").read_text().splitlines()[1].split(",")


def _study_of(top1: dict[str, list], classes: int = 100):
    """A study of these variants (the first the reference), each with these top-1 per seed on 1,000 test images of
    ``classes`` classes; None: a seed that failed."""
    recs, runs, variants = {}, {}, []
    for j, (label, values) in enumerate(top1.items()):
        variants.append({"label": label, "label_zh": f"{label}（中）", "model": "resnet_20", "options": {"v": j} if j else {}})
        runs[label] = [f"{label}{i}" for i in range(len(values))]
        recs.update({f"{label}{i}": {"status": "failed", "reason": "CUDA error"} if t is None else
                     {"status": "complete", "final": {"top1": t, "evaluated": 1000}, "params": 1,
                      "dataset": {"num_classes": classes}} for i, t in enumerate(values)})
    return studies.study_table({"variants": variants, "runs": runs}, recs)


@pytest.mark.parametrize("reference", [[None, None, None], [0.5, 0.9, 1.0]], ids=["no complete run", "at chance"])
def test_nothing_is_judged_against_a_reference_variant_that_did_not_train(reference):
    """With its first variant's three runs failed, the prose said "No variant differs from A beyond the seed-to-seed
    spread" of B (60.50 ± 0.50) and C (64.50 ± 0.50), which nothing had compared; with them at chance (0.80 %), B
    and C were "beyond the seed-to-seed spread" by about 60 points, the failure's size."""
    df = _study_of({"A": reference, "B": [60.0, 60.5, 61.0], "C": [64.0, 64.5, 65.0]})
    assert list(df.beyond_spread) == [None, None, None]
    en, zh = studies.study_prose(df, "en"), studies.study_prose(df, "zh")
    assert "**Nothing is compared with A**: it has no complete run that trained" in en
    assert "**没有变体与 A（中） 比较**" in zh
    assert "differs from A" not in en and "beyond the seed-to-seed spread (Welch" not in en and "超出种子波动" not in zh
    assert list(tables.study_display(df, pd.DataFrame(), "en")["Beyond seed spread?"]) == ["–", "–", "–"]


def test_a_study_whose_variants_have_one_or_three_seeds_does_not_say_each_has_one():
    """B's other two seeds failed: the prose said "With a single seed per variant" (A and C had 3) and asked for a
    study of several seeds, which it was; the caption said every mean was over 3 seeds."""
    df = _study_of({"A": [60.0, 60.5, 61.0], "B": [64.0, None, None], "C": [64.0, 64.5, 65.0]})
    en, zh = studies.study_prose(df, "en"), studies.study_prose(df, "zh")
    assert "single seed" not in en and "With 1 or 3 seeds per variant" in en and "每个变体只有 1 或 3 个种子" in zh
    ctx = {"dataset": "synthetic", "campaign": "c", "train_size": 2000, "epochs": [2]}
    st = {"name": "s", "title": {"en": "S", "zh": "S"}}
    text = studies.study_text(st, df, ctx, pd.DataFrame(), "en", 1)
    assert "Each variant's mean over 1 or 3 seeds" in text
