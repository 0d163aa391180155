"""CIFAR ResNets (He et al. 2016, §4.2) and the two variants the report builds on them.

One network, ``CifarResNet``: three stages of 16/32/64 channels, ``n = (depth - 2) / 6`` BasicBlocks
per stage, global average pool, linear head. Variants swap parts of the BasicBlock:

* ECA-ResNet (Wang et al. 2020, ECA-Net): timm's ``EcaModule`` inserted at ``position``
  ``"conv1"`` (conv1 -> ECA -> ReLU), ``"conv2"`` (conv2 -> ECA -> add; the paper's place and our
  default) or ``"add"`` (add -> ECA -> ReLU). ``k_size`` is 3/5/7… or ``"adaptive"`` (the paper's
  rule k = |log2(C)/γ + b/γ|_odd, γ=2, b=1, which gives 3 for 16–64 channels).
* Ghost-ResNet (Han et al. 2020, GhostNet §4.1): every 3×3 conv of the BasicBlocks replaced by
  timm's ``GhostModule`` (3×3 primary conv producing 1/ratio of the channels, 3×3 depthwise cheap
  operations for the rest). The stem conv stays a plain conv, as in the paper's Ghost-ResNet-56.
  timm's module normalises its primary and cheap outputs (a BatchNorm each, as in GhostNet) and the
  BasicBlock's own BatchNorm follows, as after any conv: a Ghost module written as a bare conv
  replacement lacks those inner norms (36 of them, 1,344 parameters, in Ghost-ResNet-20).

Shortcut: ``shortcut="A"`` (He et al.'s CIFAR choice: identity, strided and zero-padded in channels
when the shape changes; no parameters) or ``"B"`` (1×1 conv + BN projection when the shape changes).
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import EcaModule
from timm.models.ghostnet import GhostModule

from ._registry import register_model

PAPER_RESNET = "He et al., Deep Residual Learning for Image Recognition, CVPR 2016"
PAPER_ECA = "Wang et al., ECA-Net: Efficient Channel Attention, CVPR 2020"
PAPER_GHOST = "Han et al., GhostNet: More Features from Cheap Operations, CVPR 2020"
ECA_POSITIONS = ("conv1", "conv2", "add")


def conv3x3(in_chs: int, out_chs: int, stride: int = 1) -> nn.Module:
    return nn.Conv2d(in_chs, out_chs, 3, stride, 1, bias=False)


def ghost3x3(in_chs: int, out_chs: int, stride: int = 1, ratio: int = 2) -> nn.Module:
    return GhostModule(in_chs, out_chs, kernel_size=3, ratio=ratio, dw_size=3, stride=stride, act_layer=nn.Identity)


STAGE_CHANNELS = (16, 32, 64)  # He et al.'s CIFAR widths


class ShortcutA(nn.Module):
    """Parameter-free shortcut: subsample spatially, zero-pad the new channels."""

    def __init__(self, in_chs: int, out_chs: int, stride: int):
        super().__init__()
        self.stride, self.pad = stride, out_chs - in_chs

    def forward(self, x):
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))


def build_eca(channels: int, k_size) -> nn.Module:
    # timm's EcaModule derives the adaptive kernel from `channels`; passing None keeps k fixed.
    if k_size == "adaptive":
        return EcaModule(channels=channels)
    return EcaModule(kernel_size=int(k_size))


class BasicBlock(nn.Module):
    def __init__(self, in_chs, out_chs, stride=1, conv_layer=conv3x3, shortcut="A", attn_layer=None,
                 attn_position="conv2"):
        super().__init__()
        self.conv1, self.bn1 = conv_layer(in_chs, out_chs, stride), nn.BatchNorm2d(out_chs)
        self.conv2, self.bn2 = conv_layer(out_chs, out_chs), nn.BatchNorm2d(out_chs)
        self.attn = attn_layer(out_chs) if attn_layer else nn.Identity()
        self.attn_position = attn_position
        if stride == 1 and in_chs == out_chs:
            self.shortcut = nn.Identity()
        elif shortcut == "A":
            self.shortcut = ShortcutA(in_chs, out_chs, stride)
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(in_chs, out_chs, 1, stride, bias=False), nn.BatchNorm2d(out_chs))

    def forward(self, x):
        out = self.bn1(self.conv1(x))
        if self.attn_position == "conv1":
            out = self.attn(out)
        out = self.bn2(self.conv2(F.relu(out)))
        if self.attn_position == "conv2":
            out = self.attn(out)
        out = out + self.shortcut(x)
        if self.attn_position == "add":
            out = self.attn(out)
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, depth=20, num_classes=100, widths=STAGE_CHANNELS, conv_layer=conv3x3, shortcut="A",
                 attn_layer=None, attn_position="conv2", in_chans=3):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110…), got {depth}")
        if shortcut not in ("A", "B"):
            raise ValueError(f"shortcut must be 'A' or 'B', got {shortcut!r}")
        if attn_position not in ECA_POSITIONS:
            raise ValueError(f"attention position must be one of {ECA_POSITIONS}, got {attn_position!r}")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        blocks, in_chs = [], widths[0]
        for stage, out_chs in enumerate(widths):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(in_chs, out_chs, stride, conv_layer, shortcut, attn_layer, attn_position))
                in_chs = out_chs
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(in_chs, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict:
        """timm's layer grouping (the stem, then one group per block; the head last), for layer-wise lr decay."""
        return {"stem": r"^stem", "blocks": r"^blocks\.(\d+)"}

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def eca_canonical(options: dict) -> dict:
    """``k_size: adaptive`` is the fixed kernel it resolves to when every stage resolves to the same one (the
    paper's rule gives k = 3 for 16-64 channels): then it is that network, not a new one."""
    if options.get("k_size") != "adaptive":
        return options
    kernels = {EcaModule(channels=c).conv.kernel_size[0] for c in STAGE_CHANNELS}  # timm's own rule
    return {**options, "k_size": kernels.pop()} if len(kernels) == 1 else options


