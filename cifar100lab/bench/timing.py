"""What every speed measurement shares: the trainer's own build-and-step timed on synthetic batches, rounds that
alternate between the paths compared, the device's measured matmul peak, and the record's header."""
from __future__ import annotations

import statistics
import time

import torch

from .. import data as data_mod
from .. import distill, records
from ..accelerator import build_accelerator, choose_precision, cpu_instruction_set, set_kernel_policy
from ..config import eval_batch
from ..devices import visible_gpus
from ..train import build_learner, build_model

AUTOCAST_DTYPE = {"bf16": torch.bfloat16, "fp16": torch.float16}  # choose_precision's values; others: fp32


def default_device(name: str | None = None) -> torch.device:
    return torch.device(name or ("cuda" if visible_gpus() else "cpu"))


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device, dtype, n: int = 2048, seconds: float = 1.0) -> float:
    """Measured dense matmul FLOP/s for ``dtype`` on ``device`` (the practical ceiling for conv nets), on
    matrices of up to ``n``: from 256 up, doubled while one product takes under 1/20 of ``seconds`` (a CPU
    without native bf16 takes tens of seconds for one 2048² product)."""
    size = 256
    while True:
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        a @ b  # warm-up (kernel choice, first-touch)
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        if size >= n or time.perf_counter() - t0 >= seconds / 20:
            break
        size *= 2
    n = size
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def measured_peaks(device, precision: str) -> dict[str, float]:
    mp = choose_precision(precision, device.type == "cuda")
    peaks = {"fp32": matmul_peak(device, torch.float32)}
    if mp in AUTOCAST_DTYPE:  # "no": fp32 is the path's own precision
        peaks[mp] = matmul_peak(device, AUTOCAST_DTYPE[mp])
    return peaks


def header(device, peaks, **extra) -> dict:
    """The fields every measurement record starts with: where, when and with what it was measured."""
    cpu = {"cpu_isa": cpu_instruction_set()} if device.type == "cpu" else {}
    return {"device": records.device_name(device), "device_type": device.type, **cpu,
            "peaks_tflops": {k: v / 1e12 for k, v in peaks.items()}, **extra,
            "versions": records.versions(), "git_commit": records.git_commit(),
            "torch_threads": torch.get_num_threads(), "measured": records.now()}


def synthetic_images(n: int, num_classes: int = 100, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
            torch.randint(0, num_classes, (n,), generator=g))


def timed(step_fn, batches, warmup: int, device) -> tuple[float, int, float]:
    """(seconds, images) for the batches after ``warmup`` ones, and the seconds the warmup batches took."""
    seen, t_start, t0 = 0, time.perf_counter(), None
    for i, (xb, yb) in enumerate(batches):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        step_fn(xb, yb)
        if i >= warmup:
            seen += len(yb)
    sync(device)
    if t0 is None:
        raise ValueError(f"nothing timed: {warmup} warm-up batches used every batch")
    return time.perf_counter() - t0, seen, t0 - t_start


