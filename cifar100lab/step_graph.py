"""The whole training step as one CUDA graph (``cuda_graph: true``).

A small network's step on a GPU costs its kernel launches, not its arithmetic: ResNet-20 at batch 128 launches a
few hundred kernels, about 13 ms on the H200 we measured, whatever the compile mode. ``torch.compile``'s
reduce-overhead mode graphs the forward and backward passes only; the loss, the optimizer and the totals stay
eager. :class:`StepGraph` captures :meth:`Learner.update` -- forward, loss, backward, clipping, the fused
optimizer step and the step's totals -- once, and replays it with one launch per step. What stays outside,
because it takes host values: the batch's preparation and Mixup (their draws), the schedule (it writes the LR
tensor the captured optimizer reads) and the EMA (its decay depends on the step).

The recipe is PyTorch's "whole network capture": warm-up steps on a side stream (lazy state such as momentum
buffers exists before capture), gradients set to None so the captured backward allocates them in the graph's
pool, autocast without its weight-cast cache, and static input buffers that each step copies its batch into.
The warm-up steps are ordinary training steps, so a run with the graph follows the same trajectory as one without.
"""
from __future__ import annotations

from typing import Callable

import torch

WARMUP_STEPS = 3  # eager steps before capture (cuDNN/cuBLAS choices made, optimizer state created)
# precision: fp16 asked for, or chosen by auto on a GPU without bf16
FP16_REFUSED = ("cuda_graph: true cannot capture fp16's loss scaler (it reads the device on every step); use "
                "precision bf16 or fp32")


def settings_conflict(cfg, recipe) -> str | None:
    """Why a captured step cannot have these settings (``config.resolve`` refuses them), or None."""
    if cfg.compile and cfg.compile_mode in ("reduce-overhead", "max-autotune"):
        return (f"cuda_graph: true captures the whole step itself; compile_mode {cfg.compile_mode} would capture "
                "graphs inside it (use compile_mode default or max-autotune-no-cudagraphs)")
    if cfg.precision == "fp16":
        return FP16_REFUSED
    if recipe.distill_from:
        return "cuda_graph: true does not capture a distillation teacher (distill_from); set cuda_graph: false"
    return None


def device_conflict(accelerator) -> str | None:
    """Why this run's device or processes cannot replay a captured step (refused before any training), or None."""
    if accelerator.device.type != "cuda":
        return (f"cuda_graph: true needs a CUDA device; this run's device is {accelerator.device.type} "
                "(set cuda_graph: false)")
    if accelerator.scaler is not None:
        return FP16_REFUSED
    return _processes_conflict(accelerator.num_processes)


def launch_conflict(gpus: int, processes: int, no_gpu: str = "this machine has none (NVML reports no GPU)") -> str | None:
    """Why runs with ``cuda_graph: true`` cannot train with ``gpus`` GPUs and ``processes`` to a run: what
    :func:`device_conflict` would refuse in every run, said once before a campaign starts (``no_gpu`` says
    where the GPU is missing)."""
    if not gpus:
        return f"cuda_graph: true needs a CUDA device, and {no_gpu}; set cuda_graph: false"
    return _processes_conflict(processes)


def _processes_conflict(processes: int) -> str | None:
    if processes > 1:
        return (f"cuda_graph: true runs one process per run, not {processes} (DDP's all-reduce is not captured); "
                "give a small network a GPU share with runs_per_gpu instead")
    return None


def attach_graph(learner, graph_factory: Callable | None = None):
    """``learner`` with its step replayed as a CUDA graph (``graph_factory``: a test's stand-in for one)."""
    from accelerate.utils import AutocastKwargs
    tensor_lr(learner.optimizer)
    learner.graph = StepGraph(learner, graph_factory or CudaGraph)
    learner.autocast_handler = AutocastKwargs(cache_enabled=False)  # cached casts would outlive the capture
    return learner


def tensor_lr(optimizer) -> None:
    """Each group's LR as a one-element device tensor: the captured optimizer reads it, the schedule fills it."""
    device = next(p.device for group in optimizer.param_groups for p in group["params"])  # a group may be empty
    for group in optimizer.param_groups:
        if not torch.is_tensor(group["lr"]):
            group["lr"] = torch.tensor(float(group["lr"]), dtype=torch.float32, device=device)


def plain_lrs(state: dict) -> dict:
    """An optimizer's or scheduler's state dict with tensor LRs as floats, so a checkpoint resumes either way."""
    def plain(v):
        return v.item() if torch.is_tensor(v) and v.numel() == 1 else v
    if "param_groups" in state:
        state["param_groups"] = [{k: plain(v) if k in ("lr", "initial_lr") else v for k, v in g.items()}
                                 for g in state["param_groups"]]
    for key in ("_last_lr", "base_lrs"):
        if key in state:
            state[key] = [plain(v) for v in state[key]]
    return state


class CudaGraph:
    """torch.cuda.CUDAGraph behind the two calls :class:`StepGraph` makes (a test stands in a Python one)."""

    def __init__(self, device):
        self.device = device
        self.graph = None

    def warmup(self, fn: Callable):
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            out = fn()
        torch.cuda.current_stream(self.device).wait_stream(side)
        return out

    def capture(self, fn: Callable) -> None:
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            fn()

    def replay(self) -> None:
        self.graph.replay()


class StepGraph:
    """Replays ``learner.update`` from static buffers. A batch of another shape (a smaller last batch) or a
    change of what trains (a frozen backbone released) runs eagerly, or is captured anew, respectively."""

    def __init__(self, learner, graph_factory: Callable):
        self.learner, self.graph_factory = learner, graph_factory
        self.graph = None
        self.key = None  # (input shape, target shape, frozen backbone held): what the capture assumed
        self.eager_steps = 0

    def __call__(self, x: torch.Tensor, target: torch.Tensor, labels: torch.Tensor):
        frozen = self.learner.frozen
        key = (tuple(x.shape), tuple(target.shape), target.dtype, frozen is not None and frozen.holding)
        if self.graph is not None and key != self.key:
            if key[:3] == self.key[:3]:
                self.graph = None  # what trains changed: warm up and capture again
                self.eager_steps = 0
            else:
                return self.learner.update(x, target, labels)  # another batch size: one eager step
        if self.graph is None:
            if self.eager_steps < WARMUP_STEPS:
                self.eager_steps += 1
                self.example = self.graph_factory(x.device).warmup(lambda: self.learner.update(x, target, labels))
                return self.example
            self._capture(x, target, labels, key)
        self.static_x.copy_(x)
        self.static_target.copy_(target)
        self.static_labels.copy_(labels)
        self.graph.replay()
        return self.outputs

    def _capture(self, x, target, labels, key) -> None:
        self.static_x, self.static_target, self.static_labels = x.clone(), target.clone(), labels.clone()
        self.outputs = tuple(torch.empty_like(t) for t in self.example)  # what each replay writes its results to

        def step():
            static = self.learner.update(self.static_x, self.static_target, self.static_labels)
            for out, value in zip(self.outputs, static):
                out.copy_(value.detach())
        self.learner.optimizer.zero_grad(set_to_none=True)  # the captured backward allocates them in its pool
        graph = self.graph_factory(x.device)
        graph.capture(step)
        self.graph, self.key = graph, key
