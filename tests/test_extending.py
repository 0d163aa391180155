"""Extending the benchmark without editing a list: a model is one file (or a plugin package's entry point), a
campaign's model set says what it means, and a dataset is a registry entry, a plugin or a folder of images."""
import dataclasses
import re
import sys

import pytest
import torch
import yaml

from cifar100lab import data, models
from cifar100lab.campaign import load_campaign
from cifar100lab.config import ConfigError, resolve
from cifar100lab.data import DataError, load_dataset

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


@pytest.fixture
def models_folder(tmp_path, monkeypatch):
    """A folder of model files read as part of ``cifar100lab/models/``; what its files register, or fail to, is
    forgotten afterwards."""
    folder = tmp_path / "more_models"
    folder.mkdir()
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(folder)])
    before = set(models.MODEL_REGISTRY)
    yield folder
    for name in set(models.MODEL_REGISTRY) - before:
        del models.MODEL_REGISTRY[name]
    for module in [m for m in sys.modules if m.startswith("cifar100lab.models.probe_")]:
        del sys.modules[module]
    models.BROKEN_FILES.clear()


PROBE_HEAD = "import torch.nn as nn\nfrom ._registry import register_model\n\n"
PROBE_REGISTER = ('@register_model("probe_broken_net", family="probe", group="basic ResNet", source="own", '
                  'paper="a test", recipe="resnet_sgd"{meta})\n')
PROBE_BUILDER = ("def build_probe(num_classes=100, width=8):\n    return nn.Sequential(nn.Conv2d(3, width, 3), "
                 "nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))\n")


def _probe_file(meta: str = "", builder: str = PROBE_BUILDER) -> str:
    return PROBE_HEAD + PROBE_REGISTER.format(meta=meta) + builder


@pytest.mark.parametrize("source, line, says", [
    (_probe_file().replace('"basic ResNet"', '"cnn"'), 4,
     r"model 'probe_broken_net': group 'cnn' is not one of the report's groups \('basic ResNet', .*\) \(a new group is "
     r"added to model_facts\.GROUPS and its labels to report/i18n\.py's GROUPS\)"),
    (_probe_file().replace('source="own"', 'source="mine"'), 4, r"model 'probe_broken_net': source must be 'own' \(written here\) or 'timm' \(timm's network\), got 'mine'"),
    (_probe_file(', cam_layr="0"'), 4, r"model 'probe_broken_net': register_model takes no cam_layr \(did you mean "
                                       r"cam_layer\?\); besides family, group, source, paper and recipe it takes input_size"),
    (_probe_file(builder=PROBE_BUILDER.replace("num_classes=100", "n=100")), 4,
     r"model 'probe_broken_net': its builder build_probe\(\) takes no num_classes; a builder is def build_probe\(num_classes=100, option=default"),
    (_probe_file(builder=PROBE_BUILDER.replace("num_classes=100, width=8", "num_classes, width")), 4,
     r"model 'probe_broken_net': its builder build_probe\(\) gives width no default; a builder is def build_probe\(num_classes=100, "
     r"option=default, \.\.\.\), each option with the default a run uses unless told"),
    (_probe_file(builder=PROBE_BUILDER.replace("width=8)", "width=8")), 5, r"SyntaxError: "),
    (_probe_file() + "\nWIDTHS = widths()\n", 8, r"NameError: name 'widths' is not defined"),
])
def test_a_model_file_that_cannot_register_is_one_error_line_naming_its_file_and_line(models_folder, tmp_path, capfd,
                                                                                         source, line, says):
    """A group, keyword or builder the registry cannot take, or a typo, raised while cifar100lab.models was being
    imported: every command printed two tracebacks (the second from the error handler, which imports the package
    again). Each is now the registry's one line, naming the file and its line, from every command that uses it."""
    from conftest import run_cli
    (models_folder / "probe_broken.py").write_text(source)
    models.import_families()
    where = rf"^model file {models_folder / 'probe_broken.py'}, line {line}: "
    with pytest.raises(ConfigError, match=where + says):
        models.model_names()
    with pytest.raises(ConfigError, match=r"; fix it \(or move it out of the models folder\): no model is used while "
                                          r"a model file does not import$"):
        resolve({"model": "resnet_20", "dataset": "synthetic"})
    train = run_cli(capfd, "train", "--set", "model=resnet_20", "--set", "dataset=synthetic", "--set",
                    f"run_dir={tmp_path / 'run'}")
    assert train.returncode == 2 and "Traceback" not in train.stderr and not (tmp_path / "run").exists()
    assert train.stderr.startswith("error: model file ") and train.stderr.count("\n") == 1
    (models_folder / "probe_broken.py").write_text(_probe_file())
    models.import_families()  # fixed: the registry answers again
    assert "probe_broken_net" in models.model_names()


def test_a_model_registered_under_a_taken_name_names_the_file_that_has_it(models_folder):
    (models_folder / "probe_twice.py").write_text(_probe_file().replace("probe_broken_net", "resnet_20"))
    models.import_families()
    with pytest.raises(ConfigError, match=r"probe_twice\.py, line 4: model 'resnet_20' registered twice \(also in "
                                          r"cifar100lab\.models\.cifar_resnet\); give it a name of its own"):
        models.model_entry("resnet_20")


