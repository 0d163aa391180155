"""Swin-T (Liu et al. 2021), timm's ``swin_tiny_patch4_window7_224``: four stages of shifted-window attention,
width 96 doubling per stage, depths (2, 2, 6, 2), heads (3, 6, 12, 24), patch merging between stages.

At 224×224 (its pretraining size) it is timm's network unchanged, fine-tuned from the paper's ImageNet-1k
weights (``swin_tiny_patch4_window7_224.ms_in1k``) by default. At any other size it is built from scratch in
its small-image layout: patch 4 → 2 and window 7 → 4, so a 32×32 image gives stages of 16, 8, 4 and 2 px
(ImageNet: 56, 28, 14, 7) with 4×4 windows; in the last stage, smaller than a window, timm shrinks the window
to the stage (2×2, not shifted), as the ImageNet layout's last stage is one 7×7 window. The relative-position
tables are sized by the window. See :mod:`cifar100lab.models.timm_backed` for ``pretrained``.
"""
from __future__ import annotations

from ._registry import register_model
from .timm_backed import check_multiple, create_timm_model, imagenet_layout

PAPER_SWIN = "Liu et al., Swin Transformer: Hierarchical Vision Transformer using Shifted Windows, ICCV 2021"
SWIN_T = "swin_tiny_patch4_window7_224.ms_in1k"
PRETRAINED_SIZE = 224
SMALL_PATCH, SMALL_WINDOW = 2, 4
TOTAL_STRIDE = SMALL_PATCH * 8  # the patch, then three 2× patch mergings


@register_model("swin_tiny", family="swin", group="transformers", source="timm", paper=PAPER_SWIN,
                recipe="vit_finetune", scratch_recipe="swin_scratch", pretrained_source=SWIN_T,
                pretrained_input_size=PRETRAINED_SIZE,
                default_pretrained="hub", pretrained_size_only=True,
                adaptation=(("patch", "4", str(SMALL_PATCH)), ("window", "7", str(SMALL_WINDOW))))
def build_swin_tiny(num_classes=100, pretrained=None, img_size=32, drop_path_rate=0.2):
    # drop_path_rate: the paper's stochastic depth for Swin-T (§A2.1: 0.2)
    if imagenet_layout("Swin-T", img_size, PRETRAINED_SIZE, pretrained):
        return create_timm_model(SWIN_T, num_classes, pretrained, drop_path_rate=drop_path_rate)
    check_multiple("Swin-T", img_size, TOTAL_STRIDE, "whole patches in every stage")
    return create_timm_model(SWIN_T, num_classes, None, img_size=img_size, patch_size=SMALL_PATCH,
                             window_size=SMALL_WINDOW, drop_path_rate=drop_path_rate)
