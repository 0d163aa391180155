"""Issue 14's training features: Mixup/CutMix, RandAugment and erasing, EMA, clipping, frozen backbones,
layer-wise lr decay and TensorBoard, each switched on through recipe fields (``overrides``) or TrainConfig."""
import dataclasses
import math

import pytest
import safetensors.torch
import torch
from conftest import dies_in_epoch, tiny_config

from cifar100lab import data, recipes, records, seeds
from cifar100lab import train as train_mod
from cifar100lab.accelerator import build_accelerator
from cifar100lab.config import ConfigError, resolve
from cifar100lab.models import create_model
from cifar100lab.train import build_learner, train

AUGMENT = ("auto_augment", "random_erasing")  # the recipe fields of the policy augmentation

TIMING = {"epoch_seconds", "eval_seconds", "images_per_second"}
EVERYTHING = {"lr": 0.05, "mixup": 0.8, "cutmix": 1.0, "label_smoothing": 0.1, "auto_augment": "randaugment",
              "random_erasing": 0.25, "ema_decay": 0.99, "grad_clip": 1.0}


def network_for(synthetic_root, tmp_path, steps=4, **overrides):
    plan = resolve(tiny_config(synthetic_root, tmp_path / "net", overrides={"lr": 0.05, **overrides}))
    model = create_model("resnet_20", num_classes=plan.dataset.num_classes)
    return build_learner(plan, build_accelerator("fp32"), model, steps_per_epoch=steps)


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8), torch.arange(n) % 10


@pytest.fixture(scope="module")
def regularised(synthetic_root, tmp_path_factory):
    """Every regularisation at once, logged to TensorBoard: straight through, and killed in epoch 2 then resumed."""
    root = tmp_path_factory.mktemp("regularised")
    cfg = lambda name: tiny_config(synthetic_root, root / name, epochs=2, max_steps_per_epoch=3,  # noqa: E731
                                   batch_size=32, test_subset=64, log_with="tensorboard", overrides=EVERYTHING)
    straight = train(cfg("straight"))
    with dies_in_epoch(2), pytest.raises(KeyboardInterrupt):
        train(cfg("cut"))
    return straight, train(cfg("cut"))


def test_mixup_mixes_images_and_targets_as_specified(synthetic_root, tmp_path):
    network = network_for(synthetic_root, tmp_path, mixup=0.8, label_smoothing=0.1)
    xb, yb = batch()
    x = network.prepare(xb)
    with seeds.seeded(5):
        mixed, target = network.mix(x.clone(), yb)
    # timm's batch mode: one lambda per batch, each image mixed with the batch reversed, targets likewise
    classes = network.mix.num_classes  # the synthetic set's 100
    smooth = lambda y: torch.nn.functional.one_hot(y, classes) * 0.9 + 0.1 / classes  # noqa: E731
    on, off = 0.9 + 0.1 / classes, 0.1 / classes
    lam = ((target[0, yb[0]] - off) / (on - off)).item()  # y[0] and its partner y[-1] differ
    assert 0 < lam < 1 and target.sum(1).allclose(torch.ones(8))
    assert torch.allclose(target, lam * smooth(yb) + (1 - lam) * smooth(yb.flip(0)), atol=1e-6)
    assert torch.allclose(mixed, lam * x + (1 - lam) * x.flip(0), atol=1e-5)
    with seeds.seeded(5):
        assert torch.equal(network.mix(x.clone(), yb)[1], target)  # the step's key decides the draw
    with seeds.seeded(6):
        assert not torch.equal(network.mix(x.clone(), yb)[1], target)
    assert type(network.criterion).__name__ == "SoftTargetCrossEntropy"


def test_cutmix_pastes_a_box_and_weights_targets_by_its_area(synthetic_root, tmp_path):
    network = network_for(synthetic_root, tmp_path, cutmix=1.0)
    xb, yb = batch()
    x = network.prepare(xb)
    with seeds.seeded(3):
        mixed, target = network.mix(x.clone(), yb)
    from_partner = (mixed == x.flip(0)).all(dim=1) & (mixed != x).any(dim=1)  # pixels taken from the partner
    area = from_partner[0].float().mean().item()
    assert 0 < area < 1 and math.isclose(target[0, yb[-1]].item(), area, abs_tol=1e-6)