@pytest.mark.parametrize("width, says", [
    ("'abc'", r"TypeError: not all arguments converted during string formatting"),
    (-1, r"RuntimeError: Trying to create tensor with negative dimension -1"),
    (8.5, r"out_channels must be divisible by groups"),  # torch's own ValueError
])
def test_an_option_value_the_builder_cannot_take_names_the_model_the_option_and_the_defaults(models_folder, width,
                                                                                            says):
    """width='abc' failed inside nn.Conv2d: `train` printed 'error: not all arguments converted during string
    formatting', naming neither the model nor the option, and width=-1 was a RuntimeError traceback."""
    (models_folder / "probe_options.py").write_text(_probe_file())
    models.import_families()
    assert resolve({"model": "probe_broken_net", "options": {"width": 4}, "dataset": "synthetic"})
    with pytest.raises(ConfigError, match=rf"^{says}.* \(model 'probe_broken_net' with width={re.escape(str(width))}; "
                                          r"its options and their defaults: width=8\)$"):
        resolve({"model": "probe_broken_net", "options": {"width": yaml.safe_load(str(width))}, "dataset": "synthetic"})


def test_a_builders_own_value_error_keeps_its_words_first_and_names_the_model():
    with pytest.raises(ConfigError, match=r"^k_size must be an odd positive integer or 'adaptive', got 4 \(model "
                                          r"'eca_resnet_20' with k_size=4; its options and their defaults: k_size=3, "):
        resolve({"model": "eca_resnet_20", "options": {"k_size": 4}, "dataset": "synthetic"})


def test_a_grad_cam_layer_that_is_not_in_the_network_is_refused_before_any_run(models_folder):
    """A mistyped cam_layer was taken: the campaign trained its runs, then its robustness step failed ('robustness
    step failed: ValueError: Sequential has no module 'nope'')."""
    (models_folder / "probe_cam.py").write_text(_probe_file(', cam_layer="1.0"'))
    models.import_families()
    with pytest.raises(ConfigError, match=r"model 'probe_broken_net': cam_layer '1\.0' \(the layer Grad-CAM weighs, "
                                          r"from register_model or CAM_LAYERS\) is not a module of the network; its "
                                          r"top-level modules: 0, 1, 2, 3"):
        resolve({"model": "probe_broken_net", "dataset": "synthetic"})
    assert models.create_model("resnet_20").get_submodule(models.model_entry("resnet_20").cam_layer) is not None


FORWARD_PROBE = PROBE_HEAD + '''
class ProbeNet(nn.Module):
    def __init__(self, num_classes, depth):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(3, 3, 3, padding=1) for _ in range(depth))
        self.head = nn.Linear(3 * 32 * 32, num_classes)  # the maps flattened: 32×32 only

    def forward(self, x):
        x = self.convs[0](x)  # depth=0: an empty list indexed
        for conv in self.convs[1:]:
            x = conv(x)
        return self.head(x.flatten(1))


@register_model("probe_forward_net", family="probe", group="basic ResNet", source="own", paper="a test",
                recipe="resnet_sgd")
def build_probe(num_classes=100, depth=2, img_size=32):
    assert img_size % 16 == 0, "img_size must be a multiple of 16"  # of the sizes the check tries, 24 fails here
    return ProbeNet(num_classes, depth)
'''


def test_a_forward_pass_that_fails_in_any_way_is_one_error_line_before_any_run(models_folder, tmp_path, capfd):
    """Only a RuntimeError, AssertionError or ValueError of the check's forward pass was caught, and of a build at
    each size it tries for the line, a KeyError, ValueError or TypeError: `train --set options.depth=0` on a model
    whose forward indexes its (empty) list of layers was an IndexError traceback, and img_size 48 on one whose
    builder asserts a multiple of 16 an AssertionError traceback from the try at 24 px."""
    from conftest import run_cli
    (models_folder / "probe_forward.py").write_text(FORWARD_PROBE)
    models.import_families()
    assert resolve({"model": "probe_forward_net", "options": {"depth": 1}, "dataset": "synthetic"})
    with pytest.raises(ConfigError, match=r"^probe_forward_net cannot run on 48×48 images \(RuntimeError: .*\); "
                                          r"img_size it runs at: 32 \(of 16, 24, 32, 48, 64, 96, 128, 224 tried\)$"):
        resolve({"model": "probe_forward_net", "img_size": 48, "dataset": "synthetic"})
    says = ("IndexError: index 0 is out of range, in its forward pass at every img_size tried (model "
            "'probe_forward_net' with depth=0; its options and their defaults: depth=2)")
    with pytest.raises(ConfigError, match=f"^{re.escape(says)}$"):
        resolve({"model": "probe_forward_net", "options": {"depth": 0}, "dataset": "synthetic"})
    train = run_cli(capfd, "train", "--set", "model=probe_forward_net", "--set", "options.depth=0", "--set",
                    "dataset=synthetic", "--set", f"run_dir={tmp_path / 'run'}")
    assert (train.returncode, train.stderr) == (2, f"error: {says}\n") and not (tmp_path / "run").exists()


