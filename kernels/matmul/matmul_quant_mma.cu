// The fused dequantize + tensor-core GEMM for GGUF block weights (quant_mma.h: tiling and why;
// quant_mma_kernel.cuh: the kernel): launch checks and the switches over the weight type, the
// activation type and the token tile.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/matmul/matmul.h"
#include "kernels/matmul/quant_mma_kernel.cuh"

namespace hearth {
namespace gemv_internal {
namespace {

template <DType T, class A, int kTokenTile>
Status LaunchTyped(const QuantMmaPlan& plan, const void* w, const void* x, const void* bias,
                   void* y, int num_tokens, int n, int k, float* scratch, cudaStream_t stream) {
  constexpr int kSmem = QuantMmaSmemBytes<T>(kTokenTile);
  // Above 48 KiB dynamic shared memory must be allowed per kernel; all of L1 as shared memory
  // lets two CTAs of the 16-token tile share an SM (the weights bypass L1: cp.async.cg).
  constexpr auto kKernel = &QuantMmaKernel<T, A, kTokenTile>;
  HEARTH_RETURN_IF_ERROR(ConfigureSharedMemoryOnce<kKernel>(kSmem, /*max_carveout=*/true));
  float* partial = plan.k_splits > 1 ? scratch : nullptr;
  CUDA_CHECK(cuda::LaunchKernel(
      QuantMmaKernel<T, A, kTokenTile>, dim3(plan.token_tiles, plan.row_tiles, plan.k_splits),
      kMmaThreads, kSmem, stream, static_cast<const uint8_t*>(w), static_cast<const A*>(x),
      static_cast<const A*>(bias), static_cast<A*>(y), partial, num_tokens, n, k, plan));
  CUDA_CHECK_LAUNCH();
  if (partial == nullptr) return Status::Ok();
  const int64_t count = int64_t{num_tokens} * n;
  CUDA_CHECK(
      cuda::LaunchKernel(QuantMmaReduceKernel<A>,
                         static_cast<unsigned>((count + kMmaReduceThreads - 1) / kMmaReduceThreads),
                         kMmaReduceThreads, 0, stream, partial, static_cast<const A*>(bias),
                         static_cast<A*>(y), plan.k_splits, count, n));
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

template <DType T, class A>
Status LaunchForAct(const QuantMmaPlan& plan, const void* w, const void* x, const void* bias,
                    void* y, int num_tokens, int n, int k, float* scratch, cudaStream_t stream) {
  // The one switch over the token tile.
  switch (plan.token_tile) {
    case 16:
      return LaunchTyped<T, A, 16>(plan, w, x, bias, y, num_tokens, n, k, scratch, stream);
    case 32:
      return LaunchTyped<T, A, 32>(plan, w, x, bias, y, num_tokens, n, k, scratch, stream);
    default:
      return LaunchTyped<T, A, 64>(plan, w, x, bias, y, num_tokens, n, k, scratch, stream);
  }
}

Status LaunchPlanned(const QuantMmaPlan& plan, DType w_type, const void* w, DType act_type,
                     const void* x, const void* bias, void* y, int num_tokens, int n, int k,
                     void* scratch, int64_t scratch_bytes, cudaStream_t stream) {
  if (!HasQuantMma(w_type)) {
    return UnimplementedError("quant MMA: no kernel for " + std::string(DTypeName(w_type)) +
                              " weights (GGUF block types only)");
  }
  const int block_elems = GetDTypeInfo(w_type).block_elems;
  if (num_tokens <= 0 || n <= 0 || k <= 0 || k % block_elems != 0) {
    return InvalidArgumentError("quant MMA: bad shape num_tokens=" + std::to_string(num_tokens) +
                                " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                                " (k a positive multiple of " + std::to_string(block_elems) + ")");
  }
  if (plan.row_tiles > 65535) {  // grid.y
    return InvalidArgumentError("quant MMA: too many rows (" + std::to_string(n) + ")");
  }
  if (reinterpret_cast<uintptr_t>(w) % 16 != 0 || reinterpret_cast<uintptr_t>(x) % 16 != 0) {
    return InvalidArgumentError("quant MMA: weights and x must be 16-byte aligned");
  }
  const int64_t need = QuantMmaPlanScratchBytes(plan, num_tokens, n);
  if (need > 0 && (scratch == nullptr || scratch_bytes < need ||
                   reinterpret_cast<uintptr_t>(scratch) % 4 != 0)) {
    return InvalidArgumentError("quant MMA: n=" + std::to_string(n) + " k=" + std::to_string(k) +
                                " splits k and needs " + std::to_string(need) +
                                " bytes of 4-byte aligned scratch, got " +
                                std::to_string(scratch_bytes));
  }
  auto* partial = static_cast<float*>(scratch);
  return quant::VisitWeightType(w_type, [&](auto type) -> Status {
    constexpr DType T = decltype(type)::value;
    if constexpr (!HasQuantMma(T)) {
      return InternalError("quant MMA: unreachable weight type");
    } else {
      return cuda::VisitAct16(act_type, "quant MMA", [&](auto a) {
        return LaunchForAct<T, decltype(a)>(plan, w, x, bias, y, num_tokens, n, k, partial, stream);
      });
    }
  });
}

}  // namespace
}  // namespace gemv_internal

Status LaunchQuantMma(DType w_type, const void* w, DType act_type, const void* x, const void* bias,
                      void* y, int num_tokens, int n, int k, void* scratch, int64_t scratch_bytes,
                      cudaStream_t stream) {
  return gemv_internal::LaunchPlanned(gemv_internal::PlanQuantMma(num_tokens, n, k), w_type, w,
                                      act_type, x, bias, y, num_tokens, n, k, scratch,
                                      scratch_bytes, stream);
}

Status LaunchQuantMmaSplit(int k_splits, DType w_type, const void* w, DType act_type, const void* x,
                           const void* bias, void* y, int num_tokens, int n, int k, void* scratch,
                           int64_t scratch_bytes, cudaStream_t stream) {
  return gemv_internal::LaunchPlanned(gemv_internal::PlanQuantMmaSplit(num_tokens, n, k, k_splits),
                                      w_type, w, act_type, x, bias, y, num_tokens, n, k, scratch,
                                      scratch_bytes, stream);
}

}  // namespace hearth
