#!/usr/bin/env bash
# The OpenAI-compatible HTTP API of a real `hearth serve` (CPU runner, real tokenizer), with API
# keys, beside its gRPC port:
#  - curl: the exact server-sent-event framing of a stream ("data: {json}" + blank line per
#    event, "data: [DONE]" last), headers, /health, /ready, and an OpenAI-shaped 401;
#  - the official openai package (openai_client_test.py): completions streaming and not, usage,
#    logprobs, stop, the library's exception types, HTTP == gRPC under greedy, 16 HTTP + 16 gRPC
#    concurrent streams each equal to its solo output (stories260K);
#  - chat completions through the chat template, HTTP == gRPC (SmolLM2, $HEARTH_SMOLLM2_GGUF);
#  - SIGTERM: exit 0, and the HTTP port is closed afterwards.
# Usage: openai_e2e_test.sh HEARTH STORIES260K_GGUF   (needs $HEARTH_SMOLLM2_GGUF)
set -euo pipefail
hearth=$1 stories=$2
here=$(cd "$(dirname "$0")" && pwd)
[[ -n "${HEARTH_SMOLLM2_GGUF:-}" ]] || { echo "HEARTH_SMOLLM2_GGUF is not set (scripts/fetch_default_model.sh prints the path)"; exit 1; }
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
key=e2e-key-0123456789abcdef
echo "{\"$key\": \"e2e\"}" >"$tmp/keys.json"

# start NAME MODEL: starts `hearth serve`, sets ${NAME}_pid, ${NAME}_grpc, ${NAME}_http.
start() {
  local name=$1 model=$2
  "$hearth" serve --model "$model" --address 127.0.0.1 --port 0 --metrics-port -1 --http-port 0 \
    --api-keys "$tmp/keys.json" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do grep -q "serving" "$tmp/$name.out" 2>/dev/null && break; sleep 0.1; done
  local grpc_port http_port
  grpc_port=$(sed -n 's/.*serving .* on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/$name.out")
  http_port=$(sed -n 's|.*HTTP API on http://127.0.0.1:\([0-9]*\)/v1.*|\1|p' "$tmp/$name.out")
  [[ -n "$grpc_port" && -n "$http_port" ]] || { echo "FAIL: $name did not start"; cat "$tmp/$name.out" "$tmp/$name.err"; exit 1; }
  printf -v "${name}_pid" %s "$pid"
  printf -v "${name}_grpc" %s "$grpc_port"
  printf -v "${name}_http" %s "$http_port"
}

start tiny "$stories"
base="http://127.0.0.1:$tiny_http/v1"
echo "stories260K: gRPC $tiny_grpc, HTTP $tiny_http"

# curl: SSE framing, byte for byte. Every event is "data: <payload>\n\n"; the last is [DONE].
curl -sS -N -D "$tmp/sse.headers" -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  -d '{"prompt": "Once upon a time", "max_tokens": 6, "temperature": 0, "stream": true}' \
  "$base/completions" >"$tmp/sse.body"
grep -qi '^content-type: text/event-stream' "$tmp/sse.headers" || { echo "FAIL: SSE content type"; cat "$tmp/sse.headers"; exit 1; }
grep -qi '^transfer-encoding: chunked' "$tmp/sse.headers" || { echo "FAIL: not chunked"; exit 1; }
python3 - "$tmp/sse.body" <<'PY' || { echo "FAIL: SSE framing"; cat "$tmp/sse.body"; exit 1; }
import json, sys
raw = open(sys.argv[1], "rb").read().decode()
assert raw.endswith("data: [DONE]\n\n"), repr(raw[-40:])
events = raw.split("\n\n")
assert events[-1] == "", "trailing bytes after the last event"
events = events[:-1]
for e in events:
    assert e.startswith("data: ") and "\n" not in e, repr(e)
assert events[-1] == "data: [DONE]" and events.count("data: [DONE]") == 1
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert all(c["object"] == "text_completion" for c in chunks)
assert chunks[-1]["choices"][0]["finish_reason"] == "length"
assert sum(1 for c in chunks if c["choices"][0]["finish_reason"]) == 1
print(f"curl SSE framing: ok ({len(events)} events, text {''.join(c['choices'][0]['text'] for c in chunks)!r})")
PY
code=$(curl -s -o "$tmp/401.json" -w '%{http_code}' -H "Content-Type: application/json" \
  -d '{"prompt": "x"}' "$base/completions")
[[ $code == 401 ]] && python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['error']; assert e['message'] and 'type' in e and 'param' in e and 'code' in e" "$tmp/401.json" \
  || { echo "FAIL: no key: HTTP $code"; cat "$tmp/401.json"; exit 1; }
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tiny_http/health") == 200 ]] || { echo "FAIL: /health"; exit 1; }
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tiny_http/ready") == 200 ]] || { echo "FAIL: /ready"; exit 1; }
echo "curl: 401 shape, /health, /ready: ok"

python3 "$here/openai_client_test.py" --http "127.0.0.1:$tiny_http" --grpc "127.0.0.1:$tiny_grpc" --key "$key"

start chat "$HEARTH_SMOLLM2_GGUF"
echo "SmolLM2: gRPC $chat_grpc, HTTP $chat_http"
python3 "$here/openai_client_test.py" --http "127.0.0.1:$chat_http" --grpc "127.0.0.1:$chat_grpc" --key "$key" --chat

for name in tiny chat; do
  pid_var=${name}_pid http_var=${name}_http
  kill -TERM "${!pid_var}"
  rc=0; wait "${!pid_var}" || rc=$?
  [[ $rc -eq 0 ]] || { echo "FAIL: $name exit code $rc"; cat "$tmp/$name.err"; exit 1; }
  if curl -s -o /dev/null "http://127.0.0.1:${!http_var}/health"; then
    echo "FAIL: $name's HTTP port still answers after exit"; exit 1
  fi
done
echo "SIGTERM: exit 0, HTTP closed"
echo PASS
