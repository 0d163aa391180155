"""Result prose: every build-dependent sentence is a fact from :mod:`.i18n` filled from the records."""
from __future__ import annotations

import math

import pandas as pd

from ..data import DATASETS
from .i18n import CLAUSE_SEP, alternatives, dataset_label, fmt, group, join, kind_label, say
from .protocol_text import START
from .sources import (
    CLAIMS_GLOBAL_BATCH,
    budget_varies,
    claims_matched,
    comparable_with_claims,
    evaluated_counts,
    group_intervals,
    mixed_hardware,
    not_separable,
    short_protocol,
    varying,
)
from .tables import claims_unlike, protocol_head


def _admonition(title: str, body: str, cls: str) -> str:
    return f":::{{admonition}} {title}\n:class: {cls}\n{body}\n:::\n\n"


def sizes(ctx: dict, split: str) -> dict | str:
    """The training or test images of a page's runs, as a reader says them: "500", or "500 or 2,000" where model
    entries set their own subsets (:func:`sources.context`'s lists; a context without them has one size)."""
    return counts_said(ctx.get(f"{split}_sizes") or [n for n in [ctx.get(f"{split}_size")] if n])


def counts_said(values) -> dict | str:
    """Image counts that differ between runs, as a reader says them: "1,000", or "500 or 1,000"."""
    return alternatives([f"{n:,}" for n in values])


def provenance(ctx: dict, lang: str) -> str:
    """The provenance box of every results page, plus the notices this build calls for."""
    v = ctx["versions"]
    versions = ", ".join(f"{k} {' / '.join(v[k])}" for k in v if v[k]) or "–"
    label = dataset_label(ctx["dataset"])
    src = say("source", lang, campaign=ctx["campaign"], complete=ctx["complete"], total=ctx["total"],
              dataset=label, kind=kind_label(ctx["kind"]), classes=ctx["classes"] or "–",
              train_size=sizes(ctx, "train"), test_size=sizes(ctx, "test"), epochs=alternatives(ctx["epochs"]), seeds=alternatives(ctx["seeds"]),
              hardware=CLAUSE_SEP[lang].join(ctx["hardware"]) or "–", commit=", ".join(c[:12] for c in ctx["commits"]) or "–",
              versions=versions, checksum=(ctx["checksum"] or "–")[:16],
              when=say("run_day", lang, day=ctx["start"]) if ctx["start"] == ctx["end"]
              else say("run_days", lang, start=ctx["start"], end=ctx["end"]))
    notices = []
    if ctx["kind"] != "real":  # every other dataset says what it is, whatever the protocol
        notice = {"stand-in": "stand_in", "synthetic": "synthetic"}.get(ctx["kind"], "other_data")
        notices.append(say(notice, lang, dataset=label, classes=ctx["classes"] or "–", about=_about(ctx, lang)))
    if ctx.get("steps_capped"):  # "200 epochs on 50,000 images is far from 200 epochs on 50,000" would say nothing
        notices.append(say("steps_capped", lang, steps=alternatives(ctx["steps_capped"])))
    elif short_protocol(ctx):
        notices.append(say("short_protocol", lang, epochs=alternatives(ctx["epochs"]), train_size=sizes(ctx, "train")))
    title = say("not_cifar_title" if ctx["kind"] != "real" else "protocol_title", lang)
    out = _admonition(title, "\n\n".join(notices), "warning") if notices else ""
    return out + stale_notice(ctx, lang) + _admonition(say("provenance_title", lang), src, "note")


def stale_notice(ctx: dict, lang: str) -> str:
    """The warning naming the campaign's runs left out as stale (complete under settings it no longer asks for),
    by what changed; nothing when there are none."""
    by_change: dict[str, list[str]] = {}
    for run_id, fields in (ctx.get("stale") or {}).items():
        by_change.setdefault("; ".join(fields), []).append(run_id)
    if not by_change:
        return ""
    colon = ": " if lang == "en" else "："
    changes = CLAUSE_SEP[lang].join(f"`{c}`{colon}{join(rids, lang)}" for c, rids in by_change.items())
    return _admonition(say("stale_title", lang), say("stale_runs", lang, n=len(ctx["stale"]), campaign=ctx["campaign"],
                                                      changes=changes), "warning")


