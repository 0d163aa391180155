"""The Models page: one row per registered model, from the models catalog (``reference/models.json``: parameters
and FLOPs counted at the size each model runs at, which a test checks against the registry), so a build
constructs no network; a model added or changed since the cache was written is counted then (model_catalog)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..model_catalog import current_catalog
from ..model_facts import GROUPS
from .i18n import ADAPTATIONS, CLAUSE_SEP, LANGS, group
from .tables import markdown_table

SOURCE = {"own": {"en": "own", "zh": "本项目实现"}}
DEFAULT_RUN = {"fine-tune": {"en": "fine-tune (ImageNet)", "zh": "微调（ImageNet 预训练）"},
               "scratch": {"en": "scratch", "zh": "从头训练"}}
COLUMNS = {"en": ["Model", "Group", "Source", "Input", "Params", "FLOPs (M) at input", "Default run",
                  "32 px layout (ImageNet → here)"],
           "zh": ["模型", "类别", "来源", "输入尺寸", "参数量", "输入尺寸下 FLOPs (M)", "默认训练方式",
                  "32 px 布局（ImageNet → 本项目）"]}
NOTE = {"en": "Parameters are exact counts with a 100-class head, at the input size each model runs at by default "
              "(its pretraining size when it fine-tunes: patch and position embeddings grow with the input). FLOPs "
              "are measured with `torch.utils.flop_counter` for one image at that size (a multiply-add counts as two). "
              "Each model's paper is on the Related work page. "
              "The last column gives what a network changes for 32 px (ImageNet → here): the stems of the "
              "convolutional networks written here, and the small-image layout in which the Vision Transformers "
              "train from scratch (they fine-tune in timm's ImageNet layout at their pretraining size).",
        "zh": "参数量为 100 类分类头下的精确计数，按各模型默认运行的输入尺寸统计（微调模型为其预训练尺寸：patch 与位置嵌入随输入尺寸变化）。"
              "FLOPs 由 `torch.utils.flop_counter` 在该尺寸下对单张图像测得（乘加计为 2 次）。各模型的论文见“相关工作”页。"
              "最后一列给出网络为 32 px 所做的改动（ImageNet → 本项目）：本项目自写卷积网络的 stem，以及视觉 Transformer "
              "从头训练时的小图像布局（微调时它们在预训练尺寸下使用 timm 的 ImageNet 布局）。"}


def models_table() -> pd.DataFrame:
    """The catalog's rows in the report's group order, smallest first within a group."""
    df = pd.DataFrame(current_catalog()[0])
    df["group"] = pd.Categorical(df.group, GROUPS, ordered=True)
    return df.sort_values(["group", "params"]).reset_index(drop=True)


def adaptation_text(adaptation, lang: str) -> str:
    """A small-image layout's changes, e.g. 'patch 16 → 4; window 7 → 4'; '–' for a model without one."""
    return CLAUSE_SEP[lang].join(f"{ADAPTATIONS[what][lang]} {imagenet} → {small}" for what, imagenet, small in adaptation) or "–"


def models_markdown(df: pd.DataFrame, lang: str) -> str:
    cols = COLUMNS[lang]
    t = pd.DataFrame({cols[0]: df.model, cols[1]: [group(g)[lang] for g in df.group],
                      cols[2]: [SOURCE.get(s, {lang: s})[lang] for s in df.source],
                      cols[3]: df.input_size.astype(str), cols[4]: [f"{p:,}" for p in df.params],
                      cols[5]: [f"{f / 1e6:,.1f}" for f in df.flops],
                      cols[6]: [DEFAULT_RUN[d][lang] for d in df.default_run],
                      cols[7]: [adaptation_text(a, lang) for a in df.adaptation]})
    return f"{NOTE[lang]}\n\n" + markdown_table(t)


def write_models_page(out_dir="book/generated") -> pd.DataFrame:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = models_table()
    df.to_csv(out / "models_catalog.csv", index=False)
    for lang in LANGS:
        (out / f"models_{lang}.md").write_text(models_markdown(df, lang), encoding="utf-8")
    return df
