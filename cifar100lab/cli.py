"""The command line, ``python -m cifar100lab COMMAND`` (:func:`build_parser` lists the commands).

A command refuses bad input by raising one of :func:`_user_errors`; :func:`main` turns it into one ``error:``
line and exit status 2 (:func:`_fail`), so no command prints its own."""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml


def interrupted(e: KeyboardInterrupt) -> int:
    """One line for Ctrl-C or a stop signal, and the shell's status for it (128 + the signal's number)."""
    signum = getattr(e, "signum", signal.SIGINT)  # stopping.Stopped carries the stop signal's number
    print(f"interrupted by {signal.Signals(signum).name}: stopped; a run in progress resumes from its last "
          f"checkpoint when the command runs again (or starts over, if it had saved none)", file=sys.stderr)
    return 128 + signum


def _stop_signals():
    from .stopping import stop_signals
    return stop_signals()


def _fail(e: BaseException) -> int:
    """The one way a command refuses: one line on stderr, exit status 2."""
    print(f"error: {e}", file=sys.stderr)
    return 2


def add_executor_arguments(c) -> None:
    """The campaign command's executor flags."""
    from .executor_choices import EXECUTOR_FLAGS, EXECUTOR_KINDS
    c.add_argument("--executor", choices=EXECUTOR_KINDS,
                   help="where runs execute (default: the YAML's executor, else local)")
    c.add_argument("--status", action="store_true", help="report queued / running / complete / failed per run")
    c.add_argument("--retry-failed", action="store_true", help="Slurm: submit failed runs again")
    c.add_argument("--wait", action="store_true", help="Slurm: after submitting, wait until no job is alive")
    for name in EXECUTOR_FLAGS:
        c.add_argument(f"--{name.replace('_', '-')}", type=int if name == "time_min" else str,
                       help=f"Slurm {name.replace('_', ' ')} (default: the YAML's executor block)")


def executor_with_flags(executor, a):
    """The YAML's executor block with the command line's choices on top; Slurm's flags with the local executor
    are refused."""
    from .config_files import ConfigError
    from .executor_choices import EXECUTOR_FLAGS
    changes = {k: getattr(a, k) for k in EXECUTOR_FLAGS if getattr(a, k, None) is not None}
    if getattr(a, "executor", None):
        changes["kind"] = a.executor
    executor = executor.with_changes(changes, "command line")
    slurm_only = [f"--{k.replace('_', '-')}" for k in (*changes, "retry_failed", "wait") if k != "kind"
                  and getattr(a, k, None) and not (k == "wait" and getattr(a, "status", False))]
    if executor.kind == "local" and slurm_only:  # else ignored, and every run would train here
        raise ConfigError(f"{', '.join(slurm_only)}: Slurm only, and this campaign runs on this machine (its "
                          f"executor is local); add --executor slurm, or set executor: {{kind: slurm}} in the YAML")
    return executor


def refuse_what_status_ignores(a) -> None:
    """``--status`` only reports: a flag that acts on the runs (re-run, retry, side by side, Slurm's resources)
    would do nothing with it, and was dropped unsaid. ``--dry-run`` takes them all: it says what the same command
    without it does (``--force`` included)."""
    from .config_files import ConfigError
    from .executor_choices import EXECUTOR_FLAGS
    if not a.status:
        return
    if a.dry_run:
        raise ConfigError("give --status (each run's state, and its Slurm job) or --dry-run (what the campaign "
                          "would do), not both")
    given = {k: getattr(a, k, None) for k in ("force", "retry_skipped", "retry_failed", "jobs", "runs_per_gpu",
                                              *EXECUTOR_FLAGS)}
    ignored = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None and v is not False]  # --jobs 0
    if ignored:
        raise ConfigError(f"{', '.join(ignored)}: nothing to do with --status, which only reports each run's state; "
                          f"drop {'them' if len(ignored) > 1 else 'it'}, or drop --status to run the campaign "
                          f"(with --dry-run first to see what it would do)")


def check_folder(path, flag: str, what: str) -> None:
    """A folder flag that names a file, or a path under one, is refused before any work: the campaign would
    otherwise fail writing into it (README.md/generated: not a directory) only after every run."""
    from .config_files import ConfigError, file_in_the_way
    if there := file_in_the_way(path):
        raise ConfigError(f"{flag} {path}: {there} is not a folder; give {what}")


BOOK_FOLDER = ("a book folder is a Jupyter Book's source folder, the one that holds _toc.yml; give one "
               "(default: book)")


