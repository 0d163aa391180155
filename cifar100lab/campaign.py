"""Campaigns: a YAML file, read and checked whole before any work starts, becomes a :class:`Campaign` of
:class:`~cifar100lab.runs.Run` s (one per distinct network, recipe and seed, each with its resolved plan) and
the studies that compare them; :func:`write_manifest` writes what the report needs to know of it. Executing the
runs is the executors' job (:mod:`cifar100lab.executors`); one run's steps are :mod:`cifar100lab.runs`.

Campaign YAML keys: ``name``, ``description``, ``dataset``, ``num_processes``, ``seeds``, ``models``
(a list of names, or ``study``: the original study's models, or ``registered``: every registered model), ``defaults`` (TrainConfig fields for every run), ``studies`` (ablation YAML paths, or
``{study: PATH, models: [...]}``: only that study's variants of those models, the study page says so),
``study_seeds`` (seeds for study runs; default: the study's own ``seeds``), ``jobs`` (runs side by side:
a number or ``auto``, see :func:`cifar100lab.kernels.resolve_jobs`) or ``runs_per_gpu`` (that many runs on each
GPU, one GPU to a run: :func:`cifar100lab.kernels.campaign_jobs`), ``executor`` (``kind: slurm`` and its
resources, :class:`cifar100lab.config.ExecutorConfig`), ``robustness`` (the post-training robustness step's
settings, :class:`cifar100lab.robustness.RobustnessSettings`; without it there is no such step).
Study YAML keys: ``study``, ``title`` / ``question`` (``en`` and ``zh``), ``seeds``, ``variants``
(each ``label``, unique, ``model``, optional ``options``, ``overrides`` (recipe fields, over the campaign
defaults' overrides) and ``label_zh``), ``compare_within`` (``model``: each variant against the first variant
of its model; default: every variant against the study's first), ``x_axis`` (what the study's figure plots
top-1 against: ``variant``, the default, or ``params``: the variants' parameter counts).
A variant's ``distill_from: best:MODEL|MODEL`` is this campaign's best complete run of those models, found when
the campaign is loaded; a variant whose teacher is not there is skipped, and the manifest, the dry run and the
study page say which (:mod:`cifar100lab.distill`).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import attempt, distill, recipes, records
from .config import ExecutorConfig, RunPlan, check_name, resolve
from .config_files import ConfigError, bilingual, plain_text, read_yaml_mapping, refuse_unknown_keys, seed_list
from .kernels import check_runs_per_gpu, resolve_jobs
from .launch import check_processes
from .models import hub_weights_unreachable, model_entry, model_set, probe_hub_once
from .robustness.results import entry_of
from .robustness.settings import RobustnessSettings, campaign_settings
from .runs import Run, plan_changes, stale_fields, stale_runs
from .settings import apply_set, check_mapping_fields, refuse_entry_conflicts, top_level_keys

CAMPAIGN_KEYS = ("name", "description", "dataset", "num_processes", "seeds", "models", "defaults", "studies",
                 "study_seeds", "jobs", "runs_per_gpu", "executor", "robustness")
STUDY_KEYS = ("study", "title", "question", "seeds", "variants", "compare_within", "x_axis")
VARIANT_KEYS = ("label", "label_zh", "model", "options", "overrides")
COMPARE_WITHIN = ("model",)
X_AXES = ("variant", "params")  # a study figure's x-axis: its variants side by side, or their parameter counts
DATASET_ENV = "CIFAR100LAB_DATASET"
# TrainConfig fields the campaign sets per run, so `defaults:` (or --set) may not hold them: where each belongs.
PER_RUN = {"model": "a model entry ('models:')", "options": "a model entry ('options:') or a study variant",
           "dataset": "the campaign's 'dataset:' key or --dataset", "seed": "the campaign's 'seeds:' key",
           "run_dir": "--runs-root (run folders are <runs-root>/<campaign>/<run>)",
           "run_id": "a model entry's 'name:'", "campaign": "the campaign's 'name:' key",
           "resume": "nowhere: a campaign resumes interrupted runs; --force re-runs complete ones"}
ENTRY_KEYS = ("model", "options", "name")  # a model entry's own keys; any other is a TrainConfig field


@dataclass
class Variant:
    label: str
    model: str
    options: dict
    label_zh: str | None = None
    overrides: dict = field(default_factory=dict)  # recipe fields, as written in the study


@dataclass
class Study:
    name: str
    title: dict
    question: dict
    seeds: list[int]
    variants: list[Variant]
    path: str
    compare_within: str | None = None  # None: the whole study against its first variant; "model": per model
    left_out: list[str] = field(default_factory=list)  # models whose variants this campaign does not run
    x_axis: str = "variant"  # one of X_AXES


@dataclass
class VariantRuns:
    """What one study variant became in a campaign: the recipe fields it changes over the campaign's recipe
    (checked values; those that change nothing dropped) and its run ids, one per seed."""
    overrides: dict
    run_ids: list[str]
    skipped: dict | None = None  # why the variant has no runs (its teacher is not there): {"teacher": ...}
    seeds: list[int] = field(default_factory=list)  # its runs' seeds (skipped: the seeds it will run)


@dataclass
class Campaign:
    name: str
    description: str
    dataset: str
    num_processes: Any
    seeds: list[int]
    models: list[str]
    defaults: dict
    studies: list[Study]
    jobs: int | str = 1  # parallel runs, or "auto" (see resolve_jobs)
    path: str = ""
    runs_per_gpu: int | None = None  # instead of jobs: this many runs on each GPU (kernels.campaign_jobs)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)  # where runs execute: local or Slurm
    runs: list[Run] = field(default_factory=list)
    variant_runs: dict[tuple[str, str], VariantRuns] = field(default_factory=dict)  # (study, label) -> runs
    model_runs: list[str] = field(default_factory=list)  # the runs of the model entries (not study variants)
    robustness: RobustnessSettings | None = None  # the post-training robustness step; None: none


def _refuse_per_run_fields(fields: dict, where: str, allowed: tuple[str, ...] = ()) -> None:
    """Fields the campaign sets for each run would be overwritten without a word: refuse them, saying where
    each belongs."""
    bad = [k for k in fields if k in PER_RUN and k not in allowed]
    if bad:
        raise ConfigError(f"{where}: {', '.join(bad)} cannot be set there (the campaign sets it per run); "
                          + "; ".join(f"{k} belongs in {PER_RUN[k]}" for k in bad))


def _variant(path: Path, i: int, v) -> Variant:
    where = f"{path}: variant {i + 1}"
    if not isinstance(v, dict):
        raise ConfigError(f"{where} must be a mapping with 'label' and 'model', got {v!r}")
    refuse_unknown_keys(v, VARIANT_KEYS, where)
    if "label" not in v or "model" not in v:
        raise ConfigError(f"{where} needs 'label' and 'model'")
    if not isinstance(v["model"], str):
        raise ConfigError(f"{where} ({v['label']}): model must be a registered model's name, got {v['model']!r}")
    if v.get("label_zh") is not None and not isinstance(v["label_zh"], str):
        raise ConfigError(f"{where} ({v['label']}): label_zh must be text, got {v['label_zh']!r}")
    for key in ("options", "overrides"):
        if not isinstance(v.get(key) or {}, dict):
            raise ConfigError(f"{where} ({v['label']}): {key} must be a mapping, got {v[key]!r}")
    return Variant(str(v["label"]), v["model"], dict(v.get("options") or {}), v.get("label_zh"),
                   dict(v.get("overrides") or {}))


def load_study(path: str | os.PathLike) -> Study:
    path = Path(path)
    d = read_yaml_mapping(path, STUDY_KEYS, "study")
    if not isinstance(d.get("variants") or [], list):
        raise ConfigError(f"{path}: variants must be a list of mappings, each with 'label' and 'model', "
                          f"got {d['variants']!r}")
    variants = [_variant(path, i, v) for i, v in enumerate(d.get("variants") or [])]
    if not variants:
        raise ConfigError(f"{path}: a study needs at least one variant")
    labels = [v.label for v in variants]
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:  # the label is the variant's key in the manifest and the tables
        raise ConfigError(f"{path}: variant label(s) {', '.join(twice)} appear more than once; labels must be unique")
    for key, valid, means in (("compare_within", COMPARE_WITHIN, "or omitted: every variant against the first"),
                              ("x_axis", X_AXES, "what the figure plots top-1 against")):
        if d.get(key) is not None and d[key] not in valid:
            raise ConfigError(f"{path}: {key} must be {' or '.join(valid)} ({means}), got {d[key]!r}")
    name = check_name(d.get("study") or path.stem, f"{path}: study name")
    return Study(name, bilingual(d.get("title"), f"{path}: title") or {"en": name, "zh": name},
                 bilingual(d.get("question"), f"{path}: question"),
                 seed_list(d.get("seeds", 3), f"{path}: seeds"), variants, str(path), d.get("compare_within"),
                 x_axis=d.get("x_axis") or "variant")


def _studies(path: Path, entries) -> list[Study]:
    """The campaign's studies; their paths are relative to the campaign file's folder, so a campaign works from
    any working folder."""
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: studies must be a list of study files or {{study: PATH, models: [MODEL, ...]}} "
                          f"entries, got {entries!r}")
    return [_campaign_study(path, entry) for entry in entries]


def _campaign_study(path: Path, entry) -> Study:
    """A campaign's ``studies`` entry: a study file, or ``{study: FILE, models: [...]}`` for only its variants of
    those models (a short campaign that cannot afford a study's expensive half; the study page says what was
    left out)."""
    if isinstance(entry, str):
        return load_study(path.parent / entry)
    where = f"{path}: studies entry {entry!r}"
    if not isinstance(entry, dict) or set(entry) != {"study", "models"} or not isinstance(entry["models"], list):
        raise ConfigError(f"{where} must be a study file's path or {{study: PATH, models: [MODEL, ...]}}")
    study = load_study(path.parent / str(entry["study"]))
    models = list(dict.fromkeys(v.model for v in study.variants))
    unknown = [m for m in entry["models"] if m not in models]
    if unknown or not entry["models"]:
        raise ConfigError(f"{where}: models must name some of the study's models ({', '.join(models)}); "
                          + (f"{', '.join(map(str, unknown))} has no variant there" if unknown else "none given"))
    study.variants = [v for v in study.variants if v.model in entry["models"]]
    study.left_out = [m for m in models if m not in entry["models"]]
    return study


def canonical_options(model: str, options: dict) -> dict:
    """Options in the model's canonical form with those equal to its defaults dropped, so equal networks get
    one run (a study variant that names the same network as another shares its runs)."""
    entry = model_entry(model)
    defaults = entry.options
    options = entry.canonical(options) if entry.canonical else options
    return {k: v for k, v in sorted(options.items()) if not (k in defaults and defaults[k] == v)}


def run_id_for(campaign: str, model: str, options: dict, seed: int, overrides: dict | None = None) -> str:
    """``<campaign>-<model>[-<option>-<value>…][-<recipe field>-<value>…]-s<seed>``, each part sorted."""
    items = list(options.items()) + list((overrides or {}).items())
    parts = [campaign, model] + [f"{k}-{_id_value(v)}" for k, v in items] + [f"s{seed}"]
    return "-".join(str(p).replace("/", "_").replace(" ", "_") for p in parts)


def _id_value(value) -> str:
    return "_".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def load_campaign(path: str | os.PathLike, dataset: str | None = None, runs_root: str | os.PathLike = "runs",
                  book_dir: str | os.PathLike = "book", set_values: dict | None = None) -> Campaign:
    """Read and fully validate a campaign (every run's config) before any work starts."""
    path = Path(path)
    d = read_yaml_mapping(path, CAMPAIGN_KEYS, "campaign")
    name = check_name(d.get("name") or path.stem, f"{path}: campaign name")
    models = _model_list(path, d.get("models") or [])
    defaults = d.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError(f"{path}: defaults must be a mapping of TrainConfig fields, got {defaults!r}")
    _refuse_per_run_fields(defaults, f"{path}: defaults")
    check_mapping_fields(defaults, f"{path}: defaults")
    _refuse_per_run_fields(top_level_keys(set_values or {}), "--set")
    defaults = apply_set(defaults, set_values or {})
    dataset = dataset or os.environ.get(DATASET_ENV) or d.get("dataset") or "cifar100"
    studies = _studies(path, d.get("studies") or [])
    camp = Campaign(name, plain_text(d.get("description"), f"{path}: description"), dataset,
                    d.get("num_processes", "auto"), seed_list(d.get("seeds", [0]), f"{path}: seeds"), list(models),
                    defaults, studies, jobs=d.get("jobs", 1), path=str(path))
    resolve_jobs(camp.jobs, str(path))
    check_processes(camp.num_processes, f"{path}: num_processes")  # this machine's count: when runs start here
    camp.runs_per_gpu = check_runs_per_gpu(d.get("runs_per_gpu"), str(path))
    if camp.runs_per_gpu is not None and "jobs" in d:
        raise ConfigError(f"{path}: give jobs (runs side by side in all) or runs_per_gpu (runs sharing each GPU), "
                          "not both")
    camp.executor = ExecutorConfig.from_dict(d.get("executor"), f"{path}: executor")
    study_seeds = None if d.get("study_seeds") is None else seed_list(d["study_seeds"], f"{path}: study_seeds")
    # A model entry is a name or a mapping {model, options, name (run-id stem), any TrainConfig field}.
    entries = [_model_entry(path, e) for e in models]
    refuse_entry_conflicts(set_values or {}, entries, str(path))
    camp.models = [e.get("name") or e["model"] for e in entries]
    runs = _CampaignRuns(path, name, dataset, defaults, Path(runs_root), Path(book_dir))
    plans = [runs.add_entry(e, camp.seeds) for e in entries]
    fallbacks = scratch_fallbacks(entries, plans)
    entries += fallbacks
    camp.models += [e["name"] for e in fallbacks]
    for e in fallbacks:
        runs.add_entry(e, camp.seeds)
    camp.model_runs = list(runs.model_runs)
    for st in studies:
        seeds = study_seeds or st.seeds
        for v in st.variants:
            camp.variant_runs[(st.name, v.label)] = runs.add_variant(st, v, seeds)
    camp.runs = list(runs.runs.values())
    camp.robustness = campaign_settings(d.get("robustness"), f"{path}: robustness",
                                        {entry_of(rid, name): runs.runs[rid].plan.config.model for rid in camp.model_runs})
    if not camp.runs:
        raise ConfigError(f"{path} defines no runs; list 'models' (names, study or registered) or 'studies'")
    return camp


def scratch_fallbacks(entries: list[dict], plans: list[RunPlan]) -> list[dict]:
    """From-scratch entries (``<name>_scratch``, pretrained off, at the model's own small-image size) for the
    fine-tunes whose hub weights cannot be had here (offline, not cached), so every architecture of the
    campaign still has a measured row -- a different experiment, labelled so and never compared with the
    fine-tune's claim. Not for a family the campaign already trains from scratch (ConvNeXt-T, Mixer-Tiny)."""
    from_scratch = {plan.model.family for plan in plans if not plan.pretrained}
    probe = probe_hub_once()
    return [{**e, "pretrained": "off", "name": f"{e.get('name') or e['model']}_scratch"}
            for e, plan in zip(entries, plans)
            if plan.pretrained == "hub" and plan.model.family not in from_scratch
            and hub_weights_unreachable(plan.model.pretrained_source, probe)]


def _model_list(path: Path, models) -> list:
    """The campaign's model entries: its list, or the names a model set's word (``study``, ``registered``) means."""
    if isinstance(models, list):
        return list(models)
    if not isinstance(models, str):
        raise ConfigError(f"{path}: models must be a list of model names or entries, or a model set's name (study, "
                          f"registered), got {models!r}")
    try:
        return model_set(models)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None


def _model_entry(path: Path, entry) -> dict:
    """A model entry: a name, or a mapping of ``model``, ``options``, ``name`` (the run-id stem, a plain name)
    and TrainConfig fields that do not vary per run."""
    if not isinstance(entry, (str, dict)):
        raise ConfigError(f"{path}: model entry {entry!r} must be a model name or a mapping {{model: NAME, "
                          f"options: {{...}}, name: RUN_ID_STEM, any TrainConfig field}}")
    e = dict(entry) if isinstance(entry, dict) else {"model": entry}
    if "model" not in e:
        raise ConfigError(f"{path}: model entry {e} has no 'model'")
    if not isinstance(e["model"], str):
        raise ConfigError(f"{path}: model entry {e}: model must be a registered model's name, got {e['model']!r}")
    _refuse_per_run_fields(e, f"{path}: model entry {e['model']}", allowed=ENTRY_KEYS)
    check_mapping_fields(e, f"{path}: model entry {e['model']}")
    if "name" in e:
        check_name(e["name"], f"{path}: model entry {e['model']}: name")
    return e


def run_config(campaign: str, dataset: str, defaults: dict, model: str, options: dict, seed: int,
               extra: dict | None = None) -> dict:
    """A campaign run's TrainConfig fields: the campaign's defaults, the entry's or variant's own fields
    (``extra``, its recipe overrides over the defaults' overrides), the network and the seed."""
    extra = extra or {}
    overrides = {**(defaults.get("overrides") or {}), **(extra.get("overrides") or {})}
    return {**defaults, **extra, "overrides": overrides, "model": model, "options": options, "seed": seed,
            "dataset": dataset, "campaign": campaign, "resume": True}


@dataclass
class _CampaignRuns:
    """The campaign's runs as its model entries and study variants add them: one per distinct network, recipe
    and seed, each resolved (so checked) once."""
    path: Path
    name: str
    dataset: str
    defaults: dict
    runs_root: Path
    book_dir: Path
    runs: dict[str, Run] = field(default_factory=dict)
    base_recipes: dict = field(default_factory=dict)  # model -> its recipe under the campaign's defaults
    model_runs: list[str] = field(default_factory=list)  # the model entries' runs, in order
    asked_by: dict[str, str] = field(default_factory=dict)  # run id -> what first asked for it (a model entry, ...)

    def config(self, model: str, options: dict, seed: int, extra: dict) -> dict:
        return run_config(self.name, self.dataset, self.defaults, model, options, seed, extra)

    def add_entry(self, entry: dict, seeds: list[int]) -> RunPlan:
        """A model entry's runs, one per seed; the plan of its first. An earlier entry's runs are refused."""
        extra = {k: v for k, v in entry.items() if k not in ENTRY_KEYS}
        where = f"model entry {entry.get('name') or entry['model']}"
        rids = [self.add(entry["model"], entry.get("options") or {}, s, entry.get("name"), extra, where=where)
                for s in seeds]
        if twice := [rid for rid in rids if rid in self.model_runs]:
            raise ConfigError(f"{self.path}: {where} makes run {twice[0]}, as an earlier model entry does; list "
                              f"each network once")
        self.model_runs += rids
        return self.runs[rids[0]].plan

    def add(self, model: str, options: dict, seed: int, stem: str | None = None, extra: dict | None = None,
            changed: dict | None = None, where: str = "") -> str:
        """The run id of this network, recipe change and seed; the run is made and resolved on first sight, and
        ``where`` (what asks for it), sharing it, must ask for its settings: a run trains once."""
        try:
            options = canonical_options(model, options)
        except KeyError as e:  # an unknown model: say which entry or study variant names it
            raise ConfigError(f"{self.path}: {where + ': ' if where else ''}{e}") from None
        rid = check_name(run_id_for(self.name, stem or model, options, seed, changed), f"{self.path}: run id")
        cfg = {**self.config(model, options, seed, extra or {}),
               "run_dir": str(self.runs_root / self.name / rid), "run_id": rid}
        try:
            plan = resolve(cfg)
            attempt.check_pretrained_weights(plan)  # weights there that do not load: refused before any run
            distill.check_teacher(plan)  # there, and trained on the campaign's classes
        except ConfigError as e:
            raise ConfigError(f"{self.path}, run {rid}: {e}{recipes.from_defaults_note(self.defaults, extra, e)}") from None
        if rid in self.runs and (differ := plan_changes(self.runs[rid].plan, plan)):
            raise ConfigError(f"{self.path}: {where} makes run {rid} with other settings than {self.asked_by[rid]} "
                              f"({'; '.join(differ)}): one run cannot train both; give the model entry a name: of "
                              f"its own (its runs are then {self.name}-<name>-s<seed>)")
        if rid not in self.runs:
            self.runs[rid], self.asked_by[rid] = Run(rid, plan, self.book_dir / "runs" / f"{rid}.ipynb"), where
        return rid

    def add_variant(self, study: Study, v: Variant, seeds: list[int]) -> VariantRuns:
        try:
            v = self.with_teacher(study, v)
        except distill.TeacherMissing as e:  # not trained yet, or gone: the other variants still run
            self.changed_fields(study, v)  # its options and recipe checked now, not when its teacher is there
            return VariantRuns({}, [], skipped={"teacher": v.overrides["distill_from"], "why": str(e)}, seeds=seeds)
        changed = self.changed_fields(study, v)
        extra = {"overrides": v.overrides} if changed else {}  # no change: the plain network's runs
        in_id = distill.id_fields(changed)
        where = f"study {study.name} variant {v.label!r}"
        return VariantRuns(changed, [self.add(v.model, v.options, s, extra=extra, changed=in_id, where=where)
                                     for s in seeds], seeds=seeds)

    def with_teacher(self, study: Study, v: Variant) -> Variant:
        """The variant with its ``distill_from`` made concrete (``best:…`` becomes the campaign's best run of
        those models); TeacherMissing when the teacher is not there."""
        source = v.overrides.get("distill_from")
        if not isinstance(source, str):
            return v
        try:
            concrete = distill.locate_teacher(source, self.runs_root / self.name, self.dataset,
                                              lambda rid: rid in self.runs and not stale_fields(self.runs[rid]))
        except distill.TeacherMissing:
            raise
        except ConfigError as e:
            raise ConfigError(f"{study.path}: variant {v.label!r}: {e}") from None
        return dataclasses.replace(v, overrides={**v.overrides, "distill_from": concrete})

    def changed_fields(self, study: Study, v: Variant) -> dict:
        """The variant's recipe fields that differ from the campaign's recipe for its model, as the run uses
        them (checked, e.g. 1 -> 1.0), so equal recipes share one run whatever the YAML spelled."""
        if not v.overrides:
            return {}
        try:
            options = canonical_options(v.model, v.options)
            recipe = resolve(self.config(v.model, options, 0, {"overrides": v.overrides})).recipe
            if v.model not in self.base_recipes:
                self.base_recipes[v.model] = resolve(self.config(v.model, options, 0, {})).recipe
        except (ConfigError, KeyError) as e:
            raise ConfigError(f"{study.path}: variant {v.label!r}: {e}") from None
        base = self.base_recipes[v.model]
        return {k: getattr(recipe, k) for k in sorted(v.overrides) if getattr(recipe, k) != getattr(base, k)}


def study_runs(campaign: Campaign, study: Study) -> dict[str, list[str]]:
    """Variant label -> run ids of that variant (one per seed) in this campaign."""
    return {v.label: campaign.variant_runs[(study.name, v.label)].run_ids for v in study.variants}


def skipped_variants(campaign: Campaign) -> list[str]:
    """One line per study variant the campaign skips (its teacher is not there), saying which and why."""
    return [f"study {study}: variant {label!r} skipped: its teacher {v.skipped['teacher']} is not there "
            f"({v.skipped['why']})" for (study, label), v in campaign.variant_runs.items() if v.skipped]


def write_manifest(campaign: Campaign, runs_root: str | os.PathLike) -> Path:
    path = Path(runs_root) / campaign.name / records.MANIFEST
    records.atomic_write_json(path, {
        "name": campaign.name, "description": campaign.description, "dataset": campaign.dataset,
        "source": campaign.path, "models": campaign.models, "seeds": campaign.seeds,
        "runs": [r.run_id for r in campaign.runs], "model_runs": list(dict.fromkeys(campaign.model_runs)),
        "robustness": campaign.robustness and campaign.robustness.as_dict(), "stale": stale_runs(campaign.runs),
        "studies": [{"name": s.name, "title": s.title, "question": s.question, "path": s.path,
                     "compare_within": s.compare_within, "left_out": s.left_out, "x_axis": s.x_axis,
                     "variants": [{"label": v.label, "label_zh": v.label_zh or v.label, "model": v.model,
                                   "options": v.options,
                                   "overrides": campaign.variant_runs[(s.name, v.label)].overrides,
                                   **_skipped(campaign.variant_runs[(s.name, v.label)])}
                                  for v in s.variants],
                     "runs": study_runs(campaign, s)} for s in campaign.studies]})
    return path


def _skipped(variant: VariantRuns) -> dict:
    return {"skipped": variant.skipped} if variant.skipped else {}
