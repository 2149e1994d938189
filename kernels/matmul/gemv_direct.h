// Internal to kernels/matmul: the direct integer GEMV for Q4_K weights (matmul_gemv_direct.cu),
// its work split and its per-row arithmetic order. Host and device share this header, so the CPU
// test (gemv_direct_test) checks the split's coverage and replays the kernel's sums.
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
// Work split. A "pair" is 64 weights of a row: block b, pair p (0..3) = quant bytes
// qs[32p, 32p + 32), i.e. the staged GEMV's units 2p and 2p + 1 (gemv_q8_unit.h), whose
// arithmetic is reused. A CTA of kDirectThreads threads is cut into row slots of lanes_per_row
// lanes (a power of two, 32..256, at most the pairs of a row); lane l of a slot takes the pairs
// l, l + lanes_per_row, ... of the row. A slot works on rows_per_slot consecutive rows at once; a
// CTA's row slots together cover one row group; CTAs take the row groups grid-strided.
// The split depends on k only, never on the number of tokens, so a token's result is the same
// whatever the batch (batch invariance).
//
// Per row and token the sum is: each lane adds its pairs' two unit dots in pair order (unit 2p,
// then 2p + 1) to a float starting at 0; the 32 lanes of a warp are summed by an xor butterfly
// (offsets 16, 8, 4, 2, 1); the warps of a row slot are then summed in warp order, starting from
// 0. ReplayDirectRow below computes exactly that on the CPU.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/core/status.h"
#include "kernels/core/stream.h"
#include "kernels/matmul/gemv_q8_unit.h"