def test_a_builder_that_fails_at_the_img_size_asked_is_one_line_naming_the_size_and_the_sizes_it_runs_at(
        models_folder, tmp_path, capfd):
    """img_size 40 on a model whose builder asserts a multiple of 16 was an AssertionError traceback from `train`
    (the build's error was raised as is where no options were given), and with options the line blamed them
    ('... (model 'probe_forward_net' with depth=1; its options and their defaults: depth=2)')."""
    from conftest import run_cli
    (models_folder / "probe_forward.py").write_text(FORWARD_PROBE)
    models.import_families()
    tried = "(of 16, 24, 32, 48, 64, 96, 128, 224 tried)"
    says = ("probe_forward_net cannot be built for 40×40 images (AssertionError: img_size must be a multiple of 16); "
            f"img_size it runs at: 32 {tried}")
    with pytest.raises(ConfigError, match=f"^{re.escape(says)}$"):
        resolve({"model": "probe_forward_net", "img_size": 40, "dataset": "synthetic"})
    train = run_cli(capfd, "train", "--set", "model=probe_forward_net", "--set", "img_size=40", "--set",
                    "dataset=synthetic", "--set", f"run_dir={tmp_path / 'run'}")
    assert (train.returncode, train.stderr) == (2, f"error: {says}\n") and not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="^" + re.escape(says.replace("_net cannot", "_net with depth=1 cannot"))):
        resolve({"model": "probe_forward_net", "img_size": 40, "options": {"depth": 1}, "dataset": "synthetic"})
    # options no size runs with: they are the cause, and the line names the size asked too
    with pytest.raises(ConfigError, match=re.escape("multiple of 16 (model 'probe_forward_net' with depth=0 at img_size "
                                                    "40; with these options it runs at no img_size tried (16, 24, ")):
        resolve({"model": "probe_forward_net", "img_size": 40, "options": {"depth": 0}, "dataset": "synthetic"})
    # the model's own size and defaults: a builder failing there is the model file's bug, raised as it is
    entry = models.MODEL_REGISTRY["probe_forward_net"]
    models.MODEL_REGISTRY["probe_forward_net"] = dataclasses.replace(entry, builder=lambda num_classes=100, depth=2,
                                                                     img_size=32: [][0])
    with pytest.raises(IndexError):
        models.create_model("probe_forward_net", img_size=32)


@pytest.mark.parametrize("source, named", [
    (_probe_file().replace('recipe="resnet_sgd"', 'recipe="resnet_sgdd"'),
     "recipe='resnet_sgdd' (did you mean resnet_sgd?), which is not a recipe"),
    (_probe_file(', scratch_recipe="cifar_resnett"'), "scratch_recipe='cifar_resnett', which is not a recipe"),
])
def test_a_recipe_a_model_file_mistypes_is_named_with_the_model_and_its_file_when_run_and_listed(
        models_folder, tmp_path, monkeypatch, capfd, source, named):
    """register_model(..., recipe="resnet_sgdd") was found only when a run was planned, as "unknown recipe
    'resnet_sgdd'; valid: ...", naming neither the model nor the file it came from, and the models listing
    listed it without a word."""
    from conftest import run_cli

    from cifar100lab import model_catalog
    from cifar100lab.models import _registry
    (models_folder / "probe_recipe.py").write_text(source)
    models.import_families()
    says = (f"model 'probe_broken_net': its register_model ({models_folder / 'probe_recipe.py'}, line 4) names "
            f"{named}; valid recipes: resnet_sgd, ghostnet_sgd, ")
    with pytest.raises(ConfigError, match=f"^{re.escape(says)}"):
        resolve({"model": "probe_broken_net", "dataset": "synthetic"})
    assert resolve({"model": "probe_broken_net", "recipe": "resnet_sgd", "dataset": "synthetic"})  # one it names
    train = run_cli(capfd, "train", "--set", "model=probe_broken_net", "--set", "dataset=synthetic", "--set",
                    f"run_dir={tmp_path / 'run'}")
    assert train.returncode == 2 and train.stderr.startswith(f"error: {says}") and train.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists()
    # The listing counts now (this test's registry: one model beside it) and says so; the counts are not cached.
    cache = tmp_path / "models.json"
    monkeypatch.setattr(model_catalog, "CATALOG", cache)
    monkeypatch.setattr(_registry, "MODEL_REGISTRY", {name: entry for name, entry in models.MODEL_REGISTRY.items()
                                                      if name in ("resnet_20", "probe_broken_net")})
    listing = run_cli(capfd, "models")
    assert listing.returncode == 0 and "probe_broken_net" in listing.stdout
    assert listing.stderr.startswith(f"models: {says}") and listing.stderr.count("\n") == 2  # and "counted now"
    assert "; a run of it with its own recipe is refused until it names one\n" in listing.stderr
    update = run_cli(capfd, "models", "--update-cache")
    assert update.returncode == 2 and update.stderr.startswith(f"error: {says}") and not cache.exists()
    assert update.stderr.endswith("; fix it, then count again (the cache is left as it was)\n")
    (models_folder / "probe_recipe.py").write_text(_probe_file())  # fixed, and read again as a new process would
    del sys.modules["cifar100lab.models.probe_recipe"], _registry.MODEL_REGISTRY["probe_broken_net"]
    models.import_families()
    assert run_cli(capfd, "models", "--update-cache").returncode == 0 and "probe_broken_net" in cache.read_text()


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


