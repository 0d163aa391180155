"""The Performance page's GPU sections, from the records ``benchmarks/gpu_check.sh`` writes: the GPU targets of
the throughput bench and the 200-epoch run, several runs sharing one GPU (``bench --pack``), a training step that
never waits on the host (``benchmarks/sync_check.py``), the step replayed as one CUDA graph against the eager one
(``benchmarks/graph_check.py``), and the campaign's predicted wall time on 1 and 8 GPUs beside the original
report's claim and checked against a real 200-epoch run. Each sentence in English and Chinese (:mod:`.i18n`)."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .i18n import fill, fmt
from .sources import REFERENCE
from .tables import markdown_table

# Issue 21's goal: small networks leave a big GPU idle, so 8 ResNet-20 runs sharing one H200 should train ≥ 3× the
# images/s of one run alone.
PACK_TARGET = {"runs": 8, "model": "resnet_20", "gpu": "H200", "speedup": 3.0}
# The 200-epoch run (benchmarks/gpu_check.sh, step 6) that checks an epoch-time prediction against a real run.
RUN_CHECK = {"file": "benchmarks/gpu_resnet20_200.yaml", "model": "resnet_20", "batch_size": 128, "epochs": 200}
RUN_CHECK_TOLERANCE = 0.15
# Issue 21's GPU targets: ResNet-20 at batch 128 trains at ≥ 4× the original pipeline's images/s, and the 200-epoch
# run above takes ≤ 3 minutes of wall time on one H200.
BENCH_TARGET = {"model": "resnet_20", "batch_size": 128, "speedup": 4.0}
RUN_TARGET_SECONDS = 180
PROTOCOL_TARGET_SECONDS = 4 * 3600  # and the full protocol, predicted on one H200: ≤ 4 h
CLAIM_CAMPAIGN = "full"  # the original report's protocol: the only campaign its training times speak for
HEAD = {
    "pack_runs": {"en": "Runs on the GPU", "zh": "GPU 上的运行数"}, "pack_total": {"en": "Total img/s", "zh": "合计 图像/秒"},
    "pack_speedup": {"en": "Speed-up over one run", "zh": "相对单次运行的加速比"},
    "pack_slowdown": {"en": "Slowdown per run", "zh": "每次运行的减速"},
    "feature": {"en": "Feature", "zh": "功能"}, "result": {"en": "Result", "zh": "结果"},
    "case": {"en": "Case", "zh": "情形"}, "loss_gap": {"en": "Largest loss difference", "zh": "最大损失差"},
    "param_diff": {"en": "Largest weight difference after 30 steps", "zh": "30 步后最大权重差"}}
FACTS = {
    "pack_head": {"en": "**{device}** — {model} at batch {batch}{graph}, {steps} timed training steps per run after "
                        "{warmup} warm-up steps, on synthetic images; measured {measured} with torch {torch}, {commit}.",
                  "zh": "**{device}** —— {model}，批大小 {batch}{graph}，每次运行在 {warmup} 步预热后计时 {steps} 个训练步，"
                        "使用合成图像；测于 {measured}，torch {torch}，{commit}。"},
    "pack_graph": {"en": ", each run's step as one CUDA graph", "zh": "，每次运行的训练步作为一个 CUDA 图"},
    "pack_target": {"en": "- The project's GPU packing target is {runs} {model} runs sharing one {gpu} at ≥ {target}× the "
                          "aggregate throughput of one run: {verdict}.",
                    "zh": "- 本项目的 GPU 共享目标是 {runs} 个 {model} 运行共享一块 {gpu} 时，合计吞吐量达到单次运行的 ≥ {target}×："
                          "{verdict}。"},
    "pack_met": {"en": "met ({speedup}×)", "zh": "达到（{speedup}×）"},
    "pack_missed": {"en": "not met ({speedup}×)", "zh": "未达到（{speedup}×）"},
    "pack_unmeasured": {"en": "not measured (this record has no row with {runs} runs)",
                        "zh": "未测（本记录没有 {runs} 个运行的一行）"},
    "sync_head": {"en": "**{device}** — measured {measured}, {commit}: {passed} of {n} features train without a host wait.",
                  "zh": "**{device}** —— 测于 {measured}，{commit}：{n} 个功能中有 {passed} 个训练时无需主机等待。"},
    "commit": {"en": "commit {commit}", "zh": "提交 {commit}"},
    "no_commit": {"en": "commit not recorded", "zh": "未记录提交"},
    "sync_failed": {"en": "FAILED: {error}{where}", "zh": "未通过：{error}{where}"},
    "sync_where": {"en": " at `{frame}`", "zh": "，位于 `{frame}`"},
    "sync_called_from": {"en": ", called from `{frame}`", "zh": "，由 `{frame}` 调用"},
    "prediction": {"en": "- Predicted wall time of {scope}: **{gpus_1}** on one {device} and **{gpus_8}** on 8, {packing}.{claim}",
                   "zh": "- {scope}的预计总用时：单块 {device} 上 **{gpus_1}**，8 块上 **{gpus_8}**，{packing}。{claim}"},
    "prediction_all": {"en": "the campaign's {n} run(s)", "zh": "实验全部 {n} 次运行"},
    "prediction_partial": {"en": "only the {n} run(s) of the networks timed here, not the whole campaign",
                           "zh": "仅此处计时网络的 {n} 次运行（并非整个实验）"},
    "one_run_per_gpu": {"en": "one run per GPU at a time", "zh": "每块 GPU 同时只运行一次"},
    "runs_per_gpu": {"en": "{k} runs sharing each GPU, each {slowdown}× slower than alone",
                     "zh": "每块 GPU 同时运行 {k} 次，每次比单独运行慢 {slowdown}×"},
    "original_claim": {"en": " The original report's claim, for comparison: **{total} on 8×V100** for its {models} models, "
                             "one 200-epoch run each (the sum of its table's training times, {lo}–{hi} per model; "
                             "ResNet-20 {resnet_20}), numbers produced by its simulation script, not measured.",
                       "zh": "作为对照，原报告声称：其 {models} 个模型各训练一次 200 轮，在 8×V100 上共 **{total}**（其表中各模型"
                             "训练时间之和，每个模型 {lo}–{hi}；ResNet-20 为 {resnet_20}），这些数字由其模拟脚本生成，并非实测。"},
    "run_check": {"en": "- The {epochs}-epoch {model} run at batch {batch} (`{file}`, {measured}): predicted {epochs} × "
                        "{epoch} s = **{predicted}** of epochs, measured **{actual}** (its epochs' training and "
                        "evaluation), so the prediction is {ratio}× the measurement: {verdict}.",
                  "zh": "- {model} 以批大小 {batch} 训练 {epochs} 轮的运行（`{file}`，{measured}）：预计 {epochs} × {epoch} 秒 = "
                        "**{predicted}**，实测 **{actual}**（各轮训练与评估），预计为实测的 {ratio}×：{verdict}。"},
    "run_check_agree": {"en": "they agree within {tol} %", "zh": "两者相差在 {tol}% 以内"},
    "run_check_differ": {"en": "they differ by more than {tol} %", "zh": "两者相差超过 {tol}%"},
    "run_check_missing": {"en": "- The {epochs}-epoch {model} run at batch {batch} (`{file}`) has not been recorded yet{older}, "
                                "so this prediction is not checked against a run.",
                          "zh": "- {model} 以批大小 {batch} 训练 {epochs} 轮的运行（`{file}`）尚未记录{older}，因此该预计尚未与实际运行对照。"},
    "run_check_older": {"en": " (the record there is an older run at batch {batch})",
                        "zh": "（现有记录是较早的一次批大小 {batch} 的运行）"},
    "check_passed": {"en": "passed", "zh": "通过"},
    "bench_target": {"en": "- The project's GPU target is {model} training at batch {batch} at ≥ {target}× the original "
                           "pipeline's images/s: {verdict} (best: `{path}`, {speedup}×).",
                     "zh": "- 本项目的 GPU 目标是 {model} 以批大小 {batch} 训练时达到原始管线 图像/秒 的 ≥ {target}×：{verdict}"
                           "（最好为 `{path}`，{speedup}×）。"},
    "protocol_target": {"en": " The project's target for the whole `full` protocol is ≤ {target} h on one {gpu}: {verdict}.",
                        "zh": "本项目对整个 `full` 协议的目标是单块 {gpu} 上 ≤ {target} 小时：{verdict}。"},
    "met": {"en": "met", "zh": "达到"}, "missed": {"en": "not met", "zh": "未达到"},
    "differs": {"en": "differs", "zh": "不一致"},
    "run_target": {"en": "- The project's target for this run is ≤ {target} min of wall time on one {gpu}: {verdict} "
                         "({wall} s from start to record, of which {epochs} s in its epochs' training and evaluation).",
                   "zh": "- 本项目对该运行的目标是在单块 {gpu} 上总用时 ≤ {target} 分钟：{verdict}（从启动到写出记录 {wall} 秒，"
                         "其中各轮训练与评估 {epochs} 秒）。"},
    "graph_head": {"en": "**{device}** — measured {measured}, {commit}: {passed} of {n} cases train exactly as the eager "
                         "step does (loss difference ≤ 0.1 %).",
                   "zh": "**{device}** —— 测于 {measured}，{commit}：{n} 种情形中有 {passed} 种与逐步执行的训练一致"
                         "（损失差 ≤ 0.1%）。"},
}


def say(fact: str, lang: str, **values) -> str:
    return fill(FACTS[fact], lang, **values)


def _table(columns: dict, lang: str) -> str:
    return markdown_table(pd.DataFrame({HEAD[k][lang]: v for k, v in columns.items()}))


def _in_hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"


def _commit(r: dict, lang: str) -> str:
    return say("commit", lang, commit=r["git_commit"][:7]) if r.get("git_commit") else say("no_commit", lang)


def _original_claim(lang: str) -> str:
    """The original report's training time for its whole study: its table's per-model times (200 epochs on
    8×V100, one model at a time) added up."""
    hours = pd.read_csv(REFERENCE / "original_claims.csv").set_index("model").train_hours_8xV100
    return say("original_claim", lang, total=f"{hours.sum():.1f} h", models=len(hours), lo=f"{hours.min():.1f}",
               hi=f"{hours.max():.1f} h", resnet_20=f"{hours['resnet_20']:.1f} h")


def prediction(e: dict, lang: str) -> str:
    """The campaign's wall time on 1 and 8 GPUs (with runs packed onto each GPU, if the record says so); beside
    the original report's claim only where both speak for the same whole study."""
    pred = e.get("prediction")
    if not pred or e.get("device_type") != "cuda":
        return ""
    complete = e.get("complete", True)
    runs = sum(len(n["runs"]) for n in e["networks"])
    packing = say("runs_per_gpu", lang, k=pred["runs_per_gpu"], slowdown=f"{pred['shared_run_slowdown']:.2f}") \
        if pred["runs_per_gpu"] > 1 else say("one_run_per_gpu", lang)
    return say("prediction", lang, scope=say("prediction_all" if complete else "prediction_partial", lang, n=runs),
               gpus_1=_in_hours(pred["gpus_1_seconds"]), gpus_8=_in_hours(pred["gpus_8_seconds"]), device=e["device"],
               packing=packing, claim=_original_claim(lang) + _protocol_target(e, lang)
               if complete and e["campaign"] == CLAIM_CAMPAIGN else "")


