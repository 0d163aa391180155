"""Knowledge distillation (Hinton, Vinyals and Dean, *Distilling the Knowledge in a Neural Network*, 2015).

A run distils when its recipe has ``distill_from``: the student's loss becomes

    (1 - α) · hard + α · T² · KL(softmax(teacher / T) ‖ softmax(student / T))

with α = ``distill_alpha``, T = ``distill_temperature`` and ``hard`` the recipe's own loss (cross-entropy with
its label smoothing; under Mixup/CutMix, the soft-target cross-entropy against the mixed, smoothed targets, so
the hard term is exactly what the run would minimise without a teacher). The T² keeps the soft term's gradients
on the hard term's scale as T changes (Hinton et al. §2).

``distill_from`` names the teacher: a run folder (its ``checkpoint.pt``), an export folder
(``model.safetensors`` + ``config.json``), or ``MODEL@WEIGHTS``: a registered timm-backed model with a local
weights file (or ``@hub``: timm's checkpoint from the local Hugging Face cache). :func:`check_teacher` reads it
before any work and refuses, in one line, a teacher that is not there, whose classes are not the dataset's, or
(a run or an export) that was trained on another dataset.

The teacher sees exactly the image the student sees (after augmentation and Mixup/CutMix), re-normalised with
its own statistics and resized to its own input size on the device (a 224-px fine-tune teaches a 32-px
student). It runs in eval mode, under the student's autocast and ``torch.no_grad``; it is not in the optimizer,
not in the checkpoint's trainable state (the checkpoint names it, with its weights' sha256) and never changes.

Teacher logits are computed on the fly, not cached: a training image is re-augmented every epoch (random crop
and flip drawn from the seed and the epoch, RandAugment, Mixup/CutMix drawn per step), so the teacher's answer
for it differs each epoch and a cache would be filled and read once. Only a run with ``augment: false`` and no
mixing or policy sees the same images each epoch; it is rare enough not to warrant a second code path.

In a study, ``distill_from: best:MODEL|MODEL`` means the campaign's best complete run of those models
(:func:`best_run`); a variant whose teacher has no such run is skipped, and the study says which
(:class:`TeacherMissing`), so a campaign that has not yet trained its teachers still runs the rest. The study
reports the students' test top-1, so choosing their teacher on the test set would be selection on it: the
teacher is the run whose final epoch (the weights that teach) scores the highest validation top-1, among the
runs that hold out a validation split (``val_fraction``). Only where none does is it the highest final-epoch
test top-1, not the peak of the test curve, and the line naming the teacher says the choice saw the test set.
"""
from __future__ import annotations

import functools
import hashlib
import os
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import records
from .config import ConfigError, RunPlan
from .data.registry import DATASETS, PREFIXES
from .export import ExportError, build_trained, read_trained, unfinished
from .models import PretrainedWeightsUnavailable, create_model, model_entry, resolve_input_size, weights_file
from .models.timm_backed import classifier_keys, file_classes, load_without_memory, tensors_unread, weights_statistics

MODEL_WEIGHTS = "@"  # MODEL@WEIGHTS: a registered timm-backed model with a local weights file (or @hub)
BEST = "best:"  # best:MODEL|MODEL — a study's teacher: the campaign's best complete run of those models
FORMS = ("a run folder, an export folder (model.safetensors + config.json), or MODEL@WEIGHTS (a registered timm "
         "model with a local weights file, or @hub for timm's cached checkpoint)")


class TeacherMissing(ConfigError):
    """The teacher named is not there (no such run, folder or weights file); a study skips the variant."""


@dataclass(frozen=True)
class TeacherSpec:
    """What a run knows of its teacher before building it: enough to check it and to record which it was."""
    source: str  # distill_from as written
    kind: str  # run | export | model (stand-in: an untrained one the bench times)
    model: str
    options: dict
    num_classes: int
    img_size: int | None  # what builds the network (None: its own default)
    input_size: int  # what it is fed
    mean: tuple
    std: tuple
    weights: str  # the file its weights come from
    sha256: str
    trained_on: str | None = None  # the dataset a run or export was trained on (None: MODEL@WEIGHTS, an old export)

    def describe(self) -> dict:
        """The record's and the checkpoint's ``teacher``: which network, from which file, which bytes."""
        return {k: v for k, v in asdict(self).items() if k not in ("mean", "std")} | {
            "mean": list(self.mean), "std": list(self.std)}


