"""What learns, built once for the trainer, the evaluation and the benchmark: :func:`build_learner` wraps a network
the way the trainer runs it (Accelerate, normalizer, autocast, optimizer, schedule, loss, Mixup/CutMix, EMA, a
frozen backbone, a distillation teacher, a CUDA graph of the step), and :meth:`Learner.step` is the one training
step."""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

from . import distill, recipes, records
from .accelerator import cpu_depthwise_in_fp32
from .checkpoint import resumes_from_checkpoint
from .config import ConfigError, RunPlan
from .data import normalizer
from .models import classifier_name, create_model
from .models.timm_backed import weights_identity
from .seeds import seeded
from .step_graph import StepGraph, attach_graph, device_conflict, plain_lrs

__all__ = ["Frozen", "Learner", "as_trained", "build_learner", "build_model", "pretrained_weights",
           "resumed_as_trained"]


class Frozen:
    """The backbone (everything but the classifier) held fixed until epoch ``until``: its gradients are dropped
    before each optimizer step (so neither the update nor weight decay touches it) and its modules stay in eval
    mode (BatchNorm statistics and dropout stay put). Dropping gradients rather than switching
    ``requires_grad`` keeps DDP's buckets valid when the backbone is released."""

    def __init__(self, model: torch.nn.Module, until: int):
        head = classifier_name(model)
        inside = lambda name: name == head or name.startswith(head + ".")  # noqa: E731
        self.params = [p for n, p in model.named_parameters() if not inside(n)]
        # every module outside the classifier that does not contain it (eval() reaches a module's children)
        self.modules = [m for n, m in model.named_modules() if n and not inside(n) and not head.startswith(n + ".")]
        self.until, self.holding = until, until > 0

    def set_epoch(self, epoch: int) -> None:
        self.holding = epoch < self.until

    def hold(self) -> None:
        if self.holding:
            for m in self.modules:
                m.eval()

    def drop_grads(self) -> None:
        if self.holding:
            for p in self.params:
                p.grad = None


@dataclass
class Learner:
    """What learns: the network prepared by Accelerate, fed through the run's normalizer under its autocast,
    with its optimizer, schedule, loss, Mixup/CutMix, EMA and frozen backbone. ``step`` is the training step
    (loss, backward through the scaler, gradient clipping, optimizer, scheduler, EMA); ``forward`` is the
    compiled module when ``compile`` is on. Without an optimizer it only evaluates."""
    accelerator: Any
    model: torch.nn.Module
    forward: Callable
    prepare: Callable
    optimizer: Any = None
    scheduler: Any = None
    criterion: Callable = F.cross_entropy
    mix: Callable | None = None  # timm Mixup: (images, labels) -> (mixed images, soft targets)
    grad_clip: float = 0.0
    ema: Any = None  # timm ModelEmaV3
    frozen: Frozen | None = None
    teacher: distill.Teacher | None = None  # distils: the hard loss becomes the distilled one
    fp32_depthwise_convs: int = 0  # the CPU kernel policy's count (accelerator.cpu_depthwise_in_fp32)
    graph: StepGraph | None = None  # cuda_graph: replays ``update`` as one CUDA graph
    autocast_handler: Any = None  # accelerate's AutocastKwargs (a captured step needs autocast without its cache)

    def step(self, xb: torch.Tensor, yb: torch.Tensor, key: int = 0):
        """One training step on a batch (``key``: the step's seed for Mixup); returns (loss, logits, totals), totals
        being the batch's (loss × images, correct) in float64. A CUDA-graphed step returns the graph's output
        buffers, which the next step overwrites: read them before it."""
        x, target = self.prepare(xb), yb
        if self.mix is not None:
            with seeded(key):  # the step's own draw: a resumed run mixes as the uninterrupted one did
                x, target = self.mix(x, yb)
        out = self.graph(x, target, yb) if self.graph is not None else self.update(x, target, yb)
        self.scheduler.step()  # outside a CUDA graph: it writes the LR tensor the captured optimizer reads
        if self.ema is not None:
            self.ema.update(self.network, step=self.scheduler.last_epoch)
        return out

    def update(self, x: torch.Tensor, target: torch.Tensor, labels: torch.Tensor):
        """Forward, loss, backward, clipping, the optimizer and the batch's totals: the device work a
        :class:`StepGraph` replays (the totals inside it: eight fewer launches a step)."""
        with self.accelerator.autocast(self.autocast_handler):
            logits = self.forward(x)
            loss = self.criterion(logits.float(), target)
            if self.teacher is not None:  # the loss above (under Mixup: against the mixed targets) + the teacher's
                loss = self.teacher.loss(x, logits.float(), loss)
        self.optimizer.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        if self.frozen is not None:
            self.frozen.drop_grads()
        if self.grad_clip:
            self.accelerator.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        totals = torch.stack([loss.detach().double() * len(labels),
                              (logits.detach().argmax(1) == labels).sum().double()])
        return loss, logits, totals

    def logits(self, xb: torch.Tensor) -> torch.Tensor:
        """Evaluation logits, through the network itself, not DDP's wrapper: its first forward after training
        broadcasts the buffers, a collective a process with no image in its share never joins (the run hung);
        :func:`train._evaluations` makes the buffers the main process's first."""
        with self.accelerator.autocast():
            return self.network(self.prepare(xb)).float()

    @functools.cached_property
    def network(self) -> torch.nn.Module:
        """The network itself, without DDP's or compile's wrapper: unwrapped once, since the EMA reads it every step
        and evaluation every batch."""
        return self.accelerator.unwrap_model(self.model)

    def train_mode(self, epoch: int | None = None) -> None:
        """Training mode, with a frozen backbone held in eval mode (``epoch``: the one about to run)."""
        if self.frozen is not None and epoch is not None:
            self.frozen.set_epoch(epoch)
            if not self.frozen.holding and self.optimizer is not None:
                zero_missing_momentum(self.optimizer)
        self.model.train()
        if self.frozen is not None:
            self.frozen.hold()

    def ema_learner(self) -> "Learner":
        """The EMA weights as an evaluable learner (same normalizer and autocast)."""
        return Learner(self.accelerator, self.ema.module, self.ema.module, self.prepare)

    def state_dict(self) -> dict:
        """What a checkpoint keeps of the learner; :func:`build_learner` restores it."""
        accelerator = self.accelerator
        return {"model": self.network.state_dict(),
                "optimizer": plain_lrs(self.optimizer.state_dict()),
                "scheduler": plain_lrs(self.scheduler.state_dict()),
                "scaler": accelerator.scaler.state_dict() if accelerator.scaler else None,
                "ema": self.ema.state_dict() if self.ema is not None else None,
                **({"teacher": self.teacher.state()} if self.teacher is not None else {})}


