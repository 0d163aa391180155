"""Ablation studies: one table, figure and paragraph per study, from the campaign manifest and records."""
from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pandas as pd

from .. import records
from ..config_files import ConfigError
from ..intervals import shared_images_interval
from .downloads import download_links, study_data, write_csv
from .figures import figure_study, not_cifar_heading, save_in_every_language
from .findings import trained
from .i18n import CLAUSE_SEP, LANGS, alternatives, dataset_label, say
from .messages import MESSAGES
from .prose import provenance
from .sources import (
    REFERENCE,
    chance_level,
    context,
    divergence,
    executed_parameters,
    load_campaign_records,
    not_complete,
    num_classes,
)
from .tables import markdown_table, study_display

# A study's x_axis (its YAML) as the study table's column
X_COLUMN = {"variant": "variant", "params": "params_m"}


def _history(run: dict) -> list:
    return [(m.get("top1"), m.get("test_loss")) for m in records.curve(run)]


def _variant_row(v: dict, runs: list[dict]) -> dict:
    ok = [r for r in runs if r.get("status") == "complete"]
    ran = ok or runs  # the scale the study's line states: its complete runs', else (none complete) its runs'
    top1 = [r["final"]["top1"] for r in ok]
    with_ema = [r for r in ok if (r.get("ema") or {}).get("final")]
    ema = [r["ema"]["final"]["top1"] for r in with_ema]
    lo, hi = shared_images_interval(top1, [r["final"].get("evaluated") or (r.get("dataset") or {}).get("test_size")
                                           for r in ok])
    chance = chance_level(num_classes(ok[0])) if ok else math.nan
    return {"top1_lo": lo, "top1_hi": hi, "chance": chance, "at_chance": bool(ok) and _mean(top1) <= chance,
            "diverged": next((d for d in map(divergence, ok) if d), None),
            "not_complete": not_complete(r.get("status") for r in runs) if ok else {},
            "variant": v["label"], "variant_zh": v.get("label_zh") or v["label"], "model": v["model"],
            "options": json.dumps(v.get("options") or {}),
            "overrides": json.dumps(v.get("overrides") or {}, sort_keys=True), "seeds": len(ok),
            "mean": _mean(top1), "std": pd.Series(top1).std() if len(top1) > 1 else math.nan,
            # the EMA weights against the raw weights of the same runs
            "ema_mean": _mean(ema), "ema_raw_mean": _mean([r["final"]["top1"] for r in with_ema]),
            "params": ok[0]["params"] if ok else None, "params_m": ok[0]["params"] / 1e6 if ok else math.nan,
            "values": top1, "ema_values": ema, "run_ids": [r["run_id"] for r in ok if r.get("run_id")],
            "epochs": _recorded(ran, "config", "epochs"), "train_sizes": _recorded(ran, "dataset", "train_size"),
            "history": _history(ok[0]) if ok else [],
            "status": "complete" if ok else (runs[0]["status"] if runs else "skipped" if v.get("skipped") else "missing"),
            "reason": "" if ok or not runs else runs[0].get("reason") or "",  # why a variant has no complete run
            "skipped_teacher": (v.get("skipped") or {}).get("teacher") or ""}  # "": not skipped (None reads as NaN)


def _recorded(runs: list[dict], part: str, key: str) -> list:
    """The values of ``record[part][key]`` among ``runs``, each once, in order."""
    return sorted({(r.get(part) or {}).get(key) for r in runs} - {None})


def _mean(values: list) -> float:
    return pd.Series(values).mean() if values else math.nan


def base_rows(df: pd.DataFrame, compare_within: str | None) -> list[int]:
    """Each variant's reference row: the study's first variant, or (``compare_within: model``) the first
    variant of the same model, since a ResNet's and a ConvNeXt's accuracies answer different questions."""
    if compare_within != "model":
        return [0] * len(df)
    return [int(df.index[df.model == m][0]) for m in df.model]


