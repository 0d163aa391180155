"""Grad-CAM heat maps (the ``grad-cam`` package) of a run's network on a fixed, seeded panel of its test
images, at the run's input size: where the network looked for the class it predicted.

The target layer is the model registry's (``ModelEntry.cam_layer``, declared per family; ``cam_layer_small``
where that layer's map is 2×2 or less at the run's input size); a token sequence
(Mixer) is laid out on the square patch grid it came from first, so its map is one cell per patch.
"""
from __future__ import annotations

import base64
import math

import numpy as np
import torch
import torch.nn.functional as F


def submodule(model: torch.nn.Module, path: str) -> torch.nn.Module:
    """``model``'s module at a dotted ``path`` (``stages.2``: the third stage)."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        raise ValueError(f"{type(model).__name__} has no module {path!r} (the registry's Grad-CAM layer)") from None


def tokens_to_grid(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens as a B×C×H×W map: B×N×C in row order (a square patch grid, after any class/prefix tokens, which
    carry no place and are dropped), or a channels-last B×H×W×C map (Swin's stages)."""
    if tokens.dim() == 4:
        return tokens.permute(0, 3, 1, 2)
    b, n, c = tokens.shape
    side = math.isqrt(n)
    if side < 1 or n - side * side >= side:  # more leftover tokens than a few prefix ones: no square grid here
        raise ValueError(f"{n} tokens do not form a square patch grid")
    return tokens[:, n - side * side:].reshape(b, side, side, c).permute(0, 3, 1, 2)


def heat_maps(model: torch.nn.Module, layer: str, tokens: bool, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(Grad-CAM of each image of ``x`` (prepared float images) for its predicted class, N×H×W in [0, 1] at
    the input's size; the predicted classes). Computed in float32, the network in eval mode."""
    from pytorch_grad_cam import GradCAM  # imported here: only this step draws heat maps
    model.eval()
    with torch.no_grad():
        predicted = model(x).argmax(dim=1)
    with GradCAM(model, [submodule(model, layer)], reshape_transform=tokens_to_grid if tokens else None) as cam:
        maps = cam(x.float(), targets=None)  # None: each image's highest-scoring class
    return torch.from_numpy(np.ascontiguousarray(maps)).float(), predicted.cpu()


def cam_layer_for(model: torch.nn.Module, entry, x: torch.Tensor) -> str:
    """The registry's layer, or its small-input one (``cam_layer_small``) where the layer's map at ``x``'s size is
    2×2 or less: a 224-px network trained at 32 px (a 1×1 map has one cell to weigh, and its heat map is flat)."""
    if not entry.cam_layer_small:
        return entry.cam_layer
    shapes = []
    hook = submodule(model, entry.cam_layer).register_forward_hook(lambda m, i, out: shapes.append(out.shape))
    model.eval()
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        hook.remove()
    return entry.cam_layer if min(shapes[0][-2:]) > 2 else entry.cam_layer_small


def _bytes(x: torch.Tensor) -> str:
    return base64.b64encode(x.contiguous().numpy().tobytes()).decode("ascii")


def panel(learner, accelerator, entry, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """The panel block of ``robustness.json``: the uint8 images, their heat maps at the images' size (0–255),
    the true and predicted classes and what the map is of."""
    model = accelerator.unwrap_model(learner.model, keep_fp32_wrapper=False)  # float32: no autocast
    x = learner.prepare(images.to(accelerator.device))
    layer = cam_layer_for(model, entry, x)
    maps, predicted = heat_maps(model, layer, entry.cam_tokens, x)
    if maps.shape[-2:] != images.shape[-2:]:
        maps = F.interpolate(maps[:, None], size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return {"layer": layer, "tokens": entry.cam_tokens, "shape": list(maps.shape),
            "labels": labels.tolist(), "predicted": predicted.tolist(),
            "images": _bytes(images.permute(0, 2, 3, 1).cpu()),
            "maps": _bytes((maps.clamp(0, 1) * 255).round().to(torch.uint8))}
