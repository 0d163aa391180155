"""The Performance page explains its own numbers from the records: one setup measured at two speeds, and a
target that names another GPU than the record's."""
import pandas as pd

from cifar100lab import records, report
from cifar100lab.report.sources import REFERENCE

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


def test_a_failed_variant_says_why_in_either_language(tmp_path):
    failed = {**_run("compile reduce-overhead", 0.0, []), "status": "failed", "final": None, "images_per_second": None,
              "reason": "loss became nan in epoch 2; lower the learning rate (0.1) or check the data"}
    en, zh = _pages(tmp_path, _record("Switches", [_run("plain", 645.0, [19.0]), failed]))
    assert ("| compile reduce-overhead | failed: loss became nan in epoch 2; lower the learning rate (0.1) or check "
            "the data | – |") in en and "| plain | complete | 80.00 |" in en
    assert "| compile reduce-overhead | 失败：损失在第 2 个 epoch 变为 nan" in zh and "| plain | 完成 |" in zh


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


H200 = "NVIDIA H200"


def _pack_record(speedups: dict[int, float]) -> dict:
    one = 8915.0
    rows = [{"runs": k, "aggregate_images_per_second": one * s, "aggregate_speedup": s, "shared_run_slowdown": k / s}
            for k, s in speedups.items()]
    return {"kind": "packing", "device": H200, "device_type": "cuda", "model": "resnet_20", "batch_size": 128,
            "steps": 100, "warmup": 10, "rows": rows, "versions": {"torch": "2.x"}, "git_commit": "ad18e03de275",
            "measured": "2026-12-04T15:48:03+00:00"}


def test_several_runs_on_one_gpu_are_tabled_and_the_8_run_target_is_judged_from_the_record(tmp_path):
    en, zh = _pages(tmp_path, _pack_record({1: 1.0, 2: 1.97, 4: 4.3, 8: 5.074}))
    assert "## Several runs on one GPU" in en and "## 一块 GPU 上同时运行多次训练" in zh
    assert "| Runs on the GPU | Total img/s | Speed-up over one run | Slowdown per run |" in en
    assert "| 8 | 45,235 | 5.07× | 1.58× |" in en and "| 1 | 8,915 | 1.00× | 1.00× |" in en
    assert ("The project's GPU packing target is 8 resnet_20 runs sharing one H200 at ≥ 3× the aggregate throughput "
            "of one run: met (5.07×).") in en
    assert "measured 2026-12-04 with torch 2.x, commit ad18e03." in en
    assert "合计吞吐量达到单次运行的 ≥ 3×：达到（5.07×）" in zh
    en, zh = _pages(tmp_path / "slow", _pack_record({1: 1.0, 8: 2.5}))
    assert "of one run: not met (2.50×)." in en and "未达到（2.50×）" in zh
    en, _ = _pages(tmp_path / "no8", _pack_record({1: 1.0, 4: 3.9}))
    assert "of one run: not measured (this record has no row with 8 runs)." in en
    graphed = {**_pack_record({1: 1.0, 8: 2.5}), "cuda_graph": True}
    en, zh = _pages(tmp_path / "graph", graphed)
    assert "**NVIDIA H200** — resnet_20 at batch 128, each run's step as one CUDA graph, 100 timed" in en
    assert "批大小 128，每次运行的训练步作为一个 CUDA 图" in zh
    assert "each run's step as one CUDA graph" not in next(_pages(tmp_path / "eager", _pack_record({1: 1.0})))


def test_the_h200_packing_target_is_not_judged_met_from_another_gpus_record(tmp_path):
    """The target names an H200: an H100's 5.0× at 8 runs was called "met (5.00×)", where the run and protocol
    targets already judge only a record of the GPU they name."""
    h100 = {**_pack_record({1: 1.0, 8: 5.0}), "device": "NVIDIA H100 80GB HBM3"}
    en, zh = _pages(tmp_path, h100)
    assert ("of one run: not judged here: this record ran on an NVIDIA H100 80GB HBM3, not an H200 (5.00× there).") in en
    assert "met (5.00×)" not in en and "此处不作判断：本记录在 NVIDIA H100 80GB HBM3 上测得，而非 H200（该设备上为 5.00×）" in zh


