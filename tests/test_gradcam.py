"""Grad-CAM: the heat maps show where a network's logit comes from, for a convolutional feature map and for a
token sequence (Mixer) laid out on its patch grid; every registered family declares its layer."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from cifar100lab.models import MODEL_REGISTRY, create_model, model_entry
from cifar100lab.robustness.gradcam import cam_layer_for, heat_maps, tokens_to_grid


class SeesOneQuadrant(nn.Module):
    """A network whose logits depend only on the top-right quadrant of the image: it zeroes the rest, then
    convolves (no bias, so the zeroed area stays zero) and pools. ``tokens``: its features leave the
    convolution as a B×N×C token sequence, as a Mixer's do."""

    def __init__(self, tokens: bool = False):
        super().__init__()
        self.tokens = tokens
        self.features = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.act = nn.ReLU()
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        mask = torch.zeros_like(x)
        mask[..., : x.shape[-2] // 2, x.shape[-1] // 2:] = 1  # top rows, right columns
        a = self.features(x * mask)
        if self.tokens:
            return self.head(self.act(a.flatten(2).transpose(1, 2)).mean(dim=1))  # B×N×C tokens, row order
        return self.head(self.act(a).mean(dim=(2, 3)))


@pytest.mark.parametrize("tokens", [False, True])
def test_grad_cam_of_a_model_whose_logit_depends_only_on_one_quadrant_lights_that_quadrant(tokens):
    torch.manual_seed(0)
    model = SeesOneQuadrant(tokens)
    with torch.no_grad():
        model.features.weight.abs_()  # positive features on positive images: a class evidence everywhere it sees
        model.head.weight.abs_()
    x = torch.rand(3, 3, 16, 16)
    maps, predicted = heat_maps(model, "act", tokens, x)
    assert maps.shape == (3, 16, 16) and predicted.shape == (3,)
    inside = maps[:, 1:7, 9:15]  # the quadrant, a pixel in from its edges (the 3×3 convolution spills one)
    outside = torch.cat([maps[:, 9:, :].flatten(1), maps[:, :, :7].flatten(1)], dim=1)
    assert inside.min() > 0.2 and outside.max() < 0.05


def test_tokens_are_laid_out_on_their_patch_grid_in_row_order():
    grid = tokens_to_grid(torch.arange(4).float().reshape(1, 4, 1).expand(1, 4, 3))  # 4 patches, 3 channels
    assert grid.shape == (1, 3, 2, 2) and grid[0, 0].tolist() == [[0.0, 1.0], [2.0, 3.0]]
    with pytest.raises(ValueError, match="square patch grid"):
        tokens_to_grid(torch.zeros(1, 6, 3))


def test_every_registered_family_declares_its_grad_cam_layer():
    missing = sorted(e.name for e in MODEL_REGISTRY.values() if not e.cam_layer)
    assert not missing, (f"no Grad-CAM layer declared for {missing}: give @register_model cam_layer='<module "
                         f"path>' (cam_tokens=True for tokens), or add the family to models/_registry.py CAM_LAYERS")
    assert {e.family for e in MODEL_REGISTRY.values() if e.cam_tokens} == {"mixer", "deit", "swin"}


@pytest.mark.parametrize("name", ["ghostnet_100", "coatnet_0", "cspresnet50", "resnest50d"])
@pytest.mark.parametrize("size", [32, 224])
def test_the_grad_cam_layer_has_a_map_wider_than_2x2_at_the_runs_input_size(name, size):
    """At 32 px these networks' registered layers are 2×2 or 1×1 (the quick campaign's coatnet_0, cspresnet50 and
    resnest50d rows trained from scratch at 32 px drew flat, all-zero heat maps); their 4×4 layer is weighed
    there, and the registered one at 224 px."""
    entry = model_entry(name)
    with torch.device("meta"):
        network = create_model(name, num_classes=10, **({"img_size": size} if name == "coatnet_0" else {}))
        x = torch.zeros(1, 3, size, size)
    layer = cam_layer_for(network, entry, x)
    shapes = []
    network.get_submodule(layer).register_forward_hook(lambda m, i, out: shapes.append(out.shape))
    with torch.no_grad():
        network(x)
    assert min(shapes[0][-2:]) > 2 and (layer == entry.cam_layer) == (size == 224)
