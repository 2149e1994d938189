#!/usr/bin/env python3
"""Soak client for scripts/soak.sh: drives a running Hearth server with random requests for a
given time, then checks that the KV blocks in use return to their idle value.

Each worker loops: a random prompt (text, token ids, a shared long prefix for the prefix cache,
or a chat the model may not support), random lengths and sampling parameters, stop strings and
stop ids, logprobs, priority, some with a short deadline; and one of: read to the end, abort
through Control.Abort after a few chunks, or cancel the call (a client disconnect). A few
requests are deliberately invalid. Every outcome must be one the API allows; a stream that ends
OK must end with one final chunk whose usage counts the tokens streamed.

With --http-address, --http-concurrency more workers drive the OpenAI-compatible HTTP API at
the same time: completions streamed or not, read to the end or left early (a stream closed
after a few events, an answer given up after a random timeout: the server must cancel both),
a few invalid. A 200 must carry a well-formed answer within max_tokens, an invalid request a
400, a full queue a 429 with Retry-After; anything else is an anomaly.

With --sigterm-pid, it then starts --drain-streams long streams, sends SIGTERM to the server
once each has produced text, and checks that each ends cleanly: status OK with a final chunk
(FINISH_REASON_ABORT if the drain timeout cut it, LENGTH if it finished), and that a request
sent during the drain is refused with UNAVAILABLE.

Prints a summary and, last, one line "soak: ..." with the figures; exits 1 on any anomaly.
"""
import argparse
import asyncio
import collections
import http.client
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks",
                                "serving"))
from load_gen import load_stubs  # noqa: E402  (protoc into a temporary directory)

WORDS = ("Once upon a time there was a little girl named Lily . She liked to play in the park "
         "with her dog , and one day she found a big red ball under a tree . \" Hello ! \" said "
         "the bird . They were happy").split()
ANOMALY = "anomaly: "  # http_one's key prefix for an anomaly
STOPS = [".", "the", " and", "Lily", "!", "\n", "ball", "xyz"]