class OursPath:
    """The trainer's own build-and-step for one run plan (network and head for its dataset's classes, input size,
    normalization, autocast, optimizer and schedule of its recipe, Mixup, label smoothing, EMA, scaler), on
    synthetic batches drawn as the trainer's epoch draws them (crop and flip, the recipe's RandAugment and
    erasing); ``train_round`` and ``eval_round`` return ``timed``'s triple. Labels must be below the dataset's
    class count (:func:`synthetic_images` with ``plan.dataset.num_classes``)."""

    def __init__(self, plan, train, test, warmup, device, teacher_plan=None):
        cfg, num_classes = plan.config, plan.dataset.num_classes
        if max(int(train[1].max()), int(test[1].max())) >= num_classes:
            raise ValueError(f"synthetic labels must be below {plan.dataset.name}'s {num_classes} classes")
        accelerator = build_accelerator(cfg.precision, cpu=device.type == "cpu")
        torch.manual_seed(0)
        steps = data_mod.full_batches(len(train[1]), cfg.batch_size)
        # Weights do not change speed: a fine-tune is timed as a randomly initialised network of its size, and so
        # is a distilling run's teacher that is not trained yet (``teacher_plan``: the teacher run's plan).
        if teacher_plan is not None:
            teacher = stand_in_teacher(plan, teacher_plan, accelerator.device, num_classes)
        elif plan.recipe.distill_from:
            teacher = distill.build_teacher(distill.check_teacher(plan, num_classes), plan, accelerator.device,
                                            num_classes)
        else:
            teacher = None
        self.network = build_learner(plan, accelerator, build_model(plan, num_classes, weights=False), steps,
                                     teacher=teacher)
        self.policy = data_mod.policy_augmentation(plan.recipe, plan.mean)
        device = accelerator.device
        (self.x, self.y), (self.test_x, self.test_y) = ((a.to(device), b.to(device)) for a, b in (train, test))
        self.batch_size, self.warmup, self.device = cfg.batch_size, warmup, device
        self.eval_batch_size = eval_batch(cfg.eval_batch_size, device.type)
        self.augment, self.seed, self.epoch, self.deterministic = cfg.augment, cfg.seed, 0, cfg.deterministic
        precision = {"no": "fp32"}.get(accelerator.mixed_precision, accelerator.mixed_precision)  # Accelerate says "no"
        self.info = {"precision": precision, "channels_last": cfg.channels_last,
                     "compile": cfg.compile, "compile_mode": cfg.compile_mode if cfg.compile else None,
                     "cuda_graph": cfg.cuda_graph, "pipeline": "uint8 tensors on device + batched crop/flip",
                     "input_size": plan.input_size, "optimizer": type(self.network.optimizer.optimizer).__name__}
        if teacher is not None:  # its forward is in every step
            spec = teacher.spec
            self.info["teacher"] = {"model": spec.model, "options": dict(spec.options), "input_size": spec.input_size,
                                    "kind": spec.kind}

    def train_round(self):
        set_kernel_policy(self.deterministic)  # as the trainer runs (cuDNN autotuning, TF32), whatever ran before
        self.network.train_mode()
        self.epoch += 1
        batches = data_mod.train_batches(self.x, self.y, self.batch_size, self.epoch, self.seed,
                                         augment=self.augment, policy=self.policy)
        return timed(self.network.step, batches, self.warmup, self.device)

    def eval_round(self):
        set_kernel_policy(self.deterministic)
        self.network.model.eval()
        n, b = len(self.test_y), self.eval_batch_size
        batches = ((self.test_x[i:i + b], self.test_y[i:i + b]) for i in range(0, n - b + 1, b))
        with torch.no_grad():
            return timed(lambda xb, yb: self.network.logits(xb), batches, 1 if n >= 2 * b else 0, self.device)


def stand_in_teacher(plan, teacher_plan, device, num_classes: int) -> distill.Teacher:
    """A distilling run's teacher for timing, before it is trained: a randomly initialised network of the run
    ``teacher_plan`` plans, fed the student's batch as the trained one will be (its statistics and input size)."""
    t = teacher_plan
    spec = distill.TeacherSpec(plan.recipe.distill_from, "stand-in", t.config.model, dict(t.config.options),
                               num_classes, t.config.img_size, t.input_size, t.mean, t.std, "", "")
    return distill.teacher_for(spec, build_model(t, num_classes, weights=False), plan, device)


def interleaved(paths: dict, repeats: int) -> dict[str, dict]:
    """Median images/s per path over ``repeats`` rounds that alternate between the paths, so a slow spell of a
    shared machine does not land on one path only; the first training round's warm-up (DataLoader start-up,
    compilation) is kept apart."""
    samples = {k: {"train": [], "eval": []} for k in paths}
    # A compiled path compiles its training and its evaluation graph in its first rounds, and a CUDA-graphed one
    # captures its step: those run once, untimed, before any timed round; their time is reported apart.
    compiled = {label: _compile_rounds(p) for label, p in paths.items()
                if p.info.get("compile") or p.info.get("cuda_graph")}
    first = {}
    for kind in ("train", "eval"):
        for _ in range(repeats):
            for label, p in paths.items():
                secs, seen, warm = (p.train_round if kind == "train" else p.eval_round)()
                samples[label][kind].append(seen / secs)
                first.setdefault((label, kind), warm)
    return {label: {"train_images_per_second": statistics.median(s["train"]),
                    "eval_images_per_second": statistics.median(s["eval"]),
                    "train_samples": s["train"], "eval_samples": s["eval"],
                    "first_round_seconds": first[(label, "train")], "compile_seconds": compiled.get(label),
                    **paths[label].info}
            for label, s in samples.items()}


def _compile_rounds(path) -> float:
    """Seconds of one untimed training round and one evaluation round (where a compiled path compiles)."""
    start = time.perf_counter()
    path.train_round()
    path.eval_round()
    return time.perf_counter() - start
