import dataclasses
import math
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import dies_in_epoch, run_cli, tiny_config

from cifar100lab import accelerator as accelerator_mod
from cifar100lab import attempt as attempt_mod
from cifar100lab import checkpoint as checkpoint_mod
from cifar100lab import recipes, records
from cifar100lab import train as train_mod
from cifar100lab.accelerator import build_accelerator, cpu_has_native_bf16
from cifar100lab.config import ConfigError, resolve
from cifar100lab.evaluation import evaluate_checkpoint
from cifar100lab.learner import Learner
from cifar100lab.train import TrainingDiverged, train

TIMING = {"epoch_seconds", "eval_seconds", "images_per_second"}
AUTO_CPU_PRECISION = "bf16" if cpu_has_native_bf16() else "no"  # what precision auto picks on this CPU


def _plain(synthetic_root, folder, seed: int) -> dict:
    return train(tiny_config(synthetic_root, folder / f"s{seed}", seed=seed, overrides={"lr": 0.1}))


@pytest.fixture(scope="module")
def plain_run(synthetic_root, tmp_path_factory):
    """The plain path (precision auto, channels_last), seed 0, trained once for this module: the reference run of
    several tests."""
    return _plain(synthetic_root, tmp_path_factory.mktemp("plain"), 0)


@pytest.fixture(scope="module")
def plain_runs(synthetic_root, tmp_path_factory, plain_run):
    """The plain run and its seed 1: the seeds' difference is the noise a speed switch must stay inside (only the
    slow tests train the second seed)."""
    return [plain_run, _plain(synthetic_root, tmp_path_factory.mktemp("plain-seed-1"), 1)]


@pytest.fixture(scope="module")
def fp32_run(synthetic_root, tmp_path_factory):
    return train(tiny_config(synthetic_root, tmp_path_factory.mktemp("fp32") / "run", overrides={"lr": 0.1},
                             precision="fp32", channels_last=False))


@pytest.mark.slow
def test_learns_synthetic_data_far_above_chance(plain_run):
    rec = plain_run
    assert rec["status"] == "complete" and rec["epochs_done"] == 2
    assert rec["final"]["top1"] > 60  # chance is 10 %
    assert rec["final"]["evaluated"] == 300
    for key in ("params", "flops", "wall_seconds", "images_per_second", "hardware", "versions", "git_commit",
                "dataset", "config", "best", "seed", "started", "finished"):
        assert key in rec
    assert rec["dataset"]["kind"] == "synthetic" and rec["hardware"]["precision"] == AUTO_CPU_PRECISION
    rows = records.read_metrics(rec["config"]["run_dir"])
    assert [r["epoch"] for r in rows] == [1, 2]
    assert records.read_json(f"{rec['config']['run_dir']}/record.json")["status"] == "complete"


@pytest.mark.slow
def test_record_states_the_normalization_the_plan_chose(plain_run):
    from cifar100lab.data import DATASETS
    norm = plain_run["normalization"]
    assert norm["mean"] == list(DATASETS["synthetic"].mean) and norm["std"] == list(DATASETS["synthetic"].std)
    assert plain_run["input_size"] == 32


@pytest.mark.slow
def test_fashion_mnist_learnability_resnet20(fashion_root, tmp_path):
    """Real images: ResNet-20 after one epoch over 3,000 Fashion-MNIST training images reaches five times chance
    (10 %) on 1,000 test images: 63.1 % when written, and 59.2-62.1 % with seeds 1-3 (longer training is the
    benchmarks' job, `bench --runs`)."""
    rec = train(dict(model="resnet_20", dataset="fashion-mnist", data_root=str(fashion_root), train_subset=3000,
                     test_subset=1000, epochs=1, batch_size=32, run_dir=str(tmp_path / "fm"), progress=False))
    assert rec["final"]["evaluated"] == 1000
    assert rec["final"]["top1"] >= 50, rec["final"]


