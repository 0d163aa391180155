"""A notebook as a person runs it: one live kernel (jupyter_client), cells sent one at a time, the stop button
(a kernel interrupt) pressed mid-run, widgets and display updates read off the kernel's messages."""
import json
import os
import queue
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT, tiny_config

from cifar100lab import records
from cifar100lab.checkpoint import read_checkpoint

pytestmark = pytest.mark.slow
TIMING = {"epoch_seconds", "eval_seconds", "images_per_second"}
WIDGET = "application/vnd.jupyter.widget-view+json"


# What the tests replace in the kernel (a slow evaluation, a stop mid-draw), put back after each test.
KEEP_ORIGINALS = ("from cifar100lab import curves as _curves, train as _train\n"
                  "from matplotlib.transforms import BboxBase as _BboxBase\n"
                  "_originals = [(_train, 'evaluate', _train.evaluate),\n"
                  "              (_curves, 'integer_epochs', _curves.integer_epochs),\n"
                  "              (_BboxBase, '__array__', _BboxBase.__array__)]\n"
                  "_names = set(globals()) | {'_names'}")  # what a fresh kernel's namespace holds, and these
RESTORE_ORIGINALS = ("for _module, _name, _value in _originals:\n    setattr(_module, _name, _value)\n"
                     "import matplotlib.pyplot as _plt\n_plt.close('all')\n"
                     "for _n in set(globals()) - _names:\n    del globals()[_n]")  # not %reset: its gc took 0.7 s


class LiveKernel:
    """The project's kernel, started as JupyterLab starts it, with the messages each cell sent back."""

    def __init__(self, cwd: Path):
        from jupyter_client import KernelManager
        self.km = KernelManager(kernel_name="python3")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        self.log = cwd / "kernel.log"  # what the kernel's processes say outside the notebook (a fork's warnings)
        self.km.start_kernel(cwd=str(cwd), env=env, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        self.client = self.km.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.log_from = 0

    def log_text(self) -> str:
        """What the kernel's processes said outside the notebook since :meth:`begin_test`."""
        with open(self.log, "rb") as f:
            f.seek(self.log_from)
            return f.read().decode(errors="replace")

    def begin_test(self) -> None:
        self.log_from = self.log.stat().st_size
        reply, _ = self.run(KEEP_ORIGINALS, timeout=60)
        assert reply["status"] == "ok", reply

    def end_test(self) -> bool:
        """The kernel as the next test should find it: the functions tests replace restored, no figure left open,
        no name of this test's cells left; False where that could not be done."""
        try:
            reply, _ = self.run(RESTORE_ORIGINALS, timeout=30)
        except AssertionError:  # still busy with a cell
            return False
        return reply["status"] == "ok"

    def run(self, code: str, timeout: float = 120, while_running=None) -> tuple[dict, list[dict]]:
        """Execute ``code``; ``while_running()`` is called as messages come until it returns True once.
        Returns the execute reply's content and every iopub message of the cell."""
        msg_id, messages, deadline = self.client.execute(code), [], time.monotonic() + timeout
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=0.2)
                if msg["parent_header"].get("msg_id") == msg_id:
                    messages.append(msg)
                    if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                        break
            except queue.Empty:
                pass
            if while_running is not None and while_running():
                while_running = None
            assert time.monotonic() < deadline, f"the cell did not finish within {timeout}s: {code}"
        reply = self.client.get_shell_msg(timeout=10)
        while reply["parent_header"].get("msg_id") != msg_id:  # a reply to an earlier request (kernel_info)
            reply = self.client.get_shell_msg(timeout=10)
        return reply["content"], messages

    def close(self):
        self.client.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """The module's kernel, one as a person keeps one open for several notebooks: starting one and importing torch
    and timm in it took more CPU than most of these tests' cells. A test that fails hands the next one a fresh
    kernel."""
    started = []
    yield started, tmp_path_factory
    for live in started:
        live.close()


@pytest.fixture
def kernel(kernels, request):
    started, tmp_path_factory = kernels
    if not started:
        started.append(LiveKernel(tmp_path_factory.mktemp("kernel")))
    live = started[-1]
    live.begin_test()
    failed = request.session.testsfailed
    yield live
    if request.session.testsfailed > failed or not live.end_test():
        started.remove(live)
        live.close()


def printed(messages: list[dict], name: str = "stdout") -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream" and m["content"]["name"] == name)


def curve(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in records.read_metrics(run_dir)]


