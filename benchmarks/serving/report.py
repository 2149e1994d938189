"""Printing, JSON and the throughput-vs-TPOT plot for the load generator."""
import json
import math
import os

PRICES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api_prices.json")


def load_prices(path=PRICES):
    with open(path) as f:
        prices = json.load(f)
    for key in ("unit", "source", "date", "prices"):
        if key not in prices:
            raise ValueError(f"{path}: missing '{key}'")
    return prices


def _ms(d, key):
    v = d[key]
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def run_table(runs):
    """One line per run: the load level and its figures."""
    head = ("load", "ok/fail", "out tok/s", "req/s", "TTFT ms p50/p90/p99",
            "TPOT ms p50/p90/p99", "ITL ms p50/p90/p99", "batch", "BW GB/s", "BW %", "$/M out")
    rows = [head]
    for r in runs:
        s, bw, c = r["summary"], r.get("bandwidth"), r.get("cost")
        rows.append((
            r["label"], f"{s['requests_ok']}/{s['requests_failed']}",
            f"{s['output_tokens_per_s']:.1f}", f"{s['requests_per_s']:.2f}",
            "/".join(_ms(s["ttft_ms"], k) for k in ("p50", "p90", "p99")),
            "/".join(_ms(s["tpot_ms"], k) for k in ("p50", "p90", "p99")),
            "/".join(_ms(s["itl_ms"], k) for k in ("p50", "p90", "p99")),
            f"{s['mean_decode_batch']:.1f}",
            f"{bw['achieved_gbps']:.1f}" if bw else "-",
            f"{100 * bw['utilization']:.1f}" if bw and bw["utilization"] else "-",
            f"{c['usd_per_million_output_tokens']:.4f}" if c else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows)


def price_table(prices, runs):
    """API list prices beside the best self-hosted $/M output tokens of the runs."""
    costs = [r["cost"]["usd_per_million_output_tokens"] for r in runs if r.get("cost")]
    lines = [f"API list prices ({prices['unit']}; source: {prices['source']}; "
             f"date: {prices['date']}):"]
    best = min(costs) if costs else None
    for p in prices["prices"]:
        out = p["output"]
        vs = ""
        if best and out:
            vs = f"   {out / best:,.1f}x the best run here"
        out_s = f"{out:.2f}" if out is not None else "not given by the source"
        lines.append(f"  {p['provider']:<10} {p['model']:<16} in {p['input']:>6.2f}   "
                     f"out {out_s}{vs}")
    if best is not None:
        lines.append(f"  {'Hearth':<10} {'(this run)':<16} out {best:.4f} (best run, machine "
                     f"time at the given $/hour charged to output tokens)")
    return "\n".join(lines)


def plot(runs, path, title):
    """Output tokens/s against median TPOT, one point per run, labelled with its load."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts = [(r["summary"]["tpot_ms"]["p50"], r["summary"]["output_tokens_per_s"], r["label"])
           for r in runs if not math.isnan(r["summary"]["tpot_ms"]["p50"])]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    if pts:
        xs, ys, labels = zip(*pts)
        ax.plot(xs, ys, "o-")
        for x, y, label in pts:
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("TPOT p50 (ms per output token per request)")
    ax.set_ylabel("output tokens/s (all requests)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