def _protocol_target(e: dict, lang: str) -> str:
    gpu = PACK_TARGET["gpu"]
    met = gpu in e["device"] and e["prediction"]["gpus_1_seconds"] <= PROTOCOL_TARGET_SECONDS
    return say("protocol_target", lang, target=PROTOCOL_TARGET_SECONDS // 3600, gpu=gpu,
               verdict=say("met" if met else "missed", lang))


def _speed_mode(settings: dict) -> tuple:
    """How a run's step is executed: the torch.compile mode (None: not compiled), and whether it is one CUDA graph."""
    return (settings.get("compile_mode") or "default") if settings.get("compile") else None, bool(settings.get("cuda_graph"))


def run_check(e: dict, found: list[dict], lang: str) -> str:
    """The record's epoch time × 200 against the 200-epoch run of the same network, batch, compile mode and CUDA
    graph setting on the same GPU: the prediction checked against a real run, or why it cannot be yet."""
    row = next((n for n in e["networks"] if n["model"] == RUN_CHECK["model"] and n["batch_size"] == RUN_CHECK["batch_size"]),
               None)
    if e.get("device_type") != "cuda" or row is None:
        return ""
    runs = [(r, x) for r in found if r.get("kind") == "runs" and r.get("file") == RUN_CHECK["file"]
            and r.get("device") == e["device"] for x in r["runs"]]
    wanted = [(r, x) for r, x in runs if x["status"] == "complete" and x.get("epoch_seconds")
              and all(x["config"].get(k) == RUN_CHECK[k] for k in ("model", "batch_size", "epochs"))]
    if not wanted:
        older = {x["config"].get("batch_size") for _, x in runs} - {RUN_CHECK["batch_size"], None}
        return say("run_check_missing", lang, epochs=RUN_CHECK["epochs"], model=RUN_CHECK["model"],
                   batch=RUN_CHECK["batch_size"], file=RUN_CHECK["file"],
                   older=say("run_check_older", lang, batch=" / ".join(map(str, sorted(older)))) if older else "")
    same = [(r, x) for r, x in wanted if _speed_mode(x["config"]) == _speed_mode(row)]
    if not same:  # the run was compiled another way: another record's prediction is the one to check
        return ""
    r, x = max(same, key=lambda t: t[0]["measured"])
    predicted, actual = row["epoch_seconds"] * RUN_CHECK["epochs"], sum(x["epoch_seconds"])
    ratio = predicted / actual
    verdict = "run_check_agree" if abs(ratio - 1) <= RUN_CHECK_TOLERANCE else "run_check_differ"
    return say("run_check", lang, epochs=RUN_CHECK["epochs"], model=RUN_CHECK["model"], batch=RUN_CHECK["batch_size"],
               file=RUN_CHECK["file"], measured=r["measured"][:10], epoch=fmt(row["epoch_seconds"], 2),
               predicted=f"{predicted:,.0f} s", actual=f"{actual:,.0f} s", ratio=f"{ratio:.2f}",
               verdict=say(verdict, lang, tol=round(100 * RUN_CHECK_TOLERANCE)))


