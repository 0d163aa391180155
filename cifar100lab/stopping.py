"""Stop signals as Ctrl-C: a command that starts kernels or processes ends on SIGTERM, SIGHUP or SIGUSR1/2 through
the same cleanup as on KeyboardInterrupt. Its own module, importable without torch, so a command that trains
nothing (``book``) handles them without importing the trainer."""
from __future__ import annotations

import contextlib
import signal
import threading

# What a terminal, a scheduler (scancel, a time limit) or a hang-up sends to stop a command; Ctrl-C's SIGINT is
# Python's KeyboardInterrupt already.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


class Stopped(KeyboardInterrupt):
    """A stop signal raised where Ctrl-C raises KeyboardInterrupt, so the one cleanup that serves Ctrl-C serves it
    too: the campaign's kernels (each in a session of its own, which no signal to this process reaches) are
    killed, and a run in progress keeps its last checkpoint."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def raise_stopped(signum, frame):
    raise Stopped(signum)


@contextlib.contextmanager
def stop_signals():
    """Within: every stop signal still at its default (which ends the process at once, with no cleanup) raises
    :class:`Stopped`. A signal someone else handles is left to them: inside a Slurm job submitit owns SIGTERM
    and SIGUSR2 (preemption sends both; submitit requeues on SIGUSR2)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig, handler in previous.items():
        if handler is signal.SIG_DFL:
            signal.signal(sig, raise_stopped)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
