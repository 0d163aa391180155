"""The campaign's pages: every table, figure and prose fragment the book includes from ``book/generated``,
and the empty state a fresh clone builds with before any campaign."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .downloads import (
    MODELS_CSV,
    comparison_data,
    download_label,
    download_links,
    models_data,
    models_link,
    table1_data,
    table2_data,
    write_csv,
    write_download,
)
from .figures import (
    figure_acc_params,
    figure_curves,
    figure_curves_panels,
    figure_top1,
    mark_not_cifar,
    not_cifar_heading,
    one_per_group,
    save_in_every_language,
)
from .findings import render_pairs, short_lists
from .i18n import LANGS, alternatives, dataset_label, fmt, join, kind_label, say
from .prose import comparison_prose, counts_said, provenance, render, results_prose
from .robustness import write_robustness_page
from .runpages import publish_run_pages, runs_index
from .sources import (
    comparable_with_claims,
    context,
    evaluated_counts,
    load_campaign_records,
    model_records,
    model_rows,
    ranked,
    recipes_used,
)
from .studies import ablations_index, figure_block, record_alt, study_facts, study_pages_not_run, study_table
from .tables import campaigns_table, comparison_table, markdown_table, not_run_table, recipes_table, table1, table2

# The fragments a campaign writes (``{include} ../generated/<name>_<lang>.md``); a fresh clone gets a note for each.
CAMPAIGN_FRAGMENTS = ("results", "comparison", "ablations", "findings", "summary", "recipes")


def _figures(rows: pd.DataFrame, recs: list[dict], ctx: dict, out: Path) -> dict[str, dict]:
    """fig key -> {lang: file name}; none when no run completed. Each says its dataset when it is not CIFAR-100."""
    if not (rows.status == "complete").any():
        return {}
    done = list(rows[rows.status == "complete"].model)
    makers = {"fig_top1": lambda lang, layout: figure_top1(rows, lang, layout),
              "fig_params": lambda lang, layout: figure_acc_params(rows, lang, layout),
              "fig_curves": lambda lang, layout: figure_curves(recs, one_per_group(rows), lang, layout)}
    if len(done) > len(one_per_group(rows)):
        makers["fig_curves_all"] = lambda lang, layout: figure_curves_panels(recs, done, lang, layout=layout)

    def marked(make):
        return lambda lang, layout: mark_not_cifar(make(lang, layout), ctx, lang, layout)
    figs = {key: save_in_every_language(marked(make), out / key) for key, make in makers.items()}
    record_alt(out, {files[lang]: figure_alt(key, rows, ctx, lang) for key, files in figs.items() for lang in LANGS})
    return figs


def figure_alt(key: str, rows: pd.DataFrame, ctx: dict, lang: str) -> str:
    """A campaign figure's alt text, from the rows it plots, led by the figure's heading where it has one (the
    dataset, not CIFAR-100): the alt text is read in the image's place."""
    done = rows[rows.status == "complete"].sort_values("top1")
    if done.empty:
        return ""
    text = say(f"alt_{key}", lang, n=len(done), lo=fmt(done.top1.iloc[0], 1), hi=fmt(done.top1.iloc[-1], 1),
               worst=done.model.iloc[0], best=done.model.iloc[-1], models=join(one_per_group(rows), lang))
    heading = not_cifar_heading(ctx, lang)
    return f"{heading}{'. ' if lang == 'en' else '。'}{text}" if heading else text


