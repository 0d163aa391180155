"""Run records and campaign reliability: the record's shape and transitions, atomic + durable writes, a torn
metrics line, the latest attempt on record, one campaign per runs folder (OS locks), stale complete runs."""
import json
import os
import signal
import socket
from pathlib import Path

import pytest
import yaml
from conftest import dies_in_epoch, hold_lock, run_cli, scratch_book, tiny_config

from cifar100lab import campaign as C
from cifar100lab import locks, records
from cifar100lab import train as train_mod
from cifar100lab.cli import main as cli_main
from cifar100lab.config import ConfigError
from cifar100lab.executors import local, slurm
from cifar100lab.runs import describe, record_stopped, run_lock, stale_fields

TINY = dict(epochs=2, max_steps_per_epoch=2, train_subset=128, test_subset=64)


@pytest.fixture
def fsynced(monkeypatch):
    """Every path os.fsync is called on, in order (a folder ends with '/')."""
    calls, real = [], os.fsync

    def spy(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        calls.append(path + "/" if os.path.isdir(path) else path)
        real(fd)
    monkeypatch.setattr(os, "fsync", spy)
    return calls


def _synced_then_renamed(calls, path: Path) -> bool:
    """The temporary file of ``path`` was fsynced, and then its folder (which holds the rename)."""
    tmp = [i for i, c in enumerate(calls) if Path(c).parent == path.parent and Path(c).name.startswith(f".{path.name}.")]
    return bool(tmp) and f"{path.parent}/" in calls[tmp[0] + 1:]


# --- the record ----------------------------------------------------------------------------------------

def test_record_keeps_every_attempt_and_describes_the_latest(tmp_path):
    run = tmp_path / "r"
    first = records.start(run, run_id="r", model="resnet_20")
    assert first["status"] == "running" and first["attempts"][-1]["status"] == "running"
    records.save(run, records.fail(first, "A: data checksum"))
    second = records.fail(records.start(run, run_id="r", model="resnet_20"), "B: loss became nan")
    assert second["status"] == "failed" and second["reason"] == "B: loss became nan"
    assert [(a["status"], a["reason"]) for a in second["attempts"]] == [("failed", "A: data checksum"),
                                                                       ("failed", "B: loss became nan")]
    records.save(run, second)
    records.save(run, records.start(run, run_id="r"))  # this attempt is killed: it stays 'running' on disk
    third = records.finish(records.start(run, run_id="r"), epochs_done=2)
    assert [a["status"] for a in third["attempts"]] == ["failed", "failed", "interrupted", "complete"]
    assert third["status"] == "complete" and third["reason"] is None and third["epochs_done"] == 2
    assert records.skip(records.start(run), "no weights")["status"] == "skipped"


def test_record_written_before_histories_counts_as_one_attempt(tmp_path):
    records.atomic_write_json(tmp_path / records.RECORD, {"status": "failed", "reason": "old", "started": "t0",
                                                          "finished": "t1"})
    rec = records.start(tmp_path)
    assert rec["attempts"][0] == {"started": "t0", "finished": "t1", "status": "failed", "reason": "old"}


def test_every_write_is_fsynced_before_and_after_the_rename(tmp_path, fsynced):
    records.atomic_write_json(tmp_path / "a.json", {"x": 1})
    assert _synced_then_renamed(fsynced, tmp_path / "a.json")
    assert records.read_json(tmp_path / "a.json") == {"x": 1} and list(tmp_path.iterdir()) == [tmp_path / "a.json"]
    from cifar100lab.data import write_synthetic_cifar100  # data files go through the same write
    folder = write_synthetic_cifar100(tmp_path / "syn", train_size=20, test_size=10, num_classes=10)
    assert _synced_then_renamed(fsynced, folder / "train")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    records.atomic_write_text(tmp_path / "f.txt", "old")

    def dies(f):
        f.write(b"half")
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        records.atomic_write(tmp_path / "f.txt", dies)
    assert (tmp_path / "f.txt").read_text() == "old" and list(tmp_path.iterdir()) == [tmp_path / "f.txt"]


def test_training_fsyncs_checkpoint_config_and_record_and_declares_every_record_key(synthetic_root, tmp_path,
                                                                                   fsynced):
    rec = train_mod.train(tiny_config(synthetic_root, tmp_path / "run", **TINY))
    for name in (records.CHECKPOINT, records.CONFIG, records.RECORD):
        assert _synced_then_renamed(fsynced, tmp_path / "run" / name), name
    assert rec["status"] == "complete" and [a["status"] for a in rec["attempts"]] == ["complete"]
    assert set(rec) <= set(records.RunRecord.__annotations__), set(rec) - set(records.RunRecord.__annotations__)


def test_a_bad_metrics_line_before_the_last_is_an_error_naming_it(tmp_path):
    (tmp_path / records.METRICS).write_text('{"epoch": 1}\nnot json\n{"epoch": 3}\n')
    with pytest.raises(ValueError, match="line 2"):
        records.read_metrics(tmp_path)


# --- campaigns -----------------------------------------------------------------------------------------

def _campaign(tmp_path, synthetic_root, **defaults):
    spec = {"name": "rel", "dataset": "synthetic", "seeds": [0], "models": ["resnet_20", "eca_resnet_20"],
            "defaults": {"epochs": 1, "batch_size": 16, "train_subset": 128, "test_subset": 64,
                         "max_steps_per_epoch": 2, "data_root": str(synthetic_root), "progress": False, **defaults}}
    path = tmp_path / "rel.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _fake_execute(calls, code=0, tail=""):
    def run(run, notebook, slot, log_dir, num_processes):
        assert locks.holder(run_lock(run)), "a run executes under its lock"
        calls.append(run.run_id)
        if code == 0:
            records.save(run.run_dir, records.finish(records.start(run.run_dir, config=run.config.to_dict())))
        return code, tail
    return run


def test_jobs_that_change_the_campaigns_process_count_say_so_before_the_runs(tmp_path, synthetic_root, monkeypatch):
    """full.yaml asks num_processes: 8 (global batch 1,024, the original's); --jobs 8 trained each run on one process,
    a global batch of 128 at the same lr, without a word."""
    spec = yaml.safe_load(_campaign(tmp_path, synthetic_root).read_text())
    (tmp_path / "rel.yaml").write_text(yaml.safe_dump({**spec, "num_processes": 2}))
    camp, calls, said = C.load_campaign(tmp_path / "rel.yaml", runs_root=tmp_path / "runs"), [], []
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    local.execute(camp, tmp_path / "runs", jobs=2, log=said.append)
    assert len(calls) == 2 and [r.processes for r in camp.runs] == [1, 1]
    [line] = [s for s in said if "gives way" in s]
    assert "num_processes: 2 gives way to 2 runs side by side: each trains on 1 process(es), so its global batch " \
           "is batch_size × 1, not × 2" in line
    said.clear()
    local.execute(camp, tmp_path / "runs", jobs=1, log=said.append, force=True)
    assert not [s for s in said if "gives way" in s]


def test_rerun_failing_for_a_new_reason_records_the_new_reason_and_keeps_the_old(tmp_path, synthetic_root,
                                                                               monkeypatch):
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=tmp_path / "runs")
    run = camp.runs[0]
    records.save(run.run_dir, records.fail(records.start(run.run_dir, run_id=run.run_id), "A: loss became nan"))
    monkeypatch.setattr(local, "execute_notebook", _fake_execute([], code=1, tail="Traceback ...\nDataError: B: md5 mismatch"))
    summary = local.execute(camp, tmp_path / "runs", log=lambda *_: None)
    rec = records.load(run.run_dir)
    assert run.run_id in summary["failed"] and rec["status"] == "failed" and "B: md5 mismatch" in rec["reason"]
    assert [a["reason"] for a in rec["attempts"]] == ["A: loss became nan", "notebook failed: DataError: B: md5 mismatch"]


