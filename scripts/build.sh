#!/usr/bin/env bash
# Configures and builds Hearth in ./build (Release with debug info). The CUDA backend is built
# when nvcc is found (/usr/local/cuda), for HEARTH_CUDA_ARCHS (default 90a).
# Usage: scripts/build.sh [extra cmake -D options...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cuda=OFF
if [[ -x /usr/local/cuda/bin/nvcc ]] || command -v nvcc >/dev/null; then cuda=ON; fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DHEARTH_CUDA=${HEARTH_CUDA:-$cuda} \
  -DHEARTH_CUDA_ARCHS="${HEARTH_CUDA_ARCHS:-90a}" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
