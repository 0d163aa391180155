"""Every registered model goes through the trainer's own build-and-step (in-process, no notebook): the part
of the old all-models papermill campaign that concerned the models themselves."""
import pytest
import torch

from cifar100lab.accelerator import build_accelerator
from cifar100lab.config import resolve
from cifar100lab.models import model_names
from cifar100lab.train import build_learner, build_model


@pytest.mark.parametrize("name", model_names())
def test_every_registered_model_takes_a_trainer_step_and_evaluates(name):
    plan = resolve({"model": name, "pretrained": "off", "dataset": "synthetic", "epochs": 2, "batch_size": 4,
                    "train_subset": 8, "overrides": {"warmup_epochs": 0}})
    torch.manual_seed(0)
    network = build_learner(plan, build_accelerator("auto"), build_model(plan, num_classes=10), steps_per_epoch=1)
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    y = torch.tensor([0, 1, 2, 3])
    before = [p.detach().clone() for p in network.model.parameters()]
    loss, logits, _ = network.step(x, y)
    assert logits.shape == (4, 10) and torch.isfinite(loss) and torch.isfinite(logits).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, network.model.parameters()))
    network.model.eval()
    with torch.no_grad():
        assert network.logits(x).shape == (4, 10)
