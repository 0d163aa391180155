"""The models listing's facts: every registered model's metadata with its parameter count and FLOPs at the
size it runs at by default (its pretraining size when it fine-tunes), cached in ``reference/models.json``.

The cache names what it was counted from (:func:`registry_fingerprint`: the model files and the plugin models).
While that holds, the listing and the book's Models page read it, importing no torch and building no network;
once a model is added or changed they count every model afresh, so a new model is listed at once, and
``models --update-cache`` writes the cache again. A test checks the cache against the registry."""
from __future__ import annotations

import hashlib
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

from .listing import Column, render, scaled, text
from .model_facts import GROUPS

PACKAGE = Path(__file__).parent
CATALOG = PACKAGE / "reference" / "models.json"
MODELS_DIR = PACKAGE / "models"
PLUGIN_GROUP = f"{__package__}.models"  # models.PLUGIN_GROUP, spelled here: importing models imports torch
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
            "adaptation": [list(change) for change in entry.adaptation],  # lists: the cache is JSON
            "scratch_recipe": entry.scratch_recipe}


def measure_catalog() -> list[dict]:
    """Every registered model's row, in the report's group order, smallest first within a group."""
    from .models import model_names
    rows = [measure_model(name) for name in model_names()]
    return sorted(rows, key=lambda r: (GROUPS.index(r["group"]), r["params"]))


def registry_fingerprint() -> str:
    """What the catalog's rows follow from, read without importing torch: the bytes of every model file and the
    plugin models' entry points with their packages' versions. (A timm release that changed a timm-backed
    network's size is caught by the test that counts every model against the cache.)"""
    digest = hashlib.sha256()
    for path in sorted(MODELS_DIR.glob("*.py")):  # line endings as a Windows checkout writes them count as equal
        digest.update(path.name.encode() + b"\0" + path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    for point in sorted(entry_points(group=PLUGIN_GROUP), key=lambda p: (p.name, p.value)):
        digest.update(f"{point.name}={point.value}@{point.dist.version if point.dist else ''}\0".encode())
    return digest.hexdigest()[:16]


def write_catalog(path: Path | None = None) -> list[dict]:
    """Count every registered model again and write the cache with what it was counted from; the rows."""
    from .records import atomic_write_json
    rows = measure_catalog()
    atomic_write_json(path or CATALOG, {"fingerprint": registry_fingerprint(), "models": rows})
    return rows


def read_catalog(path: Path | None = None) -> list[dict]:
    """The cached rows, as written (:func:`current_catalog` checks that they still hold)."""
    return json.loads((path or CATALOG).read_text(encoding="utf-8"))["models"]


def _cache_and_fingerprint() -> tuple[dict, str]:
    """(the cache as written, {} without one; what it must have been counted from to hold now)."""
    cached = json.loads(CATALOG.read_text(encoding="utf-8")) if CATALOG.exists() else {}
    return cached, registry_fingerprint()


_COUNTED_NOW: dict[str, list[dict]] = {}  # fingerprint -> rows, so a process counts a stale cache once


def current_catalog() -> tuple[list[dict], bool]:
    """(rows, counted now): the cache while the model files and plugins are those it was counted from;
    otherwise every registered model counted afresh, once per process (seconds: it imports torch and builds each
    network)."""
    cached, fingerprint = _cache_and_fingerprint()
    if cached.get("fingerprint") == fingerprint:
        return cached["models"], False
    if fingerprint not in _COUNTED_NOW:
        _COUNTED_NOW[fingerprint] = measure_catalog()
    return _COUNTED_NOW[fingerprint], True


def catalog_rows() -> dict[str, dict]:
    """The current catalog's rows by model name: what the report knows of a model without importing torch."""
    return {row["model"]: row for row in current_catalog()[0]}


STALE = ("models: counted now (the model files or plugin models changed since {cache} was written); "
         "`python -m cifar100lab models --update-cache` saves the counts")
# What a campaign says while the cache is stale: each analysis kernel and book build would count every model again.
STALE_FOR_REPORT = ("models: the model files or plugin models changed since {cache} was written, so the report and "
                    "the book count every model again in each process (seconds each); `python -m cifar100lab models "
                    "--update-cache` saves the counts")


def cache_shown() -> Path:
    """The cache's path as a user in the repository would type it."""
    return CATALOG.relative_to(PACKAGE.parent) if CATALOG.is_relative_to(PACKAGE.parent) else CATALOG


def stale_note() -> str | None:
    """:data:`STALE_FOR_REPORT` while the cache no longer follows the model files and plugins, else None (no torch)."""
    cached, fingerprint = _cache_and_fingerprint()
    return None if cached.get("fingerprint") == fingerprint else STALE_FOR_REPORT.format(cache=cache_shown())


def models_listing(fmt: str = "table", measure: bool = False, update_cache: bool = False) -> str:
    """The registered models in ``fmt``: from the cache while it holds, else counted now (said on stderr);
    always counted now with ``measure``; counted and written to the cache with ``update_cache``."""
    if update_cache:
        rows = write_catalog()
    elif measure:
        rows = measure_catalog()
    else:
        rows, counted_now = current_catalog()
        if counted_now:
            print(STALE.format(cache=cache_shown()), file=sys.stderr)
    return render(rows, COLUMNS, fmt)
