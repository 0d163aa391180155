"""The dataset registry: one :class:`DatasetEntry` per dataset, found by name.

An entry says what the rest of the package may know without reading the images (kind, labels, class count,
sizes, normalisation statistics) and how to get them (``read``, ``locate``). Three ways in:

* in this package: a module of :mod:`cifar100lab.data` calls :func:`register_dataset` when imported;
* another installed package: an entry point in the ``cifar100lab.datasets`` group whose value is a
  :class:`DatasetEntry` (registered as it is) or a module that calls :func:`register_dataset`;
* a name with a prefix registered by :func:`register_prefix` (``imagefolder:/path``); a bare path (a name
  with a ``/`` or starting with ``~``) is an image folder too.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Callable, NamedTuple

from ..config_files import did_you_mean

if TYPE_CHECKING:  # the registry's facts load without torch (datasets.py says why)
    import torch

DATA_ENV = "CIFAR100LAB_DATA"
PLUGIN_GROUP = "cifar100lab.datasets"
FOLDER_PREFIX = "imagefolder"  # what a bare path stands for

KIND_LABELS = {"real": {"en": "real data", "zh": "真实数据"},
               "other": {"en": "real images, not CIFAR-100", "zh": "真实图像，非 CIFAR-100"},
               "stand-in": {"en": "stand-in dataset", "zh": "替代数据集"},
               "synthetic": {"en": "synthetic data", "zh": "合成数据"}}


class DataError(RuntimeError):
    """A dataset is missing, corrupt or unknown; the message says what to do."""


@dataclass(frozen=True)
class DataRequest:
    """What a reader is asked for: the data folder, whether it may download, and the side of the square images
    the run trains on (a reader of fixed-size images ignores it: the pipeline resizes on the device)."""
    root: Path
    download: bool = True
    image_size: int = 32


class Parts(NamedTuple):
    """A dataset as read: uint8 (N, 3, H, W) images and int64 labels per split, class names, the checksum of what
    was read, and anything else the run record should say about it (``details``)."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list
    checksum: str
    details: dict | None = None


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset.

    ``kind`` says how far its numbers are from the benchmark's: ``real`` (CIFAR-100 itself), ``other`` (real
    images of another dataset), ``stand-in`` or ``synthetic``; every page that shows a run says which. ``sizes``
    are the full train/test splits; ``mean``/``std`` are per-channel statistics (0-1 scale) used to normalise
    from-scratch runs. ``read(request) -> Parts`` loads the images; ``locate(request) -> str`` says where they
    are or where a real run will get them, only by looking (a dry run writes nothing), or raises DataError.
    ``about`` ({"en", "zh"}): what its images are, in the notice of every results page it is not CIFAR-100 on.
    ``sizes_at(request) -> (train, test)``: the sizes of the data under the request's root, found by looking
    (no image read), for a dataset whose sizes are whatever was written there (the synthetic set); None: ``sizes``.
    ``class_names(request) -> list`` reads the class names in label order from the data's small files, no image
    (an export names its classes with them), or raises DataError/OSError when they are not on this machine.
    """
    name: str
    kind: str
    label: dict  # {"en": ..., "zh": ...}
    num_classes: int
    sizes: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    read: Callable[[DataRequest], Parts] | None = field(default=None, compare=False, repr=False)
    locate: Callable[[DataRequest], str] | None = field(default=None, compare=False, repr=False)
    about: dict | None = None
    class_names: Callable[[DataRequest], list] | None = field(default=None, compare=False, repr=False)
    sizes_at: Callable[[DataRequest], tuple[int, int]] | None = field(default=None, compare=False, repr=False)


def check_parts(name: str, parts: Parts) -> None:
    """Refuse (DataError) images or labels a dataset's ``read`` returned that the pipeline cannot take as they
    are: it scales uint8 0-255, so 0-1 floats trained on an all but constant input, at chance and without a word,
    and a label outside 0..classes-1 (labels from 1) stopped the run only at a training step."""
    import torch
    for split, x, y in (("train", parts.train_x, parts.train_y), ("test", parts.test_x, parts.test_y)):
        if not (isinstance(x, torch.Tensor) and x.dtype == torch.uint8 and x.dim() == 4 and x.shape[1] == 3):
            got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise DataError(f"dataset {name!r}: its {split} images are {got}; its read must return uint8 "
                            f"(N, 3, H, W) images, 0-255")
        if not (isinstance(y, torch.Tensor) and y.dtype == torch.int64 and tuple(y.shape) == (len(x),)):
            got = f"{y.dtype} {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
            raise DataError(f"dataset {name!r}: its {split} labels are {got}; its read must return int64 labels, "
                            f"one per image ({len(x)})")
        if len(y) and not 0 <= int(y.min()) <= int(y.max()) < len(parts.classes):
            raise DataError(f"dataset {name!r}: its {split} labels run from {int(y.min())} to {int(y.max())}, but "
                            f"it names {len(parts.classes)} classes; labels must be 0 to {len(parts.classes) - 1}")


DATASETS: dict[str, DatasetEntry] = {}
PREFIXES: dict[str, Callable[[str], DatasetEntry]] = {}  # "imagefolder" -> entry of "imagefolder:<rest>"


def register_dataset(entry: DatasetEntry) -> DatasetEntry:
    """Add ``entry`` to the registry under its name (a name taken already, or an unknown kind, is a ValueError)."""
    if entry.kind not in KIND_LABELS:
        raise ValueError(f"dataset {entry.name!r}: kind {entry.kind!r} is not one of {', '.join(KIND_LABELS)}")
    if entry.name in DATASETS or ":" in entry.name:
        raise ValueError(f"dataset {entry.name!r} registered twice, or its name has a ':' (kept for prefixes)")
    DATASETS[entry.name] = entry
    return entry


def register_prefix(prefix: str, make_entry: Callable[[str], DatasetEntry]) -> None:
    """Names ``<prefix>:<rest>`` become ``make_entry(rest)`` (e.g. ``imagefolder:/data/flowers``)."""
    PREFIXES[prefix] = make_entry


def load_plugins() -> None:
    """Register the datasets other installed packages name in the ``cifar100lab.datasets`` entry point group. A
    plugin that fails to load is named in a warning and left out, so one broken package does not stop every
    command."""
    for point in entry_points(group=PLUGIN_GROUP):
        try:
            found = point.load()
            if isinstance(found, DatasetEntry) and DATASETS.get(found.name) is not found:
                register_dataset(found)
        except Exception as e:  # anything a third party's import may raise
            warnings.warn(f"dataset plugin {point.name} ({point.value}) was not loaded: {type(e).__name__}: {e}",
                          stacklevel=2)


def dataset_entry(name: str) -> DatasetEntry:
    """The dataset ``name`` stands for: a registered name, ``<prefix>:<rest>`` or a path to a folder of images;
    anything else is a DataError listing what is valid."""
    if name in DATASETS:
        return DATASETS[name]
    prefix, _, rest = name.partition(":")
    if prefix in PREFIXES:
        return PREFIXES[prefix](rest)
    if "/" in name or name.startswith("~"):
        return PREFIXES[FOLDER_PREFIX](name)
    raise DataError(f"unknown dataset {name!r}{did_you_mean(name, DATASETS)}; valid: {', '.join(DATASETS)}, or a "
                    f"folder of images ({FOLDER_PREFIX}:/path/to/images, one sub-folder per class)")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder the datasets are in or go to: ``root``, else $CIFAR100LAB_DATA, else ./data. A file there is
    refused here, once: read as a folder, each dataset would blame its own files (or the system's copy)."""
    path = Path(root or os.environ.get(DATA_ENV) or "data")
    if path.exists() and not path.is_dir():
        given = "data_root" if root else f"${DATA_ENV}" if os.environ.get(DATA_ENV) else "the default data_root"
        raise DataError(f"{given} {path} is a file, not a folder; give the folder the datasets are in (or are "
                        f"downloaded to)")
    return path


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def combined_checksum(md5s: dict[str, str]) -> str:
    return "md5:" + hashlib.md5(json.dumps(md5s, sort_keys=True).encode()).hexdigest()
