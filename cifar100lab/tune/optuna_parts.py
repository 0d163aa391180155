"""Optuna's parts as a study file names them: the sampler, the pruner and the RDB storage (with heartbeats, so a
trial whose worker died is failed and retried). Shared by the workers and, for the pruner, the trainer's side."""
from __future__ import annotations

import os

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
STORAGE_ENV = "CIFAR100LAB_TUNE_STORAGE"  # how a trial's kernel finds the storage: a URL may hold a password,
# so it never travels in the run's parameters (which its record and notebook keep)
RETRIES = 2  # times a trial interrupted by a dead worker is retried


def build_sampler(name: str, seed: int | None):
    import optuna
    return optuna.samplers.TPESampler(seed=seed) if name == "tpe" else optuna.samplers.RandomSampler(seed=seed)


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
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
        optuna.storages.RetryFailedTrialCallback  # the older name before Optuna 4.9
    return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=heartbeat,
                                      grace_period=2 * heartbeat, failed_trial_callback=retry(max_retry=RETRIES))


def storage_from_env() -> str:
    url = os.environ.get(STORAGE_ENV)
    if not url:
        raise RuntimeError(f"a tuning trial needs ${STORAGE_ENV} (the study's storage URL); `tune` sets it")
    return url