def test_each_attempt_of_a_run_keeps_its_own_log(tmp_path, synthetic_root):
    """A failed run's log (its traceback) was overwritten when the campaign ran it again, as was the log of a
    folder --force moved aside: the record keeps only the error's last line."""
    from cifar100lab.runs import execute_notebook
    run = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=tmp_path / "runs").runs[0]
    logs = tmp_path / "logs"

    class Slot:  # writes its log as KernelSlot.execute does: the attempt's own, from its first line
        def __init__(self, attempt):
            self.attempt = attempt

        def execute(self, notebook, target, params, log_stem):
            log_stem.with_name(log_stem.name + ".log").write_text(f"attempt {self.attempt}\n")
            return 1, "Traceback ...\n"
    for attempt in (1, 2, 3):
        execute_notebook(run, Path("train.ipynb"), Slot(attempt), logs, 1)
    assert {p.name: p.read_text() for p in logs.iterdir()} == {
        f"{run.run_id}.log": "attempt 3\n", f"{run.run_id}.log.1": "attempt 1\n", f"{run.run_id}.log.2": "attempt 2\n"}


def test_trainer_that_began_and_died_has_that_attempt_marked_failed(tmp_path, synthetic_root, monkeypatch):
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=tmp_path / "runs")

    def began_then_died(run, *a):
        records.save(run.run_dir, records.start(run.run_dir, run_id=run.run_id))
        return 1, "Killed"
    monkeypatch.setattr(local, "execute_notebook", began_then_died)
    local.execute(camp, tmp_path / "runs", log=lambda *_: None)
    rec = records.load(camp.runs[0].run_dir)
    assert rec["status"] == "failed" and [a["status"] for a in rec["attempts"]] == ["failed"]


def test_complete_run_with_a_changed_config_is_stale_and_reruns_only_with_force(tmp_path, synthetic_root,
                                                                               monkeypatch, capsys):
    runs, calls = tmp_path / "runs", []
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    local.execute(C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs), runs, log=lambda *_: None)
    assert len(calls) == 2
    edited = _campaign(tmp_path, synthetic_root, epochs=2, overrides={"lr": 0.05})  # the YAML is edited
    args = ["campaign", str(edited), "--runs-root", str(runs), "--book", str(scratch_book(tmp_path / "book")), "--no-analysis"]
    assert cli_main(args + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("stale") == 2 and "epochs: 1 → 2" in out and "overrides: {} → {'lr': 0.05}" in out
    assert cli_main(args) == 3 and len(calls) == 2  # reported, not re-run
    out = capsys.readouterr().out
    both = ("2 run(s) complete, but the campaign now asks epochs: 1 → 2; overrides: {} → {'lr': 0.05}: "
            "rel-resnet_20-s0, rel-eca_resnet_20-s0; --force re-runs them (their folders are moved aside)")
    assert out.count(both) == 2, out  # once as the campaign starts, once in its summary: a line per change, not per run
    assert f"stale, not re-run: {both}\n" in out and f"  stale: {both}\n" in out
    assert cli_main(args + ["--force"]) == 0 and len(calls) == 4
    assert "stale" not in (capsys.readouterr().out) and cli_main(args) == 0  # now up to date


def test_campaign_status_shows_a_stale_run_as_stale_and_exits_3_as_the_campaign_does(tmp_path, synthetic_root,
                                                                                     monkeypatch, capsys):
    """``--status`` (and the Slurm executor, which reports the same states) showed a complete run whose campaign
    now asks 2 epochs instead of 1 as ``complete`` with its old top-1, and exited 0, where the campaign itself
    says stale and exits 3."""
    runs = tmp_path / "runs"
    monkeypatch.setattr(local, "execute_notebook", _fake_execute([]))
    local.execute(C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs), runs, log=lambda *_: None)
    edited = _campaign(tmp_path, synthetic_root, epochs=2)
    assert cli_main(["campaign", str(edited), "--runs-root", str(runs), "--status"]) == 3
    out = capsys.readouterr().out
    assert "campaign rel: stale 2" in out and "complete" not in out.split("\n")[1].split()
    assert "stale: resnet_20-s0: complete, but the campaign now asks epochs: 1 → 2; not run again" in out, out


