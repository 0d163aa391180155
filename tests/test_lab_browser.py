"""The notebooks as a person uses them: JupyterLab started as `make lab` starts it, driven in the system Chromium
by Playwright. Train a run and watch it, stop a second run from the toolbar, then pick runs in the explorer.

On failure a screenshot of the page is left under test-output/lab-browser/. With LAB_SHOTS=<folder> the test
also saves what a person would have seen at two moments (a run training with its progress bar; the explorer
after a pick)."""
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import chromium
import pytest
from conftest import ROOT, tiny_config

from cifar100lab import records
from cifar100lab.launch import free_port
from cifar100lab.report.explorer import OUTSIDE

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the lab extra)")
pytest.importorskip("jupyterlab", reason="JupyterLab is not installed (the lab extra)")
BROWSER = chromium.find()
if BROWSER is None:
    pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)", allow_module_level=True)
FAILED_SHOTS = ROOT / "test-output" / "lab-browser"


def lab_command(project: Path, port: int, token: str) -> list[str]:
    """`make lab`'s command: JupyterLab on the notebooks, its kernels working in the project folder."""
    return [sys.executable, "-m", "jupyterlab", f"--notebook-dir={project / 'notebooks'}",
            f"--MappingKernelManager.root_dir={project}", f"--port={port}", "--no-browser",
            f"--IdentityProvider.token={token}", f"--LabApp.workspaces_dir={project / '.workspaces'}",
            f"--LabApp.user_settings_dir={project / '.settings'}"] + (["--allow-root"] if os.geteuid() == 0 else [])


def explore_command(project: Path, port: int) -> list[str]:
    """`make explore`'s command: Voila serving the explorer without its code, its kernel in the project folder."""
    return [str(Path(sys.executable).parent / "voila"), str(project / "notebooks" / "explore.ipynb"),
            f"--Voila.root_dir={project / 'notebooks'}", f"--MappingKernelManager.root_dir={project}",
            "--MappingKernelManager.cull_idle_timeout=300", "--MappingKernelManager.cull_interval=60",
            f"--port={port}", "--no-browser"]


@pytest.fixture(scope="module")
def made_runs(tmp_path_factory, synthetic_root) -> Path:
    """A runs folder holding one campaign run, trained once for the module's tests."""
    from cifar100lab.train import train
    runs = tmp_path_factory.mktemp("made") / "runs"
    train(tiny_config(synthetic_root, runs / "c" / "made-by-a-campaign", epochs=2, campaign="c",
                      max_steps_per_epoch=2, train_subset=128, test_subset=64, run_id="made-by-a-campaign"))
    return runs


