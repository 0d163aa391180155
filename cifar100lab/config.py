"""A run's settings: ``TrainConfig`` (what was asked for) and ``RunPlan`` (everything worked out from it).

``resolve(config)`` is the one place a config is validated and its derived facts are decided: the model
registry entry, the recipe with its overrides, the pretrained source, the input size, the normalization statistics
and the dataset entry. ``train``, ``evaluate_checkpoint``, ``bench`` and ``campaign`` take the plan, so no
part of the package works a setting out a second time.

A campaign's ``executor:`` block is configuration too: :class:`ExecutorConfig` (local, or Slurm and its resources).
The error every refused setting raises (``ConfigError``) and the YAML reader are :mod:`.config_files`'s, which
needs no torch.

Normalization rule (the only place it lives): a run from scratch uses its dataset's statistics; a fine-tune
uses the statistics its pretrained weights were trained with (their folder's ``pretrained_cfg``, else timm's).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import data as data_mod
from . import recipes
from .config_files import ConfigError, check_notebook_parameters, parse_yaml, refuse_unknown_keys
from .executor_choices import EXECUTOR_KINDS
from .models import (
    PROBE_SIZES,
    ModelEntry,
    check_options,
    create_model,
    forward_problem,
    model_entry,
    option_words,
    resolve_input_size,
    runs_at,
)
from .models.timm_backed import pretrained_source, weights_statistics
from .optuna_parts import PRUNERS
from .seeds import seed_problem

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
RUNS_ROOT = "runs"  # where a run without run_dir gets its folder (relative to the working folder)
# Smallest value of every integer field (``None`` stays allowed where the default is None).
MINIMUM = {"epochs": 1, "batch_size": 1, "eval_batch_size": 1, "seed": 0, "img_size": 1, "train_subset": 1,
           "test_subset": 1, "max_steps_per_epoch": 1, "checkpoint_every": 1}
# torch.compile's modes; reduce-overhead and max-autotune replay CUDA graphs (static shapes: every training batch
# has the same size, as train_batches drops the last partial one).
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


# Evaluation's batch per process when eval_batch_size is None: a GPU wants large batches, while a batch of 1000
# outgrows a CPU's caches and evaluates far slower than one of 128 (benchmarks/eval_batch.py measures it).
EVAL_BATCH = {"cpu": 128, "gpu": 1000}


def eval_batch(eval_batch_size: int | None, device_type: str) -> int:
    """The evaluation batch a run uses on a device of ``device_type`` (``torch.device.type``)."""
    if eval_batch_size is not None:
        return eval_batch_size
    return EVAL_BATCH["cpu" if device_type == "cpu" else "gpu"]


# Fields that may change between an interrupted run and its resume without changing the result.
RESUME_FREE = {"run_dir", "run_id", "resume", "campaign", "data_root", "download",
               "eval_batch_size", "progress", "notes", "log_with", "checkpoint_every", "trial"}
TRIAL_FIELDS = {"study": str, "trial_id": int, "number": int, "pruner": dict}  # what `tune` sets (see check_trial)
TRACKERS = ("tensorboard", "wandb", "mlflow")  # Accelerate's trackers a run can log to (log_with)
ID_NEUTRAL = {"cuda_graph": False}  # field: value left out of a run id's hash (see run_folder)


# --- names that become paths --------------------------------------------------------------------------

NAME_MAX = 200  # room for the suffixes a run folder gets (.ipynb, .lock, .replaced-<time>) under 255 bytes


def check_name(value, what: str) -> str:
    """``value`` as one plain path component: a name that becomes a folder or file name (campaign, run, study)
    must not climb out of where it is put (``..``, ``/``, an absolute path) nor hide (a leading dot)."""
    ok = (isinstance(value, str) and value not in ("", ".", "..") and not value.startswith(".")
          and not any(c in value for c in "/\\\0") and value.isprintable() and len(value.encode()) <= NAME_MAX)
    if not ok:
        raise ConfigError(f"{what} {value!r} must be a plain name, as it becomes a folder or file name: not empty, "
                          f"no '/' or '\\', not starting with '.', at most {NAME_MAX} bytes (e.g. quick, k5-lr0.2)")
    return value


@dataclass
class TrainConfig:
    model: str = "resnet_20"
    options: dict = field(default_factory=dict)  # model options (k_size, ratio, position, …)
    pretrained: str | bool | None = "default"  # default (the model's), off, hub, or a local weights path
    img_size: int | None = None  # None: 32, or the pretraining size when fine-tuning
    dataset: str = "cifar100"  # a registered dataset (cifar100, cifar10, fashion-mnist, synthetic) or imagefolder:/path
    data_root: str | None = None  # default: $CIFAR100LAB_DATA or ./data
    download: bool = True
    train_subset: int | None = None  # fixed seeded subset sizes (None: all)
    test_subset: int | None = None
    val_fraction: float = 0.0  # hold out this share of the training images to choose the best epoch on (0: off)
    epochs: int = 200
    batch_size: int = 128  # per process
    eval_batch_size: int | None = None  # per process; None: 1000 on a GPU, 128 on a CPU (EVAL_BATCH)
    recipe: str | None = None  # None: the model's default recipe
    overrides: dict = field(default_factory=dict)  # recipe fields to override (lr, weight_decay, …)
    seed: int = 0
    precision: str = "auto"  # auto: bf16 (fp16 on GPUs without it, fp32 on CPUs without native bf16); fp32: no autocast
    channels_last: bool = True
    compile: bool = False  # torch.compile the model
    compile_mode: str = "default"  # torch.compile mode (with compile): reduce-overhead / max-autotune use CUDA graphs
    cuda_graph: bool = False  # capture the whole training step (optimizer included) as one CUDA graph (see step_graph)
    deterministic: bool = False  # deterministic kernels (exact resume on GPU); off: cudnn.benchmark picks the fastest
    fused_optimizer: bool = False  # fused SGD/AdamW kernels (CPU and GPU)
    augment: bool = True  # random crop (4-px padding) + horizontal flip, batched on the device
    max_steps_per_epoch: int | None = None  # cap for smoke tests
    run_dir: str | None = None  # None: runs/<run_id> (see run_folder)
    run_id: str | None = None  # None: the run folder's name, or one made from the settings (see run_folder)
    resume: bool = True  # continue from run_dir's checkpoint; False refuses to touch an existing run
    checkpoint_every: int = 1  # write the checkpoint every N epochs (and after the last); a resume redoes the rest
    campaign: str | None = None
    progress: bool = True
    log_with: str | None = None  # also log every epoch to tensorboard | wandb | mlflow (Accelerate's trackers)
    notes: str = ""
    trial: dict | None = None  # set by `tune` only: the Optuna trial this run is (see cifar100lab.trial)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_namespace(cls, namespace: dict[str, Any]) -> "TrainConfig":
        """The config from a notebook's parameter variables (every field must be there); a parameter papermill
        injected that the notebook does not declare is refused (:func:`check_notebook_parameters`)."""
        check_notebook_parameters(namespace, " (a recipe field is set in overrides: -p overrides '{\"lr\": 0.05}')")
        missing = [k for k in cls.field_names() if k not in namespace]
        if missing:
            raise ConfigError(f"parameters missing: {', '.join(missing)}")
        values = {k: namespace[k] for k in cls.field_names()}
        # papermill passes a mapping given on its command line (-p overrides '{"lr": 0.05}') as a string
        return cls.from_dict({k: parse_yaml(v, f"parameter {k}") if k in ("options", "overrides", "trial") and
                              isinstance(v, str) else v for k, v in values.items()})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """The config with these fields; unknown keys fail here, values are checked by :func:`resolve`."""
        # a recipe field written beside the training fields (lr: 0.1) belongs in overrides: the error says so
        recipe_key = next((k for k in d if k not in cls.field_names() and k in recipes.valid_keys()), None)
        hint = (f" ({recipe_key} is a recipe field: set it in overrides, e.g. overrides: "
                f"{{{recipe_key}: {json.dumps(d[recipe_key], default=str)}}})") if recipe_key else ""
        refuse_unknown_keys(d, cls.field_names(), "training config", whole_file=True, hint=hint)
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def fingerprint(cfg: dict) -> dict:
    """The fields that decide the result; a field newer than the run that wrote ``cfg`` takes its default."""
    defaults = TrainConfig().to_dict()
    return {k: cfg.get(k, defaults[k]) for k in defaults if k not in RESUME_FREE}


def resolved_fingerprint(cfg: "dict | TrainConfig | RunPlan") -> dict:
    """:func:`fingerprint` with what :func:`resolve` works out in place of how it was spelled: the recipe's
    every field (``lr: 0.1`` on a recipe whose lr is 0.1 is no change), its name, the pretrained source and the
    input size. A config that no longer resolves (a field or model since removed) keeps its spelling."""
    spelled = cfg.config.to_dict() if isinstance(cfg, RunPlan) else (
        cfg.to_dict() if isinstance(cfg, TrainConfig) else cfg)
    out = fingerprint(spelled)
    try:
        plan = resolve(cfg if isinstance(cfg, (RunPlan, TrainConfig)) else fingerprint(cfg), stored=True)
    except (ConfigError, TypeError):
        return out
    return {**out, "recipe": plan.recipe_name, "overrides": recipes.recipe_dict(plan.recipe),
            "pretrained": plan.pretrained, "img_size": plan.input_size}


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs to know before it touches data, worked out once by :func:`resolve`."""
    config: TrainConfig
    model: ModelEntry  # the registry entry of config.model
    dataset: data_mod.DatasetEntry
    recipe_name: str
    recipe: recipes.Recipe
    pretrained: str | None  # None (from scratch), "hub" or a local weights path
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    normalization_source: str = ""  # where mean and std come from: the dataset, or the weights' pretrained_cfg

    @property
    def normalization(self) -> dict:
        return {"source": self.normalization_source, "mean": list(self.mean), "std": list(self.std)}

    def recipe_record(self, world_size: int) -> dict:
        """The recipe as the run uses it: overrides applied, lr scaled for ``world_size`` processes."""
        return {"name": self.recipe_name, **recipes.recipe_dict(self.recipe),
                "effective_lr": recipes.scaled_lr(self.recipe, world_size),
                "global_batch": self.config.batch_size * world_size}


