"""The Robustness chapter rendered from robustness.json files: its empty state, its tables in both
languages, and its figures."""
from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from cifar100lab import records
from cifar100lab.report.robustness import write_empty_robustness_page, write_robustness_page
from cifar100lab.robustness.calibration import BINS

SETTINGS = {"corruptions": ["gaussian_noise", "contrast"], "severities": [1, 3], "images": 200, "seed": 0,
            "baseline": "resnet_20"}


def _bits(error: float, n: int = 200) -> str:
    """Per-image results with ``error`` % wrong (the first images right)."""
    return np.packbits(np.arange(n) < round(n * (1 - error / 100))).tobytes().hex()


def _panel(n: int = 3) -> dict:
    """A Grad-CAM panel of ``n`` 8×8 images whose maps light their top-left corner."""
    images = np.full((n, 8, 8, 3), 128, dtype=np.uint8)
    maps = np.zeros((n, 8, 8), dtype=np.uint8)
    maps[:, :4, :4] = 255
    return {"layer": "blocks", "tokens": False, "shape": [n, 8, 8], "labels": [0, 1, 2][:n],
            "predicted": [0, 2, 2][:n], "images": base64.b64encode(images.tobytes()).decode(),
            "maps": base64.b64encode(maps.tobytes()).decode()}


def _result(model: str, top1: float, errors: dict, recipe: dict | None = None) -> dict:
    bins = {"count": [0] * (BINS - 1) + [200], "confidence": [None] * (BINS - 1) + [0.97],
            "accuracy": [None] * (BINS - 1) + [top1 / 100]}
    return {"run_id": f"c-{model}-s0", "model": model, "options": {}, "seed": 0, "images": 200,
            "dataset": {"name": "fashion-mnist"}, "sources": {"generated": 4}, "calibration_severity": 3,
            "recipe": recipe or {"label_smoothing": 0, "mixup": 0, "cutmix": 0},
            "clean": {"top1": top1, "ece": 0.123, "ece_interval": [0.1, 0.15], "reliability": bins,
                      "classes": [f"c{i}" for i in range(10)], "per_class_accuracy": [0.0] + [top1] * 9,
                      "confusion": {"level": "class", "names": [f"c{i}" for i in range(10)],
                                    "counts": [[20 if i == j else 0 for j in range(10)] for i in range(10)]}},
            "corrupted": {c: {str(s): {"error": e, "correct": _bits(e)} for s, e in by.items()}
                          for c, by in errors.items()},
            "corrupted_calibration": {"ece": 0.2, "reliability": bins}, "gradcam": _panel()}


def _campaign(root):
    folder = root / "c"
    results = {"resnet_20": _result("resnet_20", 70.0, {"gaussian_noise": {1: 40.0, 3: 60.0},
                                                         "contrast": {1: 35.0, 3: 50.0}}),
               "convnext_tiny": _result("convnext_tiny", 80.0, {"gaussian_noise": {1: 20.0, 3: 30.0},
                                                                 "contrast": {1: 35.0, 3: 50.0}},
                                        {"label_smoothing": 0.1, "mixup": 0.8, "cutmix": 0})}
    for model, result in results.items():
        records.atomic_write_json(folder / f"c-{model}-s0" / "robustness.json", result)
    records.atomic_write_json(folder / records.MANIFEST, {"name": "c", "runs": [f"c-{m}-s0" for m in results],
                                                          "robustness": SETTINGS})
    return folder


def test_the_chapter_says_which_command_fills_it_before_any_robustness_result(tmp_path):
    write_robustness_page("nothing-here", tmp_path / "runs", tmp_path / "gen")
    for lang in ("en", "zh"):
        assert "python -m cifar100lab robustness runs/<campaign>" in (tmp_path / "gen" / f"robustness_{lang}.md").read_text()


@pytest.fixture
def no_figures(monkeypatch):
    """The pages without drawing their figures (a figure costs a second or more; one test draws them)."""
    from cifar100lab.report import robustness
    monkeypatch.setattr(robustness, "_figures", lambda results, out: {})


