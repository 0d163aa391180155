"""How long a run's checkpoint holds up its training: written inline (what a CPU run does) and on the background
thread (what a GPU run does, checkpoint.CheckpointWriter), for a small state (ResNet-20, SGD) and a large one
(ConvNeXt-T at 32 px, AdamW), each with a 200-epoch history as the trainer's last checkpoint has. The record has
the median milliseconds of each, and whether the background write kept the weights of the moment it was asked
for. Usage: python benchmarks/checkpoint_write.py --out RECORD.json [--models resnet_20] [--repeats 5]
(gpu_check.sh step ``checkpoint``; ``make bench`` on the CPU)."""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from cifar100lab import records
from cifar100lab.accelerator import build_accelerator
from cifar100lab.bench.timing import sync
from cifar100lab.checkpoint import CheckpointWriter, overlaps_training, read_checkpoint, save_checkpoint
from cifar100lab.config import resolve
from cifar100lab.learner import build_learner, build_model

NETWORKS = ("resnet_20", "convnext_tiny")
EPOCHS = 200  # the history the last checkpoint of a 200-epoch run holds
ROW_KEYS = ("train_loss", "train_acc", "top1", "top5", "test_loss", "lr", "epoch_seconds", "eval_seconds",
            "images_per_second")


def run_state(name: str) -> tuple[dict, torch.device]:
    """What the trainer's last checkpoint of a 200-epoch run of ``name`` holds, after one real step (so the
    optimizer has its state), on this machine's device."""
    plan = resolve({"model": name, "dataset": "synthetic", "epochs": EPOCHS, "batch_size": 32, "progress": False})
    accelerator = build_accelerator("auto")
    learner = build_learner(plan, accelerator, build_model(plan, 100, weights=False), 390, num_classes=100)
    device = accelerator.device
    learner.train_mode(0)
    learner.step(torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8, device=device),
                 torch.randint(0, 100, (32,), device=device))
    history = [{"epoch": e + 1, **{k: 0.5 + e for k in ROW_KEYS}, "evaluated": 10000} for e in range(EPOCHS)]
    state = {**learner.state_dict(), "config": plan.config.to_dict(), "epoch": EPOCHS,
             "best": {"epoch": EPOCHS, "selected_on": "test", "score": 1.0, "top1": 1.0, "top5": 1.0},
             "history": history}
    return state, device


def measure(name: str, repeats: int, folder: Path) -> dict:
    state, device = run_state(name)
    tensors = [*state["model"].values(),
               *(t for kept in state["optimizer"]["state"].values() for t in kept.values() if torch.is_tensor(t))]
    inline, blocking, total = [], [], []
    writer = CheckpointWriter(background=True)
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        save_checkpoint(folder, state)
        inline.append(time.perf_counter() - t0)
        sync(device)
        t0 = time.perf_counter()
        writer.save(folder, state)
        t1 = time.perf_counter()
        writer.wait()
        blocking.append(t1 - t0)
        total.append(time.perf_counter() - t0)
    # the weights of the moment it was asked for, though the next step changes them in place meanwhile
    first = next(iter(state["model"]))
    expected = state["model"][first].detach().cpu().clone()
    writer.save(folder, state)
    with torch.no_grad():
        state["model"][first].add_(1)
    writer.wait()
    kept = torch.equal(read_checkpoint(folder / records.CHECKPOINT)["model"][first], expected)
    return {"model": name, "tensors": len(tensors),
            "megabytes": sum(t.numel() * t.element_size() for t in tensors) / 1e6,
            "inline_ms": 1e3 * statistics.median(inline), "background_blocking_ms": 1e3 * statistics.median(blocking),
            "background_total_ms": 1e3 * statistics.median(total), "kept_the_asked_weights": kept}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--models", nargs="+", default=list(NETWORKS))
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    device = build_accelerator("auto").device
    out = {"kind": "checkpoint_write", "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU",
           "device_type": device.type, "trainer_writes_in_background": overlaps_training(device),
           "measured": records.now(), "git_commit": records.git_commit(), "versions": records.versions(),
           "repeats": a.repeats, "rows": []}
    with tempfile.TemporaryDirectory() as folder:
        for name in a.models:
            row = measure(name, a.repeats, Path(folder))
            out["rows"].append(row)
            print(f"{name}: {row['megabytes']:.1f} MB in {row['tensors']} tensors; inline {row['inline_ms']:.1f} ms, "
                  f"background holds training {row['background_blocking_ms']:.1f} ms of "
                  f"{row['background_total_ms']:.1f} ms; kept the asked weights: {row['kept_the_asked_weights']}",
                  flush=True)
    records.atomic_write_json(Path(a.out), out)
    return 0 if all(r["kept_the_asked_weights"] for r in out["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
