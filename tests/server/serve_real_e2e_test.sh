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
echo "PASS: $(head -c 80 "$tmp/served.out")"
