#!/usr/bin/env python3
"""Writes the golden logits of tests/data/golden/ with Hugging Face transformers (float32, CPU).

For each model: <model>.json (prompts, shapes, versions, greedy ids) and <model>.logits.f32
(little-endian float32 logits at every position of every prompt, prompts concatenated in order,
each prompt run alone from position 0). tests/data/golden/README.md describes the format.

Needs torch + transformers (only to regenerate; not needed in CI). Run from anywhere:
  python3 scripts/golden/gen_golden.py [--only NAME ...]
SmolLM2 reads the float32 directory made by scripts/dequantize_gguf_to_hf.py (default
~/.cache/hearth/SmolLM2-135M-Instruct-f32, override with HEARTH_SMOLLM2_F32_DIR); the script runs
the converter first when that directory is missing.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import torch
import transformers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN_DIR = os.path.join(REPO, "tests", "data", "golden")
CACHE = os.environ.get("HEARTH_CACHE", os.path.expanduser("~/.cache/hearth"))
SMOLLM2_GGUF = os.environ.get("HEARTH_SMOLLM2_GGUF",
                              os.path.join(CACHE, "SmolLM2-135M-Instruct.Q4_1.gguf"))
SMOLLM2_F32 = os.environ.get("HEARTH_SMOLLM2_F32_DIR",
                             os.path.join(CACHE, "SmolLM2-135M-Instruct-f32"))
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SEED = 20261122
GREEDY_STEPS = 32


def RandomIds(seed, count, vocab_size):
    return [int(i) for i in np.random.default_rng(seed).integers(0, vocab_size, size=count)]


def Stories260KPrompts():
    path = os.path.join(REPO, "tests", "data", "stories260K", "expected_greedy_bos_256.ids")
    with open(path) as f:
        expected = [int(line) for line in f if line.strip()]
    # BOS + the first 20 tokens of the model's own greedy story, then 12 random ids.
    return [[1] + expected[:20], RandomIds(SEED + 1, 12, 512)]


def SmolLM2Prompts():
    # "Photosynthesis is the process by which" in SmolLM2's BPE (GPT-2 style, no BOS: the GGUF
    # has add_bos_token false), then 8 random ids. 15 positions x 49152 x 4 bytes = 2.9 MB.
    # Chosen for its greedy path: the smallest top-2 logit gap over 32 steps is 0.07 (for
    # "Once upon a time, there was a little" it was 0.003, too close for a greedy parity test).
    return [[33580, 14870, 314, 260, 980, 411, 527], RandomIds(SEED + 2, 8, 49152)]


def TinyPrompts(seed, lengths):
    return [RandomIds(seed + i, n, 512) for i, n in enumerate(lengths)]


def ModelSpecs():
    """name -> (directory, source description, prompts, record greedy ids)."""
    data = os.path.join(REPO, "tests", "data")
    return {
        "stories260K": (os.path.join(data, "stories260K", "hf"), "tests/data/stories260K/hf",
                        Stories260KPrompts(), True),
        "smollm2-135m": (SMOLLM2_F32,
                         "scripts/dequantize_gguf_to_hf.py SmolLM2-135M-Instruct.Q4_1.gguf "
                         f"(sha256 {SMOLLM2_SHA256}, from scripts/fetch_default_model.sh)",
                         SmolLM2Prompts(), True),
        # A 16-token, a 5-token and a 1-token prompt.
        "tiny-qwen2": (os.path.join(data, "tiny-qwen2"), "tests/data/tiny-qwen2",
                       TinyPrompts(SEED + 10, [16, 5, 1]), False),
        "tiny-qwen3": (os.path.join(data, "tiny-qwen3"), "tests/data/tiny-qwen3",
                       TinyPrompts(SEED + 20, [16, 5, 1]), False),
        # 100 tokens: past original_max_position_embeddings (64), where llama3 scaling matters.
        "tiny-llama3": (os.path.join(data, "tiny-llama3"), "tests/data/tiny-llama3",
                        TinyPrompts(SEED + 30, [100, 16, 1]), False),
    }


def LoadModel(model_dir):
    model = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


def PromptLogits(model, ids):
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)
    return out.logits[0].to(torch.float32).numpy()  # [len(ids), vocab]


def GreedyIds(model, prompt, steps):
    """Greedy continuation from HF generate, cross-checked against plain full-recompute argmax."""
    config = transformers.GenerationConfig(do_sample=False, max_new_tokens=steps,
                                           min_new_tokens=0, eos_token_id=None,
                                           pad_token_id=0, bos_token_id=None)
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt], dtype=torch.long), generation_config=config,
                             attention_mask=torch.ones(1, len(prompt), dtype=torch.long))
    generated = [int(i) for i in out[0, len(prompt):]]
    ids = list(prompt)
    for _ in range(steps):
        ids.append(int(PromptLogits(model, ids)[-1].argmax()))
    if generated != ids[len(prompt):]:
        sys.exit(f"generate() {generated} disagrees with full-recompute argmax "
                 f"{ids[len(prompt):]}")
    return generated


def EnsureSmolLM2Dir():
    if os.path.isfile(os.path.join(SMOLLM2_F32, "model.safetensors")):
        return
    if not os.path.isfile(SMOLLM2_GGUF):
        sys.exit(f"{SMOLLM2_GGUF} not found: run scripts/fetch_default_model.sh first")
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "dequantize_gguf_to_hf.py"),
                    SMOLLM2_GGUF, "--out", SMOLLM2_F32], check=True)


def FormatRecord(record):
    """JSON with one key per line and each list of ids on one line, for readable diffs."""
    lines = []
    for key, value in record.items():
        if key == "prompts":
            inner = ",\n    ".join(json.dumps(p) for p in value)
            text = f"[\n    {inner}\n  ]"
        else:
            text = json.dumps(value)
        lines.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def Generate(name, model_dir, source, prompts, want_greedy):
    if name == "smollm2-135m":
        EnsureSmolLM2Dir()
    model = LoadModel(model_dir)
    vocab = model.config.vocab_size
    logits = np.concatenate([PromptLogits(model, p) for p in prompts]).astype("<f4")
    assert logits.shape == (sum(len(p) for p in prompts), vocab)
    if not np.all(np.isfinite(logits)):
        sys.exit(f"{name}: non-finite logits")
    logits_file = f"{name}.logits.f32"
    blob = logits.tobytes()
    with open(os.path.join(GOLDEN_DIR, logits_file), "wb") as f:
        f.write(blob)
    record = {
        "model_dir_or_source": source,
        "architecture": model.config.architectures[0],
        "prompts": prompts,
        "vocab_size": vocab,
        "logits_file": logits_file,
        "logits_sha256": hashlib.sha256(blob).hexdigest(),
        "dtype": "float32",
        "shape": list(logits.shape),
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "attn_implementation": "eager",
    }
    if want_greedy:
        record["greedy_ids"] = GreedyIds(model, prompts[0], GREEDY_STEPS)
        record["greedy_note"] = (f"{GREEDY_STEPS} ids after prompts[0], argmax each step, "
                                 "no stop on EOS")
    with open(os.path.join(GOLDEN_DIR, f"{name}.json"), "w") as f:
        f.write(FormatRecord(record))
    print(f"{name}: {logits.shape[0]} positions x {vocab}, {len(blob)} bytes"
          + (f", greedy {record['greedy_ids']}" if want_greedy else ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="model names to regenerate (default: all)")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    for name, spec in ModelSpecs().items():
        if args.only and name not in args.only:
            continue
        Generate(name, *spec)


if __name__ == "__main__":
    main()
