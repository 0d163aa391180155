"""Extending the benchmark without editing a list: a model is one file (or a plugin package's entry point), a
campaign's model set says what it means, and a dataset is a registry entry, a plugin or a folder of images."""
import sys

import pytest

from cifar100lab import models
from cifar100lab.campaign import load_campaign
from cifar100lab.config import ConfigError

PROBE_FAMILY = '''
import torch.nn as nn
from {registry} import register_model


@register_model("{name}", family="probe", group="basic ResNet", source="own", paper="a test", recipe="resnet_sgd")
def build_probe(num_classes=100, width=8):
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))
'''


@pytest.fixture
def forget_models():
    """Names the test registers, dropped from the registry (and their modules from sys.modules) afterwards."""
    added: list[tuple[str, str]] = []
    yield added
    for name, module in added:
        models.MODEL_REGISTRY.pop(name, None)
        sys.modules.pop(module, None)


def test_a_new_file_in_the_models_folder_is_a_model_found_by_name_without_editing_a_list(tmp_path, monkeypatch,
                                                                                         forget_models):
    (tmp_path / "probe_family.py").write_text(PROBE_FAMILY.format(registry="._registry", name="probe_file_net"))
    forget_models.append(("probe_file_net", "cifar100lab.models.probe_family"))
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(tmp_path)])  # the folder, with the file in it
    models.import_families()
    assert "probe_file_net" in models.model_names()
    assert models.create_model("probe_file_net", num_classes=7, width=4)[-1].out_features == 7
    assert models.model_entry("probe_file_net").options == {"width": 8}


def _plugin(site, module: str, source: str, group: str = "cifar100lab.models") -> None:
    """An installed distribution in ``site`` whose ``group`` entry point names ``module``."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\nprobe = {module}\n")


def test_a_plugin_package_registers_its_models_through_the_entry_point_group(tmp_path, monkeypatch, forget_models):
    _plugin(tmp_path, "probe_model_plugin", PROBE_FAMILY.format(registry="cifar100lab.models", name="probe_plugin_net"))
    forget_models.append(("probe_plugin_net", "probe_model_plugin"))
    monkeypatch.syspath_prepend(str(tmp_path))
    models.load_plugins()
    assert models.model_entry("probe_plugin_net").family == "probe"
    assert models.create_model("probe_plugin_net", num_classes=3)[-1].out_features == 3


def test_a_plugin_that_fails_to_import_is_named_in_a_warning_and_left_out(tmp_path, monkeypatch):
    _plugin(tmp_path, "broken_model_plugin", "raise RuntimeError('needs a GPU library')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match=r"model plugin probe \(broken_model_plugin\) was not loaded: "
                                         r"RuntimeError: needs a GPU library"):
        models.load_plugins()


def _campaign(tmp_path, models_line: str):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\n{models_line}\ndefaults: {{epochs: 2, batch_size: 8, overrides: {{warmup_epochs: 0}}}}\n")
    return load_campaign(path, dataset="synthetic", runs_root=tmp_path / "runs", book_dir=tmp_path / "book")


def test_models_study_is_the_original_eighteen_and_registered_adds_every_new_model(tmp_path, monkeypatch,
                                                                                   forget_models):
    (tmp_path / "probe_family.py").write_text(PROBE_FAMILY.format(registry="._registry", name="probe_set_net"))
    forget_models.append(("probe_set_net", "cifar100lab.models.probe_family"))
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(tmp_path)])
    models.import_families()
    study = _campaign(tmp_path, "models: study")
    assert study.models == sorted(models.STUDY_MODELS) and len(study.runs) == 18
    registered = _campaign(tmp_path, "models: registered")
    assert "probe_set_net" in registered.models and len(registered.runs) == len(models.model_names())


@pytest.mark.parametrize("models_line, says", [
    ("models: all", r"c\.yaml: models: all is ambiguous; write models: study \(the original study's 18 models\) "
                    r"or models: registered \(every registered model, now \d+"),
    ("models: everything", r"c\.yaml: models: everything is not a model set; write study or registered, or a list"),
])
def test_a_model_set_word_that_does_not_say_what_it_means_is_one_clear_error(tmp_path, models_line, says):
    with pytest.raises(ConfigError, match=says):
        _campaign(tmp_path, models_line)


def test_the_campaign_files_say_which_model_set_they_mean():
    from conftest import ROOT
    for path in sorted((ROOT / "params").glob("*.yaml")):
        assert "\nmodels: study " in path.read_text(), path