def resolve(config: "TrainConfig | dict | RunPlan", stored: bool = False) -> RunPlan:
    """The run's plan; every check that needs no data happens here, so bad input fails before any work. ``stored``:
    the config of a run that trained (its record or checkpoint), where a setting that did nothing is no error."""
    if isinstance(config, RunPlan):
        return config
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    check_fields(cfg)
    if not stored and (why := seed_problem(cfg.seed)):  # a stored run trained with it: it is evaluated as it is
        raise ConfigError(why)
    cfg = run_folder(cfg)
    try:
        entry = model_entry(cfg.model)
        dataset = data_mod.dataset_entry(cfg.dataset)
    except (KeyError, ValueError, data_mod.DataError) as e:
        raise ConfigError(str(e)) from None
    pretrained = pretrained_source(cfg.pretrained, entry.default_pretrained, stored)  # None, "hub" or a path
    if pretrained and not entry.pretrainable:
        raise ConfigError(f"model {cfg.model!r} has no pretrained weights; use pretrained: off")
    try:
        recipe_name = cfg.recipe or recipes.registered_recipe(entry, pretrained)
        recipe = recipes.build_recipe(recipe_name, cfg.overrides, idle_ok=stored)
        input_size = resolve_input_size(cfg.model, pretrained, cfg.img_size)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if cfg.cuda_graph:
        from .step_graph import settings_conflict  # (torch: check_network below imports it anyway)
        if why := settings_conflict(cfg, recipe):
            raise ConfigError(why)
    check_network(cfg.model, cfg.options, input_size, layer_groups=recipe.layer_decay < 1,
                  size_asked=cfg.img_size is not None or bool(cfg.options))
    check_schedule(cfg, recipe)
    data_mod.check_sizes(cfg, dataset, stored)  # subsets, validation split and batch against the data's sizes
    mean, std, stats_from = weights_statistics(entry.pretrained_source, pretrained, stored) if pretrained else (
        dataset.mean, dataset.std, f"dataset {dataset.name}")
    return RunPlan(cfg, entry, dataset, recipe_name, recipe, pretrained, input_size, tuple(mean), tuple(std), stats_from)


