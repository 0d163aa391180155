"""cuda_graph: the whole training step replayed as one CUDA graph (cifar100lab.step_graph).

The capture itself needs a GPU (benchmarks/gpu_check.sh's graph step checks it against eager steps). Here a
Python stand-in "graph" remembers the captured function and calls it on replay. It tests everything around
the capture: the static buffers each step copies into, the LR the schedule writes into a tensor, the eager
warm-up, a batch of another shape, a frozen backbone's release, and a checkpoint written from a graphed run."""
import pytest
import torch
from conftest import tiny_config

from cifar100lab.accelerator import build_accelerator
from cifar100lab.config import ConfigError, resolve
from cifar100lab.learner import build_learner, build_model
from cifar100lab.step_graph import WARMUP_STEPS, attach_graph, plain_lrs
from cifar100lab.train import train


class PythonGraph:
    """Replays what was captured by calling it again: no CUDA, same buffers."""
    captures = 0

    def __init__(self, device):
        self.fn = None

    def warmup(self, fn):
        return fn()

    def capture(self, fn):
        PythonGraph.captures += 1
        self.fn = fn  # a real capture records kernels and runs none: nothing runs here either

    def replay(self):
        self.fn()


def _learner(root, tmp_path, graphed: bool, **kw):
    plan = resolve(tiny_config(root, tmp_path / "r", fused_optimizer=True, precision="fp32", **kw))
    torch.manual_seed(0)
    learner = build_learner(plan, build_accelerator("fp32", cpu=True), build_model(plan, 10), steps_per_epoch=4,
                            num_classes=10)
    return attach_graph(learner, PythonGraph) if graphed else learner


def _batches(n, batch=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(0, 256, (batch, 3, 32, 32), generator=g, dtype=torch.uint8),
             torch.randint(0, 10, (batch,), generator=g)) for _ in range(n)]


def _train(learner, batches):
    """Each step's loss and totals (loss × images, correct), read before the next step overwrites them."""
    learner.train_mode(0)
    out = []
    for x, y in batches:
        loss, _, totals = learner.step(x, y)
        out.append((loss.item(), totals.tolist()))
    return out


@pytest.mark.parametrize("recipe", [{}, {"overrides": {"lr": 0.05, "mixup": 0.8, "warmup_epochs": 1.0}}])
def test_a_replayed_step_trains_exactly_as_the_eager_one(synthetic_root, tmp_path, recipe):
    """Eight steps: three warm-up, one capture, four replays of new batches under a changing LR (warm-up then
    cosine; Mixup's draws outside the graph) follow the eager run bit for bit, totals included. Fails if a replay
    reused the captured batch or labels, or the optimizer read a stale LR."""
    batches = _batches(WARMUP_STEPS + 5)
    eager = _learner(synthetic_root, tmp_path / "e", False, **recipe)
    graphed = _learner(synthetic_root, tmp_path / "g", True, **recipe)
    before = PythonGraph.captures
    assert _train(graphed, batches) == _train(eager, batches)
    assert PythonGraph.captures == before + 1
    for a, b in zip(eager.model.parameters(), graphed.model.parameters()):
        assert torch.equal(a, b)
    lr = graphed.optimizer.param_groups[0]["lr"]
    assert torch.is_tensor(lr) and lr.item() == pytest.approx(eager.optimizer.param_groups[0]["lr"], rel=1e-6)


def test_the_schedule_writes_the_lr_tensor_the_captured_optimizer_holds(synthetic_root, tmp_path):
    """A capture keeps the LR tensor's address: the schedule must fill that tensor, never replace it."""
    learner = _learner(synthetic_root, tmp_path, True, overrides={"lr": 0.05, "warmup_epochs": 1.0})
    lr = learner.optimizer.param_groups[0]["lr"]
    values = []
    for x, y in _batches(3):
        learner.step(x, y)
        values.append(lr.item())
        assert learner.optimizer.param_groups[0]["lr"] is lr
    assert values == pytest.approx([0.05 * k / 4 for k in (2, 3, 4)], rel=1e-6)


def test_another_batch_shape_runs_eagerly_and_a_released_backbone_is_captured_again(synthetic_root, tmp_path):
    learner = _learner(synthetic_root, tmp_path, True, overrides={"lr": 0.05, "freeze_epochs": 1})
    before = PythonGraph.captures
    learner.train_mode(0)  # backbone held
    for x, y in _batches(WARMUP_STEPS + 2):
        learner.step(x, y)
    small = _batches(1, batch=8)[0]
    loss, logits, totals = learner.step(*small)
    assert logits.shape[0] == 8 and PythonGraph.captures == before + 1  # no capture for one odd batch
    learner.train_mode(1)  # backbone released: what the optimizer updates changed
    backbone = [p.clone() for p in learner.frozen.params]
    for x, y in _batches(WARMUP_STEPS + 2, seed=2):
        learner.step(x, y)
    assert PythonGraph.captures == before + 2
    assert any(not torch.equal(a, b) for a, b in zip(backbone, learner.frozen.params))


