"""Model families, one file each, and the registry they register into (timm's layout).

A family is one file in this folder whose ``@register_model`` functions register its networks: importing this
package imports every module in it (:func:`import_families`), so a new file is found without editing a list.
Models in another installed package register through the ``cifar100lab.models`` entry point group
(:func:`load_plugins`): its value names a module, which registers its models when imported.
"""
import importlib
import pkgutil
import warnings
from importlib.metadata import entry_points

from ._registry import (
    GROUPS,
    MODEL_REGISTRY,
    STUDY_MODELS,
    TRAINING_FLOPS_PER_FORWARD,
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
    model_set,
    register_model,
    resolve_input_size,
    shaped_by_input_size,
)
from .timm_backed import hub_weights_unreachable, missing_weights, probe_hub_once, weights_file

PLUGIN_GROUP = "cifar100lab.models"


def import_families() -> None:
    """Import every module of this package (``_``-prefixed ones are its own machinery): each registers its models."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


def load_plugins() -> None:
    """Import the modules other installed packages name in the ``cifar100lab.models`` entry point group. A plugin
    that fails to import is named in a warning and left out, so one broken package does not stop every command."""
    for point in entry_points(group=PLUGIN_GROUP):
        try:
            point.load()
        except Exception as e:  # anything a third party's import may raise
            warnings.warn(f"model plugin {point.name} ({point.value}) was not loaded: {type(e).__name__}: {e}",
                          stacklevel=2)


import_families()
load_plugins()

__all__ = ["GROUPS", "MODEL_REGISTRY", "PLUGIN_GROUP", "STUDY_MODELS", "TRAINING_FLOPS_PER_FORWARD",
           "ModelEntry", "PretrainedWeightsUnavailable", "UnknownModelError", "check_options", "classifier_name", "count_flops",
           "count_params", "create_model", "hub_weights_unreachable", "import_families", "load_plugins", "missing_weights",
           "probe_hub_once", "model_entry",
           "model_names", "model_set", "register_model", "resolve_input_size", "shaped_by_input_size",
           "weights_file"]
