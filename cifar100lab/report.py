"""Everything the book shows, computed from run records: tables (Markdown, CSV, LaTeX), figures, and the
result prose in English and Chinese. Nothing here trains; nothing here holds a result typed by hand
(the original report's *claims* and published references are data files in ``cifar100lab/reference``)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from . import records
from .registry import GROUPS

REFERENCE = Path(__file__).resolve().parent / "reference"
LANGS = ("en", "zh")
GROUP_ZH = {"basic ResNet": "基础 ResNet", "attention": "注意力", "lightweight": "轻量化", "modern conv": "现代卷积",
            "hybrid & advanced": "混合与先进架构", "MLP": "MLP"}
KIND_ZH = {"real": "真实数据", "stand-in": "替代数据集", "synthetic": "合成数据"}
DATASET_ZH = {"cifar100": "CIFAR-100", "fashion-mnist": "Fashion-MNIST（CIFAR-100 的替代数据集）",
              "synthetic": "合成数据（CIFAR-100 目录格式）"}
HEAD = {
    "en": {"rank": "Rank", "model": "Model", "group": "Group", "top1": "Top-1 (%)", "top5": "Top-5 (%)",
           "params": "Params (M)", "flops": "FLOPs (M)", "time": "Train time (s)", "ips": "Images/s",
           "eff": "Top-1 / M params", "hw": "Hardware", "seeds": "Seeds", "n": "Models", "status": "Status",
           "reason": "Reason", "ours": "Ours top-1 (%)", "claim": "Original claim (%)", "diff": "Ours − claim",
           "ours_p": "Ours params (M)", "claim_p": "Claimed params (M)", "pub": "Published top-1 (%)",
           "source": "Published source", "variant": "Variant", "delta": "Δ vs first (pp)", "beyond": "Beyond seed spread?"},
    "zh": {"rank": "排名", "model": "模型", "group": "类别", "top1": "Top-1 (%)", "top5": "Top-5 (%)",
           "params": "参数量 (M)", "flops": "FLOPs (M)", "time": "训练时间 (s)", "ips": "图像/秒",
           "eff": "Top-1 / 百万参数", "hw": "硬件", "seeds": "种子数", "n": "模型数", "status": "状态",
           "reason": "原因", "ours": "本项目 Top-1 (%)", "claim": "原报告声称 (%)", "diff": "本项目 − 声称",
           "ours_p": "本项目参数量 (M)", "claim_p": "原报告参数量 (M)", "pub": "公开结果 Top-1 (%)",
           "source": "公开来源", "variant": "变体", "delta": "相对首行 Δ (百分点)", "beyond": "超出种子波动？"},
}


def style():
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook", palette="deep")


def fmt(x, digits=2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def mean_std(values, digits=2) -> str:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "–"
    s = pd.Series(values)
    return f"{s.mean():.{digits}f} ± {s.std():.{digits}f}" if len(s) > 1 else f"{s.mean():.{digits}f}"


def markdown_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row.values) + " |")
    return "\n".join(lines) + "\n"


def load_campaign_records(campaign: str, runs_root="runs") -> tuple[dict, list[dict]]:
    root = Path(runs_root) / campaign
    manifest_path = root / records.MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"no campaign manifest at {manifest_path}: run the campaign first")
    manifest = records.read_json(manifest_path)
    recs = {r["run_id"]: r for r in records.load_records(root)}
    return manifest, [recs[i] for i in manifest["runs"] if i in recs]


def context(manifest: dict, recs: list[dict]) -> dict:
    """Campaign, dataset and hardware a page's numbers come from."""
    done = [r for r in recs if r.get("status") == "complete"]
    ds = (done or recs or [{}])[0].get("dataset") or {"name": manifest.get("dataset"), "kind": None}
    hw = sorted({f"{r['hardware']['count']} × {r['hardware']['device']} ({r['hardware']['precision']})"
                 for r in done if r.get("hardware")})
    return {"campaign": manifest["name"], "dataset": ds.get("name"), "kind": ds.get("kind") or "real",
            "label": ds.get("label", ds.get("name")), "train_size": ds.get("train_size"),
            "test_size": ds.get("test_size"), "hardware": hw, "epochs": sorted({r["config"]["epochs"] for r in done}),
            "complete": len(done), "total": len(recs)}


def banner(ctx: dict, lang: str) -> str:
    """A note for every results page: where the numbers come from; a warning when not CIFAR-100."""
    hw = "; ".join(ctx["hardware"]) or "–"
    ep = ", ".join(map(str, ctx["epochs"])) or "–"
    if lang == "en":
        src = (f"Campaign profile **{ctx['campaign']}**: {ctx['complete']} of {ctx['total']} runs complete, "
               f"dataset **{ctx['label']}** ({ctx['train_size']} training / {ctx['test_size']} test images), "
               f"{ep} epoch(s), hardware: {hw}.")
        warn = {"stand-in": "These results were measured on **Fashion-MNIST, a stand-in for CIFAR-100** (10 classes of "
                            "28×28 grey images, padded to 32×32). They test the pipeline and rank models on real "
                            "images, but they are **not CIFAR-100 results**.",
                "synthetic": "These results were measured on **synthetic data** generated by this project in the "
                             "CIFAR-100 layout. They only show that the pipeline works; **they say nothing about "
                             "the models' accuracy on CIFAR-100**."}.get(ctx["kind"])
        title = "Not CIFAR-100"
    else:
        src = (f"实验配置 **{ctx['campaign']}**：{ctx['total']} 个运行中 {ctx['complete']} 个完成，"
               f"数据集 **{DATASET_ZH.get(ctx['dataset'], ctx['label'])}**（训练 {ctx['train_size']} / 测试 "
               f"{ctx['test_size']} 张图像），{ep} 个 epoch，硬件：{hw}。")
        warn = {"stand-in": "本页结果在 **Fashion-MNIST（CIFAR-100 的替代数据集）** 上测得（10 类 28×28 灰度图像，"
                            "填充到 32×32）。它们检验流程并在真实图像上比较模型，但 **不是 CIFAR-100 结果**。",
                "synthetic": "本页结果在本项目生成的 **合成数据**（CIFAR-100 目录格式）上测得，只说明流程可运行，"
                             "**不能说明模型在 CIFAR-100 上的准确率**。"}.get(ctx["kind"])
        title = "不是 CIFAR-100"
    out = ""
    if warn:
        out += f":::{{admonition}} {title}\n:class: warning\n{warn}\n:::\n\n"
    return out + f":::{{note}}\n{src}\n:::\n\n"


