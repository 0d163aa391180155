"""One message template per fact, rendered in both languages.

A fact is a key of :data:`MESSAGES`; its value holds the English and the Chinese template with the same
named fields. :func:`say` fills one language; a field whose value is itself ``{"en": …, "zh": …}`` (a
dataset label, a group name) is resolved to that language first, so callers compute each fact once.
"""
from __future__ import annotations

import math
import re

from ..data import DATASETS, KIND_LABELS

LANGS = ("en", "zh")

GROUPS = {"basic ResNet": {"en": "basic ResNet", "zh": "基础 ResNet"},
          "attention": {"en": "attention", "zh": "注意力"},
          "lightweight": {"en": "lightweight", "zh": "轻量化"},
          "modern conv": {"en": "modern conv", "zh": "现代卷积"},
          "hybrid & advanced": {"en": "hybrid & advanced", "zh": "混合与先进架构"},
          "MLP": {"en": "MLP", "zh": "MLP"}}
STATUS = {"complete": {"en": "complete", "zh": "完成"}, "skipped": {"en": "skipped", "zh": "已跳过"},
          "failed": {"en": "failed", "zh": "失败"}, "running": {"en": "running", "zh": "运行中"},
          "interrupted": {"en": "interrupted", "zh": "已中断"}, "missing": {"en": "missing", "zh": "缺失"}}
# Skip / failure reasons the trainer writes (English, in the record) -> the Chinese for their known start.
REASONS_ZH = {"pretrained weights unavailable": "预训练权重不可用", "loss became": "损失变为",
              "notebook failed": "笔记本执行失败",
              "stopped by hand": "手动停止"}
YES_NO = {True: {"en": "yes", "zh": "是"}, False: {"en": "no", "zh": "否"}}
LIST_SEP = {"en": ", ", "zh": "、"}

HEAD = {
    "rank": {"en": "Rank", "zh": "排名"}, "order": {"en": "No.", "zh": "序号"}, "model": {"en": "Model", "zh": "模型"},
    "group": {"en": "Group", "zh": "类别"}, "top1": {"en": "Top-1 (%)", "zh": "Top-1 (%)"},
    "ci": {"en": "95 % CI", "zh": "95% 置信区间"}, "top5": {"en": "Top-5 (%)", "zh": "Top-5 (%)"},
    "params": {"en": "Params (M)", "zh": "参数量 (M)"}, "flops": {"en": "FLOPs (M)", "zh": "FLOPs (M)"},
    "time": {"en": "Train time (s)", "zh": "训练时间 (s)"}, "ips": {"en": "Images/s", "zh": "图像/秒"},
    "eff": {"en": "Top-1 / M params", "zh": "Top-1 / 百万参数"}, "seeds": {"en": "Seeds", "zh": "种子数"},
    "n": {"en": "Models", "zh": "模型数"}, "status": {"en": "Status", "zh": "状态"},
    "reason": {"en": "Reason", "zh": "原因"}, "weights": {"en": "Weights", "zh": "权重"}, "note": {"en": "Note", "zh": "备注"}, "ours": {"en": "Ours top-1 (%)", "zh": "本项目 Top-1 (%)"},
    "claim": {"en": "Original claim (%)", "zh": "原报告声称 (%)"}, "diff": {"en": "Ours − claim", "zh": "本项目 − 声称"},
    "ours_p": {"en": "Ours params (M)", "zh": "本项目参数量 (M)"},
    "claim_p": {"en": "Claimed params (M)", "zh": "原报告参数量 (M)"},
    "pub": {"en": "Published top-1 (%)", "zh": "公开结果 Top-1 (%)"},
    "source": {"en": "Published source", "zh": "公开来源"}, "variant": {"en": "Variant", "zh": "变体"},
    "delta": {"en": "Δ vs first (pp)", "zh": "相对首行 Δ (百分点)"},
    "delta_model": {"en": "Δ vs its model's first (pp)", "zh": "相对同模型首行 Δ (百分点)"},
    "ema_top1": {"en": "EMA top-1 (%)", "zh": "EMA Top-1 (%)"},
    "regularisation": {"en": "Regularisation", "zh": "正则化"},
    "beyond": {"en": "Beyond seed spread?", "zh": "超出种子波动？"},
    "recipe": {"en": "Recipe", "zh": "配方"}, "models": {"en": "Models", "zh": "模型"},
    "optimizer": {"en": "Optimizer", "zh": "优化器"}, "lr": {"en": "LR (set → used)", "zh": "学习率（设定 → 实际）"},
    "wd": {"en": "Weight decay", "zh": "权重衰减"}, "schedule": {"en": "Schedule", "zh": "调度"},
    "batch": {"en": "Global batch", "zh": "全局批大小"},
    "campaign": {"en": "Campaign", "zh": "实验配置"},
    "campaign_seeds": {"en": "Seeds (models / variants)", "zh": "种子数（模型 / 变体）"},
    "epochs": {"en": "Epochs", "zh": "轮数"}, "train_images": {"en": "Training images", "zh": "训练图像"},
    "test_images": {"en": "Test images", "zh": "测试图像"},
    "batch_per_process": {"en": "Batch per process", "zh": "每进程批大小"},
    "processes": {"en": "Processes per run", "zh": "每次运行的进程数"},
}


