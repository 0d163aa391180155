"""The Performance page's words: one English and one Chinese template per fact, its tables' headers, and each
section's heading, introduction and empty text (:mod:`.performance` for the CPU sections, :mod:`.performance_gpu`
for the GPU ones; filled as :mod:`.i18n` does)."""
from __future__ import annotations

import pandas as pd

from .i18n import fill
from .tables import markdown_table

PATHS = {"original": {"en": "original", "zh": "原始管线"}, "ours": {"en": "ours", "zh": "本项目"},
         "ours+compile": {"en": "ours+compile", "zh": "本项目 + compile"},
         "ours+cuda-graph": {"en": "ours+CUDA graph", "zh": "本项目 + CUDA 图"},
         "ours+compile+cuda-graph": {"en": "ours+compile+CUDA graph", "zh": "本项目 + compile + CUDA 图"}}
HEAD = {
    "model": {"en": "Model", "zh": "模型"}, "path": {"en": "Path", "zh": "路径"}, "precision": {"en": "Precision", "zh": "精度"},
    "train": {"en": "Train img/s", "zh": "训练 图像/秒"}, "eval": {"en": "Eval img/s", "zh": "评估 图像/秒"},
    "tflops": {"en": "Achieved TFLOP/s", "zh": "实际 TFLOP/s"}, "peak": {"en": "Share of matmul peak", "zh": "占矩阵乘峰值比例"},
    "speedup": {"en": "Train speed-up", "zh": "训练加速比"}, "network": {"en": "Network", "zh": "网络"},
    "input": {"en": "Input px", "zh": "输入尺寸"}, "batch": {"en": "Batch", "zh": "批大小"},
    "epoch": {"en": "Epoch (s)", "zh": "每轮（秒）"}, "runs": {"en": "Runs × epochs", "zh": "运行 × 轮数"},
    "memory": {"en": "GPU memory (GiB)", "zh": "显存（GiB）"},
    "predicted": {"en": "Predicted", "zh": "预计用时"}, "run": {"en": "Run", "zh": "运行"},
    "status": {"en": "Status", "zh": "状态"}, "top1": {"en": "Top-1 (%)", "zh": "Top-1（%）"},
    "top5": {"en": "Top-5 (%)", "zh": "Top-5（%）"}, "wall": {"en": "Wall time", "zh": "总用时"},
    "mean_epoch": {"en": "Mean epoch (s)", "zh": "平均每轮（秒）"}, "run_total": {"en": "Start to record (s)", "zh": "启动至记录（秒）"},
    "run_epochs": {"en": "Epochs (s)", "zh": "各轮（秒）"}, "ema_top1": {"en": "EMA top-1 (%)", "zh": "EMA Top-1（%）"},
    # the GPU sections' tables
    "pack_runs": {"en": "Runs on the GPU", "zh": "GPU 上的运行数"}, "pack_total": {"en": "Total img/s", "zh": "合计 图像/秒"},
    "pack_speedup": {"en": "Speed-up over one run", "zh": "相对单次运行的加速比"},
    "pack_slowdown": {"en": "Slowdown per run", "zh": "每次运行的减速"},
    "ckpt_state": {"en": "State (MB)", "zh": "状态（MB）"}, "ckpt_tensors": {"en": "Tensors", "zh": "张量数"},
    "ckpt_inline": {"en": "Inline write (ms)", "zh": "同步写入（毫秒）"},
    "ckpt_held": {"en": "Training held, background (ms)", "zh": "后台写入时训练被占用（毫秒）"},
    "ckpt_total": {"en": "Background write (ms)", "zh": "后台写入总时长（毫秒）"},
    "ckpt_kept": {"en": "Weights check", "zh": "权重检查"},
    "feature": {"en": "Feature", "zh": "功能"}, "result": {"en": "Result", "zh": "结果"},
    "case": {"en": "Case", "zh": "情形"}, "loss_gap": {"en": "Largest loss difference", "zh": "最大损失差"},
    "param_diff": {"en": "Largest weight difference after 30 steps", "zh": "30 步后最大权重差"}}
