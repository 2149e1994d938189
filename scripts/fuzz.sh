#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz and runs each for FUZZ_SECONDS (default
# 60) on its seed corpus (tests/fuzz/<name>/), JOBS (default nproc) at a time. New inputs go to
# fuzz-corpus/<name>/ (ignored by git), crash reproducers to fuzz-corpus/artifacts/<name>/. Exits
# non-zero if any target crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
JOBS=${JOBS:-$(nproc)}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DHEARTH_FUZZ=ON -DHEARTH_CUDA=OFF \
  -DHEARTH_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz --target hearth_fuzzers -j "$JOBS"

# UBSan reports become crashes; leaks count too.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1

# One target: runs it, writes its report line(s) to fuzz-corpus/<name>.result, exits non-zero on a
# crash. The targets run JOBS at a time (each is single-threaded), so CI spends FUZZ_SECONDS x
# ceil(targets / JOBS) instead of FUZZ_SECONDS per target.
run_target() {
  local name=$1 bin=$2 seeds=$3
  local corpus=fuzz-corpus/$name artifacts=fuzz-corpus/artifacts/$name/
  local log=fuzz-corpus/$name.log result=fuzz-corpus/$name.result
  rm -f "$result"
  mkdir -p "$corpus" "$artifacts"
  local rc=0
  "$bin" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  local execs crashes
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -n 1 ||
    true)
  crashes=$(find "$artifacts" -type f | wc -l)
  if [[ $rc -ne 0 ]]; then
    {
      echo "$name: FAILED (exit $rc) after ${execs:-?} executions," \
        "$crashes crash file(s) in $artifacts"
      grep -m 20 -E 'ERROR|SUMMARY|runtime error|==[0-9]+==' "$log" || tail -n 20 "$log"
    } >"$result"
    return 1
  fi
  echo "$name: ok, ${execs:-?} executions in ${FUZZ_SECONDS}s, 0 crashes," \
    "corpus $(ls "$corpus" | wc -l) files" >"$result"
}

failed=0
names=()
running=0
for seeds in tests/fuzz/*/; do
  name=$(basename "$seeds")
  bin=$(find build-fuzz -type f -name "$name" -perm -u+x | head -n 1)
  if [[ -z "$bin" ]]; then
    echo "fuzz.sh: no binary for seed folder $seeds (is $name registered with hearth_add_fuzzer?)"
    failed=1
    continue
  fi
  names+=("$name")
  if [[ $running -ge $JOBS ]]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$name" "$bin" "$seeds" &
  running=$((running + 1))
done
wait || true
if [[ ${#names[@]} -eq 0 ]]; then
  echo "fuzz.sh: no fuzz targets found"
  exit 1
fi
for name in "${names[@]}"; do
  result=fuzz-corpus/$name.result
  if [[ -f $result ]]; then
    cat "$result"
    grep -q ": ok," "$result" || failed=1
  else
    echo "$name: no result (the fuzzer's runner died)"
    failed=1
  fi
  rm -f "$result"
done
exit $failed