def _write_tables(rows: pd.DataFrame, ctx: dict, out: Path, book_dir: Path) -> dict:
    """Tables per language, and their downloads: the numbers behind each (CSV) and the table as shown (LaTeX),
    English headers; ``models.csv``, every model row's numbers."""
    top5 = (ctx["classes"] or 100) > 10
    subtract, in_rank = comparable_with_claims(ctx), ranked(ctx)
    tables = {lang: {"t1": table1(rows, lang, top5, book_dir, in_rank), "t2": table2(rows, lang, top5),
                     "cmp": comparison_table(rows, lang, subtract), "nr": not_run_table(rows, lang)} for lang in LANGS}
    label = download_label(ctx)
    write_download(table1_data(rows, top5, in_rank), table1(rows, "en", top5, None, in_rank), out / "table1",
                   f"{say('t1' if in_rank else 't1_order', 'en')}. {label}")
    write_download(table2_data(rows, top5), tables["en"]["t2"], out / "table2", f"{say('t2', 'en')}. {label}")
    write_download(comparison_data(rows, subtract), tables["en"]["cmp"], out / "comparison",
                   f"{say('cmp', 'en')}. {label}")
    write_csv(models_data(rows, in_rank), out / MODELS_CSV, f"Every model of campaign {ctx['campaign']}, one row each. {label}")
    return tables


def _results_page(rows, ctx, tables, figs, lang) -> str:
    t = tables[lang]
    seeds = max(ctx["seeds"] or [1])
    what = say("t1_mean" if seeds > 1 else "t1_one", lang)
    n_test = counts_said(evaluated_counts(rows))
    body = provenance(ctx, lang) + results_prose(rows, lang) + "\n"
    body += f"**{say('t1' if ranked(ctx) else 't1_order', lang)}**\n\n" + markdown_table(t["t1"]) + "\n"
    body += say("t1_caption", lang, what=what, n_test=n_test, shared=say("t1_shared", lang) if seeds > 1 else "")
    if (ctx["classes"] or 100) <= 10:
        done = rows[rows.status == "complete"]
        body += " " + say("top5_hidden", lang, classes=ctx["classes"], lo=fmt(done.top5.min(), 1),
                          hi=fmt(done.top5.max(), 1))
    body += "\n\n" + download_links(["table1.csv", "table1.tex"], lang)
    if len(t["nr"]):
        body += f"**{say('nr', lang)}**\n\n" + markdown_table(t["nr"]) + "\n"
    body += f"**{say('t2', lang)}**\n\n" + markdown_table(t["t2"]) + "\n" + download_links(["table2.csv", "table2.tex"], lang)
    body += models_link(lang)
    body += short_lists(rows, lang)
    sep = " " if lang == "en" else ""
    marks = sep + say("fig_chance", lang) + (sep + say("fig_diverged", lang) if rows.diverged.notna().any() else "")
    for i, (key, files) in enumerate(figs.items(), 1):
        body += figure_block(files[lang], say("fig_no", lang, i=i) + " " + say(key, lang) + marks,
                             figure_alt(key, rows, ctx, lang))
    return body


def write_campaign_report(campaign: str, runs_root="runs", out_dir="book/generated") -> dict:
    """Write every campaign-level table, figure and prose fragment the book includes; return them."""
    manifest, recs = load_campaign_records(campaign, runs_root)  # a campaign that is not there: nothing written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    book_dir = out.parent
    publish_run_pages(book_dir, recs)
    plain = model_records(manifest, recs)
    rows = model_rows(plain, manifest["models"])
    ctx = context(manifest, recs)
    figs = _figures(rows, plain, ctx, out)
    tables = _write_tables(rows, ctx, out, book_dir)
    studies = {st["name"]: (st, study_table(st, {r["run_id"]: r for r in recs})) for st in manifest.get("studies", [])}
    subtract = comparable_with_claims(ctx)
    for lang in LANGS:
        pages = {"results": _results_page(rows, ctx, tables, figs, lang),
                 "comparison": provenance(ctx, lang) + comparison_prose(rows, ctx, subtract, lang) + "\n"
                 + f"**{say('cmp', lang)}**\n\n" + markdown_table(tables[lang]["cmp"]) + "\n"
                 + download_links(["comparison.csv", "comparison.tex"], lang),
                 "ablations": ablations_index(manifest, ctx, lang, study_pages_not_run(out, manifest)),
                 "findings": provenance(ctx, lang) + findings(rows, ctx, studies, lang),
                 # the Conclusion page's: its numbers with what they were measured on, as on every results page, and
                 # what its text promises: which models lead, what ECA and Ghost change, how the claims compare
                 "summary": provenance(ctx, lang) + results_prose(rows, lang) + "\n" + render_pairs(rows, lang)
                 + "\n" + comparison_prose(rows, ctx, subtract, lang),
                 "recipes": f"**{say('recipes_title', lang)}**\n\n" + recipes_table(recipes_used(recs), lang)}
        for name, text in pages.items():
            (out / f"{name}_{lang}.md").write_text(text, encoding="utf-8")
    (out / "runs_index.md").write_text(runs_index(recs, book_dir, runs_root, manifest["name"]), encoding="utf-8")
    (out / "landing.md").write_text(landing(ctx), encoding="utf-8")
    write_robustness_page(campaign, runs_root, out)
    return {"rows": rows, "context": ctx, "figures": [f["en"] for f in figs.values()], "out_dir": str(out)}


