#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after scripts/gpu_bundle.sh made
# .device/{kernels,runner}.tar.xz here (carry either or both): every gpu test, then
# compute-sanitizer (memcheck on every gpu test, racecheck on the attention and sampling tests),
# then every kernel benchmark and the torch comparison scripts. Logs go to $OUT (or ./gpu-out).
# Steps are chosen by $STEPS (default "tests bench torch sanitize"; "ncu" profiles the GEMV and
# sampler kernels once each; "ab" runs the benchmarks again under each of $AB_ENVS, for the A/B
# of a switch, and runs the base commits' builds of a benchmark, NAME.base-<commit>, where
# gpu_bundle.sh packed them: BASE="<commit> ...").
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
STEPS=${STEPS:-"tests bench torch sanitize"}
# The whole script stays inside BUDGET_S seconds (the device call's limit is 600): each slow
# step gets at most what is left.
BUDGET_S=${BUDGET_S:-560}
t0=$(date +%s)
left() { local l=$(( BUDGET_S - ($(date +%s) - t0) )); (( l < 5 )) && l=5; (( l > $1 )) && l=$1; echo $l; }
# The carried bundles (scripts/gpu_bundle.sh: kernels, runner) are unpacked into $BUNDLES,
# where those of earlier calls stay while the machine is warm.
BUNDLES=${BUNDLES:-/tmp/hearth-bundles}
mkdir -p "$BUNDLES"
# .tar.xz (gpu_bundle.sh) or .tar.gz; Python's tarfile where the machine has no xz.
unpack() {
  tar -xaf "$1" -C "$BUNDLES" 2>/dev/null && return
  python3 -c 'import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))' \
    "$1" "$BUNDLES" || echo "gpu_check: cannot unpack $1" >&2
}
for t in .device/*.tar.xz .device/*.tar.gz; do [[ -f $t ]] && unpack "$t"; done
bins=() libs=""
for d in "$BUNDLES"/*/; do bins+=("${d}bin"); libs="$libs${d}lib:"; done
export LD_LIBRARY_PATH="$libs/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export HEARTH_TEST_DATA=$PWD/tests/data
# SmolLM2 (the CUDA runner tests' model, 98 MB) comes in parts over several calls
# (scripts/gpu_stash.sh); until every part is stashed those tests fail for want of it.
scripts/gpu_stash.sh put >/dev/null 2>&1 || true
if [[ -z ${HEARTH_SMOLLM2_GGUF:-} ]] && smol=$(scripts/gpu_stash.sh get smollm2.gguf 2>/dev/null); then
  export HEARTH_SMOLLM2_GGUF=$smol
