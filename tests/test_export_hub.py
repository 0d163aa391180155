"""Trained models one line away: torch.hub on a local checkout, and an export in timm's Hub layout that timm
loads with its trained head; altered, foreign or damaged weights and records are refused in one line."""
import ast
import json
import re
import shutil

import pytest
import timm
import torch
from conftest import ROOT, run_cli, tiny_config
from safetensors.torch import load_file, save_file

from cifar100lab import records
from cifar100lab.checkpoint import read_checkpoint
from cifar100lab.export import ExportError, export_run, load_trained
from cifar100lab.models import create_model
from cifar100lab.train import train

# The fenced block after this marker in README.md holds the documented ways to load a trained model; the test
# below runs it as written, with run_dir, export_dir and checkout set.
README_MARKER = "<!-- load-trained: tests/test_export_hub.py runs this block -->"


@pytest.fixture(scope="module")
def runs(synthetic_root, tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    out = {}
    for model in ("resnet_20", "ghostnet_100"):
        rec = train(tiny_config(synthetic_root, base / model, model=model, epochs=1, max_steps_per_epoch=2,
                                pretrained="off"))
        assert rec["status"] == "complete"
        out[model] = base / model
    return out


@pytest.fixture(scope="module")
def exports(runs, tmp_path_factory):
    base = tmp_path_factory.mktemp("exported")
    return {model: export_run(run_dir, base / model) for model, run_dir in runs.items()}


def checkpoint_logits(run_dir, x):
    """What the run's own weights give, built the plain way."""
    ckpt = read_checkpoint(run_dir / records.CHECKPOINT)
    model = create_model(ckpt["config"]["model"], num_classes=10, **ckpt["config"]["options"])
    model.load_state_dict(ckpt["model"])
    with torch.no_grad():
        return model.eval()(x)


def readme_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(re.escape(README_MARKER) + r"\s*```python\n(.*?)```", text, re.S)
    assert found, f"README.md lacks the ```python block after {README_MARKER!r} (see the export report)"
    return found.group(1)


@pytest.mark.slow
def test_the_readmes_load_lines_give_the_checkpoints_logits_exactly(runs, exports):
    x = torch.randn(2, 3, 32, 32)
    expected = checkpoint_logits(runs["ghostnet_100"], x)
    scope = {"run_dir": str(runs["ghostnet_100"]), "export_dir": str(exports["ghostnet_100"]), "checkout": str(ROOT)}
    loaded = 0
    for statement in ast.parse(readme_block()).body:  # one statement at a time: each way is checked on its own
        scope.pop("model", None)
        exec(compile(ast.Module([statement], type_ignores=[]), "README.md", "exec"), scope)
        if "model" in scope:
            with torch.no_grad():
                assert torch.equal(scope["model"](x), expected), ast.unparse(statement)
            loaded += 1
    assert loaded == 3  # timm local-dir:, timm with the overlay, torch.hub


def test_export_is_timms_hub_layout_and_local_dir_loads_the_trained_head(runs, exports):
    cfg = json.loads((exports["ghostnet_100"] / "config.json").read_text())
    assert cfg["architecture"] == "ghostnet_100" and cfg["num_classes"] == 10
    assert cfg["label_names"] == [f"class_{i:02d}" for i in range(10)]
    model = timm.create_model(f"local-dir:{exports['ghostnet_100']}", pretrained=True).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), checkpoint_logits(runs["ghostnet_100"], x))
    pcfg = model.pretrained_cfg
    assert pcfg["input_size"] == [3, 32, 32] and pcfg["num_classes"] == 10 and len(pcfg["mean"]) == 3
    assert pcfg["label_names"] == cfg["label_names"]


def test_torch_hub_load_from_a_local_checkout_reproduces_the_checkpoint_logits(runs, exports):
    x = torch.randn(4, 3, 32, 32)
    for source in (runs["resnet_20"], runs["resnet_20"] / records.CHECKPOINT, exports["resnet_20"]):
        model = torch.hub.load(str(ROOT), "resnet_20", pretrained=str(source), source="local", trust_repo=True)
        with torch.no_grad():
            assert torch.equal(model(x), checkpoint_logits(runs["resnet_20"], x))
        cfg = model.pretrained_cfg
        assert cfg["input_size"] == [3, 32, 32] and cfg["num_classes"] == 10 and len(cfg["mean"]) == 3
        assert cfg["label_names"][0] == "class_00"
    untrained = torch.hub.load(str(ROOT), "ghostnet_100", num_classes=7, source="local", trust_repo=True)
    assert untrained.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 7)  # every registered model is an entry point