def registration_problems() -> list[str]:
    """A line for each registered model whose register_model names a recipe that is not one, naming its file."""
    from .models import model_names
    return [why for name in model_names() if (why := recipes.registration_problem(model_entry(name)))]


def run_folder(cfg: TrainConfig) -> TrainConfig:
    """A run without ``run_dir`` (a notebook or ``train`` run by hand) gets ``runs/<run_id>``; without ``run_id``
    too, the id is its model, seed and a hash of every setting that decides its result: the same settings find
    the same folder again (to resume, or to say the run is complete) and other settings never share it."""
    if cfg.run_dir is not None:
        return cfg
    if cfg.run_id is not None:  # it names the folder under runs/: '../x' would train and write outside it
        check_name(cfg.run_id, "run_id")
    else:  # fields newer than the ids, at their old behaviour, stay out: old runs keep their folder
        kept = {k: v for k, v in fingerprint(cfg.to_dict()).items() if k not in ID_NEUTRAL or v != ID_NEUTRAL[k]}
        settings = json.dumps(kept, sort_keys=True, default=str)
        cfg = dataclasses.replace(cfg, run_id=f"{cfg.model}-s{cfg.seed}-{hashlib.sha1(settings.encode()).hexdigest()[:8]}")
    return dataclasses.replace(cfg, run_dir=f"{RUNS_ROOT}/{cfg.run_id}")


