"""Robustness, calibration and per-class errors: the measures, checked against hand computations, and the
post-training step that writes robustness.json."""
from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import ROOT, run_cli, scratch_book, tiny_config

from cifar100lab.config import ConfigError
from cifar100lab.robustness.calibration import binned_ece, ece_interval, expected_calibration_error, reliability
from cifar100lab.robustness.corruptions import corrupt, generated_set
from cifar100lab.robustness.metrics import mce, relative_mce
from cifar100lab.robustness.per_class import always_wrong, most_disagreed, per_class_accuracy, superclasses
from cifar100lab.robustness.settings import CORRUPTIONS, RobustnessSettings

QUICK_CORRUPTIONS = ("gaussian_noise", "defocus_blur", "brightness", "contrast", "jpeg_compression")
# Hendrycks & Dietterich's parameter tables for these do not grow in pixel distance at every step (glass blur's
# severity 2 moves fewer pixels than 1; snow, frost and fog step back at 4 or 5): only their ends are ordered.
ENDS_ORDERED = ("glass_blur", "snow", "frost", "fog")
# the corruptions that draw random numbers (the rest are functions of the image alone)
RANDOM_CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "snow", "frost",
                      "fog", "elastic_transform")


def _probs_with_confidence(confidence: torch.Tensor, predicted: torch.Tensor, classes: int) -> torch.Tensor:
    """Softmax-like rows whose top class is ``predicted`` with probability ``confidence``, the rest shared."""
    probs = ((1 - confidence) / (classes - 1))[:, None].expand(-1, classes).clone()
    probs[torch.arange(len(predicted)), predicted] = confidence
    return probs


# ------------------------------------------------------------------ calibration

def test_ece_of_a_perfectly_calibrated_predictor_is_about_zero():
    g = torch.Generator().manual_seed(0)
    n, classes = 40_000, 10
    confidence = 0.1 + 0.9 * torch.rand(n, generator=g)
    labels = torch.randint(classes, (n,), generator=g)
    right = torch.rand(n, generator=g) < confidence  # right exactly as often as it is confident
    predicted = torch.where(right, labels, (labels + torch.randint(1, classes, (n,), generator=g)) % classes)
    assert expected_calibration_error(_probs_with_confidence(confidence, predicted, classes), labels) < 0.01


def test_ece_of_a_constant_overconfident_predictor_is_its_confidence_minus_its_accuracy():
    n, classes = 1000, 10
    labels = torch.arange(n) % classes
    predicted = torch.where(torch.arange(n) < 600, labels, (labels + 1) % classes)  # 60 % right
    probs = _probs_with_confidence(torch.full((n,), 0.9), predicted, classes)
    # one bin holds every image: |0.6 accuracy − 0.9 confidence| × 1 = 0.3
    assert expected_calibration_error(probs, labels) == pytest.approx(0.3, abs=1e-5)
    bins = reliability(probs, labels)
    full = [i for i, c in enumerate(bins["count"]) if c]
    assert full == [13] and bins["accuracy"][13] == pytest.approx(0.6) and bins["confidence"][13] == pytest.approx(0.9, abs=1e-5)
    lo, hi = ece_interval(probs, labels)
    assert lo <= 0.3 <= hi


def test_the_bootstrap_ece_bins_as_torchmetrics_does_even_at_confidence_one():
    # imported here: torchmetrics imports scipy (1.7 s), which every worker would pay collecting this module
    from torchmetrics.functional.classification import multiclass_calibration_error
    g = torch.Generator().manual_seed(1)
    probs = torch.softmax(4 * torch.randn(500, 7, generator=g), dim=1)
    probs[:40] = torch.nn.functional.one_hot(torch.arange(40) % 7, 7).float()  # saturated: confidence exactly 1
    labels = torch.randint(7, (500,), generator=g)
    expected = multiclass_calibration_error(probs, labels, num_classes=7, n_bins=15, norm="l1")
    confidence, predicted = probs.max(dim=1)
    assert float(binned_ece(confidence, predicted == labels)[0]) == pytest.approx(float(expected), abs=1e-6)
    assert expected_calibration_error(probs, labels) == pytest.approx(float(expected), abs=1e-6)


