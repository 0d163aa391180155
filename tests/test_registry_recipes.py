import ast
from pathlib import Path

import pytest
import torch
from conftest import ROOT

from cifar100lab import recipes
from cifar100lab.models import GROUPS, STUDY_MODELS, UnknownModelError, create_model, model_entry, model_names

# He et al.'s CIFAR ResNets with option-A shortcuts and a 100-class head (published ≈ 0.28 / 0.47 / 0.86 M).
PARAMS = {"resnet_20": 275_572, "resnet_32": 470_004, "resnet_56": 858_868,
          "eca_resnet_20": 275_599, "eca_resnet_32": 470_049,  # + one 3-tap 1-D conv per block
          "ghost_resnet_20": 146_308, "ghost_resnet_32": 246_884}

def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_the_study_models_are_registered_and_every_registered_model_has_metadata():
    assert len(STUDY_MODELS) == 18 and set(STUDY_MODELS) <= set(model_names())
    for name in model_names():
        spec = model_entry(name)
        assert spec.group in GROUPS and spec.source in ("own", "timm") and spec.paper
        assert spec.recipe in recipes.RECIPES and spec.input_size == 32
        assert spec.scratch_recipe is None or spec.scratch_recipe in recipes.RECIPES
        assert (spec.default_pretrained is None) or spec.pretrainable


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_cifar_resnet_family_parameter_counts(name):
    assert n_params(create_model(name)) == PARAMS[name]


def test_shortcut_b_and_ghost_ratio_and_eca_options():
    assert n_params(create_model("resnet_20", shortcut="B")) == 278_324
    assert n_params(create_model("ghost_resnet_20", ratio=4)) == 81_004
    assert n_params(create_model("eca_resnet_20", k_size=7)) == 275_572 + 9 * 7
    assert n_params(create_model("eca_resnet_20", k_size="adaptive")) == 275_599  # the rule gives k=3 for 16-64 ch
    with pytest.raises(ValueError, match="odd"):
        create_model("eca_resnet_20", k_size=4)
    with pytest.raises(ValueError, match="position must be one of"):
        create_model("eca_resnet_20", position="middle")


def test_an_eca_kernel_given_as_a_yaml_boolean_is_refused_not_built_as_k_1():
    """`k_size: true` (YAML's `on`, `yes`) passed the odd-integer check as the int 1: the run trained an ECA with a
    1-tap kernel (275,581 parameters) and was recorded as k_size=True."""
    for flag in (True, False):
        with pytest.raises(ValueError, match="k_size must be an odd positive integer"):
            create_model("eca_resnet_20", k_size=flag)


def test_eca_position_changes_where_attention_acts():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    outs = []
    for pos in ("conv1", "conv2", "add"):
        torch.manual_seed(0)
        outs.append(create_model("eca_resnet_20", position=pos).eval()(x))
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[1], outs[2])


def test_unknown_model_and_option_errors_list_valid_names():
    with pytest.raises(UnknownModelError, match="valid names: coatnet_0, convnext_tiny"):
        create_model("resnet_21")
    with pytest.raises(ValueError, match="valid options: k_size, position, shortcut"):
        create_model("eca_resnet_20", ratio=2)


def test_recipe_overrides_are_validated():
    with pytest.raises(ValueError, match="unknown recipe key.*lrr.*valid keys: optimizer, lr"):
        recipes.build_recipe("resnet_sgd", {"lrr": 0.1})
    with pytest.raises(ValueError, match="schedule='linear' is not one of cosine, multistep, constant"):
        recipes.build_recipe("resnet_sgd", {"schedule": "linear"})
    with pytest.raises(ValueError, match="unknown recipe 'sgd'"):
        recipes.build_recipe("sgd")
    r = recipes.build_recipe("convnext_scratch", {"lr": 1e-3})
    assert r.lr == 1e-3 and r.optimizer == "adamw" and r.weight_decay == 0.05


def test_schedules_and_scaling_rule():
    r = recipes.build_recipe("resnet_sgd", {"warmup_epochs": 1})
    f = [recipes.lr_factor(r, s, 100, 10) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[-1] < 1e-3 and all(a >= b for a, b in zip(f[10:], f[11:]))
    m = recipes.build_recipe("resnet_sgd", {"schedule": "multistep", "milestones": [0.5, 0.75]})
    assert [recipes.lr_factor(m, s, 100, 10) for s in (0, 49, 50, 75)] == pytest.approx([1, 1, 0.1, 0.01])
    assert recipes.scaled_lr(r, 8) == pytest.approx(0.8)
    assert recipes.scaled_lr(recipes.build_recipe("resnet_sgd", {"lr_scaling": "none"}), 8) == 0.1


def test_adamw_recipes_exclude_norm_and_bias_from_weight_decay():
    model = create_model("resnet_20")
    opt = recipes.build_optimizer(model, recipes.build_recipe("mixer_adamw"))
    decay, no_decay = opt.param_groups
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim <= 1 for p in no_decay["params"])
    assert no_decay["weight_decay"] == 0


@pytest.mark.parametrize("recipe", ["deit_scratch", "vit_finetune"])  # the plain groups, and timm's layer-wise ones
def test_adamw_recipes_exempt_what_the_model_names_in_no_weight_decay(recipe):
    """timm's optimizer factory, DeiT and MAE leave the position embedding and class token undecayed."""
    model = create_model("deit_tiny", num_classes=10, pretrained=None, img_size=32)
    wd = {id(p): g["weight_decay"] for g in recipes.build_optimizer(model, recipes.build_recipe(recipe)).param_groups
          for p in g["params"]}
    named = dict(model.named_parameters())
    assert wd[id(named["pos_embed"])] == wd[id(named["cls_token"])] == 0.0
    assert wd[id(named["blocks.0.attn.qkv.weight"])] == 0.05
    sgd = recipes.build_optimizer(model, recipes.build_recipe("resnet_sgd"))  # decay_norm_and_bias: all decayed
    assert all(g["weight_decay"] == 5e-4 for g in sgd.param_groups if g["params"])


