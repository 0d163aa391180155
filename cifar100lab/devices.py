"""How many GPUs this process may use, found without the CUDA runtime.

``torch.cuda.is_available()`` and (where NVML fails) ``torch.cuda.device_count()`` call ``cudaGetDeviceCount``;
a process that has done so cannot fork a worker that uses CUDA, so every process ``notebook_launcher`` forks
from such a notebook kernel or campaign process dies on its first CUDA call. NVML answers without that cost.
"""
from __future__ import annotations

import os

import torch


def visible_gpus() -> int:
    """GPUs this process may use (``CUDA_VISIBLE_DEVICES`` honoured), counted through NVML alone; 0 where NVML
    cannot be loaded (no NVIDIA driver)."""
    if torch.cuda.is_initialized():  # the runtime is up already (a GPU run in this process): asking costs nothing
        return torch.cuda.device_count()
    if not torch.backends.cuda.is_built():
        return 0
    count = torch.cuda._device_count_nvml()  # torch's own NVML count; -1 when NVML is missing or fails
    if count < 0 and os.environ.get("CUDA_VISIBLE_DEVICES", "").startswith("MIG-"):
        return len(os.environ["CUDA_VISIBLE_DEVICES"].split(","))  # NVML does not count MIG instances
    return max(0, count)
