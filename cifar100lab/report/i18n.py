"""One message template per fact, rendered in both languages.

A fact is a key of :data:`MESSAGES` (in ``messages.py``); its value holds the English and the Chinese template with the same
named fields. :func:`say` fills one language; a field whose value is itself ``{"en": …, "zh": …}`` (a
dataset label, a group name) is resolved to that language first, so callers compute each fact once.
"""
from __future__ import annotations

import math
import re

from ..data import DATASETS, KIND_LABELS
from .messages import MESSAGES  # the prose templates, one per fact

LANGS = ("en", "zh")

GROUPS = {"basic ResNet": {"en": "basic ResNet", "zh": "基础 ResNet"},
          "attention": {"en": "attention", "zh": "注意力"},
          "lightweight": {"en": "lightweight", "zh": "轻量化"},
          "modern conv": {"en": "modern conv", "zh": "现代卷积"},
          "hybrid & advanced": {"en": "hybrid & advanced", "zh": "混合与先进架构"},
          "MLP": {"en": "MLP", "zh": "MLP"},
          "transformers": {"en": "transformers", "zh": "视觉 Transformer"}}
# What a small-image layout changes (a registry entry's ``adaptation``), for the Models page.
ADAPTATIONS = {"patch": {"en": "patch", "zh": "patch 大小"}, "window": {"en": "window", "zh": "窗口"},
               "partition": {"en": "window/grid partition", "zh": "窗口/网格划分"},
               "stem stride": {"en": "stem stride", "zh": "stem 步幅"},
               "K/V reduction": {"en": "K/V reduction ratios", "zh": "K/V 空间缩减比"}}
STATUS = {"complete": {"en": "complete", "zh": "完成"}, "skipped": {"en": "skipped", "zh": "已跳过"},
          "failed": {"en": "failed", "zh": "失败"}, "running": {"en": "running", "zh": "运行中"},
          "interrupted": {"en": "interrupted", "zh": "已中断"}, "missing": {"en": "missing", "zh": "缺失"}}
# Skip / failure reasons the trainer writes (English, in the record) -> the Chinese for their known start.
REASONS_ZH = {"pretrained weights unavailable": "预训练权重不可用", "notebook failed": "笔记本执行失败"}
# A stop's reason (attempt.interrupt, runs.record_stopped), "stopped <who> <where>; <again> <then>", read whole.
STOP_REASON = re.compile(r"stopped (?P<who>.+?) (?:in epoch (?P<epoch>\d+) of (?P<epochs>\d+)|(?P<last>after its last "
                         r"epoch, before its record was written)); (?P<again>.+?) (?:resumes from epoch (?P<resume>\d+)"
                         r"|(?P<checkpoint>resumes from its last checkpoint)|finishes it without training"
                         r"|(?P<over>starts it over from epoch 1: no checkpoint was saved yet))$")
STOP_WHO_ZH = {"by hand": "手动停止", "with its campaign": "随实验配置一同停止", "with its study": "随超参数搜索一同停止",
               "by Slurm (its job was cancelled or preempted)": "被 Slurm 停止（作业被取消或抢占）",  # older records
               "by Slurm (its job was cancelled, preempted or reached its time limit)":
                   "被 Slurm 停止（作业被取消、抢占或到达时间上限）"}
STOP_AGAIN_ZH = {"running it again": "再次运行", "running the campaign again": "再次运行实验配置",
                 "running tune again": "再次运行超参数搜索", "submitting the campaign again": "再次提交实验配置"}
# Theme words the themes' zh catalogs lack (the rest come from the catalogs Sphinx and the themes ship).
THEME_ZH = {"Color mode": "配色模式", "System Settings": "跟随系统", "Collapse Sidebar": "收起侧边栏",
            "Expand Sidebar": "展开侧边栏", "Breadcrumb": "导航路径", "Link to this heading": "链接到此标题",
            "Link to this image": "链接到此图片", "Link to this table": "链接到此表格", "Link to this code": "链接到此代码",
            "Toggle primary sidebar": "显示或隐藏导航栏", "Toggle secondary sidebar": "显示或隐藏本页目录",
            "Print to PDF": "打印为 PDF"}  # the theme's zh_CN catalog has the traditional 列印成 PDF
