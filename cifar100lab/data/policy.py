"""The recipe's policy augmentation for uint8 batches on the device: RandAugment, TrivialAugmentWide and random
erasing as torchvision's v2 transforms define them (the same augmentation spaces, magnitudes, op arithmetic and
erased-box draws), in a form that never makes a GPU step wait for the host.

torchvision's tensor kernels copy a small tensor from the host on every call (the affine and rotation matrix,
the sharpness kernel, the erasing value) or index with a mask (autocontrast); each of those blocks the host until
the GPU's queue drains. Here every draw (which op, its magnitude, the erased box) is a host number from the
step's key, drawn with Python's ``random`` so no tensor is read back, and reaches the kernels as a scalar
argument: nothing is copied and nothing has a data-dependent shape. Ops whose torchvision kernel already works
that way (brightness, colour, contrast, posterize, solarize, equalize) are torchvision's own.
"""
from __future__ import annotations

import functools
import math
import random
from typing import Callable

import torch
import torch.nn.functional as F

# Images that share one draw. transforms.v2 draws once per call; a draw per image would cost a kernel launch
# per image on a GPU, so a batch of 128 gets 8 independent draws instead of 128.
POLICY_GROUP = 16


def _resample(images: torch.Tensor, matrix: list[float]) -> torch.Tensor:
    """``images`` warped by the inverse affine ``matrix`` (6 host floats): nearest neighbour, zero outside, on
    torchvision's pixel grid (its ``_affine_grid``), with the grid built from scalars instead of a copied theta."""
    n, _, h, w = images.shape
    xs = torch.linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, w, device=images.device)
    ys = torch.linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, h, device=images.device)[:, None]
    a, b, c, d, e, f = matrix
    grid = torch.stack([(xs * a + ys * b + c) / (0.5 * w), (xs * d + ys * e + f) / (0.5 * h)], dim=-1)
    out = F.grid_sample(images.float(), grid.expand(n, h, w, 2), mode="nearest", padding_mode="zeros",
                        align_corners=False)
    return out.round_().to(images.dtype)


def affine(images, translate=(0, 0), shear=(0.0, 0.0), center=None) -> torch.Tensor:
    """torchvision's ``affine`` (angle 0, scale 1), nearest, zero fill."""
    from torchvision.transforms.v2.functional._geometry import _get_inverse_affine_matrix
    h, w = images.shape[-2:]
    center_f = [0.0, 0.0] if center is None else [c - s * 0.5 for c, s in zip(center, (w, h))]
    return _resample(images, _get_inverse_affine_matrix(center_f, 0.0, [float(t) for t in translate], 1.0,
                                                        list(shear)))


