"""timm-backed models: sizes, a training step, and the pretrained-weights path.

Nothing here touches the network: hub tests switch it off, pretrained weights come from files written here.
"""
import hashlib
import json
import os
import re
import shutil
import time

import pytest
import safetensors
import safetensors.torch
import timm
import torch
import yaml
from conftest import campaign_refused, dies_in_epoch, fake_notebooks, run_cli, tiny_config

from cifar100lab import records
from cifar100lab.attempt import check_pretrained_weights
from cifar100lab.checkpoint import read_checkpoint
from cifar100lab.config import ConfigError, resolve
from cifar100lab.evaluation import evaluate_checkpoint
from cifar100lab.export import export_run
from cifar100lab.models import PretrainedWeightsUnavailable, create_model, model_entry, resolve_input_size, timm_backed
from cifar100lab.train import train

# Exact parameter counts with 100 classes at 32×32 (scratch default) ...
PARAMS_32 = {
    "ghostnet_100": 4_029_608,
    "convnext_tiny_timm": 27_897_028,
    "coatnet_0": 26_681_254,
    "cspresnet50": 20_693_668,
    "resnest50d": 25_639_140,
    "mlp_mixer_b16": 57_416_596,
}
# ... and at 224×224 (fine-tuning default) where the size depends on the resolution.
PARAMS_224 = {"coatnet_0": 26_743_462, "mlp_mixer_b16": 59_188_372}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture
def network_off(monkeypatch, tmp_path):
    """An empty Hugging Face cache and a hub that cannot be reached (the probe fails, downloads are errors)."""
    class NoNetwork:
        def head(self, *args, **kwargs):
            raise OSError("network is off")

    monkeypatch.setattr(timm_backed.hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.setattr(timm_backed.hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(timm_backed, "get_session", NoNetwork)

    def no_download(*args, **kwargs):
        raise AssertionError("hf_hub_download called with the network off")

    monkeypatch.setattr(timm_backed, "hf_hub_download", no_download)
    return tmp_path / "hf_cache"


@pytest.fixture(scope="module")
def ghostnet_1000(tmp_path_factory):
    """A 1000-class GhostNet (as on ImageNet) saved as <folder>/model.safetensors."""
    model = create_model("ghostnet_100", num_classes=1000)
    folder = tmp_path_factory.mktemp("ghostnet_1000")
    safetensors.torch.save_file(model.state_dict(), folder / "model.safetensors")
    return state(model), folder


@pytest.mark.parametrize("name", PARAMS_32)
def test_scratch_32_params(name):
    """Counted on the meta device (nothing allocated); each network's training step, with finite outputs and its
    parameters moved, is tests/test_every_model_steps.py's (the trainer's own step, every registered model)."""
    with torch.device("meta"):
        model = create_model(name)
        assert n_params(model) == PARAMS_32[name]
        assert model(torch.empty(2, 3, 32, 32)).shape == (2, 100)


def test_metadata():
    for name in PARAMS_32:
        spec = model_entry(name)
        assert spec.source == "timm" and spec.pretrainable and spec.options == {}
        assert resolve_input_size(name) == 32 and resolve_input_size(name, "hub") == 224
    assert model_entry("ghostnet_100").default_pretrained is None
    assert all(model_entry(n).default_pretrained == "hub" for n in PARAMS_32 if n != "ghostnet_100")


def test_local_file_keeps_backbone_resets_head(ghostnet_1000):
    saved, folder = ghostnet_1000
    for pretrained in (folder / "model.safetensors", folder):  # the file, and the folder holding it
        model = create_model("ghostnet_100", pretrained=str(pretrained))
        loaded = model.state_dict()
        assert all(torch.equal(loaded[k], saved[k]) for k in loaded if not k.startswith("classifier."))
        assert loaded["classifier.weight"].shape == (100, 1280)
        assert not torch.equal(loaded["classifier.weight"], saved["classifier.weight"][:100])


def test_checkpoint_with_matching_classes_keeps_head(tmp_path):
    trained = state(create_model("ghostnet_100"))
    torch.save({"model": trained, "epoch": 3}, tmp_path / "last.pth")  # a training checkpoint
    loaded = create_model("ghostnet_100", pretrained=str(tmp_path / "last.pth")).state_dict()
    assert all(torch.equal(loaded[k], trained[k]) for k in trained)


def test_file_for_another_model_is_refused(ghostnet_1000, tmp_path):
    saved, _ = ghostnet_1000
    torch.save({f"net.{k}": v for k, v in saved.items()}, tmp_path / "prefixed.pth")
    with pytest.raises(ValueError, match="does not fit"):
        create_model("ghostnet_100", pretrained=str(tmp_path / "prefixed.pth"))
    for name in ("a.pth", "b.safetensors"):
        (tmp_path / name).touch()
    with pytest.raises(ValueError, match="several weights files"):
        create_model("ghostnet_100", pretrained=str(tmp_path))


def unloadable_weights(ghostnet_1000, folder):
    """Weights files GhostNet-1.0 cannot load, by what the error says of each: a truncated download, the half-width
    GhostNet's tensors (every name there, every shape another), and a pickle that holds no tensors."""
    _, good = ghostnet_1000
    blob = (good / "model.safetensors").read_bytes()
    (folder / "truncated.safetensors").write_bytes(blob[:len(blob) // 2])
    safetensors.torch.save_file(timm.create_model("ghostnet_050").state_dict(), folder / "ghostnet_050.safetensors")
    torch.save({"epoch": 3, "lr": 0.1}, folder / "no_tensors.pth")
    return {folder / "truncated.safetensors": "cannot be read as weights (SafetensorError",
            folder / "ghostnet_050.safetensors": "does not fit ghostnet_100.in1k: RuntimeError: Error(s) in loading "
                                                 "state_dict for GhostNet: size mismatch for conv_stem.weight",
            folder / "no_tensors.pth": "holds no state dict"}


def test_weights_that_cannot_be_loaded_are_one_error_line_before_the_data_is_read(ghostnet_1000, tmp_path, capfd):
    """A truncated file or another network's weights failed with timm's or safetensors' traceback once the run had
    read its data (a 224-px fine-tune's, resized), leaving a run folder that held only its lock."""
    for weights, why in unloadable_weights(ghostnet_1000, tmp_path).items():
        with pytest.raises(ValueError) as refused:
            create_model("ghostnet_100", pretrained=str(weights))
        assert str(refused.value).startswith(f"{weights} ") and why in str(refused.value)  # the file, its trouble
        assert "\n" not in str(refused.value)
        run_dir = tmp_path / "runs" / weights.stem
        proc = run_cli(capfd, "train", "--set", "model=ghostnet_100", "--set", f"pretrained={weights}", "--set",
                       "dataset=fashion-mnist", "--set", f"data_root={tmp_path / 'no-data'}", "--set", "download=false",
                       "--set", f"run_dir={run_dir}", "--set", "progress=false")
        assert proc.returncode == 2 and proc.stderr.startswith(f"error: pretrained {weights}: "), proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and why in proc.stderr, proc.stderr
        assert not run_dir.exists() and not (tmp_path / "no-data").exists()  # no folder made, no data looked for


def two_run_campaign(path, synthetic_root, second: dict):
    """A campaign whose first run (ResNet-20 from scratch) needs no weights and whose second is ``second``."""
    path.write_text(yaml.safe_dump({"name": "c", "dataset": "synthetic", "seeds": [0],
                                    "models": ["resnet_20", {"model": "ghostnet_100", "name": "ghost", **second}],
                                    "defaults": {"epochs": 1, "data_root": str(synthetic_root), "progress": False}}))
    return path


def test_a_campaign_refuses_local_weights_that_do_not_load_before_it_trains_any_run(ghostnet_1000, synthetic_root,
                                                                                      tmp_path, capfd, monkeypatch):
    """The check ran in each run's kernel only: a campaign whose second run named a truncated file or another
    network's weights trained its first run, then failed the second (in a campaign of 20, 14 runs trained first)."""
    executed = fake_notebooks(monkeypatch)
    for weights, why in unloadable_weights(ghostnet_1000, tmp_path).items():
        path = two_run_campaign(tmp_path / f"{weights.stem}.yaml", synthetic_root, {"pretrained": str(weights)})
        line = campaign_refused(capfd, path, tmp_path)
        assert line.startswith(f"error: {path}, run c-ghost-s0: pretrained {weights}: ") and why in line
    assert executed == [] and not (tmp_path / "runs").exists()  # no run trained, no folder or record written
    path = two_run_campaign(tmp_path / "good.yaml", synthetic_root, {"pretrained": str(ghostnet_1000[1])})
    proc = run_cli(capfd, "campaign", path, "--runs-root", tmp_path / "runs", "--book", tmp_path / "book",
                   "--no-analysis")
    assert proc.returncode == 0 and executed == ["c-resnet_20-s0", "c-ghost-s0"], proc.stderr  # weights that load


def test_the_check_before_a_run_reads_a_safetensors_header_and_each_file_once(ghostnet_1000, tmp_path, monkeypatch):
    """The check read the whole weights file twice (its class count, then timm's load on the meta device), for
    each network asking, once per process; a campaign checks every run's weights when it is loaded."""
    _, folder = ghostnet_1000
    weights = tmp_path / "ghostnet.safetensors"
    shutil.copy(folder / "model.safetensors", weights)
    read, headers = [], []
    load_file, safe_open = safetensors.torch.load_file, safetensors.safe_open
    monkeypatch.setattr(safetensors.torch, "load_file", lambda *a, **k: read.append(a) or load_file(*a, **k))
    monkeypatch.setattr(safetensors, "safe_open", lambda *a, **k: headers.append(a) or safe_open(*a, **k))
    plans = [resolve(dict(model="ghostnet_100", pretrained=str(weights), seed=seed, dataset="synthetic",
                          run_dir=str(tmp_path / f"r{seed}"))) for seed in (0, 1, 2)]
    check_pretrained_weights(plans[0])
    assert read == [] and headers and all(h[0] == str(weights) for h in headers)  # its header, not its tensors
    once = len(headers)
    for plan in plans[1:]:  # more runs of that network and file: checked already
        check_pretrained_weights(plan)
    assert len(headers) == once
    os.utime(weights, ns=(0, weights.stat().st_mtime_ns + 10**9))  # another version of the file: checked again
    check_pretrained_weights(plans[0])
    assert read == [] and len(headers) == 2 * once


def test_a_file_that_cannot_be_read_as_weights_is_not_said_not_to_fit(tmp_path):
    """A truncated file was 'W does not fit ghostnet_100.in1k: ValueError: W cannot be read as weights (...)': the
    reading's own error, wrapped as the network's."""
    safetensors.torch.save_file({"conv_stem.weight": torch.zeros(16, 3, 3, 3)}, tmp_path / "w.safetensors")
    (tmp_path / "w.safetensors").write_bytes((tmp_path / "w.safetensors").read_bytes()[:-8])
    with pytest.raises(ValueError) as refused:
        create_model("ghostnet_100", pretrained=str(tmp_path / "w.safetensors"))
    assert str(refused.value).startswith(f"{tmp_path / 'w.safetensors'} cannot be read as weights (SafetensorError: ")
    assert "does not fit" not in str(refused.value)


def test_weights_that_load_pass_the_check_and_load_as_before(ghostnet_1000):
    saved, folder = ghostnet_1000
    plan = resolve(dict(model="ghostnet_100", pretrained=str(folder), dataset="synthetic", run_dir="unused"))
    check_pretrained_weights(plan)  # built on the meta device: nothing allocated, nothing raised
    loaded = create_model("ghostnet_100", pretrained=str(folder)).state_dict()
    assert torch.equal(loaded["conv_stem.weight"], saved["conv_stem.weight"])


IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}  # ghostnet_100.in1k's, in timm
STATED = {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}  # a weights folder's own: neither ImageNet's nor the data's


def hub_layout(ghostnet_1000, folder, **pretrained_cfg):
    """GhostNet's weights as a folder in timm's Hub layout (as `hf download` or timm's push_to_hf_hub leave it):
    model.safetensors and a config.json whose pretrained_cfg states the images' statistics (STATED unless told)."""
    folder.mkdir(parents=True)
    shutil.copy(ghostnet_1000[1] / "model.safetensors", folder / "model.safetensors")
    cfg = {"tag": "own_in1k", "input_size": [3, 224, 224], "num_classes": 1000, **STATED, **pretrained_cfg}
    (folder / "config.json").write_text(json.dumps({"architecture": "ghostnet_100", "num_classes": 1000,
                                                    "pretrained_cfg": cfg}))
    return folder


def ghostnet_run(synthetic_root, run_dir, weights, epochs=2):
    """A fine-tune of GhostNet from ``weights``: ``epochs`` of 2 steps (2: one to stop in, after a checkpoint)."""
    return tiny_config(synthetic_root, run_dir, model="ghostnet_100", img_size=32, pretrained=str(weights),
                       max_steps_per_epoch=2, batch_size=32, test_subset=64, precision="fp32", epochs=epochs,
                       overrides={"warmup_epochs": 0})


def test_a_weights_folder_states_its_own_statistics_and_a_bare_file_normalises_as_the_default_weights(
        ghostnet_1000, tmp_path, capfd):
    """Normalisation always took the default tag's statistics: a folder of augreg weights (0.5/0.5) for a network
    whose default weights are at ImageNet's was fine-tuned on other statistics than it learnt, without a word."""
    folder = hub_layout(ghostnet_1000, tmp_path / "own")
    plan = lambda pretrained, **kw: resolve(dict(model="ghostnet_100", pretrained=str(pretrained),  # noqa: E731
                                                 dataset="synthetic", run_dir=str(tmp_path / "r")), **kw)
    for given in (folder, folder / "model.safetensors"):  # the folder, or the Hub layout's weights file in it
        assert plan(given).normalization == {"source": f"pretrained_cfg in {folder.resolve() / 'config.json'}",
                                             **STATED}
    bare = ghostnet_1000[1] / "model.safetensors"  # a weights file alone says nothing: the model's default tag's
    assert plan(bare).normalization == {"source": f"pretrained_cfg of timm/ghostnet_100.in1k (the model's default "
                                                  f"weights; {bare} states none of its own)", **IMAGENET}
    assert plan("hub").normalization == {"source": "pretrained_cfg of timm/ghostnet_100.in1k", **IMAGENET}
    (tmp_path / "run").mkdir()  # a run folder's config.json is a TrainConfig, no Hub config: no statistics there
    (tmp_path / "run" / "config.json").write_text(json.dumps({"model": "ghostnet_100", "epochs": 3}))
    (tmp_path / "run" / "w.safetensors").write_bytes(bare.read_bytes())
    assert plan(tmp_path / "run").mean == tuple(IMAGENET["mean"])
    # statistics stated wrongly: one line before any work, but a trained run's config still reads
    (folder / "config.json").write_text(json.dumps({"pretrained_cfg": {"mean": [0.5, 0.5], "std": [0.5] * 3}}))
    run_dir = tmp_path / "cli-run"
    proc = run_cli(capfd, "train", "--set", "model=ghostnet_100", "--set", f"pretrained={folder}", "--set",
                   "dataset=synthetic", "--set", f"data_root={tmp_path / 'no-data'}", "--set", f"run_dir={run_dir}")
    assert proc.returncode == 2 and not run_dir.exists(), proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: {folder / 'config.json'}: pretrained_cfg's mean [0.5, 0.5] and std [0.5, 0.5, 0.5] must be three "
        f"numbers each (std above 0); correct them, or remove both to normalise as the model's default weights"]
    assert plan(folder, stored=True).mean == tuple(IMAGENET["mean"])


def test_a_fine_tune_trains_evaluates_and_exports_with_its_weights_statistics_whatever_becomes_of_them(
        ghostnet_1000, synthetic_root, tmp_path):
    """The run's record names the statistics and where they came from; its checkpoint keeps them, so `evaluate`
    and `export`, which work the plan out again, feed the network as it trained once the folder has changed."""
    folder = hub_layout(ghostnet_1000, tmp_path / "own")
    record = train(ghostnet_run(synthetic_root, tmp_path / "run", folder, epochs=1))
    stated = {"source": f"pretrained_cfg in {folder.resolve() / 'config.json'}", **STATED}
    assert record["status"] == "complete" and record["normalization"] == stated
    assert read_checkpoint(tmp_path / "run" / records.CHECKPOINT)["normalization"] == stated
    (folder / "config.json").write_text(json.dumps({"pretrained_cfg": {"mean": [0.1] * 3, "std": [0.9] * 3}}))
    evaluated = evaluate_checkpoint(tmp_path / "run", out=tmp_path / "evaluation.json")
    assert (evaluated["top1"], evaluated["test_loss"]) == pytest.approx((record["final"]["top1"],
                                                                         record["final"]["test_loss"]), rel=1e-6)
    shutil.copytree(tmp_path / "run", tmp_path / "alone", ignore=shutil.ignore_patterns(records.RECORD))
    exported = json.loads((export_run(tmp_path / "alone", tmp_path / "export") / "config.json").read_text())
    assert {k: exported["pretrained_cfg"][k] for k in ("mean", "std")} == STATED  # from the checkpoint alone


@pytest.mark.slow
def test_a_fine_tune_resumes_from_its_checkpoint_without_its_pretrained_weights_normalising_as_it_began(
        ghostnet_1000, synthetic_root, tmp_path):
    """A fine-tune stopped after its first checkpoint was skipped when run again on a machine without its pretrained
    weights (offline, the folder moved), though its checkpoint holds every weight: its record said skipped. It resumes
    from the checkpoint, never reading the weights, and ends as the uninterrupted run does. A resume works its plan
    out again: with the weights folder gone it took the default tag's statistics for the epochs left; it normalises
    as it began, at the statistics the folder stated."""
    folder = hub_layout(ghostnet_1000, tmp_path / "own")
    straight = train(ghostnet_run(synthetic_root, tmp_path / "straight", folder))
    assert straight["normalization"] == {"source": f"pretrained_cfg in {folder.resolve() / 'config.json'}", **STATED}
    with dies_in_epoch(2), pytest.raises(KeyboardInterrupt):
        train(ghostnet_run(synthetic_root, tmp_path / "cut", folder))
    assert records.load(tmp_path / "cut")["status"] == "interrupted"
    shutil.rmtree(folder)
    resumed = train(ghostnet_run(synthetic_root, tmp_path / "cut", folder))
    assert resumed["status"] == "complete" and resumed["resumed_from_epoch"] == 1, resumed.get("reason")
    assert resumed["final"] == straight["final"] and resumed["normalization"] == straight["normalization"]
    assert resumed["pretrained_weights"] == straight["pretrained_weights"]  # what it began from, though gone now
    ends = [torch.load(tmp_path / name / records.CHECKPOINT, weights_only=True)["model"] for name in ("straight", "cut")]
    assert all(torch.equal(ends[0][k], ends[1][k]) for k in ends[0])
    # a run that has no checkpoint to resume from still needs them, and says so
    fresh = train(ghostnet_run(synthetic_root, tmp_path / "fresh", folder))
    assert fresh["status"] == "skipped" and "pretrained weights unavailable" in fresh["reason"]


def test_the_record_names_the_weights_a_fine_tune_began_from(ghostnet_1000, synthetic_root, network_off, tmp_path,
                                                              monkeypatch):
    """The record said only pretrained: <path> (or hub) and its statistics' source 'pretrained checkpoint': two
    fine-tunes from two files of one name, or a file replaced between them, read alike."""
    weights = tmp_path / "weights" / "ghostnet.safetensors"
    weights.parent.mkdir()
    weights.write_bytes((ghostnet_1000[1] / "model.safetensors").read_bytes())
    hashed = []
    digest = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda f, name: hashed.append(f.name) or digest(f, name))
    record = train(ghostnet_run(synthetic_root, tmp_path / "file-run", weights, epochs=1))
    assert record["pretrained_weights"] == {"file": str(weights.resolve()), "bytes": weights.stat().st_size,
                                            "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
    timm_backed.weights_identity("ghostnet_100.in1k", str(weights.parent))  # the same file again: not hashed again
    assert hashed == [str(weights.resolve())]
    repo = network_off / "models--timm--ghostnet_100.in1k" / "snapshots" / ("0" * 40)  # the hub's, from the cache
    repo.mkdir(parents=True)
    (repo.parent.parent / "refs").mkdir()
    (repo.parent.parent / "refs" / "main").write_text("0" * 40)
    (repo / "model.safetensors").write_bytes(weights.read_bytes())
    hub = train(ghostnet_run(synthetic_root, tmp_path / "hub-run", "hub", epochs=1))
    assert hub["pretrained_weights"] == {"hub": "timm/ghostnet_100.in1k"}
    frame = records.records_frame([record, hub, {"run_id": "older", "pretrained": "hub"}])  # one from before
    assert list(frame.pretrained_weights[:2]) == [
        f"ghostnet.safetensors (sha256 {record['pretrained_weights']['sha256'][:12]})", "timm/ghostnet_100.in1k"]
    assert frame.pretrained_weights.isna()[2]


def test_train_exits_3_and_says_so_last_when_a_fine_tune_is_skipped_for_want_of_its_weights(synthetic_root, tmp_path,
                                                                                             capfd):
    """`train` of a fine-tune whose weights could not be had exited 0 after 'r: skipped', as a run that trained."""
    run_dir = tmp_path / "r"
    proc = run_cli(capfd, "train", "--set", "model=ghostnet_100", "--set", f"pretrained={tmp_path / 'gone'}/",
                   "--set", "img_size=32", "--set", "dataset=synthetic", "--set", f"data_root={synthetic_root}",
                   "--set", f"run_dir={run_dir}", "--set", "progress=false")
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "r: skipped, nothing trained (exit status 3)"
    assert records.load(run_dir)["status"] == "skipped" and "not found" in records.load(run_dir)["reason"]
    assert "3 skipped: nothing trained" in run_cli(capfd, "train", "--help").stdout  # as its help says


@pytest.mark.parametrize("spelt, says", [("hbu", ""), ("on", ""), ("imagenet", ""), ("OFF", " (did you mean off?)"),
                                         ("Hub", " (did you mean hub?)"), ("hf-hub:timm/deit_tiny_patch16_224", ""),
                                         ("local-dir:/models/deit", "; for timm's local-dir: give the folder itself "
                                                                    "(pretrained: /models/deit)")])
def test_a_misspelt_pretrained_is_one_error_listing_the_valid_values(spelt, says, tmp_path, capfd):
    """pretrained: hbu (or a notebook's -p pretrained on, timm's local-dir: spelling) was looked for as a weights
    file, and the run skipped as if offline: 'pretrained weights hbu not found (no such file or folder)'."""
    expected = (f"pretrained {spelt!r} is not one of default, off, hub{says.split(';')[0] if '(' in says else ''}, "
                f"nor a file or folder here; valid: default (the model's own), off (from scratch), hub (timm's ImageNet "
                f"weights) or the path of a weights file (*.safetensors, *.pth, *.pt, *.bin) or of a folder holding one")
    with pytest.raises(ConfigError) as refused:
        resolve(dict(model="deit_tiny", pretrained=spelt, dataset="synthetic", run_dir=str(tmp_path / "run")))
    assert str(refused.value) == expected + (says if says.startswith(";") else "")
    run_dir = tmp_path / "cli-run"
    proc = run_cli(capfd, "train", "--set", "model=deit_tiny", "--set", f'pretrained="{spelt}"', "--set",  # quoted:
                   "dataset=synthetic", "--set", f"data_root={tmp_path}", "--set", "download=false",  # YAML reads a
                   "--set", "epochs=1", "--set", f"run_dir={run_dir}")  # bare on or OFF as a bool
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {refused.value}" and not run_dir.exists()


def test_a_path_not_there_is_still_a_fine_tune_without_its_weights_and_a_word_that_is_a_folder_a_path(
        tmp_path, monkeypatch):
    for path in ("./weights", str(tmp_path / "gone"), "deit.safetensors", "~/weights/deit"):
        assert resolve(dict(model="deit_tiny", pretrained=path, dataset="synthetic", run_dir="r")).pretrained == path
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imagenet").mkdir()  # a folder of that name here: the path, as the trainer reads it
    assert resolve(dict(model="deit_tiny", pretrained="imagenet", dataset="synthetic", run_dir="r")).pretrained == \
        "imagenet"
    # a trained run's config is read as it trained, whatever became of its weights' path
    assert resolve(dict(model="deit_tiny", pretrained="hbu", dataset="synthetic", run_dir="r"), stored=True).pretrained \
        == "hbu"


def fb_convnext_name(timm_key: str) -> str:
    """A ConvNeXt tensor's name in FB's original checkpoints, as timm's convnext.checkpoint_filter_fn reads them."""
    key = timm_key.replace("stem.", "downsample_layers.0.").replace("conv_dw", "dwconv").replace("mlp.fc", "pwconv")
    key = re.sub(r"stages\.(\d+)\.downsample\.(\d+)", r"downsample_layers.\1.\2", key)
    key = re.sub(r"stages\.(\d+)\.blocks\.(\d+)", r"stages.\1.\2", key)
    return key.replace("head.norm.", "norm.").replace("head.fc.", "head.")


def test_a_checkpoint_in_another_layout_of_the_network_loads_as_timm_loads_it(tmp_path):
    """FB's own ConvNeXt checkpoints ({"model": ...} in the original repository's names, which timm's checkpoint
    filter converts) were refused as another network's weights: 'does not fit convnext_tiny.fb_in1k: 180 of its
    tensors are not in the file (first: stem.0.weight)', the names checked before the filter. ConvNeXt-Atto: the
    same code as ConvNeXt-T (convnext_tiny_timm), a seventh of its size."""
    reference = timm.create_model("convnext_atto", num_classes=1000).state_dict()
    torch.save({"model": {fb_convnext_name(k): v for k, v in reference.items()}}, tmp_path / "convnext_atto_1k.pth")
    loaded = timm_backed.create_timm_model("convnext_atto", 100, str(tmp_path / "convnext_atto_1k.pth")).state_dict()
    assert all(torch.equal(loaded[k], reference[k]) for k in reference if not k.startswith("head.fc."))
    assert loaded["head.fc.weight"].shape == (100, 320)  # a fresh 100-way head


def test_a_file_with_tensors_the_network_has_no_place_for_is_refused_in_one_line(ghostnet_1000, tmp_path, capfd):
    """Tensors of the file the network does not have (another variant's: a distilled DeiT's second head) were
    dropped without a word, timm loading non-strictly whenever the class count differs."""
    saved, _ = ghostnet_1000
    safetensors.torch.save_file({**saved, "head_dist.weight": torch.zeros(1000, 1280)}, tmp_path / "extra.safetensors")
    capfd.readouterr()
    with pytest.raises(ValueError, match=r"extra\.safetensors does not fit ghostnet_100\.in1k: 1 of the file's tensors "
                                         r"have no place in it \(first: head_dist\.weight\); the weights of another "
                                         r"variant\?$"):
        create_model("ghostnet_100", pretrained=str(tmp_path / "extra.safetensors"))
    assert "head_dist" not in capfd.readouterr().err  # timm's warning, which lists every such key, kept quiet


def test_missing_weights_unavailable(tmp_path):
    with pytest.raises(PretrainedWeightsUnavailable, match="not found"):
        create_model("ghostnet_100", pretrained=str(tmp_path / "nope.safetensors"))
    with pytest.raises(PretrainedWeightsUnavailable, match="no weights file"):
        create_model("ghostnet_100", pretrained=str(tmp_path))


def where_to_put(repo_id, cache):
    """What the reason says to do without the hub: which repository to fetch, and the two places it then works from
    (a folder given as the path; the repository's cache folder, as test_hub_weights_from_cache_without_network has)."""
    return (f"fetch {repo_id} where there is a network (`hf download {repo_id} --local-dir DIR`) and pass DIR as "
            f"pretrained=<path>, or copy that machine's cache folder models--{repo_id.replace('/', '--')} into "
            f"{cache} here")


def test_hub_unreachable_fails_fast_and_says_what_to_fetch_and_where_it_goes(network_off):
    """The reason said 'pass a local weights file as pretrained=<path>' without naming the weights to fetch."""
    start = time.monotonic()
    with pytest.raises(PretrainedWeightsUnavailable, match="^cannot reach") as unavailable:
        create_model("cspresnet50", pretrained="hub")
    assert time.monotonic() - start < 5
    assert str(unavailable.value).endswith("; " + where_to_put("timm/cspresnet50.ra_in1k", network_off))
    why = timm_backed.hub_weights_unreachable("ghostnet_100.in1k", timm_backed.probe_hub_once())
    assert why.startswith("pretrained weights unavailable: cannot reach")  # as the book's reasons read it
    assert why.endswith(where_to_put("timm/ghostnet_100.in1k", network_off))


def test_hub_offline_mode_fails_fast(network_off, monkeypatch):
    monkeypatch.setattr(timm_backed.hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PretrainedWeightsUnavailable, match="HF_HUB_OFFLINE") as unavailable:
        create_model("convnext_tiny_timm", pretrained="hub")
    assert str(unavailable.value).endswith("unset it, or " + where_to_put("timm/convnext_tiny.fb_in1k", network_off))


def test_hub_weights_from_cache_without_network(network_off, ghostnet_1000):
    saved, folder = ghostnet_1000
    repo = network_off / "models--timm--ghostnet_100.in1k"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    (repo / "snapshots" / ("0" * 40)).mkdir(parents=True)
    (repo / "snapshots" / ("0" * 40) / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    loaded = create_model("ghostnet_100", pretrained="hub").state_dict()
    assert torch.equal(loaded["conv_stem.weight"], saved["conv_stem.weight"])


@pytest.mark.slow
def test_coatnet_224_weights_load_at_32(tmp_path):
    """Relative-position tables are resized to the 32×32 build; every other tensor loads as is."""
    model_224 = create_model("coatnet_0", pretrained=None, img_size=224)
    assert n_params(model_224) == PARAMS_224["coatnet_0"]
    saved = state(model_224)
    del model_224
    safetensors.torch.save_file(saved, tmp_path / "coatnet.safetensors")
    model_32 = create_model("coatnet_0", pretrained=str(tmp_path / "coatnet.safetensors"), img_size=32)
    loaded = model_32.state_dict()
    tables = [k for k in loaded if k.endswith("relative_position_bias_table")]
    assert tables and all(loaded[k].shape[0] < saved[k].shape[0] for k in tables)
    assert all(torch.equal(loaded[k], saved[k]) for k in loaded if k not in tables)  # head kept: 100 classes
    # the check before a run: the resizing filter cannot run on the meta device, so the CPU says the weights load
    check_pretrained_weights(resolve(dict(model="coatnet_0", pretrained=str(tmp_path / "coatnet.safetensors"),
                                          img_size=32, dataset="synthetic", run_dir=str(tmp_path / "run"))))


def test_mixer_224_size_and_pretrained_size_check(network_off):
    with torch.device("meta"):
        assert n_params(create_model("mlp_mixer_b16", img_size=224)) == PARAMS_224["mlp_mixer_b16"]
    with pytest.raises(ValueError, match="img_size=224"):
        create_model("mlp_mixer_b16", pretrained="hub", img_size=32)  # fails before looking for weights


@pytest.mark.parametrize("name, img_sizes, runs_at", [("coatnet_0", (48, 80), "32, 64, 96, 128, 224"),
                                                      ("mlp_mixer_b16", (40, 16), "32, 48, 64, 96, 128, 224")],
                         ids=["coatnet_0", "mlp_mixer_b16"])
def test_bad_img_size(name, img_sizes, runs_at, monkeypatch):
    """The line names the sizes the network runs at, each tried by building and running it on the meta device: a
    process tries each size once, however many sizes it is asked (each seed's, config's and command's)."""
    from cifar100lab.models import _registry
    monkeypatch.setattr(_registry, "_RUNS_AT", {}, raising=False)  # what earlier tests asked does not count
    tried, forward = [], _registry.forward_problem
    monkeypatch.setattr(_registry, "forward_problem", lambda net, size: tried.append(size) or forward(net, size))
    for img_size in img_sizes:
        with pytest.raises(ValueError, match=f"img_size.*got {img_size}\\); img_size it runs at: {runs_at} \\(of"):
            create_model(name, img_size=img_size)
    assert sorted(tried) == [int(s) for s in runs_at.split(", ")]  # the second size asked tried none again