def test_runs_kept_stale_by_a_dataset_change_are_told_how_to_go_on_with_the_recorded_dataset(
        tmp_path, synthetic_root, monkeypatch, capsys):
    runs, calls = tmp_path / "runs", []
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    local.execute(camp, runs, log=lambda *_: None)
    for run in camp.runs:  # as if the campaign had run on the stand-in
        rec = records.load(run.run_dir)
        records.save(run.run_dir, {**rec, "config": {**rec["config"], "dataset": "fashion-mnist"}})
    args = ["campaign", str(_campaign(tmp_path, synthetic_root)), "--runs-root", str(runs), "--book",
            str(scratch_book(tmp_path / "book")), "--no-analysis"]
    assert cli_main(args) == 3 and len(calls) == 2
    out = capsys.readouterr().out
    assert ("  stale: 2 run(s) complete, but the campaign now asks dataset: 'fashion-mnist' → 'synthetic': "
            "rel-resnet_20-s0, rel-eca_resnet_20-s0; --force re-runs them (their folders are moved aside), "
            "--dataset fashion-mnist goes on with the runs as recorded") in out, out


def test_a_complete_run_trained_on_another_process_count_is_stale_not_already_done(tmp_path, synthetic_root,
                                                                                   monkeypatch):
    """The count sets the global batch and lr, and the trainer refuses such a record as not its result; yet the
    campaign, its YAML edited from num_processes 1 to 2, counted the 1-process run as already done (stale: []) and
    its manifest kept it in the book."""
    runs, calls = tmp_path / "runs", []
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    for run in camp.runs:  # trained on one process, as its record says
        records.save(run.run_dir, {**records.finish(records.start(run.run_dir, config=run.config.to_dict())),
                                   "hardware": {"device": "cpu", "count": 1}})
    path = _campaign(tmp_path, synthetic_root)
    path.write_text(path.read_text() + "num_processes: 2\n")
    summary = local.execute(C.load_campaign(path, runs_root=runs), runs, log=lambda *_: None)
    assert summary["stale"] == [r.run_id for r in camp.runs] and summary["already"] == [] and calls == []
    manifest = records.read_json(runs / "rel" / records.MANIFEST)
    assert manifest["stale"][camp.runs[0].run_id]["fields"] == ["processes: 1 → 2"]


def test_a_complete_run_whose_recipe_was_edited_in_the_code_since_is_stale(tmp_path, synthetic_root, monkeypatch):
    """The recorded config was resolved again with the recipe as the code says it now: a run trained at the
    resnet_sgd recipe's lr 0.1 was counted up to date (stale: []) after the recipe's lr became 0.2, and its result
    ranked beside runs trained at 0.2. Its record says the recipe it trained with."""
    import dataclasses

    from cifar100lab import recipes
    path = _campaign(tmp_path, synthetic_root)
    run = C.load_campaign(path, runs_root=tmp_path / "runs").runs[0]
    record = records.finish(records.start(run.run_dir, config=run.config.to_dict()))
    records.save(run.run_dir, {**record, "recipe": run.plan.recipe_record(1)})
    assert run.plan.recipe.lr == 0.1 and stale_fields(run) == []
    monkeypatch.setitem(recipes.RECIPES, "resnet_sgd", dataclasses.replace(recipes.RECIPES["resnet_sgd"], lr=0.2))
    run = C.load_campaign(path, runs_root=tmp_path / "runs").runs[0]
    assert stale_fields(run) == ["overrides.lr: 0.1 → 0.2"]


def test_a_field_added_since_a_run_was_recorded_does_not_make_it_stale(tmp_path, synthetic_root):
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=tmp_path / "runs")
    run = camp.runs[0]
    old_config = {k: v for k, v in run.config.to_dict().items() if k != "augment"}  # augment: its default
    records.save(run.run_dir, records.finish(records.start(run.run_dir, config=old_config)))
    assert stale_fields(run) == [] and describe(run) == "complete"


def test_campaign_records_its_wall_time_and_each_runs_time_only_when_it_ran_something(tmp_path, synthetic_root,
                                                                                     monkeypatch):
    runs, calls = tmp_path / "runs", []
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    local.execute(camp, runs, log=lambda *_: None)
    timing = records.read_json(runs / "rel" / records.TIMING)
    assert [r["run_id"] for r in timing["runs"]] == calls and {r["status"] for r in timing["runs"]} == {"complete"}
    assert timing["wall_seconds"] >= max(r["seconds"] for r in timing["runs"]) > 0
    assert timing["jobs"] == 1 and timing["cpus"] == os.cpu_count() and timing["already_done"] == 0
    # named as a benchmark record names its device, so the Performance page sets only this device's estimate beside it
    assert timing["device"] == records.device_name("cpu")
    before = (runs / "rel" / records.TIMING).read_text()
    local.execute(camp, runs, log=lambda *_: None)  # nothing to run: the last timing that ran something stays
    assert (runs / "rel" / records.TIMING).read_text() == before


