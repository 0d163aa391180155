"""Optuna's parts as a study file names them: the sampler, the pruner and the RDB storage (with heartbeats, so a
trial whose worker died is failed and retried). Shared by the workers and, for the pruner, the trainer's side."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from pathlib import Path

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
STORAGE_ENV = "CIFAR100LAB_TUNE_STORAGE"  # how a trial's kernel finds the storage: a URL may hold a password,
# so it never travels in the run's parameters (which its record and notebook keep)
RETRIES = 2  # times a trial interrupted by a dead worker is retried


def build_sampler(name: str, seed: int | None):
    """The study's sampler. With a ``seed`` its random draws for a trial are seeded from the seed and the trial's
    number, not once per process: a resumed ``tune``, or each of several Slurm workers, would otherwise start the
    same random sequence again and run trials with the same values as earlier ones."""
    import optuna
    sampler = optuna.samplers.TPESampler(seed=seed) if name == "tpe" else optuna.samplers.RandomSampler(seed=seed)
    if seed is not None:
        before = sampler.before_trial

        def before_trial(study, trial):
            import numpy as np
            trial_seed = int(np.random.SeedSequence([seed, trial.number]).generate_state(1)[0])
            for part in (sampler, getattr(sampler, "_random_sampler", None)):  # TPE draws its first trials by one
                if part is None:
                    continue
                # Optuna 4 keeps the generator in _rng.rng; were that to move, reseed_rng (public) still draws
                # afresh per trial, only not reproducibly
                rng = getattr(getattr(part, "_rng", None), "rng", None)
                if rng is not None:
                    rng.seed(trial_seed)
                else:
                    part.reseed_rng()
            before(study, trial)
        sampler.before_trial = before_trial
    return sampler


def build_pruner(spec: dict):
    """``spec``: ``{"kind": median | hyperband | none, …Optuna's options}``; Hyperband's ``max_resource`` is the
    run's epochs (added by the study)."""
    import optuna
    options = {k: v for k, v in spec.items() if k != "kind"}
    kinds = {"median": optuna.pruners.MedianPruner, "hyperband": optuna.pruners.HyperbandPruner,
             "none": optuna.pruners.NopPruner}
    return kinds[spec["kind"]](**options)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def build_storage(url: str, heartbeat: int | None = None):
    """The RDB storage at ``url``. With ``heartbeat`` (seconds) each running trial beats; one silent for twice
    that is failed and enqueued again with its parameters (Optuna's retry callback)."""
    import optuna
    # SQLite serialises writers: several workers wait their turn rather than fail on "database is locked"
    engine = {"connect_args": {"timeout": 120}} if is_sqlite(url) else {"pool_pre_ping": True}
    if heartbeat is None:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine)
    callback = "heartbeat_stale_trial_callback" if _new_retry_names() else "failed_trial_callback"
    with quiet():
            return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=heartbeat,
                                          grace_period=2 * heartbeat, **{callback: retry_callback()})


def _new_retry_names() -> bool:
    import optuna
    return hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback")  # Optuna 4.9 renamed the retry callback


@contextlib.contextmanager
def quiet():
    """Without Optuna's notes that the heartbeat and retry parts are experimental (they are stable since 2.8)."""
    import optuna
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def retry_callback():
    """Optuna's callback that enqueues a failed trial again with its parameters (``max_retry`` times)."""
    import optuna
    cls = optuna.storages.RetryHeartbeatStaleTrialCallback if _new_retry_names() else \
        optuna.storages.RetryFailedTrialCallback
    with quiet():
        return cls(max_retry=RETRIES)


def first_try(trial) -> int:
    """The number of the trial's first try (its own, unless it is a retry)."""
    with quiet():
        retried = retry_callback().retried_trial_number(trial)
    return trial.number if retried is None else retried


def retried_numbers(trials) -> set[int]:
    """The numbers of the trials that were interrupted and enqueued again (Optuna's retry history): their retry
    stands for them."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", [])}


def shown(url: str) -> str:
    """The URL as printed: its password hidden."""
    from sqlalchemy.engine import make_url
    return make_url(url).render_as_string(hide_password=True)


def storage_from_env() -> str:
    url = os.environ.get(STORAGE_ENV)
    if not url:
        raise RuntimeError(f"a tuning trial needs ${STORAGE_ENV} (the study's storage URL); `tune` sets it")
    return url


class TrialLogs(logging.Filter):
    """Optuna's warnings that a trial failed, for each trial given its run's log (:meth:`send`), written to that
    log instead of the console. Optuna adds the failure's traceback (the worker's own frames; an interrupted
    notebook's reach through papermill): pages of it per trial, where the worker says in one line what failed
    and where the log is. The trial still fails in the study. In use (``with``) on Optuna's logger of a trial's end."""

    LOGGER = "optuna.study._optimize"  # "Trial 3 failed with parameters: ... because of ...", traceback, value

    def __init__(self):
        super().__init__()
        self.logs: dict[int, Path] = {}
        self.formatter = logging.Formatter("[optuna %(levelname)s %(asctime)s] %(message)s")

    def send(self, trial_number: int, log: Path) -> None:
        self.logs[trial_number] = log

    def filter(self, record: logging.LogRecord) -> bool:
        found = re.match(r"Trial (\d+) failed", str(record.msg))
        log = self.logs.get(int(found.group(1))) if found else None
        if log is None:
            return True
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as out:
                out.write(self.formatter.format(record) + "\n")
        except OSError:  # the log cannot be written: the console keeps it
            return True
        return False

    def __enter__(self) -> "TrialLogs":
        logging.getLogger(self.LOGGER).addFilter(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger(self.LOGGER).removeFilter(self)
