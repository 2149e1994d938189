// GpuMatmul: runs the kernel SelectMatmulKernel picks, logging each (kernel, weight type) choice
// once so that no slow path goes unnoticed.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "kernels/core/cuda_check.h"
#include "kernels/matmul/cublaslt_gemm.h"
#include "kernels/matmul/matmul.h"
#include "kernels/matmul/quant_mma.h"
#include "kernels/quant/dequant.h"

namespace hearth {

struct GpuMatmul::Impl {
  matmul_internal::CublasLtGemm gemm;
  void* scratch = nullptr;  // dequantized W for kDequantCublasLt, 2 bytes per element
  int64_t scratch_elems = 0;
  void* act_scratch = nullptr;  // int8 activations of kQuantGemvQ8
  int64_t act_scratch_bytes = 0;
  void* split_scratch = nullptr;  // fp32 split-k sums of kQuantMma
  int64_t split_scratch_bytes = 0;
  GemvOverride gemv = GemvOverride::kNone;  // HEARTH_GEMV
  QuantGemm quant_gemm = QuantGemm::kAuto;  // HEARTH_QUANT_GEMM
  std::set<std::pair<MatmulKernel, DType>> logged;

  ~Impl() {
    if (scratch != nullptr) cudaFree(scratch);
    if (act_scratch != nullptr) cudaFree(act_scratch);
    if (split_scratch != nullptr) cudaFree(split_scratch);
  }