def test_offline_fine_tune_is_skipped_by_the_campaign_without_starting_its_notebook(tmp_path, synthetic_root,
                                                                                   monkeypatch):
    """HF_HUB_OFFLINE (set for the tests) and no cached weights: the campaign finds out itself, writes the skipped
    record the trainer would write, and starts no kernel for it (the other run still runs)."""
    runs, calls = tmp_path / "runs", []
    path = _campaign(tmp_path, synthetic_root)
    spec = yaml.safe_load(path.read_text())
    spec["defaults"]["overrides"] = {"warmup_epochs": 0}
    path.write_text(yaml.safe_dump({**spec, "models": ["resnet_20", "mlp_mixer_b16"]}))
    # as if the hub answered when the campaign was loaded (so no from-scratch row is planned): the run finds out
    monkeypatch.setattr("cifar100lab.campaign.hub_weights_unreachable", lambda name, probe=None: None)
    camp = C.load_campaign(path, runs_root=runs, book_dir=tmp_path / "book")
    tuned = next(r for r in camp.runs if r.config.model == "mlp_mixer_b16")
    tuned.notebook.parent.mkdir(parents=True)
    tuned.notebook.write_text("{}")  # an earlier attempt's page
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    summary = local.execute(camp, runs, log=lambda *_: None)
    assert calls == ["rel-resnet_20-s0"] and summary["skipped"] == [tuned.run_id]
    rec = records.load(tuned.run_dir)
    assert rec["status"] == "skipped" and rec["reason"].startswith("pretrained weights unavailable: HF_HUB_OFFLINE")
    assert rec["pretrained"] == "hub" and rec["group"] == "MLP" and rec["dataset"]["kind"] == "synthetic"
    assert [a["status"] for a in rec["attempts"]] == ["skipped"] and not tuned.notebook.exists()


def test_a_fine_tune_skipped_offline_and_since_asked_from_scratch_is_trained_not_counted_done(
        tmp_path, synthetic_root, monkeypatch):
    """A skipped run was done whatever its settings: the entry edited to pretrained: off (no weights needed) was
    still counted already done, "skipped for want of pretrained weights", and never trained. The same skip is
    still done (tried again only with --retry-skipped)."""
    runs, calls = tmp_path / "runs", []
    path = _campaign(tmp_path, synthetic_root, overrides={"warmup_epochs": 0})
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, "models": [{"model": "pvt_v2_b0", "pretrained": "off", "img_size": 32}]}))
    run = C.load_campaign(path, runs_root=runs).runs[0]
    asked_before = {**run.config.to_dict(), "pretrained": "default", "img_size": None}  # the fine-tune, at 224 px
    records.save(run.run_dir, records.skip(records.start(run.run_dir, config=asked_before), "weights unavailable"))
    assert describe(run) == "skipped under other settings than the campaign asks now, tried again"
    assert slurm.campaign_states(C.load_campaign(path, runs_root=runs), runs, {"runs": {}})[run.run_id]["state"] \
        == "new"  # a submission submits it, as the local executor trains it
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    summary = local.execute(C.load_campaign(path, runs_root=runs), runs, log=lambda *_: None)
    assert calls == [run.run_id] and summary["complete"] == [run.run_id] and not summary["already"]
    records.save(run.run_dir, records.skip(records.start(run.run_dir, config=run.config.to_dict()), "as asked"))
    assert local.execute(C.load_campaign(path, runs_root=runs), runs, log=lambda *_: None)["already"] == [run.run_id]


