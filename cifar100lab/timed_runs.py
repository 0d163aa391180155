"""``python -m cifar100lab timed-runs FILE.yaml``: whole training runs, for accuracy and wall time together (e.g.
``benchmarks/fashion_check.yaml``: every speed switch against plain training on Fashion-MNIST). Each variant of
the file trains in this process in a fresh run folder; the record (kind ``runs``) keeps what each reached and how
long it took, and the book's Performance page renders it."""
from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from . import records

RUNS_KEYS = ("title", "description", "base", "variants")


def load_runs_file(path) -> dict:
    """A YAML of timed training runs: ``base`` (TrainConfig fields) and ``variants`` (``label`` + changes).
    Every run's config is validated before any of them starts."""
    from .config import resolve
    from .config_files import ConfigError, bilingual, read_yaml_mapping
    path = Path(path)
    d = read_yaml_mapping(path, RUNS_KEYS, "runs")
    for key in ("title", "description"):  # the Performance page looks each language up in them
        bilingual(d.get(key), f"{path}: {key}")
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


def _run_entry(label: str, rec: dict, run_dir: Path) -> dict:
    """What the record keeps of one trained variant: its outcome, accuracy and times."""
    epochs = records.read_metrics(run_dir)
    return {"label": label, "status": rec["status"], "reason": rec.get("reason"), "config": rec["config"],
            "dataset": rec.get("dataset"), "hardware": rec.get("hardware"), "final": rec.get("final"),
            "best": rec.get("best"), "ema": rec.get("ema"), "wall_seconds": rec["wall_seconds"],
            "images_per_second": rec.get("images_per_second"),
            "epoch_seconds": [r["epoch_seconds"] + r["eval_seconds"] for r in epochs]}


def refuse_graphed_variants_here(path, configs) -> None:
    """Each variant trains here, in one process: one that asks for a CUDA graph this machine cannot replay is
    refused before the first variant trains, not after the variants before it have."""
    from .config_files import ConfigError
    from .devices import visible_gpus
    from .step_graph import launch_conflict
    graphed = [label for label, plan in configs if plan.config.cuda_graph]
    if graphed and (why := launch_conflict(visible_gpus(), 1)):
        raise ConfigError(f"{path}, variant {graphed[0]!r}: {why}")


def run_timed_runs(path, data_root=None, progress=print) -> dict:
    """Train every variant of a runs file in this process (fresh run folders) and keep their records; a variant
    that fails once training has started is kept as failed, with its reason, and the next one trains."""
    from . import data as data_mod
    from .bench.timing import default_device, header
    from .train import train
    runs_file = load_runs_file(path)
    refuse_graphed_variants_here(path, runs_file["configs"])
    if data_root:
        data_mod.data_root(data_root)  # refused before the first variant trains
    out = []
    with tempfile.TemporaryDirectory(prefix="cifar100lab-timed-runs-") as tmp:
        for i, (label, plan) in enumerate(runs_file["configs"]):
            changes = {"run_dir": str(Path(tmp) / f"run{i}"), "run_id": label, "resume": False}
            if data_root:
                changes["data_root"] = data_root
            run_dir = Path(tmp) / f"run{i}"
            try:
                rec = train(dataclasses.replace(plan, config=dataclasses.replace(plan.config, **changes)))
            except Exception as e:  # one variant failing (diverged, a kernel the device lacks) keeps the others
                rec = records.load(run_dir)
                if rec is None or rec.get("status") != "failed":  # failed before its record: nothing to keep
                    raise
                progress(f"[{i + 1}/{len(runs_file['configs'])}] {label}: failed ({type(e).__name__}: {e})")
                out.append(_run_entry(label, rec, run_dir))
                continue
            out.append(_run_entry(label, rec, run_dir))
            progress(f"[{i + 1}/{len(runs_file['configs'])}] {label}: {rec['status']}, top-1 "
                     f"{(rec.get('final') or {}).get('top1', float('nan')):.2f} %, {rec['wall_seconds']:.0f} s")
    return {"kind": "runs", **header(default_device(), {}, title=runs_file["title"], description=runs_file["description"],
                                     file=str(path)), "runs": out}


def format_table(result: dict) -> str:
    import pandas as pd
    df = pd.DataFrame([{"label": r["label"], "status": r["status"], "top1": (r["final"] or {}).get("top1"),
                        "wall_seconds": r["wall_seconds"], "images_per_second": r["images_per_second"]}
                       for r in result["runs"]])
    data = dict.fromkeys((r.get("dataset") or {}).get("label") for r in result["runs"])
    return (f"device: {result['device']}; data: {', '.join(label for label in data if label) or '-'}\n"
            + df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="runs YAML: title, description, base (TrainConfig fields), variants (label + changes)")
    p.add_argument("--data-root", help="where the dataset lives (default: the config's)")
    p.add_argument("--out", help="write the result as a JSON record (e.g. benchmarks/records/cpu-fashion-check.json)")
    p.set_defaults(fn=main)


def main(a) -> int:
    """Bad input (the --out name, any variant's config) is a ConfigError before any variant trains."""
    from .config_files import ConfigError
    if a.out and Path(a.out).suffix != ".json":
        raise ConfigError(f"--out must name a .json file, got {a.out}")
    if a.out:  # the runs train in a temporary folder: a record that cannot be written would lose them all
        records.writable_output(a.out, "the record")
    result = run_timed_runs(a.file, a.data_root)
    print(format_table(result))
    if a.out:
        records.atomic_write_json(Path(a.out), result)
        print(f"record written to {a.out}")
    return 1 if any(r["status"] == "failed" for r in result["runs"]) else 0
