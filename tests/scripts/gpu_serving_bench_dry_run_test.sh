#!/usr/bin/env bash
# scripts/gpu_serving_bench.sh's whole flow on the CPU at toy sizes, so that the GPU run's
# script does not rot while no GPU is at hand: tiny random Llama-3.1-8B-shaped models (bf16
# safetensors and Q4_K_M GGUF), a server per model, cold start, batch-1 decode, idle TTFT and a
# concurrent throughput level, each reported in summary.txt; results.tar.gz holds the JSONs.
# The torch steps (ceiling, hf) need a GPU and are not run here.
# Usage: gpu_serving_bench_dry_run_test.sh HEARTH SOURCE_DIR
set -euo pipefail
hearth=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The script serves on a fixed port (its readiness probe needs it before the server prints it).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HEARTH=$hearth DEVICE=cpu MODELS=$tmp/models OUT=$tmp/out PORT=$port BUDGET_S=150 \
  MODEL_ARGS="--num-layers 2 --scale 0.125 --vocab-size 1024 --context 4096" \
  BATCH1_ARGS="--requests 2 --input-len 32 --output-len 8" \
  TTFT_ARGS="--requests 2 --input-len 32 --output-len 1" \
  C256_ARGS="--concurrency 4 --requests 4 --input-len 32 --output-len 8" \
  STEPS="models bf16 q4km" "$src/scripts/gpu_serving_bench.sh" > "$tmp/log" 2>&1 ||
  { echo "FAIL: exit $?"; cat "$tmp/log"; exit 1; }
cat "$tmp/out/summary.txt"
for name in bf16 q4km; do
  for what in "cold start to ready" "batch-1 decode (" "TTFT on the idle server (" "throughput ("; do
    grep -q "^$name: $what.*[0-9]" "$tmp/out/summary.txt" ||
      { echo "FAIL: no '$name: $what' figure"; cat "$tmp/log"; exit 1; }
  done
done
! grep -q "failed\|not ready\|Traceback" "$tmp/out/summary.txt" || { echo "FAIL: errors above"; exit 1; }
listing=$(tar -tzf "$tmp/out/results.tar.gz")
[[ $listing == *work/bf16_c256.json* && $listing == *work/q4km_batch1.json* ]] ||
  { echo "FAIL: results.tar.gz holds: $listing"; exit 1; }
echo "PASS"
