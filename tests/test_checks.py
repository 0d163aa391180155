"""The GPU acceptance checks (benchmarks/gpu_check.sh) run here on the CPU, and the kernel policy switch."""
import subprocess
import sys

import pytest
import torch
import yaml
from conftest import ROOT, run_cli, tiny_config

from cifar100lab import records
from cifar100lab.accelerator import set_kernel_policy
from cifar100lab.config import resolve
from cifar100lab.train import preflight, train


@pytest.fixture
def restore_kernel_policy():
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(before[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[1:]


def test_deterministic_switch_sets_kernels_and_the_record_says_which(restore_kernel_policy, synthetic_root, tmp_path,
                                                                     monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    fast = set_kernel_policy(False)
    assert torch.backends.cudnn.benchmark and not torch.are_deterministic_algorithms_enabled()
    assert fast["deterministic"] is False and fast["cudnn_benchmark"] is True
    rec = train(tiny_config(synthetic_root, tmp_path / "det", epochs=1, max_steps_per_epoch=2, deterministic=True))
    assert rec["kernels"]["deterministic"] is True and rec["kernels"]["cudnn_benchmark"] is False
    assert rec["kernels"]["cublas_workspace_config"] == ":4096:8"
    assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    assert not torch.backends.cudnn.benchmark and rec["kernels"]["tf32"] is True


def test_fork_check_passes_after_kernel_side_preparation(synthetic_root, tmp_path):
    """The check as gpu_check.sh runs it: a fresh process prepares as a kernel does, forks, and the child
    makes a tensor."""
    config_file, out = tmp_path / "fork.yaml", tmp_path / "fork.json"
    config_file.write_text(yaml.safe_dump(tiny_config(synthetic_root, tmp_path / "fork")))
    proc = subprocess.run([sys.executable, "-m", "cifar100lab", "check", "fork", str(config_file), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = yaml.safe_load(out.read_text())
    assert result["passed"] and result["child"] == "bad_fork=False device=cpu sum=2.0"


def test_resume_check_kills_a_real_run_and_finds_identical_curves(synthetic_root, tmp_path, capfd):
    # three real processes train this run (straight, killed, resumed): batches of 32 and 64 test images keep each
    # cheap, and 4 steps an epoch leave two epochs after the first checkpoint for the kill to land in
    cfg = tiny_config(synthetic_root, tmp_path / "unused", epochs=3, max_steps_per_epoch=4, deterministic=True,
                      batch_size=32, test_subset=64)
    config_file = tmp_path / "check.yaml"
    config_file.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "resume.json"
    # an earlier check's run, complete, left in the work dir: found "already complete", it would train nothing
    earlier = resolve({**cfg, "run_dir": str(tmp_path / "work" / "resume" / "straight"), "run_id": "straight"})
    records.save(earlier.config.run_dir, records.finish(records.start(
        earlier.config.run_dir, run_id="straight", config=earlier.config.to_dict())))
    assert preflight(earlier)["status"] == "complete"  # what a train of these settings there would find
    (tmp_path / "work" / "resume" / "straight.yaml").write_text(yaml.safe_dump(earlier.config.to_dict()))
    # the check's own process is this one (its runs are real processes); one torch import fewer than a child
    proc = run_cli(capfd, "check", "resume", config_file, "--work-dir", tmp_path / "work", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = yaml.safe_load(out.read_text())
    assert result["passed"] and result["killed_mid_run"] and result["resumed_from_epoch"] in (1, 2)
    assert len(result["curves"]["straight"]) == 3
    assert "nothing trained" not in (tmp_path / "work" / "resume" / "straight.log").read_text()


def test_resume_check_refuses_a_work_dir_holding_runs_it_did_not_make(synthetic_root, tmp_path, capfd):
    cfg = tiny_config(synthetic_root, tmp_path / "unused", epochs=2)
    config_file = tmp_path / "check.yaml"
    config_file.write_text(yaml.safe_dump(cfg))
    theirs = tmp_path / "work" / "resume" / "straight"
    theirs.mkdir(parents=True)
    (theirs / "record.json").write_text("{}")
    proc = run_cli(capfd, "check", "resume", config_file, "--work-dir", tmp_path / "work")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{theirs} was not made by `check resume`" in proc.stderr and "pass another --work-dir" in proc.stderr
    assert sorted(p.name for p in theirs.parent.iterdir()) == ["straight"] and (theirs / "record.json").exists()


def test_resume_check_that_fails_says_why(tmp_path, capfd):
    # no data where the config points: the runs fail, and the record and the output carry the runs' error
    cfg = {"model": "resnet_20", "dataset": "cifar100", "data_root": str(tmp_path / "empty"), "download": False,
           "epochs": 2, "batch_size": 16}
    config_file = tmp_path / "check.yaml"
    config_file.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "resume.json"
    proc = run_cli(capfd, "check", "resume", config_file, "--work-dir", tmp_path / "work", "--out", out)
    result = yaml.safe_load(out.read_text())
    assert proc.returncode == 1 and not result["passed"]
    assert "CIFAR-100" in result["errors"]["straight"] and "the straight run failed" in proc.stderr


def test_performance_page_lists_the_acceptance_checks_in_both_languages(tmp_path):
    from cifar100lab import records
    from cifar100lab.report.performance import write_performance_page
    records.atomic_write_json(tmp_path / "bench" / "gpu-X-resume.json", {
        "check": "resume", "passed": True, "hardware": {"device": "NVIDIA H200"}, "created": "2026-11-29"})
    write_performance_page(tmp_path / "bench", tmp_path / "out")
    en, zh = ((tmp_path / "out" / f"performance_{lang}.md").read_text() for lang in ("en", "zh"))
    assert "- **resume** (a deterministic run killed" in en and "passed on NVIDIA H200, 2026-11-29." in en
    assert "在 NVIDIA H200 上通过" in zh


def test_resume_check_refuses_a_config_whose_first_checkpoint_is_its_last(synthetic_root, tmp_path, capfd):
    """With checkpoint_every 2 of 2 epochs the run was killed as it ended, after its only checkpoint: the resume
    found it "already complete, nothing trained" and the check said passed (killed_mid_run true), testing nothing."""
    cfg = tiny_config(synthetic_root, tmp_path / "unused", epochs=2, checkpoint_every=2, max_steps_per_epoch=4,
                      deterministic=True, batch_size=32, test_subset=64)
    config_file = tmp_path / "check.yaml"
    config_file.write_text(yaml.safe_dump(cfg))
    proc = run_cli(capfd, "check", "resume", config_file, "--work-dir", tmp_path / "work")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "needs a checkpoint before the last epoch" in proc.stderr and not (tmp_path / "work").exists()