YES_NO = {True: {"en": "yes", "zh": "是"}, False: {"en": "no", "zh": "否"}}
LIST_SEP = {"en": ", ", "zh": "、"}
CLAUSE_SEP = {"en": "; ", "zh": "；"}  # between items that hold commas of their own

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
REASON_FACTS = ((re.compile(r"pretrained weights unavailable: cannot reach (?:https?://)?(?P<host>[^\s/();]+)"),
                 "reason_offline"),
                (re.compile(r"pretrained weights unavailable"), "reason_no_weights"),
                (re.compile(r"loss became (?P<loss>\S+) in epoch (?P<epoch>\d+); lower the learning rate "
                            r"\((?P<lr>[^)]*)\) or check the data$"), "reason_diverged"),
                (re.compile(r"no record yet: not run, or still queued or running elsewhere$"), "reason_no_record"))


def reason(text) -> dict:
    """A recorded reason in both languages: a known reason as its sentence; otherwise its known opening
    translated, the details (paths, numbers) kept."""
    text = "–" if text is None or text != text else str(text)
    for pattern, fact in REASON_FACTS:
        found = pattern.match(text)
        if found:
            return both(fact, **found.groupdict())
    stop = STOP_REASON.match(text)
    if stop and stop["who"] in STOP_WHO_ZH and stop["again"] in STOP_AGAIN_ZH:
        return {"en": text, "zh": _stop_reason_zh(stop)}
    zh = next((z + text[len(e):] for e, z in REASONS_ZH.items() if text.startswith(e)), text)
    return {"en": text, "zh": zh}


def _stop_reason_zh(stop: re.Match) -> str:
    where = ("于最后一个 epoch 之后、记录写入之前" if stop["last"] else
             f"于第 {stop['epoch']} 个 epoch（共 {stop['epochs']} 个）")
    then = (f"将从第 {stop['resume']} 个 epoch 的检查点继续" if stop["resume"] else
            "将从最后一个检查点继续" if stop["checkpoint"] else
            "将从第 1 个 epoch 重新开始：尚未保存任何检查点" if stop["over"] else "将直接完成，无需再训练")
    return f"{STOP_WHO_ZH[stop['who']]}，{where}；{STOP_AGAIN_ZH[stop['again']]}{then}"


def dataset_label(name: str | None, fallback: str | None = None) -> dict:
    entry = DATASETS.get(name or "")
    return dict(entry.label) if entry else {"en": fallback or str(name), "zh": fallback or str(name)}


def kind_label(kind: str) -> dict:
    return KIND_LABELS.get(kind, {"en": str(kind), "zh": str(kind)})


def join(items, lang: str) -> str:
    return LIST_SEP[lang].join(pick(i, lang) for i in items)


def alternatives(values) -> dict | str:
    """Counts that differ between runs, as a reader says them (both languages): "4", "1 or 4", "1, 2 or 4"
    (zh "1 或 4"、"1、2 或 4"); "–" for none. Joined by commas, "1, 2 seeds per model" read as a list."""
    words = [str(v) for v in values]
    if not words:
        return "–"
    return {lang: (LIST_SEP[lang].join(words[:-1]) + f" {word} " if len(words) > 1 else "") + words[-1]
            for lang, word in (("en", "or"), ("zh", "或"))}


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


def precision_label(precision) -> str:
    """A run's precision as readers know it: the record keeps Accelerate's name, whose "no" is plain fp32."""
    return {"no": "fp32", None: "–"}.get(precision, str(precision))


def seconds(x, thousands: str = ",") -> str:
    """A time in seconds to two significant digits or more (0.17, 2.4, 36, 1,234): rounded to whole seconds, a
    fast run's 0.17 s read "0 s", beside a ratio worked out from the precise times. ``thousands=""`` for a table
    column, whose CSV download then still reads as numbers (1234)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:{thousands}.{max(0, 1 - math.floor(math.log10(x))) if x > 0 else 0}f}"


def fmt(x, digits=2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"
