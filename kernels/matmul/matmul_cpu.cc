// CPU matmul: W is dequantized a tile of rows at a time into a per-thread buffer (never the whole
// matrix; F32 weights are read in place), then each output is a fixed-order dot product. Every
// y[t][r] depends only on row t of x and row r of W, so results do not change with the batch or
// the number of threads.
//
// On CPUs with AVX2 the common types are decoded and the dots computed with 8-wide vectors
// (matmul_cpu_avx2.cc), in exactly the scalar code's arithmetic (same products, same rounding,
// same 16 partial sums and pairwise combination; no FMA contraction: the vector functions are
// compiled without "fma"), so every path gives bit-identical results and the choice
// (SelectCpuMatmulPath) never shows in the output.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/core/cpu_features.h"
#include "kernels/matmul/matmul.h"
#include "kernels/matmul/matmul_cpu_avx2.h"
#include "kernels/quant/dequant.h"

namespace hearth {
namespace {

constexpr int kRowTile = 16;  // weight rows dequantized together (x rows reused from L1/L2)
constexpr int NumTiles(int n) { return (n + kRowTile - 1) / kRowTile; }

// Fixed-order dot product: 16 interleaved partial sums (vectorizable), combined pairwise.
float Dot(const float* a, const float* b, int k) {
  float acc[16] = {};
  int i = 0;
  for (; i + 16 <= k; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; i < k; ++i, ++j) acc[j] += a[i] * b[i];
  return matmul_cpu::SumPairwise16(acc);
}

// A float buffer whose data() is 64-byte aligned (or, unaligned, where malloc put it: how the
// kAvx2TokenDots path ran before, kept for an honest comparison).
class AlignedFloats {
 public:
  void Resize(size_t n, bool align = true) {
    if (storage_.size() < n + 16) storage_.resize(n + 16);
    offset_ = 0;
    if (align) {
      const auto p = reinterpret_cast<uintptr_t>(storage_.data());
      offset_ = ((64 - p % 64) % 64) / sizeof(float);
    }
  }
  float* data() { return storage_.data() + offset_; }

