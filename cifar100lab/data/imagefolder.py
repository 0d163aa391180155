"""A folder of images as a dataset: ``dataset: imagefolder:/path/to/images`` (or the bare path).

Layout (torchvision's ``ImageFolder``): one sub-folder per class, its name the class name, images anywhere below
it; hidden files and folders (a name starting with a dot) are left out. With ``train/`` and ``test/`` (or
``val/``) sub-folders, each holds the class folders of its split; without them, every ``TEST_EVERY``-th image of
each class (in name order) is a test image, the same ones every time.

Every image is read into the same uint8 on-device pipeline as the built-in sets, at the run's input size: images
of any size and shape are centre-cropped to a square and resized to it (PIL's ``ImageOps.fit``, bicubic), so mixed
sizes are allowed and none is stretched. The record keeps a sha256 over the sorted file list and each file's
bytes, the folder, the file count and this resize policy. What cannot make a classification set (no folder, no
class folders, an empty class, one class, a split without test images or a class without one, a test image that is
byte for byte a training image, a file that is not an image) is one DataError naming the folder or file and the fix.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .registry import FOLDER_PREFIX, DataError, DataRequest, DatasetEntry, Parts, register_prefix

if TYPE_CHECKING:  # imported where images are read (datasets.py says why)
    import torch

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")  # torchvision's
TEST_EVERY = 5  # a folder without train/ and test/: every 5th image of a class is a test image (a 20 % split)
TEST_FOLDERS = ("test", "val")
# Unknown images are normalised with ImageNet's statistics, the usual choice for photographs (a dataset's own
# statistics would need every image read before the run is even planned).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
RESIZE_POLICY = "centre crop to a square, then resized to the run's input size (bicubic)"


@dataclass(frozen=True)
class FolderLayout:
    """An image folder's classes and its (file, label) pairs per split, in name order."""
    folder: Path
    classes: list
    train: list
    test: list
    split: str  # how the test split was chosen, in words, for the record


def _images_below(class_folder: Path) -> list[Path]:
    """The image files anywhere below a class folder, sorted. Hidden files and folders (macOS's ``._name.png``,
    ``.ipynb_checkpoints/``) are left out: they copy other images, or are not images at all. A linked folder is
    walked, as torchvision's ImageFolder walks it (``Path.rglob`` does not follow one, so its images were left out
    without a word); a folder reached again through a link (a loop) is walked once."""
    found, walked = [], set()
    for top, folders, names in os.walk(class_folder, followlinks=True):
        if (real := os.path.realpath(top)) in walked:
            folders[:] = []
            continue
        walked.add(real)
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [path for name in names if not name.startswith(".") and (path := Path(top, name)).is_file()
                  and path.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(found)


def _class_files(folder: Path) -> dict[str, list[Path]]:
    """Class name -> its image files (sorted), for each sub-folder of ``folder``; empty classes are an error."""
    classes = sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"image folder {folder} has no class sub-folders; put each class's images in a sub-folder "
                        f"of its own ({folder}/<class>/*.png)")
    files = {d.name: _images_below(d) for d in classes}
    empty = [name for name, found in files.items() if not found]
    if empty:
        raise DataError(f"image folder {folder}: class folder(s) {', '.join(empty)} hold no images "
                        f"({', '.join(IMAGE_SUFFIXES)}); add images or remove the folder")
    return files


def _pairs(files: dict[str, list[Path]], classes: list[str]) -> list[tuple[Path, int]]:
    return [(path, label) for label, name in enumerate(classes) for path in files[name]]


