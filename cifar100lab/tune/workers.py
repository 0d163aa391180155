"""Workers that pull trials from a study's storage and execute each as a run: the run's notebook
(``notebooks/train.ipynb`` by papermill) with the sampled settings, its record, its folder
``<runs-root>/<study>/<study>-t<NNNN>``. Every worker, local (``--jobs N``) or a Slurm array task, runs the same
loop on the shared storage, which hands each trial to exactly one of them.

A worker's trials beat (Optuna's heartbeat); one whose worker died is failed once its beat is older than twice
the heartbeat, then retried with its parameters in its first try's run folder, so it resumes from its checkpoint.
"""
from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path

from .. import locks, records
from ..config import ConfigError, field_changes, resolve, resolved_fingerprint
from ..kernels import KernelSlot, job_envs, keep_kernels, processes_per_run, resolve_jobs, run_in_slots
from ..optuna_parts import (
    RETRIES,
    STORAGE_ENV,
    TrialLogs,
    build_pruner,
    build_sampler,
    build_storage,
    first_try,
    is_sqlite,
    quiet,
    retried_numbers,
    retry_callback,
    shown,
)
from ..runs import NOTEBOOKS, Run, attempts_so_far, execute_notebook, record_outcome, record_stopped, run_lock
from .study import StudySpec


class TrialFailed(RuntimeError):
    """The trial's run failed (its record says why); the study goes on with the next trial."""


def open_study(spec: StudySpec, url: str, heartbeat: bool = True):
    """The study in its storage, created on first use and loaded as it is after that (a killed ``tune`` resumes
    it). The objective, validation top-1, is maximised."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError
    if is_sqlite(url):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        storage = build_storage(url, spec.heartbeat if heartbeat else None)
    except (ImportError, SQLAlchemyError) as e:  # no driver for the URL, a server that does not answer
        raise ConfigError(f"cannot open the study's storage {shown(url)}: {str(e).splitlines()[0]}") from None
    refuse_changed_space(spec, storage, url)
    study = optuna.create_study(study_name=spec.name, storage=storage, direction="maximize", load_if_exists=True,
                                sampler=build_sampler(spec.sampler, spec.sampler_seed),
                                pruner=build_pruner(spec.pruner))
    if FIXED_ATTR not in study.user_attrs:  # a new study: what its every trial shares, for the next `tune` to check
        study.set_user_attr(FIXED_ATTR, fixed_settings(spec))
    return study


def _space(distributions: dict) -> str:
    """A search space on one line: each name with its range (``log``, ``step``) or its choices."""
    def one(d) -> str:
        if hasattr(d, "choices"):
            return f"choices {list(d.choices)}"
        return f"{d.low}..{d.high}" + (" log" if d.log else "") + (f" step {d.step}" if d.step not in (None, 1) else "")
    return ", ".join(f"{name} {one(d)}" for name, d in sorted(distributions.items()))


FIXED_ATTR = "fixed_settings"  # the study's user attribute: the settings every trial shares (fixed_settings)


def fixed_settings(spec: StudySpec) -> dict:
    """What decides a trial's result besides its searched values (model, options, dataset, epochs, subsets,
    val_fraction, the recipe's other fields, seed, ...), as the runs resolve it, in JSON's spelling."""
    searched = {p.name for p in spec.search}
    fp = resolved_fingerprint(resolve(spec.config(spec.first(), "check", "check")))
    fp = {k: v for k, v in fp.items() if k not in searched}
    fp["overrides"] = {k: v for k, v in fp["overrides"].items() if k not in searched}
    return json.loads(json.dumps(fp, sort_keys=True))


def refuse_changed_space(spec: StudySpec, storage, url: str) -> None:
    """A study file whose search space, or whose fixed settings (``defaults``, model, options, dataset),
    differ from those its stored trials ran with is refused: the sampler would learn from trials of both, the
    study's best trial compare them, and ``--finish`` re-run the best values with settings it never trained with."""
    try:
        study_id = storage.get_study_id_from_name(spec.name)
    except KeyError:  # a new study
        return
    trials = storage.get_all_trials(study_id, deepcopy=False)
    wanted = {p.name: p.distribution() for p in spec.search}
    for t in trials:
        if t.distributions and t.distributions != wanted:  # a trial not yet sampled has none
            raise ConfigError(f"study {spec.name} in {shown(url)} searched {_space(t.distributions)}; {spec.path} "
                              f"searches {_space(wanted)}: a changed search is a new study, so give it another "
                              f"name (the file's study: key)")
    recorded, now = storage.get_study_user_attrs(study_id).get(FIXED_ATTR), fixed_settings(spec)
    if recorded is not None and recorded != now:
        changed = "; ".join(field_changes(recorded, now, expand=("overrides",)))
        raise ConfigError(f"study {spec.name} in {shown(url)} ran its trials with other fixed settings than "
                          f"{spec.path} sets now ({changed}): a changed study is a new study, so give it another "
                          f"name (the file's study: key), or set them back to resume it")


