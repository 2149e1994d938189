#!/usr/bin/env python3
"""Writes request_fuzzer's seed corpus (run from anywhere; rewrites tests/fuzz/request_fuzzer/).

Each seed is the fuzzer's mode byte (tests/fuzz/request_fuzzer.cc) then the request: OpenAI JSON
bodies for both endpoints, and Generate / Tokenize / Detokenize protobufs, encoded here by hand
(standard library only) from proto/hearth/v1/inference.proto's field numbers.
"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "request_fuzzer")

COMPLETIONS, CHAT, GENERATE, TOKENIZE = 0, 1, 2, 3
DETOKENIZE_BIT, AUTH_BIT = 0x10, 0x20


def template(i):  # bits 2..3: qwen3, llama3.1, hermes3, smollm2
    return i << 2


# ---- protobuf wire format ----------------------------------------------------------------------

def varint(v):
    v &= (1 << 64) - 1  # negative int32 / int64: ten bytes, two's complement
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_int(field, v):
    return key(field, 0) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return key(field, 2) + varint(len(b)) + b


def f_float(field, v):
    return key(field, 5) + struct.pack("<f", v)


def f_packed(field, values):
    return f_bytes(field, b"".join(varint(v) for v in values))


def message(role, content=None, tool_calls=(), tool_call_id=None, name=None):
    m = f_bytes(1, role)
    if content is not None:
        m += f_bytes(2, content)
    if tool_call_id:
        m += f_bytes(3, tool_call_id)
    for c in tool_calls:
        m += f_bytes(4, c)
    if name:
        m += f_bytes(5, name)
    return m


def sampling(temperature=None, top_k=0, top_p=None, min_p=0.0, seed=None):
    s = b""
    if temperature is not None:
        s += f_float(1, temperature)
    if top_k:
        s += f_int(2, top_k)
    if top_p is not None:
        s += f_float(3, top_p)
    if min_p:
        s += f_float(4, min_p)
    if seed is not None:
        s += f_int(8, seed)
    return s


# ---- seeds -------------------------------------------------------------------------------------

TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}
CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}


def json_seeds():
    chat = {"model": "m.gguf", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "What is the weather in Paris?"}],
        "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "seed": 7}
    tools = {"messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"}],
        "tools": [TOOL], "tool_choice": "auto", "stream": True,
        "stream_options": {"include_usage": True}}
    parts = {"messages": [{"role": "developer", "content": "terse"}, {"role": "user", "content": [
        {"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "name": "ann"}],
        "logprobs": True, "top_logprobs": 3, "stop": ["\n\n", "END"], "n": 1,
        "presence_penalty": 0.5, "frequency_penalty": -0.5, "min_p": 0.05, "top_k": 40}
    completion = {"model": "m.gguf", "prompt": "Once upon a time", "max_tokens": 8,
                  "temperature": 0, "logprobs": 2, "stop": "."}
    ids = {"prompt": [1, 2, 3, 255], "max_completion_tokens": 4, "user": "team-a"}
    # Qwen3's template tests '</think>' in the content, which fails on None as in jinja2.
    tools_qwen3 = json.loads(json.dumps(tools))
    tools_qwen3["messages"][1]["content"] = ""
    return [
        ("chat_basic", CHAT | template(0), chat),
        ("chat_tools_qwen3", CHAT | template(0), tools_qwen3),
        ("chat_tools_llama31", CHAT | template(1), tools),
        ("chat_tools_hermes3", CHAT | template(2) | AUTH_BIT, tools),
        ("chat_parts_smollm2", CHAT | template(3), parts),
        ("completion_text", COMPLETIONS, completion),
        ("completion_ids", COMPLETIONS | AUTH_BIT, ids),
    ]


def proto_seeds():
    text = (f_bytes(1, "req-1") + f_bytes(2, "Hello there") + f_int(5, 8) +
            f_bytes(6, sampling(temperature=0.8, top_k=40, top_p=0.95, seed=3)) +
            f_bytes(7, f_bytes(1, "END") + f_packed(2, [257])) + f_int(8, 1) + f_int(9, 2) +
            f_bytes(11, "team-a"))
    ids = f_bytes(3, f_packed(1, [256, 72, 105])) + f_int(5, 4) + f_int(12, -1)
    def chat(assistant_content):
        chat_input = (f_bytes(1, message("system", "be brief")) +
                      f_bytes(1, message("user", "Weather in Paris?")) +
                      f_bytes(1, message("assistant", assistant_content, [json.dumps(CALL)])) +
                      f_bytes(1, message("tool", "{\"temp\": 21}", tool_call_id="call_1")) +
                      f_bytes(2, json.dumps(TOOL)) + f_int(3, 1))
        return f_bytes(4, chat_input) + f_int(5, 16) + f_bytes(6, sampling(min_p=0.1))
    tokenize = f_bytes(1, "<s>Hello") + f_int(2, 0) + f_int(3, 1)
    detokenize = f_packed(1, [72, 105, 257]) + f_int(2, 1)
    return [
        ("generate_text", GENERATE, text),
        ("generate_ids", GENERATE | AUTH_BIT, ids),
        ("generate_chat_qwen3", GENERATE | template(0), chat("")),
        ("generate_chat_hermes3", GENERATE | template(2), chat(None)),
        ("tokenize", TOKENIZE, tokenize),
        ("detokenize", TOKENIZE | DETOKENIZE_BIT, detokenize),
    ]


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name, mode, body in json_seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes([mode]) + json.dumps(body).encode())
    for name, mode, body in proto_seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(bytes([mode]) + body)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("Seeds of request_fuzzer (tests/fuzz/request_fuzzer.cc), written by "
                "tests/fuzz/make_request_seeds.py: the mode byte, then an OpenAI JSON body or a "
                "hearth.v1 protobuf.\n")


if __name__ == "__main__":
    main()
