"""The process's Accelerate setup: mixed precision, kernel policy, the run's trackers, and the one place that
drops Accelerate's per-process state between runs."""
from __future__ import annotations

import json
import os

import torch

from .devices import visible_gpus

NATIVE_BF16 = ("AMX", "AVX512-BF16")  # the instruction sets with bf16 arithmetic of their own


def cpu_instruction_set() -> str:
    """What decides a CPU's speed here: AMX, AVX512-BF16 (native bf16), else ATen's kernel level (AVX512, AVX2, ...).
    Two CPUs of one name (an 'AMD EPYC' is Zen 3 or Zen 4) can differ in it."""
    if torch.cpu._is_amx_tile_supported():
        return "AMX"
    if torch.cpu._is_avx512_bf16_supported():
        return "AVX512-BF16"
    return torch.backends.cpu.get_cpu_capability()


def cpu_has_native_bf16() -> bool:
    """AMX or AVX512-BF16: the CPUs where bf16 autocast is fast. Elsewhere (AVX2, e.g. AMD Zen 3) oneDNN emulates
    bf16 and a ResNet-20 step under it took about 10× as long as in fp32 (35 against 325 img/s)."""
    return cpu_instruction_set() in NATIVE_BF16


def choose_precision(precision: str, cuda: bool) -> str:
    """Accelerate's mixed_precision value. auto: on a GPU bf16 where supported, else fp16; on a CPU bf16 where it
    is native (:func:`cpu_has_native_bf16`), else fp32."""
    if precision == "fp32":
        return "no"
    if precision == "auto":
        if cuda:
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_has_native_bf16() else "no"
    return precision


