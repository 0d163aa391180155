"""Listings fit a terminal and start at once: ``models`` reads cached counts (no torch, nothing built), counted
at the size each model runs at; ``--format`` gives csv, json or markdown for other tools."""
import csv
import importlib.util
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_cli, scratch_book

from cifar100lab import model_catalog
from cifar100lab.model_catalog import measure_catalog, read_catalog, registry_fingerprint
from cifar100lab.models import _registry, model_entry, model_names, resolve_input_size

REGENERATE = "regenerate it: python -m cifar100lab models --update-cache"


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
    # counted from the model files as they are: otherwise every listing would count afresh
    assert json.loads(model_catalog.CATALOG.read_text())["fingerprint"] == registry_fingerprint(), REGENERATE
    catalog = {r["model"]: r for r in read_catalog()}
    assert sorted(catalog) == model_names(), REGENERATE
    for name, row in catalog.items():
        entry = model_entry(name)
        assert (row["group"], row["source"], row["recipe"], row["input_size"]) == (
            entry.group, entry.source, entry.recipe, resolve_input_size(name, entry.default_pretrained)), REGENERATE


@pytest.mark.slow
def test_model_catalog_counts_equal_counts_made_now():
    assert measure_catalog() == read_catalog(), REGENERATE


# The model file a test adds, under a name no one would give a model of their own: a tiny_cnn of one's own in
# cifar100lab/models/, cached as the README says, made the listing test below fail when the test's was tiny_cnn too.
PROBE_MODEL = "_listing_probe_cnn"
PROBE_FILE = f"""from torch import nn
from cifar100lab.models import register_model


@register_model("{PROBE_MODEL}", family="probe", group="basic ResNet", source="own", paper="-", recipe="resnet_sgd")
def build_listing_probe(num_classes: int = 100, width: int = 8):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(width, num_classes))
"""


