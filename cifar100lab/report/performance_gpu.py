"""The Performance page's GPU sections, from the records ``benchmarks/gpu_check.sh`` writes: the GPU targets of
the throughput bench and the 200-epoch run, several runs sharing one GPU (``bench --pack``), a training step that
never waits on the host (``benchmarks/sync_check.py``), the step replayed as one CUDA graph against the eager one
(``benchmarks/graph_check.py``), and the campaign's predicted wall time on 1 and 8 GPUs beside the original
report's claim and checked against a real 200-epoch run. Its words are in :mod:`.performance_text`."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..model_facts import TRAINING_FLOPS_PER_FORWARD, training_flops
from ..wall_time import campaign_prediction, no_gain_prediction
from .i18n import fmt
from .performance_text import commit_words, say, table
from .sources import REFERENCE

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


def _in_hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h"


def _original_claim(lang: str) -> str:
    """The original report's training time for its whole study: its table's per-model times (200 epochs on
    8×V100, one model at a time) added up."""
    hours = pd.read_csv(REFERENCE / "original_claims.csv").set_index("model").train_hours_8xV100
    return say("original_claim", lang, total=f"{hours.sum():.1f} h", models=len(hours), lo=f"{hours.min():.1f}",
               hi=f"{hours.max():.1f} h", resnet_20=f"{hours['resnet_20']:.1f} h")


def scheduled(e: dict) -> dict:
    """The record's 1- and 8-GPU prediction, scheduled again from its networks' epoch times as the campaign's queue
    hands its runs out (a record written before 2026-12-08 scheduled them longest first, and slowed a run sharing
    nothing); the record's own where its networks lack their epochs per run."""
    pred = e["prediction"]
    if not all(n.get("epochs_per_run") for n in e["networks"]):
        return pred
    return campaign_prediction(e["networks"], pred["runs_per_gpu"], pred["shared_run_slowdown"], e.get("run_order"))


def prediction(e: dict, lang: str) -> str:
    """The campaign's wall time on 1 and 8 GPUs (with runs packed onto each GPU, if the record says so); beside
    the original report's claim only where both speak for the same whole study."""
    pred = e.get("prediction")
    if not pred or e.get("device_type") != "cuda":
        return ""
    pred, complete = scheduled(e), e.get("complete", True)
    runs = sum(len(n["runs"]) for n in e["networks"])
    k = pred["runs_per_gpu"]
    packing = say("runs_per_gpu", lang, k=k, slowdown=f"{pred['shared_run_slowdown']:.2f}") \
        if k > 1 else say("one_run_per_gpu", lang)
    if k > 1 and pred["shared_run_slowdown"] < k and all(n.get("epochs_per_run") for n in e["networks"]):
        bound = no_gain_prediction(e["networks"], k, e.get("run_order"))  # the slowdown was measured on one small network
        packing += say("no_gain", lang, k=k, gpus_1=_in_hours(bound["gpus_1_seconds"]),
                       gpus_8=_in_hours(bound["gpus_8_seconds"]))
    whole_study = complete and e["campaign"] == CLAIM_CAMPAIGN
    return say("prediction", lang, scope=say("prediction_all" if complete else "prediction_partial", lang, n=runs),
               gpus_1=_in_hours(pred["gpus_1_seconds"]), gpus_8=_in_hours(pred["gpus_8_seconds"]), device=e["device"],
               packing=packing, claim=_original_claim(lang) + _protocol_target(e, pred, lang) if whole_study else "") \
        + (_protocol_arithmetic(e, pred, lang) if whole_study else "")


def _protocol_target(e: dict, pred: dict, lang: str) -> str:
    gpu = PACK_TARGET["gpu"]
    met = gpu in e["device"] and pred["gpus_1_seconds"] <= PROTOCOL_TARGET_SECONDS
    return say("protocol_target", lang, target=PROTOCOL_TARGET_SECONDS // 3600, gpu=gpu,
               verdict=say("met" if met else "missed", lang))


def _protocol_arithmetic(e: dict, pred: dict, lang: str) -> str:
    """What the target asks of the GPU: the protocol's FLOPs over the target time, against the measured matmul
    peak of the networks' precision and what the prediction ``pred`` (:func:`scheduled`) sustains ("" for a record
    without FLOPs)."""
    nets = e["networks"]
    precisions = {n["precision"] for n in nets}
    peak = e.get("peaks_tflops", {}).get(next(iter(precisions)))
    if len(precisions) != 1 or not peak or not all(n.get("flops_per_image") for n in nets):
        return ""
    flop = sum(n["run_epochs"] * (training_flops(n) * n["train_images"]
                                  + n["flops_per_image"] * n.get("eval_images", n.get("test_images")))
               for n in nets)  # records before 2026-12-06 named the evaluated images test_images
    need, now = flop / PROTOCOL_TARGET_SECONDS / 1e12, flop / pred["gpus_1_seconds"] / 1e12
    return say("protocol_arithmetic", lang, factor=TRAINING_FLOPS_PER_FORWARD, eflop=f"{flop / 1e18:.2f}",
               target=PROTOCOL_TARGET_SECONDS // 3600, need=f"{need:.0f}", need_share=f"{need / peak:.0%}", precision=next(iter(precisions)),
               peak=f"{peak:.0f}", now=f"{now:.0f}", now_share=f"{now / peak:.0%}")


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
    t = table({"pack_runs": [x["runs"] for x in rows],
                "pack_total": [f"{x['aggregate_images_per_second']:,.0f}" for x in rows],
                "pack_speedup": [f"{x['aggregate_speedup']:.2f}×" for x in rows],
                "pack_slowdown": [f"{x['shared_run_slowdown']:.2f}×" for x in rows]}, lang)
    head = say("pack_head", lang, device=r["device"], model=r["model"], batch=r["batch_size"], steps=r["steps"],
               graph=say("pack_graph", lang) if r.get("cuda_graph") else "",
               warmup=r["warmup"], measured=r["measured"][:10], torch=r["versions"]["torch"], commit=commit_words(r, lang))
    target = ""
    if r.get("device_type") == "cuda" and r["model"] == PACK_TARGET["model"]:
        packed = next((x for x in rows if x["runs"] == PACK_TARGET["runs"]), None)
        # the target names its GPU: another GPU's speed-up says how that one shares, not whether an H200 meets it
        fact = "pack_unmeasured" if packed is None else "pack_elsewhere" if PACK_TARGET["gpu"] not in r["device"] \
            else "pack_met" if packed["aggregate_speedup"] >= PACK_TARGET["speedup"] else "pack_missed"
        verdict = say(fact, lang, runs=PACK_TARGET["runs"], device=r["device"], gpu=PACK_TARGET["gpu"],
                      speedup=f"{packed['aggregate_speedup']:.2f}" if packed else "")
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
    t = table({"feature": list(features),
                "result": [say("check_passed", lang) if f["ok"] else _sync_failure(f, lang) for f in features.values()]},
               lang)
    head = say("sync_head", lang, device=r["device"], measured=r["measured"][:10], commit=commit_words(r, lang),
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
    t = table({"case": list(cases), "result": [say("check_passed", lang) if c["ok"] else say("differs", lang)
                                                for c in cases.values()],
                "loss_gap": [f"{c['max_loss_gap']:.3g}" for c in cases.values()],
                "param_diff": [f"{c['max_param_diff']:.3g}" for c in cases.values()]}, lang)
    head = say("graph_head", lang, device=r["device"], measured=r["measured"][:10], commit=commit_words(r, lang),
               passed=sum(c["ok"] for c in cases.values()), n=len(cases))
    return head + "\n\n" + t