def field_changes(old: dict, new: dict, expand: tuple[str, ...] = ()) -> list[str]:
    """``field: old → new`` for each field whose value differs between two settings mappings (a fingerprint, a
    resolved one); the mappings named in ``expand`` (e.g. ``overrides``) say which of their keys changed."""
    changes = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if k in expand and isinstance(a, dict) and isinstance(b, dict):
            changes += [f"{k}.{change}" for change in field_changes(a, b)]
        else:
            changes.append(f"{k}: {a!r} → {b!r}")
    return changes


def check_fields(cfg: TrainConfig) -> None:  # every field's type (a bool is not an int) and every integer's range
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        value = getattr(cfg, f.name)
        allowed = typing.get_args(hints[f.name]) or (hints[f.name],)
        if not any(_is(value, t) for t in allowed):
            names = " or ".join("None" if t is type(None) else t.__name__ for t in allowed)
            raise ConfigError(f"{f.name} must be {names}, got {value!r}")
        if f.name in MINIMUM and value is not None and value < MINIMUM[f.name]:
            raise ConfigError(f"{f.name} must be at least {MINIMUM[f.name]}, got {value!r}")
    if cfg.compile_mode not in COMPILE_MODES:
        raise ConfigError(f"compile_mode {cfg.compile_mode!r} is not one of {', '.join(COMPILE_MODES)}")
    if cfg.compile_mode != "default" and not cfg.compile:
        raise ConfigError(f"compile_mode {cfg.compile_mode} needs compile: true (without it nothing is compiled)")
    if cfg.precision not in PRECISIONS:
        raise ConfigError(f"precision {cfg.precision!r} is not one of {', '.join(PRECISIONS)}")
    if not 0 <= cfg.val_fraction <= 0.5:
        raise ConfigError(f"val_fraction must be between 0 (no validation split) and 0.5, got {cfg.val_fraction!r}")
    if cfg.pretrained is True:
        raise ConfigError("pretrained must be default, off, hub or a weights path, got True")
    check_tracker(cfg.log_with)
    check_trial(cfg.trial)


def check_trial(trial: dict | None) -> None:
    """``trial`` names the Optuna trial a run of ``tune`` reports to; one set by hand without those names
    would fail once the run had started."""
    if not trial:  # no trial: a run of one's own (the trainer reads {} as none too)
        return
    pruner = trial.get("pruner")
    if (set(trial) != set(TRIAL_FIELDS) or not all(_is(trial[k], t) for k, t in TRIAL_FIELDS.items())
            or pruner.get("kind") not in PRUNERS):
        raise ConfigError(f"trial is set only by `cifar100lab tune` (the Optuna trial a run reports to) and holds "
                          f"study (a name), trial_id and number (integers) and pruner ({{kind: "
                          f"{' | '.join(PRUNERS)}}}), got {trial!r}; leave it out for a run of your own")


