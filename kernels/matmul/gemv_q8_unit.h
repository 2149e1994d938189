// Internal to kernels/matmul: the integer GEMV (matmul_gemv_q8.cu). Activations are quantized
// once per call to int8 blocks of 32 with a float scale d and the block's scaled sum s = d * sum(q)
// (QuantizeBlockQ8); the weight blocks are then dotted with them by __dp4a (int8 x int8 -> int32),
// scales applied per sub-block in float. Host and device compile the same code, so the CPU test
// (gemv_q8_unit_test) checks the unit decomposition and the quantizer the kernel uses.
//
// A weight block is split into kUnitsPerBlock units of 32 weights; each lane of a warp takes one
// unit: Decode reads its quants (through a Reader, bytes of a staged copy) and scales, Dot
// multiplies them with one token's int8 x. Summing Dot over all units of a row gives the row's dot
// product with the dequantized x (x_i = d * q_i) up to float32 rounding.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/quant/block_decode.h"

namespace hearth::gemv_internal {

constexpr int kQ8Block = 32;  // activation elements per int8 block

// Weight types the integer GEMV handles (the others use the float GEMV, matmul_gemv.cu).
constexpr bool HasQ8Gemv(DType t) {
  return t == DType::kQ8_0 || t == DType::kQ4_K || t == DType::kQ6_K;
}

// Scale (d) and scaled sum (s = d * sum(q)) of one activation block.
struct alignas(8) XScale {  // one 8-byte load
  float d;
  float s;
};

// Where a token's int8 x and scales lie for the direct GEMV (gemv_direct.h), whose lane l takes
// unit l of a row and the 31 lanes after it the next units (kUnitWeights = 64 or 128 weights; 0:
// the plain layout, element e at byte e and block b's scale at index b, which the staged GEMV
// reads). Plainly, lane l's x sits kUnitWeights bytes past lane l - 1's: each 16-byte load of a
// warp touched 16 (64-weight units) or 32 (128) cache lines, or as many shared-memory wavefronts
// where 4 is the minimum. Laid out for the units, a row is cut into groups of kXGroupUnits = 32
// units (a warp's), and piece j (16 bytes) of unit 32g + l lies at g * 32 * kUnitWeights +
// (32j + l) * 16: a warp's j-th load is 512 contiguous bytes, j * 512 past its first (an
// immediate offset). A 128-weight unit's 4 scales are 2 such pieces; a 64-weight unit's 2 scales
// are one piece, which lies at the plain place already. A partial last group keeps the full
// group's extent: a row takes XRowBytesFor bytes and XRowScalesFor scales, token t's at t times
// those.
constexpr int kXGroupUnits = 32;
constexpr int64_t XRowBytesFor(int unit_weights, int k) {
  if (unit_weights == 0) return k;
  return int64_t{(k / unit_weights + kXGroupUnits - 1) / kXGroupUnits} * kXGroupUnits *
         unit_weights;
}
constexpr int64_t XRowScalesFor(int unit_weights, int k) {
  return XRowBytesFor(unit_weights, k) / kQ8Block;
}
template <int kUnitWeights>
HEARTH_HD int64_t XqOffset(int e) {
  if constexpr (kUnitWeights == 0) {
    return e;
  } else {
    const int u = e / kUnitWeights, o = e % kUnitWeights;
    return int64_t{u / kXGroupUnits} * kXGroupUnits * kUnitWeights +
           (o / 16 * kXGroupUnits + u % kXGroupUnits) * 16 + o % 16;
  }
}
template <int kUnitWeights>
HEARTH_HD int64_t XsIndex(int b) {
  if constexpr (kUnitWeights == 0) {
    return b;
  } else {
    constexpr int kPerUnit = kUnitWeights / kQ8Block;  // 2 or 4 scales, 1 or 2 pieces
    const int u = b / kPerUnit, i = b % kPerUnit;
    return int64_t{u / kXGroupUnits} * kXGroupUnits * kPerUnit +
           (i / 2 * kXGroupUnits + u % kXGroupUnits) * 2 + i % 2;
  }
}
// Where element e of activation block b (the blocks of the rows one after another, k / 32 a row)
// and the block's scale lie, for the quantizers that write the layout (QuantizeXKernel,
// QuantizeXToShared). The plain layout needs no division; the others a 32-bit one (b < 8 rows x
// k / 32 blocks: the direct GEMV takes at most 8 tokens).
struct XPlace {
  int64_t q, s;  // byte of xq, index of xs
};
template <int kUnitWeights>
HEARTH_HD XPlace XPlaceOf(int k, int64_t b, int e) {
  if constexpr (kUnitWeights == 0) {
    return {b * kQ8Block + e, b};
  } else {
    const int blocks_per_row = k / kQ8Block, t = static_cast<int>(b) / blocks_per_row;
    const int in_row = static_cast<int>(b) - t * blocks_per_row;
    return {t * XRowBytesFor(kUnitWeights, k) + XqOffset<kUnitWeights>(in_row * kQ8Block + e),
            t * XRowScalesFor(kUnitWeights, k) + XsIndex<kUnitWeights>(in_row)};
  }
}

HEARTH_HD float DivRn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

HEARTH_HD int RoundToInt(float v) {
#ifdef __CUDA_ARCH__
  return __float2int_rn(v);
#else
  return static_cast<int>(std::nearbyint(v));  // round half to even, as the default FP mode
#endif
}

// What takes an activation block to int8: 127 / (the block's max |v|), as llama.cpp's 1 / d (one
// division per block, not one per activation); 0 where that is not finite (a block of zeros, or
// of magnitudes below 127 / FLT_MAX ~ 3.7e-37: all its quants are then 0).
HEARTH_HD float InverseScaleQ8(float amax) {
  const float id = DivRn(127.f, amax);
  return id <= FLT_MAX ? id : 0.f;
}
// One element of an activation block: round(v * id) to even, clamped to [-127, 127]; id from
// InverseScaleQ8. One correctly rounded multiply, so the host and the device agree bit for bit.
HEARTH_HD int QuantizeQ8(float v, float id) {
  const int q = RoundToInt(quant::MulRn(v, id));
  return q > 127 ? 127 : (q < -127 ? -127 : q);
}
HEARTH_HD XScale ScaleQ8(float amax, int sum_q) {
  const float d = DivRn(amax, 127.f);
  return {d, quant::MulRn(d, static_cast<float>(sum_q))};
}

// The CPU twin of the device pre-kernel: quantizes one row of k floats (k % 32 == 0).
inline void QuantizeRowQ8Cpu(const float* x, int k, int8_t* xq, XScale* xs) {
  for (int b = 0; b < k / kQ8Block; ++b) {
    float amax = 0.f;
    for (int i = 0; i < kQ8Block; ++i) amax = std::fmax(amax, std::fabs(x[b * kQ8Block + i]));
    const float id = InverseScaleQ8(amax);
    int sum = 0;
    for (int i = 0; i < kQ8Block; ++i) {
      const int q = QuantizeQ8(x[b * kQ8Block + i], id);
      xq[b * kQ8Block + i] = static_cast<int8_t>(q);
      sum += q;
    }
    xs[b] = ScaleQ8(amax, sum);
  }
}

// The plain layout's x of num_tokens rows (QuantizeRowQ8Cpu's) laid out for kUnitWeights.
// out_q: num_tokens * XRowBytesFor(kUnitWeights, k) bytes, out_s: num_tokens * XRowScalesFor
// scales (the padding of a partial last group untouched).
template <int kUnitWeights>
void LayOutXCpu(int num_tokens, int k, const int8_t* xq, const XScale* xs, int8_t* out_q,
                XScale* out_s) {
  const int64_t pitch_q = XRowBytesFor(kUnitWeights, k), pitch_s = XRowScalesFor(kUnitWeights, k);
  for (int t = 0; t < num_tokens; ++t) {
    for (int e = 0; e < k; ++e) {
      out_q[t * pitch_q + XqOffset<kUnitWeights>(e)] = xq[int64_t{t} * k + e];
    }
    for (int b = 0; b < k / kQ8Block; ++b) {
      out_s[t * pitch_s + XsIndex<kUnitWeights>(b)] = xs[int64_t{t} * (k / kQ8Block) + b];
    }
  }
}

HEARTH_HD int Dp4a(uint32_t a, uint32_t b, int c) {
#ifdef __CUDA_ARCH__
  return __dp4a(static_cast<int>(a), static_cast<int>(b), c);
#else
  for (int i = 0; i < 4; ++i) {
    c += static_cast<int8_t>(a >> (8 * i)) * static_cast<int8_t>(b >> (8 * i));
  }
  return c;
#endif
}

// c + the dot of a's four bytes as unsigned (0..255) with b's as signed: dp4a.u32.s32.
HEARTH_HD int Dp4aUnsignedSigned(uint32_t a, uint32_t b, int c) {
#ifdef __CUDA_ARCH__
  int d;
  asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
#else
  for (int i = 0; i < 4; ++i) {
    c += static_cast<int>((a >> (8 * i)) & 0xFFu) * static_cast<int8_t>(b >> (8 * i));
  }
  return c;
#endif
}

// n32 consecutive 32-bit words of int8 activations (p 4 * n32 bytes aligned; on the device, 16-byte
// aligned when n32 is 4).
template <int kWords>
HEARTH_HD void LoadX(const int8_t* p, uint32_t* out) {
#ifdef __CUDA_ARCH__
  if constexpr (kWords % 4 == 0) {
#pragma unroll
    for (int i = 0; i < kWords / 4; ++i) {
      const uint4 v = reinterpret_cast<const uint4*>(p)[i];
      out[4 * i] = v.x, out[4 * i + 1] = v.y, out[4 * i + 2] = v.z, out[4 * i + 3] = v.w;
    }
  } else {
    const uint2 v = *reinterpret_cast<const uint2*>(p);
    out[0] = v.x, out[1] = v.y;
  }
#else
  std::memcpy(out, p, 4 * kWords);
#endif
}

template <DType T>
struct Q8Unit;

// Q8_0: one unit per block. w = d * q (int8).
template <>
struct Q8Unit<DType::kQ8_0> {
  static constexpr int kUnitsPerBlock = 1;
  struct W {
    uint32_t q[8];
    float d;
  };
  template <class R>
  static HEARTH_HD W Decode(const uint8_t* b, int /*u*/) {
    W w;
    w.d = quant::HalfBitsToFloat(quant::LoadU16(b));
    for (int h = 0; h < 4; ++h) {
      const uint64_t v = R::Load8(b + 2 + 8 * h);
      w.q[2 * h] = static_cast<uint32_t>(v);
      w.q[2 * h + 1] = static_cast<uint32_t>(v >> 32);
    }
    return w;
  }
  // xq, xs: the token's activations at the block's first element / first x block.
  static HEARTH_HD float Dot(const W& w, int /*u*/, const int8_t* xq, const XScale* xs) {
    uint32_t x[8];
    LoadX<8>(xq, x);
    int dot = 0;
    for (int i = 0; i < 8; ++i) dot = Dp4a(w.q[i], x[i], dot);
    return quant::MulRn(quant::MulRn(w.d, xs[0].d), static_cast<float>(dot));
  }
};

// Q4_K: unit u = (pair p = u / 2, half h = u % 2) covers the 16 quant bytes qs[32p + 16h, +16):
// their low nibbles are elements 64p + 16h + [0, 16) of sub-block 2p, their high nibbles elements
// 64p + 32 + 16h + [0, 16) of sub-block 2p + 1. w = d * sc * q - dmin * m; the min term needs the
// sum of x over the whole 32-element sub-block (= one x block), taken by the h = 0 unit alone.
template <>
struct Q8Unit<DType::kQ4_K> {
  static constexpr int kUnitsPerBlock = 8;
  struct W {
    uint32_t q[4];
    float scale_lo, scale_hi;  // d * sc of sub-blocks 2p, 2p + 1
    float min_lo, min_hi;      // dmin * m of the same, 0 for h = 1
  };
  // From the unit's four quant words (bytes qs[32p + 16h, +16)) and the block's 16 header bytes
  // as words: dd = d | dmin << 16, then the 12 scale bytes s0..s11 in s0, s1, s2. The direct GEMV
  // (matmul_gemv_direct.cu) calls this on words it loaded straight into registers.
  static HEARTH_HD W FromWords(int u, uint32_t dd, uint32_t s0, uint32_t s1, uint32_t s2,
                               uint32_t q0, uint32_t q1, uint32_t q2, uint32_t q3) {
    const int p = u / 2, h = u % 2;
    W w;
    w.q[0] = q0, w.q[1] = q1, w.q[2] = q2, w.q[3] = q3;
    // ScaleMinK4's formulas with byte i of word Sx written B(Sx, i), instead of ~10 byte reads.
    const float d = quant::HalfBitsToFloat(static_cast<uint16_t>(dd));
    const float dmin = quant::HalfBitsToFloat(static_cast<uint16_t>(dd >> 16));
    int sc[2], m[2];
    for (int i = 0; i < 2; ++i) {
      const int jj = (2 * p + i) % 4;  // sub-block 2p + i: bytes jj of s0, s1, s2
      const uint32_t a = (s0 >> (8 * jj)) & 0xFF, c = (s1 >> (8 * jj)) & 0xFF;
      const uint32_t e = (s2 >> (8 * jj)) & 0xFF;
      if (p < 2) {  // sub-blocks 0..3: sc = s[j] & 63, m = s[j + 4] & 63
        sc[i] = static_cast<int>(a & 63);
        m[i] = static_cast<int>(c & 63);
      } else {  // 4..7: low 4 bits in s[j + 4], high 2 bits in the top of s[j - 4] / s[j]
        sc[i] = static_cast<int>((e & 0x0F) | ((a >> 2) & 0x30));
        m[i] = static_cast<int>((e >> 4) | ((c >> 2) & 0x30));
      }
    }
    w.scale_lo = quant::MulRn(d, static_cast<float>(sc[0]));
    w.scale_hi = quant::MulRn(d, static_cast<float>(sc[1]));
    w.min_lo = h == 0 ? quant::MulRn(dmin, static_cast<float>(m[0])) : 0.f;
    w.min_hi = h == 0 ? quant::MulRn(dmin, static_cast<float>(m[1])) : 0.f;
    return w;
  }
  template <class R>
  static HEARTH_HD W Decode(const uint8_t* b, int u) {
    const int p = u / 2, h = u % 2;
    const uint64_t v0 = R::Load8(b + 16 + 32 * p + 16 * h);
    const uint64_t v1 = R::Load8(b + 16 + 32 * p + 16 * h + 8);
    const uint64_t h0 = R::Load8(b), h1 = R::Load8(b + 8);
    return FromWords(u, static_cast<uint32_t>(h0), static_cast<uint32_t>(h0 >> 32),
                     static_cast<uint32_t>(h1), static_cast<uint32_t>(h1 >> 32),
                     static_cast<uint32_t>(v0), static_cast<uint32_t>(v0 >> 32),
                     static_cast<uint32_t>(v1), static_cast<uint32_t>(v1 >> 32));
  }
  // xlo: the 16 int8 x of sub-block 2p the unit's low nibbles meet (elements 64p + 16h + [0, 16)),
  // xhi: those of sub-block 2p + 1 (64p + 32 + 16h + [0, 16)); a, c: the two x blocks' scales.
  static HEARTH_HD float DotWords(const W& w, const uint32_t xlo[4], const uint32_t xhi[4],
                                  XScale a, XScale c) {
    int dot_lo = 0, dot_hi = 0;
    for (int i = 0; i < 4; ++i) {
      dot_lo = Dp4a(w.q[i] & 0x0F0F0F0Fu, xlo[i], dot_lo);
      dot_hi = Dp4a((w.q[i] >> 4) & 0x0F0F0F0Fu, xhi[i], dot_hi);
    }
    float r = quant::MulRn(quant::MulRn(w.scale_lo, a.d), static_cast<float>(dot_lo));
    r = fmaf(quant::MulRn(w.scale_hi, c.d), static_cast<float>(dot_hi), r);
    r = fmaf(-w.min_lo, a.s, r);
    return fmaf(-w.min_hi, c.s, r);
  }
  static HEARTH_HD float Dot(const W& w, int u, const int8_t* xq, const XScale* xs) {
    const int p = u / 2, h = u % 2;
    uint32_t xlo[4], xhi[4];
    LoadX<4>(xq + 64 * p + 16 * h, xlo);
    LoadX<4>(xq + 64 * p + 32 + 16 * h, xhi);
    return DotWords(w, xlo, xhi, xs[2 * p], xs[2 * p + 1]);
  }
};

// Q6_K: unit u = (half h = u / 4, column p = 8 * (u % 4)) covers r = 32 * j + p + [0, 8) for the
// four quarters j of the 128 elements 128h + r: low 4 bits from ql[64h + 32 * (j % 2) + p + i]
// (low nibble for j < 2, high for j >= 2), high 2 bits from qh[32h + p + i] bits 2j, 2j + 1.
// Each 8-element span lies in one 16-element sub-block: w = d * sc * (q - 32).
template <>
struct Q8Unit<DType::kQ6_K> {
  static constexpr int kUnitsPerBlock = 8;
  struct W {
    uint32_t q[8];   // quarter j in q[2j], q[2j + 1]: signed bytes q - 32
    float scale[4];  // d * sc of quarter j's sub-block
  };
  // Bytes (q | 0x80) - 0x20 stay >= 0x60, so the subtraction borrows across no byte; flipping bit
  // 7 back gives q - 32 as a signed byte for every 6-bit q.
  static HEARTH_HD uint32_t Minus32(uint32_t q) {
    return ((q | 0x80808080u) - 0x20202020u) ^ 0x80808080u;
  }
  template <class R>
  static HEARTH_HD W Decode(const uint8_t* b, int u) {
    const int h = u / 4, p = 8 * (u % 4);
    W w;
    const uint64_t ql0 = R::Load8(b + 64 * h + p);
    const uint64_t ql1 = R::Load8(b + 64 * h + 32 + p);
    const uint64_t qh = R::Load8(b + 128 + 32 * h + p);
    const float d = quant::HalfBitsToFloat(quant::LoadU16(b + 208));
    for (int j = 0; j < 4; ++j) {
      const uint64_t ql = j % 2 == 0 ? ql0 : ql1;
      const uint64_t lo = (ql >> (4 * (j / 2))) & (quant::kBytes01 * 0x0F);
      const uint64_t hi = ((qh >> (2 * j)) & (quant::kBytes01 * 3)) << 4;
      const uint64_t q = lo | hi;
      w.q[2 * j] = Minus32(static_cast<uint32_t>(q));
      w.q[2 * j + 1] = Minus32(static_cast<uint32_t>(q >> 32));
      const int sc = static_cast<int8_t>(b[192 + 8 * h + 2 * j + p / 16]);
      w.scale[j] = quant::MulRn(d, static_cast<float>(sc));
    }
    return w;
  }
  static HEARTH_HD float Dot(const W& w, int u, const int8_t* xq, const XScale* xs) {
    const int h = u / 4, p = 8 * (u % 4);
    float r = 0.f;
    for (int j = 0; j < 4; ++j) {
      uint32_t x[2];
      LoadX<2>(xq + 128 * h + 32 * j + p, x);
      const int dot = Dp4a(w.q[2 * j + 1], x[1], Dp4a(w.q[2 * j], x[0], 0));
      r = fmaf(quant::MulRn(w.scale[j], xs[4 * h + j].d), static_cast<float>(dot), r);
    }
    return r;
  }
};

// Blocks per staged chunk when kLanes lanes share one row: two units per lane.
template <DType T, int kLanes = 32>
constexpr int Q8ChunkBlocks() {
  return 2 * kLanes / Q8Unit<T>::kUnitsPerBlock;
}

// Rows each warp works on at once: the lanes of a warp split into groups of 8 on different rows
// but the same columns, so that one int8 x load (the same address in every group) serves 4 rows;
// at 8 tokens the x reads would otherwise be ~14x the weight bytes, all from L1. The same split
// for every number of tokens keeps each token's summation order, hence its result, independent
// of the batch.
constexpr int kQ8RowsPerWarp = 4;
constexpr int kQ8LanesPerRow = 32 / kQ8RowsPerWarp;

}  // namespace hearth::gemv_internal
