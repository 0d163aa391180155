"""One registry for every model: name -> builder + the metadata the trainer and the report need.

Model files in this package register themselves with ``@register_model(...)`` (timm's layout: the
registry lives beside the families, so importing a family never climbs back out of ``models``);
``create_model`` is the only way the rest of the package builds a model.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import torch

from ..config_files import ConfigError, did_you_mean, with_guesses
from ..model_facts import GROUPS, STUDY_MODELS, TRAINING_FLOPS_PER_FORWARD, resolve_model_set  # noqa: F401 (the registry's names too)


class PretrainedWeightsUnavailable(RuntimeError):
    """Pretrained weights were asked for but cannot be had (no network, no local file); runs are skipped."""


class UnknownModelError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class RegistrationError(ValueError):
    """A ``@register_model`` that cannot stand: its message names the model and what to write instead."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., Any]
    family: str
    group: str
    source: str  # "own" (written here) or "timm"
    paper: str
    recipe: str  # name of the default recipe in cifar100lab.recipes
    input_size: int = 32  # native resolution every model runs at
    pretrained_source: str | None = None  # hub id (timm/Hugging Face); None = trained from scratch only
    default_pretrained: str | None = None  # what a run uses unless told: None (scratch) or "hub" (fine-tune)
    pretrained_input_size: int | None = None  # default resolution for pretrained fine-tuning
    options: dict[str, Any] = field(default_factory=dict)  # tunable options and their defaults
    # options -> the options of the same network in canonical form (e.g. ECA's "adaptive" kernel -> the k it
    # resolves to), so a campaign never trains one network twice under two names
    canonical: Callable[[dict], dict] | None = None
    # Grad-CAM: the module whose output is the map it weighs (a dotted path; default: the family's, CAM_LAYERS)
    # and whether that output is a token sequence (B×N×C) to lay out as the square grid it came from
    cam_layer: str | None = None
    cam_tokens: bool = False
    # the layer for an input at which cam_layer's map is 2×2 or less (a 224-px network trained at 32 px): a 1×1
    # map has one cell to weigh, and its heat map is flat
    cam_layer_small: str | None = None
    # how a family with an ImageNet layout is adapted to small images: (what, ImageNet value, small value) each,
    # e.g. ("patch", "16", "4"); what names a key of the Models page's bilingual labels
    adaptation: tuple[tuple[str, str, str], ...] = ()
    scratch_recipe: str | None = None  # the recipe of a run from scratch where it differs from ``recipe``
    pretrained_size_only: bool = False  # pretrained weights fit only at pretrained_input_size (tables sized by it)

    def default_recipe(self, pretrained: str | None) -> str:
        """The recipe a run uses unless told: ``scratch_recipe`` from scratch where there is one, else ``recipe``."""
        return self.scratch_recipe if pretrained is None and self.scratch_recipe else self.recipe

    @property
    def pretrainable(self) -> bool:
        return self.pretrained_source is not None


MODEL_REGISTRY: dict[str, ModelEntry] = {}

# Grad-CAM's target per family, beside the classifier (:func:`classifier_name`): the last feature map that is
# still wider than 2×2 at the family's run size (at 32 px the modern families' last stage is 2×2, too coarse
# to show where; their third stage is 4×4), as (module path, output is a token sequence[, the path at an input
# where that map is 2×2 or less: the 4×4 one of a 224-px network at 32 px]).
CAM_LAYERS = {"resnet": ("blocks", False), "eca_resnet": ("blocks", False), "ghost_resnet": ("blocks", False),
              "ghostnet": ("blocks.6", False, "blocks.4"), "convnext": ("stages.2", False),
              "hornet": ("stages.2", False), "mscan": ("stages.2", False), "lsknet": ("stages.2", False),
              "coatnet": ("stages.3", False, "stages.1"),
              "cspresnet": ("stages", False, "stages.1"), "resnest": ("layer4", False, "layer2"),
              # Mixer has no convolutional map: its last block's tokens, one per patch, on the patch grid
              "mixer": ("blocks", True),
              # the transformers: MaxViT's and PVT-v2's stages are maps; DeiT's patch tokens before its last block
              # (the last block's reach the head only through the class token; that token dropped) and Swin's
              # channels-last stage, laid out as maps
              "maxvit": ("stages.2", False), "pvt_v2": ("stages.2", False), "deit": ("blocks.10", True),
              "swin": ("layers.2", True)}


