#!/usr/bin/env python3
"""Converts a llama-architecture GGUF into a float32 Hugging Face checkpoint directory.

Writes <out>/config.json (LlamaForCausalLM) and <out>/model.safetensors (every tensor float32,
Hugging Face names). No tokenizer files are written: golden tests use token ids.

Why: the golden logits of issue 4 come from Hugging Face transformers, which cannot read a
quantized GGUF. Dequantizing the very GGUF Hearth loads gives transformers the same weights
Hearth sees (the quantization error is in both), so the two forward passes can be compared at
a float32 tolerance.

Needs only gguf, numpy and safetensors (scripts/setup.sh installs them), never torch.

Rotary layout: llama.cpp's converter permutes the rows of attn_q and attn_k inside each head so
that its RoPE can rotate adjacent pairs (2j, 2j+1). Hugging Face's Llama rotates halves
(j, j + head_dim/2). Within one head, GGUF row 2j+k holds the Hugging Face row k*head_dim/2 + j
(k in {0, 1}, j < head_dim/2); this script undoes that move.

Usage:
  python3 scripts/dequantize_gguf_to_hf.py [GGUF] [--out DIR]
Defaults: GGUF = ~/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch_default_model.sh
fetches it), DIR = ~/.cache/hearth/<gguf stem without the quant suffix>-f32/.
"""

import argparse
import json
import os
import re
import sys
import time

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType
from gguf.quants import dequantize
from safetensors.numpy import save_file

# llama.cpp tensor name suffix (after "blk.N.") -> Hugging Face name suffix (after
# "model.layers.N.").
_LAYER_TENSORS = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
_GLOBAL_TENSORS = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


class ConversionError(Exception):
    pass


def _field(reader, key, default=None, required=True):
    field = reader.fields.get(key)
    if field is None:
        if required and default is None:
            raise ConversionError(f"GGUF metadata key '{key}' is missing")
        return default
    return field.contents()


