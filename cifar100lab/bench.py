"""Speed measurements (not accuracy results), written as records that the book's Performance page renders.

``python -m cifar100lab bench`` — the original report's input pipeline against this project's path, same
process, same model, same synthetic data:

* original: per-image PIL transforms (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize)
  through a DataLoader with worker processes, fp32, contiguous (NCHW) memory;
* ours: the trainer's defaults — uint8 tensors resident on the device, batched crop/flip on the device,
  channels_last, bf16 autocast, large-batch evaluation;
* ours+compile (``--compile``): the same with ``torch.compile``; its one-off compile time is recorded apart.

The paths are timed in interleaved rounds (``--repeats``) and each reports its median, so a slow spell of a
shared machine does not land on one path only. Reports images/s, the speed-up over the original pipeline,
and achieved FLOP/s beside the device's measured matmul peak.

``python -m cifar100lab bench --campaign params/full.yaml`` — epoch time of every distinct network in a
campaign (model, options, input size, batch) on this device with one process, and the campaign's predicted
duration from them.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from . import data as data_mod
from . import records
from .accelerator import choose_precision, make_accelerator
from .config import ConfigError, read_yaml_mapping, resolve
from .devices import visible_gpus
from .models import count_flops, create_model, model_names
from .train import build_learner, new_model

AUTOCAST_DTYPE = {"bf16": torch.bfloat16, "fp16": torch.float16}  # choose_precision's values; others: fp32


def _device(name: str | None = None) -> torch.device:
    return torch.device(name or ("cuda" if visible_gpus() else "cpu"))


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
        cifar = data_mod.DATASETS["cifar100"]
        norm = T.Normalize(cifar.mean, cifar.std)
        aug = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if train else []
        self.transform = T.Compose([*aug, T.ToTensor(), norm])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def _timed(step_fn, batches, warmup: int, device) -> tuple[float, int, float]:
    """(seconds, images) for the batches after ``warmup`` ones, and the seconds the warmup batches took."""
    seen, t_start, t0 = 0, time.perf_counter(), None
    for i, (xb, yb) in enumerate(batches):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        step_fn(xb, yb)
        if i >= warmup:
            seen += len(yb)
    sync(device)
    if t0 is None:
        raise ValueError(f"nothing timed: {warmup} warm-up batches used every batch")
    return time.perf_counter() - t0, seen, t0 - t_start


class OriginalPath:
    """The original report's way of training; ``train_round``/``eval_round`` return ``_timed``'s triple."""

    def __init__(self, model_name, train, batch_size, warmup, workers, device):
        torch.manual_seed(0)
        self.model = create_model(model_name, num_classes=100).to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.train_set, self.test_set = PILDataset(*train, True), PILDataset(*train, False)
        self.batch_size, self.warmup, self.workers, self.device = batch_size, warmup, workers, device
        self.info = {"precision": "fp32", "channels_last": False, "compile": False,
                     "pipeline": f"PIL transforms + DataLoader({workers} workers)"}

    def train_round(self):
        model, opt, device = self.model.train(), self.opt, self.device
        loader = torch.utils.data.DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True,
                                             num_workers=self.workers, drop_last=True)

        def step(xb, yb):
            loss = F.cross_entropy(model(xb.to(device)), yb.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()

        return _timed(step, loader, self.warmup, device)

    def eval_round(self):
        model = self.model.eval()
        loader = torch.utils.data.DataLoader(self.test_set, batch_size=self.batch_size, num_workers=self.workers)
        with torch.no_grad():
            return _timed(lambda xb, yb: model(xb.to(self.device)), loader, 1, self.device)


class OursPath:
    """The trainer's own build-and-step for one run plan (network, input size, normalization, autocast,
    optimizer and schedule of its recipe, label smoothing, scaler), on synthetic batches."""

    def __init__(self, plan, train, test, warmup, device):
        cfg = plan.config
        accelerator = make_accelerator(cfg.precision, cpu=device.type == "cpu")
        torch.manual_seed(0)
        steps = len(train[1]) // cfg.batch_size
        # Weights do not change speed: a fine-tune is timed on a randomly initialised network of its size.
        self.network = build_learner(plan, accelerator, new_model(plan, 100, weights=False), steps)
        device = accelerator.device
        (self.x, self.y), (self.test_x, self.test_y) = ((a.to(device), b.to(device)) for a, b in (train, test))
        self.batch_size, self.eval_batch_size, self.warmup, self.device = cfg.batch_size, cfg.eval_batch_size, warmup, device
        self.epoch = 0
        self.info = {"precision": accelerator.mixed_precision, "channels_last": cfg.channels_last,
                     "compile": cfg.compile, "pipeline": "uint8 tensors on device + batched crop/flip",
                     "input_size": plan.input_size, "optimizer": type(self.network.optimizer.optimizer).__name__}

    def train_round(self):
        self.network.train_mode()
        self.epoch += 1
        batches = data_mod.train_batches(self.x, self.y, self.batch_size, self.epoch, 0)
        return _timed(self.network.step, batches, self.warmup, self.device)

    def eval_round(self):
        self.network.model.eval()
        n, b = len(self.test_y), self.eval_batch_size
        batches = ((self.test_x[i:i + b], self.test_y[i:i + b]) for i in range(0, n - b + 1, b))
        with torch.no_grad():
            return _timed(lambda xb, yb: self.network.logits(xb), batches, 1 if n >= 2 * b else 0, self.device)


def interleaved(paths: dict, repeats: int) -> dict[str, dict]:
    """Median images/s per path over ``repeats`` rounds that alternate between the paths; the first training
    round's warm-up (DataLoader start-up, compilation) is kept apart."""
    samples = {k: {"train": [], "eval": []} for k in paths}
    first = {}
    for kind in ("train", "eval"):
        for _ in range(repeats):
            for label, p in paths.items():
                secs, seen, warm = (p.train_round if kind == "train" else p.eval_round)()
                samples[label][kind].append(seen / secs)
                first.setdefault((label, kind), warm)
    return {label: {"train_images_per_second": statistics.median(s["train"]),
                    "eval_images_per_second": statistics.median(s["eval"]),
                    "train_samples": s["train"], "eval_samples": s["eval"],
                    "first_round_seconds": first[(label, "train")], **paths[label].info}
            for label, s in samples.items()}


