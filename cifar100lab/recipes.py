"""Named training recipes (the original report §3.4.3) -> optimizer and per-step LR schedule.

Scaling rule: ``batch_size`` and ``lr`` are *per process* (per GPU). With ``lr_scaling="linear"``
(default; Goyal et al. 2017) the learning rate used is ``lr × world_size``, so the global batch and the
learning rate grow together; ``"none"`` keeps ``lr`` for any world size (the original report's
8 × 128 = 1024 global batch at lr 0.1 is ``lr_scaling: none``); ``"sqrt"`` uses ``lr × √world_size``.

Regularisation and fine-tuning fields are all off by default, so the report's recipes are unchanged
unless a YAML turns one on: Mixup/CutMix (``timm.data.Mixup``, soft-target loss), RandAugment or
TrivialAugmentWide and random erasing (torchvision ``transforms.v2``, batched on the device), weight EMA
(``timm.utils.ModelEmaV3``, bias-corrected), gradient-norm clipping, a frozen backbone for the whole run (linear
probe) or its first ``freeze_epochs``, and layer-wise lr decay (``timm.optim.param_groups_layer_decay``).
"""
from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch

from .config_files import did_you_mean, with_guesses


@dataclass(frozen=True)
class Recipe:
    optimizer: str = "sgd"  # sgd | adamw
    lr: float = 0.1  # per process, see lr_scaling
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "cosine"  # cosine | multistep | constant
    warmup_epochs: float = 0.0  # linear warmup from ~0, then the schedule
    min_lr: float = 0.0  # cosine floor
    milestones: tuple[float, ...] = (0.5, 0.75)  # multistep: fractions of the run
    gamma: float = 0.1  # multistep factor
    label_smoothing: float = 0.0
    lr_scaling: str = "linear"  # linear | sqrt | none
    decay_norm_and_bias: bool = True  # False: no weight decay on norm weights, biases and the model's no_weight_decay()
    # regularisation and augmentation (off by default)
    mixup: float = 0.0  # Mixup Beta(alpha, alpha); 0: off
    cutmix: float = 0.0  # CutMix Beta(alpha, alpha); 0: off
    mix_prob: float = 1.0  # share of batches mixed (when mixup or cutmix is on)
    mix_switch_prob: float = 0.5  # with both on: share of mixed batches that use CutMix
    auto_augment: str = "none"  # none | randaugment | trivialaugment
    ra_ops: int = 2  # RandAugment: operations per image
    ra_magnitude: int = 9  # RandAugment: magnitude (0-30)
    random_erasing: float = 0.0  # probability of erasing a random box (filled with the dataset mean)
    ema_decay: float = 0.0  # weight EMA decay, applied from the first step (bias-corrected); 0: no EMA
    grad_clip: float = 0.0  # clip the gradient norm to this; 0: off
    # fine-tuning strategies (the original report §3.4.2)
    freeze: str = "none"  # none | backbone (only the classifier trains: a linear probe)
    freeze_epochs: int = 0  # train only the classifier for the first N epochs, then everything
    layer_decay: float = 1.0  # layer-wise lr decay: layer i of L gets lr × layer_decay^(L-1-i); 1: off
    # knowledge distillation (Hinton et al. 2015; see cifar100lab.distill); off without distill_from
    distill_from: str | None = None  # teacher: a run folder, an export folder, or MODEL@WEIGHTS (a registered model)
    distill_alpha: float = 0.5  # weight of the teacher's soft targets; 1 - alpha weighs the labels
    distill_temperature: float = 4.0  # softmax temperature of both sides of the soft term


CHOICES = {"optimizer": ("sgd", "adamw"), "schedule": ("cosine", "multistep", "constant"),
           "lr_scaling": ("linear", "sqrt", "none"), "auto_augment": ("none", "randaugment", "trivialaugment"),
           "freeze": ("none", "backbone")}

