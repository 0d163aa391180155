"""The records explorer's widgets, driven as a person clicks them (in this process: no kernel, no browser)."""
import pytest
from conftest import tiny_config

from cifar100lab.report.explorer import OUTSIDE, explorer


@pytest.fixture(scope="module")
def runs(synthetic_root, tmp_path_factory):
    from cifar100lab.train import train
    root = tmp_path_factory.mktemp("runs")
    for run_dir, extra in ((root / "c" / "in-campaign", {"campaign": "c"}), (root / "alone", {"seed": 1})):
        train(tiny_config(synthetic_root, run_dir, epochs=1, max_steps_per_epoch=2, train_subset=128,
                          test_subset=64, run_id=run_dir.name, **extra))
    return root


def controls(box):
    (campaign, metric, _), runs = box.children[0].children, box.children[1]
    return campaign, runs, metric


def static_view(box) -> str:
    return box._repr_mimebundle_()["text/html"]


def test_explorer_offers_the_runs_made_outside_a_campaign_and_redraws_on_each_pick(runs):
    box = explorer(runs)
    campaign, picked, metric = controls(box)
    assert list(campaign.options) == ["c", OUTSIDE]
    assert [label for label, _ in picked.options] == ["in-campaign"]
    first = static_view(box)
    assert "in-campaign" in first and "alone" not in first
    campaign.value = OUTSIDE
    assert [label for label, _ in picked.options] == ["alone"]
    assert "alone" in static_view(box) and static_view(box) != first
    metric.value = "test_loss"
    assert 'alt="test_loss by epoch"' in static_view(box)


def test_the_live_view_is_one_html_widget_equal_to_the_static_view_and_no_output_widget(runs):
    """nbclient (papermill, Voila) answers an Output widget on the shell channel while it waits there for the
    cell's reply, and sometimes hung (nbclient issue 312): the view is an HTML widget, the static HTML's twin."""
    import ipywidgets as w
    box = explorer(runs)

    def walk(widget):
        yield widget
        for child in getattr(widget, "children", ()):
            yield from walk(child)
    assert not [x for x in walk(box) if isinstance(x, w.Output)]
    view = box.children[2]
    assert isinstance(view, w.HTML) and view.value == static_view(box) and "in-campaign" in view.value


def test_explorer_over_an_empty_folder_says_so_and_shows_nothing(tmp_path, capsys):
    assert explorer(tmp_path) is None
    assert f"no complete run records under {tmp_path}" in capsys.readouterr().out


def test_explorer_reads_the_records_again_so_new_changed_moved_and_unfinished_runs_show_as_they_are(runs, tmp_path):
    """It read the records once: a run trained since never appeared, a run trained again showed its new curve
    beside its old numbers, a moved run froze the view without a word, and runs not complete were left out
    unsaid."""
    import json
    import shutil

    from cifar100lab import records
    root = tmp_path / "runs"
    shutil.copytree(runs, root)
    box = explorer(root)
    campaign, picked, _ = controls(box)
    reload = box.children[0].children[2]
    campaign.value = OUTSIDE
    shutil.copytree(root / "alone", root / "later")  # a run made after the explorer opened
    rec = records.read_json(root / "later" / records.RECORD)
    records.atomic_write_json(root / "later" / records.RECORD, {**rec, "run_id": "later",
                                                                "final": {**rec["final"], "top1": 77.25}})
    failed = root / "broken"
    failed.mkdir()
    records.atomic_write_json(failed / records.RECORD, {**rec, "run_id": "broken", "status": "failed"})
    reload.click()
    assert sorted(label for label, _ in picked.options) == ["alone", "later"]
    picked.value = (str(root / "later"),)
    assert "77.25" in static_view(box)
    assert "1 run(s) of this campaign not complete" in static_view(box)
    shutil.move(str(root / "later"), str(tmp_path / "moved"))
    picked.value = (str(root / "alone"), str(root / "later"))
    view = static_view(box)
    assert "no top1 curve (its folder moved or emptied; reload records): later" in view and "could not" not in view
    assert json.dumps(view)  # drawn, not frozen on the previous picture