def test_export_of_a_network_timm_cannot_build_says_so_and_how_to_load_it(runs, tmp_path, capfd):
    proc = run_cli(capfd, "export", runs["resnet_20"], "--out", tmp_path / "exp")
    assert proc.returncode == 0, proc.stderr
    assert "torch.hub.load" in proc.stdout and "timm cannot build it" in proc.stdout
    ours = json.loads((tmp_path / "exp" / "config.json").read_text())["cifar100lab"]
    assert ours["timm_loadable"] is False and "timm cannot build it" in ours["load_with"]
    # weights trained on synthetic data say so where they are shared, and in the export's line
    assert ours["trained_on"] == {"dataset": "synthetic", "kind": "synthetic",
                                  "label": "synthetic data (CIFAR-100 layout)"}
    assert "; trained on synthetic data (CIFAR-100 layout), not CIFAR-100;" in proc.stdout
    proc = run_cli(capfd, "export", tmp_path / "exp", "--out", tmp_path / "again")  # an export exported again
    assert json.loads((tmp_path / "again" / "config.json").read_text())["cifar100lab"]["trained_on"] == ours["trained_on"]


def test_hub_entry_refuses_weights_of_another_model(runs):
    with pytest.raises(ExportError, match="holds a 'ghostnet_100' run"):
        torch.hub.load(str(ROOT), "resnet_20", pretrained=str(runs["ghostnet_100"]), source="local", trust_repo=True)


def test_altered_export_weights_are_refused_naming_the_file(exports, tmp_path):
    altered = tmp_path / "altered"
    shutil.copytree(exports["ghostnet_100"], altered)
    state = load_file(altered / "model.safetensors")
    state["classifier.weight"][0, 0] = float("inf")
    save_file(state, altered / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ExportError, match=re.escape(str(altered / "model.safetensors")) + ".*sha256"):
        load_trained(altered)
    with pytest.raises(ExportError, match="sha256"):
        torch.hub.load(str(ROOT), "ghostnet_100", pretrained=str(altered), source="local", trust_repo=True)


def foreign_weights(run_dir, donor_dir, tmp_path):
    """A copy of ``run_dir`` whose checkpoint holds ``donor_dir``'s weights under its own config."""
    victim = tmp_path / "foreign"
    shutil.copytree(run_dir, victim)
    ckpt = torch.load(victim / records.CHECKPOINT, weights_only=True)
    ckpt["model"] = torch.load(donor_dir / records.CHECKPOINT, weights_only=True)["model"]
    torch.save(ckpt, victim / records.CHECKPOINT)
    return victim


def test_export_refuses_weights_that_do_not_fit_the_model_and_writes_nothing(runs, tmp_path, capfd):
    victim = foreign_weights(runs["resnet_20"], runs["ghostnet_100"], tmp_path)
    proc = run_cli(capfd, "export", victim)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert "do not fit resnet_20" in proc.stderr and str(victim / records.CHECKPOINT) in proc.stderr
    assert not (victim / "export").exists()
    with pytest.raises(ExportError, match="do not fit resnet_20"):
        torch.hub.load(str(ROOT), "resnet_20", pretrained=str(victim), source="local", trust_repo=True)


@pytest.mark.parametrize("garbage", ['{"status": "compl', "[1, 2]", "\udcff", '{"status": "exploded"}'])
def test_a_damaged_record_is_one_line_naming_it_for_export_and_torch_hub(runs, tmp_path, garbage, capfd):
    victim = tmp_path / "run"
    shutil.copytree(runs["resnet_20"], victim)
    (victim / records.RECORD).write_bytes(garbage.encode("utf-8", "surrogateescape"))
    proc = run_cli(capfd, "export", victim)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert str(victim / records.RECORD) in proc.stderr
    assert not (victim / "export").exists()
    with pytest.raises(ExportError, match=re.escape(str(victim / records.RECORD))):
        torch.hub.load(str(ROOT), "resnet_20", pretrained=str(victim), source="local", trust_repo=True)


