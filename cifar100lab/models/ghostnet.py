"""GhostNet 1.0× (Han et al. 2020), timm's ``ghostnet_100``.

Trained from scratch by default, at 32×32 with the ImageNet architecture unchanged: the stride-2 stem
and four stride-2 stages bring 32×32 down to 1×1 in the last stage (the network is fully convolutional
with a global pool, so it runs at any size; keeping timm's layout keeps scratch and fine-tuned runs the
same network). ``pretrained`` fine-tunes timm's ImageNet-1k weights (``ghostnet_100.in1k``, 224×224);
see :mod:`cifar100lab.models.timm_backed`.
"""
from __future__ import annotations

from ._registry import register_model
from .timm_backed import create_timm_model

PAPER_GHOSTNET = "Han et al., GhostNet: More Features from Cheap Operations, CVPR 2020"
GHOSTNET_100 = "ghostnet_100.in1k"


@register_model("ghostnet_100", family="ghostnet", group="lightweight", source="timm", paper=PAPER_GHOSTNET,
                recipe="ghostnet_sgd", pretrained_source=GHOSTNET_100,
                pretrained_input_size=224, default_pretrained=None)
def build_ghostnet_100(num_classes=100, pretrained=None):
    return create_timm_model(GHOSTNET_100, num_classes, pretrained)
