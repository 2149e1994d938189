#!/usr/bin/env bash
# The serving benchmark of issue 9 on a GPU machine, in one command. NEVER RUN YET: written
# without a GPU (and before `--device cuda` existed); expect to fix details on the first run.
#
# Here (a build machine):   scripts/gpu_serving_bench.sh prepare
#   builds the CUDA bundle (scripts/package.sh -> dist/), downloads the Python wheels the GPU
#   machine lacks (grpcio, grpcio-tools, protobuf for CPython 3.12) into .whl/, and splits both
#   into .dsv/payload.part-* (the device tool's 64 MiB per call leaves ~8 MiB beside the tree);
#   it prints the calls: one `stash` call per part, then the run.
# There (repository root):   scripts/gpu_serving_bench.sh [stash]
#   1. models:  random-weight Llama-3.1-8B shape, bf16 safetensors and Q4_K_M-like GGUF
#               (benchmarks/models/make_random_model.py), under $MODELS (/tmp/hearth-models);
#   2. ceiling: device-to-device copy bandwidth (torch), the roofline's denominator;
#   3. per model (bf16, then q4km): cold start to ready (model file in the page cache), batch-1
#      decode (tokens/s and fraction of the bandwidth roofline), TTFT of a 128-token prompt on
#      the idle server, output tokens/s at 1000 in / 1000 out with 256 concurrent streams;
#   4. hf: transformers generate() on the bf16 model, batch 1 and 64 (the floor).
# Results: $OUT (default ./gpu-serving-out): summary.txt and results.tar.gz (a JSON per
# measurement, plots, server logs). STEPS selects steps (default "models ceiling bf16 q4km hf";
# "q4km_old" serves the Q4_K_M model again with the kernels that were the defaults before the
# H100 measurements of 2026-11-23: HEARTH_GEMV=staged HEARTH_QUANT_GEMM=dequant
# HEARTH_SAMPLER=radix, for a before / after in one run; "q4km_nopdl" serves it again with
# ordinary launches, HEARTH_PDL=0, against programmatic dependent launch, kernels/core/pdl.h);
# the run stays inside BUDGET_S seconds (560: a device call's limit is 600), each step getting
# at most what is left. All of it may not fit one call: then split it, e.g.
# STEPS="models ceiling bf16" and, within 30 s while the machine is warm, STEPS="q4km hf"
# (models and the ceiling stay in $MODELS). A CPU dry run of the flow (what was tested):
#   DEVICE=cpu MODELS=/tmp/tiny MODEL_ARGS="--num-layers 2 --scale 0.125 --vocab-size 1024 \
#   --context 4096" BATCH1_ARGS="--requests 2 --input-len 32 --output-len 16" TTFT_ARGS=... \
#   C256_ARGS="--concurrency 4 --requests 4 --input-len 32 --output-len 16" STEPS="models bf16 q4km"
set -uo pipefail
cd "$(dirname "$0")/.."
MODELS=${MODELS:-/tmp/hearth-models}
OUT=${OUT:-$PWD/gpu-serving-out}
PORT=${PORT:-50551}
STEPS=${STEPS-"models ceiling bf16 q4km hf"}
BUDGET_S=${BUDGET_S:-560}
PRICE=${GPU_PRICE_PER_HOUR:-2.50}   # $/hour for the cost figures; say which price you used
SERVE_ARGS=${SERVE_ARGS:-}          # extra `hearth serve` flags (memory fraction, batch tokens)
# For a dry run of the whole flow on a CPU (tiny models, small loads), these can be overridden:
DEVICE=${DEVICE:-cuda:0}
MODEL_ARGS=${MODEL_ARGS:-}          # e.g. "--num-layers 2 --scale 0.125 --vocab-size 1024"
BATCH1_ARGS=${BATCH1_ARGS:-"--requests 3 --input-len 128 --output-len 512"}
TTFT_ARGS=${TTFT_ARGS:-"--requests 20 --input-len 128 --output-len 1"}
C256_ARGS=${C256_ARGS:-"--concurrency 256 --requests 256 --input-len 1000 --output-len 1000"}

if [[ ${1:-} == prepare ]]; then
  set -e
  grep -q '^HEARTH_CUDA:BOOL=ON' "${BUILD_DIR:-build}/CMakeCache.txt" 2>/dev/null ||
    { echo "prepare: ${BUILD_DIR:-build} is not a CUDA build (configure it with scripts/build.sh where nvcc exists)"; exit 1; }
  scripts/package.sh
  rm -rf .whl .dsv && mkdir -p .whl .dsv
  for pkg in grpcio grpcio-tools protobuf; do
    v=$(python3 -c "import importlib.metadata as m; print(m.version('$pkg'))")
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 -d .whl "$pkg==$v"
  done
  # The device tool moves at most 64 MiB per call, tracked tree included (about 55 MiB of it is
  # tests/data), so the payload (bundle + wheels) goes over in parts of PART_MB, each stashed in
  # /tmp on the warm machine by one call ("stash"), before the call that runs the benchmark.
  tar -cf .dsv/payload.tar dist/hearth-*-linux-x86_64.tar.gz .whl
  (cd .dsv && sha256sum payload.tar >payload.sha256 && split -b "${PART_MB:-8}M" payload.tar payload.part- && rm payload.tar)
  ls -la .dsv
  echo "on the GPU machine, calls less than 30 s apart (the machine stays warm that long):"
  for part in .dsv/payload.part-*; do
    echo "  run carry [\"$part\", \".dsv/payload.sha256\"]: scripts/gpu_serving_bench.sh stash"
  done
  echo "  run: scripts/gpu_serving_bench.sh    (or STEPS=... to split the run over calls)"
  exit 0