def scan(folder: Path) -> FolderLayout:
    """The folder's layout, found by listing it (no image is opened)."""
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist or is not a folder; give the folder that holds one "
                        f"sub-folder per class (imagefolder:/path/to/images)")
    test_dir = next((folder / t for t in TEST_FOLDERS if (folder / t).is_dir()), None)
    if (folder / "train").is_dir() or test_dir is not None:
        if not (folder / "train").is_dir() or test_dir is None:
            raise DataError(f"image folder {folder} has a train/ or test/ folder but not both; give it train/ and "
                            f"test/ (or val/), or neither (then every {TEST_EVERY}th image of a class is held out)")
        train, test = _class_files(folder / "train"), _class_files(test_dir)
        if set(train) != set(test):
            raise DataError(f"image folder {folder}: train/ and {test_dir.name}/ name different classes "
                            f"(only in train/: {sorted(set(train) - set(test))}, only in {test_dir.name}/: "
                            f"{sorted(set(test) - set(train))}); both need the same class folders")
        classes = sorted(train)
        layout = FolderLayout(folder, classes, _pairs(train, classes), _pairs(test, classes),
                              f"train/ and {test_dir.name}/ folders")
    else:
        files = _class_files(folder)
        classes = sorted(files)
        held = {name: set(found[TEST_EVERY - 1::TEST_EVERY]) for name, found in files.items()}
        pairs = _pairs(files, classes)
        layout = FolderLayout(folder, classes, [p for p in pairs if p[0] not in held[classes[p[1]]]],
                              [p for p in pairs if p[0] in held[classes[p[1]]]],
                              f"every {TEST_EVERY}th image of each class (by name) held out as test")
    _check_split(layout)
    return layout


def _check_split(layout: FolderLayout) -> None:
    if len(layout.classes) < 2:
        raise DataError(f"image folder {layout.folder} has one class ({layout.classes[0]}); a classifier needs at "
                        f"least two class sub-folders")
    if not layout.test:
        raise DataError(f"image folder {layout.folder} leaves no test images ({layout.split}: no class has "
                        f"{TEST_EVERY} images); add images, or give it train/ and test/ folders")
    tested = {label for _, label in layout.test}
    if untested := [name for label, name in enumerate(layout.classes) if label not in tested]:
        raise DataError(f"image folder {layout.folder}: class(es) {', '.join(untested)} have fewer than {TEST_EVERY} "
                        f"images, so none is held out as a test image (every {TEST_EVERY}th is) and the class would "
                        f"be trained on but never tested; add images, or give it train/ and test/ folders")


