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


def visible_gpu_ids(gpus: int) -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` entries of the ``gpus`` GPUs this process may use (:func:`visible_gpus`;
    indices where it is unset)."""
    return os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(gpus)))).split(",")[:gpus]


def _each_gpu(ids: list[str], read) -> dict | None:
    """``read(nvml, handle)`` of each GPU in ``ids`` (``CUDA_VISIBLE_DEVICES`` entries: indices or UUIDs), through
    NVML with ctypes as torch counts GPUs (the CUDA runtime is never asked, so the caller may still fork); None
    where NVML cannot be loaded, a GPU is not found or ``read`` returns None."""
    import ctypes
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None
    if nvml.nvmlInit_v2() != 0:
        return None
    try:
        out = {}
        for gpu in ids:
            handle = ctypes.c_void_p()
            found = (nvml.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(int(gpu)), ctypes.byref(handle))
                     if gpu.strip().isdigit() else
                     nvml.nvmlDeviceGetHandleByUUID(gpu.strip().encode(), ctypes.byref(handle)))
            if found != 0 or (value := read(nvml, handle)) is None:
                return None
            out[gpu] = value
        return out
    finally:
        nvml.nvmlShutdown()


def gpu_memory(ids: list[str]) -> dict[str, tuple[int, int]] | None:
    """(free, total) bytes of each GPU in ``ids``; None where NVML cannot say (:func:`_each_gpu`)."""
    import ctypes

    class Memory(ctypes.Structure):
        _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]

    def read(nvml, handle):
        memory = Memory()
        return None if nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) else (memory.free, memory.total)

    return _each_gpu(ids, read)


def gpu_names(ids: list[str]) -> dict[str, str] | None:
    """Each GPU's name as NVML gives it ("NVIDIA H200", as ``torch.cuda.get_device_name``); None where NVML cannot
    say (:func:`_each_gpu`)."""
    import ctypes

    def read(nvml, handle):
        name = ctypes.create_string_buffer(96)
        return None if nvml.nvmlDeviceGetName(handle, name, ctypes.c_uint(96)) else name.value.decode()

    return _each_gpu(ids, read)
