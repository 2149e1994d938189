// CPU matmul: W is dequantized a tile of rows at a time into a per-thread buffer (never the whole
// matrix), then each output is a fixed-order dot product. Every y[t][r] depends only on row t of
// x and row r of W, so results do not change with the batch or the number of threads.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/matmul/matmul.h"
#include "kernels/quant/dequant.h"

namespace hearth {
namespace {

constexpr int kRowTile = 16;  // weight rows dequantized together (x rows reused from L1/L2)

// Fixed-order dot product: 16 interleaved partial sums (vectorizable), combined pairwise.
float Dot(const float* a, const float* b, int k) {
  float acc[16] = {};
  int i = 0;
  for (; i + 16 <= k; i += 16) {
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; i < k; ++i, ++j) acc[j] += a[i] * b[i];
  for (int w = 8; w >= 1; w /= 2) {
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  }
  return acc[0];
}

}  // namespace

Status MatmulCpu(DType w_type, const void* w, const float* x, const float* bias, float* y,
                 int num_tokens, int n, int k) {
  if (num_tokens < 0 || n < 0 || k < 0) {
    return InvalidArgumentError(
        "MatmulCpu: negative shape num_tokens=" + std::to_string(num_tokens) +
        " n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
  const auto row_bytes = DTypeBytes(w_type, k);
  if (!row_bytes.has_value()) {
    return InvalidArgumentError("MatmulCpu: k=" + std::to_string(k) + " is not a multiple of " +
                                std::string(DTypeName(w_type)) + "'s block of " +
                                std::to_string(GetDTypeInfo(w_type).block_elems));
  }
  if (num_tokens == 0 || n == 0) return Status::Ok();
  if (w == nullptr || x == nullptr || y == nullptr) {
    return InvalidArgumentError("MatmulCpu: null pointer");
  }
  // Validate the type once, outside the parallel region.
  {
    float probe[8];
    const Status s = DequantizeCpu(w_type, w, probe, 0);
    if (!s.ok()) return s;
  }
  const auto* wb = static_cast<const uint8_t*>(w);
  const int num_tiles = (n + kRowTile - 1) / kRowTile;
#pragma omp parallel
  {
    std::vector<float> rows(static_cast<size_t>(kRowTile) * k);
#pragma omp for schedule(dynamic, 4)
    for (int tile = 0; tile < num_tiles; ++tile) {
      const int r0 = tile * kRowTile;
      const int rows_here = std::min(kRowTile, n - r0);
      // Cannot fail: type and sizes were checked above.
      (void)DequantizeCpu(w_type, wb + static_cast<int64_t>(r0) * *row_bytes, rows.data(),
                          static_cast<int64_t>(rows_here) * k);
      for (int t = 0; t < num_tokens; ++t) {
        const float* xt = x + static_cast<int64_t>(t) * k;
        float* yt = y + static_cast<int64_t>(t) * n;
        for (int r = 0; r < rows_here; ++r) {
          const float dot = Dot(rows.data() + static_cast<int64_t>(r) * k, xt, k);
          yt[r0 + r] = bias != nullptr ? dot + bias[r0 + r] : dot;
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace hearth
