"""The Performance page, from the benchmark records in ``benchmarks/records`` (``python -m cifar100lab bench``).
Each sentence is one template per fact in both languages (as in :mod:`.i18n`); the tables' headers too."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import records
from .i18n import LANGS, STATUS, dataset_label, fill, fmt
from .tables import markdown_table

CPU_TRAIN_SPEEDUP_TARGET = 2.5  # the project's goal: ResNet-20 training on 2 CPU cores vs the original pipeline
PATHS = {"original": {"en": "original", "zh": "原始管线"}, "ours": {"en": "ours", "zh": "本项目"},
         "ours+compile": {"en": "ours+compile", "zh": "本项目 + compile"}}
HEAD = {
    "model": {"en": "Model", "zh": "模型"}, "path": {"en": "Path", "zh": "路径"}, "precision": {"en": "Precision", "zh": "精度"},
    "train": {"en": "Train img/s", "zh": "训练 图像/秒"}, "eval": {"en": "Eval img/s", "zh": "评估 图像/秒"},
    "tflops": {"en": "Achieved TFLOP/s", "zh": "实际 TFLOP/s"}, "peak": {"en": "Share of matmul peak", "zh": "占矩阵乘峰值比例"},
    "speedup": {"en": "Train speed-up", "zh": "训练加速比"}, "network": {"en": "Network", "zh": "网络"},
    "input": {"en": "Input px", "zh": "输入尺寸"}, "batch": {"en": "Batch", "zh": "批大小"},
    "epoch": {"en": "Epoch (s)", "zh": "每轮（秒）"}, "runs": {"en": "Runs × epochs", "zh": "运行 × 轮数"},
    "predicted": {"en": "Predicted", "zh": "预计用时"}, "run": {"en": "Run", "zh": "运行"},
    "status": {"en": "Status", "zh": "状态"}, "top1": {"en": "Top-1 (%)", "zh": "Top-1（%）"},
    "top5": {"en": "Top-5 (%)", "zh": "Top-5（%）"}, "wall": {"en": "Wall time", "zh": "总用时"},
    "mean_epoch": {"en": "Mean epoch (s)", "zh": "平均每轮（秒）"}, "run_total": {"en": "Start to record (s)", "zh": "启动至记录（秒）"},
    "run_epochs": {"en": "Epochs (s)", "zh": "各轮（秒）"}, "ema_top1": {"en": "EMA top-1 (%)", "zh": "EMA Top-1（%）"}}
FACTS = {
    "bench_head": {
        "en": "**{device}** — measured {measured}, torch {torch}, batch {batch}, {steps} timed steps per round, median "
              "of {repeats} interleaved round(s); measured matmul peak (TFLOP/s): {peaks}. *First round* is the untimed "
              "warm-up of a path's first round (DataLoader start-up; for `ours+compile` the one-off compilation, "
              "shorter when torch's compile cache is already warm).",
        "zh": "**{device}** —— 测于 {measured}，torch {torch}，批大小 {batch}，每轮计时 {steps} 步，取 {repeats} 轮交替测量的"
              "中位数；实测矩阵乘峰值（TFLOP/s）：{peaks}。“首轮用时”是第一轮未计时的预热（DataLoader 启动；`ours+compile` "
              "含一次性编译；若 torch 的编译缓存已存在则更短）。"},
    "target_met": {"en": "- The project's CPU target is training at ≥ {target}× the original pipeline: met by `{path}` "
                         "({speedup}×).",
                   "zh": "- 本项目的 CPU 目标是训练速度达到原始管线的 ≥ {target}×：`{path}` 达到（{speedup}×）。"},
    "target_missed": {"en": "- The project's CPU target is training at ≥ {target}× the original pipeline: not met "
                            "(best: `{path}`, {speedup}×).",
                      "zh": "- 本项目的 CPU 目标是训练速度达到原始管线的 ≥ {target}×：未达到（最好为 `{path}`，{speedup}×）。"},
    "speedups": {"en": "- {model}, `{path}`: training **{train}×** and evaluation **{eval}×** the original pipeline's "
                       "images/s{first}.",
                 "zh": "- {model}，`{path}`：训练速度为原始管线的 **{train}×**，评估速度为 **{eval}×**{first}。"},
    "first_round": {"en": "; first round {s} s", "zh": "；首轮用时 {s} 秒"},
    "epochs_head": {
        "en": "**{device}** — the `{campaign}` campaign ({file}){partial}, one process, each network as its runs are "
              "configured (precision, memory format, compilation, its recipe's optimizer); measured {measured} with "
              "torch {torch}. An epoch is the run's training images (the campaign's subset, or all {train} of "
              "{dataset}) at the measured training rate plus its test images (up to {test}) at the measured "
              "evaluation rate. **Predicted duration of the whole campaign on one process of this device: "
              "{total}{tuned}** (process start-up, checkpoints and compilation not included){against}. "
              "CL: channels_last.",
        "zh": "**{device}** —— `{campaign}` 实验（{file}）{partial}，单进程，每个网络按其运行的配置计时（精度、内存格式、"
              "是否编译、配方的优化器）；测于 {measured}，torch {torch}。每轮 = 该运行的训练图像（实验所取子集，或 {dataset} "
              "全部 {train} 张）按实测训练速度，加上其测试图像（至多 {test} 张）按实测评估速度。**整个实验在该设备单进程上的"
              "预计用时：{total}{tuned}**（不含进程启动、检查点与编译时间）{against}。CL：channels_last。"},
    "against_measured": {"en": ". For the {n} run(s) that trained, it predicts {predicted}; their records ({started}) hold "
                               "{measured} of epochs, so the prediction is **{ratio}×** what was measured",
                         "zh": "。对实际训练的 {n} 次运行，预测为 {predicted}；其记录（{started}）中各轮共用时 {measured}，"
                               "预测为实测的 **{ratio}×**"},
    "tuned": {"en": "; fine-tunes of pretrained weights account for {t} of it", "zh": "；其中预训练权重微调占 {t}"},
    "partial": {"en": " (only some of its networks were timed)", "zh": "（只测了部分网络）"},
    "runs_head": {"en": "**{device}** — {data}; measured {measured} with torch {torch} (`python -m cifar100lab timed-runs "
                        "{file}`).",
                  "zh": "**{device}** —— {data}；测于 {measured}，torch {torch}（`python -m cifar100lab timed-runs {file}`）。"},
    "campaign_time": {
        "en": "The `{campaign}` campaign ({file}) on {dataset}, measured {started} by the campaign itself: **{runs} runs "
              "in {wall}**, {jobs} side by side, on {device}{gpus}{already}. From its start to its record a run took "
              "{mean} s on average, of which its epochs (training and evaluation) took {epochs} s; the rest is its "
              "start-up and wind-down (notebook kernel, imports, network build, FLOP count, checkpoint, record and "
              "run page).",
        "zh": "`{campaign}` 实验（{file}），数据集 {dataset}，由实验本身于 {started} 测得：**{runs} 次运行共用时 {wall}**，"
              "{jobs} 个并行，设备为 {device}{gpus}{already}。每次运行从启动到写出记录平均用时 {mean} 秒，其中各轮（训练与"
              "评估）用时 {epochs} 秒；其余为启动与收尾（notebook 内核、导入、构建网络、计算 FLOPs、检查点、记录与运行页）。"},
    "campaign_gpus": {"en": " with {n} GPU(s)", "zh": "，{n} 块 GPU"},
    "campaign_already": {"en": " ({n} runs already done were not repeated)", "zh": "（{n} 次已完成的运行未重复）"},
    "no_campaign_time": {"en": "No campaign has been timed yet: `make report` runs the quick campaign, which records "
                               "its wall time here.",
                         "zh": "尚无实验计时：`make report` 运行 quick 实验，并在此记录其总用时。"},
    "check": {"en": "- **{check}** ({what}): {result} on {device}, {created}.",
              "zh": "- **{check}**（{what}）：在 {device} 上{result}，{created}。"},
    "check_passed": {"en": "passed", "zh": "通过"}, "check_failed": {"en": "FAILED", "zh": "未通过"},
    "check_fork": {"en": "a child forked after the notebook kernel's preparation makes a tensor on the device",
                   "zh": "在 notebook 内核完成准备后 fork 出的子进程可以在设备上创建张量"},
    "check_resume": {"en": "a deterministic run killed after its first checkpoint and resumed has every epoch's "
                           "metrics of the uninterrupted run",
                     "zh": "在第一个检查点后被终止并恢复的确定性运行，每轮指标与未中断的运行完全相同"},
    "no_gpu": {"en": "No GPU measurement is recorded yet: these records come from CPUs only. On a GPU machine, "
                     "`bash benchmarks/gpu_check.sh` measures the same tables and the 200-epoch ResNet-20 run and "
                     "writes their records to `benchmarks/records/`.",
               "zh": "尚无 GPU 测量记录：以上记录均来自 CPU。在 GPU 机器上运行 `bash benchmarks/gpu_check.sh` 可测得同样的"
                     "表格以及 200 轮 ResNet-20 的训练，并把记录写入 `benchmarks/records/`。"},
}


def _check_section(r: dict, lang: str) -> str:
    device = (r.get("hardware") or {}).get("device") or (f"{r['gpus']} GPU" if r.get("gpus") else "CPU")
    return say("check", lang, check=r["check"], what=say(f"check_{r['check']}", lang), device=device,
               result=say("check_passed" if r["passed"] else "check_failed", lang), created=r.get("created", "–")) + "\n"


def say(fact: str, lang: str, **values) -> str:
    return fill(FACTS[fact], lang, **values)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _table(columns: dict, lang: str) -> str:
    return markdown_table(pd.DataFrame({HEAD[k][lang]: v for k, v in columns.items()}))


def _bench_section(b: dict, lang: str) -> str:
    df = pd.DataFrame(b["rows"])
    speedup = df.get("train_speedup", pd.Series([None] * len(df)))
    t = _table({"model": df.model, "path": [PATHS.get(p, {lang: p})[lang] for p in df.path], "precision": df.precision,
                "train": df.train_images_per_second.map(lambda v: fmt(v, 0)),
                "eval": df.eval_images_per_second.map(lambda v: fmt(v, 0)),
                "tflops": df.achieved_tflops.map(lambda v: fmt(v, 3)),
                "peak": df.fraction_of_peak.map(lambda v: f"{100 * v:.1f} %"),
                "speedup": speedup.map(lambda v: f"{v:.2f}×" if v == v and v else "–")}, lang)
    head = say("bench_head", lang, device=b["device"], measured=b["measured"], torch=b["versions"]["torch"],
               batch=b["batch_size"], steps=b["steps"], repeats=b.get("repeats", 1),
               peaks=", ".join(f"{k} {v:.3f}" for k, v in b["peaks_tflops"].items()))
    lines = []
    ours = [r for r in b["rows"] if r["path"] != "original"]
    if b.get("device_type") == "cpu" and ours:
        best = max(ours, key=lambda r: r["train_speedup"])
        met = best["train_speedup"] >= CPU_TRAIN_SPEEDUP_TARGET
        lines.append(say("target_met" if met else "target_missed", lang, target=CPU_TRAIN_SPEEDUP_TARGET,
                         path=best["path"], speedup=f"{best['train_speedup']:.2f}"))
    for r in ours:
        first = r.get("first_round_seconds")
        lines.append(say("speedups", lang, model=r["model"], path=r["path"], train=f"{r['train_speedup']:.2f}",
                         eval=f"{r['eval_speedup']:.2f}",
                         first=say("first_round", lang, s=f"{first:.1f}") if first is not None else ""))
    return head + "\n\n" + t + "\n" + "\n".join(lines) + "\n"


def measured_epochs(runs_root, campaign: str | None) -> dict | None:
    """{'campaign', 'started', 'seconds': {run id: epoch seconds}}: the epoch time (training and evaluation) each
    run of the campaign's last timed invocation recorded; None without a timing record."""
    path = Path(runs_root or "runs") / (campaign or "") / records.TIMING
    if not campaign or not path.is_file():
        return None
    timing = records.read_json(path)
    seconds = {r["run_id"]: _epochs_seconds(path.parent / r["run_id"]) for r in timing["runs"]}
    return {"campaign": timing["campaign"], "started": timing["started"][:10],
            "seconds": {k: v for k, v in seconds.items() if v}}