def packing_section(r: dict, lang: str) -> str:
    rows = sorted(r["rows"], key=lambda x: x["runs"])
    t = _table({"pack_runs": [x["runs"] for x in rows],
                "pack_total": [f"{x['aggregate_images_per_second']:,.0f}" for x in rows],
                "pack_speedup": [f"{x['aggregate_speedup']:.2f}×" for x in rows],
                "pack_slowdown": [f"{x['shared_run_slowdown']:.2f}×" for x in rows]}, lang)
    head = say("pack_head", lang, device=r["device"], model=r["model"], batch=r["batch_size"], steps=r["steps"],
               graph=say("pack_graph", lang) if r.get("cuda_graph") else "",
               warmup=r["warmup"], measured=r["measured"][:10], torch=r["versions"]["torch"], commit=_commit(r, lang))
    target = ""
    if r.get("device_type") == "cuda" and r["model"] == PACK_TARGET["model"]:
        packed = next((x for x in rows if x["runs"] == PACK_TARGET["runs"]), None)
        verdict = say("pack_unmeasured", lang, runs=PACK_TARGET["runs"]) if packed is None else \
            say("pack_met" if packed["aggregate_speedup"] >= PACK_TARGET["speedup"] else "pack_missed", lang,
                speedup=f"{packed['aggregate_speedup']:.2f}")
        target = say("pack_target", lang, runs=PACK_TARGET["runs"], model=PACK_TARGET["model"], gpu=PACK_TARGET["gpu"],
                     target=f"{PACK_TARGET['speedup']:g}", verdict=verdict) + "\n"
    return head + "\n\n" + t + "\n" + target


