// The staged integer GEMV's kernel source (gemv_q8_kernel.cuh: the x pre-kernel and the GEMV that
// stages each chunk in shared memory) run on the CPU under the CUDA block emulation
// (tests/support/cuda_block_emulation.h), with float activations:
// - QuantizeXKernel must equal the CPU twin (QuantizeRowQ8Cpu) bit for bit;
// - QuantGemvQ8Kernel must equal a replay of its arithmetic in its order (each lane's units chunk
//   by chunk, the xor butterfly over the 8 lanes of a row, the 4 warps' partial sums in order, the
//   bias) bit for bit: Q8_0, Q4_K and Q6_K, every token bucket, rows of several chunks with a
//   partial last one, rows that are not 16-byte multiples, warps without a chunk, a partial last
//   CTA and the tensor's last vector cut short (under ASan a load past its end is an error).
// The replay's arithmetic against a double reference is gemv_q8_unit_test's; loads, launch and
// timing need a GPU (matmul_gpu_test). In the ThreadSanitizer tree a missing barrier around the
// stage or the partial sums is reported.
#include "tests/support/cuda_block_emulation.h"
// The kernel source after the emulation, which stands in for the CUDA headers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/matmul/gemv_q8_kernel.cuh"
#include "kernels/quant/block_decode.h"
#include "tests/kernels/quant/random_blocks.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

namespace gi = gemv_internal;
using gi::XScale;

// QuantGemvQ8Kernel's sum for one row and token, in its order.
template <DType T>
float ReplayStagedRow(const uint8_t* w, const uint8_t* tensor_end, int row, int k, const int8_t* xq,
                      const XScale* xs) {
  using Unit = gi::Q8Unit<T>;
  using Codec = quant::BlockCodec<T>;
  constexpr int kLanes = gi::kQ8LanesPerRow;
  constexpr int kSplit = gi::kQ8RowsPerWarp;  // warps sharing a row group
  constexpr int kChunk = gi::Q8ChunkBlocks<T, kLanes>();
  using Geo = gi::ChunkGeometry<T, kChunk, kLanes>;
  const int64_t row_bytes = *DTypeBytes(T, k);
  const int blocks_per_row = k / Codec::kElems;
  const int num_chunks = (blocks_per_row + kChunk - 1) / kChunk;
  alignas(16) uint8_t stage[Geo::kStageBytes + 16];
  float total = 0.f;
  for (int part = 0; part < kSplit; ++part) {
    float lane_acc[kLanes] = {};
    for (int c = part; c < num_chunks; c += kSplit) {
      const gi::ChunkSpan span = gi::ChunkAt<T, kChunk>(w + row * row_bytes, c, blocks_per_row);
      std::memset(stage, 0, sizeof(stage));
      for (int b = 0; b < span.num_vecs * 16; ++b) {
        if (span.base + b < tensor_end) stage[b] = span.base[b];
      }
      const int units = span.num_blocks * Unit::kUnitsPerBlock;
      for (int sl = 0; sl < kLanes; ++sl) {
        for (int it = 0; it < 2; ++it) {
          const int U = sl + kLanes * it;
          if (U >= units) continue;
          const auto wu = Unit::template Decode<quant::WordReader>(
              stage + span.lead + (U / Unit::kUnitsPerBlock) * Codec::kBytes,
              U % Unit::kUnitsPerBlock);
          const int64_t e0 = (int64_t{c} * kChunk + U / Unit::kUnitsPerBlock) * Codec::kElems;
          lane_acc[sl] += Unit::Dot(wu, U % Unit::kUnitsPerBlock, xq + e0, xs + e0 / gi::kQ8Block);
        }
      }
    }
    for (int off = kLanes / 2; off > 0; off /= 2) {  // __shfl_xor_sync: all lanes at once
      float next[kLanes];
      for (int l = 0; l < kLanes; ++l) next[l] = lane_acc[l] + lane_acc[l ^ off];
      std::memcpy(lane_acc, next, sizeof(next));
    }
    total += lane_acc[0];  // from 0.f, as the kernel's sum of the partials (-0 becomes +0)
  }
  return total;
}

