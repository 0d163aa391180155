"""A run's progress, shown where someone watches it.

In a notebook kernel's own process the bar is a widget while the run trains, and it ends as its final text line,
so an executed or saved notebook shows where the run got (a widget's saved text would be its first state). Each
epoch prints its log line and, live, redraws the run's curve. A worker forked from the kernel (``num_processes``
> 1) cannot send display messages ("attempted to send message from fork"), so it reports as text, as a terminal
does; only the main process reports at all.

A kernel lives on after a stop (the stop button's SIGINT) and runs the cell again, so a stop that lands in an
import of the package or in a drawing takes effect once that is done (:func:`stop_held`): cut short, either left
the kernel unable to train again.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.abc
import importlib.machinery
import multiprocessing
import signal
import sys
import threading


def in_notebook() -> bool:
    """This process is a notebook kernel's own: it can display and drive widgets (a forked worker cannot)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return (shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
            and multiprocessing.parent_process() is None)


def import_plotting() -> None:
    """Everything the live curve's drawing imports (matplotlib, seaborn, Agg, Pillow's image formats), so that
    its first drawing, at the first epoch's end where the stop button may land, imports nothing.

    An import that a stop (KeyboardInterrupt) cuts short leaves its package half-initialised in ``sys.modules``,
    and every later import of it in the kernel fails ("module 'matplotlib' has no attribute ..."); so the Python
    modules an interrupted import added are taken out again. Compiled ones stay: some (numpy's core) refuse to
    load twice, and one that is in ``sys.modules`` finished."""
    before = set(sys.modules)
    try:
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.pyplot  # noqa: F401
        import PIL.Image
        import seaborn  # noqa: F401
        from IPython.display import Image  # noqa: F401

        from . import curves
        PIL.Image.preinit()  # the formats Pillow loads at its first save
        curves.find_cjk_font()
    except BaseException:
        for name in set(sys.modules) - before:
            if str(getattr(sys.modules[name], "__file__", None) or "").endswith(".py"):
                del sys.modules[name]
        raise


_held: list[int] = []  # the stops held by stop_held, to raise when it ends


def _hold(signum, frame) -> None:
    _held.append(signum)


@contextlib.contextmanager
def stop_held():
    """A stop (SIGINT: the stop button, Ctrl-C) that lands within takes effect at its end: the signal is held,
    then raised again under the handler it would have met. Nested, the outermost raises it."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (None, _hold):
        yield  # only the main thread receives signals; a handler set outside Python cannot be put back
        return
    previous = signal.signal(signal.SIGINT, _hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if _held:
            _held.clear()
            signal.raise_signal(signal.SIGINT)


class _ImportsFinishBeforeAStop(importlib.abc.MetaPathFinder):
    """Finds the package's modules as Python does, each to be executed under :func:`stop_held`."""

    def __init__(self, package: str):
        self.prefix = f"{package}."

    def find_spec(self, name, path, target=None):
        if not name.startswith(self.prefix):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and hasattr(spec.loader, "exec_module"):  # a loader is made for each module found
            spec.loader.exec_module = functools.partial(_exec_whole, spec.loader.exec_module)
        return spec


def _exec_whole(exec_module, module) -> None:
    try:
        with stop_held():
            exec_module(module)
    except KeyboardInterrupt as stop:  # shown as its line (IPython renders _render_traceback_), not importlib's
        line = f"KeyboardInterrupt: stopped once {module.__name__} was imported; running the cell again goes on"
        stop._render_traceback_ = lambda: [line]
        raise


def finish_imports_before_a_stop(package: str) -> None:
    """In an IPython kernel, which lives on after a stop to import again: an import of one of ``package``'s
    modules, with everything it imports (torch, timm, pandas: seconds, in a notebook's first run cell), finishes
    before a stop takes effect. A stop cut it short and left modules that others had already imported half
    initialised, so every later import of torch failed ("partially initialized module 'torch' has no attribute
    'cuda'") until the kernel was restarted. The stop then ends the import as a KeyboardInterrupt, which drops
    only the outermost of the package's modules, whole (importing it again runs it again: nothing it imports is
    run again)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    if shell is not None and not any(type(f).__name__ == "_ImportsFinishBeforeAStop" for f in sys.meta_path):
        sys.meta_path.insert(0, _ImportsFinishBeforeAStop(package))


def not_cifar_notice(kind: str | None, label: str | None) -> str:
    """A curve's line naming its data when that is not CIFAR-100 (a picture is also seen alone), else ""."""
    return f"{label} · not CIFAR-100" if kind not in (None, "real") else ""


class Progress:
    """The progress of one attempt at a run: one bar over the epochs it trains, the epoch log lines and, in a
    notebook, the curve so far (only when nobody executes the notebook unwatched: a campaign's runs draw none)."""

    def __init__(self, run_id: str, epochs: int, steps: int, start: int, enabled: bool, curve: bool = True,
                 notice: str = ""):
        self.run_id, self.epochs, self.enabled, self.notice = run_id, epochs, enabled, notice
        self.live = enabled and in_notebook()
        self.bar = self._bar(steps * (epochs - start), start) if enabled else None
        self.figure = None
        if self.live and curve:
            from IPython.display import display
            import_plotting()  # now, not at the first epoch's end, where the stop button may land
            self.figure = display(display_id=True)

    def _bar(self, total: int, start: int):
        desc = f"{self.run_id} epoch {start + 1}/{self.epochs}"
        if not self.live:
            from tqdm import tqdm
            return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=1.0)
        from IPython.display import display
        from tqdm.notebook import tqdm
        bar = tqdm(total=total, desc=desc, display=False)
        self.handle = display(bar.container, display_id=True)
        return bar

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def start_epoch(self, epoch: int) -> None:
        """``epoch``: 0-based, the one about to train."""
        if self.bar is not None:
            self.bar.set_description(f"{self.run_id} epoch {epoch + 1}/{self.epochs}", refresh=False)

    def end_epoch(self, row: dict, history: list[dict]) -> None:
        """The epoch's log line and, live, the curve of every epoch so far."""
        if not self.enabled:
            return
        print(f"{self.run_id} epoch {row['epoch']}/{self.epochs}: loss {row['train_loss']:.3f} "
              f"top1 {row['top1']:.2f} top5 {row['top5']:.2f} ({row['images_per_second']:.0f} img/s)", flush=True)
        if self.figure is not None:
            self._draw(history)

    def _draw(self, history: list[dict]) -> None:
        from IPython.display import Image

        from .curves import run_curves_png
        # Inside Agg's compiled renderer a KeyboardInterrupt is lost: pybind11 clears it while converting a clip
        # box and raises "ValueError: Invalid bounding box", and the stopped run was recorded as failed.
        with stop_held():
            title = f"{self.run_id}: {len(history)}/{self.epochs} epochs" + (f"\n{self.notice}" if self.notice else "")
            self.figure.update(Image(run_curves_png(history, title)))

    def close(self, finished: bool = True) -> None:
        """End the bar: live, the widget gives way to its final text line. A finished run's curve makes room for
        the summary's; a stopped run's stays, showing where it got."""
        if self.bar is None:
            return
        self.bar.close()
        if self.live:
            from tqdm import tqdm
            self.handle.update({"text/plain": tqdm.format_meter(**{**self.bar.format_dict, "ncols": 100})}, raw=True)
            if finished and self.figure is not None:
                self.figure.update({"text/plain": ""}, raw=True)
        self.bar = None
