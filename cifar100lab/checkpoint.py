"""A run's ``checkpoint.pt``: written each ``checkpoint_every`` epochs by the trainer (:class:`CheckpointWriter`;
on a GPU while the next epoch trains), read back to resume, to evaluate and to export. Reading never runs code
(``weights_only=True``) and refuses, with one :class:`CheckpointError` that says what is wrong, anything that is
not a checkpoint this package wrote for this configuration. The checkpoint also holds the metrics history, so a
torn ``metrics.jsonl`` is restored from it.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import torch

from . import records
from .config import ConfigError, RunPlan, field_changes, fingerprint
from .run_listing import listed_run_hint

CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "config", "epoch", "best", "history")


class CheckpointError(ConfigError):
    """A checkpoint is missing, corrupt, not ours, or holds something other than tensors and plain values."""


def checkpoint_file(path: str | os.PathLike) -> Path:
    """``path``, or the checkpoint in it when it is a run folder."""
    path = Path(path)
    return path / records.CHECKPOINT if path.is_dir() else path


def read_checkpoint(path: str | os.PathLike, mmap: bool = False) -> dict:
    """A checkpoint this trainer wrote, read with ``weights_only=True``: tensors and plain values only, so a
    crafted file cannot run code on load. Anything else is one CheckpointError saying what is wrong.
    ``mmap``: tensors are read from the file when first used (an evaluation never reads the optimizer's)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}{listed_run_hint(path) or checkpoints_near(path)}")
    ckpt = _load_plain(path, mmap)
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} is not a cifar100lab checkpoint (missing: {', '.join(missing)})")
    config = ckpt["config"]
    # TrainConfig's defaults would stand in for a missing model or dataset: refuse rather than guess
    if not isinstance(config, dict) or not all(isinstance(config.get(k), str) for k in ("model", "dataset")):
        raise CheckpointError(f"{path} is damaged: its 'config' is not the mapping of TrainConfig fields, naming "
                              f"the model and the dataset, that the trainer writes")
    if not isinstance(ckpt["model"], dict) or not all(isinstance(v, torch.Tensor) for v in ckpt["model"].values()):
        raise CheckpointError(f"{path} is damaged: its 'model' must be a state dict (names to tensors)")
    return ckpt


def checkpoints_near(path: Path, most: int = 6) -> str:
    """For a checkpoint that is not there: the run folders holding one in the nearest folder above it that exists
    (a runs folder, a campaign's), as a clause for the error line; "" when there is none. The evaluate notebook's
    default names a quick campaign's run, which a user who trained in the train notebook does not have."""
    folder = next(p for p in path.parents if p.is_dir())  # "." or the root at the latest
    if folder == Path(folder.anchor) and folder.is_absolute():
        return ""  # the file system's root is not searched
    found = sorted({c.parent for pattern in (f"*/{records.CHECKPOINT}", f"*/*/{records.CHECKPOINT}")
                    for c in folder.glob(pattern)})
    if not found:
        return ""
    more = f" and {len(found) - most} more" if len(found) > most else ""
    return (f"; run folders with one under {folder}: {', '.join(str(f) for f in found[:most])}{more} (give one, "
            f"or its {records.CHECKPOINT})")


def _load_plain(path: Path, mmap: bool = False):
    """``torch.load`` of tensors and plain values only; anything else, or a damaged file, is a CheckpointError."""
    import pickle
    import zipfile
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        if not _looks_saved_by_torch(path):
            raise CheckpointError(f"{path} is not a checkpoint (neither the zip archive nor the pickle that "
                                  f"torch.save writes); give a run folder or its {records.CHECKPOINT}") from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path} holds objects other than tensors and plain values, so it is not loaded "
                              f"(it could run code): {first}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): "
                              f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None


def _looks_saved_by_torch(path: Path) -> bool:
    """Whether ``path`` starts as torch.save's files do: a zip archive (damaged ones too) or a pickle of protocol
    2 or later. Only such a file is worth the warning that it holds objects which could run code."""
    with open(path, "rb") as f:
        head = f.read(2)
    return head == b"PK" or head[:1] == b"\x80"


def load_weights(model: torch.nn.Module, state: dict, source, name: str) -> torch.nn.Module:
    """Load ``state`` into ``model`` (the network ``name``) exactly: every tensor there, none extra, every shape
    equal and every value finite. Anything else is one CheckpointError naming ``source``, because a partial or
    foreign state dict would otherwise give a network that runs and answers wrongly."""
    expected = model.state_dict()
    found = {"missing": [k for k in expected if k not in state],
             "unexpected": [k for k in state if k not in expected],
             "of another shape": [k for k in expected if k in state and state[k].shape != expected[k].shape]}
    if any(found.values()):
        what = "; ".join(f"{len(keys)} {kind} (first: {keys[0]})" for kind, keys in found.items() if keys)
        raise CheckpointError(f"{source} holds weights that do not fit {name}: {what}; they belong to another "
                              f"model or configuration")
    nonfinite = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if nonfinite:
        raise CheckpointError(f"{source} holds inf or NaN in {nonfinite}: damaged or altered weights; "
                              f"use the run's own checkpoint or export it again")
    model.load_state_dict(state)
    return model


def resumes_from_checkpoint(plan: RunPlan) -> bool:
    """Whether the run continues from the checkpoint in its folder (it resumes, or refuses to: never starts over),
    which holds every weight of its network: a fine-tune's pretrained weights are then neither read nor needed, so
    one resumed on a machine without them (offline, the weights file moved) goes on rather than being skipped."""
    return plan.config.resume and (Path(plan.config.run_dir) / records.CHECKPOINT).is_file()