# ------------------------------------------------------------------ mCE

def _result(clean_top1: float, errors: dict) -> dict:
    return {"clean": {"top1": clean_top1},
            "corrupted": {c: {str(s): {"error": e} for s, e in by.items()} for c, by in errors.items()}}


def test_mce_and_relative_mce_of_the_baseline_are_100_by_construction():
    baseline = _result(70.0, {"fog": {1: 40.0, 3: 55.0}, "contrast": {1: 35.0, 3: 80.0}})
    assert mce(baseline, baseline) == pytest.approx(100.0)
    assert relative_mce(baseline, baseline) == pytest.approx(100.0)


def test_mce_is_the_mean_of_per_corruption_error_ratios_to_the_baseline():
    baseline = _result(70.0, {"fog": {1: 40.0, 3: 60.0}, "contrast": {1: 40.0, 3: 80.0}})
    model = _result(80.0, {"fog": {1: 20.0, 3: 30.0}, "contrast": {1: 40.0, 3: 80.0}})
    assert mce(model, baseline) == pytest.approx(100 * (0.5 + 1.0) / 2)
    # rises over the clean error (20 for the model, 30 for the baseline): fog 10/40, contrast 80/60
    assert relative_mce(model, baseline) == pytest.approx(100 * (10 / 40 + 80 / 60) / 2)


def test_mce_is_not_a_number_when_the_two_measured_different_sets():
    baseline = _result(70.0, {"fog": {1: 40.0}})
    assert math.isnan(mce(_result(70.0, {"fog": {3: 40.0}}), baseline))


def test_mce_is_not_a_number_when_the_model_met_other_images_than_the_baseline():
    """Only the sets' names were compared: a model entry with a test subset of its own (or a set generated anew)
    was divided by the baseline's errors on other images (one network against itself scored 102.4)."""
    def measured(checksum):
        result = _result(70.0, {"fog": {1: 40.0}})
        result["corrupted"]["fog"]["1"]["checksum"] = checksum
        return result
    baseline = measured("a" * 64)
    assert mce(measured("a" * 64), baseline) == pytest.approx(100.0)
    assert math.isnan(mce(measured("b" * 64), baseline)) and math.isnan(relative_mce(measured("b" * 64), baseline))
    assert mce(_result(70.0, {"fog": {1: 40.0}}), baseline) == pytest.approx(100.0)  # kept before checksums were


# ------------------------------------------------------------------ corruptions

def _images(n: int = 6) -> torch.Tensor:
    """Smooth synthetic photographs-to-be: a colour gradient with a square, so blur and JPEG change them."""
    y, x = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    base = torch.stack([x * 7, y * 7, (x + y) * 3]).float()
    imgs = base.expand(n, -1, -1, -1).clone()
    for i in range(n):
        imgs[i, :, 8 + i:20 + i, 6:18] = 230 - 20 * i
    return imgs.clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def photos(fashion_root) -> torch.Tensor:
    """Real images: the stand-in's first test images, as the robustness step sees them."""
    from cifar100lab.data import load_dataset
    return load_dataset("fashion-mnist", fashion_root, False, 64, 64).test_x[:8]


def _distances(corruption: str, x: torch.Tensor) -> list[float]:
    return [float((corrupt(x, corruption, s, seed=0).float() - x.float()).pow(2).mean().sqrt()) for s in range(1, 6)]


@pytest.mark.parametrize("corruption", QUICK_CORRUPTIONS)
def test_severities_are_monotone_in_pixel_distance_from_the_clean_image(corruption, photos):
    d = _distances(corruption, photos)
    assert all(a < b for a, b in zip(d, d[1:])), d