fi
if [[ ${1:-} == stash ]]; then
  mkdir -p /tmp/hearth-stash && cp .dsv/payload.* /tmp/hearth-stash/ && ls -la /tmp/hearth-stash
  exit 0
fi
# Reassemble the stashed payload (dist/ and .whl/) unless they were carried whole.
if ! compgen -G "dist/hearth-*-linux-x86_64.tar.gz" >/dev/null && [[ -f /tmp/hearth-stash/payload.sha256 ]]; then
  (cd /tmp/hearth-stash && cat payload.part-* >payload.tar && sha256sum -c payload.sha256) ||
    { echo "stashed payload incomplete: stash every part first"; exit 1; }
  tar -xf /tmp/hearth-stash/payload.tar
fi

# The device tool returns at most 8 files from $OUT: everything goes to $OUT/work, packed at the
# end into results.tar.gz beside summary.txt.
final_out=$OUT
OUT=$final_out/work
mkdir -p "$OUT" "$MODELS"
t0=$(date +%s)
left() { local l=$((BUDGET_S - ($(date +%s) - t0))); ((l < 5)) && l=5; ((l > $1)) && l=$1; echo $l; }
summary=$final_out/summary.txt
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }

# Python: the carried wheels (the image has grpcio but no grpcio-tools) on PYTHONPATH.
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/hearth-site .whl/*.whl && export PYTHONPATH=/tmp/hearth-site
fi
if [[ -n ${HEARTH:-} ]]; then
  hearth=$HEARTH   # a binary given directly (the CPU dry run in CI)
else
  bundle=$(ls dist/hearth-*-linux-x86_64.tar.gz 2>/dev/null | head -1)
  [[ -n $bundle ]] || { echo "no dist/hearth-*.tar.gz: run 'scripts/gpu_serving_bench.sh prepare' here first and carry dist"; exit 1; }
  rm -rf /tmp/hearth-bundle && mkdir -p /tmp/hearth-bundle && tar -xzf "$bundle" -C /tmp/hearth-bundle
  hearth=$(ls -d /tmp/hearth-bundle/hearth-*)/bin/hearth
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$OUT/gpu.txt"
say "gpu: $(cat "$OUT/gpu.txt"); commit $(git rev-parse --short HEAD 2>/dev/null); $(date -u +%FT%TZ)"
"$hearth" version >>"$summary" 2>&1

bf16_dir=$MODELS/llama-3.1-8b-bf16
q4_file=$MODELS/llama-3.1-8b-Q4_K_M.gguf
# The copy ceiling, kept with the models so that a later call (STEPS without "ceiling", machine
# still warm) reuses the figure measured on this machine.
bw=$(cat "$MODELS/ceiling_gbps" 2>/dev/null || echo 0)
lg() { timeout "$(left "$1")" python3 benchmarks/serving/load_gen.py --address "127.0.0.1:$PORT" \
  --gpu-price-per-hour "$PRICE" --bandwidth-gbps "$bw" "${@:2}"; }
json_get() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

serve_model() {  # $1 = name, $2 = model path
  local name=$1 model=$2 pid ready
  cat "$model"/* "$model" >/dev/null 2>&1   # into the page cache: the target is a warm start
  local start
  start=$(date +%s.%N)
  "$hearth" serve --model "$model" --device "$DEVICE" --address 127.0.0.1 --port "$PORT" \
    --metrics-port -1 --max-seqs 256 $SERVE_ARGS >"$OUT/serve_$name.out" 2>"$OUT/serve_$name.log" &
  pid=$!
  if ! ready=$(timeout "$(left 240)" python3 benchmarks/serving/wait_ready.py \
      --address "127.0.0.1:$PORT" --since "$start" --timeout 240); then
    say "$name: server not ready: $(tail -3 "$OUT/serve_$name.log")"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    return 1
  fi
  say "$name: cold start to ready (health SERVING, file in page cache): $ready s"
  # Batch-1 decode: 3 requests of 128 in / 512 out, one at a time.
  # shellcheck disable=SC2086  # the *_ARGS are word lists
  if lg 120 --concurrency 1 $BATCH1_ARGS \
      --json "$OUT/${name}_batch1.json" >"$OUT/${name}_batch1.log" 2>&1; then
    say "$name: batch-1 decode ($BATCH1_ARGS): $(json_get "$OUT/${name}_batch1.json" \
      "'%.1f tok/s (TPOT p50 %.2f ms), %.1f GB/s = %.1f%% of the %.0f GB/s copy ceiling' % (1e3 / r['runs'][0]['summary']['tpot_ms']['p50'], r['runs'][0]['summary']['tpot_ms']['p50'], r['runs'][0]['bandwidth']['achieved_gbps'], 100 * (r['runs'][0]['bandwidth']['utilization'] or 0), $bw)")"
  else say "$name: batch-1 decode failed: $(tail -3 "$OUT/${name}_batch1.log")"; fi
  # TTFT of a 128-token prompt on the idle server (one request at a time, 1 output token).
  # shellcheck disable=SC2086
  if lg 60 --concurrency 1 $TTFT_ARGS \
      --json "$OUT/${name}_ttft.json" >"$OUT/${name}_ttft.log" 2>&1; then
    say "$name: TTFT on the idle server ($TTFT_ARGS): $(json_get "$OUT/${name}_ttft.json" \
      "'p50 %.2f ms, p90 %.2f ms' % (r['runs'][0]['summary']['ttft_ms']['p50'], r['runs'][0]['summary']['ttft_ms']['p90'])")"
  else say "$name: TTFT run failed: $(tail -3 "$OUT/${name}_ttft.log")"; fi
  # Throughput: 1000 in / 1000 out, 256 concurrent streams, one wave of 256 requests.
  # shellcheck disable=SC2086
  if lg 240 --warmup 0 $C256_ARGS \
      --json "$OUT/${name}_c256.json" --plot "$OUT/${name}_c256.png" >"$OUT/${name}_c256.log" 2>&1; then
    say "$name: throughput ($C256_ARGS): $(json_get "$OUT/${name}_c256.json" \
      "'%.0f output tok/s, TPOT p50 %.1f ms, TTFT p50 %.0f ms, \$%.4f per M output tokens at \$$PRICE/h' % (r['runs'][0]['summary']['output_tokens_per_s'], r['runs'][0]['summary']['tpot_ms']['p50'], r['runs'][0]['summary']['ttft_ms']['p50'], r['runs'][0]['cost']['usd_per_million_output_tokens'])")"
  else say "$name: throughput run failed or timed out: $(tail -3 "$OUT/${name}_c256.log")"; fi
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

for step in $STEPS; do
  case $step in
    models)
      [[ -f $bf16_dir/model.safetensors ]] || timeout "$(left 200)" python3 \
        benchmarks/models/make_random_model.py --shape llama-3.1-8b --dtype bf16 --out "$bf16_dir" $MODEL_ARGS \
        2>&1 | tee -a "$summary"
      [[ -f $q4_file ]] || timeout "$(left 200)" python3 benchmarks/models/make_random_model.py \
        --shape llama-3.1-8b --gguf Q4_K_M --out "$q4_file" $MODEL_ARGS 2>&1 | tee -a "$summary" ;;
    ceiling)
      if timeout "$(left 60)" python3 benchmarks/serving/torch_reference.py bandwidth >"$OUT/ceiling.json"; then
        bw=$(json_get "$OUT/ceiling.json" "round(r['copy_gbps'], 1)")
        echo "$bw" >"$MODELS/ceiling_gbps"
        say "ceiling: device-to-device copy $bw GB/s (torch, read + written)"
      else say "ceiling: torch bandwidth failed"; fi ;;
    bf16) serve_model bf16 "$bf16_dir" ;;
    q4km) serve_model q4km "$q4_file" ;;
    # The same with the kernels the defaults replaced (kernels/matmul/README.md): before / after.
    q4km_old) HEARTH_GEMV=staged HEARTH_QUANT_GEMM=dequant HEARTH_SAMPLER=radix \
      serve_model q4km_old "$q4_file" ;;
    # Ordinary kernel launches (kernels/core/pdl.h): what programmatic dependent launch gives.
    q4km_nopdl) HEARTH_PDL=0 serve_model q4km_nopdl "$q4_file" ;;
    hf)
      if timeout "$(left 300)" python3 benchmarks/serving/torch_reference.py generate \
          --model "$bf16_dir" --batch 1,64 --input-len 128 --output-len 256 \
          >"$OUT/hf_generate.json" 2>"$OUT/hf_generate.log"; then
        say "hf transformers generate (bf16, 128 in / 256 out): $(json_get "$OUT/hf_generate.json" \
          "'; '.join('batch %d: %.1f tok/s per sequence, %.0f output tok/s' % (x['batch'], x['decode_tokens_per_s_per_seq'], x['output_tokens_per_s']) for x in r['runs'])")"
      else say "hf generate failed: $(tail -3 "$OUT/hf_generate.log")"; fi ;;
    *) say "unknown step '$step'" ;;
  esac
done
cp "$summary" "$OUT/"
tar -czf "$final_out/results.tar.gz" -C "$final_out" work && rm -rf "$OUT"
echo "== summary (all files: results.tar.gz)"
cat "$summary"