def check_book(a) -> None:
    """A command's ``--book`` that is no book folder (a typo, a file, a folder without _toc.yml) is refused
    before any work: the campaign and the robustness analysis would write their pages into it, and only
    ``book``, run after them, would find that it is no book."""
    from .config_files import ConfigError
    if getattr(a, "book", None) is None or getattr(a, "no_book", False):
        return
    if a.book == "book" and a.cmd != "book":  # the default: a campaign run outside a project (a wheel install)
        return check_folder(a.book, "--book", "the book folder pages are written into (default: book)")  # makes it
    book = Path(a.book)
    if not (book / "_toc.yml").is_file():  # what jupyter-book builds from; without it, it prints its usage text
        why = "it does not exist" if not book.exists() else "it is a file" if not book.is_dir() else "it holds no _toc.yml"
        raise ConfigError(f"--book {a.book} is not a book folder ({why}): {BOOK_FOLDER}")


def cmd_campaign(a) -> int:
    from . import campaign as C
    from .config_files import ConfigError
    from .data import DataError, data_available, load_dataset
    from .executors.slurm import SlurmError, check_ready
    from .kernels import check_runs_per_gpu, resolve_jobs
    from .model_catalog import stale_note
    from .records import RecordError
    from .runs import describe
    from .settings import parse_set
    try:
        refuse_what_status_ignores(a)
        check_folder(a.runs_root, "--runs-root", "the folder that holds <campaign>/<run> folders (default: runs)")
        camp = C.load_campaign(a.file, dataset=a.dataset, runs_root=a.runs_root, book_dir=a.book,
                               set_values=parse_set(a.set))
        if a.jobs is not None:
            resolve_jobs(a.jobs, "--jobs")
        check_runs_per_gpu(a.runs_per_gpu, "--runs-per-gpu")
        executor = executor_with_flags(camp.executor, a)
        if executor.kind == "slurm" and (a.runs_per_gpu or camp.runs_per_gpu):
            raise ConfigError("runs_per_gpu shares this machine's GPUs among the local executor's runs; on Slurm "
                              "each run is a job with GPUs of its own (executor: gpus_per_node)")
        from .executors.local import refuse_both_flags, run_processes, side_by_side
        refuse_both_flags(a.jobs, a.runs_per_gpu)
        if executor.kind == "local" and not a.status and not a.dry_run:  # a dry run checks the file, not this machine
            # GPUs to share and each run's processes: checked before any run, and before the data is written
            run_processes(camp, *side_by_side(camp, a.jobs, a.runs_per_gpu))
        if executor.kind == "slurm" and not a.status and not a.dry_run:
            check_ready(camp, a.runs_root)  # before the data, the manifest or a job's file is written
        first = camp.runs[0].config
        # The data must be there (or obtainable) before any run starts; a dry run only looks, writing nothing.
        data_note = data_available(first.dataset, first.data_root, first.download) if a.dry_run else None
        if not a.dry_run and not a.status:
            load_dataset(first.dataset, first.data_root, first.download, first.train_subset, first.test_subset)
    except (ConfigError, DataError, RecordError, SlurmError) as e:
        return _fail(e)
    for note in C.skipped_variants(camp):  # a study variant whose teacher is not trained yet
        print(note)
    if stale := stale_note():  # a model file added or changed: its counts are not cached yet
        print(stale, file=sys.stderr)
    if a.dry_run:
        print(f"data: {data_note}")
        for r in camp.runs:
            print(r.run_id, describe(r, a.force, a.retry_skipped))
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
    from . import records
    from .executors import local
    from .run_listing import skipped_lines
    from .runs import stale_fields, stale_groups, stale_note
    try:
        summary = local.execute(camp, a.runs_root, force=a.force, retry_skipped=a.retry_skipped, jobs=a.jobs,
                                runs_per_gpu=a.runs_per_gpu)
    except local.CannotStart as e:
        return _fail(e)
    print(f"complete {len(summary['complete'])}, already done {len(summary['already'])}, "
          f"skipped {len(summary['skipped'])}, failed {len(summary['failed'])}"
          + "".join(f", {k} {len(summary[k])}" for k in ("stale", "locked", "damaged", "unresumable")
                  if summary.get(k)) + (f", left to Slurm {len(summary['slurm'])}" if summary.get("slurm") else ""))
    for rid in summary["failed"]:
        print(f"  failed: {rid} (log: {Path(a.runs_root) / camp.name / 'logs' / (rid + '.log')})")
    for line in skipped_lines([(rid, (records.load(Path(a.runs_root) / camp.name / rid) or {}).get("reason"))
                               for rid in summary["skipped"]], ""):
        print(line)
    stale = {r.run_id: stale_fields(r) for r in camp.runs if r.run_id in summary["stale"]}
    for changed, run_ids in stale_groups(stale).items():
        print(f"  stale: {stale_note(changed, run_ids)}")
    for rid in summary["damaged"]:
        print(f"  damaged: {rid} (its record.json cannot be read; --force moves the folder aside and re-runs it)")
    for rid in summary["locked"]:
        print(f"  locked: {rid} (another campaign process is running it; run again when it ends)")
    for rid in summary.get("unresumable", []):
        print(f"  not resumed: {rid} (its checkpoint has other settings than the campaign asks; see above)")
    if not a.no_analysis:
        local.analyse(camp, a.runs_root, a.book)
    # 1: a run failed; 3: nothing failed, but not every run is up to date (stale, held by another process or job)
    up_to_date = not (summary["stale"] or summary["locked"] or summary.get("unresumable") or summary.get("slurm"))
    return 1 if summary["failed"] or summary["damaged"] else 0 if up_to_date else 3