def ReadConfig(reader):
    """Maps the GGUF llama.* metadata onto a transformers LlamaConfig dictionary."""
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ConversionError(
            f"general.architecture is '{arch}'; this script converts only 'llama' GGUFs")
    p = "llama."
    hidden = int(_field(reader, p + "embedding_length"))
    num_heads = int(_field(reader, p + "attention.head_count"))
    num_kv_heads = int(_field(reader, p + "attention.head_count_kv", default=num_heads))
    head_dim = int(_field(reader, p + "attention.key_length", default=hidden // num_heads))
    rope_dim = int(_field(reader, p + "rope.dimension_count", default=head_dim))
    if rope_dim != head_dim:
        raise ConversionError(
            f"rope.dimension_count {rope_dim} != head_dim {head_dim}: partial rotary is not "
            "supported by LlamaForCausalLM")
    if p + "rope.scaling.type" in reader.fields:
        raise ConversionError("GGUF rope scaling (llama.rope.scaling.*) is not supported yet")
    if "rope_freqs.weight" in {t.name for t in reader.tensors}:
        raise ConversionError(
            "rope_freqs.weight present (llama3 rope scaling): not supported by this script")
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    vocab = _field(reader, p + "vocab_size", default=-1, required=False)
    if vocab == -1:
        if tokens is None:
            raise ConversionError("neither llama.vocab_size nor tokenizer.ggml.tokens is present")
        vocab = len(tokens.data)
    names = {t.name for t in reader.tensors}
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": int(_field(reader, p + "feed_forward_length")),
        "num_hidden_layers": int(_field(reader, p + "block_count")),
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_kv_heads,
        "head_dim": head_dim,
        "vocab_size": int(vocab),
        "max_position_embeddings": int(_field(reader, p + "context_length")),
        # GGUF stores eps as float32 (9.9999997e-06); 7 significant digits give back 1e-05.
        "rms_norm_eps": float(f"{_field(reader, p + 'attention.layer_norm_rms_epsilon'):.7g}"),
        "rope_theta": float(_field(reader, p + "rope.freq_base", default=10000.0)),
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": "output.weight" not in names,
        "torch_dtype": "float32",
    }
    for gguf_key, hf_key in (("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"),
                             ("padding_token_id", "pad_token_id")):
        value = _field(reader, "tokenizer.ggml." + gguf_key, default=-1, required=False)
        if value != -1:
            config[hf_key] = int(value)
    return config


def UnpermuteRotaryRows(w, n_heads):
    """Undoes llama.cpp's per-head row permutation (adjacent-pair -> rotate-half layout).

    w: [n_heads * head_dim, cols], GGUF row order. Returns the Hugging Face row order.
    GGUF row 2j+k of a head is Hugging Face row k*head_dim/2 + j.
    """
    rows, cols = w.shape
    if rows % (2 * n_heads) != 0:
        raise ConversionError(f"{rows} rows do not split into {n_heads} heads of even size")
    half = rows // n_heads // 2
    return np.ascontiguousarray(
        w.reshape(n_heads, half, 2, cols).swapaxes(1, 2).reshape(rows, cols))


def TensorToFloat32(tensor):
    """Dequantizes one GGUF tensor to float32 in numpy shape (reversed GGUF dims)."""
    qtype = tensor.tensor_type
    if qtype == GGMLQuantizationType.F32:
        data = np.asarray(tensor.data, dtype=np.float32)
    elif qtype in (GGMLQuantizationType.F16, GGMLQuantizationType.BF16):
        data = dequantize(tensor.data, qtype).astype(np.float32)
    else:
        data = dequantize(tensor.data, qtype).astype(np.float32, copy=False)
    shape = tuple(int(d) for d in reversed(tensor.shape))
    return np.ascontiguousarray(data.reshape(shape))


def Convert(gguf_path, out_dir, log=print):
    try:
        reader = GGUFReader(gguf_path)
    except (ValueError, OSError) as e:  # the reader raises ValueError on a malformed file
        raise ConversionError(f"not a readable GGUF file: {e}") from e
    config = ReadConfig(reader)
    tensors = {}
    layer_re = re.compile(r"^blk\.(\d+)\.(.+)$")
    for tensor in reader.tensors:
        m = layer_re.match(tensor.name)
        if m:
            suffix = _LAYER_TENSORS.get(m.group(2))
            hf_name = f"model.layers.{m.group(1)}.{suffix}" if suffix else None
        else:
            hf_name = _GLOBAL_TENSORS.get(tensor.name)
        if hf_name is None:
            raise ConversionError(f"tensor '{tensor.name}' has no Hugging Face Llama name")
        w = TensorToFloat32(tensor)
        if m and m.group(2) == "attn_q.weight":
            w = UnpermuteRotaryRows(w, config["num_attention_heads"])
        elif m and m.group(2) == "attn_k.weight":
            w = UnpermuteRotaryRows(w, config["num_key_value_heads"])
        tensors[hf_name] = w
    expected = 2 + 9 * config["num_hidden_layers"] + (0 if config["tie_word_embeddings"] else 1)
    if len(tensors) != expected:
        raise ConversionError(f"expected {expected} tensors, converted {len(tensors)}")
    os.makedirs(out_dir, exist_ok=True)
    save_file(tensors, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    log(f"wrote {len(tensors)} float32 tensors and config.json to {out_dir}")
    return config


def DefaultOutDir(gguf_path):
    stem = os.path.basename(gguf_path)
    if stem.endswith(".gguf"):
        stem = stem[: -len(".gguf")]
    stem = re.sub(r"\.(Q\d\w*|F16|F32|BF16|IQ\w+)$", "", stem, flags=re.IGNORECASE)
    cache = os.environ.get("HEARTH_CACHE", os.path.expanduser("~/.cache/hearth"))
    return os.path.join(cache, stem + "-f32")


def main():
    cache = os.environ.get("HEARTH_CACHE", os.path.expanduser("~/.cache/hearth"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gguf", nargs="?",
                        default=os.path.join(cache, "SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--out", help="output directory (default: see module docstring)")
    args = parser.parse_args()
    if not os.path.isfile(args.gguf):
        sys.exit(f"error: {args.gguf} not found (run scripts/fetch_default_model.sh first)")
    out = args.out or DefaultOutDir(args.gguf)
    start = time.monotonic()
    try:
        Convert(args.gguf, out)
    except ConversionError as e:
        sys.exit(f"error: {args.gguf}: {e}")
    print(f"done in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
