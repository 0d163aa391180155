"""``python -m cifar100lab bench --campaign params/full.yaml``: the epoch time of every distinct network in a
campaign (model, options, input size, batch, switches, recipe) on this device with one process, and the
campaign's predicted duration from them, on 1 and on 8 GPUs with a chosen packing."""
from __future__ import annotations

import dataclasses
import gc
from typing import Callable

import torch

from .. import data as data_mod
from .. import distill
from ..campaign import Run, canonical_options, load_campaign, run_config
from ..config import eval_batch, resolve
from ..model_facts import training_flops
from ..models import count_flops, create_model
from ..step_graph import settings_conflict
from ..train import images_evaluated
from ..wall_time import campaign_prediction
from .timing import OursPath, default_device, header, interleaved, measured_peaks, synthetic_images

RATE_KEYS = ("train_images_per_second", "eval_images_per_second", "first_round_seconds", "compile_seconds", "precision",
             "channels_last", "compile", "compile_mode", "cuda_graph", "optimizer")


def campaign_networks(campaign) -> dict[tuple, dict]:
    """Distinct networks of a campaign, each with one budget (epochs, subsets, validation split) -> what one
    epoch of each costs to time (one process). Runs of one network with other budgets are rows of their own, which
    share its timing (``timed_as``): a model entry's own subset or epochs is not priced at another run's."""
    nets, variants = {}, recipe_variants(campaign)
    for run in campaign.runs:
        p, c = run.plan, run.config
        # the compile mode too: max-autotune or reduce-overhead steps at another speed than the default mode's
        network = (c.model, tuple(sorted(c.options.items())), p.input_size, c.batch_size, c.eval_batch_size,
                   c.precision, c.channels_last, c.compile, c.compile_mode if c.compile else None, c.cuda_graph,
                   c.fused_optimizer, c.deterministic, p.recipe)  # deterministic: other kernels, another speed
        key = (*network, c.epochs, c.train_subset, c.test_subset, c.val_fraction)
        if key not in nets:
            teacher = distill.check_teacher(p)  # a distilling run's, trained: read, not built
            nets[key] = {**_network(p), "teacher_model": teacher.model if teacher else None, "runs": [],
                         "timed_as": network, **({"variant": variants[run.run_id]} if run.run_id in variants else {})}
        nets[key]["runs"].append(run)
    return nets


def recipe_variants(campaign) -> dict[str, dict]:
    """Run id -> the study variant that changes its recipe ({study, label, label_zh}), so networks that differ only
    in their recipe are told apart."""
    return {rid: _variant(study, v) for study in campaign.studies for v in study.variants
            if campaign.variant_runs[(study.name, v.label)].overrides
            for rid in campaign.variant_runs[(study.name, v.label)].run_ids}


def _variant(study, v) -> dict:
    return {"study": study.name, "label": v.label, "label_zh": v.label_zh or v.label}


def waiting_students(campaign) -> tuple[list[dict], list[dict]]:
    """The networks of the study variants a campaign skips until their teachers are trained (``best:…``), planned
    as their runs will be, each with the costliest (forward FLOPs) network among the campaign's runs its teacher
    may be; and the skipped variants that cannot be timed so (no run of their teacher in the campaign:
    {study, label, label_zh, teacher})."""
    networks, untimed, classes = [], [], campaign_classes(campaign)
    for study in campaign.studies:
        for v in study.variants:
            waiting = campaign.variant_runs[(study.name, v.label)]
            if not waiting.skipped:
                continue
            teachers = _teacher_networks(campaign, waiting.skipped["teacher"])
            if not teachers:
                untimed.append({**_variant(study, v), "teacher": waiting.skipped["teacher"]})
                continue
            teacher = max(teachers, key=lambda t: forward_flops(_network(t), classes))
            plans = [resolve(run_config(campaign.name, campaign.dataset, campaign.defaults, v.model,
                                        canonical_options(v.model, v.options), seed, {"overrides": v.overrides}))
                     for seed in waiting.seeds]
            runs = [Run(f"{study.name}: {v.label} (seed {p.config.seed})", p, None) for p in plans]  # no run ids yet
            networks.append({**_network(plans[0]), "runs": runs, "teacher_plan": teacher,
                             "teacher_model": teacher.config.model, "variant": _variant(study, v)})
    return networks, untimed


def _teacher_networks(campaign, source: str) -> list:
    """One plan per distinct network among the campaign's runs that ``best:A|B`` may pick (:func:`distill.best_run`:
    not distilled, the model as registered); none for another source."""
    models = distill.best_models(source) if source.startswith(distill.BEST) else []
    plans = {}
    for run in campaign.runs:
        model = run.config.model
        if model in models and distill.may_teach(model, run.plan.pretrained, run.plan.recipe.distill_from):
            plans.setdefault((model, tuple(sorted(run.config.options.items())), run.plan.input_size), run.plan)
    return list(plans.values())