def test_export_of_something_that_is_not_a_run_is_one_error_line(tmp_path, capfd):
    proc = run_cli(capfd, "export", tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_export_never_writes_over_a_runs_files_nor_files_it_did_not_write(runs, tmp_path, capfd):
    other = tmp_path / "other-run"
    shutil.copytree(runs["ghostnet_100"], other)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text('{"mine": true}')
    for out, why in [(other, "it is a run's folder (it holds record.json, checkpoint.pt, metrics.jsonl)"),
                     (runs["resnet_20"], "it is a run's folder"), (foreign, "it holds config.json not written by an earlier")]:
        before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
        proc = run_cli(capfd, "export", runs["resnet_20"], "--out", out)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and why in proc.stderr, proc.stderr
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    again = tmp_path / "exp"
    for _ in range(2):  # an earlier export of the run is replaced
        assert run_cli(capfd, "export", runs["resnet_20"], "--out", again).returncode == 0


def test_an_export_of_a_run_that_did_not_finish_says_which_epochs_weights_it_holds(runs, tmp_path, capfd):
    """export took an interrupted run's last checkpoint and said nothing of it, here or in its config.json."""
    run = tmp_path / "run"
    shutil.copytree(runs["resnet_20"], run)
    rec = records.load(run)
    records.atomic_write_json(run / records.RECORD, {**rec, "status": "interrupted"})
    done = run_cli(capfd, "export", run, "--out", tmp_path / "export")
    assert done.returncode == 0, done.stderr
    epochs = rec["config"]["epochs"]
    assert f"the weights of epoch {epochs} of {epochs} (the run is interrupted)" in done.stdout
    config = json.loads((tmp_path / "export" / "config.json").read_text())
    assert config["cifar100lab"]["trained_for"] == {"epoch": epochs, "epochs": epochs, "status": "interrupted"}


def _flowers_run(tmp_path) -> None:
    """A run trained on an image folder of two classes, daisy and rose, in tmp_path/run."""
    from PIL import Image
    for name in ("daisy", "rose"):
        (tmp_path / "flowers" / name).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(tmp_path / "flowers" / name / f"{i}.png")
    rec = train(tiny_config(None, tmp_path / "run", dataset=f"imagefolder:{tmp_path / 'flowers'}", data_root=None,
                            epochs=1, batch_size=4, max_steps_per_epoch=1))
    assert rec["status"] == "complete"


def test_an_image_folder_runs_export_names_its_classes(tmp_path, capfd):
    """An image folder's class names are its sub-folders, there on this machine: the export left them out and said
    the dataset's files were not on this machine."""
    _flowers_run(tmp_path)
    proc = run_cli(capfd, "export", tmp_path / "run", "--out", tmp_path / "export")
    assert proc.returncode == 0 and "no label names" not in proc.stdout, proc.stdout
    assert json.loads((tmp_path / "export" / "config.json").read_text())["label_names"] == ["daisy", "rose"]
    assert load_trained(tmp_path / "export").pretrained_cfg["label_names"] == ["daisy", "rose"]


def test_an_export_gives_no_label_names_from_an_image_folder_changed_since_the_run(tmp_path, capfd):
    """A class folder renamed after training (daisy -> tulip) shifted the names onto other labels: label 0, daisy's,
    was exported as 'rose' and label 1 as 'tulip'. The names are left out and the export's line says why."""
    _flowers_run(tmp_path)
    (tmp_path / "flowers" / "daisy").rename(tmp_path / "flowers" / "tulip")
    proc = run_cli(capfd, "export", tmp_path / "run", "--out", tmp_path / "export")
    assert proc.returncode == 0 and "no label names" in proc.stdout and "changed since the run" in proc.stdout
    assert "label_names" not in json.loads((tmp_path / "export" / "config.json").read_text())
    assert "label_names" not in load_trained(tmp_path / "run").pretrained_cfg

def test_a_run_that_trained_with_a_setting_since_refused_for_doing_nothing_still_exports_and_evaluates(runs, tmp_path):
    """min_lr under the multistep schedule did nothing and a new run with it is refused; a run that trained with
    it before is read as it trained (export, evaluation, a teacher, the campaign's stale check), not refused."""
    from cifar100lab.config import ConfigError, resolve
    from cifar100lab.evaluation import load_for_evaluation
    old = tmp_path / "old"
    shutil.copytree(runs["resnet_20"], old)
    path = old / records.CHECKPOINT
    ckpt = read_checkpoint(path)
    ckpt["config"]["overrides"] = {**ckpt["config"]["overrides"], "schedule": "multistep", "min_lr": 0.001}
    torch.save(ckpt, path)
    with pytest.raises(ConfigError, match="recipe min_lr does nothing with schedule: multistep"):
        resolve(ckpt["config"])
    assert load_trained(old).pretrained_cfg["num_classes"] == 10
    assert load_for_evaluation(path, read_checkpoint(path)).plan.recipe.schedule == "multistep"


def test_hub_entry_with_weights_refuses_options_and_a_class_count_they_do_not_fit(runs):
    """With pretrained= every other argument was dropped without a word: num_classes=100 gave the run's 10-class
    head and width=2, no option of resnet_20 at all, gave the run's network."""
    load = lambda **kw: torch.hub.load(str(ROOT), "resnet_20", pretrained=str(runs["resnet_20"]),  # noqa: E731
                                       source="local", trust_repo=True, **kw)
    with pytest.raises(ExportError, match="holds a 10-class head, not num_classes=100"):
        load(num_classes=100)
    with pytest.raises(ExportError, match=r"takes no options \(got width\)"):
        load(width=2)
    assert load(num_classes=10).pretrained_cfg["num_classes"] == 10
