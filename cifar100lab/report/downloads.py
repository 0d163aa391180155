"""The book's downloads: beside each table as the page shows it (rounded; its LaTeX), the numbers behind it as CSV.

A CSV has the table's rows in the table's order, each labelled as the table labels it, and one column per quantity
at full precision, its unit in its name: ``_pct`` a percentage, ``_pp`` percentage points, ``_seconds`` seconds,
``params`` and ``flops_per_image`` counts, ``_millions`` millions; a ``_mean`` over a row's seeds comes with their
count (``seeds``), their spread (``_std``: the sample standard deviation, empty for one seed) and the runs' ids
(``run_ids``, separated by ``;``). Headers are English (they are data); the first line, a ``#`` comment
(``pandas.read_csv(path, comment="#")`` skips it), says what was measured on what."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..records import atomic_write_text
from .i18n import LIST_SEP, alternatives, dataset_label, fill, group
from .prose import sizes
from .sources import group_summary
from .tables import comparison_frame, failure_note, shows_weights, study_notes

TEXT = {
    "downloads": {"en": "Download: {links}.", "zh": "下载：{links}。"},
    "csv": {"en": "{link} (its numbers unrounded, with each row's seeds and run ids)",
            "zh": "{link}（表中数值，未舍入，附每行的种子数与运行 ID）"},
    "tex": {"en": "{link} (the table as shown, LaTeX)", "zh": "{link}（表格原样，LaTeX）"},
    "models": {"en": "Every number of this campaign, one row per model (those without a complete run too), unrounded, "
                     "with its runs' ids: {link}.",
               "zh": "本实验配置的全部数值，每个模型一行（包括没有完成运行的模型），未舍入，附各运行 ID：{link}。"},
    "label": {"en": "Measured on {dataset}, campaign {campaign}: {epochs} epoch(s) on {train_size} training images, "
                    "{seeds} seed(s) per model",
              "zh": "在 {dataset} 上测得，实验配置 {campaign}：{train_size} 张训练图像上训练 {epochs} 个 epoch，"
                    "每个模型 {seeds} 个种子"},
    "capped": {"en": " (every epoch at most {steps} steps: max_steps_per_epoch)",
               "zh": "（每个 epoch 最多 {steps} 步：max_steps_per_epoch）"},
}
MODELS_CSV = "models.csv"  # every model row of the campaign (models_data), linked from the Results pages
SEP = ";"  # between a cell's items: run ids, model names, published results


def say(key: str, lang: str, **values) -> str:
    return fill(TEXT[key], lang, **values)


def download_links(names: list[str], lang: str) -> str:
    """The downloads line under a table: each file, and what it holds."""
    links = [say(Path(n).suffix[1:], lang, link=f"{{download}}`{n} <../generated/{n}>`") for n in names]
    return say("downloads", lang, links=LIST_SEP[lang].join(links)) + "\n\n"


def models_link(lang: str) -> str:
    return say("models", lang, link=f"{{download}}`{MODELS_CSV} <../generated/{MODELS_CSV}>`") + "\n\n"


def download_label(ctx: dict) -> str:
    """What a downloaded table was measured on, so it cannot be read as a CIFAR-100 result out of context."""
    capped = say("capped", "en", steps=alternatives(ctx["steps_capped"])) if ctx.get("steps_capped") else ""
    return say("label", "en", dataset=dataset_label(ctx["dataset"]), campaign=ctx["campaign"],
               epochs=alternatives(ctx["epochs"]), train_size=sizes(ctx, "train"),
               seeds=alternatives(ctx["seeds"])) + capped


def write_csv(data: pd.DataFrame, path: Path, caption: str) -> None:
    """``data`` as CSV with the caption as a leading ``#`` comment line."""
    atomic_write_text(path, f"# {caption}\n" + data.to_csv(index=False))


def write_download(data: pd.DataFrame, shown: pd.DataFrame, stem: Path, caption: str) -> None:
    """``stem``.csv: the numbers (``data``); ``stem``.tex: the table as shown (``shown``), the caption as its
    caption."""
    write_csv(data, stem.with_suffix(".csv"), caption)
    atomic_write_text(stem.with_suffix(".tex"), shown.to_latex(index=False, escape=True, caption=caption))


def _ids(ids) -> str:
    return SEP.join(ids) if isinstance(ids, list) else ""


def _count(values) -> pd.Series:
    """Whole numbers as integers, a missing one empty (not 1000.0 and NaN)."""
    return pd.Series(values).astype("Int64")


def _protocol_counts(values) -> pd.Series | None:
    """A row's epochs or training images as :func:`sources.counts` gives them to Table 1 ("8,000", "2,000 / 8,000"
    where its seeds differ), without the thousands separators that made "8,000" text (or 8.0 where a comma is the
    decimal mark): a number, or the numbers joined as Table 1 joins them."""
    if values is None:
        return None
    plain = [v.replace(",", "") if isinstance(v, str) else v for v in values]
    return pd.Series([int(v) if isinstance(v, str) and v.isdigit() else v for v in plain], dtype=object)


