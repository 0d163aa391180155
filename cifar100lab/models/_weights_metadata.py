"""Weights files read for their tensors' names, shapes and dtypes alone (:func:`tensors_unread`), so that whether a
file fits a network is known before any work without reading hundreds of MB: a campaign checks every run's file
when it is loaded."""
from __future__ import annotations

import contextlib

import safetensors
import torch
from timm.models import _builder as timm_builder
from timm.models import clean_state_dict, load_state_dict

# Where timm's load_state_dict finds the state dict in a training checkpoint, in the order it looks (the EMA's first)
CHECKPOINT_STATE_KEYS = ("state_dict_ema", "model_ema", "state_dict", "model")


@contextlib.contextmanager
def tensors_unread():
    """Inside, weights files are read as timm's builder reads them (the state dict it picks, its prefixes cleaned)
    but without their tensors' data: a safetensors file's header (names, shapes and dtypes, which safetensors checks
    against the file's length, so a truncated copy is refused) as meta tensors, a torch file memory-mapped. Whether
    a file fits a network built on the meta device is then known without reading hundreds of MB."""
    read = timm_builder.load_state_dict
    timm_builder.load_state_dict = _state_dict_unread
    try:
        yield
    finally:
        timm_builder.load_state_dict = read


def _state_dict_unread(path: str, *args, **kwargs) -> dict:
    try:
        if str(path).endswith(".safetensors"):
            with safetensors.safe_open(str(path), "pt") as f:
                checkpoint = {name: _meta_tensor(f, name) for name in f.keys()}
        else:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # what cannot be mapped (an older torch format, a damaged copy): read whole, as timm reads it,
        return load_state_dict(str(path))  # whose error then says what is wrong
    key = next((k for k in CHECKPOINT_STATE_KEYS if isinstance(checkpoint, dict) and checkpoint.get(k) is not None),
               None)
    state_dict = clean_state_dict(checkpoint[key] if key else checkpoint)
    # a mapped tensor as a meta one, its data unread: a checkpoint filter then makes meta tensors too (CoAtNet's
    # resized tables), which a network built on the meta device takes
    return {k: torch.empty_like(v, device="meta") if isinstance(v, torch.Tensor) else v for k, v in state_dict.items()}


def _meta_tensor(f, name: str) -> torch.Tensor:
    """``name`` in the open safetensors file ``f`` as a meta tensor: its shape, and its dtype from an empty slice
    (a scalar, which cannot be sliced, is read: a few bytes)."""
    part = f.get_slice(name)
    shape = part.get_shape()
    return torch.empty(shape, dtype=(part[:0] if shape else f.get_tensor(name)).dtype, device="meta")