def _network(plan) -> dict:
    c = plan.config
    return {"model": c.model, "options": dict(c.options), "pretrained": plan.pretrained,
            "input_size": plan.input_size, "batch_size": c.batch_size, "eval_batch_size": c.eval_batch_size}


def campaign_classes(campaign) -> int:
    return data_mod.dataset_entry(campaign.dataset).num_classes


def _network_rates(net: dict, steps: int, warmup: int, compile_model: bool, device, compile_mode=None,
                   cuda_graph=False) -> dict:
    """Measured train and eval images/s of one network, built as its first run is configured."""
    b, eb = net["batch_size"], eval_batch(net["eval_batch_size"], device.type)
    plan = net["runs"][0].plan  # the run's own switches, recipe, optimizer and classes: the epoch it will have
    x, y = synthetic_images(max((steps + warmup) * b, 2 * eb), plan.dataset.num_classes)
    changes = {**({"compile": True} if compile_model or compile_mode else {}),
               **({"compile_mode": compile_mode} if compile_mode else {})}
    # one that cannot be captured (a distilling student) runs as it will: eagerly
    if cuda_graph and not settings_conflict(dataclasses.replace(plan.config, **changes, cuda_graph=True), plan.recipe):
        changes["cuda_graph"] = True
    if changes:
        plan = dataclasses.replace(plan, config=dataclasses.replace(plan.config, **changes))
    before = 0
    if device.type == "cuda":  # what earlier networks left allocated (a compiled graph's cache) is not this one's
        gc.collect()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    path = OursPath(plan, (x[:(steps + warmup) * b], y[:(steps + warmup) * b]), (x, y), warmup, device,
                    net.get("teacher_plan"))
    rates = interleaved({"ours": path}, 1)["ours"]  # the path (and its network) is freed on return
    # what one run of it holds on a GPU (network, optimizer, activations, a teacher, a graph's pool; the dataset's
    # uint8 images add 3 KB each at 32 px): whether k of them fit on one GPU (runs_per_gpu)
    rates["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device) - before if device.type == "cuda" else None
    return rates


def forward_flops(net: dict, num_classes: int) -> int:
    """One image's forward FLOPs at the network's input size (a multiply-add counts as 2), counted on the meta
    device, so nothing is allocated."""
    with torch.device("meta"):
        network = create_model(net["model"], num_classes=num_classes, img_size=net["input_size"], **net["options"])
        return count_flops(network, net["input_size"])


def epoch_images(plan, train_size: int, test_size: int) -> tuple[int, int]:
    """(images trained, images evaluated) in one epoch of a run, one process: the full batches of the training
    (sub)set less its validation split; the test (sub)set, again for the EMA weights when the recipe keeps them,
    and the validation split (the trainer's ``_evaluations``)."""
    c = plan.config
    n_all = min(c.train_subset or train_size, train_size)
    n_val = round(n_all * c.val_fraction)
    n_test = min(c.test_subset or test_size, test_size)
    return (n_all - n_val) // c.batch_size * c.batch_size, images_evaluated(n_test, n_val, bool(plan.recipe.ema_decay))


def _network_row(net: dict, rates: dict, train_size: int, test_size: int, flops: int) -> dict:
    """Epoch time = training images / train images/s + evaluated images / eval images/s; the network's runs take
    their epochs × that. ``flops``: one image's forward FLOPs (what the page weighs the time against)."""
    n_train, n_eval = epoch_images(net["runs"][0].plan, train_size, test_size)
    epoch = n_train / rates["train_images_per_second"] + n_eval / rates["eval_images_per_second"]
    epochs = sum(r.config.epochs for r in net["runs"])
    return {**{k: net[k] for k in ("model", "options", "pretrained", "input_size", "batch_size")},
            **{k: rates[k] for k in RATE_KEYS}, **{k: rates[k] for k in ("teacher",) if k in rates},
            **{k: net[k] for k in ("variant",) if k in net},
            "flops_per_image": flops, "peak_memory_bytes": rates.get("peak_memory_bytes"),
            "train_images": n_train, "eval_images": n_eval, "epoch_seconds": epoch,
            "runs": [r.run_id for r in net["runs"]], "run_epochs": epochs,
            "epochs_per_run": [r.config.epochs for r in net["runs"]], "predicted_seconds": epochs * epoch}


def run_campaign_times(campaign_path, steps=10, warmup=2, compile_model=False, device=None, dataset=None, only=None,
                       progress=print, runs_per_gpu: int | None = None, slowdown: float = 1.0, compile_mode=None,
                       keep: Callable[[dict], None] | None = None, cuda_graph: bool = False) -> dict:
    """Per-network epoch times for a campaign on this device (one process) and its predicted duration.

    Each network is timed with the trainer's step as its runs are configured (precision, channels_last,
    compile, recipe; ``compile_model`` turns compilation on for all, ``compile_mode`` in that mode, and
    ``cuda_graph`` replays every network's step as one CUDA graph). The
    campaign's time is the sum over its runs of epochs × epoch time (a lower bound: start-up, checkpoints and the
    first epoch's compilation are left out). ``prediction`` spreads the runs over 1 and 8 GPUs, ``runs_per_gpu``
    (default: the campaign's) side by side on each, each shared run ``slowdown`` times slower than alone
    (``bench --pack`` measures it).
    ``keep`` receives the record so far after each network (``unfinished``: how many networks are left), so a run
    stopped by a time limit keeps what it measured. A network that fails to be timed is listed in ``failed_networks``
    with its error, and the record is then not ``complete``.
    """
    device = default_device(device)
    camp = load_campaign(campaign_path, dataset=dataset)
    runs_per_gpu = runs_per_gpu or camp.runs_per_gpu or 1  # as the campaign would place its runs
    entry = data_mod.dataset_entry(camp.dataset)
    train_size, test_size = entry.sizes
    peaks = measured_peaks(device, "auto")
    students, untimed = waiting_students(camp)  # distilling variants whose teachers are not trained yet
    nets = [*campaign_networks(camp).values(), *students]
    order = [run.run_id for run in camp.runs]
    # --models: a distilling network runs two, so it is timed when both its model and its teacher's are named
    chosen = [net for net in nets if not only or net["model"] in only and net["teacher_model"] in (None, *only)]

    head = header(device, peaks, campaign=camp.name, campaign_file=str(campaign_path), dataset=camp.dataset,
                  train_images=train_size, test_images=test_size, processes=1, steps=steps, warmup=warmup,
                  compile=compile_model or bool(compile_mode), compile_mode=compile_mode, cuda_graph=cuda_graph)

    def record(networks: list[dict]) -> dict:  # one header ("measured": the start), not git and versions per network
        return {"kind": "epoch_times", **head, "complete": not only and len(networks) == len(nets),
                "unfinished": len(chosen) - len(networks) - len(failed), "networks": networks,
                "failed_networks": failed, "untimed_variants": untimed,
                "predicted_campaign_seconds": sum(n["predicted_seconds"] for n in networks),
                # the queue hands runs out in the campaign's order, not longest first: the schedule predicted
                "run_order": order, "prediction": campaign_prediction(networks, runs_per_gpu, slowdown, order)}

    networks, failed, timed = [], [], {}
    for i, net in enumerate(chosen):
        try:
            timing = net.get("timed_as") or id(net)  # a waiting student's network is its own
            if timing not in timed:
                timed[timing] = _network_rates(net, steps, warmup, compile_model, device, compile_mode, cuda_graph)
            rates = timed[timing]
            row = _network_row(net, rates, train_size, test_size, forward_flops(net, entry.num_classes))
            if "teacher" in row:  # its forward on every training image is part of the step
                row["teacher"]["flops_per_image"] = forward_flops(row["teacher"], entry.num_classes)
        except Exception as e:  # out of memory, a kernel the device lacks: the other networks are still timed
            failed.append({**{k: net[k] for k in ("model", "options", "input_size", "batch_size")},
                           "runs": [r.run_id for r in net["runs"]], "error": f"{type(e).__name__}: {e}"[:400]})
            progress(f"[{i + 1}/{len(chosen)}] {net['model']} {net['input_size']}px: failed ({failed[-1]['error']})")
            if device.type == "cuda":
                torch.cuda.empty_cache()
            if keep is not None:
                keep(record(list(networks)))
            continue
        networks.append(row)
        options = f" {net['options']}" if net["options"] else ""
        teacher = f" ← teacher {row['teacher']['model']} {row['teacher']['input_size']}px" if "teacher" in row else ""
        tflops = training_flops(row) * rates["train_images_per_second"] / 1e12
        progress(f"[{i + 1}/{len(chosen)}] {net['model']}{options} {net['input_size']}px{teacher}: "
                 f"{rates['train_images_per_second']:.0f} train img/s ({tflops:.1f} TFLOP/s), "
                 f"epoch {row['epoch_seconds']:.1f} s")
        if keep is not None:
            keep(record(list(networks)))
    return record(networks)