_ADAMW = dict(optimizer="adamw", warmup_epochs=5.0, decay_norm_and_bias=False)
RECIPES: dict[str, Recipe] = {
    # ResNet / ECA-ResNet / Ghost-ResNet: SGD 0.1, momentum 0.9, wd 5e-4, cosine to ~0.
    "resnet_sgd": Recipe(),
    # GhostNet from scratch: the GhostNet paper's weight decay.
    "ghostnet_sgd": Recipe(weight_decay=4e-5),
    # ConvNeXt from scratch: AdamW 5e-4, wd 0.05, 5-epoch warmup.
    "convnext_scratch": Recipe(lr=5e-4, weight_decay=0.05, **_ADAMW),
    # ConvNeXt-T ImageNet fine-tune.
    "convnext_finetune": Recipe(lr=5e-5, weight_decay=0.05, **_ADAMW),
    # CoAtNet, CSPResNet, ResNeSt fine-tunes and HorNet: AdamW 1e-3, wd 0.05.
    "hybrid_adamw": Recipe(lr=1e-3, weight_decay=0.05, **_ADAMW),
    # MLP-Mixer (tiny and B/16), MSCAN, LSKNet: AdamW 1e-3, wd 0.01.
    "mixer_adamw": Recipe(lr=1e-3, weight_decay=0.01, **_ADAMW),
    # Vision Transformers from scratch, each as its paper trains it on ImageNet-1k (crop/flip only here: the
    # papers' RandAugment, Mixup/CutMix and random erasing are recipe fields a campaign may add). Learning rates
    # are for the full campaign's global batch of 1024 (lr_scaling: none there).
    # DeiT (Touvron et al. 2021, Table 9): AdamW, lr 5e-4 × batch/512 = 1e-3, wd 0.05, 5 warm-up epochs, cosine,
    # label smoothing 0.1; cosine floor 1e-5 (the DeiT code's --min-lr).
    "deit_scratch": Recipe(lr=1e-3, weight_decay=0.05, min_lr=1e-5, label_smoothing=0.1, **_ADAMW),
    # Swin (Liu et al. 2021, §A2.1): AdamW, lr 1e-3 at batch 1024, wd 0.05, 20 warm-up epochs, cosine, gradient
    # norm clipped at 5, label smoothing 0.1 (DeiT's augmentation, which Swin adopts); cosine floor 1e-5 (the Swin
    # code's MIN_LR 5e-6 at batch 512, scaled as its code scales it).
    "swin_scratch": Recipe(lr=1e-3, weight_decay=0.05, min_lr=1e-5, label_smoothing=0.1, grad_clip=5.0,
                           **{**_ADAMW, "warmup_epochs": 20.0}),
    # MaxViT (Tu et al. 2022, appendix: ImageNet-1k settings): AdamW, lr 3e-3 at batch 4096 → 7.5e-4 at 1024 by
    # the linear rule, wd 0.05, label smoothing 0.1, cosine; its 10k warm-up steps at batch 4096 are 32 ImageNet
    # epochs, kept as 32 epochs.
    "maxvit_scratch": Recipe(lr=7.5e-4, weight_decay=0.05, label_smoothing=0.1, **{**_ADAMW, "warmup_epochs": 32.0}),
    # PVT v2 (Wang et al. 2022, classification settings, which follow DeiT): AdamW, lr 5e-4 × batch/512 = 1e-3, wd 0.05, 5 warm-up
    # epochs, cosine, label smoothing 0.1; cosine floor 1e-5 (the PVT code's, DeiT's --min-lr).
    "pvt_scratch": Recipe(lr=1e-3, weight_decay=0.05, min_lr=1e-5, label_smoothing=0.1, **_ADAMW),
    # The four fine-tuned from ImageNet-1k at 224 px: lr 5e-5 and wd 0.05 of this project's ConvNeXt-T fine-tune
    # (convnext_finetune), label smoothing 0.1 as in the scratch recipes, and layer-wise lr decay 0.75, MAE's for
    # end-to-end fine-tuning of ViT-B (He et al. 2022, appendix A.1): the blocks near the input, which carry the
    # most general ImageNet features, move least.
    "vit_finetune": Recipe(lr=5e-5, weight_decay=0.05, label_smoothing=0.1, layer_decay=0.75, **_ADAMW),
}


def valid_keys() -> list[str]:
    return [f.name for f in fields(Recipe)]