@pytest.mark.slow
def test_interrupted_and_resumed_run_matches_uninterrupted(synthetic_root, tmp_path):
    cfg = lambda name: tiny_config(synthetic_root, tmp_path / name, max_steps_per_epoch=2,  # noqa: E731
                                   test_subset=64, overrides={"lr": 0.1})
    straight, cut = train(cfg("straight")), cfg("cut")
    with dies_in_epoch(2), pytest.raises(KeyboardInterrupt):
        train(cut)
    assert records.read_json(tmp_path / "cut" / "record.json")["status"] == "interrupted"  # stopped, resumable
    assert torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)["epoch"] == 1
    assert len(records.read_metrics(tmp_path / "cut")) == 1
    resumed = train(cut)
    assert resumed["resumed_from_epoch"] == 1
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING} for r in rows]
    assert strip(records.read_metrics(tmp_path / "cut")) == strip(records.read_metrics(straight["config"]["run_dir"]))
    assert resumed["final"] == straight["final"] and resumed["best"] == straight["best"]


def test_a_checkpoint_resumes_only_on_as_many_processes_as_trained_it(synthetic_root, tmp_path):
    """The process count sets the global batch, the steps per epoch and (lr_scaling) the learning rate, which the
    restored schedule would have kept from the old count while the record named the new one: refused, untouched."""
    cut = tiny_config(synthetic_root, tmp_path / "cut", train_subset=256, max_steps_per_epoch=2, epochs=3)
    with dies_in_epoch(2), pytest.raises(KeyboardInterrupt):
        train(cut)
    path = tmp_path / "cut" / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["processes"] == 1
    torch.save({**ckpt, "processes": 2}, path)  # as a 2-process launch wrote it
    with pytest.raises(ConfigError, match=r"trained on 2 process\(es\) and this launch has 1.*resume it on 2"):
        train(cut)
    assert records.read_json(tmp_path / "cut" / "record.json")["status"] == "interrupted"
    assert len(records.read_metrics(tmp_path / "cut")) == 1


def test_a_checkpoint_resumes_only_in_the_precision_that_trained_it(synthetic_root, tmp_path, monkeypatch):
    """precision auto is bf16 on a CPU with native bf16 and fp32 on one without (fp16 or bf16 on a GPU): a run
    stopped on the first and resumed on the second went on in fp32 with no word, its record saying precision 'no'
    for a curve whose first epoch trained in bf16."""
    cut = tiny_config(synthetic_root, tmp_path / "cut", train_subset=64, batch_size=32, max_steps_per_epoch=2,
                      test_subset=64, epochs=3, precision="auto")  # small: bf16 is emulated on a CPU without it
    monkeypatch.setattr(accelerator_mod, "cpu_has_native_bf16", lambda: True)
    with dies_in_epoch(2), pytest.raises(KeyboardInterrupt):
        train(cut)
    monkeypatch.setattr(accelerator_mod, "cpu_has_native_bf16", lambda: False)
    with pytest.raises(ConfigError, match=r"trained in bf16 and this launch trains in fp32 .*resume it where"):
        train(cut)
    assert torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["precision"] == "bf16"
    assert records.read_json(tmp_path / "cut" / "record.json")["status"] == "interrupted"
    assert len(records.read_metrics(tmp_path / "cut")) == 1


def test_complete_run_is_not_redone_and_nothing_is_overwritten(synthetic_root, tmp_path):
    cfg = tiny_config(synthetic_root, tmp_path / "r", epochs=1, max_steps_per_epoch=2)
    first = train(cfg)
    before = (tmp_path / "r" / "record.json").read_text()
    assert train(cfg)["finished"] == first["finished"]
    with pytest.raises(ConfigError, match="already holds a run"):
        train({**cfg, "resume": False})
    with pytest.raises(ConfigError, match="different configuration.*epochs"):
        train({**cfg, "epochs": 2})
    assert (tmp_path / "r" / "record.json").read_text() == before
    # its checkpoint removed (to save space, once the run was done): the run was trained over, its record and
    # curve replaced by the other settings' (attempts: complete, complete)
    (tmp_path / "r" / records.CHECKPOINT).unlink()
    curve = (tmp_path / "r" / records.METRICS).read_text()
    with pytest.raises(ConfigError, match=r"holds a complete run of a different configuration \(differs in: "
                                          r"epochs: 1 → 2\); nothing is trained over it"):
        train({**cfg, "epochs": 2})
    assert (tmp_path / "r" / "record.json").read_text() == before
    assert (tmp_path / "r" / records.METRICS).read_text() == curve


