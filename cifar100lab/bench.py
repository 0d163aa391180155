"""Throughput benchmark: the original report's input pipeline against this project's path, same process,
same model, same data.

* original: per-image PIL transforms (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize)
  through a DataLoader with worker processes, fp32, contiguous (NCHW) memory;
* ours: uint8 tensors resident on the device, batched crop/flip on the device, channels_last, bf16 autocast
  (optionally torch.compile), large-batch evaluation.

Reports images/s for training and evaluation, their ratio, and achieved FLOP/s beside the device's
measured matmul peak. ``--out`` writes a JSON record that the book's Performance page renders.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from . import data as data_mod
from . import records
from .registry import count_flops, create_model
from .train import choose_precision


def matmul_peak(device, dtype, n: int = 2048, seconds: float = 1.0) -> float:
    """Measured dense matmul FLOP/s for ``dtype`` on ``device`` (the practical ceiling for conv nets)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def synthetic_images(n: int, num_classes: int = 100, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
            torch.randint(0, num_classes, (n,), generator=g))


class PILDataset(torch.utils.data.Dataset):
    """The original report's per-image path: HWC uint8 -> PIL image -> torchvision transforms."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, train: bool):
        from torchvision import transforms as T
        self.images = x.permute(0, 2, 3, 1).numpy()
        self.labels = y.numpy()
        norm = T.Normalize(data_mod.CIFAR100_MEAN, data_mod.CIFAR100_STD)
        aug = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if train else []
        self.transform = T.Compose([*aug, T.ToTensor(), norm])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def _timed(step_fn, batches, warmup: int, device) -> tuple[float, int]:
    """Seconds and images for the batches after ``warmup`` ones."""
    seen, t0 = 0, None
    for i, (xb, yb) in enumerate(batches):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        step_fn(xb, yb)
        if i >= warmup:
            seen += len(yb)
    sync(device)
    return time.perf_counter() - t0, seen


def bench_original(model_name, x, y, batch_size, steps, warmup, workers, device) -> dict:
    torch.manual_seed(0)
    model = create_model(model_name, num_classes=100).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    n = (steps + warmup) * batch_size
    loader = torch.utils.data.DataLoader(PILDataset(x[:n], y[:n], True), batch_size=batch_size, shuffle=True,
                                         num_workers=workers, drop_last=True, persistent_workers=False)

    def step(xb, yb):
        xb, yb = xb.to(device), yb.to(device)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    secs, seen = _timed(step, loader, warmup, device)
    model.eval()
    eval_loader = torch.utils.data.DataLoader(PILDataset(x[:n], y[:n], False), batch_size=batch_size,
                                              num_workers=workers)
    with torch.no_grad():
        esecs, eseen = _timed(lambda xb, yb: model(xb.to(device)), eval_loader, 1, device)
    return {"train_images_per_second": seen / secs, "eval_images_per_second": eseen / esecs, "precision": "fp32",
            "channels_last": False, "pipeline": f"PIL transforms + DataLoader({workers} workers)"}


def bench_ours(model_name, x, y, batch_size, steps, warmup, device, precision, compile_model,
               eval_batch_size) -> dict:
    torch.manual_seed(0)
    model = create_model(model_name, num_classes=100).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    fwd = torch.compile(model) if compile_model else model
    mp = choose_precision(precision, device.type == "cuda")
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mp)
    prepare = data_mod.normalizer("cifar100", device)
    n = (steps + warmup) * batch_size
    xd, yd = x[:n].to(device), y[:n].to(device)

    def ctx():
        return torch.autocast(device.type, dtype=dtype) if dtype else torch.autocast(device.type, enabled=False)

    def step(xb, yb):
        with ctx():
            loss = F.cross_entropy(fwd(prepare(xb)).float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    secs, seen = _timed(step, data_mod.train_batches(xd, yd, batch_size, 0, 0), warmup, device)
    model.eval()

    def eval_batches():
        for i in range(0, n, eval_batch_size):
            yield xd[i:i + eval_batch_size], yd[i:i + eval_batch_size]

    with torch.no_grad(), ctx():
        esecs, eseen = _timed(lambda xb, yb: fwd(prepare(xb)), eval_batches(), 1 if n > eval_batch_size else 0, device)
    return {"train_images_per_second": seen / secs, "eval_images_per_second": eseen / esecs,
            "precision": mp, "channels_last": True, "compile": compile_model,
            "pipeline": "uint8 tensors on device + batched crop/flip"}


def run_bench(models, batch_size=128, steps=20, warmup=3, workers=2, precision="auto", compile_model=False,
              eval_batch_size=1000, device=None) -> dict:
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    x, y = synthetic_images(max((steps + warmup) * batch_size, eval_batch_size * 2))
    mp = choose_precision(precision, device.type == "cuda")
    peak_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mp, torch.float32)
    peaks = {"fp32": matmul_peak(device, torch.float32), mp: matmul_peak(device, peak_dtype)}
    rows = []
    for name in models:
        flops = count_flops(create_model(name, num_classes=100), 32)
        orig = bench_original(name, x, y, batch_size, steps, warmup, workers, device)
        ours = bench_ours(name, x, y, batch_size, steps, warmup, device, precision, compile_model, eval_batch_size)
        for label, r in (("original", orig), ("ours", ours)):
            peak = peaks["fp32" if r["precision"] in ("no", "fp32") else r["precision"]]
            achieved = 3 * flops * r["train_images_per_second"]  # forward + backward ≈ 3 × forward
            rows.append({"model": name, "path": label, **r, "flops_per_image": flops,
                         "achieved_tflops": achieved / 1e12, "peak_tflops": peak / 1e12,
                         "fraction_of_peak": achieved / peak})
        rows[-1]["train_speedup"] = ours["train_images_per_second"] / orig["train_images_per_second"]
        rows[-1]["eval_speedup"] = ours["eval_images_per_second"] / orig["eval_images_per_second"]
    return {"kind": "bench", "device": records.device_name(device), "device_type": device.type,
            "data": "synthetic CIFAR-shaped uint8 images (throughput only)", "batch_size": batch_size,
            "steps": steps, "warmup": warmup, "workers": workers, "peaks_tflops": {k: v / 1e12 for k, v in peaks.items()},
            "rows": rows, "versions": records.versions(), "git_commit": records.git_commit(),
            "torch_threads": torch.get_num_threads(), "measured": records.now()}


def format_table(result: dict) -> str:
    import pandas as pd
    df = pd.DataFrame(result["rows"])
    cols = ["model", "path", "precision", "train_images_per_second", "eval_images_per_second", "achieved_tflops",
            "fraction_of_peak", "train_speedup", "eval_speedup"]
    df = df[[c for c in cols if c in df.columns]]
    head = (f"device: {result['device']}  peaks (TFLOP/s): " +
            ", ".join(f"{k} {v:.3f}" for k, v in result["peaks_tflops"].items()))
    return head + "\n" + df.to_string(index=False, float_format=lambda v: f"{v:.3g}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", default=["resnet_20"])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the original pipeline")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp16", "fp32"])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--device")
    p.add_argument("--out", help="write the result as a JSON record (e.g. records/bench/cpu.json)")
    p.set_defaults(fn=main)


def main(a) -> int:
    result = run_bench(a.models, a.batch_size, a.steps, a.warmup, a.workers, a.precision, a.compile,
                       device=a.device)
    print(format_table(result))
    if a.out:
        records.atomic_write_json(Path(a.out), result)
        print(f"record written to {a.out}")
    return 0