def test_a_checkpoint_of_a_graphed_run_holds_plain_lrs(synthetic_root, tmp_path):
    learner = _learner(synthetic_root, tmp_path, True)
    for x, y in _batches(2):
        learner.step(x, y)
    state = learner.state_dict()
    assert all(isinstance(g["lr"], float) for g in state["optimizer"]["param_groups"])
    assert all(isinstance(v, float) for v in state["scheduler"]["_last_lr"])
    assert plain_lrs({"param_groups": [{"lr": torch.tensor(0.5)}]})["param_groups"][0]["lr"] == 0.5


@pytest.mark.parametrize("settings, message", [
    ({"compile": True, "compile_mode": "reduce-overhead"}, "captures the whole step itself"),
    ({"precision": "fp16"}, "cannot capture fp16's loss scaler"),
    ({"overrides": {"distill_from": "resnet_20@x.pth"}}, "does not capture a distillation teacher"),
])
def test_settings_a_graph_cannot_capture_are_refused(synthetic_root, tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        resolve(tiny_config(synthetic_root, tmp_path, cuda_graph=True, **settings))


def test_cuda_graph_on_the_cpu_is_one_error_before_anything_is_written(synthetic_root, tmp_path):
    with pytest.raises(ConfigError, match="needs a CUDA device; this run's device is cpu"):
        train(tiny_config(synthetic_root, tmp_path / "run", cuda_graph=True))
    assert not (tmp_path / "run").exists()



def test_a_campaign_of_graphed_runs_on_the_cpu_is_one_error_before_any_run(synthetic_root, tmp_path, capfd):
    """Without it the campaign started every run, and each failed in its notebook (exit 1, a failed record)."""
    from conftest import run_cli
    path = tmp_path / "graphed.yaml"
    path.write_text(f"name: graphed\ndataset: synthetic\nmodels: [resnet_20, resnet_32]\n"
                    f"defaults: {{epochs: 1, cuda_graph: true, data_root: {synthetic_root}}}\n")
    proc = run_cli(capfd, "campaign", path, "--runs-root", tmp_path / "runs", "--no-analysis")
    assert proc.returncode == 2 and proc.stderr == (
        "error: cuda_graph: true needs a CUDA device, and this machine has none (NVML reports no GPU); set "
        "cuda_graph: false (2 run(s) to do ask for it: graphed-resnet_20-s0, graphed-resnet_32-s0; nothing was "
        "started)\n"), proc.stderr
    assert not list((tmp_path / "runs" / "graphed").glob("graphed-*"))


def test_a_runs_file_with_a_graphed_variant_is_refused_before_its_first_variant_trains(tmp_path, capfd):
    from conftest import run_cli
    path = tmp_path / "runs.yaml"
    path.write_text("base: {model: resnet_20, dataset: synthetic, epochs: 1}\n"
                    "variants:\n  - {label: eager}\n  - {label: graphed, cuda_graph: true}\n")
    proc = run_cli(capfd, "timed-runs", path, "--out", tmp_path / "record.json")
    assert proc.returncode == 2 and "variant 'graphed': cuda_graph: true needs a CUDA device" in proc.stderr
    assert "[1/2]" not in proc.stdout and not (tmp_path / "record.json").exists()


@pytest.mark.parametrize("gpus, jobs, num_processes, refused", [
    (8, 1, 8, "runs one process per run, not 8"),  # full.yaml as written: 8 processes to a run
    (8, 2, 8, "runs one process per run, not 4"),  # two jobs: auto within each job's 4 GPUs
    (8, 8, 8, None),                                # full.yaml --jobs 8: one GPU each
    (1, 4, "auto", None),                           # four runs sharing one GPU
    (0, 1, "auto", "needs a CUDA device"),
])
def test_graphed_runs_need_a_gpu_and_one_process_each(monkeypatch, gpus, jobs, num_processes, refused):
    from cifar100lab import kernels, launch
    from cifar100lab.step_graph import launch_conflict
    monkeypatch.setattr(kernels, "visible_gpus", lambda: gpus)
    monkeypatch.setattr(launch, "visible_gpus", lambda: gpus)
    why = launch_conflict(gpus, kernels.processes_per_run(jobs, num_processes))
    assert (why is None) if refused is None else (refused in why), why
