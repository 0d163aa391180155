"""The Performance page explains its own numbers from the records: one setup measured at two speeds, and a
target that names another GPU than the record's."""
from cifar100lab import records, report

CPU = "Intel(R) Xeon(R) Processor (2 logical CPUs)"


def _run(label: str, ips: float, epochs: list[float], batch: int = 64, seed: int = 0) -> dict:
    cfg = {"model": "resnet_20", "options": {}, "dataset": "fashion-mnist", "train_subset": 10000, "epochs": 3,
           "batch_size": batch, "channels_last": True, "compile": False, "fused_optimizer": False, "recipe": None,
           "augment": True, "overrides": {}, "seed": seed}
    return {"label": label, "status": "complete", "config": cfg, "hardware": {"precision": "bf16"},
            "final": {"top1": 80.0, "top5": 99.0}, "wall_seconds": sum(epochs), "images_per_second": ips,
            "epoch_seconds": epochs, "dataset": {"name": "fashion-mnist"}}


def _record(title: str, runs: list[dict], device: str = CPU, when: str = "2026-11-28T05:42:23", commit: str = "4c256eb9",
            description: str = "ResNet-20 on 10,000 images.") -> dict:
    return {"kind": "runs", "device": device, "device_type": "cpu" if device == CPU else "cuda", "torch_threads": 2,
            "title": {"en": title, "zh": title}, "description": {"en": description, "zh": description},
            "file": "benchmarks/x.yaml", "versions": {"torch": "2.x"}, "git_commit": commit, "measured": when,
            "runs": runs}


def _pages(tmp_path, *found: dict) -> tuple[str, str]:
    bench = tmp_path / "bench"
    for i, r in enumerate(found):
        records.atomic_write_json(bench / f"r{i}.json", r)
    report.write_performance_page(bench, tmp_path / "gen", tmp_path / "runs")
    return ((tmp_path / "gen" / f"performance_{lang}.md").read_text(encoding="utf-8") for lang in ("en", "zh"))


def test_one_setup_at_two_speeds_is_explained_by_the_two_measurements_not_left_unexplained(tmp_path):
    fast = _record("Speed switches", [_run("bf16, channels_last (default)", 645.0, [19.5, 18.6, 18.7]),
                                      _run("bf16, seed 1", 726.0, [17.0, 17.1, 17.2], seed=1),
                                      _run("batch 128", 700.0, [17.0, 17.1, 17.2], batch=128)])
    slow = _record("Regularisation", [_run("default recipe", 30.0, [857.6, 219.6, 366.9])],
                   when="2026-11-29T23:49:52", commit="e63ac7f1")
    en, zh = _pages(tmp_path, fast, slow)
    assert ('The same resnet_20 setup (bf16, channels_last, batch 64, 10,000 images × 3 epochs, 2 threads) appears as '
            '"default recipe" here at 30 img/s and as "bf16, channels_last (default)" in "Speed switches" at 645 img/s. '
            'They are different measurements (2026-11-29 and 2026-11-28, commits e63ac7f and 4c256eb), not different '
            'settings; within this run one epoch took 220–858 s (3.9× apart)') in en
    assert en.count("The same resnet_20 setup") == 1  # on the slower record only, once
    assert "相同的 resnet_20 设置" in zh and "相差 3.9×" in zh


def test_runs_of_different_setups_or_similar_speeds_get_no_such_note(tmp_path):
    a = _record("A", [_run("batch 64", 645.0, [19.0, 19.0, 19.0])])
    b = _record("B", [_run("batch 128", 30.0, [100.0, 100.0, 100.0], batch=128),  # another setup
                      _run("batch 64", 600.0, [20.0, 20.0, 20.0])])  # the same setup at a similar speed
    en, _ = _pages(tmp_path, a, b)
    assert "The same resnet_20 setup" not in en


def test_a_target_naming_another_gpu_says_the_record_speaks_for_its_own_gpu_only(tmp_path):
    target = "ResNet-20 for 200 epochs. Target: ≤ 4 minutes on one H100."
    h200 = _record("200 epochs", [_run("bf16", 50000.0, [1.0, 1.0, 1.0])], device="NVIDIA H200", description=target)
    en, zh = _pages(tmp_path, h200)
    assert ("The target above names an H100; this record ran on an NVIDIA H200 (the record's GPU), so it shows the "
            "time on an NVIDIA H200, not whether an H100 meets the target.") in en
    assert "上文的目标针对 H100；本记录在 NVIDIA H200 上测得" in zh
    h100 = _record("200 epochs", [_run("bf16", 50000.0, [1.0, 1.0, 1.0])], device="NVIDIA H100 80GB HBM3",
                   description=target)
    en, _ = _pages(tmp_path / "h100", h100)
    assert "The target above names" not in en
