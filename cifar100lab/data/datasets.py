"""Datasets as uint8 tensors in memory: found, downloaded or generated, checked, and read.

:func:`load_dataset` reads any registered dataset (:mod:`.registry`) and takes its fixed subsets and validation
split. Three datasets are registered here, one shape (N, 3, 32, 32) uint8 (CIFAR-10 in :mod:`.cifar10`, folders
of images in :mod:`.imagefolder`):

* ``cifar100``: the official python layout ``<root>/cifar-100-python/{train,test,meta}``, md5-checked,
  downloaded with torchvision when ``download`` is on and a network is there.
* ``fashion-mnist``: a *real-image stand-in* for machines without CIFAR-100 (10 classes, 28×28 grey,
  zero-padded to 32×32 and replicated to 3 channels), read from torchvision's
  ``<root>/FashionMNIST/raw`` layout, filled from Debian's ``dataset-fashion-mnist`` package or
  torchvision's download.
* ``synthetic``: generated here *in the CIFAR-100 layout* (so the real reader runs), with a manifest
  of its own md5s; learnable class structure. Always labelled synthetic.

torch is imported where images are read or drawn, so the registry's facts load without it: the report and the
book read them in processes that train nothing.
"""
from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..records import atomic_write, atomic_write_text
from ..seeds import holdout_seed
from .registry import (
    DATA_ENV,
    DataError,
    DataRequest,
    DatasetEntry,
    Parts,
    check_parts,
    combined_checksum,
    data_root,
    dataset_entry,
    md5,
    register_dataset,
)
from .sizes import held_out_count, none_held_out

if TYPE_CHECKING:
    import torch

CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_TGZ_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
CIFAR100_MD5 = {"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
                "meta": "7973b15100ade9c7d40fb424638fde48"}
CIFAR_FOLDER = "cifar-100-python"
SYNTHETIC_MANIFEST = "SYNTHETIC.json"
SYNTHETIC_SIZES = (5000, 1000)  # (train, test) a run generates when the data root has no synthetic set

# md5 of the *decompressed* idx files (Debian recompressed the .gz, so their md5s differ from torchvision's).
FASHION_MD5 = {"train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
               "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
               "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
               "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965"}
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]

CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
FASHION_MEAN, FASHION_STD = (0.2190,) * 3, (0.3318,) * 3
SYNTHETIC_MEAN, SYNTHETIC_STD = (0.4970, 0.4959, 0.4995), (0.2381, 0.2350, 0.2346)


@dataclass
class Dataset:
    name: str
    train_x: torch.Tensor  # uint8 (N, 3, H, W): 32×32 but for an image folder (the run's input size)
    train_y: torch.Tensor  # int64 (N,)
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    checksum: str
    subsets: dict = field(default_factory=dict)
    val_x: torch.Tensor | None = None  # a hold-out of the training images (val_fraction), or None
    val_y: torch.Tensor | None = None

    @property
    def entry(self) -> DatasetEntry:
        return dataset_entry(self.name)

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def label(self) -> str:
        return self.entry.label["en"]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device) -> "Dataset":
        """The same dataset with its images and labels on ``device`` (one copy each, for the whole run)."""
        tensors = {name: getattr(self, name) for name in ("train_x", "train_y", "test_x", "test_y", "val_x", "val_y")}
        return replace(self, **{name: t if t is None else t.to(device) for name, t in tensors.items()})

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "label": self.label, "checksum": self.checksum,
                "num_classes": self.num_classes, "train_size": len(self.train_y), "test_size": len(self.test_y),
                "val_size": 0 if self.val_y is None else len(self.val_y), **self.subsets}


def verify_md5s(folder: Path, expected: dict[str, str], what: str) -> None:
    for name, want in expected.items():
        path = folder / name
        if not path.is_file():
            raise DataError(f"{what}: {path} is missing")
        got = md5(path)
        if got != want:
            raise DataError(f"{what}: {path} has md5 {got}, expected {want}; the file is corrupt or not the "
                            f"official one. Delete {folder} and download or extract it again.")


