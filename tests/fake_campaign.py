"""A campaign's run records and run pages written in-process, in a second, without training: book tests
build on these (the trainer itself is tested in test_train / test_campaign_book)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from conftest import ROOT

from cifar100lab import records
from cifar100lab.data import DATASETS
from cifar100lab.models import model_entry

# model -> final top-1 per epoch (last = final); eca k=3 and "adaptive" share one curve on purpose.
CURVES = {"resnet_20": [40.0, 61.0], "resnet_32": [42.0, 62.5], "eca_resnet_20": [41.0, 64.0],
          "ghost_resnet_20": [30.0, 52.0], "mlp_mixer_tiny": [20.0, 35.0]}
SKIPPED = {"convnext_tiny_timm": "pretrained weights unavailable offline"}
STUDY = {"name": "eca_kernel", "title": {"en": "ECA kernel size on ResNet-20", "zh": "ResNet-20 上 ECA 卷积核大小"},
         "question": {"en": "Does k matter?", "zh": "k 重要吗？"}, "path": "params/ablations/eca_kernel.yaml",
         "variants": [{"label": "no ECA", "label_zh": "无 ECA", "model": "resnet_20", "options": {}},
                      {"label": "k=3", "label_zh": "k=3", "model": "eca_resnet_20", "options": {"k_size": 3}},
                      {"label": "k=5", "label_zh": "k=5", "model": "eca_resnet_20", "options": {"k_size": 5}},
                      {"label": "adaptive k", "label_zh": "自适应 k", "model": "eca_resnet_20",
                       "options": {"k_size": "adaptive"}}]}
STUDY_CURVES = {"k=3": [41.0, 64.0], "k=5": [40.5, 63.0], "adaptive k": [41.0, 64.0]}
RECIPE = {"name": "resnet_sgd", "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
          "schedule": "cosine", "warmup_epochs": 0.5, "lr_scaling": "none", "effective_lr": 0.1, "global_batch": 1024}


def _stretch(curve: list[float], epochs: int) -> list[float]:
    """One metrics row per recorded epoch (the report refuses a complete run's curve with epochs missing):
    the curve's points, its first value repeated until the last epoch."""
    return [curve[0]] * (epochs - len(curve)) + list(curve) if epochs > len(curve) else list(curve[-epochs:])


def _k(options: dict) -> int:
    k = options.get("k_size", 0)
    return 3 if k == "adaptive" else k  # adaptive resolves to 3 at 16-64 channels


def _record(camp, rid, model, options, seed, curve, dataset, epochs, n_test, shift):
    spec = DATASETS[dataset]
    final = curve[-1] + shift
    return {"run_id": rid, "status": "complete", "reason": None, "campaign": camp, "model": model,
            "group": model_entry(model).group, "options": options, "pretrained": None, "seed": seed,
            "recipe": RECIPE, "git_commit": "0123456789abcdef", "config": {"epochs": epochs, "run_dir": ""},
            "versions": {"python": "3.11", "torch": "2.x", "timm": "1.x", "accelerate": "1.x"},
            "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:01:00+00:00",
            "dataset": {"name": dataset, "kind": spec.kind, "label": spec.label["en"], "checksum": "md5:abc",
                        "num_classes": spec.num_classes, "train_size": 2000, "test_size": n_test},
            "params": 270_000 + 1000 * len(model) + 10 * _k(options),
            "flops": 41_000_000, "hardware": {"device": "Intel(R) Xeon(R) Processor (2 logical CPUs)", "count": 1,
                                             "precision": "bf16"},
            "wall_seconds": 999.0, "train_seconds": 20.0 + len(model), "epochs_done": epochs,
            "final": {"top1": final, "top5": min(100.0, final + 30), "evaluated": n_test},
            "best": {"top1": final, "epoch": epochs}, "images_per_second": 500.0}


def _run_notebook(path: Path, rid: str, model: str) -> None:
    nb = json.loads((ROOT / "notebooks" / "train.ipynb").read_text())
    at = next(i for i, c in enumerate(nb["cells"]) if "parameters" in c["metadata"].get("tags", []))
    nb["cells"].insert(at + 1, {"cell_type": "code", "execution_count": 2, "id": "injected", "outputs": [],
                                "metadata": {"tags": ["injected-parameters"]}, "source": f'model = "{model}"\n'})
    widget = {"output_type": "display_data", "metadata": {},
              "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2,
                                                                     "version_minor": 0}, "text/plain": "tqdm"}}
    run_cell = next(c for c in nb["cells"] if c["cell_type"] == "code" and "launch" in "".join(c["source"]))
    run_cell["outputs"] = [widget]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))


