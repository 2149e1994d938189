#!/usr/bin/env python3
"""The official `openai` package against a live `hearth serve --http-port`, beside gRPC.

    openai_client_test.py --http 127.0.0.1:8000 --grpc 127.0.0.1:50051 --key KEY [--chat]

Completions (and with --chat, chat completions) streaming and not, usage (also through
stream_options.include_usage), logprobs, errors raised as the library's exception types, greedy
output over HTTP equal to gRPC's for the same request, and 16 HTTP + 16 gRPC streams at once each
equal to its solo output. Exits non-zero on the first failed check.
"""
import argparse
import os
import sys
import tempfile
import threading

import grpc
import openai

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
from python_client import load_stubs  # noqa: E402  (compiles proto/ into a temporary dir)

PROMPTS = ["Once upon a time", "The little dog", "Lily and Ben", "One day, a bird",
           "The sun was", "Tom had a red ball", "In the park", "Mom said"]


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")


class Grpc:
    def __init__(self, address, key):
        self.tmp = tempfile.TemporaryDirectory()
        self.pb, pb_grpc = load_stubs(self.tmp.name)
        self.channel = grpc.insecure_channel(address)
        self.stub = pb_grpc.InferenceStub(self.channel)
        self.metadata = [("authorization", f"Bearer {key}")]

    def generate(self, max_tokens, text=None, messages=None):
        r = self.pb.GenerateRequest(max_tokens=max_tokens,
                                    sampling=self.pb.SamplingParams(temperature=0.0))
        if messages is None:
            r.text = text
        else:
            for m in messages:
                r.chat.messages.add(role=m["role"], content=m["content"])
        out, final = "", None
        for chunk in self.stub.Generate(r, timeout=120, metadata=self.metadata):
            out += chunk.text
            final = chunk
        return out, final