def test_the_empty_state_never_replaces_a_written_chapter(tmp_path, no_figures):
    _campaign(tmp_path / "runs")
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    write_empty_robustness_page(tmp_path / "gen")  # what every book build does
    assert "mCE" in (tmp_path / "gen" / "robustness_en.md").read_text()


def test_the_chapter_renders_every_number_from_the_results_in_both_languages(tmp_path, no_figures):
    _campaign(tmp_path / "runs")
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    en, zh = ((tmp_path / "gen" / f"robustness_{lang}.md").read_text() for lang in ("en", "zh"))
    baseline_row = next(line for line in en.splitlines() if line.startswith("| resnet_20 |"))
    assert "| 100.0 | 100.0 |" in baseline_row  # mCE and relative mCE of the baseline
    convnext_row = next(line for line in en.splitlines() if line.startswith("| convnext_tiny |"))
    # (20 + 30) / (40 + 60) and (35 + 50) / (35 + 50), averaged; then its bootstrap interval over the images
    assert re.search(r"\| 75\.0 \[(\d+\.\d), (\d+\.\d)\] \|", convnext_row)
    lo, hi = map(float, re.search(r"\| 75\.0 \[(\d+\.\d), (\d+\.\d)\] \|", convnext_row).groups())
    assert lo < 75.0 < hi
    assert "label smoothing 0.1, Mixup 0.8" in convnext_row and "标签平滑 0.1、Mixup 0.8" in zh
    assert "generated with imagecorruptions" in en and "由 imagecorruptions 生成" in zh
    # imagecorruptions applies ImageNet-C's strengths, not CIFAR-100-C's milder ones: the source says so
    assert "at the strengths of ImageNet-C, which are stronger than CIFAR-100-C's" in en
    assert "强度为 ImageNet-C 的，比 CIFAR-100-C 的更强" in zh
    numbers = lambda s: sorted(re.findall(r"\b\d+\.\d\b", s))
    assert numbers(en) == numbers(zh)
    assert "c0" in en  # no model gets class c0 right


