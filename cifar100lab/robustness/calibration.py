"""Calibration of a classifier's softmax: expected calibration error (15 equal-width bins, binned exactly as
torchmetrics' ``multiclass_calibration_error``, which the tests check it against) with a bootstrap interval,
and the per-bin numbers a reliability diagram draws. torchmetrics itself is not imported here: its import
alone costs more CPU than the quick campaign's whole robustness step may."""
from __future__ import annotations

import torch

BINS = 15
BOOTSTRAP = 200  # resamples of the test images for the interval


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> float:
    """ECE in [0, 1]: the images' share in each confidence bin times |accuracy − mean confidence| there, summed."""
    confidence, predicted = probs.float().max(dim=1)
    return float(binned_ece(confidence, predicted == labels, bins)[0])


def binned_ece(confidence: torch.Tensor, correct: torch.Tensor, bins: int = BINS) -> torch.Tensor:
    """ECE of each row of ``confidence`` / ``correct`` (R×N, or N), binned as torchmetrics bins: every row at
    once, for the bootstrap (its agreement with torchmetrics is tested)."""
    confidence, correct = confidence.reshape(-1, confidence.shape[-1]), correct.reshape(-1, correct.shape[-1])
    rows, n = confidence.shape
    # torchmetrics keeps a confidence of exactly 1 in a bin of its own: bins + 1 slots per row
    index = (confidence * bins).floor().long().clamp(0, bins) + (bins + 1) * torch.arange(rows)[:, None]
    gap = torch.bincount(index.flatten(), (confidence - correct.float()).flatten(), minlength=rows * (bins + 1))
    return gap.reshape(rows, bins + 1).abs().sum(dim=1) / n


def ece_interval(probs: torch.Tensor, labels: torch.Tensor, seed: int = 0, bins: int = BINS,
                 resamples: int = BOOTSTRAP) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of ECE over bootstrap resamples of the images (seeded)."""
    confidence, predicted = probs.float().max(dim=1)
    correct = predicted == labels
    pick = torch.randint(len(labels), (resamples, len(labels)), generator=torch.Generator().manual_seed(seed))
    values = binned_ece(confidence[pick], correct[pick], bins)
    return float(values.quantile(0.025)), float(values.quantile(0.975))


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> dict:
    """Per confidence bin ([i/bins, (i+1)/bins), as torchmetrics bins for ECE; a confidence of exactly 1 in the
    last): images, mean confidence, accuracy (None for an empty bin)."""
    confidence, predicted = probs.float().max(dim=1)
    correct = (predicted == labels).float()
    index = (confidence * bins).floor().long().clamp(0, bins - 1)
    count = torch.bincount(index, minlength=bins)
    conf_sum = torch.bincount(index, confidence, minlength=bins)
    hit_sum = torch.bincount(index, correct, minlength=bins)
    return {"count": count.tolist(),
            "confidence": [float(c / n) if n else None for c, n in zip(conf_sum, count)],
            "accuracy": [float(h / n) if n else None for h, n in zip(hit_sum, count)]}