TEXT = {
    "campaign_title": {"en": "Campaign wall time", "zh": "实验总用时"},  # the page's first section
    "bench_head": {
        "en": "**{device}** — measured {measured}, torch {torch}, batch {batch}, {steps} timed steps per round, median "
              "of {repeats} interleaved round(s); measured matmul peak (TFLOP/s): {peaks}. *First round* is the untimed "
              "warm-up of a path's first round (DataLoader start-up; for `ours+compile` the one-off compilation, "
              "shorter when torch's compile cache is already warm).",
        "zh": "**{device}** —— 测于 {measured}，torch {torch}，批大小 {batch}，每轮计时 {steps} 步，取 {repeats} 轮交替测量的"
              "中位数；实测矩阵乘峰值（TFLOP/s）：{peaks}。“首轮用时”是第一轮未计时的预热（DataLoader 启动；`ours+compile` "
              "含一次性编译；若 torch 的编译缓存已存在则更短）。"},
    "target_met": {"en": "- The project's CPU target is {model} training at ≥ {target}× the original pipeline: met by "
                         "`{path}` ({speedup}×).",
                   "zh": "- 本项目的 CPU 目标是 {model} 的训练速度达到原始管线的 ≥ {target}×：`{path}` 达到（{speedup}×）。"},
    "target_missed": {"en": "- The project's CPU target is {model} training at ≥ {target}× the original pipeline: not met "
                            "(best: `{path}`, {speedup}×).",
                      "zh": "- 本项目的 CPU 目标是 {model} 的训练速度达到原始管线的 ≥ {target}×：未达到（最好为 `{path}`，{speedup}×）。"},
    "target_needs": {"en": " On this CPU the measured {precision} matmul peak is {peak_ratio}× the fp32 one; the original pipeline "
                           "runs at {original} of the fp32 peak, so {target}× needs `{path}` to run at {need} of the "
                           "{precision} peak (it runs at {now}){beyond}.",
                     "zh": "在这台 CPU 上，实测 {precision} 矩阵乘峰值是 fp32 的 {peak_ratio}×；原始管线的算力为 fp32 峰值的 "
                           "{original}，因此要达到 {target}×，`{path}` 须达到 {precision} 峰值的 {need}（现为 {now}）{beyond}。"},
    "target_needs_fp32": {"en": " On this CPU `{path}` trains in fp32, as the original pipeline does{no_bf16}; the original "
                                "runs at {original} of the fp32 peak, so {target}× needs `{path}` to run at {need} of it "
                                "(it runs at {now}){beyond}.",
                          "zh": "在这台 CPU 上，`{path}` 与原始管线一样以 fp32 训练{no_bf16}；原始管线的算力为 fp32 峰值的 "
                                "{original}，因此要达到 {target}×，`{path}` 须达到该峰值的 {need}（现为 {now}）{beyond}。"},
    "no_bf16": {"en": " (the bench measured no bf16 peak: the CPU has no bf16 instructions)",
                "zh": "（基准未测到 bf16 峰值：这台 CPU 没有 bf16 指令）"},
    "beyond_peak": {"en": ": more than the peak itself", "zh": "，超过峰值本身"},
    "speedups": {"en": "- {model}, `{path}`: training **{train}×** and evaluation **{eval}×** the original pipeline's "
                       "images/s{first}.",
                 "zh": "- {model}，`{path}`：训练速度为原始管线的 **{train}×**，评估速度为 **{eval}×**{first}。"},
    "first_round": {"en": "; first round {s} s", "zh": "；首轮用时 {s} 秒"},
    "epochs_head": {
        "en": "**{device}** — the `{campaign}` campaign ({file}){partial}, one process, each network as its runs are "
              "configured (precision, memory format, compilation, its recipe's optimizer); measured {measured} with "
              "torch {torch}. An epoch is the run's training images (the campaign's subset, or all {train} of "
              "{dataset}) at the measured training rate plus the images it evaluates at the measured evaluation rate: "
              "its test images (up to {test}; twice when it keeps EMA weights) and any validation split."
              "{teachers}{untimed} **Estimated epoch time of the whole campaign on one process of this device: "
              "{total}{tuned}** (an estimate from one timed epoch per network; process start-up, checkpoints and "
              "compilation not included){against}. CL: channels_last.",
        "zh": "**{device}** —— `{campaign}` 实验（{file}）{partial}，单进程，每个网络按其运行的配置计时（精度、内存格式、"
              "是否编译、配方的优化器）；测于 {measured}，torch {torch}。每轮 = 该运行的训练图像（实验所取子集，或 {dataset} "
              "全部 {train} 张）按实测训练速度，加上其评估的图像按实测评估速度：测试图像（至多 {test} 张；有 EMA 权重时评估两遍）"
              "以及验证集（如有）。{teachers}{untimed}**整个实验在该设备单进程上的"
              "各轮用时估计：{total}{tuned}**（由每个网络计时一轮估算；不含进程启动、检查点与编译时间）{against}。CL：channels_last。"},
    "before_whole_epoch": {
        "en": " This record is older than the bench's timing of whole epochs (2026-12-06): its networks were timed "
              "without their recipe's RandAugment and erasing, its EMA weights' evaluation and a distilling run's "
              "teacher, and it leaves out the distilling runs that were waiting for their teachers, so it "
              "understates a campaign with those.",
        "zh": "此记录早于基准测试按完整一轮计时（2026-12-06）：其网络计时未含配方的 RandAugment 与随机擦除、EMA 权重的评估以及"
              "蒸馏运行的教师模型，也未计入等待教师训练的蒸馏运行，因此对含这些内容的实验估计偏低。"},
    "teachers": {"en": " A distilling run's step includes its teacher's forward (← teacher; while the teacher is not "
                        "trained yet, a randomly initialised network of the costliest teacher run it may get).",
                 "zh": "蒸馏运行的每步包含其教师模型的前向（← 教师；教师尚未训练时，用其可能得到的开销最大的教师运行网络的随机初始化副本）。"},
    "untimed": {"en": " Not timed (no run of their teacher in the campaign): {variants}.",
                "zh": "未计时（实验中没有其教师模型的运行）：{variants}。"},
    "against_measured": {"en": ". The campaign itself ran on {started}: {wall} of wall time with {jobs} run(s) side by "
                               "side{skipped}. For the {n} run(s) that trained, the estimate is {predicted} of epochs; "
                               "their records hold {measured}, so the estimate is **{ratio}×** what was measured: {verdict}",
                         "zh": "。实验本身于 {started} 运行：总用时 {wall}，{jobs} 个运行并行{skipped}。对实际训练的 {n} 次运行，"
                               "各轮用时估计为 {predicted}；其记录中各轮共用时 {measured}，估计为实测的 **{ratio}×**：{verdict}"},
    "against_shared": {"en": ". The campaign itself ran on {started}: {wall} of wall time with {jobs} runs side by side"
                             "{skipped}. For the {n} run(s) that trained, the estimate is {predicted} of epochs, one run "
                             "at a time on the whole device; theirs shared it, each on a share, so the {measured} of "
                             "epochs their records hold is not a measurement of the estimate (a campaign with one run "
                             "at a time, `--jobs 1`, is)",
                       "zh": "。实验本身于 {started} 运行：总用时 {wall}，{jobs} 个运行并行{skipped}。对实际训练的 {n} 次运行，"
                             "各轮用时估计为 {predicted}（一次一个运行、独占整个设备）；这些运行共享设备、各用其一部分，"
                             "因此其记录中各轮共 {measured} 不能用来检验此估计（一次只运行一个的实验，即 `--jobs 1`，才可以）"},
    "against_processes": {"en": ". The campaign itself ran on {started}: {wall} of wall time with {jobs} run(s) side "
                                "by side{skipped}. For the {n} run(s) that trained, the estimate is {predicted} of "
                                "epochs on one process; theirs trained on {processes} processes each, so the {measured} "
                                "of epochs their records hold is not a measurement of the estimate (a campaign with one "
                                "process to a run, e.g. `--runs-per-gpu 1`, is)",
                          "zh": "。实验本身于 {started} 运行：总用时 {wall}，{jobs} 个运行并行{skipped}。对实际训练的 {n} 次运行，"
                                "各轮用时估计为 {predicted}（单进程）；这些运行各用 {processes} 个进程训练，因此其记录中各轮共 "
                                "{measured} 不能用来检验此估计（每次运行只用一个进程的实验，例如 `--runs-per-gpu 1`，才可以）"},
    "against_elsewhere": {"en": ". The campaign itself ran on {started} on another device, {device}: {wall} of wall "
                                "time with {jobs} run(s) side by side. The estimate is of the device named here, so "
                                "the two are not compared",
                          "zh": "。实验本身于 {started} 在另一设备（{device}）上运行：总用时 {wall}，{jobs} 个运行并行。"
                                "此估计针对这里所列的设备，因此两者不作比较"},
    "device_unnamed": {"en": "which its timing record does not name", "zh": "其计时记录未注明设备"},
    "against_skipped": {"en": "; {n} run(s) did not train (skipped), holding {t} of the estimate",
                        "zh": "；{n} 次运行未训练（已跳过），占估计中的 {t}"},
    "against_unfinished": {"en": "; {n} run(s) trained only some of their epochs (failed or stopped), left out of the "
                                 "comparison",
                           "zh": "；{n} 次运行只训练了部分轮次（失败或中途停止），不计入比较"},
    "estimate_over": {"en": "an over-estimate", "zh": "估计偏高"},
    "estimate_under": {"en": "an under-estimate", "zh": "估计偏低"},
    "estimate_close": {"en": "within 10 % of the measurement", "zh": "与实测相差不到 10%"},
    "same_setup": {"en": "The same {model} setup ({setup}) appears as \"{label}\" here at {ips} img/s and as \"{other}\" in "
                         "\"{other_title}\" at {other_ips} img/s. They are different measurements ({when} and {other_when}, "
                         "commits {commit} and {other_commit}), not different settings; within this run one epoch took "
                         "{lo}–{hi} s ({spread}× apart), which points to other work on the machine while it ran. Read a "
                         "setup's speed from the run whose epochs agree with each other.",
                   "zh": "相同的 {model} 设置（{setup}）在此为“{label}”，{ips} 图像/秒；在“{other_title}”中为“{other}”，"
                         "{other_ips} 图像/秒。这是两次不同的测量（{when} 与 {other_when}，提交 {commit} 与 {other_commit}），"
                         "而非不同的设置；本次运行中每轮用时 {lo}–{hi} 秒（相差 {spread}×），表明运行期间机器很可能同时在做其他工作。"
                         "某一设置的速度应以各轮用时一致的那次运行为准。"},
    "setup_words": {"en": "{precision}, {layout}, batch {batch}, {images} images × {epochs} epochs, {threads} threads",
                    "zh": "{precision}、{layout}、批大小 {batch}、{images} 张图像 × {epochs} 轮、{threads} 线程"},
    "other_gpu": {"en": "The target above names an {named}; this record ran on an {device} (the record's GPU), so it "
                        "shows the time on an {device}, not whether an {named} meets the target.",
                  "zh": "上文的目标针对 {named}；本记录在 {device} 上测得（记录中的 GPU），因此它给出的是 {device} 上的用时，"
                        "并不说明 {named} 能否达到该目标。"},
    "tuned": {"en": "; fine-tunes of pretrained weights account for {t} of it", "zh": "；其中预训练权重微调占 {t}"},
    "partial": {"en": " (only some of its networks were timed)", "zh": "（只测了部分网络）"},
    "failed_because": {"en": "{status}: {reason}", "zh": "{status}：{reason}"},
    "failed_network": {"en": "- {model} at {size} px could not be timed, so its {runs} run(s) are not in the prediction: "
                             "`{error}`.",
                       "zh": "- {model}（{size} px）未能计时，因此其 {runs} 次运行不在预测之内：`{error}`。"},
    "runs_head": {"en": "**{device}** — {data}; measured {measured} with torch {torch} (`python -m cifar100lab timed-runs "
                        "{file}`).",
                  "zh": "**{device}** —— {data}；测于 {measured}，torch {torch}（`python -m cifar100lab timed-runs {file}`）。"},
    "campaign_time": {
        "en": "The `{campaign}` campaign ({file}) on {dataset}, measured {started} by the campaign itself: **{runs} runs "
              "in {wall}**, {jobs} side by side, on {device}{gpus}{already}. From its start to its record a run took "
              "{mean} s on average, of which its epochs (training and evaluation) took {epochs} s; the rest is its "
              "start-up and wind-down (notebook kernel, imports, network build, FLOP count, checkpoint, record and "
              "run page).",
        "zh": "`{campaign}` 实验（{file}），数据集 {dataset}，由实验本身于 {started} 测得：**{runs} 次运行共用时 {wall}**，"
              "{jobs} 个并行，设备为 {device}{gpus}{already}。每次运行从启动到写出记录平均用时 {mean} 秒，其中各轮（训练与"
              "评估）用时 {epochs} 秒；其余为启动与收尾（notebook 内核、导入、构建网络、计算 FLOPs、检查点、记录与运行页）。"},
    "campaign_gpus": {"en": " with {n} GPU(s)", "zh": "，{n} 块 GPU"},
    "campaign_gpus_named": {"en": " with {n} GPU(s), {name}", "zh": "，{n} 块 GPU（{name}）"},
    "campaign_already": {"en": " ({n} runs already done were not repeated)", "zh": "（{n} 次已完成的运行未重复）"},
    "no_campaign_time": {"en": "No campaign has been timed yet: `make report` runs the quick campaign, which records "
                               "its wall time here.",
                         "zh": "尚无实验计时：`make report` 运行 quick 实验，并在此记录其总用时。"},
    "check": {"en": "- **{check}** ({what}): {result} on {device}, {created}.",
              "zh": "- **{check}**（{what}）：在 {device} 上{result}，{created}。"},
    "check_passed": {"en": "passed", "zh": "通过"}, "check_failed": {"en": "FAILED", "zh": "未通过"},
    "check_fork": {"en": "a child forked after the notebook kernel's preparation makes a tensor on the device",
                   "zh": "在 notebook 内核完成准备后 fork 出的子进程可以在设备上创建张量"},
    "check_resume": {"en": "a deterministic run killed after its first checkpoint and resumed has every epoch's "
                           "metrics of the uninterrupted run",
                     "zh": "在第一个检查点后被终止并恢复的确定性运行，每轮指标与未中断的运行完全相同"},
    "no_gpu": {"en": "No GPU measurement is recorded yet: these records come from CPUs only. On a GPU machine, "
                     "`bash benchmarks/gpu_check.sh` measures the same tables and the 200-epoch ResNet-20 run and "
                     "writes their records to `benchmarks/records/`.",
               "zh": "尚无 GPU 测量记录：以上记录均来自 CPU。在 GPU 机器上运行 `bash benchmarks/gpu_check.sh` 可测得同样的"
                     "表格以及 200 轮 ResNet-20 的训练，并把记录写入 `benchmarks/records/`。"},
    # ---------------------------------------------------------------- the GPU sections
    "pack_head": {"en": "**{device}** — {model} at batch {batch}{graph}, {steps} timed training steps per run after "
                        "{warmup} warm-up steps, on synthetic images; measured {measured} with torch {torch}, {commit}.",
                  "zh": "**{device}** —— {model}，批大小 {batch}{graph}，每次运行在 {warmup} 步预热后计时 {steps} 个训练步，"
                        "使用合成图像；测于 {measured}，torch {torch}，{commit}。"},
    "pack_graph": {"en": ", each run's step as one CUDA graph", "zh": "，每次运行的训练步作为一个 CUDA 图"},
    "pack_target": {"en": "- The project's GPU packing target is {runs} {model} runs sharing one {gpu} at ≥ {target}× the "
                          "aggregate throughput of one run: {verdict}.",
                    "zh": "- 本项目的 GPU 共享目标是 {runs} 个 {model} 运行共享一块 {gpu} 时，合计吞吐量达到单次运行的 ≥ {target}×："
                          "{verdict}。"},
    "pack_met": {"en": "met ({speedup}×)", "zh": "达到（{speedup}×）"},
    "pack_missed": {"en": "not met ({speedup}×)", "zh": "未达到（{speedup}×）"},
    "pack_elsewhere": {"en": "not judged here: this record ran on an {device}, not an {gpu} ({speedup}× there)",
                       "zh": "此处不作判断：本记录在 {device} 上测得，而非 {gpu}（该设备上为 {speedup}×）"},
    "pack_unmeasured": {"en": "not measured (this record has no row with {runs} runs)",
                        "zh": "未测（本记录没有 {runs} 个运行的一行）"},
    "sync_head": {"en": "**{device}** — measured {measured}, {commit}: {passed} of {n} features train without a host wait.",
                  "zh": "**{device}** —— 测于 {measured}，{commit}：{n} 个功能中有 {passed} 个训练时无需主机等待。"},
    "commit": {"en": "commit {commit}", "zh": "提交 {commit}"},
    "no_commit": {"en": "commit not recorded", "zh": "未记录提交"},
    "sync_failed": {"en": "FAILED: {error}{where}", "zh": "未通过：{error}{where}"},
    "sync_where": {"en": " at `{frame}`", "zh": "，位于 `{frame}`"},
    "sync_called_from": {"en": ", called from `{frame}`", "zh": "，由 `{frame}` 调用"},
    "prediction": {"en": "- Predicted wall time of {scope}: **{gpus_1}** on one {device} and **{gpus_8}** on 8, {packing}.{claim}",
                   "zh": "- {scope}的预计总用时：单块 {device} 上 **{gpus_1}**，8 块上 **{gpus_8}**，{packing}。{claim}"},
    "prediction_all": {"en": "the campaign's {n} run(s)", "zh": "实验全部 {n} 次运行"},
    "prediction_partial": {"en": "only the {n} run(s) of the networks timed here, not the whole campaign",
                           "zh": "仅此处计时网络的 {n} 次运行（并非整个实验）"},
    "one_run_per_gpu": {"en": "one run per GPU at a time", "zh": "每块 GPU 同时只运行一次"},
    "runs_per_gpu": {"en": "{k} runs sharing each GPU, each {slowdown}× slower than alone",
                     "zh": "每块 GPU 同时运行 {k} 次，每次比单独运行慢 {slowdown}×"},
    "no_gain": {"en": " (the slowdown `bench --pack` measured for one small network; a network that keeps the GPU busy "
                      "on its own gains nothing from sharing, each of its {k} runs {k}× slower, and were that so of "
                      "every network the campaign would take up to **{gpus_1}** on one and **{gpus_8}** on 8)",
                "zh": "（该减速比是 `bench --pack` 对一个小网络测得的；单独运行即能占满 GPU 的网络无法从共享中获益，"
                      "其 {k} 次运行各慢 {k}×；若所有网络都如此，整个实验单块上最多需 **{gpus_1}**，8 块上最多需 **{gpus_8}**）"},
    "original_claim": {"en": " The original report's claim, for comparison: **{total} on 8×V100** for its {models} models, "
                             "one 200-epoch run each (the sum of its table's training times, {lo}–{hi} per model; "
                             "ResNet-20 {resnet_20}), numbers produced by its simulation script, not measured.",
                       "zh": "作为对照，原报告声称：其 {models} 个模型各训练一次 200 轮，在 8×V100 上共 **{total}**（其表中各模型"
                             "训练时间之和，每个模型 {lo}–{hi}；ResNet-20 为 {resnet_20}），这些数字由其模拟脚本生成，并非实测。"},
    "run_check": {"en": "- The {epochs}-epoch {model} run at batch {batch} (`{file}`, {measured}): predicted {epochs} × "
                        "{epoch} s = **{predicted}** of epochs, measured **{actual}** (its epochs' training and "
                        "evaluation), so the prediction is {ratio}× the measurement: {verdict}.",
                  "zh": "- {model} 以批大小 {batch} 训练 {epochs} 轮的运行（`{file}`，{measured}）：预计 {epochs} × {epoch} 秒 = "
                        "**{predicted}**，实测 **{actual}**（各轮训练与评估），预计为实测的 {ratio}×：{verdict}。"},
    "run_check_agree": {"en": "they agree within {tol} %", "zh": "两者相差在 {tol}% 以内"},
    "run_check_differ": {"en": "they differ by more than {tol} %", "zh": "两者相差超过 {tol}%"},
    "run_check_missing": {"en": "- The {epochs}-epoch {model} run at batch {batch} (`{file}`) has not been recorded yet{older}, "
                                "so this prediction is not checked against a run.",
                          "zh": "- {model} 以批大小 {batch} 训练 {epochs} 轮的运行（`{file}`）尚未记录{older}，因此该预计尚未与实际运行对照。"},
    "run_check_older": {"en": " (the record there is an older run at batch {batch})",
                        "zh": "（现有记录是较早的一次批大小 {batch} 的运行）"},
    "bench_target": {"en": "- The project's GPU target is {model} training at batch {batch} at ≥ {target}× the original "
                           "pipeline's images/s: {verdict} (best: `{path}`, {speedup}×).",
                     "zh": "- 本项目的 GPU 目标是 {model} 以批大小 {batch} 训练时达到原始管线 图像/秒 的 ≥ {target}×：{verdict}"
                           "（最好为 `{path}`，{speedup}×）。"},
    "protocol_target": {"en": " The project's target for the whole `full` protocol is ≤ {target} h on one {gpu}: {verdict}.",
                        "zh": "本项目对整个 `full` 协议的目标是单块 {gpu} 上 ≤ {target} 小时：{verdict}。"},
    "protocol_arithmetic": {"en": "\n- What the {target}-hour target asks of the GPU: the protocol's arithmetic is "
                                  "**{eflop} EFLOP** (training counted as {factor} × each network's forward FLOPs, plus a "
                                  "distilling run's teacher forward, plus each epoch's evaluation), so ≤ {target} h needs {need} TFLOP/s sustained, {need_share} of "
                                  "this GPU's measured {precision} matmul peak ({peak} TFLOP/s); the prediction sustains "
                                  "{now} TFLOP/s ({now_share}).",
                            "zh": "\n- {target} 小时目标对 GPU 的要求：该协议的计算量为 **{eflop} EFLOP**（训练按各网络前向 FLOPs 的 "
                                  "{factor} 倍计，另加蒸馏运行的教师前向与每轮评估），因此 ≤ {target} 小时需持续 {need} TFLOP/s，即此 GPU 实测 {precision} "
                                  "矩阵乘峰值（{peak} TFLOP/s）的 {need_share}；该预计的持续算力为 {now} TFLOP/s（{now_share}）。"},
    "ckpt_head": {"en": "**{device}** — measured {measured}, {commit}, median of {repeats} writes; the trainer "
                        "writes its checkpoints {mode} on this device.",
                  "zh": "**{device}** —— 测于 {measured}，{commit}，{repeats} 次写入的中位数；在此设备上训练器{mode}写检查点。"},
    "ckpt_background": {"en": "in the background", "zh": "在后台"}, "ckpt_inline": {"en": "inline", "zh": "同步地"},
    "met": {"en": "met", "zh": "达到"}, "missed": {"en": "not met", "zh": "未达到"},
    "differs": {"en": "differs", "zh": "不一致"},
    "run_target": {"en": "- The project's target for this run is ≤ {target} min of wall time on one {gpu}: {verdict} "
                         "({wall} s from start to record, of which {epochs} s in its epochs' training and evaluation).",
                   "zh": "- 本项目对该运行的目标是在单块 {gpu} 上总用时 ≤ {target} 分钟：{verdict}（从启动到写出记录 {wall} 秒，"
                         "其中各轮训练与评估 {epochs} 秒）。"},
    "graph_head": {"en": "**{device}** — measured {measured}, {commit}: {passed} of {n} cases train exactly as the eager "
                         "step does (loss difference ≤ 0.1 %).",
                   "zh": "**{device}** —— 测于 {measured}，{commit}：{n} 种情形中有 {passed} 种与逐步执行的训练一致"
                         "（损失差 ≤ 0.1%）。"},
}


