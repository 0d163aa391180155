"""On a GPU: does the step replayed as one CUDA graph (cuda_graph: true) train as the eager step does? Two
learners from the same weights take the same 30 batches, deterministic kernels, one eagerly and one through
the graph (3 eager warm-up steps, the capture, 26 replays); the record has both loss curves and the largest
parameter difference at the end. Usage: python benchmarks/graph_check.py --out RECORD.json (gpu_check.sh)."""
import argparse
from pathlib import Path

import torch

from cifar100lab import data, records
from cifar100lab.accelerator import build_accelerator, set_kernel_policy
from cifar100lab.config import resolve
from cifar100lab.learner import build_learner, build_model

CASES = {"sgd": {}, "adamw-mixup-ema-clip": {"optimizer": "adamw", "warmup_epochs": 1.0, "mixup": 0.8,
                                             "cutmix": 1.0, "ema_decay": 0.999, "grad_clip": 1.0}}


def losses(plan, x, y, steps):
    torch.manual_seed(0)
    learner = build_learner(plan, build_accelerator("auto"), build_model(plan, 100, weights=False), 40,
                            num_classes=100)
    learner.train_mode(0)
    out = [learner.step(xb, yb, key=i)[0].detach().clone() for i, (xb, yb) in
           zip(range(steps), data.train_batches(x, y, 128, 0, 0))]
    return torch.stack(out).tolist(), [p.detach().clone() for p in learner.model.parameters()]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    set_kernel_policy(True)
    x = torch.randint(0, 256, (128 * 30, 3, 32, 32), dtype=torch.uint8, device="cuda")
    y = torch.randint(0, 100, (128 * 30,), device="cuda")
    out = {"kind": "graph_check", "device": torch.cuda.get_device_name(0), "measured": records.now(),
           "git_commit": records.git_commit(), "cases": {}}
    for name, overrides in CASES.items():
        base = {"model": "resnet_20", "dataset": "synthetic", "epochs": 2, "batch_size": 128, "deterministic": True,
                "fused_optimizer": True, "overrides": {"lr": 0.05, **overrides}, "progress": False}
        eager, eager_params = losses(resolve(base), x, y, 30)
        graphed, graphed_params = losses(resolve({**base, "cuda_graph": True}), x, y, 30)
        diff = max((a.float() - b.float()).abs().max().item() for a, b in zip(eager_params, graphed_params))
        gap = max(abs(a - b) for a, b in zip(eager, graphed))
        out["cases"][name] = {"eager_losses": eager, "graphed_losses": graphed, "max_loss_gap": gap,
                              "max_param_diff": diff, "ok": gap <= 1e-3 * max(1.0, max(eager))}
        print(name, out["cases"][name]["ok"], f"loss gap {gap:.3g}, param diff {diff:.3g}", flush=True)
    records.atomic_write_json(Path(p.parse_args().out), out)
    return 0 if all(c["ok"] for c in out["cases"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
