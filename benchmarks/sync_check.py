"""On a GPU: a few training steps of every feature under torch.cuda.set_sync_debug_mode("error"), so
any step that makes the host wait for the device (.item(), a blocking host-to-device copy, a branch on a device
value) fails by name. Usage: python benchmarks/sync_check.py --out RECORD.json (run by gpu_check.sh)."""
import argparse
import os
import traceback

import torch

from cifar100lab import data, records
from cifar100lab.accelerator import build_accelerator, set_kernel_policy
from cifar100lab.bench.timing import stand_in_teacher
from cifar100lab.config import resolve
from cifar100lab.train import build_learner, build_model, train_steps

# feature -> its recipe overrides (and run settings: compiled with CUDA graphs)
FEATURES = {"plain": {}, "mixup-cutmix": {"mixup": 0.8, "cutmix": 1.0, "label_smoothing": 0.1},
            "randaugment-erasing": {"auto_augment": "randaugment", "random_erasing": 0.25},
            "ema": {"ema_decay": 0.999}, "clip": {"grad_clip": 1.0}, "freeze": {"freeze_epochs": 1},
            "adamw": {"optimizer": "adamw", "warmup_epochs": 1.0}, "ddp-1-process": {},
            "compile-reduce-overhead": {"settings": {"compile": True, "compile_mode": "reduce-overhead",
                                                     "fused_optimizer": True}},
            "cuda-graph": {"settings": {"cuda_graph": True}},
            "cuda-graph-adamw-mixup-ema-clip": {"settings": {"cuda_graph": True}, "optimizer": "adamw",
                                                "warmup_epochs": 1.0, "mixup": 0.8, "cutmix": 1.0, "ema_decay": 0.999,
                                                "grad_clip": 1.0},
            # the distillation study's students: the teacher's forward, re-normalised and resized to its input size
            "distill-resized-teacher": {"distill_from": "resnet_32@teacher.pth",
                                        "teacher": {"model": "resnet_32", "img_size": 64}}}


def check(name, overrides):
    settings, teacher = overrides.get("settings", {}), overrides.get("teacher")
    overrides = {k: v for k, v in overrides.items() if k not in ("settings", "teacher")}
    plan = resolve({"model": "resnet_20", "dataset": "synthetic", "epochs": 2, "batch_size": 128, **settings,
                    "overrides": {"lr": 0.05, **overrides}, "progress": False})
    set_kernel_policy(False)
    accelerator = build_accelerator("auto")
    if teacher:  # an untrained network of the teacher's kind, as the campaign bench times a waiting student
        teacher = stand_in_teacher(plan, resolve({"dataset": "synthetic", "progress": False, **teacher}),
                                   accelerator.device, 100)
    network = build_learner(plan, accelerator, build_model(plan, 100, weights=False), 20, num_classes=100,
                            teacher=teacher)
    if name == "ddp-1-process":
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29531")
        torch.distributed.init_process_group("nccl", rank=0, world_size=1)
        network.forward = torch.nn.parallel.DistributedDataParallel(network.model)
    policy = data.policy_augmentation(plan.recipe, plan.mean)
    x = torch.randint(0, 256, (128 * 8, 3, 32, 32), dtype=torch.uint8, device="cuda")
    y = torch.randint(0, 100, (128 * 8,), device="cuda")
    network.train_mode(0)
    # warm-up: lazy state, compilation, and a CUDA graph's eager steps and capture (which synchronizes)
    train_steps(network, data.train_batches(x, y, 128, 0, 0, policy=policy), range(5))
    batches = data.train_batches(x, y, 128, 1, 0, policy=policy)
    next(batches)  # the epoch's setup (the plan's one copy to the device) is allowed
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        totals = train_steps(network, batches, range(4))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return {"ok": True, "images": totals[2].item()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    out = {"kind": "sync_check", "device": torch.cuda.get_device_name(0), "measured": records.now(),
           "git_commit": records.git_commit(), "features": {}}
    for name, overrides in FEATURES.items():
        try:
            out["features"][name] = check(name, overrides)
        except Exception as e:  # the sync's own message names the op that waited
            out["features"][name] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000],
                                     "where": traceback.format_exc()[-3000:]}
        print(name, out["features"][name].get("ok"), out["features"][name].get("error", ""), flush=True)
    records.atomic_write_json(__import__("pathlib").Path(p.parse_args().out), out)
    return 0 if all(f["ok"] for f in out["features"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
