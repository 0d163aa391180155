"""The "Robustness and interpretability" chapter: every number read from the runs' ``robustness.json``
(written by :mod:`cifar100lab.robustness.analyse`), with an empty state that names the command that fills it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import records
from ..intervals import wilson
from ..model_catalog import catalog_rows
from ..robustness.metrics import mce, mce_interval, relative_mce, same_images
from ..robustness.results import OUT, campaign_runs, entry_of, read_result
from ..robustness.settings import RobustnessSettings, measured
from .i18n import LANGS, dataset_label, fmt, join
from .prose import stale_notice
from .robustness_figures import figure_confusion, figure_reliability, figure_severity, label
from .robustness_gradcam import figure_gradcam, with_panels
from .robustness_text import corruption_name, text
from .sources import record_row, stale_runs, with_results_rows
from .studies import figure_block
from .tables import markdown_table

PAGE = "robustness"
ERRORS_CSV = "robustness_errors.csv"  # every corruption and severity, unrounded (English headers)


def load_results(campaign: str, runs_root="runs") -> tuple[dict, list[dict], list[str]]:
    """(manifest, the model runs' robustness results in manifest order, the runs whose result was measured with
    other settings than the manifest's, left out); none when the campaign or the results are missing. A result
    of other settings (a step that failed for that run after the settings changed) is never shown as this
    campaign's: its corruptions, severities or images are not the ones the page names, nor the baseline's. The
    baseline is no such setting: it measures nothing, it only normalises mCE. Nor is a stale run's result (a
    run complete under settings the campaign no longer asks for, which the Results pages leave out): the
    manifest returned names those runs (``stale``), as :func:`sources.load_campaign_records` does."""
    folder = Path(runs_root) / campaign
    try:
        manifest = records.read_json(folder / records.MANIFEST)
        run_ids = campaign_runs(manifest, folder / records.MANIFEST)
        settings = RobustnessSettings.from_dict(manifest.get("robustness") or {}, "campaign manifest: robustness")
    except (OSError, records.RecordError, ValueError):
        return {}, [], []
    recs = {rid: records.load(folder / rid) for rid in run_ids}
    manifest = {**manifest, "stale": stale_runs(manifest, recs)}
    found = [(rid, r) for rid in run_ids if rid not in manifest["stale"]
             and (r := read_result(folder / rid / OUT)) and r.get("corrupted") is not None]
    measured_with = lambda r: measured((r.get("key") or {}).get("settings", settings.as_dict()))  # noqa: E731
    kept = [(rid, r) for rid, r in found if measured_with(r) == settings.measured]
    # Each result's Results row (its model entry's: r20_long; coatnet_0-scratch for a fine-tune model trained from
    # scratch), read from its run record, as a robustness.json does not say where the weights started; the
    # result's model when the record is gone.
    runs = with_results_rows(manifest, [recs[rid] or {} for rid, _ in kept])
    catalog = catalog_rows()
    return (manifest, [{**r, "row": record_row(run, catalog) if run.get("model") else r["model"]}
                       for (_, r), run in zip(kept, runs)],
            [r["run_id"] for _, r in found if measured_with(r) != settings.measured])


def baseline_of(results: list[dict], name: str, campaign: str) -> dict | None:
    """The baseline's result: its first seed's, of the model entry it names (:func:`entry_of`: ``resnet_20`` is
    the plain entry, never ``{model: resnet_20, name: r20_long}``), as the campaign checked it before any work."""
    return next((r for r in results if entry_of(r.get("run_id"), campaign) == name), None)


def _recipe(result: dict, lang: str) -> str:
    used = [text(k, lang, v=f"{v:g}") for k, v in (result.get("recipe") or {}).items() if v]
    return join(used, lang) if used else text("plain", lang)


def _interval(lo: float, hi: float, scale: float = 1.0) -> str:
    return f"[{fmt(lo * scale, 1)}, {fmt(hi * scale, 1)}]"


def _mce(result: dict, baseline: dict | None) -> str:
    if not baseline:
        return "–"
    interval = mce_interval(result, baseline) if result is not baseline else None
    return fmt(mce(result, baseline), 1) + (f" {_interval(*interval)}" if interval else "")


def summary_table(results: list[dict], baseline: dict | None, lang: str) -> pd.DataFrame:
    """One row per model: clean top-1 (interval), mCE, relative mCE, ECE clean (interval) and under corruption,
    and the recipe fields that change calibration."""
    rows = []
    for r in results:
        clean, severity = r["clean"], r.get("calibration_severity")
        lo, hi = wilson(clean["top1"], r["images"])
        rows.append({text("model", lang): label(r),
                     text("clean_top1", lang): f"{fmt(clean['top1'], 1)} {_interval(lo, hi)}",
                     text("mce", lang): _mce(r, baseline),
                     text("rel_mce", lang): fmt(relative_mce(r, baseline), 1) if baseline else "–",
                     text("ece", lang): f"{fmt(100 * clean['ece'], 1)} {_interval(*clean['ece_interval'], 100)}",
                     text("ece_corrupt", lang, severity=severity):
                         fmt(100 * r.get("corrupted_calibration", {}).get("ece", float("nan")), 1),
                     text("recipe", lang): _recipe(r, lang)})
    return pd.DataFrame(rows)


def errors_table(results: list[dict], lang: str) -> pd.DataFrame:
    """Corruption error (%) per model (rows) and corruption (columns), the mean over the measured severities."""
    rows = []
    for r in results:
        row = {text("model", lang): label(r)}
        for name, errors in r["corrupted"].items():
            row[corruption_name(name, lang)] = fmt(sum(v["error"] for v in errors.values()) / len(errors), 1)
        rows.append(row)
    return pd.DataFrame(rows)


def errors_data(results: list[dict]) -> pd.DataFrame:
    """The errors table's download: its rows (model, as labelled there) with their run ids, and per corruption
    the top-1 error (%) unrounded, the mean over severities the table shows and each severity's."""
    rows = []
    for r in results:
        row = {"model": label(r), "run_id": r.get("run_id")}
        for name, errors in r["corrupted"].items():
            row[f"{name}_error_pct"] = sum(v["error"] for v in errors.values()) / len(errors)
            row.update({f"{name}_severity_{s}_error_pct": v["error"] for s, v in errors.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def per_class_prose(results: list[dict], lang: str) -> str:
    from ..robustness.per_class import always_wrong, most_disagreed
    accuracies = {r["run_id"]: r["clean"]["per_class_accuracy"] for r in results}
    names = results[0]["clean"]["classes"]
    missed = always_wrong(accuracies)
    parts = [text("always_wrong", lang, names=join([names[c] for c in missed[:20]], lang)) if missed
             else text("none_always_wrong", lang)]
    spread = most_disagreed(accuracies)
    if spread:
        parts.append(text("disagreed", lang, items=join([f"{names[c]} ({fmt(v, 0)} {text('pp', lang)})" for c, v in spread], lang)))
    return (" " if lang == "en" else "").join(parts) + "\n"


def best_and_worst(results: list[dict]) -> list[dict]:
    """The models with the highest and the lowest clean top-1, two different ones whenever there are two (ties
    broken by name, so the choice is stable); one when the campaign has one."""
    ranked = sorted(results, key=lambda r: (-r["clean"]["top1"], label(r)))
    return ranked[:1] if len(ranked) == 1 else [ranked[0], ranked[-1]]


def confusion_caption(results: list[dict], lang: str) -> str:
    """What the confusion figure shows: the best and the worst model, or models tied on clean top-1, or one."""
    shown = best_and_worst(results)
    level = text(shown[0]["clean"]["confusion"]["level"], lang)
    if len(shown) == 1:
        return text("fig_confusion_one", lang, level=level, model=label(shown[0]))
    best, worst = shown
    if best["clean"]["top1"] == worst["clean"]["top1"]:
        return text("fig_confusion_tied", lang, level=level, best=label(best), worst=label(worst),
                    top1=fmt(best["clean"]["top1"], 1))
    return text("fig_confusion", lang, level=level, best=label(best), worst=label(worst))


def _figures(results: list[dict], out: Path) -> dict[str, dict[str, str]]:
    from ..data import DATASETS
    from .figures import mark_not_cifar, save
    # headed with the dataset where it is not CIFAR-100, as the campaign's figures are: a figure is also seen alone
    name = results[0]["dataset"]["name"]
    ctx = {"dataset": name, "kind": DATASETS[name].kind if name in DATASETS else None}
    makers = {"fig_severity": lambda lang: figure_severity(results, lang),
              "fig_reliability": lambda lang: figure_reliability(results, lang)}
    if results[0]["clean"].get("confusion"):
        makers["fig_confusion"] = lambda lang: figure_confusion(best_and_worst(results), lang)
    if with_panels(results):
        makers["fig_gradcam"] = lambda lang: figure_gradcam(results, lang)
    return {key: {lang: save(mark_not_cifar(make(lang), ctx, lang), out / f"robustness_{key}_{lang}.png") for lang in LANGS}
            for key, make in makers.items()}


def robustness_page(manifest: dict, results: list[dict], figs: dict, lang: str, other_settings: list[str] = ()) -> str:
    settings = RobustnessSettings.from_dict(manifest.get("robustness") or {}, "campaign manifest: robustness")
    baseline = baseline_of(results, settings.baseline, manifest.get("name", ""))
    sources = {s for r in results for s in r.get("sources", {})}
    # models, not runs: the seeds of one entry are rows of the table, not models ("3 models" for one model × 3 seeds)
    models = {entry_of(r.get("run_id"), manifest.get("name", "")) or r.get("run_id") for r in results}
    body = text("intro", lang, campaign=manifest.get("name", "?"), n=len(models),
                dataset=dataset_label(results[0]["dataset"]["name"]), images=f"{results[0]['images']:,}",
                corruptions=join([corruption_name(c, lang) for c in settings.corruptions], lang),
                severities=join(map(str, settings.severities), lang),
                source=join([text(s, lang) for s in sorted(sources)], lang), baseline=settings.baseline) + "\n\n"
    body += stale_notice({"stale": manifest.get("stale") or {}, "campaign": manifest.get("name", "?")}, lang)
    if other_settings:
        warning = text("stale_results", lang, runs=join(list(other_settings), lang), campaign=manifest.get("name", "?"))
        body += f":::{{warning}}\n{warning}\n:::\n\n"
    if baseline is None:
        body += f":::{{warning}}\n{text('no_baseline', lang, baseline=settings.baseline)}\n:::\n\n"
    elif other := [label(r) for r in results if not same_images(r, baseline)]:
        warning = text("other_images", lang, runs=join(other, lang), baseline=label(baseline))
        body += f":::{{warning}}\n{warning}\n:::\n\n"
    # intervals and recipes wrap inside their cells, so a narrow window keeps every column: book/_static/tables.css
    body += (f"**{text('table', lang)}**\n\n:::{{div}} robustness-summary\n"
             + markdown_table(summary_table(results, baseline, lang)) + "\n:::\n")
    body += (text("table_caption", lang, severity=settings.calibration_severity) + (" " if lang == "en" else "")
             + text("mce_interval", lang))
    body += "\n\n"
    body += f"**{text('errors_title', lang)}**\n\n" + markdown_table(errors_table(results, lang)) + "\n"
    body += text("errors_caption", lang, severities=join(map(str, settings.severities), lang)) + " "
    body += text("download", lang, link=f"{{download}}`{ERRORS_CSV} <../generated/{ERRORS_CSV}>`") + "\n\n"
    captions = {"fig_severity": text("fig_severity", lang),
                "fig_reliability": text("fig_reliability", lang, severity=settings.calibration_severity)}
    if "fig_confusion" in figs:
        captions["fig_confusion"] = confusion_caption(results, lang)
    numbered = {key: ("Figure" if lang == "en" else "图") + f" {i}. " for i, key in enumerate(figs, 1)}
    for key, files in figs.items():
        if key != "fig_gradcam":
            body += figure_block(files[lang], numbered[key] + captions[key], captions[key])
    body += f"## {text('per_class_title', lang)}\n\n" + per_class_prose(results, lang)
    if "fig_gradcam" in figs:
        cams = len(with_panels(results)[0]["gradcam"]["labels"])
        body += f"\n## {text('gradcam_title', lang)}\n\n"
        caption = text("fig_gradcam", lang, cams=cams)
        body += figure_block(figs["fig_gradcam"][lang], numbered["fig_gradcam"] + caption, caption)
    return body


def write_robustness_page(campaign: str, runs_root="runs", out_dir="book/generated") -> list[str]:
    """``robustness_<lang>.md`` and its figures from the campaign's robustness results (or the empty state)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest, results, other_settings = load_results(campaign, runs_root)
    if not results:
        return write_empty_robustness_page(out, replace=True)
    figs = _figures(results, out)
    records.atomic_write_text(out / ERRORS_CSV, errors_data(results).to_csv(index=False))
    for lang in LANGS:
        page = robustness_page(manifest, results, figs, lang, other_settings)
        records.atomic_write_text(out / f"{PAGE}_{lang}.md", page)
    return [f"{PAGE}_{lang}.md" for lang in LANGS]


def write_empty_robustness_page(out_dir="book/generated", replace: bool = False) -> list[str]:
    """The chapter's empty state (kept when results were written, unless ``replace``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in LANGS:
        path = out / f"{PAGE}_{lang}.md"
        if replace or not path.exists():
            records.atomic_write_text(path, f":::{{note}}\n{text('empty', lang)}\n:::\n")
            written.append(path.name)
    return written