namespace hearth::gemv_internal {

constexpr int kDirectThreads = 256;
// Rows a row slot works on at once: 4 for one token (12 16-byte loads in flight per lane, one x
// load for 4 rows); fewer for more tokens, whose per-row decoded weights and per-token sums take
// the registers. The rows a slot shares do not enter a row's sum, so this may depend on the
// number of tokens without breaking batch invariance.
constexpr int kDirectMaxRows = 4;
constexpr int DirectRowsFor(int max_tokens) {
  return max_tokens <= 1 ? 4 : max_tokens <= 2 ? 2 : 1;
}
constexpr int kQ4KPairsPerBlock = 4;
constexpr int kQ4KBlockBytes = 144;

struct DirectGemvPlan {
  int pairs_per_row;   // k / 64
  int lanes_per_row;   // 32, 64, 128 or 256
  int row_slots;       // kDirectThreads / lanes_per_row
  int pairs_per_lane;  // ceil(pairs_per_row / lanes_per_row)
  int rows_per_slot;   // DirectRowsFor(tokens)
  int rows_per_group;  // row_slots * rows_per_slot
  int num_groups;      // ceil(n / rows_per_group)
  int num_ctas;        // <= max_ctas; every CTA gets ceil or floor of num_groups / num_ctas groups
};

// Pure. k a positive multiple of 256, n >= 1, rows_per_slot in 1..kDirectMaxRows, max_ctas >= 1
// (the CTAs the device holds at once).
inline DirectGemvPlan PlanDirectGemv(int n, int k, int rows_per_slot, int max_ctas) {
  DirectGemvPlan p{};
  p.pairs_per_row = k / 64;
  p.lanes_per_row = 32;
  while (p.lanes_per_row < kDirectThreads && 2 * p.lanes_per_row <= p.pairs_per_row) {
    p.lanes_per_row *= 2;
  }
  p.row_slots = kDirectThreads / p.lanes_per_row;
  p.pairs_per_lane = (p.pairs_per_row + p.lanes_per_row - 1) / p.lanes_per_row;
  p.rows_per_slot = rows_per_slot;
  p.rows_per_group = p.row_slots * rows_per_slot;
  p.num_groups = (n + p.rows_per_group - 1) / p.rows_per_group;
  // As many CTAs as fit at once, but no CTA with one group more than it needs: 896 groups on 396
  // CTAs would leave 104 CTAs a third group; 299 CTAs of 3 (the last of 2) finish together.
  const int per_cta = (p.num_groups + max_ctas - 1) / max_ctas;
  p.num_ctas = (p.num_groups + per_cta - 1) / per_cta;
  return p;
}

// Where thread `tid` of a CTA works: its row slot and its lane within the row.
struct DirectLane {
  int slot;
  int lane_in_row;
};
HEARTH_HD DirectLane DirectLaneOf(const DirectGemvPlan& p, int tid) {
  return {tid / p.lanes_per_row, tid % p.lanes_per_row};
}
// The pair a lane takes on its i-th turn, or -1 past the row's end.
HEARTH_HD int DirectPairOf(const DirectGemvPlan& p, int lane_in_row, int i) {
  const int pair = lane_in_row + i * p.lanes_per_row;
  return pair < p.pairs_per_row ? pair : -1;
}
// Row r (< rows_per_slot) of a row slot in row group g.
HEARTH_HD int DirectRowOf(const DirectGemvPlan& p, int group, int slot, int r) {
  return group * p.rows_per_group + slot * p.rows_per_slot + r;
}

// The 3 16-byte loads of a pair, as byte offsets in its row: the block header (d, dmin, scales),
// then the two quant vectors (units 2p and 2p + 1).
struct PairOffsets {
  int64_t header, quants0, quants1;
};
HEARTH_HD PairOffsets PairOffsetsOf(int pair) {
  const int64_t block = pair / kQ4KPairsPerBlock * int64_t{kQ4KBlockBytes};
  const int p = pair % kQ4KPairsPerBlock;
  return {block, block + 16 + 32 * p, block + 32 + 32 * p};
}
// The pair's 64 int8 x start at element x_offset; its two x blocks' scales at x_block, x_block + 1.
HEARTH_HD int64_t PairXOffset(int pair) { return int64_t{pair} * 64; }
HEARTH_HD int64_t PairXBlock(int pair) { return int64_t{pair} * 2; }

// A pair's two units decoded: unit 2p from quants q0, unit 2p + 1 from q1 (hdr, q0, q1: the
// pair's three 16-byte loads as words).
struct PairW {
  Q8Unit<DType::kQ4_K>::W lo, hi;
};
HEARTH_HD PairW DecodePair(int pair, const uint32_t hdr[4], const uint32_t q0[4],
                           const uint32_t q1[4]) {
  using Unit = Q8Unit<DType::kQ4_K>;
  const int p = pair % kQ4KPairsPerBlock;
  return {Unit::FromWords(2 * p, hdr[0], hdr[1], hdr[2], hdr[3], q0[0], q0[1], q0[2], q0[3]),
          Unit::FromWords(2 * p + 1, hdr[0], hdr[1], hdr[2], hdr[3], q1[0], q1[1], q1[2], q1[3])};
}
// One pair's contribution for one token: unit 2p's dot, then unit 2p + 1's, added to acc in that
// order. x: the pair's 64 int8 x as 16 words; a, c: the scales of its two x blocks. Unit 2p + h's
// low nibbles meet x[16h, +16) = words 4h.., its high nibbles x[32 + 16h, +16) = words 8 + 4h..
HEARTH_HD float AddPairDot(float acc, const PairW& w, const uint32_t x[16], XScale a, XScale c) {
  using Unit = Q8Unit<DType::kQ4_K>;
  acc += Unit::DotWords(w.lo, x, x + 8, a, c);
  acc += Unit::DotWords(w.hi, x + 4, x + 12, a, c);
  return acc;
}

// The kernel's result for one row and one token, on the CPU: row_bytes of Q4_K, xq / xs the
// token's int8 activations and scales. Lanes of a warp sum by the xor butterfly, warps in order.
inline float ReplayDirectRow(const DirectGemvPlan& p, const uint8_t* row, const int8_t* xq,
                             const XScale* xs) {
  float warp_sum[kDirectThreads / 32] = {};
  const int warps = p.lanes_per_row / 32;
  for (int wp = 0; wp < warps; ++wp) {
    float lane_acc[32];
    for (int l = 0; l < 32; ++l) {
      float acc = 0.f;
      for (int i = 0; i < p.pairs_per_lane; ++i) {
        const int pair = DirectPairOf(p, wp * 32 + l, i);
        if (pair < 0) break;
        const PairOffsets o = PairOffsetsOf(pair);
        uint32_t hdr[4], q0[4], q1[4], x[16];
        std::memcpy(hdr, row + o.header, 16);
        std::memcpy(q0, row + o.quants0, 16);
        std::memcpy(q1, row + o.quants1, 16);
        std::memcpy(x, xq + PairXOffset(pair), 64);
        acc = AddPairDot(acc, DecodePair(pair, hdr, q0, q1), x, xs[PairXBlock(pair)],
                         xs[PairXBlock(pair) + 1]);
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

// The kernel on x already quantized by the integer GEMV's pre-kernel (matmul_gemv_direct.cu);
// act BF16 or F16, w 16-byte aligned, xq / xs 16-byte aligned as QuantGemvQ8ScratchBytes lays
// them out, k a multiple of 256, 1 <= num_tokens <= 8. The caller validates.
Status LaunchDirectQ4K(DType act, const void* w, const int8_t* xq, const XScale* xs,
                       const void* bias, void* y, int num_tokens, int n, int k,
                       cudaStream_t stream);

}  // namespace hearth::gemv_internal
