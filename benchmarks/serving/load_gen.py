#!/usr/bin/env python3
"""Serving benchmark: drives a running Hearth server with N concurrent streams and reports output
tokens/s, TTFT and TPOT percentiles, and dollars per million output tokens.

Prompts are random token ids (--input-len each) and every request generates exactly --output-len
tokens (ignore_eos), as in the usual "1000 in / 1000 out" throughput runs. Cost: the wall time of
the run at --gpu-price-per-hour over the output tokens (the server's own per-tenant figure is
printed beside it, from Control.GetLoad, when the server knows its price).

    python3 benchmarks/serving/load_gen.py --address 127.0.0.1:50051 --concurrency 64 \\
        --requests 512 --input-len 1000 --output-len 1000 --gpu-price-per-hour 2.5
"""
import argparse
import asyncio
import importlib
import os
import random
import statistics
import sys
import tempfile
import time

import grpc
from grpc_tools import protoc

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")


def load_stubs(out_dir):
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out_dir}",
                      f"--grpc_python_out={out_dir}", "hearth/v1/inference.proto",
                      "hearth/v1/control.proto"])
    if rc != 0:
        sys.exit(f"protoc failed ({rc})")
    sys.path.insert(0, out_dir)
    return [importlib.import_module(f"hearth.v1.{m}") for m in
            ("inference_pb2", "inference_pb2_grpc", "control_pb2", "control_pb2_grpc")]


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


async def one_request(stub, pb, args, rng, metadata, results):
    ids = [rng.randrange(args.min_token_id, args.vocab_size) for _ in range(args.input_len)]
    request = pb.GenerateRequest(token_ids=pb.TokenIds(ids=ids), max_tokens=args.output_len,
                                 sampling=pb.SamplingParams(temperature=args.temperature),
                                 stop=pb.StopRules(ignore_eos=True), tenant=args.tenant)
    start = time.perf_counter()
    first = None
    tokens = 0
    try:
        async for chunk in stub.Generate(request, metadata=metadata, timeout=args.timeout):
            if chunk.token_ids and first is None:
                first = time.perf_counter()
            tokens += len(chunk.token_ids)
    except grpc.aio.AioRpcError as e:
        results.append({"error": e.code().name})
        return
    end = time.perf_counter()
    results.append({"ttft": (first or end) - start, "tokens": tokens,
                    "tpot": (end - first) / (tokens - 1) if first and tokens > 1 else None})


async def run(args, pb, pb_grpc, cpb, cpb_grpc):
    metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else []
    async with grpc.aio.insecure_channel(args.address) as channel:
        stub = pb_grpc.InferenceStub(channel)
        rng = random.Random(args.seed)
        results = []
        queue = asyncio.Queue()
        for _ in range(args.requests):
            queue.put_nowait(None)

        async def worker():
            while not queue.empty():
                queue.get_nowait()
                await one_request(stub, pb, args, rng, metadata, results)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall = time.perf_counter() - start
        load = None
        try:
            load = await cpb_grpc.ControlStub(channel).GetLoad(cpb.GetLoadRequest(),
                                                               metadata=metadata, timeout=10)
        except grpc.aio.AioRpcError:
            pass
    return results, wall, load


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", default="127.0.0.1:50051")
    p.add_argument("--api-key", default="")
    p.add_argument("--tenant", default="")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--requests", type=int, default=64)
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--vocab-size", type=int, default=0, help="0 = ask GetModelInfo")
    p.add_argument("--min-token-id", type=int, default=3, help="skip BOS/EOS-like low ids")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--gpu-price-per-hour", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pb, pb_grpc, cpb, cpb_grpc = load_stubs(tmp)
        if args.vocab_size == 0:
            with grpc.insecure_channel(args.address) as ch:
                md = [("authorization", f"Bearer {args.api_key}")] if args.api_key else []
                info = pb_grpc.InferenceStub(ch).GetModelInfo(pb.GetModelInfoRequest(),
                                                              metadata=md, timeout=30)
                args.vocab_size = info.vocab_size
        if args.vocab_size <= args.min_token_id:
            sys.exit(f"vocab size {args.vocab_size} leaves no token ids >= {args.min_token_id}")
        results, wall, load = asyncio.run(run(args, pb, pb_grpc, cpb, cpb_grpc))
    ok = [r for r in results if "error" not in r]
    errors = len(results) - len(ok)
    out_tokens = sum(r["tokens"] for r in ok)
    ttft = [r["ttft"] * 1e3 for r in ok]
    tpot = [r["tpot"] * 1e3 for r in ok if r["tpot"] is not None]
    print(f"requests: {len(ok)} ok, {errors} failed | concurrency {args.concurrency} | "
          f"{args.input_len} in / {args.output_len} out | wall {wall:.2f} s")
    print(f"output tokens/s: {out_tokens / wall:.1f}")
    print(f"TTFT ms: p50 {percentile(ttft, 50):.1f}  p90 {percentile(ttft, 90):.1f}  "
          f"p99 {percentile(ttft, 99):.1f}")
    print(f"TPOT ms: p50 {percentile(tpot, 50):.2f}  p90 {percentile(tpot, 90):.2f}  "
          f"p99 {percentile(tpot, 99):.2f}")
    if args.gpu_price_per_hour > 0 and out_tokens > 0:
        usd = args.gpu_price_per_hour / 3600 * wall / (out_tokens / 1e6)
        print(f"$/M output tokens (wall time at ${args.gpu_price_per_hour}/h): {usd:.4f}")
    if load is not None and load.gpu_usd_per_hour > 0:
        for t in load.tenants:
            print(f"server: tenant {t.tenant}: ${t.usd_per_million_output_tokens:.4f} per M "
                  f"output tokens (device time)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