def head(key: str, lang: str) -> str:
    return HEAD[key][lang]


def group(name: str) -> dict:
    return GROUPS.get(name, {"en": name, "zh": name})


def status(name) -> dict:
    return STATUS.get(name, {"en": str(name), "zh": str(name)})


# Reasons a reader should read as a sentence, not as the library's error (the run page keeps the raw text).
REASON_FACTS = ((re.compile(r"pretrained weights unavailable: cannot reach (?:https?://)?([^\s/();]+)"), "reason_offline"),
                (re.compile(r"pretrained weights unavailable"), "reason_no_weights"))


def reason(text) -> dict:
    """A recorded reason in both languages: a known reason as its sentence; otherwise its known opening
    translated, the details (paths, numbers) kept."""
    text = "–" if text is None or text != text else str(text)
    for pattern, fact in REASON_FACTS:
        found = pattern.match(text)
        if found:
            return both(fact, host=found.group(1) if pattern.groups else "")
    zh = next((z + text[len(e):] for e, z in REASONS_ZH.items() if text.startswith(e)), text)
    return {"en": text, "zh": zh}


def dataset_label(name: str | None, fallback: str | None = None) -> dict:
    entry = DATASETS.get(name or "")
    return dict(entry.label) if entry else {"en": fallback or str(name), "zh": fallback or str(name)}


def kind_label(kind: str) -> dict:
    return KIND_LABELS.get(kind, {"en": str(kind), "zh": str(kind)})


def join(items, lang: str) -> str:
    return LIST_SEP[lang].join(pick(i, lang) for i in items)


def pick(value, lang: str):
    """A bilingual value ({"en", "zh"}) in one language; anything else unchanged."""
    return value[lang] if isinstance(value, dict) and set(value) == set(LANGS) else value


# "2 epoch(s)" in an English template: the noun after a number, made singular or plural by that number.
_PLURAL = re.compile(r"\b(\d[\d,.]*)( \*{0,2}[A-Za-z-]+?)\(s\)")


def plurals(text: str) -> str:
    """English "(s)" nouns agreed with the number before them: "1 seed(s)" -> "1 seed", "2 epoch(s)" -> "2 epochs"."""
    return _PLURAL.sub(lambda m: m.group(1) + m.group(2) + ("" if m.group(1) == "1" else "s"), text)


def fill(templates: dict, lang: str, **values) -> str:
    """``templates[lang]`` filled with ``values`` (bilingual values resolved to ``lang`` first)."""
    text = templates[lang].format(**{k: pick(v, lang) for k, v in values.items()})
    return plurals(text) if lang == "en" else text


def say(fact: str, lang: str, **values) -> str:
    """The fact's template in ``lang``, filled with ``values``."""
    return fill(MESSAGES[fact], lang, **values)


def both(fact: str, **values) -> dict:
    return {lang: say(fact, lang, **values) for lang in LANGS}