def _against(e: dict, measured: dict | None, lang: str) -> str:
    """The prediction for the runs that trained beside what they measured, one process's worth (so the
    prediction is never called a bound the data contradicts)."""
    if not measured or measured["campaign"] != e["campaign"] or not measured["seconds"]:
        return ""
    ran = measured["seconds"]
    predicted = sum(n["predicted_seconds"] * sum(r in ran for r in n["runs"]) / max(1, len(n["runs"]))
                    for n in e["networks"])
    actual = sum(ran[r] for n in e["networks"] for r in n["runs"] if r in ran)
    if not predicted or not actual:
        return ""
    return say("against_measured", lang, n=sum(r in ran for n in e["networks"] for r in n["runs"]),
               predicted=_hours(predicted), measured=_hours(actual), started=measured["started"],
               ratio=f"{predicted / actual:.1f}")


def _epoch_times_section(e: dict, lang: str, measured: dict | None = None) -> str:
    df = pd.DataFrame(e["networks"])
    paths = [" · ".join(x for x in (n.get("precision"), n.get("optimizer"), "CL" if n.get("channels_last") else None,
                                    "compile" if n.get("compile") else None) if x) for n in e["networks"]]
    t = _table({"network": df.model + df.options.map(lambda o: "".join(f", {k}={v}" for k, v in o.items()) if o else ""),
                "input": df.input_size, "batch": df.batch_size, "path": paths,
                "train": df.train_images_per_second.map(lambda v: fmt(v, 0)),
                "eval": df.eval_images_per_second.map(lambda v: fmt(v, 0)),
                "epoch": df.epoch_seconds.map(lambda v: fmt(v, 1)),
                "runs": [f"{len(r)} × {n // max(len(r), 1)}" for r, n in zip(df.runs, df.run_epochs)],
                "predicted": df.predicted_seconds.map(_hours)}, lang)
    tuned = sum(n["predicted_seconds"] for n in e["networks"] if n.get("pretrained"))
    head = say("epochs_head", lang, device=e["device"], campaign=e["campaign"], file=e["campaign_file"],
               partial="" if e.get("complete", True) else say("partial", lang), measured=e["measured"],
               torch=e["versions"]["torch"], train=f"{e['train_images']:,}", dataset=e["dataset"],
               test=f"{e['test_images']:,}", total=_hours(e["predicted_campaign_seconds"]),
               tuned=say("tuned", lang, t=_hours(tuned)) if tuned else "", against=_against(e, measured, lang))
    return head + "\n\n:::{div} names-wrap\n" + t + ":::\n"  # network names may wrap: book/_static/tables.css


