"""The Performance page, from the benchmark records in ``benchmarks/records`` (``python -m cifar100lab bench``).
Each sentence is one template per fact in both languages (as in :mod:`.i18n`); the tables' headers too."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .. import records
from . import performance_gpu as gpu
from .i18n import LANGS, STATUS, dataset_label, fill, fmt
from .tables import markdown_table

CPU_TRAIN_SPEEDUP_TARGET = 2.5  # the project's goal: ResNet-20 training on 2 CPU cores vs the original pipeline
PATHS = {"original": {"en": "original", "zh": "原始管线"}, "ours": {"en": "ours", "zh": "本项目"},
         "ours+compile": {"en": "ours+compile", "zh": "本项目 + compile"},
         "ours+cuda-graph": {"en": "ours+CUDA graph", "zh": "本项目 + CUDA 图"},
         "ours+compile+cuda-graph": {"en": "ours+compile+CUDA graph", "zh": "本项目 + compile + CUDA 图"}}
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
              "evaluation rate. **Estimated epoch time of the whole campaign on one process of this device: "
              "{total}{tuned}** (an estimate from one timed epoch per network; process start-up, checkpoints and "
              "compilation not included){against}. CL: channels_last.",
        "zh": "**{device}** —— `{campaign}` 实验（{file}）{partial}，单进程，每个网络按其运行的配置计时（精度、内存格式、"
              "是否编译、配方的优化器）；测于 {measured}，torch {torch}。每轮 = 该运行的训练图像（实验所取子集，或 {dataset} "
              "全部 {train} 张）按实测训练速度，加上其测试图像（至多 {test} 张）按实测评估速度。**整个实验在该设备单进程上的"
              "各轮用时估计：{total}{tuned}**（由每个网络计时一轮估算；不含进程启动、检查点与编译时间）{against}。CL：channels_last。"},
    "against_measured": {"en": ". The campaign itself ran on {started}: {wall} of wall time with {jobs} run(s) side by "
                               "side{skipped}. For the {n} run(s) that trained, the estimate is {predicted} of epochs; "
                               "their records hold {measured}, so the estimate is **{ratio}×** what was measured: {verdict}",
                         "zh": "。实验本身于 {started} 运行：总用时 {wall}，{jobs} 个运行并行{skipped}。对实际训练的 {n} 次运行，"
                               "各轮用时估计为 {predicted}；其记录中各轮共用时 {measured}，估计为实测的 **{ratio}×**：{verdict}"},
    "against_skipped": {"en": "; {n} run(s) did not train (skipped), holding {t} of the estimate",
                        "zh": "；{n} 次运行未训练（已跳过），占估计中的 {t}"},
    "estimate_over": {"en": "an over-estimate", "zh": "估计偏高"},
    "estimate_under": {"en": "an under-estimate", "zh": "估计偏低"},
    "estimate_close": {"en": "within 10 % of the measurement", "zh": "与实测相差不到 10%"},
    "same_setup": {"en": "The same {model} setup ({setup}) appears as \"{label}\" here at {ips} img/s and as \"{other}\" in "
                         "\"{other_title}\" at {other_ips} img/s. They are different measurements ({when} and {other_when}, "
                         "commits {commit} and {other_commit}), not different settings; within this run one epoch took "
                         "{lo}–{hi} s ({spread}× apart), which points to other work on the machine while it ran. Read a "
                         "setup's speed from the run whose epochs agree with each other.",
                   "zh": "相同的 {model} 设置（{setup}）在此为“{label}”，{ips} 图像/秒；在“{other_title}”中为“{other}”，"
                         "{other_ips} 图像/秒。这是两次不同的测量（{when} 与 {other_when}，提交 {commit} 与 {other_commit}），"
                         "而非不同的设置；本次运行中每轮用时 {lo}–{hi} 秒（相差 {spread}×），表明运行期间机器很可能同时在做其他工作。"
                         "某一设置的速度应以各轮用时一致的那次运行为准。"},
    "setup_words": {"en": "{precision}, {layout}, batch {batch}, {images:,} images × {epochs} epochs, {threads} threads",
                    "zh": "{precision}、{layout}、批大小 {batch}、{images:,} 张图像 × {epochs} 轮、{threads} 线程"},
    "other_gpu": {"en": "The target above names an {named}; this record ran on an {device} (the record's GPU), so it "
                        "shows the time on an {device}, not whether an {named} meets the target.",
                  "zh": "上文的目标针对 {named}；本记录在 {device} 上测得（记录中的 GPU），因此它给出的是 {device} 上的用时，"
                        "并不说明 {named} 能否达到该目标。"},
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
    lines += [x for x in [gpu.bench_target(b, lang)] if x]
    return head + "\n\n" + t + "\n" + "\n".join(lines) + "\n"


def measured_epochs(runs_root, campaign: str | None) -> dict | None:
    """{'campaign', 'started', 'wall_seconds', 'jobs', 'seconds': {run id: epoch seconds}, 'skipped': [run ids]}:
    the epoch time (training and evaluation) each run of the campaign's last timed invocation recorded, and the
    runs that did not train; None without a timing record."""
    path = Path(runs_root or "runs") / (campaign or "") / records.TIMING
    if not campaign or not path.is_file():
        return None
    timing = records.read_json(path)
    seconds = {r["run_id"]: _epochs_seconds(path.parent / r["run_id"]) for r in timing["runs"]}
    return {"campaign": timing["campaign"], "started": timing["started"][:10], "wall_seconds": timing["wall_seconds"],
            "jobs": timing["jobs"], "seconds": {k: v for k, v in seconds.items() if v},
            "skipped": [r["run_id"] for r in timing["runs"] if r["status"] == "skipped"]}


def _predicted_for(e: dict, run_ids) -> float:
    """The estimate's share for these runs (a network's estimate split evenly over its runs)."""
    return sum(n["predicted_seconds"] * sum(r in run_ids for r in n["runs"]) / max(1, len(n["runs"]))
               for n in e["networks"])


def _against(e: dict, measured: dict | None, lang: str) -> str:
    """The estimate beside what the same campaign measured: its wall time, the runs that did not train, and the
    epochs of those that did (so the estimate is called what the data shows it is)."""
    if not measured or measured["campaign"] != e["campaign"] or not measured["seconds"]:
        return ""
    ran = measured["seconds"]
    predicted = _predicted_for(e, ran)
    actual = sum(ran[r] for n in e["networks"] for r in n["runs"] if r in ran)
    if not predicted or not actual:
        return ""
    ratio = predicted / actual
    verdict = "estimate_close" if 0.9 <= ratio <= 1.1 else "estimate_over" if ratio > 1 else "estimate_under"
    skipped = measured.get("skipped") or []
    return say("against_measured", lang, n=sum(r in ran for n in e["networks"] for r in n["runs"]),
               predicted=_hours(predicted), measured=_hours(actual), started=measured["started"],
               wall=_hours(measured["wall_seconds"]), jobs=measured["jobs"], ratio=f"{ratio:.1f}",
               verdict=say(verdict, lang),
               skipped=say("against_skipped", lang, n=len(skipped), t=_hours(_predicted_for(e, skipped)))
               if skipped else "")


def _epoch_times_section(e: dict, lang: str, measured: dict | None = None, found: list[dict] = ()) -> str:
    df = pd.DataFrame(e["networks"])
    paths = [" · ".join(x for x in (n.get("precision"), n.get("optimizer"), "CL" if n.get("channels_last") else None,
                                    "compile" if n.get("compile") else None, "CUDA graph" if n.get("cuda_graph") else None)
                         if x) for n in e["networks"]]
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
    notes = [n for n in (gpu.prediction(e, lang), gpu.run_check(e, list(found), lang)) if n]
    # network names may wrap: book/_static/tables.css
    return head + "\n\n:::{div} names-wrap\n" + t + ":::\n" + "".join("\n" + n for n in notes) + ("\n" if notes else "")


# What makes two timed runs the same setup (with the device, its threads and the resolved precision).
SETUP_KEYS = ("model", "options", "dataset", "train_subset", "epochs", "batch_size", "channels_last", "compile",
              "fused_optimizer", "recipe", "augment", "overrides")
GPU_NAME = re.compile(r"\b(?:[ABHLV]\d{2,3}|GH200|GB200)\b")  # a GPU model a target names: H100, A100, V100, L40


def _setup(record: dict, run: dict) -> str:
    cfg = run.get("config") or {}
    return json.dumps([record["device"], record.get("torch_threads"), (run.get("hardware") or {}).get("precision"),
                       *(cfg.get(k) for k in SETUP_KEYS)], sort_keys=True, default=str)


def _same_setup_notes(r: dict, found: list[dict], lang: str) -> list[str]:
    """For each run of ``r`` that another record measured in the same setup at a very different speed (this one
    the slower): why the two numbers differ, from the two records (dates, commits, this run's epoch spread)."""
    notes = []
    for x in r["runs"]:
        twins = [(o, y) for o in found if o is not r and o.get("kind") == "runs" for y in o["runs"]
                 if _setup(o, y) == _setup(r, x) and (y.get("images_per_second") or 0) >= 1.5 * (x.get("images_per_second") or 1e9)]
        if not twins or not x.get("epoch_seconds"):
            continue
        # the same seed first (the same images in the same order), then the fastest
        o, y = max(twins, key=lambda t: (t[1]["config"].get("seed") == x["config"].get("seed"), t[1]["images_per_second"]))
        cfg, lo, hi = x["config"], min(x["epoch_seconds"]), max(x["epoch_seconds"])
        setup = say("setup_words", lang, precision=x["hardware"]["precision"], batch=cfg["batch_size"],
                    layout="channels_last" if cfg.get("channels_last") else "NCHW", images=cfg["train_subset"],
                    epochs=cfg["epochs"], threads=r.get("torch_threads"))
        notes.append(say("same_setup", lang, model=cfg["model"], setup=setup, label=x["label"], ips=fmt(x["images_per_second"], 0),
                         other=y["label"], other_title=o["title"].get(lang, ""), other_ips=fmt(y["images_per_second"], 0),
                         when=r["measured"][:10], other_when=o["measured"][:10], commit=r.get("git_commit", "–")[:7],
                         other_commit=o.get("git_commit", "–")[:7], lo=fmt(lo, 0), hi=fmt(hi, 0), spread=f"{hi / lo:.1f}"))
    return notes


def _gpu_notes(r: dict, lang: str) -> list[str]:
    """A target that names another GPU than the record's: the record speaks for its own GPU only."""
    named = sorted(set(GPU_NAME.findall(r["description"].get("en", ""))))
    return [say("other_gpu", lang, named=n, device=r["device"]) for n in named
            if r.get("device_type") == "cuda" and n not in r["device"]]


def _runs_section(r: dict, lang: str, found: list[dict] = ()) -> str:
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
    notes = "".join("\n" + n + "\n" for n in gpu.run_target(r, lang) + _gpu_notes(r, lang)
                    + _same_setup_notes(r, list(found), lang))
    # a variant's label (its switches, in words) wraps between words: book/_static/tables.css, .run-titles
    return f"### {title}\n\n{r['description'].get(lang, '')}\n\n{head}\n\n:::{{div}} run-titles\n{t}:::\n{notes}"


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
    ("packing", gpu.packing_section, (
        {"en": "Several runs on one GPU", "zh": "一块 GPU 上同时运行多次训练"},
        {"en": "A small network leaves a large GPU mostly idle, so several runs side by side may train more images "
               "per second in all. `python -m cifar100lab bench --pack 1 2 4 8` starts k runs of one network, each "
               "in its own process on the same GPU, times them together and adds up their training images/s; the "
               "slowdown per run (k ÷ the speed-up) is what `bench --campaign --slowdown` takes to predict a "
               "campaign's wall time.",
         "zh": "小网络只能用到大 GPU 的一小部分，因此并行运行多次训练，合计每秒训练的图像可能更多。"
               "`python -m cifar100lab bench --pack 1 2 4 8` 在同一块 GPU 上启动 k 次同一网络的运行（各自一个进程），"
               "同时计时并把它们的训练 图像/秒 相加；每次运行的减速（k ÷ 加速比）即 `bench --campaign --slowdown` "
               "预计实验总用时所用的值。"},
        {"en": "No packing record yet.", "zh": "尚无多运行共享 GPU 的记录。"})),
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
    ("sync_check", gpu.sync_section, (
        {"en": "A training step that never waits on the host", "zh": "从不让主机等待的训练步"},
        {"en": "`benchmarks/sync_check.py` (step 7 of `benchmarks/gpu_check.sh`) runs 4 training steps of each "
               "feature (ResNet-20, batch 128, synthetic images, after 5 warm-up steps: a CUDA graph is captured in them) under "
               "`torch.cuda.set_sync_debug_mode(\"error\")`, so any step that makes the host wait for the device "
               "(`.item()`, a blocking host-to-device copy, a branch on a device value) fails and names the operation.",
         "zh": "`benchmarks/sync_check.py`（`benchmarks/gpu_check.sh` 的第 7 步）在 "
               "`torch.cuda.set_sync_debug_mode(\"error\")` 下对每个功能运行 4 个训练步（ResNet-20，批大小 128，合成图像，"
               "先预热 5 步，CUDA 图在其中捕获），任何让主机等待设备的操作（`.item()`、阻塞的主机到设备拷贝、依据设备上的值分支）都会报错并指出该操作。"},
        {"en": "No sync-check record yet.", "zh": "尚无同步检查记录。"})),
    ("graph_check", gpu.graph_section, (
        {"en": "The whole step as one CUDA graph", "zh": "整个训练步作为一个 CUDA 图"},
        {"en": "With `cuda_graph: true` the trainer captures the step's forward, backward, clipping and optimizer once "
               "and replays it with one launch per step (`cifar100lab/step_graph.py`). `benchmarks/graph_check.py` "
               "trains two copies of ResNet-20 on the same 30 batches with deterministic kernels, one step by step "
               "and one through the graph, and compares their losses and final weights.",
         "zh": "设置 `cuda_graph: true` 后，训练器把一步的前向、反向、梯度裁剪与优化器捕获一次，之后每步只需一次启动即可重放"
               "（`cifar100lab/step_graph.py`）。`benchmarks/graph_check.py` 用确定性内核在相同的 30 个批次上训练两份 ResNet-20，"
               "一份逐步执行，一份经由 CUDA 图，并比较二者的损失与最终权重。"},
        {"en": "No CUDA-graph check record yet.", "zh": "尚无 CUDA 图检查记录。"})),
]


