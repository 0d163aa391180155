"""Model families, one file each, and the registry they register into (timm's layout).

Importing this package registers every family, so ``create_model`` / ``model_entry`` / ``model_names``
imported from here always see all of them.
"""
from . import (
    cifar_resnet,  # noqa: F401  ResNet-20/32/56, ECA-ResNet-20/32, Ghost-ResNet-20/32
    coatnet,  # noqa: F401  CoAtNet-0 (timm)
    convnext,  # noqa: F401  ConvNeXt-T for 32x32 (own) and timm's pretrained ConvNeXt-T
    cspresnet,  # noqa: F401  CSPResNet-50 (timm)
    ghostnet,  # noqa: F401  GhostNet 1.0x (timm)
    hornet,  # noqa: F401  HorNet-T, recursive gated convolution (own)
    lsknet,  # noqa: F401  LSKNet-T (own)
    mixer,  # noqa: F401  MLP-Mixer tiny (own) and timm's Mixer-B/16
    mscan,  # noqa: F401  SegNeXt MSCAN-T encoder (own)
    resnest,  # noqa: F401  ResNeSt-50d (timm)
)
from ._registry import (
    GROUPS,
    MODEL_REGISTRY,
    ModelEntry,
    PretrainedWeightsUnavailable,
    UnknownModelError,
    check_options,
    classifier_name,
    count_flops,
    count_params,
    create_model,
    model_entry,
    model_names,
    register_model,
    resolve_input_size,
    shaped_by_input_size,
)
from .timm_backed import missing_weights, weights_file

__all__ = ["GROUPS", "MODEL_REGISTRY", "ModelEntry", "PretrainedWeightsUnavailable", "UnknownModelError",
           "check_options", "classifier_name", "count_flops", "count_params", "create_model", "model_entry",
           "missing_weights", "model_names", "register_model", "resolve_input_size", "shaped_by_input_size",
           "weights_file"]
