"""The training pipeline on the device: each epoch's sample order and crop/flip draws, the batches one process
takes (with the recipe's policy augmentation, :mod:`.policy`) and the normalizer. Every draw comes from
:mod:`cifar100lab.seeds`, so a resumed run sees exactly the batches the uninterrupted one saw.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..seeds import epoch_seed, step_seed


def full_batches(n: int, batch_size: int, world_size: int = 1) -> int:
    """How many global batches (``batch_size`` on each of ``world_size`` processes) ``n`` images fill; the last,
    partial one is dropped, so every step has the same shape."""
    return n // (batch_size * world_size)


def epoch_draws(n: int, epoch: int, seed: int, device=None):
    """The epoch's sample order, crop offsets and flips, identical on every process and every resume.

    Drawn on the CPU (the same numbers on every device), then moved to ``device`` in one copy per tensor for
    the whole epoch: a step that copied its slice of the draws from the host would wait for the GPU's queue to
    drain (a pageable copy blocks), so the host could never run ahead of the device."""
    g = torch.Generator().manual_seed(epoch_seed(seed, epoch))
    perm = torch.randperm(n, generator=g)
    shifts = torch.randint(0, 9, (n, 2), generator=g)  # crop offsets into the 4-px padded 40×40 image
    flips = torch.rand(n, generator=g) < 0.5
    if device is not None:
        perm, shifts, flips = (t.to(device) for t in (perm, shifts, flips))
    return perm, shifts, flips


def crop_flip(x: torch.Tensor, shifts: torch.Tensor, flips: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Per-image random crop (zero padding ``pad``) and horizontal flip for a whole batch, on x's device."""
    n, _, h, w = x.shape
    shifts, flips = shifts.to(x.device), flips.to(x.device)  # no copy when the draws are on x's device already
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = shifts[:, 0, None] + torch.arange(h, device=x.device)
    cols = shifts[:, 1, None] + torch.arange(w, device=x.device)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def train_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, epoch: int, seed: int,
                  rank: int = 0, world_size: int = 1, augment: bool = True, policy=None):
    """Yield this process's (uint8 images, labels) batches for one epoch; x, y live on the device. ``policy``
    (:func:`.policy.policy_augmentation`) runs after the crop and flip, drawing from :func:`seeds.step_seed`. The
    epoch's draws are moved to x's device once, before the first batch; no step copies anything from the host."""
    perm, shifts, flips = epoch_draws(len(y), epoch, seed, device=x.device)
    for step in range(full_batches(len(y), batch_size, world_size)):
        start = (step * world_size + rank) * batch_size
        idx = perm[start:start + batch_size]
        xb = x[idx]
        if augment:
            xb = crop_flip(xb, shifts[idx], flips[idx])
        if policy is not None:
            xb = policy(xb, step_seed(seed, epoch, step, rank))
        yield xb, y[idx.to(y.device)]


def normalizer(mean, std, device, size: int = 32, channels_last: bool = True):
    """uint8 batch -> float batch normalized with per-channel ``mean``/``std`` (0-1 scale), resized to ``size``
    for networks that run at another resolution (pretrained fine-tunes)."""
    mean, std = (torch.tensor(v, device=device).view(1, 3, 1, 1) * 255 for v in (mean, std))

    def prepare(xb: torch.Tensor) -> torch.Tensor:
        xb = (xb.float() - mean) / std
        if xb.shape[-1] != size:
            xb = F.interpolate(xb, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
        return xb.contiguous(memory_format=torch.channels_last) if channels_last else xb

    return prepare
