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