def _runs_section(r: dict, lang: str) -> str:
    rows = r["runs"]
    dataset = (rows[0].get("dataset") or {}) if rows else {}
    t = _table({"run": [x["label"] for x in rows], "status": [x["status"] for x in rows],
                "top1": [fmt((x.get("final") or {}).get("top1")) for x in rows],
                "top5": [fmt((x.get("final") or {}).get("top5")) for x in rows],
                **({"ema_top1": [fmt(((x.get("ema") or {}).get("final") or {}).get("top1")) for x in rows]}
                   if any(x.get("ema") for x in rows) else {}),
                "wall": [_hours(x["wall_seconds"]) for x in rows],
                "mean_epoch": [fmt(sum(x["epoch_seconds"]) / len(x["epoch_seconds"]), 1) if x.get("epoch_seconds")
                               else "–" for x in rows],
                "train": [fmt(x.get("images_per_second"), 0) for x in rows]}, lang)
    head = say("runs_head", lang, device=r["device"], data=dataset_label(dataset.get("name"), dataset.get("label", "")),
               measured=r["measured"], torch=r["versions"]["torch"], file=r["file"])
    title = r["title"].get(lang, r["title"].get("en", ""))
    return f"### {title}\n\n{r['description'].get(lang, '')}\n\n{head}\n\n{t}"