def offline_error(root: Path, cause: BaseException | None = None) -> DataError:
    why = f" (download failed: {cause})" if cause else ""
    return DataError(
        f"CIFAR-100 not found under {root / CIFAR_FOLDER}{why}.\n"
        f"  Put the official tarball there: download {CIFAR100_URL} (md5 {CIFAR100_TGZ_MD5}) and run\n"
        f"    tar -xzf cifar-100-python.tar.gz -C {root}\n"
        f"  or set {DATA_ENV} / --data-root to the folder that holds {CIFAR_FOLDER}/.\n"
        f"  Without CIFAR-100, opt into a labelled stand-in explicitly: dataset 'fashion-mnist' (real images;\n"
        f"  Debian: apt-get install dataset-fashion-mnist) or 'synthetic' (generated, for plumbing only),\n"
        f"  e.g. `make report DATASET=fashion-mnist` or `python -m cifar100lab campaign params/quick.yaml "
        f"--dataset fashion-mnist`.")


def read_cifar_python(folder: Path, md5s: dict[str, str], what: str):
    """Read the CIFAR-100 python pickles (after checking their md5s) into uint8 tensors."""
    import torch
    verify_md5s(folder, md5s, what)

    def load(name):
        with open(folder / name, "rb") as f:
            return pickle.load(f, encoding="latin1")

    meta = load("meta")
    out = []
    for split in ("train", "test"):
        d = load(split)
        x = torch.from_numpy(np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).copy())
        out += [x, torch.tensor(d["fine_labels"], dtype=torch.int64)]
    return (*out, list(meta["fine_label_names"]))


def ensure_cifar100(root: Path, download: bool) -> Path:
    folder = root / CIFAR_FOLDER
    if all((folder / n).is_file() for n in CIFAR100_MD5):
        return folder
    if not download:
        raise offline_error(root)
    from torchvision.datasets.utils import download_and_extract_archive
    try:
        download_and_extract_archive(CIFAR100_URL, str(root), md5=CIFAR100_TGZ_MD5)
    except Exception as e:  # no network, proxy refusal, DNS failure…
        raise offline_error(root, e) from e
    return folder


def synthetic_splits(sizes: tuple[int, ...], num_classes: int, seed: int = 0, noise: float = 48.0):
    """Synthetic images for each split size: [(uint8 (n, 3072) array in CIFAR's row layout, labels)].

    Each class is a smooth random colour pattern (a 4×4×3 grid upsampled to 32×32); an image is its class
    pattern, randomly shifted by up to 4 pixels, plus Gaussian noise. Learnable, not trivial."""
    import torch
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(seed)
    patterns = F.interpolate(torch.rand(num_classes, 3, 4, 4, generator=g), size=40, mode="bilinear",
                             align_corners=False) * 200 + 28

    def make(n):
        y = torch.randint(0, num_classes, (n,), generator=g)
        dy, dx = torch.randint(0, 9, (2, n), generator=g)
        x = torch.stack([patterns[c, :, a:a + 32, b:b + 32] for c, a, b in zip(y.tolist(), dy.tolist(), dx.tolist())])
        x = (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 255).to(torch.uint8)
        return x.reshape(n, -1).numpy(), y.tolist()

    return [make(n) for n in sizes]