@pytest.mark.parametrize("what, group, load", [("model", "cifar100lab.models", models.load_plugins),
                                               ("dataset", "cifar100lab.datasets", data.load_plugins)])
def test_a_plugin_that_fails_to_import_is_named_in_a_warning_and_left_out(tmp_path, monkeypatch, what, group, load):
    _plugin(tmp_path, f"broken_{what}_plugin", "raise RuntimeError('needs a GPU library')\n", group=group)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match=rf"{what} plugin probe \(broken_{what}_plugin\) was not loaded: "
                                         r"RuntimeError: needs a GPU library"):
        load()


def _campaign(tmp_path, models_line: str):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: c\n{models_line}\ndefaults: {{epochs: 2, batch_size: 8, overrides: {{warmup_epochs: 0}}}}\n")
    return load_campaign(path, dataset="synthetic", runs_root=tmp_path / "runs", book_dir=tmp_path / "book")


@pytest.mark.slow
def test_models_study_is_the_original_eighteen_and_registered_adds_every_new_model(tmp_path, monkeypatch,
                                                                                   forget_models):
    (tmp_path / "probe_family.py").write_text(PROBE_FAMILY.format(registry="._registry", name="probe_set_net"))
    forget_models.append(("probe_set_net", "cifar100lab.models.probe_family"))
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(tmp_path)])
    models.import_families()
    # the weights at hand: offline, fine-tunes would add from-scratch rows (tests/test_config.py covers those)
    monkeypatch.setattr("cifar100lab.campaign.hub_weights_unreachable", lambda name, probe=None: None)
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
    """Each trains the original study's models, by the word ``study`` or by name (full.yaml: then the transformers)."""
    import yaml
    from conftest import ROOT

    from cifar100lab.models import STUDY_MODELS
    for path in sorted((ROOT / "params").glob("*.yaml")):
        models = yaml.safe_load(path.read_text())["models"]
        why = (f"{path.name}: the project's campaign files train the original study's models (models: study, with a "
               f"comment saying so, or a list that starts with them); keep a campaign of your own outside params/")
        if isinstance(models, str):
            assert models == "study" and "\nmodels: study " in path.read_text(), why
        else:
            names = [m if isinstance(m, str) else m["model"] for m in models]
            assert names[:len(STUDY_MODELS)] == list(STUDY_MODELS), why


def test_an_unknown_model_in_a_study_names_the_study_and_its_variant_not_only_the_campaign(tmp_path):
    """It said 'c.yaml: unknown model 'resnet20'', sending the reader to a campaign file that names no such model."""
    (tmp_path / "s.yaml").write_text("study: s\nvariants:\n  - {label: plain, model: resnet_20}\n"
                                     "  - {label: typo, model: resnet20, options: {shortcut: B}}\n")
    (tmp_path / "c.yaml").write_text("name: c\nmodels: [resnet_20]\nstudies: [s.yaml]\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: study s variant 'typo': unknown model 'resnet20' \(did you mean "
                                          r"resnet_20\?\)"):
        load_campaign(tmp_path / "c.yaml", dataset="synthetic", runs_root=tmp_path / "runs")
    (tmp_path / "c.yaml").write_text("name: c\nmodels: [resnet_20, {model: resnet56}]\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: model entry resnet56: unknown model 'resnet56'"):
        load_campaign(tmp_path / "c.yaml", dataset="synthetic", runs_root=tmp_path / "runs")


# --- datasets -------------------------------------------------------------------------------------------------


@pytest.fixture
def official_cifar10(monkeypatch):
    """Files written by the generator count as torchvision's official CIFAR-10 (its md5 lists are patched)."""
    from torchvision.datasets import CIFAR10

    def make(root, train_size=50, test_size=20):
        md5s = data.write_synthetic_cifar10(root, train_size, test_size)
        monkeypatch.setattr(CIFAR10, "train_list", [[f"data_batch_{i}", md5s[f"data_batch_{i}"]] for i in range(1, 6)])
        monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5s["test_batch"]]])
        monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5s["batches.meta"]})
        return root / CIFAR10.base_folder
    return make


def test_cifar10_is_read_by_torchvision_from_its_official_layout_and_labelled_not_cifar100(tmp_path, official_cifar10):
    import pickle
    folder = official_cifar10(tmp_path)
    ds = load_dataset("cifar10", tmp_path, download=False)
    assert ds.train_x.shape == (50, 3, 32, 32) and ds.train_x.dtype == torch.uint8 and len(ds.test_y) == 20
    assert ds.num_classes == 10 and ds.label == "CIFAR-10" and ds.kind == "other"
    assert data.KIND_LABELS[ds.kind]["en"] == "real images, not CIFAR-100"
    with open(folder / "data_batch_1", "rb") as f:
        first = pickle.load(f, encoding="latin1")
    assert torch.equal(ds.train_x[0].reshape(-1), torch.from_numpy(first["data"][0]))
    assert ds.train_y[:len(first["labels"])].tolist() == first["labels"]
    assert data.data_available("cifar10", tmp_path, download=False) == f"cifar10 in {folder}"
    plan = resolve({"model": "resnet_20", "dataset": "cifar10", "epochs": 2, "overrides": {"warmup_epochs": 0}})
    assert plan.mean == data.cifar10.CIFAR10_MEAN and plan.dataset.num_classes == 10


