#!/usr/bin/env python3
"""A float64 numpy forward pass of the decoder models the goldens cover, as a second oracle.

gen_golden.py's logits come from Hugging Face transformers. This independent, deliberately
plain implementation (one full causal forward, no KV cache) is run beside it to check the
goldens two ways: on the Hugging Face weights (rotate-half RoPE) and on the raw GGUF tensors
(adjacent-pair RoPE, the llama.cpp row order), the latter checking dequantize_gguf_to_hf.py's
row un-permutation without using it.

Covers: Llama (incl. llama3 rope scaling), Qwen2 (q/k/v bias), Qwen3 (q/k RMSNorm, explicit
head_dim). Needs numpy only.
"""

import math

import numpy as np


def _rms_norm(x, w, eps):
    # x: [..., dim]
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _silu(x):
    return x / (1.0 + np.exp(-x))


def InvFreq(config, head_dim):
    """RoPE inverse frequencies [head_dim/2], with llama3 scaling when configured."""
    theta = config.get("rope_theta")
    scaling = config.get("rope_scaling")
    params = config.get("rope_parameters")  # transformers >= 5 spelling
    if params:
        theta = params.get("rope_theta", theta)
        if params.get("rope_type", "default") != "default":
            scaling = params
    theta = 10000.0 if theta is None else theta
    inv = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    if not scaling or scaling.get("rope_type", scaling.get("type")) in (None, "default"):
        return inv
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind != "llama3":
        raise ValueError(f"rope scaling '{kind}' not implemented here")
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_ctx = scaling["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    out = np.empty_like(inv)
    for i, f in enumerate(inv):
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            out[i] = f
        elif wavelen > low_wavelen:
            out[i] = f / factor
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out[i] = (1 - smooth) * f / factor + smooth * f
    return out


def _rope(x, inv_freq, adjacent_pairs):
    """x: [num_tokens, num_heads, head_dim] at positions 0..num_tokens-1."""
    num_tokens, _, head_dim = x.shape
    angles = np.arange(num_tokens, dtype=np.float64)[:, None] * inv_freq[None, :]
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
    if adjacent_pairs:
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out
    half = head_dim // 2
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def Forward(config, weights, ids, adjacent_pairs=False):
    """Logits [num_tokens, vocab] (float64) for one prompt starting at position 0.

    weights: Hugging Face names -> numpy arrays. adjacent_pairs: the q/k rows are in llama.cpp's
    order, so rotate pairs (2j, 2j+1) instead of halves.
    """
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    hidden = config["hidden_size"]
    num_heads = config["num_attention_heads"]
    num_kv_heads = config.get("num_key_value_heads", num_heads)
    head_dim = config.get("head_dim") or hidden // num_heads
    eps = config["rms_norm_eps"]
    inv_freq = InvFreq(config, head_dim)
    num_tokens = len(ids)
    x = w["model.embed_tokens.weight"][np.asarray(ids)]
    mask = np.triu(np.full((num_tokens, num_tokens), -np.inf), k=1)
    group = num_heads // num_kv_heads
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        h = _rms_norm(x, w[p + "input_layernorm.weight"], eps)

        def proj(name):
            y = h @ w[p + f"self_attn.{name}.weight"].T
            bias = w.get(p + f"self_attn.{name}.bias")
            return y if bias is None else y + bias

        q = proj("q_proj").reshape(num_tokens, num_heads, head_dim)
        k = proj("k_proj").reshape(num_tokens, num_kv_heads, head_dim)
        v = proj("v_proj").reshape(num_tokens, num_kv_heads, head_dim)
        if p + "self_attn.q_norm.weight" in w:  # Qwen3: RMSNorm over each head before RoPE
            q = _rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = _rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q = _rope(q, inv_freq, adjacent_pairs)
        k = _rope(k, inv_freq, adjacent_pairs)
        attn = np.empty((num_tokens, num_heads, head_dim))
        for head in range(num_heads):
            kv = head // group
            scores = q[:, head, :] @ k[:, kv, :].T / math.sqrt(head_dim) + mask
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            attn[:, head, :] = scores @ v[:, kv, :]
        x = x + attn.reshape(num_tokens, num_heads * head_dim) @ w[p + "self_attn.o_proj.weight"].T
        h = _rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (_silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = _rms_norm(x, w["model.norm.weight"], eps)
    tied = config.get("tie_word_embeddings", False) or "lm_head.weight" not in w
    head = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]
    return x @ head.T


def RelL2(actual, expected):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-30))
