"""The "Hyperparameter search" page: one section per study found under the runs folder (its ``study.json``,
written by ``tune``), in each language: what was searched and how the trials ended, Optuna's optimisation
history, parameter importances and slice plot (``optuna.visualization.matplotlib``, on the study rebuilt in
memory from the file: the book never opens the database), the best configuration, and its re-runs on the test
set with their Wilson intervals."""
from __future__ import annotations

import os
import statistics
from pathlib import Path

import pandas as pd

from .. import records
from ..intervals import wilson
from .figures import integer_epochs, save, style
from .i18n import LANGS, LIST_SEP, fmt, say, status
from .tables import markdown_table

SUMMARY = "study.json"  # a study's summary beside its trial runs (written by cifar100lab.tune.summary)
PAGE = "tuning"  # generated/tuning_<lang>.md


def load_studies(runs_root: str | os.PathLike) -> list[dict]:
    return [records.read_json(p) for p in sorted(Path(runs_root).glob(f"*/{SUMMARY}"))]


def rebuild(summary: dict):
    """The study as an in-memory Optuna study, every trial with its reports. One still running (another worker's, or
    a waiting retry) is kept, unplotted: the study numbers its trials as added, and without it each later trial's
    number in the figures was one less than the page's (the best trial #2 drawn at 1)."""
    import optuna
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState, create_trial
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", study_name=summary["study"])
    for t in summary["trials"]:
        state = TrialState[t["state"].upper()]
        study.add_trial(create_trial(
            state=state, value=t["value"] if state == TrialState.COMPLETE else None, params=t["params"],
            distributions={k: json_to_distribution(v) for k, v in t["distributions"].items()},
            intermediate_values={int(k): v for k, v in t["intermediate_values"].items()}))
    return study


def _figures(summary: dict, study, out: Path, lang: str) -> list[tuple[str, str]]:
    """(file name, caption) of the history, importance and slice plots that the trials allow."""
    import warnings

    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as vis
    style()
    complete = [t for t in study.trials if t.value is not None]
    made = []
    plots = [("history", vis.plot_optimization_history, 1), ("importance", vis.plot_param_importances, 2),
             ("slice", vis.plot_slice, 1)]
    for key, plot, needed in plots:
        if len(complete) < needed or (key == "importance" and len(summary["search"]) < 2):
            continue
        # trials that all scored alike (a smoke study at chance) leave fANOVA nothing to explain: it raised
        if key == "importance" and len({t.value for t in complete}) < 2:
            continue
        # Optuna sets its own style (ggplot) while plotting: keep the CJK fonts and an ASCII minus sign
        rc = {"font.sans-serif": plt.rcParams["font.sans-serif"], "axes.unicode_minus": False}
        with warnings.catch_warnings(), plt.rc_context(rc):  # (Optuna marks its matplotlib plots experimental)
            warnings.simplefilter("ignore")
            axes = plot(study)
            plt.rcParams.update(rc)
        fig = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
        _relabel(fig, key, lang)
        made.append((save(fig, out / f"tuning-{summary['study']}-{key}_{lang}.png"), say(f"tune_{key}", lang)))
        plt.close("all")
    return made


