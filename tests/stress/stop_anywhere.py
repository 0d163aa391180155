"""Press the stop button at random moments of a live notebook run, then run the cell again.

Every stop must leave the record ``interrupted`` (or ``complete``, when it landed after the run), never ``failed``
or ``running``, and running again must end complete with the uninterrupted run's curve. Not part of the suite
(minutes of kernel time); the cases it found are tests in tests/test_train.py and tests/test_live_notebook.py.

    .venv/bin/python tests/stress/stop_anywhere.py [TRIALS] [SEED]
"""
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import tiny_config  # noqa: E402
from test_live_notebook import LiveKernel, curve  # noqa: E402

from cifar100lab import records  # noqa: E402
from cifar100lab.data import write_synthetic_cifar100  # noqa: E402


def main(trials: int, seed: int) -> int:
    tmp = Path(tempfile.mkdtemp())
    write_synthetic_cifar100(tmp / "data" / "synthetic", train_size=1024, test_size=300, num_classes=10, seed=0)
    kernel = LiveKernel(tmp)
    settings = tiny_config(tmp / "data", tmp / "straight", epochs=5, max_steps_per_epoch=3, train_subset=256,
                           test_subset=64, progress=True)
    kernel.run("from cifar100lab.launch import run")
    t0 = time.monotonic()
    reply, _ = kernel.run(f"r = run({settings!r})")
    whole = time.monotonic() - t0
    assert reply["status"] == "ok", reply
    straight = curve(tmp / "straight")
    print(f"uninterrupted run: {whole:.1f} s", flush=True)
    rng, bad = random.Random(seed), 0
    for i in range(trials):
        cut = {**settings, "run_dir": str(tmp / f"cut{i}")}
        delay, start = rng.uniform(0.05, whole), time.monotonic()

        def press_stop():
            if time.monotonic() - start > delay:
                kernel.km.interrupt_kernel()
                return True
        reply, _ = kernel.run(f"r = run({cut!r})", while_running=press_stop)
        stopped = records.read_json(tmp / f"cut{i}" / records.RECORD)
        again, _ = kernel.run(f"r = run({cut!r})")
        ended = records.read_json(tmp / f"cut{i}" / records.RECORD)
        same = curve(tmp / f"cut{i}") == straight
        ok = (stopped["status"] in ("interrupted", "complete") and again["status"] == "ok"
              and ended["status"] == "complete" and same)
        bad += not ok
        print(f"{i} stop at {delay:.2f} s: {reply.get('ename') or reply['status']}, {stopped['status']} "
              f"({stopped.get('reason') or ''}); again: {ended['status']}, curve {'same' if same else 'DIFFERENT'}"
              f"{'' if ok else '  <<<'}", flush=True)
        if not ok and reply["status"] == "error":
            print("\n".join(reply["traceback"])[-1500:])
    kernel.close()
    print(f"{bad} of {trials} stops went wrong")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30, int(sys.argv[2]) if len(sys.argv) > 2 else 0))