def test_cifar10_missing_or_altered_is_one_error_naming_the_tarball_or_the_file(tmp_path, monkeypatch):
    import urllib.error
    with pytest.raises(DataError, match=r"CIFAR-10 not found under .*cifar-10-batches-py\. Download "
                                        r"https://www\.cs\.toronto\.edu/~kriz/cifar-10-python\.tar\.gz \(md5 c58f3010"):
        data.data_available("cifar10", tmp_path, download=False)

    def no_network(*a, **k):
        raise urllib.error.URLError("Name or service not known")
    monkeypatch.setattr("torchvision.datasets.cifar.download_and_extract_archive", no_network)
    with pytest.raises(DataError, match=r"CIFAR-10 not found .*\(download failed: .*Name or service not known"):
        load_dataset("cifar10", tmp_path, download=True)
    data.write_synthetic_cifar10(tmp_path, 20, 10)  # the layout, not the official bytes
    with pytest.raises(DataError, match=r"data_batch_1 has md5 [0-9a-f]{32}, expected c99cafc152244af753f735de768cd75f"):
        load_dataset("cifar10", tmp_path, download=False)


FASHION_GZ = data.FASHION_DEBIAN_DIR / "train-images-idx3-ubyte.gz"


def fashion_images(n: int):
    """The first ``n`` Fashion-MNIST training images (uint8 28×28) and labels, read from Debian's package."""
    import gzip

    import numpy as np
    if not FASHION_GZ.exists():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    with gzip.open(FASHION_GZ) as f:
        images = np.frombuffer(f.read(16 + 28 * 28 * n)[16:], np.uint8).reshape(n, 28, 28)
    with gzip.open(data.FASHION_DEBIAN_DIR / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(8 + n)[8:], np.uint8)
    return images, labels


def image_folder(folder, per_class: int = 5, classes=(0, 1, 9)):
    """Real Fashion-MNIST images written as PNGs, ``per_class`` in a sub-folder per class (named as the class)."""
    from PIL import Image
    images, labels = fashion_images(400)
    for c in classes:
        name = data.FASHION_CLASSES[c].replace("/", "-")
        (folder / name).mkdir(parents=True)
        for i, image in enumerate(images[labels == c][:per_class]):
            Image.fromarray(image).save(folder / name / f"{i:03d}.png")
    return folder


def test_a_folder_of_real_images_is_a_dataset_split_by_name_with_a_checksum_of_its_files(tmp_path):
    folder = image_folder(tmp_path / "fashion", per_class=10)
    ds = load_dataset(f"imagefolder:{folder}", image_size=32)
    assert ds.classes == ["Ankle boot", "T-shirt-top", "Trouser"] and ds.kind == "other"
    assert ds.train_x.shape == (24, 3, 32, 32) and ds.test_x.shape == (6, 3, 32, 32) and ds.train_x.dtype == torch.uint8
    assert ds.test_y.tolist() == [0, 0, 1, 1, 2, 2]  # every 5th image of each class, by name: 004 and 009
    assert torch.equal(ds.train_x[:, 0], ds.train_x[:, 2]) and ds.train_x.float().std() > 20  # grey, not blank
    about = ds.describe()
    assert about["checksum"].startswith("sha256:") and about["files"] == 30 and about["folder"] == str(folder)
    assert about["image_size"] == 32 and "centre crop" in about["resize"]
    assert load_dataset(str(folder)).checksum == ds.checksum  # the bare path is the same dataset
    (folder / "Trouser" / "000.png").rename(folder / "Trouser" / "100.png")
    assert load_dataset(str(folder)).checksum != ds.checksum  # the file list is in the checksum


def test_an_image_folder_resizes_mixed_sizes_to_the_runs_input_size(tmp_path):
    from PIL import Image
    folder = image_folder(tmp_path / "fashion")
    Image.new("RGB", (60, 20), (200, 10, 10)).save(folder / "Trouser" / "wide.png")
    ds = load_dataset(str(folder), image_size=48)
    assert ds.train_x.shape[1:] == (3, 48, 48) and ds.describe()["image_size"] == 48
    plan = resolve({"model": "resnet_20", "dataset": str(folder), "epochs": 2, "batch_size": 4,
                    "overrides": {"warmup_epochs": 0}})
    assert plan.dataset.num_classes == 3 and plan.dataset.sizes == (13, 3) and plan.mean == (0.485, 0.456, 0.406)


