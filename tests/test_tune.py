"""`tune`: a study file is checked whole before any work; its trials are runs that report validation top-1 each
epoch and never see the test set; a pruned run says so in its record; workers on one storage never share a trial;
a killed or stopped study resumes and retries its interrupted trial; `--finish` re-runs the best configuration as
an ordinary campaign entry on the test set."""
import contextlib
import json
import logging
import os
import signal
import sqlite3
import threading
import time

import optuna
import pytest
import torch
from conftest import ROOT, run_cli, scratch_book

from cifar100lab import records
from cifar100lab.attempt import start_record
from cifar100lab.campaign import load_campaign
from cifar100lab.config_files import ConfigError
from cifar100lab.executors.slurm import STOPPED_BY_SLURM
from cifar100lab.optuna_parts import STORAGE_ENV
from cifar100lab.report import i18n
from cifar100lab.train import train
from cifar100lab.tune import workers
from cifar100lab.tune.finish import finish_campaign_file
from cifar100lab.tune.study import load_study_file

optuna.logging.set_verbosity(optuna.logging.WARNING)

STUDY = """model: resnet_20
dataset: synthetic
defaults: {{epochs: 2, val_fraction: 0.25, train_subset: 128, test_subset: 48, eval_batch_size: 64,
            max_steps_per_epoch: 1, progress: false, data_root: {root}}}
search:
  lr: {{low: 0.01, high: 0.5, log: true}}
  batch_size: {{choices: [16, 32]}}
n_trials: {n_trials}
seeds: [0, 1]
heartbeat: 1
"""


def _study(tmp_path, root, n_trials=2, text=None, name="tiny"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text or STUDY.format(root=root, n_trials=n_trials))
    return path


def _refused(result, *parts):
    assert result.returncode == 2, result
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr


GOOD = STUDY.format(root="/nonexistent", n_trials=2)


@pytest.mark.parametrize("change, parts", [
    (("val_fraction: 0.25", "val_fraction: 0"), ["never the test set", "val_fraction"]),
    (("n_trials: 2", "n_trials: 2\nsampler_sed: 1"), ["unknown key(s) sampler_sed"]),
    (("  lr:", "  lrr:"), ["search: lrr", "not a searchable name", "weight_decay"]),
    (("log: true", "log: true, step: 2, high2: 1"), ["search: lr", "give a range"]),
    (("low: 0.01, high: 0.5", "low: 0.5, high: 0.01"), ["search: lr", "low < high"]),
    (("low: 0.01, high: 0.5, log: true", "low: 0, high: 0.5, log: true"), ["low > 0 with log"]),
    (("choices: [16, 32]", "choices: [16, 512]"), ["batch_size = 512 makes an invalid run", "lower batch_size"]),
    (("  lr:", "  warmup_epochs: {low: 0, high: 5}\n  lr:"), ["warmup_epochs = 5", "shorter than the run"]),
    (("heartbeat: 1", "heartbeat: 1\npruner: quantile"), ["pruner must be one of median, hyperband, none"]),
    (("heartbeat: 1", "heartbeat: 1\npruner: {kind: median, n_warmup_steps: -1}"), ["pruner median"]),
    (("heartbeat: 1", "heartbeat: 1\nstorage: not a url"), ["not an SQLAlchemy URL"]),
    (("heartbeat: 1", "heartbeat: 1\nexecutor: slurm"), ["tiny.yaml: executor must be a mapping", "got 'slurm'"]),
    (("max_steps_per_epoch: 1,", "max_steps_per_epoch: 1, seed: 3,"), ["seed cannot be set there"]),
    (("max_steps_per_epoch: 1,", "max_steps_per_epoch: 1, lr: 0.1,"), ["lr is both searched and fixed"]),
    (("model: resnet_20", "model: resnet_2000"), ["resnet_2000"]),
    (("model: resnet_20", "model: resnet_20\noptions: 5"), ["options must map the model's option names", "got 5"]),
    (("model: resnet_20", "model: resnet_20\noptions: [1]"), ["options must map", "got [1]"]),
    (("heartbeat: 1", "heartbeat: 1\nsampler_seed: abc"), ["sampler_seed must be a whole number", "'abc'"]),
    (("seeds: [0, 1]", "seeds: [0, 0]"), ["tiny.yaml: seeds must name each seed once", "got [0, 0]"]),
    # it said "search: lr = 0.01 makes an invalid run: unknown dataset", sending the user to the range
    (("dataset: synthetic", "dataset: synthetc"), ["tiny.yaml: unknown dataset 'synthetc' (did you mean synthetic?)"]),
    (("heartbeat: 1", "heartbeat: 1\nsampler_seed: -1"), ["sampler_seed must be a whole number from 0"]),
    (("heartbeat: 1", "heartbeat: 1\ndescription: [a, b]"), ["tiny.yaml: description must be text, got ['a', 'b']"]),
    (("high: 0.5, log: true", "high: 0.5, step: -1"), ["search: lr: step must be a positive number, got -1"]),
    (("high: 0.5, log: true", "high: 0.5, step: abc"), ["search: lr: step must be a positive number, got 'abc'"]),
    (("log: true", "log: true, step: 0.1"), ["search: lr: step and log: true cannot be combined"]),
    (("choices: [16, 32]", "low: 16, high: 32, step: 0.5"), ["search: batch_size: step must be a positive whole"]),
])
def test_bad_study_file_is_one_error_line_before_any_work_and_writes_nothing(tmp_path, capfd, change, parts):
    path = _study(tmp_path, None, text=GOOD.replace(*change))
    assert change[0] in GOOD
    _refused(run_cli(capfd, "tune", path, "--runs-root", tmp_path / "runs"), *parts)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("space, narrowed", [("lr: {low: 0.01, high: 0.5, step: 1.0}", "0.01..0.01"),
                                             ("batch_size: {low: 16, high: 40, step: 16}", "16..32")])
def test_a_step_that_does_not_divide_its_range_is_refused_not_narrowed_by_optuna(tmp_path, space, narrowed):
    """Optuna moves a high end that is off the step's grid down to it with only a warning: lr 0.01..0.5 in steps
    of 1.0 was accepted and every trial ran lr 0.01, while study.json said 0.01..0.5."""
    text = GOOD.replace("  batch_size: {choices: [16, 32]}\n", "").replace("  lr: {low: 0.01, high: 0.5, log: true}",
                                                                        "  " + space)
    with pytest.raises(ConfigError, match=f"does not divide .*Optuna would search {narrowed} instead"):
        load_study_file(_study(tmp_path, None, text=text))
    grid = GOOD.replace("low: 0.01, high: 0.5, log: true", "low: 0.1, high: 0.5, step: 0.1")  # on the grid: kept
    assert load_study_file(_study(tmp_path, None, text=grid)).search[0].step == 0.1