@pytest.mark.slow
@pytest.mark.parametrize("corruption", [c for c in CORRUPTIONS if c not in QUICK_CORRUPTIONS])
def test_every_protocol_corruption_grows_with_severity(corruption, photos):
    d = _distances(corruption, photos)
    ordered = zip(d[:1], d[-1:]) if corruption in ENDS_ORDERED else zip(d, d[1:])
    assert all(a < b for a, b in ordered), d


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_corrupted_set_is_identical_when_regenerated_from_its_seed(tmp_path, corruption):
    """Impulse noise drew from scikit-image's own unseeded generator: each regeneration differed (2,060 of 12,288
    values), so a model and its baseline analysed from different caches met different images."""
    x = _images()
    first = generated_set(x, corruption, 3, 7, tmp_path / "a")
    again = generated_set(x, corruption, 3, 7, tmp_path / "b")  # another cache: generated anew
    assert torch.equal(first.images, again.images) and first.checksum == again.checksum
    assert first.source == "generated"
    if corruption in RANDOM_CORRUPTIONS:
        assert not torch.equal(first.images, corrupt(x, corruption, 3, seed=8))


def test_a_cached_set_whose_file_was_altered_is_generated_again(tmp_path):
    x = _images()
    first = generated_set(x, "contrast", 2, 0, tmp_path)
    data = next(tmp_path.glob("*.npy"))
    data.write_bytes(data.read_bytes()[:-7] + bytes(7))  # the last pixels zeroed
    assert torch.equal(generated_set(x, "contrast", 2, 0, tmp_path).images, first.images)


# ------------------------------------------------------------------ settings

@pytest.mark.parametrize("block, says", [
    ({"corruptions": ["fogg"]}, "unknown corruption(s) fogg; valid: gaussian_noise"),
    ({"severities": [0, 3]}, "severities must be 'all' or a list of distinct integers 1 to 5"),
    ({"images": 0}, "images (omit it for the whole test set) must be an integer ≥ 1"),
    ({"baseline": 3}, "baseline must be the name of one of the campaign's model entries (its name:, else its model"),
    ({"severity": [1]}, "unknown key(s) severity (did you mean severities?); valid keys: corruptions"),
    ({"cam_images": -1}, "cam_images must be an integer ≥ 0"),
])
def test_a_bad_robustness_setting_is_one_line_naming_it(block, says):
    with pytest.raises(ConfigError, match=None) as e:
        RobustnessSettings.from_dict(block, "quick.yaml: robustness")
    assert says in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("seed, analyses", [(2**32, 0), (2**64, 0)])
def test_a_robustness_seed_torch_keeps_only_part_of_is_refused_before_work(seed, analyses):
    """A seed of 2**64 was accepted, and then every run's analysis failed after the campaign had trained
    (ValueError: Overflow when unpacking long long); 2**32 analysed seed 0's images under another seed's name."""
    from cifar100lab.data.datasets import fixed_subset
    assert torch.equal(fixed_subset(100, 10, 2**32), fixed_subset(100, 10, 0))  # torch's low 32 bits
    with pytest.raises(ConfigError) as e:
        RobustnessSettings.from_dict({"seed": seed}, "quick.yaml: robustness")
    assert "seed must be below 2**32" in str(e.value) and f"seed {analyses}'s images" in str(e.value)
    assert RobustnessSettings.from_dict({"seed": 2**32 - 1}, "quick.yaml: robustness").seed == 2**32 - 1


def test_a_campaign_without_its_mce_baseline_is_refused_before_work(tmp_path, capfd):
    yaml = tmp_path / "c.yaml"
    yaml.write_text("name: c\nmodels: [resnet_32]\nrobustness: {severities: [1]}\n", encoding="utf-8")
    done = run_cli(capfd, "campaign", yaml, "--dataset", "synthetic", "--runs-root", tmp_path / "runs")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "baseline resnet_20 (mCE is normalised by it) is none of the campaign's model entries" in done.stderr
    assert "add resnet_20 to models:" in done.stderr and not (tmp_path / "runs").exists()


