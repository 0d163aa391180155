"""Named training recipes (the original report §3.4.3) -> optimizer and per-step LR schedule.

Scaling rule: ``batch_size`` and ``lr`` are *per process* (per GPU). With ``lr_scaling="linear"``
(default; Goyal et al. 2017) the learning rate used is ``lr × world_size``, so the global batch and the
learning rate grow together; ``"none"`` keeps ``lr`` for any world size (the original report's
8 × 128 = 1024 global batch at lr 0.1 is ``lr_scaling: none``); ``"sqrt"`` uses ``lr × √world_size``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch


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
    decay_norm_and_bias: bool = True  # False: no weight decay on norm weights and biases (AdamW practice)


CHOICES = {"optimizer": ("sgd", "adamw"), "schedule": ("cosine", "multistep", "constant"),
           "lr_scaling": ("linear", "sqrt", "none")}

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
}


def valid_keys() -> list[str]:
    return [f.name for f in fields(Recipe)]


def build_recipe(name: str, overrides: dict[str, Any] | None = None) -> Recipe:
    """The named recipe with ``overrides`` applied; unknown names, keys or values fail here."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid: {', '.join(RECIPES)}")
    overrides = dict(overrides or {})
    bad = sorted(set(overrides) - set(valid_keys()))
    if bad:
        raise ValueError(f"unknown recipe key(s) {', '.join(bad)}; valid keys: {', '.join(valid_keys())}")
    for key, options in CHOICES.items():
        if key in overrides and overrides[key] not in options:
            raise ValueError(f"recipe {key}={overrides[key]!r} is not one of {', '.join(options)}")
    for key in ("betas", "milestones"):
        if key in overrides:
            overrides[key] = tuple(overrides[key])
    recipe = replace(RECIPES[name], **overrides)
    if recipe.lr <= 0 or recipe.weight_decay < 0 or not 0 <= recipe.label_smoothing < 1:
        raise ValueError(f"recipe values out of range: lr={recipe.lr}, weight_decay={recipe.weight_decay}, "
                         f"label_smoothing={recipe.label_smoothing}")
    return recipe


def scaled_lr(recipe: Recipe, world_size: int) -> float:
    factor = {"linear": world_size, "sqrt": math.sqrt(world_size), "none": 1}[recipe.lr_scaling]
    return recipe.lr * factor


def make_optimizer(model: torch.nn.Module, recipe: Recipe, world_size: int = 1, fused: bool | None = None):
    lr = scaled_lr(recipe, world_size)
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if (p.ndim <= 1 and not recipe.decay_norm_and_bias) else decay).append(p)
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    extra = {} if fused is None else {"fused": fused}
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=recipe.momentum, nesterov=recipe.nesterov, **extra)
    return torch.optim.AdamW(groups, lr=lr, betas=recipe.betas, **extra)


def lr_factor(recipe: Recipe, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """Multiplier of the peak LR at optimizer step ``step`` (0-based)."""
    warmup = int(round(recipe.warmup_epochs * steps_per_epoch))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    if recipe.schedule == "cosine":
        floor = recipe.min_lr / recipe.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if recipe.schedule == "multistep":
        return recipe.gamma ** sum(progress >= m for m in recipe.milestones)
    return 1.0


def make_scheduler(optimizer, recipe: Recipe, epochs: int, steps_per_epoch: int):
    total = epochs * steps_per_epoch
    if recipe.warmup_epochs >= epochs:
        raise ValueError(f"warmup_epochs ({recipe.warmup_epochs}) must be shorter than the run ({epochs} epochs); "
                         f"override warmup_epochs for short runs")
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(recipe, step, total, steps_per_epoch))


def recipe_dict(recipe: Recipe) -> dict:
    return asdict(recipe)
