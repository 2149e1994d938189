// Internal to kernels/matmul: the direct integer GEMV for Q2_K, Q4_K, Q5_K, Q6_K, Q8_0 and
// Q4_0..Q5_1 weights (gemv_direct_kernel.cuh, launched by matmul_gemv_direct.cu), its work split
// and its per-row arithmetic order. Host and device share this header, so the CPU test
// (gemv_direct_test) checks the split's coverage and replays the kernel's sums.
//
// Why another GEMV. The staged integer GEMV (matmul_gemv_q8.cu) reached 19-32% of HBM bandwidth
// on Q4_K at batch 1 on an H100 (benchmarks/RESULTS.md). Per 18 weight bytes from HBM it moves
// about 100 bytes through L1 / shared memory (the chunk written to and read back from shared
// memory, the 16 header bytes re-read per unit, the int8 x read per unit), and each warp has only
// about 1 KiB of loads in flight. Here each lane loads its weights straight into registers with
// 16-byte loads (a Q4_K block is 144 = 9 x 16 bytes, so every piece is 16-byte aligned), works on
// up to 4 rows at once (4x the loads in flight, one x load serving all of them), and the x a
// lane needs is the same for every row it visits.
//
// Work split. A lane works on one "unit" of a row at a time (DirectUnit<T>: Q4_K 64 weights in
// three aligned 16-byte loads, Q5_K 64 in five, Q8_0 128 weights in nine, Q6_K 128 in ten, Q2_K
// 128 in six, Q4_0, Q4_1, Q5_0, Q5_1 128 in five or six; Q8_0's, Q4_0's, Q5_0's, Q6_K's and Q2_K's
// blocks are unaligned: the shift from the 16-byte boundary below is resolved in registers). A
// CTA of kDirectThreads
// threads is cut into row slots of lanes_per_row lanes (a power of two, 32..256, at most the units
// of a row); lane l of a slot takes the units l, l + lanes_per_row, ... of the row. A slot works
// on rows_per_slot consecutive rows at once; a CTA's row slots together cover one row group; CTAs
// take the row groups grid-strided.
// The split depends on k only, never on the number of tokens, so a token's result is the same
// whatever the batch (batch invariance).
//
// Per row and token the sum is: each lane adds its units' dots (DirectUnit<T>::AddDot) in turn
// order to a float starting at 0; the 32 lanes of a warp are summed by an xor butterfly
// (offsets 16, 8, 4, 2, 1); the warps of a row slot are then summed in warp order, starting from
// 0. ReplayDirectRow below computes exactly that on the CPU.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/core/status.h"
#include "kernels/core/stream.h"
#include "kernels/matmul/gemv_q8_unit.h"