def _rgb(image, path: Path):
    """The image as 8-bit RGB. 16-bit greyscale (PIL's I;16 modes, and I, as it reads some 16-bit files) is
    scaled from its 0-65535 range: PIL's own convert clips it at 255, so most of such an image read as white."""
    from PIL import Image
    if image.mode.startswith("I;16") or image.mode == "I":
        grey = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        return Image.fromarray(((grey * 255 + 32767) // 65535).astype(np.uint8)).convert("RGB")
    if image.mode == "F":
        raise DataError(f"{path} is a 32-bit floating-point image, whose range is not known; save it with 8 or "
                        f"16 bits a channel")
    return image.convert("RGB")


def _image(data: bytes, path: Path, size: int) -> torch.Tensor:
    """One image file's bytes as uint8 (3, size, size): RGB, centre-cropped to a square and resized."""
    import torch
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as image:
            square = ImageOps.fit(_rgb(image, path), (size, size), method=Image.Resampling.BICUBIC)
    except Image.DecompressionBombError as e:  # over PIL's pixel limit (179 million): an Exception of its own
        raise DataError(f"{path} is too large to read ({e}); scale it down or remove it") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"{path} is not an image that can be read ({type(e).__name__}: {e}); replace or remove "
                        f"it") from None
    return torch.from_numpy(np.asarray(square).copy()).permute(2, 0, 1)


def _read_split(pairs: list, folder: Path, size: int, digest, files: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's images and labels; each file's name and bytes go into ``digest`` as it is read, and ``files``
    maps each file's sha256 to its (first) path."""
    import torch
    x = torch.empty(len(pairs), 3, size, size, dtype=torch.uint8)
    for i, (path, _) in enumerate(pairs):
        data = path.read_bytes()
        files.setdefault(_digest_file(digest, folder, path, data), path.relative_to(folder).as_posix())
        x[i] = _image(data, path, size)
    return x, torch.tensor([label for _, label in pairs], dtype=torch.int64)


def read_folder(layout: FolderLayout, request: DataRequest) -> Parts:
    digest, train_files, test_files = hashlib.sha256(), {}, {}
    train_x, train_y = _read_split(layout.train, layout.folder, request.image_size, digest, train_files)
    test_x, test_y = _read_split(layout.test, layout.folder, request.image_size, digest, test_files)
    if both := sorted(test_files.keys() & train_files.keys(), key=test_files.get):
        raise DataError(f"image folder {layout.folder}: {len(both)} test image(s) are byte for byte a training image "
                        f"(first: {test_files[both[0]]} is {train_files[both[0]]}; a copy or a link), so the run "
                        f"would be tested on images it trained on; remove one of each pair")
    details = {"folder": str(layout.folder), "files": len(layout.train) + len(layout.test),
               "image_size": request.image_size, "split": layout.split, "resize": RESIZE_POLICY}
    return Parts(train_x, train_y, test_x, test_y, list(layout.classes), "sha256:" + digest.hexdigest(), details)


def files_checksum(folder: Path) -> str:
    """The checksum :func:`read_folder` records for ``folder`` as it is now, from its files' bytes (none decoded)."""
    layout, digest = scan(folder), hashlib.sha256()
    for path, _ in layout.train + layout.test:
        _digest_file(digest, folder, path, path.read_bytes())
    return "sha256:" + digest.hexdigest()


def _digest_file(digest, folder: Path, path: Path, data: bytes) -> str:
    """Add a file's line (its name in the folder, its bytes' sha256) to the folder's ``digest``; return the sha256."""
    sha = hashlib.sha256(data).hexdigest()
    digest.update(f"{path.relative_to(folder).as_posix()}\t{sha}\n".encode())
    return sha


def folder_now(measured: dict) -> str | None:
    """The checksum an image folder a record measured (its ``dataset``: ``folder`` and ``checksum``) has now,
    when that differs from the recorded one (an image added, edited, renamed or removed: its result is not the
    folder's any more); None when unchanged, not an image folder, or gone. Files are hashed once per state of
    the folder (their sizes and times), so a campaign asking for each of its runs reads them once."""
    folder, recorded = measured.get("folder"), measured.get("checksum")
    if not folder or not recorded:
        return None
    try:
        layout = scan(Path(folder))
        state = hash(tuple((str(p), s.st_size, s.st_mtime_ns) for p, _ in layout.train + layout.test
                           for s in [p.stat()]))
        now = _checksum_of(folder, state)
    except (OSError, DataError):
        return None
    return now if now != recorded else None


@lru_cache(maxsize=8)
def _checksum_of(folder: str, state: int) -> str:
    return files_checksum(Path(folder))


def locate_folder(layout: FolderLayout, request: DataRequest) -> str:
    return (f"image folder {layout.folder}: {len(layout.train) + len(layout.test)} images in {len(layout.classes)} "
            f"classes, {layout.split}")


def folder_entry(path: str) -> DatasetEntry:
    """The registry entry of the image folder at ``path`` (``~`` expanded; a relative path is relative to the
    folder the command runs in, as the campaign's kernels are), made by listing it."""
    layout = scan(Path(path).expanduser().absolute())
    return DatasetEntry(f"{FOLDER_PREFIX}:{path}", "other",
                        {"en": f"image folder {layout.folder.name}", "zh": f"图像文件夹 {layout.folder.name}"},
                        len(layout.classes), (len(layout.train), len(layout.test)), IMAGENET_MEAN, IMAGENET_STD,
                        partial(read_folder, layout), partial(locate_folder, layout),
                        class_names=lambda request: list(layout.classes))


register_prefix(FOLDER_PREFIX, folder_entry)
