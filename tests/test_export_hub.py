"""Trained models one line away: torch.hub on a local checkout, and an export timm loads."""
import json

import pytest
import timm
import torch

from cifar100lab import records
from cifar100lab.export import ExportError, load_trained
from cifar100lab.models import create_model
from cifar100lab.train import read_checkpoint, train
from conftest import ROOT, run_cli, tiny_config


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


def checkpoint_logits(run_dir, x):
    """What the run's own weights give, built the plain way."""
    ckpt = read_checkpoint(run_dir / records.CHECKPOINT)
    model = create_model(ckpt["config"]["model"], num_classes=10, **ckpt["config"]["options"])
    model.load_state_dict(ckpt["model"])
    return model.eval()(x)


def test_torch_hub_load_from_a_local_checkout_reproduces_the_checkpoint_logits(runs):
    x = torch.randn(4, 3, 32, 32)
    for source in (runs["resnet_20"], runs["resnet_20"] / records.CHECKPOINT):
        model = torch.hub.load(str(ROOT), "resnet_20", pretrained=str(source), source="local", trust_repo=True)
        with torch.no_grad():
            assert torch.equal(model(x), checkpoint_logits(runs["resnet_20"], x))
        cfg = model.pretrained_cfg
        assert cfg["input_size"] == [3, 32, 32] and cfg["num_classes"] == 10 and len(cfg["mean"]) == 3
    untrained = torch.hub.load(str(ROOT), "ghostnet_100", num_classes=7, source="local", trust_repo=True)
    assert untrained.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 7)  # every registered model is an entry point


def test_hub_entry_refuses_weights_of_another_model(runs):
    with pytest.raises(ExportError, match="holds a 'ghostnet_100' run"):
        torch.hub.load(str(ROOT), "resnet_20", pretrained=str(runs["ghostnet_100"]), source="local", trust_repo=True)


def test_export_writes_safetensors_that_timm_loads_with_the_same_logits(runs, tmp_path, capfd):
    proc = run_cli(capfd, "export", runs["ghostnet_100"], "--out", tmp_path / "exp")
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads((tmp_path / "exp" / "config.json").read_text())
    assert cfg["architecture"] == "ghostnet_100" and cfg["num_classes"] == 10 and cfg["input_size"] == [3, 32, 32]
    timm_model = timm.create_model(cfg["architecture"], pretrained=True, num_classes=cfg["num_classes"],
                                   pretrained_cfg_overlay=dict(file=str(tmp_path / "exp" / "model.safetensors"),
                                                               num_classes=cfg["num_classes"])).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(timm_model(x), checkpoint_logits(runs["ghostnet_100"], x))
        assert torch.equal(load_trained(tmp_path / "exp")(x), timm_model(x))  # the export loads back here too


def test_export_of_something_that_is_not_a_run_is_one_error_line(tmp_path, capfd):
    proc = run_cli(capfd, "export", tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
