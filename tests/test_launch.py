"""The launcher: process counts from NVML only, a forked worker that can still use CUDA, and a 2-process
gloo job on the CPU (the only multi-process layout a machine without GPUs can test)."""
import json
import os
from pathlib import Path

import pytest
import torch
from conftest import ROOT, tiny_config

from cifar100lab import kernels, launch, records
from cifar100lab.evaluation import evaluate_checkpoint


@pytest.fixture
def cuda_runtime_forbidden(monkeypatch):
    """The CUDA runtime's device count — the call that poisons fork — raises in this process.

    Forked children may still use it (a worker legitimately initialises CUDA), so the guard checks the pid.
    """
    parent, real = os.getpid(), torch._C._cuda_getDeviceCount

    def forbidden():
        if os.getpid() == parent:
            raise AssertionError("cudaGetDeviceCount was called in the launching process: forked workers would die")
        return real()

    monkeypatch.setattr(torch._C, "_cuda_getDeviceCount", forbidden)


@pytest.fixture
def nvml_reports(monkeypatch):
    """NVML (through torch's own NVML helper) reports ``n`` GPUs; CUDA_VISIBLE_DEVICES is unset."""
    def report(n: int):
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
        monkeypatch.setattr(torch.cuda, "_raw_device_count_nvml", lambda: n)
    return report


def fake_record_launcher(calls):
    """Stands in for accelerate.notebook_launcher: notes the process count and writes the record a run would."""
    def launcher(function, args, num_processes, use_port):
        plan = args[0]  # launch.worker(plan, threads)
        calls.append(num_processes)
        records.atomic_write_json(records.Path(plan.config.run_dir) / records.RECORD, {"status": "complete", "run_id": "x"})
    return launcher


def test_gpus_are_counted_through_nvml_honouring_visible_devices(nvml_reports, cuda_runtime_forbidden, monkeypatch):
    nvml_reports(8)
    assert launch.visible_gpus() == 8
    assert launch.choose_processes("auto") == 8 and launch.choose_processes(3) == 3
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert launch.visible_gpus() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert launch.visible_gpus() == 0


def test_without_nvml_there_are_no_gpus_and_the_runtime_is_not_asked(monkeypatch, cuda_runtime_forbidden):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)

    def no_nvml():
        raise OSError("libnvidia-ml.so.1: cannot open shared object file")
    monkeypatch.setattr(torch.cuda, "_raw_device_count_nvml", no_nvml)
    assert launch.visible_gpus() == 0 and launch.choose_processes("auto") == 1


FAKE_NVML = r"""
#include <string.h>
typedef struct { unsigned long long total, free, used; } mem_t;
static const char *names[] = {"NVIDIA H200", "NVIDIA H100 80GB HBM3"};
static int up = 0;
int nvmlInit_v2(void) { up = 1; return 0; }
int nvmlShutdown(void) { up = 0; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **h) { if (!up || i > 1) return 2; *h = (void *)(long)(i + 1); return 0; }
int nvmlDeviceGetHandleByUUID(const char *uuid, void **h) { if (strcmp(uuid, "GPU-b")) return 6; *h = (void *)2L; return 0; }
int nvmlDeviceGetName(void *h, char *out, unsigned n) { strncpy(out, names[(long)h - 1], n); return 0; }
int nvmlDeviceGetMemoryInfo(void *h, mem_t *m) { m->total = 80UL << 30; m->free = ((long)h * 10UL) << 30; m->used = 0; return 0; }
"""


@pytest.fixture
def fake_nvml(tmp_path, monkeypatch):
    """A libnvidia-ml.so.1 of two GPUs (0: an H200 with 10 GiB free, 1 or UUID GPU-b: an H100 with 20), built with
    the machine's C compiler, which ctypes loads in place of NVIDIA's."""
    import ctypes
    import shutil
    import subprocess
    if not shutil.which("cc"):
        pytest.skip("no C compiler to build the stand-in NVML library")
    (tmp_path / "nvml.c").write_text(FAKE_NVML)
    lib = tmp_path / "libnvidia-ml.so.1"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, tmp_path / "nvml.c"], check=True)
    real = ctypes.CDLL
    monkeypatch.setattr(ctypes, "CDLL", lambda name, *a, **k: real(str(lib) if name == "libnvidia-ml.so.1" else name,
                                                                 *a, **k))


