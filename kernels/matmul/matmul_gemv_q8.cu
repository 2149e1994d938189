// Integer GEMV for 1..8 tokens (Q8_0, Q4_K, Q6_K weights; the direct one Q4_0, Q4_1, Q5_0, Q5_1,
// Q5_K too):
// y[t][r] = sum_i W[r][i] * x[t][i].
//
// Why: the float GEMV (matmul_gemv.cu) spends ~10 instructions per weight turning quants into
// floats and multiplying them with every token's bf16 x, so it is issue bound at 20-40% of HBM
// bandwidth. Here x is quantized once per call to int8 blocks of 32 (QuantizeXKernel, the CPU
// twin is QuantizeRowQ8Cpu), and the weights are multiplied as int8 by __dp4a, four per
// instruction, with the float scales applied once per sub-block (gemv_q8_unit.h).
//
// Weights are streamed as in the float GEMV (chunks of whole blocks fetched with coalesced 16-byte
// loads into shared memory, the next chunk's loads issued before the current one is decoded), but
// a CTA's 4 warps share 4 rows: each warp splits into 4 lane groups of 8, one per row, on the same
// columns (one x load serves 4 rows), and the warps take every 4th chunk of 16 units (2 per lane);
// their sums meet in shared memory in a fixed order. Each weight byte is read once for all tokens.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.h"
#include "kernels/matmul/gemv_direct.h"
#include "kernels/matmul/gemv_q8_kernel.cuh"
#include "kernels/matmul/gemv_q8_unit.h"
#include "kernels/matmul/matmul.h"

