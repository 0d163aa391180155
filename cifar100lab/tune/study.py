"""A study file, ``params/tune/<name>.yaml``, read and checked whole before any work: the model, dataset and base
settings, the search space (every name a recipe field or a searchable run setting, every end of every range a
valid run), the number of trials, the sampler, the pruner, the storage and the seeds of the best configuration's
re-runs.

Keys: ``study`` (name; default the file's stem), ``description``, ``model``, ``options``, ``dataset``,
``defaults`` (TrainConfig fields; ``val_fraction`` > 0 is required), ``search`` (name: ``{low, high, log,
step}`` or ``{choices: [...]}``), ``n_trials``, ``seeds`` (the re-runs'; the trials train with
``defaults.seed``), ``sampler`` (tpe, random), ``sampler_seed``, ``pruner`` (median, hyperband, none, or a
mapping with ``kind`` and Optuna's options), ``storage`` (an SQLAlchemy URL; default an SQLite file under
``<runs-root>/<study>/``), ``heartbeat`` (seconds), ``jobs``, ``executor``.
"""
from __future__ import annotations

import os
import typing
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..attempt import check_pretrained_weights
from ..campaign import PER_RUN
from ..config import ExecutorConfig, TrainConfig, check_name, resolve
from ..config_files import ConfigError, plain_text, read_yaml_mapping, seed_list
from ..distill import check_teacher
from ..kernels import resolve_jobs
from ..optuna_parts import PRUNERS, SAMPLERS, build_pruner
from ..recipes import Recipe

STUDY_KEYS = ("study", "description", "model", "options", "dataset", "defaults", "search", "n_trials", "seeds",
              "sampler", "sampler_seed", "pruner", "storage", "heartbeat", "jobs", "executor")
SEARCHABLE_SETTINGS = ("batch_size", "epochs", "augment")  # run settings a search may vary beside recipe fields
RANGE_KEYS, CHOICE_KEYS = ("low", "high", "log", "step"), ("choices",)
STORAGE_FILE = "optuna.db"


@dataclass
class Param:
    """One searched name: a float or int range (``log``: log-uniform; ``step``: a grid) or a list of choices."""
    name: str
    kind: str  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list = field(default_factory=list)

    def suggest(self, trial):
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, self.choices)
        if self.kind == "int":
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def distribution(self):
        """The Optuna distribution :meth:`suggest` samples from, as a stored trial of the study records it."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
        if self.kind == "categorical":
            return CategoricalDistribution(self.choices)
        if self.kind == "int":
            return IntDistribution(self.low, self.high, log=self.log, step=self.step or 1)
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def ends(self) -> list:
        """The values that bound the space: each must make a valid run."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]


@dataclass
class StudySpec:
    name: str
    description: str
    model: str
    options: dict
    dataset: str
    defaults: dict
    search: list[Param]
    n_trials: int
    seeds: list[int]
    sampler: str = "tpe"
    sampler_seed: int | None = None
    pruner: dict = field(default_factory=lambda: {"kind": "median"})
    storage: str | None = None
    heartbeat: int = 60
    jobs: int | str = 1
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    path: str = ""

    def storage_url(self, runs_root: str | os.PathLike) -> str:
        """The study's storage: its own URL, else an SQLite file in its runs folder (absolute, so a trial's
        kernel or a Slurm worker finds it from any working folder)."""
        return self.storage or f"sqlite:///{(Path(runs_root) / self.name / STORAGE_FILE).resolve()}"

    def first(self) -> dict:
        """Each searched name at its first value (the low end, or the first choice)."""
        return {p.name: p.ends()[0] for p in self.search}

    def settings(self, values: dict) -> dict:
        """The base settings with the searched ``values``: run settings at the top, recipe fields in
        ``overrides``."""
        config = {**self.defaults, **{k: v for k, v in values.items() if k in SEARCHABLE_SETTINGS}}
        overrides = {**self.defaults.get("overrides", {}),
                     **{k: v for k, v in values.items() if k not in SEARCHABLE_SETTINGS}}
        return {**config, "overrides": overrides}

    def config(self, values: dict, run_dir: str | os.PathLike, run_id: str, trial: dict | None = None) -> dict:
        """A trial's (or a check's) TrainConfig fields."""
        return {**self.settings(values), "model": self.model, "options": self.options, "dataset": self.dataset,
                "run_dir": str(run_dir), "run_id": run_id, "campaign": self.name, "trial": trial}