def write_synthetic_cifar100(root: str | os.PathLike, train_size: int = SYNTHETIC_SIZES[0],
                             test_size: int = SYNTHETIC_SIZES[1],
                             num_classes: int = 100, seed: int = 0, noise: float = 48.0) -> Path:
    """Write a synthetic dataset (:func:`synthetic_splits`) in the official CIFAR-100 python layout under
    ``root/cifar-100-python``, with a manifest of its files' md5s."""
    folder = Path(root) / CIFAR_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    splits = synthetic_splits((train_size, test_size), num_classes, seed, noise)
    files = {}
    for split, n, (x, y) in zip(("train", "test"), (train_size, test_size), splits):
        files[split] = {"batch_label": f"synthetic {split}", "data": x, "fine_labels": y,
                        "coarse_labels": [c * 20 // num_classes for c in y],
                        "filenames": [f"synthetic_{split}_{i}.png" for i in range(n)]}
    files["meta"] = {"fine_label_names": [f"class_{i:02d}" for i in range(num_classes)],
                     "coarse_label_names": [f"superclass_{i:02d}" for i in range(20)]}
    md5s = {}
    for name, obj in files.items():
        atomic_write(folder / name, lambda f: pickle.dump(obj, f, protocol=2))
        md5s[name] = md5(folder / name)
    manifest = {"generator": "cifar100lab.data.write_synthetic_cifar100", "seed": seed, "train_size": train_size,
                "test_size": test_size, "num_classes": num_classes, "md5": md5s}
    atomic_write_text(folder / SYNTHETIC_MANIFEST, json.dumps(manifest, indent=2))
    return folder


def _fashion_gz_source(raw: Path) -> Path | None:
    """Where the .gz files are: beside the raw files (torchvision's layout) or in Debian's package; None: neither."""
    return next((source for source in (raw, FASHION_DEBIAN_DIR)
                 if all((source / f"{n}.gz").is_file() for n in FASHION_MD5)), None)


def _fashion_missing(raw: Path) -> DataError:
    return DataError(f"Fashion-MNIST not found in {raw} or {FASHION_DEBIAN_DIR}. Install it with "
                     f"`apt-get install dataset-fashion-mnist` (Debian) or allow the torchvision download.")


def _gunzip(gz: Path, target: Path, expected_md5: str) -> None:
    """``gz`` decompressed into ``target`` (atomically: a damaged archive leaves nothing behind)."""
    try:
        with gzip.open(gz, "rb") as src:
            atomic_write(target, lambda dst: shutil.copyfileobj(src, dst))
    except (EOFError, OSError, zlib.error) as e:  # truncated (EOFError), not gzip (BadGzipFile), corrupt (zlib)
        fix = ("reinstall it (apt-get install --reinstall dataset-fashion-mnist)" if gz.parent == FASHION_DEBIAN_DIR
               else "delete it and run again (it is copied or downloaded anew)")
        raise DataError(f"{gz} is damaged ({type(e).__name__}: {e}); decompressed it should have md5 "
                        f"{expected_md5}; {fix}") from None


def ensure_fashion_mnist(root: Path, download: bool) -> Path:
    raw = root / "FashionMNIST" / "raw"
    if all((raw / n).is_file() for n in FASHION_MD5):
        return raw
    source = _fashion_gz_source(raw)
    if source is not None:
        for n, want in FASHION_MD5.items():  # the decompressed files' md5s are checked when they are read
            _gunzip(source / f"{n}.gz", raw / n, want)
        return raw
    if download:
        from torchvision.datasets import FashionMNIST
        try:
            FashionMNIST(str(root), download=True)
            return raw
        except Exception as e:
            raise DataError(f"Fashion-MNIST could not be downloaded into {raw}: {e}") from e
    raise _fashion_missing(raw)


def _locate_cifar100(request: DataRequest) -> str:
    folder = request.root / CIFAR_FOLDER
    if all((folder / n).is_file() for n in CIFAR100_MD5):
        return f"cifar100 in {folder}"
    if not request.download:
        raise offline_error(request.root)
    return f"cifar100 not in {folder}: a real run downloads it from {CIFAR100_URL}"


def _locate_synthetic(request: DataRequest) -> str:
    folder = request.root / "synthetic" / CIFAR_FOLDER
    made = (folder / SYNTHETIC_MANIFEST).is_file()
    return f"synthetic in {folder}" if made else f"synthetic not in {folder}: a real run generates it there"


def _locate_fashion_mnist(request: DataRequest) -> str:
    raw = request.root / "FashionMNIST" / "raw"
    if all((raw / n).is_file() for n in FASHION_MD5):
        return f"fashion-mnist in {raw}"
    source = _fashion_gz_source(raw)
    if source is not None:
        return f"fashion-mnist not in {raw}: a real run decompresses it there from {source}"
    if request.download:
        return f"fashion-mnist not in {raw}: a real run downloads it with torchvision"
    raise _fashion_missing(raw)


def _read_cifar100(request: DataRequest) -> Parts:
    folder = ensure_cifar100(request.root, request.download)
    return Parts(*read_cifar_python(folder, CIFAR100_MD5, "CIFAR-100"), combined_checksum(CIFAR100_MD5))


def _read_synthetic(request: DataRequest) -> Parts:
    folder = request.root / "synthetic" / CIFAR_FOLDER
    if not (folder / SYNTHETIC_MANIFEST).is_file():
        write_synthetic_cifar100(folder.parent)
    md5s = _synthetic_md5s(folder / SYNTHETIC_MANIFEST)
    return Parts(*read_cifar_python(folder, md5s, "synthetic CIFAR-100-layout data"), combined_checksum(md5s))


def cifar_class_names(folder: Path, md5s: dict[str, str], what: str) -> list:
    """The fine label names of a CIFAR-100-layout folder, from its md5-checked ``meta`` alone."""
    verify_md5s(folder, {"meta": md5s["meta"]}, what)
    with open(folder / "meta", "rb") as f:
        return list(pickle.load(f, encoding="latin1")["fine_label_names"])


def _synthetic_sizes(request: DataRequest) -> tuple[int, int]:
    """The synthetic set's sizes under the data root, from its manifest (a DataError when damaged); the sizes a
    run generates it at when it is not there yet."""
    manifest = request.root / "synthetic" / CIFAR_FOLDER / SYNTHETIC_MANIFEST
    if not manifest.is_file():
        return SYNTHETIC_SIZES
    _synthetic_md5s(manifest)  # not JSON, or not the manifest's shape: a DataError saying how to mend it
    made = json.loads(manifest.read_text(encoding="utf-8"))
    sizes = made.get("train_size"), made.get("test_size")
    return sizes if all(isinstance(n, int) for n in sizes) else (None, None)  # older manifests: unknown


def _synthetic_names(request: DataRequest) -> list:
    folder = request.root / "synthetic" / CIFAR_FOLDER
    return cifar_class_names(folder, _synthetic_md5s(folder / SYNTHETIC_MANIFEST), "synthetic CIFAR-100-layout data")


def _read_fashion_mnist(request: DataRequest) -> Parts:
    raw = ensure_fashion_mnist(request.root, request.download)
    return Parts(*read_fashion_mnist(raw), combined_checksum(FASHION_MD5))


def data_available(name: str, root: str | os.PathLike | None = None, download: bool = True) -> str:
    """Where the dataset is, or where it will come from, found by looking only (a dry run writes nothing);
    a DataError when it cannot be had."""
    entry = dataset_entry(name)
    if entry.locate is None:  # a plugin that cannot tell without reading
        return f"{name}: {entry.label['en']} (a real run reads it)"
    return entry.locate(DataRequest(data_root(root), download))


def read_fashion_mnist(raw: Path):
    import torch.nn.functional as F
    from torchvision.datasets.mnist import read_image_file, read_label_file
    verify_md5s(raw, FASHION_MD5, "Fashion-MNIST")

    def images(name):  # (N, 28, 28) -> (N, 3, 32, 32): zero-pad 2 px a side, replicate to RGB
        x = F.pad(read_image_file(str(raw / name)), (2, 2, 2, 2))
        return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()

    return (images("train-images-idx3-ubyte"), read_label_file(str(raw / "train-labels-idx1-ubyte")).long(),
            images("t10k-images-idx3-ubyte"), read_label_file(str(raw / "t10k-labels-idx1-ubyte")).long(),
            list(FASHION_CLASSES))


def fixed_subset(n_total: int, n: int | None, seed: int) -> torch.Tensor | None:
    if not n or n >= n_total:
        return None
    import torch
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n].sort().values


