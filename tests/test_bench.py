"""The speed benchmark's measurements (pipeline throughput, campaign epoch times, runs sharing a device), the timed
training runs, and the Performance page rendered from their records."""
import functools
import json
import os
import re
import runpy
import shutil
import statistics
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, run_cli

from cifar100lab import distill, report, timed_runs, wall_time
from cifar100lab.accelerator import NATIVE_BF16, cpu_has_native_bf16
from cifar100lab.bench import campaign_time, throughput, timing
from cifar100lab.campaign import load_campaign
from cifar100lab.config import ConfigError, resolve
from cifar100lab.model_catalog import read_catalog
from cifar100lab.records import atomic_write_json
from cifar100lab.report import performance
from cifar100lab.report.performance import CPU_TRAIN_SPEEDUP_TARGET

SMALL = dict(batch_size=16, steps=2, warmup=1, workers=0, eval_batch_size=32, repeats=2)


@pytest.fixture(scope="module", autouse=True)
def brief_matmul_peaks():
    """Every bench record measures the device's matmul peak by multiplying for a whole second per precision (two
    busy seconds a call, a dozen calls here); no test reads the peak's value, so it multiplies for 50 ms."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timing, "matmul_peak", functools.partial(timing.matmul_peak, seconds=0.05))
        yield


@pytest.fixture(scope="module")
def pipeline_record():
    return throughput.run_bench(["resnet_20"], compile_model=False, **SMALL)


def test_pipeline_bench_times_both_paths_in_interleaved_rounds(pipeline_record):
    rows = {r["path"]: r for r in pipeline_record["rows"]}
    assert set(rows) == {"original", "ours"}
    orig, ours = rows["original"], rows["ours"]
    assert orig["precision"] == "fp32" and not orig["channels_last"]
    assert ours["precision"] == ("bf16" if cpu_has_native_bf16() else "fp32") and ours["channels_last"]
    for r in rows.values():
        assert len(r["train_samples"]) == len(r["eval_samples"]) == 2
        assert r["train_images_per_second"] == statistics.median(r["train_samples"])
        assert r["achieved_tflops"] == pytest.approx(3 * r["flops_per_image"] * r["train_images_per_second"] / 1e12)
    assert ours["train_speedup"] == pytest.approx(ours["train_images_per_second"] / orig["train_images_per_second"])
    assert "train_speedup" not in orig
    assert pipeline_record["device_type"] == "cpu" and pipeline_record["versions"]["torch"]
    # the CPU's instruction set, which its name alone does not give (an AMD EPYC with or without native bf16)
    assert pipeline_record["cpu_isa"] in {"AMX", "AVX512-BF16", "AVX512", "AVX2", "DEFAULT"}
    assert (pipeline_record["cpu_isa"] in NATIVE_BF16) == cpu_has_native_bf16()


def write_campaign(tmp_path, models="[resnet_20]", studies=""):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: t\ndataset: cifar100\nseeds: [0, 1]\nmodels: {models}\n"
                    f"defaults: {{epochs: 3, batch_size: 16, eval_batch_size: 32, train_subset: 320}}\n{studies}")
    return path


def test_campaign_epoch_times_predict_the_campaign_from_each_network(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text("study: k\nseeds: [0]\nvariants:\n  - {label: k3, model: eca_resnet_20, options: {k_size: 3}}\n"
                     "  - {label: k5, model: eca_resnet_20, options: {k_size: 5}}\n")
    camp = write_campaign(tmp_path, "[resnet_20, eca_resnet_20]", f"studies: [{study}]\n")
    kept = []
    rec = campaign_time.run_campaign_times(camp, steps=2, warmup=1, progress=lambda *_: None, keep=kept.append)
    # the record is kept as it grows: a time limit that stops the bench keeps what it measured
    assert [(len(k["networks"]), k["unfinished"], k["complete"]) for k in kept] == [(1, 2, False), (2, 1, False),
                                                                                    (3, 0, True)]
    assert kept[-1]["networks"] == rec["networks"]
    nets = {(n["model"], json.dumps(n["options"])): n for n in rec["networks"]}
    # resnet_20 × 2 seeds, eca (k 3 = default) × 2 seeds + 1 study seed, eca k5 × 1: three networks
    assert set(nets) == {("resnet_20", "{}"), ("eca_resnet_20", "{}"), ("eca_resnet_20", '{"k_size": 5}')}
    assert nets[("eca_resnet_20", "{}")]["run_epochs"] == 6 and len(nets[("resnet_20", "{}")]["runs"]) == 2
    catalog = {m["model"]: m["flops"] for m in read_catalog()}  # counted alike: 100 classes, 32 px
    assert nets[("resnet_20", "{}")]["flops_per_image"] == catalog["resnet_20"]
    assert nets[("eca_resnet_20", '{"k_size": 5}')]["flops_per_image"] > catalog["eca_resnet_20"]  # wider conv
    for n in rec["networks"]:
        assert (n["train_images"], n["eval_images"]) == (320, 10000)
        expected = 320 / n["train_images_per_second"] + 10000 / n["eval_images_per_second"]
        assert n["epoch_seconds"] == pytest.approx(expected)
        assert n["predicted_seconds"] == pytest.approx(n["run_epochs"] * n["epoch_seconds"])
    assert rec["predicted_campaign_seconds"] == pytest.approx(sum(n["predicted_seconds"] for n in rec["networks"]))
    assert rec["complete"] and rec["processes"] == 1
    # one run at a time on one GPU takes the whole sum; 8 GPUs take at least the longest run
    pred = rec["prediction"]
    assert pred["gpus_1_seconds"] == pytest.approx(rec["predicted_campaign_seconds"]) and pred["runs_per_gpu"] == 1
    longest = max(n["epoch_seconds"] * e for n in rec["networks"] for e in n["epochs_per_run"])
    assert longest <= pred["gpus_8_seconds"] < pred["gpus_1_seconds"]
    assert rec["run_order"] == [run.run_id for run in load_campaign(camp).runs]  # the order the queue hands out


def test_a_model_entry_with_its_own_budget_is_priced_at_it_and_its_network_timed_once(tmp_path, monkeypatch):
    """Two entries of one network, one with its own name, epochs and subsets: the bench folded the second's runs
    into the first's row and priced them at the first's epoch (21 s predicted for 93 s of epochs)."""
    timed = []
    monkeypatch.setattr(campaign_time, "_network_rates", lambda net, *a, **k: timed.append(net["model"]) or {
        **dict.fromkeys(campaign_time.RATE_KEYS), "train_images_per_second": 100.0, "eval_images_per_second": 1000.0})
    camp = write_campaign(tmp_path, "[resnet_20, {model: resnet_20, name: r20_long, epochs: 8, train_subset: 640, "
                                    "test_subset: 500}]")
    rec = campaign_time.run_campaign_times(camp, steps=1, warmup=0, progress=lambda *_: None)
    assert timed == ["resnet_20"]  # one network: its second budget reuses the timing
    rows = {tuple(n["runs"]): n for n in rec["networks"]}
    plain, long = rows[("t-resnet_20-s0", "t-resnet_20-s1")], rows[("t-r20_long-s0", "t-r20_long-s1")]
    assert plain["epoch_seconds"] == pytest.approx(320 / 100 + 10000 / 1000) and plain["epochs_per_run"] == [3, 3]
    assert long["epoch_seconds"] == pytest.approx(640 / 100 + 500 / 1000) and long["epochs_per_run"] == [8, 8]
    assert rec["predicted_campaign_seconds"] == pytest.approx(2 * 3 * 13.2 + 2 * 8 * 6.9)
    en = performance._epoch_times_section(rec, "en")
    assert re.search(r"\| resnet_20 \|.*\| 13\.2 \| 2 × 3 \|", en)
    assert re.search(r"\| resnet_20 \(r20_long\) \|.*\| 6\.9 \| 2 × 8 \|", en)


@pytest.mark.parametrize("field, other, seen", [("compile_mode", "max-autotune", ["default", "max-autotune"]),
                                               ("deterministic", "true", [False, True])])
def test_entries_that_differ_only_in_their_kernels_are_timed_each_with_its_own(tmp_path, monkeypatch, field, other,
                                                                              seen):
    """A max-autotune entry (or a deterministic one) beside a plain one of the same network was folded into the
    first's row and priced at its timing (one row of 4 runs, one timing, compile_mode 'default')."""
    timed = []
    monkeypatch.setattr(campaign_time, "_network_rates", lambda net, *a, **k: timed.append(
        getattr(net["runs"][0].config, field)) or {**dict.fromkeys(campaign_time.RATE_KEYS),
                                                   "train_images_per_second": 100.0, "eval_images_per_second": 1000.0})
    camp = write_campaign(tmp_path, f"[{{model: resnet_20, compile: true}}, {{model: resnet_20, name: r20_max, compile: "
                                    f"true, {field}: {other}}}]")
    rec = campaign_time.run_campaign_times(camp, steps=1, warmup=0, progress=lambda *_: None)
    assert timed == seen
    assert [n["runs"] for n in rec["networks"]] == [["t-resnet_20-s0", "t-resnet_20-s1"], ["t-r20_max-s0", "t-r20_max-s1"]]