# each Performance section's (heading, introduction, text when there is no record of its kind)
SECTIONS = {
    "bench": (
        {"en": "Input pipeline and training path", "zh": "数据管线与训练路径"},
        {"en": "Throughput of the original report's input pipeline (per-image PIL transforms through a DataLoader, "
               "fp32) against this project's path (uint8 tensors on the device, batched crop/flip, channels_last, "
               "bf16), measured by `python -m cifar100lab bench` in one process on synthetic CIFAR-shaped images: "
               "these are speed measurements, not accuracy results.",
         "zh": "原报告的数据管线（逐图 PIL 变换 + DataLoader，fp32）与本项目路径（设备上的 uint8 张量、批量裁剪/翻转、"
               "channels_last、bf16）的吞吐量对比，由 `python -m cifar100lab bench` 在同一进程中用合成的 CIFAR 形状图像测得："
               "这些是速度测量，不是准确率结果。"},
        {"en": "No benchmark record yet.", "zh": "尚无基准测试记录。"}),
    "packing": (
        {"en": "Several runs on one GPU", "zh": "一块 GPU 上同时运行多次训练"},
        {"en": "A small network leaves a large GPU mostly idle, so several runs side by side may train more images "
               "per second in all. `python -m cifar100lab bench --pack 1 2 4 8` starts k runs of one network, each "
               "in its own process on the same GPU, times them together and adds up their training images/s; the "
               "slowdown per run (k ÷ the speed-up) is what `bench --campaign --slowdown` takes to predict a "
               "campaign's wall time.",
         "zh": "小网络只能用到大 GPU 的一小部分，因此并行运行多次训练，合计每秒训练的图像可能更多。"
               "`python -m cifar100lab bench --pack 1 2 4 8` 在同一块 GPU 上启动 k 次同一网络的运行（各自一个进程），"
               "同时计时并把它们的训练 图像/秒 相加；每次运行的减速（k ÷ 加速比）即 `bench --campaign --slowdown` "
               "预计实验总用时所用的值。"},
        {"en": "No packing record yet.", "zh": "尚无多运行共享 GPU 的记录。"}),
    "epoch_times": (
        {"en": "Epoch times and predicted campaign duration", "zh": "每轮用时与实验预计时长"},
        {"en": "Measured by `python -m cifar100lab bench --campaign <campaign.yaml>`: one epoch of every distinct "
               "network of a campaign on synthetic data of the campaign's sizes, with each network's forward FLOPs "
               "(`torch.utils.flop_counter`; older records lack them), from which the full protocol's prediction "
               "says what its target asks of the GPU.",
         "zh": "由 `python -m cifar100lab bench --campaign <campaign.yaml>` 测得：在与实验相同尺寸的合成数据上，"
               "实验中每个不同网络的一轮用时，以及每个网络的前向 FLOPs（`torch.utils.flop_counter`；较早的记录没有），"
               "完整协议的预计据此说明其目标对 GPU 的要求。"},
        {"en": "No epoch-time record yet.", "zh": "尚无每轮用时记录。"}),
    "runs": (
        {"en": "Timed training runs", "zh": "计时训练运行"},
        {"en": "Whole runs of the trainer, for accuracy and wall time together.",
         "zh": "完整的训练运行，同时给出准确率与总用时。"},
        {"en": "No timed-run record yet.", "zh": "尚无计时训练记录。"}),
    "check": (
        {"en": "GPU acceptance checks", "zh": "GPU 验收检查"},
        {"en": "Steps 1 and 3 of `benchmarks/gpu_check.sh` (`python -m cifar100lab check fork|resume`).",
         "zh": "`benchmarks/gpu_check.sh` 的第 1 步与第 3 步（`python -m cifar100lab check fork|resume`）。"},
        {"en": "No check record yet.", "zh": "尚无检查记录。"}),
    "checkpoint_write": (
        {"en": "Checkpoint writes", "zh": "检查点写入"},
        {"en": "`benchmarks/checkpoint_write.py` times the checkpoint the trainer writes after an epoch, for a small "
               "state (ResNet-20, SGD) and a large one (ConvNeXt-T at 32 px, AdamW), each with a 200-epoch history: "
               "written inline, as a CPU run does, and on a background thread while the next epoch trains, as a GPU "
               "run does, where only the copy of the weights holds training up. The last column checks that the "
               "background write kept the weights of the moment it was asked for, though training changed them next.",
         "zh": "`benchmarks/checkpoint_write.py` 对训练器在每轮后写入的检查点计时，分别针对小状态（ResNet-20，SGD）与大状态"
               "（32 px 的 ConvNeXt-T，AdamW），均带 200 轮的历史：同步写入（CPU 运行的做法），以及在下一轮训练的同时由后台线程写入"
               "（GPU 运行的做法，此时只有权重的拷贝会占用训练）。最后一列检查后台写入保存的是请求时的权重，尽管训练随后改变了它们。"},
        {"en": "No checkpoint-write record yet.", "zh": "尚无检查点写入记录。"}),
    "sync_check": (
        {"en": "A training step that never waits on the host", "zh": "从不让主机等待的训练步"},
        {"en": "`benchmarks/sync_check.py` (step 7 of `benchmarks/gpu_check.sh`) runs 4 training steps of each "
               "feature (ResNet-20, batch 128, synthetic images, after 5 warm-up steps: a CUDA graph is captured in them) under "
               "`torch.cuda.set_sync_debug_mode(\"error\")`, so any step that makes the host wait for the device "
               "(`.item()`, a blocking host-to-device copy, a branch on a device value) fails and names the operation.",
         "zh": "`benchmarks/sync_check.py`（`benchmarks/gpu_check.sh` 的第 7 步）在 "
               "`torch.cuda.set_sync_debug_mode(\"error\")` 下对每个功能运行 4 个训练步（ResNet-20，批大小 128，合成图像，"
               "先预热 5 步，CUDA 图在其中捕获），任何让主机等待设备的操作（`.item()`、阻塞的主机到设备拷贝、依据设备上的值分支）都会报错并指出该操作。"},
        {"en": "No sync-check record yet.", "zh": "尚无同步检查记录。"}),
    "graph_check": (
        {"en": "The whole step as one CUDA graph", "zh": "整个训练步作为一个 CUDA 图"},
        {"en": "With `cuda_graph: true` the trainer captures the step's forward, backward, clipping and optimizer once "
               "and replays it with one launch per step (`cifar100lab/step_graph.py`). `benchmarks/graph_check.py` "
               "trains two copies of ResNet-20 on the same 30 batches with deterministic kernels, one step by step "
               "and one through the graph, and compares their losses and final weights.",
         "zh": "设置 `cuda_graph: true` 后，训练器把一步的前向、反向、梯度裁剪与优化器捕获一次，之后每步只需一次启动即可重放"
               "（`cifar100lab/step_graph.py`）。`benchmarks/graph_check.py` 用确定性内核在相同的 30 个批次上训练两份 ResNet-20，"
               "一份逐步执行，一份经由 CUDA 图，并比较二者的损失与最终权重。"},
        {"en": "No CUDA-graph check record yet.", "zh": "尚无 CUDA 图检查记录。"}),
}


def say(fact: str, lang: str, **values) -> str:
    return fill(TEXT[fact], lang, **values)


def commit_words(r: dict, lang: str) -> str:
    """The record's commit, short, or that it has none."""
    return say("commit", lang, commit=r["git_commit"][:7]) if r.get("git_commit") else say("no_commit", lang)


def table(columns: dict, lang: str) -> str:
    """A markdown table of ``{header key: column values}``, headed in ``lang``."""
    return markdown_table(pd.DataFrame({HEAD[k][lang]: v for k, v in columns.items()}))
