"""DeiT-Tiny (Touvron et al. 2021), timm's ``deit_tiny_patch16_224``: a ViT of 12 blocks, width 192, 3 heads, a
class token and learned position embeddings (the paper's DeiT-Ti, without the distillation token).

At 224×224 (its pretraining size) it is timm's network unchanged, fine-tuned from the paper's ImageNet-1k
weights (``deit_tiny_patch16_224.fb_in1k``) by default. At any other size it is built from scratch in its
small-image layout: patch 16 → 4, so a 32×32 image is 8×8 = 64 tokens where 16×16 patches would leave 2×2;
the position table is sized by that token count. See :mod:`cifar100lab.models.timm_backed` for ``pretrained``.
"""
from __future__ import annotations

from ._registry import register_model
from .timm_backed import check_multiple, create_timm_model, imagenet_layout

PAPER_DEIT = "Touvron et al., Training data-efficient image transformers & distillation through attention, ICML 2021"
DEIT_TINY = "deit_tiny_patch16_224.fb_in1k"
PRETRAINED_SIZE = 224
SMALL_PATCH = 4


@register_model("deit_tiny", family="deit", group="transformers", source="timm", paper=PAPER_DEIT,
                recipe="vit_finetune", scratch_recipe="deit_scratch", pretrained_source=DEIT_TINY,
                pretrained_input_size=PRETRAINED_SIZE,
                default_pretrained="hub", pretrained_size_only=True, adaptation=(("patch", "16", str(SMALL_PATCH)),))
def build_deit_tiny(num_classes=100, pretrained=None, img_size=32, drop_path_rate=0.1):
    # drop_path_rate: DeiT's stochastic depth (paper Table 9: 0.1)
    if imagenet_layout("DeiT-Tiny", img_size, PRETRAINED_SIZE, pretrained):
        return create_timm_model(DEIT_TINY, num_classes, pretrained, drop_path_rate=drop_path_rate)
    check_multiple("DeiT-Tiny", img_size, SMALL_PATCH, f"whole {SMALL_PATCH}×{SMALL_PATCH} patches")
    return create_timm_model(DEIT_TINY, num_classes, None, img_size=img_size, patch_size=SMALL_PATCH,
                             drop_path_rate=drop_path_rate)
