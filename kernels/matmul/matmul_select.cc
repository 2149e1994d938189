#include <cstdio>
#include <mutex>

#include "kernels/matmul/matmul.h"

namespace hearth {

MatmulKernel SelectMatmulKernel(DType w, int num_tokens, int n, int k) {
  if (num_tokens <= 0 || n <= 0 || k <= 0) return MatmulKernel::kUnsupported;
  const DTypeInfo info = GetDTypeInfo(w);
  if (w == DType::kI32 || k % info.block_elems != 0) return MatmulKernel::kUnsupported;
  if (w == DType::kBF16 || w == DType::kF16) return MatmulKernel::kCublasLt;
  // The GEMV reads 8-element groups; k % 8 holds for every block type.
  if (num_tokens <= kMaxGemvTokens && k % 8 == 0) return MatmulKernel::kQuantGemv;
  return MatmulKernel::kDequantCublasLt;
}

std::string_view MatmulKernelName(MatmulKernel kernel) {
  switch (kernel) {
    case MatmulKernel::kCublasLt:
      return "cublaslt";
    case MatmulKernel::kQuantGemv:
      return "quant_gemv";
    case MatmulKernel::kDequantCublasLt:
      return "dequant_cublaslt";
    case MatmulKernel::kUnsupported:
      return "unsupported";
  }
  return "?";
}

}  // namespace hearth
