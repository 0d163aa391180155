"""Campaigns on Slurm (cifar100lab.executors.slurm): executor settings, run states and the multi-node command
as units, then campaigns against a real single-node Slurm started here (tests/slurm_cluster.py) on synthetic data."""
import contextlib
import io
import json
import os
import subprocess
import time
from types import SimpleNamespace

import pytest
import yaml
from conftest import fake_notebooks, scratch_book
from mariadb_server import LocalMariaDB, MariaDBUnavailable
from slurm_cluster import LocalSlurm, SlurmUnavailable

from cifar100lab import cli, records
from cifar100lab.campaign import load_campaign
from cifar100lab.cli import executor_with_flags
from cifar100lab.config import ConfigError, ExecutorConfig
from cifar100lab.executors.slurm import MIN_TIME_MIN, accelerate_command, run_state, time_limit_min
from cifar100lab.report import i18n

# One run: 3 epochs of 4 steps, so an interrupt after the first checkpoint leaves two epochs to resume.
RUN = {"epochs": 3, "batch_size": 64, "eval_batch_size": 128, "max_steps_per_epoch": 4, "progress": False,
       "overrides": {"lr": 0.05}}
EXECUTOR = {"kind": "slurm", "cpus_per_task": 1, "time_min": 60}


def write_campaign(path, data_root, name, models, **over):
    content = {"name": name, "dataset": "synthetic", "seeds": [0], "executor": EXECUTOR, "models": models,
               "defaults": {**RUN, "data_root": str(data_root)}, **over}
    path.write_text(yaml.safe_dump(content))
    return path


def campaign(yaml_path, runs, book, *extra) -> tuple[int, str]:
    """The campaign command in this process (torch is imported once); its exit code and output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(["campaign", str(yaml_path), "--runs-root", str(runs), "--book", str(scratch_book(book)),
                         "--no-analysis",
                         *extra])
    return code, out.getvalue()


def fake_slurm(tmp_path, monkeypatch, **scripts: str) -> None:
    """Slurm's commands on PATH as shell scripts: ``squeue="exit 0"`` and so on (the text after ``#!/bin/sh``)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool, script in scripts.items():
        (fake / tool).write_text(f"#!/bin/sh\n{script}\n")
        (fake / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")


def job_41_submitted(tmp_path, synthetic_root):
    """A one-run campaign whose run was submitted as job 41: its YAML and runs root."""
    yaml_path = write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"])
    runs = tmp_path / "runs"
    records.atomic_write_json(runs / "c" / "slurm.json", {"runs": {"c-resnet_20-s0": {"job_id": "41", "jobs": ["41"]}}})
    return yaml_path, runs


# ---- units: no Slurm needed ----

def test_executor_block_with_an_unknown_key_fails_before_any_work_naming_the_valid_keys(tmp_path, synthetic_root):
    path = write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"],
                          executor={"kind": "slurm", "partiton": "gpu"})
    with pytest.raises(ConfigError, match=r"partiton.*valid keys: kind, partition"):
        load_campaign(path)
    with pytest.raises(ConfigError, match="kind must be one of local, slurm"):
        ExecutorConfig.from_dict({"kind": "pbs"})


def test_command_line_flags_override_the_yaml_executor_block():
    from_yaml = ExecutorConfig.from_dict({"kind": "local", "partition": "a100", "qos": "normal"})
    args = SimpleNamespace(executor="slurm", partition="h100", account="lab", qos=None, constraint=None,
                           time_min=None)
    executor = executor_with_flags(from_yaml, args)
    assert (executor.kind, executor.partition, executor.account, executor.qos) == ("slurm", "h100", "lab", "normal")


@pytest.mark.parametrize("flags, named", [(("--retry-failed",), "--retry-failed"), (("--wait",), "--wait"),
                                          (("--partition", "gpu", "--time-min", "30"), "--partition, --time-min")])
def test_slurm_flags_on_a_local_campaign_are_one_error_line_and_nothing_trains(tmp_path, synthetic_root, flags, named):
    """`campaign c.yaml --retry-failed` after `--executor slurm` (the YAML says local): the flag was ignored and every
    run trained on the login node."""
    yaml_path = write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"], executor={"kind": "local"})
    code, out = campaign(yaml_path, tmp_path / "runs", tmp_path / "book", *flags)
    assert code == 2 and out == (f"error: {named}: Slurm only, and this campaign runs on this machine (its executor "
                                 f"is local); add --executor slurm, or set executor: {{kind: slurm}} in the YAML\n"), out
    assert not (tmp_path / "runs").exists()


def test_time_limit_is_bench_epoch_time_times_epochs_with_margin_over_the_processes(tmp_path):
    bench = tmp_path / "epoch-times.json"
    bench.write_text(json.dumps({"networks": [{"runs": ["c-a-s0"], "epoch_seconds": 120.0},
                                              {"runs": ["c-b-s0"], "epoch_seconds": 30.0}]}))
    runs = [SimpleNamespace(run_id=r, config=SimpleNamespace(epochs=200)) for r in ("c-a-s0", "c-b-s0")]
    executor = ExecutorConfig.from_dict({"kind": "slurm", "epoch_times": str(bench), "time_margin": 1.5})
    # the slowest run: 120 s × 200 epochs × 1.5 / 8 processes = 75 min, plus 10 min of start-up
    assert time_limit_min(runs, executor, gpus=8) == 85
    assert time_limit_min(runs[1:], executor, gpus=8) == MIN_TIME_MIN  # never below submitit's time-out threshold
    with pytest.raises(ConfigError, match="no epoch time for c-x-s0"):
        time_limit_min([SimpleNamespace(run_id="c-x-s0", config=SimpleNamespace(epochs=1))], executor, gpus=1)


