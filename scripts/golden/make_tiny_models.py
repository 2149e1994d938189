#!/usr/bin/env python3
"""Generates the tiny random checkpoints tests/data/tiny-{qwen2,qwen3,llama3}/.

Each is config.json + model.safetensors (float32), made with transformers from a config under a
fixed seed. The default init (std 0.02) gives near-uniform logits, which would let a broken
forward pass pass a parity test, so the weights are redrawn larger: matrices N(0, 0.2), biases
N(0, 0.1), norm weights 1 + N(0, 0.1).

config.json is written by hand in the classic Hugging Face Hub spelling (rope_theta and
rope_scaling at the top level, as in Llama 3.2's and Qwen's published configs) rather than
transformers 5's rope_parameters; transformers reads both. The script reloads every directory
with transformers and checks that nothing is missing and the tensors round-trip.

Needs torch + transformers (only to regenerate; not needed in CI). Run from the repository root:
  python3 scripts/golden/make_tiny_models.py
"""

import copy
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 1234

_COMMON = {
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
    "hidden_act": "silu",
    "torch_dtype": "float32",
}

# name -> (architecture class, model_type, config fields beyond _COMMON)
MODELS = {
    "tiny-qwen2": ("Qwen2ForCausalLM", "qwen2", {
        "num_hidden_layers": 2,
        "head_dim": 16,
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-06,
        "tie_word_embeddings": True,
        "use_sliding_window": False,
        "sliding_window": None,
        "max_window_layers": 2,
    }),
    "tiny-qwen3": ("Qwen3ForCausalLM", "qwen3", {
        "num_hidden_layers": 2,
        # num_attention_heads * head_dim = 128 != hidden_size 64, as in real Qwen3 models.
        "head_dim": 32,
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-06,
        "attention_bias": False,
        "tie_word_embeddings": False,
        "use_sliding_window": False,
        "sliding_window": None,
        "max_window_layers": 2,
    }),
    "tiny-llama3": ("LlamaForCausalLM", "llama", {
        "num_hidden_layers": 3,
        "head_dim": 16,
        "rope_theta": 500000.0,
        # With head_dim 16 and theta 5e5 the 8 frequencies have wavelengths 6.3, 32, 167, ...
        # so all three llama3 bands are used: kept (< 16), blended (16..64), divided by 8 (> 64).
        "rope_scaling": {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 64,
        },
        "rms_norm_eps": 1e-05,
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }),
}


def ConfigDict(name):
    arch, model_type, extra = MODELS[name]
    config = {"architectures": [arch], "model_type": model_type}
    config.update(_COMMON)
    config.update(extra)
    return config


def Reinitialize(model, generator):
    """Redraws every parameter, in name order, so the result depends only on SEED."""
    with torch.no_grad():
        for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
            if name.endswith("norm.weight"):
                values = 1.0 + 0.1 * torch.randn(param.shape, generator=generator)
            elif name.endswith(".bias"):
                values = 0.1 * torch.randn(param.shape, generator=generator)
            else:
                values = 0.2 * torch.randn(param.shape, generator=generator)
            param.copy_(values)


def Make(name):
    config_dict = ConfigDict(name)
    # transformers edits nested dicts it is given (it adds rope_theta into rope_scaling).
    config = transformers.AutoConfig.for_model(**copy.deepcopy(config_dict))
    torch.manual_seed(SEED)
    model = getattr(transformers, config_dict["architectures"][0])(config).to(torch.float32)
    Reinitialize(model, torch.Generator().manual_seed(SEED))
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    if config_dict["tie_word_embeddings"]:
        state.pop("lm_head.weight", None)
    out = os.path.join(REPO, "tests", "data", name)
    os.makedirs(out, exist_ok=True)
    weights_path = os.path.join(out, "model.safetensors")
    save_file(state, weights_path, metadata={"format": "pt"})
    os.chmod(weights_path, 0o644)  # save_file creates the file 0600
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config_dict, f, indent=2)
        f.write("\n")

    reloaded, info = transformers.AutoModelForCausalLM.from_pretrained(
        out, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        sys.exit(f"{name}: reloading reported {problems}")
    for key, value in reloaded.state_dict().items():
        expected = state.get(key, state["model.embed_tokens.weight"] if key == "lm_head.weight"
                             else None)
        if expected is None or not torch.equal(value, expected):
            sys.exit(f"{name}: tensor {key} did not round-trip")
    size = os.path.getsize(os.path.join(out, "model.safetensors"))
    count = sum(v.numel() for v in state.values())
    print(f"{name}: {count} parameters, model.safetensors {size} bytes")


def main():
    for name in MODELS:
        Make(name)


if __name__ == "__main__":
    main()