@pytest.mark.parametrize("epochs, longest", [("{low: 2, high: 27}", 27), ("{choices: [3, 9]}", 9)])
def test_hyperbands_max_resource_is_the_longest_trials_epochs_when_epochs_are_searched(tmp_path, epochs, longest):
    """max_resource was the first trial's epochs, the low end: epochs 2..27 gave max_resource 2, one bracket
    where Hyperband makes four, and trials trained on past the resource the pruner was told was the most."""
    text = GOOD.replace("epochs: 2, ", "").replace("  batch_size: {choices: [16, 32]}\n", f"  epochs: {epochs}\n")
    spec = load_study_file(_study(tmp_path, None, text=text.replace("max_steps_per_epoch: 1,", "max_steps_per_epoch: "
                                                                    "1, batch_size: 16,") + "pruner: hyperband\n"))
    assert spec.pruner == {"kind": "hyperband", "max_resource": longest}


@pytest.mark.parametrize("runs_root, says", [("taken", "--runs-root {tmp}/taken is a file, not a folder"),
                                             ("taken/runs", "--runs-root {tmp}/taken/runs cannot be made: {tmp}/taken "
                                                            "is a file")])
def test_a_runs_root_that_is_a_file_is_one_error_line_naming_the_flag(tmp_path, capfd, runs_root, says):
    """It was the OS's "[Errno 20] Not a directory: '.../taken/tiny'", naming no setting."""
    (tmp_path / "taken").write_text("kept\n")
    _refused(run_cli(capfd, "tune", _study(tmp_path, None, text=GOOD), "--runs-root", tmp_path / runs_root),
             says.format(tmp=tmp_path))
    assert (tmp_path / "taken").read_text() == "kept\n"


def test_a_bad_storage_url_on_the_command_line_is_named_as_the_options_not_the_files(tmp_path, capfd):
    """It was reported as '<study file>: storage ...', sending the user to a file that has no storage key."""
    done = run_cli(capfd, "tune", _study(tmp_path, None, text=GOOD), "--storage", "notaurl", "--runs-root", tmp_path / "r")
    _refused(done, "error: --storage 'notaurl' is not an SQLAlchemy URL")
    assert not (tmp_path / "r").exists()


def test_a_graphed_study_on_the_cpu_is_one_error_before_any_trial(tmp_path, capfd, synthetic_root):
    """Without it every trial failed in its notebook with the same reason, and the study counted failures."""
    text = STUDY.format(root=synthetic_root, n_trials=2).replace("progress: false,", "progress: false, cuda_graph: true,")
    _refused(run_cli(capfd, "tune", _study(tmp_path, synthetic_root, text=text), "--runs-root", tmp_path / "runs"),
             "study tiny: cuda_graph: true needs a CUDA device", "(no trial was started)")
    assert not (tmp_path / "runs" / "tiny" / "optuna.db").exists()


@pytest.mark.parametrize("setting, says", [
    ("pretrained: {weights}", "pretrained {weights}: {weights} cannot be read as weights (SafetensorError: "),
    ("overrides: {{distill_from: 'ghostnet_100@{weights}'}}", "distill_from ghostnet_100@{weights}: {weights} cannot "
                                                             "be read as weights (SafetensorError: ")])
def test_a_study_whose_weights_or_teacher_file_does_not_load_is_one_error_line_before_any_trial(
        tmp_path, capfd, synthetic_root, setting, says):
    """Checked only in each trial's notebook: every trial of the study failed on the same truncated file in turn."""
    from safetensors.torch import save_file
    save_file({"conv_stem.weight": torch.zeros(16, 3, 3, 3)}, tmp_path / "w.safetensors")
    blob = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "w.safetensors").write_bytes(blob[:len(blob) - 8])  # a truncated copy
    study = STUDY.format(root=synthetic_root, n_trials=2).replace("model: resnet_20", "model: ghostnet_100").replace(
        "progress: false,", "progress: false, " + setting.format(weights=tmp_path / "w.safetensors") + ",")
    path = _study(tmp_path, synthetic_root, text=study)
    _refused(run_cli(capfd, "tune", path, "--runs-root", tmp_path / "runs"),
             f"error: {path}: " + says.format(weights=tmp_path / "w.safetensors"))
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("search, args, now", [
    ("weight_decay: {low: 0.0001, high: 0.01, log: true}", [], "weight_decay 0.0001..0.01 log"),  # another name
    ("lr: {low: 0.01, high: 0.9, log: true}", [], "lr 0.01..0.9 log"),  # another range
    ("weight_decay: {low: 0.0001, high: 0.01, log: true}", ["--finish"], "weight_decay"),  # its best is not this file's
], ids=["name", "range", "finish"])
def test_a_study_file_whose_search_changed_is_refused_before_any_trial_and_the_study_is_kept(
        tmp_path, capfd, synthetic_root, search, args, now):
    """Optuna loads an existing study whatever its trials searched: trials of two spaces were mixed in one study."""
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=1))
    runs = tmp_path / "runs"
    workers.run_trials(spec, runs, spec.storage_url(runs), jobs=1, execute=FakeRuns(seconds=0), log=lambda *_: None)
    changed = STUDY.format(root=synthetic_root, n_trials=2).replace("lr: {low: 0.01, high: 0.5, log: true}", search)
    kept = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    _refused(run_cli(capfd, "tune", _study(tmp_path, synthetic_root, text=changed), *args, "--runs-root", runs,
                     "--book", scratch_book(tmp_path / "book")),
             "study tiny in sqlite:///", "searched batch_size choices [16, 32], lr 0.01..0.5 log;",
             f"searches batch_size choices [16, 32], {now}", "give it another name (the file's study: key)")
    assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == kept
    assert [p.name for p in (tmp_path / "book").iterdir()] == ["_toc.yml"]  # no page written


