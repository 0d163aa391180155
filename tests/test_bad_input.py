"""Bad input is one `error:` line and exit status 2 before any work, and nothing is written: YAML files and
--set values, names that would climb out of the runs folder, per-run fields in `defaults:`, damaged run
records (reported per run while the others go on), damaged dataset archives; a dry run writes nothing; an
override equal to the recipe's own value is not stale."""
import gzip
import os
import warnings

import pytest
from conftest import ROOT, run_cli, scratch_book
from test_records import _campaign, _fake_execute

from cifar100lab import campaign as C
from cifar100lab import launch, records
from cifar100lab.config_files import YAML_MAX_BYTES
from cifar100lab.data import FASHION_DEBIAN_DIR, FASHION_MD5
from cifar100lab.executors import local, slurm
from cifar100lab.runs import describe, stale_fields

MODELS = "models: [resnet_20]\n"


def _book(tmp_path):
    """The book folder a campaign's --book names (a folder that is no book is refused first)."""
    return scratch_book(tmp_path / "book")


def _written(tmp_path) -> list[str]:
    """What is in ``tmp_path``, the scratch book counted only when something was written into it."""
    return sorted(p.name for p in tmp_path.iterdir()
                  if p.name != "book" or {q.name for q in p.iterdir()} != {"_toc.yml"})


def _refused(result, *parts):
    """One `error:` line holding every part, exit status 2."""
    assert result.returncode == 2, result
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr


