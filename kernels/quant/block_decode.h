// Decoding of GGUF weight blocks, eight elements at a time, shared by the CPU dequantizer, the
// CPU matmul and the CUDA kernels (host and device compile the same formulas, so GPU and CPU
// dequantization agree bit for bit). Byte layouts: blocks.h.
//
// The arithmetic order of every formula follows ggml's reference dequantizers (and the gguf
// Python package's numpy port of them), e.g. Q4_K is (d * sc) * q - (dmin * m) in float32 with
// each product rounded separately. Device code uses the _rn intrinsics so that nvcc cannot fuse
// a multiply and an add into an FMA, which would change the last bit.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "kernels/core/dtype.h"
#include "kernels/core/half.h"
#include "kernels/core/status.h"
#include "kernels/quant/blocks.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define HEARTH_HD __host__ __device__ __forceinline__
#else
#define HEARTH_HD inline
#endif

namespace hearth::quant {

HEARTH_HD float MulRn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
HEARTH_HD float AddRn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
HEARTH_HD float SubRn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

HEARTH_HD uint16_t LoadU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (static_cast<uint16_t>(p[1]) << 8));
}

HEARTH_HD float HalfBitsToFloat(uint16_t h) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(h));
#else
  return Fp16ToFloat(h);
#endif
}

HEARTH_HD float Bf16BitsToFloat(uint16_t h) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(static_cast<uint32_t>(h) << 16);
#else
  return Bf16ToFloat(h);
#endif
}

HEARTH_HD float F32At(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  const uint32_t bits = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                        (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, p, 4);
  return f;
#endif
}

// Q4_K / Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes.
HEARTH_HD void ScaleMinK4(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30);
    *m = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30);
  }
}

// BlockCodec<T>: kElems elements in kBytes bytes; Decode8(blk, g, out) writes elements
// 8g .. 8g+7 of the block at `blk` (only byte-aligned access: blocks are 2-byte aligned at best).
template <DType T>
struct BlockCodec;

template <>
struct BlockCodec<DType::kF32> {
  static constexpr int kElems = 8, kBytes = 32;
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    for (int i = 0; i < 8; ++i) out[i] = F32At(b + 32 * g + 4 * i);
  }
};
template <>
struct BlockCodec<DType::kF16> {
  static constexpr int kElems = 8, kBytes = 16;
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    for (int i = 0; i < 8; ++i) out[i] = HalfBitsToFloat(LoadU16(b + 16 * g + 2 * i));
  }
};
template <>
struct BlockCodec<DType::kBF16> {
  static constexpr int kElems = 8, kBytes = 16;
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    for (int i = 0; i < 8; ++i) out[i] = Bf16BitsToFloat(LoadU16(b + 16 * g + 2 * i));
  }
};

template <>
struct BlockCodec<DType::kQ8_0> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ8_0);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const float d = HalfBitsToFloat(LoadU16(b));
    for (int i = 0; i < 8; ++i) out[i] = MulRn(static_cast<float>(static_cast<int8_t>(b[2 + 8 * g + i])), d);
  }
};

// Legacy 4-bit nibble of element e (0..31) from qs: low nibbles hold 0..15, high 16..31.
HEARTH_HD int Nibble32(const uint8_t* qs, int e) {
  return e < 16 ? (qs[e] & 0x0F) : (qs[e - 16] >> 4);
}

