"""Knowledge distillation: the loss, the teacher kept fixed and out of the student's state, the teacher's
input at its own size and statistics, the checks before any work, and the distillation study in a campaign."""
import hashlib
import math
import shutil

import pytest
import torch
import torch.nn as nn
import yaml
from conftest import ROOT, campaign_refused, fake_notebooks, run_cli, tiny_config

from cifar100lab import distill, records
from cifar100lab.accelerator import build_accelerator
from cifar100lab.campaign import load_campaign, study_runs, write_manifest
from cifar100lab.checkpoint import read_checkpoint
from cifar100lab.config import ConfigError, resolve
from cifar100lab.data import normalizer
from cifar100lab.models import create_model
from cifar100lab.train import build_learner, train

STUDY = ROOT / "params" / "ablations" / "distillation.yaml"


def hand_kl_loss(student, teacher, hard, alpha, t):
    """The Hinton et al. loss written out element by element, in float64."""
    total = 0.0
    for s_row, t_row in zip(student.double().tolist(), teacher.double().tolist()):
        zs = sum(math.exp(v / t) for v in s_row)
        zt = sum(math.exp(v / t) for v in t_row)
        p = [math.exp(v / t) / zt for v in t_row]
        q = [math.exp(v / t) / zs for v in s_row]
        total += sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q))
    return (1 - alpha) * hard + alpha * t * t * total / len(student)


@pytest.mark.parametrize("alpha, t", [(0.0, 4.0), (0.5, 4.0), (0.9, 2.0), (1.0, 1.0)])
def test_the_distillation_loss_equals_a_hand_computation(alpha, t):
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(6, 10, generator=g) * 3, torch.randn(6, 10, generator=g) * 3
    got = distill.distillation_loss(student, teacher, torch.tensor(1.25), alpha, t)
    assert got.item() == pytest.approx(hand_kl_loss(student, teacher, 1.25, alpha, t), rel=1e-5)


def test_a_student_that_answers_as_its_teacher_pays_only_the_hard_loss():
    logits = torch.randn(4, 10)
    assert distill.distillation_loss(logits, logits.clone(), torch.tensor(2.0), 0.9, 4.0).item() == \
        pytest.approx(0.1 * 2.0, abs=1e-6)


def test_the_teacher_sees_the_students_pixels_at_its_own_size_and_statistics():
    xb = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    s_mean, s_std, t_mean, t_std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    student = normalizer(s_mean, s_std, "cpu", 32, channels_last=False)(xb)
    view = distill.teacher_view(s_mean, s_std, t_mean, t_std, 64, "cpu", channels_last=False)
    expected = normalizer(t_mean, t_std, "cpu", 64, channels_last=False)(xb)  # the teacher's own pipeline
    assert view(student).shape == (4, 3, 64, 64)
    torch.testing.assert_close(view(student), expected, atol=1e-4, rtol=1e-5)


# ---------------------------------------------------------------- a teacher at work beside a learner

