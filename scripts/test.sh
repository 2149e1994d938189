#!/usr/bin/env bash
# Builds everything and runs every test:
#   1. the main tree (CUDA backend when nvcc exists): all ctest tests; gpu-labelled tests skip
#      without a device;
#   2. a CPU-only AddressSanitizer + UBSan tree: the tests labelled asan (parsers, corrupt files);
#   3. a CPU-only ThreadSanitizer tree: the tests labelled tsan (the CUDA block emulation tests,
#      where a race between emulated threads is a kernel's missing barrier, and the engine loop);
#   4. a clang libFuzzer tree: each fuzz target for FUZZ_SECONDS (default 60) on its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stamp() { echo "== $1 ($(( $(date +%s) - start )) s)"; }

stamp "default model"
HEARTH_SMOLLM2_GGUF=$(scripts/fetch_default_model.sh)
export HEARTH_SMOLLM2_GGUF
# Its float32 HF directory (the golden logits' weights) for the forward-pass parity tests.
HEARTH_SMOLLM2_F32_DIR=${HEARTH_SMOLLM2_F32_DIR:-$HOME/.cache/hearth/SmolLM2-135M-Instruct-f32}
if [[ ! -f $HEARTH_SMOLLM2_F32_DIR/model.safetensors ]]; then
  python3 scripts/dequantize_gguf_to_hf.py "$HEARTH_SMOLLM2_GGUF" --out "$HEARTH_SMOLLM2_F32_DIR"
fi
export HEARTH_SMOLLM2_F32_DIR

stamp "main build"
scripts/build.sh
stamp "main tests"
(cd build && ctest --output-on-failure -j "$(nproc)")

stamp "sanitizer build"
cmake -S . -B build-asan -G Ninja -DHEARTH_CUDA=OFF -DHEARTH_SANITIZE=ON -DHEARTH_BENCHMARKS=OFF \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j "$(nproc)" --target hearth_asan_tests
stamp "sanitizer tests"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -L asan -j "$(nproc)")

stamp "thread sanitizer build"
cmake -S . -B build-tsan -G Ninja -DHEARTH_CUDA=OFF -DHEARTH_TSAN=ON -DHEARTH_BENCHMARKS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-tsan -j "$(nproc)" --target hearth_tsan_tests
stamp "thread sanitizer tests"
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -L tsan -j "$(nproc)")

if [[ -f scripts/fuzz.sh ]]; then
  stamp "fuzzers"
  FUZZ_SECONDS=${FUZZ_SECONDS:-60} scripts/fuzz.sh
fi
stamp "all tests passed"