SOURCES = ("own", "timm")  # written here, or timm's network
FROM_THE_REGISTRY = ("num_classes", "pretrained", "img_size")  # what create_model passes; not options
# What ``register_model`` takes beyond its named arguments: the entry's other fields
META_FIELDS = tuple(f.name for f in fields(ModelEntry)
                    if f.name not in ("name", "builder", "family", "group", "source", "paper", "recipe", "options"))


def register_model(name: str, *, family: str, group: str, source: str, paper: str, recipe: str,
                   **meta: Any) -> Callable:
    """Decorator: register ``builder(num_classes=..., **options)`` under ``name``; a registration that cannot stand
    (an unknown group, source or keyword, a builder without num_classes or an option without a default, a name
    taken) is a :class:`RegistrationError` naming the fix. The recipe is checked when a run is planned and when the
    models are counted (config.registration_problems): the models import no recipes."""
    if group not in GROUPS:
        raise RegistrationError(f"model {name!r}: group {group!r} is not one of the report's groups {GROUPS} (a new "
                                f"group is added to model_facts.GROUPS and its labels to report/i18n.py's GROUPS)")
    if source not in SOURCES:
        raise RegistrationError(f"model {name!r}: source must be 'own' (written here) or 'timm' (timm's network), "
                                f"got {source!r}")
    if unknown := sorted(set(meta) - set(META_FIELDS)):
        raise RegistrationError(f"model {name!r}: register_model takes no {with_guesses(unknown, META_FIELDS)}; "
                                f"besides family, group, source, paper and recipe it takes {', '.join(META_FIELDS)}")

    def wrap(builder: Callable) -> Callable:
        if name in MODEL_REGISTRY:
            raise RegistrationError(f"model {name!r} registered twice (also in {MODEL_REGISTRY[name].builder.__module__}"
                                    f"); give it a name of its own")
        options = builder_options(name, builder)
        cam_layer, cam_tokens, *small = CAM_LAYERS.get(family, (None, False))
        MODEL_REGISTRY[name] = ModelEntry(name, builder, family, group, source, paper, recipe, options=options,
                                         **{"cam_layer": cam_layer, "cam_tokens": cam_tokens,
                                            "cam_layer_small": next(iter(small), None), **meta})
        return builder

    return wrap


