"""The Performance page, from the benchmark records in ``benchmarks/records`` (``python -m cifar100lab bench``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import records
from .i18n import LANGS, dataset_label, fmt
from .tables import markdown_table


PATH_ZH = {"original": "原始管线", "ours": "本项目", "ours+compile": "本项目 + compile"}
CPU_TRAIN_SPEEDUP_TARGET = 2.5  # issue 6: ResNet-20 training on 2 CPU cores vs the original pipeline


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _bench_section(b: dict, en: bool) -> str:
    df = pd.DataFrame(b["rows"])
    speedup = df.get("train_speedup", pd.Series([None] * len(df)))
    t = pd.DataFrame({
        ("Model" if en else "模型"): df.model,
        ("Path" if en else "路径"): df.path if en else df.path.map(lambda p: PATH_ZH.get(p, p)),
        ("Precision" if en else "精度"): df.precision,
        ("Train img/s" if en else "训练 图像/秒"): df.train_images_per_second.map(lambda v: fmt(v, 0)),
        ("Eval img/s" if en else "评估 图像/秒"): df.eval_images_per_second.map(lambda v: fmt(v, 0)),
        ("Achieved TFLOP/s" if en else "实际 TFLOP/s"): df.achieved_tflops.map(lambda v: fmt(v, 3)),
        ("Share of matmul peak" if en else "占矩阵乘峰值比例"): df.fraction_of_peak.map(lambda v: f"{100 * v:.1f} %"),
        ("Train speed-up" if en else "训练加速比"): speedup.map(lambda v: f"{v:.2f}×" if v == v and v else "–"),
    })
    peaks = ", ".join(f"{k} {v:.3f}" for k, v in b["peaks_tflops"].items())
    repeats = b.get("repeats", 1)
    if en:
        head = (f"**{b['device']}** — measured {b['measured']}, torch {b['versions']['torch']}, batch {b['batch_size']}, "
                f"{b['steps']} timed steps per round, median of {repeats} interleaved round(s); measured matmul peak "
                f"(TFLOP/s): {peaks}. *First round* is the untimed warm-up of a path's first round (DataLoader start-up; "
                f"for `ours+compile` the one-off compilation, shorter when torch's compile cache is already warm).\n\n")
    else:
        head = (f"**{b['device']}** —— 测于 {b['measured']}，torch {b['versions']['torch']}，批大小 {b['batch_size']}，"
                f"每轮计时 {b['steps']} 步，取 {repeats} 轮交替测量的中位数；实测矩阵乘峰值（TFLOP/s）：{peaks}。"
                f"“首轮用时”是第一轮未计时的预热（DataLoader 启动；`ours+compile` 含一次性编译；若 torch 的编译缓存已存在则更短）。\n\n")
    lines = []
    if b.get("device_type") == "cpu":
        best = max((r for r in b["rows"] if r["path"] != "original"), key=lambda r: r["train_speedup"])
        met = best["train_speedup"] >= CPU_TRAIN_SPEEDUP_TARGET
        lines.append(
            f"- The project's CPU target is training at ≥ {CPU_TRAIN_SPEEDUP_TARGET}× the original pipeline: "
            + (f"met by `{best['path']}` ({best['train_speedup']:.2f}×)." if met else
               f"not met (best: `{best['path']}`, {best['train_speedup']:.2f}×).") if en else
            f"- 本项目的 CPU 目标是训练速度达到原始管线的 ≥ {CPU_TRAIN_SPEEDUP_TARGET}×："
            + (f"`{best['path']}` 达到（{best['train_speedup']:.2f}×）。" if met else
               f"未达到（最好为 `{best['path']}`，{best['train_speedup']:.2f}×）。"))
    for r in b["rows"]:
        if r["path"] == "original":
            continue
        first = r.get("first_round_seconds")
        if en:
            lines.append(f"- {r['model']}, `{r['path']}`: training **{r['train_speedup']:.2f}×** and evaluation "
                         f"**{r['eval_speedup']:.2f}×** the original pipeline's images/s"
                         + (f"; first round {first:.1f} s." if first is not None else "."))
        else:
            lines.append(f"- {r['model']}，`{r['path']}`：训练速度为原始管线的 **{r['train_speedup']:.2f}×**，"
                         f"评估速度为 **{r['eval_speedup']:.2f}×**"
                         + (f"；首轮用时 {first:.1f} 秒。" if first is not None else "。"))
    return head + markdown_table(t) + "\n" + "\n".join(lines) + "\n"


def _epoch_times_section(e: dict, en: bool) -> str:
    df = pd.DataFrame(e["networks"])
    net = df.model + df.options.map(lambda o: "".join(f", {k}={v}" for k, v in o.items()) if o else "")
    t = pd.DataFrame({
        ("Network" if en else "网络"): net, ("Input px" if en else "输入尺寸"): df.input_size,
        ("Batch" if en else "批大小"): df.batch_size,
        ("Path" if en else "路径"): [
            " · ".join(x for x in (n.get("precision"), n.get("optimizer"), "CL" if n.get("channels_last") else None,
                                   "compile" if n.get("compile") else None) if x) for n in e["networks"]],
        ("Train img/s" if en else "训练 图像/秒"): df.train_images_per_second.map(lambda v: fmt(v, 0)),
        ("Eval img/s" if en else "评估 图像/秒"): df.eval_images_per_second.map(lambda v: fmt(v, 0)),
        ("Epoch (s)" if en else "每轮（秒）"): df.epoch_seconds.map(lambda v: fmt(v, 1)),
        ("Runs × epochs" if en else "运行 × 轮数"): [f"{len(r)} × {n // max(len(r), 1)}" for r, n in zip(df.runs, df.run_epochs)],
        ("Predicted" if en else "预计用时"): df.predicted_seconds.map(_hours),
    })
    total = _hours(e["predicted_campaign_seconds"])
    tuned = sum(n["predicted_seconds"] for n in e["networks"] if n.get("pretrained"))
    if tuned:
        total += (f"; fine-tunes of pretrained weights account for {_hours(tuned)} of it" if en else
                  f"；其中预训练权重微调占 {_hours(tuned)}")
    partial = "" if e.get("complete", True) else (" (only some of its networks were timed)" if en else "（只测了部分网络）")
    if en:
        head = (f"**{e['device']}** — the `{e['campaign']}` campaign ({e['campaign_file']}){partial}, one process, "
                f"each network as its runs are configured (precision, memory format, compilation, its recipe's "
                f"optimizer); measured {e['measured']} with torch {e['versions']['torch']}. "
                f"An epoch is the run's training images (the campaign's subset, or all {e['train_images']:,} of "
                f"{e['dataset']}) at the measured training rate plus its test images (up to {e['test_images']:,}) at "
                f"the measured evaluation rate. "
                f"**Predicted duration of the whole campaign on one process of this device: {total}** "
                f"(a lower bound: process start-up, checkpoints and compilation are not included). "
                f"CL: channels_last.\n\n")
    else:
        head = (f"**{e['device']}** —— `{e['campaign']}` 实验（{e['campaign_file']}）{partial}，单进程，"
                f"每个网络按其运行的配置计时（精度、内存格式、是否编译、配方的优化器）；测于 {e['measured']}，"
                f"torch {e['versions']['torch']}。"
                f"每轮 = 该运行的训练图像（实验所取子集，或 {e['dataset']} 全部 {e['train_images']:,} 张）按实测训练速度，"
                f"加上其测试图像（至多 {e['test_images']:,} 张）按实测评估速度。**整个实验在该设备单进程上的预计用时：{total}**"
                f"（下限：不含进程启动、检查点与编译时间）。CL：channels_last。\n\n")
    return head + markdown_table(t)


def _runs_section(r: dict, en: bool) -> str:
    lang = "en" if en else "zh"
    rows = r["runs"]
    dataset = (rows[0].get("dataset") or {}) if rows else {}
    t = pd.DataFrame({
        ("Run" if en else "运行"): [x["label"] for x in rows],
        ("Status" if en else "状态"): [x["status"] for x in rows],
        ("Top-1 (%)" if en else "Top-1（%）"): [fmt((x.get("final") or {}).get("top1")) for x in rows],
        ("Top-5 (%)" if en else "Top-5（%）"): [fmt((x.get("final") or {}).get("top5")) for x in rows],
        ("Wall time" if en else "总用时"): [_hours(x["wall_seconds"]) for x in rows],
        ("Mean epoch (s)" if en else "平均每轮（秒）"): [
            fmt(sum(x["epoch_seconds"]) / len(x["epoch_seconds"]), 1) if x.get("epoch_seconds") else "–" for x in rows],
        ("Train img/s" if en else "训练 图像/秒"): [fmt(x.get("images_per_second"), 0) for x in rows],
    })
    data = dataset_label(dataset.get("name"), dataset.get("label", ""))[lang]
    head = (f"### {r['title'].get(lang, r['title'].get('en', ''))}\n\n{r['description'].get(lang, '')}\n\n"
            + (f"**{r['device']}** — {data}; measured {r['measured']} with torch {r['versions']['torch']} "
               f"(`python -m cifar100lab bench --runs {r['file']}`).\n\n" if en else
               f"**{r['device']}** —— {data}；测于 {r['measured']}，torch {r['versions']['torch']}"
               f"（`python -m cifar100lab bench --runs {r['file']}`）。\n\n"))
    return head + markdown_table(t)


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
]


def write_performance_page(bench_dir="benchmarks/records", out_dir="book/generated") -> list[dict]:
    """The Performance page from the benchmark records (``python -m cifar100lab bench [--campaign …] --out …``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    found = [records.read_json(p) for p in sorted(Path(bench_dir).glob("*.json"))] if Path(bench_dir).is_dir() else []
    has_gpu = any(b.get("device_type") == "cuda" for b in found)
    for lang in LANGS:
        en = lang == "en"
        parts = []
        for kind, render, (title, intro, empty) in PERFORMANCE_SECTIONS:
            parts += [f"## {title[lang]}\n", intro[lang] + "\n"]
            parts += [render(r, en) for r in found if r.get("kind") == kind] or [empty[lang] + "\n"]
        if not has_gpu:
            parts.append(":::{note}\n" + (
                "No GPU measurement is recorded yet: these records come from CPUs only. On a GPU machine, "
                "`bash benchmarks/gpu_check.sh` measures the same tables and the 200-epoch ResNet-20 run and writes "
                "their records to `benchmarks/records/`." if en else
                "尚无 GPU 测量记录：以上记录均来自 CPU。在 GPU 机器上运行 `bash benchmarks/gpu_check.sh` 可测得同样的表格"
                "以及 200 轮 ResNet-20 的训练，并把记录写入 `benchmarks/records/`。") + "\n:::\n")
        (out / f"performance_{lang}.md").write_text("\n".join(parts), encoding="utf-8")
    return found