@pytest.mark.parametrize("text, parts", [
    (MODELS + "defaults: {epochs: 1, epochs: 2}\n", ["line 2", "key 'epochs' appears twice"]),
    (MODELS + "defaults:\n  overrides: {lr: 0.1}\n  overrides: {lr: 0.2}\n", ["line 4", "'overrides' appears twice"]),
    ("name: a\nname: b\n" + MODELS, ["'name' appears twice"]),
    (b"models: [resnet_20]\nnotes: caf\xe9\n", ["not UTF-8", "save it as UTF-8"]),
    (MODELS + "defaults: {options: {k_size: abc}}\n", ["defaults: options cannot be set there", "model entry"]),
    (MODELS + "defaults: {model: resnet_32}\n", ["defaults: model cannot be set there", "model entry"]),
    (MODELS + "defaults: {dataset: fashion-mnist}\n", ["dataset belongs in", "--dataset"]),
    (MODELS + "defaults: {seed: 3}\n", ["seed belongs in the campaign's 'seeds:' key"]),
    (MODELS + "defaults: {run_dir: /tmp/x}\n", ["run_dir belongs in --runs-root"]),
    ("models: [{model: resnet_20, seed: 4}]\n", ["model entry resnet_20: seed cannot be set there"]),
    ("name: ../../escaped\n" + MODELS, ["campaign name '../../escaped' must be a plain name"]),
    ("name: /tmp/escaped\n" + MODELS, ["campaign name '/tmp/escaped' must be a plain name"]),
    ("name: .hidden\n" + MODELS, ["must be a plain name"]),
    ("models: [{model: resnet_20, name: ../x}]\n", ["model entry resnet_20: name '../x' must be a plain name"]),
    ("models: [{model: resnet_20, name: ''}]\n", ["name '' must be a plain name"]),
    ("name: " + "n" * 250 + "\n" + MODELS, ["at most 200 bytes"]),
    ("- just\n- a list\n", ["expected a mapping"]),
    ("models: [resnet_20\n", ["is not valid YAML: line 2"]),
    (MODELS + "num_processes: many\n", ["c.yaml: num_processes must be 'auto' or a whole number of processes, "
                                        "got 'many'"]),
    (MODELS + "num_processes: 1.5\n", ["num_processes must be 'auto' or a whole number", "got 1.5"]),
    (MODELS + "num_processes: -1\n", ["c.yaml: num_processes must be >= 1 or 'auto', got -1"]),
    (MODELS + "seeds: 3.5\n", ["c.yaml: seeds must be a count or a list of integers (e.g. 3 or [0, 1, 2]), got 3.5"]),
    (MODELS + "seeds:\n", ["c.yaml: seeds must be a count or a list of integers", "got None"]),
    (MODELS + "seeds: true\n", ["c.yaml: seeds must be a count", "got True"]),
    (MODELS + "seeds: [0, 1.5]\n", ["c.yaml: seeds must be a count", "got [0, 1.5]"]),
    (MODELS + "study_seeds: 2.5\n", ["c.yaml: study_seeds must be a count or a list of integers", "got 2.5"]),
    # one run each, which the manifest counted as two seeds (the book's tables: "Seeds: 3")
    (MODELS + "seeds: [0, 1, 0]\n", ["c.yaml: seeds must name each seed once, each a whole number from 0, got "
                                       "[0, 1, 0]"]),
    (MODELS + "study_seeds: [2, 2]\n", ["c.yaml: study_seeds must name each seed once"]),
    ("models: 5\n", ["c.yaml: models must be a list of model names or entries, or a model set's name", "got 5"]),
    ("models: [[resnet_20]]\n", ["model entry ['resnet_20'] must be a model name or a mapping {model: NAME"]),
    ("models: [{model: [resnet_20]}]\n", ["model entry {'model': ['resnet_20']}: model must be a registered"]),
    ("models: [{model: eca_resnet_20, options: 5}]\n", ["model entry eca_resnet_20: options must be a mapping of "
                                                          "model options ({NAME: VALUE}; one of them: options.NAME), "
                                                          "got 5"]),
    ("models: [{model: resnet_20, overrides: [0.1]}]\n", ["model entry resnet_20: overrides must be a mapping"]),
    ("studies: 5\n", ["c.yaml: studies must be a list of study files or {study: PATH, models: [MODEL, ...]} "
                      "entries, got 5"]),
    (MODELS + "defaults: {overrides: 5}\n", ["c.yaml: defaults: overrides must be a mapping of recipe fields "
                                             "({NAME: VALUE}; one of them: overrides.NAME), got 5"]),
    (MODELS + "executor: slurm\n", ["c.yaml: executor must be a mapping, e.g. {kind: slurm, partition: gpu} "
                                    "(keys: kind,", "got 'slurm'"]),
    (MODELS + "executor: {kind: slurm, extra: exclusive}\n", ["executor: extra must be a mapping of sbatch options"]),
    # a number where a file or a name belongs failed as Python's TypeError (Path(5)), or went to sbatch as it was;
    # YAML's true passed as the number 1
    (MODELS + "executor: {epoch_times: 5}\n", ["c.yaml: executor: epoch_times must be text, got 5"]),
    (MODELS + "executor: {kind: slurm, partition: [a]}\n", ["executor: partition must be text, got ['a']"]),
    (MODELS + "executor: {kind: slurm, time_margin: true}\n", ["executor: time_margin must be a number >= 1, got True"]),
    (MODELS + "executor: {kind: slurm, mem_gb: true}\n", ["executor: mem_gb must be a positive number, got True"]),
    # the book showed Python's spelling of it, ['a', 'b']
    (MODELS + "description: [a, b]\n", ["c.yaml: description must be text, got ['a', 'b']; put it in quotes"]),
    (MODELS + "description: 42\n", ["c.yaml: description must be text, got 42"]),
    # the second entry's runs were the first's: one entry listed twice, or one whose settings were lost
    ("models: [resnet_20, {model: resnet_20, options: {}}]\n", ["c.yaml: model entry resnet_20 makes run "
                                                                "c-resnet_20-s0, as an earlier model entry does"]),
    ("models: [resnet_20, {model: resnet_20, epochs: 2}]\n", ["model entry resnet_20 makes run c-resnet_20-s0 with "
                                                              "other settings than model entry resnet_20 (epochs: ",
                                                              "→ 2)", "give the model entry a name: of its own"]),
])
def test_bad_campaign_file_is_one_error_line_and_writes_nothing(tmp_path, capfd, text, parts):
    path = tmp_path / "c.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    args = ["campaign", path, "--dataset", "synthetic", "--runs-root", tmp_path / "runs", "--book", _book(tmp_path)]
    for flag in ("--dry-run", "--no-analysis"):  # the dry run first: a real run that is not refused trains
        _refused(run_cli(capfd, *args, flag), *parts)
    assert _written(tmp_path) == ["c.yaml"]  # no runs, book pages or data folder