def test_gpu_memory_and_names_come_from_nvml_by_index_or_uuid_and_a_campaigns_timing_names_its_gpu(
        fake_nvml, nvml_reports, cuda_runtime_forbidden, monkeypatch):
    """The campaign's timing record names the GPU its runs trained on as a benchmark record names its device, so the
    Performance page compares an estimate only with a campaign on the same device; the CUDA runtime is not asked."""
    from cifar100lab import devices
    from cifar100lab.executors import local
    gib = 2**30
    assert devices.gpu_memory(["0", "GPU-b"]) == {"0": (10 * gib, 80 * gib), "GPU-b": (20 * gib, 80 * gib)}
    assert devices.gpu_names(["1", "0"]) == {"1": "NVIDIA H100 80GB HBM3", "0": "NVIDIA H200"}
    assert devices.gpu_names(["7"]) is None and devices.gpu_memory(["GPU-x"]) is None  # not found: NVML cannot say
    nvml_reports(2)
    assert local.timing_device(2) == "NVIDIA H200"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-b")
    assert local.timing_device(1) == "NVIDIA H100 80GB HBM3"
    assert local.timing_device(0) == records.device_name("cpu")


def test_auto_launches_one_process_per_gpu_nvml_reports(nvml_reports, cuda_runtime_forbidden, monkeypatch,
                                                        synthetic_root, tmp_path):
    import accelerate
    nvml_reports(8)
    calls = []
    monkeypatch.setattr(accelerate, "notebook_launcher", fake_record_launcher(calls))
    rec = launch.run(tiny_config(synthetic_root, tmp_path / "auto"), num_processes="auto")
    launch.run(tiny_config(synthetic_root, tmp_path / "four"), num_processes=4)
    assert calls == [8, 4] and rec["status"] == "complete"


def test_single_process_run_in_the_kernel_never_asks_the_cuda_runtime(cuda_runtime_forbidden, synthetic_root,
                                                                      tmp_path):
    """On a machine without GPUs the in-kernel run (auto = 1 process) decides its device through NVML too."""
    rec = launch.run(tiny_config(synthetic_root, tmp_path / "one", epochs=1, max_steps_per_epoch=2),
                     num_processes="auto")
    assert rec["status"] == "complete" and rec["hardware"]["count"] == 1


def test_notebook_parameter_cell_and_launch_cell_never_ask_the_cuda_runtime(cuda_runtime_forbidden, nvml_reports,
                                                                           monkeypatch, synthetic_root, tmp_path):
    """The train notebook's own cells, run as a kernel runs them (launcher and display stubbed)."""
    import accelerate

    from cifar100lab import report
    nvml_reports(2)
    calls = []
    monkeypatch.setattr(accelerate, "notebook_launcher", fake_record_launcher(calls))
    monkeypatch.setattr(report, "show_run", lambda record: None)
    cells = [c for c in json.loads((ROOT / "notebooks" / "train.ipynb").read_text())["cells"]
             if c["cell_type"] == "code"]
    namespace: dict = {}
    exec("".join(cells[0]["source"]), namespace)  # the parameters cell
    namespace.update(tiny_config(synthetic_root, tmp_path / "nb"))  # what papermill would inject
    for cell in cells[1:]:
        exec("".join(cell["source"]), namespace)
    assert calls == [2] and namespace["record"]["status"] == "complete"


def test_campaign_cli_and_job_plan_never_ask_the_cuda_runtime(cuda_runtime_forbidden, nvml_reports, synthetic_root,
                                                             tmp_path, capsys):
    from cifar100lab.cli import main
    nvml_reports(4)
    assert kernels.resolve_jobs("auto") == 1 and kernels.resolve_jobs(2) == 2
    assert [env["CUDA_VISIBLE_DEVICES"] for env in kernels.job_envs(2)] == ["0,2", "1,3"]
    code = main(["campaign", str(ROOT / "params/quick.yaml"), "--dataset", "synthetic", "--jobs", "2", "--dry-run",
                 "--runs-root", str(tmp_path / "runs"), "--set", f"data_root={synthetic_root}",
                 "--set", "test_subset=300"])  # the fixture's set has 300 test images; quick.yaml asks 500
    assert code == 0 and "quick-resnet_20-s0" in capsys.readouterr().out


