#!/usr/bin/env bash
# The CPU serving benchmark (issue 5): `hearth serve --device cpu` on a model, load_gen.py at
# concurrency 1, 8 and 32, raw output (text, JSON, PNG) into benchmarks/raw/. Not a test.
# Usage: benchmarks/serving/run_cpu.sh NAME MODEL INPUT_LEN OUTPUT_LEN [load_gen args...]
#   e.g. benchmarks/serving/run_cpu.sh stories260K tests/data/stories260K/stories260K.gguf 128 128
# MACHINE_PRICE_PER_HOUR ($/hour charged for the cost column; default 0.10, an assumed price of
# a 2-vCPU VM, not a quote) and HEARTH (default build/hearth) can be set.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1 model=$2 in=$3 out=$4
shift 4
hearth=${HEARTH:-build/hearth}
raw=benchmarks/raw/$(date -u +%F)-serving-cpu-$name
tmp=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
"$hearth" serve --model "$model" --device cpu --address 127.0.0.1 --port 0 --metrics-port -1 \
  >"$tmp/server.out" 2>"$tmp/server.err" &
pid=$!
for _ in $(seq 600); do grep -q "serving" "$tmp/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.* on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/server.out")
[[ -n $port ]] || { echo "server did not start: $(cat "$tmp/server.err")"; exit 1; }
{
  echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) on $(nproc) CPUs" \
    "($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# $hearth serve --model $model --device cpu; load_gen --concurrency 1,8,32" \
    "--input-len $in --output-len $out $*"
  python3 benchmarks/serving/load_gen.py --address "127.0.0.1:$port" --concurrency 1,8,32 \
    --input-len "$in" --output-len "$out" --measure-host-bandwidth \
    --gpu-price-per-hour "${MACHINE_PRICE_PER_HOUR:-0.10}" --json "$raw.json" --plot "$raw.png" \
    --title "Hearth CPU server, $name, $in in / $out out (2 shared vCPUs)" "$@"
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$raw.txt"
kill -TERM $pid
wait $pid || true
pid=
