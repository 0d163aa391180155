"""The Vision Transformers (DeiT-Tiny, Swin-T, MaxViT-T, PVT-v2-B0): timm's network at the pretraining size, a
stated small-image layout at 32 px, their recipes, and pretrained weights only where they fit.

Networks are counted and shaped on the meta device (nothing allocated); the one real build is PVT-v2-B0's.
"""
import pandas as pd
import pytest
import safetensors.torch
import timm
import torch
from conftest import run_cli
from test_zoo_timm import network_off  # noqa: F401  (a fixture)

from cifar100lab.config import ConfigError, resolve
from cifar100lab.model_catalog import read_catalog
from cifar100lab.models import count_params, create_model, missing_weights, model_entry, model_names
from cifar100lab.recipes import RECIPES
from cifar100lab.report import sources
from cifar100lab.report.models_page import adaptation_text, models_markdown

TRANSFORMERS = ("deit_tiny", "swin_tiny", "maxvit_tiny", "pvt_v2_b0")
SCRATCH_RECIPES = {"deit_tiny": "deit_scratch", "swin_tiny": "swin_scratch", "maxvit_tiny": "maxvit_scratch",
                   "pvt_v2_b0": "pvt_scratch"}


def plan(name, **fields):
    return resolve({"model": name, "dataset": "synthetic", "epochs": 40, "batch_size": 4, "train_subset": 8,
                    **fields})


def test_the_transformers_group_holds_exactly_the_four_vision_transformers():
    assert sorted(n for n in model_names() if model_entry(n).group == "transformers") == sorted(TRANSFORMERS)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_at_its_pretraining_size_each_transformer_has_exactly_timms_parameters_and_the_catalog_says_so(name):
    entry = model_entry(name)
    with torch.device("meta"):
        ours = create_model(name, num_classes=1000, img_size=entry.pretrained_input_size)
        assert count_params(ours) == count_params(timm.create_model(entry.pretrained_source, num_classes=1000))
    cached = {r["model"]: r for r in read_catalog()}[name]  # 100 classes: 900 fewer rows in the head
    assert cached["input_size"] == 224 and cached["params"] == count_params(ours) - 900 * (
        ours.get_classifier().in_features + 1)
    assert cached["adaptation"] == [list(change) for change in entry.adaptation]  # for the Models page


# The last feature map at 32 px in each small-image layout: a token grid, never a single pixel.
LAST_FEATURES_32 = {"deit_tiny": (1, 1 + 8 * 8, 192), "swin_tiny": (1, 2, 2, 768), "maxvit_tiny": (1, 512, 2, 2),
                    "pvt_v2_b0": (1, 256, 2, 2)}


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_at_32_px_each_transformer_is_built_in_its_stated_small_image_layout(name):
    with torch.device("meta"):
        small = create_model(name, num_classes=100)
        features = small.forward_features(torch.zeros(1, 3, 32, 32))
    assert tuple(features.shape) == LAST_FEATURES_32[name]
    assert model_entry(name).adaptation  # stated, for the Models page


def test_the_models_page_states_each_adaptation_in_both_languages():
    assert adaptation_text(model_entry("swin_tiny").adaptation, "en") == "patch 4 → 2; window 7 → 4"
    assert adaptation_text(model_entry("swin_tiny").adaptation, "zh") == "patch 大小 4 → 2；窗口 7 → 4"
    assert adaptation_text(model_entry("resnet_20").adaptation, "en") == "–"
    row = next(r for r in read_catalog() if r["model"] == "pvt_v2_b0")  # the page renders the catalog
    page = {lang: models_markdown(pd.DataFrame([row]), lang) for lang in ("en", "zh")}
    assert "| stem stride 4 → 2; K/V reduction ratios 8, 4, 2, 1 → 4, 2, 1, 1 |" in page["en"]
    assert "| stem 步幅 4 → 2；K/V 空间缩减比 8, 4, 2, 1 → 4, 2, 1, 1 |" in page["zh"]
    assert "32 px layout (ImageNet → here)" in page["en"] and "32 px 布局（ImageNet → 本项目）" in page["zh"]

@pytest.mark.parametrize("name", TRANSFORMERS)
def test_each_transformer_trains_from_scratch_with_its_papers_recipe_and_fine_tunes_with_layer_decay(name):
    scratch, tuned = plan(name, pretrained="off"), plan(name)
    assert (scratch.recipe_name, scratch.input_size, scratch.pretrained) == (SCRATCH_RECIPES[name], 32, None)
    assert (tuned.recipe_name, tuned.input_size, tuned.pretrained) == ("vit_finetune", 224, "hub")
    for p in (scratch, tuned):
        assert p.recipe.optimizer == "adamw" and p.recipe.schedule == "cosine"
        assert p.recipe.warmup_epochs > 0 and p.recipe.label_smoothing == 0.1
    assert scratch.recipe.layer_decay == 1.0 and tuned.recipe.layer_decay == 0.75  # needs timm's group_matcher


def test_a_recipe_named_in_the_run_wins_over_the_models_scratch_recipe():
    assert plan("deit_tiny", pretrained="off", recipe="hybrid_adamw").recipe_name == "hybrid_adamw"
    assert RECIPES["deit_scratch"] != RECIPES["vit_finetune"]