def _epochs_seconds(run_dir: Path) -> float:
    rec = records.load(run_dir) or {}
    return (rec.get("train_seconds") or 0.0) + (rec.get("eval_seconds") or 0.0)


def campaign_time_section(timing: dict, runs_root, lang: str) -> str:
    """The campaign's own record of its last invocation that ran anything, with each run's time split into its
    epochs (from the run records) and the rest."""
    folder = Path(runs_root) / timing["campaign"]
    runs = timing["runs"]
    epochs = [_epochs_seconds(folder / r["run_id"]) for r in runs]
    total = [r["seconds"] for r in runs]
    source = Path(timing.get("source") or "–")
    head = say("campaign_time", lang, campaign=timing["campaign"], file=source.name if source.is_absolute() else source,
               dataset=dataset_label(timing.get("dataset")), started=timing["started"][:16].replace("T", " "),
               runs=len(runs), wall=_hours(timing["wall_seconds"]), jobs=timing["jobs"],
               device=f"{timing['cpu']} ({timing['cpus']} CPUs)",
               gpus=say("campaign_gpus", lang, n=timing["gpus"]) if timing.get("gpus") else "",
               already=say("campaign_already", lang, n=timing["already_done"]) if timing.get("already_done") else "",
               mean=fmt(sum(total) / max(1, len(total)), 1), epochs=fmt(sum(epochs) / max(1, len(epochs)), 1))
    t = _table({"run": [r["run_id"] for r in runs], "status": [STATUS.get(r["status"], {lang: r["status"]})[lang] for r in runs],
                "run_total": [fmt(x, 1) for x in total], "run_epochs": [fmt(x, 1) for x in epochs]}, lang)
    # run ids (a study variant's names its recipe changes) may wrap: book/_static/tables.css, .run-ids
    return head + "\n\n:::{div} run-ids\n" + t + "\n:::\n"