def trials_left(study, n_trials: int) -> int:
    """Trials still to start: ``n_trials`` less those done or running. A failed trial counts (a diverging
    range would otherwise be tried for ever), except one interrupted and enqueued again, whose retry stands for it."""
    from optuna.trial import TrialState
    _fail_stale(study)
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    counted = [t for t in trials if t.state != TrialState.WAITING and t.number not in retried]
    return n_trials - len(counted)


def _fail_stale(study) -> None:
    import optuna
    with quiet():
        optuna.storages.fail_stale_trials(study)


def retry_interrupted(study) -> list[int]:
    """Enqueue again, with their parameters, the trials a stopped ``tune`` left failed (Ctrl-C or a stop signal
    fails the running trial at once; a killed worker's trial goes stale instead, and Optuna retries that one)."""
    from optuna.trial import TrialState
    # copies: Optuna's callback appends to the trial's own retry history, which in the storage's cache made a trial
    # it did not enqueue (stopped for the RETRIES-th time: it stays failed) look retried for the rest of the process
    trials = study.get_trials(deepcopy=True)
    retried = retried_numbers(trials)
    stopped = [t for t in trials if t.state == TrialState.FAIL and t.user_attrs.get("interrupted")
               and t.number not in retried]
    retry = retry_callback()
    for t in stopped:
        with quiet():
            retry(study, t)
    again = retried_numbers(study.get_trials(deepcopy=False))
    return [t.number for t in stopped if t.number in again]


def trial_run(spec: StudySpec, trial, runs_root: str | os.PathLike) -> Run:
    """The run a trial is: its sampled settings, and the folder of its first try (a retry resumes it)."""
    values = {p.name: p.suggest(trial) for p in spec.search}
    run_id = f"{spec.name}-t{first_try(trial):04d}"
    run_dir = Path(runs_root) / spec.name / run_id
    # the storage's own id of the trial: what a kernel needs to report to it (Optuna keeps it on the trial)
    identity = {"study": spec.name, "trial_id": trial._trial_id, "number": trial.number, "pruner": spec.pruner}
    plan = resolve(spec.config(values, run_dir, run_id, identity))
    return Run(run_id, plan, run_dir / f"{run_id}.ipynb")


def objective_value(run: Run, status: str) -> float:
    """The trial's value, validation top-1 of its last epoch; a pruned run is Optuna's TrialPruned."""
    import optuna
    record = records.load(run.run_dir) or {}
    if status == "complete":
        return record["final"]["top1"]
    if status == "pruned":
        raise optuna.TrialPruned(record.get("reason"))
    raise TrialFailed(f"{run.run_id}: {status}: {record.get('reason')}")


def trial_log(spec: StudySpec, runs_root, run_id: str) -> Path:
    """A trial run's log: its notebook's output and, where it failed, the traceback."""
    return Path(runs_root) / spec.name / "logs" / f"{run_id}.log"


def execute_trial(spec: StudySpec, trial, runs_root, execute, log, logs: TrialLogs | None = None) -> float:
    """One trial: its run executed under the run's lock, its outcome recorded, its value returned. A failure is
    one line saying why and where the run's log is, which ``logs`` gives Optuna's warning of it, traceback and all."""
    run = trial_run(spec, trial, runs_root)
    if logs is not None:
        logs.send(trial.number, trial_log(spec, runs_root, run.run_id))
    trial.set_user_attr("run_id", run.run_id)
    # which worker ran it: its Slurm job, else this process and thread (a local worker)
    trial.set_user_attr("worker", os.environ.get("SLURM_JOB_ID") or f"pid {os.getpid()} "
                                                                     f"{threading.current_thread().name}")
    log(f"trial {trial.number}: {run.run_id} {trial.params}")
    try:
        try:
            with locks.lock(run_lock(run)):
                before = attempts_so_far(run)
                code, tail = execute(run)
                status = record_outcome(run, code, tail, before)
        except locks.Locked as e:
            raise TrialFailed(f"{run.run_id}: another process is running it ({e.holder})") from None
        value = objective_value(run, status)
    except TrialFailed as e:
        log(f"trial {trial.number}: {e}; its log: {trial_log(spec, runs_root, run.run_id)}")
        raise
    except KeyboardInterrupt:  # Optuna fails the trial; the next `tune` enqueues it again (retry_interrupted)
        trial.set_user_attr("interrupted", True)
        raise
    log(f"trial {trial.number}: {status}")
    return value