def builder_options(name: str, builder: Callable) -> dict[str, Any]:
    """The model's options, its builder's keyword arguments and their defaults: ``num_classes`` it must take, and
    every other argument needs a default (an option without one would fail each build that does not give it)."""
    params = inspect.signature(builder).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    no_default = [k for k, p in params.items() if k not in FROM_THE_REGISTRY and p.default is p.empty
                  and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if ("num_classes" not in params and not takes_any) or no_default:
        what = "takes no num_classes" if not no_default else f"gives {', '.join(no_default)} no default"
        raise RegistrationError(f"model {name!r}: its builder {builder.__name__}() {what}; a builder is "
                                f"def {builder.__name__}(num_classes=100, option=default, ...), each option with the "
                                f"default a run uses unless told")
    return {k: p.default for k, p in params.items() if k not in FROM_THE_REGISTRY and p.default is not p.empty}


# Model files of this package that failed to import (module -> why, with its file and line): the registry
# answers nothing while one is there, so no command goes on as if that file's models had not been asked for.
BROKEN_FILES: dict[str, str] = {}


def refuse_broken_files() -> None:
    if BROKEN_FILES:
        raise ConfigError(f"{'; '.join(BROKEN_FILES.values())}; fix it (or move it out of the models folder): no "
                          f"model is used while a model file does not import")


def model_names() -> list[str]:
    refuse_broken_files()
    return sorted(MODEL_REGISTRY)


# A campaign's ``models:`` as one word: the study's fixed set, or every model registered now (it grows with each
# model file or plugin added, and says so by its name).
def model_set(name: str) -> list[str]:
    """The model names a campaign's ``models: <name>`` stands for; ValueError for any other word."""
    return resolve_model_set(name, model_names)


def model_entry(name: str) -> ModelEntry:
    refuse_broken_files()
    try:
        return MODEL_REGISTRY[name]
    except KeyError:
        raise UnknownModelError(f"unknown model {name!r}{did_you_mean(name, MODEL_REGISTRY)}; valid names: "
                                f"{', '.join(sorted(MODEL_REGISTRY))}") from None


def check_options(name: str, options: dict[str, Any]) -> None:
    """Fail before any work on an option the model does not take."""
    entry = model_entry(name)
    bad = sorted(set(options) - set(entry.options))
    if bad:
        valid = ", ".join(sorted(entry.options)) or "none"
        raise ValueError(f"model {name!r} has no option(s) {with_guesses(bad, entry.options)}; valid options: {valid}")


def resolve_input_size(name: str, pretrained: str | None = None, img_size: int | None = None) -> int:
    """Native 32x32, or the pretraining resolution when fine-tuning pretrained weights (overridable, except to a
    size the weights do not fit: ValueError)."""
    entry = model_entry(name)
    if pretrained and entry.pretrained_size_only and img_size and int(img_size) != entry.pretrained_input_size:
        raise ValueError(f"{name} pretrained weights fit only img_size={entry.pretrained_input_size}, got {img_size}; "
                         f"use img_size={entry.pretrained_input_size} or pretrained: off")
    if img_size:
        return int(img_size)
    if pretrained and entry.pretrained_input_size:
        return entry.pretrained_input_size
    return entry.input_size


def shaped_by_input_size(name: str) -> bool:
    """Whether the architecture itself depends on the input size (position tables, token count): its builder
    takes ``img_size``. Other models run at any size with the same weights."""
    return "img_size" in inspect.signature(model_entry(name).builder).parameters


def create_model(name: str, num_classes: int = 100, pretrained: str | Path | None = None,
                 img_size: int | None = None, **options: Any):
    """Build a registered model.

    ``pretrained``: None/"off" (scratch), "hub" (timm / Hugging Face, needs a network) or a path to a
    local weights file or folder. ``img_size`` defaults to :func:`resolve_input_size`.
    """
    entry = model_entry(name)
    check_options(name, options)
    if pretrained in (None, "", "off", False):
        pretrained = None
    if pretrained is not None and not entry.pretrainable:
        raise ValueError(f"model {name!r} has no pretrained weights; use pretrained=off")
    kwargs = build_arguments(entry, num_classes, pretrained, img_size, options)
    try:
        network = entry.builder(**kwargs)
    except Exception as e:  # an option value or a size reaches torch or Python's arithmetic: any error at all
        # a size other than the model's own, from scratch (a fine-tune's other sizes would each load its weights)
        size = kwargs.get("img_size") if pretrained is None and kwargs.get("img_size") != entry.input_size else None
        # the defaults build (tests/test_every_model_steps.py); weights that cannot be had are their own case
        if not (options or size) or isinstance(e, PretrainedWeightsUnavailable):
            raise
        raise ConfigError(build_problem(entry, e, options, size)) from None
    check_cam_layer(entry, network)
    return network


def build_arguments(entry: ModelEntry, num_classes: int, pretrained: str | Path | None, img_size: int | None,
                    options: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = dict(num_classes=num_classes, **options)
    if pretrained is not None:
        kwargs["pretrained"] = str(pretrained)
    if shaped_by_input_size(entry.name):
        kwargs["img_size"] = resolve_input_size(entry.name, pretrained, img_size)
    return kwargs


PROBE_SIZES = (16, 24, 32, 48, 64, 96, 128, 224)  # named when a network cannot take the asked input size


def option_words(options: dict[str, Any], defaults: dict[str, Any]) -> tuple[str, str]:
    """The options a run gave and the model's options with their defaults, as error lines name them."""
    return tuple(", ".join(f"{k}={v!r}" for k, v in d.items()) for d in (options, defaults))


def build_problem(entry: ModelEntry, e: Exception, options: dict[str, Any], size: int | None) -> str:
    """The line for a build that failed with the run's options or at its img_size (``size``; None: the model's
    own): the size is named as the cause, with the sizes the network runs at, unless options were given and no
    size tried runs with them (then it is the options, as without a size)."""
    given, defaults = option_words(options, entry.options)
    tried = ", ".join(map(str, PROBE_SIZES))
    works = [str(s) for s in PROBE_SIZES if runs_at(entry.name, options, s)] if size else []
    if size and (works or not options):
        return (f"{entry.name}{f' with {given}' if options else ''} cannot be built for {size}×{size} images "
                f"({option_problem(e)}); img_size it runs at: {', '.join(works) or 'none'} (of {tried} tried)")
    at = f" at img_size {size}; with these options it runs at no img_size tried ({tried})" if size else ""
    return f"{option_problem(e)} (model {entry.name!r} with {given}{at}; its options and their defaults: {defaults})"


def forward_problem(network: torch.nn.Module, input_size: int) -> str | None:
    """Why ``network`` (on the meta device) cannot take one image of ``input_size``, or None. Building it checks
    the options, not the size: a fixed patch grid, or a kernel larger than the last feature map, only fails in
    the forward pass, which on the meta device costs no memory and no arithmetic."""
    try:
        with torch.no_grad():
            network.eval()(torch.empty(1, 3, input_size, input_size, device="meta"))
    except NotImplementedError:  # an operation the meta device lacks says nothing about the size
        return None
    except Exception as e:  # a model file's forward may fail any way (an empty list indexed, a division by zero)
        return f"{type(e).__name__}{': ' + str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    return None


# (builder, options, size) -> whether it runs. A try builds and runs the network on the meta device, a line tries
# every size, and a process asks again for each seed, config and command; the builder itself is in the key, so a
# model file imported again (a new builder under the same name) is tried afresh.
_RUNS_AT: dict[tuple, bool] = {}


def runs_at(name: str, options: dict[str, Any], input_size: int, built: torch.nn.Module | None = None) -> bool:
    """Whether model ``name`` with ``options`` runs on ``input_size`` (built and run on the meta device);
    ``built`` (on the meta device) serves unless the network is built for its input size."""
    key = (model_entry(name).builder, name, repr(sorted(options.items())), input_size)
    if key not in _RUNS_AT:
        _RUNS_AT[key] = _tried_at(name, options, input_size, built)
    return _RUNS_AT[key]


def _tried_at(name: str, options: dict[str, Any], input_size: int, built: torch.nn.Module | None) -> bool:
    if built is None or shaped_by_input_size(name):
        entry = model_entry(name)
        try:
            with torch.device("meta"):  # the builder itself: a failure is an answer here, not create_model's line
                built = entry.builder(**build_arguments(entry, 10, None, input_size, options))
        except Exception:  # whatever a network built for this size raises: not a size it runs at
            return False
    return forward_problem(built, input_size) is None


def check_cam_layer(entry: ModelEntry, network: torch.nn.Module) -> None:
    """Grad-CAM's layer must be in the network: a wrong path would pass training and fail the robustness step."""
    for name, layer in (("cam_layer", entry.cam_layer), ("cam_layer_small", entry.cam_layer_small)):
        try:
            if layer is not None:
                network.get_submodule(layer)
        except AttributeError:
            top = ", ".join(n for n, _ in network.named_children())
            raise ConfigError(f"model {entry.name!r}: {name} {layer!r} (the layer Grad-CAM weighs, from "
                              f"register_model or CAM_LAYERS) is not a module of the network; its top-level modules: "
                              f"{top}") from None


def option_problem(e: Exception) -> str:
    """A builder's own ValueError says what was wrong; anything else (torch's, Python's) also says what it is."""
    return str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"


def classifier_name(model: torch.nn.Module) -> str:
    """The module that maps features to classes: timm's ``pretrained_cfg`` names it; in the networks written
    here it is the last ``nn.Linear``. Everything else is the backbone a linear probe freezes."""
    name = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    if isinstance(name, (list, tuple)):
        name = name[-1]
    linear = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if name or linear:
        return name or linear[-1]
    raise ValueError(f"{type(model).__name__} names no classifier (no pretrained_cfg['classifier'], no nn.Linear)")


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: torch.nn.Module, input_size: int) -> int:
    """FLOPs of one forward pass of one image (torch.utils.flop_counter; a multiply-add counts as 2)."""
    from torch.utils.flop_counter import FlopCounterMode
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, 3, input_size, input_size))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
