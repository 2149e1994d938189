// Element and block types of tensors: activations (F32, F16, BF16) and GGUF weight types.
// Quantized types are stored in blocks of `block_elems` elements taking `block_bytes` bytes;
// the block layouts are in kernels/quant/blocks.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace hearth {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kQ8_0,
  kQ4_0,
  kQ4_1,
  kQ5_0,
  kQ5_1,
  kQ2_K,
  kQ3_K,
  kQ4_K,
  kQ5_K,
  kQ6_K,
  kI32,  // token ids, positions, block tables
};

struct DTypeInfo {
  std::string_view name;  // as GGUF tools print it: "F32", "Q4_K", ...
  int block_elems;        // elements per block (1 for plain types)
  int block_bytes;        // bytes per block
  bool quantized;
};

constexpr DTypeInfo GetDTypeInfo(DType t) {
  switch (t) {
    case DType::kF32: return {"F32", 1, 4, false};
    case DType::kF16: return {"F16", 1, 2, false};
    case DType::kBF16: return {"BF16", 1, 2, false};
    case DType::kQ8_0: return {"Q8_0", 32, 34, true};
    case DType::kQ4_0: return {"Q4_0", 32, 18, true};
    case DType::kQ4_1: return {"Q4_1", 32, 20, true};
    case DType::kQ5_0: return {"Q5_0", 32, 22, true};
    case DType::kQ5_1: return {"Q5_1", 32, 24, true};
    case DType::kQ2_K: return {"Q2_K", 256, 84, true};
    case DType::kQ3_K: return {"Q3_K", 256, 110, true};
    case DType::kQ4_K: return {"Q4_K", 256, 144, true};
    case DType::kQ5_K: return {"Q5_K", 256, 176, true};
    case DType::kQ6_K: return {"Q6_K", 256, 210, true};
    case DType::kI32: return {"I32", 1, 4, false};
  }
  return {"?", 1, 0, false};
}

constexpr std::string_view DTypeName(DType t) { return GetDTypeInfo(t).name; }

// Bytes of `num_elems` elements; nullopt if num_elems is negative or not a whole number of
// blocks, or the byte count overflows int64.
constexpr std::optional<int64_t> DTypeBytes(DType t, int64_t num_elems) {
  const DTypeInfo info = GetDTypeInfo(t);
  if (num_elems < 0 || num_elems % info.block_elems != 0) return std::nullopt;
  const int64_t blocks = num_elems / info.block_elems;
  if (blocks > INT64_MAX / info.block_bytes) return std::nullopt;
  return blocks * info.block_bytes;
}

std::optional<DType> DTypeFromName(std::string_view name);

}  // namespace hearth
