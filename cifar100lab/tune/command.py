"""``python -m cifar100lab tune STUDY.yaml``: run a study's trials (here on ``--jobs`` workers, or as a Slurm job
array), resume it when run again, and ``--finish`` re-runs its best configuration on the test set. Bad input is
refused before any work (one ``error:`` line, exit status 2, nothing written); a study left without a complete
trial (every trial failed) found nothing, and exits 1 (:func:`found_nothing`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the study file (e.g. params/tune/resnet56-sgd.yaml)")
    p.add_argument("--runs-root", default="runs", help="folder holding <study>/<trial run> folders (default: runs)")
    p.add_argument("--book", default="book", help="the book folder the re-runs' pages go into (default: book)")
    p.add_argument("--storage", help="an SQLAlchemy URL of the study's database (default: the file's storage, "
                                     "else sqlite:///<runs-root>/<study>/optuna.db)")
    p.add_argument("--jobs", type=lambda v: int(v) if v.lstrip("-").isdigit() else v,
                   help="local workers side by side, each pulling trials from the storage (default: the file's)")
    p.add_argument("--executor", choices=("local", "slurm"), help="slurm: the workers as one job array "
                                                                  "(default: the file's executor, else local)")
    p.add_argument("--dataset", help="a registered dataset to tune on instead of the file's (e.g. fashion-mnist, "
                                     "the labelled stand-in, without CIFAR-100); --finish needs the same")
    p.add_argument("--finish", action="store_true", help="re-run the best trial's configuration with the study's "
                                                         "seeds, evaluated on the test set")
    p.set_defaults(fn=main)


def write_page(a) -> None:
    """The book's Hyperparameter search page, from every study's summary under the runs folder."""
    from ..report.tuning import write_tuning_page
    write_tuning_page(a.runs_root, Path(a.book) / "generated")


def main(a) -> int:
    from ..config_files import refuse_file_as_folder
    from ..data import load_dataset
    from ..kernels import resolve_jobs
    from ..optuna_parts import shown
    from .study import load_study_file
    from .summary import write_summary
    from .workers import open_study, run_trials
    refuse_file_as_folder(a.runs_root, "--runs-root")  # else the OS's "Not a directory", naming no setting
    spec = load_study_file(a.file, storage=a.storage, dataset=a.dataset)
    if a.jobs is not None:
        resolve_jobs(a.jobs, "--jobs")
    url = spec.storage_url(a.runs_root)
    first = spec.config(spec.first(), "check", "check")
    # the data must be there (or obtainable) before a worker starts
    load_dataset(spec.dataset, first.get("data_root"), first.get("download", True))
    kind = a.executor or spec.executor.kind
    if a.finish:
        from .finish import existing_study, finish
        study = existing_study(spec, url)
        result = finish(spec, study, a.runs_root, a.book, a.jobs)
        write_summary(spec, study, a.runs_root, finish=result)
        write_page(a)
        return 1 if result["summary"]["failed"] else 0
    if kind == "slurm":
        from .slurm import submit_workers
        return submit_workers(spec, url, a)
    states = run_trials(spec, a.runs_root, url, a.jobs)
    write_summary(spec, open_study(spec, url, heartbeat=False), a.runs_root)
    write_page(a)
    print(f"study {spec.name}: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())) + f" ({shown(url)})")
    if why := found_nothing(spec.name, states, a.runs_root):
        print(why, file=sys.stderr)
        return 1
    return 0


def found_nothing(study: str, states: dict, runs_root) -> str | None:
    """The line saying why a study that has ended without a complete trial found nothing (it has no best trial
    for ``--finish``), or None: a complete trial, or one another worker still runs, is a search under way."""
    if states.get("complete") or states.get("running") or states.get("waiting"):
        return None
    folder = Path(runs_root) / study
    what = "every trial failed" if set(states) == {"fail"} else "no trial completed (" + ", ".join(
        f"{k} {v}" for k, v in sorted(states.items())) + ")"
    return (f"study {study}: {what}, so it has no result; each trial's reason is in its record "
            f"({folder}/<trial run>/record.json) and its notebook's output in {folder}/logs/<trial run>.log")
