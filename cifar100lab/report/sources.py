"""Run records -> the frames every page is computed from (one row per model, the campaign's context)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from .. import records
from ..config_files import ConfigError
from ..data import DATASETS
from ..intervals import shared_images_interval
from ..model_catalog import catalog_rows
from ..model_facts import GROUPS
from ..robustness.results import entry_of
from .i18n import precision_label

REFERENCE = Path(__file__).resolve().parent.parent / "reference"
CLAIMS_GLOBAL_BATCH = 1024  # the original's 8 GPUs × 128, its learning rates stated for it (params/full.yaml)


def load_campaign_records(campaign: str, runs_root="runs") -> tuple[dict, list[dict]]:
    root = Path(runs_root) / campaign
    manifest_path = root / records.MANIFEST
    if not manifest_path.is_file():
        found = sorted(p.parent.name for p in Path(runs_root).glob(f"*/{records.MANIFEST}"))
        raise ConfigError(f"no campaign {campaign!r} under {runs_root} (no {manifest_path}): run it first "
                          f"(python -m cifar100lab campaign params/{campaign}.yaml); campaigns there: "
                          f"{', '.join(found) or 'none'}")
    manifest = records.read_json(manifest_path)
    # Each run of the manifest is read from its own folder, never from a folder moved aside by --force.
    recs = [records.load(root / rid) for rid in manifest["runs"]]
    # A run the campaign found stale (complete under settings it no longer asks for) is not its result; its
    # record is left out while it is the one the campaign saw, and the pages name it (manifest["stale"]).
    stale = stale_runs(manifest, dict(zip(manifest["runs"], recs)))
    manifest = {**manifest, "stale": stale}
    found = with_results_rows(manifest, [{**r, "run_dir": str(root / rid)}
                                         for rid, r in zip(manifest["runs"], recs) if r and rid not in stale])
    return manifest, found + not_recorded(manifest, [rid for rid, r in zip(manifest["runs"], recs) if not r])


# The reason of a run the manifest lists without a record (i18n.REASON_FACTS reads it as "reason_no_record").
NO_RECORD = "no record yet: not run, or still queued or running elsewhere"


def not_recorded(manifest: dict, run_ids: list[str]) -> list[dict]:
    """A ``missing`` stand-in record for each run of a model entry that has no record yet (a campaign stopped
    before it, or runs queued on Slurm): its model's row then says so, and the counts include it. Left out, a
    model with no record had no row at all ("Of 5 models" for a campaign of 6) and its runs were not counted.
    Last, so a figure's first record is a real one. A study variant's runs are its study table's own."""
    entries = set(manifest.get("model_runs") or [])
    catalog = catalog_rows()
    out = []
    for rid in run_ids:
        stem = entry_of(rid, manifest["name"])
        if rid not in entries or not stem:
            continue
        model = _entry_model(stem, catalog)
        # named as row_name names its runs: a fine-tune model's entry <name>_scratch is row <name>-scratch
        row = row_name(model, None if stem.endswith("_scratch") else "hub", catalog, stem)
        out.append({"run_id": rid, "status": "missing", "reason": NO_RECORD, "campaign": manifest["name"],
                    "model": model, "group": (catalog.get(model) or {}).get("group"), RESULTS_ROW: row})
    return out


def _entry_model(stem: str, catalog: dict[str, dict]) -> str:
    """The registered model a run id's entry names (``eca_resnet_20-k_size-5``, ``coatnet_0_scratch``: its model
    and options, or its model's from-scratch entry), else the entry's own name (a named entry)."""
    named = [m for m in catalog if stem in (m, f"{m}_scratch") or stem.startswith(f"{m}-")]
    return max(named, key=len, default=stem)


def stale_runs(manifest: dict, recs: dict[str, dict | None]) -> dict[str, list[str]]:
    """Run id -> what changed, of the runs the campaign found stale whose record is still the one it saw."""
    return {rid: manifest["stale"][rid]["fields"] for rid, r in recs.items() if r and _still_stale(r, manifest, rid)}


def _still_stale(record: dict, manifest: dict, run_id: str) -> bool:
    seen = (manifest.get("stale") or {}).get(run_id)
    return bool(seen) and (record.get("started"), record.get("finished")) == (seen.get("started"), seen.get("finished"))


