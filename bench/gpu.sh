#!/usr/bin/env bash
# The CUDA checks of a GPU session, as one script (figures in BENCHMARKS.md, "On a GPU").
# Usage: bench/gpu.sh TAXA_BINARY OUT_DIR
#   TAXA_BINARY: a `taxa` built elsewhere against the same libtorch (2.11.0, CUDA).
#   Needs python3 with torch 2.11.0 (CUDA); torchvision may come from PYTHONPATH.
# Each step has its own time limit and writes OUT_DIR/<step>.{out,err}; one line
# per step goes to OUT_DIR/steps.jsonl, so a step that fails or runs out of
# time leaves the others' results in place. TAXA_GPU_STEPS="a b ..." runs only
# the steps named (include the synth steps the others read).
set -uo pipefail
taxa="$(realpath "$1")"
out="$(realpath -m "$2")"
mkdir -p "$out"
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
torch_lib="$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

step() {
    local name="$1" limit="$2"
    shift 2
    if [ -n "${TAXA_GPU_STEPS:-}" ] && [[ " $TAXA_GPU_STEPS " != *" $name "* ]]; then
        return 0
    fi
    local start="$EPOCHREALTIME"
    timeout "$limit" "$@" >"$out/$name.out" 2>"$out/$name.err"
    local rc=$?
    local seconds
    seconds="$(python3 -c "print(round($EPOCHREALTIME - $start, 2))")"
    echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $seconds}" | tee -a "$out/steps.jsonl"
    tail -n 3 "$out/$name.err"
}

step machine 60 bash -c 'nvidia-smi; nproc; python3 --version; python3 -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))"; python3 -c "import torchvision; print(torchvision.__version__)"'
# taxa sees the GPU through tch (libtorch_cuda stays linked).
step smoke 120 "$taxa" train-bench --arch squeezenet1_1 --device cuda --steps 3 --warmup 1 --json
# The data path per core: CPU augmentation against device augmentation.
step synth-small 120 "$taxa" synth --species 8 --max-images 200 --min-images 150 --size 320 --out "$work/small" --json
step data-path 180 "$taxa" train-bench --data-path "$work/small" --input-size 224 --batch-size 256 --batches 8 \
    --cache-dir "$work/small-cache" --device cuda --json
# Whole training runs at 224 on about 50k photos (the study's class shape, 189 species).
step synth-50k 300 "$taxa" synth --counts study --species 189 --size 320 --out "$work/50k" --json
step squeezenet-scratch 300 "$taxa" train --inat "$work/50k/train2019.json" --arch squeezenet1_1 --mode scratch \
    --epochs 2 --input-size 224 --batch-size 256 --device cuda --cache-dir "$work/50k-cache" --out "$work/run-squeezenet" --json
# The bundle a CUDA run wrote classifies on the CPU path (taxa-core, tract).
step squeezenet-classify 60 bash -c '"$0" classify --model "$1/run-squeezenet/best.onnx" --json "$(find "$1/50k" -name "*.jpg" | sort | head -n 1)"' "$taxa" "$work"
# Frozen ResNeXt-50 starts from a backbone taxa trained itself (one epoch on the
# small set), so this step needs no torchvision; the head is fresh either way.
step resnext50-weights 240 "$taxa" train --inat "$work/small/train2019.json" --arch resnext50_32x4d --mode scratch \
    --epochs 1 --input-size 224 --batch-size 128 --device cuda --cache-dir "$work/small-cache" --out "$work/run-resnext-small" --json
step resnext50-frozen 300 "$taxa" train --inat "$work/50k/train2019.json" --arch resnext50_32x4d --mode frozen \
    --weights "$work/run-resnext-small/checkpoint-1.safetensors" --epochs 2 --input-size 224 --batch-size 256 --device cuda \
    --cache-dir "$work/50k-cache" --out "$work/run-resnext" --json
# Training steps on synthetic in-memory batches, batch 256 at 224, bf16 autocast and
# channels-last on both sides: taxa vs PyTorch + torchvision, same run.
step throughput 240 python3 bench/training.py throughput --taxa "$taxa" --rounds 2 --steps 10
for mode in finetune frozen; do
    step "lite0-$mode" 90 "$taxa" train-bench --arch efficientnet_lite0 --mode "$mode" --device cuda --steps 6 --json
done
rm -rf "$work"