namespace hearth {
namespace gemv_internal {
namespace {

// A row of the pre-kernel's int8 x in any of its layouts (plain, or laid out for the direct
// GEMV's units of 64 or 128 weights: XRowBytesFor), and of its scales.
int64_t XRowBytesMax(int k) {
  return std::max({int64_t{k}, XRowBytesFor(64, k), XRowBytesFor(128, k)});
}
int64_t XRowScalesMax(int k) {
  return std::max({int64_t{k / kQ8Block}, XRowScalesFor(64, k), XRowScalesFor(128, k)});
}
int64_t XqBytes(int num_tokens, int k) {
  return (static_cast<int64_t>(num_tokens) * XRowBytesMax(k) + 15) / 16 * 16;
}

// The staged GEMV (QuantGemvQ8Kernel) on the pre-kernel's xq / xs.
template <DType T, class A>
Status LaunchStaged(const void* w, const int8_t* xq, const XScale* xs, const void* bias, void* y,
                    int num_tokens, int n, int k, cudaStream_t stream) {
  const int64_t row_bytes = *DTypeBytes(T, k);
  const dim3 block(kQ8WarpsPerBlock * 32);
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ba = static_cast<const A*>(bias);
  auto* ya = static_cast<A*>(y);
  // A CTA covers kQ8WarpsPerBlock / kSplit groups of kQ8RowsPerWarp rows = 4 rows.
  const dim3 grid((n + 3) / 4);
  // The one switch over the token bucket.
  switch (num_tokens <= 1 ? 1 : num_tokens <= 2 ? 2 : num_tokens <= 4 ? 4 : 8) {
    case 1:
      CUDA_CHECK(cuda::LaunchKernel(QuantGemvQ8Kernel<T, A, 1, kQ8RowsPerWarp>, grid, block, 0,
                                    stream, wb, xq, xs, ba, ya, num_tokens, n, k, row_bytes));
      break;
    case 2:
      CUDA_CHECK(cuda::LaunchKernel(QuantGemvQ8Kernel<T, A, 2, kQ8RowsPerWarp>, grid, block, 0,
                                    stream, wb, xq, xs, ba, ya, num_tokens, n, k, row_bytes));
      break;
    case 4:
      CUDA_CHECK(cuda::LaunchKernel(QuantGemvQ8Kernel<T, A, 4, kQ8RowsPerWarp>, grid, block, 0,
                                    stream, wb, xq, xs, ba, ya, num_tokens, n, k, row_bytes));
      break;
    default:
      CUDA_CHECK(cuda::LaunchKernel(QuantGemvQ8Kernel<T, A, 8, kQ8RowsPerWarp>, grid, block, 0,
                                    stream, wb, xq, xs, ba, ya, num_tokens, n, k, row_bytes));
      break;
  }
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

template <DType T, class A>
Status LaunchTypedQ8(const void* w, const void* x, const void* bias, void* y, int num_tokens, int n,
                     int k, void* scratch, bool direct, cudaStream_t stream) {
  const DType act = std::is_same_v<A, __half> ? DType::kF16 : DType::kBF16;
  constexpr int kUnitWeights = DirectUnitWeights<T>();  // 0: T has no direct GEMV
  if (direct) {
    static const Result<DirectX> mode = ParseDirectX(std::getenv("HEARTH_DIRECT_X"));
    if (!mode.ok()) return mode.status();
    if (DirectFusesX(*mode, kUnitWeights, num_tokens, k,
                     reinterpret_cast<uintptr_t>(x) % 16 == 0)) {
      return LaunchDirectGemvFusedX(T, act, w, x, bias, y, num_tokens, n, k, stream);
    }
  }
  auto* xq = static_cast<int8_t*>(scratch);
  auto* xs = reinterpret_cast<XScale*>(static_cast<uint8_t*>(scratch) + XqBytes(num_tokens, k));
  const int64_t x_blocks = static_cast<int64_t>(num_tokens) * (k / kQ8Block);
  const auto* xa = static_cast<const A*>(x);
  if (direct) {
    if constexpr (kUnitWeights != 0) {
      // x laid out for the direct GEMV's units (XqOffset).
      CUDA_CHECK(cuda::LaunchKernel(QuantizeXKernel<A, kUnitWeights>, QuantizeXCtas(x_blocks),
                                    kQuantizeXThreads, 0, stream, xa, x_blocks, k, xq, xs));
      CUDA_CHECK_LAUNCH();
      return LaunchDirectGemv(T, act, w, xq, xs, bias, y, num_tokens, n, k, stream);
    } else {
      return LaunchDirectGemv(T, act, w, xq, xs, bias, y, num_tokens, n, k, stream);  // its error
    }
  }
  CUDA_CHECK(cuda::LaunchKernel(QuantizeXKernel<A>, QuantizeXCtas(x_blocks), kQuantizeXThreads, 0,
                                stream, xa, x_blocks, k, xq, xs));
  CUDA_CHECK_LAUNCH();
  if constexpr (!HasQ8Gemv(T)) {  // Q4_0, Q4_1, Q5_0, Q5_1, Q5_K: only the direct GEMV
    return UnimplementedError("LaunchQuantGemvQ8: unreachable type");
  } else {
    return LaunchStaged<T, A>(w, xq, xs, bias, y, num_tokens, n, k, stream);
  }
}

}  // namespace
}  // namespace gemv_internal

int64_t QuantGemvQ8ScratchBytes(int num_tokens, int k) {
  return gemv_internal::XqBytes(num_tokens, k) +
         static_cast<int64_t>(num_tokens) * gemv_internal::XRowScalesMax(k) *
             static_cast<int64_t>(sizeof(gemv_internal::XScale));
}

namespace {

Status LaunchQ8(DType w_type, const void* w, DType act_type, const void* x, const void* bias,
                void* y, int num_tokens, int n, int k, void* scratch, int64_t scratch_bytes,
                bool direct, cudaStream_t stream) {
  if (direct && !gemv_internal::HasDirectGemv(w_type, k)) {
    return UnimplementedError(
        "LaunchQuantGemvQ8Direct: no direct GEMV for " + std::string(DTypeName(w_type)) +
        " weights with k=" + std::to_string(k) +
        " (it has Q4_K, Q5_K, Q6_K, and Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 with k % 128 == 0); use "
        "LaunchQuantGemvQ8");
  }
  if (!direct && !gemv_internal::HasQ8Gemv(w_type)) {
    return UnimplementedError("LaunchQuantGemvQ8: " + std::string(DTypeName(w_type)) +
                              " weights use the float GEMV (LaunchQuantGemv); the integer GEMV "
                              "handles Q8_0, Q4_K, Q6_K");
  }
  if (act_type != DType::kBF16 && act_type != DType::kF16) {
    return UnimplementedError("LaunchQuantGemvQ8: activations must be BF16 or F16, got " +
                              std::string(DTypeName(act_type)));
  }
  if (num_tokens < 1 || num_tokens > kMaxGemvTokens || n < 1 || k < 1 ||
      !DTypeBytes(w_type, k).has_value()) {
    return InvalidArgumentError(
        "LaunchQuantGemvQ8: needs 1 <= num_tokens <= 8 and k a multiple "
        "of the " +
        std::string(DTypeName(w_type)) + " block; got num_tokens=" + std::to_string(num_tokens) +
        " n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
  if (w == nullptr || x == nullptr || y == nullptr || scratch == nullptr) {
    return InvalidArgumentError("LaunchQuantGemvQ8: null pointer");
  }
  if (reinterpret_cast<uintptr_t>(w) % 16 != 0 || reinterpret_cast<uintptr_t>(scratch) % 16 != 0 ||
      reinterpret_cast<uintptr_t>(x) % 2 != 0) {
    return InvalidArgumentError(
        "LaunchQuantGemvQ8: w and scratch must be 16-byte aligned, x 2-byte aligned");
  }
  if (scratch_bytes < QuantGemvQ8ScratchBytes(num_tokens, k)) {
    return InvalidArgumentError("LaunchQuantGemvQ8: scratch of " + std::to_string(scratch_bytes) +
                                " bytes, needs " +
                                std::to_string(QuantGemvQ8ScratchBytes(num_tokens, k)));
  }
  if (static_cast<int64_t>(n) * *DTypeBytes(w_type, k) > (int64_t{1} << 40)) {
    return InvalidArgumentError("LaunchQuantGemvQ8: weight too large");
  }
  return quant::VisitWeightType(w_type, [&](auto tag) -> Status {
    constexpr DType kT = decltype(tag)::value;
    if constexpr (!gemv_internal::HasQ8Gemv(kT) && !gemv_internal::HasDirectGemvType(kT)) {
      return UnimplementedError("LaunchQuantGemvQ8: unreachable type");
    } else {
      if (act_type == DType::kBF16) {
        return gemv_internal::LaunchTypedQ8<kT, __nv_bfloat16>(w, x, bias, y, num_tokens, n, k,
                                                               scratch, direct, stream);
      }
      return gemv_internal::LaunchTypedQ8<kT, __half>(w, x, bias, y, num_tokens, n, k, scratch,
                                                      direct, stream);
    }
  });
}

}  // namespace

Status LaunchQuantGemvQ8(DType w_type, const void* w, DType act_type, const void* x,
                         const void* bias, void* y, int num_tokens, int n, int k, void* scratch,
                         int64_t scratch_bytes, cudaStream_t stream) {
  return LaunchQ8(w_type, w, act_type, x, bias, y, num_tokens, n, k, scratch, scratch_bytes, false,
                  stream);
}

Status LaunchQuantGemvQ8Direct(DType w_type, const void* w, DType act_type, const void* x,
                               const void* bias, void* y, int num_tokens, int n, int k,
                               void* scratch, int64_t scratch_bytes, cudaStream_t stream) {
  return LaunchQ8(w_type, w, act_type, x, bias, y, num_tokens, n, k, scratch, scratch_bytes, true,
                  stream);
}

}  // namespace hearth