def rotate(images: torch.Tensor, angle: float) -> torch.Tensor:
    """torchvision's ``rotate`` about the centre, nearest, zero fill, with its exact quarter-turn shortcuts."""
    from torchvision.transforms.v2.functional._geometry import _get_inverse_affine_matrix
    angle = angle % 360
    if angle == 0:
        return images.clone()
    if angle == 180 or (angle in (90, 270) and images.shape[-1] == images.shape[-2]):
        return torch.rot90(images, k=int(angle) // 90, dims=(-2, -1))
    return _resample(images, _get_inverse_affine_matrix([0.0, 0.0], -angle, [0.0, 0.0], 1.0, [0.0, 0.0]))


def adjust_sharpness(images: torch.Tensor, factor: float) -> torch.Tensor:
    """torchvision's ``adjust_sharpness`` for uint8: blend with the 3×3 smoothed image, borders kept."""
    c = images.shape[-3]
    kernel = F.pad(torch.full((1, 1, 1, 1), 5.0 / 13.0, device=images.device), (1, 1, 1, 1), value=1.0 / 13.0)
    out = images.float()
    blurred = F.conv2d(out, kernel.expand(c, 1, 3, 3), groups=c).round_()
    inner = out[..., 1:-1, 1:-1]
    inner.add_(blurred.sub_(inner), alpha=1.0 - factor)
    return out.clamp_(0, 255).to(images.dtype)


def autocontrast(images: torch.Tensor) -> torch.Tensor:
    """torchvision's ``autocontrast`` (each channel stretched to 0–255; a flat channel left as it is)."""
    f = images.float()
    low, high = f.amin(dim=(-2, -1), keepdim=True), f.amax(dim=(-2, -1), keepdim=True)
    flat = high == low
    scale = (high - low).mul_(1.0 / 255).masked_fill_(flat, 1.0)
    return f.sub_(low.masked_fill_(flat, 0.0)).div_(scale).clamp_(0, 255).to(images.dtype)


@functools.cache
def ops() -> dict[str, Callable]:
    """op name (torchvision's) -> (images, magnitude) -> images: the arithmetic of v2's
    ``_apply_image_or_video_transform`` (torchvision is imported on first use: importing the data package stays light)."""
    from torchvision.transforms.v2 import functional as TF
    return {
        "Identity": lambda x, m: x,
        "ShearX": lambda x, m: affine(x, shear=(math.degrees(math.atan(m)), 0.0), center=(0, 0)),
        "ShearY": lambda x, m: affine(x, shear=(0.0, math.degrees(math.atan(m))), center=(0, 0)),
        "TranslateX": lambda x, m: affine(x, translate=(int(m), 0)),
        "TranslateY": lambda x, m: affine(x, translate=(0, int(m))),
        "Rotate": rotate,
        "Brightness": lambda x, m: TF.adjust_brightness(x, 1.0 + m),
        "Color": lambda x, m: TF.adjust_saturation(x, 1.0 + m),
        "Contrast": lambda x, m: TF.adjust_contrast(x, 1.0 + m),
        "Sharpness": lambda x, m: adjust_sharpness(x, 1.0 + m),
        "Posterize": lambda x, m: TF.posterize(x, int(m)),
        "Solarize": lambda x, m: TF.solarize(x, 255.0 * m),
        "AutoContrast": lambda x, m: autocontrast(x),
        "Equalize": lambda x, m: TF.equalize(x),
    }


class AugmentationSpace:
    """A torchvision auto-augment policy's ops with their magnitude bins as host numbers, per image size."""

    def __init__(self, policy):
        self.policy, self.names, self._bins = policy, list(type(policy)._AUGMENTATION_SPACE), {}

    def bins(self, height: int, width: int) -> dict[str, tuple[list | None, bool]]:
        if (height, width) not in self._bins:  # torchvision's tables, read once (off the step loop)
            space = type(self.policy)._AUGMENTATION_SPACE
            self._bins[(height, width)] = {
                name: (None if (m := fn(self.policy.num_magnitude_bins, height, width)) is None else m.tolist(), signed)
                for name, (fn, signed) in space.items()}
        return self._bins[(height, width)]


def _signed(rng: random.Random, magnitude: float, signed: bool) -> float:
    return -magnitude if signed and rng.random() <= 0.5 else magnitude


def rand_augment(space: AugmentationSpace, num_ops: int, magnitude: int) -> Callable:
    """RandAugment: ``num_ops`` ops drawn uniformly, each at bin ``magnitude`` with a random sign where signed."""
    def draw(rng: random.Random, h: int, w: int) -> list[tuple[str, float]]:
        bins, ops = space.bins(h, w), []
        for _ in range(num_ops):
            name = rng.choice(space.names)
            values, signed = bins[name]
            ops.append((name, 0.0 if values is None else _signed(rng, float(values[magnitude]), signed)))
        return ops
    return draw


def trivial_augment(space: AugmentationSpace) -> Callable:
    """TrivialAugmentWide: one op drawn uniformly at a uniformly drawn bin, with a random sign where signed."""
    def draw(rng: random.Random, h: int, w: int) -> list[tuple[str, float]]:
        name = rng.choice(space.names)
        values, signed = space.bins(h, w)[name]
        return [(name, 0.0 if values is None else _signed(rng, float(rng.choice(values)), signed))]
    return draw


def erase_box(rng: random.Random, p: float, h: int, w: int, scale=(0.02, 0.33), ratio=(0.3, 3.3)):
    """torchvision's RandomErasing box (top, left, height, width), or None: with probability ``p``, up to 10
    tries for a box of ``scale`` of the area and aspect ``ratio`` (log-uniform) that fits."""
    if rng.random() >= p:
        return None
    for _ in range(10):
        area = h * w * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        eh, ew = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if eh < h and ew < w:
            return rng.randint(0, h - eh), rng.randint(0, w - ew), eh, ew
    return None


def erase(images: torch.Tensor, box, fill: list[int]) -> torch.Tensor:
    top, left, h, w = box
    out = images.clone()
    for channel, value in enumerate(fill):  # a scalar fill per channel: nothing copied from the host
        out[:, channel, top:top + h, left:left + w].fill_(value)
    return out


def policy_augmentation(recipe, mean) -> Callable | None:
    """The recipe's RandAugment / TrivialAugmentWide and random erasing (filled with the dataset mean, so it is
    zero after normalisation, as timm's "const" mode) for uint8 batches on any device, as
    ``augment(batch, key)``: each group of :data:`POLICY_GROUP` images gets its own draws from ``key`` (a
    :func:`seeds.step_seed`), so a resumed run augments as the uninterrupted one did; None when all are off."""
    from torchvision.transforms import v2
    draw = {"randaugment": lambda: rand_augment(AugmentationSpace(v2.RandAugment()), recipe.ra_ops,
                                                recipe.ra_magnitude),
            "trivialaugment": lambda: trivial_augment(AugmentationSpace(v2.TrivialAugmentWide())),
            "none": lambda: None}[recipe.auto_augment]()
    erasing, fill = recipe.random_erasing, [round(255 * m) for m in mean]
    if draw is None and not erasing:
        return None

    def augment_group(images: torch.Tensor, rng: random.Random) -> torch.Tensor:
        h, w = images.shape[-2:]
        for name, magnitude in draw(rng, h, w) if draw else ():
            images = ops()[name](images, magnitude)
        box = erase_box(rng, erasing, h, w) if erasing else None
        return erase(images, box, fill) if box else images

    def augment(xb: torch.Tensor, key: int) -> torch.Tensor:
        rng = random.Random(key)
        return torch.cat([augment_group(group, rng) for group in xb.split(POLICY_GROUP)])

    return augment
