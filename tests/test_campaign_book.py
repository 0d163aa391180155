"""End to end on synthetic data: a small campaign through the train notebook (papermill) — a model trained
from scratch, a fine-tune skipped offline, a diverging run and an ablation study — failure isolation, skip on re-run, kill-and-resume, analysis notebooks, the bilingual book with -W,
and the built HTML in headless Chromium."""
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, fake_notebooks, run_cli, scratch_book

from cifar100lab import cli, records
from cifar100lab.models import model_names

PY = sys.executable
SCREENSHOT_DIR = ROOT / "test-output"
# two from scratch (ranked); a fine-tune skipped offline, which the campaign trains from scratch instead (deit_tiny_scratch)
MINI_MODELS = ["resnet_20", "ghost_resnet_20", "deit_tiny"]


def campaign_cmd(yaml_path, runs, book, *extra):
    return [PY, "-m", "cifar100lab", "campaign", str(yaml_path), "--runs-root", str(runs), "--book",
            str(scratch_book(book)), *extra]


def campaign_here(yaml_path, runs, book, *extra) -> subprocess.CompletedProcess:
    """The campaign command run in this process from the repository root, as ``make report`` runs it: torch is
    imported once per suite instead of once per command (the runs are papermill children either way)."""
    out, err, before = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(campaign_cmd(yaml_path, runs, book, *extra)[3:])
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(["campaign", str(yaml_path)], code, out.getvalue(), err.getvalue())


def write_campaign(path: Path, data_root, **over):
    spec = {"name": "mini", "dataset": "synthetic", "seeds": [0],
            "defaults": {"epochs": 1, "batch_size": 16, "eval_batch_size": 64, "train_subset": 128,
                         "test_subset": 64, "max_steps_per_epoch": 2, "data_root": str(data_root),
                         "progress": False, "overrides": {"warmup_epochs": 0}}}
    spec.update(over)
    path.write_text(yaml.safe_dump(spec))
    return path


def _record_texts(runs: Path) -> dict[str, str]:
    return {p.parent.name: p.read_text() for p in runs.glob(f"*/{records.RECORD}")}


@pytest.fixture(scope="module")
def mini(tmp_path_factory, synthetic_root):
    """A scratch model, an offline fine-tune (skipped, and its from-scratch row added), a deliberately diverging run and the Ghost-ratio study with
    2 seeds, then the book. That every registered model trains is tests/test_every_model_steps.py's job."""
    base = tmp_path_factory.mktemp("mini")
    proj = base / "proj"
    shutil.copytree(ROOT / "book", proj / "book", ignore=shutil.ignore_patterns("_build", "generated", "*.ipynb"))
    shutil.copy(ROOT / "_config.yml", proj / "_config.yml")
    yaml_path = write_campaign(base / "mini.yaml", synthetic_root,
                               models=MINI_MODELS + [{"name": "diverging", "model": "resnet_20", "max_steps_per_epoch": 6,
                                                        "overrides": {"lr": 1.0e30}}],
                               studies=[str(ROOT / "params/ablations/ghost_ratio.yaml")], study_seeds=[0, 1],
                               robustness={"corruptions": ["gaussian_noise", "contrast"], "severities": [1, 3],
                                           "images": 64})
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # conftest: no hub, so the fine-tune is skipped
    t0 = time.time()
    first = campaign_here(yaml_path, base / "runs", proj / "book")
    print(f"mini campaign: {time.time() - t0:.0f}s")
    return {"base": base, "proj": proj, "yaml": yaml_path, "first": first,
            "timing": records.read_json(base / "runs" / "mini" / records.TIMING),  # later invocations replace it
            "records": _record_texts(base / "runs" / "mini"),  # those its analysis rendered the pages from
            "runs": base / "runs" / "mini", "book": proj / "book"}


def test_campaign_runs_its_models_and_isolates_the_failure(mini):
    first = mini["first"]
    assert first.returncode == 1, first.stdout + first.stderr  # one run failed on purpose
    recs = {r["run_id"]: r for r in records.load_records(mini["runs"])}
    assert recs["mini-diverging-s0"]["status"] == "failed" and "loss became" in recs["mini-diverging-s0"]["reason"]
    assert "failed: mini-diverging-s0" in first.stdout
    assert "skipped: mini-deit_tiny-s0 (pretrained weights unavailable" in first.stdout  # with the fix it names
    for name in MINI_MODELS:
        rec = recs[f"mini-{name}-s0"]
        if rec["pretrained"]:  # ImageNet fine-tunes: no hub here, so skipped with the reason
            assert rec["status"] == "skipped" and "pretrained weights unavailable" in rec["reason"], name
        else:
            assert rec["status"] == "complete", (name, rec.get("reason"))
            assert (mini["book"] / "runs" / f"mini-{name}-s0.ipynb").exists()
    assert recs["mini-ghost_resnet_20-ratio-4-s1"]["status"] == "complete"
    scratch = recs["mini-deit_tiny_scratch-s0"]  # added by the campaign: ImageNet weights unavailable offline
    assert scratch["status"] == "complete" and scratch["model"] == "deit_tiny" and not scratch["pretrained"]
    manifest = records.read_json(mini["runs"] / "campaign.json")
    assert manifest["studies"][0]["runs"]["ratio 4"] == ["mini-ghost_resnet_20-ratio-4-s0", "mini-ghost_resnet_20-ratio-4-s1"]


