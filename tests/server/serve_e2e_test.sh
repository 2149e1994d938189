#!/usr/bin/env bash
# End to end over a real socket: hearth_fake_server (HearthServer over the fake runner), then
# `hearth client` and examples/python_client.py stream a completion; then SIGTERM during a long
# stream: the stream completes, the server exits 0, and afterwards nothing listens.
# Usage: serve_e2e_test.sh FAKE_SERVER HEARTH SOURCE_DIR
set -euo pipefail
fake=$1 hearth=$2 src=$3
tmp=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

# start_fake NAME ARGS...: the fake server in the background (server_pid), its port (port).
start_fake() {
  local name=$1; shift
  "$fake" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  server_pid=$!
  for _ in $(seq 100); do grep -q "serving" "$tmp/$name.out" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/$name.out")
  [[ -n "$port" ]] || { echo "FAIL: the fake server did not start"; cat "$tmp/$name.err"; exit 1; }
}
# long_stream OUT ARGS...: `hearth client` in the background (client_pid); returns once it has
# printed text.
long_stream() {
  local out=$1; shift
  "$hearth" client --address "127.0.0.1:$port" "$@" >"$tmp/$out.out" 2>"$tmp/$out.err" &
  client_pid=$!
  for _ in $(seq 200); do [[ -s "$tmp/$out.out" ]] && break; sleep 0.01; done
}

# sigterm_during NAME CLIENT EXPECT REPORT: SIGTERM the server NAME while CLIENT streams; the
# client must end OK with EXPECT in its report, the server exit 0 with REPORT in its log.
sigterm_during() {
  kill -TERM $server_pid
  wait $client_pid || { echo "FAIL: the stream did not end OK"; cat "$tmp/$2.err"; exit 1; }
  grep -q "$3" "$tmp/$2.err" || { echo "FAIL: no '$3'"; cat "$tmp/$2.err"; exit 1; }
  local rc=0; wait $server_pid || rc=$?
  [[ $rc -eq 0 ]] || { echo "FAIL: server exit code $rc"; cat "$tmp/$1.err"; exit 1; }
  grep -q "$4" "$tmp/$1.err" || { echo "FAIL: drain report"; cat "$tmp/$1.err"; exit 1; }
}

start_fake server 2000
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

# The operator's calls: the load, an abort of an unknown id (NOT_FOUND, exit 1) and of a running
# stream by its id (the stream ends OK with FINISH_REASON_ABORT).
"$hearth" client --address "127.0.0.1:$port" --load >"$tmp/load.out" 2>&1 \
  || { echo "FAIL: --load"; cat "$tmp/load.out"; exit 1; }
for want in "^running: 0" "^draining: false" "^tenant default: prompt [0-9]* tokens"; do
  grep -q "$want" "$tmp/load.out" || { echo "FAIL: --load lacks '$want'"; cat "$tmp/load.out"; exit 1; }
done
if "$hearth" client --address "127.0.0.1:$port" --abort nope >"$tmp/a1.out" 2>&1; then
  echo "FAIL: aborting an unknown id succeeded"; exit 1
fi
grep -q "NOT_FOUND" "$tmp/a1.out" || { echo "FAIL: --abort nope"; cat "$tmp/a1.out"; exit 1; }
long_stream c4 --max-tokens 3000 --request-id job-1 "abort me"
"$hearth" client --address "127.0.0.1:$port" --abort job-1 >"$tmp/a2.out" 2>&1 \
  || { echo "FAIL: --abort job-1"; cat "$tmp/a2.out"; exit 1; }
wait $client_pid || { echo "FAIL: the aborted stream did not end OK"; cat "$tmp/c4.err"; exit 1; }
grep -q "FINISH_REASON_ABORT.*id job-1" "$tmp/c4.err" || { echo "FAIL: abort"; cat "$tmp/c4.err"; exit 1; }
echo "hearth client --load / --abort: ok ($(grep -o 'completion [0-9]* tokens' "$tmp/c4.err") before the abort)"

# 400 tokens at 2 ms per step: about a second of streaming; SIGTERM once text has arrived.
long_stream c2 --max-tokens 400 "long"
sigterm_during server c2 "FINISH_REASON_LENGTH.*completion 400 tokens" "1 completed, 0 aborted"
if "$hearth" client --address "127.0.0.1:$port" --timeout 2 "late" >/dev/null 2>&1; then
  echo "FAIL: a request succeeded after shutdown"; exit 1
fi
echo "SIGTERM: in-flight stream completed, exit 0, drained"

# SIGTERM with a stream longer than the drain timeout (300 ms): the stream is aborted cleanly
# (its final chunk says FINISH_REASON_ABORT, the call ends OK) and the server exits 0.
start_fake server2 2000 300
long_stream c3 --max-tokens 3000 "longer"
sigterm_during server2 c3 "FINISH_REASON_ABORT" "0 completed, 1 aborted"
echo "SIGTERM past the drain timeout: stream aborted ($(grep -o 'completion [0-9]* tokens' "$tmp/c3.err")), exit 0"

# hearth client --drain: a running stream finishes, the call reports it, new requests are refused
# and --load says draining; the server then still exits 0 on SIGTERM.
start_fake server3 2000
long_stream c5 --max-tokens 200 "drained"
"$hearth" client --address "127.0.0.1:$port" --drain --drain-timeout 10 >"$tmp/d.out" 2>&1 \
  || { echo "FAIL: --drain"; cat "$tmp/d.out"; exit 1; }
grep -q "drained: 1 completed, 0 aborted" "$tmp/d.out" || { echo "FAIL: --drain"; cat "$tmp/d.out"; exit 1; }
wait $client_pid || { echo "FAIL: the drained stream did not end OK"; cat "$tmp/c5.err"; exit 1; }
if "$hearth" client --address "127.0.0.1:$port" --timeout 5 "late" >"$tmp/l.out" 2>&1; then
  echo "FAIL: a request succeeded while drained"; exit 1
fi
grep -q UNAVAILABLE "$tmp/l.out" || { echo "FAIL: late request"; cat "$tmp/l.out"; exit 1; }
"$hearth" client --address "127.0.0.1:$port" --load | grep -q "^draining: true" \
  || { echo "FAIL: --load after the drain"; exit 1; }
kill -TERM $server_pid
rc=0; wait $server_pid || rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: server3 exit code $rc"; cat "$tmp/server3.err"; exit 1; }
echo "hearth client --drain: ok ($(cat "$tmp/d.out"))"
echo PASS
