"""A job's kernel kept between its runs (kernels.KernelSlot): reused while its notebooks succeed, replaced after
a failure, started with the job's environment; kept only where runs train inside the kernel on the CPU."""
import logging
import os
import signal
import threading
import time

import nbformat
import pytest

from cifar100lab import kernels, launch
from cifar100lab.executors import local


def probe(path):
    """A notebook that prints its kernel's process id and the job's marker, and fails when asked."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("fail = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import os\nprint('kernel', os.getpid(), os.environ.get('JOB_MARK'))\nif fail:\n    raise ValueError('boom')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def printed(path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    return next(line for line in text.splitlines() if line.startswith("kernel")).split()[1:]


def test_kept_kernel_serves_the_jobs_next_notebook_and_is_replaced_after_a_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("JOB_MARK", "campaign")
    monkeypatch.chdir(tmp_path)  # the kernels' working folder
    nb = probe(tmp_path / "probe.ipynb")
    slot = kernels.KernelSlot({**os.environ, "JOB_MARK": "job-1"}, keep=True, kernel_log=tmp_path / "logs" / "kernel.log")
    try:
        pids = []
        for i, fail in enumerate([False, False, True, False]):
            code, tail = slot.execute(nb, tmp_path / f"out{i}.ipynb", {"fail": fail}, tmp_path / f"log{i}")
            assert code == int(fail), tail
            pid, mark = printed(tmp_path / f"out{i}.ipynb")
            assert mark == "job-1"  # the kernel has the job's environment, not the campaign's
            pids.append(pid)
        assert tail == "" and pids[0] == pids[1] == pids[2] != pids[3]  # fresh after the failure
        assert (tmp_path / "log0.log").read_text().startswith("kernel ")  # the notebook's output is in its log
        kernel_log = (tmp_path / "logs" / "kernel.log").read_text()  # the kernel process's own output
        assert "without encryption" not in kernel_log  # local sockets (ipc): no TCP warning for every run
        assert not list(tmp_path.glob("kernel-ipc*"))  # named after the kernel's own connection file, not the folder
        code, tail = slot.execute(nb, tmp_path / "out.ipynb", {"fail": True}, tmp_path / "log")
        assert code == 1 and tail.strip().splitlines()[-1] == "ValueError: boom"  # the campaign's failure reason
    finally:
        slot.close()
    once = kernels.KernelSlot(dict(os.environ))
    firsts = [once.execute(nb, tmp_path / f"once{i}.ipynb", {}, tmp_path / f"once{i}") for i in range(2)]
    assert firsts == [(0, ""), (0, "")]
    assert printed(tmp_path / "once0.ipynb")[0] != printed(tmp_path / "once1.ipynb")[0]


def test_kernels_are_kept_only_where_runs_train_inside_them_on_the_cpu(monkeypatch):
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 4)
    for module in (kernels, launch):  # keep_kernels asks, and so does the launcher's process count
        monkeypatch.setattr(module, "visible_gpus", lambda: 0)
    assert kernels.keep_kernels("auto") and kernels.keep_kernels(1)
    assert not kernels.keep_kernels(2)  # a multi-process gloo job forks its workers from the kernel
    for module in (kernels, launch):
        monkeypatch.setattr(module, "visible_gpus", lambda: 2)
    assert not kernels.keep_kernels("auto") and not kernels.keep_kernels(1)  # GPU runs: a fresh kernel each, as verified


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_job_keeps_one_kernel_for_its_runs(tmp_path, monkeypatch, jobs):
    """The campaign's jobs each make one slot and use it for every run they take."""
    made, used = [], {}
    real = kernels.KernelSlot

    class Spy(real):
        def __init__(self, env, keep=False, kernel_log=None):
            super().__init__(env, keep, kernel_log)
            made.append((self, keep))

    def attempt(run, slot):
        used.setdefault(id(slot), []).append((run.run_id, threading.get_ident()))
        return "complete"

    monkeypatch.setattr(local, "KernelSlot", Spy)
    monkeypatch.setattr(local, "run_lock", lambda run: tmp_path / f"{run.run_id}.lock")
    runs = [type("R", (), {"run_id": f"r{i}"})() for i in range(6)]
    summary = {}
    local._run_parallel(runs, jobs, attempt, summary, lambda *_: None, keep=True)
    assert len(made) == jobs and all(keep for _, keep in made) and sorted(summary["complete"]) == [f"r{i}" for i in range(6)]
    for calls in used.values():
        assert len({thread for _, thread in calls}) == 1  # a slot stays on its job's thread (its event loop)


