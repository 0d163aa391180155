"""CSPResNet-50 (Wang et al. 2020, CSPNet), timm's ``cspresnet50``.

Fine-tuned from timm's ImageNet-1k weights (``cspresnet50.ra_in1k``) at 224×224 by default; timm trained
them at 256×256, 224 keeps the benchmark's one fine-tuning resolution. From scratch it runs at 32×32
with the ImageNet architecture unchanged (fully convolutional, global pool; the last stage is 1×1).
See :mod:`cifar100lab.models.timm_backed` for ``pretrained``.
"""
from __future__ import annotations

from ._registry import register_model
from .timm_backed import create_timm_model

PAPER_CSPNET = "Wang et al., CSPNet: A New Backbone that can Enhance Learning Capability of CNN, CVPR Workshops 2020"
CSPRESNET50 = "cspresnet50.ra_in1k"


@register_model("cspresnet50", family="cspresnet", group="hybrid & advanced", source="timm", paper=PAPER_CSPNET,
                recipe="hybrid_adamw", pretrained_source=CSPRESNET50,
                pretrained_input_size=224, default_pretrained="hub")
def build_cspresnet50(num_classes=100, pretrained=None):
    return create_timm_model(CSPRESNET50, num_classes, pretrained)
