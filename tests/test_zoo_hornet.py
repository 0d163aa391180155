"""HorNet-T (own implementation): exact size, 32×32 stage layout, training step, options."""
import pytest
import torch

from cifar100lab.models import check_options, create_model, model_entry
from cifar100lab.models.hornet import GnConv, HorNetBlock

# Cross-checked against the authors' hornet_tiny_7x7 (raoyongming/HorNet): same count and outputs
# with copied weights; 22,409,512 with their stride-4 stem and 1000 classes.
PARAMS = {2: 21_945_508, 1: 21_944_932}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("hornet_tiny")


@pytest.fixture(scope="module")
def model_stride1():
    return create_model("hornet_tiny", stem_stride=1)


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_registry_metadata():
    spec = model_entry("hornet_tiny")
    assert (spec.family, spec.group, spec.source, spec.recipe) == ("hornet", "hybrid & advanced", "own", "hybrid_adamw")
    assert spec.input_size == 32 and not spec.pretrainable
    assert spec.options == {"drop_path_rate": 0.2, "stem_stride": 2}


def test_param_count_default(model):
    assert n_params(model) == PARAMS[2]


def test_param_count_stem_stride_1(model_stride1):
    assert n_params(model_stride1) == PARAMS[1]


def last_stage_shape(model, x):
    """Run ``model(x)`` and return (logits, shape of the last stage's feature map)."""
    shapes = []
    handle = model.stages[-1].register_forward_hook(lambda mod, inp, out: shapes.append(tuple(out.shape)))
    try:
        return model(x), shapes[0]
    finally:
        handle.remove()


def test_gnconv_recursion_widths():
    g = GnConv(64, order=4)
    assert g.dims == [8, 16, 32, 64]
    assert g.proj_in.out_channels == g.dims[0] + g.dwconv.in_channels == 128
    assert [(pw.in_channels, pw.out_channels) for pw in g.pws] == [(8, 16), (16, 32), (32, 64)]
    assert g(torch.randn(2, 64, 5, 5)).shape == (2, 64, 5, 5)
    with pytest.raises(ValueError):
        GnConv(12, order=4)


def test_stage_orders_and_drop_path(model):
    blocks = [b for stage in model.stages for b in stage if isinstance(b, HorNetBlock)]
    assert len(blocks) == 25
    assert [len(stage) - 1 for stage in model.stages] == [2, 3, 18, 2]
    assert [stage[1].gnconv.dims[-1] for stage in model.stages] == [64, 128, 256, 512]
    assert [len(stage[1].gnconv.dims) for stage in model.stages] == [2, 3, 4, 5]
    assert blocks[-1].drop_path.drop_prob == pytest.approx(0.2)
    assert torch.all(blocks[0].ls1.gamma == 1e-6)


def test_forward_backward_and_sgd_step(model):
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.stem[0].weight.detach().clone()
    out, last_stage = last_stage_shape(model, torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 100) and torch.isfinite(out).all()
    assert last_stage == (2, 512, 2, 2)  # stem stride 2: 16/8/4/2
    torch.nn.functional.cross_entropy(out, torch.tensor([3, 97])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    opt.step()
    assert not torch.equal(before, model.stem[0].weight)


def test_stem_stride_1_forward(model_stride1):
    with torch.no_grad():
        out, last_stage = last_stage_shape(model_stride1.eval(), torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 100) and torch.isfinite(out).all()
    assert last_stage == (2, 512, 4, 4)  # stem stride 1: 32/16/8/4


@pytest.mark.parametrize("options", [{"stem_stride": 4}, {"stem_stride": 3}, {"drop_path_rate": 1.0},
                                     {"drop_path_rate": -0.1}])
def test_invalid_options(options):
    with pytest.raises(ValueError):
        create_model("hornet_tiny", **options)


def test_unknown_option():
    with pytest.raises(ValueError, match="drop_path_rate, stem_stride"):
        check_options("hornet_tiny", {"order": 3})
