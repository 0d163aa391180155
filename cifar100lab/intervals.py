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
