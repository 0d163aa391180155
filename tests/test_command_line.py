"""Settings from the command line and from papermill: dotted ``--set`` keys reach one key of a mapping field,
papermill's string for a mapping parameter is read as JSON, and ``papermill --help-notebook`` documents every
parameter of the train notebook."""
import argparse
import ast
import json
import os

import papermill as pm
import pytest
from conftest import ROOT, run_cli

import cifar100lab
from cifar100lab.campaign import load_campaign
from cifar100lab.cli import build_parser
from cifar100lab.config import TrainConfig, resolve
from cifar100lab.settings import apply_set, parse_set

TRAIN_NOTEBOOK = ROOT / "notebooks" / "train.ipynb"


def test_dotted_set_changes_one_recipe_field_and_keeps_the_others():
    base = {"model": "resnet_20", "overrides": {"weight_decay": 0.0}}
    cfg = apply_set(base, parse_set(["overrides.lr=0.05", "options.k_size=5"]))
    assert cfg["overrides"] == {"weight_decay": 0.0, "lr": 0.05} and cfg["options"] == {"k_size": 5}
    assert base == {"model": "resnet_20", "overrides": {"weight_decay": 0.0}}  # the caller's mapping is kept
    plan = resolve(apply_set({"model": "resnet_20", "overrides": {"weight_decay": 0.0}},
                             parse_set(["overrides.lr=0.05"])))
    assert plan.recipe.lr == 0.05 and plan.recipe.weight_decay == 0.0


def test_campaign_set_overrides_dot_lr_reaches_every_run_and_keeps_the_yaml_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("models: [resnet_20]\nseeds: 2\ndefaults: {epochs: 1, overrides: {weight_decay: 0.0}}\n")
    camp = load_campaign(path, dataset="synthetic", runs_root=tmp_path / "runs",
                         set_values=parse_set(["overrides.lr=0.05"]))
    assert [r.config.overrides for r in camp.runs] == [{"weight_decay": 0.0, "lr": 0.05}] * 2


def _defaults_from_namespace(**changes) -> dict:
    return {**TrainConfig().to_dict(), **changes}


def test_papermill_json_string_for_a_mapping_parameter_is_read_as_a_mapping():
    cfg = TrainConfig.from_namespace(_defaults_from_namespace(model="eca_resnet_20", overrides='{"lr": 0.05}',
                                                               options='{"k_size": 5}'))
    assert cfg.overrides == {"lr": 0.05} and cfg.options == {"k_size": 5}
    assert resolve(cfg).recipe.lr == 0.05


def test_papermill_help_shows_a_type_and_a_help_line_for_every_train_parameter():
    params = pm.inspect_notebook(str(TRAIN_NOTEBOOK))
    assert set(params) == set(TrainConfig.field_names()) | {"num_processes"}
    untyped = [n for n, p in params.items() if p["inferred_type_name"] in ("None", "")]
    unhelped = [n for n, p in params.items() if not p["help"]]
    assert not untyped and not unhelped, (untyped, unhelped)


def test_train_notebook_parameter_defaults_are_the_configs_defaults():
    params = pm.inspect_notebook(str(TRAIN_NOTEBOOK))
    defaults = TrainConfig().to_dict()
    assert {n: ast.literal_eval(params[n]["default"]) for n in defaults} == defaults


