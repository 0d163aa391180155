"""Per-class errors: accuracy per class, confusion matrices, CIFAR-100's 20 superclasses (from the dataset's
own files), and across models the classes every model misses and those where they disagree most."""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from ..data import CIFAR_FOLDER, data_root

# The datasets with superclasses in their own files (the CIFAR-100 layout: meta and test hold coarse labels).
CIFAR_LAYOUT = {"cifar100": Path(CIFAR_FOLDER), "synthetic": Path("synthetic") / CIFAR_FOLDER}


def per_class_accuracy(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[float | None]:
    """Top-1 accuracy (%) of each class's test images; None for a class without test images."""
    count = torch.bincount(labels, minlength=num_classes)
    hits = torch.bincount(labels[predicted == labels], minlength=num_classes)
    return [float(100 * h / n) if n else None for h, n in zip(hits, count)]


def confusion(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[list[int]]:
    """Counts: row = true class, column = predicted class."""
    flat = torch.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).tolist()


def superclasses(dataset: str, root: str | None = None) -> tuple[list[int], list[str]] | None:
    """(superclass of each fine class, superclass names) from the dataset's ``meta`` and ``test`` files (the
    test set's fine and coarse labels give the mapping); None for a dataset without superclasses."""
    if dataset not in CIFAR_LAYOUT:
        return None
    folder = data_root(root) / CIFAR_LAYOUT[dataset]
    with open(folder / "meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")  # checked by md5 when the run's dataset was loaded
    with open(folder / "test", "rb") as f:
        test = pickle.load(f, encoding="latin1")
    coarse_of = {}
    for fine, coarse in zip(test["fine_labels"], test["coarse_labels"]):
        coarse_of.setdefault(fine, coarse)
    fine_names = meta["fine_label_names"]
    return [coarse_of.get(i, -1) for i in range(len(fine_names))], list(meta["coarse_label_names"])


def always_wrong(accuracies: dict[str, list[float | None]]) -> list[int]:
    """Classes no model gets a single test image of right (model -> per-class accuracy)."""
    rows = list(accuracies.values())
    if not rows:
        return []
    return [c for c in range(len(rows[0])) if all(row[c] == 0 for row in rows)]


def most_disagreed(accuracies: dict[str, list[float | None]], top: int = 5) -> list[tuple[int, float]]:
    """The ``top`` classes with the widest spread (max − min, percentage points) of per-class accuracy across
    models, widest first."""
    rows = list(accuracies.values())
    if len(rows) < 2:
        return []
    spread = [(c, max(r[c] for r in rows) - min(r[c] for r in rows)) for c in range(len(rows[0]))
              if all(r[c] is not None for r in rows)]
    return sorted(spread, key=lambda item: (-item[1], item[0]))[:top]