# ------------------------------------------------------------------------------------------------ one run

def curves_figure(history: list[dict], title: str = ""):
    import matplotlib.pyplot as plt
    style()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    df = pd.DataFrame(history)
    if len(df):
        a.plot(df.epoch, df.train_loss, marker="o", label="train")
        a.plot(df.epoch, df.test_loss, marker="o", label="test")
        b.plot(df.epoch, df.train_acc, marker="o", label="train top-1")
        b.plot(df.epoch, df.top1, marker="o", label="test top-1")
        b.plot(df.epoch, df.top5, marker="o", label="test top-5")
    a.set(xlabel="epoch", ylabel="loss")
    b.set(xlabel="epoch", ylabel="accuracy (%)")
    a.legend(), b.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def run_summary(record: dict) -> pd.Series:
    ds, hw = record.get("dataset") or {}, record.get("hardware") or {}
    final, best = record.get("final") or {}, record.get("best") or {}
    return pd.Series({"run": record["run_id"], "status": record["status"], "reason": record.get("reason"),
                      "model": record["model"], "options": json.dumps(record.get("options") or {}),
                      "dataset": ds.get("label"), "top-1 (%)": final.get("top1"), "top-5 (%)": final.get("top5"),
                      "best top-1 (%)": best.get("top1"), "best epoch": best.get("epoch"),
                      "params": record.get("params"), "FLOPs": record.get("flops"),
                      "epochs": record.get("epochs_done"), "wall (s)": record.get("wall_seconds"),
                      "images/s": record.get("images_per_second"),
                      "hardware": f"{hw.get('count')} × {hw.get('device')} ({hw.get('precision')})" if hw else None})


def show_run(record: dict) -> None:
    """Display one run in its notebook and glue its numbers and figure for the book."""
    from IPython.display import Markdown, display
    from myst_nb import glue
    summary = run_summary(record)
    kind = (record.get("dataset") or {}).get("kind")
    if kind and kind != "real":
        display(Markdown(f"**Dataset: {summary['dataset']} — not CIFAR-100.**"))
    display(summary.to_frame("value"))
    glue("status", record["status"], display=False)
    final = record.get("final") or {}
    for key in ("top1", "top5"):
        glue(key, final.get(key, float("nan")), display=False)
    glue("params_m", (record.get("params") or 0) / 1e6, display=False)
    if record["status"] == "complete":
        fig = curves_figure(records.read_metrics(record["run_dir"]) if "run_dir" in record else
                            records.read_metrics(record["config"]["run_dir"]), record["run_id"])
        glue("curves", fig, display=True)
    else:
        display(Markdown(f"Run {record['status']}: {record.get('reason')}"))


# ------------------------------------------------------------------------------------------ campaign tables

def short_device(name: str) -> str:
    """'Intel(R) Xeon(R) Processor (2 logical CPUs)' -> 'Intel Xeon CPU': narrow enough for a table cell."""
    base = name.split(" (")[0].replace("(R)", "").replace("(TM)", "").replace(" Processor", "").strip()
    return base if "NVIDIA" in base or "GPU" in base else f"{base} CPU"


def model_rows(recs: list[dict], models: list[str] | None = None) -> pd.DataFrame:
    """One row per model (seeds aggregated) from the campaign's plain model runs (no options)."""
    rows = []
    df = records.records_frame(recs)
    plain = df[(df.options == "{}") & (df.model.isin(models) if models is not None else True)]
    for model, g in plain.groupby("model", sort=False):
        ok = g[g.status == "complete"]
        first = g.iloc[0]
        rec = next(r for r in recs if r["run_id"] == first.run_id)
        rows.append({"model": model, "group": rec.get("group") or first.group, "status": "complete" if len(ok) else first.status,
                     "reason": None if len(ok) else first.reason, "seeds": len(ok),
                     "top1": ok.top1.mean() if len(ok) else math.nan, "top1_std": ok.top1.std() if len(ok) > 1 else math.nan,
                     "top5": ok.top5.mean() if len(ok) else math.nan, "top5_std": ok.top5.std() if len(ok) > 1 else math.nan,
                     "params_m": (ok.params.iloc[0] / 1e6) if len(ok) else math.nan,
                     "flops_m": (ok.flops.iloc[0] / 1e6) if len(ok) else math.nan,
                     "train_seconds": ok.train_seconds.mean() if len(ok) else math.nan,  # resumes included
                     "images_per_second": ok.images_per_second.mean() if len(ok) else math.nan,
                     "hardware": f"{int(ok.device_count.iloc[0])} × {short_device(ok.device.iloc[0])}" if len(ok) else ""})
    out = pd.DataFrame(rows)
    if len(out):
        out["efficiency"] = out.top1 / out.params_m
        out = out.sort_values("top1", ascending=False, na_position="last").reset_index(drop=True)
        out.insert(0, "rank", [i + 1 if s == "complete" else None for i, s in enumerate(out.status)])
    return out


def table1(rows: pd.DataFrame, lang: str) -> pd.DataFrame:
    h = HEAD[lang]
    done = rows[rows.status == "complete"]
    return pd.DataFrame({
        h["rank"]: done["rank"].astype(int), h["model"]: done.model,
        h["top1"]: [f"{a:.2f} ± {s:.2f}" if not math.isnan(s) else f"{a:.2f}" for a, s in zip(done.top1, done.top1_std)],
        h["top5"]: [f"{a:.2f} ± {s:.2f}" if not math.isnan(s) else f"{a:.2f}" for a, s in zip(done.top5, done.top5_std)],
        h["params"]: done.params_m.map(lambda v: fmt(v, 3)), h["flops"]: done.flops_m.map(lambda v: fmt(v, 1)),
        h["time"]: done.train_seconds.map(lambda v: fmt(v, 0)), h["ips"]: done.images_per_second.map(lambda v: fmt(v, 0)),
        h["eff"]: done.efficiency.map(lambda v: fmt(v, 1)), h["seeds"]: done.seeds, h["hw"]: done.hardware})


def not_run_table(rows: pd.DataFrame, lang: str) -> pd.DataFrame:
    h = HEAD[lang]
    other = rows[rows.status != "complete"]
    return pd.DataFrame({h["model"]: other.model, h["status"]: other.status, h["reason"]: other.reason})


