#!/usr/bin/env python3
"""Oracle check of DequantizeCpu: every tensor of every tests/data/tiny-random-llama file is
dequantized by dequant_tool (Hearth) and by the gguf package's numpy dequantizers; the float32
results must be identical bit for bit (NaN payloads included).

usage: check_dequant_oracle.py DEQUANT_TOOL DATA_DIR
"""
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf


def main() -> int:
    tool, data_dir = sys.argv[1], sys.argv[2]
    files = sorted(glob.glob(os.path.join(data_dir, "tiny-random-llama", "*.gguf")))
    if not files:
        print(f"FAIL: no GGUF files under {data_dir}/tiny-random-llama")
        return 1
    failures = 0
    per_type: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = os.path.join(tmp, "in.bin")
        out_path = os.path.join(tmp, "out.f32")
        for path in files:
            reader = gguf.GGUFReader(path)
            for t in reader.tensors:
                qtype = gguf.GGMLQuantizationType(t.tensor_type)
                n = int(t.n_elements)
                raw = np.ascontiguousarray(t.data).view(np.uint8)
                raw.tofile(raw_path)
                proc = subprocess.run([tool, qtype.name, str(n), raw_path, out_path],
                                      capture_output=True, text=True)
                name = f"{os.path.basename(path)}:{t.name} ({qtype.name})"
                if proc.returncode != 0:
                    print(f"FAIL {name}: dequant_tool: {proc.stderr.strip()}")
                    failures += 1
                    continue
                ours = np.fromfile(out_path, dtype=np.float32)
                ref = np.ascontiguousarray(
                    gguf.quants.dequantize(t.data, qtype), dtype=np.float32).reshape(-1)
                if ours.size != ref.size:
                    print(f"FAIL {name}: {ours.size} values, oracle has {ref.size}")
                    failures += 1
                    continue
                diff = np.nonzero(ours.view(np.uint32) != ref.view(np.uint32))[0]
                if diff.size:
                    i = int(diff[0])
                    print(f"FAIL {name}: {diff.size}/{n} values differ; first at {i}: "
                          f"ours {ours[i]!r} oracle {ref[i]!r}")
                    failures += 1
                    continue
                per_type[qtype.name] = per_type.get(qtype.name, 0) + 1
    for name, count in sorted(per_type.items()):
        print(f"bit-exact: {name}: {count} tensors")
    expected = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K",
                "Q4_K", "Q5_K", "Q6_K"}
    missing = expected - set(per_type)
    if missing:
        print(f"FAIL: no tensor of type(s) {sorted(missing)} was checked")
        failures += 1
    print("PASS" if failures == 0 else f"FAIL: {failures} problem(s)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
