"""Model families, one file each, and the registry they register into (timm's layout).

A family is one file in this folder whose ``@register_model`` functions register its networks: importing this
package imports every module in it (:func:`import_families`), so a new file is found without editing a list. A
file that fails to import (a typo, a registration that cannot stand) is kept in ``BROKEN_FILES`` with its line,
and the registry refuses to answer until it is fixed: every command says so in one line.
Models in another installed package register through the ``cifar100lab.models`` entry point group
(:func:`load_plugins`): its value names a module, which registers its models when imported.
"""
import importlib
import importlib.util
import pkgutil
import traceback
import warnings
from importlib.metadata import entry_points

from ._registry import (
    BROKEN_FILES,
    GROUPS,
    MODEL_REGISTRY,
    PROBE_SIZES,
    STUDY_MODELS,
    TRAINING_FLOPS_PER_FORWARD,
    ModelEntry,
    PretrainedWeightsUnavailable,
    RegistrationError,
    UnknownModelError,
    check_options,
    classifier_name,
    count_flops,
    count_params,
    create_model,
    forward_problem,
    model_entry,
    model_names,
    model_set,
    option_words,
    register_model,
    resolve_input_size,
    runs_at,
    shaped_by_input_size,
)
from .timm_backed import hub_weights_unreachable, missing_weights, probe_hub_once, weights_file

PLUGIN_GROUP = "cifar100lab.models"


def import_families() -> None:
    """Import every module of this package (``_``-prefixed ones are its own machinery): each registers its models.
    One that fails is kept in ``BROKEN_FILES`` (the registry's first use raises it as one line), not raised here:
    raised while this package is imported, it came back as a traceback from every command."""
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            name, before = f"{__name__}.{module.name}", set(MODEL_REGISTRY)
            try:
                importlib.import_module(name)
            except Exception as e:  # whatever a model file being written may raise
                BROKEN_FILES[name] = why_not_imported(e, importlib.util.find_spec(name).origin)
                for half_done in set(MODEL_REGISTRY) - before:  # so the fixed file registers them again
                    del MODEL_REGISTRY[half_done]
            else:
                BROKEN_FILES.pop(name, None)


def why_not_imported(e: Exception, path: str) -> str:
    """'model file PATH, line N: what went wrong': the line in the file itself, however deep the error was raised."""
    if isinstance(e, SyntaxError) and e.filename == path:
        line, what = e.lineno, f"{type(e).__name__}: {e.msg}"
    else:
        lines = [frame.lineno for frame in traceback.extract_tb(e.__traceback__) if frame.filename == path]
        line = lines[-1] if lines else None
        what = str(e) if isinstance(e, RegistrationError) else f"{type(e).__name__}: {e}"
    return f"model file {path}{f', line {line}' if line else ''}: {what}"


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

__all__ = ["BROKEN_FILES", "GROUPS", "MODEL_REGISTRY", "PLUGIN_GROUP", "PROBE_SIZES", "STUDY_MODELS",
           "TRAINING_FLOPS_PER_FORWARD", "ModelEntry", "PretrainedWeightsUnavailable", "RegistrationError",
           "UnknownModelError", "check_options", "classifier_name", "count_flops", "count_params", "create_model",
           "forward_problem", "hub_weights_unreachable", "import_families", "load_plugins", "missing_weights",
           "probe_hub_once", "model_entry", "model_names", "model_set", "register_model", "resolve_input_size",
           "option_words", "runs_at", "shaped_by_input_size", "weights_file"]
