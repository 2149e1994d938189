"""A streaming GGUF v3 writer (numpy only) and random tensor data in every GGML type Hearth reads.

Why not the `gguf` package's GGUFWriter: it is not installed on the GPU machines (no network
there), and the file must be written tensor by tensor without holding 5-16 GB in memory. The
`gguf` package stays the oracle: tests/benchmarks read every file this writes with GGUFReader
and its numpy dequantizers.

Layout (GGUF v3, little endian): magic "GGUF", version, tensor count, metadata count, the
metadata key/values, the tensor infos (name, dims fastest-first, type, offset into the data
section), padding to `general.alignment` (32), then each tensor's bytes, each padded to 32.
"""
import struct

import numpy as np

ALIGNMENT = 32

# GGML type: (id, elements per block, bytes per block).
GGML_TYPES = {
    "F32": (0, 1, 4), "F16": (1, 1, 2), "BF16": (30, 1, 2),
    "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24),
    "Q8_0": (8, 32, 34),
    "Q2_K": (10, 256, 84), "Q3_K": (11, 256, 110), "Q4_K": (12, 256, 144),
    "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210),
}

# Byte offsets of the f16 scale fields inside one block, and a scale of that size which makes
# the dequantized values about 0.01-0.05 in magnitude for random quant bytes (the other fields
# hold 4- to 8-bit quants and sub-scales whose products reach ~15 x 63). Random bytes elsewhere
# are valid for every type: any bit pattern of the quants and packed sub-scales is a block.
SCALE_FIELDS = {
    "Q4_0": ([0], 4e-3), "Q4_1": ([0, 2], 2e-3), "Q5_0": ([0], 2e-3), "Q5_1": ([0, 2], 1e-3),
    "Q8_0": ([0], 2e-4),
    "Q2_K": ([80, 82], 4e-4), "Q3_K": ([108], 1.5e-4), "Q4_K": ([0, 2], 4e-5),
    "Q5_K": ([0, 2], 2e-5), "Q6_K": ([208], 1e-5),
}

# Metadata value types.
_U32, _I32, _F32, _BOOL, _STR, _ARR, _U64 = 4, 5, 6, 7, 8, 9, 10


