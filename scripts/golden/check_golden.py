#!/usr/bin/env python3
"""Cross-checks the committed goldens against oracles other than transformers.

0. dequantize_gguf_to_hf.py on stories260K.gguf reproduces tests/data/stories260K/hf/ exactly.
1. Every <model>.logits.f32 against scripts/golden/numpy_reference.py (float64, written
   independently of transformers) over the same weights: relative L2 per prompt.
2. SmolLM2 once more on the raw GGUF tensors (llama.cpp row order, adjacent-pair RoPE), which
   checks dequantize_gguf_to_hf.py's row un-permutation without using it.
3. stories260K: greedy from BOS alone (transformers generate) against the independently produced
   expected_greedy_bos_256.ids (llama.cpp and llama2.c output), all 256 ids; and the recorded
   greedy_ids against ids 21..52 of that file.
4. The recorded greedy ids are each step's argmax; the closest top-2 logit gaps on that path.
5. SmolLM2: the recorded greedy_ids and a greedy chat answer, decoded with the GGUF's own BPE
   vocabulary, printed for a person to read.

Needs numpy, gguf, safetensors, tokenizers; torch + transformers for checks 3 and 4.
  python3 scripts/golden/check_golden.py [--skip-smollm2]
"""

import argparse
import json
import os
import re
import sys

import numpy as np
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import numpy_reference  # noqa: E402
import gen_golden  # noqa: E402
import dequantize_gguf_to_hf  # noqa: E402

TOLERANCE = 1e-4


def LoadGolden(name):
    with open(os.path.join(gen_golden.GOLDEN_DIR, name + ".json")) as f:
        record = json.load(f)
    logits = np.fromfile(os.path.join(gen_golden.GOLDEN_DIR, record["logits_file"]), dtype="<f4")
    return record, logits.reshape(record["shape"])


def PerPrompt(record, logits):
    start = 0
    for prompt in record["prompts"]:
        yield prompt, logits[start:start + len(prompt)]
        start += len(prompt)


def CheckAgainstNumpy(name, model_dir, weights=None, adjacent_pairs=False):
    record, logits = LoadGolden(name)
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    if weights is None:
        weights = load_file(os.path.join(model_dir, "model.safetensors"))
    worst = 0.0
    argmax_agree = 0
    for prompt, expected in PerPrompt(record, logits):
        actual = numpy_reference.Forward(config, weights, prompt, adjacent_pairs)
        worst = max(worst, numpy_reference.RelL2(expected, actual))
        argmax_agree += int(np.sum(actual.argmax(-1) == expected.argmax(-1)))
    spread = float(np.std(logits))
    label = name + (" (raw GGUF, adjacent-pair RoPE)" if adjacent_pairs else "")
    ok = worst < TOLERANCE
    print(f"{'PASS' if ok else 'FAIL'} {label}: transformers fp32 vs numpy fp64 worst prompt "
          f"rel L2 {worst:.2e}, argmax agree {argmax_agree}/{logits.shape[0]}, "
          f"logit std {spread:.2f}")
    return ok


def RawGgufWeights(path):
    """GGUF tensors dequantized, Hugging Face names, q/k rows left in llama.cpp's order."""
    import gguf
    reader = gguf.GGUFReader(path)
    weights = {}
    for tensor in reader.tensors:
        m = re.match(r"^blk\.(\d+)\.(.+)$", tensor.name)
        if m:
            name = f"model.layers.{m.group(1)}.{dequantize_gguf_to_hf._LAYER_TENSORS[m.group(2)]}"
        else:
            name = dequantize_gguf_to_hf._GLOBAL_TENSORS[tensor.name]
        weights[name] = dequantize_gguf_to_hf.TensorToFloat32(tensor)
    return weights


def GgufTokenizer(path):
    import gguf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    reader = gguf.GGUFReader(path)
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(m.split(" ", 1)) for m in reader.fields["tokenizer.ggml.merges"].contents()]
    tokenizer = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer, tokens


def CheckConverterOnStories():
    """The converter must reproduce the independently converted stories260K/hf/ bit for bit."""
    import tempfile
    data = os.path.join(gen_golden.REPO, "tests", "data", "stories260K")
    with tempfile.TemporaryDirectory() as out:
        dequantize_gguf_to_hf.Convert(os.path.join(data, "stories260K.gguf"), out,
                                      log=lambda _: None)
        ours = load_file(os.path.join(out, "model.safetensors"))
    theirs = load_file(os.path.join(data, "hf", "model.safetensors"))
    differ = sorted(k for k in set(ours) | set(theirs)
                    if k not in ours or k not in theirs or not np.array_equal(ours[k], theirs[k]))
    ok = not differ
    print(f"{'PASS' if ok else 'FAIL'} dequantize_gguf_to_hf.py on stories260K.gguf: "
          f"{len(theirs) - len(differ)}/{len(theirs)} tensors identical to stories260K/hf"
          + (f"; differ: {differ}" if differ else ""))
    return ok


