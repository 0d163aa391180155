"""Listings fit a terminal and start at once: ``models`` reads cached counts (no torch, nothing built), counted
at the size each model runs at; ``--format`` gives csv, json or markdown for other tools."""
import csv
import io
import json
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli

from cifar100lab.model_catalog import measure_catalog, read_catalog
from cifar100lab.models import model_entry, model_names, resolve_input_size

REGENERATE = ("regenerate it: python -c 'from cifar100lab.model_catalog import write_catalog; write_catalog()'")


def test_models_listing_imports_no_torch_and_fits_120_columns():
    code = "import sys; from cifar100lab.cli import main; main(['models']); assert 'torch' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 + len(model_names()) and max(map(len, lines)) <= 120
    assert not any(mark in proc.stdout for mark in ("NaN", "e+0", ".0 "))  # one plain number format


def test_models_listing_counts_each_model_at_the_size_it_runs_at(capfd):
    rows = {line.split()[0]: line.split() for line in run_cli(capfd, "models").stdout.splitlines()[1:]}
    assert rows["mlp_mixer_b16"][-4:-1] == ["224", "59.19", "25.202"]  # input, params (M), GFLOPs
    assert rows["coatnet_0"][-4:-2] == ["224", "26.74"] and rows["resnet_20"][-4:-2] == ["32", "0.28"]


def test_model_catalog_lists_every_registered_model_with_its_registry_facts():
    catalog = {r["model"]: r for r in read_catalog()}
    assert sorted(catalog) == model_names(), REGENERATE
    for name, row in catalog.items():
        entry = model_entry(name)
        assert (row["group"], row["source"], row["recipe"], row["input_size"]) == (
            entry.group, entry.source, entry.recipe, resolve_input_size(name, entry.default_pretrained)), REGENERATE


@pytest.mark.slow
def test_model_catalog_counts_equal_counts_made_now():
    assert measure_catalog() == read_catalog(), REGENERATE


def test_models_listing_formats_for_other_tools(capfd):
    as_csv = list(csv.DictReader(io.StringIO(run_cli(capfd, "models", "--format", "csv").stdout)))
    as_json = json.loads(run_cli(capfd, "models", "--format", "json").stdout)
    markdown = run_cli(capfd, "models", "--format", "markdown").stdout.splitlines()
    assert [r["model"] for r in as_csv] == [r["model"] for r in as_json] and len(as_json) == len(model_names())
    assert {r["model"]: int(r["params"]) for r in as_csv} == {r["model"]: r["params"] for r in as_json}
    assert markdown[1].startswith("| ---") and all(line.startswith("| ") for line in markdown)
