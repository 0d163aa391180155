"""A non-editable install works: the notebooks travel as package data, and a campaign's studies are found
beside its file, not in a checkout."""
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_wheel_install_finds_its_notebooks_and_runs_a_campaign_dry_run_from_another_folder(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(ROOT)], capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-2000:]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies come from this interpreter's site-packages through a plain path line, which runs no
    # .pth hooks there, so its editable install of cifar100lab stays out.
    venv_site = Path(site)
    venv_site.mkdir(parents=True, exist_ok=True)
    (venv_site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wheel = next(wheels.glob("cifar100lab-*.whl"))
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                              str(wheel)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # One process (torch is imported once): where the package and its notebooks are, then `python -m cifar100lab`
    # as the command line runs it.
    dry = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import runpy, sys; import cifar100lab.runs as R; print(R.__file__); "
                          "print(all((R.NOTEBOOKS / n).is_file() for n in ('train.ipynb', 'analysis.ipynb', "
                          "'ablation.ipynb')), flush=True); "
                          "runpy.run_module('cifar100lab', run_name='__main__', alter_sys=True)",
                          "campaign", str(ROOT / "params" / "quick.yaml"), "--dataset", "synthetic", "--dry-run"],
                         capture_output=True, text=True, env=env, cwd=elsewhere)
    module, found = dry.stdout.split()[:2]
    assert str(venv) in module and found == "True", dry.stdout + dry.stderr
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "quick-ghost_resnet_20-ratio-4-s0 new" in dry.stdout  # a study run: its YAML was found


def test_the_make_installed_venv_builds_no_iri_grammars_when_a_notebook_is_read():
    """`make install` removes rfc3987-syntax (Makefile): jsonschema, which nbformat imports in every kernel, papermill
    and jupyter-book process, would otherwise compile its 38 IRI grammars there, 1.6 CPU-s each time."""
    if not (Path(sys.prefix) / ".installed").exists():
        pytest.skip("not the venv `make install` made")
    import jsonschema  # noqa: F401
    import nbformat

    nbformat.validate(nbformat.read(ROOT / "notebooks" / "train.ipynb", as_version=4))
    assert "rfc3987_syntax" not in sys.modules and "lark" not in sys.modules
