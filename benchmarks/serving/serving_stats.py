"""Turns the load generator's per-request records into the serving figures (pure functions).

A record is a dict for one request: start, first (time of the first token), end (seconds, one
monotonic clock), tokens (output tokens received), gaps (seconds between successive chunks after
the first, each divided by the chunk's token count), prompt_tokens, or error (a status name).
"""
import math


def percentile(values, p):
    """Linear-interpolated percentile (numpy's default); nan for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def dist(values, scale=1.0):
    """p50/p90/p99 and mean of values * scale (ms when scale = 1e3)."""
    v = [x * scale for x in values]
    return {"p50": percentile(v, 50), "p90": percentile(v, 90), "p99": percentile(v, 99),
            "mean": sum(v) / len(v) if v else float("nan"), "n": len(v)}


def summarize(records, wall_s):
    """Throughput and latency of one run. wall_s: from the first request sent to the last
    response received."""
    ok = [r for r in records if "error" not in r]
    errors = {}
    for r in records:
        if "error" in r:
            errors[r["error"]] = errors.get(r["error"], 0) + 1
    out_tokens = sum(r["tokens"] for r in ok)
    in_tokens = sum(r.get("prompt_tokens", 0) for r in ok)
    ttft = [r["first"] - r["start"] for r in ok if r.get("first") is not None]
    tpot = [(r["end"] - r["first"]) / (r["tokens"] - 1)
            for r in ok if r.get("first") is not None and r["tokens"] > 1]
    itl = [g for r in ok for g in r.get("gaps", [])]
    e2e = [r["end"] - r["start"] for r in ok]
    # Little's law over the decode phase: the mean number of sequences decoding at once.
    decode_busy = sum(r["end"] - r["first"] for r in ok if r.get("first") is not None)
    return {
        "requests_ok": len(ok), "requests_failed": len(records) - len(ok), "errors": errors,
        "wall_s": wall_s, "output_tokens": out_tokens, "input_tokens": in_tokens,
        "output_tokens_per_s": out_tokens / wall_s if wall_s > 0 else 0.0,
        "total_tokens_per_s": (out_tokens + in_tokens) / wall_s if wall_s > 0 else 0.0,
        "requests_per_s": len(ok) / wall_s if wall_s > 0 else 0.0,
        "ttft_ms": dist(ttft, 1e3), "tpot_ms": dist(tpot, 1e3), "itl_ms": dist(itl, 1e3),
        "e2e_ms": dist(e2e, 1e3),
        "mean_decode_batch": decode_busy / wall_s if wall_s > 0 else 0.0,
    }


def decode_bandwidth(summary, weight_bytes, kv_bytes_per_token, input_len, output_len,
                     bandwidth_gbps):
    """Memory traffic of a decode step over its time.

    A decode step reads every weight once and, for each of the B sequences in the batch, its KV
    cache (on average input_len + output_len / 2 tokens). B is the run's mean decode batch
    (Little's law) and the step time is the median TPOT (one token per sequence per step).
    Returns None when the weight bytes or the TPOT are unknown.
    """
    tpot_s = summary["tpot_ms"]["p50"] / 1e3
    if not weight_bytes or not tpot_s or math.isnan(tpot_s):
        return None
    batch = max(1.0, summary["mean_decode_batch"])
    kv = batch * (input_len + output_len / 2) * (kv_bytes_per_token or 0)
    step_bytes = weight_bytes + kv
    achieved = step_bytes / tpot_s / 1e9
    return {"weight_bytes": weight_bytes, "kv_bytes_per_step": kv, "decode_batch": batch,
            "step_bytes": step_bytes, "achieved_gbps": achieved,
            "bandwidth_gbps": bandwidth_gbps or None,
            "utilization": achieved / bandwidth_gbps if bandwidth_gbps else None}


def cost(summary, price_per_hour):
    """Dollars per million output tokens at price_per_hour for the run's wall time (every
    second of the machine is charged to the output tokens); None without a price."""
    if not price_per_hour or summary["output_tokens"] == 0:
        return None
    dollars = price_per_hour / 3600.0 * summary["wall_s"]
    return {"price_per_hour": price_per_hour,
            "usd_per_million_output_tokens": dollars / summary["output_tokens"] * 1e6}