def load_checkpoint(run_dir: Path, config: dict) -> dict | None:
    """The run's checkpoint to resume from (None when it has none), refused when another configuration
    (``config``: the resuming run's ``TrainConfig.to_dict()``) wrote it."""
    path = Path(run_dir) / records.CHECKPOINT
    if not path.exists():
        return None
    ckpt = read_checkpoint(path)
    # each difference as "field: checkpoint's → this run's", a recipe override or model option by its own key
    if changed := field_changes(fingerprint(ckpt["config"]), fingerprint(config), expand=("overrides", "options")):
        raise ConfigError(f"{path} was written by a run with a different configuration (differs in: "
                          f"{'; '.join(changed)}); resume with the same configuration or use a new run_dir")
    return ckpt


def save_checkpoint(run_dir: str | os.PathLike, state: dict) -> None:
    """Write ``state`` (the :data:`CHECKPOINT_KEYS` and the scaler's and EMA's states) atomically."""
    records.atomic_write(Path(run_dir) / records.CHECKPOINT, lambda f: torch.save(state, f))


def overlaps_training(device: torch.device) -> bool:
    """Whether a run's checkpoints are written while its next epoch trains: on a GPU, whose host mostly waits
    for the device. A CPU run's write would take the cycles of the training it overlaps (measured: 13 ms less
    per epoch outside training, 25 ms more in it)."""
    return device.type == "cuda"


class CheckpointWriter:
    """A run's checkpoints, written in ``background`` (:func:`overlaps_training`) on a thread, one at a time,
    so the next epoch trains while the last checkpoint is serialised and fsynced (ResNet-20's: about 20 ms on our
    CI machine, 2 % of its 0.9-second epoch on an H200; ``benchmarks/checkpoint_write.py``).

    ``save`` then copies the state first, because the next step changes the live tensors in place: a GPU's
    tensors are queued into pinned host memory and the thread waits for those copies, so the host does not.
    ``wait`` returns once the last write is on disk and raises the error it met (a full disk), if any.
    ``written``: the epoch of the last checkpoint written whole; :meth:`on_disk` is the one a resume starts from."""

    def __init__(self, background: bool = True, written: int = 0):
        self.background, self.written, self.thread, self.error = background, written, None, None
        self.inline_write = None  # the path of an inline write under way: a stop may land in it

    def save(self, run_dir: str | os.PathLike, state: dict) -> None:
        self.wait()
        if not self.background:
            self.inline_write = Path(run_dir) / records.CHECKPOINT
            save_checkpoint(run_dir, state)
            self.written, self.inline_write = state["epoch"], None
            return
        copy = host_copy(state)
        copied = torch.cuda.Event() if torch.cuda.is_initialized() else None  # never initialises CUDA itself
        if copied is not None:
            copied.record()  # after the queued copies: the thread waits for this, not for the step after them
        self.thread = threading.Thread(target=self._write, args=(run_dir, copy, copied), name="checkpoint-writer")
        self.thread.start()

    def _write(self, run_dir, state: dict, copied) -> None:
        try:
            if copied is not None:
                copied.synchronize()
            save_checkpoint(run_dir, state)
            self.written = state["epoch"]
        except BaseException as e:  # raised in the training thread, by the next save or wait
            self.error = e

    def wait(self, raise_error: bool = True) -> None:
        """Return once the last write is done; raise its error (``raise_error=False``: a run already stopping
        for another reason drops it, and :meth:`on_disk` still names the checkpoint on disk)."""
        if self.thread is not None:
            if self.thread.ident is not None:  # not when a stop landed before it started: nothing was written
                self.thread.join()
            self.thread = None
        error, self.error = self.error, None
        if error is not None and raise_error:
            raise error

    def on_disk(self) -> int:
        """The epoch of the checkpoint on disk, once writes are done (:meth:`wait`). A stop by hand can land in an
        inline write after the file is renamed into place and before ``written`` says so: then the file says."""
        if self.inline_write is None:
            return self.written
        return read_checkpoint(self.inline_write, mmap=True)["epoch"] if self.inline_write.exists() else 0


def host_copy(state):
    """``state`` with every tensor copied to host memory (a GPU's copies queued, into pinned memory)."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", non_blocking=state.is_cuda, copy=True)
    if isinstance(state, dict):
        return {k: host_copy(v) for k, v in state.items()}
    if type(state) in (list, tuple):
        return type(state)(host_copy(v) for v in state)
    return state


def write_metrics(run_dir: str | os.PathLike, history: list[dict]) -> None:
    records.atomic_write_text(Path(run_dir) / records.METRICS, "".join(json.dumps(r) + "\n" for r in history))


def restore_metrics(run_dir: str | os.PathLike) -> None:
    """Rewrite a run's ``metrics.jsonl`` from its checkpoint's history (the copy written with the weights)."""
    write_metrics(run_dir, read_checkpoint(Path(run_dir) / records.CHECKPOINT)["history"])


def checkpoint_due(epoch: int, cfg) -> bool:
    """Whether the checkpoint is written after ``epoch`` (1-based): every ``checkpoint_every`` epochs and after
    the last. A short epoch would otherwise spend much of itself writing; a resume from an older checkpoint
    redoes the epochs after it, exactly (everything is re-derived from the seed and the epoch)."""
    return epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs
