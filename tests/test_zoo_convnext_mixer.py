"""Own-written ConvNeXt-T (32×32 stem) and MLP-Mixer tiny: sizes, shapes, training step, options."""
import copy
import functools

import pandas as pd
import pytest
import timm
import torch

from cifar100lab.model_catalog import read_catalog
from cifar100lab.models import create_model, model_entry
from cifar100lab.report.models_page import models_markdown


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def skeleton(name, **options):
    """The model on the meta device: shapes and structure without the cost of initialising 28 M weights."""
    with torch.device("meta"):
        return create_model(name, **options)


def stage_resolutions(model):
    with torch.device("meta"):
        x, sizes = model.stem(torch.zeros(1, 3, 32, 32)), []
        for stage in model.stages:
            x = stage(x)
            sizes.append(x.shape[-1])
    return sizes


@functools.cache
def initialised(name):
    """One real build per model for the whole file (ConvNeXt-T's init takes seconds on CPU)."""
    torch.manual_seed(0)
    return create_model(name)


@pytest.mark.parametrize("name, options, params", [
    ("convnext_tiny", {}, 27_893_572),
    ("convnext_tiny", {"stem_stride": 1}, 27_892_708),
    ("convnext_tiny", {"stem_stride": 4}, 27_897_028),
    ("mlp_mixer_tiny", {}, 1_757_252),
    ("mlp_mixer_tiny", {"patch_size": 2}, 1_998_788),
])
def test_exact_parameter_counts(name, options, params):
    assert n_params(skeleton(name, **options)) == params


def test_metadata():
    convnext, mixer = model_entry("convnext_tiny"), model_entry("mlp_mixer_tiny")
    assert (convnext.family, convnext.group, convnext.source, convnext.recipe) == (
        "convnext", "modern conv", "own", "convnext_scratch")
    assert convnext.options == {"drop_path_rate": 0.1, "stem_stride": 2}
    assert (mixer.family, mixer.group, mixer.source, mixer.recipe) == (
        "mixer", "MLP", "own", "mixer_adamw")
    assert mixer.options == {"patch_size": 4, "drop_path_rate": 0.1}
    assert not convnext.pretrainable and not mixer.pretrainable


def test_convnext_paper_stem_is_timm_convnext_t():
    """With the paper's stride-4 stem the network is exactly timm's ConvNeXt-T, parameter for parameter."""
    ours = skeleton("convnext_tiny", stem_stride=4).state_dict()
    with torch.device("meta"):
        reference = timm.create_model("convnext_tiny", pretrained=False, num_classes=100).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in reference.items()}


@pytest.mark.parametrize("stem_stride, sizes", [(1, [32, 16, 8, 4]), (2, [16, 8, 4, 2]), (4, [8, 4, 2, 1])])
def test_convnext_stage_resolutions(stem_stride, sizes):
    model = skeleton("convnext_tiny", stem_stride=stem_stride)
    assert model.stem[0].kernel_size == model.stem[0].stride == (stem_stride, stem_stride)
    assert stage_resolutions(model) == sizes


def test_convnext_stochastic_depth_rises_linearly():
    blocks = [b for stage in skeleton("convnext_tiny").stages for b in stage.blocks]
    assert len(blocks) == 18
    assert isinstance(blocks[0].drop_path, torch.nn.Identity)
    assert blocks[-1].drop_path.drop_prob == pytest.approx(0.1)


def test_the_models_page_says_the_tiny_mixer_cuts_the_papers_16_px_patch_to_4():
    """The tiny Mixer embeds 4×4 patches where the paper's smallest are 16×16, yet the Models page's 32 px layout
    column said '–' (the paper's layout) for it."""
    entry = model_entry("mlp_mixer_tiny")
    assert ("patch", "16", str(entry.options["patch_size"])) in entry.adaptation
    row = next(r for r in read_catalog() if r["model"] == "mlp_mixer_tiny")
    assert "| scratch | patch 16 → 4 |" in models_markdown(pd.DataFrame([row]), "en")


def test_mixer_shape():
    model = skeleton("mlp_mixer_tiny")
    block = model.blocks[0]
    assert model.stem.num_patches == 64 and len(model.blocks) == 8
    assert (block.mlp_tokens.fc1.in_features, block.mlp_tokens.fc1.out_features) == (64, 80)
    assert (block.mlp_channels.fc1.in_features, block.mlp_channels.fc1.out_features) == (160, 640)


@pytest.mark.parametrize("name", ["convnext_tiny", "mlp_mixer_tiny"])
def test_forward_backward_and_sgd_step(name):
    model = copy.deepcopy(initialised(name)).train()
    x, y = torch.randn(2, 3, 32, 32), torch.tensor([3, 97])
    out = model(x)
    assert out.shape == (2, 100) and torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, y).backward()
    assert all(p.grad is not None for p in model.parameters())
    before = [p.detach().clone() for p in model.parameters()]
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_initialisation():
    convnext, mixer = initialised("convnext_tiny"), initialised("mlp_mixer_tiny")
    assert convnext.stem[0].weight.std().item() == pytest.approx(0.02, rel=0.2)  # ConvNeXt's trunc-normal init
    assert torch.all(convnext.stages[0].blocks[0].gamma == torch.tensor(1e-6))  # LayerScale init
    assert torch.count_nonzero(mixer.head.weight) == 0  # the Mixer paper's zero-initialised head


@pytest.mark.parametrize("name, options", [
    ("convnext_tiny", {"stem_stride": 3}),
    ("convnext_tiny", {"stem_stride": 8}),
    ("convnext_tiny", {"drop_path_rate": 1.0}),
    ("convnext_tiny", {"drop_path_rate": -0.1}),
    ("mlp_mixer_tiny", {"patch_size": 3}),
    ("mlp_mixer_tiny", {"patch_size": 32}),
    ("mlp_mixer_tiny", {"drop_path_rate": 1.5}),
    ("mlp_mixer_tiny", {"embed_dim": 256}),
])
def test_option_validation(name, options):
    with pytest.raises(ValueError):
        create_model(name, **options)