def test_stop_button_stops_a_live_run_within_seconds_and_running_the_cell_again_resumes_it_exactly(
        kernel, synthetic_root, tmp_path):
    settings = tiny_config(synthetic_root, tmp_path / "cut", epochs=4, max_steps_per_epoch=2, train_subset=256,
                           test_subset=64, progress=True)
    # each evaluation waits a second, so the stop lands mid-run, after the first checkpoint, whatever the machine
    kernel.run("import time\nfrom cifar100lab import train as T\nfrom cifar100lab.launch import run\n"
               "real = T.evaluate\nT.evaluate = lambda *a, **k: (time.sleep(1), real(*a, **k))[1]")
    checkpoint, pressed = tmp_path / "cut" / records.CHECKPOINT, []

    def press_stop_after_the_first_checkpoint():
        if checkpoint.exists():
            kernel.km.interrupt_kernel()
            pressed.append(time.monotonic())
            return True
    reply, messages = kernel.run(f"record = run({settings!r})", while_running=press_stop_after_the_first_checkpoint)
    stopped_in = time.monotonic() - pressed[0]
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt" and stopped_in < 5, \
        (stopped_in, "\n".join(reply.get("traceback", [])))
    record = records.read_json(tmp_path / "cut" / records.RECORD)
    assert record["status"] == "interrupted"  # not "running": the kernel lives on, the run does not
    done = record["epochs_done"]
    assert 1 <= done < 4
    # the checkpoint a resume reads: epoch `done`, or the one before when the stop landed between an epoch's
    # metrics and its checkpoint
    on_disk = read_checkpoint(checkpoint)["epoch"]
    assert on_disk in (done, done - 1)
    again = f"resumes from epoch {on_disk}" if on_disk else "starts it over from epoch 1: no checkpoint was saved yet"
    assert record["reason"] == f"stopped by hand in epoch {done + 1} of 4; running it again {again}"
    assert record["reason"] in printed(messages)
    # the progress bar was a widget while it ran, and its display ended as one text line where the run stopped
    assert any(WIDGET in m["content"].get("data", {}) for m in messages if m["msg_type"] == "display_data")
    final = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "update_display_data"
             and WIDGET not in m["content"]["data"]]
    # at the steps done: epoch done's two, and any of epoch done + 1's that ran before the stop landed
    assert any(f"{steps}/8" in line for line in final for steps in range(2 * done, 2 * done + 3)), final

    kernel.run("T.evaluate = real")
    straight = {**settings, "run_dir": str(tmp_path / "straight")}
    reply, messages = kernel.run(f"resumed = run({settings!r}); straight = run({straight!r})")
    assert reply["status"] == "ok", reply
    resumed = records.read_json(tmp_path / "cut" / records.RECORD)
    assert resumed["status"] == "complete" and resumed["resumed_from_epoch"] == on_disk
    assert [a["status"] for a in resumed["attempts"]] == ["interrupted", "complete"]
    assert curve(tmp_path / "cut") == curve(tmp_path / "straight")
    # each epoch redrew the live curve in its one display, as a picture
    assert [m for m in messages if m["msg_type"] == "update_display_data" and "image/png" in m["content"]["data"]]


def test_a_stop_landing_while_the_live_curve_draws_ends_the_cell_with_it_and_shows_nothing_after(
        kernel, synthetic_root, tmp_path):
    """The curve was drawn on a pyplot figure: a stop mid-draw left it open, IPython's end-of-cell hook drew it
    again under the traceback, and an error there (an import the stop had cut short) became the cell's error
    (CI: ImportError where KeyboardInterrupt was expected)."""
    settings = tiny_config(synthetic_root, tmp_path / "r", epochs=2, max_steps_per_epoch=1, train_subset=128,
                           test_subset=64, progress=True)
    reply, messages = kernel.run(
        "from cifar100lab import curves\nfrom cifar100lab.launch import run\nreal = curves.integer_epochs\n"
        "def stop_mid_draw(ax):\n    raise KeyboardInterrupt\ncurves.integer_epochs = stop_mid_draw\n"
        f"record = run({settings!r})")
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", "\n".join(reply["traceback"])
    error = next(i for i, m in enumerate(messages) if m["msg_type"] == "error")
    assert [m["msg_type"] for m in messages[error + 1:]] == ["status"], messages[error + 1:]  # idle, nothing drawn
    assert records.read_json(tmp_path / "r" / records.RECORD)["status"] == "interrupted"
    # A real stop signal landing inside Agg's compiled renderer, as it converts a clip box: there the
    # KeyboardInterrupt became "ValueError: Invalid bounding box" and the run was recorded as failed (CI).
    reply, _ = kernel.run(
        "import os, signal, sys\nfrom matplotlib.transforms import BboxBase\ncurves.integer_epochs = real\n"
        "real_array = BboxBase.__array__\n"
        "def stop_inside_the_renderer(self, *args, **kwargs):\n"
        "    if sys._getframe(1).f_code.co_name == 'draw_path':  # called from the compiled renderer\n"
        "        BboxBase.__array__ = real_array\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real_array(self, *args, **kwargs)\n"
        "BboxBase.__array__ = stop_inside_the_renderer\n"
        f"record = run({dict(settings, run_dir=str(tmp_path / 'agg'))!r})")
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", "\n".join(reply["traceback"])
    assert records.read_json(tmp_path / "agg" / records.RECORD)["status"] == "interrupted"