def study_only_runs(manifest: dict) -> set[str]:
    """Runs of study variants that change the recipe (``overrides`` in the manifest): they answer their study
    and are not more seeds of their model (a Mixup ResNet-56 run is not a ResNet-56 run of Table 1)."""
    return {rid for st in manifest.get("studies") or [] for v in st["variants"] if v.get("overrides")
            for rid in st["runs"].get(v["label"], [])}


def model_records(manifest: dict, recs: list[dict]) -> list[dict]:
    """The records the model pages are computed from: every run but the recipe-changing study variants'."""
    skip = study_only_runs(manifest)
    return [r for r in recs if r["run_id"] not in skip]


# A loss this many times a uniform guess's (ln of the class count) means the network is confidently wrong.
DIVERGED_FACTOR = 3.0


def num_classes(record: dict) -> int | None:
    """The class count a run was trained on: its record's, else its dataset's (records before it was kept)."""
    ds = record.get("dataset") or {}
    entry = DATASETS.get(ds.get("name") or "")
    return ds.get("num_classes") or (entry.num_classes if entry else None)


def chance_level(classes: int | None) -> float:
    """Top-1 (%) of a uniform guess over ``classes`` classes; NaN when the class count is unknown."""
    return 100.0 / classes if classes else math.nan


def divergence(record: dict) -> dict | None:
    """{'epoch', 'loss', 'which'} of the first sign that a run's loss diverged, or None. Signs: a non-finite loss,
    a training loss above DIVERGED_FACTOR x ln(classes) in any epoch (``which`` 'train'), or such a final test loss
    (``which`` 'test', with that epoch's ``train_loss``, which the report shows beside it: an early test loss may
    spike while BatchNorm statistics settle; a final one has not recovered)."""
    classes = num_classes(record)
    if record.get("status") != "complete" or not classes:
        return None
    limit = DIVERGED_FACTOR * math.log(classes)
    curve = records.curve(record)
    final_epoch = curve[-1].get("epoch") if curve else None
    for row in curve:
        losses = [("train", row.get("train_loss"))] + \
            ([("test", row.get("test_loss"))] if row.get("epoch") == final_epoch else [])
        bad = [(which, v) for which, v in losses if v is not None and (not math.isfinite(v) or v > limit)]
        if bad:
            which, loss = bad[0]
            return {"epoch": row.get("epoch"), "loss": loss, "which": which} | \
                ({"train_loss": row.get("train_loss")} if which == "test" else {})
    return None


def short_device(name: str) -> str:
    """'Intel(R) Xeon(R) Processor (2 logical CPUs)' -> 'Intel Xeon CPU'."""
    base = name.split(" (")[0].replace("(R)", "").replace("(TM)", "").replace(" Processor", "").strip()
    return base if "NVIDIA" in base or "GPU" in base else f"{base} CPU"


def hardware_label(hw: dict, short: bool = True) -> str:
    """'1 × AMD EPYC CPU (fp32)': the device count, the device (shortened) and the run's precision."""
    return f"{machine_label(hw, short)} ({precision_label(hw.get('precision'))})"


def machine_label(hw: dict, short: bool = True) -> str:
    """'1 × AMD EPYC CPU': what a run trained on, the device count and the device (shortened); its precision is a
    setting of the run, not of the machine."""
    return f"{hw.get('count')} × {short_device(hw['device']) if short else hw['device']}"


def _dataset(recs: list[dict], manifest: dict) -> dict:
    found = next((r["dataset"] for r in recs if r.get("status") == "complete" and r.get("dataset")), None)
    ds = dict(found or {"name": manifest.get("dataset")})
    entry = DATASETS.get(ds.get("name") or "")
    ds.setdefault("kind", entry.kind if entry else "real")
    ds.setdefault("num_classes", entry.num_classes if entry else None)
    return ds


PROVENANCE_PACKAGES = ("torch", "timm", "accelerate")  # the versions a results page's provenance names


