"""A campaign's and a run's life at its edges: Ctrl-C and a scheduler's stop signals (one line, the shell's status,
no kernel left training), a second campaign on a held folder (writes none of the holder's files), a full disk at
start, a bad notebook parameter (one line), and notebook runs outside a campaign (their own folder each)."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import papermill as pm
import psutil
import pytest
import yaml
from conftest import ROOT, dies_in_epoch, fill, hold_lock, run_cli, scratch_book, tiny_config

from cifar100lab import campaign as C
from cifar100lab import cli, kernels, records
from cifar100lab.config import TrainConfig
from cifar100lab.executors import local
from cifar100lab.report import i18n
from cifar100lab.runs import run_lock

TRAIN_NOTEBOOK = ROOT / "notebooks" / "train.ipynb"


def write_campaign(tmp_path, synthetic_root, epochs=1, name="life") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "dataset": "synthetic", "seeds": [0], "models": ["resnet_20", "eca_resnet_20"],
        "defaults": {"epochs": epochs, "batch_size": 16, "train_subset": 128, "test_subset": 64, "progress": False,
                     "max_steps_per_epoch": 2, "data_root": str(synthetic_root), "overrides": {"warmup_epochs": 0}}}))
    return path


def notebook(folder: Path, code: str) -> Path:
    """A stand-in for the train notebook (in a folder of its own, as the campaign's NOTEBOOKS): a parameters cell
    taking the run's config, then ``code``."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("".join(f"{k} = None\n" for k in TrainConfig.field_names() + ["num_processes"]))
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "train.ipynb")
    return folder


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids: list[int], seconds: float) -> None:
    """Each of ``pids`` ends within ``seconds``: polled, so a test waits no longer than the processes take."""
    deadline = time.time() + seconds
    while not all(gone(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert all(gone(pid) for pid in pids), [pid for pid in pids if not gone(pid)]


def wait_for(condition, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "timed out"
        time.sleep(0.2)


# --- Ctrl-C and stop signals ------------------------------------------------------------------------------

def test_ctrl_c_on_a_campaign_prints_one_line_exits_130_and_stops_its_training_kernel(tmp_path, synthetic_root):
    path = write_campaign(tmp_path, synthetic_root, epochs=1000)
    runs = tmp_path / "runs"
    # A terminal's foreground command starts with Ctrl-C's default action, whatever this worker process inherited
    # or was given (a process that starts with SIGINT ignored keeps it ignored, as a shell's `cmd &` does).
    proc = subprocess.Popen([sys.executable, "-m", "cifar100lab", "campaign", str(path), "--runs-root", str(runs),
                             "--book", str(scratch_book(tmp_path / "book")), "--jobs", "1"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(lambda: (runs / "life" / "life-resnet_20-s0" / records.METRICS).exists(), proc)  # it trains
        kernel_processes = psutil.Process(proc.pid).children(recursive=True)
        kernels_started = [k.pid for k in kernel_processes if k.ppid() == proc.pid]  # the job's kernel
        assert kernels_started
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in its terminal sends
        out, err = proc.communicate(timeout=60)
    finally:  # a campaign that ignored the signal must not train on for the rest of the suite
        if proc.poll() is None:
            campaign = psutil.Process(proc.pid)
            for p in [campaign, *campaign.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["interrupted by SIGINT: stopped; a run in progress resumes from its last "
                                        "checkpoint when the command runs again (or starts over, if it had saved none)"]
    # The campaign kills its kernel and reaps it before it exits; a kernel it left behind would end too, a moment
    # later, on ipykernel's parent poller (once a second): only a check at the campaign's exit tells them apart.
    assert all(gone(pid) for pid in kernels_started)
    wait_gone([k.pid for k in kernel_processes], seconds=3)  # and what the kernel started, killed with its group
    record = records.load(runs / "life" / "life-resnet_20-s0")  # stopped and resumable, not failed nor running
    assert record["status"] == "interrupted" and record["reason"].startswith("stopped with its campaign in epoch ")
    # the stop lands before or after the first checkpoint is written: either is said as it is (test_records has each)
    assert record["reason"].endswith(("; running the campaign again resumes from its last checkpoint",
                                      "; running the campaign again starts it over from epoch 1: no checkpoint was "
                                      "saved yet")), record["reason"]
    zh = i18n.reason(record["reason"])["zh"]  # the book's Chinese, a whole sentence
    assert zh.startswith("随实验配置一同停止，于第 ") and zh.endswith(("个）；再次运行实验配置将从最后一个检查点继续",
                                                            "个）；再次运行实验配置将从第 1 个 epoch 重新开始：尚未保存任何检查点")), zh


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_to_a_campaign_kills_its_kernel_prints_one_line_and_exits_128_plus_the_signal(
        tmp_path, synthetic_root, signum):
    """scancel, a time limit or a closed terminal: the kernel leads a session of its own, so the signal reaches
    only the campaign, which must take its kernel down (here one that sleeps, and says its pid)."""
    books = notebook(tmp_path / "notebooks", "import os, pathlib, time\n"
                                             "pathlib.Path(run_dir).mkdir(parents=True, exist_ok=True)\n"
                                             "(pathlib.Path(run_dir) / 'kernel.pid').write_text(str(os.getpid()))\n"
                                             "time.sleep(120)")
    path = write_campaign(tmp_path, synthetic_root)
    runs = tmp_path / "runs"
    code = ("import sys; from pathlib import Path; from cifar100lab import cli; from cifar100lab.executors import local\n"
            "local.NOTEBOOKS = Path(sys.argv[1]); sys.exit(cli.main(sys.argv[2:]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(books), "campaign", str(path), "--runs-root", str(runs),
                             "--book", str(scratch_book(tmp_path / "book")), "--jobs", "1", "--no-analysis"], cwd=ROOT,
                            text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    pid_file = runs / "life" / "life-resnet_20-s0" / "kernel.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), proc)
    kernel = int(pid_file.read_text())
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    reaped = gone(kernel)  # before it exited (one left behind would end a moment later, on its parent poller)
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, err
    assert err.strip().splitlines() == [f"interrupted by {name}: stopped; a run in progress resumes from its last "
                                        f"checkpoint when the command runs again (or starts over, if it had "
                                        f"saved none)"]
    assert reaped


def test_stop_signals_are_left_to_whoever_already_handles_them_and_restored_after():
    """Inside a Slurm job submitit owns SIGTERM (it ignores it: preemption sends it before SIGUSR2, on which it
    requeues) and SIGUSR2."""
    theirs = lambda *_: None  # noqa: E731
    before = signal.signal(signal.SIGTERM, theirs)
    try:
        with kernels.stop_signals():
            assert signal.getsignal(signal.SIGTERM) is theirs
            with pytest.raises(kernels.Stopped) as stopped:
                os.kill(os.getpid(), signal.SIGUSR1)
                time.sleep(1)
            assert stopped.value.signum == signal.SIGUSR1 and isinstance(stopped.value, KeyboardInterrupt)
        assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)


# --- two campaigns on one folder -----------------------------------------------------------------------------

def snapshot(*folders: Path) -> dict:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for f in folders for p in sorted(f.rglob("*")) if p.is_file()}


def test_the_campaign_that_loses_the_lock_leaves_every_file_of_the_holder_as_it_was(tmp_path, synthetic_root,
                                                                                    monkeypatch, capfd):
    runs, book = tmp_path / "runs", scratch_book(tmp_path / "book")
    path = write_campaign(tmp_path, synthetic_root)
    camp = C.load_campaign(path, runs_root=runs, book_dir=book)
    held, free = camp.runs
    # what the holder has written so far: its manifest, timing, kernel and run logs, the held run, the analysis
    folder, logs = runs / "life", runs / "life" / "logs"
    for name in (records.MANIFEST, records.TIMING, "logs/kernel-job0.log", "logs/kernel-job1.log",
                 "logs/kernel-analysis0.log", f"logs/{held.run_id}.log", f"logs/{held.run_id}.params.yaml"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"the holder's {name}\n")
    records.save(held.run_dir, records.start(held.run_dir, run_id=held.run_id, config=held.config.to_dict()))
    records.append_jsonl(held.run_dir / records.METRICS, {"epoch": 1, "top1": 10.0})
    for name in (f"runs/{held.run_id}.ipynb", "generated/analysis.ipynb"):
        (book / name).parent.mkdir(parents=True, exist_ok=True)
        (book / name).write_text("{}")
    holders = [hold_lock(local.campaign_lock(camp, runs)), hold_lock(run_lock(held))]
    before = snapshot(runs, book)
    time.sleep(0.05)  # a write now would show in the mtime
    # the loser runs what nobody holds, in a kernel of its own, which writes to its log at start
    monkeypatch.setattr(local, "NOTEBOOKS", notebook(tmp_path / "notebooks", (
        "from cifar100lab import records\n"
        "records.save(run_dir, records.finish(records.start(run_dir, run_id=run_id)))")))
    try:
        proc = run_cli(capfd, "campaign", path, "--runs-root", runs, "--book", book, "--jobs", "2")
    finally:
        for p in holders:
            p.kill()
            p.wait()
    assert proc.returncode == 3, proc.stdout + proc.stderr  # a run held by another process
    assert f"locked: {held.run_id}" in proc.stdout and "analysis skipped" in proc.stdout
    assert records.load(free.run_dir)["status"] == "complete"
    after = snapshot(runs, book)
    assert {p: after[p] for p in before} == before
    assert list(logs.glob(f"kernel-pid{os.getpid()}-job*.log"))  # the loser's kernel logged beside, under its pid


# --- a full disk at start ------------------------------------------------------------------------------------

def test_a_campaign_that_cannot_write_at_start_says_so_in_one_line_exits_2_and_keeps_what_was_there(
        tmp_path, synthetic_root, capsys, small_disk):
    runs = small_disk / "runs"
    path = write_campaign(tmp_path, synthetic_root)
    manifest = runs / "life" / records.MANIFEST
    records.atomic_write_json(manifest, {"name": "life", "runs": ["from before"]})
    kept = manifest.read_bytes()
    main_args = ["campaign", str(path), "--runs-root", str(runs), "--book", str(scratch_book(tmp_path / "book"))]
    fill(small_disk)
    code = cli.main(main_args)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"error: cannot write the campaign folder {runs / 'life'}: ") and "no space left" in err.lower()
    assert manifest.read_bytes() == kept and not (runs / "life" / "life-resnet_20-s0").exists()


# --- the train notebook outside a campaign -------------------------------------------------------------------

@pytest.mark.parametrize("parameters, message", [
    ({"model": "nosuchmodel"}, "unknown model 'nosuchmodel'; valid names:"),
    # papermill itself only warns ("Passed unknown parameter"), and the run trained the default 200 epochs
    ({"epoch": 1, "lr": 0.1}, "unknown notebook parameter(s) epoch (did you mean epochs?), lr; this notebook's "
                              "parameters are augment, batch_size,"),
])
def test_a_bad_notebook_parameter_is_one_line_in_the_notebook_and_in_papermills_error(tmp_path, parameters, message):
    out = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as raised:
        pm.execute_notebook(str(TRAIN_NOTEBOOK), str(out), parameters=parameters,
                            kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert raised.value.ename == "ConfigError" and raised.value.evalue.startswith(message)
    assert len(raised.value.traceback) == 1 and message in str(raised.value)
    nb = nbformat.read(out, as_version=4)
    first = next(o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error")
    assert first.traceback == [f"ConfigError: {raised.value.evalue}"]
    assert not (tmp_path / "runs").exists()  # refused before any work


def test_a_parameter_the_evaluate_notebook_does_not_take_is_one_line_before_any_work(tmp_path):
    """papermill would evaluate the notebook's default checkpoint: the one meant is named under a mistyped key."""
    out = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as raised:
        pm.execute_notebook(str(ROOT / "notebooks" / "evaluate.ipynb"), str(out),
                            parameters={"checkpont": str(tmp_path / "run" / "checkpoint.pt")},
                            kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    assert raised.value.ename == "ConfigError" and len(raised.value.traceback) == 1
    assert raised.value.evalue == ("unknown notebook parameter(s) checkpont (did you mean checkpoint?); this "
                                   "notebook's parameters are batch_size, checkpoint, data_root, out")


def run_notebook_cells(overrides: dict) -> dict:
    """The train notebook's cells as its kernel runs them, with ``overrides`` injected as papermill would."""
    cells = [c for c in json.loads(TRAIN_NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    namespace: dict = {}
    exec("".join(cells[0]["source"]), namespace)
    namespace.update(overrides)
    for cell in cells[1:]:  # entering the project, then the launch and its summary
        exec("".join(cell["source"]), namespace)
    return namespace["record"]


def test_notebook_runs_without_run_dir_get_their_own_folders_and_say_resumed_or_complete(
        tmp_path, synthetic_root, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # four runs train here: 2 steps of 16 images an epoch and 64 test images are enough to start, stop and resume
    small = tiny_config(synthetic_root, None, max_steps_per_epoch=2, batch_size=16, test_subset=64)
    settings = {k: v for k, v in small.items() if k != "run_dir"}
    first = run_notebook_cells(settings)
    other = run_notebook_cells({**settings, "model": "eca_resnet_20"})  # refused before: runs/default was taken
    assert first["status"] == other["status"] == "complete"
    first_dir, other_dir = Path(first["config"]["run_dir"]), Path(other["config"]["run_dir"])
    assert first_dir.parent == other_dir.parent == Path("runs") and first_dir != other_dir
    assert first_dir.name == first["run_id"] and first["run_id"].startswith("resnet_20-s0-")
    capsys.readouterr()
    assert run_notebook_cells(settings)["finished"] == first["finished"]  # the same settings, the same folder
    assert f"{first['run_id']}: already complete, nothing trained" in capsys.readouterr().out

    cut = {**settings, "seed": 1}
    with dies_in_epoch(2), pytest.raises(KeyboardInterrupt):  # the checkpoint of epoch 1 stays
        run_notebook_cells(cut)
    capsys.readouterr()
    resumed = run_notebook_cells(cut)
    assert resumed["status"] == "complete" and resumed["resumed_from_epoch"] == 1
    assert f"{resumed['run_id']}: resumed from epoch 1 of 2" in capsys.readouterr().out