# Allowed range of every numeric recipe field: (low, high, whether high itself is allowed).
RANGES = {"lr": (0, math.inf, False), "momentum": (0, 1, False), "weight_decay": (0, math.inf, False),
          "warmup_epochs": (0, math.inf, False), "min_lr": (0, math.inf, False), "gamma": (0, 1, True),
          "label_smoothing": (0, 1, False), "mixup": (0, math.inf, False), "cutmix": (0, math.inf, False),
          "mix_prob": (0, 1, True), "mix_switch_prob": (0, 1, True), "ra_ops": (1, 10, True),
          "ra_magnitude": (0, 30, True), "random_erasing": (0, 1, True), "ema_decay": (0, 1, False),
          "grad_clip": (0, math.inf, False), "freeze_epochs": (0, math.inf, False), "layer_decay": (0, 1, True),
          "distill_alpha": (0, 1, True), "distill_temperature": (0, math.inf, False)}


# Fields that act only when another field allows: (the fields they depend on, whether this recipe lets them act,
# what they are, what would use them), as build_optimizer, lr_factor, learner's Mixup, the augmentation policy and
# the distillation loss read them. A value the user set that does nothing is refused; a recipe's own is not (the
# AdamW recipes keep SGD's momentum default, say).
_SCHEDULE, _OPTIMIZER, _MIXING = ("schedule",), ("optimizer",), ("mixup", "cutmix")
_TEACHER = "distill_from (the teacher: a run folder, an export folder or MODEL@WEIGHTS)"
DEPENDENT = {
    "min_lr": (_SCHEDULE, lambda r: r.schedule == "cosine", "the cosine schedule's floor", "schedule: cosine"),
    "milestones": (_SCHEDULE, lambda r: r.schedule == "multistep", "where the multistep schedule decays",
                   "schedule: multistep"),
    "gamma": (_SCHEDULE, lambda r: r.schedule == "multistep", "the multistep schedule's factor",
              "schedule: multistep"),
    "momentum": (_OPTIMIZER, lambda r: r.optimizer == "sgd", "SGD's momentum (AdamW's are betas)", "optimizer: sgd"),
    "nesterov": (_OPTIMIZER, lambda r: r.optimizer == "sgd", "SGD's Nesterov momentum", "optimizer: sgd"),
    "betas": (_OPTIMIZER, lambda r: r.optimizer == "adamw", "AdamW's moment decays (SGD's is momentum)",
              "optimizer: adamw"),
    "mix_prob": (_MIXING, lambda r: bool(r.mixup or r.cutmix), "the share of batches Mixup/CutMix mixes",
                 "mixup or cutmix above 0"),
    "mix_switch_prob": (_MIXING, lambda r: bool(r.mixup and r.cutmix), "the share of mixed batches that take "
                        "CutMix rather than Mixup when both are on", "both mixup and cutmix above 0"),
    "ra_ops": (("auto_augment",), lambda r: r.auto_augment == "randaugment", "RandAugment's operations per image",
               "auto_augment: randaugment"),
    "ra_magnitude": (("auto_augment",), lambda r: r.auto_augment == "randaugment", "RandAugment's magnitude",
                     "auto_augment: randaugment"),
    "decay_norm_and_bias": (("weight_decay",), lambda r: r.weight_decay > 0, "whether weight decay reaches norm "
                            "weights and biases", "weight_decay above 0"),
    "label_smoothing": (("distill_alpha",), lambda r: not (r.distill_from and r.distill_alpha == 1),
                        "the labels' smoothing, and at distill_alpha 1 the labels' loss weighs nothing",
                        "distill_alpha below 1"),
    "distill_alpha": (("distill_from",), lambda r: bool(r.distill_from), "the teacher's weight in the loss", _TEACHER),
    "distill_temperature": (("distill_from",), lambda r: bool(r.distill_from), "the softmax temperature of the "
                            "teacher's soft targets", _TEACHER),
}


def idle_setting(key: str, recipe: Recipe) -> str:
    """Why the recipe field ``key``, as ``recipe`` stands, does nothing, and what would use it: one line."""
    depends, _, what, use = DEPENDENT[key]
    now = ", ".join(f"{k}: {getattr(recipe, k)}" for k in depends).replace(": None", ": null")
    return f"{_idle(key)} with {now}: it is {what}; drop it, or set {use}"


def _idle(key: str) -> str:  # how an idle setting's line begins, which from_defaults_note finds in an error
    return f"recipe {key} does nothing"



