#!/usr/bin/env python3
"""Times torch.nn.functional.scaled_dot_product_attention on the shapes of bench_attention.

Prefill: causal SDPA (bottom-right aligned when a chunk follows a prefix), bf16, the same
FLOP convention as bench_attention (4 * num_heads * head_dim * sum over query tokens of the KV
positions each one sees). Decode: the dense equivalent (one query per sequence over a
contiguous [batch, kv_heads, seq_len, head_dim] K/V), bytes = K + V + q + out, as bench_attention.
Ceilings are measured the same way as benchmarks/kernels/ceiling.cu (device-to-device copy
counting read + write; 8192^3 bf16 matmul). Prints RESULT lines in PrintResult's format with
op=attention_torch so they can be put beside bench_attention's op=attention lines.

Usage: python3 benchmarks/kernels/attention_torch.py [decode|prefill|all]
Needs only torch and a CUDA device (no network).
"""
import math
import sys

import torch
import torch.nn.functional as F

FLUSH_BYTES = 256 << 20


def time_us(fn, warmup=3, iters=20, flush=True):
    """Median microseconds of fn() timed with CUDA events, L2 flushed before each run."""
    buf = torch.empty(FLUSH_BYTES, dtype=torch.uint8, device="cuda") if flush else None
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    for i in range(iters):
        if flush:
            buf.fill_(i & 0xFF)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1000.0)
    times.sort()
    return times[iters // 2]


def measure_ceilings(with_matmul):
    n = 1 << 30
    src = torch.ones(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    us = time_us(lambda: dst.copy_(src), iters=20, flush=False)
    copy_gbps = 2.0 * n / (us * 1e-6) / 1e9
    del src, dst
    tflops = 0.0
    if with_matmul:
        m = 8192
        a = torch.randn(m, m, dtype=torch.bfloat16, device="cuda")
        b = torch.randn(m, m, dtype=torch.bfloat16, device="cuda")
        us = time_us(lambda: torch.matmul(a, b), iters=10, flush=False)
        tflops = 2.0 * m * m * m / (us * 1e-6) / 1e12
        del a, b
    print(f'CEILING device="{torch.cuda.get_device_name()}" '
          f"sms={torch.cuda.get_device_properties(0).multi_processor_count} "
          f"copy_gbps={copy_gbps:.1f} bf16_tflops={tflops:.1f} torch={torch.__version__}")
    return copy_gbps, tflops


def print_result(op, case, dtype, us, gbps, tflops, ceil):
    """Same line and same bound choice as hearth::bench::PrintResult."""
    copy_gbps, bf16_tflops = ceil
    matmul_bound = tflops > 0 and bf16_tflops > 0 and (
        gbps <= 0 or tflops / bf16_tflops > gbps / copy_gbps)
    if matmul_bound:
        pct = 100.0 * tflops / bf16_tflops
    else:
        pct = 100.0 * gbps / copy_gbps if copy_gbps > 0 else 0.0
    print(f"RESULT op={op} case={case} dtype={dtype} us={us:.2f} gbps={gbps:.1f} "
          f"tflops={tflops:.2f} pct={pct:.1f} bound={'matmul' if matmul_bound else 'copy'}",
          flush=True)


def _has_enable_gqa():
    try:
        q = torch.zeros(1, 2, 1, 8, device="cuda", dtype=torch.bfloat16)
        k = torch.zeros(1, 1, 1, 8, device="cuda", dtype=torch.bfloat16)
        F.scaled_dot_product_attention(q, k, k, enable_gqa=True)
        return True
    except (TypeError, RuntimeError):
        return False


HAS_GQA = None


def sdpa_fn(q, k, v, heads, kv_heads, causal_kind):
    """A closure running SDPA; K/V are expanded beforehand (outside the timing) without GQA."""
    kwargs = {}
    if heads != kv_heads:
        if HAS_GQA:
            kwargs["enable_gqa"] = True
        else:
            k = k.repeat_interleave(heads // kv_heads, dim=1)
            v = v.repeat_interleave(heads // kv_heads, dim=1)
    if causal_kind == "none":
        return lambda: F.scaled_dot_product_attention(q, k, v, **kwargs)
    if causal_kind == "top_left":  # q_len == kv_len: top-left and bottom-right agree
        return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, **kwargs)
    # A chunk after a prefix: query j sees KV [0, prefix + j] (bottom-right alignment).
    q_len, kv_len = q.shape[2], k.shape[2]
    try:
        from torch.nn.attention.bias import causal_lower_right
        bias = causal_lower_right(q_len, kv_len)
        F.scaled_dot_product_attention(q, k, v, attn_mask=bias, **kwargs)  # supported here?
        return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=bias, **kwargs)
    except (ImportError, TypeError, RuntimeError, NotImplementedError) as e:
        print(f"# causal_lower_right unavailable ({type(e).__name__}): boolean mask instead")
    mask = torch.ones(q_len, kv_len, dtype=torch.bool, device="cuda").tril(kv_len - q_len)
    return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)


def case_name(kind, batch, a, b, heads, kv_heads, head_dim):
    if kind == "decode":
        return f"decode_b{batch}_ctx{a}_h{heads}kv{kv_heads}d{head_dim}"
    return f"prefill_b{batch}_q{a}_ctx{b}_h{heads}kv{kv_heads}d{head_dim}"


def run_decode(batch, context, heads, kv_heads, head_dim, ceil):
    dev, dt = "cuda", torch.bfloat16
    q = torch.randn(batch, heads, 1, head_dim, device=dev, dtype=dt)
    k = torch.randn(batch, kv_heads, context, head_dim, device=dev, dtype=dt)
    v = torch.randn_like(k)
    us = time_us(sdpa_fn(q, k, v, heads, kv_heads, "none"))
    byts = batch * context * kv_heads * head_dim * 2 * 2 + 2 * q.numel() * 2
    print_result("attention_torch", case_name("decode", batch, context, 0, heads, kv_heads,
                                              head_dim), "bf16", us, byts / us / 1e3, 0.0, ceil)


def run_prefill(batch, prompt, context, heads, kv_heads, head_dim, ceil):
    dev, dt = "cuda", torch.bfloat16
    kv_len = context + prompt
    q = torch.randn(batch, heads, prompt, head_dim, device=dev, dtype=dt)
    k = torch.randn(batch, kv_heads, kv_len, head_dim, device=dev, dtype=dt)
    v = torch.randn_like(k)
    us = time_us(sdpa_fn(q, k, v, heads, kv_heads, "top_left" if context == 0 else "bottom_right"))
    visible = batch * sum(context + j + 1 for j in range(prompt))
    flops = 4.0 * heads * head_dim * visible
    print_result("attention_torch", case_name("prefill", batch, prompt, context, heads, kv_heads,
                                              head_dim), "bf16", us, 0.0, flops / us / 1e6, ceil)


def main():
    global HAS_GQA
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which not in ("all", "decode", "prefill"):
        print(f"usage: {sys.argv[0]} [decode|prefill|all]", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("attention_torch: no CUDA device", file=sys.stderr)
        return 1
    HAS_GQA = _has_enable_gqa()
    if not HAS_GQA:
        print("# torch without enable_gqa: K/V expanded to num_heads before timing (more bytes)")
    ceil = measure_ceilings(which != "decode")
    if which != "prefill":
        for batch in (1, 16, 64, 256):
            run_decode(batch, 4096, 32, 8, 128, ceil)
        run_decode(64, 1024, 32, 8, 128, ceil)
        run_decode(1, 32768, 32, 8, 128, ceil)
        run_decode(8, 32768, 32, 8, 128, ceil)
        run_decode(64, 4096, 32, 32, 128, ceil)
        run_decode(64, 4096, 32, 8, 64, ceil)
    if which != "decode":
        run_prefill(1, 4096, 0, 32, 8, 128, ceil)
        run_prefill(4, 1024, 0, 32, 8, 128, ceil)
        run_prefill(1, 16384, 0, 32, 8, 128, ceil)
        run_prefill(1, 512, 4096, 32, 8, 128, ceil)
        run_prefill(1, 4096, 0, 32, 32, 128, ceil)
        run_prefill(1, 4096, 0, 32, 8, 64, ceil)
    return 0


if __name__ == "__main__":
    sys.exit(main())
