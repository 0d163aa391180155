"""The Performance page, from the benchmark records in ``benchmarks/records`` (``python -m cifar100lab bench``).
Its words, in English and Chinese, are in :mod:`.performance_text`."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .. import records
from . import performance_gpu as gpu
from .i18n import CLAUSE_SEP, LANGS, dataset_label, fmt, precision_label, reason, status
from .performance_text import PATHS, SECTIONS, commit_words, say, table

CPU_TRAIN_SPEEDUP_TARGET = 2.5  # the project's goal: ResNet-20 training on 2 CPU cores vs the original pipeline
CPU_TARGET_MODEL = "resnet_20"


def _device(r: dict) -> str:
    """A record's device as its section heads it: a CPU with its instruction set where the record names it (two
    CPUs of one name, an 'AMD EPYC' with and one without native bf16, differ in it)."""
    return r["device"] + (f" · {r['cpu_isa']}" if r.get("cpu_isa") else "")


def _check_section(r: dict, lang: str) -> str:
    device = (r.get("hardware") or {}).get("device") or (f"{r['gpus']} GPU" if r.get("gpus") else "CPU")
    return say("check", lang, check=r["check"], what=say(f"check_{r['check']}", lang), device=device,
               result=say("check_passed" if r["passed"] else "check_failed", lang), created=(r.get("created") or "–")[:10]) + "\n"


def _checkpoint_section(r: dict, lang: str) -> str:
    """``benchmarks/checkpoint_write.py``: how long a checkpoint holds up training, inline and in the background."""
    df = pd.DataFrame(r["rows"])
    mode = say("ckpt_background" if r["trainer_writes_in_background"] else "ckpt_inline", lang)
    head = say("ckpt_head", lang, device=_device(r), measured=r["measured"][:10], commit=commit_words(r, lang),
               repeats=r["repeats"], mode=mode)
    one_decimal = lambda column: df[column].map(lambda v: fmt(v, 1))  # noqa: E731
    return head + "\n\n" + table({
        "model": df.model, "ckpt_state": one_decimal("megabytes"), "ckpt_tensors": df.tensors,
        "ckpt_inline": one_decimal("inline_ms"), "ckpt_held": one_decimal("background_blocking_ms"),
        "ckpt_total": one_decimal("background_total_ms"),
        "ckpt_kept": [say("check_passed" if k else "check_failed", lang) for k in df.kept_the_asked_weights]}, lang) + "\n"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _percent(share: float) -> str:
    return f"{100 * share:.1f} %"


def _target_needs(b: dict, best: dict, lang: str) -> str:
    """What the missed CPU target asks of this CPU: the share of its peak the best path would have to hold, from
    the measured peaks (a CPU whose bf16 peak is little more than twice its fp32 one leaves no room for 2.5×)."""
    original = next((r for r in b["rows"] if r["path"] == "original" and r["model"] == best["model"]), None)
    peaks = b.get("peaks_tflops") or {}
    if not original or original["precision"] != "fp32" or not peaks.get("fp32") or not peaks.get(best["precision"]):
        return ""
    need = CPU_TRAIN_SPEEDUP_TARGET * original["achieved_tflops"] / peaks[best["precision"]]
    return say("target_needs_fp32" if best["precision"] == "fp32" else "target_needs", lang,
               precision=best["precision"], peak_ratio=f"{peaks[best['precision']] / peaks['fp32']:.2f}",
               original=_percent(original["fraction_of_peak"]), target=CPU_TRAIN_SPEEDUP_TARGET, path=best["path"],
               need=_percent(need), now=_percent(best["fraction_of_peak"]),
               beyond=say("beyond_peak", lang) if need > 1 else "", no_bf16="" if "bf16" in peaks else say("no_bf16", lang))


def _bench_section(b: dict, lang: str) -> str:
    df = pd.DataFrame(b["rows"])
    speedup = df.get("train_speedup", pd.Series([None] * len(df)))
    t = table({"model": df.model, "path": [PATHS.get(p, {lang: p})[lang] for p in df.path], "precision": df.precision,
                "train": df.train_images_per_second.map(lambda v: fmt(v, 0)),
                "eval": df.eval_images_per_second.map(lambda v: fmt(v, 0)),
                "tflops": df.achieved_tflops.map(lambda v: fmt(v, 3)),
                "peak": df.fraction_of_peak.map(_percent),
                "speedup": speedup.map(lambda v: f"{v:.2f}×" if v == v and v else "–")}, lang)
    head = say("bench_head", lang, device=_device(b), measured=b["measured"][:10], torch=b["versions"]["torch"],
               batch=b["batch_size"], steps=b["steps"], repeats=b.get("repeats", 1),
               peaks=", ".join(f"{k} {v:.3f}" for k, v in b["peaks_tflops"].items()))
    lines = []
    ours = [r for r in b["rows"] if r["path"] != "original"]
    judged = [r for r in ours if r["model"] == CPU_TARGET_MODEL]  # another model's speed-up is not the target's
    if b.get("device_type") == "cpu" and judged:
        best = max(judged, key=lambda r: r["train_speedup"])
        met = best["train_speedup"] >= CPU_TRAIN_SPEEDUP_TARGET
        lines.append(say("target_met" if met else "target_missed", lang, model=CPU_TARGET_MODEL, target=CPU_TRAIN_SPEEDUP_TARGET,
                         path=best["path"], speedup=f"{best['train_speedup']:.2f}") + ("" if met else _target_needs(b, best, lang)))
    for r in ours:
        first = r.get("first_round_seconds")
        lines.append(say("speedups", lang, model=r["model"], path=r["path"], train=f"{r['train_speedup']:.2f}",
                         eval=f"{r['eval_speedup']:.2f}",
                         first=say("first_round", lang, s=f"{first:.1f}") if first is not None else ""))
    lines += [x for x in [gpu.bench_target(b, lang)] if x]
    return head + "\n\n" + t + "\n" + "\n".join(lines) + "\n"


def measured_epochs(runs_root, campaign: str | None) -> dict | None:
    """{'campaign', 'started', 'wall_seconds', 'jobs', 'gpus', 'device', 'seconds': {run id: epoch seconds},
    'processes': {run id: processes}, 'unfinished': [run ids], 'skipped': [run ids]}: the epoch time (training and
    evaluation) each complete run of the campaign's last timed invocation recorded and the processes it trained on,
    the runs that trained only some of their epochs (failed, stopped), the runs that did not train, and the device
    they trained on (named as a benchmark record names its own; a record written before it was kept names a CPU by
    its parts, and a GPU not at all); None without a timing record."""
    path = Path(runs_root or "runs") / (campaign or "") / records.TIMING
    if not campaign or not path.is_file():
        return None
    timing = records.read_json(path)
    seconds = {r["run_id"]: _epochs_seconds(path.parent / r["run_id"]) for r in timing["runs"]}
    # only a complete run trained every epoch the estimate prices; one that failed or was stopped part-way is not
    # set against its whole run's estimate
    complete = {r["run_id"] for r in timing["runs"] if r["status"] == "complete"}
    return {"campaign": timing["campaign"], "started": timing["started"][:10], "wall_seconds": timing["wall_seconds"],
            "jobs": timing["jobs"], "gpus": timing.get("gpus") or 0, "device": timing.get("device") or (
                records.cpu_device_name(timing["cpu"], timing["cpus"]) if not timing.get("gpus") and timing.get("cpu")
                else None),
            "seconds": {k: v for k, v in seconds.items() if v and k in complete},
            "processes": {k: _processes(path.parent / k) for k in complete},
            "unfinished": [k for k, v in seconds.items() if v and k not in complete],
            "skipped": [r["run_id"] for r in timing["runs"] if r["status"] == "skipped"]}


def _processes(run_dir: Path) -> int:
    """The processes a run trained on, as its record's hardware says (1 where it does not)."""
    return ((records.load(run_dir) or {}).get("hardware") or {}).get("count") or 1


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
    if measured.get("device") != e.get("device"):  # another machine's epochs are no test of this one's estimate
        return say("against_elsewhere", lang, started=measured["started"], wall=_hours(measured["wall_seconds"]),
                   jobs=measured["jobs"], device=measured.get("device") or say("device_unnamed", lang))
    ratio = predicted / actual
    verdict = "estimate_close" if 0.9 <= ratio <= 1.1 else "estimate_over" if ratio > 1 else "estimate_under"
    skipped, unfinished = measured.get("skipped") or [], measured.get("unfinished") or []
    # runs side by side on one device (a CPU's threads split, or several runs to a GPU) each train on a share of
    # it, slower than the estimate's one run on the whole device: their epoch times measure something else
    shared = measured["jobs"] > max(1, measured.get("gpus") or 0)
    # a run on several processes (one job on 8 GPUs) trains an epoch on all of them: the estimate is of one
    processes = sorted({(measured.get("processes") or {}).get(r, 1) for n in e["networks"] for r in n["runs"] if r in ran})
    fact = "against_processes" if processes[-1] > 1 else "against_shared" if shared else "against_measured"
    return say(fact, lang, processes=" / ".join(map(str, processes)),
               n=sum(r in ran for n in e["networks"] for r in n["runs"]),
               predicted=_hours(predicted), measured=_hours(actual), started=measured["started"],
               wall=_hours(measured["wall_seconds"]), jobs=measured["jobs"], ratio=f"{ratio:.1f}",
               verdict=say(verdict, lang),
               skipped=(say("against_skipped", lang, n=len(skipped), t=_hours(_predicted_for(e, skipped)))
                        if skipped else "") + (say("against_unfinished", lang, n=len(unfinished)) if unfinished else ""))