WHERE = """Traceback (most recent call last):
  File "/work/main/benchmarks/sync_check.py", line 47, in check
    totals = train_steps(network, batches, range(4))
  File "/work/main/cifar100lab/data/pipeline.py", line 83, in augment
    return torch.cat([transform(group) for group in xb.split(POLICY_GROUP)])
  File "/opt/venv/lib/python3.12/site-packages/torchvision/transforms/v2/functional/_geometry.py", line 931, in affine_image
    theta = torch.tensor(matrix, dtype=dtype, device=image.device).reshape(1, 2, 3)
RuntimeError: called a synchronizing CUDA operation
"""


def test_the_sync_check_says_which_features_passed_and_where_a_failing_one_made_the_host_wait(tmp_path):
    sync = {"kind": "sync_check", "device": H200, "measured": "2026-12-04T15:46:03+00:00",
            "features": {"plain": {"ok": True, "images": 512.0},
                         "randaugment-erasing": {"ok": False, "where": WHERE,
                                                 "error": "RuntimeError: called a synchronizing CUDA operation\nmore"}}}
    en, zh = _pages(tmp_path, sync)
    assert "## A training step that never waits on the host" in en and "## 从不让主机等待的训练步" in zh
    assert 'torch.cuda.set_sync_debug_mode("error")' in en and "4 training steps of each feature (ResNet-20, batch 128" in en
    assert "**NVIDIA H200** — measured 2026-12-04, commit not recorded: 1 of 2 features train without a host wait." in en
    assert "| plain | passed |" in en
    assert ("| randaugment-erasing | FAILED: RuntimeError: called a synchronizing CUDA operation at "
            "`torchvision/transforms/v2/functional/_geometry.py:931`, called from `cifar100lab/data/pipeline.py:83` |") in en
    assert "| plain | 通过 |" in zh and "未记录提交" in zh and "由 `cifar100lab/data/pipeline.py:83` 调用" in zh
    en, _ = _pages(tmp_path / "c", {**sync, "git_commit": "0123456789"})
    assert "measured 2026-12-04, commit 0123456:" in en


def _net(model="resnet_20", batch=128, epoch=1.5, runs=("full-resnet_20-s0",), mode="reduce-overhead") -> dict:
    return {"model": model, "options": {}, "input_size": 32, "batch_size": batch, "train_images_per_second": 1.0,
            "eval_images_per_second": 1.0, "precision": "bf16", "channels_last": True, "compile": True,
            "compile_mode": mode, "optimizer": "SGD", "epoch_seconds": epoch, "runs": list(runs),
            "run_epochs": 200 * len(runs), "predicted_seconds": 200 * epoch * len(runs)}


def _epoch_record(networks: list[dict], campaign="full", complete=True, per_gpu=1, slowdown=1.0) -> dict:
    total = sum(n["predicted_seconds"] for n in networks)
    return {"kind": "epoch_times", "device": H200, "device_type": "cuda", "campaign": campaign,
            "campaign_file": f"params/{campaign}.yaml", "measured": "2026-12-04T15:45:28+00:00", "complete": complete,
            "versions": {"torch": "2.x"}, "train_images": 50000, "test_images": 10000, "dataset": "cifar100",
            "predicted_campaign_seconds": total, "networks": networks,
            "prediction": {"runs_per_gpu": per_gpu, "shared_run_slowdown": slowdown, "gpus_1_seconds": 36000.0,
                           "gpus_8_seconds": 5400.0}}


