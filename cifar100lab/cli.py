"""Command line: ``python -m cifar100lab {campaign,train,book,models,synth,evaluate,robustness,export,bench,timed-runs,check}``.

A command refuses bad input by raising one of :func:`_user_errors`; :func:`main` turns it into one ``error:``
line and exit status 2 (:func:`_fail`), so no command prints its own."""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

import yaml


def interrupted(e: KeyboardInterrupt) -> int:
    """One line for Ctrl-C or a stop signal, and the shell's status for it (128 + the signal's number)."""
    signum = getattr(e, "signum", signal.SIGINT)  # kernels.Stopped carries the stop signal's number
    print(f"interrupted by {signal.Signals(signum).name}: stopped; a run in progress resumes from its last "
          f"checkpoint when the command runs again", file=sys.stderr)
    return 128 + signum


def _set_values(pairs: list[str]) -> dict:
    """``--set KEY=VALUE`` pairs, each VALUE read as YAML; a malformed one is a ConfigError naming it."""
    from .config import ConfigError, parse_yaml
    out = {}
    for pair in pairs or []:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE (e.g. --set epochs=10), got {pair!r}")
        if key.strip() in out:
            raise ConfigError(f"--set {key.strip()} is given twice; give each key once")
        out[key.strip()] = parse_yaml(value, f"--set {pair!r}")
    return out


def _fail(e: BaseException) -> int:
    """The one way a command refuses: one line on stderr, exit status 2."""
    print(f"error: {e}", file=sys.stderr)
    return 2


def add_executor_arguments(c) -> None:
    """The campaign command's executor flags."""
    from .config import EXECUTOR_FLAGS, EXECUTOR_KINDS
    c.add_argument("--executor", choices=EXECUTOR_KINDS,
                   help="where runs execute (default: the YAML's executor, else local)")
    c.add_argument("--status", action="store_true", help="report queued / running / complete / failed per run")
    c.add_argument("--retry-failed", action="store_true", help="Slurm: submit failed runs again")
    c.add_argument("--wait", action="store_true", help="Slurm: after submitting, wait until no job is alive")
    for name in EXECUTOR_FLAGS:
        c.add_argument(f"--{name.replace('_', '-')}", type=int if name == "time_min" else str,
                       help=f"Slurm {name.replace('_', ' ')} (default: the YAML's executor block)")


def executor_with_flags(executor, a):
    """The YAML's executor block with the command line's choices on top."""
    from .config import EXECUTOR_FLAGS
    changes = {k: getattr(a, k) for k in EXECUTOR_FLAGS if getattr(a, k, None) is not None}
    if getattr(a, "executor", None):
        changes["kind"] = a.executor
    return executor.with_changes(changes, "command line")


def cmd_campaign(a) -> int:
    from . import campaign as C
    from .config import ConfigError
    from .data import DataError, data_available, load_dataset
    from .kernels import resolve_jobs
    from .runs import describe
    try:
        camp = C.load_campaign(a.file, dataset=a.dataset, runs_root=a.runs_root, book_dir=a.book,
                               set_values=_set_values(a.set))
        if a.jobs is not None:
            resolve_jobs(a.jobs, "--jobs")
        executor = executor_with_flags(camp.executor, a)
        first = camp.runs[0].config
        # The data must be there (or obtainable) before any run starts; a dry run only looks, writing nothing.
        data_note = data_available(first.dataset, first.data_root, first.download) if a.dry_run else None
        if not a.dry_run and not a.status:
            load_dataset(first.dataset, first.data_root, first.download, first.train_subset, first.test_subset)
    except (ConfigError, DataError) as e:
        return _fail(e)
    if a.dry_run:
        print(f"data: {data_note}")
        for r in camp.runs:
            print(r.run_id, describe(r))
        return 0
    if a.status or executor.kind == "slurm":
        return _campaign_on_slurm(camp, executor, a)
    return _campaign_here(camp, a)


