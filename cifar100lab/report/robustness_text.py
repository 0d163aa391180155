"""The Robustness chapter's words, one en/zh template per fact (rendered with :func:`i18n.fill`)."""
from __future__ import annotations

from .i18n import fill

TEXT = {
    "empty": {
        "en": "No robustness results yet. They come from the robustness step, which runs after training in a "
              "campaign whose YAML has a `robustness:` block (the quick campaign has one: `make report`), or "
              "on a campaign already trained: `python -m cifar100lab robustness runs/<campaign>`, then "
              "`python -m cifar100lab book`.",
        "zh": "尚无鲁棒性结果。结果来自鲁棒性步骤：实验配置 YAML 含 `robustness:` 块时（quick 实验即有，运行 "
              "`make report`），它在训练后运行；对已训练的实验，可运行 "
              "`python -m cifar100lab robustness runs/<campaign>`，再运行 `python -m cifar100lab book`。"},
    "intro": {
        "en": "Campaign **{campaign}**, {n} model(s) on **{dataset}**: every number below is measured from the "
              "run's own checkpoint on {images} image(s) of its test set and read from its `robustness.json`. Corruptions: "
              "{corruptions} at severities {severities} ({source}). mCE and relative mCE are normalised by "
              "**{baseline}**, which scores 100 by construction; below 100 means fewer errors under corruption "
              "than {baseline}.",
        "zh": "实验 **{campaign}**，数据集 **{dataset}** 上的 {n} 个模型：以下每个数字都由该运行自己的检查点在 "
              "{images} 张测试图像上测得，读自其 `robustness.json`。损坏类型：{corruptions}，严重度 {severities}"
              "（{source}）。mCE 与相对 mCE 以 **{baseline}** 为基准归一化，基准模型按定义为 100；低于 100 "
              "表示在损坏下错误少于 {baseline}。"},
    "generated": {"en": "generated with imagecorruptions, cached by checksum, at the strengths of ImageNet-C, which "
                        "are stronger than CIFAR-100-C's (Gaussian noise σ 0.08–0.38 against 0.04–0.10): not "
                        "comparable with published CIFAR-100-C results",
                  "zh": "由 imagecorruptions 生成，按校验和缓存，强度为 ImageNet-C 的，比 CIFAR-100-C 的更强（高斯噪声 σ "
                        "0.08–0.38，CIFAR-100-C 为 0.04–0.10）：不能与已发表的 CIFAR-100-C 结果比较"},
    "published": {"en": "the published CIFAR-100-C arrays", "zh": "公开发布的 CIFAR-100-C 数组"},
    "stale_results": {
        "en": "Left out: {runs}, whose `robustness.json` was measured with other robustness settings than this "
              "campaign's (its robustness step did not analyse them again); run "
              "`python -m cifar100lab robustness runs/{campaign}` to measure them.",
        "zh": "未列入：{runs}，其 `robustness.json` 的鲁棒性设置与本实验当前设置不同（鲁棒性步骤未重新分析它们）；"
              "运行 `python -m cifar100lab robustness runs/{campaign}` 以重新测量。"},
    "no_baseline": {
        "en": "The baseline {baseline} has no robustness result in this campaign, so mCE cannot be computed.",
        "zh": "本实验中基准模型 {baseline} 没有鲁棒性结果，因此无法计算 mCE。"},
    "other_images": {
        "en": "No mCE for {runs} (–): their corrupted images are not those {baseline} was measured on (another "
              "test subset, or other corrupted sets), and mCE divides errors on the same images.",
        "zh": "{runs} 不给出 mCE（–）：其损坏图像不是 {baseline} 所测的那些（测试子集不同，或损坏图像集不同），而 mCE "
              "是同一批图像上误差之比。"},
    "table": {"en": "Clean accuracy, corruption error and calibration", "zh": "干净准确率、损坏误差与校准"},
    "table_caption": {
        "en": "Top-1 with Wilson's 95 % interval; ECE (15 bins) with a bootstrap 95 % interval, clean and over "
              "every corruption at severity {severity}. Label smoothing, Mixup and CutMix change calibration; "
              "the Recipe column names them where a run used them. Relative mCE divides by the baseline's rise in error under each "
              "corruption; it is left out (–) where that rise is not positive, as it can be after a short training.",
        "zh": "Top-1 附 Wilson 95% 置信区间；ECE（15 个分箱）附自助法 95% 区间，分别为干净图像和严重度 {severity} "
              "下所有损坏类型。标签平滑、Mixup 与 CutMix 会改变校准；“配方”列注明使用了它们的运行。相对 mCE 除以基准模型"
              "在各损坏类型下误差的增量；该增量不为正时（短训练后可能如此）不给出（–）。"},
    "model": {"en": "Model", "zh": "模型"}, "clean_top1": {"en": "Clean top-1 (%)", "zh": "干净 Top-1 (%)"},
    "mce": {"en": "mCE", "zh": "mCE"}, "rel_mce": {"en": "Relative mCE", "zh": "相对 mCE"},
    "ece": {"en": "ECE clean (%)", "zh": "干净 ECE (%)"},
    "ece_corrupt": {"en": "ECE severity {severity} (%)", "zh": "严重度 {severity} ECE (%)"},
    "recipe": {"en": "Recipe", "zh": "配方"}, "plain": {"en": "plain", "zh": "普通"},
    "label_smoothing": {"en": "label smoothing {v}", "zh": "标签平滑 {v}"},
    "mixup": {"en": "Mixup {v}", "zh": "Mixup {v}"}, "cutmix": {"en": "CutMix {v}", "zh": "CutMix {v}"},
    "errors_title": {"en": "Corruption error per corruption (%)", "zh": "各损坏类型的误差 (%)"},
    "errors_caption": {"en": "Each cell is the top-1 error averaged over severities {severities}.",
                       "zh": "每格为严重度 {severities} 下 Top-1 误差的平均值。"},
    "download": {"en": "Every corruption and severity, unrounded, with each row's run id: {link}.",
                 "zh": "各损坏类型与严重度的完整数据（未舍入，附每行的运行 ID）：{link}。"},
    "corruption": {"en": "Corruption", "zh": "损坏类型"}, "severity": {"en": "severity", "zh": "严重度"},
    "per_class_title": {"en": "Per-class errors", "zh": "各类别错误"},
    "always_wrong": {"en": "Classes no model gets a single test image of right: {names}.",
                     "zh": "没有任何模型答对过一张测试图像的类别：{names}。"},
    "none_always_wrong": {"en": "Every class has at least one test image some model gets right.",
                          "zh": "每个类别都至少有一张测试图像被某个模型答对。"},
    "disagreed": {"en": "Classes where the models disagree most (widest spread of per-class top-1, highest to "
                        "lowest): {items}.",
                  "zh": "模型分歧最大的类别（各类别 Top-1 的极差，从高到低）：{items}。"},
    "fig_severity": {"en": "Top-1 accuracy against severity, averaged over the measured corruptions of each "
                           "family (severity 0 is the clean images); one line per model.",
                     "zh": "Top-1 准确率随严重度的变化，按损坏族对所测损坏类型取平均（严重度 0 为干净图像）；每条线一个模型。"},
    "fig_reliability": {"en": "Reliability diagrams: accuracy against confidence per bin, clean (solid) and at "
                              "severity {severity} over every corruption (dashed); the diagonal is perfect "
                              "calibration.",
                        "zh": "可靠性图：各分箱的准确率与置信度，干净图像（实线）与严重度 {severity} 下所有损坏类型"
                              "（虚线）；对角线为完美校准。"},
    "fig_confusion": {"en": "{level} confusion (rows: true, columns: predicted; shares of each row) of the model "
                            "with the highest clean top-1 ({best}) and the lowest ({worst}).",
                      "zh": "干净 Top-1 最高的模型（{best}）与最低的模型（{worst}）的{level}混淆矩阵"
                            "（行：真实，列：预测；按行归一化）。"},
    "fig_confusion_tied": {"en": "{level} confusion (rows: true, columns: predicted; shares of each row) of two "
                                 "models: every model has the same clean top-1 ({top1} %), so none is best or "
                                 "worst; shown: {best} and {worst}.",
                           "zh": "两个模型的{level}混淆矩阵（行：真实，列：预测；按行归一化）：所有模型的干净 Top-1 "
                                 "相同（{top1} %），没有最好或最差之分；所示为 {best} 与 {worst}。"},
    "fig_confusion_one": {"en": "{level} confusion (rows: true, columns: predicted; shares of each row) of the "
                                "campaign's one model, {model}.",
                          "zh": "本活动唯一模型 {model} 的{level}混淆矩阵（行：真实，列：预测；按行归一化）。"},
    "gradcam_title": {"en": "Grad-CAM: where each model looked", "zh": "Grad-CAM：各模型关注的位置"},
    "fig_gradcam": {
        "en": "Grad-CAM heat maps (the grad-cam package) of {cams} image(s) of the analysed test images, the same "
              "for every model, each at its run size, for the class the model predicted, named above each map "
              "(green: right; red and marked ×: wrong; the true class under each column). The map is the "
              "registry's layer per family: the residual stage for the CIFAR ResNets (8×8 at 32 px), the third "
              "stage for ConvNeXt, HorNet, MSCAN and LSKNet (4×4; their last stage is 2×2 at 32 px), and a 4×4 stage "
              "for the networks whose registered layer is 2×2 or less at their run size (a 224-px network trained "
              "at 32 px: CoAtNet, CSPResNet, ResNeSt; GhostNet). MLP-Mixer has no convolutional feature map: what is shown is "
              "the gradient-weighted activation of its last block's tokens, one per patch, on the patch grid, "
              "upsampled to the image.",
        "zh": "Grad-CAM 热力图（grad-cam 库）：所分析测试图像中的 {cams} 张，各模型相同，均在其运行尺寸下，"
              "针对模型预测的类别，标于每张图上方（绿色：正确；红色并标 ×：错误；每列下方为真实类别）。"
              "热力图取自注册表为每个模型族声明的层："
              "CIFAR ResNet 为残差阶段（32 像素下 8×8），ConvNeXt、HorNet、MSCAN 与 LSKNet 为第三阶段（4×4；"
              "其最后阶段在 32 像素下仅 2×2）；注册层在运行尺寸下只有 2×2 或更小的网络（在 32 像素下训练的 224 像素网络："
              "CoAtNet、CSPResNet、ResNeSt；以及 GhostNet）取 4×4 的阶段。MLP-Mixer 没有卷积特征图：所示为其最后一个块的各 token（每个图块一个）"
              "按梯度加权的激活，排列在图块网格上并上采样到图像大小。"},
    "true": {"en": "true", "zh": "真实"},
    "mce_interval": {"en": "mCE with a bootstrap 95 % interval over the images (the model and the baseline "
                           "resampled together).",
                     "zh": "mCE 附对图像自助重采样的 95% 区间（模型与基准模型一同重采样）。"},
    "superclass": {"en": "Superclass", "zh": "超类"}, "class": {"en": "Class", "zh": "类别"},
    "ax_accuracy": {"en": "top-1 accuracy (%)", "zh": "Top-1 准确率 (%)"},
    "ax_confidence": {"en": "confidence", "zh": "置信度"}, "ax_bin_accuracy": {"en": "accuracy", "zh": "准确率"},
    "ax_true": {"en": "true", "zh": "真实"}, "ax_predicted": {"en": "predicted", "zh": "预测"},
    "clean": {"en": "clean", "zh": "干净"}, "pp": {"en": "pp", "zh": "百分点"},
    "noise": {"en": "noise", "zh": "噪声"}, "blur": {"en": "blur", "zh": "模糊"},
    "weather": {"en": "weather", "zh": "天气"}, "digital": {"en": "digital", "zh": "数字"},
}

# The corruptions' names as the tables and legends show them.
CORRUPTION_NAMES = {
    "gaussian_noise": ("Gaussian noise", "高斯噪声"), "shot_noise": ("shot noise", "散粒噪声"),
    "impulse_noise": ("impulse noise", "脉冲噪声"), "defocus_blur": ("defocus blur", "散焦模糊"),
    "glass_blur": ("glass blur", "玻璃模糊"), "motion_blur": ("motion blur", "运动模糊"),
    "zoom_blur": ("zoom blur", "缩放模糊"), "snow": ("snow", "雪"), "frost": ("frost", "霜"), "fog": ("fog", "雾"),
    "brightness": ("brightness", "亮度"), "contrast": ("contrast", "对比度"),
    "elastic_transform": ("elastic transform", "弹性变换"), "pixelate": ("pixelate", "像素化"),
    "jpeg_compression": ("JPEG compression", "JPEG 压缩")}


def corruption_name(name: str, lang: str) -> str:
    en, zh = CORRUPTION_NAMES.get(name, (name, name))
    return en if lang == "en" else zh


def text(key: str, lang: str, **values) -> str:
    return fill(TEXT[key], lang, **values)
