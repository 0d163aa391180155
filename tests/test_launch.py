import torch

from cifar100lab import launch
from cifar100lab.train import evaluate_checkpoint
from conftest import tiny_config


def test_auto_process_count_without_touching_cuda():
    assert launch.choose_processes("auto") == max(1, torch.cuda.device_count())
    assert not torch.cuda.is_initialized()


def test_two_process_gloo_run_is_one_job_evaluating_every_sample_once(synthetic_root, tmp_path):
    cfg = tiny_config(synthetic_root, tmp_path / "ddp", epochs=1, batch_size=32, precision="fp32")
    rec = launch.run(cfg, num_processes=2)
    assert rec["status"] == "complete"
    assert rec["hardware"]["count"] == 2 and "MULTI_CPU" in rec["hardware"]["distributed"]
    assert rec["final"]["evaluated"] == 300  # the test set has 300 images: each counted once
    assert rec["recipe"]["global_batch"] == 64 and rec["recipe"]["effective_lr"] == 0.1  # 0.05 × 2
    single = evaluate_checkpoint(tmp_path / "ddp" / "checkpoint.pt")
    assert single["evaluated"] == 300
    assert abs(single["top1"] - rec["final"]["top1"]) <= 100 / 300 + 1e-9  # at most one borderline sample