def measured_peaks(device, precision: str) -> dict[str, float]:
    mp = choose_precision(precision, device.type == "cuda")
    dtype = AUTOCAST_DTYPE.get(mp, torch.float32)
    return {"fp32": matmul_peak(device, torch.float32), mp: matmul_peak(device, dtype)}


def _header(device, peaks, **extra) -> dict:
    return {"device": records.device_name(device), "device_type": device.type,
            "peaks_tflops": {k: v / 1e12 for k, v in peaks.items()}, **extra,
            "versions": records.versions(), "git_commit": records.git_commit(),
            "torch_threads": torch.get_num_threads(), "measured": records.now()}


def run_bench(models, batch_size=128, steps=20, warmup=3, workers=2, precision="auto", compile_model=False,
              eval_batch_size=1000, device=None, repeats=3) -> dict:
    device = _device(device)
    x, y = synthetic_images(max((steps + warmup) * batch_size, eval_batch_size * 2))
    train = x[:(steps + warmup) * batch_size], y[:(steps + warmup) * batch_size]  # a round = one pass over it
    peaks = measured_peaks(device, precision)
    rows = []
    for name in models:
        flops = count_flops(create_model(name, num_classes=100), 32)
        base = dict(model=name, pretrained="off", batch_size=batch_size, eval_batch_size=eval_batch_size,
                    precision=precision)
        paths = {"original": OriginalPath(name, train, batch_size, warmup, workers, device),
                 "ours": OursPath(resolve(base), train, (x, y), warmup, device)}
        if compile_model:
            paths["ours+compile"] = OursPath(resolve({**base, "compile": True}), train, (x, y), warmup, device)
        result = interleaved(paths, repeats)
        base = result["original"]
        for label, r in result.items():
            peak = peaks["fp32" if r["precision"] in ("no", "fp32") else r["precision"]]
            achieved = 3 * flops * r["train_images_per_second"]  # forward + backward ≈ 3 × forward
            row = {"model": name, "path": label, **r, "flops_per_image": flops, "achieved_tflops": achieved / 1e12,
                   "peak_tflops": peak / 1e12, "fraction_of_peak": achieved / peak}
            if label != "original":
                row["train_speedup"] = r["train_images_per_second"] / base["train_images_per_second"]
                row["eval_speedup"] = r["eval_images_per_second"] / base["eval_images_per_second"]
            rows.append(row)
    return {"kind": "bench", **_header(device, peaks, data="synthetic CIFAR-shaped uint8 images (throughput only)",
                                       batch_size=batch_size, steps=steps, warmup=warmup, workers=workers,
                                       repeats=repeats), "rows": rows}