def test_campaign_epoch_times_time_each_runs_whole_epoch_on_its_own_datasets_classes(tmp_path, monkeypatch):
    """A 10-class campaign whose regularisation variants mix labels, draw RandAugment and keep an EMA: each network
    is timed with its dataset's classes (Mixup's one-hot targets once failed on the 100-class synthetic labels),
    its batches get the recipe's policy as the trainer's do, and its epoch counts every evaluation the trainer
    makes (the validation split; the test set again for the EMA weights)."""
    study = tmp_path / "s.yaml"
    study.write_text("study: r\nseeds: [0]\nvariants:\n  - {label: none, model: resnet_20}\n"
                     "  - {label: mix, model: resnet_20, overrides: {mixup: 0.8, cutmix: 1.0, label_smoothing: 0.1}}\n"
                     "  - {label: ra, model: resnet_20, overrides: {auto_augment: randaugment, ra_ops: 2,"
                     " random_erasing: 0.25, ema_decay: 0.9998}}\n")
    camp = tmp_path / "c.yaml"
    camp.write_text(f"name: t\ndataset: fashion-mnist\nseeds: [0]\nmodels: []\nstudies: [{study}]\ndefaults: "
                    "{epochs: 1, batch_size: 16, eval_batch_size: 32, train_subset: 320, test_subset: 64, "
                    "val_fraction: 0.1}\n")
    real, augmented = timing.data_mod.policy_augmentation, []

    def spy(recipe, mean):
        policy = real(recipe, mean)
        return policy and (lambda xb, key: augmented.append((recipe.auto_augment, len(xb))) or policy(xb, key))

    monkeypatch.setattr(timing.data_mod, "policy_augmentation", spy)
    rec = campaign_time.run_campaign_times(camp, steps=2, warmup=1, progress=lambda *_: None)
    assert rec["complete"] and len(rec["networks"]) == 3
    assert augmented == [("randaugment", 16)] * 3  # the RandAugment network's warm-up and two timed steps
    # 320 images less a 10 % validation split, in full batches of 16: 288 trained; 64 test + 32 validation
    # images evaluated, and the 64 test images again for the EMA weights
    # the two networks that differ from the plain one only in their recipe are told apart by their variant
    assert sorted(n.get("variant", {}).get("label", "-") for n in rec["networks"]) == ["-", "mix", "ra"]
    evaluated = sorted(n["eval_images"] for n in rec["networks"])
    assert [n["train_images"] for n in rec["networks"]] == [288] * 3 and evaluated == [96, 96, 160]
    for n in rec["networks"]:
        expected = 288 / n["train_images_per_second"] + n["eval_images"] / n["eval_images_per_second"]
        assert n["epoch_seconds"] == pytest.approx(expected)


def test_a_network_that_cannot_be_timed_is_named_with_its_error_and_the_others_are_timed(tmp_path, monkeypatch, capfd):
    """On a 15-minute device lease, one network out of memory once ended the campaign bench for all that followed."""
    camp = tmp_path / "c.yaml"
    camp.write_text("name: t\ndataset: synthetic\nseeds: [0, 1]\nmodels: [resnet_32, resnet_20]\ndefaults: "
                    "{epochs: 2, batch_size: 16, eval_batch_size: 32, train_subset: 64, test_subset: 32}\n")
    real = campaign_time._network_rates

    def out_of_memory(net, *args, **kwargs):
        if net["model"] == "resnet_32":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(net, *args, **kwargs)

    monkeypatch.setattr(campaign_time, "_network_rates", out_of_memory)
    out = tmp_path / "times.json"
    proc = run_cli(capfd, "bench", "--campaign", camp, "--steps", 1, "--warmup", 0, "--out", out)
    assert proc.returncode == 1, proc.stderr
    rec = json.loads(out.read_text())
    assert [n["model"] for n in rec["networks"]] == ["resnet_20"] and not rec["complete"] and rec["unfinished"] == 0
    assert rec["failed_networks"] == [{"model": "resnet_32", "options": {}, "input_size": 32, "batch_size": 16,
                                       "runs": ["t-resnet_32-s0", "t-resnet_32-s1"],
                                       "error": "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"}]
    assert "1 failed, their 2 run(s) left out: resnet_32 32px (RuntimeError: CUDA out of memory" in proc.stdout
    report.write_performance_page(tmp_path, tmp_path / "gen", tmp_path / "runs")
    page = (tmp_path / "gen" / "performance_en.md").read_text()
    assert ("- resnet_32 at 32 px could not be timed, so its 2 runs are not in the prediction: `RuntimeError: CUDA "
            "out of memory. Tried to allocate 2.00 GiB`.") in page
    assert "resnet_32（32 px）未能计时" in (tmp_path / "gen" / "performance_zh.md").read_text()


