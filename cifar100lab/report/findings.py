"""The findings page: the original analysis's pairwise questions, answered from the records when both runs
exist, with each difference judged against the two test-set intervals; and Table 2's two short lists."""
from __future__ import annotations

import json

import pandas as pd

from .i18n import CLAUSE_SEP, both, fmt, head, say, seconds
from .sources import budget_varies, mixed_hardware
from .tables import markdown_table, protocol_head, table_seconds

# (question, model, reference): the comparisons the original report discussed.
PAIRS = [("pair_pretrained", "convnext_tiny_timm", "convnext_tiny"),
         ("pair_eca", "eca_resnet_20", "resnet_20"), ("pair_eca", "eca_resnet_32", "resnet_32")]
GHOST = [("ghost_resnet_20", "resnet_20"), ("ghost_resnet_32", "resnet_32")]


def _done(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows.status == "complete"].set_index("model")


def _separable(a, b) -> str:
    return "separable" if a.top1_lo > b.top1_hi or b.top1_lo > a.top1_hi else "not_separable_pair"


def _unlike(model: str, ref: str, a, b) -> tuple[str, dict] | None:
    """The fact that two rows trained differently (a model entry's own epochs or training subset), so their
    question is not answered from them; None when they trained alike. (Their test images may differ: each top-1's
    interval is over its own.)"""
    counts = [c for c in ("epochs", "train_size") if c in a.index and not (pd.isna(a[c]) and pd.isna(b[c]))
              and a[c] != b[c]]
    if not counts:
        return None
    said = lambda row: " / ".join(str(row[c]) if isinstance(row[c], str) else "–" for c in counts)  # noqa: E731
    return ("pair_unlike", dict(model=model, ref=ref, a=said(a), b=said(b),
                                what={lang: protocol_head(counts, lang) for lang in ("en", "zh")}))


def _other_recipe(model: str, ref: str, a, b) -> tuple[str, dict] | None:
    """The fact that two rows trained under recipes that differ in some field (a model entry with its own lr, say),
    so an ECA or Ghost question is not answered from them (eca_resnet_20 at lr 0.2 read as ECA's gain); None when
    their recorded recipes agree, or either has none."""
    mine, theirs = (json.loads(row.get("recipe") or "{}") for row in (a, b))
    fields = [k for k in sorted(set(mine) | set(theirs)) if k != "name" and mine.get(k) != theirs.get(k)]
    if not (mine and theirs and fields):
        return None
    said = lambda recipe: ", ".join(str(recipe.get(k, "–")) for k in fields)  # noqa: E731
    return ("pair_unlike", dict(model=model, ref=ref, a=said(mine), b=said(theirs),
                                what={lang: f"{head} {', '.join(fields)}" for lang, head in (("en", "recipe"),
                                                                                           ("zh", "配方"))}))


def trained(row) -> bool:
    """Whether a row (a model's, or a study variant's) trained: some run completed, and its runs neither diverged nor
    ended at or below chance. A difference from a row that did not measures that failure, not the question."""
    at_chance = pd.notna(row.at_chance) and bool(row.at_chance)  # (NaN where unknown)
    return row.seeds > 0 and not at_chance and not isinstance(row.diverged, dict)


def _failed(model: str, ref: str, a, b) -> tuple[str, dict] | None:
    """The fact that a row of the pair failed to train (:func:`trained`), so their difference measures that
    failure ("+55.30 points" for ECA against a ResNet-20 at chance); None when both trained."""
    failed = [name for name, row in ((model, a), (ref, b)) if not trained(row)]
    return ("pair_failed", dict(model=model, ref=ref, failed=" / ".join(failed))) if failed else None


def pair_facts(rows: pd.DataFrame) -> list[tuple[str, dict]]:
    done, facts = _done(rows), []
    for question, model, ref in PAIRS:
        if model in done.index and ref in done.index:
            a, b = done.loc[model], done.loc[ref]
            # a pretrained model and its scratch twin train under their own recipes by design: not compared here
            other = _other_recipe(model, ref, a, b) if question != "pair_pretrained" else None
            facts.append(_unlike(model, ref, a, b) or other or _failed(model, ref, a, b) or (question, dict(
                model=model, ref=ref, a=fmt(a.top1), b=fmt(b.top1), diff=f"{a.top1 - b.top1:+.2f}",
                verdict=both(_separable(a, b)))))
    for model, ref in GHOST:
        if model in done.index and ref in done.index:
            a, b = done.loc[model], done.loc[ref]
            facts.append(_unlike(model, ref, a, b) or _other_recipe(model, ref, a, b) or _failed(model, ref, a, b) or (
                "pair_ghost", dict(
                model=model, ref=ref, saving=f"{100 * (1 - a.params_m / b.params_m):.0f}",
                diff=f"{a.top1 - b.top1:+.2f}", verdict=both(_separable(a, b)))))
    if mixed := mixed_hardware(rows):  # the times of two machines measure the machines too
        facts.append(("time_mixed", dict(list={lang: sep.join(mixed) for lang, sep in CLAUSE_SEP.items()})))
    elif budget_varies(rows):  # so do those of different training budgets
        facts.append(("time_budget", {}))
    elif len(done) > 1:
        t = done.train_seconds.sort_values()
        facts.append(("time_spread", dict(fast=t.index[0], fast_s=seconds(t.iloc[0]), slow=t.index[-1],
                                          slow_s=seconds(t.iloc[-1]), ratio=fmt(t.iloc[-1] / t.iloc[0], 1))))
    return facts


def render_pairs(rows: pd.DataFrame, lang: str) -> str:
    return "".join(f"- {say(fact, lang, **values)}\n" for fact, values in pair_facts(rows)) or say("no_pairs", lang) + "\n"


def short_lists(rows: pd.DataFrame, lang: str) -> str:
    """Top 5 by accuracy per parameter and the 5 fastest to train, as the original's Table 2 lists."""
    done = rows[rows.status == "complete"]
    if done.empty:
        return ""
    eff = done.sort_values("efficiency", ascending=False).head(5)
    fast = done.sort_values("train_seconds").head(5)
    t_eff = pd.DataFrame({head("model", lang): eff.model, head("eff", lang): eff.efficiency.map(lambda v: fmt(v, 1)),
                          head("top1", lang): eff.top1.map(fmt)})
    t_fast = pd.DataFrame({head("model", lang): fast.model, head("time", lang): fast.train_seconds.map(table_seconds),
                           head("top1", lang): fast.top1.map(fmt)})
    lists = f"**{say('list_eff', lang)}**\n\n" + markdown_table(t_eff) + "\n"
    if mixed_hardware(rows) or budget_varies(rows):  # not a ranking of the models' speed (the Results prose says why)
        return lists
    return lists + f"**{say('list_fast', lang)}**\n\n" + markdown_table(t_fast) + "\n"