def study_table(manifest_study: dict, recs: dict) -> pd.DataFrame:
    df = pd.DataFrame([_variant_row(v, [recs[i] for i in manifest_study["runs"].get(v["label"], []) if i in recs])
                       for v in manifest_study["variants"]])
    df["base"] = base_rows(df, manifest_study.get("compare_within"))
    base = df.loc[df.base].reset_index(drop=True)
    df["delta"] = df["mean"] - base["mean"]
    judged = seeds_enough(df)
    # only a variant that trained is a reference: against a failed one every variant was "beyond the seed-to-seed
    # spread" by the failure's size, and against one with no complete run the prose said none differed from it
    reference = [trained(r) for r in df.itertuples()]
    compared = [i != b and n > 0 and reference[b] for i, (b, n) in enumerate(zip(df.base, df.seeds))]
    df["beyond_spread"] = [beyond_seed_spread(v, df["values"][b]) if c and judged else None
                           for c, v, b in zip(compared, df["values"], df.base)]
    df["too_few_seeds"] = [c and not judged for c in compared]
    df["same_as"] = same_network(df)
    return df


def untrained_references(df: pd.DataFrame) -> list[int]:
    """The reference rows (:func:`trained` not) of variants that ran: nothing is compared with them."""
    return [b for b in dict.fromkeys(df.base) if not trained(df.iloc[b])
            and any(n > 0 and i != b for i, (base, n) in enumerate(zip(df.base, df.seeds)) if base == b)]


MIN_SEEDS = 3  # per variant, before any difference is judged against the seeds' spread
LEVEL = 0.05  # two-sided


def seeds_enough(df: pd.DataFrame) -> bool:
    """Whether every variant that ran has :data:`MIN_SEEDS` seeds. Two runs' spread says little about the seeds':
    they can even agree exactly (a spread of 0), and a difference measured against it was called real though the
    variants' 95 % intervals overlapped."""
    ran = df.seeds[df.seeds > 0]
    return bool(len(ran)) and bool((ran >= MIN_SEEDS).all())


def beyond_seed_spread(values: list[float], reference: list[float]) -> bool:
    """Whether a variant's seeds differ from its reference's beyond their seed-to-seed spread: Welch's t-test (each
    side its own spread), two-sided at the 5 % level. Twice the standard error, the rule before, ignored how few
    seeds estimate that error (for 3 seeds each, a t quantile of 2.8 to 4.3, not 2)."""
    from scipy.stats import ttest_ind  # the book extra's
    if statistics.pvariance(values) == 0 and statistics.pvariance(reference) == 0:
        return statistics.fmean(values) != statistics.fmean(reference)  # every seed alike on each side
    return bool(ttest_ind(values, reference, equal_var=False).pvalue < LEVEL)


def same_network(df: pd.DataFrame) -> list[int]:
    """For each variant, the row of the earlier variant it reproduces exactly (same model, recipe change,
    parameters and curve), or -1. (An EMA variant's raw weights train like its plain twin: not a repeat.)

    ECA's adaptive kernel resolves to k = 3 for 16-64 channels: a separate run of it repeats the k = 3 run."""
    out = []
    for i, r in enumerate(df.itertuples()):
        twin = next((p for p in df.iloc[:i].itertuples() if r.history and p.model == r.model
                     and p.overrides == r.overrides and p.params_m == r.params_m and p.history == r.history), None)
        out.append(twin.Index if twin is not None else -1)
    return out


def every_run_failed(df: pd.DataFrame) -> bool:
    """Whether each variant that ran failed: its runs diverged or ended at or below chance, or none completed."""
    ran = [r for r in df.itertuples() if r.seeds > 0 or r.status == "failed"]
    return bool(ran) and all(r.seeds == 0 or r.at_chance or isinstance(r.diverged, dict) for r in ran)