def test_a_weights_folder_with_several_files_is_one_error_line_when_the_campaign_is_loaded(tmp_path, synthetic_root):
    weights = tmp_path / "weights"
    weights.mkdir()
    for name in ("a.safetensors", "b.safetensors"):  # which one? the loader refuses to guess
        (weights / name).write_bytes(b"")
    path = _campaign(tmp_path, synthetic_root, pretrained=str(weights), overrides={"warmup_epochs": 0})
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**spec, "models": ["ghostnet_100"]}))
    # the campaign checks every run's weights before any work, as the run itself would (it once left this to the
    # run's notebook, after the runs before it had trained)
    with pytest.raises(ConfigError, match="holds several weights files \\(a.safetensors, b.safetensors\\); "
                                         "pass the one to load"):
        C.load_campaign(path, runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_second_campaign_skips_the_runs_another_process_holds_and_a_killed_holder_leaves_no_lock(
        tmp_path, synthetic_root, monkeypatch):
    runs, calls, log = tmp_path / "runs", [], []
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    holders = [hold_lock(local.campaign_lock(camp, runs)), hold_lock(run_lock(camp.runs[0]))]
    try:
        assert describe(camp.runs[0]).startswith(f"locked (another campaign process is running it: pid {holders[1].pid}")
        summary = local.execute(camp, runs, log=log.append)
    finally:
        for p in holders:
            p.send_signal(signal.SIGKILL)  # like kill -9: the OS drops their locks
            p.wait()
    assert summary["locked"] == [camp.runs[0].run_id] and calls == [camp.runs[1].run_id]
    assert any("another campaign process is running it" in m and f"pid {holders[1].pid}" in m for m in log)
    assert not (runs / camp.name / records.MANIFEST).exists()  # the manifest is the lock holder's
    assert not (runs / camp.name / records.TIMING).exists()  # and so is the campaign's timing
    assert locks.holder(run_lock(camp.runs[0])) is None
    assert local.execute(camp, runs, log=log.append)["complete"] == [camp.runs[0].run_id]
    assert (runs / camp.name / records.MANIFEST).exists()


def test_a_run_another_process_completes_meanwhile_under_other_settings_is_stale_not_already_done(
        tmp_path, synthetic_root, monkeypatch):
    """A second campaign process (its YAML edited to 3 epochs) completed a run while this one, asking 1 epoch, was
    busy with another: the run was counted already done, the manifest's stale list stayed empty, and the book
    ranked its 3-epoch result as this campaign's."""
    runs = tmp_path / "runs"
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    first, other = camp.runs

    def meanwhile(run, *_):
        records.save(other.run_dir, records.finish(records.start(other.run_dir,
                                                                 config={**other.config.to_dict(), "epochs": 3})))
        records.save(run.run_dir, records.finish(records.start(run.run_dir, config=run.config.to_dict())))
        return 0, ""
    monkeypatch.setattr(local, "execute_notebook", meanwhile)
    summary = local.execute(camp, runs, log=lambda *_: None)
    assert summary["complete"] == [first.run_id] and summary["stale"] == [other.run_id] and not summary["already"]
    stale = records.read_json(runs / camp.name / records.MANIFEST)["stale"]
    assert list(stale) == [other.run_id] and stale[other.run_id]["fields"] == ["epochs: 3 → 1"]


def test_a_run_another_process_trains_is_left_alone_and_its_record_is_not_overwritten(tmp_path, synthetic_root,
                                                                                      monkeypatch):
    """A Slurm job (or a notebook) trains a run: a local campaign on the same runs neither executes it nor, when a
    notebook of its own is refused by the training lock, writes a failure over the live record."""
    from cifar100lab.runs import record_outcome
    runs, calls, log = tmp_path / "runs", [], []
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    live = camp.runs[0]
    records.save(live.run_dir, records.start(live.run_dir, run_id=live.run_id, config=live.config.to_dict()))
    before = (live.run_dir / records.RECORD).read_text()
    trainer = hold_lock(live.run_dir / locks.TRAINING_LOCK)
    try:
        monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
        monkeypatch.setattr(local, "ORPHAN_GRACE_S", 0.0)  # this trainer lives on: no wait for it to end
        summary = local.execute(camp, runs, log=log.append)
        # the race the check cannot close: a notebook refused by the lock exits 1; the record stays the trainer's
        assert record_outcome(live, 1, "ConfigError: being trained by another process", 1) == "running"
    finally:
        trainer.send_signal(signal.SIGKILL)
        trainer.wait()
    assert summary["locked"] == [live.run_id] and calls == [camp.runs[1].run_id], summary
    assert any("another process is training it" in m and f"pid {trainer.pid}" in m for m in log), log
    assert (live.run_dir / records.RECORD).read_text() == before


def test_a_campaign_started_again_at_once_waits_for_the_killed_campaigns_kernel_to_let_go(tmp_path, synthetic_root,
                                                                                           monkeypatch):
    """A killed campaign's kernel (a session of its own) trains on until its poller sees the parent gone: the run
    was reported locked, though the kernel was about to end."""
    import threading
    runs, calls = tmp_path / "runs", []
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    orphan = hold_lock(camp.runs[0].run_dir / locks.TRAINING_LOCK)
    ends = threading.Timer(1.5, lambda: (orphan.send_signal(signal.SIGKILL), orphan.wait()))
    ends.start()
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    summary = local.execute(camp, runs, log=lambda *_: None)
    ends.join()
    assert summary["locked"] == [] and sorted(calls) == sorted(r.run_id for r in camp.runs), summary


def test_campaign_command_next_to_a_running_campaign_reports_locked_runs_and_exits_3(tmp_path, synthetic_root,
                                                                                     capfd):
    runs = tmp_path / "runs"
    path = _campaign(tmp_path, synthetic_root)
    camp = C.load_campaign(path, runs_root=runs)
    holders = [hold_lock(local.campaign_lock(camp, runs))] + [hold_lock(run_lock(r)) for r in camp.runs]
    try:
        proc = run_cli(capfd, "campaign", path, "--runs-root", runs, "--book", scratch_book(tmp_path / "book"))
    finally:
        for p in holders:
            p.kill()
            p.wait()
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "locked 2" in proc.stdout and "locked: rel-resnet_20-s0 (another campaign process" in proc.stdout
    assert "analysis skipped: another campaign process holds campaign rel" in proc.stdout
    assert not list(runs.glob("rel/*/record.json"))


def test_table_train_time_is_the_sum_of_epoch_times_not_the_last_attempts_wall_time():
    from cifar100lab.report.sources import model_rows
    rec = {"run_id": "c-resnet_20-s0", "status": "complete", "model": "resnet_20", "options": {}, "params": 1,
           "flops": 1, "final": {"top1": 50.0, "top5": 80.0}, "hardware": {"device": "cpu", "count": 1},
           "train_seconds": 40.0, "wall_seconds": 5.0}  # resumed for its last epoch: 5 s in this attempt
    assert model_rows([rec]).train_seconds.iloc[0] == 40.0


def test_runs_moved_aside_by_force_are_never_read_as_results(tmp_path, synthetic_root, monkeypatch):
    from cifar100lab.report.sources import load_campaign_records
    runs, top1 = tmp_path / "runs", iter([31.5, 46.5])

    def execute(run, *a):
        rec = records.start(run.run_dir, run_id=run.run_id, config=run.config.to_dict())
        records.save(run.run_dir, records.finish(rec, final={"top1": next(top1)}))
        return 0, ""
    monkeypatch.setattr(local, "execute_notebook", execute)
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    camp.runs = camp.runs[:1]
    local.execute(camp, runs, log=lambda *_: None)
    local.execute(camp, runs, force=True, log=lambda *_: None)
    aside = [p for p in (runs / "rel").iterdir() if ".replaced-" in p.name]
    assert len(aside) == 1 and records.load(aside[0])["final"]["top1"] == 31.5  # kept, not deleted
    _, recs = load_campaign_records("rel", runs)
    assert [r["final"]["top1"] for r in recs] == [46.5]
    assert [r["final"]["top1"] for r in records.load_records(runs)] == [46.5]  # the explorer's reader too


def _tear_last_line(run_dir: Path) -> None:
    path = run_dir / records.METRICS
    text = path.read_text()
    path.write_text(text[:text.rstrip("\n").rfind("\n") + 1] + text.rstrip("\n").rsplit("\n", 1)[-1][:20])


@pytest.mark.slow
def test_resume_rewrites_metrics_from_the_checkpoint_restoring_torn_lines_and_dropping_later_ones(synthetic_root, tmp_path, monkeypatch):
    cfg = tiny_config(synthetic_root, tmp_path / "run", **{**TINY, "epochs": 3})
    with dies_in_epoch(3), pytest.raises(KeyboardInterrupt):
        train_mod.train(cfg)
    _tear_last_line(tmp_path / "run")  # epoch 2's row, which the checkpoint of epoch 2 also holds
    with open(tmp_path / "run" / records.METRICS, "a") as f:
        f.write('\n{"epoch": 3, "train_lo')  # and epoch 3's, torn mid-append (the disk filled up)
    rec = train_mod.train(cfg)
    assert rec["status"] == "complete" and rec["resumed_from_epoch"] == 2
    assert [r["epoch"] for r in records.read_metrics(tmp_path / "run")] == [1, 2, 3]


def test_report_refuses_a_complete_runs_curve_with_an_epoch_missing_and_names_the_file(tmp_path):
    rows = [{"epoch": 1, "top1": 10.0}, {"epoch": 2, "top1": 20.0}]
    (tmp_path / records.METRICS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    from cifar100lab.report.runpages import epoch_log
    rec = {"status": "complete", "epochs_done": 2, "run_dir": str(tmp_path)}
    assert epoch_log(rec).count("epoch ") == 2
    _tear_last_line(tmp_path)
    with pytest.raises(ValueError, match=f"{tmp_path / records.METRICS}.*epochs \\[1\\].*trained 2"):
        epoch_log(rec)
    (tmp_path / records.METRICS).write_text(json.dumps(rows[1]) + "\n")  # a lost first line
    with pytest.raises(ValueError, match="epochs \\[2\\]"):
        epoch_log(rec)


def test_campaign_restores_a_complete_runs_damaged_metrics_from_its_checkpoint(synthetic_root, tmp_path,
                                                                               monkeypatch):
    runs, calls = tmp_path / "runs", []
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root, epochs=2), runs_root=runs)
    camp.runs = camp.runs[:1]
    run = camp.runs[0]
    train_mod.train(run.plan)
    whole = (run.run_dir / records.METRICS).read_text()
    _tear_last_line(run.run_dir)
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    said = []
    local.execute(camp, runs, log=said.append)
    assert calls == [] and (run.run_dir / records.METRICS).read_text() == whole
    assert any("restored from its checkpoint" in line for line in said)
    assert records.curve(records.load(run.run_dir) | {"run_dir": str(run.run_dir)})[-1]["epoch"] == 2