def _campaign_yaml(tmp_path, models: str, robustness: str = "{severities: [1]}"):
    yaml = tmp_path / "c.yaml"
    yaml.write_text(f"name: c\nmodels: {models}\nrobustness: {robustness}\n", encoding="utf-8")
    return yaml


def test_a_baseline_naming_no_model_entry_is_refused_before_work_naming_the_entries_it_could_be(tmp_path, capfd):
    """The check asked whether resnet_20 was among the entries' models, the page looked for the entry named resnet_20:
    a campaign whose only ResNet-20 is a named entry passed, trained, and showed every mCE as '–' with a warning."""
    yaml = _campaign_yaml(tmp_path, "[resnet_32, {model: resnet_20, name: r20_long, epochs: 4}]")
    done = run_cli(capfd, "campaign", yaml, "--dataset", "synthetic", "--runs-root", tmp_path / "runs")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert ": resnet_32, r20_long; set robustness: {baseline: r20_long}" in done.stderr  # an entry of its model
    assert not (tmp_path / "runs").exists()


def test_a_baseline_names_a_model_entry_by_its_name_or_by_its_model(tmp_path):
    """A named entry could not be the baseline at all: 'baseline r20_long is not a registered model'."""
    from cifar100lab.campaign import load_campaign
    two = "[{model: resnet_20, name: r20_long, epochs: 4}, resnet_20]"
    for models, baseline in ((two, "r20_long"), (two, "resnet_20"), ("[{model: eca_resnet_20, options: {k_size: 5}}]",
                                                                      "eca_resnet_20-k_size-5")):
        yaml = _campaign_yaml(tmp_path, models, f"{{severities: [1], baseline: {baseline}}}")
        assert load_campaign(yaml, "synthetic", tmp_path / "runs").robustness.baseline == baseline
    with pytest.raises(ConfigError, match=r"model entries \(.*\): eca_resnet_20-k_size-5; set robustness: "):
        load_campaign(_campaign_yaml(tmp_path, "[{model: eca_resnet_20, options: {k_size: 5}}]",
                                     "{baseline: eca_resnet_20}"), "synthetic", tmp_path / "runs")


def test_the_robustness_command_refuses_a_baseline_naming_no_entry_before_any_run_is_analysed(tmp_path, capfd):
    """A campaign without a robustness block measures with the default baseline, resnet_20: where no entry has that
    name the command analysed every run and then wrote a chapter whose mCE were all '–'."""
    from cifar100lab import records
    records.atomic_write_json(tmp_path / "c" / records.MANIFEST, {"name": "c", "source": "params/c.yaml",
                                                                  "runs": ["c-r20_long-s0"],
                                                                  "model_runs": ["c-r20_long-s0"], "robustness": None})
    done = run_cli(capfd, "robustness", tmp_path / "c", "--no-book")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and not done.stdout, done.stderr
    assert ("baseline resnet_20 (mCE is normalised by it) is none of the campaign's model entries (an entry is named "
            "by its name:, else by its model): r20_long; set robustness: {baseline: r20_long} in params/c.yaml and "
            "run the campaign again") in done.stderr


@pytest.mark.parametrize("campaign, shape", [("quick", (5, 2)), ("fast", (15, 5)), ("full", (15, 5))])
def test_the_quick_campaign_measures_a_reduced_protocol_and_the_others_the_whole(campaign, shape):
    import yaml

    from cifar100lab.campaign import load_campaign
    spec = yaml.safe_load((ROOT / "params" / f"{campaign}.yaml").read_text())
    settings = RobustnessSettings.from_dict(spec["robustness"], campaign)
    assert (len(settings.corruptions), len(settings.severities)) == shape
    assert (settings.images is not None) == (campaign == "quick")  # the others: the whole test set
    assert load_campaign(ROOT / "params" / f"{campaign}.yaml", "synthetic").robustness == settings  # baseline trained


