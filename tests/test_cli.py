"""The command line's one way to refuse: a command raises a user error, ``cli.main`` prints one ``error:`` line
and exits 2."""
import re

import pytest
from conftest import ROOT, run_cli


def test_synth_onto_a_file_is_one_error_line_not_a_traceback(tmp_path, capfd):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    proc = run_cli(capfd, "synth", "--root", taken, "--train-size", 10, "--test-size", 10)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert str(taken) in proc.stderr and taken.read_text() == "keep me"


@pytest.mark.parametrize("flag, value, least", [("--train-size", 0, 1), ("--test-size", 0, 1), ("--train-size", -5, 1),
                                               ("--num-classes", 0, 2), ("--num-classes", 1, 2)])
def test_synth_sizes_below_what_a_dataset_needs_are_argparse_errors_and_write_nothing(tmp_path, capfd, flag, value,
                                                                                      least):
    """Each was a torch RuntimeError traceback, after the data folder was made."""
    proc = run_cli(capfd, "synth", "--root", tmp_path / "data", flag, value)
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1] == (
        f"cifar100lab synth: error: argument {flag}: must be at least {least}, got {value}"), proc.stderr
    assert not (tmp_path / "data").exists()


def test_check_with_a_missing_config_is_one_error_line_naming_it(tmp_path, capfd):
    missing = tmp_path / "none.yaml"
    proc = run_cli(capfd, "check", "fork", missing, "--out", tmp_path / "fork.json")
    assert proc.returncode == 2 and proc.stderr == f"error: check config file {missing} does not exist\n"
    assert not (tmp_path / "fork.json").exists()


def test_a_mistyped_campaign_file_is_named_with_the_file_beside_it_that_was_meant(tmp_path, capfd):
    (tmp_path / "quick.yaml").write_text("models: [resnet_20]\n")
    proc = run_cli(capfd, "campaign", tmp_path / "quik.yaml", "--dry-run", "--runs-root", tmp_path / "runs")
    assert proc.returncode == 2 and proc.stderr == (
        f"error: campaign file {tmp_path / 'quik.yaml'} does not exist (did you mean {tmp_path / 'quick.yaml'}?)\n")
    assert not (tmp_path / "runs").exists()


def test_a_campaign_file_that_is_a_folder_is_called_a_folder_not_missing(tmp_path, capfd):
    (tmp_path / "params").mkdir()
    proc = run_cli(capfd, "campaign", tmp_path / "params", "--dry-run", "--runs-root", tmp_path / "runs")
    assert proc.returncode == 2 and proc.stderr == (
        f"error: campaign file {tmp_path / 'params'} is a folder; give the path of a YAML file\n")
    assert not (tmp_path / "runs").exists()


BOOK = ("a book folder is a Jupyter Book's source folder, the one that holds _toc.yml; give one (default: book)")


@pytest.mark.parametrize("given, why", [("boko", "it does not exist"), ("notes.md", "it is a file"),
                                        ("empty", "it holds no _toc.yml")])
@pytest.mark.parametrize("command", ["campaign", "tune", "robustness", "book"])
def test_every_command_refuses_a_book_flag_that_is_no_book_before_any_work(tmp_path, capfd, command, given, why):
    """A typo'd --book, a file or a folder without _toc.yml passed the campaign, tune and robustness commands:
    they ran, wrote their pages into it, and only `book` afterwards said it was no book."""
    (tmp_path / "notes.md").write_text("kept\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "c.yaml").write_text("models: [resnet_20]\n")
    (tmp_path / "camp").mkdir()
    args = {"campaign": ["c.yaml", "--dataset", "synthetic", "--dry-run", "--runs-root", tmp_path / "runs"],
            "tune": [ROOT / "params/tune/resnet56-sgd.yaml", "--runs-root", tmp_path / "runs"],
            "robustness": [tmp_path / "camp"], "book": []}[command]
    proc = run_cli(capfd, command, *[tmp_path / a if a == "c.yaml" else a for a in args], "--book", tmp_path / given)
    assert proc.returncode == 2 and proc.stderr == (
        f"error: --book {tmp_path / given} is not a book folder ({why}): {BOOK}\n") and proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "camp", "empty", "notes.md"]
    assert not any((tmp_path / "camp").iterdir()) and (tmp_path / "notes.md").read_text() == "kept\n"


def test_a_campaign_outside_a_project_takes_the_default_book_folder_it_makes(tmp_path, capfd, monkeypatch):
    """A wheel install runs campaigns from a folder of its own, without the repository's book: the default --book
    is made there as it always was, and only a --book the user names must be a book already."""
    (tmp_path / "c.yaml").write_text("models: [resnet_20]\n")
    monkeypatch.chdir(tmp_path)
    proc = run_cli(capfd, "campaign", tmp_path / "c.yaml", "--dataset", "synthetic", "--dry-run", "--runs-root",
                   tmp_path / "runs")
    assert proc.returncode == 0 and "c-resnet_20-s0 new" in proc.stdout, proc.stderr
    (tmp_path / "book").write_text("a file\n")
    proc = run_cli(capfd, "campaign", tmp_path / "c.yaml", "--dataset", "synthetic", "--dry-run")
    assert proc.returncode == 2 and "--book book: book is not a folder" in proc.stderr