@pytest.mark.parametrize("change, now", [
    (("epochs: 2,", "epochs: 1,"), "epochs: 2 → 1"),
    (("model: resnet_20", "model: resnet_32"), "model: 'resnet_20' → 'resnet_32'"),
    (("max_steps_per_epoch: 1,", "max_steps_per_epoch: 1, overrides: {weight_decay: 0.001},"),
     "overrides.weight_decay: 0.0005 → 0.001"),
], ids=["epochs", "model", "recipe"])
def test_a_study_file_whose_fixed_settings_changed_is_refused_before_any_trial_and_the_study_is_kept(
        tmp_path, capfd, synthetic_root, change, now):
    """Only the search space was compared: a study file with other epochs (or model, or recipe field) added its
    trials to the old ones, its best trial compared them, and --finish re-ran the best values with settings that
    trial never trained with."""
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=1))
    runs = tmp_path / "runs"
    workers.run_trials(spec, runs, spec.storage_url(runs), jobs=1, execute=FakeRuns(seconds=0), log=lambda *_: None)
    text = STUDY.format(root=synthetic_root, n_trials=2)
    assert change[0] in text
    kept = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}
    for args in ([], ["--finish"]):
        _refused(run_cli(capfd, "tune", _study(tmp_path, synthetic_root, text=text.replace(*change)), *args,
                         "--runs-root", runs, "--book", scratch_book(tmp_path / "book")),
                 "study tiny in sqlite:///", "ran its trials with other fixed settings", now,
                 "give it another name (the file's study: key)")
        assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == kept
        assert [p.name for p in (tmp_path / "book").iterdir()] == ["_toc.yml"]  # no page written
    # more trials, another data folder: the same study, resumed
    again = load_study_file(_study(tmp_path, synthetic_root, text=text.replace(f"data_root: {synthetic_root}",
                                                                               f"data_root: {tmp_path}")))
    fake = FakeRuns(seconds=0)
    assert workers.run_trials(again, runs, again.storage_url(runs), jobs=1, execute=fake, log=lambda *_: None) == {
        "complete": 2} and len(fake.executed) == 1


def test_study_file_puts_searched_recipe_fields_in_overrides_and_run_settings_at_the_top(tmp_path):
    spec = load_study_file(_study(tmp_path, "/data"))
    config = spec.config({"lr": 0.2, "batch_size": 16}, tmp_path / "r", "r")
    assert config["overrides"] == {"lr": 0.2} and config["batch_size"] == 16 and config["val_fraction"] == 0.25
    assert spec.storage_url(tmp_path / "runs") == f"sqlite:///{tmp_path / 'runs' / 'tiny' / 'optuna.db'}"


@pytest.mark.slow  # trains one epoch in this process
def test_trial_reports_validation_top1_each_epoch_and_is_pruned_with_its_epoch_and_reason(
        tmp_path, synthetic_root, monkeypatch):
    text = STUDY.format(root=synthetic_root, n_trials=2) + "pruner: {kind: median, n_startup_trials: 3}\n"
    spec = load_study_file(_study(tmp_path, synthetic_root, text=text))
    url = spec.storage_url(tmp_path / "runs")
    monkeypatch.setenv(STORAGE_ENV, url)
    study = workers.open_study(spec, url)
    for n in range(3):  # earlier trials far ahead at every epoch: the median pruner stops the next after epoch 1
        study.add_trial(optuna.trial.create_trial(
            params={"lr": 0.1, "batch_size": 16}, distributions=study.get_trials()[0].distributions if n else {
                "lr": optuna.distributions.FloatDistribution(0.01, 0.5, log=True),
                "batch_size": optuna.distributions.CategoricalDistribution([16, 32])},
            value=99.0, intermediate_values={1: 99.0, 2: 99.0}))
    trial = study.ask()
    run = workers.trial_run(spec, trial, tmp_path / "runs")
    record = train(run.plan)
    assert record["status"] == "pruned" and record["pruned_at_epoch"] == 1 and record["epochs_done"] == 1
    assert "median pruner after epoch 1" in record["reason"]
    rows = [json.loads(line) for line in (run.run_dir / records.METRICS).read_text().splitlines()]
    assert study._storage.get_trial(trial._trial_id).intermediate_values == {1: rows[0]["val_top1"]}
    # the trial evaluated its validation split, never the test set
    assert record["dataset"]["test_size"] == record["dataset"]["val_size"] == 32
    assert record["tuning"] == {"study": "tiny", "trial": 3,
                                "held_out": "the validation split, evaluated in place of the test set"}


class FakeRuns:
    """Executes a trial's run without a kernel: a complete record whose validation top-1 is the trial's lr × 100;
    every execution is noted (run id, lr), and one overlaps another so two workers truly run side by side."""

    def __init__(self, stop_first=False, seconds=0.3, prune_second=False):
        self.executed, self.lock, self.stop_first, self.seconds = [], threading.Lock(), stop_first, seconds
        self.prune_second = prune_second

    def __call__(self, run, slot):
        with self.lock:
            self.executed.append((run.run_id, run.plan.config.overrides["lr"]))
            stop = self.stop_first and len(self.executed) == 1
        if stop:
            raise KeyboardInterrupt("stopped")
        time.sleep(self.seconds)
        value = 100 * run.plan.config.overrides["lr"]
        if self.prune_second and len(self.executed) == 2:
            records.save(run.run_dir, records.prune(start_record(run.plan), "behind", pruned_at_epoch=1))
        else:
            records.save(run.run_dir, records.finish(start_record(run.plan), final={"top1": value}))
        return 0, ""


@pytest.mark.slow  # trains one epoch in this process
def test_a_trials_checkpoint_evaluated_on_the_test_set_says_its_score_is_not_the_studys_result(
        tmp_path, capfd, synthetic_root, monkeypatch):
    """`evaluate <trial run>` printed a bare test top-1 for a trial chosen on its validation split, which reads as
    the study's result; evaluating every trial so and keeping the best would tune on the test set."""
    from IPython import display

    from cifar100lab.report import show_evaluation
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=1))
    url = spec.storage_url(tmp_path / "runs")
    monkeypatch.setenv(STORAGE_ENV, url)
    run = workers.trial_run(spec, workers.open_study(spec, url, heartbeat=False).ask(), tmp_path / "runs")
    assert train({**run.plan.config.to_dict(), "epochs": 1})["status"] == "complete"
    done = run_cli(capfd, "evaluate", run.run_dir)
    assert done.returncode == 0 and done.stdout.count("\n") == 2, done.stdout + done.stderr
    note = ("note: tiny-t0000 is trial 0 of tuning study tiny, which chooses among its trials on their validation "
            "split: this test score is one look at one trial, not the study's result (choosing trials by it would "
            "tune on the test set); the study's test result is what `python -m cifar100lab tune <its study file> "
            "--finish` measures")
    assert " test images of " in done.stdout.splitlines()[0] and done.stdout.splitlines()[1].startswith(note)
    result = json.loads((run.run_dir / "evaluation.json").read_text())
    assert result["tuning_trial"]["study"] == "tiny" and result["tuning_trial"]["number"] == 0  # the file says so too
    shown = []
    monkeypatch.setattr(display, "display", lambda obj, *a, **k: shown.append(obj))
    show_evaluation(result)  # the evaluate notebook's display: the note above the table
    assert shown[0].data.startswith("**Note:** tiny-t0000 is trial 0 of tuning study tiny")