def test_more_processes_than_this_machine_has_are_refused_before_the_data_or_the_manifest_is_written(
        tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(launch, "visible_gpus", lambda: 0)
    cpus = os.cpu_count()
    path = tmp_path / "c.yaml"
    path.write_text(MODELS + f"num_processes: {cpus + 1}\ndefaults: {{data_root: {tmp_path / 'data'}}}\n")
    _refused(run_cli(capfd, "campaign", path, "--dataset", "synthetic", "--runs-root", tmp_path / "runs",
                     "--book", _book(tmp_path), "--no-analysis"),
             f"c.yaml: num_processes={cpus + 1} exceeds the {cpus} CPUs of this machine; use 'auto' or at most {cpus}")
    assert _written(tmp_path) == ["c.yaml"]


STUDY = "variants: [{label: a, model: resnet_20}]\n"


@pytest.mark.parametrize("text, parts", [
    # the report reads title and question per language, after every run has trained
    ("title: hello\n" + STUDY, ["s.yaml: title must be a mapping of language to text, {en: TEXT, zh: TEXT}, "
                                "got 'hello'"]),
    ("question: why?\n" + STUDY, ["s.yaml: question must be a mapping of language to text"]),
    ("title: {en: a, fr: b}\n" + STUDY, ["s.yaml: title: unknown key(s) fr; valid keys: en, zh"]),
    ("title: {en: [a]}\n" + STUDY, ["title must be a mapping of language to text, {en: TEXT, zh: TEXT}, got"]),
    ("metric: top5\n" + STUDY, ["unknown key(s) metric; valid keys: study, title"]),  # the report ranks top-1 only
    ("variants: 5\n", ["s.yaml: variants must be a list of mappings", "got 5"]),
    ("variants: [{label: a, model: [resnet_20]}]\n", ["variant 1 (a): model must be a registered model's name"]),
    ("variants: [{label: a, model: resnet_20, label_zh: {x: 1}}]\n", ["variant 1 (a): label_zh must be text"]),
    ("seeds: 1.5\n" + STUDY, ["s.yaml: seeds must be a count or a list of integers", "got 1.5"]),
])
def test_bad_study_file_is_one_error_line_in_a_dry_and_a_real_run_and_writes_nothing(tmp_path, capfd, text, parts):
    (tmp_path / "s.yaml").write_text(text)
    (tmp_path / "c.yaml").write_text("studies: [s.yaml]\n")
    args = ["campaign", tmp_path / "c.yaml", "--dataset", "synthetic", "--runs-root", tmp_path / "runs",
            "--book", _book(tmp_path)]
    for flag in ("--dry-run", "--no-analysis"):  # the dry run first: a real run that is not refused trains
        _refused(run_cli(capfd, *args, flag), *parts)
    assert _written(tmp_path) == ["c.yaml", "s.yaml"]


def test_a_study_variant_sharing_a_model_entrys_run_with_other_settings_is_refused(tmp_path, capfd):
    """The study's plain variant was the model entry's run, trained at the entry's lr, and the study compared it
    with variants trained at the recipe's."""
    (tmp_path / "s.yaml").write_text(STUDY)
    (tmp_path / "c.yaml").write_text("models: [{model: resnet_20, overrides: {lr: 0.05}}]\nstudies: [s.yaml]\n")
    args = ["campaign", tmp_path / "c.yaml", "--dataset", "synthetic", "--runs-root", tmp_path / "runs",
            "--book", _book(tmp_path)]
    for flag in ("--dry-run", "--no-analysis"):
        _refused(run_cli(capfd, *args, flag), "c.yaml: study s variant 'a' makes run c-resnet_20-s0 with other "
                 "settings than model entry resnet_20 (overrides.lr: 0.05 → 0.1)", "give the model entry a name:")
    assert _written(tmp_path) == ["c.yaml", "s.yaml"]
    (tmp_path / "c.yaml").write_text("models: [{model: resnet_20, name: r20, overrides: {lr: 0.05}}]\n"
                                     "studies: [s.yaml]\nstudy_seeds: [0]\n")  # what the error says to do
    assert [r.run_id for r in C.load_campaign(tmp_path / "c.yaml", "synthetic").runs] == ["c-r20-s0", "c-resnet_20-s0"]


@pytest.mark.parametrize("flag, given, parts", [
    ("--book", "README.md", ["--book {tmp}/README.md is not a book folder (it is a file): a book folder is"]),
    ("--book", "README.md/book", ["--book {tmp}/README.md/book is not a book folder (it does not exist)"]),
    ("--runs-root", "README.md", ["--runs-root {tmp}/README.md: {tmp}/README.md is not a folder; give the folder "
                                  "that holds <campaign>/<run> folders"]),
], ids=["book-file", "book-under-a-file", "runs-root-file"])
def test_a_folder_flag_that_names_a_file_is_refused_before_any_run(tmp_path, capfd, flag, given, parts):
    """--book README.md passed the dry run, then failed after every run: README.md/generated: not a directory."""
    (tmp_path / "README.md").write_text("kept\n")
    (tmp_path / "c.yaml").write_text(MODELS)
    folders = {"--runs-root": tmp_path / "runs", "--book": _book(tmp_path), flag: tmp_path / given}
    args = ["campaign", tmp_path / "c.yaml", "--dataset", "synthetic", *[x for kv in folders.items() for x in kv]]
    for more in (["--dry-run"], ["--no-analysis"]):
        _refused(run_cli(capfd, *args, *more), *[p.format(tmp=tmp_path) for p in parts])
    assert _written(tmp_path) == ["README.md", "c.yaml"]
    assert (tmp_path / "README.md").read_text() == "kept\n"


@pytest.mark.parametrize("command, given, kind", [
    ("campaign", "params/tune/resnet56-sgd.yaml", "a tune study, which `cifar100lab tune` runs"),
    ("campaign", "benchmarks/fashion_check.yaml", "a runs file, which `cifar100lab timed-runs` runs"),
    ("tune", "params/ablations/eca_kernel.yaml", "an ablation study, which a campaign runs from its `studies:` list"),
    ("timed-runs", "params/quick.yaml", "a campaign, which `cifar100lab campaign` runs"),
    ("train", "params/quick.yaml", "a campaign, which `cifar100lab campaign` runs"),
    ("campaign", "training.yaml", "a training config, which `cifar100lab train` runs"),
], ids=lambda v: "" if " " in v else v)
def test_a_file_given_to_the_wrong_command_is_named_for_what_it_is(tmp_path, capfd, command, given, kind):
    (tmp_path / "training.yaml").write_text("model: resnet_20\nepochs: 1\nbatch_size: 32\n")
    path = tmp_path / given if given == "training.yaml" else ROOT / given
    _refused(run_cli(capfd, command, path, *(["--dry-run"] if command == "campaign" else [])),
             "unknown key(s)", f"(its keys say it is {kind})")


def test_a_mistyped_key_in_a_campaign_is_not_taken_for_another_kind_of_file(tmp_path, capfd):
    (tmp_path / "c.yaml").write_text("name: c\nseeds: 2\nmodel: [resnet_20]\n")  # models, mistyped
    result = run_cli(capfd, "campaign", tmp_path / "c.yaml", "--dry-run")
    _refused(result, "unknown key(s) model (did you mean models?); valid keys: name")
    assert "its keys say" not in result.stderr


def test_study_whose_name_would_leave_the_book_is_refused(tmp_path, capfd):
    (tmp_path / "s.yaml").write_text("study: ../../../outside\nvariants: [{label: a, model: resnet_20}]\n")
    (tmp_path / "c.yaml").write_text("studies: [s.yaml]\n")
    _refused(run_cli(capfd, "campaign", tmp_path / "c.yaml", "--dry-run", "--runs-root", tmp_path / "runs"),
             "study name '../../../outside' must be a plain name")


def test_yaml_over_the_size_limit_is_refused_saying_the_limit(tmp_path, capfd):
    path = tmp_path / "c.yaml"
    path.write_text(MODELS + "notes: " + "x" * YAML_MAX_BYTES + "\n")
    _refused(run_cli(capfd, "campaign", path, "--dry-run", "--runs-root", tmp_path / "runs"),
             str(path), f"at most {YAML_MAX_BYTES:,} bytes")
    _refused(run_cli(capfd, "train", path), f"at most {YAML_MAX_BYTES:,} bytes")


@pytest.mark.parametrize("pair, parts", [
    ("epochs=[1", ["--set 'epochs=[1' is not valid YAML"]),
    ("epochs", ["--set expects KEY=VALUE", "'epochs'"]),
    ("=3", ["--set expects KEY=VALUE"]),
    ("seed=3", ["--set: seed cannot be set there", "'seeds:'"]),
    ("overrides={lr: 1, lr: 2}", ["'lr' appears twice"]),
    ("lr=0.05", ["--set lr: unknown key; lr is a recipe field", "use --set overrides.lr=VALUE"]),
    ("epoch=3", ["--set epoch: unknown key (did you mean epochs?)"]),
    ("lrr=0.05", ["--set lrr: unknown key (did you mean overrides.lr?)"]),
    ("k_size=5", ["--set k_size: unknown key", "model option as options.KEY"]),
    ("epochs.x=1", ["--set epochs.x: epochs is not a mapping", "--set epochs=VALUE"]),
    ("overrides.lr.x=1", ["one key deep", "--set overrides.lr=VALUE"]),
    ("overrides..lr=1", ["--set expects KEY=VALUE"]),
    ("overrides=3", ["--set: overrides must be a mapping of recipe fields ({NAME: VALUE}; one of them: "
                     "overrides.NAME), got 3"]),
])
def test_bad_set_value_is_one_error_line_in_campaign_and_train(tmp_path, capfd, pair, parts):
    path = tmp_path / "c.yaml"
    path.write_text(MODELS)
    _refused(run_cli(capfd, "campaign", path, "--dry-run", "--set", pair, "--runs-root", tmp_path / "runs"), *parts)
    if "seed" not in pair:  # a single run may choose its seed
        _refused(run_cli(capfd, "train", "--set", pair), *parts[:1])
    assert not (tmp_path / "runs").exists()


def test_an_input_size_the_network_cannot_take_is_refused_before_a_run_folder_is_made(tmp_path, capfd):
    _refused(run_cli(capfd, "train", "--set", "model=mlp_mixer_tiny", "--set", "img_size=48", "--set", "epochs=10",
                     "--set", f"run_dir={tmp_path / 'run'}"), "img_size it runs at: 32 (of")
    assert not (tmp_path / "run").exists()


def test_a_trial_set_by_hand_is_one_error_line_saying_tune_sets_it(tmp_path, capfd):
    _refused(run_cli(capfd, "train", "--set", "trial={a: 1}", "--set", f"run_dir={tmp_path / 'run'}"),
             "trial is set only by `cifar100lab tune`", "leave it out for a run of your own")
    assert not (tmp_path / "run").exists()


def test_train_config_file_that_is_not_utf8_or_has_a_key_twice_is_one_error_line(tmp_path, capfd):
    bad = tmp_path / "run.yaml"
    bad.write_bytes(b"epochs: 1\nnotes: \xff\n")
    _refused(run_cli(capfd, "train", bad), str(bad), "not UTF-8")
    bad.write_text("epochs: 1\nepochs: 2\n")
    _refused(run_cli(capfd, "train", bad), "'epochs' appears twice")


# --- a dry run writes nothing; a refused train command leaves no run folder ------------------------------

@pytest.mark.skipif(not (FASHION_DEBIAN_DIR / "train-images-idx3-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_dry_run_with_missing_data_root_creates_nothing_and_says_where_the_data_will_come_from(tmp_path, capfd):
    data = tmp_path / "nodata"
    path = tmp_path / "c.yaml"
    path.write_text(MODELS + f"defaults: {{epochs: 1, data_root: {data}}}\n")
    result = run_cli(capfd, "campaign", path, "--dataset", "fashion-mnist", "--dry-run",
                     "--runs-root", tmp_path / "runs", "--book", _book(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"data: fashion-mnist not in {data}/FashionMNIST/raw: a real run decompresses it" in result.stdout
    assert "c-resnet_20-s0 new" in result.stdout
    assert _written(tmp_path) == ["c.yaml"]


def test_train_refused_for_missing_data_leaves_no_run_folder(tmp_path, capfd):
    run_dir = tmp_path / "runs" / "default"
    result = run_cli(capfd, "train", "--set", "dataset=cifar100", "--set", f"data_root={tmp_path / 'nodata'}",
                     "--set", "download=false", "--set", "epochs=1", "--set", f"run_dir={run_dir}")
    assert result.returncode == 2 and result.stderr.startswith("error: CIFAR-100 not found"), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_train_into_a_campaigns_own_folder_is_refused_and_its_run_folders_are_not(tmp_path, capfd, synthetic_root):
    """A run_dir that is a campaign's folder would put a run beside its manifest (listed as a run of no
    campaign); the campaign's run folders under it are where its notebooks train."""
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=tmp_path / "runs")
    manifest = C.write_manifest(camp, tmp_path / "runs")
    folder, before = manifest.parent, manifest.read_bytes()
    result = run_cli(capfd, "train", "--set", "dataset=synthetic", "--set", f"data_root={synthetic_root}",
                     "--set", "epochs=1", "--set", f"run_dir={folder}")
    _refused(result, f"run_dir {folder} is the folder of campaign rel (it holds campaign.json)",
             f"python -m cifar100lab campaign {camp.path}")
    assert sorted(p.name for p in folder.iterdir()) == ["campaign.json"] and manifest.read_bytes() == before
    from cifar100lab.train import preflight
    assert preflight(camp.runs[0].plan) is None  # the campaign's own run folder: trained as its notebook does


def _snapshot(folder) -> dict:
    """Every file under ``folder``: its bytes and modification time."""
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("subset, says", [
    ({"train_subset": 2000}, "train_subset 2000 is more than the 1024 training images of synthetic in"),
    ({"test_subset": 301}, "test_subset 301 is more than the 300 test images of synthetic in"),
])
def test_a_subset_larger_than_the_dataset_stops_a_campaign_before_its_first_run_and_leaves_its_runs(
        tmp_path, capfd, synthetic_root, subset, says):
    """The campaign trained before (its manifest and a run's record are there); asked again for more images than
    the data holds, it says so before any run starts, and every file it wrote stays as it was."""
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=tmp_path / "runs")
    folder = C.write_manifest(camp, tmp_path / "runs").parent
    records.save(camp.runs[0].run_dir, records.finish(records.start(camp.runs[0].run_dir,
                                                                    config=camp.runs[0].config.to_dict())))
    before = _snapshot(folder)
    path = _campaign(tmp_path, synthetic_root, **subset)
    for flag in ("--dry-run", "--no-analysis"):
        _refused(run_cli(capfd, "campaign", path, "--runs-root", tmp_path / "runs", "--book", _book(tmp_path), flag),
                 f"rel.yaml, run rel-resnet_20-s0: {says} {synthetic_root}; give at most",
                 "or leave it out for all of them")
    assert _snapshot(folder) == before


def test_a_subset_larger_than_the_dataset_is_refused_by_train_and_the_notebooks_launch_before_a_run_folder(
        tmp_path, capfd, synthetic_root):
    from conftest import tiny_config

    from cifar100lab.config import ConfigError
    _refused(run_cli(capfd, "train", "--set", "dataset=synthetic", "--set", f"data_root={synthetic_root}",
                     "--set", "train_subset=1025", "--set", f"run_dir={tmp_path / 'run'}"),
             "train_subset 1025 is more than the 1024 training images")
    with pytest.raises(ConfigError, match="test_subset 500 is more than the 300 test images"):  # the train notebook
        launch.run(tiny_config(synthetic_root, tmp_path / "run", test_subset=500), num_processes=1)
    assert not (tmp_path / "run").exists()


def test_a_tune_study_whose_validation_split_holds_no_image_is_refused_before_its_storage_is_made(tmp_path, capfd):
    """A trial is judged on the validation split alone: one of no image had nothing to report."""
    study = tmp_path / "s.yaml"
    study.write_text("study: s\nmodel: resnet_20\ndataset: fashion-mnist\ndefaults: {epochs: 2, batch_size: 2, "
                     "train_subset: 3, val_fraction: 0.1}\nsearch: {lr: {low: 0.01, high: 0.1}}\nn_trials: 1\n")
    _refused(run_cli(capfd, "tune", study, "--runs-root", tmp_path / "runs"),
             "s.yaml: val_fraction 0.1 holds out none of the 3 training images")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["train", "timed-runs"])
def test_a_data_root_that_is_a_file_is_one_line_saying_so_not_a_damaged_dataset(tmp_path, capfd, command):
    not_a_folder = tmp_path / "README.md"
    not_a_folder.write_text("# notes\n")
    base = {"model": "resnet_20", "dataset": "fashion-mnist", "epochs": 1, "batch_size": 32}
    (tmp_path / "runs.yaml").write_text(f"base: {base}\n")
    args = (["train", "--set", "dataset=fashion-mnist", "--set", "epochs=1", "--set", f"data_root={not_a_folder}",
             "--set", f"run_dir={tmp_path / 'run'}"] if command == "train" else
            ["timed-runs", tmp_path / "runs.yaml", "--data-root", not_a_folder])
    _refused(run_cli(capfd, *args), f"data_root {not_a_folder} is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "runs.yaml"]


@pytest.mark.parametrize("args, says", [
    (["train", "--set", "dataset=synthetic", "--set", "epochs=1", "--set", "run_dir={file}"],
     "run_dir {file} is a file, not a folder"),
    (["train", "--set", "dataset=synthetic", "--set", "epochs=1", "--set", "run_dir={file}/run"],
     "run_dir {file}/run cannot be made: {file} is a file, not a folder"),
    (["evaluate", "{file}"], "{file} is not a checkpoint (neither the zip archive nor the pickle"),
    (["export", "{file}"], "{file} is not a checkpoint (neither the zip archive nor the pickle"),
    (["runs", "--runs-root", "{file}"], "runs folder {file} is a file, not a folder"),
], ids=["train-run_dir", "train-run_dir-inside", "evaluate", "export", "runs"])
def test_a_file_given_where_a_folder_or_checkpoint_belongs_is_named_for_what_it_is(tmp_path, capfd, args, says):
    file = tmp_path / "README.md"
    file.write_text("# notes\n")
    result = run_cli(capfd, *[a.format(file=file) for a in args], *(
        ["--set", f"data_root={tmp_path / 'data'}"] if args[0] == "train" else []))
    _refused(result, says.format(file=file))
    assert "could run code" not in result.stderr and "Errno" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"] and file.read_text() == "# notes\n"


# --- damaged run records --------------------------------------------------------------------------------

DAMAGE = {"garbage": b"\x00\x9f garbage", "truncated": b'{"status": "comp', "empty": b"",
          "not a mapping": b'["complete"]', "bad status": b'{"status": 42}'}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_record_is_named_and_reported_while_the_other_runs_go_on(tmp_path, synthetic_root, monkeypatch,
                                                                         capfd, damage):
    runs, calls = tmp_path / "runs", []
    path = _campaign(tmp_path, synthetic_root)
    camp = C.load_campaign(path, runs_root=runs)
    damaged = camp.runs[0]
    damaged.run_dir.mkdir(parents=True)
    (damaged.run_dir / records.RECORD).write_bytes(DAMAGE[damage])
    with pytest.raises(records.RecordError, match=f"{damaged.run_dir / records.RECORD} is damaged"):
        records.load(damaged.run_dir)
    args = ["campaign", path, "--runs-root", runs, "--book", _book(tmp_path), "--no-analysis"]
    dry = run_cli(capfd, *args, "--dry-run")
    assert dry.returncode == 0 and f"{damaged.run_id} damaged ({damaged.run_dir / records.RECORD} is damaged" in dry.stdout
    monkeypatch.setattr(local, "execute_notebook", _fake_execute(calls))
    result = run_cli(capfd, *args)
    assert result.returncode == 1 and calls == [camp.runs[1].run_id]  # the other run ran
    assert f"{damaged.run_id}: damaged, not run: {damaged.run_dir / records.RECORD} is damaged" in result.stdout
    assert (damaged.run_dir / records.RECORD).read_bytes() == DAMAGE[damage]  # kept for whoever looks at it
    assert run_cli(capfd, *args, "--force").returncode == 0 and damaged.run_id in calls  # moved aside, re-run
    assert list(runs.glob(f"rel/{damaged.run_id}.replaced-*/{records.RECORD}"))


def test_report_and_slurm_status_name_a_damaged_record_and_read_the_others(tmp_path, synthetic_root):
    runs = tmp_path / "runs"
    camp = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs)
    bad, good = camp.runs
    records.save(good.run_dir, records.finish(records.start(good.run_dir, run_id=good.run_id,
                                                                   config=good.config.to_dict())))
    bad.run_dir.mkdir(parents=True)
    (bad.run_dir / records.RECORD).write_text("{")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [r["run_id"] for r in records.load_records(runs)] == [good.run_id]
    assert any(str(bad.run_dir / records.RECORD) in str(w.message) for w in caught)
    states = slurm.campaign_states(camp, runs, {"runs": {}})  # no job ids: Slurm is not asked
    assert states[good.run_id]["state"] == "complete" and states[bad.run_id]["state"] == "damaged"
    assert str(bad.run_dir / records.RECORD) in states[bad.run_id]["reason"]


# --- stale: resolved plans, not spellings --------------------------------------------------------------

def test_override_equal_to_the_recipes_own_value_is_not_stale_and_a_different_one_is(tmp_path, synthetic_root):
    runs = tmp_path / "runs"
    run = C.load_campaign(_campaign(tmp_path, synthetic_root), runs_root=runs).runs[0]
    assert run.plan.recipe.lr == 0.1 and run.plan.recipe_name == "resnet_sgd"
    records.save(run.run_dir, records.finish(records.start(run.run_dir, config=run.config.to_dict())))
    for same in ({"overrides": {"lr": 0.1}}, {"overrides": {"lr": 0.1, "momentum": 0.9}}, {"recipe": "resnet_sgd"}):
        again = C.load_campaign(_campaign(tmp_path, synthetic_root, **same), runs_root=runs).runs[0]
        assert stale_fields(again) == [] and describe(again) == "complete", same
    changed = C.load_campaign(_campaign(tmp_path, synthetic_root, overrides={"lr": 0.2}), runs_root=runs).runs[0]
    assert stale_fields(changed) == ["overrides: {} → {'lr': 0.2}"]


# --- damaged dataset archives --------------------------------------------------------------------------

@pytest.mark.parametrize("archive, cause", [
    (b"this is not gzip", "BadGzipFile"),
    (gzip.compress(b"\x00" * 4096, mtime=0)[:30], "EOFError"),
], ids=["not-gzip", "truncated-gzip"])  # ids that are the same at every collection (pytest-xdist compares them)
def test_damaged_dataset_archive_is_named_with_its_md5_and_the_fix(tmp_path, capfd, archive, cause):
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FASHION_MD5:
        (raw / f"{name}.gz").write_bytes(archive)
    path = tmp_path / "c.yaml"
    path.write_text(MODELS + f"defaults: {{data_root: {tmp_path / 'data'}}}\n")
    result = run_cli(capfd, "campaign", path, "--dataset", "fashion-mnist", "--runs-root", tmp_path / "runs",
                     "--no-analysis")
    first = next(iter(FASHION_MD5))
    _refused(result, f"{raw / first}.gz is damaged ({cause}", f"md5 {FASHION_MD5[first]}", "delete it and run again")
    assert not (tmp_path / "runs").exists() and sorted(p.name for p in raw.iterdir()) == sorted(
        f"{n}.gz" for n in FASHION_MD5)  # nothing half-written beside them