def CheckStoriesGreedy():
    import torch
    import transformers
    path = os.path.join(gen_golden.REPO, "tests", "data", "stories260K",
                        "expected_greedy_bos_256.ids")
    with open(path) as f:
        expected = [int(line) for line in f if line.strip()]
    model = gen_golden.LoadModel(os.path.join(gen_golden.REPO, "tests", "data", "stories260K",
                                              "hf"))
    config = transformers.GenerationConfig(do_sample=False, max_new_tokens=256,
                                           eos_token_id=None, pad_token_id=0)
    with torch.no_grad():
        out = model.generate(torch.tensor([[1]]), generation_config=config,
                             attention_mask=torch.ones(1, 1, dtype=torch.long))
    generated = [int(i) for i in out[0, 1:]]
    same = sum(1 for a, b in zip(generated, expected) if a == b)
    first_diff = next((i for i, (a, b) in enumerate(zip(generated, expected)) if a != b), None)
    record, _ = LoadGolden("stories260K")
    recorded_ok = record["greedy_ids"] == expected[20:20 + len(record["greedy_ids"])]
    ok = generated == expected and recorded_ok
    print(f"{'PASS' if ok else 'FAIL'} stories260K: HF greedy from BOS matches "
          f"expected_greedy_bos_256.ids at {same}/256 steps (first difference: {first_diff}); "
          f"recorded greedy_ids == expected[20:52]: {recorded_ok}")
    return ok


def ReportGreedyGaps(name, model_dir):
    """The recorded greedy path must be each step's argmax; prints its closest top-2 gaps."""
    record, _ = LoadGolden(name)
    prompt, greedy = record["prompts"][0], record["greedy_ids"]
    model = gen_golden.LoadModel(model_dir)
    logits = gen_golden.PromptLogits(model, prompt + greedy[:-1])[len(prompt) - 1:]
    top2 = np.sort(logits, axis=-1)[:, -2:]
    gaps = top2[:, 1] - top2[:, 0]
    ok = [int(i) for i in logits.argmax(-1)] == greedy
    closest = [(int(i), round(float(gaps[i]), 4)) for i in np.argsort(gaps)[:3]]
    print(f"{'PASS' if ok else 'FAIL'} {name}: greedy_ids are the step argmaxes; closest top-2 "
          f"logit gaps (step, gap): {closest}")
    return ok


def ShowSmolLM2Text():
    import torch
    tokenizer, _ = GgufTokenizer(gen_golden.SMOLLM2_GGUF)
    record, _ = LoadGolden("smollm2-135m")
    prompt = record["prompts"][0]
    print("SmolLM2 prompt 0:", repr(tokenizer.decode(prompt)))
    print("SmolLM2 recorded greedy:", repr(tokenizer.decode(record["greedy_ids"])))
    model = gen_golden.LoadModel(gen_golden.SMOLLM2_F32)
    chat = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
            "<|im_start|>assistant\n")
    ids = tokenizer.encode(chat).ids
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=24,
                             attention_mask=torch.ones(1, len(ids), dtype=torch.long))
    print("SmolLM2 chat greedy answer:", repr(tokenizer.decode([int(i) for i in out[0, len(ids):]],
                                                               skip_special_tokens=False)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-smollm2", action="store_true")
    args = parser.parse_args()
    data = os.path.join(gen_golden.REPO, "tests", "data")
    ok = CheckConverterOnStories()
    for name in ("stories260K", "tiny-qwen2", "tiny-qwen3", "tiny-llama3"):
        model_dir = os.path.join(data, "stories260K", "hf") if name == "stories260K" else \
            os.path.join(data, name)
        ok &= CheckAgainstNumpy(name, model_dir)
    if not args.skip_smollm2:
        ok &= CheckAgainstNumpy("smollm2-135m", gen_golden.SMOLLM2_F32)
        ok &= CheckAgainstNumpy("smollm2-135m", gen_golden.SMOLLM2_F32,
                                weights=RawGgufWeights(gen_golden.SMOLLM2_GGUF),
                                adjacent_pairs=True)
    ok &= CheckStoriesGreedy()
    ok &= ReportGreedyGaps("stories260K", os.path.join(data, "stories260K", "hf"))
    if not args.skip_smollm2:
        ok &= ReportGreedyGaps("smollm2-135m", gen_golden.SMOLLM2_F32)
    if not args.skip_smollm2:
        ShowSmolLM2Text()
    print("ALL PASS" if ok else "SOME CHECKS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