@pytest.mark.parametrize("recipe", ["resnet_sgd", "mixer_adamw"])
def test_fused_optimizer_switch_reaches_the_optimizer(recipe):
    model = create_model("resnet_20")
    assert recipes.build_optimizer(model, recipes.build_recipe(recipe), fused=True).defaults["fused"] is True
    assert not recipes.build_optimizer(model, recipes.build_recipe(recipe)).defaults.get("fused")


PACKAGE = Path(__file__).resolve().parent.parent / "cifar100lab"


def imported_modules(path: Path, package_dir: Path = PACKAGE, package_only: bool = True) -> set[str]:
    """Every cifar100lab module a file imports, read statically: imports inside functions count too (with
    ``package_only=False``, every other module it imports as well: torch, yaml, os)."""
    package = ".".join(path.relative_to(package_dir.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        package += ".__init__"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {module} | {f"{module}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("cifar100lab") or not package_only}


def imports_of(part: str) -> set[str]:
    """What the module or package ``part`` (e.g. "data", "models") imports from outside itself."""
    files = sorted((PACKAGE / part).rglob("*.py")) if (PACKAGE / part).is_dir() else [PACKAGE / f"{part}.py"]
    inside = f"cifar100lab.{part}"
    return {m for f in files for m in imported_modules(f) if not (m == inside or m.startswith(inside + "."))}


def touches(imports: set[str], part: str) -> bool:
    return any(m == f"cifar100lab.{part}" or m.startswith(f"cifar100lab.{part}.") for m in imports)


@pytest.mark.parametrize("part, forbidden", [
    ("models", ["registry", "data", "train", "config", "recipes", "records", "launch", "campaign", "report"]),
    ("data", ["models", "train", "config", "recipes", "launch", "campaign", "report"]),
    ("config", ["train", "launch", "kernels", "runs", "campaign", "executors", "report", "bench"]),
    ("report", ["train", "launch", "kernels", "runs", "campaign", "executors", "bench", "recipes", "config"]),
    ("train", ["launch", "kernels", "runs", "campaign", "executors", "report", "bench"]),
    ("launch", ["kernels", "runs", "campaign", "executors", "report", "bench"]),
    ("kernels", ["train", "runs", "campaign", "executors", "report", "bench"]),
    ("runs", ["campaign", "executors", "report", "bench"]),
    ("campaign", ["executors", "report", "bench"]),
    ("executors", ["report", "bench"]),
    ("records", ["models", "data", "train", "config", "launch", "kernels", "runs", "campaign", "executors",
                 "report"]),
    ("config_files", ["models", "data", "train", "config", "recipes", "records", "launch", "kernels", "runs",
                      "campaign", "executors", "report", "bench"]),
])
def test_module_boundaries_hold_for_every_import_statement(part, forbidden):
    """DESIGN.md's 'never' list and the one-way flow, read from the source (function-local imports count)."""
    imports = imports_of(part)
    assert not [f for f in forbidden if touches(imports, f)], sorted(imports)


def test_boundary_reader_sees_function_local_imports(tmp_path):
    pkg = tmp_path / "cifar100lab"
    pkg.mkdir()
    (pkg / "x.py").write_text("def f():\n    from .train import train\n    from . import data\n")
    assert {"cifar100lab.train", "cifar100lab.data"} <= imported_modules(pkg / "x.py", pkg)


def test_a_study_variant_naming_the_same_network_shares_its_runs(tmp_path):
    """ECA's adaptive kernel is k = 3 at 16-64 channels: the campaign trains that network once, and the study
    maps both labels to the same runs."""
    import yaml

    from cifar100lab.campaign import load_campaign, study_runs
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"name": "c", "dataset": "synthetic", "models": [],
                                    "studies": [str(ROOT / "params/ablations/eca_kernel.yaml")], "study_seeds": [0, 1],
                                    "defaults": {"epochs": 2, "overrides": {"warmup_epochs": 0}}}))
    camp = load_campaign(path, runs_root=tmp_path / "runs", book_dir=tmp_path / "book")
    runs = study_runs(camp, camp.studies[0])
    assert runs["adaptive k"] == runs["k=3"] == ["c-eca_resnet_20-s0", "c-eca_resnet_20-s1"]
    assert len(camp.runs) == 2 * (len(runs) - 1)  # one network fewer than there are labels


def test_multistep_milestones_are_fractions_of_the_whole_run_warmup_included():
    """With a 5-epoch warmup, milestones at 50 % and 75 % of 200 epochs fell at epochs 103.5 and 152.25: they
    were fractions of the steps after the warmup. Goyal et al. warm up for 5 epochs and still divide at the
    whole run's epochs, as MultiStepLR counts them."""
    import dataclasses
    recipe = dataclasses.replace(recipes.RECIPES["resnet_sgd"], schedule="multistep", warmup_epochs=5,
                                 milestones=(0.5, 0.75), gamma=0.1)
    steps, total = 100, 200 * 100
    factor = [recipes.lr_factor(recipe, s, total, steps) for s in range(total)]
    assert factor[0] == pytest.approx(1 / 500) and factor[499] == 1.0  # the warmup
    first_low = [next(s for s, f in enumerate(factor) if s >= 500 and f <= bound) for bound in (0.1 + 1e-9, 0.01 + 1e-9)]
    assert first_low == [100 * steps, 150 * steps]  # the first steps of epochs 101 and 151 (1-based)