@pytest.mark.parametrize("name", ["deit_tiny", "mlp_mixer_b16"])
def test_pretrained_weights_at_a_size_they_do_not_fit_are_refused_before_any_work(name, capfd, tmp_path):
    with pytest.raises(ConfigError, match="pretrained weights fit only img_size=224, got 32; use img_size=224 or "
                                          "pretrained: off"):
        plan(name, img_size=32)
    run_dir = tmp_path / "run"
    out = run_cli(capfd, "train", "--set", f"model={name}", "--set", "img_size=32", "--set", "dataset=synthetic",
                  "--set", f"run_dir={run_dir}")
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "fit only img_size=224" in out.stderr
    assert not run_dir.exists()
    assert plan(name, pretrained="off", img_size=32).input_size == 32  # from scratch any size goes


@pytest.mark.parametrize("name, size, step", [("deit_tiny", 30, 4), ("swin_tiny", 40, 16), ("maxvit_tiny", 48, 32),
                                              ("pvt_v2_b0", 40, 16)])
def test_a_small_image_layout_refuses_a_size_its_stages_do_not_divide(name, size, step):
    with pytest.raises(ConfigError, match=f"img_size must be a positive multiple of {step} .*got {size}"):
        plan(name, pretrained="off", img_size=size)


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_offline_a_transformers_fine_tune_says_why_its_weights_are_unavailable(name, network_off):  # noqa: F811
    reason = missing_weights(model_entry(name).pretrained_source, "hub")
    assert reason.startswith("pretrained weights unavailable: cannot reach")


def test_local_imagenet_weights_load_into_the_224_layout_keeping_the_backbone_and_resetting_the_head(tmp_path):
    imagenet = timm.create_model("pvt_v2_b0", num_classes=1000)
    saved = {k: v.clone() for k, v in imagenet.state_dict().items()}
    safetensors.torch.save_file(saved, tmp_path / "model.safetensors")
    loaded = create_model("pvt_v2_b0", pretrained=str(tmp_path)).state_dict()  # the pretraining size by default
    assert all(torch.equal(loaded[k], saved[k]) for k in loaded if not k.startswith("head."))
    assert loaded["head.weight"].shape == (100, 256)


def test_a_transformer_trained_from_scratch_by_design_is_its_own_row_not_a_stand_in_for_its_fine_tune():
    from fake_campaign import _record
    scratch = _record("c", "c-deit_tiny_scratch-s0", "deit_tiny", {}, 0, [30.0, 40.0], "fashion-mnist", 2, 1000, 0)
    tuned = {**_record("c", "c-deit_tiny-s0", "deit_tiny", {}, 0, [30.0, 60.0], "fashion-mnist", 2, 1000, 0),
             "pretrained": "hub"}
    rows = sources.model_rows([scratch, tuned]).set_index("model")
    assert not rows.loc["deit_tiny-scratch", "fallback"]
    assert rows.loc["deit_tiny", "pretrained"] and not rows.loc["deit_tiny-scratch", "pretrained"]
    assert rows.loc["deit_tiny", "group"] == "transformers"


def test_an_export_of_a_small_image_layout_says_timm_cannot_build_it_and_one_at_224_names_timms_network():
    from cifar100lab.export import hub_config
    facts = {"model": "pvt_v2_b0", "options": {}, "img_size": None, "input_size": 32, "mean": [0.5] * 3,
             "std": [0.25] * 3, "num_classes": 10}
    with torch.device("meta"):
        small = hub_config(facts, create_model("pvt_v2_b0", num_classes=10), "0" * 64)
        tuned = hub_config({**facts, "input_size": 224}, create_model("pvt_v2_b0", num_classes=10, img_size=224),
                           "0" * 64)
    assert small["architecture"] == "cifar100lab/pvt_v2_b0" and not small["cifar100lab"]["timm_loadable"]
    assert "timm cannot build it" in small["cifar100lab"]["load_with"] and "model_args" not in small
    assert tuned["architecture"] == "pvt_v2_b0" and tuned["cifar100lab"]["timm_loadable"]


def test_a_model_whose_stem_stride_is_changed_for_32_px_says_so_on_the_models_page():
    """ConvNeXt-T, HorNet-T, MSCAN-T and LSKNet-T halve their papers' stride-4 stems for 32 px, yet the Models page's
    layout column said '–' (the ImageNet layout) for each."""
    changed = [name for name in model_names() if "stem_stride" in model_entry(name).options]
    assert {"convnext_tiny", "hornet_tiny", "segnext_mscan_tiny", "lsknet_tiny"} <= set(changed)
    for name in changed:
        entry = model_entry(name)
        imagenet, small = next((i, s) for what, i, s in entry.adaptation if what == "stem stride")
        assert small == str(entry.options["stem_stride"]) != imagenet
    row = next(r for r in read_catalog() if r["model"] == "convnext_tiny")
    assert "| scratch | stem stride 4 → 2 |" in models_markdown(pd.DataFrame([row]), "en")
