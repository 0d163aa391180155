"""The OS locks (``flock``) that say who is writing: a campaign's (one process runs it), a campaign run's (one
process executes it), and a run folder's (one process trains it). The kernel drops a lock when its holder ends,
however it ends; the file keeps naming a holder that was killed, which :func:`killed` reads."""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path
from typing import Iterator

from .records import now, then_again_unread

LOCKS = ".locks"  # a campaign's lock files, beside its run folders (a run folder may be moved aside)
TRAINING_LOCK = ".training.lock"  # in a run folder: held by the process training it, while it trains


class Locked(RuntimeError):
    """Another process holds the lock; ``holder`` says who (pid, host, since), as it wrote it."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is held by {holder or 'another process'}")
        self.path, self.holder = path, holder


@contextlib.contextmanager
def lock(path: str | os.PathLike, wait: bool = False) -> Iterator[Path]:
    """An exclusive OS lock (``flock``) on ``path``, or :class:`Locked` at once if another process holds it
    (``wait``: until it is free). The kernel drops it when the holder's process ends, however it ends, so a killed
    campaign never leaves a stale lock. The file (kept afterwards) names the holder, for the message of whoever
    finds it taken. Each call opens the file anew, so two threads of one process exclude each other too."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise Locked(path, f.read().strip()) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} on {socket.gethostname()} since {now()}\n")
        f.flush()
        try:
            yield path
        finally:
            f.seek(0)
            f.truncate()  # released: no holder to name


def _probe(path: str | os.PathLike) -> tuple[bool, str] | None:
    """(held, the holder the file names) from a shared-lock probe that writes nothing; None without the file.
    OSError on a file system without locks."""
    if not Path(path).exists():
        return None
    with open(path, encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True, f.read().strip()
        return False, f.read().strip()


def holder(path: str | os.PathLike) -> str | None:
    """Who holds the lock at ``path``, or None."""
    probe = _probe(path)
    return (probe[1] or "another process") if probe and probe[0] else None


def holder_gone(path: str | os.PathLike) -> str | None:
    """The holder a lock file still names though nobody holds the lock: a process on this host that ended without
    releasing it (killed, or the machine went down). None while it is held, once released, and for a holder on
    another host (a shared file system need not carry locks between hosts, so a free lock proves nothing there)."""
    try:
        probe = _probe(path)
    except OSError:  # a file system without locks: nothing can be said
        return None
    if not probe or probe[0]:
        return None
    return probe[1] if f" on {socket.gethostname()} since " in probe[1] else None


def killed(run_dir: str | os.PathLike) -> str | None:
    """Why a record that says ``running`` is wrong, as the run's reason: its training process on this host ended
    without writing a final record; None while it trains, or when that cannot be known."""
    gone = holder_gone(Path(run_dir) / TRAINING_LOCK)
    return gone and (f"its training process ({gone}) ended without a final record (killed, or the machine went "
                     f"down); running it again {then_again_unread(run_dir)}")