def test_the_predicted_wall_time_on_1_and_8_gpus_stands_beside_the_original_claim_only_for_the_whole_full_campaign(tmp_path):
    hours = pd.read_csv(REFERENCE / "original_claims.csv").set_index("model").train_hours_8xV100
    nets = [_net(runs=("a", "b", "c")), _net("resnet_32", runs=("d",))]
    en, zh = _pages(tmp_path, _epoch_record(nets, per_gpu=4, slowdown=1.2))
    assert ("- Predicted wall time of the campaign's 4 runs: **10.00 h** on one NVIDIA H200 and **1.50 h** on 8, "
            "4 runs sharing each GPU, each 1.20× slower than alone.") in en
    assert (f"The original report's claim, for comparison: **{hours.sum():.1f} h on 8×V100** for its {len(hours)} "
            f"models, one 200-epoch run each (the sum of its table's training times, {hours.min():.1f}–"
            f"{hours.max():.1f} h per model; ResNet-20 {hours['resnet_20']:.1f} h), numbers produced by its "
            "simulation script, not measured.") in en
    assert "单块 NVIDIA H200 上 **10.00 h**，8 块上 **1.50 h**，每块 GPU 同时运行 4 次" in zh
    assert f"在 8×V100 上共 **{hours.sum():.1f} h**" in zh
    # Only some networks timed: the prediction says what it covers, and is not set against the whole study's claim.
    en, zh = _pages(tmp_path / "partial", _epoch_record(nets, complete=False))
    assert ("- Predicted wall time of only the 4 runs of the networks timed here, not the whole campaign: **10.00 h** "
            "on one NVIDIA H200 and **1.50 h** on 8, one run per GPU at a time.") in en
    assert "8×V100" not in en and "8×V100" not in zh and "仅此处计时网络的 4 次运行（并非整个实验）" in zh
    en, _ = _pages(tmp_path / "quick", _epoch_record(nets, campaign="quick"))
    assert "Predicted wall time of the campaign's 4 runs" in en and "8×V100" not in en


def test_rows_of_one_model_that_differ_only_in_recipe_are_told_apart_in_a_record_older_than_variant_labels(tmp_path):
    """The committed H200 record (2026-12-04) has four resnet_56 rows and no variant labels: each row but the plain
    one is named by what its run id changes."""
    nets = [_net("resnet_56", runs=("full-resnet_56-s0", "full-resnet_56-s1")),
            _net("resnet_56", runs=("full-resnet_56-ema_decay-0.9998-s0",)), _net(runs=("full-resnet_20-s0",))]
    en, zh = _pages(tmp_path, _epoch_record(nets))
    assert "| resnet_56 | 32 |" in en and "| resnet_56 (ema_decay-0.9998) | 32 |" in en
    assert "| resnet_20 | 32 |" in en and "| resnet_56 (ema_decay-0.9998) | 32 |" in zh


def test_a_packed_prediction_says_its_slowdown_was_measured_on_a_small_network_and_bounds_it(tmp_path):
    """bench --pack measures the slowdown of ResNet-20 runs sharing a GPU (1.0 at 4 runs on an H200); a 224-px
    network that fills the GPU alone cannot share it as freely, so the page gives the no-gain bound beside it."""
    nets = [{**_net(runs=("a", "b", "c")), "epochs_per_run": [200] * 3},  # 3 runs of 300 s
            {**_net("resnet_32", runs=("d",)), "epochs_per_run": [200]}]
    en, zh = _pages(tmp_path, _epoch_record(nets, per_gpu=4, slowdown=1.0))
    assert ("4 runs sharing each GPU, each 1.00× slower than alone (the slowdown `bench --pack` measured for one small "
            "network; a network that keeps the GPU busy on its own gains nothing from sharing, each of its 4 runs 4× "
            "slower, and were that so of every network the campaign would take up to **0.33 h** on one and "
            "**0.08 h** on 8).") in en  # 4 runs on 8 GPUs: each has one to itself
    assert "若所有网络都如此，整个实验单块上最多需 **0.33 h**" in zh
    en, _ = _pages(tmp_path / "alone", _epoch_record(nets))  # one run per GPU: no bound to give
    assert "gains nothing from sharing" not in en


def test_the_gpu_prediction_is_scheduled_in_the_campaigns_order_from_the_records_epoch_times(tmp_path):
    """A record's prediction scheduled its runs longest first, which the campaign's queue does not: 8 runs of
    300 s before one of 3,000 s take 0.92 h on 8 GPUs, and the page showed the record's 0.83 h."""
    nets = [{**_net(runs=[f"s{i}" for i in range(8)]), "epochs_per_run": [200] * 8},
            {**_net("resnet_56", epoch=15.0, runs=("long",)), "epochs_per_run": [200]}]
    record = _epoch_record(nets, campaign="c")
    record["prediction"].update(gpus_1_seconds=5400.0, gpus_8_seconds=3000.0)  # as scheduled longest first
    en, zh = _pages(tmp_path, {**record, "run_order": [f"s{i}" for i in range(8)] + ["long"]})
    assert "**1.50 h** on one NVIDIA H200 and **0.92 h** on 8" in en and "8 块上 **0.92 h**" in zh


