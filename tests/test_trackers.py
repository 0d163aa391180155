"""A run's trackers: TensorBoard gets the hyperparameters in the run's own event folder, and only measurements as
scalars (the epoch is the step, not a scalar)."""
import pytest
from conftest import tiny_config

from cifar100lab.train import train


@pytest.mark.slow  # trains two short epochs
def test_tensorboard_logs_hparams_in_the_runs_own_folder_and_no_epoch_scalar(synthetic_root, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    run_dir = tmp_path / "run"
    record = train(tiny_config(synthetic_root, run_dir, log_with="tensorboard", max_steps_per_epoch=2))
    assert record["status"] == "complete"
    folder = run_dir / "tensorboard"
    assert not [p for p in folder.rglob("*") if p.is_dir()]  # one run folder: no time-named second one
    events = EventAccumulator(str(folder)).Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"top1", "train_loss"} <= scalars and not {"epoch", "evaluated"} & scalars, scalars
    assert [s.step for s in events.Scalars("top1")] == [1, 2]
    assert "_hparams_/session_start_info" in events.summary_metadata  # the hyperparameters, in the same file
