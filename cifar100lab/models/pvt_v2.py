"""PVT-v2-B0 (Wang et al. 2022), timm's ``pvt_v2_b0``: an overlapping 7×7 stride-4 patch embedding, four stages
(widths 32, 64, 160, 256; depths 2 each) of attention whose keys and values are a conv-reduced grid (spatial
reduction ratios 8, 4, 2, 1), convolutional feed-forward layers and no position embeddings.

At 224×224 (its pretraining size) it is timm's network unchanged, fine-tuned from the paper's ImageNet-1k
weights (``pvt_v2_b0.in1k``) by default. At any other size it is built from scratch in its small-image layout:
patch-embedding stride 4 → 2 (the 7×7 kernel kept) and reduction ratios (8, 4, 2, 1) → (4, 2, 1, 1). A 32×32
image then gives stages of 16, 8, 4 and 2 px (ImageNet: 56, 28, 14, 7) whose keys and values are 4×4 grids
(the last stage's whole 2×2), where the ImageNet layout's are 7×7 in every stage; the ImageNet ratios at
32 px would reduce them to a single pixel. See :mod:`cifar100lab.models.timm_backed` for ``pretrained``.
"""
from __future__ import annotations

from ._registry import register_model
from .timm_backed import check_multiple, create_timm_model, imagenet_layout

PAPER_PVT_V2 = "Wang et al., PVT v2: Improved Baselines with Pyramid Vision Transformer, CVMJ 2022"
PVT_V2_B0 = "pvt_v2_b0.in1k"
PRETRAINED_SIZE = 224
SMALL_STEM_STRIDE = 2
SMALL_SR_RATIOS = (4, 2, 1, 1)
TOTAL_STRIDE = SMALL_STEM_STRIDE * 8  # the stem, then three 2× patch embeddings


@register_model("pvt_v2_b0", family="pvt_v2", group="transformers", source="timm", paper=PAPER_PVT_V2,
                recipe="vit_finetune", scratch_recipe="pvt_scratch", pretrained_source=PVT_V2_B0,
                pretrained_input_size=PRETRAINED_SIZE,
                default_pretrained="hub", pretrained_size_only=True,
                adaptation=(("stem stride", "4", str(SMALL_STEM_STRIDE)),
                            ("K/V reduction", "8, 4, 2, 1", ", ".join(map(str, SMALL_SR_RATIOS)))))
def build_pvt_v2_b0(num_classes=100, pretrained=None, img_size=32, drop_path_rate=0.1):
    # drop_path_rate: the PVT v2 release's stochastic depth for B0 (its classification config: 0.1)
    if imagenet_layout("PVT-v2-B0", img_size, PRETRAINED_SIZE, pretrained):
        return create_timm_model(PVT_V2_B0, num_classes, pretrained, drop_path_rate=drop_path_rate)
    check_multiple("PVT-v2-B0", img_size, TOTAL_STRIDE, "whole reduced grids in every stage")
    model = create_timm_model(PVT_V2_B0, num_classes, None, drop_path_rate=drop_path_rate,
                              sr_ratios=SMALL_SR_RATIOS)
    model.patch_embed.proj.stride = (SMALL_STEM_STRIDE, SMALL_STEM_STRIDE)  # padding 3 still centres the 7×7
    return model