def _another_process_first(monkeypatch, run_dir: Path, other) -> None:
    """``other()`` (another process on ``run_dir``) runs just before this process takes the folder's training
    lock: after this one checked the folder and before it holds it, the window two launches race in."""
    real_lock, raced = attempt_mod.locks.lock, []

    def lock(path, *a, **k):
        if not raced and Path(path).parent == run_dir:
            raced.append(True)
            other()
        return real_lock(path, *a, **k)
    monkeypatch.setattr(attempt_mod.locks, "lock", lock)


@pytest.mark.slow
def test_what_another_process_finished_before_the_lock_was_taken_is_what_this_one_sees(synthetic_root, tmp_path,
                                                                                     monkeypatch):
    """A run's folder is read under its training lock: a run another process completed meanwhile is returned as
    it is (not trained again over its record), and one it checkpointed further resumes from that checkpoint (its
    epochs are not redone from the one read before)."""
    cfg = tiny_config(synthetic_root, tmp_path / "done", epochs=1, max_steps_per_epoch=2, test_subset=64)
    theirs = []
    _another_process_first(monkeypatch, tmp_path / "done",
                           lambda: theirs.append((train(cfg), (tmp_path / "done" / records.RECORD).read_text())))
    rec = train(cfg)
    [(their_record, their_file)] = theirs
    assert rec["finished"] == their_record["finished"] and len(records.attempts_of(rec)) == 1
    assert (tmp_path / "done" / records.RECORD).read_text() == their_file

    cfg = tiny_config(synthetic_root, tmp_path / "on", epochs=3, max_steps_per_epoch=2, test_subset=64)
    with dies_in_epoch(2), pytest.raises(KeyboardInterrupt):
        train(cfg)  # checkpoint of epoch 1

    def other_resumes_to_epoch_2():
        with dies_in_epoch(3), pytest.raises(KeyboardInterrupt):
            train(cfg)
    _another_process_first(monkeypatch, tmp_path / "on", other_resumes_to_epoch_2)
    rec = train(cfg)
    assert rec["status"] == "complete" and rec["resumed_from_epoch"] == 2
    assert [r["epoch"] for r in records.read_metrics(tmp_path / "on")] == [1, 2, 3]


def test_nan_loss_stops_with_clear_error_kept_in_record(synthetic_root, tmp_path):
    with pytest.raises(TrainingDiverged, match="loss became"):
        train(tiny_config(synthetic_root, tmp_path / "nan", epochs=2, max_steps_per_epoch=3, overrides={"lr": 1e12}))
    rec = records.read_json(tmp_path / "nan" / "record.json")
    assert rec["status"] == "failed" and "loss became" in rec["reason"]


def test_weights_that_diverge_in_the_last_step_fail_the_run_rather_than_complete_it(synthetic_root, tmp_path):
    """The divergence check read only the training loss, each step's before its update: one step at lr 1e12 left
    NaN weights, and the run was recorded complete with top-1 18.75 % and test_loss NaN."""
    with pytest.raises(TrainingDiverged, match="test loss became nan after epoch 1"):
        train(tiny_config(synthetic_root, tmp_path / "nan", epochs=1, max_steps_per_epoch=1, test_subset=64,
                          overrides={"lr": 1e12}))
    rec = records.read_json(tmp_path / "nan" / "record.json")
    assert rec["status"] == "failed" and "final" not in rec and "test loss became nan" in rec["reason"]
    assert not (tmp_path / "nan" / "checkpoint.pt").exists()  # no NaN weights kept to resume or evaluate


def test_pretrained_without_weights_is_skipped_with_reason(synthetic_root, tmp_path, capsys):
    rec = train(tiny_config(synthetic_root, tmp_path / "p", model="resnest50d", pretrained=str(tmp_path / "none.pth"),
                            overrides={"lr": 0.05, "warmup_epochs": 0}))
    assert rec["status"] == "skipped" and "pretrained weights unavailable" in rec["reason"]
    assert not (tmp_path / "p" / "checkpoint.pt").exists()
    # the cell that started it says so: a notebook printed nothing and papermill reported success
    assert capsys.readouterr().out.startswith("p: skipped, nothing trained: pretrained weights unavailable")