@pytest.mark.slow
def test_campaign_epoch_times_count_the_distilling_variants_whose_teachers_are_not_trained_yet(tmp_path, monkeypatch):
    """Before its teachers have run, a campaign skips its distilling variants; the bench times them as they will
    run, the teacher a randomly initialised network of the campaign's teacher run, its forward in every step and
    in the FLOPs; a variant whose teacher the campaign never trains is named as not timed, on the page too."""
    study = tmp_path / "kd.yaml"
    study.write_text("study: kd\nseeds: [0, 1]\nvariants:\n  - {label: none, model: resnet_20}\n"
                     "  - {label: trained, model: resnet_20, overrides: {distill_from: 'best:convnext_tiny|resnet_56'}}\n"
                     "  - {label: imagenet, label_zh: 预训练, model: resnet_20,"
                     " overrides: {distill_from: 'best:convnext_tiny_timm'}}\n")
    camp = write_campaign(tmp_path, "[resnet_56]", f"studies: [{study}]\n")
    monkeypatch.chdir(tmp_path)  # the campaign's runs folder (where best:… looks for teachers) is ./runs: empty
    taught = []
    real_logits = distill.Teacher.logits
    monkeypatch.setattr(distill.Teacher, "logits", lambda self, x: taught.append(len(x)) or real_logits(self, x))
    rec = campaign_time.run_campaign_times(camp, steps=2, warmup=1, progress=lambda *_: None)
    students = [n for n in rec["networks"] if "teacher" in n]
    assert len(students) == 1 and rec["complete"]
    student, = students
    assert (student["model"], student["teacher"]["model"], student["teacher"]["input_size"]) == ("resnet_20", "resnet_56", 32)
    assert len(student["runs"]) == 2 and student["run_epochs"] == 6  # two seeds × 3 epochs
    assert taught == [16] * 3  # the teacher answered the warm-up step and the two timed ones
    catalog = {m["model"]: m["flops"] for m in read_catalog()}  # counted alike: 100 classes, 32 px
    assert student["teacher"]["flops_per_image"] == catalog["resnet_56"]
    assert rec["untimed_variants"] == [{"study": "kd", "label": "imagenet", "label_zh": "预训练",
                                        "teacher": "best:convnext_tiny_timm"}]
    # a run that distils cannot replay its step as a CUDA graph (config refuses it): a graphed bench times it eagerly,
    # as it will run (on this CPU a graphed step would be refused outright)
    from cifar100lab.campaign import load_campaign
    waiting, _ = campaign_time.waiting_students(load_campaign(camp))
    eager = campaign_time._network_rates(waiting[0], 1, 0, False, torch.device("cpu"), cuda_graph=True)
    assert eager["cuda_graph"] is False and eager["teacher"]["model"] == "resnet_56"
    # --models resnet_20 times the plain ResNet-20 (gpu_check.sh's prediction of its 200-epoch run), not its student
    plain = campaign_time.run_campaign_times(camp, steps=1, warmup=0, progress=lambda *_: None, only=["resnet_20"])
    assert [(n["model"], "teacher" in n) for n in plain["networks"]] == [("resnet_20", False)]
    out = tmp_path / "records"
    atomic_write_json(out / "epochs.json", rec)
    report.write_performance_page(out, tmp_path / "gen")
    en, zh = ((tmp_path / "gen" / f"performance_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "resnet_20 ← resnet_56 32 px (trained)" in en and "resnet_20 ← resnet_56 32 px (trained)" in zh
    assert "A distilling run's step includes its teacher's forward" in en and "蒸馏运行的每步包含其教师模型的前向" in zh
    assert "Not timed (no run of their teacher in the campaign): `kd` · imagenet (`best:convnext_tiny_timm`)." in en
    assert "未计时（实验中没有其教师模型的运行）：`kd` · 预训练 (`best:convnext_tiny_timm`)。" in zh


@pytest.mark.slow
def test_the_full_protocols_prediction_covers_its_distillation_study(tmp_path, monkeypatch):
    """Before any teacher has run, the `full` campaign's 24 distilled runs (2 students × 2 teachers × 2 α × 3 seeds)
    are in what `bench --campaign params/full.yaml` times, each with the costlier teacher it may get."""
    from cifar100lab.campaign import load_campaign
    monkeypatch.chdir(tmp_path)  # no runs: no teacher is trained
    students, untimed = campaign_time.waiting_students(load_campaign(ROOT / "params" / "full.yaml"))
    assert untimed == [] and sum(len(n["runs"]) for n in students) == 24
    teachers = {(n["model"], n["teacher_plan"].config.model, n["teacher_plan"].input_size) for n in students}
    assert teachers == {(m, t, size) for m in ("resnet_20", "ghost_resnet_20")
                        for t, size in (("convnext_tiny", 32), ("convnext_tiny_timm", 224))}


def test_a_distilling_runs_own_teacher_answers_in_its_timed_step(tmp_path, monkeypatch):
    """Once its teacher is there, a distilling run is timed with it: here an ImageNet-style timm teacher at 224 px
    from a local weights file, fed every training batch."""
    from safetensors.torch import save_file

    from cifar100lab.models import create_model
    weights = tmp_path / "ghostnet.safetensors"
    save_file(create_model("ghostnet_100", num_classes=100).state_dict(), weights)
    plan = resolve(dict(model="resnet_20", batch_size=16, eval_batch_size=32,
                        overrides={"distill_from": f"ghostnet_100@{weights}"}))
    taught = []
    real_logits = distill.Teacher.logits
    monkeypatch.setattr(distill.Teacher, "logits", lambda self, x: taught.append(self.view(x).shape[-1]) or
                        real_logits(self, x))
    x, y = timing.synthetic_images(64)
    path = timing.OursPath(plan, (x[:48], y[:48]), (x, y), 1, torch.device("cpu"))
    path.train_round()
    assert taught == [224] * 3
    assert path.info["teacher"] == {"model": "ghostnet_100", "options": {}, "input_size": 224, "kind": "model"}


def test_predicted_wall_time_hands_the_runs_out_in_the_campaigns_order_to_the_first_free_job():
    """The prediction sorted the runs longest first, which the campaign's queue does not: 8 short runs before a
    long one on 8 GPUs were predicted 10 s (they take 11), and the committed H200 `full` record 2.66 h on 8 GPUs
    where its runs in the campaign's order take 3.24 h."""
    runs = [10, 6, 4, 4]
    predicted_wall = wall_time.predicted_wall
    assert predicted_wall(runs, gpus=1) == 24 and predicted_wall(runs, gpus=2) == 14
    assert predicted_wall(runs, gpus=8) == 10  # more GPUs than runs: the longest run
    assert predicted_wall([1] * 8 + [10], gpus=8) == 11  # the long run starts once a short one has ended
    nets = [{"epoch_seconds": 1.0, "epochs_per_run": [1] * 8, "runs": [f"s{i}" for i in range(8)]},
            {"epoch_seconds": 10.0, "epochs_per_run": [1], "runs": ["long"]}]
    order = ["long", *(f"s{i}" for i in range(8))]
    assert wall_time.campaign_prediction(nets)["gpus_8_seconds"] == 11  # the networks' order without one
    assert wall_time.campaign_prediction(nets, order=order)["gpus_8_seconds"] == 10


def test_a_run_with_its_gpu_to_itself_is_not_slowed_by_sharing():
    """Every run was slowed as if it shared its GPU: one 10 s run with 4 runs allowed per GPU and no gain from
    sharing was predicted 40 s, and so were 8 of them on 8 GPUs, where the queue gives each a GPU of its own."""
    predicted_wall = wall_time.predicted_wall
    assert predicted_wall([10], gpus=1, runs_per_gpu=4, slowdown=4.0) == 10
    assert predicted_wall([10] * 8, gpus=8, runs_per_gpu=4, slowdown=4.0) == 10
    assert predicted_wall([10] * 4, gpus=1, runs_per_gpu=4, slowdown=4.0) == 40  # no gain: the GPU's whole sum
    # two runs per GPU, each 1.5× slower than alone: 10 and 6 side by side (6 ends at 9), then 4 beside the 10's
    # last 4 (both end at 15), then the last 4 alone, at full speed
    assert predicted_wall([10, 6, 4, 4], gpus=1, runs_per_gpu=2, slowdown=1.5) == 19


@pytest.mark.slow  # a fork server importing torch once, and three runs forked from it
def test_packing_bench_reports_aggregate_throughput_of_runs_sharing_the_device(tmp_path, capsys):
    from cifar100lab.cli import main
    out = tmp_path / "pack.json"
    assert main(["bench", "--pack", "1", "2", "--steps", "2", "--warmup", "1", "--batch-size", "8",
                 "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    assert rec["kind"] == "packing" and [r["runs"] for r in rec["rows"]] == [1, 2]
    two = rec["rows"][1]
    assert len(two["per_run_images_per_second"]) == 2 and two["aggregate_images_per_second"] > 0
    assert two["aggregate_speedup"] == pytest.approx(two["aggregate_images_per_second"] /
                                                     rec["rows"][0]["aggregate_images_per_second"])
    assert "total img/s" in capsys.readouterr().out  # the table prints each row under its short header


def write_runs_file(tmp_path, variants, extra=""):
    path = tmp_path / "runs.yaml"
    path.write_text("title: {en: Check, zh: 检查}\nbase: {model: resnet_20, dataset: synthetic, epochs: 1, "
                    f"batch_size: 64, eval_batch_size: 128}}\nvariants:\n{variants}{extra}")
    return path


@pytest.mark.slow
def test_timed_runs_train_each_variant_and_keep_accuracy_and_time(synthetic_root, tmp_path):
    # a few steps each, and bf16 on fewer test images: it is emulated on a CPU without AMX or AVX512-BF16
    path = write_runs_file(tmp_path, "  - {label: fp32, precision: fp32, channels_last: false, max_steps_per_epoch: 4}\n"
                                     "  - {label: bf16, precision: bf16, max_steps_per_epoch: 2, batch_size: 16, test_subset: 64}\n")
    rec = timed_runs.run_timed_runs(path, data_root=str(synthetic_root), progress=lambda *_: None)
    assert [r["label"] for r in rec["runs"]] == ["fp32", "bf16"]
    assert [r["final"]["evaluated"] for r in rec["runs"]] == [300, 64]
    for r in rec["runs"]:
        assert r["status"] == "complete" and len(r["epoch_seconds"]) == 1
        assert r["dataset"]["kind"] == "synthetic" and r["wall_seconds"] > 0
    assert rec["runs"][0]["hardware"]["precision"] == "no" and rec["runs"][1]["hardware"]["precision"] == "bf16"


@pytest.mark.parametrize("variants, extra, message", [
    ("  - {label: a}\n  - {label: a}\n", "", "distinct 'label'"),
    ("  - {label: a, epochz: 2}\n", "", "variant 'a': .*epochz"),
    ("  - {label: a}\n", "colour: red\n", "unknown key.*colour.*valid keys"),
    # the Performance page looks each language up in them: a plain string failed there, after every variant trained
    ("  - {label: a}\n", "description: Speed switches\n", "description must be a mapping of language to text"),
    ("  - {label: a}\n", "description: [a]\n", "description must be a mapping of language to text"),
])
def test_bad_runs_file_fails_before_any_training(tmp_path, variants, extra, message):
    with pytest.raises(ConfigError, match=message):
        timed_runs.run_timed_runs(write_runs_file(tmp_path, variants, extra))


def test_cli_reports_bad_input_in_one_line_and_writes_nothing(tmp_path, capsys):
    from cifar100lab.cli import main
    out = tmp_path / "r.json"
    for args, message in ((["--models", "resnet20"], "unknown model(s) resnet20 (did you mean resnet_20?); valid: "),
                          (["--out", "r.txt"], "must name a .json"),
                          (["--campaign", str(tmp_path / "none.yaml"), "--out", str(out)], "does not exist"),
                          (["--pack", "2", "--campaign", "y.yaml"], "give one"),
                          (["--pack", "0", "2"], "--pack takes run counts of at least 1, got 0 2"),
                          (["--campaign", "y.yaml", "--slowdown", "0.5"], "--slowdown a number of at least 1"),
                          (["--steps", "0"], "at least 1"),
                          (["--compile-mode", "fast"], "--compile-mode must be one of reduce-overhead, max-autotune"),
                          (["--pack", "1", "2", "--cuda-graph", "--device", "cpu"],
                           "--cuda-graph replays CUDA graphs: it needs --device cuda, got --device cpu")):
        assert main(["bench", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, (args, err)
    assert not out.exists()


@pytest.mark.parametrize("args, gpus, error", [
    (["--device", "foo"], 0, "error: --device must be cpu, cuda or cuda:N (N a GPU index), got foo"),
    (["--device", "cuda"], 0, "error: --device cuda: this machine has no CUDA device (NVML reports none); use "
                              "--device cpu"),
    (["--device", "cuda:1"], 1, "error: --device cuda:1: this machine has 1 CUDA device(s), cuda:0 to cuda:0"),
    (["--workers", "-1"], 0, "cifar100lab bench: error: argument --workers: must be at least 0, got -1"),
    (["--warmup", "-1"], 0, "cifar100lab bench: error: argument --warmup: must be at least 0, got -1"),
    (["--warmup", "x"], 0, "cifar100lab bench: error: argument --warmup: must be a whole number of at least 0, "
                           "got 'x'"),
], ids=["device-foo", "device-cuda", "device-cuda:1", "workers-1", "warmup-1", "warmup-x"])
def test_a_device_this_machine_lacks_and_negative_workers_or_warmup_are_refused_before_any_timing(
        tmp_path, capfd, monkeypatch, args, gpus, error):
    """Each was a traceback (torch's, the DataLoader's, or "nothing timed") once the timing had started."""
    from cifar100lab import devices
    from cifar100lab.bench import command as bench
    monkeypatch.setattr(devices, "visible_gpus", lambda: gpus)
    monkeypatch.setattr(bench, "measure", lambda a: pytest.fail("timed before checking its flags"))
    proc = run_cli(capfd, "bench", *args, "--out", tmp_path / "r.json")
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1] == error, proc.stderr
    assert error.startswith("cifar100lab") or proc.stderr.count("\n") == 1  # argparse's usage, else one line
    assert not (tmp_path / "r.json").exists()


def test_the_original_paths_evaluation_times_its_only_batch_when_there_is_one():
    """--steps 1 --warmup 0 makes one batch; its evaluation warmed up on it and had nothing left to time."""
    x, y = timing.synthetic_images(4)
    path = throughput.OriginalPath("resnet_20", (x, y), 4, 0, 0, torch.device("cpu"))
    seconds, seen, _ = path.eval_round()
    assert seen == 4 and seconds > 0


@pytest.mark.parametrize("deterministic", [False, True])
def test_ours_is_timed_with_the_trainers_kernel_settings_and_the_original_with_pytorchs(monkeypatch, deterministic):
    """The bench never set the trainer's kernel policy: ours was timed without cuDNN autotuning while every run
    trains with it (and the original was timed with whatever an earlier round of ours left set)."""
    seen = []

    def flags(*args):
        seen.append((torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled()))
        return 1.0, 1, 0.0
    monkeypatch.setattr(timing, "timed", flags)
    monkeypatch.setattr(throughput, "timed", flags)
    x, y = timing.synthetic_images(8, num_classes=10)
    ours = timing.OursPath(resolve(dict(model="resnet_20", dataset="synthetic", batch_size=4, eval_batch_size=4,
                                        deterministic=deterministic)), (x, y), (x, y), 0, torch.device("cpu"))
    original = throughput.OriginalPath("resnet_20", (x, y), 4, 0, 0, torch.device("cpu"))
    try:
        for path in (ours, original, ours, original):
            path.train_round()
            path.eval_round()
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.benchmark = False
    trainer, pytorch = (not deterministic, deterministic), (False, False)
    assert seen == [trainer, trainer, pytorch, pytorch] * 2


def test_bench_runs_flag_names_the_timed_runs_command_and_trains_nothing(tmp_path, capfd):
    runs = write_runs_file(tmp_path, "  - {label: a}\n")
    out = tmp_path / "r.json"
    proc = run_cli(capfd, "bench", "--runs", runs, "--data-root", "data", "--out", out)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"python -m cifar100lab timed-runs {runs} --data-root data" in proc.stderr
    assert not out.exists() and not proc.stdout


def test_timed_runs_command_trains_each_variant_and_writes_its_record(synthetic_root, tmp_path, capfd):
    tiny = "  - {label: plain, train_subset: 128, test_subset: 64, max_steps_per_epoch: 2}\n"
    out = tmp_path / "runs.json"
    proc = run_cli(capfd, "timed-runs", write_runs_file(tmp_path, tiny), "--data-root", synthetic_root, "--out", out)
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(out.read_text())
    assert rec["kind"] == "runs" and [r["label"] for r in rec["runs"]] == ["plain"]
    assert rec["runs"][0]["status"] == "complete" and "plain" in proc.stdout
    assert "; data: synthetic data (CIFAR-100 layout)\n" in proc.stdout  # the top-1 column's data, named


def test_a_variant_that_fails_in_training_is_kept_as_failed_and_the_next_one_trains(synthetic_root, tmp_path, capfd):
    """A GPU call's timed runs are written at the end: one variant's failure once lost every variant's result."""
    tiny = "train_subset: 128, test_subset: 64, max_steps_per_epoch: 2"
    variants = (f"  - {{label: diverges, {tiny}, overrides: {{lr: 1.0e+30}}}}\n"
                f"  - {{label: plain, {tiny}}}\n")
    out = tmp_path / "runs.json"
    proc = run_cli(capfd, "timed-runs", write_runs_file(tmp_path, variants), "--data-root", synthetic_root,
                   "--out", out)
    assert proc.returncode == 1, proc.stderr
    rec = json.loads(out.read_text())
    assert [(r["label"], r["status"]) for r in rec["runs"]] == [("diverges", "failed"), ("plain", "complete")]
    assert "loss became" in rec["runs"][0]["reason"] and "[1/2] diverges: failed (TrainingDiverged" in proc.stdout


def test_timed_runs_command_refuses_bad_input_in_one_line_before_training(tmp_path, capfd):
    runs = write_runs_file(tmp_path, "  - {label: a}\n")
    for args, message in (([tmp_path / "none.yaml"], "runs file " + str(tmp_path / "none.yaml") + " does not exist"),
                          ([runs, "--out", "r.txt"], "--out must name a .json file, got r.txt")):
        proc = run_cli(capfd, "timed-runs", *args)
        assert proc.returncode == 2 and proc.stderr == f"error: {message}\n", proc.stderr
    assert not list(tmp_path.glob("*.json")) and not (tmp_path / "r.txt").exists()


@pytest.mark.parametrize("out, why", [("taken/r.json", "taken is a file, not a folder"),
                                      ("none/r.json", "its folder none does not exist"),
                                      ("folder.json", "it is a folder")])
@pytest.mark.parametrize("command", ["timed-runs", "bench"])
def test_an_out_that_cannot_be_written_is_refused_before_any_training_or_timing(
        tmp_path, capfd, monkeypatch, command, out, why):
    """The record is written at the end: the runs (in a temporary folder) or timings were lost to its error."""
    from cifar100lab.bench import command as bench
    monkeypatch.setattr(timed_runs, "run_timed_runs", lambda *a, **k: pytest.fail("trained before checking --out"))
    monkeypatch.setattr(bench, "measure", lambda a: pytest.fail("timed before checking --out"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("keep me")
    (tmp_path / "folder.json").mkdir()
    args = [write_runs_file(tmp_path, "  - {label: a}\n")] if command == "timed-runs" else []
    proc = run_cli(capfd, command, *args, "--out", out)
    assert proc.returncode == 2 and proc.stderr == (
        f"error: cannot write the record to {out}: {why}; pass --out FILE in a writable folder\n"), proc.stderr
    assert (tmp_path / "taken").read_text() == "keep me" and not (tmp_path / "none").exists()


@pytest.mark.slow
def test_performance_page_renders_every_kind_of_record_in_both_languages(pipeline_record, synthetic_root, tmp_path,
                                                                      capfd, monkeypatch):
    records_dir = tmp_path / "records"
    atomic_write_json(records_dir / "cpu-pipeline.json", pipeline_record)
    camp = write_campaign(tmp_path)
    atomic_write_json(records_dir / "cpu-epochs.json",
                      campaign_time.run_campaign_times(camp, steps=2, warmup=1, progress=lambda *_: None))
    runs = write_runs_file(tmp_path, "  - {label: plain-run, max_steps_per_epoch: 2, test_subset: 64}\n")
    atomic_write_json(records_dir / "cpu-runs.json", timed_runs.run_timed_runs(runs, str(synthetic_root), lambda *_: None))
    # the script as `python benchmarks/checkpoint_write.py ...` runs it, in this process (torch is imported already)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["checkpoint_write.py", "--models", "resnet_20", "--repeats", "1", "--out",
                                      str(records_dir / "cpu-checkpoint-write.json")])
    capfd.readouterr()
    with pytest.raises(SystemExit) as ended:
        runpy.run_path(str(ROOT / "benchmarks" / "checkpoint_write.py"), run_name="__main__")
    assert ended.value.code == 0, capfd.readouterr().err[-2000:]
    found = report.write_performance_page(records_dir, tmp_path / "gen")
    by_kind = {r["kind"]: r for r in found}
    assert set(by_kind) == {"bench", "epoch_times", "runs", "checkpoint_write"}
    written, = by_kind["checkpoint_write"]["rows"]
    # a CPU run writes inline; the background write kept the weights asked for though they changed right after
    assert not by_kind["checkpoint_write"]["trainer_writes_in_background"] and written["kept_the_asked_weights"]
    assert written["tensors"] > 100 and 0 < written["background_blocking_ms"] < written["background_total_ms"]
    ours = next(r for r in pipeline_record["rows"] if r["path"] == "ours")
    run = by_kind["runs"]["runs"][0]
    predicted = by_kind["epoch_times"]["predicted_campaign_seconds"]
    assert predicted < 3600
    for lang in ("en", "zh"):
        page = (tmp_path / "gen" / f"performance_{lang}.md").read_text(encoding="utf-8")
        assert f"{ours['train_speedup']:.2f}×" in page and f"{ours['eval_speedup']:.2f}×" in page
        assert f"{predicted / 60:.1f} min" in page  # the campaign's predicted duration, under an hour here
        assert f"{run['final']['top1']:.2f}" in page and "plain-run" in page
        assert "gpu_check.sh" in page  # no GPU record: the page says so
        assert f"| resnet_20 | 2.2 | {written['tensors']} | {written['inline_ms']:.1f} |" in page
        assert f"**{pipeline_record['device']} · {pipeline_record['cpu_isa']}** —" in page
    page_en = (tmp_path / "gen" / "performance_en.md").read_text()
    assert "synthetic data" in page_en
    met = ours["train_speedup"] >= CPU_TRAIN_SPEEDUP_TARGET
    assert ("target is resnet_20 training at ≥ 2.5×" in page_en) and (("met by `ours`" in page_en) == met)
    assert "合成数据" in (tmp_path / "gen" / "performance_zh.md").read_text(encoding="utf-8")


def test_performance_page_shows_the_campaigns_own_wall_time_record_in_both_languages(tmp_path):
    """The invocation's time of each run beside its epochs' in that invocation: a run resumed at epoch 2 of 3
    trained one epoch (11 s) there, where its record sums all three (33 s, more than the run's 15 s)."""
    runs = tmp_path / "runs"
    empty = report.write_performance_page(tmp_path / "none", tmp_path / "before", runs, "c")
    assert empty == [] and "No campaign has been timed yet" in (tmp_path / "before" / "performance_en.md").read_text()
    for rid, train_s in (("c-resnet_20-s0", 3.0), ("c-mlp_mixer_b16-s0", None)):
        atomic_write_json(runs / "c" / rid / "record.json", {"run_id": rid, "train_seconds": train_s,
                                                             "eval_seconds": 1.0 if train_s else None})
    resumed = runs / "c" / "c-resnet_32-s0"
    atomic_write_json(resumed / "record.json", {"run_id": resumed.name, "train_seconds": 30.0, "eval_seconds": 3.0,
                                                "resumed_from_epoch": 2})
    (resumed / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "epoch_seconds": 10.0, "eval_seconds": 1.0})
                                                   + "\n" for e in (1, 2, 3)))
    atomic_write_json(runs / "c" / "timing.json", {
        "campaign": "c", "source": "params/c.yaml", "dataset": "fashion-mnist", "started": "2026-11-29T23:00:00+00:00",
        "finished": "2026-11-29T23:05:12+00:00", "wall_seconds": 312.0, "jobs": 2, "cpu": "Some CPU", "cpus": 2,
        "gpus": 0, "already_done": 1, "runs": [{"run_id": "c-resnet_20-s0", "status": "complete", "seconds": 20.0},
                                               {"run_id": "c-mlp_mixer_b16-s0", "status": "skipped", "seconds": 9.0},
                                               {"run_id": "c-resnet_32-s0", "status": "complete", "seconds": 15.0}]})
    report.write_performance_page(tmp_path / "none", tmp_path / "gen", runs, "c")
    en, zh = ((tmp_path / "gen" / f"performance_{lang}.md").read_text(encoding="utf-8") for lang in ("en", "zh"))
    assert "**3 runs in 5.2 min**" in en and "2 side by side" in en and "Some CPU (2 logical CPUs)" in en
    assert "14.7 s on average, of which its epochs (training and evaluation) took 5.0 s" in en
    assert "1 runs already done" in en and "Fashion-MNIST" in en
    assert "| c-resnet_20-s0 | complete | 20.0 | 4.0 |" in en and "| c-mlp_mixer_b16-s0 | skipped | 9.0 | 0.0 |" in en
    assert "| c-resnet_32-s0 | complete | 15.0 | 11.0 |" in en
    assert "**3 次运行共用时 5.2 min**" in zh and "平均用时 14.7 秒" in zh and "| c-resnet_20-s0 | 完成 | 20.0 | 4.0 |" in zh


def test_committed_benchmark_records_render(tmp_path):
    """The records in benchmarks/records/ are what the book shows: each must still render."""
    found = report.write_performance_page(ROOT / "benchmarks" / "records", tmp_path)
    kinds = {r.get("kind") or ("check" if "check" in r else None) for r in found}
    assert {"bench", "check"} <= kinds
    page = (tmp_path / "performance_en.md").read_text()
    for r in found:
        assert (r.get("device") or f"**{r['check']}**") in page
    for lang in ("en", "zh"):  # a record's timestamp is shown as its date, as every section dates its records
        stamps = re.findall(r"\d{4}-\d\d-\d\dT[\d:+]+", (tmp_path / f"performance_{lang}.md").read_text())
        assert not stamps, (lang, stamps)


@pytest.mark.slow
def test_gpu_check_script_refuses_a_machine_without_gpu(tmp_path):
    """Run on a CPU box, the GPU script must stop before measuring anything (no gpu-*.json written)."""
    from cifar100lab.devices import visible_gpus
    if visible_gpus():  # NVML only: the CUDA runtime would poison fork for the launcher tests in this process
        pytest.skip("this machine has a GPU")
    before = sorted((ROOT / "benchmarks" / "records").glob("*.json"))
    p = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, env={**os.environ, "PYTHON": sys.executable}, timeout=120)
    assert p.returncode == 2 and "no CUDA device visible" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr  # one clear line
    assert sorted((ROOT / "benchmarks" / "records").glob("*.json")) == before


FAKE_GPU_PYTHON = """#!/bin/bash
# python3 as gpu_check.sh calls it, on a pretend GPU: its checks pass; a step writes its record and works on
if [ "$1" = -c ]; then case "$2" in *visible_gpus*) exit 0;; *get_device_name*) echo Fake; exit 0;; esac; exit 1; fi
case "$*" in *graph_check*) exit 1;; esac  # a step that fails at once, writing nothing
echo '{"written": "by the step"}' > "${@: -1}"; exec sleep 60
"""


@pytest.mark.slow
def test_gpu_check_cuts_a_step_at_its_budget_keeps_what_it_wrote_and_skips_the_rest(tmp_path):
    """A device call killed mid-step returns nothing of that step: BUDGET cuts the step first, so its record so far
    comes back in OUT; a step that failed early sends back no record, not the committed one it left in place."""
    (tmp_path / "benchmarks" / "records").mkdir(parents=True)
    shutil.copy(ROOT / "benchmarks" / "gpu_check.sh", tmp_path / "benchmarks")
    (tmp_path / "benchmarks" / "records" / "gpu-Fake-graph.json").write_text('{"written": "committed earlier"}')
    fake = tmp_path / "python"
    fake.write_text(FAKE_GPU_PYTHON)
    fake.chmod(0o755)
    (tmp_path / "out").mkdir()
    env = {**os.environ, "PYTHON": str(fake), "OUT": str(tmp_path / "out"), "STEPS": "graph sync resnet_20",
           "BUDGET": "12"}
    start = time.monotonic()
    p = subprocess.run(["bash", "benchmarks/gpu_check.sh", "data"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=60)
    assert time.monotonic() - start < 20, p.stderr  # not the 60 s the sync step would have taken
    assert p.returncode == 1
    assert "step benchmarks/records/gpu-Fake-resnet_20.json skipped" in p.stderr, p.stderr
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["gpu-Fake-sync.json"]
    assert json.loads((tmp_path / "out" / "gpu-Fake-sync.json").read_text()) == {"written": "by the step"}


def test_our_path_times_the_trainers_own_step_with_its_schedule_and_label_smoothing(monkeypatch):
    from cifar100lab import train as train_mod
    from cifar100lab.config import resolve
    calls, real_step = [], train_mod.Learner.step
    monkeypatch.setattr(train_mod.Learner, "step", lambda self, xb, yb: calls.append(1) or real_step(self, xb, yb))
    plan = resolve({"model": "resnet_20", "batch_size": 16, "eval_batch_size": 32,
                    "overrides": {"label_smoothing": 0.1}})
    path = timing.OursPath(plan, timing.synthetic_images(48), timing.synthetic_images(64), warmup=1,
                          device=torch.device("cpu"))
    secs, seen, _ = path.train_round()
    assert len(calls) == 3 and seen == 32 and path.network.scheduler.last_epoch == 3
    assert path.network.criterion.keywords["label_smoothing"] == 0.1 and path.info["optimizer"] == "SGD"


def _timing_row(path, **kw):
    return {"model": "convnext_tiny_timm", "path": path, "precision": "bf16", "train_images_per_second": 1043.7,
            "eval_images_per_second": 20480.2, "achieved_tflops": 0.0123, "fraction_of_peak": 0.00456,
            "first_round_seconds": 1.25, "train_speedup": 3.5, "eval_speedup": 2.25, **kw}


def test_bench_tables_fit_120_columns_with_plain_numbers():
    from cifar100lab.bench.command import format_table
    peaks = {"fp32": 1.5, "bf16": 3.25}
    timing_table = format_table({"kind": "pipeline", "device": "cpu", "peaks_tflops": peaks, "rows": [
        _timing_row("original", train_speedup=None, eval_speedup=None), _timing_row("ours+compile", compile_seconds=42.5)]})
    epochs = format_table({"kind": "epoch_times", "device": "cpu", "peaks_tflops": peaks, "campaign": "quick",
                           "complete": True, "predicted_campaign_seconds": 32544.0,
                           "prediction": {"runs_per_gpu": 1, "gpus_1_seconds": 32544.0, "gpus_8_seconds": 4068.0},
                           "networks": [{"model": "eca_resnet_20", "options": {"k_size": 5}, "input_size": 32,
                                         "batch_size": 128, "train_images_per_second": 1043.7, "epoch_seconds": 54.24,
                                         "run_epochs": 600, "predicted_seconds": 32544.0, "runs": ["a", "b", "c"]},
                                        {"model": "segnext_mscan_tiny", "options": {"position": "conv1"},
                                         "teacher": {"model": "convnext_tiny_timm", "input_size": 224}, "input_size": 32,
                                         "batch_size": 128, "train_images_per_second": 88.5, "epoch_seconds": 612.5,
                                         "run_epochs": 600, "predicted_seconds": 367500.0, "runs": ["d", "e", "f"]}]})
    for table in (timing_table, epochs):
        assert max(map(len, table.splitlines())) <= 120 and "e+" not in table and "e-" not in table, table
    assert "1,044" in timing_table and "42.5" in timing_table.splitlines()[-1]  # compile time in its own column
    assert "k_size=5" in epochs and "9.04" in epochs and "predicted quick campaign: 9.04 h" in epochs
    assert "convnext_tiny_timm 224px" in epochs  # a distilling network's teacher


def test_bench_campaign_limited_by_models_says_it_predicts_only_what_it_measured():
    from cifar100lab.bench.command import format_table
    result = {"kind": "epoch_times", "device": "cpu", "peaks_tflops": {}, "campaign": "full", "complete": False,
              "predicted_campaign_seconds": 3600.0,
              "prediction": {"runs_per_gpu": 1, "gpus_1_seconds": 3600.0, "gpus_8_seconds": 1200.0},
              "networks": [{"model": "resnet_20", "options": {}, "input_size": 32, "batch_size": 128,
                            "train_images_per_second": 5000.0, "epoch_seconds": 12.0, "run_epochs": 300,
                            "predicted_seconds": 3600.0, "runs": ["r0", "r1", "r2"]}]}
    last = format_table(result).splitlines()[-1]
    assert last.startswith("predicted for the 1 measured network(s) only, 3 run(s) of campaign full"), last
    assert "predicted full campaign" not in format_table(result)


def test_bench_campaign_stopped_partway_leaves_a_record_of_the_networks_it_measured(tmp_path, monkeypatch, capfd):
    camp = write_campaign(tmp_path, "[resnet_20, eca_resnet_20]")
    measured = []

    def rates(net, *args):  # the second network's timing is stopped, as a time limit stops it
        if measured:
            raise KeyboardInterrupt
        measured.append(net["model"])
        return {**dict.fromkeys(campaign_time.RATE_KEYS), "train_images_per_second": 1000.0,
                "eval_images_per_second": 2000.0}

    monkeypatch.setattr(campaign_time, "_network_rates", rates)
    out = tmp_path / "epochs.json"
    assert run_cli(capfd, "bench", "--campaign", str(camp), "--device", "cpu", "--out", str(out)).returncode != 0
    rec = json.loads(out.read_text())
    assert [n["model"] for n in rec["networks"]] == measured and rec["unfinished"] == 1 and not rec["complete"]
    from cifar100lab.bench.command import format_table
    assert "1 network(s) measured before it stopped" in format_table(rec).splitlines()[-1]


class _CompilingPath:
    """A stand-in path whose first training round is slow, as torch.compile's first round is."""
    info = {"compile": True}

    def __init__(self):
        self.rounds = 0

    def train_round(self):
        self.rounds += 1
        return (5.0 if self.rounds == 1 else 0.01), 100, 0.0

    def eval_round(self):
        return 0.01, 100, 0.0


def test_a_compiled_paths_compile_round_is_untimed_and_reported_apart():
    rates = timing.interleaved({"ours+compile": _CompilingPath()}, repeats=1)["ours+compile"]
    assert rates["train_images_per_second"] == pytest.approx(100 / 0.01)
    assert rates["compile_seconds"] is not None


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks").glob("*.yaml")), ids=lambda p: p.name)
def test_every_timed_runs_file_loads_with_every_variant_valid(path):
    assert timed_runs.load_runs_file(path)["configs"]


def test_the_200_epoch_run_and_its_prediction_step_use_the_same_speed_switches():
    """The Performance page checks the prediction only against a run of the same compile and graph settings."""
    (_, plan), = timed_runs.load_runs_file(ROOT / "benchmarks" / "gpu_resnet20_200.yaml")["configs"]
    script = (ROOT / "benchmarks" / "gpu_check.sh").read_text()
    step = script[script.index("step resnet_20-prediction"):].split("\nstep ")[0]
    assert ("--compile" in step, "--cuda-graph" in step) == (plan.config.compile, plan.config.cuda_graph)


def _gpu_check_commands() -> dict[str, list[str]]:
    """Each step of gpu_check.sh that runs the CLI: its arguments, with the script's variables filled in."""
    import shlex
    script = (ROOT / "benchmarks" / "gpu_check.sh").read_text().replace("\\\n", " ")
    fill = {"$data_root": "data", "$work": "runs/gpu-check", "$slowdown": "1.5", '"$py"': "python3"}
    commands = {}
    for line in script.splitlines():
        if line.startswith("step ") and '"$py" -m cifar100lab ' in line:
            for name, value in fill.items():
                line = line.replace(name, value)
            words = shlex.split(line)
            commands[words[1]] = words[words.index("cifar100lab") + 1:] + ["--out", "record.json"]
    return commands


def test_every_gpu_check_step_is_a_command_line_the_cli_accepts():
    """A device lease is 15 minutes: a step whose options the CLI refuses would spend one for nothing."""
    from cifar100lab.cli import build_parser
    commands = _gpu_check_commands()
    assert {"fork", "resume", "precision", "resnet_20", "pack", "full-epoch-times-graphed-packed"} <= set(commands)
    for name, args in commands.items():
        try:
            build_parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"gpu_check.sh step {name}: the CLI refuses {' '.join(args)}")
        files = [a for a in args if a.endswith(".yaml") and not a.startswith("runs/")]
        assert all((ROOT / f).is_file() for f in files), (name, files)


def test_the_campaign_bench_predicts_with_the_campaigns_own_runs_per_gpu_unless_told_otherwise(tmp_path):
    camp = tmp_path / "c.yaml"
    camp.write_text("name: t\ndataset: synthetic\nruns_per_gpu: 4\nmodels: [resnet_20]\ndefaults: "
                    "{epochs: 1, batch_size: 16, eval_batch_size: 32, train_subset: 32, test_subset: 32}\n")
    quiet = {"steps": 1, "warmup": 0, "progress": lambda *_: None}
    rec = campaign_time.run_campaign_times(camp, **quiet)
    assert rec["prediction"]["runs_per_gpu"] == 4
    assert rec["networks"][0]["peak_memory_bytes"] is None  # a GPU's only (torch.cuda.max_memory_allocated)
    assert campaign_time.run_campaign_times(camp, runs_per_gpu=2, **quiet)["prediction"]["runs_per_gpu"] == 2


def test_the_campaign_table_shows_gpu_memory_per_run_when_the_record_has_it():
    from cifar100lab.bench.command import format_table
    row = {"model": "resnet_20", "options": {}, "input_size": 32, "batch_size": 128, "train_images_per_second": 5e4,
           "epoch_seconds": 1.0, "run_epochs": 200, "predicted_seconds": 200.0, "runs": ["a"]}
    record = {"kind": "epoch_times", "device": "NVIDIA H200", "peaks_tflops": {}, "campaign": "full",
              "predicted_campaign_seconds": 200.0, "complete": True,
              "prediction": {"runs_per_gpu": 1, "gpus_1_seconds": 200.0, "gpus_8_seconds": 200.0}}
    shown = format_table({**record, "networks": [{**row, "peak_memory_bytes": 1.5 * 2**30}]})
    assert "GPU GiB" in shown and " 1.5 " in shown
    assert "GPU GiB" not in format_table({**record, "networks": [{**row, "peak_memory_bytes": None}]})


def test_eval_batch_bench_times_the_trainers_evaluation_at_each_batch_and_names_the_default_it_checks(
        tmp_path, monkeypatch, capfd):
    """benchmarks/eval_batch.py, as ``make bench`` runs it: each network's whole-set evaluation at every batch size
    (the sizes taking turns), the fastest named, beside the batch ``eval_batch_size: null`` takes on this device."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["eval_batch.py", "--models", "resnet_20", "--batches", "50", "20",
                                      "--images", "100", "--rounds", "2", "--device", "cpu",
                                      "--out", str(tmp_path / "eval.json")])
    runpy.run_path(str(ROOT / "benchmarks" / "eval_batch.py"), run_name="__main__")
    assert "eval_batch_size null takes 128 here" in capfd.readouterr().out
    rec = json.loads((tmp_path / "eval.json").read_text())
    assert rec["kind"] == "eval_batch" and rec["device_type"] == "cpu" and rec["default_batch"] == 128
    row, = rec["rows"]
    rates = {b["batch"]: b["images_per_second"] for b in row["batches"]}
    assert row["model"] == "resnet_20" and list(rates) == [20, 50] and all(len(b["samples"]) == 2 for b in row["batches"])
    assert row["fastest_batch"] == max(rates, key=rates.get) and all(v > 0 for v in rates.values())