def test_two_local_workers_on_one_sqlite_storage_never_run_the_same_trial(tmp_path, synthetic_root):
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=4))
    url = spec.storage_url(tmp_path / "runs")
    fake = FakeRuns()
    states = workers.run_trials(spec, tmp_path / "runs", url, jobs=2, execute=fake, log=lambda *_: None)
    assert states == {"complete": 4}
    run_ids = [rid for rid, _ in fake.executed]
    assert sorted(run_ids) == [f"tiny-t{n:04d}" for n in range(4)]  # each trial ran once, by one worker
    study = workers.open_study(spec, url)
    for t in study.get_trials():
        assert t.user_attrs["run_id"] == f"tiny-t{t.number:04d}" and t.value == pytest.approx(100 * t.params["lr"])


@pytest.mark.parametrize("n_trials, jobs", [(3, 2), (1, 2)])
def test_workers_side_by_side_run_exactly_n_trials_however_many_they_are(tmp_path, synthetic_root, n_trials, jobs):
    """Each worker counted the trials left and then created its trial: two that counted together each started
    one, so 3 planned trials on 2 workers ran 4 ({'complete': 4}), and 1 on 2 ran 2."""
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=n_trials))
    fake = FakeRuns()  # trials of equal length: the workers count again at the same moment
    states = workers.run_trials(spec, tmp_path / "runs", spec.storage_url(tmp_path / "runs"), jobs=jobs,
                                execute=fake, log=lambda *_: None)
    assert states == {"complete": n_trials} and len(fake.executed) == n_trials


def test_two_tunes_on_one_study_side_by_side_run_exactly_n_trials(tmp_path, synthetic_root, monkeypatch):
    """Two `tune` processes on one study (a Slurm array's tasks, each one worker) each held only its own lock
    while it counted the trials left and created one: 1 planned trial ran twice. Two run_trials side by side here
    each have their own threads' lock; the count is slowed so that both count before either creates."""
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=1))
    url = spec.storage_url(tmp_path / "runs")
    workers.open_study(spec, url)  # created once, as `tune` does before it submits the array
    counted = workers.trials_left

    def slow_count(study, n_trials):
        left = counted(study, n_trials)
        time.sleep(0.5)
        return left
    monkeypatch.setattr(workers, "trials_left", slow_count)
    fake = FakeRuns(seconds=0)
    tunes = [threading.Thread(target=workers.run_trials, args=(spec, tmp_path / "runs", url),
                              kwargs=dict(jobs=1, execute=fake, log=lambda *_: None)) for _ in range(2)]
    for t in tunes:
        t.start()
    for t in tunes:
        t.join()
    assert len(fake.executed) == 1 and workers.trial_states(workers.open_study(spec, url)) == {"complete": 1}

@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_a_seeded_study_resumed_or_on_two_workers_does_not_repeat_its_earlier_trials_values(
        tmp_path, synthetic_root, sampler):
    """The sampler was seeded once per process: a resumed tune (and each Slurm worker, a process of its own) drew
    the same values again, so with sampler_seed: 0 trial 2 repeated trial 0 and trial 3 trial 1."""
    text = STUDY.format(root=synthetic_root, n_trials=2) + f"sampler: {sampler}\nsampler_seed: 0\n"
    runs, lrs = tmp_path / "runs", []
    for n_trials in (2, 4):  # a study run, then resumed for two more trials (a new process: a new sampler)
        spec = load_study_file(_study(tmp_path, synthetic_root, text=text.replace("n_trials: 2", f"n_trials: {n_trials}")))
        fake = FakeRuns(seconds=0)
        workers.run_trials(spec, runs, spec.storage_url(runs), jobs=1, execute=fake, log=lambda *_: None)
        lrs += [lr for _, lr in fake.executed]
    assert len(lrs) == 4 and len(set(lrs)) == 4, lrs
    # still reproducible: the same file on a fresh storage draws the same values
    spec = load_study_file(_study(tmp_path, synthetic_root, text=text.replace("n_trials: 2", "n_trials: 4")))
    fake = FakeRuns(seconds=0)
    workers.run_trials(spec, tmp_path / "again", spec.storage_url(tmp_path / "again"), jobs=1, execute=fake,
                       log=lambda *_: None)
    assert [lr for _, lr in fake.executed] == lrs


def test_a_killed_tune_resumes_its_study_and_retries_the_trial_its_dead_worker_left_running(tmp_path, synthetic_root):
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=2))
    url = spec.storage_url(tmp_path / "runs")
    study = workers.open_study(spec, url)
    orphan = study.ask()
    params = {p.name: p.suggest(orphan) for p in spec.search}
    study._storage.record_heartbeat(orphan._trial_id)  # its worker beat once, then was killed
    # a minute ago: its last beat is far past the grace period (twice the 1-second heartbeat), as a wait would leave it
    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db, db:
        db.execute("UPDATE trial_heartbeats SET heartbeat = datetime(heartbeat, '-60 seconds')")
    fake = FakeRuns(seconds=0)
    states = workers.run_trials(spec, tmp_path / "runs", url, jobs=1, execute=fake, log=lambda *_: None)
    assert states == {"retried": 1, "complete": 2}  # its retry stands for the dead worker's trial
    assert ("tiny-t0000", params["lr"]) in fake.executed  # retried with its parameters, in its first try's folder
    assert len(fake.executed) == 2