# ------------------------------------------------------------------ per class

def test_per_class_accuracy_and_the_classes_models_miss_or_disagree_on():
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    a = per_class_accuracy(torch.tensor([0, 0, 0, 1, 0, 0]), labels, 4)
    b = per_class_accuracy(torch.tensor([1, 0, 1, 1, 1, 0]), labels, 4)
    assert a == [100.0, 50.0, 0.0, None] and b == [50.0, 100.0, 0.0, None]
    assert always_wrong({"a": a, "b": b}) == [2]
    assert most_disagreed({"a": a, "b": b}, top=2) == [(0, 50.0), (1, 50.0)]


def test_superclasses_come_from_the_datasets_own_files(synthetic_root):
    coarse_of, names = superclasses("synthetic", synthetic_root)
    assert len(names) == 20 and coarse_of == [c * 20 // 10 for c in range(10)]
    assert superclasses("fashion-mnist", synthetic_root) is None


# ------------------------------------------------------------------ the post-training step

@pytest.fixture(scope="module")
def trained_campaign(synthetic_root, tmp_path_factory):
    from cifar100lab import records
    from cifar100lab.train import train
    folder = tmp_path_factory.mktemp("runs") / "c"
    train(tiny_config(synthetic_root, folder / "c-resnet_20-s0", epochs=1, max_steps_per_epoch=2))
    settings = {"corruptions": ["gaussian_noise", "contrast"], "severities": [1, 3], "images": 60, "cam_images": 2}
    records.atomic_write_json(folder / records.MANIFEST, {"name": "c", "runs": ["c-resnet_20-s0"],
                                                          "model_runs": ["c-resnet_20-s0"], "robustness": settings})
    return folder


def test_the_robustness_step_writes_every_measure_beside_the_record(trained_campaign, capfd):
    done = run_cli(capfd, "robustness", trained_campaign, "--force", "--no-book")
    assert done.returncode == 0, done.stderr
    result = json.loads((trained_campaign / "c-resnet_20-s0" / "robustness.json").read_text())
    assert result["images"] == 60 and result["sources"] == {"generated": 4}
    assert set(result["corrupted"]) == {"gaussian_noise", "contrast"} and set(result["corrupted"]["contrast"]) == {"1", "3"}
    clean = result["clean"]
    assert 0 <= clean["ece"] <= 1 and clean["ece_interval"][0] <= clean["ece"] <= clean["ece_interval"][1]
    assert clean["confusion"]["level"] == "superclass" and len(clean["confusion"]["counts"]) == 20
    assert sum(map(sum, clean["confusion"]["counts"])) == 60 and len(clean["per_class_accuracy"]) == 10
    assert result["calibration_severity"] == 3 and "ece" in result["corrupted_calibration"]
    assert result["recipe"] == {"label_smoothing": 0.0, "mixup": 0.0, "cutmix": 0.0}
    cam = result["gradcam"]
    assert cam["layer"] == "blocks" and cam["shape"] == [2, 32, 32] and len(cam["predicted"]) == 2


@pytest.mark.slow  # analyses two runs with their Grad-CAM panels: over 5 s on a busy machine
def test_a_campaigns_runs_share_one_dataset_read_and_one_corruption_of_each_set(trained_campaign, tmp_path, monkeypatch):
    import shutil

    from cifar100lab.robustness import analyse
    folder = tmp_path / "c"
    shutil.copytree(trained_campaign, folder)
    shutil.copytree(folder / "c-resnet_20-s0", folder / "c-twin-s0")
    manifest = json.loads((folder / "campaign.json").read_text())
    manifest["model_runs"] = ["c-resnet_20-s0", "c-twin-s0"]
    (folder / "campaign.json").write_text(json.dumps(manifest))
    calls = {"read": 0, "generate": 0}

    def counted(name, real):
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return call
    monkeypatch.setattr(analyse, "load_dataset", counted("read", analyse.load_dataset))
    monkeypatch.setattr(analyse, "generated_set", counted("generate", analyse.generated_set))
    summary = analyse.analyse_campaign(folder, force=True, log=lambda line: None)
    assert summary == {"analysed": ["c-resnet_20-s0", "c-twin-s0"]}
    assert calls == {"read": 1, "generate": 4}  # 2 corruptions × 2 severities, once for both runs


def test_the_robustness_step_skips_a_run_whose_checkpoint_and_settings_are_unchanged(trained_campaign, capfd):
    run_cli(capfd, "robustness", trained_campaign, "--no-book")
    again = run_cli(capfd, "robustness", trained_campaign, "--no-book")
    assert again.returncode == 0 and again.stdout.strip().endswith("up to date 1")
    checkpoint = trained_campaign / "c-resnet_20-s0" / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes())  # same bytes: still up to date
    assert "up to date 1" in run_cli(capfd, "robustness", trained_campaign, "--no-book").stdout
    manifest = trained_campaign / "campaign.json"
    changed = json.loads(manifest.read_text())
    changed["robustness"]["severities"] = [1]
    manifest.write_text(json.dumps(changed))
    try:
        assert "analysed 1" in run_cli(capfd, "robustness", trained_campaign, "--no-book").stdout
    finally:
        changed["robustness"]["severities"] = [1, 3]
        manifest.write_text(json.dumps(changed))