def test_hidden_files_and_folders_in_a_class_folder_are_left_out_like_hidden_class_folders(tmp_path):
    import shutil
    folder = image_folder(tmp_path / "fashion", per_class=10)
    clean = load_dataset(str(folder))
    trouser = folder / "Trouser"
    (trouser / ".ipynb_checkpoints").mkdir()  # a copy of a test image, in a hidden folder: would be a train image
    shutil.copy(trouser / "004.png", trouser / ".ipynb_checkpoints" / "004-checkpoint.png")
    _write(trouser / "._001.png", b"\0\5\26\7 macOS AppleDouble")  # not an image at all
    ds = load_dataset(str(folder))
    assert ds.describe()["files"] == 30 and ds.checksum == clean.checksum
    assert torch.equal(ds.train_x, clean.train_x) and torch.equal(ds.test_x, clean.test_x)


def test_images_in_a_linked_folder_inside_a_class_folder_are_read_as_torchvisions_image_folder_reads_them(tmp_path):
    """A sub-folder of a class that is a link to a folder of images was not walked (Path.rglob follows no link):
    its 5 images were left out without a word (files 30, not 35; torchvision's ImageFolder reads 35)."""
    import shutil

    from torchvision.datasets import ImageFolder
    folder = image_folder(tmp_path / "fashion", per_class=10)
    shutil.copytree(image_folder(tmp_path / "more", per_class=5, classes=(1,)) / "Trouser", tmp_path / "extra")
    (folder / "Trouser" / "extra").symlink_to(tmp_path / "extra", target_is_directory=True)
    ds = load_dataset(str(folder))
    assert ds.describe()["files"] == len(ImageFolder(str(folder)).samples) == 35
    assert (ds.train_y == ds.classes.index("Trouser")).sum() == 12 and len(ds.test_y) == 7
    (tmp_path / "extra" / "loop").symlink_to(folder / "Trouser", target_is_directory=True)  # walked once, not forever
    assert load_dataset(str(folder)).checksum == ds.checksum


def test_a_test_image_that_is_also_a_training_image_is_refused_naming_both(tmp_path):
    folder = image_folder(tmp_path / "fashion", per_class=10)
    (folder / "Trouser" / "010.png").symlink_to(folder / "Ankle boot" / "004.png")  # a test image, now training
    with pytest.raises(DataError, match=r"1 test image\(s\) are byte for byte a training image \(first: "
                                        r"Ankle boot/004\.png is Trouser/010\.png"):
        load_dataset(str(folder))


def test_16_bit_greyscale_images_are_scaled_to_8_bits_not_clipped_white(tmp_path):
    import numpy as np
    from PIL import Image
    folder = image_folder(tmp_path / "fashion")
    for i, value in enumerate((0, 257 * 100, 65535, 257 * 200, 257 * 50)):  # I;16: PIL's convert clips at 255
        Image.fromarray(np.full((20, 30), value, np.uint16)).save(folder / "Trouser" / f"{i:03d}.png")
    ds = load_dataset(str(folder))
    trouser = ds.classes.index("Trouser")
    assert ds.train_x[ds.train_y == trouser][:, :, 10, 10].tolist() == [[v] * 3 for v in (0, 100, 255, 200)]
    assert ds.test_x[ds.test_y == trouser][:, :, 10, 10].tolist() == [[50] * 3]
    Image.fromarray(np.full((20, 30), 0.5, np.float32)).save(folder / "Trouser" / "float.tif")  # range unknown
    with pytest.raises(DataError, match=r"Trouser/float\.tif is a 32-bit floating-point image"):
        load_dataset(str(folder))


def test_a_run_on_an_image_folder_records_the_folder_and_its_checksum(tmp_path):
    from conftest import tiny_config

    from cifar100lab.train import train
    folder = image_folder(tmp_path / "fashion")
    record = train(tiny_config(tmp_path, tmp_path / "run", dataset=str(folder), epochs=1, batch_size=4,
                               overrides={"warmup_epochs": 0}))
    assert record["status"] == "complete"
    assert record["dataset"]["checksum"] == load_dataset(str(folder)).checksum
    assert record["dataset"]["folder"] == str(folder) and record["dataset"]["num_classes"] == 3


def test_a_run_resumed_after_its_image_folder_changed_is_refused_and_its_record_kept(tmp_path):
    from conftest import dies_in_epoch, tiny_config

    from cifar100lab import records
    from cifar100lab.train import train
    folder = image_folder(tmp_path / "fashion")
    cfg = tiny_config(tmp_path, tmp_path / "run", dataset=str(folder), epochs=2, batch_size=4,
                      overrides={"warmup_epochs": 0})
    with dies_in_epoch(2), pytest.raises(KeyboardInterrupt):  # epoch 1's checkpoint stays
        train(cfg)
    before = load_dataset(str(folder)).checksum
    (folder / "Trouser" / "000.png").rename(folder / "Trouser" / "0000.png")  # moves a test image into training
    with pytest.raises(DataError, match=r"data changed since this run's checkpoint was trained on it"):
        train(cfg)
    record = records.load(tmp_path / "run")
    assert record["status"] == "interrupted" and record["dataset"]["checksum"] == before


