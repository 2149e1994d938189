#include "tests/kernels/quant/random_blocks.h"

#include <cstring>
#include <random>

#include "kernels/core/check.h"
#include "kernels/core/half.h"

namespace hearth::testing {
namespace {

// Byte offsets of the fp16 scale fields in one block (blocks.h).
std::vector<int> HalfFieldOffsets(DType type) {
  switch (type) {
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ5_0:
      return {0};
    case DType::kQ4_1:
    case DType::kQ5_1:
    case DType::kQ4_K:
    case DType::kQ5_K:
      return {0, 2};
    case DType::kQ2_K:
      return {80, 82};
    case DType::kQ3_K:
      return {108};
    case DType::kQ6_K:
      return {208};
    default:
      return {};
  }
}

}  // namespace

std::vector<uint8_t> RandomWeights(DType type, int64_t num_elems, uint64_t seed) {
  const auto bytes = DTypeBytes(type, num_elems);
  HEARTH_CHECK(bytes.has_value());
  std::vector<uint8_t> out(*bytes);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  std::uniform_real_distribution<float> scale(0.0005f, 0.004f);
  const DTypeInfo info = GetDTypeInfo(type);
  if (!info.quantized) {
    for (int64_t i = 0; i < num_elems; ++i) {
      const float v = value(rng);
      if (type == DType::kF32) {
        std::memcpy(out.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = type == DType::kF16 ? FloatToFp16(v) : FloatToBf16(v);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
    }
    return out;
  }
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  const std::vector<int> fields = HalfFieldOffsets(type);
  for (int64_t blk = 0; blk < num_elems / info.block_elems; ++blk) {
    uint8_t* p = out.data() + blk * info.block_bytes;
    for (size_t f = 0; f < fields.size(); ++f) {
      // Q4_1/Q5_1 store a signed offset m as their second field.
      float v = scale(rng);
      if ((type == DType::kQ4_1 || type == DType::kQ5_1) && f == 1) v = -v * 8;
      const uint16_t h = FloatToFp16(v);
      std::memcpy(p + fields[f], &h, 2);
    }
  }
  return out;
}

}  // namespace hearth::testing
