"""The Models page: one row per registered model, with exact parameter counts and FLOPs measured by
building each model (100 classes) at its input size(s)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..models import GROUPS, count_flops, count_params, create_model, model_entry, model_names, shaped_by_input_size
from .i18n import ADAPTATIONS, LANGS, group
from .tables import markdown_table

SOURCE = {"own": {"en": "own", "zh": "本项目实现"}}
DEFAULT_RUN = {"fine-tune": {"en": "fine-tune (ImageNet)", "zh": "微调（ImageNet 预训练）"},
               "scratch": {"en": "scratch", "zh": "从头训练"}}
COLUMNS = {"en": ["Model", "Group", "Source", "Paper", "Input", "Params", "FLOPs (M) at input", "Default run",
                  "32 px layout (ImageNet → here)"],
           "zh": ["模型", "类别", "来源", "论文", "输入尺寸", "参数量", "输入尺寸下 FLOPs (M)", "默认训练方式",
                  "32 px 布局（ImageNet → 本项目）"]}
NOTE = {"en": "Parameters are exact counts with a 100-class head. FLOPs are measured with "
              "`torch.utils.flop_counter` for one image (a multiply-add counts as two); for ImageNet-pretrained "
              "models the second value is at their pretraining resolution. The Vision Transformers run at their "
              "pretraining size in timm's ImageNet layout and at 32 px in the small-image layout the last column "
              "gives (what changes, ImageNet → here).",
        "zh": "参数量为 100 类分类头下的精确计数。FLOPs 由 `torch.utils.flop_counter` 对单张图像测得（乘加计为 2 次）；"
              "ImageNet 预训练模型的第二个数值为其预训练分辨率下的值。视觉 Transformer 在预训练尺寸下使用 timm 的 ImageNet 布局，"
              "在 32 px 下使用最后一列给出的小图像布局（改动之处，ImageNet → 本项目）。"}


def models_table() -> pd.DataFrame:
    df = pd.DataFrame([model_row(name) for name in model_names()])
    df["group"] = pd.Categorical(df.group, GROUPS, ordered=True)
    return df.sort_values(["group", "params"]).reset_index(drop=True)


def model_row(name: str) -> dict:
    """One model's facts, its network built (100 classes) at its native size and, where the architecture depends
    on it, at its pretraining size."""
    entry = model_entry(name)
    model = create_model(name, num_classes=100)
    row = {"model": name, "group": entry.group, "family": entry.family, "source": entry.source, "paper": entry.paper,
           "recipe": entry.recipe, "input_size": entry.input_size, "params": count_params(model),
           "flops": count_flops(model, entry.input_size), "pretrained": entry.pretrained_source or "",
           "default": "fine-tune" if entry.default_pretrained else "scratch",
           "pretrained_input_size": entry.pretrained_input_size, "flops_pretrained_size": None,
           "adaptation": entry.adaptation}
    if entry.pretrained_input_size and entry.pretrained_input_size != entry.input_size:
        big = (create_model(name, num_classes=100, img_size=entry.pretrained_input_size)
               if shaped_by_input_size(name) else model)
        row["flops_pretrained_size"] = count_flops(big, entry.pretrained_input_size)
    return row


def adaptation_text(adaptation, lang: str) -> str:
    """A small-image layout's changes, e.g. 'patch 16 → 4; window 7 → 4'; '–' for a model without one."""
    return "; ".join(f"{ADAPTATIONS[what][lang]} {imagenet} → {small}" for what, imagenet, small in adaptation) or "–"


def short_paper(paper: str) -> str:
    """'He et al., Deep Residual Learning for Image Recognition, CVPR 2016' -> 'He et al., CVPR 2016'
    (titles are on the Related work page; the column stays narrow)."""
    parts = [p.strip() for p in paper.split(",")]
    return f"{parts[0]}, {parts[-1]}" if len(parts) > 2 else paper


def models_markdown(df: pd.DataFrame, lang: str) -> str:
    cols = COLUMNS[lang]

    def size(r):
        return f"{r.input_size}" + (f" / {int(r.pretrained_input_size)}" if pd.notna(r.flops_pretrained_size) else "")

    def flops(r):
        return f"{r.flops / 1e6:,.1f}" + (f" / {r.flops_pretrained_size / 1e6:,.1f}" if pd.notna(r.flops_pretrained_size) else "")

    t = pd.DataFrame({cols[0]: df.model, cols[1]: [group(g)[lang] for g in df.group],
                      cols[2]: [SOURCE.get(s, {lang: s})[lang] for s in df.source], cols[3]: df.paper.map(short_paper),
                      cols[4]: [size(r) for r in df.itertuples()], cols[5]: [f"{p:,}" for p in df.params],
                      cols[6]: [flops(r) for r in df.itertuples()],
                      cols[7]: [DEFAULT_RUN[d][lang] for d in df["default"]],
                      cols[8]: [adaptation_text(a, lang) for a in df.adaptation]})
    return f"{NOTE[lang]}\n\n" + markdown_table(t)


def write_models_page(out_dir="book/generated") -> pd.DataFrame:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = models_table()
    df.to_csv(out / "models_catalog.csv", index=False)
    for lang in LANGS:
        (out / f"models_{lang}.md").write_text(models_markdown(df, lang), encoding="utf-8")
    return df