def test_run_state_is_the_live_job_then_the_record_and_a_vanished_job_without_record_is_failed_unless_cancelled():
    assert run_state(None, True, "PENDING") == "queued"
    assert run_state("running", True, "RUNNING") == "running"
    assert run_state("failed", True, "REQUEUED") == "queued"  # a requeued run is alive, whatever its record says
    assert run_state("complete", True, None) == "complete"
    assert run_state("failed", True, "FAILED") == "failed"
    assert run_state("running", True, None) == "failed"  # the job died mid-run (its checkpoint stays)
    assert run_state(None, True, "CANCELLED") == "new"  # scancel'd while pending: it never began
    assert run_state(None, True, "FAILED") == "failed"  # it crashed before its record: not resubmitted on its own
    assert run_state(None, True, None) == "failed"  # no accounting: gone, and nobody can say why
    assert run_state("running", True, "CANCELLED") == "interrupted"  # scancel'd, SIGKILLed before its record
    assert run_state("running", True, "PREEMPTED") == "interrupted"
    assert run_state("running", True, "NODE_FAIL") == "failed"  # killed mid-run by a fault: --retry-failed
    assert run_state("running", True, "TIMEOUT") == "failed"  # its time limit: the same limit would end it again
    assert run_state("interrupted", True, "CANCELLED") == "interrupted"  # scancel'd: the job said where it stopped
    assert run_state("interrupted", True, "PENDING") == "queued"
    assert run_state(None, False, None) == "new"


def test_status_gives_each_reason_for_skipping_once_with_its_runs_and_how_to_submit_them_again(tmp_path,
                                                                                                 synthetic_root):
    from cifar100lab import campaign as C
    from cifar100lab.executors import slurm
    camp = C.load_campaign(write_campaign(tmp_path / "c.yaml", synthetic_root, "sk", ["resnet_20", "resnet_32",
                                                                                       "ghost_resnet_20"]),
                           runs_root=tmp_path / "runs", book_dir=tmp_path / "book")
    offline = "pretrained weights unavailable: cannot reach the hub; pass a local weights file as pretrained=<path>"
    states = {r.run_id: {"state": "complete", "job": "7"} for r in camp.runs}
    for r in camp.runs[:2]:
        states[r.run_id] = {"state": "skipped", "job": None, "reason": offline}
    lines = []
    by_state = slurm.report(camp, states, lines.append)
    assert by_state["skipped"] == [r.run_id for r in camp.runs[:2]]
    skipped = [line for line in lines if line.startswith("  skipped")]
    assert skipped == [f"  skipped: resnet_20-s0, resnet_32-s0 ({offline}; --retry-skipped submits them again)"]


def test_a_failing_squeue_stops_submission_instead_of_resubmitting_live_runs(tmp_path, monkeypatch, synthetic_root):
    fake_slurm(tmp_path, monkeypatch, **{  # sbatch would submit; it must never be reached
        tool: f"echo '{tool}: slurm_load_jobs error: Unable to contact slurm controller' >&2\nexit 1"
        for tool in ("squeue", "sbatch")})
    yaml_path, runs = job_41_submitted(tmp_path, synthetic_root)
    code, out = campaign(yaml_path, runs, tmp_path / "book", "--retry-failed")  # job 41 unseen is not job 41 gone
    assert code == 2 and "Unable to contact slurm controller" in out and "Nothing was submitted" in out, out
    assert records.read_json(runs / "c" / "slurm.json")["runs"]["c-resnet_20-s0"]["jobs"] == ["41"]


@pytest.mark.parametrize("over, why", [
    ({}, "needs a CUDA device, and its Slurm jobs ask for none"),  # a CPU job
    ({"num_processes": 2}, "runs one process per run, not 2"),  # each job trains on both its GPUs
])
def test_graphed_runs_that_a_job_cannot_replay_are_refused_before_any_submission(tmp_path, monkeypatch,
                                                                                 synthetic_root, over, why):
    fake_slurm(tmp_path, monkeypatch, squeue="exit 0", sbatch="echo submitted >&2\nexit 1")
    yaml_path = write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"], **over)
    text = yaml_path.read_text().replace("max_steps_per_epoch: 4", "max_steps_per_epoch: 4\n  cuda_graph: true")
    yaml_path.write_text(text)
    code, out = campaign(yaml_path, tmp_path / "runs", tmp_path / "book")
    assert code == 2 and why in out and "nothing was submitted" in out and "submitted\n" not in out, out


def test_a_job_killed_mid_run_by_a_fault_is_failed_with_the_reason_and_is_submitted_again_only_with_retry_failed(
        tmp_path, monkeypatch, synthetic_root):
    fake_slurm(tmp_path, monkeypatch, squeue="exit 0",  # no live job
               sacct="echo '41|NODE_FAIL'", sbatch="exit 1")  # sbatch: never reached without --retry-failed
    yaml_path, runs = job_41_submitted(tmp_path, synthetic_root)
    records.save(runs / "c" / "c-resnet_20-s0", records.start(runs / "c" / "c-resnet_20-s0", run_id="c-resnet_20-s0"))
    code, out = campaign(yaml_path, runs, tmp_path / "book", "--executor", "slurm")  # its node died: it said nothing
    assert code == 1 and "nothing to submit" in out, out
    assert ("  failed: resnet_20-s0: job 41 ended (NODE_FAIL) before the run's record was final; --retry-failed "
            "submits it again, to resume from its last checkpoint if it wrote one") in out, out