def test_the_chapter_counts_models_not_their_seeds_runs(tmp_path, no_figures):
    """Two models, one of them with two seeds: the intro said "3 models" (zh "3 个模型"), counting the seeds of
    resnet_20 as models of their own."""
    folder = _campaign(tmp_path / "runs")
    second = {**records.read_json(folder / "c-resnet_20-s0" / "robustness.json"), "run_id": "c-resnet_20-s1", "seed": 1}
    records.atomic_write_json(folder / "c-resnet_20-s1" / "robustness.json", second)
    manifest = records.read_json(folder / records.MANIFEST)
    records.atomic_write_json(folder / records.MANIFEST, {**manifest, "runs": [*manifest["runs"], "c-resnet_20-s1"]})
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    en, zh = ((tmp_path / "gen" / f"robustness_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "| resnet_20 (s1) |" in en  # the seed is its own row
    assert "Campaign **c**, 2 models on" in en and "上的 2 个模型" in zh


@pytest.mark.slow
def test_the_chapter_draws_its_figures_in_both_languages_and_cites_them(tmp_path):
    _campaign(tmp_path / "runs")
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    for lang in ("en", "zh"):
        page = (tmp_path / "gen" / f"robustness_{lang}.md").read_text()
        for key in ("fig_severity", "fig_reliability", "fig_confusion", "fig_gradcam"):
            name = f"robustness_{key}_{lang}.png"
            assert (tmp_path / "gen" / name).stat().st_size > 1000 and f"../generated/{name}" in page


def test_the_chapter_shows_the_grad_cam_grid_under_its_heading_in_both_languages(tmp_path, monkeypatch):
    from cifar100lab.report import robustness
    monkeypatch.setattr(robustness, "figure_severity", lambda results, lang: None)
    _campaign(tmp_path / "runs")
    drawn = {}
    monkeypatch.setattr(robustness, "_figures", lambda results, out: {"fig_gradcam": {
        lang: drawn.setdefault(lang, f"robustness_fig_gradcam_{lang}.png") for lang in ("en", "zh")}})
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    en, zh = ((tmp_path / "gen" / f"robustness_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "## Grad-CAM: where each model looked" in en and "## Grad-CAM：各模型关注的位置" in zh
    assert "Figure 1. Grad-CAM heat maps" in en and "图 1. Grad-CAM 热力图" in zh
    assert "MLP-Mixer has no convolutional feature map" in en and "of 3 images of the analysed" in en
    assert "red and marked ×: wrong" in en and "红色并标 ×：错误" in zh


def test_the_confusion_figure_shows_two_different_models_and_says_when_they_are_tied():
    from cifar100lab.report.robustness import best_and_worst, confusion_caption
    errors = {"contrast": {1: 35.0, 3: 50.0}}
    tied = [_result("resnet_20", 70.0, errors), _result("convnext_tiny", 70.0, errors)]
    assert {r["model"] for r in best_and_worst(tied)} == {"resnet_20", "convnext_tiny"}
    en = confusion_caption(tied, "en")
    assert "convnext_tiny and resnet_20" in en and "same clean top-1 (70.0 %)" in en
    assert "相同（70.0 %）" in confusion_caption(tied, "zh")
    ranked = [_result("resnet_20", 60.0, errors), _result("convnext_tiny", 80.0, errors)]
    assert [r["model"] for r in best_and_worst(ranked)] == ["convnext_tiny", "resnet_20"]
    assert "highest clean top-1 (convnext_tiny) and the lowest (resnet_20)" in confusion_caption(ranked, "en")
    assert [r["model"] for r in best_and_worst(ranked[:1])] == ["resnet_20"]
    assert "one model, resnet_20" in confusion_caption(ranked[:1], "en")


def test_a_fine_tune_model_trained_from_scratch_is_named_as_its_results_row(tmp_path, no_figures):
    """cspresnet50 trained from scratch (its weights unavailable) is the Results page's row cspresnet50-scratch;
    the chapter named it cspresnet50, the fine-tune that never ran."""
    folder = _campaign(tmp_path / "runs")
    rid = "c-cspresnet50_scratch-s0"
    result = _result("cspresnet50", 60.0, {"gaussian_noise": {1: 45.0, 3: 65.0}, "contrast": {1: 40.0, 3: 55.0}})
    records.atomic_write_json(folder / rid / "robustness.json", {**result, "run_id": rid})
    records.atomic_write_json(folder / rid / records.RECORD, {"run_id": rid, "model": "cspresnet50", "pretrained": None,
                                                              "status": "complete", "options": {}})
    manifest = records.read_json(folder / records.MANIFEST)
    records.atomic_write_json(folder / records.MANIFEST, {**manifest, "runs": manifest["runs"] + [rid]})
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    for lang in ("en", "zh"):
        rows = [line.split(" | ")[0] for line in (tmp_path / "gen" / f"robustness_{lang}.md").read_text().splitlines()
                if line.startswith("| cspresnet50")]
        assert rows == ["| cspresnet50-scratch"] * 2  # the summary table and the errors table


def test_a_model_entry_with_options_is_named_once_as_its_results_row(tmp_path, no_figures):
    """A model entry with options and no name ({model: resnet_20, options: {shortcut: B}}) is the Results row
    resnet_20-shortcut-B, and the chapter wrote "resnet_20-shortcut-B shortcut=B" in its tables and its confusion
    figure's caption. A named entry's options, which its name does not say, and a result whose record is gone keep
    theirs."""
    folder = _campaign(tmp_path / "runs")
    entries = {"c-resnet_20-shortcut-B-s0": ("resnet_20", {"shortcut": "B"}, 50.0),
               "c-r20_b-s0": ("resnet_20", {"shortcut": "B"}, 55.0),
               "c-resnet_32-widths-8_16_32-s0": ("resnet_32", {"widths": [8, 16, 32]}, 60.0)}
    for rid, (model, options, top1) in entries.items():
        result = _result(model, top1, {"gaussian_noise": {1: 45.0, 3: 65.0}, "contrast": {1: 40.0, 3: 55.0}})
        records.atomic_write_json(folder / rid / "robustness.json", {**result, "run_id": rid, "options": options})
        records.atomic_write_json(folder / rid / records.RECORD, {"run_id": rid, "model": model, "pretrained": None,
                                                                  "status": "complete", "options": options})
    manifest = records.read_json(folder / records.MANIFEST)
    runs = manifest["runs"] + list(entries)
    records.atomic_write_json(folder / records.MANIFEST, {**manifest, "runs": runs, "model_runs": runs})
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    for lang in ("en", "zh"):
        text = (tmp_path / "gen" / f"robustness_{lang}.md").read_text()
        rows = [line.split(" | ")[0] for line in text.splitlines() if line.startswith(("| resnet_", "| r20"))]
        assert rows == ["| resnet_20", "| resnet_20-shortcut-B", "| r20_b shortcut=B",
                        "| resnet_32-widths-8_16_32"] * 2  # the summary table and the errors table
    (folder / "c-resnet_20-shortcut-B-s0" / records.RECORD).unlink()  # no record: the model, then its options
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    assert "| resnet_20 shortcut=B |" in (tmp_path / "gen" / "robustness_en.md").read_text()


@pytest.mark.parametrize("baseline, model_runs", [("resnet_20", True), ("resnet_20", False), ("r20_long", True)])
def test_the_baseline_is_the_model_entry_it_names_never_another_entry_of_its_model(tmp_path, no_figures, baseline,
                                                                                   model_runs):
    """Two entries of ResNet-20, {model: resnet_20, name: r20_long} listed first and the plain one: the baseline
    resnet_20 is the plain entry (a manifest without model_runs made both rows resnet_20, and the first won), and
    r20_long names the other (it could not be named: 'not a registered model', so the chapter was never written)."""
    folder = _campaign(tmp_path / "runs")
    long = _result("resnet_20", 75.0, {"gaussian_noise": {1: 20.0, 3: 30.0}, "contrast": {1: 35.0, 3: 50.0}})
    records.atomic_write_json(folder / "c-r20_long-s0" / "robustness.json", {**long, "run_id": "c-r20_long-s0"})
    runs = ["c-r20_long-s0", "c-resnet_20-s0", "c-convnext_tiny-s0"]
    for rid in runs:
        model = records.read_json(folder / rid / "robustness.json")["model"]
        records.atomic_write_json(folder / rid / records.RECORD, {"run_id": rid, "model": model, "pretrained": None,
                                                                  "status": "complete", "options": {}})
    records.atomic_write_json(folder / records.MANIFEST, {"name": "c", "runs": runs, "robustness": {
        **SETTINGS, "baseline": baseline}, **({"model_runs": runs} if model_runs else {})})
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    en = (tmp_path / "gen" / "robustness_en.md").read_text()
    assert f"normalised by **{baseline}**" in en and "has no robustness result" not in en
    summary = en.split("**Corruption error")[0].splitlines()
    mce_by_top1 = {cells[1].split(" ")[0]: cells[2].split(" ")[0]
                   for line in summary if line.startswith("| ") and (cells := line.split(" | "))[1][:1].isdigit()}
    # the plain entry's clean top-1 is 70.0, r20_long's 75.0; r20_long's summed errors are 50 and 85 where the plain
    # one's are 100 and 85: mCE 75 against the plain one, the plain one 150 against r20_long
    if baseline == "resnet_20":
        assert mce_by_top1["70.0"] == "100.0" and mce_by_top1["75.0"] == "75.0"
    else:
        assert mce_by_top1["75.0"] == "100.0" and mce_by_top1["70.0"] == "150.0"


def test_a_result_measured_with_other_settings_is_left_out_and_named_not_shown_as_this_campaigns(tmp_path, no_figures):
    """A run whose robustness step failed after the campaign's robustness block changed kept its old
    robustness.json: the page showed it under the new corruptions, severities and image count, and normalised its
    mCE by a baseline measured on other images."""
    from cifar100lab.robustness.settings import RobustnessSettings
    folder = _campaign(tmp_path / "runs")
    now = RobustnessSettings.from_dict(SETTINGS, "test").as_dict()
    for model, settings in (("resnet_20", now), ("convnext_tiny", {**now, "images": 16})):
        path = folder / f"c-{model}-s0" / "robustness.json"
        records.atomic_write_json(path, {**records.read_json(path), "key": {"settings": settings}})
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    en, zh = ((tmp_path / "gen" / f"robustness_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "| resnet_20 |" in en and "| convnext_tiny |" not in en
    assert "Left out: c-convnext_tiny-s0" in en and "未列入：c-convnext_tiny-s0" in zh
    assert "Campaign **c**, 1 model on" in en


def test_no_mce_for_a_model_that_met_other_corrupted_images_than_the_baseline(tmp_path, no_figures):
    """A model entry with a test subset of its own met other images than its baseline: its mCE divided errors on
    other images (one network against itself scored 102.4); now it has none, and the page says why."""
    folder = _campaign(tmp_path / "runs")
    for model, checksum in (("resnet_20", "a"), ("convnext_tiny", "b")):
        path = folder / f"c-{model}-s0" / "robustness.json"
        result = records.read_json(path)
        for by_severity in result["corrupted"].values():
            for measured in by_severity.values():
                measured["checksum"] = checksum * 64
        records.atomic_write_json(path, result)
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    en, zh = ((tmp_path / "gen" / f"robustness_{lang}.md").read_text() for lang in ("en", "zh"))
    convnext_row = next(line for line in en.splitlines() if line.startswith("| convnext_tiny |"))
    assert convnext_row.split(" | ")[2:4] == ["–", "–"]  # mCE and relative mCE
    assert "No mCE for convnext_tiny (–): their corrupted images are not those resnet_20 was measured on" in en
    assert "convnext_tiny 不给出 mCE（–）" in zh


def test_a_stale_runs_result_is_left_out_and_named_as_the_results_pages_do(tmp_path, no_figures):
    """A run complete under settings the campaign no longer asks for is left out of the Results pages, yet its
    robustness result stayed on this page as the campaign's (and a stale baseline normalised everyone's mCE)."""
    folder = _campaign(tmp_path / "runs")
    times = {"started": "2026-12-07T10:00:00+00:00", "finished": "2026-12-07T10:05:00+00:00"}
    records.atomic_write_json(folder / "c-convnext_tiny-s0" / records.RECORD,
                              {"run_id": "c-convnext_tiny-s0", "model": "convnext_tiny", "status": "complete", **times})
    manifest = records.read_json(folder / records.MANIFEST)
    records.atomic_write_json(folder / records.MANIFEST, {**manifest, "stale": {
        "c-convnext_tiny-s0": {"fields": ["epochs: 1 → 2"], **times}}})
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    en, zh = ((tmp_path / "gen" / f"robustness_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "| resnet_20 |" in en and "| convnext_tiny |" not in en and "Campaign **c**, 1 model on" in en
    assert "1 complete run(s) of campaign **c** are not in these results" in en and "`epochs: 1 → 2`" in en
    assert "c-convnext_tiny-s0" in zh and "未列入这些结果" in zh


def test_a_result_measured_before_the_baseline_changed_is_still_this_campaigns(tmp_path, no_figures):
    """Another baseline measures nothing again, so the results stored with the old one are the campaign's: the page
    left every one out as measured with other settings."""
    from cifar100lab.robustness.settings import RobustnessSettings
    folder = _campaign(tmp_path / "runs")
    measured = {**RobustnessSettings.from_dict(SETTINGS, "test").as_dict(), "baseline": "convnext_tiny"}
    for model in ("resnet_20", "convnext_tiny"):
        path = folder / f"c-{model}-s0" / "robustness.json"
        records.atomic_write_json(path, {**records.read_json(path), "key": {"settings": measured}})
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")  # the manifest's baseline: resnet_20
    en = (tmp_path / "gen" / "robustness_en.md").read_text()
    assert "Left out" not in en and "Campaign **c**, 2 models on" in en
    assert " | 100.0 | 100.0 | " in next(line for line in en.splitlines() if line.startswith("| resnet_20 |"))


@pytest.mark.parametrize("campaign", ["fast", "full"])
def test_the_docs_say_the_baseline_is_a_campaign_model_entry_as_the_code_takes_it(campaign, tmp_path):
    """The chapter and the README called the baseline a model: it names one of the campaign's model entries (by
    its name:, else its model and options), resnet_20 by default. The campaign file's commented example, set, is
    one of its entries."""
    from conftest import ROOT

    from cifar100lab.campaign import load_campaign
    from cifar100lab.robustness.settings import BASELINE
    for doc in (ROOT / "book" / "en" / "robustness.md", ROOT / "book" / "zh" / "robustness.md", ROOT / "README.md"):
        text = " ".join(doc.read_text(encoding="utf-8").split())
        assert f"`{BASELINE}`" in text and "robustness: {baseline:" in text and "r20_long" in text, doc
        assert "`name:`" in text and "robustness` " in text, doc  # how an entry is named; the command refuses too
    source = (ROOT / "params" / f"{campaign}.yaml").read_text(encoding="utf-8")
    example = re.search(r"^  # (baseline: \w+)", source, re.M)
    assert example and example[1] == f"baseline: {BASELINE}"
    (tmp_path / f"{campaign}.yaml").write_text(source.replace(example[0], f"  {example[1]}"), encoding="utf-8")
    for folder in ("ablations",):
        (tmp_path / folder).symlink_to(ROOT / "params" / folder)
    assert load_campaign(tmp_path / f"{campaign}.yaml", "synthetic").robustness.baseline == BASELINE


def test_the_errors_download_holds_every_severitys_error_unrounded_with_the_rows_run(tmp_path, no_figures):
    """robustness_errors.csv held each error rounded to one decimal, as the page shows numbers ('38.1'), without
    the run it was measured on; it is now the numbers behind the errors table: its rows, each with its run id, the
    mean over severities the table shows and each severity's error, unrounded."""
    import pandas as pd
    folder = _campaign(tmp_path / "runs")
    path = folder / "c-convnext_tiny-s0" / "robustness.json"
    result = records.read_json(path)
    result["corrupted"]["contrast"]["3"]["error"] = 41.23456789
    records.atomic_write_json(path, result)
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    data = pd.read_csv(tmp_path / "gen" / "robustness_errors.csv", comment="#")
    assert list(data.model) == ["resnet_20", "convnext_tiny"]
    assert list(data.run_id) == ["c-resnet_20-s0", "c-convnext_tiny-s0"]
    row = data.set_index("model").loc["convnext_tiny"]
    assert row.contrast_severity_3_error_pct == 41.23456789 and row.gaussian_noise_severity_1_error_pct == 20.0
    assert row.contrast_error_pct == pytest.approx((35.0 + 41.23456789) / 2, rel=1e-12)
    en = (tmp_path / "gen" / "robustness_en.md").read_text()
    assert "| convnext_tiny | 25.0 | 38.1 |" in en  # the table as shown, rounded
    link = "{download}`robustness_errors.csv <../generated/robustness_errors.csv>`"
    assert all(link in (tmp_path / "gen" / f"robustness_{lang}.md").read_text() for lang in ("en", "zh"))


def test_each_robustness_figure_names_a_dataset_that_is_not_cifar100(tmp_path, monkeypatch):
    """The campaign's figures are headed "Fashion-MNIST (stand-in for CIFAR-100) · Not CIFAR-100" (a figure is also
    seen alone), but the Robustness chapter's four figures of the same Fashion-MNIST runs had no heading at all: a
    copied severity plot read as CIFAR-100's corruption robustness."""
    import matplotlib.pyplot as plt

    from cifar100lab.report import figures, robustness
    headings = {}

    def kept(fig, path, box=None):
        headings[path.name] = fig._suptitle.get_text() if fig._suptitle else None
        plt.close(fig)
        return path.name
    monkeypatch.setattr(figures, "save", kept)
    errors = {"gaussian_noise": {1: 40.0, 3: 60.0}}
    results = [_result("resnet_20", 70.0, errors), _result("convnext_tiny", 80.0, errors)]
    figs = robustness._figures(results, tmp_path)
    assert set(figs) == {"fig_severity", "fig_reliability", "fig_confusion", "fig_gradcam"}
    for lang, says in (("en", "Fashion-MNIST (stand-in for CIFAR-100) · Not CIFAR-100"),
                       ("zh", "Fashion-MNIST（CIFAR-100 的替代数据集） · 不是 CIFAR-100")):
        assert all(headings[files[lang]] == says for files in figs.values()), headings
    headings.clear()
    robustness._figures([{**r, "dataset": {"name": "cifar100"}} for r in results], tmp_path)
    assert set(headings.values()) == {None}
