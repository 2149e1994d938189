#!/usr/bin/env python3
"""Random-weight models in the shapes of Llama-3.1-8B, Qwen2.5-7B and Mistral-7B, for speed tests.

Writes either a Hugging Face directory (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json) in bf16/f16/f32, or one GGUF file in any GGML type Hearth reads, with the
same synthetic byte-level vocabulary (synthetic_tokenizer.py). Needs numpy only, so it runs on a
GPU machine without network. Weights are random bit patterns of trained-model magnitude (norms
are 1): the output is gibberish, the cost per token is the real shape's.

    # the 8B shape in bf16 safetensors, and Q4_K_M-like GGUF
    benchmarks/models/make_random_model.py --shape llama-3.1-8b --out /tmp/llama8b-bf16
    benchmarks/models/make_random_model.py --shape llama-3.1-8b --gguf Q4_K_M --out /tmp/l8.gguf
    # a tiny version for CI: 2 layers, 1/8 of the width, a 1024-token vocabulary
    benchmarks/models/make_random_model.py --shape qwen2.5-7b --num-layers 2 --scale 0.125 \\
        --vocab-size 1024 --gguf Q6_K --out /tmp/tiny-qwen.gguf
"""
import argparse
import json
import math
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer  # noqa: E402
import synthetic_tokenizer  # noqa: E402