def test_a_stopped_tune_marks_its_running_trial_failed_and_the_next_tune_retries_it(tmp_path, synthetic_root, caplog):
    """The stopped trial stays failed in the storage, but its retry stands for it: the study and its page said
    "1 failed" of a study that had failed nothing."""
    from cifar100lab.report.tuning import write_tuning_page
    from cifar100lab.tune.summary import write_summary
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=2))
    url = spec.storage_url(tmp_path / "runs")
    first = FakeRuns(stop_first=True)
    caplog.set_level(logging.WARNING, logger="optuna")
    workers.run_trials(spec, tmp_path / "runs", url, jobs=1, execute=first, log=lambda *_: None)
    assert first.executed == first.executed[:1]  # stopped in its first trial
    # Optuna's warning of the stopped trial, with the stop's traceback, is in the trial's log, not on the console
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("optuna")]
    assert "KeyboardInterrupt: stopped" in (tmp_path / "runs" / "tiny" / "logs" / f"{first.executed[0][0]}.log").read_text()
    again = FakeRuns(seconds=0)
    states = workers.run_trials(spec, tmp_path / "runs", url, jobs=1, execute=again, log=lambda *_: None)
    assert states == {"retried": 1, "complete": 2}
    assert again.executed[0] == first.executed[0]  # the same run folder and parameters, before any new trial
    write_summary(spec, workers.open_study(spec, url), tmp_path / "runs")
    en, zh = (p.read_text() for p in write_tuning_page(tmp_path / "runs", tmp_path / "book"))
    assert "2 complete, 0 pruned, 0 failed (1 more stopped and run again" in en
    assert "完成 2，剪枝 0，失败 0（另有 1 次被中断后重新运行" in zh


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt, as Ctrl-C does in a terminal, even where this process started with SIGINT
    ignored (a shell's `cmd &` starts it so); as it was after."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


class StoppedMidTrial(FakeRuns):
    """A trial's run that has trained its first epoch when the user stops ``tune`` (a real SIGINT to the main
    thread), then waits, as a kernel does, until its slot kills it."""

    def __call__(self, run, slot):
        self.executed.append((run.run_id, run.plan.config.overrides["lr"]))
        records.save(run.run_dir, start_record(run.plan))
        (run.run_dir / records.METRICS).write_text(json.dumps({"epoch": 1, "train_loss": 2.0, "top1": 20.0}) + "\n")
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        deadline = time.time() + 10
        while not slot.killed and time.time() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt("its kernel was stopped")


@pytest.mark.parametrize("by, zh", [({}, "随超参数搜索一同停止"),
                                   ({"stopped_by": STOPPED_BY_SLURM}, "被 Slurm 停止（作业被取消、抢占或到达时间上限）")],
                         ids=["tune", "slurm"])
def test_a_tune_stopped_mid_trial_records_the_trials_run_as_interrupted_and_the_next_tune_resumes_it(
        tmp_path, synthetic_root, by, zh, ctrl_c_raises):
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=2))
    url = spec.storage_url(tmp_path / "runs")
    first = StoppedMidTrial()
    with pytest.raises(KeyboardInterrupt):
        workers.run_trials(spec, tmp_path / "runs", url, jobs=1, execute=first, log=lambda *_: None, **by)
    run_id = first.executed[0][0]
    record = records.read_json(tmp_path / "runs" / "tiny" / run_id / records.RECORD)
    epochs = record["config"]["epochs"]
    assert record["status"] == "interrupted", record  # not running, for good
    assert record["reason"] == (f"stopped {by.get('stopped_by', 'with its study')} in epoch 2 of {epochs}; running "
                                f"tune again starts it over from epoch 1: no checkpoint was saved yet")  # none written
    assert i18n.reason(record["reason"])["zh"] == (f"{zh}，于第 2 个 epoch（共 {epochs} 个）；再次运行超参数搜索将从第 1 个 "
                                                   f"epoch 重新开始：尚未保存任何检查点")
    again = FakeRuns(seconds=0)
    workers.run_trials(spec, tmp_path / "runs", url, jobs=1, execute=again, log=lambda *_: None)
    assert again.executed[0] == first.executed[0]  # the same run folder and parameters


def test_a_slurm_tune_worker_that_gets_scancels_sigterm_stops_its_trial_and_waits_for_slurm(tmp_path, monkeypatch):
    from cifar100lab.executors import slurm as slurm_executor
    from cifar100lab.kernels import Stopped
    from cifar100lab.tune import slurm as tune_slurm
    from cifar100lab.tune import study as study_module
    went_on = []

    def trials(spec, runs_root, url, jobs, stopped_by):
        assert stopped_by == STOPPED_BY_SLURM  # what the stopped trial's record will say stopped it
        os.kill(os.getpid(), signal.SIGTERM)  # scancel; submitit ignores it
        time.sleep(1)
        went_on.append("the trial went on training")
    monkeypatch.setattr(workers, "run_trials", trials)
    monkeypatch.setattr(study_module, "load_study_file", lambda path, storage, dataset: None)
    monkeypatch.setattr(slurm_executor, "STOPPED_WAIT_S", 0)  # Slurm's SIGKILL would end the wait
    monkeypatch.setenv(STORAGE_ENV, "sqlite:///study.db")
    monkeypatch.chdir(tmp_path)  # the worker moves to its cwd
    def ignored(*_):  # as submitit does; without the worker's own handler, scancel's SIGTERM would end here
        pass
    before = signal.signal(signal.SIGTERM, ignored)
    try:
        with pytest.raises(Stopped):
            tune_slurm.TuneWorker("study.yaml", str(tmp_path / "runs"), str(tmp_path))()
        assert signal.getsignal(signal.SIGTERM) is ignored  # the job's handler is back
    finally:
        signal.signal(signal.SIGTERM, before)
    assert went_on == []


def test_a_slurm_worker_tunes_on_the_dataset_tune_was_given(tmp_path, monkeypatch):
    """Each array task loads the study file again: without the --dataset given to tune, it read the file's."""
    from cifar100lab.tune import slurm as tune_slurm
    from cifar100lab.tune import study as study_module
    loaded = []
    monkeypatch.setattr(study_module, "load_study_file", lambda path, storage, dataset: loaded.append(dataset))
    monkeypatch.setattr(workers, "run_trials", lambda *a, **k: {})
    monkeypatch.setenv(STORAGE_ENV, "sqlite:///study.db")
    monkeypatch.chdir(tmp_path)
    tune_slurm.TuneWorker("study.yaml", str(tmp_path / "runs"), str(tmp_path), "fashion-mnist")()
    assert loaded == ["fashion-mnist"]


def test_finish_reruns_the_best_configuration_with_the_study_seeds_as_a_campaign_entry_on_the_test_set(
        tmp_path, synthetic_root):
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=3))
    url = spec.storage_url(tmp_path / "runs")
    workers.run_trials(spec, tmp_path / "runs", url, jobs=1, execute=FakeRuns(seconds=0), log=lambda *_: None)
    study = workers.open_study(spec, url)
    best = max(study.get_trials(), key=lambda t: t.value)
    camp = load_campaign(finish_campaign_file(spec, study.best_trial, tmp_path / "runs"), runs_root=tmp_path / "runs")
    assert camp.name == "tiny-best" and camp.seeds == [0, 1]
    assert [r.run_id for r in camp.runs] == ["tiny-best-resnet_20-s0", "tiny-best-resnet_20-s1"]
    for run in camp.runs:
        cfg = run.config
        assert cfg.overrides == {"lr": best.params["lr"]} and cfg.batch_size == best.params["batch_size"]
        assert cfg.trial is None and cfg.val_fraction == 0.25  # an ordinary run: it evaluates the test set


