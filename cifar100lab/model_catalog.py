"""The models listing's facts: every registered model's metadata with its parameter count and FLOPs at the
size it runs at by default (its pretraining size when it fine-tunes), cached in ``reference/models.json``.

Listing reads the cache, so it imports no torch and builds no network; ``models --measure`` counts afresh
(a model added since the cache was written), and a test checks the cache against the registry."""
from __future__ import annotations

import json
from pathlib import Path

from .listing import Column, render, scaled, text

CATALOG = Path(__file__).parent / "reference" / "models.json"
COLUMNS = [Column("model", "model"), Column("group", "group"), Column("source", "source"),
           Column("default_run", "default run"), Column("input_size", "input", str, right=True),
           Column("params", "params (M)", scaled(1e6, 2), right=True),
           Column("flops", "GFLOPs", scaled(1e9, 3), right=True), Column("recipe", "recipe", text)]


def measure_model(name: str) -> dict:
    """One model's row: its registry metadata, and its parameters and FLOPs (one image, a multiply-add counts
    as two) counted on the meta device with a 100-class head at the size it runs at, so nothing is allocated."""
    import torch

    from .models import count_flops, count_params, create_model, model_entry, resolve_input_size
    entry = model_entry(name)
    size = resolve_input_size(name, entry.default_pretrained)
    with torch.device("meta"):
        network = create_model(name, num_classes=100, img_size=size)
        flops = count_flops(network, size)
    return {"model": name, "group": entry.group, "family": entry.family, "source": entry.source,
            "paper": entry.paper, "recipe": entry.recipe,
            "default_run": "fine-tune" if entry.default_pretrained else "scratch", "input_size": size,
            "params": count_params(network), "flops": flops,
            "pretrained": entry.pretrained_source,
            "adaptation": [list(change) for change in entry.adaptation]}  # lists: the cache is JSON


def measure_catalog() -> list[dict]:
    """Every registered model's row, in the report's group order, smallest first within a group."""
    from .models import GROUPS, model_names
    rows = [measure_model(name) for name in model_names()]
    return sorted(rows, key=lambda r: (GROUPS.index(r["group"]), r["params"]))


def write_catalog(path: Path = CATALOG) -> None:
    """Count every registered model again and write the cache (after adding or changing a model)."""
    from .records import atomic_write_json
    atomic_write_json(path, measure_catalog())


def read_catalog(path: Path = CATALOG) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def models_listing(fmt: str = "table", measure: bool = False) -> str:
    """The registered models in ``fmt``: from the cache, or counted now with ``measure``."""
    return render(measure_catalog() if measure else read_catalog(), COLUMNS, fmt)