def test_two_process_gloo_run_from_a_live_kernel_reports_progress_as_text_and_a_stop_is_recorded_and_resumed(
        kernel, synthetic_root, tmp_path):
    settings = tiny_config(synthetic_root, tmp_path / "gloo", epochs=1, max_steps_per_epoch=2, train_subset=256,
                           test_subset=64, progress=True)
    reply, messages = kernel.run("from cifar100lab.launch import run\n"
                                 f"record = run({settings!r}, num_processes=2)\nprint(record['status'])", timeout=180)
    assert reply["status"] == "ok", reply
    record = records.read_json(tmp_path / "gloo" / records.RECORD)
    assert record["status"] == "complete" and record["hardware"]["count"] == 2
    out, err = printed(messages), printed(messages, "stderr")
    assert "gloo epoch 1/1: loss" in out and "complete" in out
    assert "gloo epoch 1/1: 100%" in err  # the bar, as text: a forked worker cannot drive a widget
    assert "fork" not in err + kernel.log_text() and "Warning" not in err, err
    assert not [m for m in messages if m["msg_type"] == "display_data" and WIDGET in m["content"]["data"]]

    # The stop button mid-run: its SIGINT reaches the kernel's process group, and torch's launcher passes it on to
    # the workers again. With the launcher's handler inherited across fork, the workers raised SignalException and
    # the run was recorded as failed; each evaluation waits a second here, so the stop lands after a checkpoint.
    cut = {**settings, "run_dir": str(tmp_path / "gloo-cut"), "epochs": 4, "progress": False}
    kernel.run("import time\nfrom cifar100lab import train as T\n"
               "real = T.evaluate\nT.evaluate = lambda *a, **k: (time.sleep(1), real(*a, **k))[1]")
    checkpoint = tmp_path / "gloo-cut" / records.CHECKPOINT
    reply, messages = kernel.run(f"record = run({cut!r}, num_processes=2)", timeout=180,
                                 while_running=lambda: checkpoint.exists() and (kernel.km.interrupt_kernel() or True))
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", "\n".join(reply.get("traceback", []))
    assert reply["traceback"] == ["KeyboardInterrupt: stopped; running the cell again resumes the run"]
    assert printed(messages, "stderr") == ""  # torch's launcher logged the stop as warnings, one per worker
    assert "gloo-cut: stopped by hand in epoch " in printed(messages)
    record = records.read_json(tmp_path / "gloo-cut" / records.RECORD)
    assert record["status"] == "interrupted" and record["reason"].startswith("stopped by hand in epoch "), record
    reply, messages = kernel.run(f"T.evaluate = real\nrecord = run({cut!r}, num_processes=2)\n"
                                 "import signal\nprint('SIGTERM', signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)", timeout=180)
    assert reply["status"] == "ok", reply
    resumed = records.read_json(tmp_path / "gloo-cut" / records.RECORD)
    assert resumed["status"] == "complete" and [a["status"] for a in resumed["attempts"]] == ["interrupted", "complete"]
    assert "SIGTERM True" in printed(messages)  # the kernel's handlers are its own again after a launch


def test_explore_notebook_shows_its_widget_once_with_a_static_figure_and_table(kernel, synthetic_root, tmp_path):
    from cifar100lab.train import train
    train(tiny_config(synthetic_root, tmp_path / "runs" / "c" / "r1", epochs=1, campaign="c", max_steps_per_epoch=2))
    train(tiny_config(synthetic_root, tmp_path / "runs" / "alone", epochs=1, max_steps_per_epoch=2, seed=1))
    # Cell by cell on a live kernel: what it sends is what papermill saves. (papermill's nbclient, here, sometimes
    # waited forever for a reply the idle kernel had already sent: nbclient issue 312, 2 in ~10 runs.)
    cells = run_notebook_live(kernel, "explore.ipynb", runs_root=str(tmp_path / "runs"))
    assert all(reply["status"] == "ok" for reply, _ in cells), [r for r, _ in cells]
    views = [m["content"]["data"] for _, messages in cells for m in messages
             if m["msg_type"] in ("display_data", "execute_result") and WIDGET in m["content"]["data"]]
    assert len(views) == 1  # shown once
    static = views[0]["text/html"]  # what a saved notebook and the book show without a live kernel
    assert static.startswith('<img style="max-width: 100%; height: auto" alt="top1 by epoch" src="data:image/png;'
                             'base64,') and "r1" in static  # the width the notebook gives it, beside a file browser
    # no cell shows a value of its own but the explorer (entering the project once showed a PosixPath)
    results = [m["content"]["data"] for _, messages in cells for m in messages if m["msg_type"] == "execute_result"]
    assert all(WIDGET in data for data in results), results