class AlwaysClassZero(nn.Module):
    """A teacher whose answer, whatever the image, is class 0."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_classes))
        with torch.no_grad():
            self.bias[0] = 8.0

    def forward(self, x):
        return self.bias.expand(len(x), -1) + 0 * x.mean()


def fake_spec(**kw):
    values = dict(source="fake", kind="run", model="resnet_20", options={}, num_classes=10, img_size=None,
                  input_size=32, mean=(0.5,) * 3, std=(0.25,) * 3, weights="fake/checkpoint.pt", sha256="0" * 64)
    return distill.TeacherSpec(**{**values, **kw})


def learner_with(plan, teacher_module, alpha, steps=8):
    view = distill.teacher_view(plan.mean, plan.std, (0.5,) * 3, (0.25,) * 3, 32, "cpu", channels_last=True)
    teacher = distill.Teacher(fake_spec(), teacher_module, view, alpha, 4.0)
    torch.manual_seed(0)  # the student's initial weights, whatever ran before in this process
    model = create_model("resnet_20", num_classes=10)
    return build_learner(plan, build_accelerator("fp32"), model, steps_per_epoch=steps, num_classes=10,
                         teacher=teacher), teacher


def images(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8), torch.arange(n) % 10


def test_a_student_distilled_from_a_teacher_that_always_answers_class_0_moves_toward_class_0(synthetic_root,
                                                                                              tmp_path):
    plan = resolve(tiny_config(synthetic_root, tmp_path / "s", overrides={
        "lr": 0.05, "distill_from": str(tmp_path), "distill_alpha": 1.0}))
    learner, _ = learner_with(plan, AlwaysClassZero(), alpha=1.0)
    xb, yb = images(16)
    share = lambda: (learner.logits(xb).softmax(1)[:, 0].mean().item())  # noqa: E731
    learner.model.eval()
    before = share()
    learner.train_mode()
    for step in range(8):  # 4 steps reached 0.6 on one CPU kind and 0.44 on another (AVX2, one thread)
        learner.step(xb, yb, key=step)
    learner.model.eval()
    assert before < 0.3 and share() > 0.6  # labels spread over 10 classes: only the teacher pulls to class 0


def test_the_teacher_stays_bitwise_unchanged_out_of_the_optimizer_and_out_of_the_trainable_state(synthetic_root,
                                                                                                 tmp_path):
    plan = resolve(tiny_config(synthetic_root, tmp_path / "s", overrides={
        "lr": 0.05, "distill_from": str(tmp_path), "mixup": 0.8, "label_smoothing": 0.1}))
    teacher_net = create_model("resnet_20", num_classes=10)  # BatchNorm: eval mode keeps its statistics
    before = {k: v.clone() for k, v in teacher_net.state_dict().items()}
    learner, teacher = learner_with(plan, teacher_net, alpha=0.5)
    xb, yb = images(16)
    learner.train_mode()
    for step in range(2):
        learner.step(xb, yb, key=step)
    after = teacher_net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before) and not teacher_net.training
    assert all(p.grad is None and not p.requires_grad for p in teacher_net.parameters())
    in_optimizer = {id(p) for g in learner.optimizer.param_groups for p in g["params"]}
    assert not in_optimizer & {id(p) for p in teacher_net.parameters()}
    state = learner.state_dict()
    assert set(state["model"]) == set(learner.model.state_dict())  # the student's tensors only
    assert state["teacher"]["sha256"] == "0" * 64  # which teacher, never its weights:
    assert not any(isinstance(v, torch.Tensor) for v in state["teacher"].values())


# ---------------------------------------------------------------- a real teacher run and its student

@pytest.fixture(scope="module")
def teacher_run(synthetic_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("teacher") / "teacher"
    train(tiny_config(synthetic_root, run_dir, epochs=1, max_steps_per_epoch=2, test_subset=64))
    return run_dir


def test_a_run_distils_from_a_run_folder_and_records_which_teacher_with_its_sha256(teacher_run, synthetic_root,
                                                                                   tmp_path):
    sha = hashlib.sha256((teacher_run / records.CHECKPOINT).read_bytes()).hexdigest()
    distilling = {"lr": 0.05, "distill_from": str(teacher_run), "distill_alpha": 0.9, "distill_temperature": 2.0}
    rec = train(tiny_config(synthetic_root, tmp_path / "student", epochs=1, max_steps_per_epoch=2, test_subset=64,
                            overrides=distilling))
    assert rec["status"] == "complete"
    assert rec["distillation"]["sha256"] == sha and rec["distillation"]["kind"] == "run"
    assert (rec["recipe"]["distill_alpha"], rec["recipe"]["distill_temperature"]) == (0.9, 2.0)
    ckpt = read_checkpoint(tmp_path / "student" / records.CHECKPOINT)
    assert ckpt["teacher"]["sha256"] == sha and ckpt["teacher"]["model"] == "resnet_20"


def test_a_resume_under_other_teacher_weights_is_refused(teacher_run, synthetic_root, tmp_path):
    state = {"teacher": {"sha256": "1" * 64, "weights": "old/checkpoint.pt"}}
    teacher = distill.Teacher(fake_spec(), AlwaysClassZero(), lambda x: x, 0.5, 4.0)
    with pytest.raises(ConfigError, match="resume with the same teacher"):
        distill.check_resume(state, teacher)
    distill.check_resume({"teacher": teacher.state()}, teacher)  # the same teacher resumes


@pytest.mark.parametrize("overrides, message", [
    ({"distill_from": "{missing}"}, r"distill_from .*missing: no such run or export folder; give a run folder"),
    ({"distill_from": "{tmp}"}, r"the folder holds neither checkpoint.pt \(a run not started or not checkpointed"),
    ({"distill_from": "{teacher}", "distill_alpha": 1.5}, r"recipe distill_alpha=1.5 is out of range \[0, 1\]"),
    ({"distill_from": "{teacher}", "distill_temperature": 0}, r"distill_temperature must be above 0"),
    ({"distill_from": "{teacher}", "distill_temperature": -1.0}, r"distill_temperature=-1.0 is out of range"),
    ({"distill_alpha": 0.9}, r"distill_alpha does nothing with distill_from: null: .*; drop it, or set distill_from"),
    ({"distill_from": ""}, r"distill_from must be a run folder, an export folder or MODEL@WEIGHTS"),
    ({"distill_from": "best:resnet_56"}, r"best:… names a campaign's run, so it works in a campaign's study only"),
    ({"distill_from": "resnet_56@/w.pt"}, r"resnet_56 is not a timm-backed model"),
    ({"distill_from": "ghostnet_100@{missing}/w.safetensors"}, r"pretrained weights .* not found"),
])
def test_a_bad_distillation_setting_is_one_error_line_before_any_work(overrides, message, teacher_run,
                                                                      synthetic_root, tmp_path, capfd):
    filled = {k: v.format(missing=tmp_path / "missing", teacher=teacher_run, tmp=tmp_path) if isinstance(v, str) else v
              for k, v in overrides.items()}
    cfg = tiny_config(synthetic_root, tmp_path / "student", overrides={"lr": 0.05, **filled})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    result = run_cli(capfd, "train", tmp_path / "c.yaml")
    assert result.returncode == 2 and not (tmp_path / "student").exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert __import__("re").search(message, lines[0]), lines[0]


def test_a_timm_teachers_weights_that_cannot_teach_are_one_error_line_before_any_work(synthetic_root, tmp_path, capfd):
    """MODEL@WEIGHTS: a truncated file failed with safetensors' raw traceback (SafetensorError), another network's
    weights said 'has no classifier', as if the file were right but headless, and those of one whose head has
    GhostNet's name were taken, to fail once the run had read its data."""
    import timm
    from safetensors.torch import save_file
    taught = create_model("ghostnet_100", num_classes=10).state_dict()
    save_file(taught, tmp_path / "good.safetensors")
    blob = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(blob[:len(blob) // 2])
    save_file(timm.create_model("resnet10t").state_dict(), tmp_path / "other.safetensors")
    save_file(timm.create_model("mobilenetv3_small_050").state_dict(), tmp_path / "named-alike.safetensors")
    save_file({k: v for k, v in taught.items() if not k.startswith("classifier.")}, tmp_path / "headless.safetensors")
    says = {"truncated": "truncated.safetensors cannot be read as weights (SafetensorError: ",
            "other": "other.safetensors does not fit ghostnet_100.in1k: ",
            "named-alike": "named-alike.safetensors does not fit ghostnet_100.in1k: ",  # its head is classifier.* too
            "headless": "headless.safetensors fits ghostnet_100 but has no classifier (classifier.weight), so it "
                        "cannot teach classes"}
    for name, why in says.items():
        source = f"ghostnet_100@{tmp_path / name}.safetensors"
        cfg = tiny_config(synthetic_root, tmp_path / f"student-{name}", overrides={"lr": 0.05, "distill_from": source})
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
        result = run_cli(capfd, "train", tmp_path / "c.yaml")
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and not (tmp_path / f"student-{name}").exists(), result.stderr
        assert lines[0].startswith(f"error: distill_from {source}: ") and why in lines[0], lines[0]
    assert distill.teacher_spec(f"ghostnet_100@{tmp_path / 'good.safetensors'}").num_classes == 10


def test_a_campaign_whose_second_run_names_a_teacher_file_that_cannot_teach_trains_nothing(synthetic_root, tmp_path,
                                                                                          capfd, monkeypatch):
    """A campaign checks every run's teacher file (MODEL@WEIGHTS) before it trains any run: a truncated file or
    another network's weights named by its second run is one error line, and its first run is not trained."""
    import timm
    from safetensors.torch import save_file
    executed = fake_notebooks(monkeypatch)
    save_file(create_model("ghostnet_100", num_classes=10).state_dict(), tmp_path / "good.safetensors")
    blob = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(blob[:len(blob) // 2])
    save_file(timm.create_model("resnet10t").state_dict(), tmp_path / "other.safetensors")
    says = {"truncated": "truncated.safetensors cannot be read as weights (SafetensorError: ",
            "other": "other.safetensors does not fit ghostnet_100.in1k: "}
    for name, why in says.items():
        source = f"ghostnet_100@{tmp_path / name}.safetensors"
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({
            "name": "c", "dataset": "synthetic", "seeds": [0],
            "models": ["resnet_20", {"model": "resnet_20", "name": "student", "overrides": {"distill_from": source}}],
            "defaults": {"epochs": 1, "data_root": str(synthetic_root), "progress": False}}))
        line = campaign_refused(capfd, path, tmp_path)
        assert line.startswith(f"error: {path}, run c-student-s0: distill_from {source}: ") and why in line
    assert executed == [] and not (tmp_path / "runs").exists()  # no run trained, no folder or record written


def test_a_teacher_of_other_classes_is_refused_before_any_data_is_read(teacher_run, tmp_path):
    plan = resolve(dict(model="resnet_20", dataset="cifar100", data_root=str(tmp_path / "nothing"), epochs=1,
                        run_dir=str(tmp_path / "s"), overrides={"distill_from": str(teacher_run)}))
    with pytest.raises(ConfigError, match="the teacher answers 10 classes but cifar100 has 100; a teacher must"):
        distill.check_teacher(plan)


@pytest.mark.parametrize("form", ["run", "export"])
def test_a_teacher_of_as_many_classes_of_another_dataset_is_refused_before_any_work(teacher_run, tmp_path, capfd,
                                                                                    form):
    """A synthetic 10-class teacher and a CIFAR-10 student: the class counts agree, the classes do not (the old
    check counted them only, and the student distilled from answers to other questions without a word)."""
    from cifar100lab.export import export_run
    source = teacher_run if form == "run" else export_run(teacher_run, tmp_path / "export")
    cfg = dict(model="resnet_20", dataset="cifar10", data_root=str(tmp_path / "nothing"), epochs=1,
               run_dir=str(tmp_path / "student"), overrides={"distill_from": str(source)})
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    result = run_cli(capfd, "train", tmp_path / "c.yaml")
    assert result.returncode == 2 and not (tmp_path / "student").exists() and not (tmp_path / "nothing").exists()
    assert result.stderr.strip().splitlines() == [
        f"error: distill_from {source}: the teacher was trained on synthetic but the student trains on cifar10; "
        f"a teacher must be trained on the student's dataset"]


def test_a_run_that_did_not_finish_is_refused_as_a_teacher_but_its_export_is_taken(teacher_run, synthetic_root,
                                                                                  tmp_path, capfd):
    """A teacher whose run was interrupted at epoch 1 of 200 taught with those weights without a word."""
    import shutil

    from cifar100lab.export import export_run
    run = tmp_path / "teacher"
    shutil.copytree(teacher_run, run)
    records.atomic_write_json(run / records.RECORD, {**records.load(run), "status": "interrupted"})
    plan = resolve(tiny_config(synthetic_root, tmp_path / "s", overrides={"distill_from": str(run)}))
    with pytest.raises(ConfigError, match=rf"distill_from {run}: its checkpoint holds the weights of epoch 1 of 1 "
                                          rf"\(the run is interrupted\), not a finished teacher; .*export {run}"):
        distill.check_teacher(plan)
    export = export_run(run, tmp_path / "export")  # the way to teach with them on purpose
    assert distill.teacher_spec(str(export)).kind == "export"
    assert distill.teacher_spec(str(teacher_run)).kind == "run"  # the finished run still teaches


def test_an_image_folder_teacher_is_the_students_folder_however_it_is_spelt(tmp_path):
    assert distill.same_dataset(str(tmp_path), f"imagefolder:{tmp_path}/")
    assert not distill.same_dataset(f"imagefolder:{tmp_path / 'a'}", f"imagefolder:{tmp_path / 'b'}")
    assert not distill.same_dataset("synthetic", "fashion-mnist")


def test_an_export_and_a_timm_model_with_local_weights_are_teachers(teacher_run, synthetic_root, tmp_path):
    from safetensors.torch import save_file

    from cifar100lab.export import export_run
    export = export_run(teacher_run, tmp_path / "export")
    spec = distill.teacher_spec(str(export))
    assert (spec.kind, spec.model, spec.num_classes) == ("export", "resnet_20", 10)
    weights = tmp_path / "ghostnet-10.safetensors"
    save_file(create_model("ghostnet_100", num_classes=10).state_dict(), weights)
    spec = distill.teacher_spec(f"ghostnet_100@{weights}")
    assert (spec.kind, spec.num_classes, spec.input_size, spec.mean) == ("model", 10, 224, (0.485, 0.456, 0.406))
    plan = resolve(tiny_config(synthetic_root, tmp_path / "s", overrides={"distill_from": f"ghostnet_100@{weights}"}))
    teacher = distill.build_teacher(spec, plan, "cpu", 10)
    xb, _ = images(2)
    student_batch = normalizer(plan.mean, plan.std, "cpu", 32)(xb)
    assert teacher.view(student_batch).shape[-1] == 224 and teacher.logits(student_batch).shape == (2, 10)


def test_a_timm_teacher_in_a_hub_layout_folder_is_fed_with_the_statistics_its_folder_states(tmp_path):
    """MODEL@FOLDER fed the teacher with its model's default weights' statistics (ImageNet's for GhostNet), whatever
    the folder's config.json said its weights were trained on."""
    import json

    from safetensors.torch import save_file
    folder = tmp_path / "ghostnet-10"
    folder.mkdir()
    save_file(create_model("ghostnet_100", num_classes=10).state_dict(), folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps({"architecture": "ghostnet_100", "num_classes": 10, "pretrained_cfg": {
        "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "input_size": [3, 224, 224]}}))
    spec = distill.teacher_spec(f"ghostnet_100@{folder}")
    assert (spec.num_classes, spec.mean, spec.std) == (10, (0.5,) * 3, (0.5,) * 3)


# ---------------------------------------------------------------- the study in a campaign

def campaign_with_study(tmp_path, runs_root, models=("resnet_56",)):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "name": "c", "dataset": "synthetic", "models": list(models), "seeds": [0, 1, 2], "studies": [str(STUDY)],
        "study_seeds": [0], "defaults": {"epochs": 2, "overrides": {"warmup_epochs": 0}}}))
    return load_campaign(tmp_path / "c.yaml", runs_root=runs_root, book_dir=tmp_path / "book")


def as_the_campaign_asks(record: dict, runs_root, run_id: str, models=("resnet_56",)) -> dict:
    """``record`` with the config the campaign asks its run ``run_id`` to train with (a teacher must be one of
    the campaign's runs as it asks for them now)."""
    camp = campaign_with_study(runs_root.parent, runs_root, models)
    plan = next(r.plan for r in camp.runs if r.run_id == run_id)
    return {**record, "config": plan.config.to_dict(), "recipe": plan.recipe_record(1)}


def test_a_study_whose_teachers_have_no_run_skips_those_variants_and_says_which(tmp_path):
    camp = campaign_with_study(tmp_path, tmp_path / "runs")
    runs = study_runs(camp, camp.studies[0])
    assert runs["ResNet-20 · none"] == ["c-resnet_20-s0"] and runs["GhostNet-ResNet-20 · none"] == [
        "c-ghost_resnet_20-s0"]
    assert all(ids == [] for label, ids in runs.items() if "none" not in label)
    manifest = records.read_json(write_manifest(camp, tmp_path / "runs"))
    skipped = {v["label"]: v.get("skipped", {}).get("teacher") for v in manifest["studies"][0]["variants"]}
    assert skipped["ResNet-20 · trained teacher, α 0.9"] == "best:convnext_tiny|resnet_56"
    assert skipped["GhostNet-ResNet-20 · ImageNet ConvNeXt-T, α 0.5"] == "best:convnext_tiny_timm"
    assert skipped["ResNet-20 · none"] is None


@pytest.mark.parametrize("variant, message", [
    ("{label: kd, model: resnet_20, overrides: {distill_from: 'best:resnet_56', distill_alpha: 1.7}}",
     "variant 'kd': recipe distill_alpha=1.7 is out of range"),
    ("{label: kd, model: eca_resnet_20, options: {k_size: 4}, overrides: {distill_from: 'best:resnet_56'}}",
     "variant 'kd': k_size must be an odd positive integer"),
    ("{label: kd, model: resnet_20, overrides: {distill_from: 'best:resnet_65'}}",  # would wait for ever
     r"variant 'kd': distill_from best:resnet_65: unknown model 'resnet_65' \(did you mean resnet_56\?\)")])
def test_a_variant_waiting_for_its_teacher_is_checked_before_the_campaign_trains_its_teacher(tmp_path, variant,
                                                                                            message):
    """Its typo is one error now, not after the hours that train its teacher."""
    (tmp_path / "kd.yaml").write_text(f"study: kd\nseeds: [0]\nvariants:\n  - {variant}\n")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"name": "c", "dataset": "synthetic", "models": ["resnet_56"],
                                                     "studies": [str(tmp_path / "kd.yaml")]}))
    with pytest.raises(ConfigError, match=message):
        load_campaign(tmp_path / "c.yaml", runs_root=tmp_path / "runs", book_dir=tmp_path / "book")


def finished_teacher(teacher_run, runs_root, name, top1, val_curve=()):
    """A complete resnet_56 run of campaign ``c`` whose final test top-1 is ``top1``; with ``val_curve``, it held
    out a validation split and its epochs' validation top-1 were those (its test curve peaks at 90)."""
    run = runs_root / "c" / name
    shutil.copytree(teacher_run, run)
    record = as_the_campaign_asks({**records.read_json(run / records.RECORD), "model": "resnet_56"}, runs_root, name)
    record["final"] = {**record["final"], "top1": top1}
    if val_curve:
        (run / records.METRICS).unlink()
        for epoch, val in enumerate(val_curve, 1):
            records.append_jsonl(run / records.METRICS, {"epoch": epoch, "top1": 90.0 if epoch == 1 else top1,
                                                         "val_top1": val})
        peak = max(range(len(val_curve)), key=lambda i: val_curve[i])
        record |= {"epochs_done": len(val_curve), "best": {"epoch": peak + 1, "selected_on": "validation",
                                                          "score": val_curve[peak], "val_top1": val_curve[peak]}}
    records.save(run, record)


def test_a_study_distils_from_the_campaigns_best_complete_teacher_run(teacher_run, tmp_path, capsys):
    runs_root = tmp_path / "runs"
    for name, top1 in (("c-resnet_56-s0", 12.0), ("c-resnet_56-s1", 30.0)):  # two teacher runs: the better one
        finished_teacher(teacher_run, runs_root, name, top1)
    camp = campaign_with_study(tmp_path, runs_root)
    # no validation split: chosen on the test set, which the line naming the teacher says, once
    said = capsys.readouterr().err
    assert said.count(f"distill_from best:convnext_tiny|resnet_56: the teacher is {runs_root / 'c' / 'c-resnet_56-s1'}, "
                      f"the highest final-epoch test top-1 (30.00) of 2 run(s): none holds out a validation split "
                      f"(val_fraction), so the choice saw the test set the student is measured on\n") == 1
    runs = study_runs(camp, camp.studies[0])
    assert runs["ResNet-20 · trained teacher, α 0.9"] == [
        "c-resnet_20-distill_alpha-0.9-distill_from-c-resnet_56-s1-s0"]
    assert runs["ResNet-20 · trained teacher, α 0.5"] == ["c-resnet_20-distill_from-c-resnet_56-s1-s0"]
    assert runs["ResNet-20 · ImageNet ConvNeXt-T, α 0.5"] == []  # no fine-tuned ConvNeXt-T run: still skipped
    student = next(r for r in camp.runs if r.run_id == runs["ResNet-20 · trained teacher, α 0.9"][0])
    assert student.plan.recipe.distill_from == str(runs_root / "c" / "c-resnet_56-s1")


def test_only_the_campaigns_current_runs_teach_not_a_stale_one_nor_one_it_no_longer_has(teacher_run, tmp_path):
    """best: scanned every record under the campaign's folder: a teacher run complete under settings the campaign
    no longer asks for (stale: its pages leave it out), or of a seed it no longer has, taught the students."""
    runs_root, label = tmp_path / "runs", "ResNet-20 · trained teacher, α 0.5"
    finished_teacher(teacher_run, runs_root, "c-resnet_56-s0", 20.0)
    finished_teacher(teacher_run, runs_root, "c-resnet_56-s1", 60.0)
    stale = runs_root / "c" / "c-resnet_56-s1"
    record = records.read_json(stale / records.RECORD)
    records.save(stale, {**record, "config": {**record["config"], "epochs": 1}})  # the campaign now asks for 2
    gone = runs_root / "c" / "c-resnet_56-s7"  # a seed the campaign no longer has
    shutil.copytree(runs_root / "c" / "c-resnet_56-s0", gone)
    records.save(gone, {**records.read_json(gone / records.RECORD), "final": {"top1": 90.0}})
    camp = campaign_with_study(tmp_path, runs_root)
    assert study_runs(camp, camp.studies[0])[label] == ["c-resnet_20-distill_from-c-resnet_56-s0-s0"]
    shutil.rmtree(gone)  # the stale run alone is no teacher either
    camp = campaign_with_study(tmp_path, runs_root)
    assert study_runs(camp, camp.studies[0])[label] == ["c-resnet_20-distill_from-c-resnet_56-s0-s0"]


def test_a_teacher_is_chosen_on_its_final_epochs_validation_top1_not_on_the_test_set(teacher_run, tmp_path, capsys):
    """The study reports the students' test top-1: a teacher picked by test top-1 would be selection on the test
    set. Among the runs that hold out a validation split, the final epoch's validation top-1 (the weights that
    teach) decides; not its best epoch's, and not the test top-1 of a run without a split, however high."""
    runs_root = tmp_path / "runs"
    finished_teacher(teacher_run, runs_root, "c-resnet_56-s0", 40.0, val_curve=(35.0, 20.0))  # peaked, then fell
    finished_teacher(teacher_run, runs_root, "c-resnet_56-s1", 30.0, val_curve=(22.0, 25.0))
    finished_teacher(teacher_run, runs_root, "c-resnet_56-s2", 50.0)  # the best test top-1, no validation split
    camp = campaign_with_study(tmp_path, runs_root)
    runs = study_runs(camp, camp.studies[0])
    assert runs["ResNet-20 · trained teacher, α 0.5"] == ["c-resnet_20-distill_from-c-resnet_56-s1-s0"]
    assert (f"the teacher is {runs_root / 'c' / 'c-resnet_56-s1'}, the highest final-epoch validation top-1 (25.00) "
            f"of 2 run(s); 1 run(s) without a validation split left out, as only the test set could rank them"
            in capsys.readouterr().err)


def test_the_from_scratch_row_of_a_fine_tune_never_stands_in_for_its_fine_tuned_teacher(teacher_run, tmp_path):
    """Offline, a campaign trains ``convnext_tiny_timm_scratch`` (the fine-tune's model from scratch at 32 px) in
    place of the fine-tune: its complete run is not the "ImageNet ConvNeXt-T" teacher, whose variants stay
    skipped and say why; the fine-tuned run, once there, is the teacher."""
    runs_root, label = tmp_path / "runs", "ResNet-20 · ImageNet ConvNeXt-T, α 0.5"

    models = ("resnet_56", "convnext_tiny_timm")

    def finished(name, pretrained):
        shutil.copytree(teacher_run, runs_root / "c" / name)
        record = records.read_json(runs_root / "c" / name / records.RECORD)
        records.save(runs_root / "c" / name, as_the_campaign_asks(
            {**record, "model": "convnext_tiny_timm", "pretrained": pretrained}, runs_root, name, models))
        camp = campaign_with_study(tmp_path, runs_root, models)
        return camp, study_runs(camp, camp.studies[0])[label]

    camp, runs = finished("c-convnext_tiny_timm_scratch-s0", None)
    assert runs == []
    why = camp.variant_runs[("distillation", label)].skipped["why"]
    assert "no complete run of convnext_tiny_timm" in why and "means a run fine-tuned from pretrained weights, not a from-scratch one" in why
    _, runs = finished("c-convnext_tiny_timm-s0", "hub")
    assert runs == ["c-resnet_20-distill_from-c-convnext_tiny_timm-s0-s0"]


def kd_study_with_skipped_teacher(tmp_path):
    """A finished distillation study whose fine-tuned teacher never ran: its variants were skipped."""
    from fake_campaign import write_fake_study

    from cifar100lab.campaign import load_study
    study = load_study(STUDY)
    top1 = {v.label: [40.0 + i, 41.0 + i] for i, v in enumerate(study.variants)}
    root = write_fake_study(tmp_path / "runs", study, top1, name="kd")
    manifest = records.read_json(root / records.MANIFEST)
    for v in manifest["studies"][0]["variants"]:
        if "ImageNet" in v["label"]:
            v["skipped"] = {"teacher": v["overrides"]["distill_from"], "why": "no complete run"}
            manifest["studies"][0]["runs"][v["label"]] = []
    records.atomic_write_json(root / records.MANIFEST, manifest)
    return manifest


SKIPPED_EN = "**ResNet-20 · ImageNet ConvNeXt-T, α 0.9** was not run: its teacher (`best:convnext_tiny_timm`)"
SKIPPED_ZH = "**ResNet-20 · ImageNet ConvNeXt-T，α 0.9** 未运行：其教师模型（`best:convnext_tiny_timm`）"


def test_the_study_says_in_both_languages_which_variants_wait_for_their_teacher(tmp_path):
    from cifar100lab.report.studies import study_prose, study_table
    manifest = kd_study_with_skipped_teacher(tmp_path)
    recs = {r["run_id"]: r for r in records.load_records(tmp_path / "runs" / "kd")}
    df = study_table(manifest["studies"][0], recs)
    assert set(df[df.status == "skipped"].variant) == {v["label"] for v in manifest["studies"][0]["variants"]
                                                       if "ImageNet" in v["label"]}
    en, zh = study_prose(df, "en"), study_prose(df, "zh")
    assert SKIPPED_EN in en and SKIPPED_ZH in zh
    assert en.count("was not run") == 4 and zh.count("未运行") == 4  # the trained teacher's variants ran


@pytest.mark.slow
def test_the_study_page_builds_with_its_skipped_variants(tmp_path):
    from cifar100lab import report
    kd_study_with_skipped_teacher(tmp_path)
    report.write_study_report("kd", "distillation", tmp_path / "runs", tmp_path / "gen")
    assert SKIPPED_EN in (tmp_path / "gen" / "study-distillation_en.md").read_text()
    assert SKIPPED_ZH in (tmp_path / "gen" / "study-distillation_zh.md").read_text()


def test_a_campaign_dry_run_lists_the_variants_it_skips_for_want_of_a_teacher(tmp_path, capfd):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "name": "c", "dataset": "synthetic", "models": ["resnet_56"], "studies": [str(STUDY)], "study_seeds": [0],
        "defaults": {"epochs": 2, "overrides": {"warmup_epochs": 0}}}))
    result = run_cli(capfd, "campaign", tmp_path / "c.yaml", "--runs-root", tmp_path / "runs", "--dry-run")
    assert result.returncode == 0
    assert ("study distillation: variant 'GhostNet-ResNet-20 · trained teacher, α 0.5' skipped: its teacher "
            "best:convnext_tiny|resnet_56 is not there (no complete run of convnext_tiny or resnet_56 in") in result.stdout
    assert "c-ghost_resnet_20-s0" in result.stdout