def test_a_model_file_added_is_listed_at_once_and_update_cache_writes_its_counts(tmp_path, monkeypatch, capfd):
    """The README's "adding a model": a new file in cifar100lab/models/ is in the `models` listing and on the
    book's Models page before anyone rewrites the cached counts (it used to be missing from both)."""
    from cifar100lab.report.models_page import models_table
    models_dir, cache = tmp_path / "models", tmp_path / "models.json"
    shutil.copytree(model_catalog.MODELS_DIR, models_dir, ignore=shutil.ignore_patterns("__pycache__"))
    (models_dir / "listing_probe_cnn.py").write_text(PROBE_FILE)
    shutil.copy(model_catalog.CATALOG, cache)
    monkeypatch.setattr(model_catalog, "MODELS_DIR", models_dir)
    monkeypatch.setattr(model_catalog, "CATALOG", cache)
    # This test's registry: two models and the new one (counting all of them, twice, took most of its time).
    kept = {name: entry for name, entry in _registry.MODEL_REGISTRY.items() if name in ("resnet_20", "ghostnet_100")}
    monkeypatch.setattr(_registry, "MODEL_REGISTRY", kept)
    spec = importlib.util.spec_from_file_location("listing_probe_cnn", models_dir / "listing_probe_cnn.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))  # as importing cifar100lab.models imports it

    first = run_cli(capfd, "models")
    assert first.returncode == 0 and PROBE_MODEL in first.stdout
    assert "counted now" in first.stderr and "models --update-cache" in first.stderr
    assert PROBE_MODEL not in {r["model"] for r in read_catalog(cache)}  # a listing writes nothing
    assert run_cli(capfd, "models", "--update-cache").returncode == 0
    assert json.loads(cache.read_text())["fingerprint"] == registry_fingerprint()
    again = run_cli(capfd, "models")
    assert again.stdout == first.stdout and again.stderr == ""  # read from the cache it wrote
    assert PROBE_MODEL in set(models_table().model)


def test_models_listing_formats_for_other_tools(capfd):
    as_csv = list(csv.DictReader(io.StringIO(run_cli(capfd, "models", "--format", "csv").stdout)))
    as_json = json.loads(run_cli(capfd, "models", "--format", "json").stdout)
    markdown = run_cli(capfd, "models", "--format", "markdown").stdout.splitlines()
    assert [r["model"] for r in as_csv] == [r["model"] for r in as_json] and len(as_json) == len(model_names())
    assert {r["model"]: int(r["params"]) for r in as_csv} == {r["model"]: r["params"] for r in as_json}
    assert markdown[1].startswith("| ---") and all(line.startswith("| ") for line in markdown)


CIFAR100 = {"name": "cifar100", "kind": "real", "label": "CIFAR-100"}
FASHION = {"name": "fashion-mnist", "kind": "stand-in", "label": "Fashion-MNIST (stand-in for CIFAR-100)"}
SYNTHETIC = {"name": "synthetic", "kind": "synthetic", "label": "synthetic data (CIFAR-100 layout)"}


def _record(run_dir, **fields):
    run_dir.mkdir(parents=True)
    (run_dir / "record.json").write_text(json.dumps({"status": "complete", "config": {"epochs": 2}, **fields}))


@pytest.fixture
def runs_root(tmp_path):
    """A campaign's finished run, a run made by hand with a long id, and one still going (two metrics rows)."""
    root = tmp_path / "runs"
    _record(root / "quick" / "quick-resnet_20-s0", run_id="quick-resnet_20-s0", campaign="quick", epochs_done=2,
            final={"top1": 40.0, "evaluated": 1000}, train_seconds=3700.4, eval_seconds=10, dataset=CIFAR100)
    long_id = "resnet_20-" + "-".join(f"option{i}-value{i}" for i in range(8)) + "-s0"
    _record(root / long_id, run_id=long_id, campaign=None, epochs_done=1, final={"top1": 10.0, "evaluated": 300},
            dataset=FASHION)
    going = root / "quick" / "quick-resnet_32-s0"
    _record(going, run_id="quick-resnet_32-s0", campaign="quick", status="running")
    (going / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2}\n')
    return root


def test_runs_lists_campaign_and_hand_made_runs_with_status_epochs_top1_interval_and_time(runs_root, capfd):
    lines = run_cli(capfd, "runs", "--runs-root", runs_root).stdout.splitlines()
    assert lines[0].split() == ["campaign", "run", "status", "epochs", "top-1", "%", "95%", "interval", "time", "data"]
    rows = {line.split()[1]: line.split() for line in lines[1:] if line.startswith("quick")}
    assert rows["resnet_20-s0"][2:] == ["complete", "2/2", "40.00", "37.01-43.07", "1:01:50", "cifar100"]
    assert rows["resnet_32-s0"][2:] == ["running", "2/2", "-", "-", "-", "-"]
    assert lines[1].split()[-1] == "fashion-mnist"  # the run by hand
    assert lines[-1] == "not CIFAR-100 results: the runs on fashion-mnist, Fashion-MNIST (stand-in for CIFAR-100)"
    assert len(lines) == 5 and max(map(len, lines)) <= 120


def test_a_record_without_its_count_of_images_evaluated_lists_its_top1_without_an_interval(tmp_path, capfd):
    _record(tmp_path / "runs" / "old", run_id="old", campaign=None, epochs_done=2, final={"top1": 40.0})
    row = run_cli(capfd, "runs", "--runs-root", tmp_path / "runs").stdout.splitlines()[1].split()
    assert row[3:6] == ["2/2", "40.00", "-"] and "nan" not in " ".join(row)


def test_every_dataset_that_is_not_cifar100_is_named_under_the_listing_and_a_cifar100_one_is_not(tmp_path, capfd):
    for name, dataset in (("a", CIFAR100), ("b", SYNTHETIC), ("c", FASHION), ("d", SYNTHETIC)):
        _record(tmp_path / "runs" / name, run_id=name, campaign=None, dataset=dataset)
    out = run_cli(capfd, "runs", "--runs-root", tmp_path / "runs").stdout.splitlines()
    assert out[-1] == ("not CIFAR-100 results: the runs on fashion-mnist, Fashion-MNIST (stand-in for CIFAR-100); "
                       "on synthetic, synthetic data (CIFAR-100 layout)")
    markdown = run_cli(capfd, "runs", "--runs-root", tmp_path / "runs", "--format", "markdown").stdout.splitlines()
    assert markdown[-2:] == ["", out[-1]]  # a paragraph of its own, not a row of the table
    rows = json.loads(run_cli(capfd, "runs", "--runs-root", tmp_path / "runs", "--format", "json").stdout)
    assert [(r["dataset"], r["dataset_kind"]) for r in rows] == [("cifar100", "real"), ("synthetic", "synthetic"),
                                                                 ("fashion-mnist", "stand-in"), ("synthetic", "synthetic")]
    (tmp_path / "runs" / "b" / "record.json").unlink()
    (tmp_path / "runs" / "c" / "record.json").unlink()
    (tmp_path / "runs" / "d" / "record.json").unlink()
    assert "not CIFAR-100" not in run_cli(capfd, "runs", "--runs-root", tmp_path / "runs").stdout


def test_runs_short_id_is_readable_and_the_record_keeps_the_full_id(runs_root, capfd):
    rows = json.loads(run_cli(capfd, "runs", "--runs-root", runs_root, "--format", "json").stdout)
    by_hand = next(r for r in rows if r["campaign"] is None)
    assert len(by_hand["run_id"]) > 100 and by_hand["run_id"].startswith(by_hand["short_id"].split("~")[0])
    assert len(by_hand["short_id"]) <= 40 and by_hand["short_id"].startswith("resnet_20-option0-value0")
    only = run_cli(capfd, "runs", "--runs-root", runs_root, "--campaign", "quick").stdout
    assert "option0" not in only and "resnet_20-s0" in only


def test_runs_of_a_campaign_not_there_is_one_error_line_naming_those_there(runs_root, capfd):
    proc = run_cli(capfd, "runs", "--runs-root", runs_root, "--campaign", "qiuck")
    assert proc.returncode == 2 and proc.stderr == (f"error: no runs of campaign 'qiuck' under {runs_root}; "
                                                    f"campaigns there: quick\n")


def test_campaign_status_has_a_header_and_each_runs_epochs_and_top1(tmp_path, capfd):
    from cifar100lab.campaign import load_campaign
    path = tmp_path / "c.yaml"
    path.write_text("name: c\nmodels: [resnet_20, resnet_32]\ndataset: synthetic\ndefaults: {epochs: 2}\n")
    done = load_campaign(path, runs_root=tmp_path / "runs").runs[0]
    _record(Path(done.run_dir), run_id=done.run_id, campaign="c", epochs_done=2, config=done.config.to_dict(),
            final={"top1": 40.0, "evaluated": 1000}, train_seconds=60, dataset=SYNTHETIC)
    proc = run_cli(capfd, "campaign", path, "--status", "--runs-root", tmp_path / "runs", "--no-analysis")
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:5] == ["run", "state", "job", "epochs", "top-1"], proc.stdout
    assert lines[1].split() == ["resnet_20-s0", "complete", "-", "2/2", "40.00", "37.01-43.07", "0:01:00", "synthetic"]
    assert lines[2].split()[:4] == ["resnet_32-s0", "new", "-", "0/2"]
    assert lines[3] == "not CIFAR-100 results: the runs on synthetic, synthetic data (CIFAR-100 layout)"