def context(manifest: dict, recs: list[dict]) -> dict:
    """Campaign, dataset, protocol and provenance a page's numbers come from."""
    done = [r for r in recs if r.get("status") == "complete"]
    ds = _dataset(recs, manifest)
    hw = sorted({hardware_label(r["hardware"]) for r in done if r.get("hardware")})
    # every version a complete run recorded (a campaign resumed after an upgrade ran on two)
    versions = {k: sorted({(r.get("versions") or {}).get(k) for r in done} - {None}) for k in PROVENANCE_PACKAGES}
    plain = table_records(model_records(manifest, done))
    catalog = catalog_rows()
    seeds = {record_row(r, catalog): 0 for r in plain}  # a fine-tune and its scratch run are two rows
    for r in plain:
        seeds[record_row(r, catalog)] += 1
    stamps = sorted(t for r in done for t in (r.get("started"), r.get("finished")) if t)
    return {"campaign": manifest["name"], "dataset": ds.get("name"), "kind": ds["kind"],
            "checksum": ds.get("checksum"), "classes": ds.get("num_classes"),
            "train_size": ds.get("train_size"), "test_size": ds.get("test_size"), "hardware": hw,
            # every size the complete runs had (a model entry may set its own subset), and whether any trained or
            # tested on part of a split (a validation split's share is held out of training)
            "subsets": any((r.get("config") or {}).get(k) for r in done
                           for k in ("train_subset", "test_subset", "val_fraction")),
            "train_sizes": sorted({(r.get("dataset") or {}).get("train_size") for r in done} - {None}),
            "test_sizes": sorted({(r.get("final") or {}).get("evaluated") or (r.get("dataset") or {}).get("test_size")
                                  for r in done} - {None}),
            "epochs": sorted({r["config"]["epochs"] for r in done}), "complete": len(done), "total": len(recs),
            "steps_capped": sorted({steps_cap(r) for r in done} - {None}),
            "global_batches": sorted({(r.get("recipe") or {}).get("global_batch") for r in done} - {None}),
            "seeds": sorted(set(seeds.values()) - {0}), "commits": sorted({r.get("git_commit") or "–" for r in done}),
            "versions": versions, "start": stamps[0][:10] if stamps else "–", "end": stamps[-1][:10] if stamps else "–",
            "studies": len(manifest.get("studies") or []), "stale": manifest.get("stale") or {}}


