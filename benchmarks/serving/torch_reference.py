#!/usr/bin/env python3
"""The GPU serving benchmark's reference figures, measured with PyTorch in the same run:

  bandwidth   device-to-device copy of 1 GiB (bytes read + written per second): the ceiling
              that decode bandwidth utilization is a fraction of;
  generate    Hugging Face transformers' generate() on a model directory, greedy, fixed lengths
              (min_new_tokens = max_new_tokens): the floor Hearth is compared with.

Prints one JSON object. Needs torch (+ transformers for generate) and a CUDA device; never run
in CI.
    python3 benchmarks/serving/torch_reference.py bandwidth
    python3 benchmarks/serving/torch_reference.py generate --model DIR --batch 1,64 \\
        --input-len 128 --output-len 256
"""
import argparse
import json
import sys
import time


def bandwidth(_args):
    import torch
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = 20
    start.record()
    for _ in range(reps):
        dst.copy_(src)
    end.record()
    torch.cuda.synchronize()
    s = start.elapsed_time(end) / 1e3 / reps
    return {"device": torch.cuda.get_device_name(0), "copy_bytes": n,
            "copy_gbps": 2 * n / s / 1e9}


def generate(args):
    import torch
    import transformers
    kw = {"device_map": "cuda"}
    try:  # transformers >= 4.56 names it dtype; older ones torch_dtype
        model = transformers.AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16,
                                                                  **kw)
    except TypeError:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            args.model, torch_dtype=torch.bfloat16, **kw)
    model.eval()
    vocab = model.config.vocab_size
    eos = model.config.eos_token_id
    g = torch.Generator().manual_seed(0)
    results = []
    for batch in args.batch:
        ids = torch.randint(3, vocab - 2, (batch, args.input_len), generator=g).to("cuda")
        mask = torch.ones_like(ids)

        def run(n):
            torch.cuda.synchronize()
            t = time.perf_counter()
            with torch.inference_mode():
                out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n,
                                     min_new_tokens=n, do_sample=False, pad_token_id=eos)
            torch.cuda.synchronize()
            assert out.shape[1] == args.input_len + n, out.shape
            return time.perf_counter() - t

        run(4)  # warm-up: kernels, allocator
        prefill = min(run(1) for _ in range(3))
        total = run(args.output_len)
        decode = total - prefill
        results.append({
            "batch": batch, "input_len": args.input_len, "output_len": args.output_len,
            "prefill_s": prefill, "total_s": total,
            "decode_tokens_per_s_per_seq": (args.output_len - 1) / decode,
            "output_tokens_per_s": batch * args.output_len / total,
            "tpot_ms": decode / (args.output_len - 1) * 1e3})
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return {"transformers": transformers.__version__, "torch": torch.__version__,
            "model": args.model, "dtype": "bfloat16", "runs": results}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("bandwidth")
    g = sub.add_parser("generate")
    g.add_argument("--model", required=True)
    g.add_argument("--batch", type=lambda s: [int(x) for x in s.split(",")], default=[1])
    g.add_argument("--input-len", type=int, default=128)
    g.add_argument("--output-len", type=int, default=256)
    args = p.parse_args()
    print(json.dumps(bandwidth(args) if args.cmd == "bandwidth" else generate(args)))


if __name__ == "__main__":
    main()