def test_randaugment_differs_between_epochs_is_identical_for_the_same_step_and_keeps_global_rng():
    recipe = recipes.build_recipe("resnet_sgd", {"auto_augment": "randaugment", "random_erasing": 0.5})
    policy = data.policy_augmentation(recipe, data.DATASETS["synthetic"].mean)
    xb, _ = batch(32)
    rng = torch.get_rng_state()
    epoch0, again = policy(xb, seeds.step_seed(0, 0, 0)), policy(xb, seeds.step_seed(0, 0, 0))
    epoch1 = policy(xb, seeds.step_seed(0, 1, 0))
    assert torch.equal(epoch0, again) and not torch.equal(epoch0, epoch1) and not torch.equal(epoch0, xb)
    assert epoch0.dtype == torch.uint8 and epoch0.shape == xb.shape
    assert torch.equal(torch.get_rng_state(), rng)  # dropout and the rest of the run draw as before
    assert data.policy_augmentation(recipes.build_recipe("resnet_sgd"), (0.5,) * 3) is None  # off by default


@pytest.mark.parametrize("space", ["RandAugment", "TrivialAugmentWide"])
def test_every_policy_op_is_torchvisions_pixel_for_pixel_and_copies_nothing_from_the_host(space):
    # torchvision's own tensor kernels copy a matrix, a kernel or a fill from the host on each call, or index with
    # a mask: each of those blocks a GPU step. The policy's ops must compute what torchvision's do, without that.
    from host_traffic import HostTraffic
    from torchvision.transforms import v2

    from cifar100lab.data import policy
    reference = getattr(v2, space)()
    x, _ = batch(16)
    x[3] = 7  # a flat image: autocontrast and equalize leave it as it is
    for name, (bins, signed) in policy.AugmentationSpace(reference).bins(32, 32).items():
        for m in [0.0] if bins is None else [*map(float, bins[::6]), *([-float(bins[-1])] if signed else [])]:
            with HostTraffic() as seen:
                ours = policy.ops()[name](x, m)
            expected = reference._apply_image_or_video_transform(x, name, m, reference.interpolation,
                                                                  reference._fill)
            assert torch.equal(ours, expected), (name, m)
            assert seen.events == [], (name, m)


def test_erasing_fills_one_box_per_group_with_the_dataset_mean():
    recipe = recipes.build_recipe("resnet_sgd", {"random_erasing": 1.0})
    mean = (0.25, 0.5, 0.75)
    erased = data.policy_augmentation(recipe, mean)(torch.full((32, 3, 32, 32), 3, dtype=torch.uint8), 11)
    boxes = (erased != 3).all(dim=1)  # pixels erased in every channel
    for group in boxes.split(16):  # a group shares its box
        assert torch.equal(group, group[:1].expand_as(group))
        area = group[0].float().mean().item()
        assert 0.02 * 0.9 <= area <= 0.33 * 1.1
    assert [erased[0, c][boxes[0]].unique().tolist() for c in range(3)] == [[64], [128], [191]]


@pytest.mark.slow
def test_regularised_run_resumes_to_the_uninterrupted_runs_metrics(regularised):
    straight, resumed = regularised
    assert resumed["resumed_from_epoch"] == 1
    strip = lambda rows: [{k: v for k, v in r.items() if k not in TIMING} for r in rows]  # noqa: E731
    rows = strip(records.read_metrics(straight["config"]["run_dir"]))
    assert rows == strip(records.read_metrics(resumed["config"]["run_dir"])) and "ema_top1" in rows[0]
    assert resumed["final"] == straight["final"] and resumed["ema"] == straight["ema"]


