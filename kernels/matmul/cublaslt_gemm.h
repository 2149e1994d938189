// Internal to kernels/matmul: a cuBLASLt GEMM y = x . W^T (+ bias) on bf16 or fp16 with float32
// accumulation, choosing the algorithm once per shape (heuristic query) and caching it.
#pragma once

#include <cublasLt.h>

#include <map>
#include <set>
#include <tuple>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"

namespace hearth::matmul_internal {

class CublasLtGemm {
 public:
  static constexpr size_t kWorkspaceBytes = size_t{32} << 20;
  static constexpr uint32_t kMinAlignment = 16;  // bytes, of w, x and y

  CublasLtGemm() = default;
  ~CublasLtGemm();
  CublasLtGemm(const CublasLtGemm&) = delete;
  CublasLtGemm& operator=(const CublasLtGemm&) = delete;

  Status Init();
  // type: BF16 or F16 for w, x, bias and y alike.
  Status Gemm(DType type,
              const void* w,     // [n, k]
              const void* x,     // [num_tokens, k]
              const void* bias,  // [n] or nullptr
              void* y,           // [num_tokens, n]
              int num_tokens, int n, int k, cudaStream_t stream);

 private:
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  using Key = std::tuple<DType, int, int, int, bool>;  // type, num_tokens, n, k, has_bias
  Status MakePlan(const Key& key, Plan* plan);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  std::map<Key, Plan> plans_;
  std::set<std::tuple<int, int, int, bool>> logged_shapes_;  // (type, n, k, has_bias) printed
};

}  // namespace hearth::matmul_internal
