#!/usr/bin/env bash
# Builds the GPU test and benchmark executables for sm_90a and packs them, with their non-system
# shared libraries and the Python comparison scripts, into .device/kernels.tar.xz and
# .device/runner.tar.xz for a GPU machine that has the CUDA toolkit but none of our Debian
# libraries (see gpu_check.sh; carry one or both, e.g. ".device/kernels.tar.xz").
# Usage: scripts/gpu_bundle.sh   (BUILD_DIR defaults to build)
# BASE="<commit> ..." [BASE_TARGETS="bench_sampling ..."]: also builds those benchmarks (default
# bench_sampling bench_matmul) at each commit in a git worktree with its own build directory and
# packs each as NAME.base-<commit> (the commit as given) into the kernels bundle, so that
# gpu_check.sh's ab step times changes that have no switch against their bases in the same call.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
HEARTH_CUDA=ON scripts/build.sh
tests=$(cd "$BUILD_DIR" && ctest -L gpu --show-only=json-v1 | python3 -c '
import json, sys
for t in json.load(sys.stdin)["tests"]:
    print(t["command"][0])')
benches=$(find "$BUILD_DIR/benchmarks" -maxdepth 3 -type f -name "bench_*" -perm -u+x 2>/dev/null || true)
rm -rf .device && mkdir -p .device
extra=()
for f in benchmarks/kernels/*.py; do [[ -f $f ]] && extra+=("$f"); done
# Two bundles, so that each fits a device call (64 MiB) beside the tree (~18 MB with the big
# test data set aside) and a part of a stashed file: `kernels` (the kernel tests and
# benchmarks) and `runner` (engine_cuda_runner_test and hearth, which link the server's
# libraries, ICU's 31 MB data among them). Copies are stripped of DWARF (symbols kept, for
# sanitizer backtraces): with it the test executables alone packed to 39 MB (gzip).
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/kernels" "$stage/runner"
for f in $tests $benches "$BUILD_DIR/hearth"; do
  set_name=kernels
  if ldd "$f" | grep -q libicuuc; then set_name=runner; fi
  case $(basename "$f") in bench_tokenizer|bench_cpu_*) continue ;; esac   # CPU only
  cp "$f" "$stage/$set_name/" && strip --strip-debug "$stage/$set_name/$(basename "$f")"
done
base_dir=$stage/base
trap 'git worktree remove --force "$base_dir" 2>/dev/null || true; rm -rf "$stage"' EXIT
for base in ${BASE:-}; do
  [[ $base =~ ^[A-Za-z0-9._-]+$ ]] || { echo "gpu_bundle: bad BASE commit '$base'" >&2; exit 1; }
  git worktree add --detach "$base_dir" "$base" >/dev/null
  targets=${BASE_TARGETS:-bench_sampling bench_matmul}
  cmake -S "$base_dir" -B "$base_dir/build" -G Ninja -DHEARTH_CUDA=ON \
    -DHEARTH_CUDA_ARCHS="${HEARTH_CUDA_ARCHS:-90a}" >/dev/null
  # shellcheck disable=SC2086  # a list of targets
  cmake --build "$base_dir/build" -j "${JOBS:-$(nproc)}" --target $targets
  for t in $targets; do
    f=$(find "$base_dir/build/benchmarks" -type f -name "$t" -perm -u+x | head -1)
    [[ -n $f ]] || { echo "gpu_bundle: no $t built at $base" >&2; exit 1; }
    cp "$f" "$stage/kernels/$t.base-$base" && strip --strip-debug "$stage/kernels/$t.base-$base"
  done
  git worktree remove --force "$base_dir"
done
bash ../shared/tools/bundle-libs.sh .device/kernels "$stage"/kernels/* ${extra:+--data "${extra[@]}"}
bash ../shared/tools/bundle-libs.sh .device/runner "$stage"/runner/*
# Repacked with xz and a 64 MiB window, which spans whole executables: the executables that link
# the matmul library (bench_matmul, matmul_gpu_test, engine_cuda_runner_test) each hold the same
# kernels, which gzip's 32 KiB window cannot share. 2026-11-24: kernels 28.5 MB gzip -> 8.8 MB,
# runner 45.3 -> 23.1 MB (about 75 s here). gpu_check.sh unpacks either format.
for b in kernels runner; do
  tar -C .device -cf - "$b" | xz -T1 --lzma2=preset=6,dict=64MiB > ".device/$b.tar.xz"
  rm -rf ".device/$b" ".device/$b.tar.gz"
done
ls -la .device
echo "kernels: $(ls "$stage/kernels" | tr '\n' ' ')"
echo "runner: $(ls "$stage/runner" | tr '\n' ' ')"
