"""ConvNeXt-T (Liu et al., A ConvNet for the 2020s, CVPR 2022), trained from scratch on 32×32 images.

``convnext_tiny`` is timm's ``ConvNeXt`` in the paper's T configuration: depths (3, 3, 9, 3), dims
(96, 192, 384, 768); blocks of 7×7 depthwise conv → LayerNorm → Linear 4× → GELU → Linear →
LayerScale (1e-6) → DropPath; LayerNorm + 2×2 stride-2 conv between stages; global average pool →
LayerNorm → Linear head; truncated-normal (std 0.02) init; stochastic depth rising linearly over the
blocks to ``drop_path_rate`` (0.1, the paper's rate for T).

The one adaptation for 32×32 is the stem, a ``stem_stride``×``stem_stride`` patchify conv + LayerNorm
(the paper's stem with a smaller patch):

* ``stem_stride=4``: the paper's stem. Stages run at 8/4/2/1 px, so the last stage sees a single pixel
  and the 7×7 kernels mostly see padding; the original report's own ConvNeXt
  (27.9 %; a 0.26 M-parameter variant, not T) used this stem.
* ``stem_stride=2`` (default): stages at 16/8/4/2, the last still 2×2; 0.36 GMACs per 32×32 image
  (the paper's ConvNeXt-T spends 4.5 GMACs at 224 px).
* ``stem_stride=1``: stages at 32/16/8/4, 1.45 GMACs: 4× the compute of stride 2 for every run of a
  benchmark that trains many models, so it is an option rather than the default.

timm's ``patch_size`` argument cannot express stride 2: with a stride-2 patch stem it also strides
stage 0 (to keep timm's overall stride of 4). So the model is built with the paper's stride-4 layout
(stage 0 unstrided) and the stem conv is then replaced.
"""
from __future__ import annotations

import torch.nn as nn
from timm.layers import trunc_normal_
from timm.models.convnext import ConvNeXt

from ._registry import register_model
from .timm_backed import create_timm_model

PAPER_CONVNEXT = "Liu et al., A ConvNet for the 2020s, CVPR 2022"
CONVNEXT_T_DEPTHS = (3, 3, 9, 3)
CONVNEXT_T_DIMS = (96, 192, 384, 768)
STEM_STRIDES = (1, 2, 4)


def patchify_stem_conv(in_chans: int, out_chs: int, stride: int) -> nn.Conv2d:
    conv = nn.Conv2d(in_chans, out_chs, kernel_size=stride, stride=stride)
    trunc_normal_(conv.weight, std=0.02)  # ConvNeXt's init of every conv
    nn.init.zeros_(conv.bias)
    return conv


@register_model("convnext_tiny", family="convnext", group="modern conv", source="own", paper=PAPER_CONVNEXT,
                recipe="convnext_scratch", adaptation=(("stem stride", "4", "2"),))
def build_convnext_tiny(num_classes=100, drop_path_rate=0.1, stem_stride=2):
    if stem_stride not in STEM_STRIDES:
        raise ValueError(f"stem_stride must be one of {STEM_STRIDES}, got {stem_stride!r}")
    if not 0 <= drop_path_rate < 1:
        raise ValueError(f"drop_path_rate must be in [0, 1), got {drop_path_rate!r}")
    model = ConvNeXt(num_classes=num_classes, depths=CONVNEXT_T_DEPTHS, dims=CONVNEXT_T_DIMS,
                     patch_size=4, drop_path_rate=drop_path_rate)
    model.stem[0] = patchify_stem_conv(model.in_chans, CONVNEXT_T_DIMS[0], stem_stride)
    return model


# --- timm's ImageNet ConvNeXt-T, fine-tuned -------------------------------------------------------------------
# ``convnext_tiny_timm``: timm's ``convnext_tiny`` (the paper's T, unchanged: stride-4 patchify stem) with the
# paper's ImageNet-1k weights (``convnext_tiny.fb_in1k``), fine-tuned at 224×224 by default. From scratch it
# runs at 32×32 with the last stage at 1×1. See cifar100lab.models.timm_backed for ``pretrained``.
CONVNEXT_TINY_TIMM = "convnext_tiny.fb_in1k"


@register_model("convnext_tiny_timm", family="convnext", group="modern conv", source="timm", paper=PAPER_CONVNEXT,
                recipe="convnext_finetune", pretrained_source=CONVNEXT_TINY_TIMM,
                pretrained_input_size=224, default_pretrained="hub")
def build_convnext_tiny_timm(num_classes=100, pretrained=None):
    return create_timm_model(CONVNEXT_TINY_TIMM, num_classes, pretrained)