fi
echo "HEARTH_SMOLLM2_GGUF=${HEARTH_SMOLLM2_GGUF:-unset: the SmolLM2 cases of engine_cuda_runner_test will fail}"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
# TESTS: a regular expression choosing among them (default all), e.g. TESTS=engine_cuda_runner.
tests=$(for b in "${bins[@]}"; do ls "$b"/* ; done 2>/dev/null | grep -E '_test$|_tests$' |
  grep -E "${TESTS:-.}" || true)
# BENCHES: a regular expression choosing among the benchmarks (default all), e.g. 'matmul|sampling'.
benches=$(for b in "${bins[@]}"; do ls "$b"/* ; done 2>/dev/null | grep -E '/bench_[^/]*$' |
  grep -vE '\.base-[^/]*$' | grep -E "${BENCHES:-.}" || true)
datas=$(ls -d "$BUNDLES"/*/data 2>/dev/null || true)
summary=$OUT/summary.txt; : > "$summary"
for step in $STEPS; do
  case $step in
    tests)
      for t in $tests; do
        n=$(basename "$t")
        if timeout $(left 300) "$t" --gtest_brief=1 > "$OUT/test_$n.log" 2>&1; then r=PASS; else r="FAIL($?)"; fi
        echo "test $n $r $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/test_$n.log" | tr '\n' ' ')" | tee -a "$summary"
        # ctest's reruns of a suite under another kernel choice (tests/*/CMakeLists.txt).
        for rerun in "matmul_gpu_test HEARTH_GEMV=float HEARTH_QUANT_GEMM=dequant" \
            "matmul_gpu_test HEARTH_GEMV=direct HEARTH_DIRECT_X=fused HEARTH_QUANT_GEMM=fused" \
            "gemv_direct_gpu_test HEARTH_DIRECT_X=pre" "gemv_direct_gpu_test HEARTH_DIRECT_X=fused" \
            "engine_cuda_runner_test HEARTH_GEMV=staged HEARTH_QUANT_GEMM=dequant HEARTH_SAMPLER=radix"; do
          [[ ${rerun%% *} == "$n" ]] || continue
          log="$OUT/test_${n}_$(tr '= ' '__' <<<"${rerun#* }").log"
          env ${rerun#* } timeout $(left 300) "$t" --gtest_brief=1 > "$log" 2>&1 && r=PASS || r="FAIL($?)"
          echo "test $n (${rerun#* }) $r $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$log" | tr '\n' ' ')" | tee -a "$summary"
        done
      done ;;
    sanitize)
      for t in $tests; do
        tools="memcheck"
        n=$(basename "$t")
        case $n in *attention*|*sampling*|*kv_cache*|*norm*|*rope*) tools="memcheck racecheck" ;; esac
        for tool in $tools; do
          timeout $(left 300) compute-sanitizer --tool $tool --error-exitcode 9 "$t" --gtest_brief=1 ${SAN_FILTER:+--gtest_filter=$SAN_FILTER} \
            > "$OUT/san_${tool}_$n.log" 2>&1; rc=$?
          echo "sanitize $tool $n rc=$rc $(grep -E 'ERROR SUMMARY' "$OUT/san_${tool}_$n.log" | tail -1)" | tee -a "$summary"
        done
      done ;;
    bench)
      for b in $benches; do
        n=$(basename "$b")
        timeout $(left 240) "$b" ${BENCH_ARGS:-} > "$OUT/$n.log" 2>&1; echo "bench $n rc=$?" | tee -a "$summary"
        grep -E '^(CEILING|RESULT)' "$OUT/$n.log" >> "$OUT/results.txt"
      done ;;
    ab)
      # Each benchmark once per setting of AB_ENVS (';' between settings, default the switches
      # of the changes waiting for a GPU, scripts/README.md), and once as it is, one after the
      # other in this call; results.txt gets their lines tagged [setting] or [default].
      # A benchmark with NAME.base-<commit> builds beside it also runs those, each tagged
      # [base-<commit>], after the others.
      IFS=';' read -ra ab_envs <<< "${AB_ENVS-HEARTH_PDL=0;HEARTH_DIRECT_X=pre}"  # AB_ENVS= : none
      for b in $benches; do
        n=$(basename "$b")
        runs=("" "${ab_envs[@]}")
        for f in "$b".base-*; do [[ -x $f ]] && runs+=("${f##*.}"); done
        for e in "${runs[@]}"; do
          tag=${e:-default} exe=$b
          if [[ $e == base-* ]]; then exe=$b.$e e=""; fi
          log="$OUT/ab_${n}_$(tr '= ' '__' <<<"$tag").log"
          env $e timeout $(left 240) "$exe" ${BENCH_ARGS:-} > "$log" 2>&1
          echo "ab $n [$tag] rc=$?" | tee -a "$summary"
          grep -E '^(CEILING|RESULT)' "$log" | sed "s/^/[$tag] /" >> "$OUT/results.txt"
        done
      done ;;
    ncu)
      # Nsight Compute on the decode GEMVs (both integer ones, the float one) and the sampler:
      # bench_matmul --once launches each case's kernels once. NCU_TYPES picks the weight types.
      b=$(for d in "${bins[@]}"; do ls "$d"/bench_matmul; done 2>/dev/null | head -1)
      if [[ -n $b ]]; then
        timeout $(left 300) ncu --kernel-name regex:"${NCU_KERNELS:-DirectGemv|QuantGemvQ8Kernel|QuantizeX}" \
          --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats \
          --section LaunchStats --section Occupancy --csv --page details \
          "$b" --quick --once ${NCU_TYPES:-Q4_K Q6_K Q8_0} > "$OUT/ncu_matmul.log" 2>&1
        echo "ncu bench_matmul rc=$?" | tee -a "$summary"
      fi ;;
    torch)
      for py in $(for d in $datas; do ls "$d"/*.py; done 2>/dev/null); do
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
