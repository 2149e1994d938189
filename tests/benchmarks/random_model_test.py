#!/usr/bin/env python3
"""benchmarks/models/make_random_model.py makes files that the outside readers and Hearth load.

For each shape (tiny: 2 layers, 1/8 width, 1024-token vocabulary) and a set of types covering
every GGML type: the gguf package reads the file, every tensor dequantizes to finite values of
the intended magnitude with the shapes and metadata Hearth expects; the safetensors package and
HF `tokenizers` load the HF directory; `hearth inspect` loads each file and `hearth generate`
runs a few tokens on some.
Usage: random_model_test.py HEARTH_BINARY
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import tokenizers
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors import safe_open

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
GEN = os.path.join(ROOT, "benchmarks", "models", "make_random_model.py")
sys.path.insert(0, os.path.dirname(GEN))
import make_random_model as mrm  # noqa: E402
TINY = ["--num-layers", "2", "--scale", "0.125", "--vocab-size", "1024", "--context", "4096"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(cmd, expect_fail=False):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if (r.returncode != 0) != expect_fail:
        print(r.stdout, r.stderr)
    return r


def check_gguf(path, shape, gguf_type, hearth):
    reader = GGUFReader(path)
    fields = {f.name: f for f in reader.fields.values()}
    arch = "qwen2" if shape.startswith("qwen") else "llama"
    check(bytes(fields["general.architecture"].parts[-1]).decode() == arch, f"{path}: arch")
    n_layers = int(fields[f"{arch}.block_count"].parts[-1][0])
    check(n_layers == 2, f"{path}: block_count {n_layers}")
    types = {}
    for t in reader.tensors:
        w = dequantize(t.data, t.tensor_type)
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
        check(np.isfinite(w).all(), f"{path}: {t.name} has non-finite values")
        if t.name.endswith("norm.weight"):
            check(np.all(w == 1.0), f"{path}: {t.name} is not all ones")
        elif t.name != "rope_freqs.weight":
            rms = float(np.sqrt(np.mean(np.square(w.astype(np.float64)))))
            check(1e-4 < rms < 0.5, f"{path}: {t.name} rms {rms} out of range")
    print(f"{os.path.basename(path)}: {len(reader.tensors)} tensors {types}")
    if gguf_type == "Q4_K_M":
        check(set(types) == {"F32", "Q4_K", "Q6_K"}, f"{path}: Q4_K_M mix is {types}")
    elif gguf_type not in ("F32",):
        check(gguf_type in types, f"{path}: no {gguf_type} tensor")
    r = run([hearth, "inspect", path])
    check(r.returncode == 0 and re.search(rf"architecture: +{arch}\n", r.stdout),
          f"hearth inspect {path}")
    return r


def check_hf(d, dtype):
    cfg = json.load(open(os.path.join(d, "config.json")))
    with safe_open(os.path.join(d, "model.safetensors"), "np") as f:
        names = list(f.keys())
        check(f"model.layers.1.mlp.down_proj.weight" in names and "lm_head.weight" in names,
              f"{d}: tensor names")
        if dtype != "bf16":  # numpy has no bfloat16: read those bits below
            w = f.get_tensor("model.layers.0.self_attn.q_proj.weight")
            check(w.shape == (cfg["hidden_size"], cfg["hidden_size"]), f"{d}: q_proj shape")
            check(np.isfinite(w).all() and 1e-4 < np.abs(w).mean() < 0.5, f"{d}: q_proj values")
    if dtype == "bf16":
        raw = open(os.path.join(d, "model.safetensors"), "rb").read()
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + n])
        a, b = header["model.layers.0.mlp.up_proj.weight"]["data_offsets"]
        bits = np.frombuffer(raw[8 + n + a:8 + n + b], "<u2").astype(np.uint32) << 16
        w = bits.view(np.float32)
        check(np.isfinite(w).all() and 1e-4 < np.abs(w).mean() < 0.5, f"{d}: bf16 values")
        check(len(raw) == 8 + n + max(v["data_offsets"][1] for k, v in header.items()
                                      if k != "__metadata__"), f"{d}: file size")
    tok = tokenizers.Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    check(tok.get_vocab_size() == cfg["vocab_size"], f"{d}: tokenizer size")
    enc = tok.encode("Hello world, héllo!")
    check(tok.decode(enc.ids, skip_special_tokens=True) == "Hello world, héllo!",
          f"{d}: tokenizer round trip")
    check(enc.ids[0] == cfg["bos_token_id"], f"{d}: BOS first")


def main():
    hearth = sys.argv[1]
    cases = [("llama-3.1-8b", t) for t in ("Q4_K_M", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0")]
    cases += [("qwen2.5-7b", t) for t in ("Q2_K", "Q3_K", "Q5_K", "BF16", "F16")]
    cases += [("mistral-7b", t) for t in ("Q6_K", "F32", "Q4_K")]
    with tempfile.TemporaryDirectory() as tmp:
        for shape, t in cases:
            path = os.path.join(tmp, f"{shape}-{t}.gguf")
            mrm.write_gguf(mrm.shape_config(shape, 2, 0.125, 1024, 4096), shape, t, path, seed=0)
            check_gguf(path, shape, t, hearth)
        # A generate run on a quantized GGUF and on each HF directory: the loader, tokenizer and
        # the CPU forward pass accept the files end to end.
        r = run([hearth, "generate", "--model", os.path.join(tmp, "llama-3.1-8b-Q4_K_M.gguf"),
                 "--max-tokens", "4", "Hello world"])
        check(r.returncode == 0 and re.search(r"decode: [1-4] tokens", r.stdout + r.stderr),
              "hearth generate on the Q4_K_M GGUF")
        for shape, dtype in (("llama-3.1-8b", "bf16"), ("qwen2.5-7b", "f16"),
                             ("mistral-7b", "f32")):
            d = os.path.join(tmp, f"{shape}-hf")
            r = run([sys.executable, GEN, "--shape", shape, "--dtype", dtype, "--out", d] + TINY)
            check(r.returncode == 0, f"generate {shape} safetensors")
            check_hf(d, dtype)
            r = run([hearth, "generate", "--model", d, "--max-tokens", "3", "Hello world"])
            check(r.returncode == 0 and re.search(r"decode: [1-3] tokens", r.stdout + r.stderr),
                  f"hearth generate {d}")
        # Bad arguments are clear errors.
        r = run([sys.executable, GEN, "--gguf", "Q9_K", "--out", os.path.join(tmp, "x.gguf")],
                expect_fail=True)
        check(r.returncode != 0 and "unknown GGUF type" in r.stderr, "unknown type error")
        r = run([sys.executable, GEN, "--gguf", "Q4_K", "--out", os.path.join(tmp, "y.gguf"),
                 "--vocab-size", "100"], expect_fail=True)
        check(r.returncode != 0 and "below 258" in r.stderr, "tiny vocab error")
    print(f"{0 if failures else 1} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
