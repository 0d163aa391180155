"""CIFAR-10 (Krizhevsky 2009), read and downloaded by torchvision's own ``CIFAR10`` class from its official
python layout ``<root>/cifar-10-batches-py/`` (``data_batch_1``…``5``, ``test_batch``, ``batches.meta``), each
file md5-checked against torchvision's list. Real images of another dataset: every page says they are not
CIFAR-100. :func:`write_synthetic_cifar10` writes learnable stand-in files in that layout (for tests).
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from ..records import atomic_write
from .datasets import synthetic_splits
from .registry import DataError, DataRequest, DatasetEntry, Parts, combined_checksum, md5, register_dataset

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def _official_md5s() -> dict[str, str]:
    """File name -> md5 of the official files, as torchvision checks them."""
    from torchvision.datasets import CIFAR10
    return {**{name: want for name, want in CIFAR10.train_list + CIFAR10.test_list},
            CIFAR10.meta["filename"]: CIFAR10.meta["md5"]}


def _folder(root: Path) -> Path:
    from torchvision.datasets import CIFAR10
    return root / CIFAR10.base_folder


def _missing(root: Path, cause: BaseException | None = None) -> DataError:
    from torchvision.datasets import CIFAR10
    why = f" (download failed: {cause})" if cause else ""
    online = "" if cause else ", or allow the download (download: true) on a machine with a network"
    return DataError(f"CIFAR-10 not found under {_folder(root)}{why}. Download {CIFAR10.url} (md5 {CIFAR10.tgz_md5}) "
                     f"and run `tar -xzf {CIFAR10.filename} -C {root}`{online}")


def _check_files(folder: Path) -> None:
    """Every official file present with its official md5; the first that is not is named."""
    for name, want in _official_md5s().items():
        got = md5(folder / name)
        if got != want:
            raise DataError(f"CIFAR-10: {folder / name} has md5 {got}, expected {want}; the file is corrupt or not "
                            f"the official one. Delete {folder} and download or extract it again.")


def _present(root: Path) -> bool:
    return all((_folder(root) / name).is_file() for name in _official_md5s())


def locate_cifar10(request: DataRequest) -> str:
    folder = _folder(request.root)
    if _present(request.root):
        return f"cifar10 in {folder}"
    if not request.download:
        raise _missing(request.root)
    from torchvision.datasets import CIFAR10
    return f"cifar10 not in {folder}: a real run downloads it from {CIFAR10.url}"


def read_cifar10(request: DataRequest) -> Parts:
    from torchvision.datasets import CIFAR10
    root = request.root
    if not _present(root):
        if not request.download:
            raise _missing(root)
        try:
            CIFAR10(str(root), download=True)  # torchvision's download, md5-checked and extracted
        except Exception as e:  # no network, proxy refusal, DNS failure…
            raise _missing(root, e) from e
    _check_files(_folder(root))

    import torch

    def split(train: bool):
        d = CIFAR10(str(root), train=train, download=False)
        return torch.from_numpy(np.ascontiguousarray(d.data.transpose(0, 3, 1, 2))), torch.tensor(d.targets), d.classes

    train_x, train_y, classes = split(True)
    test_x, test_y, _ = split(False)
    return Parts(train_x, train_y, test_x, test_y, list(classes), combined_checksum(_official_md5s()))


def write_synthetic_cifar10(root: str | os.PathLike, train_size: int = 500, test_size: int = 100,
                            seed: int = 0) -> dict[str, str]:
    """Write synthetic images (:func:`~.datasets.synthetic_splits`, 10 classes) in CIFAR-10's official layout
    under ``root/cifar-10-batches-py``; returns each file's md5 (they are not the official ones)."""
    folder = _folder(Path(root))
    folder.mkdir(parents=True, exist_ok=True)
    (train_x, train_y), (test_x, test_y) = synthetic_splits((train_size, test_size), 10, seed)
    files = {f"data_batch_{i + 1}": {"data": x, "labels": y.tolist()}
             for i, (x, y) in enumerate(zip(np.array_split(train_x, 5), np.array_split(np.asarray(train_y), 5)))}
    files["test_batch"] = {"data": test_x, "labels": test_y}
    files["batches.meta"] = {"label_names": [f"class_{i}" for i in range(10)], "num_vis": 3072}
    for name, obj in files.items():
        atomic_write(folder / name, lambda f: pickle.dump(obj, f, protocol=2))
    return {name: md5(folder / name) for name in files}


def cifar10_class_names(request: DataRequest) -> list:
    """The label names from the md5-checked ``batches.meta`` alone."""
    from torchvision.datasets import CIFAR10
    path = _folder(request.root) / CIFAR10.meta["filename"]
    if md5(path) != _official_md5s()[path.name]:
        raise DataError(f"CIFAR-10: {path} is not the official file")
    with open(path, "rb") as f:
        return list(pickle.load(f, encoding="latin1")[CIFAR10.meta["key"]])


register_dataset(DatasetEntry("cifar10", "other", {"en": "CIFAR-10", "zh": "CIFAR-10"}, 10, (50000, 10000),
                              CIFAR10_MEAN, CIFAR10_STD, read_cifar10, locate_cifar10,
                              class_names=cifar10_class_names))
