#include <cstring>
#include <string>

#include "kernels/core/half.h"
#include "kernels/embedding/embedding.h"

namespace hearth {

Status EmbeddingCpu(DType table_dtype, const void* table, int64_t vocab, int hidden,
                    const int32_t* ids, int64_t num_tokens, float* out) {
  if (vocab <= 0 || hidden <= 0 || num_tokens < 0)
    return InvalidArgumentError("embedding: bad shape: vocab " + std::to_string(vocab) +
                                ", hidden " + std::to_string(hidden) + ", num_tokens " +
                                std::to_string(num_tokens));
  if (num_tokens > 0 && (table == nullptr || ids == nullptr || out == nullptr))
    return InvalidArgumentError("embedding: null pointer");
  if (table_dtype != DType::kF32 && table_dtype != DType::kF16 && table_dtype != DType::kBF16)
    return UnimplementedError("embedding: table dtype " + std::string(DTypeName(table_dtype)) +
                              " is not F32/F16/BF16; dequantize quantized tables with "
                              "kernels/quant first");
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int32_t id = ids[t];
    if (id < 0 || id >= vocab)
      return OutOfRangeError("embedding: token id " + std::to_string(id) + " at position " +
                             std::to_string(t) + " is outside the vocabulary [0, " +
                             std::to_string(vocab) + ")");
    float* o = out + t * hidden;
    const int64_t base = int64_t{id} * hidden;
    switch (table_dtype) {
      case DType::kF32:
        std::memcpy(o, static_cast<const float*>(table) + base, sizeof(float) * hidden);
        break;
      case DType::kF16: {
        const uint16_t* row = static_cast<const uint16_t*>(table) + base;
        for (int i = 0; i < hidden; ++i) o[i] = Fp16ToFloat(row[i]);
        break;
      }
      case DType::kBF16: {
        const uint16_t* row = static_cast<const uint16_t*>(table) + base;
        for (int i = 0; i < hidden; ++i) o[i] = Bf16ToFloat(row[i]);
        break;
      }
      default:
        return UnimplementedError("embedding: unsupported table dtype");
    }
  }
  return Status::Ok();
}

Status GatherRowsCpu(const float* x, int64_t num_tokens, int hidden, const int32_t* indices,
                     int64_t num_rows, float* out) {
  if (num_tokens < 0 || hidden <= 0 || num_rows < 0)
    return InvalidArgumentError("gather_rows: bad shape");
  if (num_rows > 0 && (x == nullptr || indices == nullptr || out == nullptr))
    return InvalidArgumentError("gather_rows: null pointer");
  for (int64_t r = 0; r < num_rows; ++r) {
    if (indices[r] < 0 || indices[r] >= num_tokens)
      return OutOfRangeError("gather_rows: index " + std::to_string(indices[r]) + " at row " +
                             std::to_string(r) + " is outside [0, " + std::to_string(num_tokens) +
                             ")");
    std::memcpy(out + r * hidden, x + int64_t{indices[r]} * hidden, sizeof(float) * hidden);
  }
  return Status::Ok();
}

AccessPath ChooseEmbeddingPath(DType table_dtype, DType out_dtype, int hidden, const void* table,
                               const void* out) {
  const AccessPath a = ChooseAccessPath(GetDTypeInfo(table_dtype).block_bytes, {hidden}, {table});
  const AccessPath b = ChooseAccessPath(GetDTypeInfo(out_dtype).block_bytes, {hidden}, {out});
  return a == AccessPath::kVector16 && b == AccessPath::kVector16 ? AccessPath::kVector16
                                                                  : AccessPath::kScalar;
}

}  // namespace hearth