def load_dataset(name: str, root: str | os.PathLike | None = None, download: bool = True,
                 train_subset: int | None = None, test_subset: int | None = None, subset_seed: int = 0,
                 val_fraction: float = 0.0, image_size: int = 32) -> Dataset:
    """Load a dataset into memory. ``*_subset`` picks a fixed, seeded subset (the same for every run);
    ``val_fraction`` holds that share of the (sub)set's training images out as a validation split, the same
    images for every run, so "best epoch" can be chosen without looking at the test set. ``image_size``: the
    side a dataset of images of any size (an image folder) is resized to, the run's input size."""
    entry = dataset_entry(name)
    parts = entry.read(DataRequest(data_root(root), download, image_size))
    check_parts(name, parts)  # a plugin's read is the one not written here
    train_x, train_y, test_x, test_y = parts.train_x, parts.train_y, parts.test_x, parts.test_y
    subsets = {}
    for split, n in (("train", train_subset), ("test", test_subset)):
        x, y = (train_x, train_y) if split == "train" else (test_x, test_y)
        idx = fixed_subset(len(y), n, subset_seed)
        if idx is not None:
            subsets[f"{split}_subset"] = len(idx)
            subsets[f"{split}_full_size"] = len(y)
            if split == "train":
                train_x, train_y = x[idx], y[idx]
            else:
                test_x, test_y = x[idx], y[idx]
    train_x, train_y, val_x, val_y = hold_out(train_x, train_y, val_fraction, subset_seed)
    return Dataset(name, train_x, train_y, test_x, test_y, list(parts.classes), parts.checksum,
                   {**subsets, **(parts.details or {})}, val_x, val_y)


