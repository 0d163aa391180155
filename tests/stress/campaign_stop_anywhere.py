"""Stop a campaign at random moments (SIGINT or SIGTERM to its process group, as a terminal or a scheduler
does), then run it again.

Every run must end complete with the uninterrupted campaign's curves and its notebook in the book. Not part of
the suite (minutes of kernel time); what it found is tested in tests/test_lifecycle.py.

    .venv/bin/python tests/stress/campaign_stop_anywhere.py [TRIALS] [SEED]
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from cifar100lab import records  # noqa: E402
from cifar100lab.data import write_synthetic_cifar100  # noqa: E402


def campaign(spec: Path, folder: Path, stop_after: float | None = None, signum=signal.SIGINT):
    """The campaign run into ``folder``, stopped after ``stop_after`` seconds: its exit status and output."""
    (folder / "book").mkdir(parents=True, exist_ok=True)  # a book folder: --book refuses one without _toc.yml
    (folder / "book" / "_toc.yml").touch()
    cmd = [sys.executable, "-m", "cifar100lab", "campaign", str(spec), "--runs-root", str(folder / "runs"),
           "--book", str(folder / "book")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    if stop_after is not None:
        try:
            proc.wait(stop_after)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signum)
    out = proc.communicate(timeout=300)[0]
    return proc.returncode, out


def curves(folder: Path) -> dict:
    keys = ("epoch", "train_loss", "top1", "test_loss")
    return {d.name: [{k: r[k] for k in keys} for r in records.read_metrics(d)]
            for d in sorted((folder / "runs" / "st").glob("st-*"))}


def main(trials: int, seed: int) -> int:
    tmp = Path(tempfile.mkdtemp())
    write_synthetic_cifar100(tmp / "data" / "synthetic", train_size=1024, test_size=300, num_classes=10, seed=0)
    spec = tmp / "st.yaml"
    spec.write_text(yaml.safe_dump({
        "name": "st", "dataset": "synthetic", "seeds": [0, 1], "models": ["resnet_20"],
        "defaults": {"epochs": 3, "batch_size": 32, "eval_batch_size": 64, "train_subset": 256, "test_subset": 64,
                     "max_steps_per_epoch": 3, "data_root": str(tmp / "data"), "progress": False}}))
    t0 = time.monotonic()
    code, out = campaign(spec, tmp / "straight")
    whole = time.monotonic() - t0
    assert code == 0, out
    straight = curves(tmp / "straight")
    print(f"uninterrupted campaign: {whole:.1f} s, runs {', '.join(straight)}", flush=True)
    rng, bad = random.Random(seed), 0
    for i in range(trials):
        folder, signum = tmp / f"t{i}", rng.choice([signal.SIGINT, signal.SIGTERM])
        delay = rng.uniform(0.3, whole)
        code, out = campaign(spec, folder, delay, signum)
        found = sorted((folder / "runs" / "st").glob("st-*")) if (folder / "runs" / "st").exists() else []
        states = {d.name: (records.load(d) or {}).get("status") for d in found}
        again, out_again = campaign(spec, folder)
        ended = {d.name: records.load(d)["status"] for d in (folder / "runs" / "st").glob("st-*")}
        ok = (again == 0 and set(ended.values()) == {"complete"} and curves(folder) == straight
              and all((folder / "book" / "runs" / f"{name}.ipynb").exists() for name in straight))
        bad += not ok
        last = out.strip().splitlines()[-1] if out.strip() else ""
        print(f"{i} {signal.Signals(signum).name} at {delay:.1f} s: exit {code}, {states}, {last[:100]!r}; "
              f"again: exit {again}{'' if ok else '  <<<'}", flush=True)
        if not ok:
            print(out[-2000:], out_again[-2000:])
    print(f"{bad} of {trials} stops went wrong")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10, int(sys.argv[2]) if len(sys.argv) > 2 else 0))