def test_a_complete_run_on_an_image_folder_that_changed_since_is_not_returned_as_its_result(tmp_path):
    from conftest import tiny_config

    from cifar100lab.train import train
    folder = image_folder(tmp_path / "fashion")
    cfg = tiny_config(tmp_path, tmp_path / "run", dataset=str(folder), epochs=1, batch_size=4,
                      overrides={"warmup_epochs": 0})
    first = train(cfg)
    assert train(cfg)["attempts"] == first["attempts"]  # nothing changed: already complete, nothing trained
    (folder / "Trouser" / "000.png").rename(folder / "Trouser" / "0000.png")
    with pytest.raises(ConfigError, match=r"run is complete on the images .* held then .* they have changed since"):
        train(cfg)


def test_a_campaigns_complete_run_on_an_image_folder_that_changed_since_is_stale_not_already_done(tmp_path):
    """The campaign counted such a run already done and the book showed the old images' result as the folder's."""
    from cifar100lab.runs import stale_fields, stale_runs
    from cifar100lab.train import train
    folder = image_folder(tmp_path / "fashion")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "name": "c", "dataset": str(folder), "models": ["resnet_20"],
        "defaults": {"epochs": 1, "batch_size": 4, "progress": False, "overrides": {"warmup_epochs": 0}}}))
    (run,) = load_campaign(tmp_path / "c.yaml", runs_root=tmp_path / "runs").runs
    before = train(run.config.to_dict())["dataset"]["checksum"]
    assert stale_fields(run) == []
    (folder / "Trouser" / "000.png").rename(folder / "Trouser" / "0000.png")
    (run,) = load_campaign(tmp_path / "c.yaml", runs_root=tmp_path / "runs").runs
    (changed,) = stale_fields(run)
    assert changed.startswith(f"images: {before} → sha256:") and run.run_id in stale_runs([run])