def test_a_complete_student_is_not_returned_as_the_result_of_a_teacher_retrained_since(teacher_run, synthetic_root,
                                                                                     tmp_path):
    """Before, a complete distilled run was returned as "already complete" after its teacher's folder had been
    trained again: the record named sha256 X while the teacher now held Y, and nothing said so; a campaign kept it
    as up to date (not stale)."""
    from cifar100lab.runs import Run, stale_fields
    teacher = tmp_path / "teacher"
    shutil.copytree(teacher_run, teacher)
    student = tiny_config(synthetic_root, tmp_path / "student", epochs=1, max_steps_per_epoch=2, test_subset=64,
                          overrides={"lr": 0.05, "distill_from": str(teacher)})
    assert train(student)["status"] == "complete"
    retrained = tmp_path / "retrained"
    train(tiny_config(synthetic_root, retrained, epochs=1, max_steps_per_epoch=2, test_subset=64, seed=1))
    for name in (records.CHECKPOINT, records.RECORD):
        shutil.copy(retrained / name, teacher / name)
    with pytest.raises(ConfigError, match="its result is not this teacher's"):
        train(student)
    before = records.load(tmp_path / "student")["distillation"]["sha256"]
    now = distill.teacher_spec(str(teacher)).sha256
    assert stale_fields(Run("student", resolve(student), tmp_path / "student.ipynb")) == [
        f"teacher weights: {before[:12]} → {now[:12]}"]
