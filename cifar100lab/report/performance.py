"""The Performance page, from the benchmark records in ``benchmarks/records`` (``python -m cifar100lab bench``).
Its words, in English and Chinese, are in :mod:`.performance_text`."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .. import records
from . import performance_gpu as gpu
from .i18n import LANGS, STATUS, dataset_label, fmt
from .performance_text import PATHS, say, table

CPU_TRAIN_SPEEDUP_TARGET = 2.5  # the project's goal: ResNet-20 training on 2 CPU cores vs the original pipeline


def _check_section(r: dict, lang: str) -> str:
    device = (r.get("hardware") or {}).get("device") or (f"{r['gpus']} GPU" if r.get("gpus") else "CPU")
    return say("check", lang, check=r["check"], what=say(f"check_{r['check']}", lang), device=device,
               result=say("check_passed" if r["passed"] else "check_failed", lang), created=r.get("created", "–")) + "\n"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _bench_section(b: dict, lang: str) -> str:
    df = pd.DataFrame(b["rows"])
    speedup = df.get("train_speedup", pd.Series([None] * len(df)))
    t = table({"model": df.model, "path": [PATHS.get(p, {lang: p})[lang] for p in df.path], "precision": df.precision,
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
    t = table({"network": df.model + df.options.map(lambda o: "".join(f", {k}={v}" for k, v in o.items()) if o else ""),
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
    t = table({"run": [x["label"] for x in rows], "status": [x["status"] for x in rows],
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
    t = table({"run": [r["run_id"] for r in runs], "status": [STATUS.get(r["status"], {lang: r["status"]})[lang] for r in runs],
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