def test_naming_another_baseline_measures_nothing_again(trained_campaign, tmp_path, capfd):
    """The baseline was part of each result's up-to-date key: following the refusal's advice (set robustness:
    {baseline: r20_long}, run the campaign again) analysed every run of the campaign again, the whole protocol."""
    import shutil
    folder = tmp_path / "c"
    shutil.copytree(trained_campaign, folder)
    assert run_cli(capfd, "robustness", folder, "--no-book").returncode == 0  # measured with baseline resnet_20
    shutil.copytree(folder / "c-resnet_20-s0", folder / "c-r20_long-s0")
    manifest = json.loads((folder / "campaign.json").read_text())
    manifest["model_runs"] += ["c-r20_long-s0"]
    manifest["robustness"]["baseline"] = "r20_long"
    (folder / "campaign.json").write_text(json.dumps(manifest))
    done = run_cli(capfd, "robustness", folder, "--no-book")
    assert done.returncode == 0 and done.stdout.strip().endswith("up to date 2"), done.stdout


def test_the_robustness_command_on_a_folder_without_a_campaign_is_one_line(tmp_path, capfd):
    done = run_cli(capfd, "robustness", tmp_path, "--no-book")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no campaign at" in done.stderr


@pytest.mark.parametrize("manifest, says", [("{}", "it does not list the campaign's runs (KeyError"),
                                             ('{"runs": 3}', "(TypeError"),
                                             ('{"model_runs": ["../elsewhere"]}', "must be run folder names")])
def test_a_campaign_json_that_lists_no_runs_is_one_line_naming_it(tmp_path, capfd, manifest, says):
    (tmp_path / "campaign.json").write_text(manifest)
    done = run_cli(capfd, "robustness", tmp_path, "--no-book")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"{tmp_path / 'campaign.json'} is damaged" in done.stderr and says in done.stderr


def test_a_data_root_that_is_a_file_is_refused_before_any_run_is_analysed(trained_campaign, tmp_path, capfd):
    (tmp_path / "notes.md").write_text("# notes\n")
    done = run_cli(capfd, "robustness", trained_campaign, "--data-root", tmp_path / "notes.md", "--force", "--no-book")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"data_root {tmp_path / 'notes.md'} is a file, not a folder" in done.stderr and not done.stdout


