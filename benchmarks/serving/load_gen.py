#!/usr/bin/env python3
"""Serving benchmark: drives a running Hearth server over gRPC and reports throughput, latency,
decode memory-bandwidth use and cost per million output tokens.

Every request sends --input-len random token ids and generates exactly --output-len tokens
(ignore_eos), as in the usual "1000 in / 1000 out" runs. Load levels:
  --concurrency 1,8,32      closed loop: N streams, each sends its next request when one ends;
  --request-rate 0.5,2,inf  open loop: Poisson arrivals at R requests/s (inf = all at once),
                            optionally capped by --max-concurrency.
Per level: output tokens/s, requests/s, TTFT, TPOT and inter-token latency p50/p90/p99, the mean
decode batch, the achieved decode bandwidth ((weight bytes + KV bytes read per step) / TPOT, with
the weight and KV sizes from GetModelInfo or flags) as a fraction of --bandwidth-gbps, and $ per
million output tokens at --gpu-price-per-hour, printed beside the API list prices of
api_prices.json. --json writes everything; --plot draws output tokens/s against TPOT.

    python3 benchmarks/serving/load_gen.py --address 127.0.0.1:50051 --concurrency 1,64,256 \\
        --input-len 1000 --output-len 1000 --gpu-price-per-hour 2.5 --bandwidth-gbps 3350 \\
        --json out.json --plot out.png
"""
import argparse
import asyncio
import datetime
import importlib
import json
import math
import os
import platform
import random
import sys
import tempfile
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "proto")
sys.path.insert(0, HERE)
import report  # noqa: E402
import serving_stats  # noqa: E402


def load_stubs(out_dir, stubs_dir=None):
    """The hearth.v1 Python modules: from stubs_dir if given (generated elsewhere, for machines
    without grpcio-tools), else compiled from proto/ into out_dir now."""
    if stubs_dir is None:
        try:
            from grpc_tools import protoc
        except ImportError:
            sys.exit("error: grpcio-tools is not installed; install it, or pass --stubs DIR "
                     "holding hearth/v1/*_pb2*.py generated on another machine")
        include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        rc = protoc.main(["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out_dir}",
                          f"--grpc_python_out={out_dir}", "hearth/v1/inference.proto",
                          "hearth/v1/control.proto"])
        if rc != 0:
            sys.exit(f"error: protoc failed ({rc}) on {PROTO_DIR}")
        stubs_dir = out_dir
    sys.path.insert(0, stubs_dir)
    return [importlib.import_module(f"hearth.v1.{m}") for m in
            ("inference_pb2", "inference_pb2_grpc", "control_pb2", "control_pb2_grpc")]


def parse_levels(text, kind):
    levels = []
    for part in text.split(","):
        part = part.strip()
        try:
            v = math.inf if part == "inf" else (int(part) if kind == "concurrency" else float(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"--{kind}: '{part}' is not a number")
        if not v > 0:
            raise argparse.ArgumentTypeError(f"--{kind}: levels must be > 0, got {part}")
        levels.append(v)
    return levels


class Driver:
    """Sends benchmark requests on one channel and records their timings."""

    def __init__(self, args, stubs, channel, metadata, vocab_size):
        self.args, self.metadata, self.vocab_size = args, metadata, vocab_size
        self.pb, self.pb_grpc = stubs[0], stubs[1]
        self.stub = self.pb_grpc.InferenceStub(channel)
        self.rng = random.Random(args.seed)

    def request(self):
        a = self.args
        ids = [self.rng.randrange(a.min_token_id, self.vocab_size) for _ in range(a.input_len)]
        return self.pb.GenerateRequest(
            token_ids=self.pb.TokenIds(ids=ids), max_tokens=a.output_len,
            sampling=self.pb.SamplingParams(temperature=a.temperature),
            stop=self.pb.StopRules(ignore_eos=True), tenant=a.tenant)

    async def one(self, records):
        request = self.request()
        rec = {"start": time.perf_counter(), "first": None, "tokens": 0, "gaps": []}
        last = None
        try:
            async for chunk in self.stub.Generate(request, metadata=self.metadata,
                                                  timeout=self.args.timeout):
                now = time.perf_counter()
                n = len(chunk.token_ids)
                if n:
                    if rec["first"] is None:
                        rec["first"] = now
                    else:
                        rec["gaps"] += [(now - last) / n] * n
                    last = now
                    rec["tokens"] += n
                if chunk.HasField("usage"):
                    rec["prompt_tokens"] = chunk.usage.prompt_tokens
                if chunk.HasField("timings"):
                    rec["server_first_token_ms"] = chunk.timings.first_token_ms
        except grpc.aio.AioRpcError as e:
            records.append({"error": e.code().name, "detail": e.details()})
            return
        rec["end"] = time.perf_counter()
        if rec["tokens"] != self.args.output_len:
            rec["error"] = f"GOT_{rec['tokens']}_TOKENS"
        records.append(rec)

    async def closed_loop(self, concurrency, n_requests):
        records, left = [], [n_requests]

        async def worker():
            while left[0] > 0:
                left[0] -= 1
                await self.one(records)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(concurrency, n_requests))))
        return records, time.perf_counter() - start

    async def open_loop(self, rate, n_requests, max_concurrency):
        records = []
        gate = asyncio.Semaphore(max_concurrency) if max_concurrency else None

        async def send():
            if gate is None:
                return await self.one(records)
            async with gate:
                await self.one(records)

        start = time.perf_counter()
        tasks = []
        for i in range(n_requests):
            tasks.append(asyncio.create_task(send()))
            if rate != math.inf and i + 1 < n_requests:
                await asyncio.sleep(self.rng.expovariate(rate))
        await asyncio.gather(*tasks)
        return records, time.perf_counter() - start