def test_a_run_that_trained_only_some_of_its_epochs_is_not_set_against_its_whole_estimate(tmp_path):
    """A failed run's one epoch (10 s) was set against its whole run's estimate (100 s): an exact estimate was
    called 1.8× the measurement, an over-estimate."""
    runs = tmp_path / "runs"
    for rid, seconds in (("c-resnet_20-s0", 100.0), ("c-resnet_20-s1", 10.0)):
        records.atomic_write_json(runs / "c" / rid / records.RECORD,
                                  {"run_id": rid, "train_seconds": seconds - 1, "eval_seconds": 1.0})
    records.atomic_write_json(runs / "c" / records.TIMING, {
        "campaign": "c", "started": "2026-11-29T23:00:00+00:00", "wall_seconds": 120.0, "jobs": 1, "cpu": "Some CPU",
        "cpus": 2, "gpus": 0, "device": CPU, "runs": [{"run_id": "c-resnet_20-s0", "status": "complete", "seconds": 101.0},
                                                       {"run_id": "c-resnet_20-s1", "status": "failed", "seconds": 11.0}]})
    net = {**_net(epoch=10.0, runs=("c-resnet_20-s0", "c-resnet_20-s1")), "run_epochs": 20, "predicted_seconds": 200.0}
    bench = tmp_path / "bench"
    records.atomic_write_json(bench / "e.json", {**_epoch_record([net], campaign="c"), "device": CPU, "device_type": "cpu"})
    report.write_performance_page(bench, tmp_path / "gen", runs, "c")
    en, zh = ((tmp_path / "gen" / f"performance_{lang}.md").read_text(encoding="utf-8") for lang in ("en", "zh"))
    assert "; 1 run trained only some of their epochs (failed or stopped), left out of the comparison. For the 1 run " \
           "that trained, the estimate is 1.7 min of epochs; their records hold 1.7 min, so the estimate is **1.0×**" in en
    assert "1 次运行只训练了部分轮次（失败或中途停止），不计入比较" in zh and "over-estimate" not in en


def test_runs_that_trained_on_several_processes_are_not_set_against_the_one_process_estimate(tmp_path):
    """full.yaml on an 8-GPU node: one job, each run on 8 processes. Its epochs (0.6 min) were set against the
    estimate of one process (5.0 min), and the page called an estimate of the right size "8.0×, an over-estimate"."""
    runs = tmp_path / "runs"
    records.atomic_write_json(runs / "c" / "c-resnet_20-s0" / records.RECORD, {
        "run_id": "c-resnet_20-s0", "train_seconds": 36.0, "eval_seconds": 1.5, "hardware": {"device": H200, "count": 8}})
    records.atomic_write_json(runs / "c" / records.TIMING, {
        "campaign": "c", "started": "2026-11-29T23:00:00+00:00", "wall_seconds": 60.0, "jobs": 1, "cpu": "Some CPU",
        "cpus": 16, "gpus": 8, "device": H200, "runs": [{"run_id": "c-resnet_20-s0", "status": "complete", "seconds": 50.0}]})
    bench = tmp_path / "bench"
    records.atomic_write_json(bench / "e.json", _epoch_record([_net(runs=("c-resnet_20-s0",))], campaign="c"))
    report.write_performance_page(bench, tmp_path / "gen", runs, "c")
    en, zh = ((tmp_path / "gen" / f"performance_{lang}.md").read_text(encoding="utf-8") for lang in ("en", "zh"))
    assert ("For the 1 run that trained, the estimate is 5.0 min of epochs on one process; theirs trained on 8 "
            "processes each, so the 0.6 min of epochs their records hold is not a measurement of the estimate") in en
    assert "over-estimate" not in en and "8.0×" not in en
    assert "这些运行各用 8 个进程训练" in zh and "估计偏高" not in zh


def test_a_gpu_records_memory_per_run_is_a_column_and_an_older_record_has_none(tmp_path):
    nets = [{**_net(), "peak_memory_bytes": 3 * 2**30}, {**_net("resnet_32"), "peak_memory_bytes": None}]
    en, zh = _pages(tmp_path, _epoch_record(nets))
    assert "| GPU memory (GiB) |" in en and "| 3.0 | 1 × 200 |" in en and "| – | 1 × 200 |" in en
    assert "| 显存（GiB） |" in zh
    en, _ = _pages(tmp_path / "old", _epoch_record([_net()]))
    assert "GPU memory" not in en


