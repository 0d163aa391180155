import json
import subprocess
import sys
from pathlib import Path

import papermill as pm
import pytest
from conftest import ROOT

from cifar100lab.config import TrainConfig

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_notebooks_in_git_carry_no_outputs():
    assert {p.name for p in NOTEBOOKS} >= {"train.ipynb", "analysis.ipynb", "ablation.ipynb", "explore.ipynb",
                                           "evaluate.ipynb"}
    for p in NOTEBOOKS:
        nb = json.loads(p.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, p.name


def test_train_notebook_parameters_cover_the_config():
    params = pm.inspect_notebook(str(NOTEBOOK_DIR / "train.ipynb"))
    assert set(TrainConfig.field_names()) | {"num_processes"} == set(params)


@pytest.mark.slow
def test_papermill_cli_executes_the_train_notebook(synthetic_root, tmp_path):
    out = tmp_path / "out.ipynb"
    cmd = [sys.executable, "-m", "papermill", str(NOTEBOOK_DIR / "train.ipynb"), str(out),
           "-p", "model", "eca_resnet_20", "-y", "{options: {k_size: 5}, overrides: {ema_decay: 0.9}, log_with: tensorboard}", "-p", "dataset", "synthetic",
           "-p", "data_root", str(synthetic_root), "-p", "epochs", "1", "-p", "batch_size", "32",
           "-p", "max_steps_per_epoch", "2", "-p", "run_dir", str(tmp_path / "run"), "-p", "progress", "False",
           "--no-progress-bar", "-k", "python3"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rec = json.loads((tmp_path / "run" / "record.json").read_text())
    assert rec["status"] == "complete" and rec["options"] == {"k_size": 5}
    assert rec["ema"]["decay"] == 0.9 and (tmp_path / "run" / "tensorboard").is_dir()  # issue 14, from parameters
    assert "top-1 (%)" in out.read_text()


@pytest.mark.slow
def test_a_run_shows_in_its_notebook_without_the_book_extra(monkeypatch, capsys):
    """A training server may have the base install only (no myst-nb): the train notebook's display still works."""
    from cifar100lab.report import display
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # importing it now raises ImportError
    display.show_run({"run_id": "gpu-run", "status": "failed", "model": "resnet_20", "reason": "stopped"})
    assert "gpu-run" in capsys.readouterr().out


def test_a_notebook_opened_in_its_own_folder_works_in_the_projects(tmp_path, monkeypatch, capsys):
    """Jupyter starts a notebook's kernel in notebooks/: 'runs' and 'data' were read there (no runs found, a
    second dataset downloaded into notebooks/data). A kernel elsewhere stays where it is."""
    from cifar100lab.project import enter_project
    project = tmp_path / "proj"
    for name in ("params", "notebooks"):
        (project / name).mkdir(parents=True)
    (project / "_config.yml").write_text("title: x\n")
    monkeypatch.chdir(project / "notebooks")
    assert enter_project() is None and Path.cwd() == project  # None: the cell's value, which a notebook shows
    assert f"Working folder: {project}" in capsys.readouterr().out
    (tmp_path / "notebooks").mkdir()
    for elsewhere in (project, project / "params", tmp_path, tmp_path / "notebooks"):  # the last: no project
        monkeypatch.chdir(elsewhere)
        enter_project()
        assert Path.cwd() == elsewhere


def test_every_notebook_enters_the_project_before_its_work():
    for p in NOTEBOOKS:
        cells = [c for c in json.loads(p.read_text())["cells"] if c["cell_type"] == "code"]
        params = next(i for i, c in enumerate(cells) if "parameters" in c["metadata"].get("tags", []))
        enters = [i for i, c in enumerate(cells) if "enter_project()" in "".join(c["source"])]
        assert enters == [params + 1], p.name  # the cell after the parameters, before any call that uses them
        assert "remove-cell" in cells[params + 1]["metadata"].get("tags", []), p.name  # not on the book's pages


@pytest.mark.slow
def test_the_analysis_notebook_run_from_the_notebooks_folder_reads_the_projects_runs(tmp_path):
    import shutil
    project = tmp_path / "proj"
    shutil.copytree(NOTEBOOK_DIR, project / "notebooks")
    (project / "params").mkdir()
    (project / "_config.yml").write_text("title: x\n")
    (project / "runs" / "mine").mkdir(parents=True)
    (project / "runs" / "mine" / "campaign.json").write_text("{}")
    with pytest.raises(pm.PapermillExecutionError, match="campaigns there: mine"):
        pm.execute_notebook(str(project / "notebooks" / "analysis.ipynb"), str(tmp_path / "out.ipynb"),
                            parameters={"campaign": "nosuch"}, cwd=str(project / "notebooks"), kernel_name="python3",
                            progress_bar=False)
    assert not (project / "notebooks" / "book").exists()
