"""Beyond accuracy, from each run's own checkpoint: corruption robustness (the CIFAR-100-C protocol),
calibration and per-class errors. :mod:`.analyse` is the post-training step; the rest are its measures."""
from .settings import CORRUPTIONS, FAMILIES, RobustnessSettings, family_of

__all__ = ["CORRUPTIONS", "FAMILIES", "RobustnessSettings", "family_of"]