@pytest.mark.slow  # starts processes
def test_forked_child_after_kernel_side_preparation_is_not_in_a_bad_fork(synthetic_root, tmp_path):
    """What notebook_launcher does after the kernel chose the process count: fork. The child must be able to
    initialise CUDA (here: torch says it is not in a bad fork, which is what CUDA calls check). A fresh
    interpreter, as a kernel is, so nothing an earlier test did in this process counts."""
    import subprocess
    import sys
    code = f"""
import os, torch
from cifar100lab import kernels, launch
from cifar100lab.config import resolve
resolve({tiny_config(synthetic_root, tmp_path / "fork")!r})
launch.choose_processes("auto"); kernels.job_envs(kernels.resolve_jobs("auto"))
read, write = os.pipe()
if os.fork() == 0:
    os.write(write, b"1" if torch._C._cuda_isInBadFork() else b"0"); os._exit(0)
os.wait(); print(os.read(read, 1).decode())
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "0", "a forked worker would die on its first CUDA call"


@pytest.mark.slow  # starts processes
def test_two_process_gloo_run_is_one_job_evaluating_every_sample_once(cuda_runtime_forbidden, synthetic_root,
                                                                     tmp_path, monkeypatch):
    """One process evaluating the checkpoint finds what the two did, its EMA too: each process's EMA averaged its
    own BatchNorm statistics, and the record's EMA numbers mixed them, not those of the EMA the checkpoint keeps
    (the main process's)."""
    monkeypatch.setattr(launch, "visible_gpus", lambda: 0)
    cfg = tiny_config(synthetic_root, tmp_path / "ddp", epochs=1, batch_size=32, max_steps_per_epoch=2,
                      precision="fp32", overrides={"lr": 0.05, "ema_decay": 0.9})  # 2 steps: the evaluation counts
    rec = launch.run(cfg, num_processes=2)
    assert rec["status"] == "complete"
    assert rec["hardware"]["count"] == 2 and "MULTI_CPU" in rec["hardware"]["distributed"]
    assert rec["final"]["evaluated"] == 300  # the test set has 300 images: each counted once
    assert rec["recipe"]["global_batch"] == 64 and rec["recipe"]["effective_lr"] == 0.1  # 0.05 × 2
    single = evaluate_checkpoint(tmp_path / "ddp" / "checkpoint.pt")
    assert single["evaluated"] == 300
    assert abs(single["top1"] - rec["final"]["top1"]) <= 100 / 300 + 1e-9  # at most one borderline sample
    assert single["test_loss"] == pytest.approx(rec["final"]["test_loss"], rel=1e-5)
    assert single["ema"]["test_loss"] == pytest.approx(rec["ema"]["final"]["test_loss"], rel=1e-5)


ONE_TEST_IMAGE = """
import json, sys
from cifar100lab import launch
launch.visible_gpus = lambda: 0
rec = launch.run(json.loads(sys.argv[1]), num_processes=2)
print(json.dumps(rec["final"]))
"""


@pytest.mark.slow  # starts processes
def test_a_process_whose_share_of_the_test_set_is_empty_still_ends_the_evaluation(synthetic_root, tmp_path):
    """With one test image on two processes, the second evaluated none: the first's DDP forward broadcast the
    buffers, a collective the second never joined, and the run hung in its first evaluation (killed at 300 s)."""
    import signal
    import subprocess
    import sys
    cfg = tiny_config(synthetic_root, tmp_path / "ddp", epochs=1, batch_size=32, max_steps_per_epoch=1, test_subset=1,
                      precision="fp32")
    proc = subprocess.Popen([sys.executable, "-c", ONE_TEST_IMAGE, json.dumps(cfg)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the run did not end in 120 s: hung in its evaluation")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert json.loads(out.strip().splitlines()[-1])["evaluated"] == 1


@pytest.mark.slow  # starts processes
def test_a_checkpoint_resumes_only_on_the_process_count_that_trained_it(synthetic_root, tmp_path, monkeypatch):
    """On another count the global batch changed while the restored optimizer kept the old count's learning rate,
    and the record stated the new one's: refused, before anything in the folder is written."""
    from cifar100lab.config import ConfigError
    monkeypatch.setattr(launch, "visible_gpus", lambda: 0)
    cfg = tiny_config(synthetic_root, tmp_path / "ddp", epochs=2, batch_size=16, max_steps_per_epoch=2,
                      precision="fp32")
    assert launch.run(cfg, num_processes=2)["status"] == "complete"
    ckpt_path, record_path = tmp_path / "ddp" / records.CHECKPOINT, tmp_path / "ddp" / records.RECORD
    ckpt = torch.load(ckpt_path, weights_only=True)  # as if stopped after epoch 1
    torch.save({**ckpt, "epoch": 1, "history": ckpt["history"][:1]}, ckpt_path)
    records.atomic_write_json(record_path, {**records.read_json(record_path), "status": "interrupted"})
    before = record_path.read_bytes()
    with pytest.raises(ConfigError, match=r"checkpoint was trained on 2 process\(es\) and this launch has 1; .* "
                                          r"resume it on 2"):
        launch.run(cfg, num_processes=1)
    assert record_path.read_bytes() == before


FAIL_ON_RANK_1 = """
import json, sys
from cifar100lab import launch, train
real = train._evaluations
def failing(learner, data, batch_size):
    if learner.accelerator.process_index == 1:
        raise RuntimeError("fails on rank 1 only")
    return real(learner, data, batch_size)
train._evaluations, launch.visible_gpus = failing, lambda: 0
launch.run(json.loads(sys.argv[1]), num_processes=2)
"""


@pytest.mark.slow  # starts processes
def test_a_failure_in_one_process_fails_the_run_with_that_processs_error_and_leaves_no_launcher_files(
        synthetic_root, tmp_path):
    """The failed process's record closing waited at a barrier while the other waited in the epoch's all-reduce.
    Then the record and the error shown said the other process's lost connection (torch elastic's
    ChildFailedError, which names the process it saw end first), and each launch left its error files and log
    folders in the temporary folder."""
    import signal
    import subprocess
    import sys
    cfg = tiny_config(synthetic_root, tmp_path / "ddp", epochs=1, batch_size=16, max_steps_per_epoch=2)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", FAIL_ON_RANK_1, json.dumps(cfg)], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(temporary)})
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    record = records.read_json(tmp_path / "ddp" / records.RECORD)
    assert record["status"] == "failed" and record["failed_process"] == 1
    assert record["reason"] == record["attempts"][-1]["reason"] == "process 1 of 2: RuntimeError: fails on rank 1 only"
    assert err.rstrip().endswith("RuntimeError: fails on rank 1 only") and "raised in process 1 of 2:" in err, err
    assert "ChildFailedError" not in err and "Connection" not in err, err
    assert [p.name for p in temporary.iterdir() if p.name.startswith(("pytorch-errorfile-", "torchelastic_"))] == []


@pytest.mark.slow  # starts processes
def test_a_user_error_a_launched_process_finds_is_its_one_line(synthetic_root, tmp_path, monkeypatch, capfd):
    """Only a process that has read the data knows that 100 images fill no global batch of 2 × 64: its ConfigError
    came back as torch elastic's ChildFailedError, with every process's traceback, logged and raised."""
    from cifar100lab.config import ConfigError
    monkeypatch.setattr(launch, "visible_gpus", lambda: 0)
    cfg = tiny_config(synthetic_root, tmp_path / "ddp", epochs=1, train_subset=100)
    with pytest.raises(ConfigError, match=r"^100 training images are fewer than one global batch \(64 × 2 processes\)$") \
            as caught:
        launch.run(cfg, num_processes=2)
    assert caught.value._render_traceback_() == [f"ConfigError: {caught.value}"]
    assert "Traceback" not in capfd.readouterr().err
    assert not (tmp_path / "ddp").exists()  # refused before anything was written


@pytest.mark.parametrize("folder_before", [False, True])
def test_a_folder_the_refused_launch_made_is_removed_though_its_main_process_was_stopped_first(
        synthetic_root, tmp_path, monkeypatch, folder_before):
    """Process 1 refuses the data (too few images) and the launcher stops process 0, which had made the run's folder
    and taken its training lock, before it could remove them: the folder stayed (a flaky failure of the test above
    in CI). The launching process removes a folder it did not find, holding nothing but the lock; one that was
    there before the launch stays."""
    import accelerate
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    from cifar100lab import locks
    from cifar100lab.config import ConfigError
    monkeypatch.setattr(launch, "visible_gpus", lambda: 0)
    run_dir = tmp_path / "ddp"
    if folder_before:
        run_dir.mkdir()

    def launcher(fn, args, num_processes, use_port):  # what the two processes left when the launcher returned
        plan, threads, scratch, tempdir = args
        run_dir.mkdir(exist_ok=True)
        (run_dir / locks.TRAINING_LOCK).write_text("")  # process 0's, stopped before it cleaned up
        monkeypatch.setenv("RANK", "1")
        try:
            raise ConfigError("100 training images are fewer than one global batch (64 × 2 processes)")
        except ConfigError as e:
            launch.note_failure(Path(scratch), e)
        raise ChildFailedError("worker", {1: ProcessFailure(local_rank=1, pid=1, exitcode=1,
                                                            error_file=str(tmp_path / "none"))})
    monkeypatch.setattr(accelerate, "notebook_launcher", launcher)
    with pytest.raises(ConfigError, match="fewer than one global batch"):
        launch.run(tiny_config(synthetic_root, run_dir, epochs=1), num_processes=2)
    assert run_dir.exists() == folder_before  # (a dead process's lock file holds no lock: it may stay)


def test_a_multi_process_launch_makes_the_checks_it_can_before_it_starts_a_process(nvml_reports, monkeypatch,
                                                                                   synthetic_root, tmp_path):
    """A run_dir that is a file, a folder resume=False may not touch: each launched process found out on its own
    (and its ConfigError came back as torch elastic's ChildFailedError); a complete run started them all to say so."""
    import accelerate

    from cifar100lab.config import ConfigError, resolve
    nvml_reports(2)
    calls = []
    monkeypatch.setattr(accelerate, "notebook_launcher", fake_record_launcher(calls))
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="run_dir .*file is a file, not a folder"):
        launch.run(tiny_config(synthetic_root, tmp_path / "file"), num_processes=2)
    held = tiny_config(synthetic_root, tmp_path / "held", resume=False)
    records.atomic_write_json(tmp_path / "held" / records.RECORD, {"status": "failed", "run_id": "held"})
    with pytest.raises(ConfigError, match="already holds a run; pass resume=True"):
        launch.run(held, num_processes=2)
    done = tiny_config(synthetic_root, tmp_path / "done")
    complete = {"status": "complete", "run_id": "done", "config": resolve(done).config.to_dict(), "hardware": {"count": 2}}
    records.atomic_write_json(tmp_path / "done" / records.RECORD, complete)
    assert launch.run(done, num_processes=2) == complete
    assert calls == []


def test_a_run_complete_on_two_processes_is_not_a_one_process_launchs_result(synthetic_root, tmp_path):
    """batch_size is each process's: on 2 processes the global batch, the steps, each step's samples and the
    learning rate differ from 1's, yet the run's fingerprint (its settings) is the same, and a one-process launch
    returned the two-process result as "already complete"."""
    from cifar100lab.config import ConfigError, resolve
    cfg = tiny_config(synthetic_root, tmp_path / "ddp", epochs=1, max_steps_per_epoch=2)
    record_path = tmp_path / "ddp" / records.RECORD  # the record a 2-process run of these settings leaves
    records.atomic_write_json(record_path, {"status": "complete", "run_id": "ddp", "config": resolve(cfg).config.to_dict(),
                                            "hardware": {"count": 2}})
    before = record_path.read_bytes()
    with pytest.raises(ConfigError, match=r"is complete on 2 process\(es\) and this launch has 1; .* launch it on "
                                          r"2 to read it, or train on 1 in a new run_dir"):
        launch.run(cfg, num_processes=1)
    assert record_path.read_bytes() == before


def test_more_jobs_than_gpus_share_them_round_robin_after_an_nvml_memory_check(nvml_reports, cuda_runtime_forbidden,
                                                                               monkeypatch):
    from cifar100lab import devices
    from cifar100lab.config import ConfigError
    nvml_reports(2)
    gib = 2**30
    asked = []
    monkeypatch.setattr(devices, "gpu_memory", lambda ids: asked.append(ids) or {i: (9 * gib, 80 * gib) for i in ids})
    assert [env["CUDA_VISIBLE_DEVICES"] for env in kernels.job_envs(kernels.resolve_jobs(8))] == ["0", "1"] * 4
    assert asked == [["0", "1"]] and kernels.runs_per_gpu(8, 2) == 4
    assert [env["CUDA_VISIBLE_DEVICES"] for env in kernels.job_envs(2)] == ["0", "1"]  # one each: no check
    assert len(asked) == 1
    with pytest.raises(ConfigError, match=r"5 runs per GPU need 10.0 GiB free on GPU 0 .* 9.0 of 80.0 GiB free\. "
                                          r"Use fewer jobs \(at most 8\)"):
        kernels.job_envs(10)


def test_jobs_that_do_not_divide_the_gpus_give_every_run_the_same_number_of_gpus(nvml_reports,
                                                                                 cuda_runtime_forbidden):
    """A run's process count sets its global batch and (lr_scaling) its learning rate. Before, 2 jobs on 3 GPUs got
    subsets 0,2 and 1 (8 GPUs, 3 jobs: 3, 3 and 2), so which job took a run decided whether it trained on 2 GPUs
    or 1: one campaign's runs silently mixed two global batches."""
    nvml_reports(3)
    subsets = [env["CUDA_VISIBLE_DEVICES"].split(",") for env in kernels.job_envs(2)]
    assert [len(s) for s in subsets] == [1, 1] == [kernels.processes_per_run(2, "auto")] * 2
    nvml_reports(8)
    subsets = [env["CUDA_VISIBLE_DEVICES"].split(",") for env in kernels.job_envs(3)]
    assert [len(s) for s in subsets] == [2, 2, 2] == [kernels.processes_per_run(3, "auto")] * 3
    assert len({gpu for s in subsets for gpu in s}) == 6  # disjoint


def test_gpu_memory_without_nvml_is_unknown_and_never_asks_the_cuda_runtime(cuda_runtime_forbidden, monkeypatch):
    import ctypes

    from cifar100lab import devices

    def no_library(name, *a, **k):
        raise OSError(f"{name}: cannot open shared object file")
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    assert devices.gpu_memory(["0"]) is None


def test_a_launch_leaves_the_callers_signal_handlers_as_they_were_and_runs_from_any_thread():
    """torch's launcher sets its own handlers in the launching process and keeps them; the kernel's come back."""
    import signal
    import threading

    from cifar100lab.launch import LAUNCHER_SIGNALS, _handlers_kept
    before = signal.getsignal(signal.SIGTERM)
    with _handlers_kept(LAUNCHER_SIGNALS):
        signal.signal(signal.SIGTERM, lambda *_: None)  # as the launcher does
    assert signal.getsignal(signal.SIGTERM) is before
    errors = []

    def launch_in_a_thread():  # where signal.signal would raise ValueError
        try:
            with _handlers_kept(LAUNCHER_SIGNALS):
                pass
        except Exception as e:
            errors.append(e)
    thread = threading.Thread(target=launch_in_a_thread)
    thread.start()
    thread.join()
    assert errors == []


@pytest.mark.parametrize("given", ["abc", 1.5, True, "-1"])
def test_a_process_count_that_is_not_a_whole_number_is_one_error_line_before_any_work(tmp_path, given):
    """'abc' was a raw int() ValueError with its traceback; 1.5 was taken as 1."""
    from cifar100lab.config import ConfigError
    with pytest.raises(ConfigError, match="num_processes must be 'auto' or a whole number") as caught:
        launch.run(dict(run_dir=str(tmp_path / "r"), dataset="synthetic", data_root=str(tmp_path / "none")),
                   num_processes=given)
    assert caught.value._render_traceback_() == [f"ConfigError: {caught.value}"]
    assert not (tmp_path / "r").exists()


def test_a_process_count_of_zero_however_written_is_auto_and_other_digits_are_refused(monkeypatch):
    """'0' was auto but '00' was 0 processes (the launch then failed with ZeroDivisionError), and '²', a digit to
    str.isdigit, passed the check to fail in int() with a raw ValueError."""
    from cifar100lab.config import ConfigError
    monkeypatch.setattr(launch, "visible_gpus", lambda: 0)
    assert launch.choose_processes("00") == launch.choose_processes("0") == 1
    with pytest.raises(ConfigError, match="num_processes must be 'auto' or a whole number"):
        launch.choose_processes("²")


def test_a_run_id_that_would_leave_the_runs_folder_is_refused(tmp_path, monkeypatch):
    """Without run_dir the run id names runs/<run_id>: '../../escape' trained and wrote outside runs/."""
    from cifar100lab.config import ConfigError
    monkeypatch.chdir(tmp_path)
    for bad in ("../../escape", "a/b", ".hidden"):
        with pytest.raises(ConfigError, match="run_id .* must be a plain name"):
            launch.run(dict(run_id=bad, dataset="synthetic", data_root=str(tmp_path / "none")))
    assert list(tmp_path.iterdir()) == []