class Soak:
    def __init__(self, args, pb, pb_grpc, cpb, cpb_grpc):
        self.args, self.pb, self.pb_grpc, self.cpb, self.cpb_grpc = (args, pb, pb_grpc, cpb,
                                                                       cpb_grpc)
        self.counts = collections.Counter()
        self.anomalies = []
        self.next_id = 0
        self.prefix = " ".join(WORDS * 2)  # shared by the "prefix" prompts
        self.prefix_tokens = 0  # measured with Tokenize
        self.context = 0
        self.model = ""  # the served model's name (GetModelInfo), for the OpenAI API

    def anomaly(self, what):
        if len(self.anomalies) < 50:
            self.anomalies.append(what)
        self.counts["anomalies"] += 1

    def random_request(self, rng, vocab):
        pb = self.pb
        self.next_id += 1
        r = pb.GenerateRequest(request_id=f"soak-{self.next_id}")
        kind = rng.random()
        # Text rooms assume at most 4 tokens a word (the words' tokenization is shorter).
        if kind < 0.4:
            words = rng.randint(1, 60)
            r.text = " ".join(rng.choice(WORDS) for _ in range(words))
            room = self.context - 1 - 4 * words
        elif kind < 0.7:
            r.token_ids.ids.extend(rng.randrange(3, vocab) for _ in range(rng.randint(1, 300)))
            room = self.context - len(r.token_ids.ids)
        elif kind < 0.95:
            r.text = self.prefix + " " + " ".join(rng.choice(WORDS) for _ in range(5))
            room = self.context - self.prefix_tokens - 1 - 4 * 5
        else:  # stories260K has no chat template: INVALID_ARGUMENT
            r.chat.messages.add(role="user", content="hello")
            room = 100
        r.max_tokens = rng.randint(1, max(1, min(room, 400)))
        s = r.sampling
        if rng.random() < 0.3:
            s.temperature = 0.0
        else:
            s.temperature = rng.uniform(0.1, 1.5)
            if rng.random() < 0.5:
                s.top_k = rng.randint(0, vocab)
            if rng.random() < 0.5:
                s.top_p = rng.uniform(0.05, 1.0)
            if rng.random() < 0.3:
                s.min_p = rng.uniform(0.0, 0.3)
            if rng.random() < 0.5:
                s.seed = rng.randrange(1 << 63)
        if rng.random() < 0.3:
            s.repetition_penalty = rng.uniform(0.8, 1.5)
            s.presence_penalty = rng.uniform(-1, 1)
            s.frequency_penalty = rng.uniform(-1, 1)
        if rng.random() < 0.4:
            r.stop.stop.extend(rng.sample(STOPS, rng.randint(1, 3)))
        if rng.random() < 0.2:
            r.stop.stop_token_ids.extend(rng.randrange(3, vocab) for _ in range(rng.randint(1, 4)))
        r.stop.ignore_eos = rng.random() < 0.3
        if rng.random() < 0.2:
            r.logprobs = True
            r.top_logprobs = rng.randint(0, 5)
        r.priority = rng.randint(-2, 2)
        r.tenant = rng.choice(["", "team-a", "team-b"])
        invalid = rng.random() < 0.03
        if invalid:
            rng.choice([lambda: setattr(s, "temperature", 11.0),
                        lambda: setattr(r, "max_tokens", 100000),
                        lambda: setattr(r, "priority", 99),
                        lambda: r.stop.stop.append("")])()
        return r, invalid or kind >= 0.95

    async def one(self, rng, stub, control, vocab):
        request, expect_invalid = self.random_request(rng, vocab)
        action = rng.random()
        deadline = rng.uniform(0.02, 1.5) if rng.random() < 0.15 else 120
        abort_after = rng.randint(0, 6) if action < 0.15 else None
        cancel_after = rng.randint(0, 6) if 0.15 <= action < 0.3 else None
        call = stub.Generate(request, timeout=deadline)
        chunks = tokens = 0
        final = None
        cancelled = False
        try:
            async for chunk in call:
                chunks += 1
                tokens += len(chunk.token_ids)
                if chunk.finish_reason != 0:
                    if final is not None:
                        self.anomaly(f"{request.request_id}: two final chunks")
                    final = chunk
                if abort_after is not None and chunks == abort_after + 1:
                    try:
                        await control.Abort(self.cpb.AbortRequest(request_id=request.request_id),
                                            timeout=10)
                        self.counts["aborts sent"] += 1
                    except grpc.aio.AioRpcError as e:  # it may have just finished
                        if e.code() != grpc.StatusCode.NOT_FOUND:
                            self.anomaly(f"Abort {request.request_id}: {e.code().name}")
                        self.counts["aborts too late"] += 1
                if cancel_after is not None and chunks == cancel_after + 1:
                    cancelled = True
                    call.cancel()
                    break
            code = (await call.code()) if not cancelled else grpc.StatusCode.CANCELLED
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
        except grpc.aio.AioRpcError as e:
            code = e.code()
        self.counts["requests"] += 1
        self.counts["chunks"] += chunks
        self.counts["tokens"] += tokens
        if cancelled:
            self.counts["client disconnects"] += 1
            return
        if code == grpc.StatusCode.OK:
            if expect_invalid:
                self.anomaly(f"{request.request_id}: invalid request was served")
            if final is None:
                self.anomaly(f"{request.request_id}: OK without a final chunk")
                return
            reason = self.pb.FinishReason.Name(final.finish_reason)
            self.counts[reason] += 1
            if final.usage.completion_tokens != tokens:
                self.anomaly(f"{request.request_id}: usage {final.usage.completion_tokens} "
                             f"!= {tokens} tokens streamed ({reason})")
            if final.usage.cached_tokens > 0:
                self.counts["with cached tokens"] += 1
            if reason == "FINISH_REASON_ABORT" and abort_after is None:
                self.anomaly(f"{request.request_id}: aborted, not by us")
            if tokens > request.max_tokens:
                self.anomaly(f"{request.request_id}: {tokens} tokens > max {request.max_tokens}")
        elif code == grpc.StatusCode.INVALID_ARGUMENT:
            self.counts["INVALID_ARGUMENT"] += 1
            if not expect_invalid:
                self.anomaly(f"{request.request_id}: INVALID_ARGUMENT for a valid request")
        elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
            self.counts["DEADLINE_EXCEEDED"] += 1
            if deadline > 60:
                self.anomaly(f"{request.request_id}: DEADLINE_EXCEEDED without a short deadline")
        elif code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            self.counts["RESOURCE_EXHAUSTED"] += 1
            await asyncio.sleep(rng.uniform(0.05, 0.3))  # back off, as a client should
        else:
            self.anomaly(f"{request.request_id}: status {code.name}")

    def http_one(self, rng, out):
        """One OpenAI API request (blocking; run in a thread, so it only counts into `out`, which
        the event loop merges). Returns the seconds to back off."""
        rid = f"http-{rng.randrange(1 << 32):08x}"

        def bad(what):
            out[ANOMALY + what] += 1
        words = rng.randint(1, 60)
        body = {"model": self.model, "prompt": " ".join(rng.choice(WORDS) for _ in range(words)),
                "max_tokens": rng.randint(1, max(1, min(self.context - 1 - 4 * words, 400))),
                "temperature": 0 if rng.random() < 0.3 else rng.uniform(0.1, 1.5)}
        if rng.random() < 0.3:
            body["top_p"] = rng.uniform(0.05, 1.0)
        if rng.random() < 0.3:
            body["stop"] = rng.sample(STOPS, rng.randint(1, 3))
        if rng.random() < 0.2:
            body["logprobs"] = rng.randint(0, 5)
        stream = rng.random() < 0.5
        body["stream"] = stream
        invalid = rng.random() < 0.03
        if invalid:
            rng.choice([lambda: body.update(temperature=11.0),
                        lambda: body.update(max_tokens=100000),
                        lambda: body.update(prompt=[[1, -5]])])()
        action = rng.random()
        leave_after = rng.randint(0, 4) if stream and action < 0.2 else None
        timeout = rng.uniform(0.01, 0.5) if not stream and action < 0.2 else 120
        host, port = self.args.http_address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        out["http requests"] += 1
        try:
            conn.request("POST", "/v1/completions", json.dumps(body),
                         {"Content-Type": "application/json"})
            res = conn.getresponse()
            if res.status == 429:
                out["http 429"] += 1
                if res.getheader("Retry-After") is None:
                    bad(f"{rid}: 429 without Retry-After")
                res.read()
                return rng.uniform(0.05, 0.3)
            if res.status == 400:
                out["http 400"] += 1
                err = json.loads(res.read())
                if not invalid or "message" not in err.get("error", {}):
                    bad(f"{rid}: 400 {err}")
                return 0
            if res.status != 200:
                bad(f"{rid}: HTTP {res.status}: {res.read()[:200]!r}")
                return 0
            if invalid:
                bad(f"{rid}: invalid request was served")
            if not stream:
                answer = json.loads(res.read())
                choice = answer["choices"][0]
                out[f"http finish {choice['finish_reason']}"] += 1
                if answer["usage"]["completion_tokens"] > body["max_tokens"]:
                    bad(f"{rid}: {answer['usage']} over max_tokens {body['max_tokens']}")
                return 0
            events, done = 0, False
            for line in res:
                line = line.strip()
                if not line:
                    continue
                if line == b"data: [DONE]":
                    done = True
                    break
                event = json.loads(line[len(b"data: "):])
                if "error" in event:
                    bad(f"{rid}: error event {event}")
                events += 1
                if leave_after is not None and events > leave_after:
                    out["http streams left"] += 1
                    return 0
            if not done:
                bad(f"{rid}: stream without [DONE] after {events} events")
            out["http streams read"] += 1
            return 0
        except (socket.timeout, TimeoutError):
            if timeout > 60:
                bad(f"{rid}: timed out")
            out["http answers given up"] += 1
            return 0
        except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
            bad(f"{rid}: {type(e).__name__}: {e}")
            return 0
        finally:
            conn.close()

    async def run(self):
        args = self.args
        async with grpc.aio.insecure_channel(args.address) as channel:
            stub = self.pb_grpc.InferenceStub(channel)
            control = self.cpb_grpc.ControlStub(channel)
            info = await stub.GetModelInfo(self.pb.GetModelInfoRequest(), timeout=60)
            idle = await control.GetLoad(self.cpb.GetLoadRequest(), timeout=10)
            self.context = info.context_length
            self.model = info.name
            self.prefix_tokens = len((await stub.Tokenize(
                self.pb.TokenizeRequest(text=self.prefix), timeout=10)).ids)
            print(f"model {info.name}: vocab {info.vocab_size}, context {info.context_length}, "
                  f"KV blocks {info.kv_blocks_total} x {info.kv_block_size} tokens; idle KV "
                  f"blocks used {idle.kv_blocks_used}", flush=True)
            end = time.monotonic() + args.minutes * 60
            peak = 0

            async def worker(seed):
                rng = random.Random(seed)
                while time.monotonic() < end:
                    await self.one(rng, stub, control, info.vocab_size)

            async def http_worker(seed):
                rng = random.Random(seed)
                while time.monotonic() < end:
                    out = collections.Counter()
                    backoff = await asyncio.to_thread(self.http_one, rng, out)
                    for key, n in out.items():
                        if key.startswith(ANOMALY):
                            self.anomaly(key[len(ANOMALY):])
                        else:
                            self.counts[key] += n
                    await asyncio.sleep(backoff)

            async def monitor():
                nonlocal peak
                last = time.monotonic()
                while time.monotonic() < end:
                    await asyncio.sleep(1)
                    load = await control.GetLoad(self.cpb.GetLoadRequest(), timeout=10)
                    peak = max(peak, load.kv_blocks_used)
                    if time.monotonic() - last >= 60:
                        last = time.monotonic()
                        print(f"  {int(end - time.monotonic())} s left: {dict(self.counts)}; "
                              f"KV blocks used now {load.kv_blocks_used}", flush=True)

            http_workers = args.http_concurrency if args.http_address else 0
            await asyncio.gather(monitor(),
                                 *(worker(args.seed * 1000 + i) for i in range(args.concurrency)),
                                 *(http_worker(args.seed * 1000 + 500 + i)
                                   for i in range(http_workers)))
            # Every stream has ended; aborted and cancelled ones free their blocks at the
            # engine's next step.
            settle = time.monotonic() + 30
            while True:
                load = await control.GetLoad(self.cpb.GetLoadRequest(), timeout=10)
                if (load.kv_blocks_used == idle.kv_blocks_used and load.running == 0 and
                        load.waiting == 0) or time.monotonic() > settle:
                    break
                await asyncio.sleep(0.2)
            leaked = load.kv_blocks_used - idle.kv_blocks_used
            if leaked != 0 or load.running != 0 or load.waiting != 0:
                self.anomaly(f"after the run: {load.kv_blocks_used} KV blocks used (idle "
                             f"{idle.kv_blocks_used}), {load.running} running, {load.waiting} "
                             "waiting")
            print(f"after the run: KV blocks used {load.kv_blocks_used} (idle "
                  f"{idle.kv_blocks_used}), prefix-cache hit rate "
                  f"{load.prefix_cache_hit_rate:.3f}", flush=True)
            if args.sigterm_pid:
                await self.drain(stub, info)
            return leaked, peak, load

    async def drain(self, stub, info):
        """Long streams in flight when the server gets SIGTERM must end cleanly."""
        pb = self.pb
        first = asyncio.Event()
        started = 0

        async def long_stream(i):
            nonlocal started
            request = pb.GenerateRequest(
                request_id=f"drain-{i}", token_ids=pb.TokenIds(ids=[1, 100 + i]),
                max_tokens=info.context_length - 2, stop=pb.StopRules(ignore_eos=True),
                sampling=pb.SamplingParams(temperature=0.8, seed=i))
            call = stub.Generate(request, timeout=120)
            tokens, final = 0, None
            try:
                async for chunk in call:
                    if tokens == 0 and chunk.token_ids:
                        started += 1
                        if started == self.args.drain_streams:
                            first.set()
                    tokens += len(chunk.token_ids)
                    if chunk.finish_reason != 0:
                        final = chunk
                code = await call.code()
            except grpc.aio.AioRpcError as e:
                code = e.code()
            reason = pb.FinishReason.Name(final.finish_reason) if final else "no final chunk"
            self.counts[f"drain: {code.name} {reason}"] += 1
            if code != grpc.StatusCode.OK or reason not in ("FINISH_REASON_ABORT",
                                                            "FINISH_REASON_LENGTH"):
                self.anomaly(f"drain-{i}: {code.name}, {reason}")
            elif final.usage.completion_tokens != tokens:
                self.anomaly(f"drain-{i}: usage {final.usage.completion_tokens} != {tokens}")

        async def terminate():
            await asyncio.wait_for(first.wait(), 60)
            os.kill(self.args.sigterm_pid, signal.SIGTERM)
            await asyncio.sleep(0.05)
            try:  # refused while draining (UNAVAILABLE, or no listener at all)
                async for _ in stub.Generate(pb.GenerateRequest(text="late", max_tokens=2),
                                             timeout=10):
                    pass
                self.anomaly("a request sent after SIGTERM was served")
            except grpc.aio.AioRpcError as e:
                self.counts[f"drain: late request {e.code().name}"] += 1
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    self.anomaly(f"late request during drain: {e.code().name}")

        await asyncio.gather(terminate(),
                             *(long_stream(i) for i in range(self.args.drain_streams)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default="127.0.0.1:50051")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--concurrency", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sigterm-pid", type=int, default=0,
                   help="after the run, SIGTERM this server with streams in flight")
    p.add_argument("--drain-streams", type=int, default=4)
    p.add_argument("--http-address", default="",
                   help="host:port of the server's OpenAI-compatible HTTP API, to drive it too")
    p.add_argument("--http-concurrency", type=int, default=4)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        soak = Soak(args, *load_stubs(tmp))
        start = time.monotonic()
        leaked, peak, load = asyncio.run(soak.run())
        wall = time.monotonic() - start
    c = soak.counts
    for a in soak.anomalies:
        print("ANOMALY:", a)
    print("outcomes:", dict(sorted(c.items())))
    print(f"soak: {wall / 60:.1f} min, {c['requests']} requests, {c['tokens']} tokens streamed, "
          f"{c['aborts sent']} aborts, {c['client disconnects']} disconnects, "
          f"{c['DEADLINE_EXCEEDED']} deadlines, {c['RESOURCE_EXHAUSTED']} refused, "
          f"{c['http requests']} HTTP requests ({c['http streams left']} streams left, "
          f"{c['http answers given up']} answers given up), "
          f"peak KV blocks {peak}/{load.kv_blocks_total}, leaked KV blocks {leaked}, "
          f"anomalies {c['anomalies']}")
    return 1 if c["anomalies"] else 0


if __name__ == "__main__":
    sys.exit(main())
