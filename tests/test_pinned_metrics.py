"""The same seed gives the same metrics, bitwise, on the CPU: two short runs' metrics are pinned in
``tests/pins/``, so a refactor that changes what is computed (an RNG drawn in another order, a loss reduced
another way) fails here even when the accuracy still looks plausible.

The runs compute on one CPU thread, whatever the suite's setting: reductions split over threads round
differently, so the bits depend on the thread count. They depend on the CPU's kernels too (AVX2, AVX-512, AMX
and native bf16 take different code paths), so the pins are kept per kind of CPU (``tests/pins/<kind>/``); on a
kind with no pins the test says so and skips.

After an intended change of the numbers, re-pin with ``CIFAR100LAB_REPIN=1 pytest tests/test_pinned_metrics.py``
on each kind of CPU the suite runs on, and say why in the commit."""
import json
import os
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from cifar100lab import records
from cifar100lab.accelerator import cpu_instruction_set
from cifar100lab.launch import torch_threads
from cifar100lab.train import train


def cpu_kind() -> str:
    """The CPU's kernel family as the bits see it: ATen's vector capability, and native bf16 (AMX, AVX512-BF16)."""
    bf16 = {"AMX": "-amx", "AVX512-BF16": "-bf16"}.get(cpu_instruction_set(), "")
    return torch.backends.cpu.get_cpu_capability().lower() + bf16


PINS = Path(__file__).parent / "pins" / cpu_kind()
TIMING = {"epoch_seconds", "eval_seconds", "images_per_second"}
# Every training feature that draws random numbers or changes the step, at once.
FEATURES = dict(optimizer="adamw", lr=0.002, warmup_epochs=0.5, label_smoothing=0.1, mixup=0.8, cutmix=1.0,
                auto_augment="randaugment", random_erasing=0.25, ema_decay=0.9, grad_clip=1.0, freeze_epochs=1)
CASES = {"plain": dict(overrides={"lr": 0.1}),
         "every-feature": dict(overrides=FEATURES, train_subset=512, val_fraction=0.25)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_seed_gives_the_pinned_metrics_bitwise(case, synthetic_root, tmp_path):
    with torch_threads(1):
        rec = train(tiny_config(synthetic_root, tmp_path / case, **CASES[case]))
    rows = [{k: v for k, v in row.items() if k not in TIMING} for row in records.read_metrics(tmp_path / case)]
    got = json.loads(json.dumps({"metrics": rows, "params": rec["params"]}))
    pin = PINS / f"{case}.json"
    if os.environ.get("CIFAR100LAB_REPIN"):
        pin.parent.mkdir(parents=True, exist_ok=True)
        pin.write_text(json.dumps(got, indent=1) + "\n")
    if not pin.exists():
        pytest.skip(f"no pin for this kind of CPU ({cpu_kind()}): pin it with CIFAR100LAB_REPIN=1, on the code "
                    f"before a change")
    assert got == json.loads(pin.read_text())