def test_finish_reruns_on_the_studys_dataset_whatever_cifar100lab_dataset_says(tmp_path, synthetic_root, monkeypatch):
    """The re-runs were a campaign, which puts $CIFAR100LAB_DATASET before its file's dataset: with it set (as the
    README suggests offline), a study tuned on one dataset was tested on another, and its page showed that test
    top-1 under the study's dataset."""
    from cifar100lab.executors import local
    from cifar100lab.tune.finish import finish
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=1))
    url = spec.storage_url(tmp_path / "runs")
    workers.run_trials(spec, tmp_path / "runs", url, jobs=1, execute=FakeRuns(seconds=0), log=lambda *_: None)
    ran = []
    monkeypatch.setattr(local, "execute", lambda camp, *a, **k: ran.append(camp) or {"failed": 0})
    monkeypatch.setenv("CIFAR100LAB_DATASET", "fashion-mnist")
    finish(spec, workers.open_study(spec, url), tmp_path / "runs", tmp_path / "book", log=lambda *_: None)
    assert ran[0].dataset == "synthetic" and {r.config.dataset for r in ran[0].runs} == {"synthetic"}


def test_finish_reruns_train_on_as_many_processes_as_the_best_trial_did(tmp_path, synthetic_root, monkeypatch):
    """batch_size and lr are per process: the trials of a study with jobs: 4 on 4 GPUs trained on 1 process each
    (global batch 16), and `--finish` re-ran the best one on all 4 (global batch 64, linear-scaled lr × 4)."""
    from cifar100lab import kernels, launch
    from cifar100lab.executors import local
    from cifar100lab.tune.finish import finish
    for module in (kernels, launch, local):
        monkeypatch.setattr(module, "visible_gpus", lambda: 4)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    spec = load_study_file(_study(tmp_path, synthetic_root, text=STUDY.format(root=synthetic_root, n_trials=2)
                                  + "jobs: 4\n"))
    runs, url, seen = tmp_path / "runs", spec.storage_url(tmp_path / "runs"), {}

    def processes(slot, num_processes):  # what the slot's kernel launches: auto is every GPU it sees
        return len(slot.env["CUDA_VISIBLE_DEVICES"].split(",")) if num_processes == "auto" else int(num_processes)

    def trial(run, slot):
        record = records.finish(start_record(run.plan), final={"top1": 100 * run.plan.config.overrides["lr"]})
        records.save(run.run_dir, {**record, "hardware": {"count": processes(slot, "auto")}})
        return 0, ""

    def rerun(run, notebook, slot, log_dir, num_processes):
        seen[run.run_id] = processes(slot, num_processes)
        records.save(run.run_dir, records.finish(start_record(run.plan), final={"top1": 1.0, "evaluated": 32}))
        return 0, ""
    workers.run_trials(spec, runs, url, execute=trial, log=lambda *_: None)
    monkeypatch.setattr(local, "execute_notebook", rerun)
    finish(spec, workers.open_study(spec, url), runs, tmp_path / "book", log=lambda *_: None)
    assert seen == {"tiny-best-resnet_20-s0": 1, "tiny-best-resnet_20-s1": 1}


