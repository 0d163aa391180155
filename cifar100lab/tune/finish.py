"""``tune --finish``: the best trial's configuration re-run with the study's seeds as an ordinary campaign entry
(``<runs-root>/<study>/finish.yaml``, campaign ``<study>-best``), so its runs are evaluated on the test set,
which no trial saw, and its record is like any campaign run's."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from .. import records
from ..campaign import load_campaign
from ..config import ConfigError
from ..runs import stale_fields
from .study import StudySpec
from .workers import refuse_changed_space

FINISH_FILE = "finish.yaml"


def existing_study(spec: StudySpec, url: str):
    """The study as ``tune`` left it in its storage; a ConfigError (nothing created) when there is none."""
    import optuna

    from ..optuna_parts import build_storage, is_sqlite, shown
    missing = ConfigError(f"study {spec.name} has no trials in {shown(url)} yet; run `tune` first, then "
                          f"`tune --finish`")
    if is_sqlite(url) and not Path(url.removeprefix("sqlite:///")).is_file():
        raise missing
    storage = build_storage(url)
    try:
        study = optuna.load_study(study_name=spec.name, storage=storage)
    except KeyError:
        raise missing from None
    refuse_changed_space(spec, storage, url)  # its best trial's configuration is not one of this file's
    return study


def best_trial(study):
    """The complete trial with the highest validation top-1 (a ConfigError before any trial completed)."""
    try:
        return study.best_trial
    except ValueError:
        raise ConfigError(f"study {study.study_name} has no complete trial yet; run `tune` first (or until a "
                          f"trial completes), then `tune --finish`") from None


def trial_processes(spec: StudySpec, best, runs_root: str | os.PathLike) -> int | None:
    """The processes ``best``'s run trained on (its record's hardware count); None where its record does not say."""
    run_id = getattr(best, "user_attrs", {}).get("run_id")
    record = (records.load(Path(runs_root) / spec.name / run_id) if run_id else None) or {}
    return (record.get("hardware") or {}).get("count")


def finish_campaign_file(spec: StudySpec, best, runs_root: str | os.PathLike) -> Path:
    """The campaign that re-runs ``best``'s configuration, written beside the study's runs."""
    entry = {"model": spec.model, "options": spec.options, **spec.settings(best.params)}
    # batch_size and lr are per process: the re-runs train on as many processes as the trial did, else at another
    # global batch and scaled lr (trials of `tune --jobs 4` on 4 GPUs had 1 each, the re-runs took all 4)
    processes = trial_processes(spec, best, runs_root)
    campaign = {"name": f"{spec.name}-best", "dataset": spec.dataset,
                **({"num_processes": processes} if processes else {}), "seeds": spec.seeds, "models": [entry],
                "description": f"the best configuration of study {spec.name} (trial {best.number}, validation "
                               f"top-1 {best.value:.2f}), re-run with seeds {spec.seeds} and tested"}
    path = Path(runs_root) / spec.name / FINISH_FILE
    records.atomic_write_text(path, yaml.safe_dump(campaign, allow_unicode=True, sort_keys=False))
    return path


def finish(spec: StudySpec, study, runs_root: str | os.PathLike, book: str | os.PathLike, jobs=None,
           log=print) -> dict:
    """Re-run the best configuration on the local executor; the summary of what ran and the re-runs' ids."""
    from ..executors import local
    best = best_trial(study)  # refused before anything is written
    path = finish_campaign_file(spec, best, runs_root)
    # the study's dataset, as its trials had: never $CIFAR100LAB_DATASET's, which a campaign would put first
    camp = load_campaign(path, dataset=spec.dataset, runs_root=runs_root, book_dir=book)
    log(f"study {spec.name}: re-running trial {best.number}'s configuration {best.params} with seeds "
        f"{spec.seeds} ({path})")
    # Re-runs of an earlier best trial have these run ids and its configuration: never this trial's result, so
    # they are moved aside (kept, as --force keeps a folder it replaces) and run again.
    for run in camp.runs:
        if changed := stale_fields(run):
            aside = records.moved_aside(run.run_dir)
            run.run_dir.rename(aside)
            log(f"{run.run_id}: re-run of another trial's configuration ({'; '.join(changed)}), moved to {aside}")
    summary = local.execute(camp, runs_root, jobs=jobs, log=log)
    return {"campaign": camp.name, "file": str(path), "trial": best.number, "params": best.params,
            "runs": [r.run_id for r in camp.runs], "summary": summary}