def study_facts(df: pd.DataFrame, lang: str) -> list[tuple[str, dict]]:
    label = "variant" if lang == "en" else "variant_zh"
    done = df[df.seeds > 0]
    failed = every_run_failed(df)
    if done.empty:
        return [("study_none_failed" if failed else "study_none", {})] + skipped_facts(df, lang)
    per_model = bool((df.base != 0).any())
    facts = [_top(g, label, model if per_model else None) for model, g in
             (done.groupby("model", sort=False) if per_model else [(None, done)])]
    if failed:  # "the highest" of runs that all failed would read as a finding; more seeds would not help
        return facts + [("study_all_failed", {})] + skipped_facts(df, lang)
    significant = [r for r in df.itertuples() if r.beyond_spread]
    sep = CLAUSE_SEP[lang]
    unjudged = untrained_references(df)
    if (done.seeds == 1).all():  # (a variant of 1 seed beside others of 3 is "1 or 3 seeds", not "a single seed")
        facts.append(("study_one_seed", {}))
    elif not seeds_enough(df):
        facts.append(("study_few_seeds", dict(seeds=alternatives(sorted(set(done.seeds))), min=MIN_SEEDS)))
    elif unjudged and not df.beyond_spread.notna().any():
        pass  # nothing was compared: study_no_reference below says why, no sentence says what did not differ
    elif significant and per_model:
        facts.append(("study_beyond_model", dict(list=sep.join(say(
            "delta_against", lang, variant=getattr(r, label), delta=f"{r.delta:+.2f}", base=df.iloc[r.base][label])
            for r in significant))))
    elif significant:
        facts.append(("study_beyond", dict(base=df.iloc[0][label], list=sep.join(
            f"{getattr(r, label)} ({r.delta:+.2f})" for r in significant))))
    else:
        facts.append(("study_within_model", {}) if per_model else ("study_within", dict(base=df.iloc[0][label])))
    for r in df.itertuples():
        if r.same_as >= 0:
            facts.append(("same_network", dict(variant=getattr(r, label), twin=df.iloc[r.same_as][label],
                                               why=say("same_network_why", lang))))
    if unjudged:
        facts.append(("study_no_reference", dict(base=sep.join(df.iloc[b][label] for b in unjudged))))
    return facts + ema_facts(df, lang) + skipped_facts(df, lang)


def _top(group: pd.DataFrame, label: str, model: str | None) -> tuple[str, dict]:
    top = group.sort_values("mean", ascending=False).iloc[0]
    values = dict(variant=top[label], top1=f"{top['mean']:.2f}", seeds=int(top.seeds))
    return ("study_top_model", dict(values, model=model)) if model else ("study_top", values)


def skipped_facts(df: pd.DataFrame, lang: str) -> list[tuple[str, dict]]:
    """For each variant the campaign skipped because its teacher has no run yet: which, and which teacher."""
    label = "variant" if lang == "en" else "variant_zh"
    return [("variant_skipped", dict(variant=getattr(r, label), teacher=r.skipped_teacher))
            for r in df.itertuples() if r.skipped_teacher]


def ema_facts(df: pd.DataFrame, lang: str) -> list[tuple[str, dict]]:
    """For each variant whose runs kept a weight EMA: its top-1 beside the raw weights' of the same runs."""
    label = "variant" if lang == "en" else "variant_zh"
    return [("ema_beside_raw", dict(variant=getattr(r, label), ema=f"{r.ema_mean:.2f}", raw=f"{r.ema_raw_mean:.2f}",
                                    diff=f"{r.ema_mean - r.ema_raw_mean:+.2f}", seeds=len(r.ema_values)))
            for r in df.itertuples() if r.ema_values]


def study_prose(df: pd.DataFrame, lang: str) -> str:
    sep = " " if lang == "en" else ""
    return sep.join(say(f, lang, **v) for f, v in study_facts(df, lang)) + "\n"


