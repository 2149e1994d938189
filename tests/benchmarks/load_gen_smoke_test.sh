#!/usr/bin/env bash
# benchmarks/serving/load_gen.py against a real `hearth serve` (CPU runner) on stories260K, at
# tiny sizes: a closed-loop sweep (1 and 4 streams) and an open-loop Poisson level, JSON and
# PNG written; every request gets exactly --output-len tokens; the JSON holds the figures the
# issue asks for (throughput, latency percentiles, decode bandwidth from the server's weight and
# KV sizes, cost, the API price table). Bad arguments are clear errors. wait_ready.py sees the
# server SERVING.
# Usage: load_gen_smoke_test.sh HEARTH SOURCE_DIR
set -euo pipefail
hearth=$1 src=$2
tmp=$(mktemp -d)
server_pid=
trap '[[ -n $server_pid ]] && kill $server_pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
lg="$src/benchmarks/serving/load_gen.py"

"$hearth" serve --model "$src/tests/data/stories260K/stories260K.gguf" --address 127.0.0.1 \
  --port 0 --metrics-port -1 >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
for _ in $(seq 300); do grep -q "serving" "$tmp/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.* on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/server.out")
[[ -n "$port" ]] || fail "server did not start: $(cat "$tmp/server.err")"
# wait_ready.py (the GPU script's cold-start probe) sees health SERVING.
ready=$(python3 "$src/benchmarks/serving/wait_ready.py" --address "127.0.0.1:$port" --timeout 10) ||
  fail "wait_ready.py: $ready"
[[ $ready =~ ^[0-9]+\.[0-9]+$ ]] || fail "wait_ready.py printed '$ready'"

python3 "$lg" --address "127.0.0.1:$port" --concurrency 1,4 --request-rate 20 --requests 6 \
  --input-len 12 --output-len 6 --gpu-price-per-hour 1.0 --bandwidth-gbps 10 \
  --json "$tmp/out.json" --plot "$tmp/out.png" >"$tmp/lg.out" 2>&1 ||
  fail "load_gen exited $?: $(cat "$tmp/lg.out")"
cat "$tmp/lg.out"
python3 - "$tmp/out.json" "$tmp/out.png" <<'EOF' || fail "JSON/PNG checks"
import json, sys
r = json.load(open(sys.argv[1]))
assert [x["label"] for x in r["runs"]] == ["c=1", "c=4", "rate=20/s"], r["runs"]
for run in r["runs"]:
    s = run["summary"]
    assert s["requests_ok"] == 6 and s["requests_failed"] == 0, s
    assert s["output_tokens"] == 36 and s["input_tokens"] >= 72, s
    assert s["output_tokens_per_s"] > 0 and s["requests_per_s"] > 0, s
    for k in ("ttft_ms", "tpot_ms", "itl_ms"):
        d = s[k]
        assert 0 < d["p50"] <= d["p90"] <= d["p99"], (k, d)
    bw = run["bandwidth"]
    assert bw["weight_bytes"] == r["model"]["weight_bytes"] > 0, bw
    assert bw["achieved_gbps"] > 0 and bw["utilization"] > 0, bw
    assert run["cost"]["usd_per_million_output_tokens"] > 0, run["cost"]
assert int(r["model"]["kv_bytes_per_token"]) == 2 * 5 * 4 * 8 * 4, r["model"]  # f32 KV
names = [p["model"] for p in r["api_prices"]["prices"]]
assert "Claude Opus 4.7" in names and r["api_prices"]["source"], r["api_prices"]
assert open(sys.argv[2], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
EOF
grep -q "API list prices" "$tmp/lg.out" || fail "no price table"
grep -q "not given by the source" "$tmp/lg.out" || fail "GPT-5.5's missing output price"

# Clear errors: a prompt longer than the context, a bad level, a dead address.
python3 "$lg" --address "127.0.0.1:$port" --input-len 600 --output-len 8 >"$tmp/e1" 2>&1 &&
  fail "over-long request accepted"
grep -q "exceeds the model's context length 512" "$tmp/e1" || fail "context error: $(cat "$tmp/e1")"
python3 "$lg" --concurrency 0 >"$tmp/e2" 2>&1 && fail "concurrency 0 accepted"
grep -q "levels must be > 0" "$tmp/e2" || fail "level error: $(cat "$tmp/e2")"
python3 "$lg" --address 127.0.0.1:1 >"$tmp/e3" 2>&1 && fail "dead address accepted"
grep -q "GetModelInfo on 127.0.0.1:1 failed: UNAVAILABLE" "$tmp/e3" || fail "$(cat "$tmp/e3")"

kill -TERM $server_pid
rc=0; wait $server_pid || rc=$?
server_pid=
[[ $rc -eq 0 ]] || fail "server exit code $rc"
echo "PASS"