def host_copy_bandwidth_gbps(nbytes=256 << 20, reps=5):
    """Bytes read + written per second by a numpy copy of nbytes (the best of reps): a rough
    memory-bandwidth ceiling for CPU runs (one thread)."""
    import numpy as np
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    best = math.inf
    for _ in range(reps):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return 2 * nbytes / best / 1e9


async def benchmark(args, stubs, info):
    metadata = [("authorization", f"Bearer {args.api_key}")] if args.api_key else []
    runs = []
    async with grpc.aio.insecure_channel(args.address) as channel:
        driver = Driver(args, stubs, channel, metadata, info["vocab_size"])
        if args.warmup:
            records, _ = await driver.closed_loop(1, args.warmup)
            bad = [r for r in records if "error" in r]
            if bad:
                sys.exit(f"error: warm-up request failed: {bad[0]}")
        levels = [("concurrency", c) for c in args.concurrency or []]
        levels += [("rate", r) for r in args.request_rate or []]
        for kind, level in levels:
            cpu0 = time.process_time()
            if kind == "concurrency":
                n = args.requests or max(4, args.waves * level)
                label = f"c={level}"
                records, wall = await driver.closed_loop(level, n)
            else:
                n = args.requests or 32
                label = f"rate={level:g}/s" if level != math.inf else "rate=inf"
                records, wall = await driver.open_loop(level, n, args.max_concurrency)
            summary = serving_stats.summarize(records, wall)
            # The client's own CPU use: on a small machine it competes with the server.
            summary["client_cpu_fraction"] = (time.process_time() - cpu0) / wall if wall else 0.0
            run = {"label": label, "kind": kind, "level": level if level != math.inf else "inf",
                   "requests": n, "summary": summary,
                   "bandwidth": serving_stats.decode_bandwidth(
                       summary, info["weight_bytes"], info["kv_bytes_per_token"],
                       args.input_len, args.output_len, args.bandwidth_gbps),
                   "cost": serving_stats.cost(summary, args.gpu_price_per_hour)}
            failed = [r for r in records if "error" in r]
            if failed:
                run["first_error"] = {k: failed[0][k] for k in ("error", "detail") if k in failed[0]}
            runs.append(run)
            print(f"  {label}: {summary['output_tokens_per_s']:.1f} output tok/s, "
                  f"{summary['requests_ok']} ok / {summary['requests_failed']} failed "
                  f"in {wall:.1f} s (client used {100 * summary['client_cpu_fraction']:.0f}% "
                  f"of a core)", flush=True)
            if summary["client_cpu_fraction"] > 0.8:
                print(f"  warning: the client used {100 * summary['client_cpu_fraction']:.0f}% "
                      "of a core: it may be what limits this level (figures are a lower bound; "
                      "split the load over several load_gen processes)", flush=True)
    return runs


def model_info(args, stubs):
    pb, pb_grpc = stubs[0], stubs[1]
    md = [("authorization", f"Bearer {args.api_key}")] if args.api_key else []
    with grpc.insecure_channel(args.address) as ch:
        try:
            m = pb_grpc.InferenceStub(ch).GetModelInfo(pb.GetModelInfoRequest(), metadata=md,
                                                       timeout=30)
        except grpc.RpcError as e:
            sys.exit(f"error: GetModelInfo on {args.address} failed: {e.code().name} "
                     f"{e.details()}")
    # Every field, defaults included (MessageToDict drops them, and its switch for keeping them
    # was renamed across protobuf versions).
    info = {}
    for f in m.DESCRIPTOR.fields:
        v = getattr(m, f.name)
        info[f.name] = v if isinstance(v, (bool, int, float, str)) else list(v)
    info["vocab_size"] = args.vocab_size or m.vocab_size
    info["weight_bytes"] = args.weight_bytes or info.get("weight_bytes", 0)
    info["kv_bytes_per_token"] = args.kv_bytes_per_token or info.get("kv_bytes_per_token", 0)
    if m.context_length and args.input_len + args.output_len > m.context_length:
        sys.exit(f"error: --input-len + --output-len = {args.input_len + args.output_len} "
                 f"exceeds the model's context length {m.context_length}")
    if info["vocab_size"] <= args.min_token_id:
        sys.exit(f"error: vocab size {info['vocab_size']} leaves no token ids >= "
                 f"{args.min_token_id}")
    return info


