"""HorNet-T (Rao et al. 2022): recursive gated convolution (gnConv) in a ConvNeXt-style macro design.

The paper's HorNet-T-7×7: base width 64 (stages 64/128/256/512), depths 2/3/18/2, gnConv orders
2/3/4/5 per stage, gate scale s = 1/3, 7×7 depthwise conv, LayerScale (init 1e-6), stochastic depth,
channels-first LayerNorm; 22.4 M params at ImageNet with 1000 classes.

* gnConv (paper §3.1, Eq. 3–5): a 1×1 projection to 2C gives p0 (C/2^(n-1) channels) and the
  context q0..q(n-1) (C/2^(n-1), …, C/2, C channels, all through one 7×7 depthwise conv, times s);
  then p(k+1) = g_k(p_k) ⊙ q_k with 1×1 convs g_k widening C/2^(n-1-k) -> C/2^(n-2-k), and a final 1×1
  projection. Order n = number of gated products, so stage i mixes space at order i + 2.
* Block: x + DropPath(γ1 · gnConv(LN(x))), then x + DropPath(γ2 · MLP(LN(x))) with a 4× GELU MLP.
* Head: global average pool, LayerNorm, Linear.

Only adaptation for 32×32 — the stem stride (``stem_stride``, default 2). The paper's stem is a 4×4
stride-4 patchify conv + LayerNorm; on 32×32 input that leaves 8/4/2/1 stage resolutions, a 1×1 last
stage. Stride 2 (a 2×2 patchify conv, same form) gives 16/8/4/2, the largest stride that keeps the last
stage at 2×2, at ~0.33 GMACs. ``stem_stride=1`` (a 1×1 "patch") gives 32/16/8/4, closer to ImageNet's
56/28/14/7 relative to the 7×7 kernel, at ~4× the compute (~1.3 GMACs). The stem keeps kernel = stride
(non-overlapping patches), as in the paper.

``drop_path_rate`` defaults to 0.2, the value of the authors' HorNet-T-7×7 ImageNet-1k run
(raoyongming/HorNet TRAINING.md); it rises linearly over the 25 blocks.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers import (
    DropPath,
    LayerNorm,
    LayerNorm2d,
    LayerScale,
    LayerScale2d,
    Mlp,
    NormMlpClassifierHead,
    trunc_normal_,
)

from ._registry import register_model
from .blocks import drop_path_schedule

PAPER_HORNET = ("Rao et al., HorNet: Efficient High-Order Spatial Interactions with Recursive Gated Convolutions, "
                "NeurIPS 2022")
STEM_STRIDES = (1, 2)


class GnConv(nn.Module):
    """Recursive gated convolution of order ``order`` (spatial mixing with order-many gated products)."""

    def __init__(self, dim: int, order: int, kernel_size: int = 7, scale: float = 1.0 / 3.0):
        super().__init__()
        if order < 1 or dim % 2 ** (order - 1):
            raise ValueError(f"gnConv order {order} needs dim divisible by 2^(order-1), got dim={dim}")
        # Channel widths of the recursion, narrowest first: C/2^(n-1), ..., C/2, C.
        self.dims = [dim // 2 ** k for k in reversed(range(order))]
        context_chs = sum(self.dims)  # + dims[0] == 2C
        self.scale = scale  # s in Eq. 5: keeps the product of n gates from blowing up early in training
        self.proj_in = nn.Conv2d(dim, 2 * dim, 1)
        self.dwconv = nn.Conv2d(context_chs, context_chs, kernel_size, padding=kernel_size // 2, groups=context_chs)
        self.pws = nn.ModuleList(nn.Conv2d(self.dims[k], self.dims[k + 1], 1) for k in range(order - 1))
        self.proj_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        p, context = torch.split(self.proj_in(x), (self.dims[0], sum(self.dims)), dim=1)
        gates = torch.split(self.dwconv(context) * self.scale, self.dims, dim=1)
        x = p * gates[0]
        for pw, gate in zip(self.pws, gates[1:]):
            x = pw(x) * gate
        return self.proj_out(x)


class HorNetBlock(nn.Module):
    def __init__(self, dim: int, order: int, drop_path: float = 0.0, layer_scale_init: float = 1e-6,
                 gnconv_scale: float = 1.0 / 3.0):
        super().__init__()
        self.norm1 = LayerNorm2d(dim, eps=1e-6)
        self.gnconv = GnConv(dim, order, scale=gnconv_scale)
        self.ls1 = LayerScale2d(dim, layer_scale_init)
        # The MLP runs channels-last (Linear layers), as in the reference implementation.
        self.norm2 = LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim, act_layer=nn.GELU)
        self.ls2 = LayerScale(dim, layer_scale_init)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        x = x + self.drop_path(self.ls1(self.gnconv(self.norm1(x))))
        mlp_out = self.ls2(self.mlp(self.norm2(x.permute(0, 2, 3, 1)))).permute(0, 3, 1, 2)
        return x + self.drop_path(mlp_out)


class HorNet(nn.Module):
    def __init__(self, num_classes: int = 100, depths=(2, 3, 18, 2), base_dim: int = 64, orders=(2, 3, 4, 5),
                 gnconv_scale: float = 1.0 / 3.0, stem_stride: int = 2, drop_path_rate: float = 0.2,
                 layer_scale_init: float = 1e-6, in_chans: int = 3):
        super().__init__()
        dims = [base_dim * 2 ** i for i in range(len(depths))]
        self.stem = nn.Sequential(nn.Conv2d(in_chans, dims[0], stem_stride, stem_stride),
                                  LayerNorm2d(dims[0], eps=1e-6))
        drop_rates = drop_path_schedule(drop_path_rate, sum(depths))
        stages, first_block = [], 0
        for i, (dim, depth, order) in enumerate(zip(dims, depths, orders)):
            downsample = (nn.Identity() if i == 0 else
                          nn.Sequential(LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, 2)))
            blocks = [HorNetBlock(dim, order, drop_rates[first_block + j], layer_scale_init, gnconv_scale)
                      for j in range(depth)]
            stages.append(nn.Sequential(downsample, *blocks))
            first_block += depth
        self.stages = nn.Sequential(*stages)
        # Pool -> LayerNorm -> Linear; LayerNorm2d on the pooled (N, C, 1, 1) map is the paper's LayerNorm.
        self.head = NormMlpClassifierHead(dims[-1], num_classes, norm_layer=LayerNorm2d)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


@register_model("hornet_tiny", family="hornet", group="hybrid & advanced", source="own", paper=PAPER_HORNET,
                recipe="hybrid_adamw", adaptation=(("stem stride", "4", "2"),))
def hornet_tiny(num_classes=100, drop_path_rate=0.2, stem_stride=2):
    if stem_stride not in STEM_STRIDES:
        raise ValueError(f"stem_stride must be one of {STEM_STRIDES} (32x32 input keeps a last stage >= 2x2), "
                         f"got {stem_stride!r}")
    if not 0 <= drop_path_rate < 1:
        raise ValueError(f"drop_path_rate must be in [0, 1), got {drop_path_rate!r}")
    return HorNet(num_classes, depths=(2, 3, 18, 2), base_dim=64, orders=(2, 3, 4, 5), gnconv_scale=1.0 / 3.0,
                  stem_stride=stem_stride, drop_path_rate=drop_path_rate)