template <>
struct BlockCodec<DType::kQ4_0> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ4_0);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const float d = HalfBitsToFloat(LoadU16(b));
    for (int i = 0; i < 8; ++i) {
      out[i] = MulRn(d, static_cast<float>(Nibble32(b + 2, 8 * g + i) - 8));
    }
  }
};
template <>
struct BlockCodec<DType::kQ4_1> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ4_1);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const float d = HalfBitsToFloat(LoadU16(b));
    const float m = HalfBitsToFloat(LoadU16(b + 2));
    for (int i = 0; i < 8; ++i) {
      out[i] = AddRn(MulRn(d, static_cast<float>(Nibble32(b + 4, 8 * g + i))), m);
    }
  }
};
template <>
struct BlockCodec<DType::kQ5_0> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ5_0);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const float d = HalfBitsToFloat(LoadU16(b));
    const uint32_t qh = static_cast<uint32_t>(LoadU16(b + 2)) |
                        (static_cast<uint32_t>(LoadU16(b + 4)) << 16);
    for (int i = 0; i < 8; ++i) {
      const int e = 8 * g + i;
      const int q = Nibble32(b + 6, e) | (((qh >> e) & 1) << 4);
      out[i] = MulRn(d, static_cast<float>(q - 16));
    }
  }
};
template <>
struct BlockCodec<DType::kQ5_1> {
  static constexpr int kElems = kQK, kBytes = sizeof(BlockQ5_1);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const float d = HalfBitsToFloat(LoadU16(b));
    const float m = HalfBitsToFloat(LoadU16(b + 2));
    const uint32_t qh = static_cast<uint32_t>(LoadU16(b + 4)) |
                        (static_cast<uint32_t>(LoadU16(b + 6)) << 16);
    for (int i = 0; i < 8; ++i) {
      const int e = 8 * g + i;
      const int q = Nibble32(b + 8, e) | (((qh >> e) & 1) << 4);
      out[i] = AddRn(MulRn(d, static_cast<float>(q)), m);
    }
  }
};

// k-quants. Element e of a 256-block; groups of 8 never straddle a 16-element sub-block.
template <>
struct BlockCodec<DType::kQ2_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ2_K);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const uint8_t* qs = b + 16;
    const float d = HalfBitsToFloat(LoadU16(b + 80));
    const float dmin = HalfBitsToFloat(LoadU16(b + 82));
    const int e0 = 8 * g;
    const uint8_t sc = b[e0 / 16];
    const float dl = MulRn(d, static_cast<float>(sc & 0x0F));
    const float ml = MulRn(dmin, static_cast<float>(sc >> 4));
    const int h = e0 / 128, shift = 2 * ((e0 % 128) / 32), l0 = e0 % 32;
    for (int i = 0; i < 8; ++i) {
      const int q = (qs[h * 32 + l0 + i] >> shift) & 3;
      out[i] = SubRn(MulRn(dl, static_cast<float>(q)), ml);
    }
  }
};
template <>
struct BlockCodec<DType::kQ3_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ3_K);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const uint8_t* hmask = b;
    const uint8_t* qs = b + 32;
    const uint8_t* sc = b + 96;
    const float d = HalfBitsToFloat(LoadU16(b + 108));
    const int e0 = 8 * g;
    const int j = e0 / 16;
    const int low = j < 8 ? (sc[j] & 0x0F) : (sc[j - 8] >> 4);
    const int high = (sc[8 + j % 4] >> (2 * (j / 4))) & 3;
    const int scale = static_cast<int8_t>(static_cast<uint8_t>(low | (high << 4))) - 32;
    const float dl = MulRn(d, static_cast<float>(scale));
    const int h = e0 / 128, shift = 2 * ((e0 % 128) / 32), l0 = e0 % 32, hbit = e0 / 32;
    for (int i = 0; i < 8; ++i) {
      const int ql = (qs[h * 32 + l0 + i] >> shift) & 3;
      const int q = ql - (((hmask[l0 + i] >> hbit) & 1) ? 0 : 4);
      out[i] = MulRn(dl, static_cast<float>(q));
    }
  }
};
template <>
struct BlockCodec<DType::kQ4_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ4_K);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const float d = HalfBitsToFloat(LoadU16(b));
    const float dmin = HalfBitsToFloat(LoadU16(b + 2));
    const int e0 = 8 * g;
    int sc, m;
    ScaleMinK4(b + 4, e0 / 32, &sc, &m);
    const float dl = MulRn(d, static_cast<float>(sc));
    const float ml = MulRn(dmin, static_cast<float>(m));
    const uint8_t* qs = b + 16 + (e0 / 64) * 32 + e0 % 32;
    const int shift = 4 * ((e0 % 64) / 32);
    for (int i = 0; i < 8; ++i) {
      out[i] = SubRn(MulRn(dl, static_cast<float>((qs[i] >> shift) & 0x0F)), ml);
    }
  }
};
template <>
struct BlockCodec<DType::kQ5_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ5_K);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const float d = HalfBitsToFloat(LoadU16(b));
    const float dmin = HalfBitsToFloat(LoadU16(b + 2));
    const int e0 = 8 * g;
    int sc, m;
    ScaleMinK4(b + 4, e0 / 32, &sc, &m);
    const float dl = MulRn(d, static_cast<float>(sc));
    const float ml = MulRn(dmin, static_cast<float>(m));
    const uint8_t* qh = b + 16 + e0 % 32;
    const uint8_t* qs = b + 48 + (e0 / 64) * 32 + e0 % 32;
    const int shift = 4 * ((e0 % 64) / 32), hbit = e0 / 32;
    for (int i = 0; i < 8; ++i) {
      const int q = ((qs[i] >> shift) & 0x0F) | (((qh[i] >> hbit) & 1) << 4);
      out[i] = SubRn(MulRn(dl, static_cast<float>(q)), ml);
    }
  }
};
template <>
struct BlockCodec<DType::kQ6_K> {
  static constexpr int kElems = kQK_K, kBytes = sizeof(BlockQ6_K);
  static HEARTH_HD void Decode8(const uint8_t* b, int g, float* out) {
    const int e0 = 8 * g;
    const float d = HalfBitsToFloat(LoadU16(b + 208));
    const float dl = MulRn(d, static_cast<float>(static_cast<int8_t>(b[192 + e0 / 16])));
    const int h = e0 / 128, r = e0 % 128;
    const uint8_t* ql = b + h * 64 + r % 64;
    const uint8_t* qh = b + 128 + h * 32 + r % 32;
    const int lshift = 4 * (r / 64), hshift = 2 * (r / 32);
    for (int i = 0; i < 8; ++i) {
      const int q = (((ql[i] >> lshift) & 0x0F) | (((qh[i] >> hshift) & 3) << 4)) - 32;
      out[i] = MulRn(dl, static_cast<float>(q));
    }
  }
};

