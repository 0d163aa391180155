"""Uncertainty of a measured accuracy (standard library only, so listings need neither pandas nor torch)."""
from __future__ import annotations

import math


def wilson(p_percent: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's 95 % interval (in %) of an accuracy ``p_percent`` measured on ``n`` images."""
    if not n or p_percent is None or math.isnan(p_percent):
        return math.nan, math.nan
    p = p_percent / 100
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * (centre - half), 100 * (centre + half)


def shared_images_interval(top1s, images) -> tuple[float, float]:
    """Wilson's 95 % interval of the mean of accuracies (in %) that runs measured on the same test images
    (seeds of one model, or the models of a group): over those images (the fewest any run had), not over runs ×
    images. The runs' answers to one image agree far more often than chance, so pooling them would narrow the
    interval by up to √runs without a single new image."""
    top1s = [t for t in top1s if t is not None and not math.isnan(t)]
    n = min((int(m) for m in images if m), default=0)
    return wilson(sum(top1s) / len(top1s), n) if top1s and n else (math.nan, math.nan)
