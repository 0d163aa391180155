"""The Robustness chapter rendered from robustness.json files: its empty state, its tables in both
languages, and its figures."""
from __future__ import annotations

import re

import pytest

from cifar100lab import records
from cifar100lab.report.robustness import write_empty_robustness_page, write_robustness_page
from cifar100lab.robustness.calibration import BINS

SETTINGS = {"corruptions": ["gaussian_noise", "contrast"], "severities": [1, 3], "images": 200, "seed": 0,
            "baseline": "resnet_20"}


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
            "corrupted": {c: {str(s): {"error": e} for s, e in by.items()} for c, by in errors.items()},
            "corrupted_calibration": {"ece": 0.2, "reliability": bins}}


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
    assert "| 75.0 |" in convnext_row  # (20 + 30) / (40 + 60) and (35 + 50) / (35 + 50), averaged
    assert "label smoothing 0.1, Mixup 0.8" in convnext_row and "标签平滑 0.1、Mixup 0.8" in zh
    assert "generated with imagecorruptions" in en and "由 imagecorruptions 生成" in zh
    numbers = lambda s: sorted(re.findall(r"\b\d+\.\d\b", s))
    assert numbers(en) == numbers(zh)
    assert "c0" in en  # no model gets class c0 right


@pytest.mark.slow
def test_the_chapter_draws_its_figures_in_both_languages_and_cites_them(tmp_path):
    _campaign(tmp_path / "runs")
    write_robustness_page("c", tmp_path / "runs", tmp_path / "gen")
    for lang in ("en", "zh"):
        page = (tmp_path / "gen" / f"robustness_{lang}.md").read_text()
        for key in ("fig_severity", "fig_reliability", "fig_confusion"):
            name = f"robustness_{key}_{lang}.png"
            assert (tmp_path / "gen" / name).stat().st_size > 1000 and f"../generated/{name}" in page
