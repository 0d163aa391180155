"""What is known of the models without building one, importable without torch: the report's model groups, the
original study's networks and the FLOP convention for training. The registry (:mod:`.models`) checks each model
against these; the report and the book read them (and :mod:`.model_catalog`'s rows) without importing torch."""
from __future__ import annotations

from typing import Callable

# The original report's Table 2 groups, in its order, then the Vision Transformers its future work named.
GROUPS = ("basic ResNet", "attention", "lightweight", "modern conv", "hybrid & advanced", "MLP", "transformers")
# The original study's eighteen networks: what a campaign's ``models: study`` means, whatever else is registered.
STUDY_MODELS = ("resnet_20", "resnet_32", "resnet_56", "eca_resnet_20", "eca_resnet_32", "ghost_resnet_20",
                "ghost_resnet_32", "ghostnet_100", "convnext_tiny", "convnext_tiny_timm", "segnext_mscan_tiny",
                "lsknet_tiny", "coatnet_0", "cspresnet50", "resnest50d", "hornet_tiny", "mlp_mixer_tiny",
                "mlp_mixer_b16")
# A training step's FLOPs per image as a multiple of the forward pass's (backward: input and weight gradients,
# each about a forward). The bench and the Performance page count training this way: torch's FlopCounterMode
# counts a grouped convolution's backward as if ungrouped (a depthwise 7×7 at 64 channels: 66× its forward).
TRAINING_FLOPS_PER_FORWARD = 3


def training_flops(network: dict) -> float:
    """FLOPs one training image costs a network of a campaign bench (``flops_per_image``: its forward): forward and
    backward, and the forward of a distilling run's teacher (``teacher``: its ``flops_per_image``)."""
    return TRAINING_FLOPS_PER_FORWARD * network["flops_per_image"] + network.get("teacher", {}).get("flops_per_image", 0)


def resolve_model_set(name: str, registered: Callable[[], list[str]]) -> list[str]:
    """The model names a campaign's ``models: <name>`` stands for, given the registered names (the registry's, or
    the catalog's where torch is not imported); ValueError for any other word."""
    sets = {"study": lambda: sorted(STUDY_MODELS), "registered": registered}
    if name == "all":  # once meant the study's 18 while nothing else was registered: now it would mean either
        raise ValueError(f"models: all is ambiguous; write models: study (the original study's {len(STUDY_MODELS)} "
                         f"models) or models: registered (every registered model, now {len(registered())}, "
                         f"growing with each model added)")
    if name not in sets:
        raise ValueError(f"models: {name} is not a model set; write {' or '.join(sets)}, or a list of model names")
    return sets[name]()
