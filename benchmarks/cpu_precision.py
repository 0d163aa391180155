"""Whether bf16 autocast pays on this CPU, network by network: the trainer's own training step (OursPath: forward,
loss, backward, optimizer) of every network of a campaign, as its runs are configured, in fp32 (precision: fp32),
in bf16 as a run gets it (precision: auto, with accelerator.cpu_depthwise_in_fp32's kernel policy) and in bf16
with that policy undone. The three alternate step by step in one process, so a busy spell of a shared machine
falls on all of them; the record has each one's median and fastest step and the median of the per-step ratios
to fp32. Then the depthwise convolutions the policy is about, pass by pass, fp32 against bf16.
Usage: python benchmarks/cpu_precision.py --out RECORD.json [--campaign params/quick.yaml] [--models ...]
[--steps 15] [--threads 2] (``make bench``)."""
import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F

from cifar100lab import data as data_mod
from cifar100lab import records
from cifar100lab.accelerator import Fp32DepthwiseConv2d, cpu_has_native_bf16
from cifar100lab.bench.campaign_time import campaign_networks
from cifar100lab.bench.timing import OursPath, header, synthetic_images
from cifar100lab.campaign import load_campaign

PATHS = ("fp32", "bf16", "bf16-no-policy")
# (channels, map size, kernel, stride): GhostNet's downsampling and last-stage shapes at 32 px, ConvNeXt's 7×7
DEPTHWISE = [(48, 16, 3, 2), (240, 4, 3, 2), (72, 16, 3, 1), (480, 4, 3, 1), (480, 2, 3, 1), (480, 1, 3, 1),
             (96, 8, 7, 1)]


def build_paths(plan, steps: int) -> tuple[dict, dict]:
    """The three paths of one network and each one's batches (two warm-up steps, then ``steps``)."""
    b = plan.config.batch_size
    x, y = synthetic_images((steps + 2) * b, plan.dataset.num_classes)
    paths, batches = {}, {}
    # bf16 built last: Accelerate keeps one precision per process, and the fp32 path's autocast is off either way
    for label, precision in (("fp32", "fp32"), ("bf16-no-policy", "auto"), ("bf16", "auto")):
        config = dataclasses.replace(plan.config, precision=precision)
        path = OursPath(dataclasses.replace(plan, config=config), (x, y), (x[:b], y[:b]), 1, torch.device("cpu"))
        if label == "bf16-no-policy":
            for module in path.network.model.modules():
                if isinstance(module, Fp32DepthwiseConv2d):
                    module.__class__ = torch.nn.Conv2d
        path.network.train_mode()
        paths[label] = path
        batches[label] = list(data_mod.train_batches(path.x, path.y, b, 1, 0, augment=path.augment,
                                                     policy=path.policy))
    return paths, batches


def step_times(paths: dict, batches: dict, steps: int) -> dict[str, list[float]]:
    """Seconds of each path's steps, the paths taking turns (the first to go rotating) after two warm-up steps."""
    for label, path in paths.items():
        for xb, yb in batches[label][:2]:
            path.network.step(xb, yb)
    times, order = {label: [] for label in paths}, list(paths)
    for i in range(steps):
        for label in order[i % len(order):] + order[:i % len(order)]:
            xb, yb = batches[label][2 + i]
            start = time.perf_counter()
            paths[label].network.step(xb, yb)
            times[label].append(time.perf_counter() - start)
    return times


def network_row(net: dict, steps: int) -> dict:
    paths, batches = build_paths(net["runs"][0].plan, steps)
    times = step_times(paths, batches, steps)
    return {**{k: net[k] for k in ("model", "options", "pretrained", "input_size", "batch_size")},
            "precision": paths["bf16"].info["precision"],
            "fp32_depthwise_convs": paths["bf16"].network.fp32_depthwise_convs,
            "median_step_ms": {k: statistics.median(v) * 1e3 for k, v in times.items()},
            "fastest_step_ms": {k: min(v) * 1e3 for k, v in times.items()},
            "ratio_to_fp32": {k: statistics.median(a / f for a, f in zip(v, times["fp32"]))
                              for k, v in times.items() if k != "fp32"}}


def depthwise_row(channels: int, size: int, kernel: int, stride: int, batch: int = 32, repeats: int = 20) -> dict:
    """Fastest milliseconds of one depthwise convolution's forward, input gradient and weight gradient (channels
    last, as the trainer has them), fp32 and bf16."""
    row = {"channels": channels, "map": size, "kernel": kernel, "stride": stride, "batch": batch}
    for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        x = torch.randn(batch, channels, size, size, dtype=dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(channels, 1, kernel, kernel, dtype=dtype).contiguous(memory_format=torch.channels_last)
        grad = torch.ones_like(F.conv2d(x, w, None, stride, kernel // 2, 1, channels))

        def backward(mask):
            return torch.ops.aten.convolution_backward(grad, x, w, None, [stride] * 2, [kernel // 2] * 2, [1, 1],
                                                       False, [0, 0], channels, mask)
        for part, fn in (("forward", lambda: F.conv2d(x, w, None, stride, kernel // 2, 1, channels)),
                         ("input_grad", lambda: backward([True, False, False])),
                         ("weight_grad", lambda: backward([False, True, False]))):
            row[f"{part}_ms_{name}"] = fastest(fn, repeats)
    return row


def fastest(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--campaign", default="params/quick.yaml")
    ap.add_argument("--dataset", default="fashion-mnist", help="the dataset whose classes set the networks' heads")
    ap.add_argument("--models", nargs="+", help="only these networks (default: all but the ImageNet fine-tunes)")
    ap.add_argument("--steps", type=int, default=15, help="timed steps of each path")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if not cpu_has_native_bf16():
        raise SystemExit("this CPU has no native bf16 (AMX or AVX512-BF16): precision auto is fp32 here")
    if args.threads:
        torch.set_num_threads(args.threads)
    seen, rows = set(), []
    for net in campaign_networks(load_campaign(args.campaign, dataset=args.dataset)).values():
        key = (net["model"], tuple(sorted(net["options"].items())), net["input_size"])
        # the fine-tunes' 224-px steps take tens of seconds each here, and offline they do not run at all
        if key in seen or (args.models and net["model"] not in args.models
                           or not args.models and net["pretrained"] == "hub"):
            continue
        seen.add(key)
        rows.append(network_row(net, args.steps))
        r = rows[-1]
        print(f"{r['model']} {r['options'] or ''} {r['input_size']}px: fp32 {r['median_step_ms']['fp32']:.0f} ms, "
              + ", ".join(f"{k} ×{v:.2f}" for k, v in r["ratio_to_fp32"].items()), flush=True)
    record = {"kind": "cpu_precision", **header(torch.device("cpu"), {}, campaign=args.campaign,
                                                   dataset=args.dataset, steps=args.steps, paths=PATHS),
              "rows": rows, "depthwise": [depthwise_row(*shape) for shape in DEPTHWISE]}
    records.atomic_write_json(args.out, record)
    print(f"record written to {args.out}")


if __name__ == "__main__":
    main()
