#!/usr/bin/env bash
# scripts/gpu_check.sh's flow on the CPU with a fake bundle (a test and a benchmark that print
# what a real one prints, the benchmark also the switches it sees), so that the GPU session's
# script does not rot while no GPU is at hand: the bundle unpacked (xz, by tar or by Python's
# tarfile where the machine has no xz), the tests step, the bench step and the A/B step
# (each AB_ENVS setting reaches the benchmark, and each NAME.base-<commit> build runs tagged
# [base-<commit>], its lines tagged in results.txt).
# Usage: gpu_check_dry_run_test.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root/.device" "$tmp/fake/bin" "$tmp/fake/lib"
ln -s "$src/scripts" "$root/scripts"
cat > "$tmp/fake/bin/fake_test" <<'T'
#!/usr/bin/env bash
echo "[  PASSED  ] 1 test."
T
cat > "$tmp/fake/bin/bench_fake" <<'B'
#!/usr/bin/env bash
echo "CEILING copy 100 GB/s"
echo "RESULT case pdl=${HEARTH_PDL:-on} x=${HEARTH_DIRECT_X:-fused} args=$*"
B
# Two base commits' builds of it (gpu_bundle.sh BASE="c1 c2"): run by the A/B step only.
for c in c1843ff 83c4c43; do
  sed "s/RESULT case/RESULT base $c case/" "$tmp/fake/bin/bench_fake" \
    > "$tmp/fake/bin/bench_fake.base-$c"
done
chmod +x "$tmp/fake/bin/"*
# Packed as gpu_bundle.sh packs (xz), by Python so that the test needs no xz here.
python3 -c 'import sys, tarfile
with tarfile.open(sys.argv[1], "w:xz") as t:
    t.add(sys.argv[2], arcname="fake")' "$root/.device/fake.tar.xz" "$tmp/fake"
# An xz that fails, as on a machine without one: gpu_check.sh unpacks with Python's tarfile.
mkdir -p "$tmp/noxz" && printf '#!/bin/sh\nexit 127\n' > "$tmp/noxz/xz" && chmod +x "$tmp/noxz/xz"
(cd "$root" && PATH=$tmp/noxz:$PATH OUT=$tmp/out BUNDLES=$tmp/bundles STASH=$tmp/stash \
  STEPS="tests bench ab" BENCH_ARGS="Q4_K" BUDGET_S=60 scripts/gpu_check.sh > "$tmp/log" 2>&1) ||
  { echo "FAIL: exit $?"; cat "$tmp/log"; exit 1; }
cat "$tmp/out/summary.txt"
expect() {
  grep -qF -- "$2" "$tmp/out/$1" || { echo "FAIL: no '$2' in $1"; cat "$tmp/log"; exit 1; }
}
expect summary.txt "test fake_test PASS [  PASSED  ] 1 test."
expect summary.txt "bench bench_fake rc=0"
for tag in default HEARTH_PDL=0 HEARTH_DIRECT_X=pre base-c1843ff base-83c4c43; do
  expect summary.txt "ab bench_fake [$tag] rc=0"
done
expect results.txt "RESULT case pdl=on x=fused args=Q4_K"
expect results.txt "[default] RESULT case pdl=on x=fused args=Q4_K"
expect results.txt "[HEARTH_PDL=0] RESULT case pdl=0 x=fused args=Q4_K"
expect results.txt "[HEARTH_DIRECT_X=pre] RESULT case pdl=on x=pre args=Q4_K"
expect results.txt "[base-c1843ff] RESULT base c1843ff case pdl=on x=fused args=Q4_K"
expect results.txt "[base-83c4c43] RESULT base 83c4c43 case pdl=on x=fused args=Q4_K"
if grep -q "^bench bench_fake.base" "$tmp/out/summary.txt"; then
  echo "FAIL: the bench step ran the base build"; exit 1
fi
# The listing first: grep -q leaving early would fail tar with SIGPIPE under pipefail.
listing=$(tar -tzf "$tmp/out/logs.tar.gz")
[[ $listing == *ab_bench_fake_HEARTH_PDL_0.log* ]] ||
  { echo "FAIL: logs.tar.gz lacks the A/B logs: $listing"; exit 1; }
# With the machine's xz (where this one has it), tar unpacks the bundle itself.
if command -v xz >/dev/null; then
  (cd "$root" && OUT=$tmp/out/xz BUNDLES=$tmp/bundles_xz STASH=$tmp/stash STEPS=tests \
    BUDGET_S=60 scripts/gpu_check.sh > "$tmp/log_xz" 2>&1) ||
    { echo "FAIL: exit $? with xz"; cat "$tmp/log_xz"; exit 1; }
  expect xz/summary.txt "test fake_test PASS [  PASSED  ] 1 test."
fi
echo "PASS"