def zero_missing_momentum(optimizer) -> None:
    """Zero momentum buffers for the parameters of an SGD group that has them for others: a released backbone's.
    Fused SGD takes a group's buffers all at once, and refuses a list with holes. Exact: without dampening, a
    zero buffer's first update is the gradient, as a new buffer's is."""
    optimizer = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper
    for group in optimizer.param_groups:
        if not group.get("momentum") or group.get("dampening"):
            continue
        states = [optimizer.state[p] for p in group["params"]]
        if any(s.get("momentum_buffer") is not None for s in states):
            for p, s in zip(group["params"], states):
                if s.get("momentum_buffer") is None:
                    s["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)


def as_trained(plan: RunPlan, *described: dict | None) -> RunPlan:
    """``plan`` normalising as its run trained: with the ``normalization`` of the first of ``described`` (its
    checkpoint, its record) that keeps one. A fine-tune's statistics are its weights folder's (their config.json),
    read when the plan is resolved: a folder since gone or changed would otherwise give a resumed run, its
    evaluation or its export other statistics than it trained with."""
    for found in described:
        kept = (found or {}).get("normalization")
        if isinstance(kept, dict) and isinstance(kept.get("mean"), list) and isinstance(kept.get("std"), list):
            return dataclasses.replace(plan, mean=tuple(kept["mean"]), std=tuple(kept["std"]),
                                       normalization_source=str(kept.get("source") or plan.normalization_source))
    return plan


def resumed_as_trained(plan: RunPlan, ckpt: dict | None) -> RunPlan:
    """The plan of a run that resumes from ``ckpt`` (its folder's checkpoint, as read) with the statistics it trained
    with (the checkpoint's, or for one written before checkpoints kept them, its record's); without one, as it is."""
    return plan if ckpt is None else as_trained(plan, ckpt, records.load(plan.config.run_dir))


def pretrained_weights(plan: RunPlan) -> dict | None:
    """Which weights the plan's fine-tune starts from (its record's ``pretrained_weights``): the hub repository, or
    the local file with its sha256; for a run that resumes, what its record said (they are not read again). None
    from scratch."""
    if plan.pretrained is None:
        return None
    if resumes_from_checkpoint(plan):
        return (records.load(plan.config.run_dir) or {}).get("pretrained_weights")
    return weights_identity(plan.model.pretrained_source, plan.pretrained)


def build_model(plan: RunPlan, num_classes: int, weights: bool = True) -> torch.nn.Module:
    """The plan's network; ``weights=False`` skips pretrained weights (they come from a checkpoint, or speed
    is all that is measured)."""
    return create_model(plan.config.model, num_classes=num_classes, pretrained=plan.pretrained if weights else None,
                        img_size=plan.input_size, **plan.config.options)


def build_learner(plan: RunPlan, accelerator, model: torch.nn.Module, steps_per_epoch: int | None = None,
                  state: dict | None = None, num_classes: int | None = None,
                  teacher: distill.Teacher | None = None) -> Learner:
    """Wrap ``model`` the way the trainer runs it. With ``steps_per_epoch`` it can train (optimizer and
    schedule from the plan's recipe, ``state`` restored from a checkpoint); without, it only evaluates.
    ``num_classes``: the loaded dataset's (Mixup's soft targets), default the dataset's registered count."""
    cfg, recipe = plan.config, plan.recipe
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    fp32_depthwise = cpu_depthwise_in_fp32(model, accelerator)
    prepare = normalizer(plan.mean, plan.std, accelerator.device, plan.input_size, cfg.channels_last)
    if steps_per_epoch is None:
        model = accelerator.prepare(model)
        return Learner(accelerator, model, model, prepare, fp32_depthwise_convs=fp32_depthwise)
    frozen = _frozen_backbone(model, plan)
    if cfg.cuda_graph and (why := device_conflict(accelerator)):
        raise ConfigError(why)
    fused = cfg.fused_optimizer or cfg.cuda_graph or None  # a captured step reads its LR from a tensor: fused only
    optimizer = recipes.build_optimizer(model, recipe, accelerator.num_processes, fused=fused,
                                        capturable=cfg.cuda_graph)
    scheduler = recipes.build_scheduler(optimizer, recipe, cfg.epochs, steps_per_epoch)
    distill.check_resume(state, teacher)
    if state:  # before prepare: the states name the unwrapped model's parameters
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    model, optimizer = accelerator.prepare(model, optimizer)
    if state and state.get("scaler") and accelerator.scaler is not None:
        accelerator.scaler.load_state_dict(state["scaler"])
    if cfg.compile:  # a kernel that compiled other models before (a kept job kernel, a re-run cell) would reach
        torch._dynamo.reset()  # dynamo's recompile limit and fall back to eager without saying so
    forward = torch.compile(model, mode=cfg.compile_mode) if cfg.compile else model
    mix, criterion = _mixing(recipe, num_classes or plan.dataset.num_classes)
    ema = _ema(accelerator.unwrap_model(model), recipe, state)
    learner = Learner(accelerator, model, forward, prepare, optimizer, scheduler, criterion, mix, recipe.grad_clip,
                      ema, frozen, teacher, fp32_depthwise)
    return attach_graph(learner) if cfg.cuda_graph else learner


def _frozen_backbone(model: torch.nn.Module, plan: RunPlan) -> Frozen | None:
    """The recipe's frozen backbone: for ``freeze_epochs``, or for the whole run (``freeze: backbone``)."""
    recipe = plan.recipe
    if not (recipe.freeze == "backbone" or recipe.freeze_epochs):
        return None
    frozen = Frozen(model, plan.config.epochs if recipe.freeze == "backbone" else recipe.freeze_epochs)
    if recipe.freeze == "backbone":  # never released: no backbone gradients are computed at all
        for p in frozen.params:
            p.requires_grad_(False)
    return frozen


def _mixing(recipe, num_classes: int) -> tuple[Callable | None, Callable]:
    """(timm's Mixup/CutMix or None, the loss): label smoothing goes into the soft targets when mixing."""
    if not (recipe.mixup or recipe.cutmix):
        return None, functools.partial(F.cross_entropy, label_smoothing=recipe.label_smoothing)
    from timm.data import Mixup
    from timm.loss import SoftTargetCrossEntropy
    mix = Mixup(mixup_alpha=recipe.mixup, cutmix_alpha=recipe.cutmix, prob=recipe.mix_prob,
                switch_prob=recipe.mix_switch_prob, label_smoothing=recipe.label_smoothing, num_classes=num_classes)
    return mix, SoftTargetCrossEntropy()


def _ema(model: torch.nn.Module, recipe, state: dict | None):
    """timm's EMA of the weights at ``ema_decay`` from the first step, bias-corrected (as optax's ema(debias=True)
    and Adam's moments): after T steps, step t's weights weigh (1 − d)·d^(T−t) / (1 − d^T), so the average never
    leans on the initial weights, and the decay asked for is the one applied (timm's warm-up, min(d,
    1 − (1+t)^(−2/3)), stays below 0.9998 for 350,000 steps: longer than any run here). Restored from ``state``;
    None without ``ema_decay``."""
    if not recipe.ema_decay:
        return None
    from timm.utils import ModelEmaV3

    class DebiasedEma(ModelEmaV3):
        def get_decay(self, step: int | None = None) -> float:  # step: the updates so far, this one included
            d = self.decay
            return d if step is None else d * (1 - d ** (step - 1)) / (1 - d ** step) if step > 0 else 0.0

    ema = DebiasedEma(model, decay=recipe.ema_decay)
    if state and state.get("ema"):
        ema.load_state_dict(state["ema"])
    return ema