def _about(ctx: dict, lang: str) -> str:
    """What the dataset's images are, as its registry entry says (``about``), led in for the notice's sentence."""
    entry = DATASETS.get(ctx["dataset"] or "")
    about = entry.about.get(lang) if entry and entry.about else None
    return f"{': ' if lang == 'en' else '：'}{about}" if about else ""


def ranking_facts(rows: pd.DataFrame) -> list[tuple[str, dict]]:
    """The results facts (name, values) in reading order; rendered per language by :func:`results_prose`."""
    if rows.empty:  # a campaign of recipe-changing study variants only: its runs answer its studies
        return [("no_model_rows", {})]
    done = rows[rows.status == "complete"]
    if done.empty:
        return [("no_complete", {})]
    best, worst = done.iloc[0], done.iloc[-1]
    head = dict(n=len(rows), done=len(done), best=best.model, best_top1=fmt(best.top1), best_params=fmt(best.params_m),
                worst=worst.model, worst_top1=fmt(worst.top1))
    # the first row is "the most accurate" only beyond the runner-up's interval, as a group is (group_facts)
    if len(done) > 1 and (best.model, done.model.iloc[1]) in not_separable(rows):
        facts = [("results_head_tied", dict(head, next=done.model.iloc[1], next_top1=fmt(done.top1.iloc[1])))]
    else:
        facts = [("results_head", head)]
    if n_test := evaluated_counts(rows):
        half = (done.top1_hi - done.top1_lo).median() / 2
        seeds = int(done.seeds.max()) > 1  # intervals.shared_images_interval: the seeds share the test images
        facts.append(("interval_seeds" if seeds else "interval",  # a row's own count where rows differ: "1 or 3"
                      dict(n_test=counts_said(n_test), half=fmt(half, 1),
                           seeds=alternatives(sorted({int(s) for s in done.seeds})))))
    if protocol := varying(rows):  # model entries with their own epochs or subsets
        budget = budget_varies(rows)
        facts.append(("protocol_varies", dict(what={lang: protocol_head(protocol, lang) for lang in ("en", "zh")},
                                              budget={lang: say("protocol_budget", lang) if budget else ""
                                                      for lang in ("en", "zh")})))
    if len(done) > 1:
        pairs = not_separable(rows)
        facts.append(("not_separable", dict(k=len(pairs), pairs=len(done) - 1,
                                            list={lang: sep.join(f"{a} / {b}" for a, b in pairs)
                                                  for lang, sep in CLAUSE_SEP.items()}))
                     if pairs else ("all_separable", {}))
    lo, hi = int(done.seeds.min()), int(done.seeds.max())
    facts.append(("one_seed", {}) if hi == 1 else ("seed_spread", dict(seeds=hi)) if lo == hi
                 else ("seed_mixed", dict(lo=lo, hi=hi)))
    eff = done.sort_values("efficiency", ascending=False).iloc[0]
    facts.append(("efficiency", dict(model=eff.model, eff=fmt(eff.efficiency, 1))))
    facts += group_facts(rows) + failure_facts(rows)
    if mixed := mixed_hardware(rows):
        facts.append(("hardware_mixed", dict(list=mixed)))
    skipped = rows[rows.status != "complete"]
    if len(skipped):
        facts.append(("not_complete", dict(k=len(skipped), list=list(skipped.model))))
    return facts


