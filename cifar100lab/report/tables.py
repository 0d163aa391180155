"""Tables (as DataFrames, then Markdown / CSV / LaTeX) from the frames in :mod:`.sources`."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..model_catalog import catalog_rows
from ..model_facts import resolve_model_set
from .i18n import CLAUSE_SEP, LIST_SEP, YES_NO, fill, fmt, group, head, reason, say, seconds, status
from .sources import REFERENCE, SCRATCH, group_summary, mixed_hardware, varying


def markdown_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row.values) + " |")
    return "\n".join(lines) + "\n"


def mean_std(values, digits=2) -> str:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "–"
    s = pd.Series(values)
    return f"{s.mean():.{digits}f} ± {s.std():.{digits}f}" if len(s) > 1 else f"{s.mean():.{digits}f}"


def table_seconds(v) -> str:
    """A training time as the tables show it: to two significant digits (a 0.17 s run read "0" in whole seconds),
    no thousands separator, so the CSV downloads' column still reads as numbers."""
    return seconds(v, thousands="")


def _value_std(v, s) -> str:
    return f"{v:.2f} ± {s:.2f}" if not math.isnan(s) else f"{v:.2f}"


def run_link(model: str, run_ids: list[str], book_dir: Path | None) -> str:
    """The model's name, linked to its first run's page when that page is in the book."""
    if book_dir is None or not run_ids or not (book_dir / "runs" / f"{run_ids[0]}.ipynb").exists():
        return model
    return f"[{model}](../runs/{run_ids[0]}.ipynb)"


def failure_note(row, lang: str) -> str:
    """A model row's Note: trained from scratch for want of its ImageNet weights, at or below chance, loss
    diverged (and where), or '' when none of these."""
    notes = [say("note_fallback", lang)] if getattr(row, "fallback", False) is True else []
    if pd.notna(getattr(row, "at_chance", None)) and bool(row.at_chance):
        notes.append(say("note_chance", lang, chance=fmt(row.chance, 0)))
    if isinstance(left := getattr(row, "not_complete", None), dict) and left:
        notes.append(say("note_not_complete", lang, k=sum(left.values()), n=sum(left.values()) + row.seeds,
                         statuses=LIST_SEP[lang].join(f"{status(s)[lang]} {n}" for s, n in left.items())))
    if isinstance(d := getattr(row, "diverged", None), dict):
        which = d.get("which") if d.get("which") == "train" or d.get("train_loss") is not None else None
        notes.append(say(f"note_diverged_{which}" if which else "note_diverged", lang, epoch=d["epoch"],
                         loss=f"{d['loss']:.3g}", train=f"{d.get('train_loss') or 0:.3g}"))
    return CLAUSE_SEP[lang].join(notes)


# Table 1's column for each protocol count a model entry may set (shown where the rows differ: sources.varying)
PROTOCOL_HEADS = {"epochs": "epochs", "train_size": "train_images", "test_size": "test_images"}


def protocol_head(counts: list[str], lang: str) -> str:
    """Table 1's column of the protocol counts that differ between its rows: "Epochs / Training images"."""
    return " / ".join(head(PROTOCOL_HEADS[c], lang) for c in counts)


def table1(rows: pd.DataFrame, lang: str, show_top5: bool = True, book_dir: Path | None = None,
           ranked: bool = True) -> pd.DataFrame:
    """Complete models by top-1; the first column is a Rank only when the protocol makes the order a ranking."""
    done = rows[rows.status == "complete"]
    t = {head("rank" if ranked else "order", lang): done["rank"].astype(int),
         head("model", lang): [run_link(r.model, r.run_ids, book_dir) for r in done.itertuples()],
         head("top1", lang): [_value_std(a, s) for a, s in zip(done.top1, done.top1_std)],
         head("ci", lang): [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(done.top1_lo, done.top1_hi)]}
    if show_top5:
        t[head("top5", lang)] = [_value_std(a, s) for a, s in zip(done.top5, done.top5_std)]
    t.update({head("params", lang): done.params_m.map(lambda v: fmt(v, 3)),
              head("flops", lang): done.flops_m.map(lambda v: fmt(v, 1)),
              head("time", lang): done.train_seconds.map(table_seconds),
              head("ips", lang): done.images_per_second.map(lambda v: fmt(v, 0)),
              head("eff", lang): done.efficiency.map(lambda v: fmt(v, 1))})
    if shows_weights(done):
        t[head("weights", lang)] = [weights_label(r, lang) for r in done.itertuples()]
    if done.seeds.nunique() > 1:  # a constant seed count is stated in the provenance box instead
        t[head("seeds", lang)] = done.seeds
    if counts := varying(done):  # likewise: one value for every row is in the provenance box; one column, to fit
        t[protocol_head(counts, lang)] = [" / ".join(v if isinstance(v, str) else "–" for v in values)
                                          for values in zip(*(done[c] for c in counts))]
    notes = [failure_note(r, lang) for r in done.itertuples()]
    if mixed_hardware(done):  # each row's times are of its own machine
        notes = [CLAUSE_SEP[lang].join(filter(None, [n, say("note_hardware", lang, hw=r.hardware) if r.hardware else ""]))
                 for n, r in zip(notes, done.itertuples())]
    if any(notes):
        t[head("note", lang)] = [n or "–" for n in notes]
    return pd.DataFrame(t)


