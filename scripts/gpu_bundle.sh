#!/usr/bin/env bash
# Builds the GPU test and benchmark executables for sm_90a and packs them, with their non-system
# shared libraries and the Python comparison scripts, into .device/bundle.tar.gz for a GPU
# machine that has the CUDA toolkit but none of our Debian libraries (see gpu_check.sh).
# Usage: scripts/gpu_bundle.sh   (BUILD_DIR defaults to build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
HEARTH_CUDA=ON scripts/build.sh
tests=$(cd "$BUILD_DIR" && ctest -L gpu --show-only=json-v1 | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tests"]:
    print(t["command"][0])')
benches=$(find "$BUILD_DIR/benchmarks" -maxdepth 3 -type f -name "bench_*" -perm -u+x 2>/dev/null || true)
rm -rf .device/bundle .device/bundle.tar.gz
mkdir -p .device
extra=()
for f in benchmarks/kernels/*.py; do [[ -f $f ]] && extra+=("$f"); done
# Copies without DWARF (symbols kept, for sanitizer backtraces): 131 MB of test executables
# pack to 39 MB with debug info and to 18 MB (with hearth) without, which is what lets the bundle
# and the tree fit one device call (64 MiB).
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for f in $tests $benches "$BUILD_DIR/hearth"; do
  cp "$f" "$stage/" && strip --strip-debug "$stage/$(basename "$f")"
done
bash ../shared/tools/bundle-libs.sh .device/bundle "$stage"/* ${extra:+--data "${extra[@]}"}
echo "tests: $(echo $tests | wc -w), benchmarks: $(echo $benches | wc -w)"