def test_reruns_of_an_earlier_best_trial_are_moved_aside_by_finish_and_never_shown_as_the_new_bests(
        tmp_path, synthetic_root, monkeypatch):
    """More trials found another best: `--finish` kept the earlier best's re-runs (the same run ids, another lr)
    as stale, and the page showed their test top-1 under the new best trial."""
    import dataclasses

    from cifar100lab.executors import local
    from cifar100lab.report.tuning import write_tuning_page
    from cifar100lab.tune.finish import finish
    from cifar100lab.tune.summary import write_summary
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=2))
    runs = tmp_path / "runs"
    url = spec.storage_url(runs)
    workers.run_trials(spec, runs, url, jobs=1, execute=FakeRuns(seconds=0), log=lambda *_: None)
    best = workers.open_study(spec, url).best_trial
    run = load_campaign(finish_campaign_file(spec, best, runs), runs_root=runs).runs[0]
    earlier = dataclasses.replace(run.plan, config=dataclasses.replace(run.config, overrides={"lr": 0.777}))
    records.save(run.run_dir, records.finish(start_record(earlier), final={"top1": 99.0, "evaluated": 32}))
    # the page, before --finish runs again: the re-runs are another trial's
    write_summary(spec, workers.open_study(spec, url), runs,
                  finish={"campaign": "tiny-best", "trial": best.number + 7, "runs": [run.run_id]})
    write_tuning_page(runs, tmp_path / "generated")
    en, zh = ((tmp_path / "generated" / f"tuning_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "99.00" not in en and f"the re-runs there are of trial #{best.number + 7}'s configuration" in en
    assert f"现有的重新训练来自试验 #{best.number + 7} 的配置" in zh
    # --finish: the earlier re-run is kept aside, and its run id trains anew
    seen = []
    monkeypatch.setattr(local, "execute", lambda camp, *a, **k: seen.append(run.run_dir.exists()) or {"failed": 0})
    finish(spec, workers.open_study(spec, url), runs, tmp_path / "book", log=lambda *_: None)
    kept = list(run.run_dir.parent.glob(f"{run.run_id}{records.REPLACED}*"))
    assert seen == [False] and len(kept) == 1 and records.load(kept[0])["final"]["top1"] == 99.0


def test_tune_dataset_replaces_the_files_dataset_and_an_unknown_one_is_refused_before_any_work(
        tmp_path, capfd, synthetic_root):
    """Offline, the CIFAR-100 error tells the user to pass --dataset fashion-mnist, which tune did not take: the
    study file had to be edited."""
    path = _study(tmp_path, synthetic_root, text=STUDY.format(root=synthetic_root, n_trials=1).replace(
        "dataset: synthetic", "dataset: cifar100"))
    spec = load_study_file(path, dataset="synthetic")
    assert spec.dataset == "synthetic" and spec.config(spec.first(), "r", "c")["dataset"] == "synthetic"
    assert load_study_file(path).dataset == "cifar100"
    _refused(run_cli(capfd, "tune", path, "--dataset", "nosuch", "--runs-root", tmp_path / "runs"),
             "unknown dataset 'nosuch'")
    assert not (tmp_path / "runs").exists()


def test_a_study_whose_every_trial_failed_exits_1_saying_so_and_where_the_reasons_are(
        tmp_path, capfd, synthetic_root, monkeypatch):
    """It exited 0, as if the search had found something; what it writes (summary, page) is as before."""
    monkeypatch.setattr(workers, "notebook_execution", lambda *a: lambda run: (1, "RuntimeError: boom"))
    runs, book = tmp_path / "runs", scratch_book(tmp_path / "book")
    result = run_cli(capfd, "tune", _study(tmp_path, synthetic_root), "--runs-root", runs, "--book", book)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "study tiny: fail 2" in result.stdout
    assert (f"study tiny: every trial failed, so it has no result; each trial's reason is in its record "
            f"({runs / 'tiny'}/<trial run>/record.json) and its notebook's output in {runs / 'tiny'}/logs/") \
        in result.stderr
    summary = json.loads((runs / "tiny" / "study.json").read_text())
    assert [t["state"] for t in summary["trials"]] == ["fail", "fail"] and (book / "generated" / "tuning_en.md").exists()
    assert records.load(runs / "tiny" / "tiny-t0000")["reason"] == "notebook failed: RuntimeError: boom"
    from cifar100lab.tune.command import found_nothing
    assert found_nothing("s", {"fail": 1, "running": 1}, runs) is None  # another worker's trial may complete
    assert found_nothing("s", {"fail": 1, "complete": 1}, runs) is None
    assert "no trial completed (fail 1, pruned 2)" in found_nothing("s", {"fail": 1, "pruned": 2}, runs)


def test_a_failed_trial_is_one_line_with_its_error_and_log_and_optunas_traceback_goes_into_that_log(
        tmp_path, capfd, synthetic_root, monkeypatch, caplog):
    """Optuna logged each failed trial as a warning with the failure's whole traceback (and a second warning of its
    value), pages per trial on the console; the worker's own line said only 'trial 0: failed'."""
    caplog.set_level(logging.WARNING, logger="optuna")
    monkeypatch.setattr(workers, "notebook_execution", lambda *a: lambda run: (1, "Traceback\nRuntimeError: boom"))
    runs = tmp_path / "runs"
    result = run_cli(capfd, "tune", _study(tmp_path, synthetic_root), "--runs-root", runs, "--book",
                     scratch_book(tmp_path / "book"))
    assert result.returncode == 1 and "study tiny: fail 2" in result.stdout  # still failed, and counted so
    assert result.stderr.startswith("study tiny: every trial failed") and result.stderr.count("\n") == 1, result.stderr
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("optuna")]  # what Optuna's handler shows
    for n in (0, 1):
        log = runs / "tiny" / "logs" / f"tiny-t000{n}.log"
        assert (f"trial {n}: tiny-t000{n}: failed: notebook failed: RuntimeError: boom; its log: {log}\n"
                in result.stdout)
        kept = log.read_text()
        assert f"Trial {n} failed with parameters" in kept and "Traceback (most recent call last)" in kept
        assert f"TrialFailed: tiny-t000{n}: failed: notebook failed: RuntimeError: boom" in kept


def test_finish_before_any_trial_or_any_complete_trial_is_one_error_line_and_writes_nothing(
        tmp_path, capfd, synthetic_root):
    path = _study(tmp_path, synthetic_root)
    _refused(run_cli(capfd, "tune", path, "--finish", "--runs-root", tmp_path / "runs"),
             "has no trials in", "run `tune` first")
    assert not (tmp_path / "runs").exists()
    spec = load_study_file(path)
    workers.open_study(spec, spec.storage_url(tmp_path / "runs")).ask()  # a trial, none complete
    _refused(run_cli(capfd, "tune", path, "--finish", "--runs-root", tmp_path / "runs"),
             "no complete trial yet", "run `tune` first")
    assert not (tmp_path / "runs" / "tiny" / "finish.yaml").exists()


@pytest.mark.slow  # six figures
def test_tuning_page_shows_each_study_in_both_languages_with_its_plots_pruned_trials_and_tested_reruns(
        tmp_path, synthetic_root):
    from cifar100lab.intervals import wilson
    from cifar100lab.report.tuning import write_tuning_page
    from cifar100lab.tune.summary import write_summary
    spec = load_study_file(_study(tmp_path, synthetic_root, n_trials=4))
    runs = tmp_path / "runs"
    url = spec.storage_url(runs)
    workers.run_trials(spec, runs, url, jobs=1, execute=FakeRuns(seconds=0, prune_second=True), log=lambda *_: None)
    rerun = runs / "tiny-best" / "tiny-best-resnet_20-s0"
    camp = load_campaign(finish_campaign_file(spec, workers.open_study(spec, url).best_trial, runs), runs_root=runs)
    records.save(rerun, records.finish(start_record(camp.runs[0].plan), final={"top1": 37.5, "evaluated": 32}))
    write_summary(spec, workers.open_study(spec, url), runs,
                  finish={"campaign": "tiny-best", "runs": ["tiny-best-resnet_20-s0", "tiny-best-resnet_20-s1"]})
    write_tuning_page(runs, tmp_path / "generated")
    low, high = wilson(37.5, 32)
    for lang, words in (("en", ["3 complete, 1 pruned", "best trial", "1 seed"]), ("zh", ["完成 3，剪枝 1", "最佳试验"])):
        page = (tmp_path / "generated" / f"tuning_{lang}.md").read_text()
        assert page.startswith("## tiny") and f"| 37.50 | {low:.2f}–{high:.2f} |" in page
        for word in words:
            assert word in page, page
        for plot in ("history", "importance", "slice"):
            figure = f"tuning-tiny-{plot}_{lang}.png"
            assert f"../generated/{figure}" in page and (tmp_path / "generated" / figure).exists()


def test_tuning_pages_rerun_mean_names_the_reruns_that_did_not_complete(tmp_path):
    """The mean test top-1 of `--finish`'s re-runs was the complete ones' alone, said as "re-run with 1 seed",
    with no word of the seed that failed (1 of 2 runs); and when every re-run failed the page said "Not re-run yet"."""
    from types import SimpleNamespace

    from cifar100lab.report.tuning import _reruns
    spec, runs = load_study_file(_study(tmp_path, "/data")), tmp_path / "runs"
    best = SimpleNamespace(number=0, value=50.0, params={"lr": 0.1, "batch_size": 16})
    camp = load_campaign(finish_campaign_file(spec, best, runs), runs_root=runs)
    finish = {"campaign": camp.name, "trial": 0, "runs": [r.run_id for r in camp.runs]}
    failed = records.fail(start_record(camp.runs[1].plan), "loss became nan in epoch 1")
    records.save(camp.runs[1].run_dir, failed)
    records.save(camp.runs[0].run_dir, records.finish(start_record(camp.runs[0].plan), final={"top1": 37.5, "evaluated": 32}))
    assert "1 of 2 runs did not complete (failed 1), left out of the mean" in _reruns({"finish": finish}, 0, runs, "en")
    assert "2 次运行中有 1 次未完成（失败 1），未计入平均值" in _reruns({"finish": finish}, 0, runs, "zh")
    records.save(camp.runs[0].run_dir, records.fail(start_record(camp.runs[0].plan), "loss became nan in epoch 1"))
    assert _reruns({"finish": finish}, 0, runs, "en") == ("2 of 2 runs did not complete (failed 2), left out of the "
                                                          "mean\n")


@pytest.mark.slow  # four figures
def test_tuning_page_of_trials_that_all_scored_alike_has_no_importance_plot_and_is_written(tmp_path, synthetic_root):
    """Every trial at chance (a short smoke study): fANOVA raised 'RuntimeError: Encountered zero total variance
    in all trees' while the page was written, so `tune` ended in a traceback after its trials and left no page."""
    from cifar100lab.report.tuning import write_tuning_page
    from cifar100lab.tune.summary import write_summary
    spec, runs = load_study_file(_study(tmp_path, synthetic_root, n_trials=3)), tmp_path / "runs"
    url = spec.storage_url(runs)

    def chance(run, slot):
        records.save(run.run_dir, records.finish(start_record(run.plan), final={"top1": 12.5}))
        return 0, ""
    assert workers.run_trials(spec, runs, url, jobs=1, execute=chance, log=lambda *_: None) == {"complete": 3}
    write_summary(spec, workers.open_study(spec, url), runs)
    en, zh = (p.read_text() for p in write_tuning_page(runs, tmp_path / "generated"))
    assert "tuning-tiny-history_en.png" in en and "tuning-tiny-slice_zh.png" in zh
    assert "importance" not in en + zh and "validation top-1 12.50 %" in en


def test_tuning_page_written_while_a_trial_still_runs_keeps_the_trial_numbers_and_says_it_runs(
        tmp_path, synthetic_root):
    """With trial 0 still running on another worker, the page's figures numbered trials 1 and 2 as 0 and 1 (the
    best trial #1 drawn at 0), and its facts read '3 trial(s) planned: 2 complete, 0 pruned, 0 failed'."""
    from cifar100lab.report.tuning import rebuild, study_section
    from cifar100lab.tune.summary import write_summary
    spec, runs = load_study_file(_study(tmp_path, synthetic_root, n_trials=3)), tmp_path / "runs"
    url = spec.storage_url(runs)
    other = workers.open_study(spec, url, heartbeat=False).ask()  # another worker's trial, under way
    for p in spec.search:
        p.suggest(other)
    workers.run_trials(spec, runs, url, jobs=1, execute=FakeRuns(seconds=0), log=lambda *_: None)
    summary = records.read_json(write_summary(spec, workers.open_study(spec, url, heartbeat=False), runs))
    assert [t.number for t in rebuild(summary).trials if t.value is not None] == [1, 2]
    facts = {lang: study_section({**summary, "search": []}, runs, tmp_path, lang) for lang in ("en", "zh")}
    assert "2 complete, 0 pruned, 0 failed, 1 not finished yet (running, or waiting for a worker);" in facts["en"]
    assert "完成 2，剪枝 0，失败 0，尚未结束 1（运行中或等待执行）；" in facts["zh"]


def test_tuning_page_before_any_study_says_how_to_run_one(tmp_path):
    from cifar100lab.report.tuning import write_tuning_page
    write_tuning_page(tmp_path / "runs", tmp_path / "generated")
    assert "cifar100lab tune params/tune/" in (tmp_path / "generated" / "tuning_en.md").read_text()
    assert "超参数搜索" in (tmp_path / "generated" / "tuning_zh.md").read_text()


def test_storage_that_does_not_answer_is_one_error_line_without_its_password_and_writes_nothing(
        tmp_path, capfd, synthetic_root):
    path = _study(tmp_path, synthetic_root)
    result = run_cli(capfd, "tune", path, "--storage", "mysql+pymysql://tune:s3cret@127.0.0.1:1/optuna",
                     "--runs-root", tmp_path / "runs")
    _refused(result, "cannot open the study's storage mysql+pymysql://tune:***@127.0.0.1:1/optuna")
    assert "s3cret" not in result.stderr + result.stdout and not (tmp_path / "runs").exists()


@pytest.mark.slow  # the train notebook on papermill kernels, as every run
def test_tune_then_finish_end_to_end_trials_are_notebook_runs_and_only_the_reruns_see_the_test_set(
        tmp_path, capfd, synthetic_root):
    text = STUDY.format(root=synthetic_root, n_trials=1).replace("seeds: [0, 1]", "seeds: [1]")
    path = _study(tmp_path, synthetic_root, text=text)
    runs, book = tmp_path / "runs", scratch_book(tmp_path / "book")
    tuned = run_cli(capfd, "tune", path, "--runs-root", runs, "--book", book)
    assert tuned.returncode == 0 and "study tiny: complete 1" in tuned.stdout, tuned.stdout + tuned.stderr
    trial = records.load(runs / "tiny" / "tiny-t0000")
    assert (runs / "tiny" / "tiny-t0000" / "tiny-t0000.ipynb").exists()  # the executed notebook beside its record
    assert trial["status"] == "complete" and trial["tuning"]["trial"] == 0
    assert trial["dataset"]["test_size"] == trial["dataset"]["val_size"] == 32  # its validation split, not the test set
    finished = run_cli(capfd, "tune", path, "--finish", "--runs-root", runs, "--book", book)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    for seed in (1,):
        rerun = records.load(runs / "tiny-best" / f"tiny-best-resnet_20-s{seed}")
        assert rerun["status"] == "complete" and rerun["config"]["trial"] is None
        assert rerun["dataset"]["test_size"] == 48 and rerun["final"]["evaluated"] == 48  # the test subset
        assert (book / "runs" / f"tiny-best-resnet_20-s{seed}.ipynb").exists()
    summary = json.loads((runs / "tiny" / "study.json").read_text())
    assert summary["finish"]["runs"] == ["tiny-best-resnet_20-s1"]
    assert "tiny-best-resnet_20-s1" in (book / "generated" / "tuning_en.md").read_text()


@pytest.mark.parametrize("path", sorted((ROOT / "params" / "tune").glob("*.yaml")), ids=lambda p: p.name)
def test_every_study_file_in_params_is_valid(path):
    spec = load_study_file(path)
    assert spec.defaults["val_fraction"] > 0 and spec.search


def test_a_stopped_trial_whose_retries_are_spent_is_not_said_to_be_enqueued_again(tmp_path):
    """tune printed 'trial(s) 2 were stopped; enqueued again' for a trial stopped after its last retry, which Optuna's
    retry callback does not enqueue: no trial ran for it, and the study counted it failed."""
    from cifar100lab.optuna_parts import RETRIES
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", direction="maximize")
    said = []
    for _ in range(RETRIES + 1):  # the trial, then each of its retries, stopped by Ctrl-C
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(0.01, 0.1)})
        trial.set_user_attr("interrupted", True)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        said.append(workers.retry_interrupted(study))
    assert said == [[n] for n in range(RETRIES)] + [[]]
    assert not [t for t in study.get_trials() if t.state == optuna.trial.TrialState.WAITING]
    assert workers.retried_numbers(study.get_trials(deepcopy=False)) == set(range(RETRIES))  # the last: failed