def test_the_ema_applies_its_decay_from_the_first_step_bias_corrected():
    """timm's warm-up set the decay to min(ema_decay, 1 − (1+t)^(−2/3)), below 0.9998 for 350,000 steps: every run
    here averaged with about 0.998 whatever it asked for, and 0.999, 0.9998 and 0.99999 gave the same weights.
    Now, after T updates, update t's weights weigh (1 − d)·d^(T−t) / (1 − d^T) (bias-corrected, as optax's)."""
    from cifar100lab.learner import _ema
    network = torch.nn.Linear(1, 1, bias=False).requires_grad_(False)
    averaged = {}
    for decay in (0.9, 0.999, 0.9998):
        ema = _ema(network, dataclasses.replace(recipes.RECIPES["resnet_sgd"], ema_decay=decay), None)
        for t in range(1, 301):
            network.weight.fill_(t)
            ema.update(network, step=t)
        averaged[decay] = float(ema.module.weight)
        expected = sum((1 - decay) * decay ** (300 - t) * t for t in range(1, 301)) / (1 - decay ** 300)
        assert averaged[decay] == pytest.approx(expected, rel=1e-6)
    assert len(set(averaged.values())) == 3  # each decay is its own average


def test_ema_weights_are_evaluated_and_recorded_beside_the_raw_ones(regularised):
    straight, _ = regularised
    last = records.read_metrics(straight["config"]["run_dir"])[-1]
    assert straight["ema"] == {"decay": 0.99, "final": {"top1": last["ema_top1"], "top5": last["ema_top5"],
                                                        "test_loss": last["ema_test_loss"]}}
    assert last["ema_test_loss"] != last["test_loss"]  # other weights, not the raw ones evaluated twice
    assert straight["recipe"]["mixup"] == 0.8 and straight["recipe"]["auto_augment"] == "randaugment"


def test_tensorboard_events_hold_the_numbers_of_metrics_jsonl(regularised):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    straight, _ = regularised
    run_dir = straight["config"]["run_dir"]
    events = EventAccumulator(f"{run_dir}/tensorboard").Reload()
    rows = records.read_metrics(run_dir)
    for key in ("train_loss", "top1", "top5", "test_loss", "lr", "ema_top1"):
        logged = [(e.step, e.value) for e in events.Scalars(key)]
        assert [s for s, _ in logged] == [r["epoch"] for r in rows]
        assert all(math.isclose(v, r[key], rel_tol=1e-6, abs_tol=1e-9) for (_, v), r in zip(logged, rows))


def test_frozen_backbone_keeps_pretrained_weights_bitwise(synthetic_root, tmp_path):
    """A linear probe of local GhostNet weights: only the classifier trains; BatchNorm statistics stay too."""
    saved = create_model("ghostnet_100", num_classes=1000).state_dict()
    safetensors.torch.save_file(saved, tmp_path / "ghostnet.safetensors")
    rec = train(tiny_config(synthetic_root, tmp_path / "probe", model="ghostnet_100", img_size=32, epochs=1,
                            max_steps_per_epoch=2, pretrained=str(tmp_path / "ghostnet.safetensors"),
                            overrides={"lr": 0.05, "freeze": "backbone"}))
    trained = torch.load(tmp_path / "probe" / "checkpoint.pt", weights_only=True)["model"]
    backbone = [k for k in trained if not k.startswith("classifier.")]
    assert rec["status"] == "complete" and len(backbone) > 100
    assert all(torch.equal(trained[k], saved[k]) for k in backbone)
    optimizer = torch.load(tmp_path / "probe" / "checkpoint.pt", weights_only=True)["optimizer"]
    assert len(optimizer["state"]) == 2  # momentum for the classifier's weight and bias only: nothing else stepped


def test_freeze_epochs_trains_the_classifier_first_then_everything(synthetic_root, tmp_path):
    network = network_for(synthetic_root, tmp_path, freeze_epochs=1)
    model = network.model
    snapshot = lambda: {k: v.clone() for k, v in model.state_dict().items()}  # noqa: E731
    xb, yb = batch(64)
    network.train_mode(0)
    before = snapshot()
    network.step(xb, yb)
    after = snapshot()
    assert all(torch.equal(before[k], after[k]) for k in before if not k.startswith("head."))  # stats too
    assert not torch.equal(before["head.weight"], after["head.weight"])
    network.train_mode(1)
    network.step(xb, yb)
    assert not torch.equal(after["stem.0.weight"], model.state_dict()["stem.0.weight"])