 private:
  std::vector<float> storage_;
  size_t offset_ = 0;
};

// y[t][r0 .. r0 + rows) of every token from a tile of decoded rows, one Dot() per (token, row).
void TileDots(const float* rows, int num_rows, const float* x, int num_tokens, int k, int n,
              float* y) {
  for (int t = 0; t < num_tokens; ++t) {
    const float* xt = x + static_cast<int64_t>(t) * k;
    for (int r = 0; r < num_rows; ++r) {
      y[static_cast<int64_t>(t) * n + r] = Dot(rows + static_cast<int64_t>(r) * k, xt, k);
    }
  }
}

}  // namespace

namespace matmul_cpu {

Status CheckArgs(DType w_type, const void* w, const float* x, float* y, int num_tokens, int n,
                 int k) {
  if (num_tokens < 0 || n < 0 || k < 0) {
    return InvalidArgumentError(
        "MatmulCpu: negative shape num_tokens=" + std::to_string(num_tokens) +
        " n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
  if (!DTypeBytes(w_type, k).has_value()) {
    return InvalidArgumentError("MatmulCpu: k=" + std::to_string(k) + " is not a multiple of " +
                                std::string(DTypeName(w_type)) + "'s block of " +
                                std::to_string(GetDTypeInfo(w_type).block_elems));
  }
  if (num_tokens == 0 || n == 0) return Status::Ok();
  if (w == nullptr || x == nullptr || y == nullptr) {
    return InvalidArgumentError("MatmulCpu: null pointer");
  }
  // Validate the type once, outside the parallel region.
  float probe[8];
  return DequantizeCpu(w_type, w, probe, 0);
}

}  // namespace matmul_cpu

Status MatmulCpuOnPath(CpuMatmulPath path, DType w_type, const void* w, const float* x,
                       const float* bias, float* y, int num_tokens, int n, int k) {
  if (const Status s = matmul_cpu::CheckArgs(w_type, w, x, y, num_tokens, n, k); !s.ok()) return s;
  if (num_tokens == 0 || n == 0) return Status::Ok();
  if (path != CpuMatmulPath::kScalar && !CpuHasAvx2F16c()) {
    return UnimplementedError("MatmulCpu: path " + std::string(CpuMatmulPathName(path)) +
                              " needs AVX2 and F16C, which this CPU lacks");
  }
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t row_bytes = *DTypeBytes(w_type, k);
  // 32-byte aligned x and tile rows: an 8-float load that crosses a cache line costs two, and the
  // dots are load-bound (large blocks from malloc sit 16 bytes past a page boundary). The copy of
  // x is kept per calling thread so that steps do not fault in fresh pages each time.
  const bool align = path == CpuMatmulPath::kAvx2Fused || path == CpuMatmulPath::kAvx2Blocked;
  if (align && reinterpret_cast<uintptr_t>(x) % 32 != 0) {
    thread_local AlignedFloats x_copy;
    x_copy.Resize(static_cast<size_t>(num_tokens) * k);
    std::copy(x, x + static_cast<size_t>(num_tokens) * k, x_copy.data());
    x = x_copy.data();
  }
  if (path == CpuMatmulPath::kAvx2Fused) {
    const matmul_cpu::FusedRowsFn fused = matmul_cpu::FusedRowsFor(w_type);
    if (fused == nullptr) {
      return UnimplementedError("MatmulCpu: no fused path for " + std::string(DTypeName(w_type)));
    }
#pragma omp parallel for schedule(dynamic, 4)
    for (int tile = 0; tile < NumTiles(n); ++tile) {
      const int r0 = tile * kRowTile;
      const int r_end = std::min(n, r0 + kRowTile);
      fused(wb, row_bytes, x, num_tokens, k, kMaxCpuFusedTokens, r0, r_end, n, y);
      matmul_cpu::AddBias(bias, num_tokens, n, r0, r_end, y);
    }
    return Status::Ok();
  }
  // The tiled paths: decode a tile of rows once (F32 rows are read in place), then every
  // token's dots from it.
  const bool avx2 = path != CpuMatmulPath::kScalar;
  const int max_token_group = path == CpuMatmulPath::kAvx2Blocked ? 3 : 1;
#pragma omp parallel
  {
    AlignedFloats buffer;
    if (w_type != DType::kF32) buffer.Resize(static_cast<size_t>(kRowTile) * k, align);
#pragma omp for schedule(dynamic, 4)
    for (int tile = 0; tile < NumTiles(n); ++tile) {
      const int r0 = tile * kRowTile;
      const int rows_here = std::min(kRowTile, n - r0);
      const uint8_t* src = wb + static_cast<int64_t>(r0) * row_bytes;
      const int64_t count = static_cast<int64_t>(rows_here) * k;
      const float* rows = buffer.data();
      if (w_type == DType::kF32) {
        rows = reinterpret_cast<const float*>(src);  // the same values a copy would hold
      } else {
        const bool decoded = avx2 && matmul_cpu::DecodeAvx2(w_type, src, buffer.data(), count);
        // Cannot fail: type and sizes were checked above.
        if (!decoded) (void)DequantizeCpu(w_type, src, buffer.data(), count);
      }
      if (avx2) {
        matmul_cpu::DotsAvx2(rows, rows_here, x, num_tokens, k, max_token_group, n, y + r0);
      } else {
        TileDots(rows, rows_here, x, num_tokens, k, n, y + r0);
      }
      matmul_cpu::AddBias(bias, num_tokens, n, r0, r0 + rows_here, y);
    }
  }
  return Status::Ok();
}

Status MatmulCpu(DType w_type, const void* w, const float* x, const float* bias, float* y,
                 int num_tokens, int n, int k) {
  // HEARTH_CPU_MATMUL=token_dots: more than one token takes the pre-2026-11-22 path, for A/B
  // serving benchmarks with one binary (the same bits either way).
  static const bool token_dots = [] {
    const char* v = std::getenv("HEARTH_CPU_MATMUL");
    return v != nullptr && std::string_view(v) == "token_dots";
  }();
  CpuMatmulPath path = SelectCpuMatmulPath(w_type, num_tokens, CpuHasAvx2F16c());
  if (token_dots && num_tokens > 1 && path != CpuMatmulPath::kScalar) {
    path = CpuMatmulPath::kAvx2TokenDots;
  }
  return MatmulCpuOnPath(path, w_type, w, x, bias, y, num_tokens, n, k);
}

}  // namespace hearth
