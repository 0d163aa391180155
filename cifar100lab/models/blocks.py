"""Building blocks shared verbatim by more than one model family.

VAN-style networks (Guo et al., "Visual Attention Network", 2022) — the macro design that SegNeXt's
MSCAN and LSKNet both inherit unchanged; the two differ only in their stem and in the spatial gating
unit inside the attention (and the LayerNorm eps). Everything else here is the same in both reference
implementations (Visual-Attention-Network/SegNeXt ``mscan.py``, zcablii/LSKNet ``lsknet.py``):

* ``OverlapPatchEmbed``: k×k conv with stride s and padding k//2, then BatchNorm.
* ``DepthwiseConvMlp``: 1×1 conv -> 3×3 depthwise conv -> GELU -> 1×1 conv (channels-first).
* ``SpatialAttention``: 1×1 conv -> GELU -> gating unit -> 1×1 conv, plus its own shortcut.
* ``VanBlock``: x + DropPath(γ1·attn(BN(x))), then x + DropPath(γ2·MLP(BN(x))), γ initialised to 1e-2.
* ``VanStyleNet``: stem -> 4 stages of blocks, each stage ending in a LayerNorm (the last stage's is the
  classifier's norm, applied per position before pooling as in VAN's classifier) -> average pool -> Linear.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch.nn as nn
from timm.layers import ClassifierHead, DropPath, LayerNorm2d, LayerScale2d, trunc_normal_

# Stem strides that keep the last of four stages (stem stride × 8 downsampling) >= 2×2 on 32×32 input.
VAN_STEM_STRIDES = (1, 2)


def check_van_options(stem_stride, drop_rate, drop_path_rate) -> None:
    if stem_stride not in VAN_STEM_STRIDES:
        raise ValueError(f"stem_stride must be one of {VAN_STEM_STRIDES} (32x32 input keeps a last stage >= 2x2), "
                         f"got {stem_stride!r}")
    for name, rate in (("drop_rate", drop_rate), ("drop_path_rate", drop_path_rate)):
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"{name} must be in [0, 1), got {rate!r}")


def drop_path_schedule(rate: float, n: int) -> list[float]:
    """Stochastic depth rising linearly from 0 to ``rate`` over ``n`` blocks (plain Python, so models can
    also be built on the meta device, where the registry checks options without allocating memory)."""
    return [rate * i / max(1, n - 1) for i in range(n)]


class OverlapPatchEmbed(nn.Sequential):
    """Overlapping patch embedding: k×k conv (stride ``stride``, padding k//2) + BatchNorm."""

    def __init__(self, in_chs: int, out_chs: int, patch_size: int, stride: int):
        super().__init__(nn.Conv2d(in_chs, out_chs, patch_size, stride, patch_size // 2), nn.BatchNorm2d(out_chs))


class DepthwiseConvMlp(nn.Module):
    """Conv MLP whose hidden layer also mixes 3×3 neighbourhoods (a depthwise conv before the GELU)."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden_dim, 1)
        self.dwconv = nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1, groups=hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden_dim, dim, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        return self.drop(self.fc2(x))


class SpatialAttention(nn.Module):
    """Projection -> GELU -> spatial gating unit (which multiplies its input by an attention map) -> projection."""

    def __init__(self, dim: int, gating_layer: Callable[[int], nn.Module]):
        super().__init__()
        self.proj_1 = nn.Conv2d(dim, dim, 1)
        self.act = nn.GELU()
        self.spatial_gating_unit = gating_layer(dim)
        self.proj_2 = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        return x + self.proj_2(self.spatial_gating_unit(self.act(self.proj_1(x))))


class VanBlock(nn.Module):
    def __init__(self, dim: int, gating_layer: Callable[[int], nn.Module], mlp_ratio: float, drop: float = 0.0,
                 drop_path: float = 0.0, layer_scale_init: float = 1e-2):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(dim)
        self.attn = SpatialAttention(dim, gating_layer)
        self.ls1 = LayerScale2d(dim, layer_scale_init)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = DepthwiseConvMlp(dim, int(dim * mlp_ratio), drop)
        self.ls2 = LayerScale2d(dim, layer_scale_init)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        x = x + self.drop_path(self.ls1(self.attn(self.norm1(x))))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))


class VanStyleNet(nn.Module):
    """``stem`` maps the image to ``embed_dims[0]`` channels; later stages downsample ×2 with a 3×3 patch embed."""

    def __init__(self, stem: nn.Module, gating_layer: Callable[[int], nn.Module], num_classes: int = 100,
                 embed_dims: Sequence[int] = (32, 64, 160, 256), depths: Sequence[int] = (3, 3, 5, 2),
                 mlp_ratios: Sequence[float] = (8, 8, 4, 4), drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 norm_eps: float = 1e-5):
        super().__init__()
        drop_paths = drop_path_schedule(drop_path_rate, sum(depths))
        stages, first_block = [], 0
        for i, (dim, depth, mlp_ratio) in enumerate(zip(embed_dims, depths, mlp_ratios)):
            patch_embed = stem if i == 0 else OverlapPatchEmbed(embed_dims[i - 1], dim, patch_size=3, stride=2)
            blocks = [VanBlock(dim, gating_layer, mlp_ratio, drop_rate, drop_paths[first_block + j])
                      for j in range(depth)]
            stages.append(nn.Sequential(patch_embed, *blocks, LayerNorm2d(dim, eps=norm_eps)))
            first_block += depth
        self.stages = nn.Sequential(*stages)
        self.head = ClassifierHead(embed_dims[-1], num_classes, pool_type="avg")
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m):
        # The references' init: He-normal on fan-out (per group) for convs, truncated normal for the Linear.
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.head(self.stages(x))