def _untimed(variants: list[dict] | None, lang: str) -> str:
    """The study variants the estimate leaves out, as the study pages name them."""
    label = "label_zh" if lang == "zh" else "label"
    return say("untimed", lang, variants=CLAUSE_SEP[lang].join(f"`{v['study']}` · {v[label]} (`{v['teacher']}`)"
                                                            for v in variants)) if variants else ""


def _run_id_changes(network: dict, campaign: str) -> str:
    """For rows a record names alike (one older than the study variants' labels, or a model entry with its own
    name and budget): what the row's first run id changes (" (ema_decay-0.9998)") or the entry's name
    (" (r20_long)"), so they are told apart; "" for the model's plain run."""
    run_id, prefix = (network.get("runs") or [""])[0], f"{campaign}-"
    entry = re.sub(r"-?s\d+$", "", run_id[len(prefix):]) if run_id.startswith(prefix) else network["model"]
    changes = entry.removeprefix(f"{network['model']}-") if entry != network["model"] else ""
    return f" ({changes})" if changes else ""


def _epoch_times_section(e: dict, lang: str, measured: dict | None = None, found: list[dict] = ()) -> str:
    df = pd.DataFrame(e["networks"])
    paths = [" · ".join(x for x in (n.get("precision"), n.get("optimizer"), "CL" if n.get("channels_last") else None,
                                    "compile" if n.get("compile") else None, "CUDA graph" if n.get("cuda_graph") else None)
                         if x) for n in e["networks"]]
    label = "label_zh" if lang == "zh" else "label"
    told_apart = [(f" ← {n['teacher']['model']} {n['teacher']['input_size']} px" if n.get("teacher") else "")
                  + (f" ({n['variant'][label]})" if n.get("variant") else "") for n in e["networks"]]
    names = list(df.model + df.options.map(lambda o: "".join(f", {k}={v}" for k, v in o.items()) if o else "")
                 + told_apart)
    names = [name + (_run_id_changes(n, e["campaign"]) if names.count(name) > 1 else "")
             for name, n in zip(names, e["networks"])]
    t = table({"network": names,
                "input": df.input_size, "batch": df.batch_size, "path": paths,
                "train": df.train_images_per_second.map(lambda v: fmt(v, 0)),
                "eval": df.eval_images_per_second.map(lambda v: fmt(v, 0)),
                "epoch": df.epoch_seconds.map(lambda v: fmt(v, 1)),
                # a GPU record's memory per run: how many runs of it one GPU can hold (runs_per_gpu)
                **({"memory": [fmt(n["peak_memory_bytes"] / 2**30, 1) if n.get("peak_memory_bytes") else "–"
                               for n in e["networks"]]}
                   if any(n.get("peak_memory_bytes") for n in e["networks"]) else {}),
                "runs": [f"{len(r)} × {n // max(len(r), 1)}" for r, n in zip(df.runs, df.run_epochs)],
                "predicted": df.predicted_seconds.map(_hours)}, lang)
    tuned = sum(n["predicted_seconds"] for n in e["networks"] if n.get("pretrained"))
    head = say("epochs_head", lang, device=_device(e), campaign=e["campaign"], file=e["campaign_file"],
               partial="" if e.get("complete", True) else say("partial", lang), measured=e["measured"][:10],
               torch=e["versions"]["torch"], train=f"{e['train_images']:,}", dataset=e["dataset"],
               test=f"{e['test_images']:,}", total=_hours(e["predicted_campaign_seconds"]),
               tuned=say("tuned", lang, t=_hours(tuned)) if tuned else "", against=_against(e, measured, lang),
               untimed=_untimed(e["untimed_variants"], lang) if "untimed_variants" in e else say("before_whole_epoch", lang),
               teachers=say("teachers", lang) if any("teacher" in n for n in e["networks"]) else "")
    failed = [say("failed_network", lang, model=n["model"], size=n["input_size"], runs=len(n["runs"]),
                  error=n["error"].replace("`", "'")) for n in e.get("failed_networks") or []]
    notes = [n for n in (gpu.prediction(e, lang), *failed, gpu.run_check(e, list(found), lang)) if n]
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


