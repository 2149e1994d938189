#!/usr/bin/env python3
"""Batch-1 greedy decode tokens/s: Hearth's CPU runner beside llama.cpp's CPU backend.

Runs, alternately and --repeats times each, build/benchmarks/cpu_decode/bench_cpu_decode and
llama.cpp (the PyPI package llama-cpp-python, which builds llama.cpp from source) on the same
GGUF with the same thread count, prompt length and number of decoded tokens, then prints each
one's best and median decode tokens/s and the ratio. Alternating puts both under the same
machine load (this runs on a shared 2-core machine; medians and bests can differ a lot).

  pip install llama-cpp-python        # not a Hearth dependency; only for this comparison
  python3 benchmarks/cpu_decode/run.py [GGUF] [--threads 2] [--prompt 16] [--decode 64]
                                      [--cpu-matmul f32|int8]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def default_gguf():
    return os.environ.get("HEARTH_SMOLLM2_GGUF") or os.path.expanduser(
        "~/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf")


def prompt_ids(n, bos):
    # The same ids bench_cpu_decode uses.
    return [bos if i == 0 else 100 + 7 * i for i in range(n)]


def run_hearth(binary, gguf, args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    out = subprocess.run([binary, gguf, "--prompt", str(args.prompt), "--decode",
                          str(args.decode), "--cpu-matmul", args.cpu_matmul], env=env,
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"hearth decode: \d+ tokens in [\d.]+ s = ([\d.]+) tok/s", out)
    if not m:
        sys.exit("unexpected bench_cpu_decode output:\n" + out)
    return float(m.group(1))


def run_llama(llm, args):
    import numpy as np
    llm.reset()
    ids = prompt_ids(args.prompt, llm.token_bos())
    llm.eval(ids)
    t0 = time.perf_counter()
    n_vocab = llm.n_vocab()
    for _ in range(args.decode):
        # Only the last token's logits exist (logits_all=False), as in Hearth's step.
        logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))
        llm.eval([int(np.argmax(logits))])
    return args.decode / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("gguf", nargs="?", default=default_gguf())
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prompt", type=int, default=16)
    p.add_argument("--decode", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cpu-matmul", default="f32", choices=["f32", "int8"],
                   help="Hearth's CPU matmul activations (int8: as llama.cpp's)")
    p.add_argument("--binary", default=os.path.join(ROOT, "build/benchmarks/cpu_decode/"
                                                    "bench_cpu_decode"))
    p.add_argument("--omp-wait-policy", default="passive",
                   help="OMP_WAIT_POLICY for Hearth ('' = OpenMP's default)")
    p.add_argument("--llama-omp-wait-policy", default="passive",
                   help="OMP_WAIT_POLICY for llama.cpp (its ggml build uses OpenMP; '' = default)")
    args = p.parse_args()
    if args.llama_omp_wait_policy:
        os.environ["OMP_WAIT_POLICY"] = args.llama_omp_wait_policy  # read when OpenMP starts
    try:
        from llama_cpp import Llama
    except ImportError:
        sys.exit("llama-cpp-python is not installed: pip install llama-cpp-python")
    llm = Llama(model_path=args.gguf, n_ctx=max(512, args.prompt + args.decode + 8), n_batch=64,
                n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
    ours, theirs = [], []
    for _ in range(args.repeats):
        ours.append(run_hearth(args.binary, args.gguf, args))
        theirs.append(run_llama(llm, args))
    print(f"model: {args.gguf}")
    print(f"threads {args.threads}, prompt {args.prompt}, decode {args.decode}, "
          f"repeats {args.repeats} (alternating); Hearth OMP_WAIT_POLICY="
          f"{args.omp_wait_policy or 'default'}, --cpu-matmul {args.cpu_matmul}, "
          f"llama.cpp OMP_WAIT_POLICY="
          f"{args.llama_omp_wait_policy or 'default'}")
    for name, v in (("hearth", ours), ("llama.cpp", theirs)):
        print(f"{name:10s} decode tok/s: best {max(v):7.2f}  median {statistics.median(v):7.2f}"
              f"  all {' '.join(f'{x:.1f}' for x in v)}")
    print(f"ratio hearth / llama.cpp: best {max(ours) / max(theirs):.2f}  median "
          f"{statistics.median(ours) / statistics.median(theirs):.2f}")


if __name__ == "__main__":
    main()
