#!/usr/bin/env python3
"""Writes the fuzzers' small seed corpora (run from anywhere; rewrites the seed folders).

gguf_fuzzer/: tiny GGUF files written by the gguf package (llama.cpp's writer), with every
metadata kind and a few tensor types. safetensors_fuzzer/: tiny files written by the safetensors
package, plus an index JSON. hf_config_fuzzer/: config.json texts of the supported classes.
"""
import json
import os

import numpy as np
import gguf
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def out(name, sub):
    d = os.path.join(HERE, sub)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def mini_gguf(path, arch, quant, extra_meta):
    w = gguf.GGUFWriter(path, arch)
    w.add_uint32(f"{arch}.embedding_length", 32)
    w.add_uint32(f"{arch}.block_count", 1)
    w.add_uint32(f"{arch}.attention.head_count", 2)
    w.add_uint32(f"{arch}.attention.head_count_kv", 1)
    w.add_uint32(f"{arch}.feed_forward_length", 64)
    w.add_uint32(f"{arch}.context_length", 128)
    w.add_float32(f"{arch}.rope.freq_base", 10000.0)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_uint32("tokenizer.ggml.bos_token_id", 1)
    w.add_uint32("tokenizer.ggml.eos_token_id", 2)
    w.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(8)])
    extra_meta(w)
    rng = np.random.default_rng(0)
    shapes = {"token_embd.weight": (8, 32), "output_norm.weight": (32,),
              "blk.0.attn_norm.weight": (32,), "blk.0.attn_q.weight": (32, 32),
              "blk.0.attn_k.weight": (16, 32), "blk.0.attn_v.weight": (16, 32),
              "blk.0.attn_output.weight": (32, 32), "blk.0.ffn_norm.weight": (32,),
              "blk.0.ffn_gate.weight": (64, 32), "blk.0.ffn_up.weight": (64, 32),
              "blk.0.ffn_down.weight": (32, 64)}
    if arch == "qwen2":
        shapes.update({"blk.0.attn_q.bias": (32,), "blk.0.attn_k.bias": (16,),
                       "blk.0.attn_v.bias": (16,)})
    if arch == "qwen3":
        shapes.update({"blk.0.attn_q_norm.weight": (16,), "blk.0.attn_k_norm.weight": (16,)})
    for name, shape in shapes.items():
        x = rng.standard_normal(shape).astype(np.float32)
        if len(shape) == 2 and quant is not None:
            q = gguf.quants.quantize(x, quant)
            w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=quant)
        elif len(shape) == 2:
            w.add_tensor(name, x.astype(np.float16))
        else:
            w.add_tensor(name, x)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def every_kind(w):
    w.add_uint8("x.u8", 7); w.add_int8("x.i8", -7); w.add_uint16("x.u16", 700)
    w.add_int16("x.i16", -700); w.add_int32("x.i32", -70000); w.add_uint64("x.u64", 2**40)
    w.add_int64("x.i64", -2**40); w.add_float64("x.f64", 0.25); w.add_bool("x.bool", True)
    w.add_string("x.str", "hello")
    w.add_array("x.nested", [[1, 2], [3]])
    w.add_array("x.floats", [0.5, 1.5])


mini_gguf(out("llama_f16.gguf", "gguf_fuzzer"), "llama", None, every_kind)
mini_gguf(out("qwen2_q8_0.gguf", "gguf_fuzzer"), "qwen2", gguf.GGMLQuantizationType.Q8_0,
          lambda w: None)
mini_gguf(out("qwen3_q4_0.gguf", "gguf_fuzzer"), "qwen3", gguf.GGMLQuantizationType.Q4_0,
          lambda w: w.add_uint32("qwen3.attention.key_length", 16))

rng = np.random.default_rng(1)
save_file({"model.embed_tokens.weight": rng.standard_normal((4, 8)).astype(np.float16),
           "model.norm.weight": np.ones(8, np.float32)},
          out("two_tensors.safetensors", "safetensors_fuzzer"), metadata={"format": "pt"})
save_file({"lm_head.weight": rng.standard_normal((2, 3)).astype(np.float32)},
          out("one_tensor.safetensors", "safetensors_fuzzer"))
with open(out("index.json", "safetensors_fuzzer"), "w") as f:
    json.dump({"metadata": {"total_size": 80}, "weight_map": {
        "model.norm.weight": "model-00001-of-00002.safetensors",
        "lm_head.weight": "model-00002-of-00002.safetensors"}}, f)

base = {"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
        "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 512,
        "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2}
configs = {
    "llama.json": {"architectures": ["LlamaForCausalLM"], **base},
    "llama31.json": {"architectures": ["LlamaForCausalLM"], **base, "eos_token_id": [2, 3],
                     "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
                                      "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 256}},
    "mistral.json": {"architectures": ["MistralForCausalLM"], **base, "head_dim": None},
    "qwen2.json": {"architectures": ["Qwen2ForCausalLM"], **base},
    "qwen3.json": {"architectures": ["Qwen3ForCausalLM"], **base, "head_dim": 16},
}
for name, cfg in configs.items():
    with open(out(name, "hf_config_fuzzer"), "w") as f:
        json.dump(cfg, f, indent=1)
