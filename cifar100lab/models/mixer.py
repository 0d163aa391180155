"""MLP-Mixer (Tolstikhin et al., MLP-Mixer: An all-MLP Architecture for Vision, NeurIPS 2021).

``mlp_mixer_tiny`` is a small Mixer trained from scratch on 32×32 images, built with timm's
``MlpMixer``, which is the paper's network: a per-patch linear embedding, Mixer layers (LayerNorm →
token-mixing MLP across patches → residual; LayerNorm → channel-mixing MLP → residual; each MLP
Linear → GELU → Linear), a pre-head LayerNorm, global average pooling and a zero-initialised head.

Size: hidden C = 160, 8 Mixer layers (the depth of the paper's smallest model, Mixer-S), token-MLP
width D_S = C/2 = 80 and channel-MLP width D_C = 4C = 640 (the ratios of every variant in the paper).
That is 1.76 M parameters, near the 1.82 M the original report claims for its tiny Mixer (the paper
has no model this small; the width is the free choice that lands near that size).

Adaptation for 32×32: patch size 4 (8×8 = 64 tokens) instead of the paper's 16 or 32, which would
leave 4 tokens or one. ``patch_size`` may be any divisor of 32 that still leaves at least 2×2 tokens.
``drop_path_rate``: stochastic depth, the same rate in every layer (timm's ``MlpMixer``); 0.1 by
default as mild regularisation for a model that otherwise only has crop/flip augmentation.
"""
from __future__ import annotations

from timm.models.mlp_mixer import MlpMixer

from ._registry import register_model
from .timm_backed import create_timm_model

PAPER_MIXER = "Tolstikhin et al., MLP-Mixer: An all-MLP Architecture for Vision, NeurIPS 2021"
MIXER_TINY_DIM = 160
MIXER_TINY_BLOCKS = 8
MIXER_MLP_RATIOS = (0.5, 4.0)  # D_S = C/2, D_C = 4C
PATCH_SIZES = (1, 2, 4, 8, 16)  # divisors of 32 leaving at least 2×2 tokens
PAPER_PATCH, SMALL_PATCH = 16, 4  # Mixer-S/16 and B/16 (the paper also has /32, H/14); 4: 8×8 tokens at 32 px


# The patch is the Mixer's stem: the Models page states its change for 32 px as it does the other stems'
@register_model("mlp_mixer_tiny", family="mixer", group="MLP", source="own", paper=PAPER_MIXER,
                recipe="mixer_adamw", adaptation=(("patch", str(PAPER_PATCH), str(SMALL_PATCH)),))
def build_mlp_mixer_tiny(num_classes=100, patch_size=SMALL_PATCH, drop_path_rate=0.1):
    if patch_size not in PATCH_SIZES:
        raise ValueError(f"patch_size must divide 32 and leave at least 2x2 tokens: one of {PATCH_SIZES}, "
                         f"got {patch_size!r}")
    if not 0 <= drop_path_rate < 1:
        raise ValueError(f"drop_path_rate must be in [0, 1), got {drop_path_rate!r}")
    return MlpMixer(num_classes=num_classes, img_size=32, patch_size=patch_size, num_blocks=MIXER_TINY_BLOCKS,
                    embed_dim=MIXER_TINY_DIM, mlp_ratio=MIXER_MLP_RATIOS, drop_path_rate=drop_path_rate)


# --- timm's Mixer-B/16, fine-tuned ----------------------------------------------------------------------------
# ``mlp_mixer_b16``: the paper's Mixer-B/16 (12 layers, C = 768, D_S = 384, D_C = 3072, 16×16 patches) from
# timm, with the paper's ImageNet-21k → 1k weights (``mixer_b16_224.goog_in21k_ft_in1k``), fine-tuned at
# 224×224 by default. The token-mixing MLPs are sized by the token count (img_size/16)², so the model is
# built for ``img_size`` (from scratch at 32×32: 2×2 tokens) and the checkpoint, made for 14×14 = 196
# tokens, loads only at 224. See cifar100lab.models.timm_backed for ``pretrained``.
MIXER_B16 = "mixer_b16_224.goog_in21k_ft_in1k"
MIXER_B16_PATCH = 16
MIXER_B16_PRETRAINED_SIZE = 224


@register_model("mlp_mixer_b16", family="mixer", group="MLP", source="timm", paper=PAPER_MIXER,
                recipe="mixer_adamw", pretrained_source=MIXER_B16,
                pretrained_input_size=MIXER_B16_PRETRAINED_SIZE, default_pretrained="hub", pretrained_size_only=True)
def build_mlp_mixer_b16(num_classes=100, pretrained=None, img_size=32):
    if img_size < 2 * MIXER_B16_PATCH or img_size % MIXER_B16_PATCH:
        raise ValueError(f"Mixer-B/16 img_size must be a multiple of {MIXER_B16_PATCH} leaving at least 2x2 tokens "
                         f"(32, 48, …, 224), got {img_size}")
    if pretrained is not None and img_size != MIXER_B16_PRETRAINED_SIZE:
        raise ValueError(f"Mixer-B/16 pretrained weights mix {(MIXER_B16_PRETRAINED_SIZE // MIXER_B16_PATCH) ** 2} "
                         f"tokens and load only at img_size={MIXER_B16_PRETRAINED_SIZE}, got {img_size}; "
                         f"use img_size={MIXER_B16_PRETRAINED_SIZE} or pretrained=off")
    return create_timm_model(MIXER_B16, num_classes, pretrained, img_size=img_size)
