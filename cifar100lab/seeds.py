"""Every seed a run derives from its one ``seed``, in one place. Each is a function of where the draw happens
(the epoch, the step, the process), never of what ran before, so a resumed run draws exactly what the
uninterrupted one did. The multipliers are primes that keep the derived streams apart; changing one changes
every pinned result (tests/test_pinned_metrics.py). torch is imported where a generator is seeded: the seed
arithmetic is also read where nothing trains (the dataset registry, the report).
"""
from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's global generators from ``seed``.

    What ``accelerate.utils.set_seed`` does, except that numpy gets ``seed % 2**32``: set_seed hands numpy the
    seed unreduced, and numpy refuses seeds of 2**32 and more, which runs trained before :func:`seed_problem`
    refused them may have."""
    import torch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


SEEDS = 2**32  # a run's seed is below this: torch seeds its CPU generator (and so these streams) from 32 bits


def seed_problem(seed: int) -> str | None:
    """Why a new run cannot have ``seed`` (None: it can). torch keeps a CPU seed's low 32 bits only, so seeds 2**32
    apart trained the same run (the same weights, sample order and crops), and the derived seeds of one above
    about 1.8e13 overflow torch's 64 bits: that run failed in its first epoch."""
    if seed < SEEDS:
        return None
    return (f"seed must be below 2**32 ({SEEDS}), got {seed}: torch keeps only a seed's low 32 bits, so seed {seed} "
            f"would train seed {seed % SEEDS}'s run again")


def epoch_seed(seed: int, epoch: int) -> int:
    """The epoch's sample order, crop offsets and flips (the same on every process)."""
    return seed * 1_000_003 + epoch


def dropout_seed(seed: int, epoch: int, rank: int) -> int:
    """Torch's global generator during the epoch on process ``rank``: dropout and drop-path."""
    return seed * 1_000_003 + epoch * 97 + rank


def step_seed(seed: int, epoch: int, step: int, rank: int = 0) -> int:
    """One step's policy augmentation (RandAugment, erasing) on process ``rank``."""
    return ((epoch_seed(seed, epoch) * 100_003 + step) * 1_009 + rank) % 2**62


def mix_seed(seed: int, epoch: int, step: int, rank: int = 0) -> int:
    """One step's Mixup/CutMix draw: next to the step's policy seed, not the same stream."""
    return step_seed(seed, epoch, step, rank) + 1


def holdout_seed(seed: int) -> int:
    """Which training images are held out for validation: not the subset's draw."""
    return seed + 7_919


@contextmanager
def seeded(seed: int):
    """Inside, torch's CPU generator (torchvision's v2 transforms draw from it) and numpy's global one (timm's
    Mixup draws from it) are seeded from ``seed``; both are restored after. CUDA's generator is left alone."""
    import torch
    np_state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        np.random.seed((seed * 2_654_435_761 + 1) % 2**32)  # not torch's stream: both are Mersenne twisters
        try:
            yield
        finally:
            np.random.set_state(np_state)
