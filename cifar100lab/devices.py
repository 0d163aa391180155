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


def gpu_memory(ids: list[str]) -> dict[str, tuple[int, int]] | None:
    """(free, total) bytes of each GPU in ``ids`` (``CUDA_VISIBLE_DEVICES`` entries: indices or UUIDs), read
    through NVML with ctypes as torch counts GPUs (the CUDA runtime is never asked, so the caller may still fork);
    None where NVML cannot be loaded."""
    import ctypes

    class Memory(ctypes.Structure):
        _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]

    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None
    if nvml.nvmlInit_v2() != 0:
        return None
    try:
        out = {}
        for gpu in ids:
            handle, memory = ctypes.c_void_p(), Memory()
            found = (nvml.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(int(gpu)), ctypes.byref(handle))
                     if gpu.strip().isdigit() else
                     nvml.nvmlDeviceGetHandleByUUID(gpu.strip().encode(), ctypes.byref(handle)))
            if found != 0 or nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) != 0:
                return None
            out[gpu] = (memory.free, memory.total)
        return out
    finally:
        nvml.nvmlShutdown()