def _run200(batch: int, epoch: float, mode="reduce-overhead") -> dict:
    run = _run("bf16, compile", 50000.0, [epoch] * 200, batch=batch)
    run["config"].update(epochs=200, compile=True, compile_mode=mode)
    return {**_record("ResNet-20, 200 epochs", [run], device=H200), "file": "benchmarks/gpu_resnet20_200.yaml"}


def test_the_200_epoch_resnet_20_run_is_checked_against_its_predicted_epoch_time(tmp_path):
    prediction = _epoch_record([_net(epoch=1.5)], complete=False)
    en, zh = _pages(tmp_path, prediction, _run200(128, 1.6))
    assert ("- The 200-epoch resnet_20 run at batch 128 (`benchmarks/gpu_resnet20_200.yaml`, 2026-11-28): predicted "
            "200 × 1.50 s = **300 s** of epochs, measured **320 s** (its epochs' training and evaluation), so the "
            "prediction is 0.94× the measurement: they agree within 15 %.") in en
    assert "预计为实测的 0.94×：两者相差在 15% 以内" in zh
    en, _ = _pages(tmp_path / "slow", prediction, _run200(128, 2.0))
    assert "so the prediction is 0.75× the measurement: they differ by more than 15 %." in en
    # An older run at batch 512, or none: nothing to compare yet.
    for name, found in (("older", (prediction, _run200(512, 1.0))), ("none", (prediction,))):
        en, zh = _pages(tmp_path / name, *found)
        assert "The 200-epoch resnet_20 run at batch 128 (`benchmarks/gpu_resnet20_200.yaml`) has not been recorded " \
               "yet" in en and "predicted 200 ×" not in en and "尚未记录" in zh
        assert ("(the record there is an older run at batch 512)" in en) == (name == "older")
    # A run compiled another way is not this record's prediction to check.
    en, _ = _pages(tmp_path / "mode", prediction, _run200(128, 1.6, mode="default"))
    assert "200-epoch resnet_20 run" not in en


def test_a_run_with_its_step_as_one_cuda_graph_is_checked_against_the_graphed_prediction_only(tmp_path):
    graphed = _net(epoch=0.9)
    graphed.update(compile=False, compile_mode=None, cuda_graph=True)
    run = _run200(128, 0.88)
    run["runs"][0]["config"].update(compile=False, compile_mode="default", cuda_graph=True)
    en, _ = _pages(tmp_path, _epoch_record([graphed], complete=False), run)
    assert "predicted 200 × 0.90 s = **180 s** of epochs, measured **176 s**" in en
    assert "bf16 · SGD · CL · CUDA graph" in en
    en, _ = _pages(tmp_path / "eager", _epoch_record([_net(epoch=0.9)], complete=False), run)  # compiled, no graph
    assert "200-epoch resnet_20 run" not in en


def test_the_200_epoch_run_is_judged_against_its_3_minute_target_on_the_h200(tmp_path):
    for wall, verdict, zh_verdict in ((181.5, "not met", "未达到"), (170.0, "met", "达到")):
        run = _run200(128, 0.85)
        run["device_type"] = "cuda"
        run["runs"][0]["wall_seconds"] = wall
        en, zh = _pages(tmp_path / str(wall), run)
        assert (f"- The project's target for this run is ≤ 3 min of wall time on one H200: {verdict} ({wall:.1f} s "
                "from start to record, of which 170.0 s in its epochs' training and evaluation).") in en
        assert f"总用时 ≤ 3 分钟：{zh_verdict}（从启动到写出记录 {wall:.1f} 秒" in zh


def _bench_record(speedups: dict[str, float], device=H200, batch=128) -> dict:
    rows = [{"model": "resnet_20", "path": path, "precision": "bf16", "train_images_per_second": 1000.0 * s,
             "eval_images_per_second": 1.0, "achieved_tflops": 1.0, "fraction_of_peak": 0.01,
             "train_speedup": s, "eval_speedup": 1.0} for path, s in speedups.items()]
    rows[0].pop("train_speedup")
    return {"kind": "bench", "device": device, "device_type": "cuda", "measured": "2026-12-04", "batch_size": batch,
            "steps": 100, "repeats": 3, "versions": {"torch": "2.x"}, "peaks_tflops": {"fp32": 50.0}, "rows": rows}