def table2(rows: pd.DataFrame, lang: str) -> pd.DataFrame:
    h = HEAD[lang]
    done = rows[rows.status == "complete"]
    g = done.groupby("group").agg(n=("model", "count"), top1=("top1", "mean"), top5=("top5", "mean"),
                                  params=("params_m", "mean"), eff=("efficiency", "mean"))
    g = g.reindex([x for x in GROUPS if x in g.index]).sort_values("top1", ascending=False)
    names = [GROUP_ZH[x] if lang == "zh" else x for x in g.index]
    return pd.DataFrame({h["group"]: names, h["n"]: g.n.values, h["top1"]: g.top1.map(fmt).values,
                         h["top5"]: g.top5.map(fmt).values, h["params"]: g.params.map(lambda v: fmt(v, 3)).values,
                         h["eff"]: g.eff.map(lambda v: fmt(v, 1)).values})


def comparison_table(rows: pd.DataFrame, lang: str) -> pd.DataFrame:
    h = HEAD[lang]
    claims = pd.read_csv(REFERENCE / "original_claims.csv")
    pub = pd.read_csv(REFERENCE / "published.csv").groupby("model").agg(
        top1=("top1", lambda s: " / ".join(f"{v:.2f}" for v in s)), source=("source", lambda s: "; ".join(s)))
    m = claims.merge(rows[["model", "top1", "params_m", "status"]], on="model", how="outer", suffixes=("_claim", ""))
    m = m.merge(pub, left_on="model", right_index=True, how="left", suffixes=("", "_pub"))
    return pd.DataFrame({
        h["model"]: m.model, h["ours"]: m.top1.map(fmt), h["claim"]: m.top1_claim.map(fmt),
        h["diff"]: (m.top1 - m.top1_claim).map(lambda v: fmt(v) if not math.isnan(v) else "–"),
        h["ours_p"]: m.params_m.map(lambda v: fmt(v, 3)), h["claim_p"]: m.params_m_claim.map(fmt),
        h["pub"]: m.top1_pub.fillna("–"), h["source"]: m.source.fillna("–")})


# ------------------------------------------------------------------------------------------------ figures

def save(fig, path: Path) -> str:
    fig.savefig(path, dpi=130, bbox_inches="tight")
    return path.name