def _write(path, content: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.mark.parametrize("make, says", [
    (lambda f: None, r"image folder .*/images does not exist or is not a folder"),
    (lambda f: f.mkdir(), r"image folder .*/images has no class sub-folders; put each class's images in a sub-folder"),
    (lambda f: (image_folder(f, classes=(0,))), r"has one class \(T-shirt-top\); a classifier needs at least two"),
    (lambda f: (image_folder(f), (f / "empty").mkdir()), r"class folder\(s\) empty hold no images"),
    (lambda f: (image_folder(f / "train")), r"has a train/ or test/ folder but not both"),
    (lambda f: (image_folder(f / "train"), image_folder(f / "val", classes=(0, 1))),
     r"train/ and val/ name different classes \(only in train/: \['Ankle boot'\]"),
    (lambda f: image_folder(f, per_class=4), r"leaves no test images \(every 5th image"),
    (lambda f: (image_folder(f), image_folder(f, per_class=2, classes=(2,))),
     r"class\(es\) Pullover have fewer than 5 images, so none is held out as a test image"),
])
def test_an_image_folder_that_cannot_make_a_classification_set_is_one_clear_error(tmp_path, make, says):
    make(tmp_path / "images")
    with pytest.raises(DataError, match=says):
        data.dataset_entry(f"imagefolder:{tmp_path / 'images'}")
    with pytest.raises(ConfigError, match=says):  # refused when the run is planned, before any work
        resolve({"model": "resnet_20", "dataset": str(tmp_path / "images")})


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    folder = image_folder(tmp_path / "images")
    _write(folder / "Trouser" / "notes.png", b"not a png")
    with pytest.raises(DataError, match=r"Trouser/notes\.png is not an image that can be read"):
        load_dataset(str(folder))


def test_an_image_over_pils_pixel_limit_is_named_not_a_traceback(tmp_path, monkeypatch):
    from PIL import Image
    folder = image_folder(tmp_path / "images")
    Image.new("L", (40, 40)).save(folder / "Trouser" / "scan.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 1,600 pixels: over twice the limit, as 180-MP scans are
    with pytest.raises(DataError, match=r"Trouser/scan\.png is too large to read \(Image size \(1600 pixels\)"):
        load_dataset(str(folder))


def test_an_unknown_dataset_lists_the_registered_ones_and_the_image_folder_form():
    """Every registered dataset, the built-ins first: a dataset added as the Design page says (one registry entry)
    is listed too, and does not make this test fail."""
    registered = list(data.DATASETS)
    assert registered[:4] == ["cifar100", "fashion-mnist", "synthetic", "cifar10"]
    with pytest.raises(DataError, match=rf"unknown dataset 'imagenet'; valid: {re.escape(', '.join(registered))}, or "
                                        r"a folder of images \(imagefolder:/path/to/images"):
        data.dataset_entry("imagenet")


PROBE_DATASET = '''
import torch
from cifar100lab.data import DatasetEntry, Parts


def read(request):
    g = torch.Generator().manual_seed(0)
    images = lambda n: torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return Parts(images(40), torch.arange(40) % 4, images(8), torch.arange(8) % 4, list("abcd"), "probe:1")


ENTRY = DatasetEntry("probe-set", "other", {"en": "probe set", "zh": "探针数据集"}, 4, (40, 8),
                     (0.5,) * 3, (0.25,) * 3, read, lambda request: "probe-set: generated")
'''


def test_a_plugin_package_registers_a_dataset_through_the_entry_point_group(tmp_path, monkeypatch):
    _plugin(tmp_path, "probe_data_plugin", PROBE_DATASET, group=data.PLUGIN_GROUP)
    (tmp_path / "probe_data_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        f"[{data.PLUGIN_GROUP}]\nprobe = probe_data_plugin:ENTRY\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(data.registry, "DATASETS", dict(data.DATASETS))  # forgotten after the test
    data.load_plugins()
    ds = load_dataset("probe-set", train_subset=20)
    assert ds.label == "probe set" and ds.num_classes == 4 and len(ds.train_y) == 20 and ds.checksum == "probe:1"
    assert data.data_available("probe-set") == "probe-set: generated"
    assert resolve({"model": "resnet_20", "dataset": "probe-set", "epochs": 2, "batch_size": 8,
                    "overrides": {"warmup_epochs": 0}}).mean == (0.5,) * 3


@pytest.mark.parametrize("images, labels, says", [
    (lambda x: x.float() / 255, lambda y: y, r"train images are torch\.float32 \(40, 3, 8, 8\); its read must "
                                             r"return uint8 \(N, 3, H, W\) images, 0-255"),
    (lambda x: x[:, :1], lambda y: y, r"train images are torch\.uint8 \(40, 1, 8, 8\)"),
    (lambda x: x, lambda y: y + 1, r"train labels run from 1 to 4, but it names 4 classes; labels must be 0 to 3"),
    (lambda x: x, lambda y: y.int(), r"train labels are torch\.int32 \(40,\); its read must return int64 labels"),
])
def test_a_dataset_whose_read_returns_images_or_labels_the_pipeline_cannot_take_is_one_clear_error(
        monkeypatch, images, labels, says):
    """A registry entry's read returning 0-1 float images was taken as it was: normalised as 0-255 uint8, every
    image was a near-constant -2.0 (std 0.005) and the run trained at chance without an error; labels from 1
    (1 to 4 with 4 classes) stopped the run only at a training step."""
    from cifar100lab.data import DatasetEntry, Parts
    x, y = torch.randint(0, 256, (40, 3, 8, 8), dtype=torch.uint8), torch.arange(40) % 4

    def read(request):
        return Parts(images(x), labels(y), x[:8], y[:8], ["a", "b", "c", "d"], "probe:1")
    monkeypatch.setattr(data.registry, "DATASETS", dict(data.DATASETS))  # forgotten after the test
    data.register_dataset(DatasetEntry("probe-bad", "other", {"en": "probe", "zh": "探针"}, 4, (40, 8),
                                       (0.5,) * 3, (0.25,) * 3, read))
    with pytest.raises(DataError, match=r"^dataset 'probe-bad': its " + says):
        load_dataset("probe-bad")


@pytest.mark.slow  # draws every figure of a campaign's report
def test_every_results_page_of_a_cifar10_build_names_it_and_says_it_is_not_cifar100(tmp_path):
    from fake_campaign import write_fake_campaign

    from cifar100lab import report
    runs, gen = tmp_path / "runs", tmp_path / "book" / "generated"
    write_fake_campaign(runs, tmp_path / "book", dataset="cifar10")
    report.write_campaign_report("mini", runs, gen)
    report.write_study_report("mini", "eca_kernel", runs, gen)
    for page in ("results", "findings", "comparison", "ablations", "summary", "study-eca_kernel"):
        for lang in ("en", "zh"):
            assert "CIFAR-10" in (gen / f"{page}_{lang}.md").read_text(encoding="utf-8"), (page, lang)
    for words in ("(real images, not CIFAR-100)", "**not CIFAR-100 results**", "（真实图像，非 CIFAR-100）"):
        assert words in (gen / "landing.md").read_text(encoding="utf-8")


DEEP_PROBE = '''
import torch.nn as nn
from cifar100lab.models import register_model


@register_model("probe_deep_net", family="probe", group="basic ResNet", source="own", paper="a test",
                recipe="resnet_sgd")
def build_deep_probe(num_classes=100, depth=2):
    """Each level halves the image: a depth a 32-pixel image cannot take builds, and fails in the forward pass."""
    layers = [nn.Conv2d(3 if i == 0 else 8, 8, 3, stride=2) for i in range(depth)]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))
'''


def test_a_new_models_option_that_its_network_cannot_run_with_is_one_error_before_any_run(tmp_path, monkeypatch,
                                                                                          forget_models):
    """An option the builder accepts but the forward pass cannot take (depth=9 halves 32 pixels to nothing) was a
    RuntimeError once training started, leaving a run folder holding only its lock."""
    (tmp_path / "probe_deep.py").write_text(DEEP_PROBE)
    forget_models.append(("probe_deep_net", "probe_deep"))
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("probe_deep")
    resolve({"model": "probe_deep_net", "options": {"depth": 3}, "dataset": "synthetic"})
    with pytest.raises(ConfigError, match="probe_deep_net cannot run on 32×32 images .*img_size it runs at: .*224"):
        resolve({"model": "probe_deep_net", "options": {"depth": 6}, "dataset": "synthetic"})
