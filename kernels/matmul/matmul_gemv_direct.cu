// The direct integer GEMV for Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K and Q8_0 weights, 1..8
// tokens: weights loaded straight into registers, up to 4 rows per lane at once. The work split and
// the arithmetic order are in gemv_direct.h; x arrives quantized (int8 blocks of 32 and their
// scales) from the integer GEMV's pre-kernel (matmul_gemv_q8.cu, which launches this one), or is
// quantized by the kernel's own CTAs.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.h"
#include "kernels/matmul/gemv_direct_kernel.cuh"
#include "kernels/quant/block_decode.h"

namespace hearth {
namespace gemv_internal {
namespace {

// x: the pre-kernel's xq / xs, or (kFusedX) the activations the CTAs quantize themselves.
template <DType T, class A, int kMaxTokens, bool kFusedX>
Status LaunchTyped(const void* w, const int8_t* xq, const XScale* xs, const A* x, const void* bias,
                   void* y, int num_tokens, int n, int k, cudaStream_t stream) {
  int sms = 0;
  HEARTH_ASSIGN_OR_RETURN(sms, CurrentDeviceAttribute<cudaDevAttrMultiProcessorCount>());
  const DirectGemvPlan plan = PlanDirectGemvFor<T>(n, k, kMaxTokens, sms * kDirectMinBlocksPerSm);
  const size_t smem =
      kFusedX ? static_cast<size_t>(DirectFusedXBytes(DirectUnit<T>::kWeights, num_tokens, k)) : 0;
  // A programmatic dependent of the kernel before it (pdl.h): its CTAs start, and issue their
  // first weight loads, while that one (the pre-kernel, or the previous layer's) drains.
  CUDA_CHECK(cuda::LaunchKernel(DirectGemvKernel<T, A, kMaxTokens, kFusedX>, dim3(plan.num_ctas),
                                dim3(kDirectThreads), smem, stream, static_cast<const uint8_t*>(w),
                                xq, xs, x, static_cast<const A*>(bias), static_cast<A*>(y),
                                num_tokens, n, k, plan));
  return Status::Ok();
}

template <DType T, class A, bool kFusedX>
Status LaunchForAct(const void* w, const int8_t* xq, const XScale* xs, const void* x,
                    const void* bias, void* y, int num_tokens, int n, int k, cudaStream_t stream) {
  const auto* xa = static_cast<const A*>(x);
  // The one switch over the token bucket.
  switch (num_tokens <= 1 ? 1 : num_tokens <= 2 ? 2 : num_tokens <= 4 ? 4 : 8) {
    case 1:
      return LaunchTyped<T, A, 1, kFusedX>(w, xq, xs, xa, bias, y, num_tokens, n, k, stream);
    case 2:
      return LaunchTyped<T, A, 2, kFusedX>(w, xq, xs, xa, bias, y, num_tokens, n, k, stream);
    case 4:
      return LaunchTyped<T, A, 4, kFusedX>(w, xq, xs, xa, bias, y, num_tokens, n, k, stream);
    default:
      return LaunchTyped<T, A, 8, kFusedX>(w, xq, xs, xa, bias, y, num_tokens, n, k, stream);
  }
}

template <DType T, bool kFusedX>
Status LaunchForType(DType act, const void* w, const int8_t* xq, const XScale* xs, const void* x,
                     const void* bias, void* y, int num_tokens, int n, int k, cudaStream_t stream) {
  return cuda::VisitAct16(act, "direct GEMV", [&](auto a) {
    return LaunchForAct<T, decltype(a), kFusedX>(w, xq, xs, x, bias, y, num_tokens, n, k, stream);
  });
}

template <bool kFusedX>
Status LaunchForWeights(DType w_type, DType act, const void* w, const int8_t* xq, const XScale* xs,
                        const void* x, const void* bias, void* y, int num_tokens, int n, int k,
                        cudaStream_t stream) {
  // The one dispatch over the weight type.
  return quant::VisitWeightType(w_type, [&](auto tag) -> Status {
    constexpr DType kT = decltype(tag)::value;
    if constexpr (HasDirectGemvType(kT)) {
      return LaunchForType<kT, kFusedX>(act, w, xq, xs, x, bias, y, num_tokens, n, k, stream);
    } else {
      return UnimplementedError("direct GEMV: no kernel for " + std::string(DTypeName(w_type)) +
                                " weights (Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, Q8_0)");
    }
  });
}

}  // namespace

Status LaunchDirectGemv(DType w_type, DType act, const void* w, const int8_t* xq, const XScale* xs,
                        const void* bias, void* y, int num_tokens, int n, int k,
                        cudaStream_t stream) {
  return LaunchForWeights<false>(w_type, act, w, xq, xs, nullptr, bias, y, num_tokens, n, k,
                                 stream);
}

Status LaunchDirectGemvFusedX(DType w_type, DType act, const void* w, const void* x,
                              const void* bias, void* y, int num_tokens, int n, int k,
                              cudaStream_t stream) {
  return LaunchForWeights<true>(w_type, act, w, nullptr, nullptr, x, bias, y, num_tokens, n, k,
                                stream);
}

}  // namespace gemv_internal
}  // namespace hearth