def _param(path: Path, name: str, spec) -> Param:
    where = f"{path}: search: {name}"
    recipe_types = typing.get_type_hints(Recipe)
    if name not in recipe_types and name not in SEARCHABLE_SETTINGS:
        recipe_names = ", ".join(f.name for f in fields(Recipe))
        raise ConfigError(f"{where}: not a searchable name; search recipe fields ({recipe_names}) or the run "
                          f"settings {', '.join(SEARCHABLE_SETTINGS)}")
    if not isinstance(spec, dict) or not (set(spec) <= set(RANGE_KEYS) or set(spec) <= set(CHOICE_KEYS)) or not spec:
        raise ConfigError(f"{where}: give a range {{low, high, log, step}} or {{choices: [...]}}, got {spec!r}")
    if "choices" in spec:
        if not isinstance(spec["choices"], list) or not spec["choices"]:
            raise ConfigError(f"{where}: choices must be a non-empty list, got {spec['choices']!r}")
        return Param(name, "categorical", choices=spec["choices"])
    kind = "int" if (recipe_types.get(name) or typing.get_type_hints(TrainConfig)[name]) is int else "float"
    low, high, log = spec.get("low"), spec.get("high"), spec.get("log", False)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or low >= high or not isinstance(log, bool) or (log and low <= 0):
        raise ConfigError(f"{where}: needs numbers low < high (low > 0 with log: true), got {spec!r}")
    if kind == "int" and not all(isinstance(v, int) for v in (low, high)):
        raise ConfigError(f"{where}: {name} is a whole number; give integer low and high, got {spec!r}")
    return _on_grid(where, Param(name, kind, low, high, log, _step(where, kind, spec)))


def _step(where: str, kind: str, spec: dict):
    """A range's grid step: a positive number (whole for a whole-number name) on a linear range; Optuna would
    refuse it only when the first trial is sampled, and the study would count that trial as failed."""
    step = spec.get("step")
    if step is None:
        return None
    whole = kind == "int"
    if isinstance(step, bool) or not isinstance(step, int if whole else (int, float)) or step <= 0:
        raise ConfigError(f"{where}: step must be a positive {'whole ' if whole else ''}number, got {step!r}")
    if spec.get("log"):
        raise ConfigError(f"{where}: step and log: true cannot be combined (a grid is linear); give one of them")
    return step


def _on_grid(where: str, param: Param) -> Param:
    """``param`` whose high end is on its step's grid. Optuna moves an end off the grid down to it, with only a
    warning: ``{low: 0.01, high: 0.5, step: 1.0}`` searched 0.01 alone, every trial the same configuration."""
    if param.step is None:
        return param
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        top = param.distribution().high
    if top != param.high:
        raise ConfigError(f"{where}: step {param.step!r} does not divide {param.low}..{param.high}: Optuna would "
                          f"search {param.low}..{top} instead; make high - low a whole number of steps")
    return param


def _search(path: Path, d: dict, defaults: dict) -> list[Param]:
    search = d.get("search")
    if not isinstance(search, dict) or not search:
        raise ConfigError(f"{path}: search must map each searched name to its range or choices")
    fixed = sorted(set(search) & (set(defaults) | set(defaults.get("overrides") or {})))
    if fixed:
        raise ConfigError(f"{path}: {', '.join(fixed)} is both searched and fixed in defaults; keep it in one place")
    return [_param(path, str(name), spec) for name, spec in search.items()]


def _defaults(path: Path, d: dict) -> dict:
    defaults = d.get("defaults") or {}
    if not isinstance(defaults, dict) or not isinstance(defaults.get("overrides", {}), dict):
        raise ConfigError(f"{path}: defaults must be a mapping of TrainConfig fields, got {defaults!r}")
    fixed_here = [k for k in defaults if k in PER_RUN or k == "trial"]
    if fixed_here:
        raise ConfigError(f"{path}: defaults: {', '.join(fixed_here)} cannot be set there (the study sets it: use "
                          f"its model, options, dataset and seeds keys)")
    val = defaults.get("val_fraction", 0)
    if not isinstance(val, (int, float)) or isinstance(val, bool) or val <= 0:
        raise ConfigError(f"{path}: a study tunes on a validation split, never the test set: set "
                          f"defaults.val_fraction (e.g. 0.1), got {val!r}")
    return defaults


def _positive(path: Path, d: dict, key: str, default):
    value = d.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{path}: {key} must be a positive integer, got {value!r}")
    return value


