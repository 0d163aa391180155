"""Corrupted copies of a run's test images: the published CIFAR-100-C arrays when they are on disk, else
generated with ``imagecorruptions`` (Hendrycks & Dietterich's own code, packaged) and cached by checksum.

The package applies ImageNet-C's strengths; CIFAR-10/100-C were made with milder ones (their
``make_cifar_c.py``: Gaussian noise σ 0.04–0.10 of the range where ImageNet-C's is 0.08–0.38, contrast 0.75–0.15
where it is 0.4–0.05), so a generated set is harder than the release's and the pages say so.

A generated set is a pure function of the clean images, the corruption, the severity and the seed, so the
cache is keyed by all four (and the generator's version) and a regenerated set is identical.
"""
from __future__ import annotations

import hashlib
import io
import json
import warnings
import zlib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from ..data import DataError
from ..records import atomic_write, atomic_write_json
from .settings import CORRUPTIONS

GENERATOR = "imagecorruptions"
GENERATED_REVISION = 2  # in the cache key: sets cached before impulse noise was seeded (1) are generated again
CACHE_FOLDER = "corruptions-generated"  # under the data root, beside the datasets
PUBLISHED_FOLDER = "CIFAR-100-C"  # Hendrycks & Dietterich's release: <name>.npy (5 × 10,000 images), labels.npy


def _imagecorruptions():
    """The package, made to run on current NumPy and scikit-image: it still spells ``np.float_`` (gone in
    NumPy 2) and ``gaussian(multichannel=)`` (now ``channel_axis``), which break fog and glass blur; and its
    impulse noise calls scikit-image's ``random_noise``, which now draws from a generator of its own, unseeded,
    so it is given one seeded from NumPy's global generator, as every other corruption draws."""
    if not hasattr(np, "float_"):
        np.float_ = np.float64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it imports pkg_resources, which warns on import
        import imagecorruptions
        import imagecorruptions.corruptions as implementation
    import skimage
    from skimage.filters import gaussian

    def gaussian_any_version(image, sigma=1, multichannel=None, **kw):
        return gaussian(image, sigma=sigma, **({"channel_axis": -1} if multichannel else {}), **kw)

    implementation.gaussian = gaussian_any_version
    implementation.sk = SimpleNamespace(color=skimage.color, util=SimpleNamespace(
        random_noise=lambda image, **kw: skimage.util.random_noise(image, rng=np.random.randint(2**31), **kw)))
    return imagecorruptions


def images_checksum(x: torch.Tensor) -> str:
    return hashlib.sha256(x.contiguous().cpu().numpy().tobytes()).hexdigest()


def corruption_seed(seed: int, corruption: str, severity: int) -> int:
    """One seed per set, so each set can be regenerated alone; crc32 is stable across processes (hash() is not)."""
    return (seed * 1_000_003 + zlib.crc32(f"{corruption}-{severity}".encode())) % 2**32


def corrupt(x: torch.Tensor, corruption: str, severity: int, seed: int) -> torch.Tensor:
    """``x`` (uint8, N×3×H×W) with ``corruption`` at ``severity`` applied to every image, from ``seed``.

    The package draws from NumPy's global generator; it is seeded here and restored after, so nothing else
    that draws from it changes."""
    if corruption not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {corruption!r}; valid: {', '.join(CORRUPTIONS)}")
    package = _imagecorruptions()
    state = np.random.get_state()
    np.random.seed(corruption_seed(seed, corruption, severity))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.stack([package.corrupt(image, severity=severity, corruption_name=corruption)
                            for image in x.permute(0, 2, 3, 1).cpu().numpy()])
    finally:
        np.random.set_state(state)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


@dataclass(frozen=True)
class CorruptedSet:
    images: torch.Tensor  # uint8 N×3×H×W, the clean images' order
    source: str  # "generated" or "published"
    checksum: str  # sha256 of the images


def generated_set(clean: torch.Tensor, corruption: str, severity: int, seed: int, cache: Path) -> CorruptedSet:
    """The generated set, from the cache when a file with its key and a matching checksum is there."""
    key = hashlib.sha256(json.dumps([images_checksum(clean), corruption, severity, seed, GENERATOR,
                                     version(GENERATOR), GENERATED_REVISION]).encode()).hexdigest()[:24]
    data, meta = cache / f"{corruption}-{severity}-{key}.npy", cache / f"{corruption}-{severity}-{key}.json"
    if data.is_file() and meta.is_file():
        images = torch.from_numpy(np.load(data, allow_pickle=False))
        checksum = images_checksum(images)
        if checksum == json.loads(meta.read_text(encoding="utf-8")).get("sha256"):
            return CorruptedSet(images, "generated", checksum)
    images = corrupt(clean, corruption, severity, seed)
    checksum = images_checksum(images)
    cache.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, images.numpy(), allow_pickle=False)
    atomic_write(data, lambda f: f.write(buffer.getvalue()))
    atomic_write_json(meta, {"corruption": corruption, "severity": severity, "seed": seed, "sha256": checksum,
                             "generator": f"{GENERATOR} {version(GENERATOR)}", "images": len(images)})
    return CorruptedSet(images, "generated", checksum)


def published_set(folder: Path, corruption: str, severity: int, test_index: torch.Tensor,
                  test_labels: torch.Tensor) -> CorruptedSet | None:
    """The published CIFAR-100-C images of the run's test images, or None when they are not on disk. The
    release's labels must equal the test set's, so a foreign or reordered array is never read as the protocol."""
    data, labels = folder / f"{corruption}.npy", folder / "labels.npy"
    if not (data.is_file() and labels.is_file()):
        return None
    arrays, published = np.load(data, mmap_mode="r", allow_pickle=False), np.load(labels, allow_pickle=False)
    n = len(arrays) // 5
    rows = (severity - 1) * n + test_index.numpy()
    if arrays.shape[1:] != (32, 32, 3) or not np.array_equal(published[rows], test_labels.numpy()):
        raise DataError(f"{data}: not the CIFAR-100-C release (expected 5 × {n} images of 32×32×3 whose "
                         f"labels.npy equals the CIFAR-100 test labels); remove {folder} to generate the sets")
    images = torch.from_numpy(np.ascontiguousarray(arrays[rows])).permute(0, 3, 1, 2).contiguous()
    return CorruptedSet(images, "published", images_checksum(images))