def test_layer_decay_gives_each_layer_its_learning_rate(synthetic_root, tmp_path):
    network = network_for(synthetic_root, tmp_path, layer_decay=0.5)
    lr_of = {id(p): g["lr"] for g in network.optimizer.param_groups for p in g["params"]}
    names = dict(network.model.named_parameters())
    lr = lambda name: lr_of[id(names[name])] / 0.05  # noqa: E731  relative to the recipe's lr
    # ResNet-20: the stem, 9 blocks, the head = 11 layers; layer i gets 0.5 ** (10 - i)
    assert lr("head.weight") == 1 and lr("head.bias") == 1
    assert lr("blocks.8.conv1.weight") == 0.5 and lr("blocks.0.bn1.weight") == 0.5 ** 9
    assert lr("stem.0.weight") == 0.5 ** 10
    xb, yb = batch(64)
    network.step(xb, yb)  # the schedule scales every layer alike: the ratios stay
    lr_of = {id(p): g["lr"] for g in network.optimizer.param_groups for p in g["params"]}
    assert math.isclose(lr_of[id(names["stem.0.weight"])] / lr_of[id(names["head.weight"])], 0.5 ** 10)


def test_the_lr_in_metrics_is_the_recipes_not_the_stems_under_layer_decay(synthetic_root, tmp_path):
    rec = train(tiny_config(synthetic_root, tmp_path / "ld", epochs=1, train_subset=128, max_steps_per_epoch=1,
                            overrides={"lr": 0.05, "layer_decay": 0.5, "schedule": "constant"}))
    assert records.read_metrics(tmp_path / "ld")[0]["lr"] == rec["recipe"]["effective_lr"] == 0.05