# ------------------------------------------------------------------ reading and checking the teacher

def file_sha256(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def teacher_spec(source: str) -> TeacherSpec:
    """The teacher ``source`` names, read (not built); TeacherMissing when it is not there, ConfigError when it
    is not a teacher. Read once per file version in a process (a campaign asks for each student's seeds)."""
    if MODEL_WEIGHTS in source and not Path(source).exists():
        return _model_spec(source)
    path = Path(source).expanduser()
    if not path.exists():
        raise TeacherMissing(f"distill_from {source}: no such run or export folder; give {FORMS}")
    export = path / "model.safetensors"
    target = (export if export.is_file() else path / records.CHECKPOINT) if path.is_dir() else path
    if not target.is_file():
        raise TeacherMissing(f"distill_from {source}: the folder holds neither {records.CHECKPOINT} (a run not "
                             f"started or not checkpointed yet) nor an export; give {FORMS}")
    # the version: a teacher trained further, finished or exported again is read again
    version = [(s.st_mtime_ns, s.st_size) for f in (target, target.parent / records.RECORD) if f.exists()
               for s in [f.stat()]]
    return _trained_spec(str(path), tuple(version))


@functools.lru_cache(maxsize=8)
def _trained_spec(source: str, version) -> TeacherSpec:
    try:
        facts, _ = read_trained(source)
    except (ExportError, ConfigError) as e:
        raise ConfigError(f"distill_from {source} is not a usable teacher: {e}") from None
    kind = "export" if Path(facts["weights"]).name == "model.safetensors" else "run"
    if kind == "run" and (left := unfinished(facts)):  # an export of such weights is a choice made knowingly
        raise ConfigError(f"distill_from {source}: its checkpoint holds {left}, not a finished "
                          f"teacher; wait for it to complete, or export it (`export {source}`) and give the export "
                          f"folder to teach with these weights on purpose")
    trained_on = (facts.get("trained_on") or {}).get("dataset")
    return TeacherSpec(source, kind, facts["model"], facts["options"], facts["num_classes"], facts["img_size"],
                       facts["input_size"], tuple(facts["mean"]), tuple(facts["std"]), facts["weights"],
                       file_sha256(facts["weights"]), trained_on if isinstance(trained_on, str) else None)


def _model_spec(source: str) -> TeacherSpec:
    """``MODEL@WEIGHTS``: the registered model with the weights file's classifier, fed as its pretraining was."""
    name, _, weights = source.partition(MODEL_WEIGHTS)
    try:
        entry = model_entry(name)
    except KeyError as e:
        raise ConfigError(f"distill_from {source}: {e}") from None
    if not entry.pretrainable:
        raise ConfigError(f"distill_from {source}: {name} is not a timm-backed model with pretrained weights; "
                          f"give its run folder or export instead")
    try:
        path = weights_file(entry.pretrained_source, weights)
    except PretrainedWeightsUnavailable as e:
        raise TeacherMissing(f"distill_from {source}: {e}") from None
    except ValueError as e:  # a folder of several weights files
        raise ConfigError(f"distill_from {source}: {e}") from None
    stat = path.stat()  # read once per file version in a process: check_teacher is asked before and during a run
    return _weights_spec(source, path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _weights_spec(source: str, path: Path, size: int, mtime_ns: int) -> TeacherSpec:
    """The teacher of ``MODEL@WEIGHTS`` whose weights file is ``path``: read with the trainer's own reading (a file
    that is no weights file, a truncated download, is one line) and, a local file, loaded into its network without
    memory, so another network's weights are refused here in one line, as a fine-tune's are, not once the run
    has read its data."""
    name, _, weights = source.partition(MODEL_WEIGHTS)
    timm_name = model_entry(name).pretrained_source
    try:
        with tensors_unread():  # the head's shape: the file is not read
            classes = file_classes(timm_name, path)
        if weights != "hub":  # the hub's are timm's own for the network
            load_without_memory(lambda: create_model(name, num_classes=classes or 1, pretrained=str(path)))
    except ValueError as e:
        raise ConfigError(f"distill_from {source}: {e}") from None
    if not classes:
        head = classifier_keys(timm_name)[0]
        raise ConfigError(f"distill_from {source}: {path} fits {name} but has no classifier ({head}), so it "
                          f"cannot teach classes; give weights with their head (a fine-tune's run or export)")
    mean, std, _ = weights_statistics(timm_name, weights)  # its folder's own, else its tag's
    return TeacherSpec(source, "model", name, {}, classes, None, resolve_input_size(name, weights), tuple(mean),
                       tuple(std), str(path), file_sha256(path))


def check_teacher(plan: RunPlan, num_classes: int | None = None) -> TeacherSpec | None:
    """The plan's teacher, checked before any work; None when the run does not distil. ``num_classes``: the
    loaded dataset's; without it the registered count is checked (a synthetic set's is known once loaded)."""
    source = plan.recipe.distill_from
    if not source:
        return None
    if source.startswith(BEST):
        raise ConfigError(f"distill_from {source}: best:… names a campaign's run, so it works in a campaign's "
                          f"study only; elsewhere give {FORMS}")
    spec = teacher_spec(source)
    classes = num_classes or (None if plan.dataset.kind == "synthetic" else plan.dataset.num_classes)
    if classes is not None and spec.num_classes != classes:
        raise ConfigError(f"distill_from {source}: the teacher answers {spec.num_classes} classes but "
                          f"{plan.config.dataset} has {classes}; a teacher must be trained on the student's classes")
    if spec.trained_on and not same_dataset(spec.trained_on, plan.config.dataset):  # as many classes, other ones
        raise ConfigError(f"distill_from {source}: the teacher was trained on {spec.trained_on} but the student "
                          f"trains on {plan.config.dataset}; a teacher must be trained on the student's dataset")
    return spec


def same_dataset(a: str, b: str) -> bool:
    """Whether two run configs' ``dataset`` names mean the same data: the same registered name, or folders of
    images that are one folder however it was spelt (``imagefolder:`` or not, a trailing slash)."""
    if a == b:
        return True
    if a in DATASETS or b in DATASETS:
        return False
    folder = lambda name: Path(name.partition(":")[2] if name.partition(":")[0] in PREFIXES else name)  # noqa: E731
    return folder(a).expanduser().resolve() == folder(b).expanduser().resolve()


# ------------------------------------------------------------------ the teacher at work

def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, hard: torch.Tensor, alpha: float,
                      temperature: float) -> torch.Tensor:
    """(1 - α)·hard + α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)), the KL averaged over the batch."""
    soft = F.kl_div(F.log_softmax(student / temperature, dim=1), F.log_softmax(teacher / temperature, dim=1),
                    reduction="batchmean", log_target=True)
    return (1 - alpha) * hard + alpha * temperature ** 2 * soft


def teacher_view(student_mean, student_std, teacher_mean, teacher_std, size: int, device,
                 channels_last: bool = True):
    """The student's normalised batch as the teacher is fed: the same pixels re-normalised with the teacher's
    statistics, resized to its input size. Working from the student's batch (not the raw images) keeps every
    augmentation, Mixup and CutMix the student saw."""
    s_mean, s_std, t_mean, t_std = (torch.tensor(v, device=device, dtype=torch.float32).view(1, 3, 1, 1)
                                    for v in (student_mean, student_std, teacher_mean, teacher_std))
    same_stats = tuple(student_mean) == tuple(teacher_mean) and tuple(student_std) == tuple(teacher_std)
    scale, shift = s_std / t_std, (s_mean - t_mean) / t_std

    def view(x: torch.Tensor) -> torch.Tensor:
        if not same_stats:
            x = x * scale + shift
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
        return x.contiguous(memory_format=torch.channels_last) if channels_last else x

    return view


class Teacher:
    """The teacher network beside a learner: fixed (eval mode, no gradients, no optimizer) and fed the
    student's batch through :func:`teacher_view`. ``loss`` turns the student's hard loss into the distilled one."""

    def __init__(self, spec: TeacherSpec, module: nn.Module, view, alpha: float, temperature: float):
        self.spec, self.module, self.view = spec, module.eval().requires_grad_(False), view
        self.alpha, self.temperature = alpha, temperature

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(self.view(x)).float()

    def loss(self, x: torch.Tensor, student_logits: torch.Tensor, hard: torch.Tensor) -> torch.Tensor:
        return distillation_loss(student_logits, self.logits(x), hard, self.alpha, self.temperature)

    def state(self) -> dict:
        """What a checkpoint keeps of the teacher: which it was, never its weights."""
        return self.spec.describe()


def build_teacher(spec: TeacherSpec, plan: RunPlan, device, num_classes: int) -> Teacher:
    """The teacher of ``spec`` on ``device``, its classes checked against the loaded dataset's and its weights
    against the bytes :func:`check_teacher` hashed (a teacher replaced in between is refused)."""
    spec_now = check_teacher(plan, num_classes)
    if spec_now.sha256 != spec.sha256:
        raise ConfigError(f"distill_from {spec.source} changed while the run started (its weights' sha256 "
                          f"differs); start the run again")
    if spec.kind == "model":
        module = create_model(spec.model, num_classes=spec.num_classes, pretrained=spec.weights)
    else:
        module = build_trained(*read_trained(spec.source))
    return teacher_for(spec, module, plan, device)


def teacher_for(spec: TeacherSpec, module: nn.Module, plan: RunPlan, device) -> Teacher:
    """``module`` on ``device`` as the teacher of the student ``plan`` plans: in the student's memory format, fed
    the student's batch re-normalised and resized as ``spec`` says, with the student's α and temperature."""
    channels_last = plan.config.channels_last
    module = module.to(device, memory_format=torch.channels_last) if channels_last else module.to(device)
    view = teacher_view(plan.mean, plan.std, spec.mean, spec.std, spec.input_size, device, channels_last)
    return Teacher(spec, module, view, plan.recipe.distill_alpha, plan.recipe.distill_temperature)


def check_resume(state: dict | None, teacher: Teacher | None) -> None:
    """A resumed run keeps the teacher it started with: a checkpoint written under other teacher weights is
    refused (the loss it optimised would change mid-run)."""
    before = (state or {}).get("teacher")
    now = teacher.state() if teacher is not None else None
    if state and (before or {}).get("sha256") != (now or {}).get("sha256"):
        raise ConfigError(f"the checkpoint was written while distilling from {(before or {}).get('weights')} "
                          f"but this run's teacher is {(now or {}).get('weights')}; resume with the same teacher "
                          f"or use a new run_dir")


def teacher_changed(previous: dict, plan: RunPlan) -> tuple[str, str] | None:
    """(the sha256 a complete run's record ``previous`` names for its teacher's weights, the one ``plan``'s teacher
    has now) where they differ: a teacher retrained in its folder since, whose student's result is not this
    teacher's. None when they agree, the run does not distil, or the teacher cannot be read (:func:`check_teacher`
    says so)."""
    before, source = (previous.get("distillation") or {}).get("sha256"), plan.recipe.distill_from
    if not before or not source or source.startswith(BEST):
        return None
    try:
        now = teacher_spec(source).sha256
    except ConfigError:
        return None
    return None if now == before else (before, now)


# ------------------------------------------------------------------ a study's teachers

@dataclass(frozen=True)
class Candidate:
    """A complete run ``best:MODEL`` may pick, scored as its final weights (the checkpoint's, which teach)."""
    run: Path
    top1: float  # the final epoch's test top-1
    val_top1: float | None  # the final epoch's validation top-1; None: no validation split held out


def candidates(campaign_dir: str | os.PathLike, models: list[str], dataset: str,
               current: Callable[[str], bool] | None = None) -> list[Candidate]:
    """The complete runs under ``campaign_dir`` of one of ``models`` on ``dataset``, themselves not distilled. A
    model is meant as registered: a fine-tune's run started from pretrained weights, a from-scratch model's
    without, so the from-scratch row a campaign adds for a fine-tune whose weights cannot be had
    (``<name>_scratch``) never stands in for the fine-tuned teacher. ``current`` (run id -> whether it is one of
    the campaign's runs as it asks for them now) leaves out a run the campaign no longer has and a stale one,
    which its pages leave out."""
    found = []
    for path in records.find_records(campaign_dir):
        try:
            record = records.load(path.parent)
        except records.RecordError:
            continue  # a damaged record teaches nothing
        model = record.get("model")
        ok = (record.get("status") == "complete" and model in models and (record.get("config") or {}).get("dataset") == dataset
              and may_teach(model, record.get("pretrained"), (record.get("recipe") or {}).get("distill_from")))
        ok = ok and (current is None or current(path.parent.name))
        top1 = (record.get("final") or {}).get("top1") if ok else None
        if top1 is not None:
            found.append(Candidate(path.parent, top1, _final_val_top1(path.parent, record)))
    return found


def _final_val_top1(run: Path, record: dict) -> float | None:
    """The validation top-1 of the run's last epoch (``metrics.jsonl``; the record keeps the best epoch's, not
    the last's); None when the run held out no validation split or its curve does not reach its last epoch."""
    if (record.get("best") or {}).get("selected_on") != "validation":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a torn last line: the last epoch is missing, which the check sees
            rows = records.read_metrics(run)
    except records.RecordError:
        return None
    last = rows[-1] if rows else {}
    return last.get("val_top1") if last.get("epoch") == record.get("epochs_done") else None


def best_run(campaign_dir: str | os.PathLike, models: list[str], dataset: str,
             current: Callable[[str], bool] | None = None) -> tuple[Path, str] | None:
    """The run ``best:`` picks among :func:`candidates`, and on what (for the line that names it); None when
    there is none. The student's test top-1 is the study's result, so the teacher is not chosen on the test set
    when it can be helped: by the final epoch's validation top-1 among the runs that hold out a validation split
    (``val_fraction``), the others left out; only when none does, by the final epoch's test top-1, never the peak
    of the test curve, and the line says the choice saw the test set. Ties go to the first run by folder name."""
    found = candidates(campaign_dir, models, dataset, current)
    held_out = [c for c in found if c.val_top1 is not None]
    if held_out:
        best = max(held_out, key=lambda c: c.val_top1)
        left = len(found) - len(held_out)
        return best.run, (f"the highest final-epoch validation top-1 ({best.val_top1:.2f}) of {len(held_out)} "
                          f"run(s)" + (f"; {left} run(s) without a validation split left out, as only the test "
                                       f"set could rank them" if left else ""))
    if not found:
        return None
    best = max(found, key=lambda c: c.top1)
    return best.run, (f"the highest final-epoch test top-1 ({best.top1:.2f}) of {len(found)} run(s): none holds "
                      f"out a validation split (val_fraction), so the choice saw the test set the student is "
                      f"measured on")


def may_teach(model: str, pretrained, distill_from) -> bool:
    """Whether a run of ``model`` (started from ``pretrained`` weights or not, distilled from ``distill_from`` or
    not) is one ``best:MODEL`` may pick: not itself distilled, and the model as registered."""
    return not distill_from and bool(pretrained) == is_fine_tune(model)


def is_fine_tune(model: str) -> bool:
    """Whether ``model``, as registered, starts from pretrained weights (False for a name not registered)."""
    try:
        return bool(model_entry(model).default_pretrained)
    except KeyError:
        return False


def best_models(source: str) -> list[str]:
    """The registered models ``best:A|B`` names; ConfigError for a name not registered."""
    models = [m for m in source[len(BEST):].split("|") if m]
    for m in models:
        try:
            model_entry(m)
        except KeyError as e:
            raise ConfigError(f"distill_from {source}: {e.args[0]}") from None
    if not models:
        raise ConfigError(f"distill_from {source}: name the teacher's model(s) after best:, e.g. best:resnet_56")
    return models


def locate_teacher(source: str, campaign_dir: str | os.PathLike, dataset: str,
                   current: Callable[[str], bool] | None = None) -> str:
    """A study variant's ``distill_from`` as a concrete source: ``best:A|B`` becomes the best run's folder
    (TeacherMissing when there is none yet); anything else is checked to be there."""
    if source.startswith(BEST):
        models = best_models(source)
        chosen = best_run(campaign_dir, models, dataset, current)
        if chosen is None:
            fine_tunes = [m for m in models if is_fine_tune(m)]
            raise TeacherMissing(f"no complete run of {' or '.join(models)} in {campaign_dir} yet"
                                 + (f"; {' or '.join(fine_tunes)} means a run fine-tuned from pretrained weights, "
                                    f"not a from-scratch one" if fine_tunes else ""))
        _say_once(f"distill_from {source}: the teacher is {chosen[0]}, {chosen[1]}")
        return str(chosen[0])
    teacher_spec(source)
    return source


_SAID: set[str] = set()


def _say_once(line: str) -> None:
    """``line`` on stderr once per process: every variant with the same teacher finds the same run."""
    if line not in _SAID:
        _SAID.add(line)
        print(line, file=sys.stderr)


def id_fields(changed: dict) -> dict:
    """A variant's changed recipe fields as its run id spells them: the teacher by its folder's name (a run id,
    itself naming the teacher's model and seed) or ``MODEL@weights-file-stem``, not by its whole path."""
    source = changed.get("distill_from")
    if not source:
        return changed
    name, at, weights = source.partition(MODEL_WEIGHTS)
    short = f"{name}@{Path(weights).stem}" if at and not Path(source).exists() else Path(source).name
    return {**changed, "distill_from": short}