  Status ReserveActScratch(int64_t bytes) {
    if (bytes <= act_scratch_bytes) return Status::Ok();
    if (act_scratch != nullptr) CUDA_CHECK(cudaFree(act_scratch));
    act_scratch = nullptr;
    act_scratch_bytes = 0;
    CUDA_CHECK(cudaMalloc(&act_scratch, bytes));
    act_scratch_bytes = bytes;
    return Status::Ok();
  }
};

GpuMatmul::GpuMatmul(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GpuMatmul::~GpuMatmul() = default;

Result<std::unique_ptr<GpuMatmul>> GpuMatmul::Create() {
  auto impl = std::make_unique<Impl>();
  HEARTH_RETURN_IF_ERROR(impl->gemm.Init());
  HEARTH_ASSIGN_OR_RETURN(impl->gemv, ParseGemvOverride(std::getenv("HEARTH_GEMV")));
  HEARTH_ASSIGN_OR_RETURN(impl->quant_gemm, ParseQuantGemm(std::getenv("HEARTH_QUANT_GEMM")));
  if (impl->quant_gemm != QuantGemm::kDequant) {  // every shape's split sums: Run never allocates
    CUDA_CHECK(cudaMalloc(&impl->split_scratch, gemv_internal::kQuantMmaMaxScratchBytes));
    impl->split_scratch_bytes = gemv_internal::kQuantMmaMaxScratchBytes;
  }
  // Enough for 8 tokens of k <= 65536, so that decode steps never allocate (graph capture).
  HEARTH_RETURN_IF_ERROR(impl->ReserveActScratch(QuantGemvQ8ScratchBytes(kMaxGemvTokens, 65536)));
  return std::unique_ptr<GpuMatmul>(new GpuMatmul(std::move(impl)));
}

int64_t GpuMatmul::CreateBytes() {
  const Result<QuantGemm> gemm = ParseQuantGemm(std::getenv("HEARTH_QUANT_GEMM"));
  const bool mma = !gemm.ok() || *gemm != QuantGemm::kDequant;  // an error fails Create anyway
  return QuantGemvQ8ScratchBytes(kMaxGemvTokens, 65536) +
         (mma ? gemv_internal::kQuantMmaMaxScratchBytes : 0);
}

Status GpuMatmul::Reserve(int64_t max_weight_elems) {
  if (max_weight_elems <= impl_->scratch_elems) return Status::Ok();
  if (impl_->scratch != nullptr) CUDA_CHECK(cudaFree(impl_->scratch));
  impl_->scratch = nullptr;
  impl_->scratch_elems = 0;
  CUDA_CHECK(cudaMalloc(&impl_->scratch, max_weight_elems * 2));
  impl_->scratch_elems = max_weight_elems;
  return Status::Ok();
}

Status GpuMatmul::Run(DType w_type, const void* w, DType act_type, const void* x, const void* bias,
                      void* y, int num_tokens, int n, int k, cudaStream_t stream) {
  return RunWithDense(w_type, w, nullptr, act_type, x, bias, y, num_tokens, n, k, stream);
}

Status GpuMatmul::RunWithDense(DType w_type, const void* w, const void* dense, DType act_type,
                               const void* x, const void* bias, void* y, int num_tokens, int n,
                               int k, cudaStream_t stream) {
  const MatmulKernel kernel =
      SelectMatmulKernelForRun(w_type, act_type, num_tokens, n, k, impl_->gemv, impl_->quant_gemm);
  const bool on_dense = dense != nullptr && kernel == MatmulKernel::kDequantCublasLt &&
                        (act_type == DType::kBF16 || act_type == DType::kF16);
  // Each choice said once per weight type (the copy's under kCublasLt, which float weights, the
  // only others to take it, log under their own type).
  const MatmulKernel said = on_dense ? MatmulKernel::kCublasLt : kernel;
  if (impl_->logged.insert({said, w_type}).second) {
    std::fprintf(stderr,
                 "hearth: matmul with %s weights uses kernel %s%s (from num_tokens=%d n=%d "
                 "k=%d)\n",
                 std::string(DTypeName(w_type)).c_str(),
                 std::string(MatmulKernelName(said)).c_str(),
                 on_dense ? " on their dequantized copy" : "", num_tokens, n, k);
  }
  if (on_dense) return impl_->gemm.Gemm(act_type, dense, x, bias, y, num_tokens, n, k, stream);
  return RunKernel(kernel, w_type, w, act_type, x, bias, y, num_tokens, n, k, stream);
}

Status GpuMatmul::RunKernel(MatmulKernel kernel, DType w_type, const void* w, DType act_type,
                            const void* x, const void* bias, void* y, int num_tokens, int n, int k,
                            cudaStream_t stream) {
  // The weights and shape here; each kernel reports activations it does not take itself.
  const DType act_it_takes = kernel == MatmulKernel::kCublasLt ? w_type : DType::kBF16;
  if (kernel != MatmulKernel::kUnsupported &&
      !MatmulKernelRuns(kernel, w_type, act_it_takes, num_tokens, n, k)) {
    return InvalidArgumentError("matmul: kernel " + std::string(MatmulKernelName(kernel)) +
                                " cannot run " + std::string(DTypeName(w_type)) +
                                " weights with num_tokens=" + std::to_string(num_tokens) +
                                " n=" + std::to_string(n) + " k=" + std::to_string(k));
  }
  switch (kernel) {
    case MatmulKernel::kCublasLt:
      if (act_type != w_type) {
        return UnimplementedError("matmul: " + std::string(DTypeName(w_type)) + " weights need " +
                                  std::string(DTypeName(w_type)) + " activations, got " +
                                  std::string(DTypeName(act_type)));
      }
      return impl_->gemm.Gemm(w_type, w, x, bias, y, num_tokens, n, k, stream);
    case MatmulKernel::kQuantGemv:
      return LaunchQuantGemv(w_type, w, act_type, x, bias, y, num_tokens, n, k, stream);
    case MatmulKernel::kScalarGemv:
      return LaunchScalarGemv(static_cast<const float*>(w), act_type, x, bias, y, num_tokens, n, k,
                              stream);
    case MatmulKernel::kQuantGemvQ8:
    case MatmulKernel::kQuantGemvQ8Direct: {
      const int64_t bytes = QuantGemvQ8ScratchBytes(num_tokens, k);
      HEARTH_RETURN_IF_ERROR(impl_->ReserveActScratch(bytes));
      const auto launch =
          kernel == MatmulKernel::kQuantGemvQ8 ? LaunchQuantGemvQ8 : LaunchQuantGemvQ8Direct;
      return launch(w_type, w, act_type, x, bias, y, num_tokens, n, k, impl_->act_scratch,
                    impl_->act_scratch_bytes, stream);
    }
    case MatmulKernel::kDequantCublasLt: {
      if (act_type != DType::kBF16 && act_type != DType::kF16) {
        return UnimplementedError(
            "matmul: more than 8 tokens of " + std::string(DTypeName(w_type)) +
            " weights need BF16 or F16 activations, got " + std::string(DTypeName(act_type)));
      }
      const int64_t elems = static_cast<int64_t>(n) * k;
      HEARTH_RETURN_IF_ERROR(Reserve(elems));
      HEARTH_RETURN_IF_ERROR(DequantizeGpu(w_type, w, act_type, impl_->scratch, elems, stream));
      return impl_->gemm.Gemm(act_type, impl_->scratch, x, bias, y, num_tokens, n, k, stream);
    }
    case MatmulKernel::kQuantMma:
      if (impl_->split_scratch == nullptr) {  // HEARTH_QUANT_GEMM=dequant: allocated on demand
        CUDA_CHECK(cudaMalloc(&impl_->split_scratch, gemv_internal::kQuantMmaMaxScratchBytes));
        impl_->split_scratch_bytes = gemv_internal::kQuantMmaMaxScratchBytes;
      }
      return LaunchQuantMma(w_type, w, act_type, x, bias, y, num_tokens, n, k, impl_->split_scratch,
                            impl_->split_scratch_bytes, stream);
    case MatmulKernel::kUnsupported:
      break;
  }
  return UnimplementedError("matmul: no kernel for " + std::string(DTypeName(w_type)) +
                            " weights with num_tokens=" + std::to_string(num_tokens) +
                            " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                            " (k must be a positive multiple of the block size)");
}

}  // namespace hearth
