"""Data, in two jobs: :mod:`.datasets` finds, checks and reads a dataset into memory (CIFAR-100, the
Fashion-MNIST stand-in, the synthetic set); :mod:`.pipeline` turns it into the training batches on the device.
The names the rest of the package and users call are here."""
from .datasets import (
    CIFAR100_MD5,
    CIFAR100_MEAN,
    CIFAR100_STD,
    CIFAR_FOLDER,
    DATASETS,
    FASHION_CLASSES,
    FASHION_DEBIAN_DIR,
    FASHION_MD5,
    KIND_LABELS,
    SYNTHETIC_MANIFEST,
    DataError,
    Dataset,
    DatasetEntry,
    data_available,
    data_root,
    dataset_entry,
    hold_out,
    load_dataset,
    verify_md5s,
    write_synthetic_cifar100,
)
from .pipeline import crop_flip, epoch_draws, full_batches, normalizer, policy_augmentation, train_batches

__all__ = ["CIFAR100_MD5", "CIFAR100_MEAN", "CIFAR100_STD", "CIFAR_FOLDER", "DATASETS", "FASHION_CLASSES",
           "FASHION_DEBIAN_DIR", "FASHION_MD5", "KIND_LABELS", "SYNTHETIC_MANIFEST", "DataError", "Dataset",
           "DatasetEntry", "crop_flip", "data_available", "data_root", "dataset_entry", "epoch_draws", "full_batches",
           "hold_out", "load_dataset", "normalizer", "policy_augmentation", "train_batches", "verify_md5s",
           "write_synthetic_cifar100"]