// The pre-kernel's output laid out for the direct GEMV's units of kUnitWeights (its launch before
// that kernel) is the plain output's bytes moved as LayOutXCpu moves them; every byte and scale
// written (poisoned first).
template <int kUnitWeights>
void ExpectLaidOutForDirectUnits(const std::vector<float>& x, int64_t x_blocks, int k,
                                 int num_tokens, const std::vector<int8_t>& xq_plain,
                                 const std::vector<XScale>& xs_plain) {
  if (k % kUnitWeights != 0) return;
  SCOPED_TRACE("laid out for units of " + std::to_string(kUnitWeights));
  const size_t q_bytes = size_t(num_tokens) * gi::XRowBytesFor(kUnitWeights, k);
  const size_t s_count = size_t(num_tokens) * gi::XRowScalesFor(kUnitWeights, k);
  std::vector<int8_t> xq(q_bytes, int8_t{0x55});
  std::vector<XScale> xs(s_count, XScale{std::nanf(""), std::nanf("")});
  cuda_emulation::Launch({gi::QuantizeXCtas(x_blocks), 1, 1}, gi::kQuantizeXThreads,
                         &gi::QuantizeXKernel<float, kUnitWeights>, x.data(), x_blocks, k,
                         xq.data(), xs.data());
  std::vector<int8_t> want_q(xq.size(), int8_t{0x55});
  std::vector<XScale> want_s(xs.size(), XScale{std::nanf(""), std::nanf("")});
  gi::LayOutXCpu<kUnitWeights>(num_tokens, k, xq_plain.data(), xs_plain.data(), want_q.data(),
                               want_s.data());
  EXPECT_EQ(std::memcmp(xq.data(), want_q.data(), xq.size()), 0) << "int8 x";
  EXPECT_EQ(std::memcmp(xs.data(), want_s.data(), xs.size() * sizeof(XScale)), 0) << "scales";
  // No two elements share a byte, none lands outside its row (the rest is the padding of a
  // partial last group of 32 units).
  std::vector<int> hits(xq.size(), 0);
  for (int t = 0; t < num_tokens; ++t) {
    for (int e = 0; e < k; ++e) {
      const int64_t at = gi::XqOffset<kUnitWeights>(e);
      ASSERT_LT(at, gi::XRowBytesFor(kUnitWeights, k));
      ASSERT_EQ(++hits[size_t(t) * gi::XRowBytesFor(kUnitWeights, k) + at], 1);
    }
  }
}