def _check_k(k_size):
    # bool is an int to Python: YAML's `true`/`on` would build a k=1 ECA labelled k_size=True
    if k_size != "adaptive" and (not isinstance(k_size, int) or isinstance(k_size, bool) or k_size < 1
                                 or k_size % 2 == 0):
        raise ValueError(f"k_size must be an odd positive integer or 'adaptive', got {k_size!r}")


def _resnet(depth):
    def build(num_classes=100, shortcut="A"):
        return CifarResNet(depth, num_classes, shortcut=shortcut)
    return build


def _eca_resnet(depth):
    def build(num_classes=100, k_size=3, position="conv2", shortcut="A"):
        _check_k(k_size)
        return CifarResNet(depth, num_classes, shortcut=shortcut, attn_layer=partial(build_eca, k_size=k_size),
                           attn_position=position)
    return build


def _ghost_resnet(depth):
    def build(num_classes=100, ratio=2, shortcut="A"):
        if not isinstance(ratio, int) or ratio < 2:
            raise ValueError(f"ghost ratio must be an integer >= 2, got {ratio!r}")
        return CifarResNet(depth, num_classes, shortcut=shortcut, conv_layer=partial(ghost3x3, ratio=ratio))
    return build


for _depth in (20, 32, 56):
    register_model(f"resnet_{_depth}", family="resnet", group="basic ResNet", source="own",
                   paper=PAPER_RESNET, recipe="resnet_sgd")(_resnet(_depth))
for _depth in (20, 32):
    register_model(f"eca_resnet_{_depth}", family="eca_resnet", group="attention", source="own",
                   paper=PAPER_ECA, recipe="resnet_sgd", canonical=eca_canonical)(_eca_resnet(_depth))
    register_model(f"ghost_resnet_{_depth}", family="ghost_resnet", group="lightweight", source="own",
                   paper=PAPER_GHOST, recipe="resnet_sgd")(_ghost_resnet(_depth))
