"""A run's live progress in a notebook kernel (cifar100lab.progress)."""
import subprocess
import sys

# A fresh interpreter whose first import of matplotlib is stopped part-way, as the stop button's KeyboardInterrupt
# stops it, then imports the plotting modules again, as running the cell again does.
STOPPED_IMPORT = """
import importlib.abc, sys
import numpy  # as torch has imported it in a kernel that trains
from cifar100lab.progress import import_plotting

class StopInRcsetup(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "matplotlib.rcsetup":
            sys.meta_path.remove(self)
            raise KeyboardInterrupt
try:
    sys.meta_path.insert(0, StopInRcsetup())
    import_plotting()
except KeyboardInterrupt:
    print("stopped")
import_plotting()
import matplotlib
print(matplotlib.get_data_path() is not None)
# then the live curve's first drawing, at the first epoch's end where a stop often lands, imports nothing
from cifar100lab.curves import run_curves_png
before = set(sys.modules)
row = dict(epoch=1, train_loss=2.0, test_loss=2.1, train_acc=10.0, top1=9.0, top5=40.0)
assert run_curves_png([row], "r: 1/2 epochs").startswith(b"\\x89PNG")
print(sorted(set(sys.modules) - before))
"""


def test_plotting_imports_again_after_a_stop_cut_its_first_import_short_and_then_drawing_imports_nothing():
    """A cut-short import left a half-initialised module behind (matplotlib; for the first drawing,
    matplotlib_inline and Pillow's formats), and every later import of it failed."""
    proc = subprocess.run([sys.executable, "-c", STOPPED_IMPORT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.split() == ["stopped", "True", "[]"], proc.stdout + proc.stderr



# A kernel's shell in a fresh interpreter whose first import of the trainer is stopped part-way through torch's
# import (a real SIGINT, as the stop button sends), then imports it again, as running the cell again does.
STOPPED_PACKAGE_IMPORT = """
import importlib.abc, os, signal, sys
# a kernel's SIGINT raises KeyboardInterrupt; a process started with SIGINT ignored (an xdist worker whose earlier
# test left it so) would otherwise ignore the stop, and the import would simply finish
signal.signal(signal.SIGINT, signal.default_int_handler)
from IPython.core.interactiveshell import InteractiveShell
InteractiveShell.instance()  # as in a kernel, which lives on after a stop, to import again

class StopInTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch.nn":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
sys.meta_path.insert(0, StopInTorch())
try:
    from cifar100lab.launch import run
except KeyboardInterrupt as stop:
    print(stop._render_traceback_())
from cifar100lab.launch import run
import torch
print(tuple(torch.nn.Linear(2, 3)(torch.zeros(1, 2)).shape))
"""


def test_a_stop_landing_in_the_first_import_of_the_trainer_ends_it_whole_and_importing_again_works():
    """The stop button pressed in a notebook's first run cell, while torch was being imported (seconds), left torch
    half-initialised: every later import failed ("partially initialized module 'torch' has no attribute
    'cuda'") until the kernel was restarted."""
    proc = subprocess.run([sys.executable, "-c", STOPPED_PACKAGE_IMPORT], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == [
        "['KeyboardInterrupt: stopped once cifar100lab.launch was imported; running the cell again goes on']",
        "(1, 3)"], proc.stdout + proc.stderr[-3000:]