@pytest.mark.parametrize("began, line", [
    (None, "  new: resnet_20-s0: job 41 was cancelled before it started; the next submission submits it again"),
    ("record", "  interrupted: resnet_20-s0: job 41 was cancelled before the run could record where it stopped; the "
               "next submission starts it over from epoch 1: no checkpoint was saved yet"),  # scancel's SIGKILL came
    ("checkpoint", "  interrupted: resnet_20-s0: job 41 was cancelled before the run could record where it stopped; "
                   "the next submission resumes from its last checkpoint"),  # before the record (and a checkpoint)
], ids=["while-pending", "mid-run", "mid-run-checkpointed"])
def test_a_cancelled_job_is_submitted_again_by_the_next_plain_submission(tmp_path, monkeypatch, synthetic_root,
                                                                         began, line):
    fake_slurm(tmp_path, monkeypatch, squeue="exit 0",  # no live job
               sacct="echo '41|CANCELLED by 0'\necho '42|PENDING'",
               sbatch=f"echo \"$@\" >> {tmp_path / 'sbatch.log'}\necho 'Submitted batch job 42'")
    yaml_path, runs = job_41_submitted(tmp_path, synthetic_root)
    if began:
        records.save(runs / "c" / "c-resnet_20-s0", records.start(runs / "c" / "c-resnet_20-s0", run_id="c-resnet_20-s0"))
    if began == "checkpoint":
        (runs / "c" / "c-resnet_20-s0" / records.CHECKPOINT).write_bytes(b"")  # only whether one is there counts
    code, out = campaign(yaml_path, runs, tmp_path / "book", "--status")
    assert code == 0 and line in out, out
    assert not (tmp_path / "sbatch.log").exists()
    code, out = campaign(yaml_path, runs, tmp_path / "book", "--executor", "slurm")  # no --retry-failed needed
    assert code == 0 and "submitted 1 run(s) as one job array: 42" in out, out
    assert records.read_json(runs / "c" / "slurm.json")["runs"]["c-resnet_20-s0"]["jobs"] == ["41", "42"]


@pytest.mark.parametrize("flags", [("--status",), ("--executor", "slurm")], ids=["status", "submit"])
def test_a_damaged_slurm_state_is_one_error_line_exit_2_and_nothing_is_written(tmp_path, monkeypatch, synthetic_root,
                                                                               flags):
    fake_slurm(tmp_path, monkeypatch, squeue="exit 1", sacct="exit 1", sbatch="exit 1")  # never reached: the
    # state is read first
    yaml_path = write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"])
    state = tmp_path / "runs" / "c" / "slurm.json"
    state.parent.mkdir(parents=True)
    state.write_bytes(b'{"runs": {"c-resnet_20-s0": {"job_')  # torn by a full disk or a killed editor
    code, out = campaign(yaml_path, tmp_path / "runs", tmp_path / "book", *flags)
    assert code == 2 and out.count("\n") == 1 and out.startswith("error: ") and "slurm.json" in out, out
    assert state.read_bytes() == b'{"runs": {"c-resnet_20-s0": {"job_'
    assert not (state.parent / records.MANIFEST).exists()  # nothing written before the refusal


NO_CONFIG = ("echo '{tool}: error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host' >&2\n"
             "echo '{tool}: fatal: Could not establish a configuration source' >&2\nexit 1")  # no Slurm here