def _relabel(fig, key: str, lang: str) -> None:
    """Titles and axes in the page's language (Optuna's are English); log axes ticked as plain numbers (the
    CJK fonts have no mathtext minus for 10⁻²)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter
    fig.suptitle("")
    for ax in fig.axes:
        ax.set_title("")
        if ax.get_xscale() == "log":
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        if key == "history":
            ax.set_xlabel(say("tune_ax_trial", lang))
            ax.set_ylabel(say("tune_ax_value", lang))
            integer_epochs(ax)  # whole trial numbers
            legend = ax.get_legend()
            for text in legend.get_texts() if legend else []:
                text.set_text(say("tune_legend_best" if "Best" in text.get_text() else "tune_legend_value", lang))
        elif key == "importance":
            ax.set_xlabel(say("tune_ax_importance", lang))
        elif ax.get_ylabel():  # the slice plot's value axis, or its colour bar of trial numbers
            ax.set_ylabel(say("tune_ax_trial" if ax.get_ylabel() == "Trial" else "tune_ax_value", lang))


def _reruns(summary: dict, best: int, runs_root: Path, lang: str) -> str:
    finish = summary.get("finish") or {}
    if finish.get("trial", best) != best:  # trials after --finish found a better one: its re-runs are not this one's
        return say("tune_reruns_other", lang, trial=finish["trial"], best=best) + "\n"
    rows, left = [], {}  # left: the re-runs that did not complete, by status (a failed seed, one not run yet)
    for run_id in finish.get("runs", []):
        record = records.load(runs_root / finish["campaign"] / run_id) or {}
        if record.get("status") == "complete":
            top1, n = record["final"]["top1"], record["final"]["evaluated"]
            low, high = wilson(top1, n)
            rows.append({say("tune_col_run", lang): run_id, say("tune_col_top1", lang): fmt(top1),
                         say("tune_col_interval", lang): f"{fmt(low)}–{fmt(high)}", "_top1": top1})
        else:
            state = record.get("status") or "missing"
            left[state] = left.get(state, 0) + 1
    if not rows and not left:
        return say("tune_no_reruns", lang) + "\n"
    # as Table 1 says of a model's seeds: the mean is of the complete ones, and the others are named
    note = say("note_not_complete", lang, k=sum(left.values()), n=len(rows) + sum(left.values()),
               statuses=LIST_SEP[lang].join(f"{status(s)[lang]} {n}" for s, n in left.items())) + "\n" if left else ""
    if not rows:
        return note
    mean = fmt(statistics.mean(r["_top1"] for r in rows))
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "_top1"} for r in rows])
    return say("tune_reruns", lang, seeds=len(rows), mean=mean) + "\n\n" + markdown_table(table) + (note and "\n" + note)


def study_section(summary: dict, runs_root: Path, out: Path, lang: str) -> str:
    # a trial interrupted and retried is not a failure: its retry stands for it (summaries before 2026-12-07 lack it)
    states = ["retried" if t.get("retried") else t["state"] for t in summary["trials"]]
    retried = say("tune_retried", lang, n=states.count("retried")) if "retried" in states else ""
    # trials another worker still runs (or a retry waiting for one): the page was written with the search under way
    unfinished = states.count("running") + states.count("waiting")
    unfinished = say("tune_unfinished", lang, n=unfinished) if unfinished else ""
    text = [f"## {summary['study']}\n", *([summary["description"] + "\n"] if summary.get("description") else []),
            say("tune_facts", lang, model=summary["model"], dataset=summary["dataset"],
                n_trials=summary["n_trials"], complete=states.count("complete"), pruned=states.count("pruned"),
                failed=states.count("fail"), unfinished=unfinished, retried=retried, sampler=summary["sampler"],
                pruner=summary["pruner"]["kind"]) + "\n"]
    study = rebuild(summary)
    for name, caption in _figures(summary, study, out, lang):
        text.append(f"```{{figure}} ../generated/{name}\n:width: 100%\n:alt: {caption}\n\n{caption}\n```\n")
    complete = [t for t in summary["trials"] if t["state"] == "complete"]
    if complete:
        best = max(complete, key=lambda t: t["value"])
        params = pd.DataFrame([{say("tune_col_param", lang): k, say("tune_col_value", lang): f"{v:.4g}"
                                if isinstance(v, float) else v} for k, v in best["params"].items()])
        text += [say("tune_best", lang, number=best["number"], value=fmt(best["value"])) + "\n",
                 markdown_table(params), _reruns(summary, best["number"], runs_root, lang)]
    return "\n".join(text)


def write_tuning_page(runs_root: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """``tuning_<lang>.md`` (and its figures) in ``out_dir`` from every study under ``runs_root``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    studies = load_studies(runs_root)
    written = []
    for lang in LANGS:
        body = "\n".join(study_section(s, Path(runs_root), out, lang) for s in studies) if studies else \
            f":::{{note}}\n{say('tune_none', lang)}\n:::\n"
        path = out / f"{PAGE}_{lang}.md"
        records.atomic_write_text(path, body)
        written.append(path)
    return written


def ensure_tuning_page(out_dir: str | os.PathLike) -> None:
    """The page's empty state for a book built before any study (an existing page is kept)."""
    out = Path(out_dir)
    for lang in LANGS:
        if not (out / f"{PAGE}_{lang}.md").exists():
            out.mkdir(parents=True, exist_ok=True)
            records.atomic_write_text(out / f"{PAGE}_{lang}.md", f":::{{note}}\n{say('tune_none', lang)}\n:::\n")


__all__ = ["write_tuning_page", "ensure_tuning_page", "load_studies", "rebuild"]
