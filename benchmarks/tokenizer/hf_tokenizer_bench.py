#!/usr/bin/env python3
"""Hugging Face `tokenizers` throughput on the benchmark corpus, the counterpart of
bench_tokenizer. One thread (RAYON_NUM_THREADS=1), one encode() per line, no special tokens.

  hf_tokenizer_bench.py CORPUS

Tokenizers (HF-format equivalents built from the same vocab GGUFs bench_tokenizer loads):
  spm      Llama 2 (tests/data/llama-vocab/ggml-vocab-llama-spm.gguf): BPE with merges derived
           from the SentencePiece scores, Prepend/Replace normalizer, byte fallback
  gpt2     GPT-2 (ggml-vocab-gpt-2.gguf): ByteLevel BPE
  smollm2  SmolLM2-135M-Instruct GGUF (scripts/tokenizer_oracle.py's equivalent tokenizer.json)
"""
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import tokenizer_oracle  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def gguf_fields(path):
    import gguf
    r = gguf.GGUFReader(path)

    def get(key):
        f = r.fields[key]
        if f.types[0] == gguf.GGUFValueType.ARRAY:
            if f.types[1] == gguf.GGUFValueType.STRING:
                return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            return [f.parts[i].tolist()[0] for i in f.data]
        return f.parts[f.data[0]].tolist()[0]
    return get


def spm_json():
    get = gguf_fields(os.path.join(ROOT, "tests/data/llama-vocab/ggml-vocab-llama-spm.gguf"))
    tokens, scores, types = get("tokenizer.ggml.tokens"), get("tokenizer.ggml.scores"), \
        get("tokenizer.ggml.token_type")
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = []
    for piece, score, ty in zip(tokens, scores, types):
        if ty != 1 or len(piece) < 2:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                merges.append((-score, vocab[left], vocab[right], left, right))
    merges.sort()
    return {
        "version": "1.0", "added_tokens": [
            {"id": i, "content": t, "special": True, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False} for i, t in enumerate(tokens[:3])],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None, "post_processor": None, "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [[m[3], m[4]] for m in merges]},
    }


def gpt2_json():
    get = gguf_fields(os.path.join(ROOT, "tests/data/llama-vocab/ggml-vocab-gpt-2.gguf"))
    tokens = get("tokenizer.ggml.tokens")
    return {
        "version": "1.0", "added_tokens": [
            {"id": 50256, "content": "<|endoftext|>", "special": True, "single_word": False,
             "lstrip": False, "rstrip": False, "normalized": False}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": False,
                                            "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "vocab": {t: i for i, t in enumerate(tokens)},
                  "merges": get("tokenizer.ggml.merges")},
    }


def main():
    with open(sys.argv[1], encoding="utf-8", newline="") as f:  # keep lone \r as is
        lines = f.read().split("\n")
    nbytes = sum(len(l.encode("utf-8")) + 1 for l in lines)
    only = sys.argv[2:]  # optional family names
    llama2_hf = os.path.join(ROOT, "tests", "data", "llama2-tokenizer", "hf", "tokenizer.json")
    for name, build in [("spm", spm_json), ("spm-json", None), ("gpt2", gpt2_json),
                        ("smollm2", tokenizer_oracle.smollm2_json)]:
        if only and name not in only:
            continue
        # spm-json: the very file Hearth loads (exact on both sides).
        tok = Tokenizer.from_file(llama2_hf) if build is None else Tokenizer.from_str(
            json.dumps(build()))
        tok.encode(lines[0], add_special_tokens=False)  # warm up
        t0 = time.perf_counter()
        n = 0
        for line in lines:
            n += len(tok.encode(line, add_special_tokens=False).ids)
        dt = time.perf_counter() - t0
        t0 = time.perf_counter()
        nb = sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False))
        dtb = time.perf_counter() - t0
        print(f"hf-tokenizers {name:8s} {nbytes / 1e6:.1f} MB  {n} tokens  "
              f"encode/line {nbytes / dt / 1e6:6.2f} MB/s  encode_batch(1 thread) "
              f"{nbytes / dtb / 1e6:6.2f} MB/s ({nb} tokens)")


if __name__ == "__main__":
    main()