def steps_cap(record: dict) -> int | None:
    """A smoke test's max_steps_per_epoch where it cut the run's epochs short (fewer steps than its training
    images' full global batches, train.steps_per_epoch, or those unknown): each epoch saw part of them. Else None."""
    cap, batch = (record.get("config") or {}).get("max_steps_per_epoch"), (record.get("recipe") or {}).get("global_batch")
    size = (record.get("dataset") or {}).get("train_size")
    return cap if cap and not (batch and size and cap >= size // batch) else None


def _model_row(model: str, g: pd.DataFrame, group: str | None, diverged: dict) -> dict:
    ok = g[g.status == "complete"]
    first = g.iloc[0]
    row = {"model": model, "group": group or first.group, "status": "complete" if len(ok) else first.status,
           "reason": None if len(ok) else first.reason, "seeds": len(ok), "run_ids": list(ok.run_id)}
    if not len(ok):
        return row
    lo, hi = shared_images_interval(ok.top1, ok.evaluated)
    chance = chance_level(ok.num_classes.iloc[0])
    return {**row, "classes": ok.num_classes.iloc[0], "chance": chance, "at_chance": bool(ok.top1.mean() <= chance),
            "not_complete": not_complete(g.status),
            "diverged": next((diverged[i] for i in ok.run_id if diverged.get(i)), None),
            "top1": ok.top1.mean(), "top1_std": ok.top1.std() if len(ok) > 1 else math.nan,
            "top1_lo": lo, "top1_hi": hi, "evaluated": int(ok.evaluated.iloc[0]),
            "top5": ok.top5.mean(), "top5_std": ok.top5.std() if len(ok) > 1 else math.nan,
            "params": ok.params.iloc[0], "flops": ok.flops.iloc[0],
            "params_m": ok.params.iloc[0] / 1e6, "flops_m": ok.flops.iloc[0] / 1e6,
            "train_seconds": ok.train_seconds.mean(), "images_per_second": ok.images_per_second.mean(),
            "hardware": "; ".join(sorted(set(ok.hardware.dropna()))) or None,
            "epochs": counts(ok.epochs), "train_size": counts(ok.train_size), "test_size": counts(ok.evaluated),
            "recipe": ok.recipe.iloc[0]}  # as recorded (JSON): a pairwise question needs both rows' to agree


def not_complete(statuses) -> dict:
    """{status: count} of a row's runs that did not complete, beside its complete ones: its Note says how many its
    mean leaves out (a mean of the surviving seeds looked like one of every seed)."""
    return {s: n for s, n in pd.Series(list(statuses)).value_counts(sort=False).items() if s != "complete"}


def counts(values) -> str | None:
    """A row's count (epochs, images) as Table 1 shows it: "2", or "2 / 4" where its seeds differ; None unknown."""
    found = sorted({int(v) for v in values if v == v and v is not None})
    return " / ".join(f"{v:,}" for v in found) or None


def varying(rows: pd.DataFrame) -> list[str]:
    """The protocol counts that differ between the complete rows (``epochs``, ``train_size``, ``test_size``): a
    campaign's model entries may set their own, and Table 1 then shows each row's, so no difference in top-1 is
    read as the models' alone."""
    done = rows[rows.status == "complete"]
    return [c for c in ("epochs", "train_size", "test_size") if c in done and done[c].dropna().nunique() > 1]


def budget_varies(rows: pd.DataFrame) -> bool:
    """Whether the rows trained for different epochs or on different numbers of images: their training times then
    measure their budgets as well as the models."""
    return bool({"epochs", "train_size"} & set(varying(rows)))


def evaluated_counts(rows: pd.DataFrame) -> list[int]:
    """The test images each complete row's top-1 was measured on, every count once (model entries may differ)."""
    done = rows[rows.status == "complete"]
    return sorted({int(n) for n in done.evaluated.dropna() if n}) if "evaluated" in done else []


def mixed_hardware(rows: pd.DataFrame) -> list[str]:
    """The machines the complete rows' runs trained on (:func:`machine_label` each), when more than one: their
    training times and images/s then compare machines as well as models. [] when one (or unknown)."""
    done = rows[rows.status == "complete"]
    labels = sorted({label for h in done.get("hardware", pd.Series(dtype=object)).dropna() for label in h.split("; ")})
    return labels if len(labels) > 1 else []


def executed_parameters(page: Path) -> dict:
    """The parameters papermill executed a notebook with (its metadata), or {} for a page it did not write."""
    try:
        return dict(json.loads(Path(page).read_text(encoding="utf-8"))["metadata"]["papermill"]["parameters"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def runs_frame(recs: list[dict]) -> pd.DataFrame:
    """records.records_frame plus what the report needs that it does not flatten (read defensively)."""
    df = records.records_frame(recs)
    if df.empty:
        return df
    by_id = {r["run_id"]: r for r in recs}
    df["evaluated"] = [(by_id[i].get("final") or {}).get("evaluated") or
                       (by_id[i].get("dataset") or {}).get("test_size") or 0 for i in df.run_id]
    # train_seconds sums epoch times, so a resumed run is not timed from its last restart only.
    df["train_seconds"] = [by_id[i].get("train_seconds", by_id[i].get("wall_seconds")) for i in df.run_id]
    df["num_classes"] = [num_classes(by_id[i]) for i in df.run_id]
    df["train_size"] = [(by_id[i].get("dataset") or {}).get("train_size") for i in df.run_id]
    df["recipe"] = [json.dumps((by_id[i].get("recipe") or {}), sort_keys=True, default=str) for i in df.run_id]
    df["hardware"] = [machine_label(by_id[i]["hardware"]) if (by_id[i].get("hardware") or {}).get("device") else None
                      for i in df.run_id]
    return df


SCRATCH = "-scratch"


def row_name(model: str, pretrained, catalog: dict[str, dict], entry: str | None = None) -> str:
    """The row a run belongs to: its model entry (``entry``: its name, or its model), or ``<entry>-scratch`` for a
    model that is fine-tuned from ImageNet weights by default but was trained from scratch (weights unavailable,
    or the entry asked so): a different experiment, never compared with the fine-tune's claims or pairs. An entry
    named ``<name>_scratch`` (as a campaign names the from-scratch entry it adds) is row ``<name>-scratch``.
    ``catalog``: :func:`model_catalog.catalog_rows`."""
    fine_tune = (catalog.get(model) or {}).get("default_run") == "fine-tune"
    name = entry or model
    return f"{name.removesuffix('_scratch')}{SCRATCH}" if fine_tune and not _given(pretrained) else name


def record_row(rec: dict, catalog: dict[str, dict]) -> str:
    """The results row a run record belongs to: its :data:`RESULTS_ROW` where the campaign's manifest says which
    model entry it is a seed of, else :func:`row_name` of its model."""
    return rec.get(RESULTS_ROW) or row_name(rec["model"], rec.get("pretrained"), catalog)


# The Results row a campaign's record is a seed of (None: of no model entry), set when the campaign is read.
RESULTS_ROW = "results_row"


def with_results_rows(manifest: dict, recs: list[dict]) -> list[dict]:
    """``recs``, each with the Results row of the model entry it is a seed of (:data:`RESULTS_ROW`). A model
    entry is known by its runs' ids (the manifest's ``model_runs``): two entries of one model (``resnet_20`` and
    ``{model: resnet_20, name: r20_long, epochs: 4}``) are two rows, and a study's run of the same network at
    another seed is one more seed of its entry. A manifest without ``model_runs`` (older): ``recs`` unmarked,
    one row per model as then."""
    if not isinstance(manifest.get("model_runs"), list):
        return recs
    entries = {entry_of(rid, manifest["name"]) for rid in manifest["model_runs"]} - {None}
    catalog = catalog_rows()
    return [{**r, RESULTS_ROW: row_name(r["model"], r.get("pretrained"), catalog, stem)
             if (stem := entry_of(r.get("run_id"), manifest["name"])) in entries and r.get("model") else None}
            for r in recs]


def table_records(recs: list[dict]) -> list[dict]:
    """The records the Results table counts: the model entries' seeds where the records say which they are
    (:func:`with_results_rows`), else every run without model options (as before entries were known)."""
    if any(RESULTS_ROW in r for r in recs):
        return [r for r in recs if r.get(RESULTS_ROW)]
    return [r for r in recs if not r.get("options")]


def _given(value) -> bool:
    return value is not None and value == value and value != ""  # None / NaN (pandas) / "" mean from scratch


def _weights(row: dict, g: pd.DataFrame, catalog: dict[str, dict]) -> dict:
    """Where a row's weights started: ImageNet (a fine-tune) or from scratch; a scratch row of a fine-tune
    model stands in for it (``fallback``), unless the model has a from-scratch recipe of its own: then it
    trains from scratch by design (the Vision Transformers' small-image layouts)."""
    model = g.model.iloc[0]
    facts = catalog.get(model) or {}
    pretrained = _given(g.pretrained.iloc[0])
    return {**row, "base_model": model, "pretrained": pretrained,
            "fallback": facts.get("default_run") == "fine-tune" and not pretrained and not facts.get("scratch_recipe")}


def model_rows(recs: list[dict], models: list[str] | None = None) -> pd.DataFrame:
    """One row per model entry (its seeds aggregated, :func:`table_records`), ranked; a fine-tune model trained
    from scratch is a row of its own (:func:`row_name`). Records of a campaign that does not say its entries' runs:
    one row per model of ``models`` from its runs without options."""
    df = runs_frame(recs)  # none (a campaign of recipe-changing study variants only): no rows, every column
    df = df if len(df) else pd.DataFrame(columns=["run_id", "model"])
    table = {r["run_id"]: r for r in table_records(recs)}
    marked = any(RESULTS_ROW in r for r in recs)
    plain = df[df.run_id.isin(table) & (df.model.isin(models) if models is not None and not marked else True)].copy()
    catalog = catalog_rows()  # the registry's facts, read without importing torch
    plain["row"] = [record_row(table[i], catalog) for i in plain.run_id]
    groups = {r["model"]: r.get("group") for r in recs}
    diverged = {r["run_id"]: divergence(r) for r in recs}
    out = pd.DataFrame([_weights(_model_row(name, g, groups.get(g.model.iloc[0]), diverged), g, catalog)
                        for name, g in plain.groupby("row", sort=False)],
                       columns=None if len(plain) else ["model", "group", "status", "reason", "seeds", "run_ids"])
    for col in ("classes", "chance", "at_chance", "diverged", "top1", "top1_std", "top1_lo", "top1_hi", "top5", "top5_std", "params", "flops",
                "params_m", "flops_m", "train_seconds", "images_per_second", "evaluated"):
        if col not in out:
            out[col] = math.nan
    out["efficiency"] = out.top1 / out.params_m
    out = out.sort_values("top1", ascending=False, na_position="last").reset_index(drop=True)
    out.insert(0, "rank", [i + 1 if s == "complete" else None for i, s in enumerate(out.status)])
    return out


def not_separable(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """Neighbours in the ranking whose 95 % intervals overlap."""
    done = rows[rows.status == "complete"]
    return [(a.model, b.model) for a, b in zip(done.itertuples(), done.iloc[1:].itertuples()) if b.top1_hi >= a.top1_lo]


def group_intervals(rows: pd.DataFrame) -> pd.DataFrame:
    """Per group of complete models: n, mean top-1 and the Wilson interval of that mean over the test images its
    models share (the test-set noise of the average), best mean first."""
    done = rows[rows.status == "complete"]
    out = []
    for name, g in done.groupby("group", sort=False):
        lo, hi = shared_images_interval(g.top1, g.evaluated)
        out.append({"group": name, "n": len(g), "top1": g.top1.mean(), "lo": lo, "hi": hi})
    cols = ["group", "n", "top1", "lo", "hi"]
    return pd.DataFrame(out, columns=cols).sort_values("top1", ascending=False).reset_index(drop=True)


def group_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Table 2's rows, indexed by group, in its order (the book's groups, best mean top-1 first): per group of
    complete models their count (``n``) and names, their runs and the runs' ids, the means over its models
    (``top1``, ``top5``, ``params_m``, ``params``, ``eff``, ``time``) and the interval of :func:`group_intervals`
    (``lo``, ``hi``). Its table and its download both read these rows."""
    done = rows[rows.status == "complete"]
    g = done.groupby("group").agg(n=("model", "count"), models=("model", list), runs=("seeds", "sum"),
                                  run_ids=("run_ids", lambda ids: [i for row in ids for i in row]),
                                  top1=("top1", "mean"), top5=("top5", "mean"), params_m=("params_m", "mean"),
                                  params=("params", "mean"), eff=("efficiency", "mean"), time=("train_seconds", "mean"))
    g = g.reindex([x for x in GROUPS if x in g.index]).sort_values("top1", ascending=False)
    return g.join(group_intervals(rows).set_index("group")[["lo", "hi"]])


def short_protocol(ctx: dict) -> bool:
    """Runs far shorter than the original 200 epochs, or cut short by a step cap: a pipeline test, not a ranking."""
    return (bool(ctx["epochs"]) and max(ctx["epochs"]) < 200) or bool(ctx.get("steps_capped"))


def ranked(ctx: dict) -> bool:
    """Whether Table 1's order is a ranking: the original protocol's length, and every run trained alike (one
    epoch count, one training-set size); otherwise it is an order by top-1."""
    return not short_protocol(ctx) and len(ctx["epochs"]) <= 1 and len(ctx.get("train_sizes") or []) <= 1


def comparable_with_claims(ctx: dict) -> bool:
    """Claims are CIFAR-100 at 200 epochs, its whole training and test sets (every epoch all of it: no step cap), at
    a global batch of 1,024 (``--jobs 8`` trains full.yaml at 128); only such runs may be subtracted from them."""
    return ctx["dataset"] == "cifar100" and ctx["epochs"] == [200] and not ctx.get("subsets") \
        and not ctx.get("steps_capped") and ctx.get("global_batches", []) in ([], [CLAIMS_GLOBAL_BATCH])


def recipes_used(recs: list[dict]) -> pd.DataFrame:
    """One row per distinct recipe the campaign's complete runs recorded (``record['recipe']``), naming each run
    as its results row does (``coatnet_0-scratch`` for a fine-tune model trained from scratch)."""
    rows, catalog = {}, catalog_rows()
    for r in recs:
        rec = r.get("recipe")
        if r.get("status") != "complete" or not rec:
            continue
        key = tuple(sorted((k, str(v)) for k, v in rec.items()))  # global_batch too: an entry may set batch_size
        row = rows.setdefault(key, {**rec, "models": []})
        name = record_row(r, catalog)
        if name not in row["models"]:
            row["models"].append(name)
    return pd.DataFrame(rows.values())


def claims_matched(rows: pd.DataFrame) -> pd.DataFrame:
    """The claims joined to our complete models that started as the claim's run did (its ``weights``)."""
    done = rows[rows.status == "complete"].reindex(columns=["model", "top1", "pretrained"])
    m = pd.read_csv(REFERENCE / "original_claims.csv").merge(done, on="model", suffixes=("_claim", ""))
    return m[(m.weights == "imagenet") == m.pretrained.eq(True)]