def test_a_full_disk_is_recorded_as_no_space_left_naming_the_file(synthetic_root, small_disk):
    cfg = tiny_config(synthetic_root, small_disk / "run", **TINY)
    with pytest.raises(OSError, match="no space left on device writing .*checkpoint.pt"):
        train_mod.train(cfg)
    rec = records.load(small_disk / "run")
    assert rec["status"] == "failed" and "no space left on device" in rec["reason"], rec["reason"]
    assert str(small_disk / "run" / records.CHECKPOINT) in rec["reason"] and "enforce fail" not in rec["reason"]
    assert not [p for p in (small_disk / "run").iterdir() if p.name.endswith(".tmp")]  # no half-written file left


def test_a_run_folder_trained_by_another_process_is_refused_before_anything_is_written(tmp_path, synthetic_root):
    run_dir = tmp_path / "r"
    holder = hold_lock(run_dir / locks.TRAINING_LOCK)  # a notebook, or `train`, training this folder now
    try:
        with pytest.raises(ConfigError, match=rf"{run_dir} is being trained by another process \(pid {holder.pid} "
                                              r"on .*\); wait for it to end, or give this run another run_dir"):
            train_mod.train(tiny_config(synthetic_root, run_dir, epochs=1, max_steps_per_epoch=2))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert sorted(p.name for p in run_dir.iterdir()) == [locks.TRAINING_LOCK]  # no record, no config
    assert train_mod.train(tiny_config(synthetic_root, run_dir, epochs=1, max_steps_per_epoch=2))["status"] == \
        "complete"  # its holder killed, the folder is free
    assert locks.holder(run_dir / locks.TRAINING_LOCK) is None  # and released once trained


def _running(run_dir, **fields):
    records.save(run_dir, records.start(run_dir, run_id=run_dir.name, config={"epochs": 4}, **fields))


def test_a_run_whose_training_process_was_killed_is_listed_as_interrupted_not_running(tmp_path, capfd):
    killed, training, elsewhere = (tmp_path / "runs" / name for name in ("killed", "training", "elsewhere"))
    for run_dir in (killed, training, elsewhere):
        _running(run_dir)
    holders = [hold_lock(killed / locks.TRAINING_LOCK), hold_lock(training / locks.TRAINING_LOCK)]
    holders[0].send_signal(signal.SIGKILL)  # kill -9, a restarted kernel, a lost machine: no record written
    holders[0].wait()
    (elsewhere / locks.TRAINING_LOCK).write_text("pid 7 on another-node since 2026-12-06T00:00:00+00:00\n")
    try:
        rows = {r["run_id"]: r for r in json.loads(
            run_cli(capfd, "runs", "--runs-root", tmp_path / "runs", "--format", "json").stdout)}
    finally:
        holders[1].send_signal(signal.SIGKILL)
        holders[1].wait()
    assert rows["killed"]["status"] == "interrupted"
    assert rows["killed"]["reason"].startswith(f"its training process (pid {holders[0].pid} on ")
    assert rows["killed"]["reason"].endswith(") ended without a final record (killed, or the machine went down); "
                                             "running it again starts it over from epoch 1: no checkpoint was saved "
                                             "yet")  # none was saved: _running writes no checkpoint
    assert rows["training"]["status"] == "running"  # its process holds the lock
    assert rows["elsewhere"]["status"] == "running"  # a lock another host held proves nothing here