FRAME = re.compile(r'File "([^"]+)", line (\d+), in ')  # a traceback's frame: its file and line


def _short_path(path: str) -> str:
    """A traceback's file as the reader finds it: inside its installed package, or inside this repository."""
    for marker in ("site-packages/", "dist-packages/"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    parts = Path(path).parts
    top = next((i for i in reversed(range(len(parts))) if parts[i] in ("cifar100lab", "benchmarks")), None)
    return "/".join(parts[top:]) if top is not None else Path(path).name


def _sync_failure(f: dict, lang: str) -> str:
    """The error's first line, the frame that waited, and the project's own last frame that led there."""
    lines = (f.get("error") or "–").strip().splitlines() or ["–"]
    error = lines[0] if len(lines[0]) <= 120 else lines[0][:119] + "…"
    frames = [f"{_short_path(path)}:{line}" for path, line in FRAME.findall(f.get("where") or "")]
    ours = [x for x in frames if x.startswith("cifar100lab/")]
    where = say("sync_where", lang, frame=frames[-1]) if frames else ""
    if ours and ours[-1] != frames[-1]:
        where += say("sync_called_from", lang, frame=ours[-1])
    return say("sync_failed", lang, error=error, where=where)


def sync_section(r: dict, lang: str) -> str:
    features = r["features"]
    t = _table({"feature": list(features),
                "result": [say("check_passed", lang) if f["ok"] else _sync_failure(f, lang) for f in features.values()]},
               lang)
    head = say("sync_head", lang, device=r["device"], measured=r["measured"][:10], commit=_commit(r, lang),
               passed=sum(f["ok"] for f in features.values()), n=len(features))
    return head + "\n\n" + t


def bench_target(b: dict, lang: str) -> str:
    """The throughput bench's GPU target line, for a GPU record of the target's model and batch."""
    ours = [r for r in b["rows"] if r["model"] == BENCH_TARGET["model"] and r["path"] != "original"]
    if b.get("device_type") != "cuda" or b.get("batch_size") != BENCH_TARGET["batch_size"] or not ours:
        return ""
    best = max(ours, key=lambda r: r["train_speedup"])
    return say("bench_target", lang, model=BENCH_TARGET["model"], batch=BENCH_TARGET["batch_size"],
               target=f"{BENCH_TARGET['speedup']:g}", path=best["path"], speedup=f"{best['train_speedup']:.2f}",
               verdict=say("met" if best["train_speedup"] >= BENCH_TARGET["speedup"] else "missed", lang))


def run_target(r: dict, lang: str) -> list[str]:
    """The 200-epoch run's wall-time target, for each complete run of its file on a GPU."""
    if r.get("file") != RUN_CHECK["file"] or r.get("device_type") != "cuda":
        return []
    gpu = PACK_TARGET["gpu"]
    return [say("run_target", lang, target=RUN_TARGET_SECONDS // 60, gpu=gpu, wall=f"{x['wall_seconds']:.1f}",
                epochs=f"{sum(x['epoch_seconds']):.1f}",
                verdict=say("met" if x["wall_seconds"] <= RUN_TARGET_SECONDS and gpu in r["device"] else "missed", lang))
            for x in r["runs"] if x["status"] == "complete" and x.get("epoch_seconds")]


def graph_section(r: dict, lang: str) -> str:
    cases = r["cases"]
    t = _table({"case": list(cases), "result": [say("check_passed", lang) if c["ok"] else say("differs", lang)
                                                for c in cases.values()],
                "loss_gap": [f"{c['max_loss_gap']:.3g}" for c in cases.values()],
                "param_diff": [f"{c['max_param_diff']:.3g}" for c in cases.values()]}, lang)
    head = say("graph_head", lang, device=r["device"], measured=r["measured"][:10], commit=_commit(r, lang),
               passed=sum(c["ok"] for c in cases.values()), n=len(cases))
    return head + "\n\n" + t