def test_models_page_shows_the_catalogs_counts_and_builds_no_network(tmp_path, monkeypatch):
    from cifar100lab import models
    from cifar100lab.report.models_page import write_models_page

    def refuse(*a, **k):
        raise AssertionError("the Models page built a network")
    monkeypatch.setattr(models, "create_model", refuse)
    write_models_page(tmp_path)
    for lang in ("en", "zh"):
        rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[1:-1]]
                for r in (tmp_path / f"models_{lang}.md").read_text().splitlines() if r.startswith("| ")}
        for row in read_catalog():  # every model, at the size it runs at, with the catalog's count
            assert rows[row["model"]][3:5] == [str(row["input_size"]), f"{row['params']:,}"], (lang, row["model"])
    assert rows["mlp_mixer_b16"][3:5] == ["224", "59,188,372"]


def test_a_listing_whose_reader_has_gone_ends_quietly():
    """`models | head`: the reader closes the pipe (here before the listing is written), and no error is printed."""
    proc = subprocess.Popen([sys.executable, "-m", "cifar100lab", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0 and err == "", err


def test_a_campaign_says_when_the_model_counts_are_not_cached(tmp_path, monkeypatch, capfd):
    """After a model file is added or changed, every analysis kernel and book build counts every model again until
    the cache is saved: the campaign says so (on stderr), and says nothing while the cache holds."""
    camp = tmp_path / "c.yaml"
    camp.write_text("name: t\ndataset: synthetic\nmodels: [resnet_20]\ndefaults: {epochs: 1}\n")
    args = ("campaign", camp, "--dry-run", "--runs-root", tmp_path / "runs", "--book", scratch_book(tmp_path / "book"))
    held = run_cli(capfd, *args)
    assert held.returncode == 0 and "update-cache" not in held.stderr
    models_dir = tmp_path / "models"
    shutil.copytree(model_catalog.MODELS_DIR, models_dir, ignore=shutil.ignore_patterns("__pycache__"))
    (models_dir / "listing_probe_cnn.py").write_text(PROBE_FILE)  # the file alone: its model need not be imported here
    monkeypatch.setattr(model_catalog, "MODELS_DIR", models_dir)
    stale = run_cli(capfd, *args)
    assert stale.returncode == 0 and stale.stdout == held.stdout
    assert "model files or plugin models changed" in stale.stderr and "models --update-cache" in stale.stderr
