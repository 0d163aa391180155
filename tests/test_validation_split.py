"""'Best' is chosen on a validation hold-out when there is one; without one the record says it is the peak of
the test curve (optimistic). The final epoch stays the headline."""
import pytest
import torch
from conftest import tiny_config

from cifar100lab.config import ConfigError, resolve
from cifar100lab.data import hold_out, load_dataset
from cifar100lab.train import best_epoch, train


def test_validation_split_is_a_fixed_disjoint_hold_out_of_the_training_images(synthetic_root):
    full = load_dataset("synthetic", synthetic_root)
    a = load_dataset("synthetic", synthetic_root, val_fraction=0.25)
    b = load_dataset("synthetic", synthetic_root, val_fraction=0.25)
    assert len(a.val_y) == 256 and len(a.train_y) == 768 and a.describe()["val_size"] == 256
    assert torch.equal(a.val_x, b.val_x)  # the same images for every run
    seen = {bytes(x.numpy()) for x in a.train_x}
    assert not any(bytes(x.numpy()) in seen for x in a.val_x)  # disjoint
    assert len(seen | {bytes(x.numpy()) for x in a.val_x}) == len({bytes(x.numpy()) for x in full.train_x})
    assert torch.equal(a.test_y, full.test_y)  # the test set is untouched
    assert hold_out(full.train_x, full.train_y, 0.0)[2] is None


def test_best_epoch_follows_validation_not_test():
    rows = [{"epoch": 1, "top1": 50.0, "top5": 90.0, "val_top1": 60.0},
            {"epoch": 2, "top1": 70.0, "top5": 95.0, "val_top1": 55.0},  # the test peak, a worse validation
            {"epoch": 3, "top1": 65.0, "top5": 94.0, "val_top1": 58.0}]
    best = {"epoch": None}
    for row in rows:
        best = best_epoch(best, row)
    assert best["epoch"] == 1 and best["selected_on"] == "validation" and best["top1"] == 50.0
    best = {"epoch": None}
    for row in rows:
        best = best_epoch(best, {k: v for k, v in row.items() if k != "val_top1"})
    assert best["epoch"] == 2 and best["selected_on"] == "test"


@pytest.mark.slow
def test_a_run_with_a_validation_split_records_it_per_epoch_and_chooses_on_it(synthetic_root, tmp_path):
    rec = train(tiny_config(synthetic_root, tmp_path / "val", epochs=2, max_steps_per_epoch=3, val_fraction=0.2))
    assert rec["dataset"]["val_size"] == 205 and rec["best"]["selected_on"] == "validation"
    assert rec["final"]["evaluated"] == 300  # still the whole test set
    plain = train(tiny_config(synthetic_root, tmp_path / "plain", epochs=1, max_steps_per_epoch=2))
    assert plain["best"]["selected_on"] == "test"


@pytest.mark.parametrize("bad", [-0.1, 0.9, True, float("nan")])
def test_bad_val_fraction_is_refused_before_work(synthetic_root, tmp_path, bad):
    with pytest.raises(ConfigError, match="val_fraction"):
        resolve(tiny_config(synthetic_root, tmp_path, val_fraction=bad))
