#!/usr/bin/env python3
"""torch.matmul bf16 on bench_matmul's shapes, for comparison (run on the GPU machine, which has
torch). y[num_tokens, n] = x[num_tokens, k] @ W[n, k]^T. Prints bench_matmul's RESULT format;
pct is against the bf16 ceiling printed by bench_matmul (pass it with --bf16-tflops and
--copy-gbps to fill pct, else pct=0)."""
import argparse

import torch

SHAPES = [(4096, 4096), (14336, 4096), (4096, 14336)]
TOKENS = [1, 8, 512, 4096]


def time_us(fn, warmup=3, iters=20):
    flush = torch.empty(256 << 20, dtype=torch.uint8, device="cuda")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        flush.zero_()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--copy-gbps", type=float, default=0.0)
    ap.add_argument("--bf16-tflops", type=float, default=0.0)
    args = ap.parse_args()
    for n, k in SHAPES:
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16)
        for t in TOKENS:
            x = torch.randn(t, k, device="cuda", dtype=torch.bfloat16)
            us = time_us(lambda: torch.matmul(x, w.t()))
            gbps = n * k * 2 / (us * 1e3)
            tflops = 2.0 * t * n * k / (us * 1e6)
            if t > 8:
                gbps_shown = 0.0
            else:
                gbps_shown = gbps
            matmul_bound = args.bf16_tflops > 0 and (
                gbps_shown <= 0 or tflops / args.bf16_tflops > gbps_shown / max(args.copy_gbps, 1e-9))
            if matmul_bound:
                pct = 100.0 * tflops / args.bf16_tflops
            else:
                pct = 100.0 * gbps_shown / args.copy_gbps if args.copy_gbps > 0 else 0.0
            print(f"RESULT op=matmul_torch case=n{n}_k{k}_t{t}_torch dtype=BF16 us={us:.2f} "
                  f"gbps={gbps_shown:.1f} tflops={tflops:.2f} pct={pct:.1f} "
                  f"bound={'matmul' if matmul_bound else 'copy'}", flush=True)


if __name__ == "__main__":
    main()