def campaign_networks(campaign) -> dict[tuple, dict]:
    """Distinct networks of a campaign -> what one epoch of each costs to time (one process)."""
    nets = {}
    for run in campaign.runs:
        p, c = run.plan, run.config
        key = (c.model, tuple(sorted(c.options.items())), p.input_size, c.batch_size, c.eval_batch_size,
               c.precision, c.channels_last, c.compile, c.fused_optimizer, p.recipe)
        nets.setdefault(key, {"model": c.model, "options": dict(c.options), "pretrained": p.pretrained,
                              "input_size": p.input_size, "batch_size": c.batch_size,
                              "eval_batch_size": c.eval_batch_size, "runs": []})["runs"].append(run)
    return nets


def run_campaign_times(campaign_path, steps=10, warmup=2, compile_model=False, device=None, dataset=None, only=None,
                       progress=print, runs_per_gpu: int = 1, slowdown: float = 1.0) -> dict:
    """Per-network epoch times for a campaign on this device (one process) and its predicted duration.

    Each network is timed with the trainer's step as its runs are configured (precision, channels_last,
    compile, recipe; ``compile_model`` turns compilation on for all). Epoch time = training images / measured
    train images/s + test images / measured eval images/s; the campaign's time is the sum over its runs of
    epochs × epoch time (a lower bound: start-up, checkpoints and the first epoch's compilation are left out).
    ``prediction`` spreads the runs over 1 and 8 GPUs, ``runs_per_gpu`` side by side on each, each shared run
    ``slowdown`` times slower than alone (``bench --pack`` measures it).
    """
    import dataclasses

    from .campaign import load_campaign
    device = _device(device)
    camp = load_campaign(campaign_path, dataset=dataset)
    train_size, test_size = data_mod.dataset_spec(camp.dataset).sizes
    peaks = measured_peaks(device, "auto")
    networks, total = [], 0.0
    nets = campaign_networks(camp)
    for i, net in enumerate(nets.values()):
        if only and net["model"] not in only:
            continue
        b, eb = net["batch_size"], net["eval_batch_size"]
        x, y = synthetic_images(max((steps + warmup) * b, 2 * eb))
        plan = net["runs"][0].plan  # the run's own switches, recipe and optimizer: the epoch it will have
        if compile_model and not plan.config.compile:
            plan = dataclasses.replace(plan, config=dataclasses.replace(plan.config, compile=True))
        path = OursPath(plan, (x[:(steps + warmup) * b], y[:(steps + warmup) * b]), (x, y), warmup, device)
        rates = interleaved({"ours": path}, 1)["ours"]
        del path  # free the network before building the next
        c = plan.config
        n_train = min(c.train_subset or train_size, train_size) // b * b
        n_test = min(c.test_subset or test_size, test_size)
        epoch = n_train / rates["train_images_per_second"] + n_test / rates["eval_images_per_second"]
        epochs = sum(r.config.epochs for r in net["runs"])
        total += epochs * epoch
        networks.append({**{k: net[k] for k in ("model", "options", "pretrained", "input_size", "batch_size")},
                         **{k: rates[k] for k in ("train_images_per_second", "eval_images_per_second",
                                                  "first_round_seconds", "precision", "channels_last", "compile",
                                                  "optimizer")},
                         "train_images": n_train, "test_images": n_test, "epoch_seconds": epoch,
                         "runs": [r.run_id for r in net["runs"]], "run_epochs": epochs,
                         "epochs_per_run": [r.config.epochs for r in net["runs"]],
                         "predicted_seconds": epochs * epoch})
        progress(f"[{i + 1}/{len(nets)}] {net['model']} {net['options'] or ''} {net['input_size']}px: "
                 f"{rates['train_images_per_second']:.0f} train img/s, epoch {epoch:.1f} s")
    return {"kind": "epoch_times", **_header(device, peaks, campaign=camp.name, campaign_file=str(campaign_path),
                                             dataset=camp.dataset, train_images=train_size, test_images=test_size,
                                             processes=1, steps=steps, warmup=warmup, compile=compile_model,
                                             complete=not only),
            "networks": networks, "predicted_campaign_seconds": total,
            "prediction": campaign_prediction(networks, runs_per_gpu, slowdown)}