def test_the_gpu_throughput_target_is_judged_by_the_fastest_path_of_the_record(tmp_path):
    en, zh = _pages(tmp_path, _bench_record({"original": 1.0, "ours": 1.07, "ours+cuda-graph": 4.75}))
    assert ("- The project's GPU target is resnet_20 training at batch 128 at ≥ 4× the original pipeline's images/s: "
            "met (best: `ours+cuda-graph`, 4.75×).") in en
    assert "| ours+CUDA graph |" in en and "| 本项目 + CUDA 图 |" in zh and "达到（最好为 `ours+cuda-graph`，4.75×）" in zh
    en, _ = _pages(tmp_path / "slow", _bench_record({"original": 1.0, "ours": 1.07, "ours+compile": 1.2}))
    assert "images/s: not met (best: `ours+compile`, 1.20×)." in en
    en, _ = _pages(tmp_path / "b512", _bench_record({"original": 1.0, "ours": 5.0}, batch=512))
    assert "GPU target" not in en


def _cpu_bench_record(speedups: dict[str, float], peaks: dict, precision="bf16") -> dict:
    """The original pipeline at 0.05 TFLOP/s in fp32, and each of our paths at its speed-up in ``precision``."""
    rows = [{"model": "resnet_20", "path": path, "precision": "fp32" if path == "original" else precision,
             "train_images_per_second": 400.0 * s, "eval_images_per_second": 1.0, "achieved_tflops": 0.05 * s,
             "fraction_of_peak": 0.05 * s / peaks["fp32" if path == "original" else precision],
             "train_speedup": s, "eval_speedup": 1.0} for path, s in {"original": 1.0, **speedups}.items()]
    rows[0].pop("train_speedup")
    return {"kind": "bench", "device": "AMD EPYC (2 logical CPUs)", "device_type": "cpu", "measured": "2026-12-05",
            "batch_size": 128, "steps": 30, "repeats": 3, "versions": {"torch": "2.x"}, "peaks_tflops": peaks,
            "rows": rows}


def test_a_missed_cpu_target_says_what_share_of_the_peak_it_would_need(tmp_path):
    en, zh = _pages(tmp_path, _cpu_bench_record({"ours": 2.1, "ours+compile": 2.3}, {"fp32": 0.1, "bf16": 0.2}))
    assert ("not met (best: `ours+compile`, 2.30×). On this CPU the measured bf16 matmul peak is 2.00× the fp32 one; "
            "the original pipeline runs at 50.0 % of the fp32 peak, so 2.5× needs `ours+compile` to run at 62.5 % of "
            "the bf16 peak (it runs at 57.5 %).") in en
    assert "实测 bf16 矩阵乘峰值是 fp32 的 2.00×" in zh and "须达到 bf16 峰值的 62.5 %（现为 57.5 %）。" in zh
    en, zh = _pages(tmp_path / "avx2", _cpu_bench_record({"ours": 1.25}, {"fp32": 0.08}, precision="fp32"))
    assert ("not met (best: `ours`, 1.25×). On this CPU `ours` trains in fp32, as the original pipeline does (the "
            "bench measured no bf16 peak: the CPU has no bf16 instructions); the original runs at 62.5 % of the fp32 "
            "peak, so 2.5× needs `ours` to run at 156.2 % of it (it runs at 78.1 %): more than the peak itself.") in en
    assert "没有 bf16 指令）；" in zh and "须达到该峰值的 156.2 %（现为 78.1 %），超过峰值本身。" in zh
    en, _ = _pages(tmp_path / "asked", _cpu_bench_record({"ours": 1.25}, {"fp32": 0.08, "bf16": 0.3}, precision="fp32"))
    assert "trains in fp32, as the original pipeline does; the original runs at" in en  # fp32 asked for, not forced
    en, zh = _pages(tmp_path / "amx", _cpu_bench_record({"ours": 2.2, "ours+compile": 2.7}, {"fp32": 0.1, "bf16": 0.8}))
    assert "met by `ours+compile` (2.70×)." in en and "On this CPU" not in en and "在这台 CPU 上" not in zh