def set_kernel_policy(deterministic: bool) -> dict:
    """Deterministic kernels, or the fastest ones; returned for the run record.

    TF32 stays on for fp32 matmuls and convolutions either way (it is deterministic, and much faster than fp32
    on Ampere and later). Deterministic mode must set ``CUBLAS_WORKSPACE_CONFIG`` before cuBLAS starts, which
    this does on every process before its first CUDA call. Ops with no deterministic kernel warn rather than stop
    a run (``warn_only``): the warning names them in the run's log.
    """
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    return {"deterministic": deterministic, "cudnn_benchmark": not deterministic, "tf32": True,
            "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}


def torch_default_kernel_policy() -> None:
    """PyTorch's own kernel settings (no cuDNN autotuning, fp32 matmuls without TF32): the original pipeline is
    timed as its script ran, after :func:`set_kernel_policy` set the trainer's for a round of ours."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.deterministic = False
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(False)


class Fp32DepthwiseConv2d(torch.nn.Conv2d):
    """A depthwise convolution computed in fp32 inside CPU bf16 autocast, where oneDNN's bf16 kernels for it are
    slower than its fp32 ones: its weight gradient for kernels larger than 3×3 (ConvNeXt, HorNet, LSKNet and MSCAN
    spend most of a step there) and its input gradient for any stride above 1, which oneDNN computes with a generic
    strided kernel instead of its depthwise one (GhostNet's downsampling blocks). Same parameters and state dict
    as ``nn.Conv2d``; the timings are in ``benchmarks/records/cpu-precision.json``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", enabled=False):
            return super().forward(x.float())


class SmallMapFp32DepthwiseConv2d(Fp32DepthwiseConv2d):
    """A small-kernel, stride-1 depthwise convolution computed in fp32 on feature maps smaller than its kernel
    (the last stages of a deep network at 32 px: 2×2 and 1×1), where oneDNN's bf16 weight gradient is the slow
    one, and in bf16 on larger maps, where it is as fast and the casts around an fp32 convolution would cost more
    than they save. The map's size is only known here, at the call."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] < self.kernel_size[0] or x.shape[-1] < self.kernel_size[1]:
            return super().forward(x)
        return torch.nn.Conv2d.forward(self, x)


def _fp32_kind(module: torch.nn.Module) -> type | None:
    """The class :func:`cpu_depthwise_in_fp32` gives ``module``: none but to a plain depthwise convolution."""
    if type(module) is not torch.nn.Conv2d or not 1 < module.groups == module.in_channels:
        return None
    if max(module.kernel_size) > 3 or max(module.stride) > 1:
        return Fp32DepthwiseConv2d
    return SmallMapFp32DepthwiseConv2d


def cpu_depthwise_in_fp32(model: torch.nn.Module, accelerator) -> int:
    """Give ``model``'s depthwise convolutions the fp32 kernel policy when it trains on the CPU under bf16
    autocast: :class:`Fp32DepthwiseConv2d` for kernels larger than 3×3 and for strides above 1,
    :class:`SmallMapFp32DepthwiseConv2d` for the rest; returns how many depthwise convolutions it took over, of
    both kinds (for the run record). Other grouped convolutions stay in bf16, where oneDNN's kernels for them are
    the fast ones."""
    if accelerator.device.type != "cpu" or accelerator.mixed_precision != "bf16":
        return 0
    for module in model.modules():
        if kind := _fp32_kind(module):
            module.__class__ = kind
    return sum(isinstance(module, Fp32DepthwiseConv2d) for module in model.modules())


def reset_accelerate_state(keep_process_group: bool = True) -> None:
    """Forget the AcceleratorState Accelerate keeps once per process (private API: accelerate has no public
    reset), so the next Accelerator may differ, e.g. in precision. ``keep_process_group=False`` drops the
    PartialState too, which ``notebook_launcher`` needs before it forks."""
    from accelerate.state import AcceleratorState
    AcceleratorState._reset_state(reset_partial_state=not keep_process_group)


def build_accelerator(precision: str, cpu: bool = False, log_with: str | None = None, project_dir=None):
    from accelerate import Accelerator
    cuda = visible_gpus() > 0 and not cpu  # NVML: on a machine without GPUs the CUDA runtime is never asked
    reset_accelerate_state()  # several runs in one kernel may differ in precision; the process group is kept
    # cpu=True on a machine without GPUs makes a multi-process launch one gloo job (MULTI_CPU) instead of
    # independent single-process copies.
    return Accelerator(mixed_precision=choose_precision(precision, cuda), cpu=not cuda, log_with=log_with,
                       project_dir=project_dir)


# A metrics row's fields that are not measurements: the epoch is the step every value is logged at, and the
# count of evaluated images is the same every epoch.
NOT_SCALARS = ("epoch", "evaluated")


def start_trackers(accelerator, cfg, recipe: dict, run_id: str) -> None:
    """Accelerate's tracker (TensorBoard under ``<run_dir>/tensorboard``, or a wandb / MLflow run named after
    the run), with the config and recipe as its hyperparameters (scalars; the rest as JSON text)."""
    hparams = {k: v if isinstance(v, (int, float, str, bool)) else json.dumps(v)
               for k, v in {**cfg.to_dict(), **{f"recipe.{k}": v for k, v in recipe.items()}}.items()}
    if cfg.log_with == "tensorboard":
        # Accelerate's add_hparams writes them into a second, time-named run folder; they go into the run's own
        accelerator.init_trackers("tensorboard")
        if accelerator.is_main_process:  # the only one with a writer
            _tensorboard_hparams(accelerator.get_tracker("tensorboard", unwrap=True), hparams)
        return
    accelerator.init_trackers(cfg.campaign or "cifar100lab", config=hparams,
                              init_kwargs={"wandb": {"name": run_id}, "mlflow": {"run_name": run_id}})


def _tensorboard_hparams(writer, hparams: dict) -> None:
    """The hyperparameters in ``writer``'s own event file (the HParams tab shows them beside its scalars)."""
    from torch.utils.tensorboard.summary import hparams as hparams_summaries
    for summary in hparams_summaries(hparams, {}):
        writer.file_writer.add_summary(summary)


def log_epoch(accelerator, row: dict) -> None:
    """An epoch's measurements to the trackers, at the epoch as the step."""
    accelerator.log({k: v for k, v in row.items() if k not in NOT_SCALARS}, step=row["epoch"])