def predicted_wall(run_seconds: list[float], gpus: int, runs_per_gpu: int = 1, slowdown: float = 1.0) -> float:
    """Wall time of runs of these durations (each alone on a GPU) on ``gpus`` GPUs with ``runs_per_gpu`` side by
    side on each, every shared run ``slowdown`` times slower than alone: longest run first onto the slot that
    frees first (the campaign's queue hands the next run to the first free job)."""
    slots = [0.0] * (gpus * runs_per_gpu)
    for seconds in sorted(run_seconds, reverse=True):
        slots[slots.index(min(slots))] += seconds * (slowdown if runs_per_gpu > 1 else 1.0)
    return max(slots)


def campaign_prediction(networks: list[dict], runs_per_gpu: int = 1, slowdown: float = 1.0) -> dict:
    """The campaign's predicted wall time on 1 and on 8 GPUs with this packing (start-up and checkpoints left
    out, as in the epoch times)."""
    seconds = [net["epoch_seconds"] * epochs for net in networks for epochs in net["epochs_per_run"]]
    return {"runs_per_gpu": runs_per_gpu, "shared_run_slowdown": slowdown,
            "gpus_1_seconds": predicted_wall(seconds, 1, runs_per_gpu, slowdown),
            "gpus_8_seconds": predicted_wall(seconds, 8, runs_per_gpu, slowdown)}


def _pack_worker(model, batch_size, steps, warmup, device, threads, barrier, results) -> None:
    """One of k runs sharing a device (a spawned process: the parent never starts CUDA): a warm-up round, then
    a timed round that starts with the others'."""
    torch.set_num_threads(threads)
    plan = resolve(dict(model=model, pretrained="off", batch_size=batch_size, progress=False))
    x, y = synthetic_images((steps + warmup) * batch_size)
    path = OursPath(plan, (x, y), (x, y), warmup, torch.device(device))
    path.train_round()  # compilation, cuDNN autotuning, lazy optimizer state
    barrier.wait()
    secs, seen, _ = path.train_round()
    results.put(seen / secs)


def run_packing(ks=(1, 2, 4, 8), model="resnet_20", batch_size=128, steps=50, warmup=5, device=None) -> dict:
    """Aggregate training images/s of k runs sharing one device, for each k: small networks leave a large GPU
    idle, so several side by side may train more images per second in all."""
    import multiprocessing

    from .launch import thread_share
    device = _device(device)
    context = multiprocessing.get_context("spawn")
    rows = []
    for k in ks:
        barrier, results = context.Barrier(k), context.Queue()
        threads = thread_share(k) if device.type == "cpu" else 1
        workers = [context.Process(target=_pack_worker, args=(model, batch_size, steps, warmup, str(device),
                                                               threads, barrier, results)) for _ in range(k)]
        for w in workers:
            w.start()
        rates = [results.get(timeout=1800) for _ in workers]
        for w in workers:
            w.join()
        rows.append({"runs": k, "per_run_images_per_second": sorted(rates),
                     "aggregate_images_per_second": sum(rates)})
    for row in rows:
        row["aggregate_speedup"] = row["aggregate_images_per_second"] / rows[0]["aggregate_images_per_second"]
        row["shared_run_slowdown"] = row["runs"] / row["aggregate_speedup"]
    best = max(rows, key=lambda r: r["aggregate_images_per_second"])
    return {"kind": "packing", "device": records.device_name(device), "device_type": device.type, "model": model,
            "batch_size": batch_size, "steps": steps, "warmup": warmup, "peaks_tflops": {}, "rows": rows,
            "best_runs_per_gpu": best["runs"], "versions": records.versions(), "git_commit": records.git_commit(),
            "measured": records.now()}