def test_the_cpu_target_is_judged_by_resnet_20s_speed_up_not_another_models(tmp_path):
    """The CPU target is ResNet-20's: a bench of ResNet-20 (2.0×) and ResNet-56 (3.0×) said "met by `ours`
    (3.00×)", from the ResNet-56 row."""
    record = _cpu_bench_record({"ours": 2.0}, {"fp32": 0.1, "bf16": 0.8})
    other = _cpu_bench_record({"ours": 3.0}, {"fp32": 0.1, "bf16": 0.8})["rows"]
    en, zh = _pages(tmp_path, {**record, "rows": record["rows"] + [{**r, "model": "resnet_56"} for r in other]})
    assert ("- The project's CPU target is resnet_20 training at ≥ 2.5× the original pipeline: not met (best: `ours`, "
            "2.00×).") in en
    assert "met by" not in en and "CPU 目标是 resnet_20 的训练速度达到原始管线的 ≥ 2.5×：未达到（最好为 `ours`，2.00×）" in zh


def test_the_cuda_graph_check_tables_each_case_against_the_eager_step(tmp_path):
    rec = {"kind": "graph_check", "device": H200, "measured": "2026-12-04T18:41:40", "git_commit": "abcdef12",
           "cases": {"sgd": {"ok": True, "max_loss_gap": 0.0, "max_param_diff": 0.0},
                     "adamw": {"ok": False, "max_loss_gap": 0.5, "max_param_diff": 0.01}}}
    en, zh = _pages(tmp_path, rec)
    assert ("**NVIDIA H200** — measured 2026-12-04, commit abcdef1: 1 of 2 cases train exactly as the eager step does "
            "(loss difference ≤ 0.1 %).") in en
    assert "| sgd | passed | 0 | 0 |" in en and "| adamw | differs | 0.5 | 0.01 |" in en
    assert "2 种情形中有 1 种与逐步执行的训练一致" in zh


def test_the_full_protocol_prediction_is_judged_against_its_4_hour_target_on_one_h200(tmp_path):
    record = _epoch_record([_net()])
    en, zh = _pages(tmp_path, record)
    assert "The project's target for the whole `full` protocol is ≤ 4 h on one H200: not met." in en
    assert "本项目对整个 `full` 协议的目标是单块 H200 上 ≤ 4 小时：未达到。" in zh
    record["prediction"]["gpus_1_seconds"] = 3.5 * 3600
    en, _ = _pages(tmp_path / "fast", record)
    assert "≤ 4 h on one H200: met." in en
    en, _ = _pages(tmp_path / "quick", _epoch_record([_net()], campaign="quick"))
    assert "protocol is ≤ 4 h" not in en


def test_the_4_hour_target_is_weighed_against_the_protocols_flops_and_the_measured_peak(tmp_path):
    """The protocol's FLOPs (3 × forward per training image, plus evaluation) over 4 h, and over the predicted
    time, each as a share of the measured peak of the networks' precision; absent when a network lacks FLOPs."""
    nets = [_net(runs=("a", "b", "c")), _net("resnet_32", runs=("d",))]
    for n in nets:
        n.update(flops_per_image=1e10, train_images=50000, eval_images=10000)
    record = {**_epoch_record(nets), "peaks_tflops": {"fp32": 50.0, "bf16": 640.0}}
    en, zh = _pages(tmp_path, record)
    # (600 + 200 epochs) × 1e10 × (3 × 50,000 + 10,000) = 1.28e18; / 14,400 s = 89 TFLOP/s; / 36,000 s = 36
    assert ("not met.\n- What the 4-hour target asks of the GPU: the protocol's arithmetic is **1.28 EFLOP** "
            "(training counted as 3 × each network's forward FLOPs, plus a distilling run's teacher forward, plus "
            "each epoch's evaluation), so ≤ 4 h needs "
            "89 TFLOP/s sustained, 14% of this GPU's measured bf16 matmul peak (640 TFLOP/s); the prediction "
            "sustains 36 TFLOP/s (6%).") in en
    assert "该协议的计算量为 **1.28 EFLOP**" in zh and "需持续 89 TFLOP/s" in zh
    # a distilling network's teacher forward (1e10 per training image) adds 200 × 1e10 × 50,000 = 0.10 EFLOP
    nets[1]["teacher"] = {"model": "resnet_56", "input_size": 32, "flops_per_image": 1e10}
    en, _ = _pages(tmp_path / "taught", {**_epoch_record(nets), "peaks_tflops": {"bf16": 640.0}})
    assert "the protocol's arithmetic is **1.38 EFLOP**" in en and "resnet_32 ← resnet_56 32 px" in en
    en, _ = _pages(tmp_path / "quick", {**_epoch_record(nets, campaign="quick"), "peaks_tflops": {"bf16": 640.0}})
    assert "EFLOP" not in en  # another campaign is not the protocol the target is for
    del nets[1]["flops_per_image"]
    en, _ = _pages(tmp_path / "older", {**_epoch_record(nets), "peaks_tflops": {"bf16": 640.0}})
    assert "≤ 4 h on one H200: not met." in en and "EFLOP" not in en