def _campaign_on_slurm(camp, executor, a) -> int:
    """Submit to Slurm and/or report, then (after --wait) analyse here."""
    from .executors import local, slurm
    from .runs import NOTEBOOKS
    try:
        code = slurm.main(camp, executor, a, NOTEBOOKS / "train.ipynb")
    except (slurm.SlurmError, *_user_errors()) as e:  # e.g. a damaged slurm.json, an unwritable runs root
        return _fail(e)
    if a.wait and not a.no_analysis:
        local.analyse(camp, a.runs_root, a.book)
    return code


def _campaign_here(camp, a) -> int:
    """The local executor, a summary of what it did, then the analysis."""
    from .executors import local
    try:
        summary = local.execute(camp, a.runs_root, force=a.force, retry_skipped=a.retry_skipped, jobs=a.jobs)
    except local.CannotStart as e:
        return _fail(e)
    print(f"complete {len(summary['complete'])}, already done {len(summary['already'])}, "
          f"skipped {len(summary['skipped'])}, failed {len(summary['failed'])}"
          + "".join(f", {k} {len(summary[k])}" for k in ("stale", "locked", "damaged") if summary[k]))
    for rid in summary["failed"]:
        print(f"  failed: {rid} (log: {Path(a.runs_root) / camp.name / 'logs' / (rid + '.log')})")
    for rid in summary["stale"]:
        print(f"  stale: {rid} (complete with another config; --force re-runs it)")
    for rid in summary["damaged"]:
        print(f"  damaged: {rid} (its record.json cannot be read; --force moves the folder aside and re-runs it)")
    for rid in summary["locked"]:
        print(f"  locked: {rid} (another campaign process is running it; run again when it ends)")
    if not a.no_analysis:
        local.analyse(camp, a.runs_root, a.book)
    # 1: a run failed; 3: nothing failed, but not every run is up to date (stale, or held by another process)
    return 1 if summary["failed"] or summary["damaged"] else 3 if summary["stale"] or summary["locked"] else 0


def cmd_book(a) -> int:
    from jupyter_book.cli.main import find_config_path
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", a.book, "-W", "-n", "--keep-going"]
    if subprocess.run(cmd).returncode:
        return 1
    # Jupyter Book builds next to the _config.yml it finds (the repository root here).
    print(f"HTML: {(find_config_path(Path(a.book).resolve())[0] / '_build' / 'html' / 'index.html')}")
    return 0


def cmd_models(a) -> int:
    from .report.models_page import models_table
    print(models_table().to_string(index=False))
    return 0


def cmd_synth(a) -> int:
    from .data import write_synthetic_cifar100
    folder = write_synthetic_cifar100(a.root, a.train_size, a.test_size, a.num_classes, a.seed)
    print(f"synthetic CIFAR-100-layout data written to {folder}")
    return 0


def cmd_evaluate(a) -> int:
    from .evaluation import evaluate_checkpoint
    m = evaluate_checkpoint(a.checkpoint, a.out, a.data_root, a.batch_size)
    print(f"{m['model']} epoch {m['epoch']}: top-1 {m['top1']:.2f} top-5 {m['top5']:.2f} on {m['evaluated']} images")
    return 0


def cmd_robustness(a) -> int:
    from .robustness.analyse import analyse_campaign
    summary = analyse_campaign(a.folder, a.data_root, a.force)
    print(", ".join(f"{status} {len(rids)}" for status, rids in summary.items()) or "no model runs")
    return 1 if summary.get("failed") else 0


def _user_errors():
    """The errors that are the user's to fix (bad config, data, checkpoint, path): one line, not a traceback."""
    from .config import ConfigError
    from .data import DataError
    from .export import ExportError
    from .records import RecordError
    return ConfigError, DataError, RecordError, ExportError, OSError, yaml.YAMLError


def cmd_train(a) -> int:
    """One run on this process (and its peers when started by `accelerate launch`, e.g. on several nodes)."""
    from .config import read_yaml_mapping, resolve
    from .data import data_available
    from .train import train
    cfg = read_yaml_mapping(a.config, None, "training config") if a.config else {}
    plan = resolve({**cfg, **_set_values(a.set)})
    # refused here, before the trainer makes the run folder, if the data cannot be had
    data_available(plan.config.dataset, plan.config.data_root, plan.config.download)
    record = train(plan)
    print(f"{record['run_id']}: {record['status']}" + (f" top-1 {record['final']['top1']:.2f}" if record.get("final") else ""))
    return 0 if record["status"] != "failed" else 1