def tensor_nbytes(ggml_type, shape):
    """Bytes of a tensor of `shape` (outermost first, as PyTorch writes it)."""
    _, block, size = GGML_TYPES[ggml_type]
    inner = shape[-1]
    if inner % block:
        raise ValueError(f"{ggml_type} needs rows that are a multiple of {block} elements; "
                         f"got shape {shape}")
    rows = 1
    for d in shape[:-1]:
        rows *= d
    return rows * (inner // block) * size


def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(v):
    """Type id + payload for one metadata value (str, bool, int, float or a list of them)."""
    if isinstance(v, bool):
        return struct.pack("<I", _BOOL) + struct.pack("<?", v)
    if isinstance(v, int):
        if 0 <= v < 2**32:
            return struct.pack("<I", _U32) + struct.pack("<I", v)
        return struct.pack("<I", _U64) + struct.pack("<Q", v)
    if isinstance(v, float):
        return struct.pack("<I", _F32) + struct.pack("<f", v)
    if isinstance(v, str):
        return struct.pack("<I", _STR) + _string(v)
    if isinstance(v, list):
        if not v:
            raise ValueError("empty metadata arrays have no element type")
        if isinstance(v[0], str):
            return struct.pack("<IIQ", _ARR, _STR, len(v)) + b"".join(_string(s) for s in v)
        if isinstance(v[0], float):
            return struct.pack("<IIQ", _ARR, _F32, len(v)) + np.asarray(v, "<f4").tobytes()
        if isinstance(v[0], int):
            return struct.pack("<IIQ", _ARR, _I32, len(v)) + np.asarray(v, "<i4").tobytes()
    raise TypeError(f"unsupported metadata value {v!r}")


# Elements per chunk the writers ask for at most; also the size of each type's random pool.
CHUNK_ELEMS = 1 << 25


class RandomData:
    """Random tensor bytes, fast enough for 8B models: each type gets one pool of up to
    CHUNK_ELEMS random elements (bit patterns drawn directly, never quantized from floats), and every
    request is a slice of that pool at a random block-aligned offset. Tensors thus repeat
    pieces of one random pool, which a speed test cannot tell from independent draws (every
    byte is still read), and a 16 GB model is written at disk speed."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.pools = {}

    def _float_pool(self, ggml_type, n):
        r = np.frombuffer(self.rng.bytes(2 * n), "<u2")
        if ggml_type == "BF16":
            # sign and 7 mantissa bits random; exponent 117..120 (2^-10 .. 2^-7 scale).
            return ((r & 0x807F) | ((117 + ((r >> 7) & 3)) << 7)).astype("<u2").tobytes()
        if ggml_type == "F16":
            # sign and 10 mantissa bits random; exponent 5..8 (2^-10 .. 2^-7 scale).
            return ((r & 0x83FF) | ((5 + ((r >> 10) & 3)) << 10)).astype("<u2").tobytes()
        values = (r.astype(np.float32) - 32768.0) * np.float32(0.03 / 32768)
        return values.astype("<f4").tobytes()

    def _quant_pool(self, ggml_type, n):
        """Random blocks with finite f16 scales of the magnitude in SCALE_FIELDS."""
        _, block, size = GGML_TYPES[ggml_type]
        nblocks = n // block
        data = np.frombuffer(bytearray(self.rng.bytes(nblocks * size)), np.uint8)
        data = data.reshape(nblocks, size)
        offsets, scale = SCALE_FIELDS[ggml_type]
        for off in offsets:
            d = (scale * self.rng.uniform(0.5, 1.5, nblocks)).astype("<f2")
            data[:, off:off + 2] = d.view(np.uint8).reshape(nblocks, 2)
        return data.tobytes()

    def tensor_bytes(self, ggml_type, count, fill=None):
        """`count` elements (at most CHUNK_ELEMS) of ggml_type. `fill`: None (random), a number
        (a constant, float types only) or the tensor's exact bytes."""
        if isinstance(fill, bytes):
            return fill
        _, block, size = GGML_TYPES[ggml_type]
        if fill is not None:
            if block != 1:
                raise ValueError(f"a constant fill is only for float types, not {ggml_type}")
            dt = {"F32": "<f4", "F16": "<f2"}.get(ggml_type)
            if dt is not None:
                return np.full(count, fill, dt).tobytes()
            bits = np.float32(fill).view(np.uint32) >> 16  # bf16 = top half of the f32
            return np.full(count, bits, "<u2").tobytes()
        if count > CHUNK_ELEMS or count % block:
            raise ValueError(f"{count} elements of {ggml_type}: not whole blocks within a chunk")
        pool_elems, pool = self.pools.get(ggml_type, (0, None))
        if count > pool_elems:  # grow in powers of two, so tiny models stay cheap to write
            pool_elems = min(CHUNK_ELEMS, max(1 << 16, 1 << (count - 1).bit_length()))
            pool = (self._float_pool(ggml_type, pool_elems) if block == 1
                    else self._quant_pool(ggml_type, pool_elems))
            self.pools[ggml_type] = (pool_elems, pool)
        nblocks = count // block
        start = int(self.rng.integers(0, pool_elems // block - nblocks + 1)) * size
        return memoryview(pool)[start:start + nblocks * size]


def write_gguf(path, metadata, tensors, data_source, chunk_elems=CHUNK_ELEMS):
    """Writes a GGUF v3 file.

    metadata: dict key -> value (str, bool, int, float or list).
    tensors: list of (name, ggml_type, shape outermost-first, fill or None); the data comes from
      data_source.tensor_bytes(type, count, fill), chunk by chunk (whole rows), so memory stays
      bounded by `chunk_elems` whatever the tensor size.
    """
    metadata = dict(metadata)
    metadata.setdefault("general.alignment", ALIGNMENT)
    infos = []
    offset = 0
    for name, ggml_type, shape, _ in tensors:
        nbytes = tensor_nbytes(ggml_type, shape)
        infos.append(_string(name) + struct.pack("<I", len(shape)) +
                     b"".join(struct.pack("<Q", d) for d in reversed(shape)) +
                     struct.pack("<IQ", GGML_TYPES[ggml_type][0], offset))
        offset += (nbytes + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
    header = [b"GGUF", struct.pack("<IQQ", 3, len(tensors), len(metadata))]
    header += [_string(k) + _value(v) for k, v in metadata.items()]
    header += infos
    with open(path, "wb") as f:
        for part in header:
            f.write(part)
        f.write(b"\0" * (-f.tell() % ALIGNMENT))
        for name, ggml_type, shape, fill in tensors:
            inner = shape[-1]
            rows = 1
            for d in shape[:-1]:
                rows *= d
            rows_per_chunk = max(1, chunk_elems // inner)
            written = 0
            for r0 in range(0, rows, rows_per_chunk):
                n = min(rows_per_chunk, rows - r0) * inner
                chunk = data_source.tensor_bytes(ggml_type, n, fill)
                f.write(chunk)
                written += len(chunk)
            assert written == tensor_nbytes(ggml_type, shape), name
            f.write(b"\0" * (-written % ALIGNMENT))