def from_defaults_note(defaults: dict, extra: dict | None, error: Exception) -> str:
    """For a campaign run refused for a setting that does nothing (:func:`idle_setting`) which came from the
    campaign's defaults, which reach every model: "drop it" is then the wrong advice for the models it is for
    (a mixed SGD/AdamW campaign's momentum), so say where to put it."""
    own = (extra or {}).get("overrides") or {}
    keys = [k for k in defaults.get("overrides") or {} if k not in own and _idle(k) in str(error)]
    return (f" ({', '.join(keys)}: from defaults.overrides, which reach every model; to keep it for the others, "
            f"set it on their model entries instead: {{model: NAME, overrides: {{...}}}})") if keys else ""


def registered_recipe(entry, pretrained: str | None) -> str:
    """The recipe a run of the model ``entry`` (a models.ModelEntry) uses unless told; a ValueError naming the model
    and its file when its register_model names one that is not a recipe."""
    if why := registration_problem(entry):
        raise ValueError(why)
    return entry.default_recipe(pretrained)


def registration_problem(entry) -> str | None:
    """What is wrong with the recipes a model's ``register_model`` names (``entry``: its models.ModelEntry), or
    None. The models import no recipes, so a mistyped name there is found here: when a run of the model is planned
    with its own recipe (:func:`registered_recipe`), and when the models are counted."""
    named = {"recipe": entry.recipe, "scratch_recipe": entry.scratch_recipe}
    bad = [f"{key}={name!r}{did_you_mean(name, RECIPES)}" for key, name in named.items()
           if name is not None and name not in RECIPES]
    if not bad:
        return None
    return (f"model {entry.name!r}: its register_model ({registered_at(entry.builder)}) names {' and '.join(bad)}, "
            f"{'which is not a recipe' if len(bad) == 1 else 'which are not recipes'}; valid recipes: "
            f"{', '.join(RECIPES)}")


def registered_at(builder) -> str:
    """Where a model builder's ``register_model`` is written: 'FILE, line N' (its decorator's line), else its module."""
    try:
        return f"{inspect.getsourcefile(builder)}, line {inspect.getsourcelines(builder)[1]}"
    except (OSError, TypeError):  # a builder made at run time, or not a function
        return f"module {getattr(builder, '__module__', '?')}"


def build_recipe(name: str, overrides: dict[str, Any] | None = None, idle_ok: bool = False) -> Recipe:
    """The named recipe with ``overrides`` applied; unknown names, keys or values fail here, naming the key, and so
    does a setting that does nothing (:data:`DEPENDENT`) unless ``idle_ok`` (a run trained before it was refused)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid: {', '.join(RECIPES)}")
    overrides = dict(overrides or {})
    bad = sorted(set(overrides) - set(valid_keys()))
    if bad:
        raise ValueError(f"unknown recipe key(s) {with_guesses(bad, valid_keys())}; valid keys: "
                         f"{', '.join(valid_keys())}")
    for key, value in overrides.items():
        overrides[key] = _checked(key, value)
    recipe = replace(RECIPES[name], **overrides)
    if not idle_ok and (idle := [key for key in DEPENDENT if key in overrides and not DEPENDENT[key][1](recipe)]):
        raise ValueError("; ".join(idle_setting(key, recipe) for key in idle))
    if recipe.lr <= 0:
        raise ValueError(f"recipe lr must be above 0, got {recipe.lr}")
    if recipe.schedule == "cosine" and recipe.min_lr > recipe.lr:  # it would climb from lr to min_lr
        raise ValueError(f"recipe min_lr ({recipe.min_lr:g}) is the cosine's floor and must be at most lr "
                         f"({recipe.lr:g})")
    if recipe.optimizer == "sgd" and recipe.nesterov and not recipe.momentum:
        raise ValueError("recipe nesterov: true needs momentum above 0 (got momentum 0); set momentum or "
                         "nesterov: false")
    return recipe


def _checked(key: str, value: Any) -> Any:
    """One override value, type- and range-checked against the Recipe field it replaces."""
    if key in CHOICES:
        if value not in CHOICES[key]:
            raise ValueError(f"recipe {key}={value!r} is not one of {', '.join(CHOICES[key])}")
        return value
    if key == "distill_from":
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f"recipe distill_from must be a run folder, an export folder or MODEL@WEIGHTS "
                             f"(or null: no distillation), got {value!r}")
        return value
    default = getattr(Recipe, key)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"recipe {key} must be true or false, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"recipe {key} must be a list of numbers, got {value!r}")
        if key == "betas" and len(value) != 2:
            raise ValueError(f"recipe betas must be two numbers, got {value!r}")
        return tuple(_number(f"{key}[{i}]", v, (0, 1, False)) for i, v in enumerate(value))
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"recipe {key} must be a whole number, got {value!r}")
        return int(_number(key, value, RANGES[key]))
    return _number(key, value, RANGES[key])


def _number(key: str, value: Any, bounds: tuple) -> float:
    low, high, high_ok = bounds
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"recipe {key} must be a finite number, got {value!r}")
    if key in ("layer_decay", "distill_temperature") and value == 0:
        hint = " (1 turns it off)" if key == "layer_decay" else " (the softmax temperature; 1 is plain softmax)"
        raise ValueError(f"recipe {key} must be above 0{hint}, got 0")
    if value < low or value > high or (value == high and not high_ok):
        closing = "]" if high_ok else ")"
        raise ValueError(f"recipe {key}={value!r} is out of range [{low}, {high}{closing}")
    return float(value)


def scaled_lr(recipe: Recipe, world_size: int) -> float:
    factor = {"linear": world_size, "sqrt": math.sqrt(world_size), "none": 1}[recipe.lr_scaling]
    return recipe.lr * factor


def build_optimizer(model: torch.nn.Module, recipe: Recipe, world_size: int = 1, fused: bool | None = None,
                    capturable: bool = False):
    """The recipe's optimizer over the parameters that train (a frozen backbone's have requires_grad off);
    ``capturable``: AdamW's step count stays on the device, so a CUDA graph can capture its step."""
    lr = scaled_lr(recipe, world_size)
    groups = param_groups(model, recipe)
    for g in groups:  # layer decay: each group's peak lr; the schedule then scales every group alike
        g["lr"] = lr * g.pop("lr_scale", 1.0)
    extra = {} if fused is None else {"fused": fused}
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=recipe.momentum, nesterov=recipe.nesterov, **extra)
    return torch.optim.AdamW(groups, lr=lr, betas=recipe.betas, capturable=capturable, **extra)