def test_a_run_refused_for_missing_data_leaves_no_run_folder(tmp_path):
    """The trainer made the run folder and its lock before it read the data: a notebook run without its data
    left runs/<run>/.training.lock behind."""
    from cifar100lab.data import DataError
    run_dir = tmp_path / "runs" / "r"
    with pytest.raises(DataError, match="CIFAR-100 not found"):
        train(dict(dataset="cifar100", data_root=str(tmp_path / "nodata"), download=False, epochs=1,
                   run_dir=str(run_dir), progress=False))
    assert not run_dir.exists()
    kept = tmp_path / "kept"
    kept.mkdir()  # a folder that was there before stays, with what it held
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(DataError):
        train(dict(dataset="cifar100", data_root=str(tmp_path / "nodata"), download=False, epochs=1,
                   run_dir=str(kept), progress=False))
    assert (kept / "notes.txt").read_text() == "mine"


def test_fine_tune_without_weights_is_skipped_before_any_data_is_read(tmp_path):
    """Offline, a fine-tune finds out first that it has no weights: here there is no data at all either."""
    rec = train(dict(model="mlp_mixer_b16", pretrained=str(tmp_path / "none.pth"), dataset="fashion-mnist",
                     data_root=str(tmp_path / "no-data"), download=False, run_dir=str(tmp_path / "p"), progress=False))
    assert rec["status"] == "skipped" and "pretrained weights unavailable" in rec["reason"]
    assert rec["dataset"]["kind"] == "stand-in" and not (tmp_path / "no-data").exists()


def test_bad_config_fails_before_any_work(synthetic_root, tmp_path):
    cases = [({"modle": "resnet_20"}, "training config: unknown key.*modle.*valid keys: model"),
             ({"model": "resnet20"}, "unknown model 'resnet20' \\(did you mean resnet_20\\?\\); valid names"),
             ({"options": {"k_size": 4}, "model": "eca_resnet_20"}, "odd"),
             ({"overrides": {"momentun": 0.9}}, "unknown recipe key.*momentun \\(did you mean momentum\\?\\)"),
             ({"precision": "fp8"}, "precision 'fp8' is not one of"),
             ({"dataset": "mnist"}, "unknown dataset 'mnist'; valid"),
             ({"dataset": "fashion_mnist"}, "unknown dataset 'fashion_mnist' \\(did you mean fashion-mnist\\?\\)"),
             ({"options": {"k_sise": 5}, "model": "eca_resnet_20"},
              "no option\\(s\\) k_sise \\(did you mean k_size\\?\\)"),
             ({"pretrained": "hub"}, "has no pretrained weights"),
             ({"compile": True, "compile_mode": "fast"}, "compile_mode 'fast' is not one of default, reduce-overhead"),
             ({"compile_mode": "reduce-overhead"}, "compile_mode reduce-overhead needs compile: true"),
             ({"checkpoint_every": 0}, "checkpoint_every must be at least 1, got 0"),
             ({"checkpoint_every": True}, "checkpoint_every must be int")]
    for change, msg in cases:
        with pytest.raises(ConfigError, match=msg):
            resolve({**tiny_config(synthetic_root, tmp_path / "bad"), **change})
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_the_default_path_and_plain_fp32_reach_the_same_accuracy(plain_run, fp32_run):
    """The default fast path (precision auto: bf16 autocast on a CPU with native bf16, fp32 on others; channels_last)
    stays within noise of fp32 in NCHW."""
    fast = plain_run
    assert abs(fp32_run["final"]["top1"] - fast["final"]["top1"]) < 8
    assert fp32_run["hardware"]["precision"] == "no" and fast["hardware"]["precision"] == AUTO_CPU_PRECISION


@pytest.mark.slow
def test_evaluate_checkpoint_reproduces_the_record(fp32_run):
    run_dir = Path(fp32_run["config"]["run_dir"])
    m = evaluate_checkpoint(run_dir / "checkpoint.pt")
    assert m["top1"] == pytest.approx(fp32_run["final"]["top1"]) and m["evaluated"] == 300 and "ema" not in m
    assert records.read_json(run_dir / "evaluation.json")["top5"] == pytest.approx(fp32_run["final"]["top5"])