def figure_block(name: str, caption: str, alt: str) -> str:
    # Generated fragments are included by pages one folder down (book/en, book/zh), so paths start there.
    alt = " ".join(alt.split())
    return f"```{{figure}} ../generated/{name}\n:width: 100%\n:alt: {alt}\n\n{caption}\n```\n\n"


ALT_TEXTS = "alt.json"  # figure file -> its alt text, for the notebook pages that display the same file


def record_alt(out: Path, texts: dict[str, str]) -> None:
    """Add figure file -> alt text entries to the generated folder's alt.json (read by the book's extension)."""
    path = Path(out) / ALT_TEXTS
    known = records.read_json(path) if path.exists() else {}
    records.atomic_write_text(path, json.dumps({**known, **texts}, indent=1, ensure_ascii=False, sort_keys=True))


def study_alt(df: pd.DataFrame, title: str, lang: str, x: str = "variant") -> str:
    """What the study's figure draws: dots per variant, or (``x='params_m'``) a line against parameters."""
    done = df[df.seeds > 0]
    return say("alt_study_params" if x == "params_m" else "alt_study", lang, n=len(df), title=title,
               lo=f"{done['mean'].min():.1f}" if len(done) else "–", hi=f"{done['mean'].max():.1f}" if len(done) else "–")