def test_every_settings_file_a_commands_help_gives_as_an_example_exists(monkeypatch):
    """`tune --help` once gave params/tune/resnet20-lr.yaml, a file the repository never had."""
    from cifar100lab.cli import build_parser
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps help at the terminal's width, which may split a path
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a.choices, dict)).choices
    texts = [parser.format_help(), *(c.format_help() for c in commands.values())]
    named = set(re.findall(r"[\w./-]+\.ya?ml\b", " ".join(texts)))
    assert {"params/tune/resnet56-sgd.yaml", "params/quick.yaml"} <= named  # the pattern finds them
    assert not [path for path in sorted(named) if not (ROOT / path).is_file()]


def test_a_dry_run_says_what_the_same_command_does_with_force_retry_skipped_and_a_killed_run(tmp_path, capfd):
    """`--dry-run --force` said 'complete' of runs that --force moves aside and trains again, `--dry-run
    --retry-skipped` said 'skipped' of runs it tries again, and a run whose campaign was killed said 'running'
    where `runs` says interrupted."""
    import socket

    from cifar100lab import locks, records
    from cifar100lab.campaign import load_campaign
    (tmp_path / "c.yaml").write_text("models: [resnet_20, resnet_32, eca_resnet_20]\n")
    done, skipped, killed = load_campaign(tmp_path / "c.yaml", "synthetic", runs_root=tmp_path / "runs").runs
    for run, end in ((done, records.finish), (skipped, lambda r: records.skip(r, "no weights here")), (killed, None)):
        started = records.start(run.run_dir, run_id=run.run_id, config=run.config.to_dict())
        records.save(run.run_dir, end(started) if end else started)
    (killed.run_dir / locks.TRAINING_LOCK).write_text(f"pid 999999999 on {socket.gethostname()} since 2026-01-01\n")

    def said(*flags) -> dict[str, str]:
        proc = run_cli(capfd, "campaign", tmp_path / "c.yaml", "--dataset", "synthetic", "--runs-root",
                       tmp_path / "runs", "--dry-run", *flags)
        assert proc.returncode == 0, proc.stderr
        return dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith("c-"))

    plain = said()
    assert (plain[done.run_id], plain[skipped.run_id]) == ("complete", "skipped")
    assert plain[killed.run_id].startswith("interrupted (its training process (pid 999999999 on"), plain
    assert said("--force") == {
        done.run_id: "complete, re-run from the start (--force; its folder is moved aside)",
        skipped.run_id: "skipped, re-run from the start (--force; its folder is moved aside)",
        killed.run_id: "interrupted, re-run from the start (--force; its folder is moved aside)"}
    assert said("--retry-skipped")[skipped.run_id] == "skipped, tried again (--retry-skipped)"
    assert sorted(p.name for p in (tmp_path / "runs" / "c").iterdir()) == sorted(
        r.run_id for r in (done, skipped, killed))  # a dry run writes nothing


@pytest.mark.parametrize("flags, says", [
    (["--force"], "error: --force: nothing to do with --status, which only reports each run's state; drop it, or "
                  "drop --status to run the campaign (with --dry-run first to see what it would do)"),
    (["--retry-skipped", "--jobs", "2"], "error: --retry-skipped, --jobs: nothing to do with --status"),
    (["--executor", "slurm", "--retry-failed", "--partition", "gpu"], "error: --retry-failed, --partition: nothing"),
    (["--runs-per-gpu", "2"], "error: --runs-per-gpu: nothing to do with --status"),
    (["--dry-run"], "error: give --status (each run's state, and its Slurm job) or --dry-run (what the campaign "
                    "would do), not both"),
], ids=["force", "retry-skipped-jobs", "slurm-retry-partition", "runs-per-gpu", "dry-run"])
def test_a_flag_that_does_nothing_with_status_is_one_error_line_not_dropped_unsaid(tmp_path, capfd, flags, says):
    """`campaign c.yaml --status --force` reported the states and exit 0, as if --force had been taken."""
    (tmp_path / "c.yaml").write_text("models: [resnet_20]\n")
    proc = run_cli(capfd, "campaign", tmp_path / "c.yaml", "--dataset", "synthetic", "--runs-root", tmp_path / "runs",
                   "--no-analysis", "--status", *flags)
    assert proc.returncode == 2 and proc.stderr.startswith(says) and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "runs").exists()
    assert run_cli(capfd, "campaign", tmp_path / "c.yaml", "--dataset", "synthetic", "--runs-root", tmp_path / "runs",
                   "--no-analysis", "--status").returncode == 0  # --status alone reports, as before