def _options(path: Path, value) -> dict:
    if not isinstance(value, (dict, type(None))):
        raise ConfigError(f"{path}: options must map the model's option names to values (e.g. options: "
                          f"{{k_size: 5}}), got {value!r}")
    return dict(value or {})


def _sampler_seed(path: Path, value) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32):
        raise ConfigError(f"{path}: sampler_seed must be a whole number from 0 to 2**32 - 1 (numpy's seeds), "
                          f"or left out for a fresh seed each run, got {value!r}")
    return value


def _pruner(path: Path, value, epochs: int) -> dict:
    spec = {"kind": value} if isinstance(value, str) else dict(value) if isinstance(value, dict) else {}
    if spec.get("kind") not in PRUNERS:
        raise ConfigError(f"{path}: pruner must be one of {', '.join(PRUNERS)} (or a mapping with kind and "
                          f"Optuna's options), got {value!r}")
    if spec["kind"] == "hyperband":
        spec.setdefault("max_resource", epochs)  # one resource unit is one epoch
    try:
        build_pruner(spec)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{path}: pruner {spec['kind']}: {e}") from None
    return spec


def _storage(where: str, url) -> str | None:
    if url is None:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        make_url(url)
    except (ArgumentError, TypeError, ValueError):
        raise ConfigError(f"{where} {url!r} is not an SQLAlchemy URL (e.g. sqlite:///study.db, "
                          f"mysql+pymysql://user:password@host/db, postgresql://host/db)") from None
    return url


def load_study_file(path: str | os.PathLike, storage: str | None = None, dataset: str | None = None) -> StudySpec:
    """The study at ``path`` (``storage`` and ``dataset``: the command line's over the file's), every run it can
    make checked."""
    path = Path(path)
    d = read_yaml_mapping(path, STUDY_KEYS, "study")
    if not d.get("model"):
        raise ConfigError(f"{path}: model is required (a registered model name)")
    defaults = _defaults(path, d)
    if d.get("sampler", "tpe") not in SAMPLERS:
        raise ConfigError(f"{path}: sampler must be one of {', '.join(SAMPLERS)}, got {d['sampler']!r}")
    spec = StudySpec(
        check_name(d.get("study") or path.stem, f"{path}: study name"),
        plain_text(d.get("description"), f"{path}: description"),
        d["model"], _options(path, d.get("options")), dataset or d.get("dataset") or "cifar100", defaults,
        _search(path, d, defaults), _positive(path, d, "n_trials", 20), seed_list(d.get("seeds", 3), f"{path}: seeds"),
        d.get("sampler", "tpe"), _sampler_seed(path, d.get("sampler_seed")), {},
        _storage("--storage" if storage else f"{path}: storage", storage or d.get("storage")),
        _positive(path, d, "heartbeat", 60), d.get("jobs", 1),
        ExecutorConfig.from_dict(d.get("executor"), f"{path}: executor"), str(path))
    resolve_jobs(spec.jobs, f"{path}: jobs")
    _check_space(spec)
    first = resolve(spec.config(spec.first(), "check", "check"))
    try:  # weights or a teacher that cannot be used: refused here, not by each trial's notebook in turn
        check_pretrained_weights(first)
        check_teacher(first)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    # Hyperband's max_resource: the longest trial's epochs (a searched epochs' low end left longer trials past it)
    epochs = max([first.config.epochs, *(max(p.ends()) for p in spec.search if p.name == "epochs")])
    spec.pruner = _pruner(path, d.get("pruner", "median"), epochs)
    return spec


def _check_space(spec: StudySpec) -> None:
    """Every end of every searched range, with the other names at their first value, resolves to a valid run. An
    error the fixed settings make without any searched value (a mistyped dataset) is theirs, not the range's."""
    first = spec.first()
    for p in spec.search:
        for value in p.ends():
            try:
                resolve(spec.config({**first, p.name: value}, "check", "check"))
            except ConfigError as e:
                if str(e) == _unsearched_error(spec):
                    raise ConfigError(f"{spec.path}: {e}") from None
                raise ConfigError(f"{spec.path}: search: {p.name} = {value!r} makes an invalid run: {e}") from None


def _unsearched_error(spec: StudySpec) -> str | None:
    """The error of the study's settings with every searched name at the recipe's own value, if any."""
    try:
        resolve(spec.config({}, "check", "check"))
    except ConfigError as e:
        return str(e)
    return None
