"""LSKNet-T (Li et al. 2023): large selective kernel attention in a VAN-style network.

LSKNet-T: embed dims 32/64/160/256, depths 3/3/5/2, MLP ratios 8/8/4/4, BatchNorm in the blocks,
LayerScale (init 1e-2), stochastic depth 0.1 rising linearly over the 13 blocks, a LayerNorm (eps 1e-6)
closing each stage; overlapping patch embeds (conv + BN): 7×7 stride 4 in the stem, 3×3 stride 2 after.
The skeleton (patch embeds, blocks, conv MLP with a 3×3 depthwise conv, head) lives in ``blocks.py``;
this file adds the LSK module (paper §3.2–3.3), the spatial gating unit of each block's attention:

* Large kernel decomposition: depthwise 5×5, then depthwise 7×7 with dilation 3 on its output
  (together a 23×23 receptive field); each of the two is reduced to C/2 channels by its own 1×1 conv.
* Spatial kernel selection: channel-wise average and max of the concatenated features give a 2-channel
  map; a 7×7 conv and a sigmoid turn it into one spatial mask per kernel; the masked features are
  summed, a 1×1 conv restores C channels, and the result multiplies the module's input.

Head: as in VAN's ImageNet classifier (on which LSKNet's pretraining is built), the last stage's LayerNorm
is applied per position, then global average pool and Linear.

Only adaptation for 32×32 — the stem stride (``stem_stride``, default 2). The paper's stride-4 stem leaves
8/4/2/1 stage resolutions on 32×32, a 1×1 last stage; the stem keeps its 7×7 kernel (padding 3) with
stride 2, giving 16/8/4/2. ``stem_stride=1`` gives 32/16/8/4 at ~4× the compute. MLP dropout
(``drop_rate``) defaults to 0, the VAN classifier's default; LSKNet-T's detection configs use 0.1.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ._registry import register_model
from .blocks import OverlapPatchEmbed, VanStyleNet, check_van_options

PAPER_LSKNET = "Li et al., Large Selective Kernel Network for Remote Sensing Object Detection, ICCV 2023"


class LargeSelectiveKernel(nn.Module):
    """LSK module: two depthwise large-kernel features, spatially selected by sigmoid masks, times the input."""

    def __init__(self, dim: int):
        super().__init__()
        self.small_kernel = nn.Conv2d(dim, dim, 5, padding=2, groups=dim)
        self.large_kernel = nn.Conv2d(dim, dim, 7, padding=9, dilation=3, groups=dim)
        self.reduce_small = nn.Conv2d(dim, dim // 2, 1)
        self.reduce_large = nn.Conv2d(dim, dim // 2, 1)
        self.select = nn.Conv2d(2, 2, 7, padding=3)
        self.expand = nn.Conv2d(dim // 2, dim, 1)

    def forward(self, x):
        small = self.small_kernel(x)
        large = self.large_kernel(small)  # sequential: the dilated kernel sees the 5×5 output
        small, large = self.reduce_small(small), self.reduce_large(large)
        feats = torch.cat([small, large], dim=1)
        pooled = torch.cat([feats.mean(dim=1, keepdim=True), feats.amax(dim=1, keepdim=True)], dim=1)
        masks = self.select(pooled).sigmoid()
        return x * self.expand(small * masks[:, :1] + large * masks[:, 1:])


@register_model("lsknet_tiny", family="lsknet", group="attention", source="own", paper=PAPER_LSKNET,
                recipe="mixer_adamw", adaptation=(("stem stride", "4", "2"),))
def lsknet_tiny(num_classes=100, stem_stride=2, drop_path_rate=0.1, drop_rate=0.0):
    check_van_options(stem_stride, drop_rate, drop_path_rate)
    embed_dims = (32, 64, 160, 256)
    stem = OverlapPatchEmbed(3, embed_dims[0], patch_size=7, stride=stem_stride)
    return VanStyleNet(stem, LargeSelectiveKernel, num_classes, embed_dims=embed_dims, depths=(3, 3, 5, 2),
                       mlp_ratios=(8, 8, 4, 4), drop_rate=drop_rate, drop_path_rate=drop_path_rate, norm_eps=1e-6)