def test_run_notebook_carries_record_and_glued_metrics(mini):
    nb = json.loads((mini["book"] / "runs" / "mini-resnet_20-s0.ipynb").read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    glued = {o["metadata"]["scrapbook"]["name"] for o in outputs if "scrapbook" in o.get("metadata", {})}
    assert {"top1", "top5", "params_m", "curves", "status"} <= glued
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "model = \"resnet_20\"" in "".join(injected[0]["source"])


def test_a_run_in_a_kept_kernel_has_the_numbers_of_the_same_run_in_a_fresh_kernel(mini, tmp_path):
    """Each job keeps its kernel between runs (kernels.KernelSlot): what ran there before must not change a run."""
    from cifar100lab.kernels import KernelSlot
    from cifar100lab.runs import NOTEBOOKS
    timing = ("epoch_seconds", "eval_seconds", "images_per_second")

    def rows(run_dir):
        return [{k: v for k, v in json.loads(line).items() if k not in timing}
                for line in (run_dir / records.METRICS).read_text().splitlines()]

    def first_count(notebook):  # 1 in a fresh kernel; more where an earlier notebook ran in the same kernel
        return next(c["execution_count"] for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code")

    later = [p.stem for p in sorted((mini["book"] / "runs").glob("*.ipynb"))
             if first_count(p) > 1 and records.load(mini["runs"] / p.stem)["status"] == "complete"]
    assert later, "no job reused its kernel"
    rid = later[-1]
    params = yaml.safe_load((mini["runs"] / "logs" / f"{rid}.params.yaml").read_text())
    params["run_dir"] = str(tmp_path / rid)
    code, tail = KernelSlot(dict(os.environ)).execute(NOTEBOOKS / "train.ipynb", tmp_path / "fresh.ipynb",
                                                         params, tmp_path / "fresh")
    assert code == 0, tail
    assert first_count(tmp_path / "fresh.ipynb") == 1
    assert rows(tmp_path / rid) == rows(mini["runs"] / rid)


def test_different_records_change_every_number_and_ranking(mini, tmp_path, monkeypatch):
    """Nothing in the book is typed by hand: edit the records, re-render, and the pages follow. Before: what the
    campaign's own analysis notebook rendered from the same records."""
    import matplotlib.figure

    from cifar100lab import report
    from cifar100lab.report.sources import load_campaign_records, model_records, model_rows
    runs = tmp_path / "runs"
    shutil.copytree(mini["base"] / "runs", runs)
    # (here, before test_second_invocation_skips_everything_done retries the failed run and rewrites its record)
    assert _record_texts(runs / "mini") == mini["records"], "the records changed since the campaign's analysis"
    manifest, recs = load_campaign_records("mini", runs)
    best = model_rows(model_records(manifest, recs), manifest["models"]).iloc[0]
    path = runs / "mini" / list(best.run_ids)[0] / "record.json"  # a row's name need not be its run's
    rec = records.read_json(path)
    rec["final"]["top1"] = 0.0
    records.atomic_write_json(path, rec)
    # Only the pages' text and tables are compared: every figure is still plotted, but none is drawn into its PNG
    # (the campaign's analysis drew them, and test_analysis_tables_figures_and_study finds them).
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda *args, **kwargs: None)
    after = report.write_campaign_report("mini", runs, tmp_path / "after")
    ranked = after["rows"][after["rows"].status == "complete"]
    assert ranked.iloc[0].model != best.model and ranked.iloc[-1].model == best.model
    for name in ("results_en.md", "results_zh.md", "findings_en.md", "summary_zh.md", "table1.csv"):
        assert (mini["book"] / "generated" / name).read_text() != (tmp_path / "after" / name).read_text(), name


def test_second_invocation_skips_everything_done(mini, monkeypatch):
    from cifar100lab.executors import local
    executed = []

    def fails_again(run, notebook, slot, log_dir, num_processes):  # as the diverging run does, without its kernel
        executed.append(run.run_id)
        return 1, "TrainingDiverged: loss became nan\n"
    monkeypatch.setattr(local, "execute_notebook", fails_again)
    again = campaign_here(mini["yaml"], mini["base"] / "runs", mini["book"], "--no-analysis")
    done = len([p for p in mini["runs"].glob("*/record.json")])
    # only the failed run is retried; the fine-tune skipped offline is done, and the line says how to retry it
    assert (f"{done - 1} already done (1 of them skipped for want of pretrained weights: --retry-skipped tries "
            f"again), 1 to run") in again.stdout
    assert executed == ["mini-diverging-s0"] and again.returncode == 1


def test_analysis_tables_figures_and_study(mini):
    gen = mini["book"] / "generated"
    for f in ("table1.csv", "table1.tex", "table2.csv", "comparison.csv", "fig_top1_en.png", "fig_params_zh.png",
              "fig_curves_en.png", "results_en.md", "results_zh.md", "study-ghost_ratio_en.png", "study-ghost_ratio_en.md",
              "models_en.md", "models_zh.md", "analysis.ipynb", "ablation-ghost_ratio.ipynb"):
        assert (gen / f).exists(), f
    t1 = (gen / "table1.csv").read_text()
    ranked = {line.split(",")[1] for line in t1.splitlines()[1:] if not line.startswith("#")}
    assert {"resnet_20", "deit_tiny-scratch"} <= ranked and "deit_tiny" not in ranked  # skipped: listed apart
    study = (gen / "study-ghost_ratio_en.md").read_text()
    assert "± " in study and "ratio 4" in study
    results = (gen / "results_en.md").read_text()
    assert "synthetic data" in results and "Not CIFAR-100" in results
    assert "Trained from scratch instead: row **deit_tiny-scratch**" in results  # the skipped fine-tune's reason
    for name in model_names():
        assert f"| {name} |" in (gen / "models_en.md").read_text()
    timing = mini["timing"]  # the first invocation's own record, on the Performance page its analysis wrote
    assert len(timing["runs"]) == len(list(mini["runs"].glob("*/record.json")))
    wall = f"**{len(timing['runs'])} runs in {timing['wall_seconds'] / 60:.1f} min**"
    assert wall in (gen / "performance_en.md").read_text()
    assert f"**{len(timing['runs'])} 次运行共用时 {timing['wall_seconds'] / 60:.1f} min**" in \
        (gen / "performance_zh.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def built_book(mini) -> subprocess.CompletedProcess:
    """The mini campaign's book, built once (warnings are errors), for every test that reads its HTML."""
    return subprocess.run([str(Path(PY).parent / "jupyter-book"), "build", str(mini["book"]), "-W", "-n",
                           "--keep-going"], capture_output=True, text=True, cwd=mini["proj"])


def built_html(mini, built_book) -> Path:
    """The built HTML folder; a test that reads it fails, rather than checks nothing, when the build failed."""
    assert built_book.returncode == 0, built_book.stdout[-3000:] + built_book.stderr[-3000:]
    return mini["proj"] / "_build" / "html"


def test_book_builds_without_warnings_with_twins(mini, built_book):
    html = built_html(mini, built_book)
    en = sorted(p.name for p in (html / "en").glob("*.html"))
    zh = sorted(p.name for p in (html / "zh").glob("*.html"))
    assert en == zh and "results.html" in en
    # Each twin links to the other and cites the same runs (same model rows, same numbers).
    for page in ("results", "ablations", "comparison", "findings"):
        e, z = (html / "en" / f"{page}.html").read_text(), (html / "zh" / f"{page}.html").read_text()
        assert f"../zh/{page}.html" in e and f"../en/{page}.html" in z
        numbers = lambda s: sorted(re.findall(r"\b\d+\.\d{2}\b", re.sub(r"<[^>]+>", " ", s)))
        assert numbers(e) == numbers(z), page
    for lang in ("en", "zh"):
        assert "synthetic" in (html / lang / "results.html").read_text().lower() or lang == "zh"
    assert "合成数据" in (html / "zh" / "results.html").read_text()


def test_the_robustness_chapter_shows_every_model_run_in_both_languages(mini, built_book):
    html = built_html(mini, built_book)
    result = records.read_json(mini["runs"] / "mini-resnet_20-s0" / "robustness.json")
    plain = {lang: re.sub(r"<[^>]+>", " ", (html / lang / "robustness.html").read_text()) for lang in ("en", "zh")}
    assert "generated with imagecorruptions" in plain["en"] and "由 imagecorruptions 生成" in plain["zh"]
    assert f"{result['clean']['top1']:.1f}" in plain["en"] and "100.0" in plain["en"]  # the baseline's mCE
    numbers = lambda s: sorted(re.findall(r"\b\d+\.\d\b", s))
    assert numbers(plain["en"]) == numbers(plain["zh"])
    assert "mini-ghost_resnet_20-s0" in records.read_json(mini["runs"] / records.MANIFEST)["model_runs"]
    assert "Grad-CAM" in plain["en"] and "各模型关注的位置" in plain["zh"] and result["gradcam"]["layer"] == "blocks"
    assert "robustness_fig_gradcam_en.png" in (html / "en" / "robustness.html").read_text()


def _pages(html: Path):
    return [p for p in html.rglob("*.html") if p.relative_to(html).parts[0] not in ("_static", "_sources")]


def test_built_html_has_no_broken_links(mini, built_book):
    html = built_html(mini, built_book)
    missing = []
    for page in _pages(html):
        for ref in re.findall(r'(?:href|src)="([^"#?]+)', page.read_text(errors="ignore")):
            if re.match(r"^[a-z]+:", ref) or ref.startswith("//"):
                continue
            if not (page.parent / ref).resolve().exists():
                missing.append(f"{page.relative_to(html)} -> {ref}")
    assert not missing, missing[:20]


def test_built_html_has_no_raw_myst_no_duplicate_run_titles_and_no_duplicate_figures(mini, built_book):
    html = built_html(mini, built_book)
    titles, raw, doubled, numbered = {}, [], [], []
    for page in _pages(html):
        source = page.read_text(errors="ignore")
        text = re.sub(r"<[^>]+>", "", re.sub(r"<(pre|script|style)\b.*?</\1>", "", source, flags=re.S))
        if re.search(r":::\{|```\{|\|\s*---\s*\||\{glue", text):
            raw.append(str(page.relative_to(html)))
        images = re.findall(r'<img[^>]+src="([^"]+)"', source)
        if len(images) != len(set(images)):
            doubled.append(str(page.relative_to(html)))
        if 'class="caption-number"' in source:  # Sphinx's book-wide, English "Fig. N" before our own number
            numbered.append(str(page.relative_to(html)))
        if page.parent.name == "runs" and page.name != "index.html":
            titles.setdefault(re.search(r"<title>(.*?)</title>", source, re.S).group(1), []).append(page.name)
    assert not raw, f"raw MyST / Markdown table text in {raw}"
    assert not doubled, f"a figure shown twice in {doubled}"
    assert not numbered, f"book-wide figure numbers in {numbered}"
    assert len(titles) >= 5 and all(len(v) == 1 for v in titles.values()), titles  # every run page titled apart


def test_every_bilingual_notebook_page_links_to_its_chinese_part_and_back(mini, built_book):
    """The campaign analysis and each study's page (executed notebooks) show an English part and then a Chinese
    part: each starts with a link to the Chinese heading, and the Chinese part with one back to the English."""
    from bs4 import BeautifulSoup
    html = built_html(mini, built_book)
    for name in ("analysis", "ablation-ghost_ratio"):
        page = BeautifulSoup((html / "generated" / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
        links = [(a.get_text(), a["href"]) for a in page.select("article .lang-jump a")]
        assert links == [("中文 ↓", "#part-zh"), ("English ↑", "#part-en")], (name, links)
        headings = {i: [h.get_text() for h in page.find_all(id=i)] for i in ("part-en", "part-zh")}
        assert headings == {"part-en": ["English"], "part-zh": ["中文"]}, (name, headings)


def test_the_analysis_page_shows_its_notes_and_downloads_as_the_results_pages_do(mini, built_book):
    """The executed analysis notebook's page showed the Results pages' 'Not CIFAR-100' and 'Provenance' warning and
    note boxes as plain block quotes, and its downloads as file paths."""
    from bs4 import BeautifulSoup
    html = built_html(mini, built_book)
    boxes = {}
    for page in ("generated/analysis", "en/results", "zh/results"):
        soup = BeautifulSoup((html / f"{page}.html").read_text(encoding="utf-8"), "html.parser")
        article = soup.select_one("article")
        boxes[page] = [(" ".join(sorted(set(a["class"]) - {"admonition"})), a.select_one(".admonition-title").get_text())
                       for a in article.select("div.admonition")]
        downloads = [a["href"] for a in article.select("a.download")]
        assert downloads and all((html / page).parent.joinpath(href).resolve().is_file() for href in downloads), page
        shown = article.select(".cell_output") or [article]  # the notebook's outputs (its code names out_dir)
        assert not any("book/generated" in o.get_text() or o.select("blockquote") for o in shown), page
    assert boxes["en/results"][:2] == [("warning", "Not CIFAR-100"), ("note", "Provenance")]
    assert boxes["generated/analysis"] == boxes["en/results"][:2] + boxes["zh/results"][:2]  # each part's, in its words


def test_pages_in_chromium_fit_the_text_column_in_both_languages(mini, built_book):
    """The real campaign's pages in one headless Chromium at 1400 px (tests/test_book_reader.py reads more pages,
    at both widths, from a fake campaign's records); screenshots of some go to test-output/ for a reader's eye."""
    import chromium
    html = built_html(mini, built_book)
    if not chromium.find():
        if os.environ.get("CI"):
            pytest.fail("chromium must be installed in CI (.ci/run installs it)")
        pytest.skip("chromium not installed")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the lab extra)")
    pages = [f"{lang}/{p}.html" for lang in ("en", "zh") for p in ("results", "comparison", "models", "method",
                                                                   "performance", "ablations")]
    pages += ["runs/mini-resnet_20-s0.html", "runs/index.html"]
    shots = {p: SCREENSHOT_DIR / f"{p[:-5].replace('/', '-')}-1400.png" for p in pages
             if p.split("/")[-1] in ("results.html", "comparison.html", "mini-resnet_20-s0.html")}
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    with chromium.session() as page:
        read = {p: chromium.read(page, html / p, 1400, shot=shots.get(p)) for p in pages}
    too_wide = [(p, round(w), round(m["column"]), what) for p, m in read.items() for w, what in m["tables"]
                if w > m["column"] + 1]
    assert not too_wide, too_wide
    broken = [(p, m["broken_words"]) for p, m in read.items() if m["broken_words"]]
    assert not broken, broken  # a word split across lines in a squeezed column
    for shot in shots.values():
        assert shot.stat().st_size > 20_000, shot
    results = read["en/results.html"]
    assert any("Model" in what for _, what in results["tables"]), results["tables"]  # Table 1
    assert any(src.endswith("fig_top1_en.png") for src, _ in results["images"]), results["images"]
    print(f"screenshots in {SCREENSHOT_DIR}")


def test_killed_campaign_resumes_the_interrupted_run(tmp_path, synthetic_root):
    # the second run starts only when the campaign runs again: it need only complete there (1 epoch of 2 steps)
    second = {"model": "ghost_resnet_20", "epochs": 1, "max_steps_per_epoch": 2}
    yaml_path = write_campaign(tmp_path / "k.yaml", synthetic_root, name="kill", models=["resnet_20", second],
                               defaults={"epochs": 6, "batch_size": 16, "train_subset": 256, "test_subset": 64,
                                         "eval_batch_size": 64, "data_root": str(synthetic_root), "progress": False})
    runs, book = tmp_path / "runs", tmp_path / "book"
    # 6 epochs: a kernel runs in a session of its own and outlives the group's kill until it sees its parent
    # gone (ipykernel's poller); with 3 tiny epochs a loaded machine let it finish the run first, so nothing resumed
    proc = subprocess.Popen(campaign_cmd(yaml_path, runs, book, "--no-analysis"), cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = runs / "kill" / "kill-resnet_20-s0" / "checkpoint.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # like Ctrl-C on a server, the whole process group goes
    proc.wait()
    assert ckpt.exists()
    assert not (runs / "kill" / "kill-resnet_20-s0" / "record.json").exists() or \
        records.read_json(runs / "kill" / "kill-resnet_20-s0" / "record.json")["status"] != "complete"
    again = campaign_here(yaml_path, runs, book, "--no-analysis")
    assert again.returncode == 0, again.stdout + again.stderr
    first = records.read_json(runs / "kill" / "kill-resnet_20-s0" / "record.json")
    assert first["status"] == "complete" and first["resumed_from_epoch"] >= 1 and first["epochs_done"] == 6
    assert records.read_json(runs / "kill" / "kill-ghost_resnet_20-s0" / "record.json")["status"] == "complete"


def test_bad_campaign_yaml_fails_before_any_run(tmp_path, synthetic_root, capfd):
    bad = write_campaign(tmp_path / "bad.yaml", synthetic_root, models=["resnet_20"], seedz=[1])
    proc = run_cli(capfd, *campaign_cmd(bad, tmp_path / "runs", tmp_path / "book")[3:])
    assert proc.returncode == 2 and "unknown key(s) seedz (did you mean seeds?); valid keys: name" in proc.stderr
    typo = write_campaign(tmp_path / "typo.yaml", synthetic_root, models=["resnet_20"],
                          defaults={"epochs": 1, "overrides": {"lr_sched": "x"}, "data_root": str(synthetic_root)})
    proc = run_cli(capfd, *campaign_cmd(typo, tmp_path / "runs", tmp_path / "book")[3:])
    assert proc.returncode == 2 and "lr_sched" in proc.stderr and "valid keys" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_offline_cifar100_campaign_names_the_stand_in(tmp_path, monkeypatch, capfd):
    y = tmp_path / "c.yaml"
    y.write_text(yaml.safe_dump({"name": "c", "models": ["resnet_20"], "defaults": {"data_root": str(tmp_path / "d"),
                                                                                     "download": False}}))
    monkeypatch.delenv("CIFAR100LAB_DATASET", raising=False)
    proc = run_cli(capfd, *campaign_cmd(y, tmp_path / "runs", tmp_path / "book")[3:])
    assert proc.returncode == 2 and "DATASET=fashion-mnist" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_parallel_jobs_never_share_a_gpu_subset(tmp_path, synthetic_root, monkeypatch):
    """--jobs 2 on 4 GPUs: each running notebook sees its own 2 GPUs, whichever run finishes first."""
    import threading

    from cifar100lab import campaign as C
    from cifar100lab import kernels
    from cifar100lab.executors import local
    monkeypatch.setattr(kernels, "visible_gpus", lambda: 4)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    camp = C.load_campaign(write_campaign(tmp_path / "c.yaml", synthetic_root, seeds=[0, 1, 2, 3, 4, 5],
                                          models=["resnet_20"]), runs_root=tmp_path / "runs", book_dir=tmp_path / "b")
    running, seen, lock = {}, [], threading.Lock()
    delays = iter([0.3, 0.05, 0.05, 0.3, 0.05, 0.05])  # the first run outlives the next ones

    def fake_execute(run, notebook, slot, log_dir, num_processes):
        gpus = slot.env["CUDA_VISIBLE_DEVICES"]
        with lock:
            assert gpus not in running.values(), f"{run.run_id} got {gpus}, already used by {running}"
            running[run.run_id] = gpus
            seen.append(gpus)
            delay = next(delays)
        time.sleep(delay)
        records.atomic_write_json(run.run_dir / records.RECORD, {"status": "complete"})
        with lock:
            del running[run.run_id]
        return 0, ""

    monkeypatch.setattr(local, "execute_notebook", fake_execute)
    summary = local.execute(camp, tmp_path / "runs", jobs=2, log=lambda *_: None)
    assert len(summary["complete"]) == 6 and sorted(set(seen)) == ["0,2", "1,3"]


def test_the_campaign_file_is_named_in_its_manifest_and_timing_record(tmp_path, synthetic_root, monkeypatch):
    """The Performance page and the provenance say which YAML a campaign came from; a field added to Campaign
    once took the path's place, and every page said "(–)"."""
    from cifar100lab import campaign as C
    from cifar100lab.executors import local
    path = write_campaign(tmp_path / "c.yaml", synthetic_root, models=["resnet_20"])
    camp = C.load_campaign(path, runs_root=tmp_path / "runs", book_dir=tmp_path / "b")
    assert camp.path == str(path) and camp.jobs == 1 and camp.runs_per_gpu is None

    def fake_execute(run, notebook, slot, log_dir, num_processes):
        records.atomic_write_json(run.run_dir / records.RECORD, {"status": "complete"})
        return 0, ""

    monkeypatch.setattr(local, "execute_notebook", fake_execute)
    local.execute(camp, tmp_path / "runs", log=lambda *_: None)
    assert records.read_json(tmp_path / "runs" / "mini" / "campaign.json")["source"] == str(path)
    assert records.read_json(tmp_path / "runs" / "mini" / records.TIMING)["source"] == str(path)


def test_runs_per_gpu_puts_that_many_runs_on_each_gpu_one_gpu_to_a_run(tmp_path, synthetic_root, monkeypatch):
    """runs_per_gpu: 2 on 2 GPUs is 4 jobs, two on each GPU, each run on one GPU (num_processes auto)."""
    import threading

    from cifar100lab import campaign as C
    from cifar100lab import kernels
    from cifar100lab.executors import local
    monkeypatch.setattr(kernels, "visible_gpus", lambda: 2)
    monkeypatch.setattr(local, "visible_gpus", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    camp = C.load_campaign(write_campaign(tmp_path / "c.yaml", synthetic_root, seeds=list(range(8)), runs_per_gpu=2,
                                          models=["resnet_20"]), runs_root=tmp_path / "runs", book_dir=tmp_path / "b")
    running, most, lock, both = [], {}, threading.Lock(), threading.Barrier(4, timeout=10)

    def fake_execute(run, notebook, slot, log_dir, num_processes):
        gpu = slot.env["CUDA_VISIBLE_DEVICES"]
        with lock:
            running.append(gpu)
            most[gpu] = max(most.get(gpu, 0), running.count(gpu))
        if run.run_id.endswith(("s0", "s1", "s2", "s3")):
            both.wait()  # the first four runs are under way together
        with lock:
            running.remove(gpu)
        assert num_processes == "auto"
        records.atomic_write_json(run.run_dir / records.RECORD, {"status": "complete"})
        return 0, ""

    monkeypatch.setattr(local, "execute_notebook", fake_execute)
    summary = local.execute(camp, tmp_path / "runs", log=lambda *_: None)
    assert len(summary["complete"]) == 8 and most == {"0": 2, "1": 2}


def test_runs_sharing_a_gpu_need_the_memory_the_bench_measured_for_their_networks(tmp_path, synthetic_root,
                                                                                 monkeypatch):
    """2 GiB a run is what a small network needs; with an epoch-times record from the GPU, each shared run must
    find its network's measured peak free, before any run starts."""
    from cifar100lab import campaign as C
    from cifar100lab import devices, kernels
    from cifar100lab.config import ConfigError
    from cifar100lab.executors import local
    gib = 2**30
    monkeypatch.setattr(kernels, "visible_gpus", lambda: 1)
    monkeypatch.setattr(local, "visible_gpus", lambda: 1)
    monkeypatch.setattr(devices, "gpu_memory", lambda ids: {"0": (10 * gib, 80 * gib)})
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    started = fake_notebooks(monkeypatch)
    small = C.load_campaign(write_campaign(tmp_path / "small.yaml", synthetic_root, seeds=[0, 1, 2, 3],
                                           runs_per_gpu=4, models=["resnet_20"]), runs_root=tmp_path / "runs")
    assert len(local.execute(small, tmp_path / "runs", log=lambda *_: None)["complete"]) == 4  # 4 × 2 GiB fit
    bench = tmp_path / "times.json"
    records.atomic_write_json(bench, {"kind": "epoch_times", "networks": [
        {"model": "resnet_20", "runs": [f"big-resnet_20-s{i}" for i in range(4)], "peak_memory_bytes": 4 * gib}]})
    big = C.load_campaign(write_campaign(tmp_path / "big.yaml", synthetic_root, name="big", seeds=[0, 1, 2, 3],
                                         runs_per_gpu=4, models=["resnet_20"], executor={"epoch_times": str(bench)}),
                          runs_root=tmp_path / "runs")
    started.clear()
    with pytest.raises(ConfigError, match=r"4 runs per GPU need 16\.0 GiB free on GPU 0 \(4\.0 GiB each\); it has "
                                          r"10\.0 of 80\.0"):
        local.execute(big, tmp_path / "runs", log=lambda *_: None)
    assert not started


def test_runs_per_gpu_gives_each_run_one_gpu_whatever_the_campaigns_num_processes(tmp_path, synthetic_root,
                                                                                  monkeypatch):
    """full.yaml asks for 8 processes a run; with --runs-per-gpu 1 on a 1-GPU machine that was one job with
    8 processes, refused for want of GPUs, though each run was meant to have one GPU."""
    from cifar100lab import campaign as C
    from cifar100lab import kernels, launch
    from cifar100lab.executors import local
    for module in (kernels, launch, local):
        monkeypatch.setattr(module, "visible_gpus", lambda: 1)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    processes = []

    def fake_execute(run, notebook, slot, log_dir, num_processes):
        processes.append(num_processes)
        records.atomic_write_json(run.run_dir / records.RECORD, {"status": "complete"})
        return 0, ""

    monkeypatch.setattr(local, "execute_notebook", fake_execute)
    camp = C.load_campaign(write_campaign(tmp_path / "c.yaml", synthetic_root, num_processes=8, seeds=[0, 1],
                                          models=["resnet_20"]), runs_root=tmp_path / "runs")
    assert len(local.execute(camp, tmp_path / "runs", runs_per_gpu=1, log=lambda *_: None)["complete"]) == 2
    assert processes == ["auto", "auto"]


def test_runs_per_gpu_is_refused_without_gpus_with_jobs_beside_it_and_on_slurm(tmp_path, synthetic_root, capfd):
    from cifar100lab import campaign as C
    from cifar100lab.config import ConfigError
    with pytest.raises(ConfigError, match="give jobs .* or runs_per_gpu .*, not both"):
        C.load_campaign(write_campaign(tmp_path / "both.yaml", synthetic_root, jobs=2, runs_per_gpu=2))
    with pytest.raises(ConfigError, match="runs_per_gpu must be a positive integer .*got 0"):
        C.load_campaign(write_campaign(tmp_path / "zero.yaml", synthetic_root, runs_per_gpu=0))
    path = write_campaign(tmp_path / "c.yaml", synthetic_root, runs_per_gpu=4, models=["resnet_20"])
    for extra, message in (([], "runs_per_gpu 4 shares GPUs, and this machine has none"),
                           (["--executor", "slurm"], "on Slurm each run is a job with GPUs of its own"),
                           (["--jobs", "2", "--runs-per-gpu", "2"], "give --jobs (runs side by side in all) or "
                                                                    "--runs-per-gpu")):
        proc = run_cli(capfd, "campaign", path, "--runs-root", tmp_path / "runs", "--no-analysis", *extra)
        assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "runs").exists()


def test_the_eta_goes_by_the_runs_that_executed_their_notebooks(tmp_path, synthetic_root, monkeypatch):
    """A fine-tune skipped offline ends in no time: counted in the pace, it promised the whole quick campaign in
    0.2 min. On a clock where each executed run takes 30 s: no ETA until one has, then 2 and 1 runs to go."""
    from types import SimpleNamespace

    from cifar100lab import campaign as C
    from cifar100lab.executors import local
    camp = C.load_campaign(write_campaign(tmp_path / "c.yaml", synthetic_root, models=["resnet_20"],
                                          seeds=[0, 1, 2, 3]), runs_root=tmp_path / "runs", book_dir=tmp_path / "b")
    clock = [1000.0]
    monkeypatch.setattr(local, "time", SimpleNamespace(time=lambda: clock[0]))
    monkeypatch.setattr(local, "skipped_offline", lambda run: run.run_id.endswith("s0"))

    def fake_execute(run, notebook, slot, log_dir, num_processes):
        clock[0] += 30
        records.atomic_write_json(run.run_dir / records.RECORD, {"status": "complete"})
        return 0, ""

    monkeypatch.setattr(local, "execute_notebook", fake_execute)
    lines = []
    local.execute(camp, tmp_path / "runs", jobs=1, log=lines.append)
    assert [line for line in lines if line.startswith("[")] == [
        "[1/4] mini-resnet_20-s0: skipped in 0s", "[2/4] mini-resnet_20-s1: complete in 30s (ETA 1.0 min)",
        "[3/4] mini-resnet_20-s2: complete in 30s (ETA 0.5 min)", "[4/4] mini-resnet_20-s3: complete in 30s"]


def test_jobs_auto_and_bad_jobs(monkeypatch):
    from cifar100lab import kernels
    from cifar100lab.config import ConfigError
    from cifar100lab.kernels import resolve_jobs
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(kernels, "visible_gpus", lambda: 0)
    assert resolve_jobs("auto") == 2 and resolve_jobs(3) == 3  # CPU: thread shares, any number
    monkeypatch.setattr(kernels, "visible_gpus", lambda: 2)
    assert resolve_jobs("auto") == 1 and resolve_jobs(2) == 2 and resolve_jobs(3) == 3  # 3: GPUs shared
    for bad, message in ((0, "positive integer or 'auto'"), ("two", "got 'two'"),
                         (True, "positive integer")):
        with pytest.raises(ConfigError, match=message):
            resolve_jobs(bad)


def test_analysis_runs_its_notebooks_side_by_side_and_names_a_failed_one(tmp_path, synthetic_root, monkeypatch):
    import threading

    from cifar100lab import campaign as C
    from cifar100lab import kernels
    from cifar100lab.executors import local
    studies = [str(ROOT / "params/ablations/ghost_ratio.yaml"), str(ROOT / "params/ablations/eca_kernel.yaml")]
    camp = C.load_campaign(write_campaign(tmp_path / "c.yaml", synthetic_root, models=["resnet_20"], studies=studies),
                           runs_root=tmp_path / "runs", book_dir=tmp_path / "book")
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 2)
    running, peak, done, lock = [0], [0], [], threading.Lock()

    def fake_execute(slot, notebook, target, params, log_stem):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.3)
        with lock:
            running[0] -= 1
            done.append((target.name, params.get("study")))
        return (1, "Traceback ...\nValueError: boom\n") if "eca" in target.name else (0, "")

    monkeypatch.setattr(kernels.KernelSlot, "execute", fake_execute)
    with pytest.raises(RuntimeError, match=r"analysis failed: ablation-eca_kernel.ipynb: ValueError: boom"):
        local.analyse(camp, tmp_path / "runs", tmp_path / "book", log=lambda *_: None)
    assert peak[0] == 2 and sorted(done) == [("ablation-eca_kernel.ipynb", "eca_kernel"),
                                             ("ablation-ghost_ratio.ipynb", "ghost_ratio"), ("analysis.ipynb", None)]
