"""``python -m cifar100lab bench``: which measurement the flags ask for, run it, print its table, write its record.

The package's heavy modules are imported where they are used, so building the command line imports no torch."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from .. import records
from ..config_files import with_guesses
from ..flags import whole_number
from ..listing import Column, fixed, render, scaled


def _options(options: dict | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (options or {}).items()) or "-"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", nargs="+", help="models to time (default: resnet_20; with --campaign: all of it, and a "
                   "distilling network when its teacher's model is named too)")
    p.add_argument("--batch-size", type=int, default=128, help="training batch size (default: 128)")
    p.add_argument("--steps", type=int, default=20, help="timed training steps per round")
    p.add_argument("--warmup", type=whole_number(0), default=3, help="untimed steps at the start of each round")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds per path (median reported)")
    p.add_argument("--workers", type=whole_number(0), default=2, help="DataLoader workers of the original pipeline")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp16", "fp32"],
                   help="our path's precision (with --campaign: each run's own)")
    p.add_argument("--compile", action="store_true", help="also time the path with torch.compile")
    p.add_argument("--compile-mode", help="also time torch.compile in this mode (e.g. "
                   "reduce-overhead: CUDA graphs) beside the default one; implies --compile (with --campaign: every "
                   "network compiled in this mode)")
    p.add_argument("--cuda-graph", action="store_true", help="also time the whole step replayed as one CUDA graph "
                   "(cuda_graph: true; with --compile also compiled; with --campaign or --pack: every run so)")
    p.add_argument("--campaign", help="instead: time one epoch of every network in this campaign YAML and "
                                      "predict its duration on this device (--models limits the networks)")
    p.add_argument("--dataset", help="with --campaign: the dataset whose split sizes set the epoch")
    p.add_argument("--pack", type=int, nargs="+", metavar="K",
                   help="instead: aggregate training images/s of K runs of the first --models sharing one device "
                        "(e.g. --pack 1 2 4 8)")
    p.add_argument("--runs-per-gpu", type=int, help="with --campaign: runs side by side on each GPU in the 1- and "
                                                    "8-GPU prediction (default: the campaign's runs_per_gpu, else 1)")
    p.add_argument("--slowdown", type=float, default=1.0, help="with --campaign and --runs-per-gpu above 1: how "
                                                               "much slower a shared run is (from bench --pack)")
    # Training runs that record accuracy are the timed-runs command; the old flags say so instead of failing
    # with argparse's "unrecognized arguments".
    p.add_argument("--runs", help=argparse.SUPPRESS)
    p.add_argument("--data-root", help=argparse.SUPPRESS)
    p.add_argument("--device", help="torch device to time on (default: cuda when visible, else cpu)")
    p.add_argument("--out", help="write the result as a JSON record (e.g. benchmarks/records/cpu.json)")
    p.set_defaults(fn=main)


def device_error(device: str | None) -> str | None:
    """What is wrong with --device: the timings build on cpu or a CUDA device this machine has, or None."""
    if device is None or device == "cpu":
        return None
    if not re.fullmatch(r"cuda(:\d+)?", device):
        return f"--device must be cpu, cuda or cuda:N (N a GPU index), got {device}"
    from ..devices import visible_gpus
    gpus, index = visible_gpus(), int(device.partition(":")[2] or 0)
    if not gpus:
        return f"--device {device}: this machine has no CUDA device (NVML reports none); use --device cpu"
    if index >= gpus:
        return f"--device {device}: this machine has {gpus} CUDA device(s), cuda:0 to cuda:{gpus - 1}"
    return None


def input_error(a) -> str | None:
    """What is wrong with the command line, or None."""
    from ..models import model_names
    if a.runs or a.data_root:
        return ("bench measures speed only; training runs that record accuracy are their own command: "
                f"python -m cifar100lab timed-runs {a.runs or 'FILE.yaml'}"
                + (f" --data-root {a.data_root}" if a.data_root else ""))
    if problem := device_error(a.device):
        return problem
    from ..config import COMPILE_MODES
    if a.compile_mode is not None and a.compile_mode not in COMPILE_MODES[1:]:
        return f"--compile-mode must be one of {', '.join(COMPILE_MODES[1:])}, got {a.compile_mode}"
    if a.cuda_graph and not (a.device or "cuda").startswith("cuda"):
        return f"--cuda-graph replays CUDA graphs: it needs --device cuda, got --device {a.device}"
    if a.cuda_graph and not a.device:
        from ..devices import visible_gpus
        if not visible_gpus():
            return "--cuda-graph replays CUDA graphs, and this machine has no CUDA device (NVML reports none)"
    if a.out and Path(a.out).suffix != ".json":
        return f"--out must name a .json file, got {a.out}"
    for flag in ("steps", "repeats", "batch_size"):
        if getattr(a, flag) < 1:
            return f"--{flag.replace('_', '-')} must be at least 1, got {getattr(a, flag)}"
    unknown = sorted(set(a.models or []) - set(model_names()))
    if unknown:
        return f"unknown model(s) {with_guesses(unknown, model_names())}; valid: {', '.join(model_names())}"
    if a.campaign and a.pack:
        return "--campaign and --pack are separate measurements: give one"
    if any(k < 1 for k in a.pack or []):
        return f"--pack takes run counts of at least 1, got {' '.join(map(str, a.pack))}"
    if (a.runs_per_gpu or 1) < 1 or not (a.slowdown >= 1.0 and a.slowdown < float("inf")):
        return (f"--runs-per-gpu must be at least 1 and --slowdown a number of at least 1 (a shared run is not "
                f"faster than one alone), got {a.runs_per_gpu} and {a.slowdown}")
    return None


def measure(a) -> dict:
    """The measurement the flags ask for, as its record (a campaign's is written as it grows, so a time limit
    that stops it keeps the networks measured)."""
    if a.pack:
        from .packing import run_packing
        return run_packing(a.pack, (a.models or ["resnet_20"])[0], a.batch_size, a.steps, a.warmup, a.device,
                           cuda_graph=a.cuda_graph)
    if a.campaign:
        from .campaign_time import run_campaign_times
        return run_campaign_times(a.campaign, a.steps, a.warmup, a.compile, a.device, a.dataset, a.models,
                                  runs_per_gpu=a.runs_per_gpu, slowdown=a.slowdown, compile_mode=a.compile_mode,
                                  keep=(lambda r: records.atomic_write_json(Path(a.out), r)) if a.out else None,
                                  cuda_graph=a.cuda_graph)
    from .throughput import run_bench
    return run_bench(a.models or ["resnet_20"], a.batch_size, a.steps, a.warmup, a.workers, a.precision,
                     a.compile or bool(a.compile_mode), device=a.device, repeats=a.repeats, compile_mode=a.compile_mode,
                     cuda_graph=a.cuda_graph)


def main(a) -> int:
    """Bad input is a ConfigError (or DataError) before anything is measured; the command line prints it."""
    from ..config_files import ConfigError
    problem = input_error(a)
    if problem:
        raise ConfigError(problem)
    if a.out:  # checked before the timings, which its failing write would lose
        records.writable_output(a.out, "the record")
    result = measure(a)
    print(format_table(result))
    if a.out:
        records.atomic_write_json(Path(a.out), result)
        print(f"record written to {a.out}")
    return 1 if result.get("failed_networks") else 0


TIMING_COLUMNS = [Column("model", "model"), Column("path", "path"), Column("precision", "prec"),
                  Column("train_images_per_second", "train img/s", fixed(0), right=True),
                  Column("eval_images_per_second", "eval img/s", fixed(0), right=True),
                  Column("achieved_tflops", "TFLOP/s", fixed(2), right=True),
                  Column("fraction_of_peak", "% peak", scaled(0.01, 1), right=True),
                  Column("train_speedup", "train x", fixed(2), right=True),
                  Column("eval_speedup", "eval x", fixed(2), right=True),
                  Column("first_round_seconds", "warm s", fixed(1), right=True),
                  Column("compile_seconds", "compile s", fixed(1), right=True)]
def _teacher(teacher: dict | None) -> str:
    return f"{teacher['model']} {teacher['input_size']}px" if teacher else "-"


EPOCH_COLUMNS = [Column("model", "model"), Column("options", "options", _options), Column("teacher", "teacher", _teacher),
                 Column("input_size", "input", right=True), Column("batch_size", "batch", right=True),
                 Column("train_images_per_second", "train img/s", fixed(0), right=True),
                 Column("epoch_seconds", "epoch s", fixed(1), right=True),
                 Column("peak_memory_bytes", "GPU GiB", scaled(2**30, 1), right=True),
                 Column("run_epochs", "epochs", right=True), Column("predicted_seconds", "predicted h", scaled(3600, 2),
                                                                   right=True)]
PACKING_COLUMNS = [Column("runs", "runs", right=True),
                   Column("aggregate_images_per_second", "total img/s", fixed(0), right=True),
                   Column("aggregate_speedup", "speed-up", fixed(2), right=True),
                   Column("shared_run_slowdown", "slowdown per run", fixed(2), right=True)]


def format_table(result: dict) -> str:
    """The measurement as a table of at most 120 columns with plain numbers (the record keeps every field)."""
    if result["kind"] == "packing":
        return (f"device: {result['device']}  {result['model']} runs sharing it\n"
                + render(result["rows"], PACKING_COLUMNS))
    head = (f"device: {result['device']}  peaks (TFLOP/s): " +
            ", ".join(f"{k} {v:.3f}" for k, v in result["peaks_tflops"].items()))
    if result["kind"] != "epoch_times":
        return head + "\n" + render(result["rows"], TIMING_COLUMNS)
    columns = [c for c in EPOCH_COLUMNS  # memory is measured on a GPU only
               if c.key != "peak_memory_bytes" or any(n.get("peak_memory_bytes") for n in result["networks"])]
    return head + "\n" + render(result["networks"], columns) + "\n" + _prediction(result)


def _prediction(result: dict) -> str:
    """The campaign's predicted time, said to cover only the measured networks when --models chose some."""
    pred = result["prediction"]
    hours = (f"{result['predicted_campaign_seconds'] / 3600:.2f} h on one process; {pred['runs_per_gpu']} run(s) "
             f"per GPU: {pred['gpus_1_seconds'] / 3600:.2f} h on 1 GPU, {pred['gpus_8_seconds'] / 3600:.2f} h on 8")
    if result.get("complete", True):
        return f"predicted {result['campaign']} campaign: {hours}"
    runs = sum(len(n["runs"]) for n in result["networks"])
    if failed := result.get("failed_networks"):
        return (f"predicted for the {len(result['networks'])} network(s) measured, {runs} run(s) of campaign "
                f"{result['campaign']}; {len(failed)} failed, their {sum(len(n['runs']) for n in failed)} run(s) "
                f"left out: " + "; ".join(f"{n['model']} {n['input_size']}px ({n['error']})" for n in failed)
                + f"\n{hours}")
    if result.get("unfinished"):
        return (f"predicted for the {len(result['networks'])} network(s) measured before it stopped, {runs} run(s) of "
                f"campaign {result['campaign']} ({result['unfinished']} network(s) left unmeasured): {hours}")
    return (f"predicted for the {len(result['networks'])} measured network(s) only, {runs} run(s) of campaign "
            f"{result['campaign']} (--models left its other networks unmeasured): {hours}")