def test_train_notebook_parameters_cell_runs_as_plain_python():
    nb = json.loads(TRAIN_NOTEBOOK.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    namespace: dict = {}
    exec("".join(cell["source"]), namespace)
    assert TrainConfig.from_namespace(namespace) == TrainConfig()


def _parsers(parser: argparse.ArgumentParser):
    """``parser`` and every sub-command's parser under it, with its command path."""
    yield "cifar100lab", parser
    for action in parser._actions:  # argparse keeps sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"cifar100lab {name}", sub


def test_every_option_and_argument_of_every_command_has_help_text():
    missing = [f"{where}: {'/'.join(a.option_strings) or a.dest}" for where, p in _parsers(build_parser())
               for a in p._actions if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert not missing, missing


def test_campaign_dataset_help_lists_the_registered_datasets_a_new_entry_included(monkeypatch):
    """A new dataset is one registry entry: the help must not keep a list of its own."""
    from cifar100lab.data import DATASETS, DatasetEntry
    monkeypatch.setitem(DATASETS, "blobs", DatasetEntry("blobs", "stand-in", {"en": "Blobs", "zh": "Blobs"}, 4,
                                                        (100, 10), (0.5,) * 3, (0.2,) * 3))
    campaign = dict(_parsers(build_parser()))["cifar100lab campaign"]
    (dataset,) = [a for a in campaign._actions if "--dataset" in a.option_strings]
    assert f"({', '.join(DATASETS)}, a plugin's)" in dataset.help and "blobs" in dataset.help


def test_top_level_help_is_plain_text_without_restructuredtext_markup(capfd):
    proc = run_cli(capfd, "--help")
    assert proc.returncode == 0 and "campaign" in proc.stdout
    assert not any(mark in proc.stdout for mark in ("``", ":func:", ":class:")), proc.stdout


def test_version_prints_the_package_version(capfd):
    proc = run_cli(capfd, "--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"cifar100lab {cifar100lab.__version__}"


@pytest.mark.slow  # starts processes
def test_two_process_cpu_run_says_cpu_and_prints_no_thread_warning(synthetic_root, tmp_path, capfd, monkeypatch):
    from conftest import tiny_config

    from cifar100lab import launch
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(launch, "visible_gpus", lambda: 0)
    capfd.readouterr()
    cfg = tiny_config(synthetic_root, tmp_path / "ddp", epochs=1, batch_size=32, max_steps_per_epoch=2)
    assert launch.run(cfg, num_processes=2)["status"] == "complete"
    out, err = capfd.readouterr()
    assert "Launching training on 2 CPU processes (one gloo group)." in out
    assert "CUDA" not in out + err and "OMP_NUM_THREADS" not in out + err, out + err
    assert "OMP_NUM_THREADS" not in os.environ  # the launch's setting ends with it


def test_a_number_with_an_exponent_is_a_number_in_set_and_in_papermills_json():
    """PyYAML reads 1e-3 (no point, no exponent sign) as text: --set overrides.lr=1e-3 and the valid JSON
    -p overrides '{"lr": 5e-4}' were refused as "recipe lr must be a finite number, got '1e-3'"."""
    assert parse_set(["overrides.lr=1e-3", "val_fraction=1.0e-1"]) == {"overrides.lr": 0.001, "val_fraction": 0.1}
    cfg = TrainConfig.from_namespace(_defaults_from_namespace(overrides='{"lr": 5e-4}'))
    assert resolve(cfg).recipe.lr == 0.0005
    assert parse_set(["notes=e5", "run_id=1e"]) == {"notes": "e5", "run_id": "1e"}  # words stay words


def test_a_whole_mapping_set_after_one_of_its_keys_is_refused_rather_than_dropping_it():
    """--set overrides.lr=0.05 --set overrides={weight_decay: 0.0} replaced the mapping after the lr was set: the run
    trained at the recipe's lr 0.1 with overrides {'weight_decay': 0.0}, without a word."""
    from cifar100lab.config_files import ConfigError
    with pytest.raises(ConfigError, match="--set overrides.lr is followed by --set overrides="):
        apply_set({}, parse_set(["overrides.lr=0.05", "overrides={weight_decay: 0.0}"]))
    assert apply_set({}, parse_set(["overrides={weight_decay: 0.0}", "overrides.lr=0.05"])) == \
        {"overrides": {"weight_decay": 0.0, "lr": 0.05}}  # the whole first, then one key: both kept


def test_campaign_set_of_a_field_a_model_entry_sets_otherwise_is_refused(tmp_path, capfd):
    """`campaign --set epochs=1` ("for every run") left a model entry's own `epochs: 5` (and --set overrides.lr its
    `overrides: {lr: 0.2}`) in its runs: r20_long trained 5 epochs at lr 0.2 without a word."""
    path = tmp_path / "c.yaml"
    path.write_text("models: [resnet_20, {model: resnet_20, name: r20_long, epochs: 5, overrides: {lr: 0.2}}]\n"
                    "defaults: {epochs: 3}\n")
    for pair, shown in (("epochs=1", "epochs (5)"), ("overrides.lr=0.05", "overrides.lr (0.2)"),
                        ("overrides={lr: 0.05}", "overrides.lr (0.2)")):
        proc = run_cli(capfd, "campaign", path, "--dry-run", "--dataset", "synthetic", "--set", pair,
                       "--runs-root", tmp_path / "runs")
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert f"model entry r20_long sets its own {shown}" in proc.stderr
    camp = load_campaign(path, dataset="synthetic", runs_root=tmp_path / "runs",  # the entry's own value: no conflict
                         set_values=parse_set(["epochs=5", "overrides.lr=0.2"]))
    assert [(r.config.epochs, r.config.overrides) for r in camp.runs] == [(5, {"lr": 0.2})] * 2