def cmd_book(a) -> int:
    from jupyter_book.cli.main import find_config_path
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", a.book, "-W", "-n", "--keep-going"]
    if subprocess.run(cmd).returncode:
        return 1
    # Jupyter Book builds next to the _config.yml it finds (the repository root here).
    print(f"HTML: {(find_config_path(Path(a.book).resolve())[0] / '_build' / 'html' / 'index.html')}")
    return 0


def cmd_models(a) -> int:
    from .model_catalog import models_listing, stale_note
    # The models import no recipes, so a recipe a model file mistypes is looked for wherever they are counted: a
    # cache that holds was counted from these model files, and --update-cache writes none while one names no recipe.
    if a.measure or a.update_cache or stale_note():
        from .config import registration_problems
        from .config_files import ConfigError
        if (problems := registration_problems()) and a.update_cache:
            raise ConfigError(f"{'; '.join(problems)}; fix it, then count again (the cache is left as it was)")
        for problem in problems:
            print(f"models: {problem}; a run of it with its own recipe is refused until it names one", file=sys.stderr)
    print(models_listing(a.format, measure=a.measure, update_cache=a.update_cache))
    return 0


def cmd_runs(a) -> int:
    from .run_listing import runs_listing
    print(runs_listing(a.runs_root, a.campaign, a.format))
    return 0


def cmd_synth(a) -> int:
    from .data import write_synthetic_cifar100
    folder = write_synthetic_cifar100(a.root, a.train_size, a.test_size, a.num_classes, a.seed)
    print(f"synthetic CIFAR-100-layout data written to {folder}")
    return 0


def cmd_evaluate(a) -> int:
    from .evaluation import evaluate_checkpoint
    m = evaluate_checkpoint(a.checkpoint, a.out, a.data_root, a.batch_size)
    ema = f"; EMA weights: top-1 {m['ema']['top1']:.2f} top-5 {m['ema']['top5']:.2f}" if m.get("ema") else ""
    print(f"{m['model']} epoch {m['epoch']}: top-1 {m['top1']:.2f} top-5 {m['top5']:.2f} on {m['evaluated']} test "
          f"images of {m['dataset']['label']}{ema}")
    if m.get("tuning_trial"):  # a trial's test score is not its study's result
        print(f"note: {m['tuning_trial']['note']}")
    return 0


def cmd_robustness(a) -> int:
    from .robustness.analyse import analyse_campaign
    summary = analyse_campaign(a.folder, a.data_root, a.force)
    print(", ".join(f"{status} {len(rids)}" for status, rids in summary.items()) or "no model runs")
    if not a.no_book:  # the chapter from these results, which `book` builds (it never reads the runs itself)
        from .report.robustness import write_robustness_page
        folder = Path(a.folder).resolve()
        write_robustness_page(folder.name, folder.parent, Path(a.book) / "generated")
        print(f"robustness chapter written to {Path(a.book) / 'generated'}; `python -m cifar100lab book` builds it")
    return 1 if summary.get("failed") else 0


def _user_errors():
    """The errors that are the user's to fix (bad config, data, checkpoint, path): one line, not a traceback."""
    from .config_files import ConfigError
    from .data import DataError
    from .export import ExportError
    from .records import RecordError
    return ConfigError, DataError, RecordError, ExportError, OSError, yaml.YAMLError


TRAIN_EXIT = ("exit status: 0 trained (or already complete), 1 failed, 2 bad input (nothing started), 3 skipped: "
              "nothing trained (a fine-tune whose pretrained weights cannot be had here; the record says why), 130 on "
              "Ctrl-C (128 + N on signal N; it resumes from its last checkpoint)")


