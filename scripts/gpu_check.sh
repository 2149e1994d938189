#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after scripts/gpu_bundle.sh made
# .device/bundle.tar.gz here: every gpu test, then compute-sanitizer (memcheck on every gpu test,
# racecheck on the attention and sampling tests), then every kernel benchmark and the torch
# comparison scripts. Logs go to $OUT (or ./gpu-out). Steps are chosen by $STEPS
# (default "tests sanitize bench torch").
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
STEPS=${STEPS:-"tests bench torch sanitize"}
# The whole script stays inside BUDGET_S seconds (the device call's limit is 600): each slow
# step gets at most what is left.
BUDGET_S=${BUDGET_S:-560}
t0=$(date +%s)
left() { local l=$(( BUDGET_S - ($(date +%s) - t0) )); (( l < 5 )) && l=5; (( l > $1 )) && l=$1; echo $l; }
tar -xzf .device/bundle.tar.gz -C /tmp
B=/tmp/bundle
export LD_LIBRARY_PATH="$B/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export HEARTH_TEST_DATA=$PWD/tests/data
# SmolLM2 (the CUDA runner tests' model, 98 MB) comes in parts over several calls
# (scripts/gpu_stash.sh); until every part is stashed those tests fail for want of it.
scripts/gpu_stash.sh put >/dev/null 2>&1 || true
if [[ -z ${HEARTH_SMOLLM2_GGUF:-} ]] && smol=$(scripts/gpu_stash.sh get smollm2.gguf 2>/dev/null); then
  export HEARTH_SMOLLM2_GGUF=$smol
fi
echo "HEARTH_SMOLLM2_GGUF=${HEARTH_SMOLLM2_GGUF:-unset: the SmolLM2 cases of engine_cuda_runner_test will fail}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
tests=$(ls $B/bin | grep -E '_test$|_tests$' || true)
benches=$(ls $B/bin | grep -E '^bench_' || true)
summary=$OUT/summary.txt; : > "$summary"
for step in $STEPS; do
  case $step in
    tests)
      for t in $tests; do
        if timeout $(left 300) "$B/bin/$t" --gtest_brief=1 > "$OUT/test_$t.log" 2>&1; then r=PASS; else r="FAIL($?)"; fi
        echo "test $t $r $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/test_$t.log" | tr '\n' ' ')" | tee -a "$summary"
      done ;;
    sanitize)
      for t in $tests; do
        tools="memcheck"
        case $t in *attention*|*sampling*|*kv_cache*|*norm*|*rope*) tools="memcheck racecheck" ;; esac
        for tool in $tools; do
          timeout $(left 300) compute-sanitizer --tool $tool --error-exitcode 9 "$B/bin/$t" --gtest_brief=1 ${SAN_FILTER:+--gtest_filter=$SAN_FILTER} \
            > "$OUT/san_${tool}_$t.log" 2>&1; rc=$?
          echo "sanitize $tool $t rc=$rc $(grep -E 'ERROR SUMMARY' "$OUT/san_${tool}_$t.log" | tail -1)" | tee -a "$summary"
        done
      done ;;
    bench)
      for b in $benches; do
        timeout $(left 240) "$B/bin/$b" ${BENCH_ARGS:-} > "$OUT/bench_$b.log" 2>&1; echo "bench $b rc=$?" | tee -a "$summary"
        grep -E '^(CEILING|RESULT)' "$OUT/bench_$b.log" >> "$OUT/results.txt"
      done ;;
    torch)
      for py in $B/data/*.py; do
        [[ -f $py ]] || continue
        PYTHONUNBUFFERED=1 timeout $(left 240) python3 "$py" > "$OUT/torch_$(basename $py .py).log" 2>&1
        echo "torch $(basename $py) rc=$?" | tee -a "$summary"
        grep -E '^(CEILING|RESULT)' "$OUT/torch_$(basename $py .py).log" >> "$OUT/results.txt"
      done ;;
  esac
done
# Logs go back as one archive (the device tool returns at most 8 files); the summary prints last
# so that it is never cut from the end of the output.
(cd "$OUT" && tar -czf logs.tar.gz --remove-files *.log 2>/dev/null)
if [[ -f $OUT/results.txt ]]; then echo "== results"; grep -c RESULT "$OUT/results.txt"; fi
echo "== summary"; cat "$summary"
exit 0