def run_notebook_live(kernel: LiveKernel, name: str, **parameters) -> list[tuple[dict, list[dict]]]:
    """Run ``notebooks/<name>`` cell by cell as a person does: its parameters cell, the values they change,
    then every other code cell; each cell's reply and messages."""
    cells = [c for c in json.loads((ROOT / "notebooks" / name).read_text())["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    at = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
    sources.insert(at + 1, "\n".join(f"{k} = {v!r}" for k, v in parameters.items()))
    return [kernel.run(code) for code in sources]


def test_after_a_run_stopped_in_the_train_notebook_no_cell_shows_the_kernels_earlier_run_as_its_result(
        kernel, synthetic_root, tmp_path):
    """Cell by cell, as a person runs it: a run to the end, then other parameters and the stop button in the
    training cell, then the cells after it. The summary was a cell of its own, showing the kernel's ``record``:
    after the stop, the earlier run's (its id, 'complete', its top-1 and curves) under this run's parameters."""
    first = tiny_config(synthetic_root, tmp_path / "first", epochs=1, max_steps_per_epoch=2, train_subset=128,
                        test_subset=64)
    cells = run_notebook_live(kernel, "train.ipynb", **first)
    assert all(reply["status"] == "ok" for reply, _ in cells), [r for r, _ in cells]
    assert any("first" in text for text in shown(cells[-1][1], "text/plain"))  # its summary, under its training

    kernel.run("import time\nfrom cifar100lab import train as T\n"  # each evaluation waits: the stop lands mid-run
               "real = T.evaluate\nT.evaluate = lambda *a, **k: (time.sleep(1), real(*a, **k))[1]")
    code = [c for c in json.loads((ROOT / "notebooks" / "train.ipynb").read_text())["cells"] if c["cell_type"] == "code"]
    training = next(i for i, c in enumerate(code) if "run(config" in "".join(c["source"]))
    kernel.run(f"run_dir = {str(tmp_path / 'second')!r}; epochs = 4")
    checkpoint = tmp_path / "second" / records.CHECKPOINT
    reply, _ = kernel.run("".join(code[training]["source"]),
                          while_running=lambda: checkpoint.exists() and (kernel.km.interrupt_kernel() or True))
    assert reply["ename"] == "KeyboardInterrupt"
    after = [kernel.run("".join(c["source"])) for c in code[training + 1:]]
    texts = [text for _, messages in after for mime in ("text/plain", "text/html") for text in shown(messages, mime)]
    assert not [text for text in texts if "first" in text], texts


def shown(messages: list[dict], mime: str) -> list:
    return [m["content"]["data"][mime] for m in messages if m["msg_type"] in ("display_data", "execute_result")
            and mime in m["content"]["data"]]


def test_evaluate_notebook_runs_live_and_shows_and_writes_the_checkpoints_metrics(kernel, synthetic_root, tmp_path):
    settings = tiny_config(synthetic_root, tmp_path / "run", epochs=1, max_steps_per_epoch=2, train_subset=128,
                           test_subset=64)
    reply, _ = kernel.run(f"from cifar100lab.launch import run\nrecord = run({settings!r})")
    assert reply["status"] == "ok", reply
    cells = run_notebook_live(kernel, "evaluate.ipynb", checkpoint=str(tmp_path / "run" / records.CHECKPOINT),
                              out=str(tmp_path / "evaluation.json"), batch_size=64)
    assert all(reply["status"] == "ok" for reply, _ in cells), [r for r, _ in cells]
    written = records.read_json(tmp_path / "evaluation.json")
    assert written["evaluated"] == 64
    table = shown(cells[-1][1], "text/plain")  # the metrics, shown as a table under the dataset's notice
    assert table and "top-1 (%)" in table[-1] and f"{written['top1']:.2f}" in table[-1]
    assert shown(cells[-1][1], "text/markdown")[0].startswith("**Dataset: synthetic data")


def test_ablation_notebook_runs_live_and_shows_its_studys_table_and_figure(kernel, tmp_path):
    from fake_campaign import write_fake_campaign
    write_fake_campaign(tmp_path / "runs")
    cells = run_notebook_live(kernel, "ablation.ipynb", campaign="mini", study="eca_kernel",
                              runs_root=str(tmp_path / "runs"), out_dir=str(tmp_path / "gen"))
    assert all(reply["status"] == "ok" for reply, _ in cells), [r for r, _ in cells]
    last = cells[-1][1]
    assert shown(last, "image/png")  # the study's figure
    assert any("| Variant |" in text for text in shown(last, "text/markdown"))  # its table, with intervals
    assert (tmp_path / "gen" / "study-eca_kernel_zh.md").is_file()