// The one dispatch switch over weight types: calls fn(std::integral_constant<DType, T>{}) for
// every type with a BlockCodec and returns an Unimplemented error for the others.
template <class Fn>
Status VisitWeightType(DType type, Fn&& fn) {
  switch (type) {
    case DType::kF32: return fn(std::integral_constant<DType, DType::kF32>{});
    case DType::kF16: return fn(std::integral_constant<DType, DType::kF16>{});
    case DType::kBF16: return fn(std::integral_constant<DType, DType::kBF16>{});
    case DType::kQ8_0: return fn(std::integral_constant<DType, DType::kQ8_0>{});
    case DType::kQ4_0: return fn(std::integral_constant<DType, DType::kQ4_0>{});
    case DType::kQ4_1: return fn(std::integral_constant<DType, DType::kQ4_1>{});
    case DType::kQ5_0: return fn(std::integral_constant<DType, DType::kQ5_0>{});
    case DType::kQ5_1: return fn(std::integral_constant<DType, DType::kQ5_1>{});
    case DType::kQ2_K: return fn(std::integral_constant<DType, DType::kQ2_K>{});
    case DType::kQ3_K: return fn(std::integral_constant<DType, DType::kQ3_K>{});
    case DType::kQ4_K: return fn(std::integral_constant<DType, DType::kQ4_K>{});
    case DType::kQ5_K: return fn(std::integral_constant<DType, DType::kQ5_K>{});
    case DType::kQ6_K: return fn(std::integral_constant<DType, DType::kQ6_K>{});
    case DType::kI32: break;
  }
  return UnimplementedError("weight type " + std::string(DTypeName(type)) +
                            " is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
                            "Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)");
}

}  // namespace hearth::quant