def figure_top1(rows: pd.DataFrame):
    import matplotlib.pyplot as plt
    import seaborn as sns
    style()
    done = rows[rows.status == "complete"]
    fig, ax = plt.subplots(figsize=(8, 0.32 * max(4, len(done)) + 1))
    sns.barplot(data=done, y="model", x="top1", hue="group", dodge=False, ax=ax, hue_order=[g for g in GROUPS if g in set(done.group)])
    if done.top1_std.notna().any():
        ax.errorbar(done.top1, range(len(done)), xerr=done.top1_std.fillna(0), fmt="none", ecolor="black", capsize=2)
    ax.set(xlabel="top-1 accuracy (%)", ylabel="")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def figure_acc_params(rows: pd.DataFrame):
    import matplotlib.pyplot as plt
    import seaborn as sns
    style()
    done = rows[rows.status == "complete"]
    fig, ax = plt.subplots(figsize=(8, 4.8))
    sns.scatterplot(data=done, x="params_m", y="top1", hue="group", size="flops_m", sizes=(30, 600), ax=ax,
                    hue_order=[g for g in GROUPS if g in set(done.group)], alpha=0.8)
    for _, r in done.iterrows():
        ax.annotate(r.model, (r.params_m, r.top1), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.set(xscale="log", xlabel="parameters (M, log scale)", ylabel="top-1 accuracy (%)")
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


def figure_curves(recs: list[dict], models: list[str]):
    import matplotlib.pyplot as plt
    import seaborn as sns
    style()
    frames = []
    for r in recs:
        if r.get("status") == "complete" and r["model"] in models and not r.get("options"):
            m = pd.DataFrame(records.read_metrics(r["run_dir"]))
            m["model"], m["seed"] = r["model"], r["seed"]
            frames.append(m)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if frames:
        df = pd.concat(frames)
        sns.lineplot(data=df, x="epoch", y="top1", hue="model", hue_order=models, marker="o", ax=ax,
                     errorbar="sd" if df.seed.nunique() > 1 else None)
        ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set(xlabel="epoch", ylabel="test top-1 accuracy (%)")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------- rendered prose

def results_prose(rows: pd.DataFrame, lang: str) -> str:
    done = rows[rows.status == "complete"]
    if done.empty:
        return ("No run of this campaign has completed yet.\n" if lang == "en" else "本实验配置尚无完成的运行。\n")
    best, worst = done.iloc[0], done.iloc[-1]
    eff = done.sort_values("efficiency", ascending=False).iloc[0]
    groups = done.groupby("group").top1.mean().sort_values(ascending=False)
    second = done.iloc[1] if len(done) > 1 else None
    # Is the winner's lead larger than the seed spread? Only answerable with several seeds.
    lead_note = {"en": "", "zh": ""}
    if second is not None:
        gap = best.top1 - second.top1
        spread = max(best.top1_std if not math.isnan(best.top1_std) else 0,
                     second.top1_std if not math.isnan(second.top1_std) else 0)
        if best.seeds > 1 and second.seeds > 1:
            beyond = gap > 2 * spread
            lead_note["en"] = (f" Its lead over {second.model} ({gap:.2f} points) is "
                               f"{'larger' if beyond else 'not larger'} than twice the seed-to-seed standard deviation.")
            lead_note["zh"] = (f"它领先 {second.model} {gap:.2f} 个百分点，{'大于' if beyond else '未超过'}种子间标准差的两倍。")
        else:
            lead_note["en"] = (f" Its lead over {second.model} is {gap:.2f} points from a single seed per model, so "
                               f"the seed-to-seed spread is unknown and the ranking of close models is not settled.")
            lead_note["zh"] = (f"它领先 {second.model} {gap:.2f} 个百分点，但每个模型只有一个种子，种子间波动未知，"
                               f"相近模型的排名并不确定。")
    skipped = rows[rows.status != "complete"]
    if lang == "en":
        text = (f"Of {len(rows)} models, {len(done)} completed. The most accurate is **{best.model}** "
                f"({best.top1:.2f} % top-1, {best.params_m:.2f} M parameters); the least accurate is "
                f"**{worst.model}** ({worst.top1:.2f} %).{lead_note['en']} "
                f"The best accuracy per parameter is reached by **{eff.model}** ({eff.efficiency:.1f} points per "
                f"million parameters). By group, **{groups.index[0]}** models average the highest top-1 "
                f"({groups.iloc[0]:.2f} %)" + (f" and **{groups.index[-1]}** the lowest ({groups.iloc[-1]:.2f} %)."
                                               if len(groups) > 1 else "."))
        if len(skipped):
            text += (f" {len(skipped)} model(s) did not complete (" + ", ".join(skipped.model) +
                     "); the table below gives each reason.")
    else:
        text = (f"{len(rows)} 个模型中 {len(done)} 个完成训练。准确率最高的是 **{best.model}**（Top-1 {best.top1:.2f}%，"
                f"参数量 {best.params_m:.2f} M），最低的是 **{worst.model}**（{worst.top1:.2f}%）。{lead_note['zh']}"
                f"单位参数准确率最高的是 **{eff.model}**（每百万参数 {eff.efficiency:.1f} 个百分点）。按类别，"
                f"**{GROUP_ZH[groups.index[0]]}** 类平均 Top-1 最高（{groups.iloc[0]:.2f}%）" +
                (f"，**{GROUP_ZH[groups.index[-1]]}** 类最低（{groups.iloc[-1]:.2f}%）。" if len(groups) > 1 else "。"))
        if len(skipped):
            text += f"{len(skipped)} 个模型未完成（{'、'.join(skipped.model)}），原因见下表。"
    return text + "\n"


def comparison_prose(rows: pd.DataFrame, lang: str) -> str:
    claims = pd.read_csv(REFERENCE / "original_claims.csv")
    m = claims.merge(rows[rows.status == "complete"][["model", "top1"]], on="model", suffixes=("_claim", ""))
    heads = {"en": "Our parameter counts here are those of the trained models, whose head has as many outputs as "
                   "the dataset has classes; the Models page gives every model's exact count with 100 classes. ",
             "zh": "这里本项目的参数量是实际训练模型的参数量，其分类头的输出数等于数据集的类别数；"
                   "模型页给出了每个模型在 100 类下的精确参数量。"}
    if lang == "en":
        text = ("**The original report's numbers were not measured**: its repository produces them with a simulation "
                "script (`src/generate_results.py`) that draws training curves toward hard-coded targets. They are "
                "shown here as claims only. " + heads["en"])
        if len(m):
            d = (m.top1 - m.top1_claim)
            rho = m.top1.rank().corr(m.top1_claim.rank()) if len(m) > 2 else float("nan")
            text += (f"For the {len(m)} models measured here, our top-1 differs from the claim by {d.mean():+.2f} "
                     f"points on average (from {d.min():+.2f} to {d.max():+.2f}); the rank correlation between our "
                     f"ranking and the claimed one is {fmt(rho)}.")
    else:
        text = ("**原报告的数字并非实测**：其代码仓库用模拟脚本（`src/generate_results.py`）把训练曲线生成到预先写定的目标值。"
                "这里只把它们作为“声称值”列出。" + heads["zh"])
        if len(m):
            d = (m.top1 - m.top1_claim)
            rho = m.top1.rank().corr(m.top1_claim.rank()) if len(m) > 2 else float("nan")
            text += (f"在本项目实测的 {len(m)} 个模型上，我们的 Top-1 与声称值平均相差 {d.mean():+.2f} 个百分点"
                     f"（从 {d.min():+.2f} 到 {d.max():+.2f}）；两种排名的秩相关系数为 {fmt(rho)}。")
    return text + "\n"


# ------------------------------------------------------------------------------------------- campaign report

def figure_block(name: str, caption: str) -> str:
    # Generated fragments are included by pages one folder down (book/en, book/zh), so paths start there.
    return f"```{{figure}} ../generated/{name}\n:width: 100%\n\n{caption}\n```\n\n"


CAPTIONS = {
    "fig1": {"en": "Figure 1. Test top-1 accuracy per model (mean over seeds, bars ± one standard deviation where several).",
             "zh": "图 1. 各模型测试集 Top-1 准确率（多种子取平均，误差线为一个标准差）。"},
    "fig2": {"en": "Figure 2. Accuracy against parameters (log scale); marker size is FLOPs per image.",
             "zh": "图 2. 准确率与参数量（对数坐标）；标记大小表示每张图像的 FLOPs。"},
    "fig3": {"en": "Figure 3. Test top-1 accuracy per epoch.", "zh": "图 3. 每个 epoch 的测试集 Top-1 准确率。"},
}
TITLES = {
    "t1": {"en": "Table 1. Models ranked by top-1 accuracy", "zh": "表 1. 按 Top-1 准确率排序的模型"},
    "t2": {"en": "Table 2. Averages per group", "zh": "表 2. 按类别平均"},
    "nr": {"en": "Models that did not complete", "zh": "未完成的模型"},
    "cmp": {"en": "Our measurements beside the original report's claims and published results",
            "zh": "本项目实测值与原报告声称值及公开结果对照"},
}


def write_campaign_report(campaign: str, runs_root="runs", out_dir="book/generated") -> dict:
    """Write every campaign-level table, figure and prose fragment the book includes; return them."""
    import matplotlib.pyplot as plt
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest, recs = load_campaign_records(campaign, runs_root)
    rows = model_rows(recs, manifest["models"])
    ctx = context(manifest, recs)
    figs = {}
    if (rows.status == "complete").any() if len(rows) else False:
        figs["fig1"] = figure_top1(rows)
        figs["fig2"] = figure_acc_params(rows)
        figs["fig3"] = figure_curves(recs, list(rows[rows.status == "complete"].model))
        for k, f in figs.items():
            save(f, out / f"{k}.png")
            plt.close(f)
    rows.to_csv(out / "models.csv", index=False)
    for lang in LANGS:
        t1, t2, cmp_ = table1(rows, lang), table2(rows, lang), comparison_table(rows, lang)
        nr = not_run_table(rows, lang)
        if lang == "en":
            t1.to_csv(out / "table1.csv", index=False)
            t2.to_csv(out / "table2.csv", index=False)
            cmp_.to_csv(out / "comparison.csv", index=False)
            (out / "table1.tex").write_text(t1.to_latex(index=False, escape=True), encoding="utf-8")
            (out / "table2.tex").write_text(t2.to_latex(index=False, escape=True), encoding="utf-8")
        body = banner(ctx, lang) + results_prose(rows, lang) + "\n"
        body += f"**{TITLES['t1'][lang]}**\n\n" + markdown_table(t1) + "\n"
        if len(nr):
            body += f"**{TITLES['nr'][lang]}**\n\n" + markdown_table(nr) + "\n"
        body += f"**{TITLES['t2'][lang]}**\n\n" + markdown_table(t2) + "\n"
        for k in figs:
            body += figure_block(f"{k}.png", CAPTIONS[k][lang])
        (out / f"results_{lang}.md").write_text(body, encoding="utf-8")
        comparison = (banner(ctx, lang) + comparison_prose(rows, lang) + "\n" + f"**{TITLES['cmp'][lang]}**\n\n"
                      + markdown_table(cmp_))
        (out / f"comparison_{lang}.md").write_text(comparison, encoding="utf-8")
        (out / f"ablations_{lang}.md").write_text(ablations_index(manifest, ctx, lang), encoding="utf-8")
        studies = {st["name"]: (st, study_table(st, {r["run_id"]: r for r in recs})) for st in manifest.get("studies", [])}
        (out / f"findings_{lang}.md").write_text(banner(ctx, lang) + findings(rows, studies, lang), encoding="utf-8")
        (out / f"summary_{lang}.md").write_text(banner(ctx, lang) + results_prose(rows, lang) + "\n"
                                                + comparison_prose(rows, lang), encoding="utf-8")
        (out / f"recipes_{lang}.md").write_text(recipes_table(lang), encoding="utf-8")
    return {"rows": rows, "context": ctx, "figures": figs, "out_dir": str(out)}


def findings(rows: pd.DataFrame, studies: dict, lang: str) -> str:
    """Key findings as bullets, every one rendered from the records."""
    items = [results_prose(rows, lang).strip()]
    for name, (st, df) in studies.items():
        title = st["title"].get(lang, name)
        items.append(f"**{title}**: " + study_prose(st, df, lang).strip())
    items.append(comparison_prose(rows, lang).strip())
    return "".join(f"- {item}\n" for item in items)


def recipes_table(lang: str) -> str:
    """Per-family training recipes, straight from cifar100lab.recipes and the registry."""
    from . import recipes
    from .registry import MODEL_REGISTRY, model_names
    model_names()
    en = lang == "en"
    rows = []
    for name, r in recipes.RECIPES.items():
        users = ", ".join(m for m, spec in sorted(MODEL_REGISTRY.items()) if spec.recipe == name)
        rows.append({("Recipe" if en else "配方"): name, ("Models" if en else "模型"): users,
                     ("Optimizer" if en else "优化器"): r.optimizer.upper() if r.optimizer == "sgd" else "AdamW",
                     ("LR / GPU" if en else "每卡学习率"): f"{r.lr:g}", ("Weight decay" if en else "权重衰减"): f"{r.weight_decay:g}",
                     ("Momentum / betas" if en else "动量 / betas"): f"{r.momentum:g}" if r.optimizer == "sgd" else str(r.betas),
                     ("Schedule" if en else "调度"): r.schedule, ("Warmup (epochs)" if en else "预热 (epoch)"): f"{r.warmup_epochs:g}",
                     ("Decay on norm/bias" if en else "归一化/偏置衰减"): ("yes" if en else "是") if r.decay_norm_and_bias else ("no" if en else "否")})
    note = ("Learning rates are per process; with the default `lr_scaling: linear` the rate used is lr × number of "
            "processes. A campaign or run may override any field." if en else
            "学习率按每个进程给出；默认 `lr_scaling: linear` 时实际学习率为 lr × 进程数。实验配置或单次运行可覆盖任何字段。")
    return markdown_table(pd.DataFrame(rows)) + "\n" + note + "\n"


def show_campaign(results: dict) -> None:
    from IPython.display import Image, Markdown, display
    display(Markdown((Path(results["out_dir"]) / "results_en.md").read_text(encoding="utf-8").split("```{figure}")[0]))
    for k in results["figures"]:
        display(Image(filename=str(Path(results["out_dir"]) / f"{k}.png")))


# ------------------------------------------------------------------------------------------------ ablations

def ablations_index(manifest: dict, ctx: dict, lang: str) -> str:
    parts = [banner(ctx, lang)]
    if not manifest.get("studies"):
        parts.append("This campaign ran no ablation study.\n" if lang == "en" else "本实验配置未运行消融实验。\n")
    for st in manifest.get("studies", []):
        parts.append(f"```{{include}} ../generated/study-{st['name']}_{lang}.md\n```\n")
    return "\n".join(parts)


def study_table(manifest_study: dict, recs: dict) -> pd.DataFrame:
    rows = []
    for v in manifest_study["variants"]:
        runs = [recs[i] for i in manifest_study["runs"].get(v["label"], []) if i in recs]
        ok = [r for r in runs if r.get("status") == "complete"]
        top1 = [r["final"]["top1"] for r in ok]
        rows.append({"variant": v["label"], "variant_zh": v.get("label_zh") or v["label"], "model": v["model"],
                     "options": json.dumps(v.get("options") or {}), "seeds": len(ok),
                     "mean": pd.Series(top1).mean() if top1 else math.nan,
                     "std": pd.Series(top1).std() if len(top1) > 1 else math.nan,
                     "params_m": ok[0]["params"] / 1e6 if ok else math.nan, "values": top1,
                     "status": "complete" if ok else (runs[0]["status"] if runs else "missing")})
    df = pd.DataFrame(rows)
    base = df.iloc[0]
    df["delta"] = df["mean"] - base["mean"]
    # A difference counts when it exceeds twice its standard error (seed-to-seed spread), with >= 2 seeds each.
    se = [math.sqrt(s ** 2 / n + base["std"] ** 2 / base.seeds) if n > 1 and base.seeds > 1 else math.nan
          for s, n in zip(df["std"], df.seeds)]
    df["beyond_spread"] = [None if i == 0 or math.isnan(e) else bool(abs(d) > 2 * e)
                           for i, (d, e) in enumerate(zip(df.delta, se))]
    return df


def study_prose(st: dict, df: pd.DataFrame, lang: str) -> str:
    done = df[df.seeds > 0]
    if done.empty:
        return "No run of this study has completed.\n" if lang == "en" else "该消融实验尚无完成的运行。\n"
    base = df.iloc[0]
    top = done.sort_values("mean", ascending=False).iloc[0]
    significant = [r for r in df.itertuples() if r.beyond_spread]
    multi = (done.seeds > 1).all()
    label = "variant" if lang == "en" else "variant_zh"
    if lang == "en":
        text = f"The highest mean top-1 is **{top.variant}** ({top['mean']:.2f} %, {int(top.seeds)} seed(s)). "
        if not multi:
            text += ("With a single seed per variant the seed-to-seed spread is unknown, so **no variant is called "
                     "better than another** here; run the study with several seeds (the `fast` or `full` profile).")
        elif significant:
            text += ("Differences from the first variant (" + base.variant + ") that exceed twice their standard error: "
                     + "; ".join(f"{r.variant} ({r.delta:+.2f} points)" for r in significant) + ". ")
            text += "All other differences are within the seed-to-seed spread."
        else:
            text += (f"No variant differs from {base.variant} by more than twice the standard error of the "
                     f"difference: **within the seed-to-seed spread, no best variant can be claimed**.")
    else:
        text = f"平均 Top-1 最高的是 **{top[label]}**（{top['mean']:.2f}%，{int(top.seeds)} 个种子）。"
        if not multi:
            text += "每个变体只有一个种子，种子间波动未知，因此 **这里不判定任何变体优于其他变体**；请用多种子（`fast` 或 `full` 配置）运行。"
        elif significant:
            text += (f"与第一个变体（{base[label]}）相比，差异超过两倍标准误的有："
                     + "；".join(f"{getattr(r, label)}（{r.delta:+.2f} 个百分点）" for r in significant) + "。其余差异都在种子波动范围内。")
        else:
            text += f"没有任何变体与 {base[label]} 的差异超过差值标准误的两倍：**在种子波动范围内，无法宣称最佳变体**。"
    return text + "\n"


def figure_study(df: pd.DataFrame, title: str):
    import matplotlib.pyplot as plt
    import seaborn as sns
    style()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    points = pd.DataFrame([{"variant": r.variant, "top1": v} for r in df.itertuples() for v in r.values])
    if len(points):
        sns.pointplot(data=points, x="variant", y="top1", errorbar="sd", capsize=0.15, linestyle="none", ax=ax,
                      order=list(df.variant))
        sns.stripplot(data=points, x="variant", y="top1", color="0.4", size=4, ax=ax, order=list(df.variant))
    ax.set(xlabel="", ylabel="test top-1 accuracy (%)", title=title)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def write_study_report(campaign: str, study: str, runs_root="runs", out_dir="book/generated") -> dict:
    import matplotlib.pyplot as plt
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest, recs_list = load_campaign_records(campaign, runs_root)
    st = next((s for s in manifest["studies"] if s["name"] == study), None)
    if st is None:
        raise KeyError(f"campaign {campaign!r} has no study {study!r}; studies: "
                       f"{', '.join(s['name'] for s in manifest['studies']) or 'none'}")
    df = study_table(st, {r["run_id"]: r for r in recs_list})
    fig = figure_study(df, st["name"])
    save(fig, out / f"study-{study}.png")
    plt.close(fig)
    df.drop(columns=["values"]).to_csv(out / f"study-{study}.csv", index=False)
    claims = pd.read_csv(REFERENCE / "original_ablations.csv")
    claims = claims[claims.study == study]
    for lang in LANGS:
        h = HEAD[lang]
        t = pd.DataFrame({h["variant"]: df.variant if lang == "en" else df.variant_zh,
                          h["top1"]: [mean_std(r.values) for r in df.itertuples()], h["seeds"]: df.seeds,
                          h["params"]: df.params_m.map(lambda v: fmt(v, 3)), h["delta"]: df.delta.map(fmt),
                          h["beyond"]: df.beyond_spread.map(lambda b: "–" if b is None else
                                                            (("yes" if b else "no") if lang == "en" else ("是" if b else "否")))})
        if len(claims):
            t[h["claim"]] = df.variant.map(dict(zip(claims.variant, claims.top1))).map(fmt).values
        title = st["title"].get(lang, st["name"])
        question = st.get("question", {}).get(lang, "")
        note = ("The original report's values in the last column were produced by its simulation script."
                if lang == "en" else "最后一列原报告的数值由其模拟脚本生成。") if len(claims) else ""
        cap = ("Mean ± standard deviation over seeds; dots are single runs." if lang == "en"
               else "多种子的平均值 ± 标准差；圆点为单次运行。")
        text = (f"## {title}\n\n{question}\n\n" + study_prose(st, df, lang) + "\n" + markdown_table(t) + "\n"
                + (note + "\n\n" if note else "") + figure_block(f"study-{study}.png", f"{title}. {cap}"))
        (out / f"study-{study}_{lang}.md").write_text(text, encoding="utf-8")
    return {"study": st, "table": df, "out_dir": str(out)}


def show_study(result: dict) -> None:
    from IPython.display import Image, Markdown, display
    display(Markdown((Path(result["out_dir"]) / f"study-{result['study']['name']}_en.md").read_text(encoding="utf-8")
                     .split("```{figure}")[0]))
    display(Image(filename=str(Path(result["out_dir"]) / f"study-{result['study']['name']}.png")))


# ------------------------------------------------------------------------------------------ interactive use

def explorer(runs_root="runs"):
    """ipywidgets: pick a campaign, models, seeds and a metric; compare curves and final numbers."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display
    recs = [r for r in records.load_records(runs_root) if r.get("status") == "complete"]
    frame = records.records_frame(recs)
    if frame.empty:
        print(f"no complete run records under {runs_root}")
        return None
    campaigns = sorted(frame.campaign.dropna().unique())
    pick_campaign = w.Dropdown(options=campaigns, description="campaign")
    pick_models = w.SelectMultiple(description="runs", rows=10)
    pick_metric = w.Dropdown(options=["top1", "top5", "test_loss", "train_loss", "train_acc", "lr"], description="metric")
    output = w.Output()

    def refresh_models(*_):
        sub = frame[frame.campaign == pick_campaign.value]
        pick_models.options = list(sub.run_id)
        pick_models.value = tuple(sub.run_id[:3])

    def draw(*_):
        with output:
            output.clear_output(wait=True)
            chosen = frame[frame.run_id.isin(pick_models.value)]
            fig, ax = plt.subplots(figsize=(8, 4))
            for r in chosen.itertuples():
                m = pd.DataFrame(records.read_metrics(r.run_dir))
                ax.plot(m.epoch, m[pick_metric.value], marker="o", label=r.run_id)
            ax.set(xlabel="epoch", ylabel=pick_metric.value)
            if len(chosen):
                ax.legend(fontsize=7)
            plt.show()
            display(chosen[["run_id", "model", "seed", "top1", "top5", "params", "flops", "wall_seconds",
                            "images_per_second", "dataset_label"]])

    pick_campaign.observe(refresh_models, "value")
    for widget in (pick_models, pick_metric):
        widget.observe(draw, "value")
    refresh_models()
    draw()
    box = w.VBox([w.HBox([pick_campaign, pick_metric]), pick_models, output])
    display(box)
    return box


# ---------------------------------------------------------------------------------------------- performance

PATH_ZH = {"original": "原始管线", "ours": "本项目", "ours+compile": "本项目 + compile"}
CPU_TRAIN_SPEEDUP_TARGET = 2.5  # issue 6: ResNet-20 training on 2 CPU cores vs the original pipeline


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _bench_section(b: dict, en: bool) -> str:
    df = pd.DataFrame(b["rows"])
    speedup = df.get("train_speedup", pd.Series([None] * len(df)))
    t = pd.DataFrame({
        ("Model" if en else "模型"): df.model,
        ("Path" if en else "路径"): df.path if en else df.path.map(lambda p: PATH_ZH.get(p, p)),
        ("Precision" if en else "精度"): df.precision,
        ("Train img/s" if en else "训练 图像/秒"): df.train_images_per_second.map(lambda v: fmt(v, 0)),
        ("Eval img/s" if en else "评估 图像/秒"): df.eval_images_per_second.map(lambda v: fmt(v, 0)),
        ("Achieved TFLOP/s" if en else "实际 TFLOP/s"): df.achieved_tflops.map(lambda v: fmt(v, 3)),
        ("Share of matmul peak" if en else "占矩阵乘峰值比例"): df.fraction_of_peak.map(lambda v: f"{100 * v:.1f} %"),
        ("Train speed-up" if en else "训练加速比"): speedup.map(lambda v: f"{v:.2f}×" if v == v and v else "–"),
    })
    peaks = ", ".join(f"{k} {v:.3f}" for k, v in b["peaks_tflops"].items())
    repeats = b.get("repeats", 1)
    if en:
        head = (f"**{b['device']}** — measured {b['measured']}, torch {b['versions']['torch']}, batch {b['batch_size']}, "
                f"{b['steps']} timed steps per round, median of {repeats} interleaved round(s); measured matmul peak "
                f"(TFLOP/s): {peaks}. *First round* is the untimed warm-up of a path's first round (DataLoader start-up; "
                f"for `ours+compile` the one-off compilation, shorter when torch's compile cache is already warm).\n\n")
    else:
        head = (f"**{b['device']}** —— 测于 {b['measured']}，torch {b['versions']['torch']}，批大小 {b['batch_size']}，"
                f"每轮计时 {b['steps']} 步，取 {repeats} 轮交替测量的中位数；实测矩阵乘峰值（TFLOP/s）：{peaks}。"
                f"“首轮用时”是第一轮未计时的预热（DataLoader 启动；`ours+compile` 含一次性编译；若 torch 的编译缓存已存在则更短）。\n\n")
    lines = []
    if b.get("device_type") == "cpu":
        best = max((r for r in b["rows"] if r["path"] != "original"), key=lambda r: r["train_speedup"])
        met = best["train_speedup"] >= CPU_TRAIN_SPEEDUP_TARGET
        lines.append(
            f"- The project's CPU target is training at ≥ {CPU_TRAIN_SPEEDUP_TARGET}× the original pipeline: "
            + (f"met by `{best['path']}` ({best['train_speedup']:.2f}×)." if met else
               f"not met (best: `{best['path']}`, {best['train_speedup']:.2f}×).") if en else
            f"- 本项目的 CPU 目标是训练速度达到原始管线的 ≥ {CPU_TRAIN_SPEEDUP_TARGET}×："
            + (f"`{best['path']}` 达到（{best['train_speedup']:.2f}×）。" if met else
               f"未达到（最好为 `{best['path']}`，{best['train_speedup']:.2f}×）。"))
    for r in b["rows"]:
        if r["path"] == "original":
            continue
        first = r.get("first_round_seconds")
        if en:
            lines.append(f"- {r['model']}, `{r['path']}`: training **{r['train_speedup']:.2f}×** and evaluation "
                         f"**{r['eval_speedup']:.2f}×** the original pipeline's images/s"
                         + (f"; first round {first:.1f} s." if first is not None else "."))
        else:
            lines.append(f"- {r['model']}，`{r['path']}`：训练速度为原始管线的 **{r['train_speedup']:.2f}×**，"
                         f"评估速度为 **{r['eval_speedup']:.2f}×**"
                         + (f"；首轮用时 {first:.1f} 秒。" if first is not None else "。"))
    return head + markdown_table(t) + "\n" + "\n".join(lines) + "\n"


def _epoch_times_section(e: dict, en: bool) -> str:
    df = pd.DataFrame(e["networks"])
    net = df.model + df.options.map(lambda o: "".join(f", {k}={v}" for k, v in o.items()) if o else "")
    t = pd.DataFrame({
        ("Network" if en else "网络"): net, ("Input px" if en else "输入尺寸"): df.input_size,
        ("Batch" if en else "批大小"): df.batch_size,
        ("Path" if en else "路径"): [
            " · ".join(x for x in (n.get("precision"), n.get("optimizer"), "CL" if n.get("channels_last") else None,
                                   "compile" if n.get("compile") else None) if x) for n in e["networks"]],
        ("Train img/s" if en else "训练 图像/秒"): df.train_images_per_second.map(lambda v: fmt(v, 0)),
        ("Eval img/s" if en else "评估 图像/秒"): df.eval_images_per_second.map(lambda v: fmt(v, 0)),
        ("Epoch (s)" if en else "每轮（秒）"): df.epoch_seconds.map(lambda v: fmt(v, 1)),
        ("Runs × epochs" if en else "运行 × 轮数"): [f"{len(r)} × {n // max(len(r), 1)}" for r, n in zip(df.runs, df.run_epochs)],
        ("Predicted" if en else "预计用时"): df.predicted_seconds.map(_hours),
    })
    total = _hours(e["predicted_campaign_seconds"])
    tuned = sum(n["predicted_seconds"] for n in e["networks"] if n.get("pretrained"))
    if tuned:
        total += (f"; fine-tunes of pretrained weights account for {_hours(tuned)} of it" if en else
                  f"；其中预训练权重微调占 {_hours(tuned)}")
    partial = "" if e.get("complete", True) else (" (only some of its networks were timed)" if en else "（只测了部分网络）")
    if en:
        head = (f"**{e['device']}** — the `{e['campaign']}` campaign ({e['campaign_file']}){partial}, one process, "
                f"each network as its runs are configured (precision, memory format, compilation, its recipe's "
                f"optimizer); measured {e['measured']} with torch {e['versions']['torch']}. "
                f"An epoch is the run's training images (the campaign's subset, or all {e['train_images']:,} of "
                f"{e['dataset']}) at the measured training rate plus its test images (up to {e['test_images']:,}) at "
                f"the measured evaluation rate. "
                f"**Predicted duration of the whole campaign on one process of this device: {total}** "
                f"(a lower bound: process start-up, checkpoints and compilation are not included). "
                f"CL: channels_last.\n\n")
    else:
        head = (f"**{e['device']}** —— `{e['campaign']}` 实验（{e['campaign_file']}）{partial}，单进程，"
                f"每个网络按其运行的配置计时（精度、内存格式、是否编译、配方的优化器）；测于 {e['measured']}，"
                f"torch {e['versions']['torch']}。"
                f"每轮 = 该运行的训练图像（实验所取子集，或 {e['dataset']} 全部 {e['train_images']:,} 张）按实测训练速度，"
                f"加上其测试图像（至多 {e['test_images']:,} 张）按实测评估速度。**整个实验在该设备单进程上的预计用时：{total}**"
                f"（下限：不含进程启动、检查点与编译时间）。CL：channels_last。\n\n")
    return head + markdown_table(t)


def _runs_section(r: dict, en: bool) -> str:
    lang = "en" if en else "zh"
    rows = r["runs"]
    dataset = (rows[0].get("dataset") or {}) if rows else {}
    t = pd.DataFrame({
        ("Run" if en else "运行"): [x["label"] for x in rows],
        ("Status" if en else "状态"): [x["status"] for x in rows],
        ("Top-1 (%)" if en else "Top-1（%）"): [fmt((x.get("final") or {}).get("top1")) for x in rows],
        ("Top-5 (%)" if en else "Top-5（%）"): [fmt((x.get("final") or {}).get("top5")) for x in rows],
        ("Wall time" if en else "总用时"): [_hours(x["wall_seconds"]) for x in rows],
        ("Mean epoch (s)" if en else "平均每轮（秒）"): [
            fmt(sum(x["epoch_seconds"]) / len(x["epoch_seconds"]), 1) if x.get("epoch_seconds") else "–" for x in rows],
        ("Train img/s" if en else "训练 图像/秒"): [fmt(x.get("images_per_second"), 0) for x in rows],
    })
    data = dataset.get("label", "") if en else DATASET_ZH.get(dataset.get("name"), dataset.get("label", ""))
    head = (f"### {r['title'].get(lang, r['title'].get('en', ''))}\n\n{r['description'].get(lang, '')}\n\n"
            + (f"**{r['device']}** — {data}; measured {r['measured']} with torch {r['versions']['torch']} "
               f"(`python -m cifar100lab bench --runs {r['file']}`).\n\n" if en else
               f"**{r['device']}** —— {data}；测于 {r['measured']}，torch {r['versions']['torch']}"
               f"（`python -m cifar100lab bench --runs {r['file']}`）。\n\n"))
    return head + markdown_table(t)


# record kind -> its renderer and (heading, introduction, text when there is none), in both languages
PERFORMANCE_SECTIONS = [
    ("bench", _bench_section, (
        {"en": "Input pipeline and training path", "zh": "数据管线与训练路径"},
        {"en": "Throughput of the original report's input pipeline (per-image PIL transforms through a DataLoader, "
               "fp32) against this project's path (uint8 tensors on the device, batched crop/flip, channels_last, "
               "bf16), measured by `python -m cifar100lab bench` in one process on synthetic CIFAR-shaped images: "
               "these are speed measurements, not accuracy results.",
         "zh": "原报告的数据管线（逐图 PIL 变换 + DataLoader，fp32）与本项目路径（设备上的 uint8 张量、批量裁剪/翻转、"
               "channels_last、bf16）的吞吐量对比，由 `python -m cifar100lab bench` 在同一进程中用合成的 CIFAR 形状图像测得："
               "这些是速度测量，不是准确率结果。"},
        {"en": "No benchmark record yet.", "zh": "尚无基准测试记录。"})),
    ("epoch_times", _epoch_times_section, (
        {"en": "Epoch times and predicted campaign duration", "zh": "每轮用时与实验预计时长"},
        {"en": "Measured by `python -m cifar100lab bench --campaign <campaign.yaml>`: one epoch of every distinct "
               "network of a campaign on synthetic data of the campaign's sizes.",
         "zh": "由 `python -m cifar100lab bench --campaign <campaign.yaml>` 测得：在与实验相同尺寸的合成数据上，"
               "实验中每个不同网络的一轮用时。"},
        {"en": "No epoch-time record yet.", "zh": "尚无每轮用时记录。"})),
    ("runs", _runs_section, (
        {"en": "Timed training runs", "zh": "计时训练运行"},
        {"en": "Whole runs of the trainer, for accuracy and wall time together.",
         "zh": "完整的训练运行，同时给出准确率与总用时。"},
        {"en": "No timed-run record yet.", "zh": "尚无计时训练记录。"})),
]


def write_performance_page(bench_dir="benchmarks/records", out_dir="book/generated") -> list[dict]:
    """The Performance page from the benchmark records (``python -m cifar100lab bench [--campaign …] --out …``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    found = [records.read_json(p) for p in sorted(Path(bench_dir).glob("*.json"))] if Path(bench_dir).is_dir() else []
    has_gpu = any(b.get("device_type") == "cuda" for b in found)
    for lang in LANGS:
        en = lang == "en"
        parts = []
        for kind, render, (title, intro, empty) in PERFORMANCE_SECTIONS:
            parts += [f"## {title[lang]}\n", intro[lang] + "\n"]
            parts += [render(r, en) for r in found if r.get("kind") == kind] or [empty[lang] + "\n"]
        if not has_gpu:
            parts.append(":::{note}\n" + (
                "No GPU measurement is recorded yet: these records come from CPUs only. On a GPU machine, "
                "`bash benchmarks/gpu_check.sh` measures the same tables and the 200-epoch ResNet-20 run and writes "
                "their records to `benchmarks/records/`." if en else
                "尚无 GPU 测量记录：以上记录均来自 CPU。在 GPU 机器上运行 `bash benchmarks/gpu_check.sh` 可测得同样的表格"
                "以及 200 轮 ResNet-20 的训练，并把记录写入 `benchmarks/records/`。") + "\n:::\n")
        (out / f"performance_{lang}.md").write_text("\n".join(parts), encoding="utf-8")
    return found