RUNS_KEYS = ("title", "description", "base", "variants")


def load_runs_file(path) -> dict:
    """A YAML of timed training runs: ``base`` (TrainConfig fields) and ``variants`` (``label`` + changes).
    Every run's config is validated before any of them starts."""
    path = Path(path)
    d = read_yaml_mapping(path, RUNS_KEYS, "runs")
    variants = d.get("variants") or [{"label": "default"}]
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        raise ConfigError(f"{path}: variants must be a list of mappings, each with a 'label', got {variants!r}")
    labels = [v.get("label") for v in variants]
    if None in labels or len(set(labels)) != len(labels):
        raise ConfigError(f"{path}: every variant needs a distinct 'label', got {labels}")
    configs = []
    for v in variants:
        fields = {**(d.get("base") or {}), **{k: val for k, val in v.items() if k != "label"}, "progress": False}
        try:
            configs.append((v["label"], resolve(fields)))
        except ConfigError as e:
            raise ConfigError(f"{path}, variant {v['label']!r}: {e}") from None
    return {"title": d.get("title") or {"en": path.stem, "zh": path.stem},
            "description": d.get("description") or {}, "configs": configs}


def run_timed_runs(path, data_root=None, progress=print) -> dict:
    """Train every variant of a runs file in this process (fresh run folders) and keep their records."""
    import dataclasses
    import tempfile

    from .train import train
    spec = load_runs_file(path)
    out = []
    with tempfile.TemporaryDirectory(prefix="cifar100lab-bench-") as tmp:
        for i, (label, plan) in enumerate(spec["configs"]):
            changes = {"run_dir": str(Path(tmp) / f"run{i}"), "run_id": label, "resume": False}
            if data_root:
                changes["data_root"] = data_root
            rec = train(dataclasses.replace(plan, config=dataclasses.replace(plan.config, **changes)))
            epochs = records.read_metrics(Path(tmp) / f"run{i}")
            out.append({"label": label, "status": rec["status"], "reason": rec.get("reason"),
                        "config": rec["config"], "dataset": rec.get("dataset"), "hardware": rec.get("hardware"),
                        "final": rec.get("final"), "best": rec.get("best"), "ema": rec.get("ema"),
                        "wall_seconds": rec["wall_seconds"],
                        "images_per_second": rec.get("images_per_second"),
                        "epoch_seconds": [r["epoch_seconds"] + r["eval_seconds"] for r in epochs]})
            progress(f"[{i + 1}/{len(spec['configs'])}] {label}: {rec['status']}, top-1 "
                     f"{(rec.get('final') or {}).get('top1', float('nan')):.2f} %, {rec['wall_seconds']:.0f} s")
    device = _device()
    return {"kind": "runs", **_header(device, {}, title=spec["title"], description=spec["description"],
                                      file=str(path)), "runs": out}