@pytest.mark.parametrize("change, message", [
    ({"batch_size": 63, "overrides": {"mixup": 0.8}}, "batch_size must be even"),
    ({"epochs": 2, "overrides": {"freeze_epochs": 2}}, "freeze_epochs .2. must be shorter"),
    ({"overrides": {"freeze": "backbone", "freeze_epochs": 1}}, "drop freeze_epochs"),
    ({"model": "hornet_tiny", "overrides": {"layer_decay": 0.7}}, "layer_decay needs a network"),
    ({"overrides": {"layer_decay": 0}}, "layer_decay must be above 0"),
    ({"overrides": {"auto_augment": "autoaugment"}}, "auto_augment='autoaugment' is not one of none, randaugment"),
    ({"overrides": {"ra_ops": 2.5}}, "ra_ops must be a whole number"),
    ({"overrides": {"ema_decay": 1.0}}, r"ema_decay=1.0 is out of range \[0, 1\)"),
    ({"log_with": "tensorbored"}, "log_with 'tensorbored' is not one of tensorboard, wandb, mlflow"),
])
def test_bad_regularisation_settings_fail_before_any_work(synthetic_root, tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        resolve(tiny_config(synthetic_root, tmp_path / "never", **change))
    assert not (tmp_path / "never").exists()


def test_campaign_yaml_reaches_every_feature(synthetic_root, tmp_path):
    from cifar100lab.campaign import load_campaign
    (tmp_path / "c.yaml").write_text(f"""
name: reg
dataset: synthetic
models: [resnet_20]
defaults: {{epochs: 3, batch_size: 32, data_root: {synthetic_root}, log_with: tensorboard,
           overrides: {{mixup: 0.8, cutmix: 1.0, auto_augment: trivialaugment, random_erasing: 0.25,
                       ema_decay: 0.999, grad_clip: 2.0, freeze_epochs: 1, layer_decay: 0.75}}}}
""")
    plan = load_campaign(tmp_path / "c.yaml", runs_root=tmp_path / "runs").runs[0].plan
    assert plan.config.log_with == "tensorboard"
    r = plan.recipe
    assert (r.mixup, r.cutmix, r.auto_augment, r.random_erasing, r.ema_decay, r.grad_clip, r.freeze_epochs,
            r.layer_decay) == (0.8, 1.0, "trivialaugment", 0.25, 0.999, 2.0, 1, 0.75)


@pytest.mark.parametrize("features", [{}, {"mixup": 0.8, "cutmix": 1.0, "label_smoothing": 0.1},
                                      {"ema_decay": 0.99}, {"grad_clip": 1.0}, {"freeze_epochs": 1},
                                      {"auto_augment": "randaugment", "random_erasing": 1.0},
                                      {"auto_augment": "trivialaugment", "random_erasing": 1.0}],
                         ids=["plain", "mixup-cutmix", "ema", "clip", "freeze", "randaugment-erasing",
                              "trivialaugment-erasing"])
def test_a_training_step_never_waits_on_the_host(synthetic_root, tmp_path, features):
    # On a GPU, a .item(), a branch on a device value, an output shaped by the data or a tensor made from host
    # values (a blocking copy) in the step loop stops the host from queueing steps ahead of the device. A longer
    # epoch must cost nothing more of that kind than a shorter one (the epoch's own setup, done once, is allowed).
    # AdamW is left out: its step counts live on the host on a GPU too, so reading them costs nothing there, but
    # on the CPU it looks the same.
    from host_traffic import HostTraffic
    network = network_for(synthetic_root, tmp_path, steps=8, **features)
    network.train_mode(0)
    recipe = recipes.build_recipe("resnet_sgd", {k: v for k, v in features.items() if k in AUGMENT})
    policy = data.policy_augmentation(recipe, data.DATASETS["synthetic"].mean)
    x, y = batch(8 * 16 * 4)  # batches of 32: two policy groups each
    train_mod.train_steps(network, data.train_batches(x, y, 32, 0, 0, policy=policy), range(1))  # lazy state

    def traffic(steps):
        with HostTraffic() as seen:
            totals = train_mod.train_steps(network, data.train_batches(x, y, 32, 1, 0, policy=policy), range(steps))
        assert totals[2].item() == 32 * steps
        return seen.events

    assert traffic(2) == traffic(1)


@pytest.mark.parametrize("teacher_model, teacher_size", [("resnet_32", None), ("resnet_20", 64)],
                         ids=["same-size", "resized"])
def test_a_distilling_step_never_waits_on_the_host(synthetic_root, tmp_path, teacher_model, teacher_size):
    """The distillation study's students: the teacher's forward on the student's batch (re-normalised, and resized
    when the teacher takes another input size) and the distilled loss add no host wait to a step."""
    from host_traffic import HostTraffic

    from cifar100lab.bench.timing import stand_in_teacher
    plan = resolve(tiny_config(synthetic_root, tmp_path / "student",
                               overrides={"lr": 0.05, "distill_from": f"{teacher_model}@teacher.pth"}))
    teacher_plan = resolve(tiny_config(synthetic_root, tmp_path / "teacher", model=teacher_model,
                                       **({"img_size": teacher_size} if teacher_size else {})))
    accelerator = build_accelerator("fp32")
    teacher = stand_in_teacher(plan, teacher_plan, accelerator.device, plan.dataset.num_classes)
    assert teacher.spec.input_size == (teacher_size or 32)
    network = build_learner(plan, accelerator, create_model("resnet_20", num_classes=plan.dataset.num_classes),
                            steps_per_epoch=8, teacher=teacher)
    network.train_mode(0)
    x, y = batch(8 * 16 * 4)
    train_mod.train_steps(network, data.train_batches(x, y, 32, 0, 0), range(1))  # lazy state

    def traffic(steps):
        with HostTraffic() as seen:
            totals = train_mod.train_steps(network, data.train_batches(x, y, 32, 1, 0), range(steps))
        assert totals[2].item() == 32 * steps
        return seen.events

    assert traffic(2) == traffic(1)
