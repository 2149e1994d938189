#!/usr/bin/env bash
# Soak test (not in CI): an AddressSanitizer + LeakSanitizer (+ UBSan) `hearth serve` on
# stories260K with a small KV cache (preemption happens), driven for MINUTES by
# scripts/soak_client.py: random requests (lengths, sampling parameters, stop strings, deadlines,
# a shared prefix), random Control.Abort calls and client disconnects, over gRPC and the OpenAI
# HTTP API (streams left early, answers given up). Then: the KV blocks in use
# must return to their idle value, and SIGTERM with streams in flight must drain them (aborted at
# the drain timeout), exit 0 and print no sanitizer report (LeakSanitizer runs at exit).
#
# 12 client workers against 8 running sequences and 3 waiting: some requests are refused with
# RESOURCE_EXHAUSTED (the client backs off briefly).
# Usage: scripts/soak.sh [MINUTES]     (default 10)
# Environment: BUILD_DIR (build-asan), JOBS (2), SOAK_CONCURRENCY (12: gRPC workers),
#   SOAK_HTTP_CONCURRENCY (4: OpenAI API workers, beside them), SOAK_SEED (1),
#   SOAK_KV_BYTES (1310720: 64 blocks of 16 tokens of stories260K's float32 KV),
#   SOAK_LOG_DIR (where server and client logs are kept; default a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
build=${BUILD_DIR:-build-asan}
logs=${SOAK_LOG_DIR:-$(mktemp -d)}
mkdir -p "$logs"

echo "== building an ASan+UBSan hearth in $build"
cmake -S . -B "$build" -G Ninja -DHEARTH_CUDA=OFF -DHEARTH_SANITIZE=ON -DHEARTH_BENCHMARKS=OFF \
  -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target hearth

echo "== serving stories260K (logs in $logs)"
# halt_on_error: the first report ends the process (its exit code then fails the soak).
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$build/hearth" serve --model tests/data/stories260K/stories260K.gguf --address 127.0.0.1 \
  --port 0 --http-port 0 --metrics-port -1 --kv-cache-bytes "${SOAK_KV_BYTES:-1310720}" --max-seqs 8 \
  --max-waiting 3 --drain-timeout 0.5 >"$logs/server.out" 2>"$logs/server.err" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q "serving" "$logs/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*serving .* on 127.0.0.1:\([0-9]*\).*/\1/p' "$logs/server.out")
http_port=$(sed -n 's|.*HTTP API on http://127.0.0.1:\([0-9]*\)/v1.*|\1|p' "$logs/server.out")
[[ -n "$port" && -n "$http_port" ]] || {
  echo "FAIL: the server did not start"
  cat "$logs/server.out" "$logs/server.err"
  exit 1
}

echo "== $minutes minutes of random requests on port $port (gRPC) and $http_port (HTTP)"
client_rc=0
python3 scripts/soak_client.py --address "127.0.0.1:$port" --minutes "$minutes" \
  --concurrency "${SOAK_CONCURRENCY:-12}" --http-address "127.0.0.1:$http_port" \
  --http-concurrency "${SOAK_HTTP_CONCURRENCY:-4}" --seed "${SOAK_SEED:-1}" --sigterm-pid "$server_pid" \
  2>&1 | tee "$logs/client.out" || client_rc=$?

server_rc=0
wait $server_pid || server_rc=$?
trap - EXIT
reports=$(grep -cE "LeakSanitizer|AddressSanitizer|runtime error:" "$logs/server.err" || true)
echo "== server: exit code $server_rc, sanitizer reports: $reports"
grep -E "hearth: (SIGTERM|drained)" "$logs/server.err" || true
if [[ $reports -ne 0 ]]; then
  grep -E -A30 "LeakSanitizer|AddressSanitizer|runtime error:" "$logs/server.err" | head -80
fi
if [[ $client_rc -ne 0 || $server_rc -ne 0 || $reports -ne 0 ]]; then
  echo "SOAK FAILED (client $client_rc, server $server_rc, sanitizer reports $reports)"
  exit 1
fi
echo "SOAK PASSED"