def write_performance_page(bench_dir="benchmarks/records", out_dir="book/generated", runs_root="runs",
                           campaign: str | None = None) -> list[dict]:
    """The Performance page: the campaign's own timing record (``runs/<campaign>/timing.json``) and the
    benchmark records (``python -m cifar100lab bench [--campaign …] --out …``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    found = [records.read_json(p) for p in sorted(Path(bench_dir).glob("*.json"))] if Path(bench_dir).is_dir() else []
    has_gpu = any(b.get("device_type") == "cuda" for b in found)
    extra = {"epoch_times": {"measured": measured_epochs(runs_root, campaign), "found": found}, "runs": {"found": found}}
    for lang in LANGS:
        parts = _campaign_part(runs_root, campaign, lang)
        for kind, render, (title, intro, empty) in PERFORMANCE_SECTIONS:
            parts += [f"## {title[lang]}\n", intro[lang] + "\n"]
            parts += [render(r, lang, **extra.get(kind, {})) for r in found
                      if r.get("kind", "check" if "check" in r else None) == kind] \
                or [empty[lang] + "\n"]
        if not has_gpu:
            parts.append(":::{note}\n" + say("no_gpu", lang) + "\n:::\n")
        (out / f"performance_{lang}.md").write_text("\n".join(parts), encoding="utf-8")
    return found
