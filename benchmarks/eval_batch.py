"""Which evaluation batch suits this device: the trainer's own ``evaluate`` (the whole test set, as every epoch
does) of each network at each batch size, the sizes taking turns round by round so a busy spell of a shared
machine falls on all of them. The record is the evidence for ``config.EVAL_BATCH`` (what ``eval_batch_size:
null`` takes on a CPU and on a GPU).
Usage: python benchmarks/eval_batch.py --out RECORD.json [--models resnet_20 resnet_56] [--batches 64 128 256 1000]
[--images 2000] [--rounds 3] [--threads 2] [--device cuda] (``make bench``)."""
import argparse
import statistics
import time

import torch

from cifar100lab import records
from cifar100lab.bench.timing import OursPath, default_device, header, synthetic_images
from cifar100lab.config import EVAL_BATCH, resolve
from cifar100lab.train import evaluate


def network_row(model: str, batches: list[int], images: int, rounds: int, device) -> dict:
    """Median images/s of one network's whole-test-set evaluation at each batch size."""
    x, y = synthetic_images(images)
    path = OursPath(resolve({"model": model, "pretrained": "off"}), (x[:128], y[:128]), (x, y), 0, device)
    evaluate(path.network, path.test_x[:max(batches)], path.test_y[:max(batches)], max(batches))  # warm-up
    rates = {b: [] for b in batches}
    for r in range(rounds):
        for b in batches[r % len(batches):] + batches[:r % len(batches)]:
            start = time.perf_counter()
            evaluate(path.network, path.test_x, path.test_y, b)  # it reads its totals back: the GPU has finished
            rates[b].append(images / (time.perf_counter() - start))
    rows = [{"batch": b, "images_per_second": statistics.median(v), "samples": v} for b, v in rates.items()]
    return {"model": model, "batches": rows,
            "fastest_batch": max(rows, key=lambda row: row["images_per_second"])["batch"]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["resnet_20", "resnet_56"])
    ap.add_argument("--batches", nargs="+", type=int, default=[64, 128, 256, 500, 1000])
    ap.add_argument("--images", type=int, default=2000, help="test images evaluated per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--device", help="cpu or cuda (default: cuda when a GPU is visible)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = default_device(args.device)
    rows = []
    for model in args.models:
        rows.append(network_row(model, sorted(args.batches), args.images, args.rounds, device))
        print(f"{model}: " + ", ".join(f"{b['batch']}: {b['images_per_second']:,.0f}" for b in rows[-1]["batches"])
              + " images/s", flush=True)
    chosen = EVAL_BATCH["cpu" if device.type == "cpu" else "gpu"]
    record = {"kind": "eval_batch", **header(device, {}, images=args.images, rounds=args.rounds),
              "default_batch": chosen, "rows": rows}
    records.atomic_write_json(args.out, record)
    print(f"eval_batch_size null takes {chosen} here; record written to {args.out}")


if __name__ == "__main__":
    main()