def test_evaluate_checkpoint_reproduces_the_records_ema_weights_too(synthetic_root, tmp_path, capfd):
    """A run with ema_decay records its EMA weights' metrics beside the raw ones (the regularisation study's EMA
    column); evaluate gave the raw weights' only, so that column could not be checked against the checkpoint."""
    rec = train(tiny_config(synthetic_root, tmp_path / "ema", epochs=1, max_steps_per_epoch=3, test_subset=100,
                            overrides={"lr": 0.05, "ema_decay": 0.5}))
    m = evaluate_checkpoint(tmp_path / "ema", out=tmp_path / "e.json")
    assert m["top1"] == rec["final"]["top1"] and m["ema"] == rec["ema"]["final"]
    assert records.read_json(tmp_path / "e.json")["ema"] == rec["ema"]["final"]
    proc = run_cli(capfd, "evaluate", tmp_path / "ema", "--out", tmp_path / "e.json")
    assert proc.returncode == 0 and f"; EMA weights: top-1 {rec['ema']['final']['top1']:.2f}" in proc.stdout


def test_an_evaluation_describes_the_data_the_run_was_measured_on_its_validation_split_too(synthetic_root, tmp_path):
    """evaluate read the run's data without its validation split: evaluation.json said 1,024 training images and
    val_size 0 for a run that trained on 819 and chose its best epoch on 205 held out."""
    rec = train(tiny_config(synthetic_root, tmp_path / "val", epochs=1, max_steps_per_epoch=1, test_subset=100,
                            val_fraction=0.2))
    m = evaluate_checkpoint(tmp_path / "val", out=tmp_path / "e.json")
    assert m["dataset"] == rec["dataset"] and m["dataset"]["val_size"] == 205 and m["evaluated"] == 100


def test_eval_images_per_second_counts_every_image_the_evaluations_take(synthetic_root, tmp_path):
    """An epoch evaluates the test set, the validation split and the test set again for the EMA weights, all in
    its eval_seconds; the rate divided that time by the test set's count alone."""
    rec = train(tiny_config(synthetic_root, tmp_path / "ema-val", epochs=1, max_steps_per_epoch=2, test_subset=100,
                            val_fraction=0.2, overrides={"lr": 0.05, "ema_decay": 0.5}))
    [row] = records.read_metrics(tmp_path / "ema-val")
    images = 2 * 100 + rec["dataset"]["val_size"]
    assert rec["eval_images_per_second"] == pytest.approx(images / row["eval_seconds"])


@pytest.mark.slow
def test_a_cpu_evaluates_in_batches_of_128_unless_told_and_so_does_evaluating_a_checkpoint(synthetic_root, tmp_path,
                                                                                          monkeypatch):
    """A batch of 1000 outgrows a CPU's caches (about half the images/s of 128): without eval_batch_size a CPU
    run, and a checkpoint evaluated on the CPU, take batches of 128; a size that is given is kept."""
    seen = []
    logits = Learner.logits
    monkeypatch.setattr(Learner, "logits", lambda self, xb: seen.append(len(xb)) or logits(self, xb))
    rec = train(tiny_config(synthetic_root, tmp_path / "r", epochs=1, max_steps_per_epoch=1, test_subset=300,
                            eval_batch_size=None))
    assert rec["config"]["eval_batch_size"] is None and seen == [128, 128, 44]
    seen.clear()
    evaluate_checkpoint(tmp_path / "r", out=tmp_path / "e.json")
    assert seen == [128, 128, 44]
    seen.clear()
    evaluate_checkpoint(tmp_path / "r", out=tmp_path / "e.json", batch_size=200)
    train(tiny_config(synthetic_root, tmp_path / "given", epochs=1, max_steps_per_epoch=1, test_subset=300,
                      eval_batch_size=250))
    assert seen == [200, 100, 250, 50]


def _losses(rec) -> list[float]:
    return [r["train_loss"] for r in records.read_metrics(rec["config"]["run_dir"])]