def test_the_explorers_figure_names_a_dataset_that_is_not_cifar100(monkeypatch):
    """The figure alone (saved, copied) said nothing of its data: only the table's last column did."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from cifar100lab.report.explorer import view_html
    axes, real = [], plt.subplots
    monkeypatch.setattr(plt, "subplots", lambda *a, **kw: (lambda fig, ax: (axes.append(ax), (fig, ax))[1])(
        *real(*a, **kw)))
    frame = pd.DataFrame([{"run_id": "r", "run_dir": "/nowhere", "dataset_kind": "stand-in",
                           "dataset_label": "Fashion-MNIST (stand-in for CIFAR-100)"}])
    assert "base64," in view_html(frame, "top1")
    view_html(frame.assign(dataset_kind="real", dataset_label="CIFAR-100"), "top1")
    assert [ax.get_title(loc="left") for ax in axes] == ["Fashion-MNIST (stand-in for CIFAR-100) · not CIFAR-100", ""]


def test_a_resumed_runs_row_shows_the_training_time_of_all_its_epochs_not_its_last_attempts_wall_clock(
        runs, tmp_path):
    """The table's time was the record's wall_seconds, which is the last attempt's alone: a run stopped and run
    again read as fast as its last few epochs (and one resumed after its last epoch, a fraction of a second)."""
    import shutil

    from cifar100lab import records
    root = tmp_path / "runs"
    shutil.copytree(runs / "alone", root / "alone")
    rec = records.read_json(root / "alone" / records.RECORD)
    attempts = [{**rec["attempts"][0], "status": "interrupted"}, rec["attempts"][0]]
    records.atomic_write_json(root / "alone" / records.RECORD, {**rec, "attempts": attempts, "resumed_from_epoch": 1,
                                                                "wall_seconds": 0.25, "train_seconds": 61.5})
    view = static_view(explorer(root))
    assert "<th>train time (s)</th>" in view and "<td>61.5</td>" in view and "<td>0.2</td>" not in view


def _complete(run_dir, model, campaign=None):
    from cifar100lab import records
    run_dir.mkdir(parents=True)
    record = records.start(run_dir, run_id=run_dir.name, campaign=campaign, model=model, seed=0, config={"epochs": 1})
    records.save(run_dir, records.finish(record, final={"top1": 50.0}, epochs_done=1))
    records.append_jsonl(run_dir / records.METRICS, {"epoch": 1, "top1": 50.0})


def test_a_campaign_runs_model_is_its_model_entry_so_two_entries_of_one_model_tell_apart(tmp_path):
    """resnet_20 and {model: resnet_20, name: r20_long, epochs: 4} both showed model resnet_20: the model column
    names the entry as the Results table names its row, the model beside a name of its own; a run that is no
    entry's (a study's variant), or a campaign whose manifest does not say its entries, shows its model."""
    from cifar100lab import records
    for run_id, model in (("c-resnet_20-s0", "resnet_20"), ("c-r20_long-s0", "resnet_20"),
                          ("c-eca_resnet_20-k_size-5-s0", "eca_resnet_20"), ("c-resnet_20-mixup-s0", "resnet_20")):
        _complete(tmp_path / "c" / run_id, model, "c")
    records.atomic_write_json(tmp_path / "c" / records.MANIFEST, {"name": "c", "model_runs": [
        "c-resnet_20-s0", "c-r20_long-s0", "c-eca_resnet_20-k_size-5-s0"]})  # the mixup run: a study's variant
    _complete(tmp_path / "old" / "old-r20_long-s0", "resnet_20", "old")
    records.atomic_write_json(tmp_path / "old" / records.MANIFEST, {"name": "old"})  # from before model_runs
    box = explorer(tmp_path)
    campaign, picked, _ = controls(box)
    picked.value = tuple(run_dir for _, run_dir in picked.options)
    view = static_view(box)
    assert [cell for cell in ("<td>resnet_20</td>", "<td>r20_long (resnet_20)</td>",
                              "<td>eca_resnet_20-k_size-5 (eca_resnet_20)</td>") if cell not in view] == []
    assert view.count("<td>resnet_20</td>") == 2  # the plain entry, and the mixup variant by its model
    campaign.value = "old"
    view = static_view(box)
    assert "<td>resnet_20</td>" in view and "r20_long (" not in view


def test_the_tables_training_time_tells_quick_runs_apart(runs, tmp_path):
    """To one decimal a 0.04 s run read "0.0" and runs of 0.15 s and 0.24 s alike "0.2": below a second, two
    significant digits (a longer run keeps its one decimal, 61.5)."""
    import shutil

    from cifar100lab import records
    root = tmp_path / "runs"
    shutil.copytree(runs / "alone", root / "alone")
    rec = records.read_json(root / "alone" / records.RECORD)
    records.atomic_write_json(root / "alone" / records.RECORD, {**rec, "train_seconds": 0.17})
    view = static_view(explorer(root))
    assert "<td>0.17</td>" in view and "<td>0.2</td>" not in view


def test_a_stale_campaign_run_is_not_listed_as_the_campaigns_result_and_the_view_says_how_many_are_left_out(
        tmp_path):
    """A run the campaign found stale (complete under settings it no longer asks for, kept unless --force) was
    listed beside the current runs as one more complete run of the campaign (its 1-epoch top-1 12.00 in the table,
    no word), while the Results pages leave it out: it is left out here too, and counted."""
    from cifar100lab import records
    current, stale = tmp_path / "c" / "c-resnet_20-s0", tmp_path / "c" / "c-resnet_20-s1"
    _complete(current, "resnet_20", "c")
    _complete(stale, "resnet_20", "c")
    seen = records.read_json(stale / records.RECORD)
    records.atomic_write_json(stale / records.RECORD, {**seen, "final": {"top1": 12.0}})
    records.atomic_write_json(tmp_path / "c" / records.MANIFEST, {
        "name": "c", "runs": [current.name, stale.name], "model_runs": [current.name, stale.name],
        "stale": {stale.name: {"fields": ["epochs: 1 → 3"], "started": seen["started"], "finished": seen["finished"]}}})
    box = explorer(tmp_path)
    _, picked, _ = controls(box)
    assert [label for label, _ in picked.options] == [current.name]
    view = static_view(box)
    assert "12.00" not in view and "1 stale run(s) of this campaign" in view
