#!/usr/bin/env bash
# The GPU measurements of issue 6, as one script for a short GPU lease (about 10 minutes of work):
#   1. the pipeline benchmark (original vs ours vs ours+compile) for ResNet-20;
#   2. ResNet-20 for 200 epochs with per-epoch evaluation on real images (target: ≤ 4 min on one H100);
#   3. the epoch time of every network of params/full.yaml, and that campaign's predicted duration on one GPU.
# Each step writes its record to benchmarks/records/gpu-<card>-*.json as soon as it ends; commit them, and the
# book's Performance page renders them.
#
# Usage: bash benchmarks/gpu_check.sh DATA_ROOT
#   DATA_ROOT holds FashionMNIST/raw/*.gz (copy /usr/share/datasets/fashion-mnist/*.gz there; 30 MB), e.g.
#   mkdir -p data/FashionMNIST/raw && cp /usr/share/datasets/fashion-mnist/*.gz data/FashionMNIST/raw/
#   and on a lent device machine: command "bash benchmarks/gpu_check.sh data", carry ["data/FashionMNIST/raw"].
# Set OUT to copy the records somewhere else as well (e.g. the device tool's $OUT).
set -uo pipefail
data_root=${1:?usage: bash benchmarks/gpu_check.sh DATA_ROOT (holding FashionMNIST/raw)}
py=${PYTHON:-python3}
# Preconditions stop the script; after them every step runs whatever the previous one did.
"$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device visible: this script measures a GPU')" \
  || exit 2
card=$("$py" -c "import torch; print(torch.cuda.get_device_name(0).replace('NVIDIA ', '').replace(' ', '-'))") || exit 2
dir=benchmarks/records
mkdir -p "$dir"
keep() { if [ -n "${OUT:-}" ]; then cp "$1" "$OUT/"; fi; }
export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}

failed=0
step() {  # step NAME COMMAND...: run it, keep its record, go on to the next step whatever happens
  local rec="$dir/gpu-$card-$1.json"; shift
  if "$@" --out "$rec"; then keep "$rec"; else echo "step $rec failed (exit $?)" >&2; failed=1; fi
}
step resnet_20 "$py" -m cifar100lab bench --models resnet_20 --compile --steps 100 --warmup 10 --repeats 3 --workers 4
step resnet_20-200-epochs timeout 420 "$py" -m cifar100lab bench --runs benchmarks/gpu_resnet20_200.yaml \
  --data-root "$data_root"
step full-epoch-times "$py" -m cifar100lab bench --campaign params/full.yaml --steps 10 --warmup 3
exit $failed
