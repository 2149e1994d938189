// Byte layouts of the GGUF (ggml) quantized block types, as stored in GGUF files and as kept on
// the device unless a repacked layout is documented beside the kernel that uses it.
// Sources of the format facts: the GGUF specification and ggml's published block definitions.
// All multi-byte fields are little-endian; `d`/`dmin` are IEEE fp16 bit patterns.
#pragma once

#include <cstdint>

namespace hearth::quant {

constexpr int kQK = 32;     // elements per block of the legacy types (Q4_0 .. Q8_0)
constexpr int kQK_K = 256;  // elements per super-block of the k-quants

// x[i] = d * (q[i] - 8); q[j] = qs[j] & 15 for j < 16, qs[j-16] >> 4 for j >= 16.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
// x[i] = d * q[i] + m, nibbles as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
// 5-bit: low nibble as Q4_0, bit 4 of element j is bit j of the little-endian uint32 qh.
// x[i] = d * (q[i] - 16).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x[i] = d * q[i] + m, 5-bit q as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x[i] = d * qs[i].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// 16 sub-blocks of 16: scales[j] low nibble = scale, high nibble = min (4 bits each);
// x = d * scale * q - dmin * min, q 2-bit.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
// 16 sub-blocks of 16: 2 low bits in qs, the high bit in hmask (set = no subtraction of 4),
// 6-bit signed scales (offset 32) packed in 12 bytes; x = d * (scale - 32) * q.
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
// 8 sub-blocks of 32: 6-bit scale and min per sub-block packed in 12 bytes;
// x = d * scale * q - dmin * min, q 4-bit.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
// As Q4_K with a fifth bit from qh.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
// 16 sub-blocks of 16: 4 low bits in ql, 2 high bits in qh, int8 scales;
// x = d * scale * (q - 32), q 6-bit.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);

}  // namespace hearth::quant
