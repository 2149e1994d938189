// Internal to kernels/matmul: the fused dequantize + tensor-core GEMM for GGUF block weights with
// more tokens than the GEMVs take (quant_mma_kernel.cuh, launched by matmul_quant_mma.cu). Host
// and device share this header, so CPU tests check the tiling and the plan.
//
// Why. Above kMaxGemvTokens the other path dequantizes the whole weight into a 16-bit scratch and
// runs cuBLASLt on it: per weight it reads the block bytes, writes 2 bytes and reads them back
// (Q4_K: 0.56 + 2 + 2 bytes, about 8x the weight's own bytes), every call. Continuous batching
// decodes 9..128 sequences per step most of the time, where a GEMM is still bound by its weight
// bytes; here each CTA decodes its tile of W once into shared memory and feeds the tensor cores
// from there, so HBM sees each weight byte once per token tile.
//
// Tiling. A CTA of kMmaThreads (8 warps) owns kMmaRows weight rows and a tile of token_tile
// tokens (16, 32 or 64); for the MMA, warp w takes rows 16 (w % 4) .. + 15 and half of the
// token tile (w / 4); grid (token tiles, row tiles, k splits), so that the token
// tiles of a row tile run together and share its W bytes through L2. A CTA walks k in steps of
// kMmaStepElems:
//   1. the step's raw block bytes of its rows arrive by cp.async in a ring of kMmaStages stages
//      (each row's bytes from the 16-byte boundary at or below them, as the GEMV's chunks:
//      ChunkAt), issued kMmaStages - 1 steps ahead;
//   2. the step's x tile [token_tile][kMmaStepElems] arrives by cp.async (zeros past the last
//      token and past k);
//   3. the threads decode the raw bytes with the dequantizers' codecs (BlockCodec::Decode8, the
//      same float32 values DequantizeCpu produces) and round them to the activation type into
//      the W tile [kMmaRows][kMmaStepElems] (zeros past the row's last block);
//   4. each warp multiplies its 16 rows with its half of the tokens: mma.sync m16n8k16, fp32
//      accumulators.
// The result per (row, token) is the fp32 dot of the 16-bit-rounded dequantized row and the x
// row (the dequantize + cuBLASLt path's operands), summed in the tensor cores' order, + bias.
// Tiles are padded to kMmaTileStride elements a row so that the fragment loads are free of bank
// conflicts (a row is 132 words: rows g = 0..7 start on banks 4g, lanes t add 0..3).
//
// Split k. A matrix of few rows gives few CTAs (4096 rows: 64 row tiles on a 132-SM H100), and
// a CTA alone cannot pull its share of the bandwidth. Such matrices are cut along k into
// k_splits ranges of steps (grid.z); each CTA writes its fp32 sums to a scratch
// [k_splits][num_tokens][n], and a second kernel adds the splits in order, then the bias. The
// split is a pure function of (n, k), never of the number of tokens, so every token's result is
// the same whatever the batch (batch invariance), and the same on every GPU.
#pragma once

#include <cstdint>

#include "kernels/core/dtype.h"
#include "kernels/matmul/gemv_chunk.h"

