"""SegNeXt's MSCAN-T encoder (Guo et al. 2022) with a classification head.

MSCAN-T: embed dims 32/64/160/256, depths 3/3/5/2, MLP ratios 8/8/4/4, BatchNorm in the blocks,
LayerScale (init 1e-2), stochastic depth 0.1 rising linearly over the 13 blocks (the T config), a
LayerNorm (eps 1e-5) closing each stage. The VAN-style skeleton (patch embeds, blocks, conv MLP
with a 3×3 depthwise conv, head) lives in ``blocks.py``; this file adds the two MSCAN-specific parts:

* Multi-scale convolutional attention (paper §3.1, Eq. 1): a 5×5 depthwise conv aggregates local
  context, three branches of depthwise strip convs (1×7 then 7×1, 1×11 then 11×1, 1×21 then 21×1)
  add multi-scale context, the four are summed, a 1×1 conv mixes channels, and the result is used as
  attention weights multiplying the input.
* Stem: two 3×3 convs (C/2 then C channels) with BN, GELU between them.

Head: as in the authors' ImageNet classifier (VAN's), the last stage's LayerNorm is applied per position,
then global average pool and Linear (so the norm precedes the pool).

Only adaptation for 32×32 — the stem stride (``stem_stride``, default 2). The paper's two convs both
have stride 2 (stride 4), which on 32×32 leaves 8/4/2/1 stage resolutions, a 1×1 last stage. With
``stem_stride=2`` the first conv keeps stride 1 (the cheap 3->16 conv sees every pixel) and the second
downsamples: stages at 16/8/4/2. ``stem_stride=1`` (both stride 1) gives 32/16/8/4 at ~4× the compute.
MLP dropout (``drop_rate``) is 0 as in MSCAN-T's configs.

The original report listed 0.85 M parameters for this model; the faithful MSCAN-T with a 100-class
head has 3,929,284 (3.93 M; with a 1000-class head 4.16 M, as expected from SegNeXt-T's 4.3 M for
encoder + decoder).
"""
from __future__ import annotations

import torch.nn as nn

from ._registry import register_model
from .blocks import VanStyleNet, check_van_options

PAPER_SEGNEXT = ("Guo et al., SegNeXt: Rethinking Convolutional Attention Design for Semantic Segmentation, "
                 "NeurIPS 2022")


class MultiScaleConvAttention(nn.Module):
    """MSCA: depthwise 5×5 + three depthwise strip-conv branches, summed, 1×1 conv, times the input."""

    def __init__(self, dim: int, strip_sizes=(7, 11, 21)):
        super().__init__()
        self.local = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        # Each k×k context is a 1×k then k×1 depthwise pair: k×k receptive field at 2k weights per channel.
        self.strips = nn.ModuleList(
            nn.Sequential(nn.Conv2d(dim, dim, (1, k), padding=(0, k // 2), groups=dim),
                          nn.Conv2d(dim, dim, (k, 1), padding=(k // 2, 0), groups=dim))
            for k in strip_sizes)
        self.channel_mix = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        attn = self.local(x)
        attn = attn + sum(strip(attn) for strip in self.strips)
        return self.channel_mix(attn) * x


class MscanStem(nn.Sequential):
    """3×3 conv to C/2 -> BN -> GELU -> 3×3 conv to C -> BN; ``strides`` of the two convs."""

    def __init__(self, in_chs: int, out_chs: int, strides=(2, 2)):
        super().__init__(nn.Conv2d(in_chs, out_chs // 2, 3, strides[0], 1), nn.BatchNorm2d(out_chs // 2), nn.GELU(),
                         nn.Conv2d(out_chs // 2, out_chs, 3, strides[1], 1), nn.BatchNorm2d(out_chs))


@register_model("segnext_mscan_tiny", family="mscan", group="attention", source="own", paper=PAPER_SEGNEXT,
                recipe="mixer_adamw", adaptation=(("stem stride", "4", "2"),))
def segnext_mscan_tiny(num_classes=100, stem_stride=2, drop_path_rate=0.1, drop_rate=0.0):
    check_van_options(stem_stride, drop_rate, drop_path_rate)
    embed_dims = (32, 64, 160, 256)
    stem = MscanStem(3, embed_dims[0], strides=(1, stem_stride))
    return VanStyleNet(stem, MultiScaleConvAttention, num_classes, embed_dims=embed_dims, depths=(3, 3, 5, 2),
                       mlp_ratios=(8, 8, 4, 4), drop_rate=drop_rate, drop_path_rate=drop_path_rate, norm_eps=1e-5)