CAMPAIGN_TITLE = {"en": "Campaign wall time", "zh": "实验总用时"}


def _campaign_part(runs_root, campaign: str | None, lang: str) -> list[str]:
    path = Path(runs_root or "runs") / (campaign or "") / records.TIMING
    body = campaign_time_section(records.read_json(path), runs_root, lang) if campaign and path.is_file() \
        else say("no_campaign_time", lang) + "\n"
    return [f"## {CAMPAIGN_TITLE[lang]}\n", body]


# record kind -> its renderer and (heading, introduction, text when there is none), in both languages
PERFORMANCE_SECTIONS = [
    ("bench", _bench_section, (
        {"en": "Input pipeline and training path", "zh": "数据管线与训练路径"},
        {"en": "Throughput of the original report's input pipeline (per-image PIL transforms through a DataLoader, "
               "fp32) against this project's path (uint8 tensors on the device, batched crop/flip, channels_last, "
               "bf16), measured by `python -m cifar100lab bench` in one process on synthetic CIFAR-shaped images: "
               "these are speed measurements, not accuracy results.",
         "zh": "原报告的数据管线（逐图 PIL 变换 + DataLoader，fp32）与本项目路径（设备上的 uint8 张量、批量裁剪/翻转、"
               "channels_last、bf16）的吞吐量对比，由 `python -m cifar100lab bench` 在同一进程中用合成的 CIFAR 形状图像测得："
               "这些是速度测量，不是准确率结果。"},
        {"en": "No benchmark record yet.", "zh": "尚无基准测试记录。"})),
    ("epoch_times", _epoch_times_section, (
        {"en": "Epoch times and predicted campaign duration", "zh": "每轮用时与实验预计时长"},
        {"en": "Measured by `python -m cifar100lab bench --campaign <campaign.yaml>`: one epoch of every distinct "
               "network of a campaign on synthetic data of the campaign's sizes.",
         "zh": "由 `python -m cifar100lab bench --campaign <campaign.yaml>` 测得：在与实验相同尺寸的合成数据上，"
               "实验中每个不同网络的一轮用时。"},
        {"en": "No epoch-time record yet.", "zh": "尚无每轮用时记录。"})),
    ("runs", _runs_section, (
        {"en": "Timed training runs", "zh": "计时训练运行"},
        {"en": "Whole runs of the trainer, for accuracy and wall time together.",
         "zh": "完整的训练运行，同时给出准确率与总用时。"},
        {"en": "No timed-run record yet.", "zh": "尚无计时训练记录。"})),
    ("check", _check_section, (
        {"en": "GPU acceptance checks", "zh": "GPU 验收检查"},
        {"en": "Steps 1 and 3 of `benchmarks/gpu_check.sh` (`python -m cifar100lab check fork|resume`).",
         "zh": "`benchmarks/gpu_check.sh` 的第 1 步与第 3 步（`python -m cifar100lab check fork|resume`）。"},
        {"en": "No check record yet.", "zh": "尚无检查记录。"})),
]


def write_performance_page(bench_dir="benchmarks/records", out_dir="book/generated", runs_root="runs",
                           campaign: str | None = None) -> list[dict]:
    """The Performance page: the campaign's own timing record (``runs/<campaign>/timing.json``) and the
    benchmark records (``python -m cifar100lab bench [--campaign …] --out …``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    found = [records.read_json(p) for p in sorted(Path(bench_dir).glob("*.json"))] if Path(bench_dir).is_dir() else []
    has_gpu = any(b.get("device_type") == "cuda" for b in found)
    measured = {"measured": measured_epochs(runs_root, campaign)}
    for lang in LANGS:
        parts = _campaign_part(runs_root, campaign, lang)
        for kind, render, (title, intro, empty) in PERFORMANCE_SECTIONS:
            parts += [f"## {title[lang]}\n", intro[lang] + "\n"]
            parts += [render(r, lang, **(measured if kind == "epoch_times" else {})) for r in found
                      if r.get("kind", "check" if "check" in r else None) == kind] \
                or [empty[lang] + "\n"]
        if not has_gpu:
            parts.append(":::{note}\n" + say("no_gpu", lang) + "\n:::\n")
        (out / f"performance_{lang}.md").write_text("\n".join(parts), encoding="utf-8")
    return found