def test_a_run_whose_checkpoint_is_damaged_is_reported_and_the_others_are_analysed(trained_campaign, tmp_path, capfd):
    import shutil
    folder = tmp_path / "c"
    shutil.copytree(trained_campaign, folder)
    shutil.copytree(folder / "c-resnet_20-s0", folder / "c-broken-s0")
    (folder / "c-broken-s0" / "robustness.json").unlink(missing_ok=True)
    checkpoint = folder / "c-broken-s0" / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    manifest = json.loads((folder / "campaign.json").read_text())
    manifest["model_runs"] = ["c-broken-s0", "c-resnet_20-s0"]
    (folder / "campaign.json").write_text(json.dumps(manifest))
    done = run_cli(capfd, "robustness", folder, "--no-book")
    assert done.returncode == 1 and "c-broken-s0: robustness failed:" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("failed 1, ")
    assert (folder / "c-resnet_20-s0" / "robustness.json").exists()
    assert not (folder / "c-broken-s0" / "robustness.json").exists()


def test_the_robustness_command_writes_the_chapter_that_book_builds(trained_campaign, tmp_path, capfd, monkeypatch):
    """The chapter's empty state says: run `robustness runs/<campaign>`, then `book`. But `book` never reads the runs,
    and the command wrote only robustness.json files: the chapter kept saying there were no results."""
    from cifar100lab.report import robustness as page
    monkeypatch.setattr(page, "_figures", lambda results, out: {})  # the figures cost seconds; the page is the point
    done = run_cli(capfd, "robustness", trained_campaign, "--book", scratch_book(tmp_path / "book"))
    assert done.returncode == 0, done.stderr
    en = (tmp_path / "book" / "generated" / "robustness_en.md").read_text()
    assert "Campaign **c**" in en and "| resnet_20 |" in en and "No robustness results yet" not in en
    assert "robustness chapter written to" in done.stdout
    done = run_cli(capfd, "robustness", trained_campaign, "--book", tmp_path / "other", "--no-book")
    assert done.returncode == 0 and not (tmp_path / "other").exists()


def test_a_book_flag_naming_a_file_is_refused_before_any_run_is_analysed(trained_campaign, tmp_path, capfd):
    (tmp_path / "notes.md").write_text("# notes\n")
    done = run_cli(capfd, "robustness", trained_campaign, "--book", tmp_path / "notes.md", "--force")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "--book" in done.stderr and "is not a book folder (it is a file)" in done.stderr and not done.stdout


def test_a_run_is_analysed_only_on_the_data_its_record_was_measured_on(trained_campaign, tmp_path):
    """Another copy of the data (--data-root elsewhere, a synthetic set generated again) was analysed without a
    word: the run's clean top-1 read 9.5 where its record's was 11.0, and the result then stayed "up to date" on
    the run's own data. It is refused, as `evaluate` refuses it, and such a result is analysed again."""
    import shutil

    from cifar100lab.data import write_synthetic_cifar100
    from cifar100lab.robustness.analyse import analyse_campaign, analyse_run
    folder = tmp_path / "c"
    shutil.copytree(trained_campaign, folder)
    other = tmp_path / "other"
    write_synthetic_cifar100(other / "synthetic", train_size=1024, test_size=300, num_classes=10, seed=1)
    said = []
    assert analyse_campaign(folder, str(other), force=True, log=said.append) == {"failed": ["c-resnet_20-s0"]}
    assert "is not the data c-resnet_20-s0 was measured on" in said[0] and f"under {other}" in said[0]
    settings = RobustnessSettings.from_dict({"corruptions": ["contrast"], "severities": [1], "images": 20,
                                            "cam_images": 0}, "test")
    status, result = analyse_run(folder / "c-resnet_20-s0", settings)
    assert status == "analysed"
    result["dataset"]["checksum"] = "md5:of-another-copy"  # as written from another copy before it was refused
    (folder / "c-resnet_20-s0" / "robustness.json").write_text(json.dumps(result))
    status, result = analyse_run(folder / "c-resnet_20-s0", settings)
    assert status == "analysed" and result["dataset"]["checksum"] != "md5:of-another-copy"
    assert analyse_run(folder / "c-resnet_20-s0", settings)[0] == "up to date"