def check_tracker(log_with: str | None) -> None:
    if log_with is None:
        return
    if log_with not in TRACKERS:
        raise ConfigError(f"log_with {log_with!r} is not one of {', '.join(TRACKERS)} (or null: no tracker)")
    from accelerate.utils import is_mlflow_available, is_tensorboard_available, is_wandb_available
    available = {"tensorboard": is_tensorboard_available, "wandb": is_wandb_available, "mlflow": is_mlflow_available}
    if not available[log_with]():
        hint = "pip install 'cifar100lab[tracking]'" if log_with == "tensorboard" else f"pip install {log_with}"
        raise ConfigError(f"log_with: {log_with} needs the {log_with} package, which is not installed ({hint})")


def _is(value, t) -> bool:
    if t is type(None):
        return value is None
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, t) and not (t is int and isinstance(value, bool))


def check_schedule(cfg: TrainConfig, recipe: recipes.Recipe) -> None:
    """Recipe fields that only make sense against the run's length and batch."""
    if recipe.warmup_epochs >= cfg.epochs:
        raise ConfigError(f"warmup_epochs ({recipe.warmup_epochs}) must be shorter than the run ({cfg.epochs} "
                          f"epochs); override warmup_epochs for short runs")
    if recipe.freeze_epochs and recipe.freeze == "backbone":
        raise ConfigError("freeze: backbone already freezes the whole run; drop freeze_epochs (or use freeze: none "
                          "with freeze_epochs N to train the classifier first, then everything)")
    if recipe.freeze_epochs >= cfg.epochs:
        raise ConfigError(f"freeze_epochs ({recipe.freeze_epochs}) must be shorter than the run ({cfg.epochs} "
                          f"epochs); a run that never releases the backbone is freeze: backbone")
    if (recipe.mixup or recipe.cutmix) and cfg.batch_size % 2:
        raise ConfigError(f"Mixup/CutMix pair each batch with itself reversed, so batch_size must be even, "
                          f"got {cfg.batch_size}")


_CHECKED_NETWORKS: set = set()


def check_network(model: str, options: dict, input_size: int, layer_groups: bool = False,
                  size_asked: bool = True) -> None:
    """Option values are checked by building the network on the meta device (no memory, no init); a network
    is built once per process however many seeds or configs ask for it. ``layer_groups``: layer-wise lr decay
    needs the network to say which layer each parameter belongs to (timm's ``group_matcher``). ``size_asked``:
    an input size or options the run chose are also tried in a forward pass (a model's own size and defaults are,
    by the model tests; the pass costs a campaign's every network up to a second)."""
    key = (model, repr(sorted(options.items())), input_size, layer_groups, size_asked)
    if key in _CHECKED_NETWORKS:
        return
    import torch
    try:
        check_options(model, options)
        with torch.device("meta"):
            network = create_model(model, num_classes=10, img_size=input_size, **options)
    except (KeyError, ValueError, TypeError) as e:
        raise ConfigError(str(e)) from None
    if size_asked and (why := forward_problem(network, input_size)):
        works = [size for size in PROBE_SIZES if runs_at(model, options, size, network)]
        if options and not works:  # no size helps: its forward pass cannot take the options (depth 0, say)
            given, defaults = option_words(options, model_entry(model).options)
            raise ConfigError(f"{why}, in its forward pass at every img_size tried (model {model!r} with {given}; "
                              f"its options and their defaults: {defaults})")
        raise ConfigError(f"{model} cannot run on {input_size}×{input_size} images ({why}); img_size it runs at: "
                          f"{', '.join(map(str, works)) or 'none'} (of {', '.join(map(str, PROBE_SIZES))} tried)")
    if layer_groups and not hasattr(network, "group_matcher"):
        raise ConfigError(f"layer_decay needs a network that groups its layers (timm's group_matcher); {model} "
                          f"does not. It works with timm's models and the CIFAR ResNets, ConvNeXt-T and MLP-Mixer")
    _CHECKED_NETWORKS.add(key)