def param_groups(model: torch.nn.Module, recipe: Recipe) -> list[dict]:
    """Weight-decay groups; with ``layer_decay`` < 1, timm's layer-wise groups (each with an ``lr_scale``),
    built from the model's ``group_matcher`` (``config.resolve`` refuses models without one). Without
    ``decay_norm_and_bias``, the parameters the model names in ``no_weight_decay()`` (position embeddings, class
    tokens, relative position tables) are exempt too, as timm's optimizer factory, DeiT, Swin and MAE exempt them."""
    import fnmatch
    skip = tuple(model.no_weight_decay()) if hasattr(model, "no_weight_decay") and not recipe.decay_norm_and_bias \
        else ()
    if recipe.layer_decay < 1:
        from timm.optim import param_groups_layer_decay
        return param_groups_layer_decay(model, weight_decay=recipe.weight_decay, layer_decay=recipe.layer_decay,
                                        weight_decay_exclude_1d=not recipe.decay_norm_and_bias,
                                        no_weight_decay_list=skip)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            exempt = not recipe.decay_norm_and_bias and (p.ndim <= 1 or any(fnmatch.fnmatch(name, s) for s in skip))
            (no_decay if exempt else decay).append(p)
    return [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(recipe: Recipe, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """Multiplier of the peak LR at optimizer step ``step`` (0-based)."""
    warmup = int(round(recipe.warmup_epochs * steps_per_epoch))
    if step < warmup:
        return (step + 1) / warmup
    if recipe.schedule == "cosine":  # over the steps after the warmup (ConvNeXt's and MAE's schedulers)
        progress = (step - warmup) / max(1, total_steps - warmup)
        floor = recipe.min_lr / recipe.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if recipe.schedule == "multistep":  # milestones are fractions of the whole run, warmup included (Goyal et al.)
        return recipe.gamma ** sum(step >= m * total_steps for m in recipe.milestones)
    return 1.0


def build_scheduler(optimizer, recipe: Recipe, epochs: int, steps_per_epoch: int):
    total = epochs * steps_per_epoch  # warmup_epochs < epochs is checked when the run is resolved
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(recipe, step, total, steps_per_epoch))


def recipe_dict(recipe: Recipe) -> dict:
    return asdict(recipe)