namespace hearth::gemv_internal {

constexpr int kDirectThreads = 256;

// What one lane works on at a time, per weight type (a "unit"), and how it is read.
template <DType T>
struct DirectUnit;

// Q4_K's and Q5_K's pair (64 weights: sub-blocks 2p and 2p + 1 of a 256-weight block, pair =
// 4b + p): the scales and mins of the two sub-blocks from the block header's words (d | dmin <<
// 16, then the 12 scale bytes s0..s2), and the pair's dot from its two integer dots. Own
// arithmetic since 2026-11-25, leaner than the staged GEMV's per 16 weights (Q8Unit<Q4_K>::
// FromWords / DotWords: 714 SASS instructions a lane step of 4 Q4_K rows at 1 token, now 448):
// the 6-bit scales and mins taken by masks, shifts and one select, unsigned (no signed division),
// d and dmin converted once a unit, each sub-block's 32 products summed in one integer and scaled
// in integers (|sc * dot| <= 63 * 32 * 31 * 127 < 2^24: exact as a float).
struct KPairScales {
  int sc_lo, sc_hi;  // 6-bit scales of sub-blocks 2p, 2p + 1
  float m_lo, m_hi;  // their 6-bit mins
  float d, dmin;
  // ScaleMinK4: sub-block j < 4 has sc = s[j] & 63, m = s[j + 4] & 63; j >= 4 has the low 4 bits
  // in s[j + 4], the high 2 in the top of s[j - 4] (sc) and s[j] (m). Four at a time, bytes side
  // by side, then p's two bytes (2p % 4 and the next).
  static HEARTH_HD KPairScales FromHeader(uint32_t p, const uint32_t* header) {
    const uint32_t dd = header[0], s0 = header[1], s1 = header[2], s2 = header[3];
    const uint32_t sc4 = p < 2 ? s0 & 0x3F3F3F3Fu : (s2 & 0x0F0F0F0Fu) | ((s0 >> 2) & 0x30303030u);
    const uint32_t m4 =
        p < 2 ? s1 & 0x3F3F3F3Fu : ((s2 >> 4) & 0x0F0F0F0Fu) | ((s1 >> 2) & 0x30303030u);
    const uint32_t shift = 16 * (p & 1u);
    const uint32_t sc = sc4 >> shift, m = m4 >> shift;
    KPairScales r;
    r.sc_lo = static_cast<int>(sc & 0xFFu);
    r.sc_hi = static_cast<int>((sc >> 8) & 0xFFu);
    r.m_lo = static_cast<float>(m & 0xFFu);
    r.m_hi = static_cast<float>((m >> 8) & 0xFFu);
    r.d = quant::HalfBitsToFloat(static_cast<uint16_t>(dd));
    r.dmin = quant::HalfBitsToFloat(static_cast<uint16_t>(dd >> 16));
    return r;
  }
  // acc + d * (dx0 * sc_lo * dot_lo + dx1 * sc_hi * dot_hi) - dmin * (m_lo * sx0 + m_hi * sx1), in
  // that order; xs: the pair's 2 x blocks' scales (x block 0 meets sub-block 2p).
  HEARTH_HD float AddTo(float acc, int dot_lo, int dot_hi, const XScale* xs) const {
    float scaled = quant::MulRn(xs[0].d, static_cast<float>(sc_lo * dot_lo));
    scaled = fmaf(xs[1].d, static_cast<float>(sc_hi * dot_hi), scaled);
    float mins = quant::MulRn(xs[0].s, m_lo);
    mins = fmaf(xs[1].s, m_hi, mins);
    acc = fmaf(d, scaled, acc);
    return fmaf(-dmin, mins, acc);
  }
};

// Q4_K: a pair, 64 weights = the block header (d, dmin, 12 scale bytes) + quant bytes
// qs[32p, 32p + 32) of block b (pair = 4b + p): three 16-byte loads, every one aligned (a block is
// 144 = 9 x 16 bytes). The low nibbles are sub-block 2p, the high ones sub-block 2p + 1; w = d *
// sc * q - dmin * m.
template <>
struct DirectUnit<DType::kQ4_K> {
  static constexpr int kWeights = 64;
  static constexpr int kVecs = 3;
  static constexpr int kBlockBytes = 144;
  static constexpr bool kLoadsInBlock = true;  // no load passes the tensor's end
  static constexpr int64_t RowBytes(int k) { return int64_t{k} / 256 * kBlockBytes; }
  // Rows a row slot works on at once: 4 for one token (12 loads in flight per lane, one x load
  // for 4 rows); fewer for more tokens, whose decoded weights and sums take the registers.
  static constexpr int RowsFor(int max_tokens) {
    return max_tokens <= 1 ? 4 : max_tokens <= 2 ? 2 : 1;
  }
  // Byte offset (from the tensor's base) of the unit's v-th 16-byte load in the row at row_offset.
  static HEARTH_HD int64_t VecOffset(int unit, int v, int64_t row_offset) {
    const auto u = static_cast<uint32_t>(unit);
    const int64_t block = row_offset + int64_t{u >> 2} * kBlockBytes;
    return v == 0 ? block : block + 16 * v + 32 * (u & 3u);
  }
  struct W {
    uint32_t q[8];  // the pair's 32 quant bytes
    KPairScales s;
  };
  // words: the kVecs loads as 32-bit words (header, then the pair's 32 quant bytes).
  static HEARTH_HD W Decode(int unit, int64_t /*row_offset*/, const uint32_t* words) {
    W w;
    for (int i = 0; i < 8; ++i) w.q[i] = words[4 + i];
    w.s = KPairScales::FromHeader(static_cast<uint32_t>(unit) & 3u, words);
    return w;
  }
  // One token. x: the unit's 64 int8 x as 16 words (0..7 meet the low nibbles, 8..15 the high
  // ones); xs: its 2 x blocks' scales. The high nibbles are masked in place (0xF0) and met by an
  // unsigned x signed dp4a; the sum shifted right by 4 is exact (every product a multiple of 16).
  static HEARTH_HD float AddDot(float acc, const W& w, const uint32_t* x, const XScale* xs) {
    int dot_lo = 0, dot_hi16 = 0;
    for (int i = 0; i < 8; ++i) {
      dot_lo = Dp4a(w.q[i] & 0x0F0F0F0Fu, x[i], dot_lo);
      dot_hi16 = Dp4aUnsignedSigned(w.q[i] & 0xF0F0F0F0u, x[8 + i], dot_hi16);
    }
    return w.s.AddTo(acc, dot_lo, dot_hi16 >> 4, xs);
  }
};

// Q5_K: a pair, 64 weights, as Q4_K's with a fifth bit (blocks.h): the block header (d, dmin, the
// same 12 packed scale bytes), its 32 qh bytes and quant bytes qs[32p, 32p + 32) of block b
// (pair = 4b + p): five 16-byte loads, every one aligned (a block is 176 = 11 x 16 bytes).
// Element 64p + c (c < 32) is (qs[32p + c] & 15) | bit 2p of qh[c] << 4, element 64p + 32 + c
// is (qs[32p + c] >> 4) | bit 2p + 1 of qh[c] << 4; w = d * sc * q - dmin * m, q in 0..31. The
// scales, mins and the x each sub-block meets are Q4_K's (KPairScales).
template <>
struct DirectUnit<DType::kQ5_K> {
  static constexpr int kWeights = 64;
  static constexpr int kVecs = 5;
  static constexpr int kBlockBytes = 176;
  static constexpr bool kLoadsInBlock = true;  // no load passes the tensor's end
  static constexpr int64_t RowBytes(int k) { return int64_t{k} / 256 * kBlockBytes; }
  // 5 loads a row: 2 rows for 1-2 tokens (10 loads in flight per lane; at one token one x load
  // serves both), as Q4_K's 2 tokens.
  static constexpr int RowsFor(int max_tokens) { return max_tokens <= 2 ? 2 : 1; }
  // Loads: the header, qh[0, 16), qh[16, 32), then the pair's 32 quant bytes.
  static HEARTH_HD int64_t VecOffset(int unit, int v, int64_t row_offset) {
    const auto u = static_cast<uint32_t>(unit);
    const int64_t block = row_offset + int64_t{u >> 2} * kBlockBytes;
    return v < 3 ? block + 16 * v : block + 48 + 32 * (u & 3u) + 16 * (v - 3);
  }
  struct W {
    uint32_t lo[8], hi[8];  // 5-bit quants: sub-block 2p's 32 elements, then 2p + 1's
    KPairScales s;
  };
  // words: the kVecs loads as 32-bit words (header, qh, then the pair's quants).
  static HEARTH_HD W Decode(int unit, int64_t /*row_offset*/, const uint32_t* words) {
    const uint32_t p = static_cast<uint32_t>(unit) & 3u;
    W w;
    for (int i = 0; i < 8; ++i) {
      const uint32_t q = words[12 + i];
      const uint32_t h = words[4 + i] >> (2 * p);  // bit 0 of each byte: 2p's; bit 1: 2p + 1's
      w.lo[i] = (q & 0x0F0F0F0Fu) | ((h << 4) & 0x10101010u);
      w.hi[i] = ((q >> 4) & 0x0F0F0F0Fu) | ((h << 3) & 0x10101010u);
    }
    w.s = KPairScales::FromHeader(p, words);
    return w;
  }
  // One token. x: the unit's 64 int8 x as 16 words (0..7 meet sub-block 2p, 8..15 2p + 1); xs:
  // its 2 x blocks' scales.
  static HEARTH_HD float AddDot(float acc, const W& w, const uint32_t* x, const XScale* xs) {
    int dot_lo = 0, dot_hi = 0;
    for (int i = 0; i < 8; ++i) {
      dot_lo = Dp4a(w.lo[i], x[i], dot_lo);
      dot_hi = Dp4a(w.hi[i], x[8 + i], dot_hi);
    }
    return w.s.AddTo(acc, dot_lo, dot_hi, xs);
  }
};

// The frame of the units of 4 blocks of 32 weights (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1): 128 weights,
// 4 * kBlock bytes. With k % 128 == 0 every row is a multiple of the unit, so a unit starts 16-byte
// aligned where the unit is a multiple of 16 bytes (Q4_1: 80, Q5_1: 96), else 0 or 8 bytes past a
// boundary (Q8_0: 136, Q4_0: 72, Q5_0: 88): the loads run from that boundary, and the last one,
// whose last 8 bytes may lie past the tensor, is then loaded as 8 bytes there.
template <int kBlock>
struct DirectBlocks4 {
  static constexpr int kWeights = 128;
  static constexpr int kBlockBytes = kBlock;
  static constexpr int kUnitWords = kBlock;  // 4 * kBlock bytes
  static constexpr bool kAligned = kBlock % 4 == 0;
  static constexpr int kVecs = (4 * kBlock + (kAligned ? 0 : 8) + 15) / 16;
  static constexpr bool kLoadsInBlock = kAligned;  // else the last unit's last load may pass
  static constexpr int64_t RowBytes(int k) { return int64_t{k} / 32 * kBlock; }
  static HEARTH_HD int64_t Start(int unit, int64_t row_offset) {
    return row_offset + int64_t{unit} * 4 * kBlock;
  }
  static HEARTH_HD int64_t VecOffset(int unit, int v, int64_t row_offset) {
    return (Start(unit, row_offset) & ~int64_t{15}) + 16 * v;
  }
  // n[i] = the unit's word i, from the loads' words (past 8 bytes of the row before: skip two).
  static HEARTH_HD void UnitWords(int unit, int64_t row_offset, const uint32_t* words,
                                  uint32_t* n) {
    const bool shifted = !kAligned && (Start(unit, row_offset) & 15) != 0;
    for (int i = 0; i < kUnitWords; ++i) n[i] = shifted ? words[i + 2] : words[i];
  }
  // The 4 bytes at an even byte offset of the unit's words. Blocks of 18, 22 and 34 bytes start
  // on a word or 2 bytes past one, alternately; once the loops are unrolled the offset is static,
  // and the word a select of halves.
  static HEARTH_HD uint32_t WordAt(const uint32_t* n, int at) {
    return at % 4 == 0 ? n[at / 4] : (n[at / 4] >> 16) | (n[at / 4 + 1] << 16);
  }
};

// Q8_0: 4 blocks of d and 32 int8 quants (34 bytes), 136 bytes a unit, nine loads.
template <>
struct DirectUnit<DType::kQ8_0> : DirectBlocks4<34> {
  static constexpr int RowsFor(int /*max_tokens*/) { return 1; }  // 36 registers of loads
  struct W {
    uint32_t q[32];  // block j's 32 int8 quants in q[8j .. 8j + 8)
    float d[4];
  };
  static HEARTH_HD W Decode(int unit, int64_t row_offset, const uint32_t* words) {
    uint32_t n[kUnitWords];
    UnitWords(unit, row_offset, words, n);
    W w;
    for (int j = 0; j < 4; ++j) {
      w.d[j] = quant::HalfBitsToFloat(static_cast<uint16_t>(WordAt(n, 34 * j)));
      for (int i = 0; i < 8; ++i) w.q[8 * j + i] = WordAt(n, 34 * j + 2 + 4 * i);
    }
    return w;
  }
  // One token: the 4 blocks' dots (Q8Unit<Q8_0>::Dot's arithmetic) added to acc in block order.
  // x: the unit's 128 int8 x as 32 words; xs: its 4 x blocks' scales.
  static HEARTH_HD float AddDot(float acc, const W& w, const uint32_t* x, const XScale* xs) {
    for (int j = 0; j < 4; ++j) {
      int dot = 0;
      for (int i = 0; i < 8; ++i) dot = Dp4a(w.q[8 * j + i], x[8 * j + i], dot);
      acc += quant::MulRn(quant::MulRn(w.d[j], xs[j].d), static_cast<float>(dot));
    }
    return acc;
  }
};

// Q4_0, Q4_1, Q5_0, Q5_1: a block's 16 quant bytes hold elements 0..15 in their low nibbles and
// 16..31 in their high ones; Q5's 4 qh bytes hold their fifth bits (bit e of the little-endian
// word: element e's bit 4). w = d * q + m: Q4_1 and Q5_1 store m (blocks d, m, [qh,] qs: 20 and 24
// bytes), Q4_0 and Q5_0 have m = -8d and -16d (exact in float; blocks d, [qh,] qs: 18 and 22
// bytes). Quant bytes 0..15 (0..31 with the fifth bit) dot the int8 x with dp4a; the -8 / -16
// ride on m, which saved Q4_0 92 of 292 SASS instructions a unit against unpacking q - 8 to signed
// bytes.
struct DirectNibbleBlocks {
  uint32_t q[16];  // block j's quant words in q[4j, 4j + 4)
  uint32_t h[4];   // Q5_0 / Q5_1: block j's qh
  float d[4], m[4];
};
// Bits 0..3 of v to bit 4 of bytes 0..3: a multiply spreads them without carries (v << 0, 7, 14,
// 21 do not overlap), the mask keeps bits 0, 8, 16, 24.
HEARTH_HD uint32_t FifthBits(uint32_t v) { return ((v & 0xFu) * 0x00204081u & 0x01010101u) << 4; }

template <int kBlock, bool kHasMin, bool kFifthBit>
struct DirectNibbleUnit : DirectBlocks4<kBlock> {
  using Frame = DirectBlocks4<kBlock>;
  // One row: 2 at one token took the 128 registers with spills (Q4_0, Q4_1; ptxas, nvcc 13.0,
  // sm_90a).
  static constexpr int RowsFor(int /*max_tokens*/) { return 1; }
  using W = DirectNibbleBlocks;
  static HEARTH_HD W Decode(int unit, int64_t row_offset, const uint32_t* words) {
    uint32_t n[Frame::kUnitWords];
    Frame::UnitWords(unit, row_offset, words, n);
    constexpr int kQh = kHasMin ? 4 : 2;                 // the byte after d (and m)
    constexpr int kQs = kFifthBit ? kQh + 4 : kQh;       // the quants' first byte
    constexpr float kOffset = kFifthBit ? -16.f : -8.f;  // m / d where the block has no m
    W w;
    for (int j = 0; j < 4; ++j) {
      const uint32_t head = Frame::WordAt(n, kBlock * j);
      w.d[j] = quant::HalfBitsToFloat(static_cast<uint16_t>(head));
      w.m[j] =
          kHasMin ? quant::HalfBitsToFloat(static_cast<uint16_t>(head >> 16)) : kOffset * w.d[j];
      w.h[j] = kFifthBit ? Frame::WordAt(n, kBlock * j + kQh) : 0u;
      for (int i = 0; i < 4; ++i) w.q[4 * j + i] = Frame::WordAt(n, kBlock * j + kQs + 4 * i);
    }
    return w;
  }
  // One token: block j's dot with x words 8j.. of the unit's 32 (xs[j]: its x block's scale d and
  // scaled sum s): dp4a over the low nibbles with x[8j, +4), then the high ones with x[8j + 4, +4),
  // in integers, then Q8_0's float arithmetic and m * s.
  static HEARTH_HD float AddDot(float acc, const W& w, const uint32_t* x, const XScale* xs) {
    for (int j = 0; j < 4; ++j) {
      int dot = 0;
      for (int i = 0; i < 4; ++i) {
        uint32_t lo = w.q[4 * j + i] & 0x0F0F0F0Fu, hi = (w.q[4 * j + i] >> 4) & 0x0F0F0F0Fu;
        if constexpr (kFifthBit) {
          lo |= FifthBits(w.h[j] >> (4 * i));
          hi |= FifthBits(w.h[j] >> (16 + 4 * i));
        }
        dot = Dp4a(lo, x[8 * j + i], dot);
        dot = Dp4a(hi, x[8 * j + 4 + i], dot);
      }
      const float r = quant::MulRn(quant::MulRn(w.d[j], xs[j].d), static_cast<float>(dot));
      acc += fmaf(w.m[j], xs[j].s, r);
    }
    return acc;
  }
};
template <>
struct DirectUnit<DType::kQ4_0> : DirectNibbleUnit<18, false, false> {};  // 72 bytes, 5 loads
template <>
struct DirectUnit<DType::kQ4_1> : DirectNibbleUnit<20, true, false> {};  // 80 bytes, 5 loads
template <>
struct DirectUnit<DType::kQ5_0> : DirectNibbleUnit<22, false, true> {};  // 88 bytes, 6 loads
template <>
struct DirectUnit<DType::kQ5_1> : DirectNibbleUnit<24, true, true> {};  // 96 bytes, 6 loads

// out[i] = the 4 bytes at byte offset `shift` + 4i of in (shift even, 0..14; in holds N + 4
// words). The shift varies by lane, so the word offset is selected, never indexed (an indexed
// register array would live in local memory).
HEARTH_HD uint32_t SelectWord(const uint32_t* in, int i, int word_offset) {
  const uint32_t lo = (word_offset & 1) ? in[i + 1] : in[i];
  const uint32_t hi = (word_offset & 1) ? in[i + 3] : in[i + 2];
  return (word_offset & 2) ? hi : lo;
}
// hi:lo shifted right by `bits` (0..31), the low word: one funnel shift on the device.
HEARTH_HD uint32_t FunnelRight(uint32_t lo, uint32_t hi, uint32_t bits) {
#ifdef __CUDA_ARCH__
  return __funnelshift_r(lo, hi, bits);
#else
  return static_cast<uint32_t>(((uint64_t{hi} << 32) | lo) >> (bits & 31u));
#endif
}
// A barrel shifter in three stages, 3N + 3 instructions where picking each word of 4 and then
// its halves took ~7 a word: 2 words if shift & 8, 1 if shift & 4, 16 bits if shift & 2.
template <int N>
HEARTH_HD void ShiftWords(const uint32_t* in, int shift, uint32_t* out) {
  uint32_t a[N + 2], b[N + 1];
  for (int i = 0; i < N + 2; ++i) a[i] = (shift & 8) ? in[i + 2] : in[i];
  for (int i = 0; i < N + 1; ++i) b[i] = (shift & 4) ? a[i + 1] : a[i];
  const uint32_t bits = 8u * static_cast<uint32_t>(shift & 2);
  for (int i = 0; i < N; ++i) out[i] = FunnelRight(b[i], b[i + 1], bits);
}

// The frame of the units of half a 256-weight block (Q6_K, Q2_K, Q3_K): unit 2b + h is half h of
// block b. Their blocks (210, 84 and 110 bytes) are not 16-byte multiples: each piece of a unit is
// read from the 16-byte boundary below it, so the last unit's last load may pass the tensor's end.
// One row a slot: 2 took the 128 registers with spills (Q2_K at 1-2 tokens: 8-32 bytes; ptxas,
// nvcc 13.0, sm_90a), and Q6_K's ten loads a row are 40 registers.
template <int kBlock>
struct DirectHalfBlock {
  static constexpr int kWeights = 128;
  static constexpr int kBlockBytes = kBlock;
  static constexpr bool kLoadsInBlock = false;
  static constexpr int64_t RowBytes(int k) { return int64_t{k} / 256 * kBlock; }
  static constexpr int RowsFor(int /*max_tokens*/) { return 1; }
  static HEARTH_HD int64_t Block(int unit, int64_t row_offset) {
    return row_offset + int64_t{unit >> 1} * kBlock;
  }
};

// Q6_K: half a block, 128 weights (unit = 2b + h): its 64 ql bytes [64h, +64), 32 qh bytes
// [128 + 32h, +32), and the block's scales and d [192, 210). Blocks are 210 bytes, so a block
// starts an even number of bytes (0..14) past a 16-byte boundary, the same for all three pieces
// (at multiples of 16 in the block): each is read from the boundary below it (5 + 3 + 2 aligned
// 16-byte loads) and shifted into place in registers. Element 32j + c of the half (quarter j,
// column c): q = (ql[32 (j % 2) + c] >> 4 (j / 2)) & 15 | ((qh[c] >> 2j) & 3) << 4, minus 32;
// w = d * sc[8h + 2j + c / 16] * q.
template <>
struct DirectUnit<DType::kQ6_K> : DirectHalfBlock<210> {
  static constexpr int kVecs = 10;
  static HEARTH_HD int64_t VecOffset(int unit, int v, int64_t row_offset) {
    const int64_t block = Block(unit, row_offset);
    const int h = unit & 1;
    const int64_t piece = v < 5 ? block + 64 * h : v < 8 ? block + 128 + 32 * h : block + 192;
    const int first = v < 5 ? 0 : v < 8 ? 5 : 8;
    return (piece & ~int64_t{15}) + 16 * (v - first);
  }
  struct W {
    uint32_t q[32];  // the 6-bit q (0..63) of elements 32j + 4g.. in q[8j + g]
    int sc[8];       // the signed scale of sub-block 2j + c / 16
    float d;
  };
  static HEARTH_HD W Decode(int unit, int64_t row_offset, const uint32_t* words) {
    const int shift = static_cast<int>(Block(unit, row_offset) & 15);
    const int h = unit & 1;
    uint32_t ql[16], qh[8], sc[4];
    ShiftWords<16>(words, shift, ql);
    ShiftWords<8>(words + 20, shift, qh);
    ShiftWords<4>(words + 32, shift, sc);
    // d: bytes 16, 17 past the scales' start, i.e. `shift` + 16 into words[32..39].
    const uint32_t dw = SelectWord(words + 32, 4, shift >> 2);
    W w;
    w.d = quant::HalfBitsToFloat(static_cast<uint16_t>((shift & 2) ? dw >> 16 : dw));
    // The half's 8 scale bytes, picked by selects: an index depending on h would put sc in
    // local memory (ptxas did so at 2-8 tokens, 8 local loads per unit).
    const uint32_t half_sc[2] = {h != 0 ? sc[2] : sc[0], h != 0 ? sc[3] : sc[1]};
    for (int j = 0; j < 4; ++j) {
      for (int g = 0; g < 8; ++g) {
        const uint32_t lo = (ql[8 * (j % 2) + g] >> (4 * (j / 2))) & 0x0F0F0F0Fu;
        const uint32_t hi = ((qh[g] >> (2 * j)) & 0x03030303u) << 4;
        w.q[8 * j + g] = lo | hi;  // 0..63: the -32 rides on x (AddDot)
      }
    }
    for (int i = 0; i < 8; ++i) w.sc[i] = static_cast<int8_t>(half_sc[i / 4] >> (8 * (i % 4)));
    return w;
  }
  // One token: per quarter j (x block j), its two sub-blocks' dots (sum (q - 32) x: q x by an
  // unsigned x signed dp4a, -32 x by a dp4a with -32 bytes, one instruction a word where the
  // weight side took two) weighted by their scales in integers (|sc * dot| <= 128 * 16 * 32 * 127,
  // the sum of two < 2^24: exact as a float), then d * dx * that added to acc, quarter by quarter.
  // x: the unit's 128 int8 x as 32 words; xs: its 4 x blocks' scales.
  static HEARTH_HD float AddDot(float acc, const W& w, const uint32_t* x, const XScale* xs) {
    for (int j = 0; j < 4; ++j) {
      int total = 0;
      for (int s2 = 0; s2 < 2; ++s2) {
        int dot = 0;
        for (int g = 4 * s2; g < 4 * s2 + 4; ++g) {
          dot = Dp4aUnsignedSigned(w.q[8 * j + g], x[8 * j + g], dot);
          dot = Dp4a(0xE0E0E0E0u, x[8 * j + g], dot);  // -32 x, one dp4a for 4
        }
        total += w.sc[2 * j + s2] * dot;
      }
      acc = fmaf(quant::MulRn(w.d, xs[j].d), static_cast<float>(total), acc);
    }
    return acc;
  }
};

// Q2_K: half a block, 128 weights (unit = 2b + h): the block's 16 scale bytes [0, 16), the half's
// 32 quant bytes [16 + 32h, +32) and d, dmin [80, 84). Blocks are 84 bytes, so a block starts 0,
// 4, 8 or 12 bytes past a 16-byte boundary, the same for all three pieces (at multiples of 16 in
// the block): each is read from the boundary below it (2 + 3 + 1 aligned 16-byte loads) and
// shifted into place in registers. Element 32j + c of the half (quarter j, column c): q =
// (qs[32h + c] >> 2j) & 3; its group of 16 is 8h + 2j + c / 16, whose scale byte holds sc (low
// nibble) and m (high); w = d * sc * q - dmin * m.
template <>
struct DirectUnit<DType::kQ2_K> : DirectHalfBlock<84> {
  static constexpr int kVecs = 6;
  static HEARTH_HD int64_t VecOffset(int unit, int v, int64_t row_offset) {
    const int64_t block = Block(unit, row_offset);
    const int64_t piece = v < 2 ? block : v < 5 ? block + 16 + 32 * (unit & 1) : block + 80;
    const int first = v < 2 ? 0 : v < 5 ? 2 : 5;
    return (piece & ~int64_t{15}) + 16 * (v - first);
  }
  struct W {
    uint32_t qs[8];  // the half's quant bytes: column c in byte c % 4 of word c / 4
    uint32_t sc[2];  // the half's 8 scale bytes: group 2j + s2 in byte (2j + s2) % 4 of word j / 2
    float d, dmin;
  };
  static HEARTH_HD W Decode(int unit, int64_t row_offset, const uint32_t* words) {
    const int shift = static_cast<int>(Block(unit, row_offset) & 15);  // 0, 4, 8 or 12
    uint32_t sc[4];
    W w;
    ShiftWords<4>(words, shift, sc);
    ShiftWords<8>(words + 8, shift, w.qs);
    const uint32_t dw = SelectWord(words + 20, 0, shift >> 2);
    w.d = quant::HalfBitsToFloat(static_cast<uint16_t>(dw));
    w.dmin = quant::HalfBitsToFloat(static_cast<uint16_t>(dw >> 16));
    // Selects, not an index by h (which would put sc in local memory, as for Q6_K).
    const bool h = (unit & 1) != 0;
    w.sc[0] = h ? sc[2] : sc[0];
    w.sc[1] = h ? sc[3] : sc[1];
    return w;
  }
  // One token: per quarter j (x block j), the dots of its two groups of 16 (dp4a on the 2-bit
  // quants) and their x sums (dp4a with ones) weighted by sc and m in integers, then
  // dx * (d * sum sc dot - dmin * sum m sx) added to acc, quarter by quarter. x: the unit's 128
  // int8 x as 32 words; xs: its 4 x blocks' scales (quarter j's).
  static HEARTH_HD float AddDot(float acc, const W& w, const uint32_t* x, const XScale* xs) {
    for (int j = 0; j < 4; ++j) {
      int scaled = 0, mins = 0;
      for (int s2 = 0; s2 < 2; ++s2) {
        int dot = 0, sum = 0;
        for (int i = 4 * s2; i < 4 * s2 + 4; ++i) {
          dot = Dp4a((w.qs[i] >> (2 * j)) & 0x03030303u, x[8 * j + i], dot);
          sum = Dp4a(0x01010101u, x[8 * j + i], sum);
        }
        const uint32_t byte = w.sc[j / 2] >> (8 * (2 * (j % 2) + s2));
        scaled += static_cast<int>(byte & 0x0Fu) * dot;
        mins += static_cast<int>((byte >> 4) & 0x0Fu) * sum;
      }
      const float v =
          fmaf(w.d, static_cast<float>(scaled), -quant::MulRn(w.dmin, static_cast<float>(mins)));
      acc = fmaf(xs[j].d, v, acc);
    }
    return acc;
  }
};

// Q3_K: half a block, 128 weights (unit = 2b + h): the block's 32 hmask bytes [0, 32), the
// half's 32 quant bytes [32 + 32h, +32), the 12 scale bytes and d [96, 110), in 3 + 3 + 2 loads
// from the 16-byte boundary below each piece, as Q6_K's (a 110-byte block starts an even 0..14
// bytes past a boundary). Element 32j + c of the half (quarter j, column c): q = ((qs[32h + c]
// >> 2j) & 3 | bit 4h + j of hmask[c] << 2) - 4; its group of 16, g = 8h + 2j + c / 16, has the
// 6-bit scale (nibble h of sc[g % 8] | bits 2 (g / 4), +1 of sc[8 + g % 4] << 4) - 32; w = d *
// scale * q.
template <>
struct DirectUnit<DType::kQ3_K> : DirectHalfBlock<110> {
  static constexpr int kVecs = 8;
  // The scales and d (14 bytes) take one load or two: the second is the one holding their last
  // byte, the first again where they fit in one, so that no load starts past the block (the
  // replay and LoadUnit's end check rely on it).
  static HEARTH_HD int64_t VecOffset(int unit, int v, int64_t row_offset) {
    const int64_t block = Block(unit, row_offset);
    if (v >= 6) return (block + (v == 6 ? 96 : 109)) & ~int64_t{15};
    const int64_t piece = v < 3 ? block : block + 32 + 32 * (unit & 1);
    return (piece & ~int64_t{15}) + 16 * (v < 3 ? v : v - 3);
  }
  struct W {
    uint32_t qs[8];  // the half's quant bytes: column c in byte c % 4 of word c / 4
    uint32_t hm[8];  // the hmask bytes shifted right by 4h: quarter j's high bits in bit j
    int scale[8];    // group 2j + s2 of the half: its signed 6-bit scale
    float d;
  };
  static HEARTH_HD W Decode(int unit, int64_t row_offset, const uint32_t* words) {
    const int shift = static_cast<int>(Block(unit, row_offset) & 15);  // even, 0..14
    const int h = unit & 1;
    W w;
    ShiftWords<8>(words, shift, w.hm);
    ShiftWords<8>(words + 12, shift, w.qs);
    uint32_t sc[3];
    ShiftWords<3>(words + 24, shift, sc);
    // d: bytes 12, 13 past the scales' start, i.e. `shift` + 12 into words[24..31].
    const uint32_t dw = SelectWord(words + 24, 3, shift >> 2);
    w.d = quant::HalfBitsToFloat(static_cast<uint16_t>((shift & 2) ? dw >> 16 : dw));
    for (int i = 0; i < 8; ++i) w.hm[i] >>= 4 * h;
    for (int j = 0; j < 4; ++j) {
      for (int s2 = 0; s2 < 2; ++s2) {
        const int g = 2 * j + s2;  // in the half; the block's group 8h + g
        const uint32_t low = (sc[g / 4] >> (8 * (g % 4) + 4 * h)) & 0x0Fu;
        const uint32_t high = (sc[2] >> (8 * (g % 4) + 2 * (2 * h + j / 2))) & 0x03u;
        w.scale[g] = static_cast<int>(low | high << 4) - 32;
      }
    }
    return w;
  }
  // One token: per quarter j (x block j), its two groups' dp4a of the signed quants (the 3-bit
  // value minus 4, per byte without borrows: + 0x7C, then the sign bit flipped) with x, weighted
  // by their scales in integers, then d * dx * that added to acc, quarter by quarter. x: the
  // unit's 128 int8 x as 32 words; xs: its 4 x blocks' scales.
  static HEARTH_HD float AddDot(float acc, const W& w, const uint32_t* x, const XScale* xs) {
    for (int j = 0; j < 4; ++j) {
      int total = 0;
      for (int s2 = 0; s2 < 2; ++s2) {
        int dot = 0;
        for (int i = 4 * s2; i < 4 * s2 + 4; ++i) {
          const uint32_t u =
              ((w.qs[i] >> (2 * j)) & 0x03030303u) | (((w.hm[i] >> j) & 0x01010101u) << 2);
          dot = Dp4a((u + 0x7C7C7C7Cu) ^ 0x80808080u, x[8 * j + i], dot);
        }
        total += w.scale[2 * j + s2] * dot;
      }
      acc = fmaf(quant::MulRn(w.d, xs[j].d), static_cast<float>(total), acc);
    }
    return acc;
  }
};

// The weight types with a DirectUnit; those of 32-weight blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1:
// units of 4 blocks) need k % 128 == 0 besides.
constexpr bool HasSmallBlocks(DType t) {
  return t == DType::kQ8_0 || t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ5_0 ||
         t == DType::kQ5_1;
}
constexpr bool HasDirectGemvType(DType t) {
  return t == DType::kQ2_K || t == DType::kQ3_K || t == DType::kQ4_K || t == DType::kQ5_K ||
         t == DType::kQ6_K || HasSmallBlocks(t);
}
// The weights of a direct unit of T (64 or 128; 0 where T has none): the layout of its x.
template <DType T>
constexpr int DirectUnitWeights() {
  if constexpr (HasDirectGemvType(T)) {
    return DirectUnit<T>::kWeights;
  } else {
    return 0;
  }
}
constexpr bool HasDirectGemv(DType t, int k) {
  return HasDirectGemvType(t) && (!HasSmallBlocks(t) || k % 128 == 0);
}

struct DirectGemvPlan {
  int units_per_row;   // k / kWeights
  int lanes_per_row;   // 32, 64, 128 or 256
  int row_slots;       // kDirectThreads / lanes_per_row
  int units_per_lane;  // ceil(units_per_row / lanes_per_row)
  int rows_per_slot;   // DirectUnit<T>::RowsFor(tokens)
  int rows_per_group;  // row_slots * rows_per_slot
  int num_groups;      // ceil(n / rows_per_group)
  int num_ctas;        // <= max_ctas; every CTA gets ceil or floor of num_groups / num_ctas groups
};

// Pure. units_per_row >= 1, n >= 1, rows_per_slot >= 1 with row_slots * rows_per_slot * tokens
// <= kDirectThreads (the final sums take a thread each), max_ctas >= 1 (the CTAs the device holds
// at once).
inline DirectGemvPlan PlanDirectGemv(int n, int units_per_row, int rows_per_slot, int max_ctas) {
  DirectGemvPlan p{};
  p.units_per_row = units_per_row;
  p.lanes_per_row = 32;
  while (p.lanes_per_row < kDirectThreads && 2 * p.lanes_per_row <= p.units_per_row) {
    p.lanes_per_row *= 2;
  }
  p.row_slots = kDirectThreads / p.lanes_per_row;
  p.units_per_lane = (p.units_per_row + p.lanes_per_row - 1) / p.lanes_per_row;
  p.rows_per_slot = rows_per_slot;
  p.rows_per_group = p.row_slots * rows_per_slot;
  p.num_groups = (n + p.rows_per_group - 1) / p.rows_per_group;
  // As many CTAs as fit at once, but no CTA with one group more than it needs: 896 groups on 396
  // CTAs would leave 104 CTAs a third group; 299 CTAs of 3 (the last of 2) finish together.
  const int per_cta = (p.num_groups + max_ctas - 1) / max_ctas;
  p.num_ctas = (p.num_groups + per_cta - 1) / per_cta;
  return p;
}
template <DType T>
DirectGemvPlan PlanDirectGemvFor(int n, int k, int max_tokens, int max_ctas) {
  return PlanDirectGemv(n, k / DirectUnit<T>::kWeights, DirectUnit<T>::RowsFor(max_tokens),
                        max_ctas);
}

// Where thread `tid` of a CTA works: its row slot and its lane within the row.
struct DirectLane {
  int slot;
  int lane_in_row;
};
HEARTH_HD DirectLane DirectLaneOf(const DirectGemvPlan& p, int tid) {
  return {tid / p.lanes_per_row, tid % p.lanes_per_row};
}
// The unit a lane takes on its i-th turn, or -1 past the row's end.
HEARTH_HD int DirectUnitOf(const DirectGemvPlan& p, int lane_in_row, int i) {
  const int unit = lane_in_row + i * p.lanes_per_row;
  return unit < p.units_per_row ? unit : -1;
}
// How many units of each row lane lane_in_row takes: DirectUnitOf(p, lane_in_row, i) >= 0 exactly
// for i below this (0 for an idle lane of a row with fewer units than lanes).
HEARTH_HD int DirectUnitsOfLane(const DirectGemvPlan& p, int lane_in_row) {
  return lane_in_row < p.units_per_row
             ? (p.units_per_row - lane_in_row + p.lanes_per_row - 1) / p.lanes_per_row
             : 0;
}
// Row r (< rows_per_slot) of a row slot in row group g.
HEARTH_HD int DirectRowOf(const DirectGemvPlan& p, int group, int slot, int r) {
  return group * p.rows_per_group + slot * p.rows_per_slot + r;
}

// The kernel's result for one row and one token, on the CPU: w the tensor (rows of
// DirectUnit<T>::RowBytes(k)), xq / xs the token's int8 activations and scales. Each lane adds its
// units in turn order; the lanes of a warp sum by the xor butterfly, the warps in order.
template <DType T>
float ReplayDirectRow(const DirectGemvPlan& p, const uint8_t* w, int row, int k, const int8_t* xq,
                      const XScale* xs) {
  using Unit = DirectUnit<T>;
  const int64_t row_offset = int64_t{row} * Unit::RowBytes(k);
  // A unit's bytes lie inside its row; what its loads fetch beyond the row is never used (zeros).
  const int64_t row_end = row_offset + Unit::RowBytes(k);
  float warp_sum[kDirectThreads / 32] = {};
  const int warps = p.lanes_per_row / 32;
  for (int wp = 0; wp < warps; ++wp) {
    float lane_acc[32];
    for (int l = 0; l < 32; ++l) {
      float acc = 0.f;
      for (int i = 0; i < p.units_per_lane; ++i) {
        const int unit = DirectUnitOf(p, wp * 32 + l, i);
        if (unit < 0) break;
        uint32_t words[4 * Unit::kVecs] = {};
        for (int v = 0; v < Unit::kVecs; ++v) {
          const int64_t off = Unit::VecOffset(unit, v, row_offset);
          std::memcpy(words + 4 * v, w + off,
                      static_cast<size_t>(std::clamp<int64_t>(row_end - off, 0, 16)));
        }
        uint32_t x[Unit::kWeights / 4];
        std::memcpy(x, xq + int64_t{unit} * Unit::kWeights, Unit::kWeights);
        acc = Unit::AddDot(acc, Unit::Decode(unit, row_offset, words), x,
                           xs + int64_t{unit} * (Unit::kWeights / 32));
      }
      lane_acc[l] = acc;
    }
    // __shfl_xor_sync butterfly: after offset o, lane l holds lane_acc[l] + lane_acc[l ^ o].
    for (int o = 16; o > 0; o /= 2) {
      float next[32];
      for (int l = 0; l < 32; ++l) next[l] = lane_acc[l] + lane_acc[l ^ o];
      std::memcpy(lane_acc, next, sizeof(next));
    }
    warp_sum[wp] = lane_acc[0];
  }
  float sum = 0.f;
  for (int wp = 0; wp < warps; ++wp) sum += warp_sum[wp];
  return sum;
}

// x quantized by the GEMV's own CTAs (kFusedX of DirectGemvKernel) instead of by the pre-kernel:
// each CTA reads the activations (L2-resident: the previous kernel just wrote them) once and
// keeps their int8 blocks and scales in shared memory, laid out as in the pre-kernel's scratch.
// The call is then one kernel, so a decode step has one kernel boundary fewer per projection
// (with programmatic launch, kernels/core/pdl.h, the GEMV's first weight loads are in flight
// while its predecessor drains, and it quantizes x as soon as that one is done).
// Shared memory bytes for units of unit_weights: the int8 x laid out for them (XRowBytesFor a
// token), then the scales.
constexpr int64_t DirectFusedXqBytes(int unit_weights, int num_tokens, int k) {
  return int64_t{num_tokens} * XRowBytesFor(unit_weights, k);
}
constexpr int64_t DirectFusedXBytes(int unit_weights, int num_tokens, int k) {
  return DirectFusedXqBytes(unit_weights, num_tokens, k) + int64_t{num_tokens} *
                                                               XRowScalesFor(unit_weights, k) *
                                                               static_cast<int64_t>(sizeof(XScale));
}
// The kernel's static shared memory at most (its partial sums: 8 warps x rows x tokens, at most
// 8 floats a warp; the kernel asserts it).
constexpr int64_t kDirectStaticSmemBytes = kDirectThreads / 32 * 8 * 4;
// With the static shared memory at most the 48 KiB a CTA gets without an opt-in (beyond it the
// launch fails): 2 CTAs per SM then leave most of the SM's 256 KiB of L1 / shared storage to L1.
// 1 token up to k = 39116, 8 tokens up to k = 4889.
constexpr int64_t kMaxDirectFusedXBytes = 48 * 1024 - kDirectStaticSmemBytes;

// Where the direct GEMV's int8 x comes from, HEARTH_DIRECT_X: unset or "" = its own CTAs for one
// token where it fits, else the pre-kernel (kOneToken); "fused" = its own CTAs wherever it fits
// (kFused); "pre" = always the pre-kernel (kPreKernel). ParseDirectX: anything else is an error.
// Measured on the H100 (2026-11-25, benchmarks/RESULTS.md): fusing is 1.03-1.23x faster at one
// token (Q4_K, Q8_0, chained as in a decode step), and 2-15% slower than the pre-kernel at 2-8
// tokens of Q4_K and Q6_K (every CTA quantizes every token of x again).
enum class DirectX : uint8_t { kOneToken, kFused, kPreKernel };
Result<DirectX> ParseDirectX(const char* env_value);

// Pure: whether the call quantizes x in the GEMV's CTAs: allowed by mode (and num_tokens), the
// shared memory within kMaxDirectFusedXBytes, x 16-byte aligned (its 16-byte loads; k % 128 == 0
// for every direct type keeps each token's row aligned).
constexpr bool DirectFusesX(DirectX mode, int unit_weights, int num_tokens, int k,
                            bool x_aligned16) {
  const bool wanted = mode == DirectX::kFused || (mode == DirectX::kOneToken && num_tokens == 1);
  return wanted && x_aligned16 &&
         DirectFusedXBytes(unit_weights, num_tokens, k) <= kMaxDirectFusedXBytes;
}

// The kernel on x already quantized by the integer GEMV's pre-kernel (matmul_gemv_direct.cu);
// w_type with HasDirectGemv(w_type, k), act BF16 or F16, w 16-byte aligned, xq / xs 16-byte
// aligned and laid out for DirectUnitWeights<w_type>() (QuantizeXKernel<A, that>: XqOffset, rows
// XRowBytesFor / XRowScalesFor apart), 1 <= num_tokens <= 8. The caller validates.
Status LaunchDirectGemv(DType w_type, DType act, const void* w, const int8_t* xq, const XScale* xs,
                        const void* bias, void* y, int num_tokens, int n, int k,
                        cudaStream_t stream);
// The kernel quantizing x itself (x: [num_tokens, k] of act, 16-byte aligned), where
// DirectFusesX holds. The caller validates.
Status LaunchDirectGemvFusedX(DType w_type, DType act, const void* w, const void* x,
                              const void* bias, void* y, int num_tokens, int n, int k,
                              cudaStream_t stream);

}  // namespace hearth::gemv_internal
