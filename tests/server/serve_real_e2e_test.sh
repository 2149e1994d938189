#!/usr/bin/env bash
# `hearth serve` on a real model (CPU runner + tokenizer), queried by `hearth client`: the
# streamed greedy completion equals `hearth generate`'s; SIGTERM exits 0.
# Usage: serve_real_e2e_test.sh HEARTH MODEL
set -euo pipefail
hearth=$1 model=$2
tmp=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$hearth" generate --model "$model" --max-tokens 24 "Once upon a time" >"$tmp/local.out" 2>"$tmp/local.err"
"$hearth" serve --model "$model" --address 127.0.0.1 --port 0 --metrics-port -1 \
  >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 300); do grep -q "serving" "$tmp/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.* on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/server.out")
[[ -n "$port" ]] || { echo "FAIL: server did not start"; cat "$tmp/server.err"; exit 1; }
"$hearth" client --address "127.0.0.1:$port" --max-tokens 24 "Once upon a time" \
  >"$tmp/served.out" 2>"$tmp/served.err" || { echo "FAIL: client"; cat "$tmp/served.err"; exit 1; }
cmp "$tmp/local.out" "$tmp/served.out" || {
  echo "FAIL: served text differs from hearth generate:"; cat "$tmp/local.out" "$tmp/served.out"; exit 1; }
kill -TERM $server_pid
rc=0; wait $server_pid || rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: server exit code $rc"; cat "$tmp/server.err"; exit 1; }

# Again with mutual TLS and API keys: a tenant's key gets the same text and sees only its own
# costs; its Drain is refused (PERMISSION_DENIED), the operator's key drains.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1
echo '{"key-of-team-a-0123456789": "team-a",
       "key-of-the-operators-0123": {"tenant": "ops", "admin": true}}' >"$tmp/keys.json"
"$hearth" serve --model "$model" --address 127.0.0.1 --port 0 --metrics-port -1 \
  --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" --tls-client-ca "$tmp/cert.pem" \
  --api-keys "$tmp/keys.json" >"$tmp/server2.out" 2>"$tmp/server2.err" &
server_pid=$!
for _ in $(seq 300); do grep -q "serving" "$tmp/server2.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.* on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/server2.out")
[[ -n "$port" ]] || { echo "FAIL: TLS server did not start"; cat "$tmp/server2.err"; exit 1; }
tls=(--address "127.0.0.1:$port" --tls-ca "$tmp/cert.pem" --tls-cert "$tmp/cert.pem"
     --tls-key "$tmp/key.pem")
"$hearth" client "${tls[@]}" --api-key key-of-team-a-0123456789 --max-tokens 24 \
  "Once upon a time" >"$tmp/tls.out" 2>"$tmp/tls.err" || { echo "FAIL: TLS client"; cat "$tmp/tls.err"; exit 1; }
cmp "$tmp/local.out" "$tmp/tls.out" || { echo "FAIL: TLS text differs"; exit 1; }
if "$hearth" client --address "127.0.0.1:$port" --api-key key-of-team-a-0123456789 --timeout 5 \
  "plaintext" >/dev/null 2>&1; then echo "FAIL: a plaintext call succeeded"; exit 1; fi
"$hearth" client "${tls[@]}" --api-key key-of-team-a-0123456789 --load >"$tmp/load.out" 2>&1 \
  || { echo "FAIL: --load"; cat "$tmp/load.out"; exit 1; }
grep -q "^tenant team-a: .*completion 24 tokens" "$tmp/load.out" || { echo "FAIL: --load"; cat "$tmp/load.out"; exit 1; }
if "$hearth" client "${tls[@]}" --api-key key-of-team-a-0123456789 --drain >"$tmp/d1.out" 2>&1; then
  echo "FAIL: a tenant's key drained the server"; exit 1
fi
grep -q PERMISSION_DENIED "$tmp/d1.out" || { echo "FAIL: tenant drain"; cat "$tmp/d1.out"; exit 1; }
"$hearth" client "${tls[@]}" --api-key key-of-the-operators-0123 --drain >"$tmp/d2.out" 2>&1 \
  || { echo "FAIL: admin drain"; cat "$tmp/d2.out"; exit 1; }
grep -q "drained: 0 completed, 0 aborted" "$tmp/d2.out" || { echo "FAIL: admin drain"; cat "$tmp/d2.out"; exit 1; }
kill -TERM $server_pid
rc=0; wait $server_pid || rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: TLS server exit code $rc"; cat "$tmp/server2.err"; exit 1; }
echo "TLS + API keys: same text, per-tenant load, drain only by the admin key"
echo "PASS: $(head -c 80 "$tmp/served.out")"