def test_checkpoint_writes_say_how_the_trainer_writes_on_that_device_and_flag_a_write_that_lost_its_weights(tmp_path):
    rows = [{"model": "resnet_20", "tensors": 175, "megabytes": 2.2, "inline_ms": 19.0, "background_blocking_ms": 1.5,
             "background_total_ms": 20.0, "kept_the_asked_weights": True},
            {"model": "convnext_tiny", "tensors": 728, "megabytes": 334.7, "inline_ms": 874.7,
             "background_blocking_ms": 30.2, "background_total_ms": 900.0, "kept_the_asked_weights": False}]
    rec = {"kind": "checkpoint_write", "device": H200, "device_type": "cuda", "trainer_writes_in_background": True,
           "measured": "2026-12-06T10:00:00", "git_commit": "abcdef12", "repeats": 5, "rows": rows}
    en, zh = _pages(tmp_path, rec)
    assert ("**NVIDIA H200** — measured 2026-12-06, commit abcdef1, median of 5 writes; the trainer writes its "
            "checkpoints in the background on this device.") in en
    assert "| resnet_20 | 2.2 | 175 | 19.0 | 1.5 | 20.0 | passed |" in en
    assert "| convnext_tiny | 334.7 | 728 | 874.7 | 30.2 | 900.0 | FAILED |" in en
    assert "在此设备上训练器在后台写检查点" in zh and "| convnext_tiny | 334.7 | 728 | 874.7 | 30.2 | 900.0 | 未通过 |" in zh
    en, _ = _pages(tmp_path / "none")
    assert "## Checkpoint writes" in en and "No checkpoint-write record yet." in en


def test_an_epoch_record_older_than_whole_epoch_timing_says_what_it_leaves_out(tmp_path):
    """Records made before the bench timed policies, EMA evaluation and teachers (they have no
    ``untimed_variants``) say that they understate; a newer one does not."""
    older_en, older_zh = _pages(tmp_path / "older", _epoch_record([_net()]))
    assert "This record is older than the bench's timing of whole epochs (2026-12-06)" in older_en
    assert "此记录早于基准测试按完整一轮计时" in older_zh
    newer_en, _ = _pages(tmp_path / "newer", {**_epoch_record([_net()]), "untimed_variants": []})
    assert "older than the bench's timing" not in newer_en and "Not timed" not in newer_en
    assert "A distilling run's step includes its teacher's forward" not in newer_en  # said where a teacher is


def test_the_same_setup_note_counts_the_images_the_run_trained_on_from_its_record(tmp_path):
    """A run that asked for more images than the split (train_subset 100000 on Fashion-MNIST's 60,000, which runs
    before config.resolve refused it could) trained on the whole split: the note says what its record says, not
    "100,000 images"; a run that asked for no subset is counted too, where the note failed (None is no number)."""
    def on_the_whole_split(run: dict, asked: int | None) -> dict:
        return {**run, "config": {**run["config"], "train_subset": asked},
                "dataset": {"name": "fashion-mnist", "train_size": 60000, "test_size": 10000, "val_size": 0}}

    for asked in (100000, None):
        fast = _record("Speed switches", [on_the_whole_split(_run("plain", 645.0, [19.0, 19.0, 19.0]), asked)])
        slow = _record("Regularisation", [on_the_whole_split(_run("default recipe", 30.0, [857.6, 219.6, 366.9]), asked)],
                       when="2026-11-29T23:49:52", commit="e63ac7f1")
        en, zh = _pages(tmp_path / str(asked), fast, slow)
        assert "batch 64, 60,000 images × 3 epochs" in en and "100,000" not in en, asked
        assert "批大小 64、60,000 张图像 × 3 轮" in zh and "100,000" not in zh, asked
