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
    (campaign, metric), runs = box.children[0].children, box.children[1]
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


def test_explorer_over_an_empty_folder_says_so_and_shows_nothing(tmp_path, capsys):
    assert explorer(tmp_path) is None
    assert f"no complete run records under {tmp_path}" in capsys.readouterr().out
