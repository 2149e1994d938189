#!/usr/bin/env python3
"""benchmarks/serving/serving_stats.py on hand-made records with known answers; percentiles
against numpy's."""
import math
import os
import random
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "benchmarks", "serving"))
import serving_stats as ss  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(b))


rng = random.Random(1)
for n in (1, 2, 7, 100):
    v = [rng.random() for _ in range(n)]
    for p in (0, 50, 90, 99, 100):
        check(close(ss.percentile(v, p), float(np.percentile(v, p))), f"percentile {n} {p}")
check(math.isnan(ss.percentile([], 50)), "empty percentile is nan")

# Two requests over a 10 s run: A starts at 0, first token at 1, 11 tokens by 6 (TPOT 0.5 s);
# B starts at 2, first token at 4, 5 tokens by 10 (TPOT 1.5 s). One failure.
records = [
    {"start": 0.0, "first": 1.0, "end": 6.0, "tokens": 11, "gaps": [0.5] * 10,
     "prompt_tokens": 100},
    {"start": 2.0, "first": 4.0, "end": 10.0, "tokens": 5, "gaps": [1.5] * 4,
     "prompt_tokens": 100},
    {"error": "UNAVAILABLE"},
]
s = ss.summarize(records, 10.0)
check(s["requests_ok"] == 2 and s["requests_failed"] == 1, "counts")
check(s["errors"] == {"UNAVAILABLE": 1}, "error names")
check(close(s["output_tokens_per_s"], 1.6), "output tokens/s")
check(close(s["total_tokens_per_s"], 21.6), "total tokens/s")
check(close(s["requests_per_s"], 0.2), "requests/s")
check(close(s["ttft_ms"]["p50"], 1500.0) and close(s["ttft_ms"]["p99"], 1990.0), "TTFT")
check(close(s["tpot_ms"]["mean"], 1000.0), "TPOT mean")
check(s["itl_ms"]["n"] == 14 and close(s["itl_ms"]["p50"], 500.0), "ITL")
check(close(s["e2e_ms"]["p50"], 7000.0), "E2E")
check(close(s["mean_decode_batch"], (5.0 + 6.0) / 10.0), "mean decode batch (Little's law)")

# Bandwidth: 1 GB of weights, 1000 B/token of KV, batch 1 (floor), 100 in / 10 out ->
# context 105 on average; TPOT p50 is 1000 ms.
bw = ss.decode_bandwidth(s, 1e9, 1000, 100, 10, 2.0)
check(close(bw["step_bytes"], 1e9 + 1.1 * 105 * 1000), "step bytes")
check(close(bw["decode_batch"], 1.1), "batch")
check(close(bw["achieved_gbps"], (1e9 + 1.1 * 105 * 1000) / 1.0 / 1e9), "achieved GB/s")
check(close(bw["utilization"], bw["achieved_gbps"] / 2.0), "utilization")
check(ss.decode_bandwidth(s, 0, 1000, 100, 10, 2.0) is None, "no weight bytes -> None")
check(ss.decode_bandwidth(s, 1e9, 1000, 100, 10, 0)["utilization"] is None,
      "no ceiling -> no utilization")

c = ss.cost(s, 3.6)  # $3.60/h for 10 s = $0.01 over 16 tokens
check(close(c["usd_per_million_output_tokens"], 0.01 / 16 * 1e6), "cost")
check(ss.cost(s, 0) is None, "no price -> None")

print(f"{0 if failures else 1} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
