#!/usr/bin/env python3
"""Turns the CEILING/RESULT lines of kernel benchmarks (benchmarks/kernels/ceiling.h format) into
a Markdown table for benchmarks/RESULTS.md.

Usage: collect_results.py results.txt --device "NVIDIA H100 80GB HBM3" --commit abc1234 [--date D]
"""
import argparse
import datetime
import re
import sys

FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')


def parse(line):
    return {k: v.strip('"') for k, v in FIELD.findall(line)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--device", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    args = ap.parse_args()
    ceilings, rows = [], []
    for line in open(args.results):
        if line.startswith("CEILING"):
            ceilings.append(parse(line))
        elif line.startswith("RESULT"):
            rows.append(parse(line))
    out = sys.stdout
    out.write(f"Date {args.date}, device {args.device}, commit {args.commit}.\n\n")
    if ceilings:
        c = ceilings[0]
        out.write(f"Ceilings measured in the same runs: copy {c.get('copy_gbps')} GB/s "
                  f"(read + write), bf16 matmul {c.get('bf16_tflops')} TFLOP/s "
                  f"({len(ceilings)} measurements, first shown).\n\n")
    out.write("| op | case | dtype | us | GB/s | TFLOP/s | % of ceiling | bound |\n")
    out.write("|---|---|---|---:|---:|---:|---:|---|\n")
    for r in rows:
        out.write(f"| {r.get('op')} | {r.get('case')} | {r.get('dtype')} | {r.get('us')} | "
                  f"{r.get('gbps')} | {r.get('tflops')} | {r.get('pct')} | {r.get('bound')} |\n")


if __name__ == "__main__":
    main()
