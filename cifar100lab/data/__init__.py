"""Data, in jobs: :mod:`.registry` names every dataset (one :class:`DatasetEntry` each, plugins through the
``cifar100lab.datasets`` entry point group); :mod:`.datasets` (CIFAR-100, the Fashion-MNIST stand-in, the synthetic
set), :mod:`.cifar10` and :mod:`.imagefolder` register and read them; :mod:`.sizes` checks a run's subsets, validation
split and batch against a dataset's sizes before any image is read; :mod:`.pipeline` turns a dataset into the
training batches on the device and :mod:`.policy` augments them (RandAugment, erasing). Importing this package
registers every built-in dataset and installed plugin. The names the rest of the package and users call are here."""
import importlib

from . import cifar10, imagefolder  # noqa: F401  register CIFAR-10 and the imagefolder: prefix
from .cifar10 import write_synthetic_cifar10
from .datasets import (
    CIFAR100_MD5,
    CIFAR100_MEAN,
    CIFAR100_STD,
    CIFAR_FOLDER,
    FASHION_CLASSES,
    FASHION_DEBIAN_DIR,
    FASHION_MD5,
    SYNTHETIC_MANIFEST,
    Dataset,
    data_available,
    hold_out,
    load_dataset,
    verify_md5s,
    write_synthetic_cifar100,
)
from .registry import (
    DATASETS,
    KIND_LABELS,
    PLUGIN_GROUP,
    DataError,
    DataRequest,
    DatasetEntry,
    Parts,
    data_root,
    dataset_entry,
    load_plugins,
    register_dataset,
    register_prefix,
)
from .sizes import check_sizes

load_plugins()

# The on-device pipeline and augmentation import torch: loaded when first asked for, so the registry's facts load
# without it (datasets.py says why).
_LAZY = {"crop_flip": "pipeline", "epoch_draws": "pipeline", "full_batches": "pipeline", "normalizer": "pipeline",
         "train_batches": "pipeline", "policy_augmentation": "policy"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)

__all__ = ["CIFAR100_MD5", "CIFAR100_MEAN", "CIFAR100_STD", "CIFAR_FOLDER", "DATASETS", "FASHION_CLASSES",
           "FASHION_DEBIAN_DIR", "FASHION_MD5", "KIND_LABELS", "PLUGIN_GROUP", "SYNTHETIC_MANIFEST", "DataError",
           "DataRequest", "Dataset", "DatasetEntry", "Parts", "check_sizes", "crop_flip", "data_available", "data_root",
           "dataset_entry", "epoch_draws", "full_batches", "hold_out", "load_dataset", "load_plugins", "normalizer",
           "policy_augmentation", "register_dataset", "register_prefix", "train_batches", "verify_md5s",
           "write_synthetic_cifar10", "write_synthetic_cifar100"]