def notebook_execution(runs_root, spec: StudySpec, slot: KernelSlot, num_processes):
    """Execute a trial's run as every run executes: its notebook by papermill on the job's kernel."""
    return lambda run: execute_notebook(run, NOTEBOOKS / "train.ipynb", slot,
                                        trial_log(spec, runs_root, run.run_id).parent, num_processes)


def run_trials(spec: StudySpec, runs_root, url: str, jobs: int | str | None = None, execute=None,
               num_processes="auto", log=print, stopped_by="with its study") -> dict:
    """Pull and execute trials on ``jobs`` local workers until the study has its trials; each worker has its
    own kernel (its GPU subset or CPU-thread share). ``execute(run, slot)`` replaces the notebook in tests.
    A stop records each run under way as stopped ``stopped_by`` (who stopped it: the study, or Slurm).
    Returns {state: count} over the study's trials."""
    jobs = resolve_jobs(jobs or spec.jobs, "--jobs")
    if spec.settings(spec.first()).get("cuda_graph"):  # refused once here, not in every trial's notebook
        from ..devices import visible_gpus
        from ..step_graph import launch_conflict
        if why := launch_conflict(visible_gpus(), processes_per_run(jobs, num_processes)):
            raise ConfigError(f"study {spec.name}: {why} (no trial was started)")
    study = open_study(spec, url)
    os.environ[STORAGE_ENV] = url  # for a trial trained in this process; a kernel gets it in its environment
    if retried := retry_interrupted(study):
        log(f"study {spec.name}: trial(s) {', '.join(map(str, retried))} were stopped; enqueued again")
    log(f"study {spec.name}: {trials_left(study, spec.n_trials)} of {spec.n_trials} trials to run, {jobs} "
        f"worker(s)")
    log_dir = Path(runs_root) / spec.name / "logs"
    slots = [KernelSlot({**env, STORAGE_ENV: url}, keep_kernels(num_processes), log_dir / f"kernel-worker{i}.log")
             for i, env in enumerate(job_envs(jobs))]

    runs: dict[int, Run] = {}  # work item -> the run its trial executes
    logs = TrialLogs()  # Optuna's warning of a failed trial: into its run's log
    taking = Path(runs_root) / spec.name / locks.LOCKS / "new-trial.lock"  # see optimize_one

    def work(item: int, slot: KernelSlot) -> None:
        execute_run = (lambda r: execute(r, slot)) if execute else notebook_execution(runs_root, spec, slot,
                                                                                       num_processes)

        def run(r: Run):
            runs[item] = r
            return execute_run(r)
        optimize_one(study, spec.n_trials, taking, lambda trial: execute_trial(spec, trial, runs_root, run, log, logs))

    def stopped(item: int) -> None:  # its kernel is gone: the run's record says where it stopped
        if item in runs:
            record_stopped(runs[item], stopped_by, "running tune again")

    # one item per trial it may take: the planned ones and each possible retry
    with logs:
        run_in_slots(list(range(spec.n_trials * (RETRIES + 1))), slots, work, stopped)
    return trial_states(study)


def optimize_one(study, n_trials: int, taking: str | os.PathLike, objective) -> None:
    """One trial of ``objective``, if the study has one left to run. Counting the trials left and creating the
    trial are one step under the OS lock ``taking`` (a file beside the study's runs), which every worker waits
    for: the threads of one ``tune`` and the processes of others (a Slurm array's tasks). Two workers that counted
    together would each start one, past ``n_trials`` (3 planned on 2 workers: 4 ran). Released once the trial
    exists, or none is."""
    with contextlib.ExitStack() as held:
        held.enter_context(locks.lock(taking, wait=True))

        def started(trial):
            held.close()
            return objective(trial)
        if trials_left(study, n_trials) > 0:
            study.optimize(started, n_trials=1, catch=(TrialFailed,))


def trial_states(study) -> dict:
    """{state: count} over the study's trials; an interrupted trial whose retry stands for it is ``retried``, not
    ``fail`` (a stopped and resumed study had failed nothing)."""
    trials = study.get_trials(deepcopy=False)
    retried = retried_numbers(trials)
    states: dict = {}
    for t in trials:
        state = "retried" if t.number in retried else t.state.name.lower()
        states[state] = states.get(state, 0) + 1
    return states
