"""CoAtNet-0 (Dai et al. 2021), timm's ``coatnet_0_rw_224``.

The only CoAtNet-0-sized model timm has ImageNet weights for (``coatnet_0_rw_224.sw_in1k``) is Ross
Wightman's variant of the paper's C-C-T-T layout: same widths (96/192/384/768), but 7 instead of 5
transformer blocks in stage 3 (26.7 M parameters with 100 classes vs the paper's 25 M), a 32→64
two-conv stem, SiLU MBConv blocks with pre-norm and avg-pool downsampling. Scratch runs use the same
network so scratch and fine-tuned results compare one architecture.

The transformer stages' relative-position tables are sized by the input (``img_size``): 32×32 (scratch
default) gives 2×2 and 1×1 attention maps, 224×224 (fine-tuning default) 14×14 and 7×7. ``img_size``
must be a multiple of 32. Pretrained weights load at any such size: timm resizes the tables.
"""
from __future__ import annotations

from ._registry import register_model
from .timm_backed import create_timm_model

PAPER_COATNET = "Dai et al., CoAtNet: Marrying Convolution and Attention for All Data Sizes, NeurIPS 2021"
COATNET_0 = "coatnet_0_rw_224.sw_in1k"
TOTAL_STRIDE = 32


@register_model("coatnet_0", family="coatnet", group="hybrid & advanced", source="timm", paper=PAPER_COATNET,
                recipe="hybrid_adamw", pretrained_source=COATNET_0,
                pretrained_input_size=224, default_pretrained="hub")
def build_coatnet_0(num_classes=100, pretrained=None, img_size=32):
    if img_size < TOTAL_STRIDE or img_size % TOTAL_STRIDE:
        raise ValueError(f"CoAtNet-0 img_size must be a positive multiple of {TOTAL_STRIDE} (e.g. 32, 64, 224), "
                         f"got {img_size}")
    return create_timm_model(COATNET_0, num_classes, pretrained, img_size=img_size)
