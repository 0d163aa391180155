"""Corruption errors across models: mean corruption error (mCE) and relative mCE, each normalised by a
baseline model's errors on the same corrupted images (Hendrycks & Dietterich, 2019)."""
from __future__ import annotations

import math

import numpy as np


def corruption_errors(result: dict) -> dict[str, dict[int, float]]:
    """corruption -> severity -> top-1 error (%) from a robustness.json's ``corrupted`` block."""
    return {name: {int(s): v["error"] for s, v in by_severity.items()}
            for name, by_severity in result["corrupted"].items()}


def same_images(model: dict, baseline: dict) -> bool:
    """Whether the model met the baseline's corrupted images, set by set (their checksums): a model entry with
    its own test subset meets others. A result written before the checksums were kept is taken at its word."""
    for name, by_severity in model["corrupted"].items():
        for severity, measured in by_severity.items():
            theirs = ((baseline["corrupted"].get(name) or {}).get(severity) or {}).get("checksum")
            if measured.get("checksum") and theirs and measured["checksum"] != theirs:
                return False
    return True


def mce(model: dict, baseline: dict) -> float:
    """100 × the mean over corruptions of (the model's errors summed over severities) / (the baseline's):
    the baseline scores exactly 100. NaN when a corruption's baseline error is 0 or the two measured
    different corruptions, severities or images."""
    if not same_images(model, baseline):
        return math.nan
    return _normalised(corruption_errors(model), corruption_errors(baseline), 0.0, 0.0)


def relative_mce(model: dict, baseline: dict) -> float:
    """As :func:`mce`, of each error's rise over the model's own clean error: how much a corruption costs, not
    how good the model is. The baseline scores exactly 100."""
    if not same_images(model, baseline):
        return math.nan
    return _normalised(corruption_errors(model), corruption_errors(baseline), 100 - model["clean"]["top1"],
                       100 - baseline["clean"]["top1"])


def _normalised(model: dict, baseline: dict, model_clean: float, baseline_clean: float) -> float:
    if set(model) != set(baseline) or any(set(model[c]) != set(baseline[c]) for c in model) or not model:
        return math.nan
    ratios = []
    for name in model:
        below = sum(e - baseline_clean for e in baseline[name].values())
        if below <= 0:
            return math.nan
        ratios.append(sum(e - model_clean for e in model[name].values()) / below)
    return 100 * sum(ratios) / len(ratios)


BOOTSTRAP = 200  # resamples of the images for the mCE interval


def _correct(bits: str, n: int):
    return np.unpackbits(np.frombuffer(bytes.fromhex(bits), dtype=np.uint8))[:n].astype(bool)


def mce_interval(model: dict, baseline: dict, seed: int = 0, resamples: int = BOOTSTRAP) -> tuple[float, float] | None:
    """The 2.5th and 97.5th percentiles of mCE over bootstrap resamples of the images, the same images for the
    model and its baseline (both measured them); None when the per-image results needed are not there."""
    n = model.get("images")
    if not same_images(model, baseline):
        return None
    try:
        sets = [(c, s, _correct(v["correct"], n), _correct(baseline["corrupted"][c][s]["correct"], n))
                for c, by in model["corrupted"].items() for s, v in by.items()]
    except (KeyError, TypeError, ValueError):
        return None
    if not sets or baseline.get("images") != n:
        return None
    picks = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    values = []
    for pick in picks:
        errors = [{}, {}]
        for c, s, ours, theirs in sets:
            errors[0].setdefault(c, {})[int(s)] = 100 - 100 * ours[pick].mean()
            errors[1].setdefault(c, {})[int(s)] = 100 - 100 * theirs[pick].mean()
        values.append(_normalised(errors[0], errors[1], 0.0, 0.0))
    values = np.array(values)
    if np.isnan(values).any():
        return None
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))