@pytest.mark.slow
@pytest.mark.parametrize("switch", [{"compile": True}, {"fused_optimizer": True}], ids=["compile", "fused_optimizer"])
def test_speed_switches_stay_within_noise_of_plain_path(synthetic_root, tmp_path, plain_runs, switch):
    """Same seed and sample order as the plain run: every epoch's training loss and the final accuracy must
    differ from it by less than another seed of the plain path does."""
    plain, other_seed = plain_runs
    fast = train(tiny_config(synthetic_root, tmp_path / "fast", seed=0, overrides={"lr": 0.1}, **switch))
    assert fast["status"] == "complete" and fast["config"][next(iter(switch))] is True
    noise = [abs(a - b) for a, b in zip(_losses(plain), _losses(other_seed))]
    assert min(noise) > 0.05, "the two seeds should train differently; the check needs a noise level"
    for epoch, (a, b, n) in enumerate(zip(_losses(plain), _losses(fast), noise), 1):
        assert abs(a - b) < n / 2, f"epoch {epoch}: train loss {b:.4f} vs plain {a:.4f}, seed noise {n:.4f}"
    # Final top-1 of a 2-epoch run on 300 test images resolves a difference only down to the sampling error of
    # a difference of two accuracies (the loss curves above are the fine check); a broken switch costs tens of
    # points. Bound: the seed gap, or 3 standard errors of the difference (99.7 %).
    seed_gap = abs(plain["final"]["top1"] - other_seed["final"]["top1"])
    p, n = plain["final"]["top1"] / 100, plain["final"]["evaluated"]
    resolvable = 3 * 100 * math.sqrt(2 * p * (1 - p) / n)
    assert abs(plain["final"]["top1"] - fast["final"]["top1"]) < max(seed_gap, resolvable, 2.0)


def test_compile_mode_reaches_torch_compile(synthetic_root, tmp_path, monkeypatch):
    """reduce-overhead and max-autotune replay CUDA graphs for the static training shapes."""
    modes = []
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: modes.append(mode) or model)
    plan = resolve(tiny_config(synthetic_root, tmp_path / "c", compile=True, compile_mode="reduce-overhead"))
    train_mod.build_learner(plan, build_accelerator("fp32", cpu=True), train_mod.build_model(plan, 10), 4)
    assert modes == ["reduce-overhead"]


@pytest.mark.slow
def test_checkpoint_every_n_epochs_resumes_exactly_from_the_last_one(synthetic_root, tmp_path, monkeypatch):
    """checkpoint_every 2 of 4 epochs writes after epochs 2 and 4; killed in epoch 4, the run resumes from epoch 2
    (the row of epoch 3 is dropped and redone) and ends exactly as the uninterrupted run."""
    cfg = lambda name: tiny_config(synthetic_root, tmp_path / name, epochs=4, max_steps_per_epoch=2,  # noqa: E731
                                   batch_size=32, test_subset=32, checkpoint_every=2)
    real_save, saved = checkpoint_mod.save_checkpoint, []
    monkeypatch.setattr(checkpoint_mod, "save_checkpoint",
                        lambda run_dir, state: saved.append(state["epoch"]) or real_save(run_dir, state))
    straight = train(cfg("straight"))
    assert saved == [2, 4]
    with dies_in_epoch(4), pytest.raises(KeyboardInterrupt):
        train(cfg("cut"))
    assert len(records.read_metrics(tmp_path / "cut")) == 3  # epoch 3 ran, but no checkpoint holds it
    resumed = train({**cfg("cut"), "checkpoint_every": 1})  # the cadence may change on resume: same result
    assert resumed["resumed_from_epoch"] == 2
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING} for r in rows]  # noqa: E731
    assert strip(records.read_metrics(tmp_path / "cut")) == strip(records.read_metrics(tmp_path / "straight"))
    assert resumed["final"] == straight["final"] and resumed["best"] == straight["best"]


def test_a_checkpoint_resumes_only_under_the_recipe_that_trained_it(synthetic_root, tmp_path, monkeypatch):
    """The recipe is not in the checkpoint: a recipe edited between a stop and its resume (a package update) trained
    the rest of the run under it with no word, and the complete record said label_smoothing 0.3 and weight_decay
    1e-3 for epochs trained with 0.0 and 5e-4 (the optimizer, restored from the checkpoint, even kept 5e-4)."""
    cfg = tiny_config(synthetic_root, tmp_path / "run", epochs=3, max_steps_per_epoch=2, test_subset=64)
    with dies_in_epoch(3), pytest.raises(KeyboardInterrupt):
        train(cfg)
    edited = dataclasses.replace(recipes.RECIPES["resnet_sgd"], label_smoothing=0.3, weight_decay=1e-3)
    monkeypatch.setitem(recipes.RECIPES, "resnet_sgd", edited)
    config_before = (tmp_path / "run" / records.CONFIG).read_bytes()
    with pytest.raises(ConfigError, match=r"label_smoothing: 0\.0 → 0\.3.*weight_decay: 0\.0005 → 0\.001"):
        train(cfg)
    assert records.load(tmp_path / "run")["status"] == "interrupted"  # refused before anything was written
    assert (tmp_path / "run" / records.CONFIG).read_bytes() == config_before
    monkeypatch.undo()
    assert train(cfg)["resumed_from_epoch"] == 2  # the recipe it trained with resumes as before