def test_a_killed_runs_reason_says_it_resumes_only_when_its_folder_holds_a_checkpoint(tmp_path):
    """Before its first checkpoint a killed run starts over when run again; "resumes" named a checkpoint there was
    none of. A lock file naming a holder on this host that holds nothing is what a killed process leaves."""
    for name in ("early", "later"):
        _running(tmp_path / name)
        (tmp_path / name / locks.TRAINING_LOCK).write_text(f"pid 7 on {socket.gethostname()} since 2026-01-01\n")
    (tmp_path / "later" / records.CHECKPOINT).write_bytes(b"")  # only whether one is there counts
    assert locks.killed(tmp_path / "early").endswith("; running it again starts it over from epoch 1: no checkpoint "
                                                     "was saved yet")
    assert locks.killed(tmp_path / "later").endswith("; running it again resumes from its last checkpoint")


def test_a_run_stopped_with_its_campaign_before_its_first_checkpoint_says_running_again_starts_it_over(
        tmp_path, synthetic_root):
    """The campaign's stop (and Slurm's, tune's) records where a run stopped and what running it again does: it
    resumes from the checkpoint when one was saved; before the first, it starts over, in both languages."""
    from cifar100lab.report import i18n
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root, epochs=3), runs_root=tmp_path / "runs")
    early, later = camp.runs
    for run in camp.runs:
        _running(run.run_dir)
        records.append_jsonl(run.run_dir / records.METRICS, {"epoch": 1, "train_loss": 2.0, "top1": 20.0})
    (later.run_dir / records.CHECKPOINT).write_bytes(b"")
    for run in camp.runs:
        record_stopped(run)
    reasons = {run.run_id: records.load(run.run_dir)["reason"] for run in camp.runs}
    assert reasons == {
        early.run_id: "stopped with its campaign in epoch 2 of 3; running the campaign again starts it over from "
                      "epoch 1: no checkpoint was saved yet",
        later.run_id: "stopped with its campaign in epoch 2 of 3; running the campaign again resumes from its last "
                      "checkpoint"}
    zh = {run_id: i18n.reason(reason)["zh"] for run_id, reason in reasons.items()}
    assert zh == {early.run_id: "随实验配置一同停止，于第 2 个 epoch（共 3 个）；再次运行实验配置将从第 1 个 epoch 重新开始：尚未保存任何检查点",
                  later.run_id: "随实验配置一同停止，于第 2 个 epoch（共 3 个）；再次运行实验配置将从最后一个检查点继续"}


def test_campaign_status_says_a_run_training_here_is_running_and_one_whose_process_died_is_interrupted(
        tmp_path, synthetic_root, capfd):
    runs = tmp_path / "runs"
    path = _campaign(tmp_path, synthetic_root)
    camp = C.load_campaign(path, runs_root=runs)
    for run in camp.runs:
        _running(run.run_dir)
    holders = [hold_lock(run.run_dir / locks.TRAINING_LOCK) for run in camp.runs]
    holders[1].send_signal(signal.SIGKILL)
    holders[1].wait()
    try:
        out = run_cli(capfd, "campaign", path, "--runs-root", runs, "--status", "--no-analysis").stdout
    finally:
        holders[0].send_signal(signal.SIGKILL)
        holders[0].wait()
    states = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:3]}
    assert states == {"resnet_20-s0": "running", "eca_resnet_20-s0": "interrupted"}, out  # was "new" for both
    assert f"  interrupted: eca_resnet_20-s0: its training process (pid {holders[1].pid} on " in out


def test_an_older_records_slurm_stop_reason_still_reads_in_chinese():
    """The reason's wording gained "or reached its time limit"; records written before keep their Chinese."""
    from cifar100lab.report import i18n
    old = "stopped by Slurm (its job was cancelled or preempted) in epoch 3 of 60; submitting the campaign again " \
          "resumes from its last checkpoint"
    assert i18n.reason(old)["zh"].startswith("被 Slurm 停止（作业被取消或抢占），于第 3 个 epoch")


def _fake_execute_with_results(calls):
    """A run 'trained' in no time: a complete record with results and its metrics, as the report reads them."""
    from fake_campaign import _record

    def run(run, notebook, slot, log_dir, num_processes):
        calls.append(run.run_id)
        cfg = run.config.to_dict()
        rec = _record(cfg["campaign"], run.run_id, cfg["model"], cfg["options"], cfg["seed"], [30.0, 40.0],
                      cfg["dataset"], cfg["epochs"], 64, 0.0)
        results = ("final", "best", "epochs_done")
        rec["recipe"] = run.plan.recipe_record(1)  # as the trainer records it: what the run trains with
        started = records.start(run.run_dir, **{k: v for k, v in rec.items() if k not in results + (
            "status", "reason", "started", "finished", "attempts", "config")}, config=cfg)
        records.save(run.run_dir, records.finish(started, **{k: rec[k] for k in results}))
        for e in range(1, cfg["epochs"] + 1):
            records.append_jsonl(run.run_dir / records.METRICS, {"epoch": e, "train_loss": 1.0, "top1": 40.0,
                                                                 "top5": 70.0, "test_loss": 1.0, "epoch_seconds": 1.0})
        return 0, ""
    return run