def format_table(result: dict) -> str:
    import pandas as pd
    head = (f"device: {result['device']}  peaks (TFLOP/s): " +
            ", ".join(f"{k} {v:.3f}" for k, v in result["peaks_tflops"].items()))
    if result["kind"] == "packing":
        df = pd.DataFrame(result["rows"])[["runs", "aggregate_images_per_second", "aggregate_speedup",
                                           "shared_run_slowdown"]]
        return (f"device: {result['device']}  {result['model']} runs sharing it\n" +
                df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if result["kind"] == "runs":
        df = pd.DataFrame([{"label": r["label"], "status": r["status"], "top1": (r["final"] or {}).get("top1"),
                            "wall_seconds": r["wall_seconds"], "images_per_second": r["images_per_second"]}
                           for r in result["runs"]])
        return f"device: {result['device']}\n" + df.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    if result["kind"] == "epoch_times":
        df = pd.DataFrame(result["networks"])[["model", "options", "input_size", "batch_size",
                                               "train_images_per_second", "epoch_seconds", "run_epochs",
                                               "predicted_seconds"]]
        pred = result["prediction"]
        tail = (f"\npredicted {result['campaign']} campaign on one process: "
                f"{result['predicted_campaign_seconds'] / 3600:.2f} h; {pred['runs_per_gpu']} run(s) per GPU: "
                f"{pred['gpus_1_seconds'] / 3600:.2f} h on 1 GPU, {pred['gpus_8_seconds'] / 3600:.2f} h on 8")
    else:
        cols = ["model", "path", "precision", "train_images_per_second", "eval_images_per_second",
                "achieved_tflops", "fraction_of_peak", "train_speedup", "eval_speedup", "first_round_seconds"]
        df = pd.DataFrame(result["rows"])
        df, tail = df[[c for c in cols if c in df.columns]], ""
    return head + "\n" + df.to_string(index=False, float_format=lambda v: f"{v:.3g}") + tail


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", help="models to time (default: resnet_20; with --campaign: all of it)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="timed training steps per round")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps at the start of each round")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds per path (median reported)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the original pipeline")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp16", "fp32"],
                   help="our path's precision (with --campaign: each run's own)")
    p.add_argument("--compile", action="store_true", help="also time the path with torch.compile")
    p.add_argument("--campaign", help="instead: time one epoch of every network in this campaign YAML and "
                                      "predict its duration on this device (--models limits the networks)")
    p.add_argument("--dataset", help="with --campaign: the dataset whose split sizes set the epoch")
    p.add_argument("--pack", type=int, nargs="+", metavar="K",
                   help="instead: aggregate training images/s of K runs of the first --models sharing one device "
                        "(e.g. --pack 1 2 4 8)")
    p.add_argument("--runs-per-gpu", type=int, default=1, help="with --campaign: runs side by side on each GPU in "
                                                               "the 1- and 8-GPU prediction")
    p.add_argument("--slowdown", type=float, default=1.0, help="with --campaign and --runs-per-gpu above 1: how "
                                                               "much slower a shared run is (from bench --pack)")
    p.add_argument("--runs", help="instead: train the variants of this runs YAML (e.g. benchmarks/fashion_check.yaml) "
                                  "and record accuracy and wall time")
    p.add_argument("--data-root", help="with --runs: where the dataset lives (default: the config's)")
    p.add_argument("--device")
    p.add_argument("--out", help="write the result as a JSON record (e.g. benchmarks/records/cpu.json)")
    p.set_defaults(fn=main)


def input_error(a) -> str | None:
    """What is wrong with the command line, or None."""
    if a.out and Path(a.out).suffix != ".json":
        return f"--out must name a .json file, got {a.out}"
    for flag in ("steps", "repeats", "batch_size"):
        if getattr(a, flag) < 1:
            return f"--{flag.replace('_', '-')} must be at least 1, got {getattr(a, flag)}"
    unknown = sorted(set(a.models or []) - set(model_names()))
    if unknown:
        return f"unknown model(s) {', '.join(unknown)}; valid: {', '.join(model_names())}"
    if sum(bool(m) for m in (a.campaign, a.runs, a.pack)) > 1:
        return "--campaign, --runs and --pack are separate measurements: give one"
    if any(k < 1 for k in a.pack or []):
        return f"--pack takes run counts of at least 1, got {' '.join(map(str, a.pack))}"
    if a.runs_per_gpu < 1 or not (a.slowdown >= 1.0 and a.slowdown < float("inf")):
        return (f"--runs-per-gpu must be at least 1 and --slowdown a number of at least 1 (a shared run is not "
                f"faster than one alone), got {a.runs_per_gpu} and {a.slowdown}")
    return None


def main(a) -> int:
    from .data import DataError
    try:
        problem = input_error(a)
        if problem:
            raise ConfigError(problem)
        if a.runs:
            result = run_timed_runs(a.runs, a.data_root)
        elif a.pack:
            result = run_packing(a.pack, (a.models or ["resnet_20"])[0], a.batch_size, a.steps, a.warmup, a.device)
        elif a.campaign:
            result = run_campaign_times(a.campaign, a.steps, a.warmup, a.compile, a.device, a.dataset, a.models,
                                        runs_per_gpu=a.runs_per_gpu, slowdown=a.slowdown)
        else:
            result = run_bench(a.models or ["resnet_20"], a.batch_size, a.steps, a.warmup, a.workers, a.precision,
                               a.compile, device=a.device, repeats=a.repeats)
    except (ConfigError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(format_table(result))
    if a.out:
        records.atomic_write_json(Path(a.out), result)
        print(f"record written to {a.out}")
    return 0