def shows_weights(done: pd.DataFrame) -> bool:
    """Whether Table 1 has a Weights column: only beside an ImageNet fine-tune. When every row trained from
    scratch the column says nothing (a fallback row's note says why it did), and at 1000 px it would squeeze
    that note to a few characters a line."""
    return "pretrained" in done and bool(done.pretrained.eq(True).any())


def weights_label(row, lang: str) -> str:
    """Where a row's weights started, in the reader's language."""
    return say("weights_imagenet" if getattr(row, "pretrained", False) is True else "weights_scratch", lang)


def not_run_table(rows: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Models without a complete run and why; a fine-tune whose weights were unavailable names its from-scratch row."""
    other = rows[rows.status != "complete"]
    # the same entry's from-scratch row (<entry>-scratch): a fallback, or a scratch layout the campaign trains beside
    # it; a named entry of the same model (another row, other settings) is neither
    fallbacks = {r.model.removesuffix(SCRATCH): r.model for r in rows.itertuples() if r.status == "complete"
                 and r.model.endswith(SCRATCH) and getattr(r, "pretrained", None) is False}
    why = [reason(r)[lang] if m not in fallbacks else say("reason_fallback", lang, reason=reason(r), row=fallbacks[m])
           for m, r in zip(other.model, other.reason)]
    return pd.DataFrame({head("model", lang): other.model,
                         head("status", lang): [status(s)[lang] for s in other.status], head("reason", lang): why})


def table2(rows: pd.DataFrame, lang: str, show_top5: bool = True) -> pd.DataFrame:
    g = group_summary(rows)
    t = {head("group", lang): [group(x)[lang] for x in g.index], head("n", lang): g.n.values,
         head("top1", lang): g.top1.map(fmt).values,
         head("ci", lang): [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(g.lo, g.hi)]}
    if show_top5:
        t[head("top5", lang)] = g.top5.map(fmt).values
    t.update({head("params", lang): g.params_m.map(lambda v: fmt(v, 3)).values,
              head("eff", lang): g.eff.map(lambda v: fmt(v, 1)).values,
              head("time", lang): g.time.map(table_seconds).values})
    return pd.DataFrame(t)


def comparison_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The claims, ours (a model row's columns) and the published results (each model's, joined) on one row per
    model; its table and its download both read these rows."""
    claims = pd.read_csv(REFERENCE / "original_claims.csv")
    pub = pd.read_csv(REFERENCE / "published.csv")
    # each source with its recipe: some differ from ours in model as well as recipe (Mixer-nano beside Mixer-Tiny)
    pub["cited"] = pub.source + " (" + pub.recipe + ")"
    pub = pub.groupby("model").agg(top1=("top1", lambda s: " / ".join(f"{v:.2f}" for v in s)),
                                   source=("cited", lambda s: "; ".join(s)), values=("top1", list),
                                   sources=("source", list), recipes=("recipe", list))
    ours = rows.reindex(columns=["model", "top1", "top1_std", "seeds", "params", "params_m", "status", "run_ids",
                                 "pretrained"])
    m = claims.merge(ours, on="model", how="outer", suffixes=("_claim", ""))
    # The original fine-tuned ImageNet weights for some models (its §3.4.3; HorNet-T among them, which we train from
    # scratch): a difference between runs that started apart would be in part the pretraining's, so none is taken.
    m["same_start"] = (m.weights == "imagenet") == m.pretrained.eq(True)
    return m.merge(pub, left_on="model", right_index=True, how="left", suffixes=("", "_pub"))


def claims_unlike(rows: pd.DataFrame) -> pd.DataFrame:
    """Our complete rows whose claim's run started elsewhere (ImageNet weights against scratch, so ours started as the
    claim's did not): not subtracted."""
    m = comparison_frame(rows)
    return m[(m.status == "complete") & m.top1_claim.notna() & ~m.same_start]


def comparison_table(rows: pd.DataFrame, lang: str, subtract: bool) -> pd.DataFrame:
    """Ours beside the claims and published numbers; ``Ours − claim`` only when ``subtract`` (same protocol)."""
    m = comparison_frame(rows)
    t = {head("model", lang): m.model, head("ours", lang): m.top1.map(fmt), head("claim", lang): m.top1_claim.map(fmt)}
    if subtract:
        t[head("diff", lang)] = (m.top1 - m.top1_claim).where(m.same_start).map(fmt)
    t.update({head("ours_p", lang): m.params_m.map(lambda v: fmt(v, 3)), head("claim_p", lang): m.params_m_claim.map(fmt),
              head("pub", lang): m.top1_pub.fillna("–"), head("source", lang): m.source.fillna("–")})
    return pd.DataFrame(t)


def study_display(df: pd.DataFrame, claims: pd.DataFrame, lang: str) -> pd.DataFrame:
    t = {head("variant", lang): df.variant if lang == "en" else df.variant_zh,
         head("top1", lang): [mean_std(r.values) for r in df.itertuples()],
         head("ci", lang): [f"{lo:.1f}–{hi:.1f}" if lo == lo else "–" for lo, hi in zip(df.top1_lo, df.top1_hi)]}
    if df.ema_values.map(len).any():  # the EMA weights' top-1 beside the raw weights' of the same runs
        t[head("ema_top1", lang)] = df.ema_values.map(mean_std)
    delta = "delta_model" if (df.base != 0).any() else "delta"
    t.update({head("seeds", lang): df.seeds, head("params", lang): df.params_m.map(lambda v: fmt(v, 3)),
              head(delta, lang): df.delta.map(fmt),
              head("beyond", lang): [say("too_few_seeds", lang) if few else "–" if b is None else YES_NO[b][lang]
                                     for b, few in zip(df.beyond_spread, df.get("too_few_seeds", [False] * len(df)))]})
    notes = study_notes(df, lang)
    if any(notes):
        t[head("note", lang)] = [n or "–" for n in notes]
    t = pd.DataFrame(t)
    if len(claims):
        t[head("claim", lang)] = df.variant.map(dict(zip(claims.variant, claims.top1))).map(fmt).values
    return t


def study_notes(df: pd.DataFrame, lang: str) -> list[str]:
    """A study row's Note: :func:`failure_note`, or for a variant with no complete run why its runs stopped (a
    known reason as its sentence); '' when neither."""
    return [failure_note(r, lang) or (reason(r.reason)[lang] if getattr(r, "reason", "") else "")
            for r in df.itertuples()]


SCHEDULE = {"en": "{schedule}, warmup {warmup} ep", "zh": "{schedule}，预热 {warmup} 轮"}  # one column, not two


def recipes_table(used: pd.DataFrame, lang: str) -> str:
    """What the runs used (from their records), not the code's defaults."""
    if used.empty:
        return say("no_recipes", lang) + "\n"
    t = pd.DataFrame({
        head("recipe", lang): used["name"], head("models", lang): used.models.map(_breakable_names),
        head("optimizer", lang): used.optimizer.map(lambda o: "SGD" if o == "sgd" else "AdamW"),
        head("lr", lang): [f"{a:g} → {b:g}" for a, b in zip(used.lr, used.effective_lr)],
        head("wd", lang): used.weight_decay.map(lambda v: f"{v:g}"),
        head("schedule", lang): [fill(SCHEDULE, lang, schedule=s, warmup=f"{w:g}")
                                 for s, w in zip(used.schedule, used.warmup_epochs)],
        head("regularisation", lang): [regularisation(_recorded(r), lang) for r in used.to_dict("records")],
        head("batch", lang): used.get("global_batch", pd.Series(["–"] * len(used)))})
    return markdown_table(t) + "\n" + say("recipes_note", lang) + "\n"


def _breakable_names(names) -> str:
    """Model names, each breakable after its underscores (``<wbr>``: a line may end there, nothing is added to
    copied text), so a long list fits a narrow column without breaking a name mid-word."""
    return ", ".join(n.replace("_", "_<wbr>") for n in names)


def _recorded(row: dict) -> dict:
    """A recipes_used row without the gaps (NaN) where other rows recorded a field this one did not."""
    return {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}


def regularisation(recipe: dict, lang: str) -> str:
    """The regularisation a recorded recipe switches on, compactly ("Mixup 0.8 · CutMix 1 · EMA 0.9998"), or
    "–". A field a record lacks (recorded before it existed) is off; off values are recipes.Recipe's defaults."""
    get = recipe.get
    mixup, cutmix, aug = get("mixup") or 0, get("cutmix") or 0, get("auto_augment") or "none"
    on = [("reg_smoothing", (get("label_smoothing") or 0) > 0, {"v": get("label_smoothing")}),
          ("reg_mixup", mixup > 0, {"v": mixup}), ("reg_cutmix", cutmix > 0, {"v": cutmix}),
          ("reg_mix_prob", (mixup or cutmix) and get("mix_prob", 1) != 1, {"v": get("mix_prob")}),
          ("reg_mix_switch", mixup and cutmix and get("mix_switch_prob", 0.5) != 0.5, {"v": get("mix_switch_prob")}),
          ("reg_randaugment", aug == "randaugment", {"n": get("ra_ops", 2), "m": get("ra_magnitude", 9)}),
          ("reg_trivialaugment", aug == "trivialaugment", {}),
          ("reg_erasing", (get("random_erasing") or 0) > 0, {"v": get("random_erasing")}),
          ("reg_ema", (get("ema_decay") or 0) > 0, {"v": get("ema_decay")}),
          ("reg_clip", (get("grad_clip") or 0) > 0, {"v": get("grad_clip")}),
          ("reg_freeze", get("freeze", "none") == "backbone", {}),
          ("reg_freeze_epochs", (get("freeze_epochs") or 0) > 0, {"v": get("freeze_epochs")}),
          ("reg_layer_decay", get("layer_decay", 1) != 1, {"v": get("layer_decay")})]
    parts = [say(fact, lang, **{k: f"{v:g}" if isinstance(v, (int, float)) else v for k, v in values.items()})
             for fact, shown, values in on if shown]
    return " · ".join(parts) or "–"


def campaigns_table(campaign_files: list[dict], lang: str) -> str:
    """The campaign YAMLs' protocols (``params/*.yaml`` as written), so the Method page states what they run."""
    def count(value, all_words):
        return f"{value:,}" if isinstance(value, int) else say(all_words, lang)

    def model_count(models) -> str | int:  # a list's length, or the set's word and what it stands for now
        if isinstance(models, list):
            return len(models)
        registered = lambda: list(catalog_rows())  # noqa: E731 (the catalog's names: no torch in a book build)
        return say(f"{models}_models", lang, n=len(resolve_model_set(models, registered)))

    rows = []
    for campaign_file in campaign_files:
        d = campaign_file.get("defaults") or {}
        models = campaign_file.get("models") or []
        seeds = len(campaign_file.get("seeds") or [0])
        rows.append({head("campaign", lang): f"`{campaign_file['name']}`",
                     head("models", lang): model_count(models),
                     head("campaign_seeds", lang): f"{seeds} / {len(campaign_file['study_seeds']) if 'study_seeds' in campaign_file else '–'}",
                     head("epochs", lang): d.get("epochs", "–"),
                     head("train_images", lang): count(d.get("train_subset"), "all_images"),
                     head("test_images", lang): count(d.get("test_subset"), "all_images"),
                     head("batch_per_process", lang): d.get("batch_size", "–"),
                     head("processes", lang): campaign_file.get("num_processes") if isinstance(campaign_file.get("num_processes"), int)
                     else say("one_per_gpu", lang)})
    return markdown_table(pd.DataFrame(rows))