def test_an_interrupted_notebook_takes_its_kernel_down_at_once(tmp_path):
    """submitit's preemption handler (or Ctrl-C) raises in the campaign's main thread while a notebook runs; the
    kernel leads a session of its own, so no signal reaches it: the slot must kill it, or the run trains on."""
    import signal
    nb = nbformat.v4.new_notebook()
    started = tmp_path / "started"
    nb.cells = [nbformat.v4.new_code_cell(f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\n"
                                          "time.sleep(60)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "sleep.ipynb")
    slot, seen = kernels.KernelSlot(dict(os.environ), keep=True), {}

    def preempted(signum, frame):
        seen["kernel"] = slot._km.provisioner.process
        raise SystemExit(-1)  # what submitit's handler does after requeueing

    def signal_once_the_cell_runs():  # not after a fixed time: a loaded machine can take longer to start a kernel
        deadline = time.monotonic() + 120
        while not started.exists() and not done.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGALRM)  # handled in the main thread, inside slot.execute

    old, done = signal.signal(signal.SIGALRM, preempted), threading.Event()
    watcher = threading.Thread(target=signal_once_the_cell_runs)
    watcher.start()
    try:
        with pytest.raises(SystemExit):
            slot.execute(tmp_path / "sleep.ipynb", tmp_path / "out.ipynb", {}, tmp_path / "log")
    finally:
        done.set()
        watcher.join()  # before the old handler is back: a late SIGALRM would end this process
        signal.signal(signal.SIGALRM, old)
    assert seen["kernel"].wait(timeout=5) is not None  # gone, not sleeping out its minute
    slot.close()


def test_a_notebook_stopped_from_another_thread_leaves_no_log_of_its_kernels_death(tmp_path, caplog, monkeypatch):
    """Ctrl-C kills the job threads' kernels (run_in_slots) and prints the stop's one line; nbclient, still
    waiting in a job thread, then finds the kernel dead and would log "Kernel died" after that line."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import pathlib, time\npathlib.Path('started').touch()\ntime.sleep(60)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "sleep.ipynb")
    slot, outcome = kernels.KernelSlot(dict(os.environ)), {}

    def job():
        try:
            slot.execute(tmp_path / "sleep.ipynb", tmp_path / "out.ipynb", {}, tmp_path / "log")
        except BaseException as e:  # noqa: BLE001 -- what the job thread saw
            outcome["raised"] = e

    monkeypatch.chdir(tmp_path)  # the kernel's working folder
    thread = threading.Thread(target=job)
    with caplog.at_level("DEBUG"):
        thread.start()
        deadline = time.time() + 60
        while not (tmp_path / "started").exists() and time.time() < deadline:
            time.sleep(0.1)
        slot.kill()
        thread.join(timeout=60)
    assert isinstance(outcome.get("raised"), KeyboardInterrupt), outcome  # stopped, not failed
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_an_interrupted_run_in_slots_returns_after_its_jobs_handled_the_stop_and_then_says_where_each_stopped():
    """A tune worker marks its trial interrupted when its kernel is killed (so the next tune retries it); the
    interrupted caller must not exit, nor record where the run stopped, before that handling is done."""
    events, killed = [], threading.Event()

    class Slot:  # a job's kernel, as far as run_in_slots uses it
        def kill(self):
            killed.set()

        def close(self):
            pass

    def work(item, slot):
        events.append(f"started {item}")
        killed.wait(timeout=30)
        time.sleep(0.3)  # e.g. Optuna writing the failed trial to its storage
        events.append(f"handled the stop of {item}")
        raise KeyboardInterrupt("its kernel was stopped")

    def interrupt_once_started():
        while not events:
            time.sleep(0.01)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_once_started, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            kernels.run_in_slots([7], [Slot()], work, stopped=lambda item: events.append(f"recorded {item}"))
    finally:
        signal.signal(signal.SIGINT, before)
    assert events == ["started 7", "handled the stop of 7", "recorded 7"]