# --- where a campaign's runs execute --------------------------------------------------------------------

@dataclass
class ExecutorConfig:
    """A campaign's ``executor:`` block: the local executor (the default) or Slurm, with its resources."""
    kind: str = "local"  # one of EXECUTOR_KINDS
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    time_min: int | None = None  # None: from epoch_times (at least 60), else 24 h
    # a `bench --campaign` record. Slurm: time limit = its epoch time × epochs × margin; local, runs sharing a GPU:
    # the memory each must find free (its networks' peaks on the GPU the bench ran on)
    epoch_times: str | None = None
    time_margin: float = 1.5
    nodes: int = 1
    gpus_per_node: int | None = None  # None: the campaign's num_processes when a number, else 0 (CPU jobs)
    cpus_per_task: int | None = None  # None: 8 per GPU, 2 without
    mem_gb: float | None = None
    port: int = 29500  # rendezvous port on node 0 of a multi-node run
    extra: dict = field(default_factory=dict)  # any other sbatch option, e.g. {exclusive: true}

    @classmethod
    def from_dict(cls, d: dict | None, where: str = "executor") -> "ExecutorConfig":
        if d is not None and not isinstance(d, dict):  # `executor: slurm` means {kind: slurm}, but says less
            raise ConfigError(f"{where} must be a mapping, e.g. {{kind: slurm, partition: gpu}} (keys: "
                              f"{', '.join(EXECUTOR_KEYS)}), got {d!r}")
        d = dict(d or {})
        refuse_unknown_keys(d, EXECUTOR_KEYS, where)
        executor = cls(**d)
        executor.validate(where)
        return executor

    def with_changes(self, changes: dict, where: str = "command line") -> "ExecutorConfig":
        """This block with ``changes`` (e.g. the command line's flags) on top, checked again."""
        return ExecutorConfig.from_dict({**dataclasses.asdict(self), **changes}, where)

    def validate(self, where: str) -> None:
        if self.kind not in EXECUTOR_KINDS:
            raise ConfigError(f"{where}: kind must be one of {', '.join(EXECUTOR_KINDS)}, got {self.kind!r}")
        for key in ("time_min", "nodes", "gpus_per_node", "cpus_per_task", "port"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0
                                      or (value == 0 and key != "gpus_per_node")):
                raise ConfigError(f"{where}: {key} must be a positive integer, got {value!r}")
        for key in ("partition", "account", "qos", "constraint", "epoch_times"):  # a number made Path(5) fail
            if (value := getattr(self, key)) is not None and not isinstance(value, str):
                raise ConfigError(f"{where}: {key} must be text, got {value!r}")
        if self.mem_gb is not None and (type(self.mem_gb) not in (int, float) or self.mem_gb <= 0):  # no bool
            raise ConfigError(f"{where}: mem_gb must be a positive number, got {self.mem_gb!r}")
        if self.extra is not None and not isinstance(self.extra, dict):  # passed to sbatch option by option
            raise ConfigError(f"{where}: extra must be a mapping of sbatch options, e.g. {{exclusive: true}}, "
                              f"got {self.extra!r}")
        if type(self.time_margin) not in (int, float) or self.time_margin < 1:
            raise ConfigError(f"{where}: time_margin must be a number >= 1, got {self.time_margin!r}")
        if self.epoch_times and not Path(self.epoch_times).is_file():
            raise ConfigError(f"{where}: epoch_times {self.epoch_times} does not exist; write it with "
                              f"`python -m cifar100lab bench --campaign CAMPAIGN.yaml --out FILE`")

    def gpus(self, num_processes) -> int:
        if self.gpus_per_node is not None:
            return self.gpus_per_node
        return num_processes if isinstance(num_processes, int) and not isinstance(num_processes, bool) else 0


EXECUTOR_KEYS = tuple(f.name for f in fields(ExecutorConfig))
