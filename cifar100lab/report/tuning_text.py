"""The Hyperparameter search page's words, one en/zh template per fact: part of :data:`messages.MESSAGES`
(rendered with :func:`i18n.say`)."""

TUNING = {
    "tune_none": {"en": "No study has been run yet. `python -m cifar100lab tune params/tune/<study>.yaml` runs one.",
                  "zh": "尚未运行任何超参数搜索。运行 `python -m cifar100lab tune params/tune/<study>.yaml` 开始一个。"},
    "tune_facts": {"en": "**{model}** on **{dataset}**; {n_trials} trial(s) planned: {complete} complete, {pruned} "
                         "pruned, {failed} failed{retried}{unfinished}; sampler {sampler}, pruner {pruner}. The "
                         "objective is validation top-1; no trial saw the test set.",
                   "zh": "**{model}**，数据集 **{dataset}**；计划 {n_trials} 次试验：完成 {complete}，剪枝 {pruned}，"
                         "失败 {failed}{retried}{unfinished}；采样器 {sampler}，剪枝器 {pruner}。目标为验证集 Top-1；任何试验都未使用测试集。"},
    "tune_unfinished": {"en": ", {n} not finished yet (running, or waiting for a worker)",
                        "zh": "，尚未结束 {n}（运行中或等待执行）"},
    "tune_retried": {"en": " ({n} more stopped and run again: the retry counts in its place)",
                     "zh": "（另有 {n} 次被中断后重新运行：以重新运行的试验计）"},
    "tune_best": {"en": "The best trial is **#{number}** (validation top-1 {value} %):",
                  "zh": "最佳试验为 **#{number}**（验证集 Top-1 {value}%）："},
    "tune_reruns": {"en": "Its configuration re-run with {seeds} seed(s) and tested: mean test top-1 {mean} %.",
                    "zh": "以 {seeds} 个种子重新训练该配置并在测试集上评估：平均测试 Top-1 {mean}%。"},
    "tune_reruns_other": {"en": "Not re-run on the test set since it became the best trial: the re-runs there are of "
                                 "trial #{trial}'s configuration (`tune --finish` re-runs trial #{best}'s).",
                          "zh": "自成为最佳试验以来尚未在测试集上重新训练：现有的重新训练来自试验 #{trial} 的配置"
                                "（`tune --finish` 会重新训练试验 #{best} 的配置）。"},
    "tune_no_reruns": {"en": "Not re-run on the test set yet (`tune --finish` does it).",
                       "zh": "尚未在测试集上重新训练（运行 `tune --finish`）。"},
    "tune_col_param": {"en": "parameter", "zh": "参数"}, "tune_col_value": {"en": "value", "zh": "取值"},
    "tune_col_run": {"en": "run", "zh": "运行"}, "tune_col_top1": {"en": "test top-1 (%)", "zh": "测试 Top-1（%）"},
    "tune_col_interval": {"en": "95 % interval (Wilson)", "zh": "95% 区间（Wilson）"},
    "tune_history": {"en": "Optimisation history: validation top-1 per trial", "zh": "优化历程：每次试验的验证集 Top-1"},
    "tune_importance": {"en": "Parameter importances (fANOVA)", "zh": "参数重要性（fANOVA）"},
    "tune_slice": {"en": "Slice plot: validation top-1 against each parameter", "zh": "切片图：验证集 Top-1 与各参数"},
    "tune_ax_trial": {"en": "trial", "zh": "试验"}, "tune_ax_value": {"en": "validation top-1 (%)", "zh": "验证集 Top-1（%）"},
    "tune_ax_importance": {"en": "importance", "zh": "重要性"},
    "tune_legend_best": {"en": "best so far", "zh": "当前最佳"}, "tune_legend_value": {"en": "trial", "zh": "试验"},
}