template <DType T, int kMaxTokens>
void ExpectStagedKernelEqualsReplay(int n, int k, int num_tokens, bool with_bias) {
  SCOPED_TRACE(std::string(DTypeName(T)) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
               " num_tokens=" + std::to_string(num_tokens));
  const std::vector<uint8_t> bytes = testing::RandomWeights(T, int64_t{n} * k, 7 + k);
  // 16-byte aligned as on the GPU, nothing after the last byte.
  const testing::AlignedBytes storage = testing::CopyAligned16(bytes);
  const uint8_t* w = storage.get();
  const std::vector<float> x = testing::RandomVector(size_t(num_tokens) * k, 8 + k, -2.f, 2.f);
  const std::vector<float> bias = testing::RandomVector(n, 9, -0.5f, 0.5f);

  // The pre-kernel, launched as LaunchTypedQ8 does (one warp per block of 32), against its CPU
  // twin.
  const int64_t x_blocks = int64_t{num_tokens} * (k / gi::kQ8Block);
  std::vector<int8_t> xq(size_t(num_tokens) * k, int8_t{0x55});
  std::vector<XScale> xs(x_blocks, XScale{std::nanf(""), std::nanf("")});
  cuda_emulation::Launch({gi::QuantizeXCtas(x_blocks), 1, 1}, gi::kQuantizeXThreads,
                         &gi::QuantizeXKernel<float>, x.data(), x_blocks, k, xq.data(), xs.data());
  std::vector<int8_t> xq_cpu(xq.size());
  std::vector<XScale> xs_cpu(xs.size());
  for (int t = 0; t < num_tokens; ++t) {
    gi::QuantizeRowQ8Cpu(x.data() + size_t(t) * k, k, xq_cpu.data() + size_t(t) * k,
                         xs_cpu.data() + size_t(t) * (k / gi::kQ8Block));
  }
  ASSERT_EQ(std::memcmp(xq.data(), xq_cpu.data(), xq.size()), 0) << "pre-kernel's int8 x";
  ASSERT_EQ(std::memcmp(xs.data(), xs_cpu.data(), xs.size() * sizeof(XScale)), 0)
      << "pre-kernel's scales";
  ExpectLaidOutForDirectUnits<64>(x, x_blocks, k, num_tokens, xq_cpu, xs_cpu);
  ExpectLaidOutForDirectUnits<128>(x, x_blocks, k, num_tokens, xq_cpu, xs_cpu);

  std::vector<float> y(size_t(num_tokens) * n, std::nanf(""));
  cuda_emulation::Launch({static_cast<unsigned>((n + 3) / 4), 1, 1}, gi::kQ8WarpsPerBlock * 32,
                         &gi::QuantGemvQ8Kernel<T, float, kMaxTokens, gi::kQ8RowsPerWarp>, w,
                         static_cast<const int8_t*>(xq.data()),
                         static_cast<const XScale*>(xs.data()),
                         with_bias ? bias.data() : static_cast<const float*>(nullptr), y.data(),
                         num_tokens, n, k, *DTypeBytes(T, k));

  const uint8_t* tensor_end = w + bytes.size();
  testing::ExpectBitsEqual(y, num_tokens, n, [&](int t, int row) {
    const float sum = ReplayStagedRow<T>(w, tensor_end, row, k, xq.data() + size_t(t) * k,
                                         xs.data() + size_t(t) * (k / gi::kQ8Block));
    return with_bias ? sum + bias[row] : sum;
  });
}

// Per type: rows of 3 chunks with a partial last one (2 of the 4 warps take two); a row of one
// chunk (3 warps without any); a longer row; a partial last CTA (n % 4 != 0) throughout.
template <DType T>
void ExpectAllBuckets() {
  constexpr int kChunkElems =
      gi::Q8ChunkBlocks<T, gi::kQ8LanesPerRow>() * quant::BlockCodec<T>::kElems;
  constexpr int kBlockElems = quant::BlockCodec<T>::kElems;
  const int k3 = 2 * kChunkElems + kBlockElems;  // the third chunk holds one block
  ExpectStagedKernelEqualsReplay<T, 1>(13, k3, 1, true);
  ExpectStagedKernelEqualsReplay<T, 1>(6, kBlockElems, 1, false);
  ExpectStagedKernelEqualsReplay<T, 2>(7, k3, 2, false);
  ExpectStagedKernelEqualsReplay<T, 4>(5, 9 * kChunkElems, 3, true);
  ExpectStagedKernelEqualsReplay<T, 4>(3, k3, 4, false);
  ExpectStagedKernelEqualsReplay<T, 8>(9, k3, 5, true);
  ExpectStagedKernelEqualsReplay<T, 8>(2, 4 * kChunkElems, 8, false);
}

TEST(GemvQ8Emulation, Q8_0) { ExpectAllBuckets<DType::kQ8_0>(); }
TEST(GemvQ8Emulation, Q4_K) { ExpectAllBuckets<DType::kQ4_K>(); }
TEST(GemvQ8Emulation, Q6_K) { ExpectAllBuckets<DType::kQ6_K>(); }

}  // namespace
}  // namespace hearth