def _synthetic_md5s(manifest: Path) -> dict[str, str]:
    try:
        md5s = json.loads(manifest.read_text(encoding="utf-8"))["md5"]
        if isinstance(md5s, dict):
            return md5s
    except (ValueError, KeyError, TypeError):  # not UTF-8, not JSON, not the manifest's shape
        pass
    raise DataError(f"{manifest} is damaged; delete {manifest.parent} and run again (the synthetic set is "
                    f"generated anew)")


def hold_out(x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int = 0):
    """(train x, train y, val x, val y): a fixed, seeded ``fraction`` of the images as validation (None if 0)."""
    n_val = held_out_count(len(y), fraction)  # the count config's batch check takes out (sizes.check_sizes)
    if n_val == 0 and fraction:  # resolve refuses it where the sizes are known; a plugin's may not be
        raise DataError(none_held_out(len(y), fraction))
    if n_val == 0:
        return x, y, None, None
    import torch
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(holdout_seed(seed)))
    val, keep = perm[:n_val].sort().values, perm[n_val:].sort().values
    return x[keep], y[keep], x[val], y[val]


# Fashion-MNIST statistics are of the zero-padded 32×32 images (the 2-px border lowers both); synthetic ones
# are of write_synthetic_cifar100's default set (seed 0, 5,000 train images).
for _entry in (
    DatasetEntry("cifar100", "real", {"en": "CIFAR-100", "zh": "CIFAR-100"}, 100, (50000, 10000),
                 CIFAR100_MEAN, CIFAR100_STD, _read_cifar100, _locate_cifar100,
                 class_names=lambda request: cifar_class_names(request.root / CIFAR_FOLDER, CIFAR100_MD5, "CIFAR-100")),
    DatasetEntry("fashion-mnist", "stand-in", {"en": "Fashion-MNIST (stand-in for CIFAR-100)",
                                               "zh": "Fashion-MNIST（CIFAR-100 的替代数据集）"}, 10, (60000, 10000),
                 FASHION_MEAN, FASHION_STD, _read_fashion_mnist, _locate_fashion_mnist,
                 about={"en": "real images, but 10 classes of 28×28 grey images padded to 32×32",
                        "zh": "真实图像，但只有 10 类 28×28 灰度图像（填充到 32×32）"},
                 class_names=lambda request: list(FASHION_CLASSES)),
    DatasetEntry("synthetic", "synthetic", {"en": "synthetic data (CIFAR-100 layout)",
                                            "zh": "合成数据（CIFAR-100 目录格式）"}, 100, SYNTHETIC_SIZES,
                 SYNTHETIC_MEAN, SYNTHETIC_STD, _read_synthetic, _locate_synthetic, class_names=_synthetic_names,
                 sizes_at=_synthetic_sizes),
):
    register_dataset(_entry)