def write_study_report(campaign: str, study: str, runs_root="runs", out_dir="book/generated") -> dict:
    manifest, recs_list = load_campaign_records(campaign, runs_root)
    st = next((s for s in manifest["studies"] if s["name"] == study), None)
    if st is None:
        raise ConfigError(f"campaign {campaign!r} has no study {study!r}; its studies: "
                          f"{', '.join(s['name'] for s in manifest['studies']) or 'none'}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ctx = context(manifest, recs_list)
    df = study_table(st, {r["run_id"]: r for r in recs_list})
    claims = pd.read_csv(REFERENCE / "original_ablations.csv")
    claims = claims[claims.study == study]
    write_csv(study_data(df, claims), out / f"study-{study}.csv", study_label(ctx, df, "en"))
    # The Ablations page shows every study, one figure each; the study's own page (its notebook) shows one.
    number = [s["name"] for s in manifest["studies"]].index(study) + 1
    standalone, x = {}, X_COLUMN[st.get("x_axis") or "variant"]
    save_in_every_language(lambda lang, layout: figure_study(df, st["title"].get(lang, st["name"]), lang, x,
                                                             not_cifar_heading(ctx, lang), layout),
                           out / f"study-{study}")
    for lang in LANGS:
        title = st["title"].get(lang, st["name"])
        record_alt(out, {f"study-{study}_{lang}.png": study_alt(df, title, lang, x)})
        (out / f"study-{study}_{lang}.md").write_text(study_text(st, df, ctx, claims, lang, number), encoding="utf-8")
        standalone[lang] = study_text(st, df, ctx, claims, lang, 1, titled=False)  # the page's title names it
    return {"study": st, "table": df, "context": ctx, "out_dir": str(out), "standalone": standalone}


def study_text(st: dict, df: pd.DataFrame, ctx: dict, claims: pd.DataFrame, lang: str, number: int,
               titled: bool = True) -> str:
    """A study's section: its title (where ``titled``), question, scale, prose, table, and its figure as the
    page's figure ``number``."""
    title, study = st["title"].get(lang, st["name"]), st["name"]
    seeds, x = int(df.seeds.max()) if len(df) else 0, X_COLUMN[st.get("x_axis") or "variant"]
    caption = "study_caption_params" if x == "params_m" else "study_caption"
    # every variant's seed count ("1 or 3"): a variant whose other seeds failed is a mean of fewer
    cap = say(f"{caption}_seeds", lang, seeds=alternatives(sorted(set(df.seeds) - {0}))) if seeds > 1 \
        else say(f"{caption}_one", lang)
    about = f"study_about_{study}"  # how the study is run, where its question does not say
    return ((f"## {title}\n\n" if titled else "") + f"{st.get('question', {}).get(lang, '')}\n\n"
            + (say(about, lang) + "\n\n" if about in MESSAGES else "")
            + f"*{study_label(ctx, df, lang)}{'.' if lang == 'en' else '。'}*\n\n"
            + (left_out_note(st, lang) + "\n\n" if st.get("left_out") else "")
            + study_prose(df, lang) + "\n"
            + markdown_table(study_display(df, claims, lang)) + "\n"
            + (say("study_table_note", lang) + "\n\n" if seeds > 1 else "")
            + (say("study_claims_note", lang) + "\n\n" if len(claims) else "")
            + download_links([f"study-{study}.csv"], lang)
            + figure_block(f"study-{study}_{lang}.png",
                           f"{say('fig_no', lang, i=number)} {title}{'. ' if lang == 'en' else '。'}{cap}",
                           study_alt(df, title, lang, x)))


def left_out_note(st: dict, lang: str) -> str:
    """Which of the study's models this campaign left out (``{study: FILE, models: [...]}`` in its YAML)."""
    sep = ", " if lang == "en" else "、"
    kept = list(dict.fromkeys(v["model"] for v in st["variants"]))
    return say("study_left_out", lang, kept=sep.join(f"`{m}`" for m in kept),
               left=sep.join(f"`{m}`" for m in st["left_out"]), path="/".join(Path(st["path"]).parts[-2:]))


def study_label(ctx: dict, df: pd.DataFrame, lang: str) -> str:
    """What a study was measured on: dataset, campaign and the scale of its own runs (training images, epochs,
    seeds per variant); the campaign's, "1 or 4 epochs", was said of a study whose runs all had 4. A study with
    no run recorded yet states the campaign's images and epochs."""
    sizes = sorted(set().union(*df.train_sizes)) or [n for n in [ctx["train_size"]] if n]
    return say("study_scale", lang, dataset=dataset_label(ctx["dataset"]), campaign=ctx["campaign"],
               train_size=alternatives([f"{n:,}" for n in sizes]),
               epochs=alternatives(sorted(set().union(*df.epochs)) or ctx["epochs"]),
               seeds=alternatives(sorted(set(df.seeds) - {0})))


def study_pages_not_run(generated: Path, manifest: dict) -> list[tuple[str, str]]:
    """(page name, its campaign) of each executed ablation notebook in ``generated`` that another campaign wrote,
    or this one for a study it no longer runs: the book's sidebar lists every one."""
    campaign, studies = manifest.get("name"), {s["name"] for s in manifest.get("studies") or []}
    found = []
    for page in sorted(Path(generated).glob("ablation-*.ipynb")):
        given = executed_parameters(page)
        # (a page papermill did not write says nothing)
        if given.get("campaign") not in (None, campaign) or (given.get("campaign") and given.get("study")
                                                               and given["study"] not in studies):
            found.append((page.stem, str(given["campaign"])))
    return found


def ablations_index(manifest: dict, ctx: dict, lang: str, others: list[tuple[str, str]] = ()) -> str:
    parts = [provenance(ctx, lang)]
    if not manifest.get("studies"):
        parts.append(say("no_studies", lang) + "\n")
    for st in manifest.get("studies", []):
        parts.append(f"```{{include}} ../generated/study-{st['name']}_{lang}.md\n```\n")
    for key, pages in (("other_studies", [p for p in others if p[1] != manifest.get("name")]),
                       ("dropped_studies", [p for p in others if p[1] == manifest.get("name")])):
        if pages:
            links = ", ".join(f"[{name.removeprefix('ablation-')}](../generated/{name}.ipynb) ({campaign})"
                              for name, campaign in pages)
            parts.append(say(key, lang, pages=links, campaign=manifest.get("name")) + "\n")
    return "\n".join(parts)