def cmd_train(a) -> int:
    """One run on this process (and its peers when started by `accelerate launch`, e.g. on several nodes)."""
    from .config import resolve
    from .config_files import read_yaml_mapping
    from .data import data_available
    from .runs import TRAIN_SKIPPED
    from .settings import apply_set, parse_set
    from .train import train
    cfg = read_yaml_mapping(a.config, None, "training config") if a.config else {}
    plan = resolve(apply_set(cfg, parse_set(a.set)))
    # refused here, before the trainer makes the run folder, if the data cannot be had
    data_available(plan.config.dataset, plan.config.data_root, plan.config.download)
    record = train(plan)
    if record["status"] == "skipped":  # not a success: nothing trained (the trainer printed why, above)
        print(f"{record['run_id']}: skipped, nothing trained (exit status {TRAIN_SKIPPED})")
        return TRAIN_SKIPPED
    print(f"{record['run_id']}: {record['status']}" + (f" top-1 {record['final']['top1']:.2f}" if record.get("final") else ""))
    return 0 if record["status"] != "failed" else 1


def cmd_export(a) -> int:
    from .export import export_run, load_message
    out = export_run(a.source, a.out)
    print(load_message(out))
    return 0


DESCRIPTION = """CIFAR-100 benchmark: train registered models with one Accelerate trainer, run campaigns of runs
from YAML through papermill, list models and runs, and build the bilingual Jupyter Book report from run records.
Each command's --help lists its options; bad input is one 'error:' line and exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(prog="cifar100lab", description=DESCRIPTION)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    _add_campaign(sub)
    b = sub.add_parser("book", help="build the Jupyter Book (warnings are errors)")
    b.add_argument("--book", default="book", help="the book's source folder (default: book)")
    b.set_defaults(fn=cmd_book)
    m = sub.add_parser("models", help="list the registered models with their parameter counts and FLOPs")
    _add_format(m)
    m.add_argument("--measure", action="store_true", help="count every registered model now instead of reading "
                                                          "the cached counts")
    m.add_argument("--update-cache", action="store_true",
                   help="count every registered model now and write the counts the listing and the book's Models "
                        "page read (cifar100lab/reference/models.json) after adding or changing a model")
    m.set_defaults(fn=cmd_models, reads_only=True)
    r = sub.add_parser("runs", help="list runs: status, epochs done/total, top-1 with its interval, time, short id")
    r.add_argument("--runs-root", default="runs", help="folder to look for runs in (default: runs)")
    r.add_argument("--campaign", help="only this campaign's runs (default: every run, by hand or by campaign)")
    _add_format(r)
    r.set_defaults(fn=cmd_runs, reads_only=True)
    _add_synth(sub)
    e = sub.add_parser("evaluate", help="evaluate a checkpoint on the test set")
    e.add_argument("checkpoint", help="a run's checkpoint.pt, or its run folder")
    e.add_argument("--out", help="write the metrics here as JSON (default: evaluation.json beside the checkpoint)")
    e.add_argument("--data-root", help="where the dataset lives (default: the checkpoint's config's); data other "
                   "than the run's record names by its checksum is refused")
    e.add_argument("--batch-size", type=int, default=None,
                   help="evaluation batch size (default: 1000 on a GPU, 128 on a CPU)")
    e.set_defaults(fn=cmd_evaluate)
    rb = sub.add_parser("robustness", help="corruption robustness, calibration, per-class errors and Grad-CAM of "
                                           "a campaign's model runs (robustness.json beside each record.json)")
    rb.add_argument("folder", help="the campaign's runs folder, e.g. runs/quick")
    rb.add_argument("--data-root", help="where the dataset lives (default: each run's config's)")
    rb.add_argument("--force", action="store_true", help="analyse again even when up to date")
    rb.add_argument("--book", default="book", help="the book folder the Robustness chapter is written into "
                                                   "(default: book)")
    rb.add_argument("--no-book", action="store_true", help="write robustness.json files only, not the chapter "
                                                           "(a campaign's step: its analysis writes the chapter)")
    rb.set_defaults(fn=cmd_robustness)
    t = sub.add_parser("train", help="train one run from a YAML of TrainConfig fields (works under accelerate launch)",
                       epilog=TRAIN_EXIT)
    t.add_argument("config", nargs="?", help="YAML of TrainConfig fields (default: every field's default)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="change a field, VALUE read as YAML; a dotted key changes one recipe field or model "
                        "option (--set overrides.lr=0.05, --set options.k_size=5); repeatable")
    t.set_defaults(fn=cmd_train)
    x = sub.add_parser("export", help="write a run's weights as model.safetensors + config.json in timm's Hub layout")
    x.add_argument("source", help="run folder, checkpoint.pt or an exported folder")
    x.add_argument("--out", help="folder to write (default: <run>/export)")
    x.set_defaults(fn=cmd_export)
    from . import checks, timed_runs
    from .bench import command as bench
    from .tune import command as tune
    tune.add_arguments(sub.add_parser("tune", help="hyperparameter search with Optuna: a study's trials are runs; "
                                                   "--finish re-runs the best on the test set"))
    bench.add_arguments(sub.add_parser("bench", help="speed only: training/eval throughput of the original "
                                                     "pipeline vs ours; campaign epoch times; runs sharing a device"))
    timed_runs.add_arguments(sub.add_parser("timed-runs", help="train the variants of a runs YAML (e.g. "
                                                               "benchmarks/fashion_check.yaml): accuracy and wall time"))
    checks.add_arguments(sub.add_parser("check", help="GPU acceptance checks: fork after kernel preparation; "
                                                      "killed-and-resumed run equals an uninterrupted one"))
    return p


def _add_campaign(sub) -> None:
    c = sub.add_parser("campaign", help="run a campaign YAML with papermill, then its analysis")
    c.add_argument("file", help="the campaign YAML (e.g. params/quick.yaml)")
    from .data import DATASETS  # the registry's facts load without torch
    c.add_argument("--dataset", help=f"a registered dataset ({', '.join(DATASETS)}, a plugin's) "
                   "or imagefolder:/path (default: $CIFAR100LAB_DATASET or the YAML's)")
    c.add_argument("--runs-root", default="runs", help="folder holding <campaign>/<run> folders (default: runs)")
    c.add_argument("--book", default="book", help="the book folder the analysis writes pages into (default: book)")
    c.add_argument("--force", action="store_true",
                   help="start every run afresh: complete, stale and interrupted ones alike (their folders are moved "
                        "aside, never deleted; without it an interrupted run resumes)")
    c.add_argument("--retry-skipped", action="store_true", help="retry runs skipped for missing pretrained weights")
    c.add_argument("--jobs", type=lambda v: int(v) if v.lstrip("-").isdigit() else v,
                   help="runs side by side, each on its own GPU subset or CPU-thread share; 'auto': 1 with "
                        "GPUs, 2 on a CPU-only machine (default: the campaign's)")
    c.add_argument("--runs-per-gpu", type=int, metavar="K",
                   help="instead of --jobs: K runs sharing each GPU, one GPU to a run (small networks leave a large "
                        "GPU idle); each GPU must have 2 GiB free per run, or the peak executor: epoch_times measured")
    c.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="change a training field for every run, VALUE read as YAML; a dotted key changes one "
                        "recipe field or model option (--set overrides.lr=0.05); repeatable")
    c.add_argument("--dry-run", action="store_true", help="validate and list the runs (new, done, stale or locked), run nothing")
    c.add_argument("--no-analysis", action="store_true", help="skip the analysis and book pages after the runs")
    add_executor_arguments(c)
    c.set_defaults(fn=cmd_campaign)


def _add_synth(sub) -> None:
    from .flags import whole_number
    s = sub.add_parser("synth", help="write a synthetic dataset in the CIFAR-100 layout")
    s.add_argument("--root", default="data/synthetic", help="folder to write into (default: data/synthetic)")
    s.add_argument("--train-size", type=whole_number(1), default=5000, help="training images (default: 5000)")
    s.add_argument("--test-size", type=whole_number(1), default=1000, help="test images (default: 1000)")
    # one class is nothing to classify
    s.add_argument("--num-classes", type=whole_number(2), default=100, help="classes, at least 2 (default: 100)")
    s.add_argument("--seed", type=int, default=0, help="seed of the generated images (default: 0)")
    s.set_defaults(fn=cmd_synth)


def _add_format(p) -> None:
    from .listing import FORMATS
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (fits 120 columns), or every field as csv, json or markdown (default: table)")


def main(argv=None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    try:
        check_book(a)  # every command's --book, before the command starts any work
        # a listing only reads files: it skips the signal handling of commands that start kernels (and the
        # torch import that comes with it)
        with _stop_signals() if not getattr(a, "reads_only", False) else contextlib.nullcontext():
            return a.fn(a)
    except KeyboardInterrupt as e:
        return interrupted(e)
    except BrokenPipeError:  # the reader stopped reading (`models | head`): nothing more to say to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush stays quiet too
        return 0
    except _user_errors() as e:
        return _fail(e)
