"""ResNeSt-50d (Zhang et al. 2022, split-attention networks), timm's ``resnest50d``.

Fine-tuned from timm's ImageNet-1k weights (``resnest50d.in1k``) at 224×224 by default. From scratch it
runs at 32×32 with the ImageNet architecture unchanged (fully convolutional, global pool; the last stage
is 1×1). See :mod:`cifar100lab.models.timm_backed` for ``pretrained``.
"""
from __future__ import annotations

from ._registry import register_model
from .timm_backed import create_timm_model

PAPER_RESNEST = "Zhang et al., ResNeSt: Split-Attention Networks, CVPR Workshops 2022"
RESNEST50D = "resnest50d.in1k"


@register_model("resnest50d", family="resnest", group="hybrid & advanced", source="timm", paper=PAPER_RESNEST,
                recipe="hybrid_adamw", pretrained_source=RESNEST50D,
                pretrained_input_size=224, default_pretrained="hub")
def build_resnest50d(num_classes=100, pretrained=None):
    return create_timm_model(RESNEST50D, num_classes, pretrained)