def write_fake_campaign(runs_root: Path, book_dir: Path | None = None, name: str = "mini",
                        dataset: str = "synthetic", epochs: int = 2, seeds=(0,), n_test: int = 1000) -> Path:
    """Run folders (record.json, metrics.jsonl), campaign.json and, with ``book_dir``, run notebooks."""
    root = Path(runs_root) / name
    wanted = [(m, {}, s, c, f"{name}-{m}-s{s}") for m, c in CURVES.items() for s in seeds]
    runs = {}
    for v in STUDY["variants"][1:]:
        opts = v["options"]
        runs[v["label"]] = [f"{name}-{v['model']}-k_size-{opts['k_size']}-s{s}" for s in seeds]
        wanted += [(v["model"], opts, s, STUDY_CURVES[v["label"]], rid) for s, rid in zip(seeds, runs[v["label"]])]
    runs["no ECA"] = [f"{name}-resnet_20-s{s}" for s in seeds]
    for model, options, seed, curve, rid in wanted:
        rec = _record(name, rid, model, options, seed, curve, dataset, epochs, n_test, shift=0.4 * seed)
        run_dir = root / rid
        rec["config"]["run_dir"] = str(run_dir)
        records.atomic_write_json(run_dir / records.RECORD, rec)
        (run_dir / records.METRICS).unlink(missing_ok=True)
        for e, top1 in enumerate(_stretch(curve, epochs), 1):
            records.append_jsonl(run_dir / records.METRICS, {"epoch": e, "train_loss": 2.0 / e, "train_acc": top1,
                                                             "top1": top1 + 0.4 * seed, "top5": top1 + 30,
                                                             "test_loss": 2.0 / e, "epoch_seconds": 10.0})
        if book_dir is not None:
            _run_notebook(Path(book_dir) / "runs" / f"{rid}.ipynb", rid, model)
    for model, reason in SKIPPED.items():
        rid = f"{name}-{model}-s0"
        records.atomic_write_json(root / rid / records.RECORD, {
            "run_id": rid, "status": "skipped", "reason": reason, "campaign": name, "model": model,
            "group": model_entry(model).group, "options": {}, "seed": 0, "config": {"epochs": epochs}})
        wanted.append((model, {}, 0, None, rid))
    study = copy.deepcopy(STUDY)
    study["runs"] = runs
    records.atomic_write_json(root / records.MANIFEST, {
        "name": name, "description": "", "dataset": dataset, "source": "", "seeds": list(seeds),
        "models": list(CURVES) + list(SKIPPED), "runs": [w[-1] for w in wanted], "studies": [study]})
    return root


def write_fake_study(runs_root: Path, study, top1: dict, ema: dict | None = None, name: str = "reg",
                     dataset: str = "synthetic", epochs: int = 2) -> Path:
    """A campaign of one study (``campaign.Study``, e.g. the regularisation YAML) whose variants may change the
    recipe: records with ``top1[label]`` per seed, the variant's overrides in ``record['recipe']``, and for labels
    in ``ema`` an EMA record and per-epoch EMA metrics. The plain variants' runs are the campaign's model runs."""
    root, ema = Path(runs_root) / name, ema or {}
    runs, models = {}, []
    for v in study.variants:
        change = "".join(f"-{k}-{val}" for k, val in sorted(v.overrides.items()))
        runs[v.label] = [f"{name}-{v.model}{change}-s{s}" for s in range(len(top1[v.label]))]
        if not v.overrides:
            models.append(v.model)
        for seed, (rid, acc) in enumerate(zip(runs[v.label], top1[v.label])):
            rec = _record(name, rid, v.model, v.options, seed, [acc - 10, acc], dataset, epochs, 1000, 0.0)
            run_dir = root / rid
            rec["config"]["run_dir"] = str(run_dir)
            rec["recipe"] = {**RECIPE, **v.overrides}
            row = {}
            if v.label in ema:
                e = ema[v.label][seed]
                rec["ema"] = {"decay": v.overrides.get("ema_decay"), "final": {"top1": e, "top5": e + 20, "test_loss": 1.0}}
                row = {"ema_top1": e, "ema_top5": e + 20, "ema_test_loss": 1.0}
            records.atomic_write_json(run_dir / records.RECORD, rec)
            (run_dir / records.METRICS).unlink(missing_ok=True)
            for epoch, t in enumerate(_stretch([acc - 10, acc], epochs), 1):
                records.append_jsonl(run_dir / records.METRICS, {
                    "epoch": epoch, "train_loss": 2.0 / epoch, "train_acc": t, "top1": t, "top5": t + 20,
                    "test_loss": 2.0 / epoch + acc / 1000, "epoch_seconds": 10.0, **row})
    manifest_study = {"name": study.name, "title": study.title, "question": study.question, "path": study.path,
                      "compare_within": study.compare_within, "runs": runs, "left_out": study.left_out,
                      "x_axis": study.x_axis,
                      "variants": [{"label": v.label, "label_zh": v.label_zh or v.label, "model": v.model,
                                    "options": v.options, "overrides": v.overrides} for v in study.variants]}
    records.atomic_write_json(root / records.MANIFEST, {
        "name": name, "description": "", "dataset": dataset, "source": "", "seeds": [0], "models": models,
        "runs": [rid for ids in runs.values() for rid in ids], "studies": [manifest_study]})
    return root


OFFLINE = ("pretrained weights unavailable: cannot reach https://huggingface.co (ConnectError: [Errno -2] Name or "
           "service not known); pass a local weights file as pretrained=<path>")


def offline_fine_tune_with_scratch_row(runs: Path, name: str = "mini") -> None:
    """In a fake campaign: the skipped fine-tune records the raw offline error, and the same model trained from
    scratch is run too (its row's Note says so)."""
    root = Path(runs) / name
    skipped = records.read_json(root / f"{name}-convnext_tiny_timm-s0" / records.RECORD)
    records.atomic_write_json(root / f"{name}-convnext_tiny_timm-s0" / records.RECORD,
                              {**skipped, "reason": OFFLINE, "pretrained": "hub"})
    rid = f"{name}-convnext_tiny_timm-scratch-s0"
    rec = _record(name, rid, "convnext_tiny_timm", {}, 0, [30.0, 50.0], "fashion-mnist", 2, 1000, 0.0)
    records.atomic_write_json(root / rid / records.RECORD, rec)
    for e, top1 in enumerate([30.0, 50.0], 1):
        records.append_jsonl(root / rid / records.METRICS, {"epoch": e, "train_loss": 1.0, "train_acc": top1,
                                                            "top1": top1, "top5": 90.0, "test_loss": 1.0,
                                                            "epoch_seconds": 1.0})
    manifest = json.loads((root / records.MANIFEST).read_text())
    records.atomic_write_json(root / records.MANIFEST, {**manifest, "runs": manifest["runs"] + [rid]})
