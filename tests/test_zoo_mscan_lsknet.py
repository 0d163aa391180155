import pytest
import torch

from cifar100lab.models import create_model, model_entry
from cifar100lab.models.blocks import OverlapPatchEmbed, VanStyleNet
from cifar100lab.models.lsknet import LargeSelectiveKernel
from cifar100lab.models.mscan import MscanStem, MultiScaleConvAttention

# Stem stride changes resolutions, not weights: both strides have the same count.
PARAMS = {"segnext_mscan_tiny": 3_929_284, "lsknet_tiny": 4_015_890}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_registry_metadata(name):
    spec = model_entry(name)
    assert (spec.group, spec.source, spec.recipe) == ("attention", "own", "mixer_adamw")
    assert spec.family == {"segnext_mscan_tiny": "mscan", "lsknet_tiny": "lsknet"}[name]
    assert spec.options == {"stem_stride": 2, "drop_path_rate": 0.1, "drop_rate": 0.0}


@pytest.mark.parametrize("name", sorted(PARAMS))
@pytest.mark.parametrize("stem_stride", [1, 2])
def test_param_count(name, stem_stride):
    assert n_params(create_model(name, stem_stride=stem_stride)) == PARAMS[name]


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_forward_backward_and_sgd_step(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 100) and torch.isfinite(out).all()
    out.logsumexp(1).mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    before = [p.detach().clone() for p in model.parameters()]
    opt.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


@pytest.mark.parametrize("stem_stride, last_stage", [(1, 4), (2, 2)])
def test_stem_stride_sets_last_stage_resolution(stem_stride, last_stage):
    for name in PARAMS:
        model = create_model(name, stem_stride=stem_stride).eval()
        with torch.no_grad():
            feats = model.stages(torch.randn(1, 3, 32, 32))
        assert feats.shape == (1, 256, last_stage, last_stage)


@pytest.mark.parametrize("name", sorted(PARAMS))
@pytest.mark.parametrize("bad", [dict(stem_stride=4), dict(stem_stride=3), dict(drop_path_rate=1.0),
                                 dict(drop_rate=-0.1), dict(drop_rate="0.1"), dict(depth=3)])
def test_option_validation(name, bad):
    with pytest.raises(ValueError):
        create_model(name, **bad)


def test_paper_configurations():
    # The ImageNet models: stride-4 stems and a 1000-class head. LSKNet-T's paper reports 4.3 M parameters.
    x = torch.randn(1, 3, 64, 64)
    assert MscanStem(3, 32, strides=(2, 2))(x).shape == (1, 32, 16, 16)
    assert OverlapPatchEmbed(3, 32, patch_size=7, stride=4)(x).shape == (1, 32, 16, 16)
    mscan = VanStyleNet(MscanStem(3, 32, strides=(2, 2)), MultiScaleConvAttention, num_classes=1000)
    lsk = VanStyleNet(OverlapPatchEmbed(3, 32, 7, 4), LargeSelectiveKernel, num_classes=1000, norm_eps=1e-6)
    assert (n_params(mscan), n_params(lsk)) == (4_160_584, 4_247_190)


@pytest.mark.parametrize("gating", [MultiScaleConvAttention, LargeSelectiveKernel])
def test_gating_units_keep_shape(gating):
    x = torch.randn(2, 32, 8, 8)
    assert gating(32)(x).shape == x.shape