def fmt(x, digits=2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


MESSAGES = {
    # ---------------------------------------------------------------- provenance and notices
    "source": {
        "en": "Campaign **{campaign}**: {complete} of {total} runs complete; dataset **{dataset}** ({kind}, "
              "{classes} classes, {train_size} training / {test_size} test images), {epochs} epoch(s), "
              "{seeds} seed(s) per model; hardware: {hardware}; commit `{commit}`; {versions}; dataset checksum `{checksum}`; runs "
              "from {start} to {end}.",
        "zh": "实验配置 **{campaign}**：{total} 个运行中 {complete} 个完成；数据集 **{dataset}**（{kind}，"
              "{classes} 类，训练 {train_size} / 测试 {test_size} 张图像），{epochs} 个 epoch，每个模型 {seeds} 个种子；"
              "硬件：{hardware}；提交 `{commit}`；{versions}；数据集校验和 `{checksum}`；运行时间 {start} 至 {end}。"},
    "provenance_title": {"en": "Provenance", "zh": "数据来源"},
    "not_cifar_title": {"en": "Not CIFAR-100", "zh": "不是 CIFAR-100"},
    "protocol_title": {"en": "Not the original protocol", "zh": "不是原始协议"},
    "stand_in": {
        "en": "These results were measured on **{dataset}**: real images, but 10 classes of 28×28 grey "
              "images padded to 32×32. They test the pipeline; they are **not CIFAR-100 results** and rank "
              "nothing on CIFAR-100.",
        "zh": "本页结果在 **{dataset}** 上测得：真实图像，但只有 10 类 28×28 灰度图像（填充到 32×32）。"
              "它们检验流程，**不是 CIFAR-100 结果**，也不能说明模型在 CIFAR-100 上的排名。"},
    "synthetic": {
        "en": "These results were measured on **{dataset}** generated by this project. They only show that the "
              "pipeline works; **they say nothing about the models' accuracy on CIFAR-100**.",
        "zh": "本页结果在本项目生成的 **{dataset}** 上测得，只说明流程可运行，**不能说明模型在 CIFAR-100 上的准确率**。"},
    "short_protocol": {
        "en": "{epochs} epoch(s) on {train_size} training images is far from the original protocol (200 epochs on "
              "50,000 images): these numbers test the pipeline, they are not a ranking of the models.",
        "zh": "在 {train_size} 张训练图像上训练 {epochs} 个 epoch，远不同于原始协议（50,000 张图像上 200 个 epoch）："
              "这些数字检验流程，并不是模型排名。"},
    "no_runs": {
        "en": "No campaign has been run yet, so this page has no results. `make report` (or "
              "`make report DATASET=fashion-mnist` offline) runs the quick campaign and fills it.",
        "zh": "尚未运行任何实验，本页暂无结果。运行 `make report`（离线时用 `make report DATASET=fashion-mnist`）"
              "执行 quick 实验并填充本页。"},
    "landing": {"en": "This build shows campaign **{campaign}** on **{dataset}** ({kind}), {epochs} epoch(s).",
                "zh": "本次构建展示实验配置 **{campaign}** 在 **{dataset}**（{kind}）上训练 {epochs} 个 epoch 的结果。"},
    "landing_not_cifar": {"en": "These are **not CIFAR-100 results**.", "zh": "这些 **不是 CIFAR-100 结果**。"},
    # ---------------------------------------------------------------- results
    "no_complete": {"en": "No run of this campaign has completed yet.", "zh": "本实验配置尚无完成的运行。"},
    "results_head": {
        "en": "Of {n} models, {done} completed. The most accurate is **{best}** ({best_top1} % top-1, "
              "{best_params} M parameters); the least accurate is **{worst}** ({worst_top1} %).",
        "zh": "{n} 个模型中 {done} 个完成训练。准确率最高的是 **{best}**（Top-1 {best_top1}%，参数量 "
              "{best_params} M），最低的是 **{worst}**（{worst_top1}%）。"},
    "interval": {
        "en": "Each top-1 was measured on {n_test} test images, so its 95 % (Wilson) interval is about "
              "±{half} points.",
        "zh": "每个 Top-1 都在 {n_test} 张测试图像上测得，其 95%（Wilson）置信区间约为 ±{half} 个百分点。"},
    "not_separable": {
        "en": "{k} of {pairs} neighbouring pairs in Table 1 are not separable (their intervals overlap): {list}.",
        "zh": "表 1 中相邻的 {pairs} 对模型里有 {k} 对无法区分（置信区间重叠）：{list}。"},
    "all_separable": {"en": "Every neighbouring pair in Table 1 is separable at 95 %.",
                      "zh": "表 1 中每一对相邻模型在 95% 水平上都可区分。"},
    "seed_spread": {
        "en": "With {seeds} seeds per model, Table 1 also gives the mean ± standard deviation over seeds.",
        "zh": "每个模型有 {seeds} 个种子，表 1 同时给出种子间的平均值 ± 标准差。"},
    "one_seed": {
        "en": "Each model has one seed, so the seed-to-seed spread is unknown; only the test-set interval is given.",
        "zh": "每个模型只有一个种子，种子间波动未知；表中只给出测试集置信区间。"},
    "efficiency": {
        "en": "The best accuracy per parameter is reached by **{model}** ({eff} points per million parameters).",
        "zh": "单位参数准确率最高的是 **{model}**（每百万参数 {eff} 个百分点）。"},
    "groups": {"en": "By group, **{top}** models average the highest top-1 ({top_val} %, 95 % CI {top_ci}), "
                     "ahead of **{next}** ({next_val} %, {next_ci}) beyond test-set noise.",
               "zh": "按类别，**{top}**类平均 Top-1 最高（{top_val}%，95% 置信区间 {top_ci}），超出测试集噪声地领先于"
                     "**{next}**类（{next_val}%，{next_ci}）。"},
    "groups_noise": {"en": "By group, the highest average top-1, **{top}** ({top_val} %, 95 % CI {top_ci}), is within "
                           "noise of **{next}** ({next_val} %, {next_ci}): the intervals overlap, so no group "
                           "can be called the most accurate.",
                     "zh": "按类别，平均 Top-1 最高的**{top}**类（{top_val}%，95% 置信区间 {top_ci}）与**{next}**类"
                           "（{next_val}%，{next_ci}）的差异在噪声之内：区间重叠，无法认定哪一类最准确。"},
    "groups_single": {"en": "{k} of {n} groups hold one model, so their average is that model's top-1.",
                      "zh": "{n} 个类别中有 {k} 个只含一个模型，其平均值就是该模型的 Top-1。"},
    "at_chance": {"en": "At or below chance ({chance} %, a uniform guess over {classes} classes): {list}. Such a number "
                        "says the training failed, not how good the architecture is.",
                  "zh": "不高于随机猜测水平（{chance}%，即在 {classes} 个类别中均匀猜测）的模型：{list}。"
                        "这样的数字说明训练失败，而不是架构的优劣。"},
    "diverged": {"en": "The loss diverged for {list} (Table 1's Note column gives the epoch).",
                 "zh": "{list} 的损失发散（表 1 的备注列给出发生的 epoch）。"},
    "reason_offline": {"en": "ImageNet weights unavailable: {host} cannot be reached from this machine (offline); a local "
                             "weights file, given as pretrained=<path>, lets the fine-tune run",
                       "zh": "ImageNet 预训练权重不可用：本机无法连接 {host}（离线）；以 pretrained=<路径> 提供本地权重文件即可运行微调"},
    "reason_no_weights": {"en": "ImageNet weights unavailable; a local weights file, given as pretrained=<path>, lets the "
                                "fine-tune run",
                          "zh": "ImageNet 预训练权重不可用；以 pretrained=<路径> 提供本地权重文件即可运行微调"},
    "reason_fallback": {"en": "{reason}. Trained from scratch instead: row **{row}**",
                        "zh": "{reason}。已改为从头训练：见 **{row}** 行"},
    "weights_imagenet": {"en": "ImageNet fine-tune", "zh": "ImageNet 预训练微调"},
    "weights_scratch": {"en": "from scratch", "zh": "从头训练"},
    "note_fallback": {"en": "from scratch; ImageNet weights unavailable", "zh": "从头训练；ImageNet 权重不可用"},
    "note_chance": {"en": "at or below chance ({chance} %)", "zh": "不高于随机水平（{chance}%）"},
    "note_diverged": {"en": "loss diverged (epoch {epoch}: {loss})", "zh": "损失发散（第 {epoch} 个 epoch：{loss}）"},
    "not_complete": {"en": "{k} model(s) did not complete ({list}); the table *Models that did not complete* on "
                           "the Results page gives each reason.",
                     "zh": "{k} 个模型未完成（{list}）；结果页的“未完成的模型”表给出了各自的原因。"},
    "top5_hidden": {"en": "Top-5 is not in the table: with only {classes} classes it says little beyond top-1 "
                          "(here it ranges from {lo} % to {hi} %; each run's page gives it).",
                    "zh": "表中未列出 Top-5：只有 {classes} 个类别时，它在 Top-1 之外提供的信息很少"
                          "（此处介于 {lo}% 与 {hi}% 之间；各运行页面给出了它）。"},
    # ---------------------------------------------------------------- pairwise findings
    "pair_pretrained": {
        "en": "**Pretrained against scratch.** The ImageNet fine-tune {model} reaches {a} % against {b} % for "
              "{ref} trained from scratch ({diff} points; {verdict}).",
        "zh": "**预训练与从头训练。** ImageNet 预训练后微调的 {model} 达到 {a}%，从头训练的 {ref} 为 {b}%"
              "（相差 {diff} 个百分点；{verdict}）。"},
    "pair_eca": {
        "en": "**ECA on {ref}.** {model} reaches {a} % against {b} % without ECA ({diff} points; {verdict}).",
        "zh": "**{ref} 上的 ECA。** {model} 达到 {a}%，不加 ECA 时为 {b}%（相差 {diff} 个百分点；{verdict}）。"},
    "pair_ghost": {
        "en": "**Ghost modules on {ref}.** {model} has {saving} % fewer parameters and changes top-1 by {diff} "
              "points ({verdict}).",
        "zh": "**{ref} 上的 Ghost 模块。** {model} 的参数量少 {saving}%，Top-1 变化 {diff} 个百分点（{verdict}）。"},
    "time_spread": {
        "en": "**Training time.** From {fast_s} s ({fast}) to {slow_s} s ({slow}): {ratio}× between the fastest "
              "and the slowest model on the same hardware.",
        "zh": "**训练时间。** 从 {fast_s} 秒（{fast}）到 {slow_s} 秒（{slow}）：同一硬件上最快与最慢的模型相差 {ratio} 倍。"},
    "separable": {"en": "outside both 95 % intervals", "zh": "超出两者的 95% 置信区间"},
    "not_separable_pair": {"en": "within the 95 % intervals, so not separable here",
                           "zh": "在 95% 置信区间之内，此处无法区分"},
    "no_pairs": {"en": "None of the original report's pairwise comparisons has both of its runs complete yet.",
                 "zh": "原报告的成对比较中，尚无一对的两次运行都已完成。"},
    "findings_pairs": {"en": "The original report's questions, answered by these runs",
                       "zh": "用这些运行回答原报告的问题"},
    "findings_overall": {"en": "Overall ranking", "zh": "总体排名"},
    "findings_order": {"en": "All models, by top-1 (not a ranking)", "zh": "全部模型，按 Top-1 排列（不是排名）"},
    "findings_studies": {"en": "Ablations", "zh": "消融实验"},
    "findings_claims": {"en": "Against the original report", "zh": "与原报告对照"},
    "list_eff": {"en": "Top 5 by accuracy per parameter", "zh": "单位参数准确率前 5"},
    "list_fast": {"en": "The 5 fastest to train", "zh": "训练最快的 5 个模型"},
    # ---------------------------------------------------------------- comparison
    "simulated": {
        "en": "**The original report's numbers were not measured**: its repository produces them with a "
              "simulation script (`src/generate_results.py`) that draws training curves toward hard-coded "
              "targets. They are shown here as claims only.",
        "zh": "**原报告的数字并非实测**：其代码仓库用模拟脚本（`src/generate_results.py`）把训练曲线生成到预先写定的目标值。"
              "这里只把它们作为“声称值”列出。"},
    "head_classes": {
        "en": "Our parameter counts are those of the trained models, whose head has {classes} outputs; the "
              "Models page gives every model's exact count with 100 classes.",
        "zh": "本项目的参数量是实际训练模型的参数量，其分类头有 {classes} 个输出；模型页给出了每个模型在 100 类下的精确参数量。"},
    "gap": {
        "en": "For the {n} models measured here, our top-1 differs from the claim by {mean} points on average "
              "(from {lo} to {hi}); the rank correlation between our ranking and the claimed one is {rho}.",
        "zh": "在本项目实测的 {n} 个模型上，我们的 Top-1 与声称值平均相差 {mean} 个百分点（从 {lo} 到 {hi}）；"
              "两种排名的秩相关系数为 {rho}。"},
    "no_subtraction": {
        "en": "**Nothing is subtracted here**: our runs used {dataset} for {epochs} epoch(s), while the claims and "
              "the published results are CIFAR-100 at 200 epochs. A difference or a correlation between them would "
              "measure the protocol, not the models, so the columns stand side by side only.",
        "zh": "**这里不计算任何差值**：本项目的运行使用{dataset}、训练 {epochs} 个 epoch，而声称值与公开结果是 CIFAR-100 上 200 "
              "个 epoch 的结果。两者的差值或相关系数反映的是协议差异而非模型差异，因此只并列展示。"},
    # ---------------------------------------------------------------- studies
    "study_scale": {"en": "Measured on {dataset}, campaign {campaign}: {train_size} training images, {epochs} epoch(s), "
                          "{seeds} seed(s) per variant",
                    "zh": "在{dataset}上测得，实验配置 {campaign}：{train_size} 张训练图像，{epochs} 个 epoch，"
                          "每个变体 {seeds} 个种子"},
    "study_page_title": {"en": "Ablation: {title}", "zh": "消融实验：{title}"},
    "study_none": {"en": "No run of this study has completed.", "zh": "该消融实验尚无完成的运行。"},
    "study_top": {"en": "The highest mean top-1 is **{variant}** ({top1} %, {seeds} seed(s)).",
                  "zh": "平均 Top-1 最高的是 **{variant}**（{top1}%，{seeds} 个种子）。"},
    "study_top_model": {"en": "For {model}, the highest mean top-1 is **{variant}** ({top1} %, {seeds} seed(s)).",
                        "zh": "{model} 中平均 Top-1 最高的是 **{variant}**（{top1}%，{seeds} 个种子）。"},
    "study_one_seed": {
        "en": "With a single seed per variant the seed-to-seed spread is unknown, so **no variant is called "
              "better than another** here; run the study with several seeds (the `fast` or `full` profile).",
        "zh": "每个变体只有一个种子，种子间波动未知，因此 **这里不判定任何变体优于其他变体**；请用多种子（`fast` 或 `full` 配置）运行。"},
    "study_beyond": {"en": "Differences from the first variant ({base}) that exceed twice their standard error: "
                           "{list}. All other differences are within the seed-to-seed spread.",
                     "zh": "与第一个变体（{base}）相比，差异超过两倍标准误的有：{list}。其余差异都在种子波动范围内。"},
    "study_within": {"en": "No variant differs from {base} by more than twice the standard error of the difference: "
                           "**within the seed-to-seed spread, no best variant can be claimed**.",
                     "zh": "没有任何变体与 {base} 的差异超过差值标准误的两倍：**在种子波动范围内，无法宣称最佳变体**。"},
    "study_beyond_model": {
        "en": "Differences from the first variant of the same model that exceed twice their standard error: {list}. "
              "All other differences are within the seed-to-seed spread.",
        "zh": "与同一模型的第一个变体相比，差异超过两倍标准误的有：{list}。其余差异都在种子波动范围内。"},
    "delta_against": {"en": "{variant} ({delta} against {base})", "zh": "{variant}（相对 {base} {delta}）"},
    "study_within_model": {
        "en": "No variant differs from the first variant of its model by more than twice the standard error of the "
              "difference: **within the seed-to-seed spread, no best variant can be claimed**.",
        "zh": "没有任何变体与同一模型第一个变体的差异超过差值标准误的两倍：**在种子波动范围内，无法宣称最佳变体**。"},
    "ema_beside_raw": {
        "en": "With **{variant}**, the EMA of the weights reaches {ema} % top-1 against {raw} % for the raw weights "
              "of the same runs ({diff} points; {seeds} seed(s)).",
        "zh": "**{variant}** 中，权重的 EMA 达到 {ema}% 的 Top-1，同一批运行的原始权重为 {raw}%（相差 {diff} 个百分点；"
              "{seeds} 个种子）。"},
    "same_network": {
        "en": "**{variant}** builds the same network as **{twin}** ({why}): its numbers repeat that run and are "
              "not a separate result.",
        "zh": "**{variant}** 与 **{twin}** 构建的是同一个网络（{why}）：其数字重复了那次运行，不是独立结果。"},
    "same_network_why": {"en": "same parameters and the same per-epoch numbers",
                         "zh": "参数量与每个 epoch 的数字都相同"},
    "study_claims_note": {"en": "The original report's values in the last column were produced by its simulation script.",
                          "zh": "最后一列原报告的数值由其模拟脚本生成。"},
    "study_caption_seeds": {"en": "Mean ± standard deviation over {seeds} seeds; dots are single runs.",
                            "zh": "{seeds} 个种子的平均值 ± 标准差；圆点为单次运行。"},
    "study_caption_one": {"en": "One seed per variant: each dot is a single run, with no spread.",
                          "zh": "每个变体一个种子：每个圆点为单次运行，没有波动信息。"},
    "no_studies": {"en": "This campaign ran no ablation study.", "zh": "本实验配置未运行消融实验。"},
    # ---------------------------------------------------------------- tables and figures
    "t1": {"en": "Table 1. Models ranked by top-1 accuracy", "zh": "表 1. 按 Top-1 准确率排序的模型"},
    "t1_order": {"en": "Table 1. Models in order of top-1 accuracy (not a ranking)",
                 "zh": "表 1. 按 Top-1 准确率排列的模型（不是排名）"},
    "t2": {"en": "Table 2. Averages per group", "zh": "表 2. 按类别平均"},
    "nr": {"en": "Models that did not complete", "zh": "未完成的模型"},
    "cmp": {"en": "Our measurements beside the original report's claims and published results",
            "zh": "本项目实测值与原报告声称值及公开结果对照"},
    "recipes_title": {"en": "Recipes the runs used", "zh": "各运行实际使用的配方"},
    "recipes_note": {
        "en": "Read from the run records: the learning rate set per process and the one used after scaling to "
              "the number of processes (`lr_scaling`), with the campaign's overrides applied.",
        "zh": "取自运行记录：每个进程设定的学习率，以及按进程数缩放（`lr_scaling`）后实际使用的学习率，已包含实验配置的覆盖值。"},
    # One entry of the recipes table's regularisation column (values as recorded).
    "reg_smoothing": {"en": "label smoothing {v}", "zh": "标签平滑 {v}"},
    "reg_mixup": {"en": "Mixup {v}", "zh": "Mixup {v}"},
    "reg_cutmix": {"en": "CutMix {v}", "zh": "CutMix {v}"},
    "reg_mix_prob": {"en": "mixing p {v}", "zh": "混合概率 {v}"},
    "reg_mix_switch": {"en": "CutMix share {v}", "zh": "CutMix 占比 {v}"},
    "reg_randaugment": {"en": "RandAugment n{n} m{m}", "zh": "RandAugment n{n} m{m}"},
    "reg_trivialaugment": {"en": "TrivialAugment", "zh": "TrivialAugment"},
    "reg_erasing": {"en": "erasing {v}", "zh": "随机擦除 {v}"},
    "reg_ema": {"en": "EMA {v}", "zh": "EMA {v}"},
    "reg_clip": {"en": "clip {v}", "zh": "梯度裁剪 {v}"},
    "reg_freeze": {"en": "freeze backbone", "zh": "冻结骨干"},
    "reg_freeze_epochs": {"en": "head only for {v} epoch(s)", "zh": "前 {v} 个 epoch 只训练分类头"},
    "reg_layer_decay": {"en": "layer decay {v}", "zh": "逐层学习率衰减 {v}"},
    "no_recipes": {"en": "No run has recorded its recipe yet.", "zh": "尚无运行记录其配方。"},
    # The campaigns table (from params/*.yaml): values that are words, not numbers.
    "study_models": {"en": "the study's {n}", "zh": "原研究的 {n} 个"},
    "registered_models": {"en": "all {n} registered", "zh": "全部已注册的 {n} 个"},
    "all_images": {"en": "all", "zh": "全部"},
    "one_per_gpu": {"en": "one per GPU (1 on a CPU)", "zh": "每个 GPU 一个（CPU 上为 1）"},
    "no_campaign_files": {"en": "No campaign files in `{where}`.", "zh": "`{where}` 中没有实验配置文件。"},
    "downloads": {"en": "Download: {links}.", "zh": "下载：{links}。"},
    "download_label": {"en": "Measured on {dataset}, campaign {campaign}: {epochs} epoch(s) on {train_size} training "
                             "images, {seeds} seed(s) per model",
                       "zh": "在{dataset}上测得，实验配置 {campaign}：{train_size} 张训练图像上训练 {epochs} 个 epoch，"
                             "每个模型 {seeds} 个种子"},
    "t1_caption": {"en": "Top-1: {what}; the 95 % CI is Wilson's interval over the {n_test} test images{pooled}. "
                         "Train time is the sum of epoch times (unaffected by resumes).",
                   "zh": "Top-1：{what}；95% 置信区间为 {n_test} 张测试图像上的 Wilson 区间{pooled}。"
                         "训练时间为各 epoch 用时之和（不受断点续训影响）。"},
    "t1_one": {"en": "one run per model", "zh": "每个模型一次运行"},
    "t1_mean": {"en": "mean ± standard deviation over seeds", "zh": "多种子的平均值 ± 标准差"},
    "t1_pooled": {"en": " (pooled over seeds)", "zh": "（合并各种子）"},
    "fig_no": {"en": "Figure {i}.", "zh": "图 {i}."},
    "fig_top1": {"en": "Test top-1 accuracy per model, with 95 % intervals.",
                 "zh": "各模型测试集 Top-1 准确率及 95% 置信区间。"},
    "fig_params": {"en": "Accuracy against parameters (log scale); marker size is FLOPs per image.",
                   "zh": "准确率与参数量（对数坐标）；标记大小表示每张图像的 FLOPs。"},
    "fig_curves": {"en": "Test top-1 accuracy per epoch of one model per group.",
                   "zh": "每个类别选一个模型的每 epoch 测试集 Top-1 准确率。"},
    "fig_curves_all": {"en": "Test top-1 accuracy per epoch of every model.", "zh": "所有模型每 epoch 的测试集 Top-1 准确率。"},
    "ax_top1": {"en": "test top-1 accuracy (%)", "zh": "测试集 Top-1 准确率 (%)"},
    "ax_params": {"en": "parameters (M, log scale)", "zh": "参数量（M，对数坐标）"},
    "ax_epoch": {"en": "epoch", "zh": "epoch"},
    "ax_loss": {"en": "loss", "zh": "损失"},
    "ax_group": {"en": "group", "zh": "类别"},
    "ax_flops": {"en": "FLOPs (M)", "zh": "FLOPs (M)"},
    "ax_variant": {"en": "variant", "zh": "变体"},
    "fig_chance": {"en": "The dashed line is chance (a uniform guess).", "zh": "虚线为随机水平（均匀猜测）。"},
    "fig_diverged": {"en": "† marks a model whose loss diverged.", "zh": "† 表示损失发散的模型。"},
    # Alt text: what a figure shows, for a reader who cannot see it (filled from the same rows as the figure).
    "alt_fig_top1": {"en": "Bar chart of test top-1 accuracy for {n} models with 95 % intervals, from {lo} % ({worst}) "
                           "to {hi} % ({best}); a dashed line marks chance.",
                     "zh": "条形图：{n} 个模型的测试集 Top-1 准确率及 95% 置信区间，从 {lo}%（{worst}）到 {hi}%（{best}）；虚线为随机水平。"},
    "alt_fig_params": {"en": "Scatter plot of top-1 accuracy against parameter count (log scale) for {n} models; marker "
                             "size is FLOPs per image.",
                       "zh": "散点图：{n} 个模型的 Top-1 准确率与参数量（对数坐标）；标记大小表示每张图像的 FLOPs。"},
    "alt_fig_curves": {"en": "Line chart of test top-1 accuracy per epoch for {models}.",
                       "zh": "折线图：{models} 每个 epoch 的测试集 Top-1 准确率。"},
    "alt_fig_curves_all": {"en": "Line charts of test top-1 accuracy per epoch for all {n} models.",
                           "zh": "折线图：全部 {n} 个模型每个 epoch 的测试集 Top-1 准确率。"},
    "alt_study": {"en": "Dot plot of test top-1 accuracy for the {n} variants of the study \"{title}\", from {lo} % to {hi} %.",
                  "zh": "点图：消融实验“{title}”中 {n} 个变体的测试集 Top-1 准确率，从 {lo}% 到 {hi}%。"},
    "alt_run": {"en": "Training curves of run {run}: loss and test top-1 accuracy per epoch.",
                "zh": "运行 {run} 的训练曲线：每个 epoch 的损失与测试集 Top-1 准确率。"},
    "ax_chance": {"en": "chance ({chance} %)", "zh": "随机水平（{chance}%）"},
    "ax_ema": {"en": "EMA weights (mean)", "zh": "EMA 权重（均值）"},
}
