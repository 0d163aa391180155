"""``<runs-root>/<study>/study.json``: the study as its storage holds it (every trial's state, parameters,
value, per-epoch reports and run), written after each ``tune``, so the book reads files only, never the
database."""
from __future__ import annotations

import os
from pathlib import Path

from .. import records
from ..optuna_parts import retried_numbers
from ..report.tuning import SUMMARY
from .study import StudySpec


def trial_summary(t, retried: bool = False) -> dict:
    """One trial as the page reads it; ``retried``: interrupted, and its retry (another trial) stands for it."""
    from optuna.distributions import distribution_to_json
    return {"number": t.number, "state": t.state.name.lower(), "retried": retried, "value": t.value,
            "params": t.params,
            "distributions": {k: distribution_to_json(d) for k, d in t.distributions.items()},
            "intermediate_values": {str(k): v for k, v in sorted(t.intermediate_values.items())},
            "run_id": t.user_attrs.get("run_id"),
            "started": t.datetime_start.isoformat() if t.datetime_start else None,
            "finished": t.datetime_complete.isoformat() if t.datetime_complete else None}


def write_summary(spec: StudySpec, study, runs_root: str | os.PathLike, finish: dict | None = None) -> Path:
    """The study's summary beside its runs; ``finish``: the best configuration's re-runs (kept from before
    when not given)."""
    path = Path(runs_root) / spec.name / SUMMARY
    old = records.read_json(path) if path.exists() else {}
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    records.atomic_write_json(path, {
        "study": spec.name, "description": spec.description, "source": spec.path, "model": spec.model,
        "options": spec.options, "dataset": spec.dataset, "n_trials": spec.n_trials, "sampler": spec.sampler,
        "pruner": spec.pruner, "objective": "validation top-1 (%) of the last epoch", "seeds": spec.seeds,
        "search": [vars(p) for p in spec.search],
        "trials": [trial_summary(t, t.number in retried) for t in trials],
        "finish": finish if finish is not None else old.get("finish")})
    return path
