#!/usr/bin/env bash
# The one GPU acceptance script, each step under its own time limit. Each step writes its record to
# benchmarks/records/gpu-<card>-<step>.json as soon as it ends, and a later step runs whatever an earlier one did:
#   1. fork: after the kernel-side preparation a forked child creates a CUDA tensor (notebook_launcher's path);
#   2. notebook: papermill executes notebooks/train.ipynb on the GPU through the launcher (Fashion-MNIST stand-in);
#   3. resume: a deterministic run killed after its first checkpoint and resumed equals the uninterrupted run;
#   4. precision: bf16, the step as one CUDA graph and compile reduce-overhead against fp32 eager: accuracy
#      (ResNet-20, 3 epochs, 10,000 Fashion-MNIST images, one seed; a second seed is the noise reference);
#   5. throughput: original pipeline vs ours vs ours+compile (default and reduce-overhead) for ResNet-20 at
#      batch 128 (target: ≥ 4× the original), and every network of params/full.yaml;
#   6. ResNet-20 for 200 epochs at batch 128 with per-epoch evaluation on 50,000 images, compiled and as one CUDA
#      graph (target: ≤ 3 min on one H200), and the prediction of that run from its epoch time with the same
#      switches (resnet_20-prediction: within 15 %);
#   7. graph: the step replayed as one CUDA graph (cuda_graph: true) trains as the eager step does (30 steps,
#      deterministic kernels, SGD and AdamW with Mixup, EMA and clipping);
#      sync: every training feature's steps under torch.cuda.set_sync_debug_mode("error");
#      checkpoint: how long a checkpoint holds training up, inline and written in the background;
#      eval-batch: whole-set evaluation at batches of 128 to 2000 (whether eval_batch_size null's 1000 suits a GPU);
#   8. pack: aggregate images/s of 1, 2, 4 and 8 ResNet-20 runs sharing the GPU (target: 8 runs ≥ 3× one);
#   9. full-epoch-times-packed: the full protocol's prediction on 1 and 8 GPUs with 4 runs per GPU
#      (--slowdown taken from the pack record's shared_run_slowdown for k = 4); its 50 networks are 42 and the
#      distillation study's 8 students, each with its teacher's forward;
#  10. full-epoch-times-graphed: the same with every network's step as one CUDA graph (its record is kept after
#      every network, so a time limit leaves the networks measured); pack-graphed and
#      full-epoch-times-graphed-packed: steps 8 and 9 with the graph.
# Commit the records; the book's Performance page renders them.
#
# Usage: bash benchmarks/gpu_check.sh DATA_ROOT
#   DATA_ROOT holds FashionMNIST/raw/*.gz (copy /usr/share/datasets/fashion-mnist/*.gz there; 30 MB), e.g.
#   mkdir -p data/FashionMNIST/raw && cp /usr/share/datasets/fashion-mnist/*.gz data/FashionMNIST/raw/
#   and on a lent device machine: command "bash benchmarks/gpu_check.sh data", carry ["data/FashionMNIST/raw"].
# Set OUT to copy the records somewhere else as well (e.g. the device tool's $OUT). Set STEPS to run some of the
# steps, by name, e.g. STEPS="fork notebook" (a short device lease splits the script into two calls), and BUDGET
# to the seconds the call may take (a little under the device tool's timeout_s): no step runs past it.
# A 15-minute lease (its start included), most needed first; the steps' times are the H200's of 2026-12-04:
#   1. OUT=$OUT BUDGET=340 STEPS="full-epoch-times-graphed" (timeout_s 360; 42 networks took 2 min, now 50
#      with the distilling students, timed eagerly with their teachers' forward);
#   2. OUT=$OUT BUDGET=310 STEPS="resnet_20-200-epochs resnet_20-prediction" (timeout_s 330; 3.2 min and 15 s
#      before compile was added to both);
#   3. with the time left: STEPS="resnet_20 pack-graphed precision checkpoint eval-batch" (resnet_20 and the
#      packing first: since 2026-12-07 ours is timed with the trainer's kernel policy; precision compiles two variants).
set -uo pipefail
data_root=${1:?usage: bash benchmarks/gpu_check.sh DATA_ROOT (holding FashionMNIST/raw)}
py=${PYTHON:-python3}
# The precondition stops the script (a CPU box measures nothing); it asks NVML, as the launcher does.
why=$("$py" -c "import sys; from cifar100lab.devices import visible_gpus
sys.exit(0 if visible_gpus() else 'no CUDA device visible (NVML reports no GPU): this script measures a GPU')" 2>&1) \
  || { echo "${why##*$'\n'}" >&2; exit 2; }
card=$("$py" -c "import torch; print(torch.cuda.get_device_name(0).replace('NVIDIA ', '').replace(' ', '-'))") || exit 2
dir=benchmarks/records
work=${WORK:-runs/gpu-check}
mkdir -p "$dir" "$work"
stamp="$work/.step-started"
# a record the step wrote (not one committed before it, which a step that failed early leaves in place)
keep() { if [ -n "${OUT:-}" ] && [ "$1" -nt "$stamp" ]; then cp "$1" "$OUT/"; fi; }
export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0} PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

failed=0
step() {  # step NAME SECONDS COMMAND...: run it with --out, keep its record, go on whatever happens
  local name=$1 rec="$dir/gpu-$card-$1.json" limit=$2 left; shift 2
  case " ${STEPS:-$name} " in *" $name "*) ;; *) return 0;; esac
  # BUDGET: the whole script's seconds. A step is cut where the budget ends, so what it recorded so far comes
  # back in $OUT, rather than the device tool killing the script mid-step and losing it.
  left=$(( ${BUDGET:-86400} - SECONDS ))
  if (( left < 10 )); then echo "step $rec skipped: ${left} s of BUDGET=$BUDGET left" >&2; failed=1; return 0; fi
  (( limit > left )) && limit=$left
  echo "== $(date +%T) step $(basename "$rec") (at most ${limit} s)"
  touch "$stamp"; sleep 1  # a record written in the same second as the stamp still counts as newer
  if timeout "$limit" "$@" --out "$rec"; then keep "$rec"; else echo "step $rec failed (exit $?)" >&2; keep "$rec"; failed=1; fi
}
slowdown_of() {  # a pack record's slowdown per run at 4 runs per GPU (at least 1; 1.0 without the record)
  "$py" -c "import json,sys; r=json.load(open(sys.argv[1])); print(max(1.0, next(x['shared_run_slowdown'] for x in r['rows'] if x['runs']==4)))" "$1" 2>/dev/null || echo 1.0
}
small="{model: resnet_20, dataset: fashion-mnist, data_root: $data_root, train_subset: 10000, epochs: 3, batch_size: 128}"
echo "$small" > "$work/small.yaml"
echo "{model: resnet_20, dataset: fashion-mnist, data_root: $data_root, train_subset: 10000, epochs: 4, batch_size: 128,
       deterministic: true}" > "$work/resume.yaml"