def _trained_images(run: dict) -> str:
    """The images a run trained on each epoch, as its record's dataset says: a train_subset larger than the split
    (refused since 2026-12-06, not before) trained on the whole split. The config's subset where a record lacks it."""
    n = (run.get("dataset") or {}).get("train_size") or (run.get("config") or {}).get("train_subset")
    return f"{n:,}" if n else "–"


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
        setup = say("setup_words", lang, precision=precision_label(x["hardware"]["precision"]), batch=cfg["batch_size"],
                    layout="channels_last" if cfg.get("channels_last") else "NCHW", images=_trained_images(x),
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
    t = table({"run": [x["label"] for x in rows],
                "status": [say("failed_because", lang, status=status(x["status"])[lang],
                               reason=reason(x.get("reason"))[lang]) if x["status"] == "failed"
                           else status(x["status"])[lang] for x in rows],
                "top1": [fmt((x.get("final") or {}).get("top1")) for x in rows],
                "top5": [fmt((x.get("final") or {}).get("top5")) for x in rows],
                **({"ema_top1": [fmt(((x.get("ema") or {}).get("final") or {}).get("top1")) for x in rows]}
                   if any(x.get("ema") for x in rows) else {}),
                "wall": [_hours(x["wall_seconds"]) for x in rows],
                "mean_epoch": [fmt(sum(x["epoch_seconds"]) / len(x["epoch_seconds"]), 1) if x.get("epoch_seconds")
                               else "–" for x in rows],
                "train": [fmt(x.get("images_per_second"), 0) for x in rows]}, lang)
    head = say("runs_head", lang, device=_device(r), data=dataset_label(dataset.get("name"), dataset.get("label", "")),
               measured=r["measured"][:10], torch=r["versions"]["torch"], file=r["file"])
    title = r["title"].get(lang, r["title"].get("en", ""))
    notes = "".join("\n" + n + "\n" for n in gpu.run_target(r, lang) + _gpu_notes(r, lang)
                    + _same_setup_notes(r, list(found), lang))
    # a variant's label (its switches, in words) wraps between words: book/_static/tables.css, .run-titles
    return f"### {title}\n\n{r['description'].get(lang, '')}\n\n{head}\n\n:::{{div}} run-titles\n{t}:::\n{notes}"


def _epochs_seconds(run_dir: Path) -> float:
    """The training and evaluation seconds of every epoch the run's record holds, resumes included."""
    rec = records.load(run_dir) or {}
    return (rec.get("train_seconds") or 0.0) + (rec.get("eval_seconds") or 0.0)


def _attempt_epochs_seconds(run_dir: Path) -> float:
    """Those of the epochs the run's last attempt trained: a resumed run's record sums every epoch since its
    start, most of them outside the invocation the campaign timed."""
    if not (since := (records.load(run_dir) or {}).get("resumed_from_epoch")):
        return _epochs_seconds(run_dir)
    return sum((r.get("epoch_seconds") or 0.0) + (r.get("eval_seconds") or 0.0)
               for r in records.read_metrics(run_dir) if r["epoch"] > since)


def campaign_time_section(timing: dict, runs_root, lang: str) -> str:
    """The campaign's own record of its last invocation that ran anything, with each run's time split into its
    epochs (from the run records) and the rest."""
    folder = Path(runs_root) / timing["campaign"]
    runs = timing["runs"]
    epochs = [_attempt_epochs_seconds(folder / r["run_id"]) for r in runs]
    total = [r["seconds"] for r in runs]
    source = Path(timing.get("source") or "–")
    head = say("campaign_time", lang, campaign=timing["campaign"], file=source.name if source.is_absolute() else source,
               dataset=dataset_label(timing.get("dataset")), started=timing["started"][:16].replace("T", " "),
               runs=len(runs), wall=_hours(timing["wall_seconds"]), jobs=timing["jobs"],
               device=records.cpu_device_name(timing["cpu"], timing["cpus"]),
               gpus=_gpus_words(timing, lang),
               already=say("campaign_already", lang, n=timing["already_done"]) if timing.get("already_done") else "",
               mean=fmt(sum(total) / max(1, len(total)), 1), epochs=fmt(sum(epochs) / max(1, len(epochs)), 1))
    t = table({"run": [r["run_id"] for r in runs], "status": [status(r["status"])[lang] for r in runs],
                "run_total": [fmt(x, 1) for x in total], "run_epochs": [fmt(x, 1) for x in epochs]}, lang)
    # run ids (a study variant's names its recipe changes) may wrap: book/_static/tables.css, .run-ids
    return head + "\n\n:::{div} run-ids\n" + t + "\n:::\n"


def _gpus_words(timing: dict, lang: str) -> str:
    if not timing.get("gpus"):
        return ""
    name = timing.get("device")  # the GPUs' name, in a record that keeps it
    return say("campaign_gpus_named", lang, n=timing["gpus"], name=name) if name else \
        say("campaign_gpus", lang, n=timing["gpus"])


def _campaign_part(runs_root, campaign: str | None, lang: str) -> list[str]:
    path = Path(runs_root or "runs") / (campaign or "") / records.TIMING
    body = campaign_time_section(records.read_json(path), runs_root, lang) if campaign and path.is_file() \
        else say("no_campaign_time", lang) + "\n"
    return [f"## {say('campaign_title', lang)}\n", body]


# record kind -> its renderer, in the page's order (its words: performance_text.SECTIONS)
PERFORMANCE_SECTIONS = [("bench", _bench_section), ("packing", gpu.packing_section),
                        ("epoch_times", _epoch_times_section), ("runs", _runs_section), ("check", _check_section),
                        ("checkpoint_write", _checkpoint_section), ("sync_check", gpu.sync_section),
                        ("graph_check", gpu.graph_section)]


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
        for kind, render in PERFORMANCE_SECTIONS:
            title, intro, empty = SECTIONS[kind]
            parts += [f"## {title[lang]}\n", intro[lang] + "\n"]
            parts += [render(r, lang, **extra.get(kind, {})) for r in found
                      if r.get("kind", "check" if "check" in r else None) == kind] \
                or [empty[lang] + "\n"]
        if not has_gpu:
            parts.append(":::{note}\n" + say("no_gpu", lang) + "\n:::\n")
        (out / f"performance_{lang}.md").write_text("\n".join(parts), encoding="utf-8")
    return found
