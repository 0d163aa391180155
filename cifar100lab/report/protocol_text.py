"""The words for runs a page cannot compare or rank as they stand (epochs cut short by a step cap, two rows of a
pairwise question trained differently, a campaign of study variants only, a most accurate model within noise of the
next), one en/zh template per fact: part of :data:`messages.MESSAGES`."""

PROTOCOL = {
    "steps_capped": {
        "en": "Every epoch stopped after at most {steps} steps (max_steps_per_epoch, a smoke test's cap), so the runs "
              "saw only part of their training images each epoch: these numbers test the pipeline, they are not a "
              "ranking of the models.",
        "zh": "每个 epoch 最多只训练 {steps} 步（max_steps_per_epoch，冒烟测试用的上限），因此每个 epoch 只用到部分训练图像："
              "这些数字检验流程，并不是模型排名。"},
    "no_subtraction_capped": {
        "en": "**Nothing is subtracted here**: every epoch of our runs stopped after at most {steps} steps "
              "(max_steps_per_epoch), while the claims and the published results trained on all of CIFAR-100 every "
              "epoch. A difference or a correlation between them would measure the protocol, not the models, so the "
              "columns stand side by side only.",
        "zh": "**这里不计算任何差值**：本项目的运行每个 epoch 最多只训练 {steps} 步（max_steps_per_epoch），而声称值与公开结果"
              "每个 epoch 都用完整的 CIFAR-100 训练。两者的差值或相关系数反映的是协议差异而非模型差异，因此只并列展示。"},
    "pair_unlike": {
        "en": "**{model} against {ref}.** Not compared: the two trained differently ({what}: {a} against {b}), so a "
              "difference between them would be in part their training's.",
        "zh": "**{model} 与 {ref}。** 不作比较：两者的训练条件不同（{what}：{a} 对 {b}），其差异部分来自训练条件。"},
    "pair_failed": {
        "en": "**{model} against {ref}.** Not compared: the training of {failed} failed (Table 1's Note says how), so a "
              "difference between them would measure that failure, not the question.",
        "zh": "**{model} 与 {ref}。** 不作比较：{failed} 的训练失败了（表 1 的备注说明情况），其差异反映的是这次失败，而不是所问的问题。"},
    "study_no_reference": {
        "en": "**Nothing is compared with {base}**: it has no complete run that trained (its Note says why: no run "
              "completed, the loss diverged or top-1 stayed at or below chance), so no variant is judged against it.",
        "zh": "**没有变体与 {base} 比较**：它没有一次正常训练完成的运行（其备注说明原因：没有运行完成、损失发散或 Top-1 "
              "不高于随机水平），因此不以它为基准判定任何变体。"},
    "no_model_rows": {
        "en": "This campaign trains no model entry of its own: each of its runs is a variant of a study that changes "
              "the recipe, so there is no model ranking here; the study pages give its results.",
        "zh": "本实验配置没有自己的模型条目：每次运行都是改变训练配方的消融实验变体，因此这里没有模型排名；结果见各消融实验页面。"},
    "no_subtraction_batch": {
        "en": "**Nothing is subtracted here**: our runs trained at a global batch of {batches} images, while the claims "
              "trained at {claims} (8 GPUs × 128, at the learning rates stated for it; `--jobs` gives each run fewer "
              "GPUs). A difference would measure the protocol, not the models, so the columns stand side by side only.",
        "zh": "**这里不计算任何差值**：本项目的运行以 {batches} 张图像的全局批量训练，而声称值以 {claims}（8 块 GPU × 128，"
              "及为其设定的学习率）训练（`--jobs` 让每次运行使用更少的 GPU）。两者的差值反映的是协议差异而非模型差异，因此只并列展示。"},
    "results_head_tied": {
        "en": "Of {n} models, {done} completed. The highest top-1 is **{best}**'s ({best_top1} %, {best_params} M "
              "parameters), within noise of **{next}** ({next_top1} %): their 95 % intervals overlap, so neither can be "
              "called the most accurate. The least accurate is **{worst}** ({worst_top1} %).",
        "zh": "{n} 个模型中 {done} 个完成训练。Top-1 最高的是 **{best}**（{best_top1}%，参数量 {best_params} M），"
              "与 **{next}**（{next_top1}%）的差异在噪声之内：两者的 95% 置信区间重叠，无法认定哪个最准确。"
              "最低的是 **{worst}**（{worst_top1}%）。"},
    "claim_unlike": {
        "en": "**{model}** is not subtracted from its claim: the original report's run {theirs} (its §3.4.3) and ours "
              "{ours}, so a difference would be in part the starting weights'.",
        "zh": "**{model}** 不与其声称值相减：原报告的运行{theirs}（其 §3.4.3），本项目的运行{ours}，两者之差部分来自初始权重。"},
}

# Where a run's weights started (a claim's, from original_claims.csv, or ours): True for ImageNet weights.
START = {True: {"en": "fine-tuned ImageNet weights", "zh": "微调了 ImageNet 预训练权重"},
         False: {"en": "trained from scratch", "zh": "从头训练"}}
