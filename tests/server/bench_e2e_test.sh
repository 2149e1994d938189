#!/usr/bin/env bash
# `hearth bench` end to end on a real model (stories260K): six requests of 32 in / 16 out, three
# at a time, with a price; the JSON's counts are exact, its rates consistent with its counts and
# wall time, the ceiling and the decode traffic measured, the cost present. Then the argument
# errors: a load longer than the context, and a zero concurrency (exit 2, a message). Then
# --cpu-matmul: int8 says once which weights take the 8-bit path (none of stories260K's float32
# ones), an unknown mode is an error naming the choices.
# Usage: bench_e2e_test.sh HEARTH MODEL
set -euo pipefail
hearth=$1 model=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$hearth" bench --model "$model" --input-len 32 --output-len 16 --requests 6 --concurrency 3 \
  --price-per-hour 0.10 --json "$tmp/bench.json" | tee "$tmp/out.txt"
grep -q '6 ok, 0 failed' "$tmp/out.txt"
grep -q '^TPOT ' "$tmp/out.txt"
grep -q 'of the .* GB/s copy' "$tmp/out.txt"
grep -q 'per million output tokens at \$0.10/hour' "$tmp/out.txt"
python3 - "$tmp/bench.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["requests_ok"] == 6 and j["requests_failed"] == 0, j
assert j["input_tokens"] == 6 * 32 and j["output_tokens"] == 6 * 16, j
assert j["ttft_ms"]["n"] == 6 and j["tpot_ms"]["n"] == 6, j
assert 0 < j["itl_ms"]["n"] <= 6 * 15, j["itl_ms"]  # chunks may carry several tokens
assert j["ttft_ms"]["p50"] <= j["e2e_ms"]["p50"], j
rate = j["output_tokens"] / j["wall_s"]
assert abs(j["output_tokens_per_s"] - rate) <= 1e-9 * rate, (j["output_tokens_per_s"], rate)
assert j["copy_gbps"] > 0 and j["decode_bandwidth"]["achieved_gbps"] > 0, j
assert j["decode_bandwidth"]["utilization"] > 0, j
usd = 0.10 / 3600 * j["wall_s"] / j["output_tokens"] * 1e6
assert abs(j["usd_per_million_output_tokens"] - usd) <= 1e-9 * usd, j
assert j["engine"]["steps"] > 0 and j["model"]["weight_bytes"] > 0, j
print("bench JSON ok")
PY

rc=0
"$hearth" bench --model "$model" --input-len 600 --output-len 16 >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 2 ]] && grep -q 'exceed the context' "$tmp/err" || { echo "long load: rc $rc"; cat "$tmp/err"; exit 1; }
rc=0
"$hearth" bench --model "$model" --concurrency 0 >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc == 2 ]] && grep -q 'at least 1' "$tmp/err" || { echo "concurrency 0: rc $rc"; cat "$tmp/err"; exit 1; }
"$hearth" bench --model "$model" --cpu-matmul int8 --input-len 4 --output-len 2 --requests 1 \
  >/dev/null 2>"$tmp/err"
grep -q 'CPU matmul int8: 8-bit activations for none; float32 for F32' "$tmp/err" ||
  { echo "int8 mode: no summary"; cat "$tmp/err"; exit 1; }
rc=0
"$hearth" bench --model "$model" --cpu-matmul int4 >/dev/null 2>"$tmp/err" || rc=$?
[[ $rc != 0 ]] && grep -q 'expected f32 .* or int8' "$tmp/err" ||
  { echo "--cpu-matmul int4: rc $rc"; cat "$tmp/err"; exit 1; }
echo "bench e2e ok"