@pytest.mark.parametrize("tools, why", [
    ({"squeue": NO_CONFIG.format(tool="squeue"), "sbatch": NO_CONFIG.format(tool="sbatch")},
     "`squeue --me -h -o %i` failed (squeue: fatal: Could not establish a configuration source); is Slurm reachable "
     "from here? Nothing was submitted."),
    ({"squeue": "exit 0"}, "--executor slurm needs Slurm's sbatch on PATH"),
], ids=["unreachable", "no-sbatch"])
def test_a_slurm_that_cannot_take_jobs_is_one_error_line_before_the_data_or_the_manifest_is_written(
        tmp_path, monkeypatch, tools, why):
    """Its first submission asked Slurm nothing before sbatch: a submitit traceback, after campaign.json, the
    jobs' pickles and run files were written (and the data before the check for sbatch)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, script in tools.items():
        (bin_dir / tool).write_text(f"#!/bin/sh\n{script}\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))  # Slurm's commands only: this machine's would be asked otherwise
    yaml_path = write_campaign(tmp_path / "c.yaml", tmp_path / "data", "c", ["resnet_20"])
    code, out = campaign(yaml_path, tmp_path / "runs", tmp_path / "book", "--executor", "slurm")
    assert code == 2 and out.startswith(f"error: {why}") and out.count("\n") == 1, out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "book", "c.yaml"]  # the book as it was given
    assert [p.name for p in (tmp_path / "book").iterdir()] == ["_toc.yml"]


def test_submitting_while_a_local_campaign_process_runs_the_campaign_is_one_error_line(tmp_path, monkeypatch,
                                                                                        synthetic_root):
    """Its queued runs have no record yet: the jobs would train them beside it, into the same folders."""
    from conftest import hold_lock

    from cifar100lab.executors import local
    fake_slurm(tmp_path, monkeypatch, squeue="exit 0", sbatch="echo 'Submitted batch job 41'")
    yaml_path = write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"])
    runs = tmp_path / "runs"
    holder = hold_lock(local.campaign_lock(load_campaign(yaml_path, runs_root=runs), runs))
    try:
        code, out = campaign(yaml_path, runs, tmp_path / "book", "--executor", "slurm")
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and out.startswith("error: a campaign process on this machine is running campaign c (pid "), out
    assert out.endswith("submit when it ends (a run it stopped resumes on Slurm)\n") and out.count("\n") == 1, out
    assert not (runs / "c" / "slurm.json").exists() and not (runs / "c" / "logs").exists()


def test_jobs_that_sbatch_refuses_are_one_error_line_and_leave_none_of_their_files(tmp_path, monkeypatch,
                                                                                  synthetic_root):
    fake_slurm(tmp_path, monkeypatch, squeue="exit 0", sbatch=(
        "echo 'sbatch: error: Invalid partition name specified' >&2\n"
        "echo 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2\nexit 1"))
    yaml_path = write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"])
    code, out = campaign(yaml_path, tmp_path / "runs", tmp_path / "book", "--executor", "slurm", "--partition", "gpu")
    assert code == 2 and out == ("error: Slurm could not take the jobs: sbatch: error: Batch job submission failed: "
                                 "Invalid partition name specified; nothing was submitted\n"), out
    left = sorted(str(p.relative_to(tmp_path / "runs")) for p in (tmp_path / "runs").rglob("*") if p.is_file())
    assert left == ["c/.slurm.json.lock"]  # no campaign.json, slurm.json, job pickles or run files


def test_multinode_task_launches_accelerate_with_the_rendezvous_from_the_slurm_environment(monkeypatch):
    import submitit
    from accelerate.commands.launch import launch_command_parser
    for key, value in {"SUBMITIT_EXECUTOR": "slurm", "SLURM_JOB_ID": "77", "SLURM_JOB_NUM_NODES": "2",
                       "SLURM_NODEID": "1", "SLURM_PROCID": "1", "SLURM_JOB_NODELIST": "gpu[07-08]"}.items():
        monkeypatch.setenv(key, value)
    executor = ExecutorConfig.from_dict({"kind": "slurm", "nodes": 2, "port": 29511})
    cmd, env = accelerate_command("logs/r.run.json", executor, gpus=8, job_env=submitit.JobEnvironment())
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"]
    launch = launch_command_parser().parse_args(cmd[3:])  # accelerate's own parser accepts every flag
    assert (launch.num_machines, launch.machine_rank, launch.main_process_ip, launch.main_process_port,
            launch.num_processes, launch.multi_gpu) == (2, 1, "gpu07", 29511, 16, True)
    assert launch.module and launch.training_script == "cifar100lab"
    assert launch.training_script_args == ["train", "logs/r.run.json"]
    assert env["NUM_NODES"] == "2"  # the record's hardware.nodes


@pytest.mark.parametrize("code, status, rendered", [(0, "complete", True), (3, "skipped", True), (1, "failed", False)])
def test_node_0_renders_the_notebook_after_accelerate_launch_trained_or_skipped_the_run(tmp_path, monkeypatch, code,
                                                                                       status, rendered):
    """`train` exits 3 for a run skipped for want of its weights; node 0 took that as a failed launch and rendered no
    notebook for it, where it had rendered one (saying why it was skipped) while `train` exited 0 on a skip."""
    import submitit

    from cifar100lab.executors import slurm
    monkeypatch.chdir(tmp_path)
    run = SimpleNamespace(run_id="r", run_dir=tmp_path / "r")
    end = {"complete": records.finish, "skipped": records.skip, "failed": records.fail}[status]

    def launched(cmd, env):  # the trainer, on every node: the run's record, then `train`'s exit status
        record = records.start(run.run_dir, run_id="r")
        records.save(run.run_dir, end(record, "why") if status != "complete" else end(record))
        return SimpleNamespace(returncode=code)
    monkeypatch.setattr(submitit, "JobEnvironment", lambda: SimpleNamespace(global_rank=0, job_id="7", num_nodes=2,
                                                                            hostnames=["n1", "n2"]))
    monkeypatch.setattr(slurm, "accelerate_command", lambda *a, **k: (["launch"], {}))
    monkeypatch.setattr(slurm.subprocess, "run", launched)
    notebooks = []
    monkeypatch.setattr(slurm.RunJob, "_notebook", lambda job, processes: notebooks.append(processes) or status)
    executor = ExecutorConfig.from_dict({"kind": "slurm", "nodes": 2})
    job = slurm.RunJob(run, "train.ipynb", str(tmp_path / "logs"), str(tmp_path), executor, gpus=1)
    if status == "failed":
        with pytest.raises(RuntimeError, match="r failed"):
            job()
    else:
        assert job() == status
    assert notebooks == ([1] if rendered else [])
    assert records.load(run.run_dir)["status"] == status


@pytest.mark.parametrize("code, status, kernel_dies", [(3, "skipped", False), (0, "complete", False),
                                                       (0, "complete", True)])
def test_node_0s_render_of_a_multinode_run_shows_its_record_and_adds_no_attempt(tmp_path, monkeypatch, capsys, code,
                                                                               status, kernel_dies):
    """The render (the run's notebook on one process, after `accelerate launch` on every node) called the trainer
    again: a skipped fine-tune was skipped a second time (two skipped attempts for one job), and a run complete on
    the launch's 2 processes was refused on 1 and its record made failed; a render whose kernel died made the
    complete run's record failed too. The notebook runs in this process here, under the kernel's environment, as
    its cell does (`launch.run`)."""
    import submitit

    from cifar100lab import launch
    from cifar100lab.attempt import start_record
    from cifar100lab.config import TrainConfig, resolve
    from cifar100lab.executors import slurm
    from cifar100lab.runs import Run
    from cifar100lab.train import train
    monkeypatch.chdir(tmp_path)
    model = {"skipped": "mlp_mixer_b16", "complete": "resnet_20"}[status]  # offline (conftest): no hub weights
    plan = resolve(TrainConfig(model=model, dataset="synthetic", run_dir=str(tmp_path / "r"), run_id="r", epochs=2,
                               overrides={"warmup_epochs": 0}, progress=False))
    run = Run("r", plan, tmp_path / "book" / "r.ipynb")

    def launched(cmd, **kwargs):  # `accelerate launch` of the trainer on 2 processes: the record it leaves, its status
        if cmd != ["launch"]:  # git, asked for the record's commit
            return subprocess_run(cmd, **kwargs)
        if status == "skipped":
            assert train(plan)["status"] == "skipped"
        else:
            record = {**start_record(plan), "hardware": {"count": 2}}
            records.save(run.run_dir, records.finish(record, epochs_done=2))
        return SimpleNamespace(returncode=code)

    def notebook(run, notebook, slot, log_dir, num_processes):  # papermill: the cell's exit status and error
        with monkeypatch.context() as kernel:
            for key, value in slot.env.items():
                kernel.setenv(key, value)
            try:
                launch.run(run.config, num_processes=num_processes)
            except Exception as e:
                return 1, f"{type(e).__name__}: {e}\n"
        return (1, "DeadKernelError: Kernel died\n") if kernel_dies else (0, "")
    monkeypatch.setattr(submitit, "JobEnvironment", lambda: SimpleNamespace(global_rank=0, job_id="7", num_nodes=2,
                                                                            hostnames=["n1", "n2"]))
    monkeypatch.setattr(slurm, "accelerate_command", lambda *a, **k: (["launch"], {}))
    subprocess_run = subprocess.run
    monkeypatch.setattr(slurm.subprocess, "run", launched)
    monkeypatch.setattr(slurm, "execute_notebook", notebook)
    executor = ExecutorConfig.from_dict({"kind": "slurm", "nodes": 2})
    assert slurm.RunJob(run, "train.ipynb", str(tmp_path / "logs"), str(tmp_path), executor, gpus=1)() == status
    record = records.load(run.run_dir)
    assert [a["status"] for a in records.attempts_of(record)] == [status], record["reason"]
    assert record["slurm"]["job_id"] == "7"
    if kernel_dies:  # the job's log says the page failed, in one line
        assert ("r: its notebook page could not be made (DeadKernelError: Kernel died); the run's record is as the "
                "launch left it") in capsys.readouterr().err


def test_a_render_only_notebook_of_a_run_without_a_record_is_one_error_line_and_writes_nothing(tmp_path, monkeypatch):
    from cifar100lab import launch
    monkeypatch.setenv(launch.RENDER_ONLY_ENV, "1")
    config = {"model": "resnet_20", "dataset": "synthetic", "run_dir": str(tmp_path / "r"), "epochs": 2}
    with pytest.raises(ConfigError, match=r"r holds no run record to show \(CIFAR100LAB_RENDER_ONLY is set"):
        launch.run(config, num_processes=1)
    assert list(tmp_path.iterdir()) == []


# ---- a local campaign beside the Slurm jobs of the same campaign ----


def runs_submitted_as(tmp_path, synthetic_root, jobs: list[str]):
    """A campaign with one run per job (seeds 0, 1, …), each submitted as that job: its YAML and runs root."""
    yaml_path = write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"], seeds=list(range(len(jobs))))
    runs = tmp_path / "runs"
    records.atomic_write_json(runs / "c" / "slurm.json", {"runs": {
        f"c-resnet_20-s{seed}": {"job_id": job, "jobs": [job]} for seed, job in enumerate(jobs)}})
    return yaml_path, runs


def test_a_local_campaign_leaves_runs_to_their_live_slurm_jobs_and_trains_those_whose_job_ended_while_queued(
        tmp_path, monkeypatch, synthetic_root):
    """A queued job holds no run lock yet: the local campaign trained its run too, and the job then found the run
    complete (or both trained it at once). Slurm says which jobs live; one cancelled while queued blocks nothing."""
    fake_slurm(tmp_path, monkeypatch, squeue="echo '41|PENDING'\necho '42|RUNNING'", sacct="echo '43|CANCELLED by 0'")
    executed = fake_notebooks(monkeypatch)
    yaml_path, runs = runs_submitted_as(tmp_path, synthetic_root, ["41", "42", "43"])
    code, out = campaign(yaml_path, runs, tmp_path / "book", "--executor", "local")
    assert executed == ["c-resnet_20-s2"], out
    assert "c-resnet_20-s0: left to Slurm job 41 (pending), not run here (`scancel 41` first to run it here)\n" in out
    assert "c-resnet_20-s1: left to Slurm job 42 (running), not run here (`scancel 42` first to run it here)\n" in out
    assert code == 3 and "complete 1, already done 0, skipped 0, failed 0, left to Slurm 2\n" in out, out


def test_force_on_a_run_that_a_live_slurm_job_will_train_is_one_error_line_naming_the_job_to_scancel(
        tmp_path, monkeypatch, synthetic_root):
    """--force trained the run here, and the job trained it again over the result."""
    fake_slurm(tmp_path, monkeypatch, squeue="echo '41|PENDING'", sacct="exit 0")
    executed = fake_notebooks(monkeypatch)
    yaml_path, runs = runs_submitted_as(tmp_path, synthetic_root, ["41", "42"])
    records.atomic_write_json(runs / "c" / "c-resnet_20-s0" / records.RECORD, {"status": "complete"})
    code, out = campaign(yaml_path, runs, tmp_path / "book", "--executor", "local", "--force")
    assert code == 2 and out.endswith(
        "error: --force would train 1 run(s) here that live Slurm jobs will train too (c-resnet_20-s0: job 41, "
        "pending); `scancel 41` first, then run again (nothing was started)\n") and out.count("error") == 1, out
    assert executed == [] and records.load(runs / "c" / "c-resnet_20-s0") == {"status": "complete"}  # not moved


def test_where_slurm_cannot_be_asked_a_local_campaign_names_the_recorded_jobs_and_trains_their_runs(
        tmp_path, monkeypatch, synthetic_root):
    """A job id in slurm.json cannot be checked from a machine without Slurm: it must not block the run for good,
    and the user learns which jobs would train it twice if they still live."""
    fake_slurm(tmp_path, monkeypatch, sacct="exit 1",
               squeue="echo 'squeue: fatal: Could not establish a configuration source' >&2\nexit 1")
    executed = fake_notebooks(monkeypatch)
    yaml_path, runs = runs_submitted_as(tmp_path, synthetic_root, ["41"])
    code, out = campaign(yaml_path, runs, tmp_path / "book", "--executor", "local")
    assert code == 0 and executed == ["c-resnet_20-s0"], out
    assert ("warning: Slurm job(s) 41 of runs to do cannot be checked: `squeue --me -h -r -o %i|%T` failed (squeue: "
            "fatal: Could not establish a configuration source); is Slurm reachable from here? Their runs are "
            "trained here; if a job is still queued or running, `scancel` it, or it trains its run again\n") in out


def test_a_submission_that_finds_a_local_campaign_started_since_its_check_submits_nothing(tmp_path, monkeypatch,
                                                                                          synthetic_root):
    """The local campaign looks at slurm.json once, under its campaign lock: a submission that had passed its
    check before the campaign started would add jobs for runs the campaign trains."""
    from conftest import hold_lock

    from cifar100lab.executors import local, slurm
    fake_slurm(tmp_path, monkeypatch, squeue="exit 0", sbatch=f"echo x >> {tmp_path / 'sbatch.log'}\n"
                                                             f"echo 'Submitted batch job 41'")
    camp = load_campaign(write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"]),
                         runs_root=tmp_path / "runs")
    holder = hold_lock(local.campaign_lock(camp, tmp_path / "runs"))
    try:
        with pytest.raises(ConfigError, match="a campaign process on this machine is running campaign c"):
            slurm.submit(camp, camp.executor, tmp_path / "runs", tmp_path / "train.ipynb", log=lambda *_: None)
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "sbatch.log").exists() and not (tmp_path / "runs" / "c" / "slurm.json").exists()


# ---- against a real single-node Slurm ----

def test_local_slurm_that_cannot_start_says_exactly_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed
    with pytest.raises(SlurmUnavailable, match=r"not installed: munged, slurmctld.*apt-get install -y slurm-wlm munge"):
        LocalSlurm(tmp_path / "cluster").start()


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """munged, slurmctld and slurmd on localhost; jobs are cancelled before the daemons stop."""
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except SlurmUnavailable as e:
        cluster.stop()
        if os.environ.get("CI"):
            pytest.fail(f"the local Slurm did not start: {e}")
        pytest.skip(f"the local Slurm did not start: {e}")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = cluster.env["SLURM_CONF"]
    yield cluster
    cluster.stop()
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old


def squeue() -> list[str]:
    return subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True).stdout.split()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; queue: {squeue()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def submitted(slurm, tmp_path_factory, synthetic_root):
    """Two campaigns submitted at once: `three` (2 good runs and a diverging one) and `resume` (the same
    config as three's resnet_20 run); resume's job is interrupted with submitit's preemption signal after
    its first checkpoint. Then everything is waited for."""
    base = tmp_path_factory.mktemp("slurm-campaigns")
    runs, book = base / "runs", base / "book"
    resume = write_campaign(base / "resume.yaml", synthetic_root, "resume", ["resnet_20"])
    three = write_campaign(base / "three.yaml", synthetic_root, "three", [
        "resnet_20", {"name": "other", "model": "resnet_20", "epochs": 2},
        {"name": "diverging", "model": "resnet_20", "overrides": {"lr": 1.0e+30}}])
    cancel = write_campaign(base / "cancel.yaml", synthetic_root, "cancel",
                            [{"name": "long", "model": "resnet_20", "epochs": 60}])
    t0 = time.time()
    campaign(cancel, runs, book)
    first_resume = campaign(resume, runs, book)
    first = campaign(three, runs, book)
    state_after_first = records.read_json(runs / "three" / "slurm.json")
    queue_after_first = squeue()
    again = campaign(three, runs, book)
    job = records.read_json(runs / "resume" / "slurm.json")["runs"]["resume-resnet_20-s0"]["job_id"]
    # its first checkpoint, not its first metrics row: the row comes first, and a signal between the two (seen
    # with two test workers on the cores) requeued a run with nothing to resume from
    checkpoint = runs / "resume" / "resume-resnet_20-s0" / records.CHECKPOINT
    wait_for(checkpoint.exists, 240, "the first checkpoint of the resume run")
    subprocess.run(["scancel", "--signal=USR2", job], check=True)  # what Slurm sends before preemption/time-out
    cancelled = scancel_when_training(runs / "cancel", "cancel-long-s0")
    final = campaign(three, runs, book, "--status", "--wait")
    final_resume = campaign(resume, runs, book, "--status", "--wait")
    print(f"slurm campaigns: {time.time() - t0:.0f}s")
    return SimpleNamespace(runs=runs, book=book, three=three, first=first, first_resume=first_resume,
                           state_after_first=state_after_first, queue_after_first=queue_after_first, again=again,
                           final=final, final_resume=final_resume, cancelled=cancelled, cancel=cancel)


def scancel_when_training(campaign_runs, run_id) -> SimpleNamespace:
    """A plain ``scancel`` (SIGTERM, then SIGKILL after KillWait) once the run has trained an epoch and saved its
    checkpoint; the run's metrics rows when it was sent, once the job has left the queue, and 2 s after that."""
    job = records.read_json(campaign_runs / "slurm.json")["runs"][run_id]["job_id"]
    metrics = campaign_runs / run_id / records.METRICS

    def rows() -> int:
        return len(metrics.read_text().splitlines()) if metrics.exists() else 0
    # the checkpoint too, not the first metrics row alone: the row comes first, and a cancel between the two (seen
    # with four test workers on two cores) rightly says "starts it over from epoch 1: no checkpoint was saved yet"
    checkpoint = campaign_runs / run_id / records.CHECKPOINT
    wait_for(lambda: rows() >= 1 and checkpoint.exists(), 240, f"the first epoch and checkpoint of {run_id}")
    at_cancel = rows()
    subprocess.run(["scancel", job], check=True)
    wait_for(lambda: job not in squeue(), 60, f"job {job} to end after scancel")
    at_end = rows()
    time.sleep(2)
    return SimpleNamespace(at_cancel=at_cancel, at_end=at_end, later=rows(),
                           record=records.load(campaign_runs / run_id))


def test_scancel_stops_the_training_kernel_at_once_and_the_next_submission_resumes_the_run(submitted):
    c = submitted.cancelled
    assert c.at_end <= c.at_cancel + 1 and c.later == c.at_end, c  # no epoch after the cancel but the one under way
    assert c.record["status"] == "interrupted", c.record  # stopped, not failed
    assert c.record["reason"] == (f"stopped by Slurm (its job was cancelled, preempted or reached its time limit) "
                                  f"in epoch {c.at_end + 1} of 60; submitting the campaign again resumes from its "
                                  f"last checkpoint")
    assert i18n.reason(c.record["reason"])["zh"] == (f"被 Slurm 停止（作业被取消、抢占或到达时间上限），于第 {c.at_end + 1} 个 epoch（共 60 个）；"
                                                     f"再次提交实验配置将从最后一个检查点继续")  # the book's Chinese
    code, out = campaign(submitted.cancel, submitted.runs, submitted.book, "--status")
    assert code == 0 and next(ln for ln in out.splitlines() if ln.startswith("long-s0 ")).split()[1] == "interrupted"
    assert f"  interrupted: long-s0: {c.record['reason']}" in out, out
    code, out = campaign(submitted.cancel, submitted.runs, submitted.book)  # no --retry-failed
    state = records.read_json(submitted.runs / "cancel" / "slurm.json")["runs"]["cancel-long-s0"]
    subprocess.run(["scancel", state["job_id"]])  # submitting was the point; no need to run it
    assert "submitted 1 run(s)" in out, out
    assert len(state["jobs"]) == 2


def test_slurm_campaign_of_three_runs_completes_two_fails_one_and_exits_nonzero(submitted):
    code, out = submitted.first
    assert code == 0 and "submitted 3 run(s)" in out, out
    code, out = submitted.final
    assert code == 1, out
    assert "complete 2, failed 1" in out, out
    recs = {r["run_id"]: r for r in records.load_records(submitted.runs / "three")}
    state = records.read_json(submitted.runs / "three" / "slurm.json")["runs"]
    assert recs["three-diverging-s0"]["status"] == "failed" and "loss became" in recs["three-diverging-s0"]["reason"]
    for rid in ("three-resnet_20-s0", "three-other-s0"):
        assert recs[rid]["status"] == "complete", recs[rid].get("reason")
        assert recs[rid]["slurm"]["job_id"] == state[rid]["job_id"]  # the record names the job that made it
        assert (submitted.book / "runs" / f"{rid}.ipynb").exists()  # the same notebook as a local run's


def test_second_submission_while_jobs_are_alive_submits_nothing(submitted):
    code, out = submitted.again
    assert "nothing to submit" in out and "submitted" not in out.replace("nothing to submit", ""), out
    assert records.read_json(submitted.runs / "three" / "slurm.json") == submitted.state_after_first
    assert len(submitted.queue_after_first) >= 3


def test_preempted_job_requeues_and_resumes_to_the_uninterrupted_runs_metrics(submitted):
    code, out = submitted.final_resume
    assert code == 0 and "complete 1" in out, out
    resumed = records.read_json(submitted.runs / "resume" / "resume-resnet_20-s0" / records.RECORD)
    plain = records.read_json(submitted.runs / "three" / "three-resnet_20-s0" / records.RECORD)
    assert resumed["slurm"]["requeues"] >= 1 and resumed["resumed_from_epoch"] >= 1
    assert resumed["final"] == plain["final"] and resumed["best"] == plain["best"]
    curves = [records.read_metrics(submitted.runs / c / f"{c}-resnet_20-s0") for c in ("resume", "three")]
    assert [r["top1"] for r in curves[0]] == [r["top1"] for r in curves[1]]
    assert [r["train_loss"] for r in curves[0]] == [r["train_loss"] for r in curves[1]]


def test_failed_runs_are_submitted_again_only_with_retry_failed(submitted):
    code, out = campaign(submitted.three, submitted.runs, submitted.book)
    assert code == 1 and "nothing to submit" in out, out  # the failure is reported, not resubmitted
    code, out = campaign(submitted.three, submitted.runs, submitted.book, "--retry-failed")
    state = records.read_json(submitted.runs / "three" / "slurm.json")["runs"]
    subprocess.run(["scancel", state["three-diverging-s0"]["job_id"]])  # submitting was the point; no need to run it
    assert "submitted 1 run(s)" in out, out
    assert len(state["three-diverging-s0"]["jobs"]) == 2
    assert state["three-resnet_20-s0"] == submitted.state_after_first["runs"]["three-resnet_20-s0"]


def test_status_reports_each_runs_state_and_job(submitted):
    code, out = campaign(submitted.three, submitted.runs, submitted.book, "--status")
    state = records.read_json(submitted.runs / "three" / "slurm.json")["runs"]
    assert any(ln.split()[:3] == ["run", "state", "job"] for ln in out.splitlines()), out  # a header names them
    line = next(ln for ln in out.splitlines() if ln.startswith("other-s0 "))  # the id without the campaign's name
    assert line.split()[:4] == ["other-s0", "complete", state["three-other-s0"]["job_id"], "2/2"]


def test_a_local_campaign_leaves_a_run_to_its_queued_job_and_trains_it_once_the_job_is_cancelled(
        slurm, tmp_path, monkeypatch, synthetic_root):
    """squeue's own words for a job array's task that waits for its begin time; then the same job scancel'd."""
    yaml_path = write_campaign(tmp_path / "c.yaml", synthetic_root, "c", ["resnet_20"],
                               executor={**EXECUTOR, "extra": {"begin": "now+1hour"}})
    runs = tmp_path / "runs"
    code, out = campaign(yaml_path, runs, tmp_path / "book")
    job = records.read_json(runs / "c" / "slurm.json")["runs"]["c-resnet_20-s0"]["job_id"]
    assert code == 0 and f"submitted 1 run(s) as one job array: {job}" in out, out
    executed = fake_notebooks(monkeypatch)
    try:
        code, out = campaign(yaml_path, runs, tmp_path / "book", "--executor", "local")
        assert code == 3 and executed == [] and f"c-resnet_20-s0: left to Slurm job {job} (pending)" in out, out
    finally:
        subprocess.run(["scancel", job], check=True)
    wait_for(lambda: job not in squeue(), 60, f"job {job} to leave the queue after scancel")
    code, out = campaign(yaml_path, runs, tmp_path / "book", "--executor", "local")
    assert code == 0 and executed == ["c-resnet_20-s0"] and "left to Slurm" not in out, out


# ---- tune: two Slurm workers on one study in a real MariaDB server ----


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    server = LocalMariaDB(tmp_path_factory.mktemp("mariadb"))
    try:
        server.start()
    except MariaDBUnavailable as e:
        server.stop()
        if os.environ.get("CI"):
            pytest.fail(f"the local MariaDB did not start: {e}")
        pytest.skip(f"the local MariaDB did not start: {e}")
    yield server
    server.stop()


def test_two_slurm_workers_share_one_study_in_a_mariadb_server_each_trial_run_once(slurm, mariadb, tmp_path,
                                                                                    synthetic_root):
    import optuna
    url = mariadb.database("tune_share")
    study_file = tmp_path / "share.yaml"
    study_file.write_text(yaml.safe_dump({
        "model": "resnet_20", "dataset": "synthetic", "n_trials": 2, "jobs": 2, "seeds": [0], "executor": EXECUTOR,
        "defaults": {"epochs": 1, "val_fraction": 0.25, "train_subset": 128, "test_subset": 32, "batch_size": 16,
                     "eval_batch_size": 64, "max_steps_per_epoch": 2, "progress": False,
                     "data_root": str(synthetic_root)},
        "search": {"lr": {"low": 0.01, "high": 0.1, "log": True}}}))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = cli.main(["tune", str(study_file), "--executor", "slurm", "--storage", url,
                         "--runs-root", str(tmp_path / "runs")])
    assert code == 0 and "2 Slurm worker(s) submitted" in out.getvalue(), out.getvalue()
    assert "s3cret" not in out.getvalue()  # the storage's password is never printed
    wait_for(lambda: not squeue(), 900, "the two tune workers")
    trials = optuna.load_study(study_name="share", storage=url).get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"], [t.user_attrs for t in trials]
    assert sorted(t.user_attrs["run_id"] for t in trials) == ["share-t0000", "share-t0001"]
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # one trial each: both pulled from the shared study
    for t in trials:
        record = records.load(tmp_path / "runs" / "share" / t.user_attrs["run_id"])
        assert record["status"] == "complete" and record["final"]["top1"] == t.value


def test_a_job_stamps_its_id_only_on_a_record_it_added_an_attempt_to_and_never_while_another_trains(tmp_path):
    """A job refused by the training lock (another process trains the run) or finding the run complete rewrote the
    record anyway with its own job id, reading and writing around the trainer's record."""
    from cifar100lab import locks
    from cifar100lab.executors.slurm import note_job
    job = SimpleNamespace(job_id="77", num_nodes=1, hostnames=["n1"])
    run = tmp_path / "run"
    record = {"run_id": "run", "status": "complete", "attempts": [{"status": "complete"}]}
    records.atomic_write_json(run / records.RECORD, record)
    note_job(run, job, attempts_before=1)  # the job added no attempt: the run was someone else's
    assert records.load(run) == record
    with locks.lock(run / locks.TRAINING_LOCK):  # another process trains it now
        note_job(run, job, attempts_before=0)
    assert records.load(run) == record
    note_job(run, job, attempts_before=0)  # this job's attempt
    assert records.load(run)["slurm"]["job_id"] == "77"
    note_job(tmp_path / "never-started", job, attempts_before=0)
    assert not (tmp_path / "never-started").exists()


def test_a_stopped_run_whose_settings_were_edited_is_named_and_not_submitted(tmp_path, monkeypatch, synthetic_root):
    """Its job would start the notebook only for the trainer to refuse the checkpoint (other settings)."""
    fake_slurm(tmp_path, monkeypatch, squeue="exit 0", sacct="echo '41|CANCELLED by 0'",
               sbatch=f"echo \"$@\" >> {tmp_path / 'sbatch.log'}\necho 'Submitted batch job 42'")
    yaml_path, runs = job_41_submitted(tmp_path, synthetic_root)
    (run,) = load_campaign(yaml_path, runs_root=runs).runs
    records.save(run.run_dir, records.start(run.run_dir, run_id=run.run_id))
    records.atomic_write_json(run.run_dir / records.CONFIG, {**run.config.to_dict(), "epochs": run.config.epochs + 5})
    (run.run_dir / records.CHECKPOINT).write_bytes(b"epoch 1")
    code, out = campaign(yaml_path, runs, tmp_path / "book", "--executor", "slurm")
    assert f"c-resnet_20-s0: not resumed: its checkpoint was trained with other settings than the campaign now " \
           f"asks (epochs: {run.config.epochs + 5} → {run.config.epochs}); put them back to resume it, or move its " \
           f"folder aside to start it afresh" in out, out
    assert "nothing to submit" in out and not (tmp_path / "sbatch.log").exists()
