import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a hub
# An OpenMP thread with no work sleeps rather than spins (libgomp reads this when torch loads, here and in every
# kernel and process a test starts): spinning threads took a quarter of the suite's CPU time.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test`'s workers share the two cores: each process computes on one thread. With two threads, every
    # parallel region waited for a thread another worker's process kept off its core (the training tests
    # ran 4-7 times slower than alone).
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# `make test-fast` (pytest -m "not slow") leaves out what starts kernels, processes, a cluster or a browser, or
# trains for seconds: every test of these modules, and the tests marked slow in their own files.
SLOW_MODULES = {"test_campaign_book", "test_checks", "test_every_model_steps", "test_install", "test_kernels",
                "test_lifecycle", "test_pinned_metrics", "test_progress", "test_slurm"}


# Tests write into temporary folders only: a run notebook left in the repository's book breaks the next
# `make report` (its page has no record behind it).
REPO_OUTPUTS = (ROOT / "book" / "runs", ROOT / "book" / "generated", ROOT / "runs")


def _repo_outputs() -> set[Path]:
    return {p for folder in REPO_OUTPUTS if folder.exists() for p in folder.rglob("*")}


def pytest_sessionstart(session):
    session.config.repo_outputs_before = _repo_outputs()


def pytest_sessionfinish(session, exitstatus):
    new = sorted(_repo_outputs() - session.config.repo_outputs_before)
    if new:
        print(f"\ntests wrote into the repository (they must use tmp_path): {', '.join(map(str, new[:5]))}")
        session.exitstatus = 1


def pytest_collection_modifyitems(items):
    for item in items:
        if item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A small 10-class synthetic dataset in the official CIFAR-100 layout (root/synthetic/cifar-100-python)."""
    from cifar100lab.data import write_synthetic_cifar100
    root = tmp_path_factory.mktemp("data")
    write_synthetic_cifar100(root / "synthetic", train_size=1024, test_size=300, num_classes=10, seed=0)
    return root


@pytest.fixture(scope="session")
def fashion_root(tmp_path_factory) -> Path:
    from cifar100lab.data import FASHION_DEBIAN_DIR
    if not (FASHION_DEBIAN_DIR / "train-images-idx3-ubyte.gz").exists() and os.environ.get("CI"):
        pytest.fail("Fashion-MNIST must be installed in CI (apt-get install dataset-fashion-mnist)")
    if not (FASHION_DEBIAN_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    return tmp_path_factory.mktemp("fashion")


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB file system (tmpfs; the suite runs as root in CI): room for a run's folder, not its checkpoint."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root and must be able to mount a tmpfs")
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def fill(folder: Path) -> None:
    """Take every free byte of ``folder``'s file system (a full disk)."""
    try:
        with open(folder / "filler", "wb", buffering=0) as f:
            while True:
                f.write(b"\0" * 4096)
    except OSError:
        pass


@contextlib.contextmanager
def dies_in_epoch(epoch: int):
    """Within: the trainer is stopped one step into epoch ``epoch`` (1-based), as Ctrl-C or a kill lands mid-epoch
    (KeyboardInterrupt): the weights in memory have moved past the last checkpoint, which must be what a resume
    starts from. One step, not the whole epoch and its evaluation: the tests train less."""
    from cifar100lab import train
    real = train.train_batches

    def batches(x, y, batch_size, epoch_index, *a, **k):
        for step, batch in enumerate(real(x, y, batch_size, epoch_index, *a, **k)):
            if epoch_index == epoch - 1 and step == 1:
                raise KeyboardInterrupt
            yield batch
    train.train_batches = batches
    try:
        yield
    finally:
        train.train_batches = real


def hold_lock(path: Path) -> subprocess.Popen:
    """Another process holding the lock at ``path``, as a running campaign holds it."""
    code = ("import sys, time; from cifar100lab import locks\n"
            "with locks.lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "held"
    return proc


def tiny_config(root, run_dir, **kw):
    cfg = dict(model="resnet_20", dataset="synthetic", data_root=str(root), epochs=2, batch_size=64,
               eval_batch_size=128, run_dir=str(run_dir), progress=False, seed=0,
               overrides={"lr": 0.05})
    cfg.update(kw)
    return cfg


@pytest.fixture
def copy_repo_book(tmp_path):
    """A scratch copy of the book sources, _config.yml and the campaign files, so a build never touches the
    repository's book."""
    dst = tmp_path / "proj"
    shutil.copytree(ROOT / "book", dst / "book", ignore=shutil.ignore_patterns("_build", "generated", "*.ipynb"))
    shutil.copy(ROOT / "_config.yml", dst / "_config.yml")
    shutil.copytree(ROOT / "params", dst / "params")
    return dst


def scratch_book(folder: Path) -> Path:
    """A book folder (it holds _toc.yml) for a command's --book, which refuses a folder that is no book."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "_toc.yml").exists():  # a copy of the repository's book keeps its own
        (folder / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    return folder


@pytest.fixture(scope="session")
def reader_book(tmp_path_factory) -> Path:
    """The book built once per session from a fake campaign's records (tests/book_reader.py), shared by every
    book test that reads pages: its HTML folder."""
    from book_reader import build_reader_book
    return build_reader_book(tmp_path_factory)


def run_cli(capfd, *args) -> subprocess.CompletedProcess:
    """``python -m cifar100lab ARGS`` run in this process, so torch is imported once per suite rather than once
    per command: its exit status and what it printed, captured at the file-descriptor level as a child's is."""
    from cifar100lab.cli import main
    capfd.readouterr()  # what came before is not this command's
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # as the interpreter ends a child: a message goes to stderr with status 1
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(["cifar100lab", *map(str, args)], code, out, err)


def campaign_refused(capfd, path: Path, tmp_path: Path) -> str:
    """The one error line of a campaign that refuses ``path`` before any work (exit 2, nothing else printed)."""
    result = run_cli(capfd, "campaign", path, "--runs-root", tmp_path / "runs", "--book",
                     scratch_book(tmp_path / "book"), "--no-analysis")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    return lines[0]


def fake_notebooks(monkeypatch) -> list[str]:
    """The local executor's notebooks, each writing a complete record at once; the run ids it executed."""
    from cifar100lab import records
    from cifar100lab.executors import local
    executed = []

    def execute(run, notebook, slot, log_dir, num_processes):
        executed.append(run.run_id)
        records.atomic_write_json(run.run_dir / records.RECORD, {"status": "complete"})
        return 0, ""
    monkeypatch.setattr(local, "execute_notebook", execute)
    return executed


@pytest.fixture(autouse=True)
def _signal_handlers_as_they_were():
    """A test that runs launch.worker in-process (or anything else that sets a stop handler) leaves it set in the
    xdist worker, and every process a later test starts inherits an ignored SIGINT: restore them after each test."""
    import signal
    kept = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, handler in kept.items():
        if handler is not None and signal.getsignal(s) is not handler:
            signal.signal(s, handler)
