"""Checkpoints load as data only; refused resumes and bad command lines change nothing and print one line."""
import re

import pytest
import torch
from conftest import run_cli, tiny_config

from cifar100lab import records
from cifar100lab.checkpoint import CheckpointError
from cifar100lab.evaluation import evaluate_checkpoint
from cifar100lab.run_listing import short_id
from cifar100lab.train import train


class PlantsMarker:
    """A pickle that runs code on load: it creates a marker file."""
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def trained(synthetic_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("safety") / "run"
    rec = train(tiny_config(synthetic_root, run_dir, epochs=1, max_steps_per_epoch=2))
    assert rec["status"] == "complete"
    return run_dir


def crafted_checkpoint(path, marker, trained_dir):
    good = torch.load(trained_dir / records.CHECKPOINT, weights_only=True)
    torch.save({**good, "history": [PlantsMarker(marker)]}, path)


def test_crafted_checkpoint_is_refused_by_evaluate_and_never_runs_code(trained, tmp_path, capfd):
    evil, marker = tmp_path / "evil.pt", tmp_path / "marker"
    crafted_checkpoint(evil, marker, trained)
    with pytest.raises(CheckpointError, match="could run code"):
        evaluate_checkpoint(evil)
    proc = run_cli(capfd, "evaluate", evil)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_crafted_checkpoint_is_refused_on_resume_and_never_runs_code(trained, synthetic_root, tmp_path):
    run_dir, marker = tmp_path / "victim", tmp_path / "marker"
    run_dir.mkdir()
    crafted_checkpoint(run_dir / records.CHECKPOINT, marker, trained)
    with pytest.raises(CheckpointError, match="could run code"):
        train(tiny_config(synthetic_root, run_dir, epochs=1, max_steps_per_epoch=2))
    assert not marker.exists()


def test_refused_resume_leaves_the_folders_config_untouched(trained, synthetic_root, tmp_path):
    import shutil
    run_dir = tmp_path / "copy"
    shutil.copytree(trained, run_dir)
    (run_dir / records.RECORD).unlink()  # an interrupted run: checkpoint, config and metrics, no final record
    before = (run_dir / records.CONFIG).read_text()
    # each field with its old and new value (the fields alone left the user to find what they had been)
    with pytest.raises(CheckpointError.__mro__[1], match=r"\(differs in: overrides\.lr: 0\.05 → 0\.01\); resume "
                                                         r"with the same configuration"):
        train(tiny_config(synthetic_root, run_dir, epochs=1, max_steps_per_epoch=2, overrides={"lr": 0.01}))
    assert (run_dir / records.CONFIG).read_text() == before


@pytest.mark.parametrize("damage", ["truncated", "not a checkpoint", "missing"])
def test_evaluate_cli_names_a_damaged_checkpoint_in_one_line(trained, tmp_path, damage, capfd):
    path = tmp_path / "c.pt"
    if damage == "truncated":
        data = (trained / records.CHECKPOINT).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif damage == "not a checkpoint":
        torch.save({"weights": torch.zeros(2)}, path)
    proc = run_cli(capfd, "evaluate", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert str(path) in proc.stderr


@pytest.mark.parametrize("given", ["checkpoint", "run folder"])
def test_evaluate_cli_names_the_dataset_it_measured_on(trained, tmp_path, capfd, given):
    path = trained / records.CHECKPOINT if given == "checkpoint" else trained  # export takes either: so does this
    proc = run_cli(capfd, "evaluate", path, "--out", tmp_path / "e.json")
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r"resnet_20 epoch \d+: top-1 [\d.]+ top-5 [\d.]+ on \d+ test images of synthetic data "
                        r"\(CIFAR-100 layout\)\n", proc.stdout), proc.stdout


def test_a_run_path_built_from_the_runs_listing_is_pointed_to_the_runs_folder(tmp_path, capfd):
    """The runs listing shows a campaign's runs without the campaign's prefix (and cuts long ids), so a path built
    from it misses the folder: the error line names the folder meant, not only that nothing is there."""
    campaign = tmp_path / "runs" / "quick"
    long_id = "quick-resnet_56-" + "-".join(f"option{i}-value{i}" for i in range(6)) + "-s0"
    for run_id in ("quick-resnet_20-s0", long_id):
        (campaign / run_id).mkdir(parents=True)
    cases = [("evaluate", campaign / "resnet_20-s0" / records.CHECKPOINT,
              campaign / "quick-resnet_20-s0" / records.CHECKPOINT),
             ("export", campaign / short_id(long_id, "quick"), campaign / long_id)]
    for command, given, meant in cases:
        proc = run_cli(capfd, command, given)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert str(given) in proc.stderr and proc.stderr.rstrip().endswith(f"is {meant})"), proc.stderr
    unknown = run_cli(capfd, "evaluate", campaign / "resnet_32-s0")
    assert unknown.returncode == 2 and "runs listing" not in unknown.stderr  # no such run: nothing to point to


def test_a_checkpoint_that_is_not_there_is_answered_with_the_run_folders_that_hold_one(trained, tmp_path):
    """The evaluate notebook's default is a quick campaign's run: a user who trained in the train notebook got
    'no checkpoint at runs/quick/quick-resnet_20-s0/checkpoint.pt' and no word of what to give instead."""
    runs = trained.parent
    with pytest.raises(CheckpointError) as missing:
        evaluate_checkpoint(runs / "quick" / "quick-resnet_20-s0" / records.CHECKPOINT)
    assert str(missing.value) == (f"no checkpoint at {runs / 'quick' / 'quick-resnet_20-s0' / records.CHECKPOINT}; "
                                  f"run folders with one under {runs}: {trained} (give one, or its checkpoint.pt)")
    with pytest.raises(CheckpointError) as elsewhere:  # nothing near: the line says only what is missing
        evaluate_checkpoint(tmp_path / "nowhere" / records.CHECKPOINT)
    assert str(elsewhere.value) == f"no checkpoint at {tmp_path / 'nowhere' / records.CHECKPOINT}"


def test_evaluate_checks_its_output_before_evaluating(trained, tmp_path, monkeypatch):
    from cifar100lab import evaluation
    from cifar100lab.config import ConfigError
    monkeypatch.setattr(evaluation, "evaluate", lambda *a, **k: pytest.fail("evaluated before checking --out"))
    with pytest.raises(ConfigError, match="cannot write the evaluation"):
        evaluate_checkpoint(trained / records.CHECKPOINT, out=tmp_path / "no" / "such" / "folder" / "e.json")


def test_evaluate_never_writes_over_a_runs_files_nor_a_file_that_is_not_an_evaluation(trained, tmp_path, capfd):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.json").write_text('{"mine": true}')
    targets = [trained / name for name in (records.RECORD, records.CHECKPOINT, records.CONFIG, records.METRICS)]
    for out in [*targets, other / records.RECORD, other / "notes.json"]:
        before = out.read_bytes() if out.exists() else None
        proc = run_cli(capfd, "evaluate", trained, "--out", out)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "cannot write the evaluation to" in proc.stderr and "pass --out" in proc.stderr
        assert (out.read_bytes() if out.exists() else None) == before
    for _ in range(2):  # evaluating again replaces the earlier evaluation beside the checkpoint
        assert run_cli(capfd, "evaluate", trained).returncode == 0
    assert records.read_json(trained / "evaluation.json")["epoch"] == 1


def test_evaluate_with_a_data_root_that_is_a_file_says_so(trained, tmp_path, capfd):
    (tmp_path / "notes.md").write_text("# notes\n")
    proc = run_cli(capfd, "evaluate", trained, "--data-root", tmp_path / "notes.md", "--out", tmp_path / "e.json")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"data_root {tmp_path / 'notes.md'} is a file, not a folder" in proc.stderr


def test_evaluate_refuses_other_data_under_data_root_than_the_run_was_measured_on(trained, synthetic_root, tmp_path,
                                                                                   capfd):
    """A synthetic set generated again with another seed has the run's layout, sizes and classes but other images:
    evaluate gave a top-1 for them as the run's, without a word."""
    from cifar100lab.data import write_synthetic_cifar100
    write_synthetic_cifar100(tmp_path / "other" / "synthetic", train_size=1024, test_size=300, num_classes=10, seed=1)
    proc = run_cli(capfd, "evaluate", trained, "--data-root", tmp_path / "other", "--out", tmp_path / "e.json")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"the synthetic data under {tmp_path / 'other'} (md5:" in proc.stderr
    assert "is not the data run was measured on" in proc.stderr and "pass --data-root" in proc.stderr
    assert not (tmp_path / "e.json").exists()
    same = evaluate_checkpoint(trained, out=tmp_path / "e.json", data_root=str(synthetic_root))  # the run's own data
    assert same["top1"] == records.load(trained)["final"]["top1"]


def test_train_cli_gives_one_line_for_bad_data_and_config(synthetic_root, tmp_path, capfd):
    import yaml
    cfg = tiny_config(synthetic_root, tmp_path / "big", batch_size=5000)  # more than the 1,024 images
    (tmp_path / "big.yaml").write_text(yaml.safe_dump(cfg))
    corrupt = tmp_path / "corrupt"
    import shutil
    shutil.copytree(synthetic_root, corrupt)
    with open(corrupt / "synthetic" / "cifar-100-python" / "test", "ab") as f:
        f.write(b"x")
    (tmp_path / "corrupt.yaml").write_text(yaml.safe_dump(tiny_config(corrupt, tmp_path / "c")))
    for name, expect in (("big", "batch_size 5000 is larger than the 1024 training images"), ("corrupt", "md5")):
        proc = run_cli(capfd, "train", tmp_path / f"{name}.yaml")
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert expect in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def altered_checkpoint(trained, path, damage):
    """A copy of the trained checkpoint with one part damaged the way a hand-edited or foreign file is."""
    ckpt = torch.load(trained / records.CHECKPOINT, weights_only=True)
    if damage == "config without a model":
        ckpt["config"] = {k: v for k, v in ckpt["config"].items() if k != "model"}
    elif damage == "config not a mapping":
        ckpt["config"] = "resnet_20"
    elif damage == "config with a bad value":
        ckpt["config"] = {**ckpt["config"], "model": "no_such_net"}
    elif damage == "weights of another model":
        from cifar100lab.models import create_model
        ckpt["model"] = create_model("eca_resnet_20", num_classes=10).state_dict()
    elif damage == "inf in the weights":
        head = [k for k in ckpt["model"] if k.endswith("weight")][-1]
        ckpt["model"][head][0, 0] = float("inf")
    torch.save(ckpt, path)


@pytest.mark.parametrize("damage", ["config without a model", "config not a mapping", "config with a bad value",
                                    "weights of another model", "inf in the weights"])
def test_evaluate_names_a_checkpoint_with_a_bad_config_or_foreign_weights_in_one_line(trained, tmp_path, damage,
                                                                                        capfd):
    path = tmp_path / "c.pt"
    altered_checkpoint(trained, path, damage)
    proc = run_cli(capfd, "evaluate", path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert str(path) in proc.stderr
    assert not (tmp_path / "evaluation.json").exists()


def test_reading_a_checkpoint_exporting_and_asking_for_weights_never_import_the_trainer():
    from test_architecture import module_graph
    graph = module_graph()

    def reached(module: str, seen: set) -> set:
        for nxt in graph.get(module, ()):
            if nxt not in seen:
                seen.add(nxt)
                reached(nxt, seen)
        return seen
    for module in ("cifar100lab.checkpoint", "cifar100lab.export", "cifar100lab.attempt"):
        assert module in graph and "cifar100lab.train" not in reached(module, set()), module


def test_a_resume_reads_its_checkpoint_once(trained, synthetic_root, tmp_path, monkeypatch):
    """The trainer read a resumed run's checkpoint twice (for its statistics, then for its state): a ConvNeXt's
    110 MB twice, on a slow network file system the more. The run still resumes, from its checkpoint's epoch."""
    import shutil
    run_dir = tmp_path / "copy"
    shutil.copytree(trained, run_dir)
    (run_dir / records.RECORD).unlink()  # an interrupted run: checkpoint, config and metrics, no final record
    reads, load = [], torch.load

    def counted(f, *args, **kwargs):
        reads.append(f)
        return load(f, *args, **kwargs)
    monkeypatch.setattr(torch, "load", counted)
    rec = train(tiny_config(synthetic_root, run_dir, epochs=1, max_steps_per_epoch=2))
    assert rec["status"] == "complete" and rec["resumed_from_epoch"] == 1
    assert reads.count(run_dir / records.CHECKPOINT) == 1, reads