namespace hearth::gemv_internal {

// 8 warps: at 4 (H100, 2026-11-23) the kernel was latency bound (ncu: 10-12% achieved
// occupancy, ~43% SM throughput; the grids of Llama-3-8B's shapes give ~2 CTAs per SM).
constexpr int kMmaThreads = 256;
constexpr int kMmaRows = 64;
constexpr int kMmaRowWarps = kMmaRows / 16;                      // warps along the rows
constexpr int kMmaTokenWarps = kMmaThreads / 32 / kMmaRowWarps;  // ... along the token tile
static_assert(kMmaRowWarps * kMmaTokenWarps * 32 == kMmaThreads);
constexpr int kMmaStepElems = 256;
constexpr int kMmaStages = 3;
constexpr int kMmaTileStride = kMmaStepElems + 8;  // 16-bit elements per tile row
// Token counts above this take dequantize + cuBLASLt: from some batch on the tensor cores'
// work dominates and cuBLASLt's tuned GEMM wins despite the extra bytes (the crossover is an
// estimate until measured: bench_matmul times both).
constexpr int kMaxQuantMmaTokens = 128;

// The GGUF block types (the float types take cuBLASLt directly; F32 weights would need 32-bit
// tiles).
constexpr bool HasQuantMma(DType t) { return GetDTypeInfo(t).quantized; }

// One step of one row: kBlocks blocks (256 elements), fetched as up to Geo::kVecs 16-byte
// vectors into a raw row of kRawRowBytes (one vector more: WordReader reads up to 4 bytes past
// the last byte it decodes).
template <DType T>
struct MmaStep {
  using Codec = quant::BlockCodec<T>;
  static constexpr int kBlocks = kMmaStepElems / Codec::kElems;
  using Geo = ChunkGeometry<T, kBlocks, 1>;
  static constexpr int kRawRowBytes = (Geo::kVecs + 1) * 16;
  static constexpr int kRawStageBytes = kMmaRows * kRawRowBytes;
  static_assert(kMmaStepElems % Codec::kElems == 0);
};

// The token tile for a call: the smallest of 16, 32, 64 covering num_tokens (64 above).
constexpr int QuantMmaTokenTile(int num_tokens) {
  return num_tokens <= 16 ? 16 : num_tokens <= 32 ? 32 : 64;
}

// Dynamic shared memory of one CTA: the raw ring, the W tile, the x tile.
template <DType T>
constexpr int QuantMmaSmemBytes(int token_tile) {
  return kMmaStages * MmaStep<T>::kRawStageBytes + (kMmaRows + token_tile) * kMmaTileStride * 2;
}

// Fewer than kMmaMinRowTiles row tiles (about one per SM) split k until row tiles x splits
// reaches kMmaTargetCtas (2 CTAs on each of ~128 SMs), with at most kMmaMaxSplits splits of at
// least kMmaMinStepsPerSplit steps each. (14336 rows, 224 tiles, already fill 85% of an H100's
// 264 CTA slots in one wave: splitting them would add a second, partial wave.)
constexpr int kMmaMinRowTiles = 128;
constexpr int kMmaTargetCtas = 256;
constexpr int kMmaMaxSplits = 8;
constexpr int kMmaMinStepsPerSplit = 4;

struct QuantMmaPlan {
  int token_tile = 0;       // tokens per CTA
  int token_tiles = 0;      // grid.x: ceil(num_tokens / token_tile)
  int row_tiles = 0;        // grid.y: ceil(n / kMmaRows)
  int steps = 0;            // k steps: ceil(k / kMmaStepElems)
  int k_splits = 1;         // grid.z: split s takes steps [s, s + 1) * steps_per_split
  int steps_per_split = 0;  // (the last split may take fewer)
};

// The tiles of a call with k cut into (at most) `splits` ranges of whole steps.
constexpr QuantMmaPlan PlanQuantMmaSplit(int num_tokens, int n, int k, int splits) {
  QuantMmaPlan p;
  p.token_tile = QuantMmaTokenTile(num_tokens);
  p.token_tiles = (num_tokens + p.token_tile - 1) / p.token_tile;
  p.row_tiles = (n + kMmaRows - 1) / kMmaRows;
  p.steps = (k + kMmaStepElems - 1) / kMmaStepElems;
  splits = splits < p.steps ? splits : p.steps;
  splits = splits > 1 ? splits : 1;
  p.steps_per_split = (p.steps + splits - 1) / splits;
  p.k_splits = (p.steps + p.steps_per_split - 1) / p.steps_per_split;  // none left empty
  return p;
}

constexpr QuantMmaPlan PlanQuantMma(int num_tokens, int n, int k) {
  const QuantMmaPlan whole = PlanQuantMmaSplit(num_tokens, n, k, 1);  // its row tiles and steps
  if (whole.row_tiles >= kMmaMinRowTiles) return whole;
  int splits = (kMmaTargetCtas + whole.row_tiles - 1) / whole.row_tiles;
  splits = splits < kMmaMaxSplits ? splits : kMmaMaxSplits;
  const int by_steps = whole.steps / kMmaMinStepsPerSplit;
  splits = splits < by_steps ? splits : by_steps;
  return PlanQuantMmaSplit(num_tokens, n, k, splits);
}

// The fp32 scratch of a plan's split sums [k_splits][num_tokens][n] (0 when k is not split).
constexpr int64_t QuantMmaPlanScratchBytes(const QuantMmaPlan& p, int num_tokens, int n) {
  return p.k_splits > 1 ? int64_t{p.k_splits} * num_tokens * n * 4 : 0;
}
constexpr int64_t QuantMmaScratchBytes(int num_tokens, int n, int k) {
  return QuantMmaPlanScratchBytes(PlanQuantMma(num_tokens, n, k), num_tokens, n);
}
// Enough for every shape at up to kMaxQuantMmaTokens tokens: a split needs row_tiles < 128 and
// takes at most 256 / row_tiles + 1 splits, so k_splits * n < 64 * 384 < 64 * 512
// (quant_mma_emulation_test sweeps shapes against it).
constexpr int64_t kQuantMmaMaxScratchBytes = int64_t{kMaxQuantMmaTokens} * 4 * kMmaRows * 512;

}  // namespace hearth::gemv_internal