@pytest.fixture
def project(tmp_path, made_runs) -> Path:
    """A project folder: the notebooks, and one campaign run already made (a copy: a test adds runs of its own)."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    shutil.copytree(made_runs, project / "runs")
    return project


@contextlib.contextmanager
def served(command: list[str], ready: str, tmp_path: Path):
    """``command`` (a Jupyter server) running until the block ends, once ``ready`` answers at all."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime")}
    log = tmp_path / "server.log"
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"),
                              start_new_session=True)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                urllib.request.urlopen(ready, timeout=2)
                break
            except urllib.error.HTTPError:  # it answers (Voila refuses its API to a stranger): it is up
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        yield
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def lab(tmp_path, project):
    """JupyterLab serving the project."""
    settings = project / ".settings" / "@jupyterlab"
    for plugin, value in (("apputils-extension/notification", '{"fetchNews": "false"}'),  # no pop-up over outputs
                          ("notebook-extension/tracker", '{"windowingMode": "none"}')):  # every cell in the page
        (settings / f"{plugin}.jupyterlab-settings").parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{plugin}.jupyterlab-settings").write_text(value)
    port, token = free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}"
    with served(lab_command(project, port, token), f"{url}/api/status?token={token}", tmp_path):
        yield project, url, token


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module's tests."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(request, browser):
    """A page of its own (a fresh context: no cookie or storage of another test's)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    sync_api.expect.set_options(timeout=60_000)  # expect() keeps its own 5 s default; a loaded CI needs more
    failures = request.session.testsfailed
    yield page
    if request.session.testsfailed > failures:  # the call failed (its report comes before the teardown)
        FAILED_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(FAILED_SHOTS / f"{request.node.name}.png"), full_page=True)
    page.context.close()


def shot(page, name: str) -> None:
    if os.environ.get("LAB_SHOTS"):
        Path(os.environ["LAB_SHOTS"]).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(os.environ["LAB_SHOTS"]) / name))


SHOWN = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the active tab (others stay in the page)


def open_notebook(page, url: str, token: str, name: str) -> None:
    page.goto(f"{url}/lab/tree/{name}?token={token}&reset")
    page.locator(f"{SHOWN} .jp-Cell").first.wait_for()
    page.locator(f"{SHOWN} .jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()  # its kernel is up


def append_to_parameters(page, text: str) -> None:
    """Type at the end of the parameters cell (the notebook's first code cell), as a person sets them."""
    editor = page.locator(".jp-CodeCell .cm-content").first
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.insert_text("\n" + text)
    page.keyboard.press("Escape")


def answer_kernel_dialog(page) -> None:
    """Pick the preselected kernel if JupyterLab asks for one. In a loaded suite run it once asked after the
    server had started the notebook's kernel (its log shows that one) while the page held none (the dialog
    offered "No Kernel"), and the dialog took every later click; a person answers with the kernel offered."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    for _ in range(4):  # a click while the dialog is still settling (a loaded suite) can be lost: click again
        if not dialog.count():
            return
        dialog.locator(".jp-mod-accept").click()
        try:
            dialog.wait_for(state="detached", timeout=15_000)
            return
        except sync_api.TimeoutError:
            continue
    dialog.wait_for(state="detached", timeout=1_000)  # still there: the test fails here, saying so


def run_all(page) -> None:
    """Run ▸ Run All Cells, once more if no cell's prompt changed within 15 s: a menu command can reach a
    notebook that has not taken the focus yet, and then nothing runs (seen once: every prompt stayed [ ]).
    A click that a late kernel dialog takes is tried again once the dialog is answered."""
    prompts = page.locator(f"{SHOWN} .jp-CodeCell .jp-InputPrompt")
    before = prompts.all_inner_texts()
    for _ in range(3):
        answer_kernel_dialog(page)
        try:  # the menu's commands act on the focused notebook
            page.locator(f"{SHOWN} .jp-MarkdownCell").first.click(timeout=15_000)
        except sync_api.TimeoutError:
            continue
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator(".lm-Menu-content").get_by_text("Run All Cells", exact=True).click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if prompts.all_inner_texts() != before:
                return
            time.sleep(0.2)
    raise AssertionError(f"Run All Cells started no cell (prompts {before})")


def record_of(project: Path, epochs: int, status: str, timeout: float = 60) -> dict:
    """The notebook run's record (runs/<model>-s<seed>-<hash>/) once it has ``epochs`` and ``status``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in (project / "runs").glob("*/record.json"):
            rec = json.loads(path.read_text() or "{}")
            if rec.get("config", {}).get("epochs") == epochs and rec.get("status") == status:
                return rec
        time.sleep(0.2)
    raise AssertionError(f"no run of {epochs} epochs became {status} under {project / 'runs'}")


def stand_in(synthetic_root: Path, epochs: int, steps: int) -> str:
    return (f"dataset = 'synthetic'; data_root = {str(synthetic_root)!r}; train_subset = 512; test_subset = 64; "
            f"batch_size = 64; eval_batch_size = 128; epochs = {epochs}; max_steps_per_epoch = {steps}")


def test_train_live_in_jupyterlab_then_stop_a_run_from_the_toolbar_then_pick_runs_in_the_explorer(
        lab, page, synthetic_root):
    project, url, token = lab
    open_notebook(page, url, token, "train.ipynb")
    append_to_parameters(page, stand_in(synthetic_root, epochs=2, steps=4))
    run_all(page)
    outputs = page.locator(".jp-OutputArea-output")
    outputs.locator(".widget-hprogress").first.wait_for()  # the progress bar, a widget
    outputs.filter(has_text="epoch 1/2: loss").first.wait_for()
    outputs.locator("img").first.wait_for()  # the curve so far, drawn after each epoch
    shot(page, "train-running.png")
    done = record_of(project, epochs=2, status="complete")
    assert done["epochs_done"] == 2 and done["final"]["evaluated"] == 64
    run_dir = project / done["config"]["run_dir"]  # runs/<run id>, in the folder the kernel works in
    assert [r["epoch"] for r in records.read_metrics(run_dir)] == [1, 2] and (run_dir / records.CHECKPOINT).exists()
    sync_api.expect(outputs.filter(has_text=f"{done['run_id']} epoch 2/2: 100%").first).to_be_visible()  # the bar's
    sync_api.expect(outputs.filter(has_text=f"{done['run_id']} epoch 2/2: loss").first).to_be_visible()  # last line
    page.locator(".jp-Cell").last.locator(".jp-OutputArea-output img").first.wait_for()  # the summary's curve


    append_to_parameters(page, "epochs = 40; max_steps_per_epoch = 2")  # a second, longer run: its own folder
    run_all(page)
    page.locator(".jp-OutputArea-output").filter(has_text="epoch 1/40: loss").first.wait_for(timeout=60_000)
    page.locator("[data-command='notebook:interrupt-kernel']").first.click()  # the toolbar's stop button
    stopped = record_of(project, epochs=40, status="interrupted", timeout=15)
    assert stopped["reason"].startswith("stopped by hand in epoch") and re.search(
        r"; running it again (resumes from epoch [1-9]|starts it over from epoch 1: no checkpoint was saved yet)$",
        stopped["reason"])
    sync_api.expect(outputs.filter(has_text=stopped["reason"]).first).to_be_visible()

    open_notebook(page, url, token, "explore.ipynb")
    run_all(page)
    figure = page.locator(f"{SHOWN} .widget-html img").first
    figure.wait_for()
    before = figure.get_attribute("src")
    page.locator(".widget-dropdown select").first.select_option(label=OUTSIDE)
    sync_api.expect(page.locator(".widget-select-multiple select option").first).to_have_text(done["run_id"])
    sync_api.expect(page.locator(".widget-html table").filter(has_text=done["run_id"])).to_be_visible()
    sync_api.expect(figure).not_to_have_attribute("src", before)
    shot(page, "explore-after-a-pick.png")


def test_make_explore_serves_the_explorer_without_its_code_and_it_redraws_on_a_pick(project, page, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with served(explore_command(project, port), url + "api/status", tmp_path):
        page.goto(url)
        figure = page.locator(".widget-html img").first
        figure.wait_for()
        assert "explorer(runs_root)" not in page.content()  # the app, not its code
        before = figure.get_attribute("src")
        page.locator(".widget-dropdown select").nth(1).select_option(label="test_loss")  # the metric
        sync_api.expect(figure).not_to_have_attribute("src", before)
        sync_api.expect(page.locator(".widget-html table").filter(has_text="made-by-a-campaign")).to_be_visible()
        shot(page, "explore-app.png")