def landing(ctx: dict) -> str:
    """The landing page's notice (both languages): which campaign and data this build shows."""
    facts = [("landing", dict(campaign=ctx["campaign"], dataset=dataset_label(ctx["dataset"]),
                              kind=kind_label(ctx["kind"]), epochs=alternatives(ctx["epochs"])))]
    if ctx["kind"] != "real":
        facts.append(("landing_not_cifar", {}))
    text = "\n\n".join(render(facts, lang) for lang in LANGS)
    return f":::{{{'warning' if ctx['kind'] != 'real' else 'note'}}}\n{text}\n:::\n"


def findings(rows: pd.DataFrame, ctx: dict, studies: dict, lang: str) -> str:
    """The findings discussion: the pairwise questions first, then ranking, ablations and the claims."""
    sep = " " if lang == "en" else ""
    parts = [f"## {say('findings_pairs', lang)}\n\n" + render_pairs(rows, lang),
             f"## {say('findings_overall' if ranked(ctx) else 'findings_order', lang)}\n\n"
             + results_prose(rows, lang)]
    if studies:
        parts.append(f"## {say('findings_studies', lang)}\n\n" + "".join(
            f"- **{st['title'].get(lang, name)}**: " + render(study_facts(df, lang), lang, sep) + "\n"
            for name, (st, df) in studies.items()))
    parts.append(f"## {say('findings_claims', lang)}\n\n" + comparison_prose(rows, ctx, comparable_with_claims(ctx), lang))
    return "\n".join(parts)


def write_campaigns_page(params_dir, out_dir="book/generated") -> None:
    """``campaigns_<lang>.md``: the campaign files in ``params_dir`` as a table, shortest first. Rewritten only
    when it changes (Sphinx rebuilds the pages that include a changed file)."""
    import yaml
    specs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(Path(params_dir).glob("*.yaml"))]
    specs = sorted((s for s in specs if isinstance(s, dict) and "name" in s),
                   key=lambda s: ((s.get("defaults") or {}).get("epochs", 0), s["name"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        text = campaigns_table(specs, lang) if specs else say("no_campaign_files", lang, where=Path(params_dir).name) + "\n"
        path = out / f"campaigns_{lang}.md"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def write_empty_pages(out_dir="book/generated") -> list[str]:
    """Fragments for a book with no campaign yet (a fresh clone): each says so and names the command.
    Existing fragments are kept; returns the names written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in CAMPAIGN_FRAGMENTS:
        for lang in LANGS:
            path = out / f"{name}_{lang}.md"
            if not path.exists():
                text = say("no_recipes", lang) if name == "recipes" else say("no_runs", lang)
                path.write_text(f":::{{note}}\n{text}\n:::\n", encoding="utf-8")
                written.append(path.name)
    if not (out / "landing.md").exists():
        (out / "landing.md").write_text(":::{note}\n" + "\n\n".join(say("no_runs", lang) for lang in LANGS)
                                        + "\n:::\n", encoding="utf-8")
        written.append("landing.md")
    if not (out / "runs_index.md").exists():
        (out / "runs_index.md").write_text(runs_index([], out.parent), encoding="utf-8")
        written.append("runs_index.md")
    return written
