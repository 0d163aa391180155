"""A run's settings are worked out once (config.resolve), with one normalization rule and every value checked."""
import re

import pytest
import yaml
from conftest import run_cli

from cifar100lab import config as config_mod
from cifar100lab import data
from cifar100lab.config import ConfigError, RunPlan, TrainConfig, resolve
from cifar100lab.models import model_entry


def test_from_scratch_runs_normalize_with_their_dataset_statistics():
    for dataset in ("cifar100", "fashion-mnist", "synthetic"):
        plan = resolve({"model": "resnet_20", "dataset": dataset})
        spec = data.DATASETS[dataset]
        assert (plan.mean, plan.std) == (spec.mean, spec.std) and plan.pretrained is None
    scratch_mixer = resolve({"model": "mlp_mixer_b16", "dataset": "fashion-mnist", "pretrained": "off"})
    assert scratch_mixer.mean == data.DATASETS["fashion-mnist"].mean and scratch_mixer.input_size == 32


@pytest.mark.parametrize("model, mean, std", [
    ("mlp_mixer_b16", (0.5,) * 3, (0.5,) * 3),  # the Mixer and CoAtNet weights were trained at 0.5/0.5
    ("coatnet_0", (0.5,) * 3, (0.5,) * 3),
    ("convnext_tiny_timm", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
])
def test_fine_tunes_normalize_like_their_pretrained_checkpoint(model, mean, std):
    plan = resolve({"model": model, "dataset": "fashion-mnist"})
    assert plan.pretrained == "hub" and plan.input_size == 224
    assert plan.mean == pytest.approx(mean) and plan.std == pytest.approx(std)
    assert plan.normalization["source"] == f"pretrained_cfg of timm/{model_entry(model).pretrained_source}"


def test_plan_carries_recipe_with_overrides_and_effective_lr():
    plan = resolve({"model": "resnet_20", "overrides": {"lr": 0.05, "warmup_epochs": 1}, "epochs": 3})
    assert isinstance(plan, RunPlan) and plan.recipe_name == "resnet_sgd" and plan.recipe.lr == 0.05
    rec = plan.recipe_record(world_size=4)
    assert rec["effective_lr"] == pytest.approx(0.2) and rec["global_batch"] == 512 and rec["warmup_epochs"] == 1
    assert resolve(plan) is plan  # a plan is never worked out twice


@pytest.mark.parametrize("change, message", [
    ({"epochs": True}, "epochs must be int, got True"),
    ({"batch_size": 64.0}, "batch_size must be int"),
    ({"overrides": {"lr": float("nan")}}, "recipe lr must be a finite number, got nan"),
    ({"overrides": {"lr": "abc"}}, "recipe lr must be a finite number, got 'abc'"),
    ({"overrides": {"momentum": 1.5}}, r"recipe momentum=1.5 is out of range"),
    ({"overrides": {"nesterov": "yes"}}, "recipe nesterov must be true or false"),
    ({"overrides": {"min_lr": 0.5}}, r"recipe min_lr \(0.5\) is the cosine's floor and must be at most lr \(0.1\)"),
    ({"overrides": {"nesterov": True, "momentum": 0}}, "recipe nesterov: true needs momentum above 0"),
    ({"train_subset": -5}, "train_subset must be at least 1, got -5"),
    ({"test_subset": 0}, "test_subset must be at least 1"),
    ({"max_steps_per_epoch": -1}, "max_steps_per_epoch must be at least 1, got -1"),
    ({"seed": -1}, "seed must be at least 0"),
    ({"epochs": 2, "overrides": {"warmup_epochs": 2}}, r"warmup_epochs \(2.0\) must be shorter than the run \(2"),
    ({"train_subset": 100, "batch_size": 128}, "batch_size 128 is larger than the 100 training images"),
    ({"dataset": "cifar100", "batch_size": 60000}, "larger than the 50000 training images"),
    ({"train_subset": 100000}, "^train_subset 100000 is more than the 60000 training images of fashion-mnist; give at "
                               "most 60000, or leave it out for all of them$"),
    ({"test_subset": 10001}, "^test_subset 10001 is more than the 10000 test images of fashion-mnist; give at most "
                             "10000, or leave it out for all of them$"),
    ({"dataset": "cifar100", "train_subset": 60000}, "train_subset 60000 is more than the 50000 training images of "
                                                     "cifar100; give at most 50000"),
    ({"compile": "yes"}, "compile must be bool"),
    ({"options": [1]}, "options must be dict"),
    ({"pretrained": True}, "pretrained must be default, off, hub or a weights path"),
    ({"precision": "fp8"}, "precision 'fp8' is not one of"),
    ({"model": "mlp_mixer_tiny", "img_size": 48},
     r"mlp_mixer_tiny cannot run on 48×48 images \(AssertionError: .*\); img_size it runs at: 32 \(of 16, 24"),
    ({"model": "convnext_tiny", "img_size": 8}, r"convnext_tiny cannot run on 8×8 images \(RuntimeError: .*Kernel "
                                                r"size.*\); img_size it runs at: 16, 24, 32, 48"),
    ({"trial": {"a": 1}}, r"trial is set only by `cifar100lab tune` .* study \(a name\), trial_id and number"),
    ({"trial": {"study": "s", "trial_id": 1, "number": 0, "pruner": {"kind": "sometimes"}}},
     r"pruner \(\{kind: median \| hyperband \| none\}\), got"),
])
def test_every_bad_value_is_refused_by_resolve_naming_its_key(change, message):
    with pytest.raises(ConfigError, match=message):
        resolve({"model": "resnet_20", "dataset": "fashion-mnist", "epochs": 5, **change})



def test_a_seed_of_2_to_the_32_or_more_is_refused_before_any_work_as_torch_keeps_its_low_32_bits():
    """torch seeds its CPU generator from a seed's low 32 bits: seed 5 + 2**32 trained seed 5's run bit for bit
    (top-1 12.5 and the same test loss, as a third replicate would be counted), and seed 2**45 passed resolve,
    then failed in its first epoch (ValueError: Overflow when unpacking long long). A trained run's seed stays read."""
    import torch
    same = zip(data.epoch_draws(64, 0, 5), data.epoch_draws(64, 0, 5 + 2**32))  # order, crops, flips: why
    assert all(torch.equal(a, b) for a, b in same)
    base = {"model": "resnet_20", "dataset": "fashion-mnist", "epochs": 5}
    for seed in (2**32, 5 + 2**32, 2**45):
        with pytest.raises(ConfigError, match=rf"^seed must be below 2\*\*32 \(4294967296\), got {seed}"):
            resolve({**base, "seed": seed})
    assert resolve({**base, "seed": 2**32 - 1}).config.seed == 2**32 - 1
    assert resolve({**base, "seed": 5 + 2**32}, stored=True).config.seed == 5 + 2**32

def test_a_subset_the_size_of_its_split_is_all_of_it_and_a_trained_runs_larger_one_still_resolves():
    """Only a subset larger than its split is refused; a run that trained with one before the check (it took
    every image, as its record's sizes say) still resolves for evaluate and export."""
    assert resolve({"dataset": "fashion-mnist", "train_subset": 60000, "test_subset": 10000}).config.train_subset == 60000
    stored = {"dataset": "fashion-mnist", "train_subset": 100000, "test_subset": 50000, "batch_size": 128}
    assert resolve(stored, stored=True).config.train_subset == 100000


def test_a_synthetic_set_is_bounded_by_the_sizes_written_under_its_data_root(synthetic_root, tmp_path):
    """Synthetic sets are written at any size (`synth --train-size`): the one under the data root bounds the run,
    read from its manifest (no image); where none is written yet, the size a run generates it at."""
    root = str(synthetic_root)
    with pytest.raises(ConfigError, match=re.escape(f"train_subset 1025 is more than the 1024 training images of "
                                                    f"synthetic in {root}; give at most 1024, or leave it out")):
        resolve({"dataset": "synthetic", "data_root": root, "train_subset": 1025})
    with pytest.raises(ConfigError, match="test_subset 301 is more than the 300 test images of synthetic"):
        resolve({"dataset": "synthetic", "data_root": root, "test_subset": 301})
    with pytest.raises(ConfigError, match=r"^batch_size 2000 is larger than the 1024 training images \(synthetic\)"):
        resolve({"dataset": "synthetic", "data_root": root, "batch_size": 2000})  # as its subset bounds it
    assert resolve({"dataset": "synthetic", "data_root": root, "train_subset": 1024, "test_subset": 300,
                    "batch_size": 1024}).config.batch_size == 1024
    empty = tmp_path / "none"
    with pytest.raises(ConfigError, match="train_subset 5001 is more than the 5000 training images of synthetic in"):
        resolve({"dataset": "synthetic", "data_root": str(empty), "train_subset": 5001})
    with pytest.raises(ConfigError, match="batch_size 8000 is larger than the 5000 training images"):
        resolve({"dataset": "synthetic", "data_root": str(empty), "batch_size": 8000})
    assert not empty.exists()  # only looked


def test_a_validation_fraction_that_holds_out_no_image_is_refused_and_one_image_is_a_split(synthetic_root):
    """hold_out rounds the fraction's share; where it rounds to none, the run had no validation split and chose its
    best epoch on the test set, which val_fraction was asked to avoid (and a tune trial had nothing to be judged
    on). One image is a split, if a small one."""
    fashion = {"dataset": "fashion-mnist", "batch_size": 1}
    with pytest.raises(ConfigError, match=re.escape(
            "val_fraction 0.1 holds out none of the 4 training images (fashion-mnist, train_subset: 0.1 × 4 rounds "
            "to 0), so the best epoch would be chosen on the test set after all; give at least 6 training images or "
            "a val_fraction above 0.125, or val_fraction 0 for no validation split")):
        resolve({**fashion, "train_subset": 4, "val_fraction": 0.1})
    with pytest.raises(ConfigError, match=r"holds out none of the 1 training image \(.*give at least 2 training "
                                          r"images, or val_fraction 0"):
        resolve({**fashion, "train_subset": 1, "val_fraction": 0.5})
    with pytest.raises(ConfigError, match="holds out none of the 1024 training images"):  # the synthetic set's own
        resolve({"dataset": "synthetic", "data_root": str(synthetic_root), "val_fraction": 0.0004})
    assert resolve({**fashion, "train_subset": 2, "val_fraction": 0.5}).config.val_fraction == 0.5  # 1 and 1
    assert resolve({**fashion, "train_subset": 4, "val_fraction": 0.1}, stored=True)  # a run that trained so


def test_launch_resolves_a_config_once_and_builds_each_network_on_meta_once(monkeypatch, synthetic_root, tmp_path):
    from conftest import tiny_config

    from cifar100lab import launch
    calls, builds = [], []
    real_check, real_create = config_mod.check_fields, config_mod.create_model
    monkeypatch.setattr(config_mod, "check_fields", lambda cfg: calls.append(1) or real_check(cfg))
    monkeypatch.setattr(config_mod, "create_model", lambda *a, **k: builds.append(1) or real_create(*a, **k))
    monkeypatch.setattr(config_mod, "_CHECKED_NETWORKS", set())
    rec = launch.run(tiny_config(synthetic_root, tmp_path / "r", epochs=1, max_steps_per_epoch=1), num_processes=1)
    assert rec["status"] == "complete" and len(calls) == 1 and len(builds) == 1
    resolve(tiny_config(synthetic_root, tmp_path / "other", seed=1))  # same network, another seed
    assert len(calls) == 2 and len(builds) == 1


def write_campaign(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("", "defines no runs"),
    ("name: e\nmodels: []\n", "defines no runs"),
    ("models: [resnet_20]\ndefaults: {epochs: true}\n", "epochs must be int, got True"),
    ("models: [resnet_20]\ndefaults: {overrides: {lr: abc}}\n", "recipe lr must be a finite number, got 'abc'"),
    ("models: [resnet_20]\ndefaults: {overrides: {lr: .nan}}\n", "recipe lr must be a finite number, got nan"),
    ("models: [resnet_20]\ndefaults: {train_subset: -5}\n", "train_subset must be at least 1"),
    ("models: [resnet_20]\ndefaults: {max_steps_per_epoch: -1}\n", "max_steps_per_epoch must be at least 1"),
    ("models: [resnet_20]\ndefaults: {epochs: 2, overrides: {warmup_epochs: 2}}\n", "must be shorter than the run"),
    ("models: [resnet_20]\ndefaults: {train_subset: 100, batch_size: 128}\n", "larger than the 100 training images"),
    ("models: [resnet_20]\ndefaults: {train_subset: 8, batch_size: 4, val_fraction: 0.05}\n",
     "c.yaml, run c-resnet_20-s0: val_fraction 0.05 holds out none of the 8 training images"),
    ("models: [resnet_20]\ndefaults: {train_subset: 100000}\n",
     "c.yaml, run c-resnet_20-s0: train_subset 100000 is more than the 60000 training images of fashion-mnist"),
])
def test_campaign_dry_run_refuses_bad_input_in_one_line_before_any_work(tmp_path, capsys, text, message):
    from cifar100lab.cli import main
    path = write_campaign(tmp_path / "c.yaml", text)
    runs = tmp_path / "runs"
    assert main(["campaign", str(path), "--dry-run", "--dataset", "fashion-mnist", "--runs-root", str(runs)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert not runs.exists()


def test_campaign_studies_resolve_relative_to_the_campaign_file(tmp_path, monkeypatch):
    from cifar100lab.campaign import load_campaign
    (tmp_path / "cfg" / "ablations").mkdir(parents=True)
    (tmp_path / "cfg" / "ablations" / "s.yaml").write_text(yaml.safe_dump(
        {"study": "s", "seeds": 1, "variants": [{"label": "k5", "model": "eca_resnet_20", "options": {"k_size": 5}}]}))
    path = write_campaign(tmp_path / "cfg" / "c.yaml", "name: c\nstudies: [ablations/s.yaml]\n")
    monkeypatch.chdir(tmp_path)  # not the campaign's folder
    camp = load_campaign(path, dataset="synthetic")
    assert [r.run_id for r in camp.runs] == ["c-eca_resnet_20-k_size-5-s0"]
    assert isinstance(camp.runs[0].plan, RunPlan)


def test_train_config_from_dict_names_unknown_keys():
    with pytest.raises(ConfigError, match="training config: unknown key.*modle.*valid keys: model"):
        TrainConfig.from_dict({"modle": "resnet_20"})


def test_a_recipe_field_beside_the_training_fields_is_refused_saying_it_belongs_in_overrides(tmp_path, capfd):
    """`lr: 0.1` in a train YAML or a campaign's model entry was refused with the 34 valid keys and no word of
    where a learning rate goes (a notebook's -p lr and `--set lr=` said so already)."""
    with pytest.raises(ConfigError, match=re.escape("(lr is a recipe field: set it in overrides, e.g. overrides: "
                                                    "{lr: 0.05})")):
        TrainConfig.from_dict({"model": "resnet_20", "lr": 0.05})
    with pytest.raises(ConfigError, match=re.escape("(schedule is a recipe field: set it in overrides, e.g. "
                                                    'overrides: {schedule: "multistep"})')):
        TrainConfig.from_dict({"model": "resnet_20", "schedule": "multistep"})
    (tmp_path / "c.yaml").write_text("name: c\nmodels:\n  - {model: resnet_20, warmup_epochs: 1}\n")
    proc = run_cli(capfd, "campaign", tmp_path / "c.yaml", "--runs-root", tmp_path / "runs", "--dry-run")
    assert proc.returncode == 2 and proc.stderr.count("error:") == 1
    assert "(warmup_epochs is a recipe field: set it in overrides, e.g. overrides: {warmup_epochs: 1})" in proc.stderr


def test_a_fine_tune_without_its_weights_gets_a_from_scratch_run_unless_its_family_trains_from_scratch(
        tmp_path, monkeypatch):
    """Offline (the suite sets HF_HUB_OFFLINE), CoAtNet's fine-tune cannot have its ImageNet weights: the campaign
    adds ``coatnet_0_scratch`` so the architecture still has a measured row. ConvNeXt-T's timm fine-tune gets
    none: the campaign's own ConvNeXt-T trains from scratch already. With the weights at hand, nothing is added."""
    from cifar100lab import campaign as campaign_mod
    path = write_campaign(tmp_path / "c.yaml", "name: c\nmodels: [resnet_20, coatnet_0, convnext_tiny, "
                                               "convnext_tiny_timm]\nseeds: [0, 1]\n")
    camp = campaign_mod.load_campaign(path, dataset="synthetic", runs_root=tmp_path / "runs")
    scratch = {r.run_id: r.plan for r in camp.runs if "scratch" in r.run_id}
    assert sorted(scratch) == ["c-coatnet_0_scratch-s0", "c-coatnet_0_scratch-s1"]
    assert all(p.pretrained is None and p.input_size == 32 and p.config.model == "coatnet_0" for p in scratch.values())
    assert camp.models[-1] == "coatnet_0_scratch" and set(scratch) <= set(camp.model_runs)
    assert "c-coatnet_0-s0" in {r.run_id for r in camp.runs}  # the fine-tune stays, to be skipped saying why
    monkeypatch.setattr(campaign_mod, "hub_weights_unreachable", lambda name, probe=None: None)
    assert not [r for r in campaign_mod.load_campaign(path, dataset="synthetic").runs if "scratch" in r.run_id]


def test_a_campaign_load_asks_the_unreachable_hub_once_however_many_fine_tunes_it_has(tmp_path, monkeypatch):
    """Each probe of an unreachable hub may cost its timeout: one load asks once for all its fine-tunes."""
    from huggingface_hub import constants

    from cifar100lab import campaign as campaign_mod
    from cifar100lab.models import PretrainedWeightsUnavailable, timm_backed
    asked = []

    def unreachable():
        asked.append(1)
        raise PretrainedWeightsUnavailable("cannot reach the hub (test)")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(timm_backed, "try_to_load_from_cache", lambda *a, **k: None)  # nothing cached
    monkeypatch.setattr(timm_backed, "_probe_hub", unreachable)
    path = write_campaign(tmp_path / "c.yaml", "name: c\nmodels: [coatnet_0, cspresnet50, resnest50d]\n")
    camp = campaign_mod.load_campaign(path, dataset="synthetic", runs_root=tmp_path / "runs")
    assert camp.models[3:] == ["coatnet_0_scratch", "cspresnet50_scratch", "resnest50d_scratch"]
    assert len(asked) == 1
    campaign_mod.load_campaign(path, dataset="synthetic", runs_root=tmp_path / "runs")
    assert len(asked) == 2  # a new load asks again: the hub may have come back


def test_a_field_added_later_leaves_the_run_ids_given_out_before_it_unchanged():
    """A notebook run without run_id finds its folder by a hash of its settings; cuda_graph (added after those ids
    were given out) stays out of the hash at its old behaviour, so a run started before it resumes after it. The
    ids below are what 06f58ba, before cuda_graph, gave these settings."""
    from cifar100lab.config import TrainConfig, run_folder
    assert run_folder(TrainConfig(model="resnet_20")).run_id == "resnet_20-s0-cbe092bc"
    assert run_folder(TrainConfig(model="convnext_tiny", seed=2, compile=True)).run_id == "convnext_tiny-s2-650db8f3"
    assert run_folder(TrainConfig(model="resnet_20", cuda_graph=True)).run_id != "resnet_20-s0-cbe092bc"


def test_notebook_parameters_papermill_injected_but_not_declared_are_refused_also_in_a_kept_kernel():
    """The kernel's input history as papermill leaves it: the parameters cell, papermill's injected cell, the
    call; a campaign's kept kernel holds every run's cells in turn."""
    from cifar100lab.config_files import check_notebook_parameters
    params, call = "campaign = 'quick'\nruns_root: str = 'runs'\n", "result = report(campaign, runs_root)\n"
    run = ["", params, "# Parameters\ncampaign = 'full'\n", call]
    check_notebook_parameters({"In": run + run[1:]})  # declared names only, twice over
    check_notebook_parameters({"In": run + ["epochs = 2\n", "# Parameters\nepochs = 3\n"]})  # another notebook
    check_notebook_parameters({"In": ["", params, call]})  # run by hand: nothing injected
    check_notebook_parameters({})  # not IPython
    with pytest.raises(ConfigError, match=r"^unknown notebook parameter\(s\) campain \(did you mean campaign\?\), "
                                          r"zz; this notebook's parameters are campaign, runs_root$"):
        check_notebook_parameters({"In": run + [params, "# Parameters\ncampain = 'full'\nzz = 1\n", call]})


@pytest.mark.parametrize("recipe, overrides, message", [
    ("resnet_sgd", {"schedule": "multistep", "min_lr": 0.001},
     "recipe min_lr does nothing with schedule: multistep: it is the cosine schedule's floor; drop it, or set "
     "schedule: cosine"),
    ("resnet_sgd", {"milestones": [0.3, 0.6]}, "recipe milestones does nothing with schedule: cosine"),
    ("resnet_sgd", {"schedule": "constant", "gamma": 0.2}, "recipe gamma does nothing with schedule: constant"),
    ("convnext_scratch", {"momentum": 0.95}, r"recipe momentum does nothing with optimizer: adamw: it is SGD's "
                                             r"momentum \(AdamW's are betas\); drop it, or set optimizer: sgd"),
    ("resnet_sgd", {"optimizer": "adamw", "nesterov": True}, "recipe nesterov does nothing with optimizer: adamw"),
    ("resnet_sgd", {"betas": [0.9, 0.99]}, "recipe betas does nothing with optimizer: sgd"),
    ("resnet_sgd", {"mix_prob": 0.5}, "recipe mix_prob does nothing with mixup: 0.0, cutmix: 0.0"),
    ("resnet_sgd", {"mixup": 0.8, "mix_switch_prob": 0.3},
     "recipe mix_switch_prob does nothing with mixup: 0.8, cutmix: 0.0: .*; drop it, or set both mixup and cutmix"),
    ("resnet_sgd", {"auto_augment": "trivialaugment", "ra_magnitude": 12},
     "recipe ra_magnitude does nothing with auto_augment: trivialaugment"),
    ("resnet_sgd", {"ra_ops": 3}, "recipe ra_ops does nothing with auto_augment: none"),
    ("resnet_sgd", {"weight_decay": 0, "decay_norm_and_bias": False},
     "recipe decay_norm_and_bias does nothing with weight_decay: 0.0"),
    ("resnet_sgd", {"distill_temperature": 2}, r"recipe distill_temperature does nothing with distill_from: null: .*"
                                               r"; drop it, or set distill_from \(the teacher"),
    ("resnet_sgd", {"distill_from": "t", "distill_alpha": 1, "label_smoothing": 0.1},
     "recipe label_smoothing does nothing with distill_alpha: 1.0"),
])
def test_a_recipe_setting_the_user_gave_that_does_nothing_is_one_line_naming_it(recipe, overrides, message):
    """Training reads each of these only under another field's value (build_optimizer, lr_factor, timm's Mixup,
    the augmentation policy, the distillation loss): given where it is not read, it would be accepted and ignored."""
    with pytest.raises(ConfigError, match=message) as e:
        resolve({"model": "resnet_20", "recipe": recipe, "epochs": 10, "overrides": overrides})
    assert "\n" not in str(e.value)


def test_a_recipes_own_settings_that_do_not_apply_are_never_refused():
    """The AdamW recipes keep SGD's momentum and the multistep milestones as defaults, DeiT's its cosine floor:
    only what the user wrote is held against them, and min_lr bounds lr only where the cosine reads it."""
    for name, overrides in (("convnext_scratch", {"lr": 1e-3}), ("deit_scratch", {"schedule": "multistep"}),
                            ("deit_scratch", {"schedule": "constant", "lr": 5e-6}),
                            ("resnet_sgd", {"optimizer": "adamw", "weight_decay": 0}),
                            ("resnet_sgd", {"mixup": 0.8, "mix_prob": 0.5}),
                            ("resnet_sgd", {"auto_augment": "randaugment", "ra_ops": 3})):
        resolve({"model": "resnet_20", "recipe": name, "epochs": 10, "overrides": overrides})


def test_a_campaign_default_that_does_nothing_for_a_model_is_refused_before_any_work(tmp_path, capsys):
    from cifar100lab.cli import main
    path = write_campaign(tmp_path / "c.yaml", "models: [convnext_tiny]\ndefaults: {overrides: {nesterov: true}}\n")
    assert main(["campaign", str(path), "--dry-run", "--dataset", "fashion-mnist", "--runs-root",
                 str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "recipe nesterov does nothing with optimizer: adamw" in err
    assert not (tmp_path / "runs").exists()


def test_a_campaign_default_that_does_nothing_for_some_models_says_to_set_it_on_the_models_it_is_for(tmp_path, capsys):
    """"Drop it" is the wrong advice for a mixed SGD/AdamW campaign whose momentum default is for the SGD models:
    the campaign has per-model overrides, and the error says so."""
    from cifar100lab.cli import main
    path = write_campaign(tmp_path / "c.yaml", "models: [resnet_20, convnext_tiny]\n"
                                              "defaults: {overrides: {momentum: 0.95}}\n")
    assert main(["campaign", str(path), "--dry-run", "--dataset", "fashion-mnist", "--runs-root",
                 str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run c-convnext_tiny-s0: recipe momentum does nothing" in err
    assert "(momentum: from defaults.overrides, which reach every model; to keep it for the others, set it on " \
           "their model entries instead: {model: NAME, overrides: {...}})" in err
    own = write_campaign(tmp_path / "d.yaml", "models: [{model: convnext_tiny, overrides: {momentum: 0.9}}]\n")
    assert main(["campaign", str(own), "--dry-run", "--dataset", "fashion-mnist", "--runs-root",
                 str(tmp_path / "runs")]) == 2
    assert "from defaults.overrides" not in capsys.readouterr().err  # the entry's own: "drop it" is right