def finite(x):
    """x with every inf/nan float replaced by None, so that the JSON is standard."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    return x


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--address", default="127.0.0.1:50051")
    p.add_argument("--api-key", default="")
    p.add_argument("--tenant", default="")
    p.add_argument("--concurrency", type=lambda s: parse_levels(s, "concurrency"),
                   help="closed-loop levels, e.g. 1,8,32,64,128,256 (default 16 when no "
                        "--request-rate is given)")
    p.add_argument("--request-rate", type=lambda s: parse_levels(s, "request-rate"),
                   help="Poisson arrival rates in requests/s, e.g. 1,4,inf")
    p.add_argument("--max-concurrency", type=int, default=0,
                   help="cap on in-flight requests for --request-rate (0 = none)")
    p.add_argument("--requests", type=int, default=0,
                   help="requests per level (default: --waves x concurrency, at least 4; 32 "
                        "per rate)")
    p.add_argument("--waves", type=int, default=4,
                   help="closed loop: requests per stream when --requests is not given (4)")
    p.add_argument("--warmup", type=int, default=1, help="requests sent before measuring")
    p.add_argument("--input-len", type=int, default=128)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--vocab-size", type=int, default=0, help="0 = ask GetModelInfo")
    p.add_argument("--min-token-id", type=int, default=3, help="skip BOS/EOS-like low ids")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--gpu-price-per-hour", type=float, default=0.0,
                   help="$/hour of the machine serving (for $ per million output tokens)")
    p.add_argument("--bandwidth-gbps", type=float, default=0.0,
                   help="memory bandwidth ceiling in GB/s (e.g. a measured device copy)")
    p.add_argument("--measure-host-bandwidth", action="store_true",
                   help="use a numpy copy on this host as the ceiling (CPU servers)")
    p.add_argument("--weight-bytes", type=int, default=0, help="0 = GetModelInfo.weight_bytes")
    p.add_argument("--kv-bytes-per-token", type=int, default=0,
                   help="0 = GetModelInfo.kv_bytes_per_token")
    p.add_argument("--timeout", type=float, default=3600, help="per-request deadline, seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="write all figures as JSON")
    p.add_argument("--plot", metavar="PATH", help="PNG of output tokens/s against TPOT")
    p.add_argument("--title", default="", help="label for the plot and the JSON")
    p.add_argument("--prices", default=report.PRICES, help="API price table (JSON)")
    p.add_argument("--stubs", metavar="DIR", help="pre-generated hearth/v1 Python stubs")
    args = p.parse_args()
    if not args.concurrency and not args.request_rate:
        args.concurrency = [16]
    for name in ("input_len", "output_len"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0 or args.requests < 0 or args.max_concurrency < 0 or args.waves < 1:
        p.error("--warmup, --requests and --max-concurrency must be >= 0, --waves >= 1")
    try:
        prices = report.load_prices(args.prices)
    except (OSError, ValueError) as e:
        p.error(f"--prices: {e}")
    if args.measure_host_bandwidth and not args.bandwidth_gbps:
        args.bandwidth_gbps = host_copy_bandwidth_gbps()
        print(f"host copy bandwidth (numpy, one thread): {args.bandwidth_gbps:.1f} GB/s")

    with tempfile.TemporaryDirectory() as tmp:
        stubs = load_stubs(tmp, args.stubs)
        info = model_info(args, stubs)
        print(f"model {info.get('name')} ({info.get('architecture')}, "
              f"{info.get('weight_types', '?')}) on {info.get('device')}, dtype "
              f"{info.get('dtype')}; weights {info['weight_bytes'] / 2**20:.1f} MiB, KV "
              f"{info['kv_bytes_per_token']} B/token; {args.input_len} in / {args.output_len} out")
        runs = asyncio.run(benchmark(args, stubs, info))

    title = args.title or (f"{info.get('name')} on {info.get('device')}, {args.input_len} in / "
                           f"{args.output_len} out")
    print()
    print(report.run_table(runs))
    print()
    print(report.price_table(prices, runs))
    for r in runs:
        if "first_error" in r:
            print(f"{r['label']}: first error {r['first_error']}")
    result = {
        "title": title,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {"node": platform.node(), "machine": platform.machine(),
                 "cpus": os.cpu_count(), "loadavg": os.getloadavg()},
        "address": args.address, "model": info,
        "config": {k: v for k, v in vars(args).items() if k not in ("api_key",)},
        "runs": runs, "api_prices": prices,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(finite(result), f, indent=1, default=str)
    if args.plot:
        report.plot(runs, args.plot, title)
    return 1 if any(r["summary"]["requests_failed"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