def group_facts(rows: pd.DataFrame) -> list[tuple[str, dict]]:
    """The best group average against the next, claimed only when their test-set intervals do not overlap."""
    groups = group_intervals(rows)
    if len(groups) < 2:
        return []
    top, nxt = groups.iloc[0], groups.iloc[1]
    ci = lambda g: f"{g.lo:.1f}–{g.hi:.1f}"  # noqa: E731
    values = dict(top=group(top.group), top_val=fmt(top.top1), top_ci=ci(top),
                  next=group(nxt.group), next_val=fmt(nxt.top1), next_ci=ci(nxt))
    facts = [("groups" if top.lo > nxt.hi else "groups_noise", values)]
    single = int((groups.n == 1).sum())
    return facts + ([("groups_single", dict(k=single, n=len(groups)))] if single else [])


def failure_facts(rows: pd.DataFrame) -> list[tuple[str, dict]]:
    """Models at or below chance, and models whose loss diverged: named, so no reader ranks a failure."""
    done = rows[rows.status == "complete"]
    facts = []
    low = done[done.at_chance.fillna(False).astype(bool)]
    if len(low):
        facts.append(("at_chance", dict(chance=fmt(done.chance.iloc[0], 0),
                                        classes=int(done.classes.iloc[0]), list=list(low.model))))
    bad = done[done.diverged.notna()]
    # each model named once: a test-loss-only divergence gets its own sentence, not the general one as well
    test_only = [r.model for r in bad.itertuples() if r.diverged.get("which") == "test"]
    if other := [m for m in bad.model if m not in test_only]:
        facts.append(("diverged", dict(list=other)))
    if test_only:
        facts.append(("diverged_test_only", dict(list=test_only)))
    return facts


def render(facts: list[tuple[str, dict]], lang: str, sep: str | None = None) -> str:
    sep = sep if sep is not None else (" " if lang == "en" else "")
    return sep.join(say(f, lang, **{k: (join(v, lang) if isinstance(v, list) else v) for k, v in vals.items()})
                    for f, vals in facts)


def results_prose(rows: pd.DataFrame, lang: str) -> str:
    return render(ranking_facts(rows), lang) + "\n"


def comparison_facts(rows: pd.DataFrame, ctx: dict, subtract: bool) -> list[tuple[str, dict]]:
    facts = [("simulated", {}), ("head_classes", dict(classes=ctx["classes"] or "–"))]
    if not subtract and comparable_with_claims({**ctx, "subsets": False, "steps_capped": [], "global_batches": []}):
        if ctx.get("subsets"):  # the same data and epochs, but part of the images, fewer steps or another batch
            return facts + [("no_subtraction_subset", dict(train_size=sizes(ctx, "train"), test_size=sizes(ctx, "test")))]
        if ctx.get("steps_capped"):
            return facts + [("no_subtraction_capped", dict(steps=alternatives(ctx["steps_capped"])))]
        return facts + [("no_subtraction_batch", dict(batches=alternatives(f"{b:,}" for b in ctx["global_batches"]),
                                                      claims=f"{CLAIMS_GLOBAL_BATCH:,}"))]
    if not subtract:
        return facts + [("no_subtraction", dict(dataset=dataset_label(ctx["dataset"]),
                                                epochs=alternatives(ctx["epochs"])))]
    m = claims_matched(rows)
    if len(m):
        d = m.top1 - m.top1_claim
        rho = m.top1.rank().corr(m.top1_claim.rank()) if len(m) > 2 else math.nan
        facts.append(("gap", dict(n=len(m), mean=f"{d.mean():+.2f}", lo=f"{d.min():+.2f}", hi=f"{d.max():+.2f}",
                                  rho=fmt(rho))))
    return facts + [("claim_unlike", dict(model=r.model, theirs=START[r.weights == "imagenet"],
                                          ours=START[r.weights != "imagenet"])) for r in claims_unlike(rows).itertuples()]


def comparison_prose(rows: pd.DataFrame, ctx: dict, subtract: bool, lang: str) -> str:
    return render(comparison_facts(rows, ctx, subtract), lang) + "\n"
