"""What a campaign's robustness step measures (the ``robustness:`` block of a campaign YAML), checked before
any work like every other setting.

Keys: ``corruptions`` (names, or ``all``: the 15 of Hendrycks & Dietterich), ``severities`` (1–5, or ``all``),
``images`` (how many of the run's test images, a fixed seeded subset; omitted: all of them), ``seed`` (of the
subset and of the generated corruptions), ``baseline`` (the model entry mCE is normalised by: one of the campaign's
entries, named by its ``name``, else by its model, and options if it has some, as its run ids are: resnet_20,
r20_long, eca_resnet_20-k_size-5), ``cam_images`` (how many of the analysed images, the first of the seeded
subset, get Grad-CAM heat maps for every model; 0: none). A campaign without the block has no robustness step; the
``robustness`` command then measures the whole protocol, normalised by resnet_20, which must then be one of its entries.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..config_files import ConfigError, refuse_unknown_keys
from ..model_catalog import catalog_rows
from ..seeds import SEEDS

# The CIFAR-100-C protocol's 15 corruptions by family (the four held-out validation corruptions are not used).
FAMILIES = {"noise": ("gaussian_noise", "shot_noise", "impulse_noise"),
            "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur"),
            "weather": ("snow", "frost", "fog", "brightness"),
            "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression")}
CORRUPTIONS = tuple(name for names in FAMILIES.values() for name in names)
SEVERITIES = (1, 2, 3, 4, 5)
KEYS = ("corruptions", "severities", "images", "seed", "baseline", "cam_images")
BASELINE = "resnet_20"
CAM_IMAGES = 8  # Grad-CAM panel: one row of images per model
CALIBRATION_SEVERITY = 3  # the protocol's middle severity: the reliability diagram under corruption


def family_of(corruption: str) -> str:
    return next(family for family, names in FAMILIES.items() if corruption in names)


@dataclass(frozen=True)
class RobustnessSettings:
    corruptions: tuple[str, ...] = CORRUPTIONS
    severities: tuple[int, ...] = SEVERITIES
    images: int | None = None  # None: the run's whole test set
    seed: int = 0
    baseline: str = BASELINE
    cam_images: int = CAM_IMAGES

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @property
    def measured(self) -> dict:
        return measured(self.as_dict())

    @property
    def calibration_severity(self) -> int:
        """Severity 3 when measured, else the measured severity nearest to it."""
        return min(self.severities, key=lambda s: (abs(s - CALIBRATION_SEVERITY), s))

    @classmethod
    def from_dict(cls, d, where: str) -> "RobustnessSettings":
        """The checked settings; anything wrong is one ConfigError naming the key and what is valid."""
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ConfigError(f"{where} must be a mapping of {', '.join(KEYS)}, got {d!r}")
        refuse_unknown_keys(d, KEYS, where)
        return cls(_names(d.get("corruptions", "all"), where), _severities(d.get("severities", "all"), where),
                   _images(d.get("images"), where), _seed(d.get("seed", 0), where),
                   _baseline(d.get("baseline", BASELINE), where),
                   _integer(d.get("cam_images", CAM_IMAGES), f"{where}: cam_images"))


def measured(settings):
    """What a result depends on of its settings: all but the baseline, which only normalises mCE on the page, so
    naming another re-measures nothing (a result stored with its baseline, as older ones are, reads the same)."""
    return {k: v for k, v in settings.items() if k != "baseline"} if isinstance(settings, dict) else settings


def _names(value, where: str) -> tuple[str, ...]:
    if value == "all":
        return CORRUPTIONS
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: corruptions must be 'all' or a list of names, got {value!r}")
    bad = [v for v in value if v not in CORRUPTIONS]
    if bad or len(set(value)) != len(value):
        what = f"unknown corruption(s) {', '.join(bad)}" if bad else "a corruption is listed twice"
        raise ConfigError(f"{where}: {what}; valid: {', '.join(CORRUPTIONS)}")
    return tuple(sorted(value, key=CORRUPTIONS.index))


def _severities(value, where: str) -> tuple[int, ...]:
    if value == "all":
        return SEVERITIES
    if (not isinstance(value, list) or not value or len(set(value)) != len(value)
            or not all(isinstance(v, int) and not isinstance(v, bool) and v in SEVERITIES for v in value)):
        raise ConfigError(f"{where}: severities must be 'all' or a list of distinct integers 1 to 5, got {value!r}")
    return tuple(sorted(value))


def _integer(value, where: str, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{where} must be an integer ≥ {low}, got {value!r}")
    return value


def _seed(value, where: str) -> int:
    """The subset's and the corruptions' seed: torch seeds the subset from its low 32 bits (seed 2**32 analysed seed
    0's images) and refuses one of 2**64 and more, which failed every run's analysis after the campaign trained."""
    seed = _integer(value, f"{where}: seed")
    if seed >= SEEDS:
        raise ConfigError(f"{where}: seed must be below 2**32 ({SEEDS}), got {seed}: torch keeps only a seed's "
                          f"low 32 bits, so it would analyse seed {seed % SEEDS}'s images")
    return seed


def _images(value, where: str) -> int | None:
    return None if value is None else _integer(value, f"{where}: images (omit it for the whole test set)", 1)


def _baseline(value, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: baseline must be the name of one of the campaign's model entries (its name:, "
                          f"else its model, e.g. resnet_20), got {value!r}")
    return value


def refuse_unknown_baseline(settings: RobustnessSettings, entries: dict[str, str | None], where: str,
                            then: str = "") -> None:
    """mCE is normalised by the baseline entry's own result, found by entry (:func:`.results.entry_of`): a baseline
    that names none of the campaign's model entries would leave every mCE empty after all the work, so it is one
    error line first, naming the entries it could be. ``entries``: entry name -> its model (None: not known);
    ``then``: what to do once it is set, where that is more than editing the campaign's YAML."""
    if settings.baseline in entries:
        return
    # An example of the fix: an entry of the baseline's model (a named ResNet-20 for resnet_20), else the first.
    pick = next((e for e, model in entries.items() if model == settings.baseline), next(iter(entries), "NAME"))
    add = f", or add {settings.baseline} to models:" if settings.baseline in catalog_rows() else ""
    raise ConfigError(f"{where}: baseline {settings.baseline} (mCE is normalised by it) is none of the campaign's "
                      f"model entries (an entry is named by its name:, else by its model): "
                      f"{', '.join(entries) or 'none'}; set robustness: {{baseline: {pick}}}{then}{add}")


def campaign_settings(block, where: str, entries: dict[str, str | None]) -> RobustnessSettings | None:
    """A campaign's robustness step (None: its YAML has no ``robustness:`` block), its baseline one of
    ``entries`` (its model entries' names -> models)."""
    if block is None:
        return None
    settings = RobustnessSettings.from_dict(block, where)
    refuse_unknown_baseline(settings, entries, where)
    return settings

