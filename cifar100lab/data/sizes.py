"""How many images a run's settings leave it, worked out before any image is read: each subset against its split,
the validation split taken out of the training images, and the batch against the training images left.

:func:`check_sizes` is called by ``config.resolve``, so ``train``, a campaign (every run, before the first starts),
``tune`` and the train notebook all refuse a size the data cannot give before any work. Every dataset's sizes are
known by then: a registered one's are its entry's, an image folder's are the files its entry was made by listing,
and the synthetic set's are those its manifest records (or the ones a run generates it at), read without an image.
Reading the data (``load_dataset``) stays lenient: it also reads for the evaluation of runs that trained before
this check, where a subset larger than its split took all of it.
"""
from __future__ import annotations

from ..config_files import ConfigError
from .registry import DataError, DataRequest, DatasetEntry, data_root

SPLIT_WORDS = {"train_subset": "training", "test_subset": "test"}


def held_out_count(n: int, fraction: float) -> int:
    """How many of ``n`` training images a validation ``fraction`` holds out (``hold_out`` takes this many)."""
    return round(n * fraction)


def split_sizes(entry: DatasetEntry, root: str | None, look: bool = True) -> tuple[int | None, int | None]:
    """The dataset's (training, test) image counts, None where unknown. ``look``: a dataset whose sizes are what
    is on disk (``sizes_at``) is looked at under ``root``; else its sizes stay unknown."""
    if entry.sizes_at is None:
        sizes = entry.sizes
    elif not look:
        return None, None
    else:
        try:
            sizes = entry.sizes_at(DataRequest(data_root(root)))
        except (DataError, OSError):  # a damaged manifest, a data_root that is a file: reading the data says so
            return None, None
    return tuple(n if n else None for n in sizes)  # 0: a plugin that does not say


def check_sizes(cfg, entry: DatasetEntry, stored: bool = False) -> None:
    """Refuse (ConfigError) a subset larger than its split, a validation fraction that holds out no image, and a
    batch larger than the training images left (less the validation split). ``cfg``: a TrainConfig. ``stored``: a
    run that trained, whose subset larger than its split took all of it and whose empty validation split chose on
    the test set (its record says both): only its batch is checked, and a synthetic set's sizes (the disk's now,
    not necessarily the run's) are left unknown."""
    train_size, test_size = split_sizes(entry, cfg.data_root, look=not stored)
    if not stored:
        for key, size in (("train_subset", train_size), ("test_subset", test_size)):
            asked = getattr(cfg, key)
            if asked and size and asked > size:
                where = f" in {data_root(cfg.data_root)}" if entry.sizes_at else ""  # it depends on the folder
                raise ConfigError(f"{key} {asked} is more than the {size} {SPLIT_WORDS[key]} images of {cfg.dataset}"
                                  f"{where}; give at most {size}, or leave it out for all of them")
    training = min((n for n in (train_size, cfg.train_subset) if n), default=None)
    if training is None:
        return
    if not stored and cfg.val_fraction and not held_out_count(training, cfg.val_fraction):
        raise ConfigError(none_held_out(training, cfg.val_fraction,
                                        f"{cfg.dataset}{', train_subset' if cfg.train_subset else ''}"))
    kept = training - held_out_count(training, cfg.val_fraction)
    if cfg.batch_size > kept:
        raise ConfigError(f"batch_size {cfg.batch_size} is larger than the {kept} training images "
                          f"({cfg.dataset}{', train_subset' if cfg.train_subset else ''}"
                          f"{', less the validation split' if cfg.val_fraction else ''}); lower batch_size")


def none_held_out(n: int, fraction: float, what: str = "") -> str:
    """Why ``fraction`` of ``n`` training images is no validation split (it rounds to none): a run would choose
    its best epoch on the test set after all, and a tune trial would have nothing to be judged on."""
    fewest = max(1, int(0.5 / fraction))
    while not held_out_count(fewest, fraction):
        fewest += 1
    larger = f" or a val_fraction above {0.5 / n:.3g}" if n > 1 else ""  # it is at most 0.5
    return (f"val_fraction {fraction} holds out none of the {n} training image{'s' * (n != 1)} ({what + ': ' if what else ''}"
            f"{fraction} × {n} rounds to 0), so the best epoch would be chosen on the test set after all; give at "
            f"least {fewest} training images{larger}, or val_fraction 0 for no validation split")
