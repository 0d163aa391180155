"""Where a run's robustness result lives and which runs a campaign's step analyses: what the report reads,
without the evaluation machinery (the report never imports the trainer)."""
from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np

from .. import records

OUT = "robustness.json"


def read_result(path: Path) -> dict | None:
    """The robustness.json at ``path``, or None when there is none or it cannot be read (it is redone)."""
    try:
        return records.read_json(path)
    except (OSError, records.RecordError, ValueError):
        return None


def campaign_runs(manifest: dict, path: Path) -> list[str]:
    """The runs the robustness step analyses: the campaign's model runs (not the recipe-changing study
    variants, which answer their own study). A manifest (read from ``path``) that does not list them as run
    folder names is one RecordError naming it."""
    try:
        if "model_runs" in manifest:
            found = list(manifest["model_runs"])
        else:
            variants = {rid for st in manifest.get("studies") or [] for v in st["variants"] if v.get("overrides")
                        for rid in st["runs"].get(v["label"], [])}
            found = [rid for rid in manifest["runs"] if rid not in variants]
    except (KeyError, TypeError, AttributeError) as e:
        raise records.RecordError(f"{path} is damaged: it does not list the campaign's runs ({type(e).__name__}: "
                                  f"{e}; a campaign's manifest holds runs: [run folder names]); run the campaign "
                                  f"again to write it") from None
    if not all(isinstance(rid, str) and rid and "/" not in rid and rid not in (".", "..") for rid in found):
        raise records.RecordError(f"{path} is damaged: its runs must be run folder names beside it, got {found!r}; "
                                  f"run the campaign again to write it")
    return found


def entry_of(run_id: str, campaign: str) -> str | None:
    """The model entry a campaign's run is a seed of, as its run id ``<campaign>-<entry>-s<seed>`` names it: the
    entry's ``name``, or its model and options (``eca_resnet_20-k_size-5``); None for another campaign's run."""
    found = re.fullmatch(rf"{re.escape(campaign)}-(.+)-s\d+", run_id or "")
    return found.group(1) if found else None


def decode(block: dict, key: str) -> np.ndarray:
    """The images (N×H×W×3) or maps (N×H×W, 0–255) of a stored Grad-CAM panel (:func:`.gradcam.panel`)."""
    shape = block["shape"] + ([3] if key == "images" else [])
    return np.frombuffer(base64.b64decode(block[key]), dtype=np.uint8).reshape(shape)
