"""The CPU kernel policy: depthwise convolutions run in fp32 inside bf16 autocast where oneDNN's bf16 kernels for
them are the slower ones (large kernels, strides, maps smaller than the kernel), without changing the network or
its checkpoints."""
import torch

from cifar100lab.accelerator import (
    Fp32DepthwiseConv2d,
    SmallMapFp32DepthwiseConv2d,
    build_accelerator,
    cpu_depthwise_in_fp32,
)
from cifar100lab.models import create_model


def _depthwise_large(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.groups == m.in_channels > 1
            and max(m.kernel_size) > 3]


def test_large_depthwise_convs_compute_in_fp32_under_cpu_bf16_autocast_with_the_same_state_dict():
    torch.manual_seed(0)
    model = create_model("convnext_tiny", num_classes=10)
    reference = create_model("convnext_tiny", num_classes=10)
    reference.load_state_dict(model.state_dict())
    keys = list(model.state_dict())
    assert cpu_depthwise_in_fp32(model, build_accelerator("bf16")) == 18 == len(_depthwise_large(model))  # 3+3+9+3
    assert cpu_depthwise_in_fp32(model, build_accelerator("bf16")) == 18  # again: nothing more to change
    assert list(model.state_dict()) == keys
    dtypes = []
    hooks = [m.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype)) for m in _depthwise_large(model)]
    x = torch.randn(4, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, ref = model(x), reference(x)
    assert dtypes == [torch.float32] * 18
    assert torch.allclose(out.float(), ref.float(), atol=0.1, rtol=0.05)  # the same network, less rounding
    for h in hooks:
        h.remove()


def test_strided_depthwise_convs_compute_in_fp32_and_small_kernel_ones_only_on_maps_smaller_than_the_kernel():
    """oneDNN's bf16 input gradient of a strided depthwise convolution and its weight gradient on a map smaller
    than the kernel are the slow ones (GhostNet-100's step was 1.4-1.5× its fp32 one); 3×3 stride-1 ones on
    larger maps stay in bf16, where the casts around an fp32 one would cost more."""
    with torch.device("meta"):
        ghostnet = create_model("ghostnet_100", num_classes=10)
    depthwise = [m for m in ghostnet.modules() if isinstance(m, torch.nn.Conv2d) and m.groups == m.in_channels > 1]
    always = [m for m in depthwise if max(m.kernel_size) > 3 or max(m.stride) > 1]
    assert len(depthwise) == 41 and len(always) == 8  # 4 of 5×5 and 4 of 3×3, all stride 2
    assert cpu_depthwise_in_fp32(ghostnet, build_accelerator("bf16")) == 41
    assert all(type(m) is Fp32DepthwiseConv2d for m in always)
    assert all(type(m) is SmallMapFp32DepthwiseConv2d for m in depthwise if m not in always)

    strided, small = torch.nn.Conv2d(8, 8, 3, 2, 1, groups=8), torch.nn.Conv2d(8, 8, 3, 1, 1, groups=8)
    cpu_depthwise_in_fp32(torch.nn.Sequential(strided, small), build_accelerator("bf16"))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert strided(torch.randn(2, 8, 8, 8)).dtype == torch.float32
        assert [small(torch.randn(2, 8, size, size)).dtype for size in (1, 2, 3, 8)] == [torch.float32] * 2 + [
            torch.bfloat16] * 2


def test_other_grouped_convs_and_other_precisions_are_left_alone():
    ghost = create_model("ghost_resnet_20", num_classes=10)  # its cheap operations: 3×3 stride-1 depthwise
    assert cpu_depthwise_in_fp32(ghost, build_accelerator("bf16")) == 18
    dtypes = []
    for m in ghost.modules():
        if isinstance(m, Fp32DepthwiseConv2d):
            m.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ghost(torch.randn(2, 3, 32, 32))
    assert dtypes == [torch.bfloat16] * 18  # its maps (32, 16, 8 px) are larger than the kernels
    with torch.device("meta"):
        resnest = create_model("resnest50d", num_classes=10)  # split attention: grouped, not depthwise
    assert cpu_depthwise_in_fp32(resnest, build_accelerator("bf16")) == 0
    convnext = create_model("convnext_tiny", num_classes=10)
    assert cpu_depthwise_in_fp32(convnext, build_accelerator("fp32")) == 0  # no autocast to step out of
    assert not any(isinstance(m, Fp32DepthwiseConv2d) for m in convnext.modules())


def test_precision_auto_is_bf16_only_on_a_cpu_with_native_bf16(monkeypatch):
    """Without AMX or AVX512-BF16, oneDNN emulates bf16 and a step takes about 10× as long as in fp32."""
    from cifar100lab import accelerator
    for amx, avx512_bf16, expected in [(True, False, "bf16"), (False, True, "bf16"), (False, False, "no")]:
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
        assert accelerator.choose_precision("auto", cuda=False) == expected
        assert accelerator.choose_precision("bf16", cuda=False) == "bf16"
        assert accelerator.choose_precision("fp32", cuda=False) == "no"
