#!/usr/bin/env bash
# End to end over a real socket: hearth_fake_server (HearthServer over the fake runner), then
# `hearth client` and examples/python_client.py stream a completion; then SIGTERM during a long
# stream: the stream completes, the server exits 0, and afterwards nothing listens.
# Usage: serve_e2e_test.sh FAKE_SERVER HEARTH SOURCE_DIR
set -euo pipefail
fake=$1 hearth=$2 src=$3
tmp=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$fake" 2000 >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 100); do grep -q "serving" "$tmp/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/server.out")
[[ -n "$port" ]] || { echo "FAIL: the fake server did not start"; cat "$tmp/server.err"; exit 1; }
echo "fake server on port $port"

"$hearth" client --address "127.0.0.1:$port" --max-tokens 8 "hello" >"$tmp/c1.out" 2>"$tmp/c1.err"
grep -q "FINISH_REASON_LENGTH" "$tmp/c1.err" || { echo "FAIL: hearth client"; cat "$tmp/c1.err"; exit 1; }
[[ $(head -1 "$tmp/c1.out" | wc -c) -eq 9 ]] || { echo "FAIL: expected 8 bytes of text"; cat "$tmp/c1.out"; exit 1; }
echo "hearth client: ok ($(head -1 "$tmp/c1.out"))"

python3 "$src/examples/python_client.py" --address "127.0.0.1:$port" --max-tokens 8 "hello" \
  >"$tmp/p.out" 2>"$tmp/p.err" || { echo "FAIL: python client"; cat "$tmp/p.err"; exit 1; }
cmp <(head -1 "$tmp/p.out") <(head -1 "$tmp/c1.out") || { echo "FAIL: python and C++ clients differ"; exit 1; }
echo "python client: ok"

# Server reflection lists the services; health knows them by name (raw protobuf bytes, so no
# extra Python packages: ServerReflectionRequest{list_services: ""}, HealthCheckRequest{service}).
python3 - "$port" <<'PY' || { echo "FAIL: reflection / health"; exit 1; }
import sys, grpc
ch = grpc.insecure_channel(f"127.0.0.1:{sys.argv[1]}")
refl = ch.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
reply = b"".join(refl(iter([b"\x3a\x00"]), timeout=10))
for name in (b"hearth.v1.Inference", b"hearth.v1.Control", b"grpc.health.v1.Health"):
    assert name in reply, f"reflection does not list {name}: {reply!r}"
check = ch.unary_unary("/grpc.health.v1.Health/Check")
svc = b"hearth.v1.Inference"
assert check(b"\x0a" + bytes([len(svc)]) + svc, timeout=10) == b"\x08\x01", "not SERVING"
print("reflection and health: ok")
PY

python3 "$src/benchmarks/serving/load_gen.py" --address "127.0.0.1:$port" --concurrency 4 \
  --requests 8 --input-len 20 --output-len 10 --gpu-price-per-hour 2 >"$tmp/lg.out" 2>&1 \
  || { echo "FAIL: load generator"; cat "$tmp/lg.out"; exit 1; }
grep -q "c=4: .* 8 ok / 0 failed" "$tmp/lg.out" || { echo "FAIL: load generator"; cat "$tmp/lg.out"; exit 1; }
echo "load generator: ok ($(grep 'tokens/s' "$tmp/lg.out"))"

# 400 tokens at 2 ms per step: about a second of streaming; SIGTERM once text has arrived.
"$hearth" client --address "127.0.0.1:$port" --max-tokens 400 "long" >"$tmp/c2.out" 2>"$tmp/c2.err" &
client_pid=$!
for _ in $(seq 200); do [[ -s "$tmp/c2.out" ]] && break; sleep 0.01; done
kill -TERM $server_pid
wait $client_pid || { echo "FAIL: the in-flight stream did not complete"; cat "$tmp/c2.err"; exit 1; }
grep -q "completion 400 tokens" "$tmp/c2.err" || { echo "FAIL: stream cut short"; cat "$tmp/c2.err"; exit 1; }
rc=0; wait $server_pid || rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: server exit code $rc"; cat "$tmp/server.err"; exit 1; }
grep -q "1 completed, 0 aborted" "$tmp/server.err" || { echo "FAIL: drain report"; cat "$tmp/server.err"; exit 1; }
if "$hearth" client --address "127.0.0.1:$port" --timeout 2 "late" >/dev/null 2>&1; then
  echo "FAIL: a request succeeded after shutdown"; exit 1
fi
echo "SIGTERM: in-flight stream completed, exit 0, drained"
echo PASS