def models_data(rows: pd.DataFrame, ranked: bool = True) -> pd.DataFrame:
    """``models.csv``: every row of :func:`sources.model_rows` (Table 1's models in its order, then the models
    without a complete run, their status and reason), every quantity it holds; its first column is a ``rank``
    only where the protocol makes the order a ranking (:func:`tables.table1`), else ``order``."""
    r = rows.reset_index(drop=True)
    diverged = r.diverged.map(lambda d: d if isinstance(d, dict) else {})
    return pd.DataFrame({
        "rank" if ranked else "order": _count(r["rank"]), "model": r.model, "group": r.group, "status": r.status, "reason": r.reason,
        "base_model": r.get("base_model"), "pretrained": r.get("pretrained"), "fallback": r.get("fallback"),
        "seeds": _count(r.seeds), "top1_mean_pct": r.top1, "top1_std_pct": r.top1_std,
        "top1_ci95_low_pct": r.top1_lo, "top1_ci95_high_pct": r.top1_hi, "top5_mean_pct": r.top5,
        "top5_std_pct": r.top5_std, "test_images_per_seed": _count(r.evaluated), "params": _count(r.params),
        "flops_per_image": _count(r.flops), "train_seconds_mean": r.train_seconds,
        "images_per_second_mean": r.images_per_second, "hardware": r.get("hardware"),
        "epochs": _protocol_counts(r.get("epochs")), "train_images": _protocol_counts(r.get("train_size")),
        "top1_mean_pct_per_m_params": r.efficiency,
        "classes": _count(r.classes), "chance_top1_pct": r.chance, "at_or_below_chance": r.at_chance,
        "diverged_epoch": _count(diverged.map(lambda d: d.get("epoch"))),
        "diverged_loss": diverged.map(lambda d: d.get("loss")), "diverged_which": diverged.map(lambda d: d.get("which")),
        "run_ids": r.run_ids.map(_ids)})


def table1_data(rows: pd.DataFrame, show_top5: bool = True, ranked: bool = True) -> pd.DataFrame:
    """Table 1's numbers (:func:`tables.table1`): its columns unrounded, and every row's seeds and run ids."""
    done = rows[rows.status == "complete"]
    data = models_data(done, ranked)
    keep = ["rank" if ranked else "order", "model", "top1_mean_pct", "top1_std_pct", "top1_ci95_low_pct", "top1_ci95_high_pct"]
    keep += ["top5_mean_pct", "top5_std_pct"] if show_top5 else []
    keep += ["params", "flops_per_image", "train_seconds_mean", "images_per_second_mean", "hardware",
             "top1_mean_pct_per_m_params"]
    keep += ["pretrained"] if shows_weights(done) else []
    t = data[keep + ["seeds", "epochs", "train_images", "test_images_per_seed"]]
    notes = [failure_note(r, "en") for r in done.itertuples()]
    if any(notes):
        t["note"] = notes
    t["run_ids"] = data.run_ids
    return t


def table2_data(rows: pd.DataFrame, show_top5: bool = True) -> pd.DataFrame:
    """Table 2's numbers (:func:`tables.table2`): per group the means over its models, unrounded, its models
    and their runs."""
    g = group_summary(rows)
    t = {"group": [group(x)["en"] for x in g.index], "models": g.n.values,
         "model_names": [SEP.join(m) for m in g.models], "runs": g.runs.values,
         "top1_mean_pct": g.top1.values, "top1_ci95_low_pct": g.lo.values, "top1_ci95_high_pct": g.hi.values}
    if show_top5:
        t["top5_mean_pct"] = g.top5.values
    t.update({"params_mean": g.params.values, "top1_mean_pct_per_m_params_mean": g.eff.values,
              "train_seconds_mean": g.time.values, "run_ids": g.run_ids.map(_ids).values})
    return pd.DataFrame(t)


def comparison_data(rows: pd.DataFrame, subtract: bool) -> pd.DataFrame:
    """The comparison table's numbers (:func:`tables.comparison_table`): ours unrounded with its seeds and runs,
    the original report's claims, and each published result (``;``-separated where a model has several)."""
    m = comparison_frame(rows)
    t = {"model": m.model, "top1_mean_pct": m.top1, "claim_top1_pct": m.top1_claim}
    if subtract:
        t["ours_minus_claim_pp"] = (m.top1 - m.top1_claim).where(m.same_start)  # none across starts (tables)
    listed = lambda values: SEP.join(map(str, values)) if isinstance(values, list) else ""  # noqa: E731
    t.update({"params": _count(m.params), "claim_params_millions": m.params_m_claim,
              "published_top1_pct": m["values"].map(listed), "published_source": m.sources.map(listed),
              "published_recipe": m.recipes.map(listed),
              "top1_std_pct": m.top1_std, "seeds": _count(m.seeds), "run_ids": m.run_ids.map(_ids)})
    return pd.DataFrame(t)


def study_data(df: pd.DataFrame, claims: pd.DataFrame) -> pd.DataFrame:
    """A study table's numbers (:func:`tables.study_display`): per variant its runs' mean and spread unrounded,
    its difference from its reference variant (``delta_against``), whether that is beyond the seeds' spread
    (empty where not judged), its seeds and run ids."""
    t = {"variant": df.variant, "model": df.model, "options": df.options, "overrides": df.overrides,
         "top1_mean_pct": df["mean"], "top1_std_pct": df["std"], "top1_ci95_low_pct": df.top1_lo,
         "top1_ci95_high_pct": df.top1_hi}
    if df.ema_values.map(len).any():
        ema = [pd.Series(values, dtype=float) for values in df.ema_values]  # std: NaN for one seed, as top1_std
        t.update(ema_top1_mean_pct=[s.mean() for s in ema], ema_top1_std_pct=[s.std() for s in ema])
    t.update({"seeds": _count(df.seeds), "params": _count(df.params), "delta_top1_pp": df.delta,
              "delta_against": df.variant.iloc[df.base].values, "beyond_seed_spread": df.beyond_spread})
    notes = study_notes(df, "en")
    if any(notes):
        t["note"] = notes
    if len(claims):
        t["claim_top1_pct"] = df.variant.map(dict(zip(claims.variant, claims.top1)))
    t["run_ids"] = df.run_ids.map(_ids)
    return pd.DataFrame(t)