HEAD_DIM = 128
# Published configurations (config.json of each model); rope scaling as Llama 3.1 ships it.
SHAPES = {
    "llama-3.1-8b": dict(arch="llama", hf_class="LlamaForCausalLM", hidden=4096, layers=32,
                         heads=32, kv_heads=8, ffn=14336, vocab=128256, context=131072,
                         rope_theta=500000.0, norm_eps=1e-5, bias=False,
                         rope_scaling={"rope_type": "llama3", "factor": 8.0,
                                       "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                       "original_max_position_embeddings": 8192}),
    "qwen2.5-7b": dict(arch="qwen2", hf_class="Qwen2ForCausalLM", hidden=3584, layers=28,
                       heads=28, kv_heads=4, ffn=18944, vocab=152064, context=32768,
                       rope_theta=1000000.0, norm_eps=1e-6, bias=True, rope_scaling=None),
    "mistral-7b": dict(arch="llama", hf_class="MistralForCausalLM", hidden=4096, layers=32,
                       heads=32, kv_heads=8, ffn=14336, vocab=32768, context=32768,
                       rope_theta=1000000.0, norm_eps=1e-5, bias=False, rope_scaling=None),
}
# Mixed K-quant recipes after llama.cpp's: most matrices in the base type, the value projection
# and FFN down projection of some layers and the LM head in Q6_K.
MIXES = {"Q4_K_M": "Q4_K", "Q5_K_M": "Q5_K", "Q3_K_M": "Q3_K"}


def shape_config(name, num_layers=None, scale=1.0, vocab_size=None, context=None):
    """The shape, optionally cut down: `scale` multiplies heads (keeping the GQA ratio and rows
    that are a multiple of 256, as K-quants need) and the FFN width."""
    c = dict(SHAPES[name])
    if scale != 1.0:
        if not 0 < scale <= 1:
            raise ValueError(f"--scale must be in (0, 1], got {scale}")
        ratio = c["heads"] // c["kv_heads"]
        heads = max(ratio, round(c["heads"] * scale / ratio) * ratio)
        while heads * HEAD_DIM % 256:
            heads += ratio
        c.update(heads=heads, kv_heads=heads // ratio, hidden=heads * HEAD_DIM,
                 ffn=max(256, round(c["ffn"] * scale / 256) * 256))
    if num_layers is not None:
        if num_layers < 1:
            raise ValueError("--num-layers must be at least 1")
        c["layers"] = num_layers
    if vocab_size is not None:
        c["vocab"] = vocab_size
    if context is not None:
        c["context"] = context
    return c


def use_more_bits(layer, n_layers):
    """llama.cpp's choice of the layers whose attn_v / ffn_down get more bits in *_K_M."""
    return (layer < n_layers // 8 or layer >= 7 * n_layers // 8 or
            (layer - n_layers // 8) % 3 == 2)


def layer_tensors(c):
    """(hf name, gguf name, shape [out, in], kind) for every tensor; kind is matrix, norm or
    bias. HF and GGUF store the same [out, in] matrices (GGUF lists dims fastest-first)."""
    h, f, kvd = c["hidden"], c["ffn"], c["kv_heads"] * HEAD_DIM
    out = [("model.embed_tokens.weight", "token_embd.weight", [c["vocab"], h], "embed")]
    for i in range(c["layers"]):
        p, g = f"model.layers.{i}.", f"blk.{i}."
        out += [(p + "input_layernorm.weight", g + "attn_norm.weight", [h], "norm"),
                (p + "self_attn.q_proj.weight", g + "attn_q.weight", [h, h], "matrix"),
                (p + "self_attn.k_proj.weight", g + "attn_k.weight", [kvd, h], "matrix"),
                (p + "self_attn.v_proj.weight", g + "attn_v.weight", [kvd, h], "attn_v")]
        if c["bias"]:
            out += [(p + "self_attn.q_proj.bias", g + "attn_q.bias", [h], "bias"),
                    (p + "self_attn.k_proj.bias", g + "attn_k.bias", [kvd], "bias"),
                    (p + "self_attn.v_proj.bias", g + "attn_v.bias", [kvd], "bias")]
        out += [(p + "self_attn.o_proj.weight", g + "attn_output.weight", [h, h], "matrix"),
                (p + "post_attention_layernorm.weight", g + "ffn_norm.weight", [h], "norm"),
                (p + "mlp.gate_proj.weight", g + "ffn_gate.weight", [f, h], "matrix"),
                (p + "mlp.up_proj.weight", g + "ffn_up.weight", [f, h], "matrix"),
                (p + "mlp.down_proj.weight", g + "ffn_down.weight", [h, f], "ffn_down")]
    out += [("model.norm.weight", "output_norm.weight", [h], "norm"),
            ("lm_head.weight", "output.weight", [c["vocab"], h], "lm_head")]
    return out


def gguf_type_of(kind, layer, c, gguf_type):
    if kind in ("norm", "bias"):
        return "F32"
    base = MIXES.get(gguf_type, gguf_type)
    if gguf_type in MIXES:
        if kind == "lm_head":
            return "Q6_K"
        if kind in ("attn_v", "ffn_down") and use_more_bits(layer, c["layers"]):
            return "Q6_K"
    return base


def llama3_rope_factors(c):
    """Llama 3.1's per-frequency divisors, as llama.cpp stores them in rope_freqs.weight."""
    s = c["rope_scaling"]
    old = s["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / s["low_freq_factor"], old / s["high_freq_factor"]
    factors = []
    for i in range(0, HEAD_DIM, 2):
        freq = 1.0 / c["rope_theta"] ** (i / HEAD_DIM)
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(s["factor"])
        else:
            smooth = (old / wavelen - s["low_freq_factor"]) / (s["high_freq_factor"] -
                                                               s["low_freq_factor"])
            factors.append(1.0 / ((1 - smooth) / s["factor"] + smooth))
    return factors


def write_gguf(c, shape_name, gguf_type, path, seed):
    a = c["arch"]
    meta = {
        "general.architecture": a,
        "general.name": f"random {shape_name} ({gguf_type})",
        "general.file_type": 1,
        f"{a}.context_length": c["context"], f"{a}.embedding_length": c["hidden"],
        f"{a}.block_count": c["layers"], f"{a}.feed_forward_length": c["ffn"],
        f"{a}.attention.head_count": c["heads"], f"{a}.attention.head_count_kv": c["kv_heads"],
        f"{a}.rope.dimension_count": HEAD_DIM, f"{a}.rope.freq_base": c["rope_theta"],
        f"{a}.attention.layer_norm_rms_epsilon": c["norm_eps"], f"{a}.vocab_size": c["vocab"],
    }
    meta.update(synthetic_tokenizer.gguf_metadata(c["vocab"]))
    tensors = []
    if c["rope_scaling"] is not None:
        factors = struct.pack(f"<{HEAD_DIM // 2}f", *llama3_rope_factors(c))
        tensors.append(("rope_freqs.weight", "F32", [HEAD_DIM // 2], factors))
    for _, name, shape, kind in layer_tensors(c):
        layer = int(name.split(".")[1]) if name.startswith("blk.") else -1
        t = gguf_type_of(kind, layer, c, gguf_type)
        tensors.append((name, t, shape, 1.0 if kind == "norm" else None))
    gguf_writer.write_gguf(path, meta, tensors, gguf_writer.RandomData(seed))


def write_hf(c, dtype, out_dir, seed):
    os.makedirs(out_dir, exist_ok=True)
    st_dtype = {"bf16": "BF16", "f16": "F16", "f32": "F32"}[dtype]
    ggml = {"bf16": "BF16", "f16": "F16", "f32": "F32"}[dtype]
    esize = 4 if dtype == "f32" else 2
    tok_json, tok_config, bos, eos = synthetic_tokenizer.tokenizer_json(c["vocab"])
    config = {
        "architectures": [c["hf_class"]],
        "model_type": {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2",
                       "MistralForCausalLM": "mistral"}[c["hf_class"]],
        "hidden_size": c["hidden"], "intermediate_size": c["ffn"],
        "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
        "num_key_value_heads": c["kv_heads"], "head_dim": HEAD_DIM,
        "vocab_size": c["vocab"], "max_position_embeddings": c["context"],
        "rope_theta": c["rope_theta"], "rms_norm_eps": c["norm_eps"],
        "rope_scaling": c["rope_scaling"], "tie_word_embeddings": False,
        "hidden_act": "silu", "bos_token_id": bos, "eos_token_id": eos,
        "torch_dtype": {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[dtype],
    }
    if c["hf_class"] == "LlamaForCausalLM":
        config.update(attention_bias=False, mlp_bias=False)
    if c["hf_class"] == "MistralForCausalLM":
        config["sliding_window"] = None
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tok_json)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        f.write(tok_config)

    # safetensors: u64 header length, JSON header {name: {dtype, shape, data_offsets}}, data.
    tensors = layer_tensors(c)
    header, offset = {}, 0
    for hf_name, _, shape, _ in tensors:
        n = math.prod(shape) * esize
        header[hf_name] = {"dtype": st_dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    data = gguf_writer.RandomData(seed)
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for _, _, shape, kind in tensors:
            fill = 1.0 if kind == "norm" else None
            rows, inner = math.prod(shape[:-1]), shape[-1]
            step = max(1, gguf_writer.CHUNK_ELEMS // inner)
            for r0 in range(0, rows, step):
                f.write(data.tensor_bytes(ggml, min(step, rows - r0) * inner, fill))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", choices=sorted(SHAPES), default="llama-3.1-8b")
    p.add_argument("--out", required=True, help="a directory (safetensors) or a .gguf file")
    p.add_argument("--gguf", metavar="TYPE", default=None,
                   help="write GGUF with matrices in TYPE: " + ", ".join(
                       [t for t in gguf_writer.GGML_TYPES] + sorted(MIXES)))
    p.add_argument("--dtype", choices=["bf16", "f16", "f32"], default="bf16",
                   help="safetensors element type (default bf16)")
    p.add_argument("--num-layers", type=int, default=None, help="override the layer count")
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply heads and FFN width (tiny CI models)")
    p.add_argument("--vocab-size", type=int, default=None, help="override the vocabulary size")
    p.add_argument("--context", type=int, default=None, help="override the context length")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.gguf is not None and args.gguf not in gguf_writer.GGML_TYPES and \
            args.gguf not in MIXES:
        p.error(f"unknown GGUF type {args.gguf}")
    try:
        c = shape_config(args.shape, args.num_layers, args.scale, args.vocab_size, args.context)
    except ValueError as e:
        p.error(str(e))
    t0 = time.time()
    if args.gguf:
        if os.path.isdir(args.out):
            p.error(f"--out {args.out} is a directory; GGUF output is one file")
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        try:
            write_gguf(c, args.shape, args.gguf, args.out, args.seed)
        except ValueError as e:
            sys.exit(f"error: {e}")
        size = os.path.getsize(args.out)
    else:
        write_hf(c, args.dtype, args.out, args.seed)
        size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    print(f"{args.out}: {args.shape} layers {c['layers']} hidden {c['hidden']} heads "
          f"{c['heads']}/{c['kv_heads']} ffn {c['ffn']} vocab {c['vocab']}, "
          f"{args.gguf or args.dtype}, {size / 2**30:.2f} GiB in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