def completions(client, grpc_client):
    prompt = PROMPTS[0]
    want, final = grpc_client.generate(24, text=prompt)
    r = client.completions.create(model=client.model_name, prompt=prompt, max_tokens=24,
                                  temperature=0)
    check(r.choices[0].text == want, f"HTTP completion {r.choices[0].text!r} != gRPC {want!r}")
    check(r.object == "text_completion" and r.id.startswith("cmpl-"), f"envelope {r}")
    check(r.usage.prompt_tokens == final.usage.prompt_tokens, f"prompt tokens {r.usage}")
    check(r.usage.completion_tokens == final.usage.completion_tokens == 24, f"usage {r.usage}")
    check(r.usage.total_tokens == r.usage.prompt_tokens + 24, f"total {r.usage}")
    check(r.usage.prompt_tokens_details.cached_tokens >= 0, "cached tokens")
    check(r.choices[0].finish_reason == "length", f"finish {r.choices[0].finish_reason}")

    stream = client.completions.create(model=client.model_name, prompt=prompt, max_tokens=24,
                                       temperature=0, stream=True,
                                       stream_options={"include_usage": True})
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].text
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    check(text == want, f"streamed {text!r} != {want!r}")
    check(finish == "length", f"streamed finish {finish}")
    check(usage is not None and usage.completion_tokens == 24, f"include_usage: {usage}")

    r = client.completions.create(model=client.model_name, prompt=prompt, max_tokens=8,
                                  temperature=0, logprobs=2)
    lp = r.choices[0].logprobs
    check(len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == 8, f"logprobs {lp}")
    check(all(v <= 0 for v in lp.token_logprobs), "logprobs <= 0")
    check("".join(lp.tokens) == r.choices[0].text, f"tokens {lp.tokens} vs {r.choices[0].text!r}")

    stop_at = want[len(want) // 2:len(want) // 2 + 3]
    r = client.completions.create(model=client.model_name, prompt=prompt, max_tokens=24,
                                  temperature=0, stop=[stop_at])
    check(r.choices[0].text == want[:want.index(stop_at)] and r.choices[0].finish_reason == "stop",
          f"stop {stop_at!r}: {r.choices[0]}")
    models = client.models.list()
    check([m.id for m in models.data] == [client.model_name], f"models {models}")
    print("completions: ok")


def chat(client, grpc_client):
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is the capital of France?"}]
    want, final = grpc_client.generate(16, messages=messages)
    r = client.chat.completions.create(model=client.model_name, messages=messages,
                                       max_completion_tokens=16, temperature=0)
    check(r.choices[0].message.content == want, f"HTTP chat {r.choices[0].message.content!r} != "
          f"gRPC {want!r}")
    check(r.choices[0].message.role == "assistant" and r.object == "chat.completion", f"{r}")
    check(r.usage.prompt_tokens == final.usage.prompt_tokens, f"usage {r.usage}")
    # The second identical prompt hits the prefix cache of the first (one engine for both APIs).
    check(r.usage.prompt_tokens_details.cached_tokens > 0, f"cached tokens {r.usage}")

    stream = client.chat.completions.create(model=client.model_name, messages=messages,
                                            max_tokens=16, temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    text, usage, roles = "", None, []
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            roles.append(chunk.choices[0].delta.role)
        usage = chunk.usage or usage
    check(text == want, f"streamed chat {text!r} != {want!r}")
    check(roles[0] == "assistant", f"first delta role {roles[:2]}")
    check(usage is not None and usage.prompt_tokens == final.usage.prompt_tokens, f"{usage}")

    r = client.chat.completions.create(model=client.model_name, messages=messages, max_tokens=4,
                                       temperature=0, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    check(len(content) == 4 and all(len(t.top_logprobs) == 3 for t in content), f"{content}")
    print("chat: ok")


def errors(client, url, key):
    def expect(exc, what, fn):
        try:
            fn()
        except exc as e:
            check(e.body is None or "message" in e.body, f"{what}: error body {e.body}")
            return
        except openai.APIError as e:
            sys.exit(f"FAIL: {what}: {type(e).__name__} instead of {exc.__name__}: {e}")
        sys.exit(f"FAIL: {what}: no error")

    name = client.model_name
    bad_key = openai.OpenAI(base_url=url, api_key="not-a-key-0123456789", max_retries=0)
    expect(openai.AuthenticationError, "unknown key",
           lambda: bad_key.completions.create(model=name, prompt="x", max_tokens=2))
    expect(openai.AuthenticationError, "unknown key on /v1/models", lambda: bad_key.models.list())
    expect(openai.BadRequestError, "temperature 11",
           lambda: client.completions.create(model=name, prompt="x", temperature=11))
    expect(openai.BadRequestError, "n=2",
           lambda: client.completions.create(model=name, prompt="x", n=2))
    expect(openai.BadRequestError, "empty prompt",
           lambda: client.completions.create(model=name, prompt="", max_tokens=2))
    expect(openai.BadRequestError, "max_tokens beyond the context",
           lambda: client.completions.create(model=name, prompt="x", max_tokens=10**6))
    expect(openai.NotFoundError, "wrong model",
           lambda: client.completions.create(model="gpt-4o", prompt="x", max_tokens=2))
    expect(openai.BadRequestError, "bad stop in a stream",
           lambda: list(client.completions.create(model=name, prompt="x", stream=True,
                                                  stop=[""])))
    try:
        client.completions.create(model=name, prompt="x", top_p=0)
    except openai.BadRequestError as e:
        check(e.body.get("param") == "top_p" and "top_p" in e.body["message"], f"param: {e.body}")
    print("errors: ok")


def concurrency(client, grpc_client):
    prompts = [(PROMPTS[i % len(PROMPTS)] + " " * (i // len(PROMPTS)), 20 + i % 7)
               for i in range(16)]
    solo = [grpc_client.generate(n, text=p)[0] for p, n in prompts]
    http_out, grpc_out, failures = [None] * 16, [None] * 16, []

    def http_stream(i):
        try:
            p, n = prompts[i]
            s = client.completions.create(model=client.model_name, prompt=p, max_tokens=n,
                                          temperature=0, stream=True)
            http_out[i] = "".join(c.choices[0].text for c in s if c.choices)
        except Exception as e:  # noqa: BLE001  (reported below)
            failures.append(f"http {i}: {e!r}")

    def grpc_stream(i):
        try:
            grpc_out[i] = grpc_client.generate(prompts[i][1], text=prompts[i][0])[0]
        except Exception as e:  # noqa: BLE001
            failures.append(f"grpc {i}: {e!r}")

    threads = [threading.Thread(target=http_stream, args=(i,)) for i in range(16)]
    threads += [threading.Thread(target=grpc_stream, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not failures, f"concurrent streams failed: {failures}")
    for i in range(16):
        check(http_out[i] == solo[i], f"HTTP stream {i}: {http_out[i]!r} != solo {solo[i]!r}")
        check(grpc_out[i] == solo[i], f"gRPC stream {i}: {grpc_out[i]!r} != solo {solo[i]!r}")
    print("16 HTTP + 16 gRPC concurrent streams: ok")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--http", required=True)
    p.add_argument("--grpc", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--chat", action="store_true", help="the model has a chat template")
    args = p.parse_args()
    url = f"http://{args.http}/v1"
    client = openai.OpenAI(base_url=url, api_key=args.key, max_retries=0, timeout=120)
    client.model_name = client.models.list().data[0].id
    grpc_client = Grpc(args.grpc, args.key)
    if args.chat:
        chat(client, grpc_client)
        return
    completions(client, grpc_client)
    errors(client, url, args.key)
    concurrency(client, grpc_client)
    try:
        client.chat.completions.create(model=client.model_name, max_tokens=2,
                                       messages=[{"role": "user", "content": "hi"}])
        sys.exit("FAIL: chat on a model without a chat template")
    except openai.BadRequestError as e:
        check("chat template" in e.body["message"], f"{e.body}")


if __name__ == "__main__":
    main()