def test_a_resume_that_fails_rewriting_its_metrics_closes_its_record(synthetic_root, tmp_path, monkeypatch):
    """The metrics were cut back to the checkpoint's rows after the record said running but outside the trainer's
    handlers: a full disk (or a stop) there left the record saying running, for good, with nothing running."""
    cfg = tiny_config(synthetic_root, tmp_path / "run", epochs=3, max_steps_per_epoch=2, test_subset=64)
    with dies_in_epoch(2), pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(train_mod, "write_metrics", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError):
        train(cfg)
    record = records.load(tmp_path / "run")
    assert record["status"] == "failed" and "No space left" in record["reason"] and record["epochs_done"] == 1
    monkeypatch.setattr(train_mod, "write_metrics", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    record = records.load(tmp_path / "run")
    assert record["status"] == "interrupted" and record["reason"].endswith("resumes from epoch 1")


def background_checkpoints(monkeypatch, error: Exception | None = None, held: threading.Event | None = None):
    """Checkpoints written in the background, as the trainer writes them on a GPU: each write raises ``error`` (a
    full disk), and with ``held`` epoch 2's write waits until ``held`` is set (a slow disk, still writing)."""
    monkeypatch.setattr(attempt_mod, "overlaps_training", lambda device: True)
    real = checkpoint_mod.save_checkpoint

    def save(run_dir, state):
        if held is not None and state["epoch"] == 2:
            held.wait(60)
        if error is not None:
            raise error
        real(run_dir, state)
    monkeypatch.setattr(checkpoint_mod, "save_checkpoint", save)


def test_checkpoint_writer_overlaps_the_write_and_keeps_the_epochs_weights(tmp_path, monkeypatch):
    """``save`` returns while the write is still going on, and what is written is the state when ``save`` was
    called, though training changes the tensors in place meanwhile."""
    started, release = threading.Event(), threading.Event()
    real = checkpoint_mod.save_checkpoint

    def held(run_dir, state):
        started.set()
        release.wait(10)
        real(run_dir, state)
    monkeypatch.setattr(checkpoint_mod, "save_checkpoint", held)
    weights = torch.zeros(3)
    writer = checkpoint_mod.CheckpointWriter()
    writer.save(tmp_path, {"model": {"w": weights}, "history": [{"epoch": 1}], "epoch": 1})
    assert started.wait(10) and writer.thread.is_alive()  # the caller is free while the write waits
    weights.add_(1)  # the next step
    release.set()
    writer.wait()
    saved = torch.load(tmp_path / records.CHECKPOINT, weights_only=True)
    assert saved["model"]["w"].tolist() == [0, 0, 0] and saved["epoch"] == writer.written == 1


def test_a_checkpoint_write_that_fails_fails_the_run(synthetic_root, tmp_path, monkeypatch):
    """The last write's error reaches the trainer, which records the run as failed, not complete."""
    background_checkpoints(monkeypatch, error=records.DiskFull("no space left on device writing checkpoint.pt"))
    with pytest.raises(records.DiskFull):
        train(tiny_config(synthetic_root, tmp_path / "run", epochs=1, max_steps_per_epoch=1, test_subset=64))
    record = records.load(tmp_path / "run")
    assert record["status"] == "failed" and "no space left" in record["reason"]


def test_a_stop_waits_for_the_checkpoint_being_written_and_names_it(synthetic_root, tmp_path, monkeypatch):
    """Stopped while epoch 2's checkpoint is still being written (the write goes on only once the stop has landed):
    the stop waits for it, and the record says the run resumes from epoch 2, which is the checkpoint on disk."""
    stop_landed = threading.Event()
    background_checkpoints(monkeypatch, held=stop_landed)
    cfg = tiny_config(synthetic_root, tmp_path / "run", epochs=3, max_steps_per_epoch=2, test_subset=64)
    with dies_in_epoch(3), pytest.raises(KeyboardInterrupt):
        dying = train_mod.train_batches

        def batches(*args, **kwargs):
            try:
                yield from dying(*args, **kwargs)
            except KeyboardInterrupt:
                stop_landed.set()
                raise
        train_mod.train_batches = batches  # dies_in_epoch puts the trainer's own back
        train(cfg)
    assert checkpoint_mod.read_checkpoint(tmp_path / "run" / records.CHECKPOINT)["epoch"] == 2
    assert "resumes from epoch 2" in records.load(tmp_path / "run")["reason"]


@pytest.mark.parametrize("lands_in", ["build_learner", "Progress", "_finish"])
def test_a_stop_before_the_first_epoch_or_after_the_last_is_recorded_and_running_again_ends_the_run(
        lands_in, synthetic_root, tmp_path, monkeypatch, capsys):
    """Stops can land outside the epochs once the record says running: while the learner is built or the live
    display imports its plotting, or after the last epoch (the stress test of the stop button found both). The
    record said running for good, and a stop after the last epoch was "in epoch 3 of 2". Before the first
    checkpoint, running it again starts over, which the reason said as "resumes from epoch 0"."""
    real = getattr(train_mod, lands_in)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(train_mod, lands_in, stopped)
    cfg = tiny_config(synthetic_root, tmp_path / "run", epochs=2, max_steps_per_epoch=1, test_subset=64)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    record = records.load(tmp_path / "run")
    after_the_last = lands_in == "_finish"
    assert record["status"] == "interrupted" and record["reason"] == (
        "stopped by hand after its last epoch, before its record was written; running it again finishes it "
        "without training" if after_the_last else "stopped by hand in epoch 1 of 2; running it again starts it over from epoch 1: no checkpoint was saved yet")
    monkeypatch.setattr(train_mod, lands_in, real)
    capsys.readouterr()
    again = train({**cfg, "progress": True})
    assert again["status"] == "complete" and again.get("resumed_from_epoch") == (2 if after_the_last else None)
    rows = records.read_metrics(tmp_path / "run")
    assert [r["epoch"] for r in rows] == [1, 2]
    # the speeds of the epochs that trained (after the last epoch, the stopped attempt's): an average over the
    # none the finishing attempt trained read 0 images/s, and its bar "epoch 3/2"
    assert again["images_per_second"] == pytest.approx(sum(r["images_per_second"] for r in rows) / 2)
    assert again["eval_images_per_second"] > 0 and "epoch 3/2" not in capsys.readouterr().err


def test_a_stop_landing_just_after_an_inline_checkpoint_is_renamed_names_that_checkpoint(
        synthetic_root, tmp_path, monkeypatch):
    """On a CPU the checkpoint is written inline, and Ctrl-C can land after the new file is in place but before
    the writer has noted it (it did in CI's live-notebook test): the record must still name the checkpoint that a
    resume reads, epoch 1, not the one before it."""
    real = checkpoint_mod.save_checkpoint

    def renamed_then_stopped(run_dir, state):
        real(run_dir, state)
        raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint_mod, "save_checkpoint", renamed_then_stopped)
    cfg = tiny_config(synthetic_root, tmp_path / "run", epochs=3, max_steps_per_epoch=1, test_subset=64)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    assert checkpoint_mod.read_checkpoint(tmp_path / "run" / records.CHECKPOINT)["epoch"] == 1
    assert records.load(tmp_path / "run")["reason"].endswith("resumes from epoch 1")


def test_a_stop_landing_before_the_writer_thread_starts_leaves_the_last_checkpoint_named(tmp_path, monkeypatch):
    """Ctrl-C between the writer thread's creation and its start: waiting for it must not fail (joining a thread
    never started raises), and the checkpoint named is the one before, which is what is on disk."""
    class StoppedBeforeStart(threading.Thread):
        def start(self):
            raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint_mod, "threading", SimpleNamespace(Thread=StoppedBeforeStart))  # this module only
    writer = checkpoint_mod.CheckpointWriter(written=3)
    with pytest.raises(KeyboardInterrupt):
        writer.save(tmp_path, {"model": {"w": torch.zeros(1)}, "history": [], "epoch": 4})
    writer.wait(raise_error=False)
    assert writer.on_disk() == 3 and not (tmp_path / records.CHECKPOINT).exists()