def cmd_export(a) -> int:
    from .export import export_run, load_message
    out = export_run(a.source, a.out)
    print(load_message(out))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="cifar100lab", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("campaign", help="run a campaign YAML with papermill, then its analysis")
    c.add_argument("file")
    c.add_argument("--dataset", help="cifar100 | fashion-mnist | synthetic (default: $CIFAR100LAB_DATASET or the YAML's)")
    c.add_argument("--runs-root", default="runs")
    c.add_argument("--book", default="book")
    c.add_argument("--force", action="store_true", help="re-run complete runs, stale ones too (old run folders are moved aside)")
    c.add_argument("--retry-skipped", action="store_true", help="retry runs skipped for missing pretrained weights")
    c.add_argument("--jobs", type=lambda v: int(v) if v.lstrip("-").isdigit() else v,
                   help="runs side by side, each on its own GPU subset or CPU-thread share; 'auto': 1 with "
                        "GPUs, 2 on a CPU-only machine (default: the campaign's)")
    c.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a training field for every run")
    c.add_argument("--dry-run", action="store_true", help="validate and list the runs (new, done, stale or locked), run nothing")
    c.add_argument("--no-analysis", action="store_true")
    add_executor_arguments(c)
    c.set_defaults(fn=cmd_campaign)
    b = sub.add_parser("book", help="build the Jupyter Book (warnings are errors)")
    b.add_argument("--book", default="book")
    b.set_defaults(fn=cmd_book)
    m = sub.add_parser("models", help="list the registered models")
    m.set_defaults(fn=cmd_models)
    s = sub.add_parser("synth", help="write a synthetic dataset in the CIFAR-100 layout")
    s.add_argument("--root", default="data/synthetic")
    s.add_argument("--train-size", type=int, default=5000)
    s.add_argument("--test-size", type=int, default=1000)
    s.add_argument("--num-classes", type=int, default=100)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_synth)
    e = sub.add_parser("evaluate", help="evaluate a checkpoint on the test set")
    e.add_argument("checkpoint")
    e.add_argument("--out")
    e.add_argument("--data-root")
    e.add_argument("--batch-size", type=int, default=1000)
    e.set_defaults(fn=cmd_evaluate)
    r = sub.add_parser("robustness", help="corruption robustness, calibration and per-class errors of a "
                                          "campaign's model runs (robustness.json beside each record.json)")
    r.add_argument("folder", help="the campaign's runs folder, e.g. runs/quick")
    r.add_argument("--data-root")
    r.add_argument("--force", action="store_true", help="analyse again even when up to date")
    r.set_defaults(fn=cmd_robustness)
    t = sub.add_parser("train", help="train one run from a YAML of TrainConfig fields (works under accelerate launch)")
    t.add_argument("config", nargs="?")
    t.add_argument("--set", action="append", metavar="KEY=VALUE")
    t.set_defaults(fn=cmd_train)
    x = sub.add_parser("export", help="write a run's weights as model.safetensors + config.json in timm's Hub layout")
    x.add_argument("source", help="run folder, checkpoint.pt or an exported folder")
    x.add_argument("--out", help="folder to write (default: <run>/export)")
    x.set_defaults(fn=cmd_export)
    from . import checks, timed_runs
    from .bench import command as bench
    bench.add_arguments(sub.add_parser("bench", help="speed only: training/eval throughput of the original "
                                                     "pipeline vs ours; campaign epoch times; runs sharing a device"))
    timed_runs.add_arguments(sub.add_parser("timed-runs", help="train the variants of a runs YAML (e.g. "
                                                               "benchmarks/fashion_check.yaml): accuracy and wall time"))
    checks.add_arguments(sub.add_parser("check", help="GPU acceptance checks: fork after kernel preparation; "
                                                      "killed-and-resumed run equals an uninterrupted one"))
    a = p.parse_args(argv)
    from .kernels import stop_signals
    try:
        with stop_signals():
            return a.fn(a)
    except KeyboardInterrupt as e:
        return interrupted(e)
    except _user_errors() as e:
        return _fail(e)