step fork 60 "$py" -m cifar100lab check fork "$work/small.yaml"
notebook() {  # papermill, as the campaign runs it; the record of the run is the step's record
  "$py" -m papermill notebooks/train.ipynb "$work/train.ipynb" -k python3 --no-progress-bar \
    -p model resnet_20 -p dataset fashion-mnist -p data_root "$data_root" -p train_subset 10000 -p epochs 3 \
    -p run_dir "$work/notebook" -p run_id gpu-notebook -p num_processes auto -p resume False && cp "$work/notebook/record.json" "$2"
}
export -f notebook; export py data_root work  # timeout runs programs, not shell functions: run it in a bash
rm -rf "$work/notebook"
step notebook 120 bash -c 'notebook "$@"' notebook
rm -rf "$work/resume"
step resume 150 "$py" -m cifar100lab check resume "$work/resume.yaml" --work-dir "$work"
step precision 240 "$py" -m cifar100lab timed-runs benchmarks/gpu_precision.yaml --data-root "$data_root"
step graph 90 "$py" benchmarks/graph_check.py
step checkpoint 90 "$py" benchmarks/checkpoint_write.py
step sync 100 "$py" benchmarks/sync_check.py
step eval-batch 60 "$py" benchmarks/eval_batch.py --batches 128 256 500 1000 2000 --images 10000
step resnet_20 180 "$py" -m cifar100lab bench --models resnet_20 --cuda-graph --compile --steps 100 --warmup 10 \
  --repeats 3 --workers 4
step full-epoch-times 200 "$py" -m cifar100lab bench --campaign params/full.yaml --steps 10 --warmup 3
step resnet_20-200-epochs 300 "$py" -m cifar100lab timed-runs benchmarks/gpu_resnet20_200.yaml --data-root "$data_root"
step resnet_20-prediction 90 "$py" -m cifar100lab bench --campaign params/full.yaml --models resnet_20 \
  --compile --cuda-graph --steps 200 --warmup 20
step pack 150 "$py" -m cifar100lab bench --pack 1 2 4 8 --models resnet_20 --steps 100 --warmup 10
slowdown=$(slowdown_of "$dir/gpu-$card-pack.json")
step full-epoch-times-packed 420 "$py" -m cifar100lab bench --campaign params/full.yaml --steps 10 --warmup 3 \
  --runs-per-gpu 4 --slowdown "$slowdown"
step full-epoch-times-graphed 480 "$py" -m cifar100lab bench --campaign params/full.yaml --steps 10 --warmup 3 \
  --cuda-graph
step pack-graphed 200 "$py" -m cifar100lab bench --pack 1 2 4 8 --models resnet_20 --steps 100 --warmup 10 --cuda-graph
slowdown=$(slowdown_of "$dir/gpu-$card-pack-graphed.json")
step full-epoch-times-graphed-packed 480 "$py" -m cifar100lab bench --campaign params/full.yaml --steps 10 --warmup 3 \
  --cuda-graph --runs-per-gpu 4 --slowdown "$slowdown"
exit $failed