@pytest.mark.slow
def test_runs_kept_stale_are_left_out_of_the_book_and_named_there(tmp_path, synthetic_root, monkeypatch):
    """The YAML is edited (another dataset, one more model): the runs kept stale were ranked in Table 1 beside the
    new model's run on the new dataset, under one dataset's name, without a word. Now the pages leave them out and
    say which and why; a forced re-run shows the new records again."""
    from cifar100lab import report
    runs, calls, book = tmp_path / "runs", [], tmp_path / "book"
    monkeypatch.setattr(local, "execute_notebook", _fake_execute_with_results(calls))
    local.execute(C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs), runs, log=lambda *_: None)
    spec = yaml.safe_load((tmp_path / "rel.yaml").read_text())
    spec["models"].append("ghost_resnet_20")
    (tmp_path / "rel.yaml").write_text(yaml.safe_dump(spec))
    edited = C.load_campaign(tmp_path / "rel.yaml", dataset="fashion-mnist", runs_root=runs)
    summary = local.execute(edited, runs, log=lambda *_: None)
    assert summary["stale"] == ["rel-resnet_20-s0", "rel-eca_resnet_20-s0"] and calls[-1] == "rel-ghost_resnet_20-s0"
    report.write_campaign_report("rel", runs, book / "generated")
    for lang in ("en", "zh"):
        page = (book / "generated" / f"results_{lang}.md").read_text()
        table = page.split("| No. |" if lang == "en" else "| 序号 |")[1].split("\n\n")[0]
        assert "| ghost_resnet_20 |" in table and "| eca_resnet_20 |" not in table and "| resnet_20 |" not in table
        assert "rel-resnet_20-s0" in page and "dataset: 'synthetic' → 'fashion-mnist'" in page and "--force" in page
    assert "Fashion-MNIST" in (book / "generated" / "results_en.md").read_text().split("Provenance")[1][:400]
    local.execute(edited, runs, force=True, log=lambda *_: None)  # re-run: the new records are the results
    report.write_campaign_report("rel", runs, book / "generated")
    page = (book / "generated" / "results_en.md").read_text()
    assert "| eca_resnet_20 |" in page and "| resnet_20 |" in page and "Runs left out" not in page


def test_an_interrupted_run_whose_settings_were_edited_is_named_before_a_kernel_starts(tmp_path, synthetic_root,
                                                                                       monkeypatch, capsys):
    """Stopped in epoch 3 of 6, the YAML then asks 8 epochs: the campaign started the run's notebook, the trainer
    refused its checkpoint ('use a new run_dir', which a campaign cannot), and the run was recorded failed, exit 1.
    Now it is not started: one line names what changed and the two ways on, exit 3; the edit undone, it resumes."""
    runs, calls = tmp_path / "runs", []
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    for run in camp.runs:  # as the trainer leaves a stopped run: its settings, a checkpoint, an interrupted record
        records.atomic_write_json(run.run_dir / records.CONFIG, run.config.to_dict())
        (run.run_dir / records.CHECKPOINT).write_bytes(b"weights")
        records.save(run.run_dir, records.interrupt(records.start(run.run_dir, run_id=run.run_id,
                                                                  config=run.config.to_dict()), "stopped", epochs_done=0))
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    edited = _campaign(tmp_path, synthetic_root, epochs=3)
    args = ["campaign", str(edited), "--runs-root", str(runs), "--book", str(scratch_book(tmp_path / "book")), "--no-analysis"]
    assert cli_main(args) == 3 and calls == []
    out = capsys.readouterr().out
    assert ("rel-resnet_20-s0: not resumed: its checkpoint was trained with other settings than the campaign now asks "
            "(epochs: 1 → 3); put them back to resume it, or --force moves its folder aside") in out, out
    assert all(records.load(r.run_dir)["status"] == "interrupted" for r in camp.runs)
    assert cli_main(args + ["--dry-run"]) == 0 and "interrupted, not resumed: its checkpoint" in capsys.readouterr().out
    assert cli_main(args[:1] + [str(_campaign(tmp_path, synthetic_root))] + args[2:]) == 0 and len(calls) == 2


def test_an_interrupted_run_whose_recipe_was_edited_since_is_named_before_a_kernel_starts(tmp_path, synthetic_root,
                                                                                         monkeypatch, capsys):
    """The trainer refuses a checkpoint trained under a recipe edited in the package since its stop; the campaign
    started its notebook anyway (config.json, its settings as spelled, had not changed), to fail there."""
    import dataclasses

    from cifar100lab import recipes
    runs, calls = tmp_path / "runs", []
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    for run in camp.runs:  # stopped under the recipe as it was, which its record names
        records.atomic_write_json(run.run_dir / records.CONFIG, run.config.to_dict())
        (run.run_dir / records.CHECKPOINT).write_bytes(b"weights")
        started = records.start(run.run_dir, run_id=run.run_id, config=run.config.to_dict(),
                                recipe=run.plan.recipe_record(1), hardware={"count": 1})
        records.save(run.run_dir, records.interrupt(started, "stopped", epochs_done=0))
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    edited = dataclasses.replace(recipes.RECIPES["resnet_sgd"], weight_decay=1e-3)
    monkeypatch.setitem(recipes.RECIPES, "resnet_sgd", edited)
    args = ["campaign", str(_campaign(tmp_path, synthetic_root)), "--runs-root", str(runs), "--book",
            str(scratch_book(tmp_path / "book")), "--no-analysis"]
    assert cli_main(args) == 3 and calls == []
    assert "(recipe weight_decay: 0.0005 → 0.001); put them back" in capsys.readouterr().out
    monkeypatch.undo()
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    assert cli_main(args) == 0 and len(calls) == 2  # the recipe as it was: they resume
