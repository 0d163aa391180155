"""MaxViT-T (Tu et al. 2022), timm's ``maxvit_tiny_tf_224`` (the paper's network, ported from its TensorFlow
weights): a two-conv stem, then four stages of MaxViT blocks (MBConv → block attention in windows → grid
attention over a dilated grid), widths (64, 128, 256, 512), depths (2, 2, 5, 2).

At 224×224 (its pretraining size) it is timm's network unchanged, fine-tuned from the paper's ImageNet-1k
weights (``maxvit_tiny_tf_224.in1k``) by default. At any other size it is built from scratch in its
small-image layout: stem stride 2 → 1 and window/grid partition 7 → 2. A 32×32 image then gives stages of
16, 8, 4 and 2 px (ImageNet: 56, 28, 14, 7), each split into 2×2 windows and a 2×2 grid, so the first stage has
8×8 windows as at 224 and the last stage is one window; with the ImageNet stem the stages would be 8 to 1 px
and a partition dividing them all would be 1×1 (attention over single pixels). The stem conv keeps timm's
initialised weights; only its stride changes. See :mod:`cifar100lab.models.timm_backed` for ``pretrained``.
"""
from __future__ import annotations

from timm.layers import create_conv2d

from ._registry import register_model
from .timm_backed import check_multiple, create_timm_model, imagenet_layout

PAPER_MAXVIT = "Tu et al., MaxViT: Multi-Axis Vision Transformer, ECCV 2022"
MAXVIT_T = "maxvit_tiny_tf_224.in1k"
PRETRAINED_SIZE = 224
SMALL_PARTITION = 2
TOTAL_STRIDE = 16 * SMALL_PARTITION  # four 2× stages, each split into whole partitions


@register_model("maxvit_tiny", family="maxvit", group="transformers", source="timm", paper=PAPER_MAXVIT,
                recipe="vit_finetune", scratch_recipe="maxvit_scratch", pretrained_source=MAXVIT_T,
                pretrained_input_size=PRETRAINED_SIZE,
                default_pretrained="hub", pretrained_size_only=True,
                adaptation=(("stem stride", "2", "1"), ("partition", "7", str(SMALL_PARTITION))))
def build_maxvit_tiny(num_classes=100, pretrained=None, img_size=32, drop_path_rate=0.2):
    # drop_path_rate: the paper's stochastic depth for MaxViT-T (appendix, ImageNet-1k settings: 0.2)
    if imagenet_layout("MaxViT-T", img_size, PRETRAINED_SIZE, pretrained):
        return create_timm_model(MAXVIT_T, num_classes, pretrained, drop_path_rate=drop_path_rate)
    check_multiple("MaxViT-T", img_size, TOTAL_STRIDE, f"{SMALL_PARTITION}×{SMALL_PARTITION} partitions in every stage")
    partition = (SMALL_PARTITION, SMALL_PARTITION)
    model = create_timm_model(MAXVIT_T, num_classes, None, img_size=img_size, drop_path_rate=drop_path_rate,
                              transformer_window_size=partition, transformer_grid_size=partition)
    model.stem.conv1 = unstrided(model.stem.conv1)
    model.stem.stride = 1
    return model


def unstrided(conv):
    """``conv`` with stride 1 and TF-style "same" padding (as timm builds the TF-ported stem), same weights."""
    new = create_conv2d(conv.in_channels, conv.out_channels, conv.kernel_size[0], stride=1, padding="same",
                        bias=conv.bias is not None)
    new.load_state_dict(conv.state_dict())
    return new
