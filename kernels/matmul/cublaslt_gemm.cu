#include <cuda_runtime.h>

#include <cstdio>
#include <string>
#include <utility>

#include "kernels/core/cuda_check.h"
#include "kernels/matmul/cublaslt_gemm.h"
#include "kernels/matmul/matmul.h"

namespace hearth::matmul_internal {
namespace {

Status LtError(cublasStatus_t s, const char* stmt, const char* file, int line) {
  return InternalError(std::string(stmt) + " failed at " + file + ":" + std::to_string(line) +
                       ": cublas status " + std::to_string(static_cast<int>(s)));
}

#define LT_CHECK(stmt)                                       \
  do {                                                       \
    const cublasStatus_t lt_status_ = (stmt);                \
    if (lt_status_ != CUBLAS_STATUS_SUCCESS)                 \
      return LtError(lt_status_, #stmt, __FILE__, __LINE__); \
  } while (0)

}  // namespace

CublasLtGemm::~CublasLtGemm() {
  for (auto& [key, p] : plans_) {
    cublasLtMatrixLayoutDestroy(p.a);
    cublasLtMatrixLayoutDestroy(p.b);
    cublasLtMatrixLayoutDestroy(p.c);
    cublasLtMatmulDescDestroy(p.op);
  }
  if (workspace_ != nullptr) cudaFree(workspace_);
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

Status CublasLtGemm::Init() {
  LT_CHECK(cublasLtCreate(&handle_));
  CUDA_CHECK(cudaMalloc(&workspace_, kWorkspaceBytes));
  return Status::Ok();
}

// Row-major y[m, n] = x[m, k] . W[n, k]^T is, in cuBLAS's column-major terms,
// D (n x m, ld n) = op(A) * B with A = W seen as k x n (ld k) transposed, B = x seen as k x m.
Status CublasLtGemm::MakePlan(const Key& key, Plan* plan) {
  const auto [type, m, n, k, has_bias] = key;
  const cudaDataType_t dt = type == DType::kBF16 ? CUDA_R_16BF : CUDA_R_16F;
  LT_CHECK(cublasLtMatmulDescCreate(&plan->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  LT_CHECK(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a,
                                          sizeof(trans_a)));
  LT_CHECK(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b,
                                          sizeof(trans_b)));
  const cublasLtEpilogue_t epilogue = has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  LT_CHECK(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                          sizeof(epilogue)));
  // The bias takes D's type (bf16/fp16) by default, which is what callers pass.
  LT_CHECK(cublasLtMatrixLayoutCreate(&plan->a, dt, k, n, k));
  LT_CHECK(cublasLtMatrixLayoutCreate(&plan->b, dt, k, m, k));
  LT_CHECK(cublasLtMatrixLayoutCreate(&plan->c, dt, n, m, n));

  cublasLtMatmulPreference_t pref = nullptr;
  LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = kWorkspaceBytes;
  cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  // Algorithms may assume 256-byte aligned operands unless told otherwise; callers pass slices
  // of larger buffers, so only the 16-byte alignment Gemm checks is promised, and less where the
  // columns are not 16-byte multiples apart (stories260K's k = 172 in bf16: 344 bytes).
  const uint32_t align_ab = GemmOperandAlignment(k, 2, kMinAlignment);  // A, B: columns of k
  const uint32_t align_cd = GemmOperandAlignment(n, 2, kMinAlignment);  // C, D: columns of n
  const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> aligns[] = {
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_ab},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_ab},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_cd},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_cd}};
  for (const auto& [attr, align] : aligns) {
    if (st == CUBLAS_STATUS_SUCCESS) {
      st = cublasLtMatmulPreferenceSetAttribute(pref, attr, &align, sizeof(align));
    }
  }
  cublasLtMatmulHeuristicResult_t result{};
  int count = 0;
  if (st == CUBLAS_STATUS_SUCCESS) {
    st = cublasLtMatmulAlgoGetHeuristic(handle_, plan->op, plan->a, plan->b, plan->c, plan->c, pref,
                                        1, &result, &count);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  LT_CHECK(st);
  if (count == 0) {
    return UnimplementedError("cuBLASLt has no algorithm for " + std::string(DTypeName(type)) +
                              " num_tokens=" + std::to_string(m) + " n=" + std::to_string(n) +
                              " k=" + std::to_string(k));
  }
  plan->algo = result.algo;
  // Once per matrix shape: prefill steps bring every num_tokens from 1 to the batch budget, each
  // with its own plan, which would otherwise be thousands of lines.
  if (logged_shapes_.insert({static_cast<int>(type), n, k, has_bias}).second) {
    std::fprintf(stderr,
                 "hearth: cuBLASLt plan %s m=%d n=%d k=%d bias=%d (workspace %zu B; other m of "
                 "this shape planned silently)\n",
                 std::string(DTypeName(type)).c_str(), m, n, k, has_bias ? 1 : 0,
                 static_cast<size_t>(result.workspaceSize));
  }
  return Status::Ok();
}

Status CublasLtGemm::Gemm(DType type, const void* w, const void* x, const void* bias, void* y,
                          int num_tokens, int n, int k, cudaStream_t stream) {
  if (type != DType::kBF16 && type != DType::kF16) {
    return UnimplementedError("cuBLASLt GEMM: type " + std::string(DTypeName(type)) +
                              " is not supported (BF16, F16)");
  }
  if (handle_ == nullptr) return FailedPreconditionError("cuBLASLt GEMM used before Init()");
  for (const void* p : {w, x, static_cast<const void*>(y)}) {
    if (reinterpret_cast<uintptr_t>(p) % kMinAlignment != 0) {
      return InvalidArgumentError("cuBLASLt GEMM: w, x and y must be 16-byte aligned");
    }
  }
  const Key key{type, num_tokens, n, k, bias != nullptr};
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    Plan plan;
    const Status s = MakePlan(key, &plan);
    if (!s.ok()) {
      cublasLtMatrixLayoutDestroy(plan.a);
      cublasLtMatrixLayoutDestroy(plan.b);
      cublasLtMatrixLayoutDestroy(plan.c);
      cublasLtMatmulDescDestroy(plan.op);
      return s;
    }
    it = plans_.emplace(key, plan).first;
  }
  Plan& p = it->second;
  if (bias != nullptr) {
    LT_CHECK(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                            sizeof(bias)));
  }
  const float alpha = 1.f, beta = 0.f;
  LT_CHECK(cublasLtMatmul(handle_, p.op, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c, &p.algo,
                          workspace_, kWorkspaceBytes, stream));
  return Status::Ok();
}

}  // namespace hearth::matmul_internal
