#include <string>
#include <string_view>
#include <vector>

#include "kernels/matmul/gemv_direct.h"
#include "kernels/matmul/matmul.h"
#include "kernels/matmul/quant_mma.h"

namespace hearth {

QuantKernelRanges DefaultQuantKernelRanges(DType w) {
  switch (w) {
    case DType::kQ4_K:
      return {6, 7, 64};
    case DType::kQ5_K:  // its MMA is the slowest (82 us at 14336 x 4096 against Q4_0's 60)
      return {7, 7, 64};
    case DType::kQ5_0:
    case DType::kQ5_1:
      return {3, 3, 64};
    case DType::kQ4_0:  // the direct GEMV (the float one where k % 128 != 0), then the MMA
    case DType::kQ4_1:
    case DType::kQ2_K:
    case DType::kQ3_K:
      return {2, 2, 64};
    default:  // Q6_K and Q8_0: the direct GEMV at 1 token, the staged one at 2-3
      return {1, 3, 64};
  }
}

namespace {

bool Activation16(DType act) { return act == DType::kBF16 || act == DType::kF16; }

// The GEMV `gemv` names for block weights where the type has it; else (and for kNone) the type's
// own GEMV: the staged integer one where it has it, else the direct one (Q4_0, Q4_1, Q5_0, Q5_1,
// Q2_K, Q3_K, Q5_K; k % 128 == 0 for the first four), else the float.
MatmulKernel GemvFor(DType w, int k, GemvOverride gemv) {
  if (gemv == GemvOverride::kFloat) return MatmulKernel::kQuantGemv;
  const bool direct = gemv_internal::HasDirectGemv(w, k);
  if (gemv == GemvOverride::kDirect && direct) return MatmulKernel::kQuantGemvQ8Direct;
  if (gemv_internal::HasQ8Gemv(w)) return MatmulKernel::kQuantGemvQ8;
  return direct ? MatmulKernel::kQuantGemvQ8Direct : MatmulKernel::kQuantGemv;
}

}  // namespace

MatmulKernel SelectMatmulKernel(DType w, int num_tokens, int n, int k) {
  if (num_tokens <= 0 || n <= 0 || k <= 0) return MatmulKernel::kUnsupported;
  const DTypeInfo info = GetDTypeInfo(w);
  if (w == DType::kI32 || k % info.block_elems != 0) return MatmulKernel::kUnsupported;
  if (w == DType::kBF16 || w == DType::kF16) return MatmulKernel::kCublasLt;
  if (info.quantized) {  // every block type has k % 8 == 0 (its block size)
    const QuantKernelRanges r = DefaultQuantKernelRanges(w);
    if (num_tokens <= r.direct_gemv && gemv_internal::HasDirectGemv(w, k)) {
      return MatmulKernel::kQuantGemvQ8Direct;
    }
    if (num_tokens <= r.gemv) return GemvFor(w, k, GemvOverride::kNone);
    if (num_tokens <= r.mma) return MatmulKernel::kQuantMma;
    return MatmulKernel::kDequantCublasLt;
  }
  // F32: only it has a block of one element, so only its rows can end mid-group.
  if (num_tokens <= kMaxGemvTokens) {
    return k % 8 == 0 ? MatmulKernel::kQuantGemv : MatmulKernel::kScalarGemv;
  }
  return MatmulKernel::kDequantCublasLt;
}

namespace {

template <class E>
struct EnvChoice {
  std::string_view value;
  E choice;
};

// The choice named by an environment variable's value: `unset` when it is unset or empty, else
// the entry of `choices` with that value, else an error naming the variable and `expected`.
template <class E, size_t N>
Result<E> ParseEnvChoice(std::string_view var, const char* env_value, E unset,
                         const EnvChoice<E> (&choices)[N], std::string_view expected) {
  if (env_value == nullptr || *env_value == '\0') return unset;
  const std::string_view v(env_value);
  for (const EnvChoice<E>& c : choices) {
    if (v == c.value) return c.choice;
  }
  return InvalidArgumentError(std::string(var) + "=" + std::string(v) + ": expected " +
                              std::string(expected));
}

}  // namespace

Result<GemvOverride> ParseGemvOverride(const char* env_value) {
  static constexpr EnvChoice<GemvOverride> kChoices[] = {{"float", GemvOverride::kFloat},
                                                         {"staged", GemvOverride::kStaged},
                                                         {"direct", GemvOverride::kDirect}};
  return ParseEnvChoice(
      "HEARTH_GEMV", env_value, GemvOverride::kNone, kChoices,
      "\"float\" (the float GEMV), \"staged\" or \"direct\" (the integer "
      "GEMVs of Q4_K, Q6_K and Q8_0; direct also Q4_0, Q4_1, Q5_0, Q5_1, Q5_K), or unset");
}

namespace gemv_internal {
Result<DirectX> ParseDirectX(const char* env_value) {
  static constexpr EnvChoice<DirectX> kChoices[] = {{"fused", DirectX::kFused},
                                                    {"pre", DirectX::kPreKernel}};
  return ParseEnvChoice("HEARTH_DIRECT_X", env_value, DirectX::kOneToken, kChoices,
                        "\"fused\" (the direct GEMV quantizes x itself wherever it fits) or "
                        "\"pre\" (always the pre-kernel), or unset (itself for one token)");
}
}  // namespace gemv_internal

Result<QuantGemm> ParseQuantGemm(const char* env_value) {
  static constexpr EnvChoice<QuantGemm> kChoices[] = {{"dequant", QuantGemm::kDequant},
                                                      {"fused", QuantGemm::kFused}};
  return ParseEnvChoice(
      "HEARTH_QUANT_GEMM", env_value, QuantGemm::kAuto, kChoices,
      "\"dequant\" (no fused dequantize + tensor-core GEMM) or \"fused\" (it up to " +
          std::to_string(gemv_internal::kMaxQuantMmaTokens) +
          " tokens), or unset (measured "
          "ranges per type)");
}

MatmulKernel SelectMatmulKernelForRun(DType w, DType act, int num_tokens, int n, int k,
                                      GemvOverride gemv, QuantGemm gemm) {
  MatmulKernel kernel = SelectMatmulKernel(w, num_tokens, n, k);
  if (kernel == MatmulKernel::kUnsupported || !GetDTypeInfo(w).quantized) return kernel;
  if (num_tokens <= kMaxGemvTokens) {
    if (gemv != GemvOverride::kNone) {
      kernel = GemvFor(w, k, gemv);
    } else if (gemm == QuantGemm::kDequant && kernel == MatmulKernel::kQuantMma) {
      kernel = GemvFor(w, k, GemvOverride::kNone);
    }
  } else if (gemm == QuantGemm::kDequant) {
    kernel = MatmulKernel::kDequantCublasLt;
  } else if (gemm == QuantGemm::kFused && num_tokens <= gemv_internal::kMaxQuantMmaTokens) {
    kernel = MatmulKernel::kQuantMma;
  }
  if (!Activation16(act) &&
      (kernel == MatmulKernel::kQuantGemvQ8 || kernel == MatmulKernel::kQuantGemvQ8Direct ||
       kernel == MatmulKernel::kQuantMma)) {
    kernel =
        num_tokens <= kMaxGemvTokens ? MatmulKernel::kQuantGemv : MatmulKernel::kDequantCublasLt;
  }
  return kernel;
}

bool MatmulKernelRuns(MatmulKernel kernel, DType w, DType act, int num_tokens, int n, int k) {
  if (SelectMatmulKernel(w, num_tokens, n, k) == MatmulKernel::kUnsupported) return false;
  const bool quantized = GetDTypeInfo(w).quantized;
  const bool gemv_tokens = num_tokens <= kMaxGemvTokens;
  switch (kernel) {
    case MatmulKernel::kCublasLt:
      return (w == DType::kBF16 || w == DType::kF16) && act == w;
    case MatmulKernel::kQuantGemv:
      return gemv_tokens && (quantized || w == DType::kF32) && k % 8 == 0;
    case MatmulKernel::kScalarGemv:
      return gemv_tokens && w == DType::kF32;
    case MatmulKernel::kQuantGemvQ8:
      return gemv_tokens && gemv_internal::HasQ8Gemv(w) && Activation16(act);
    case MatmulKernel::kQuantGemvQ8Direct:
      return gemv_tokens && gemv_internal::HasDirectGemv(w, k) && Activation16(act);
    case MatmulKernel::kQuantMma:
      return quantized && num_tokens <= gemv_internal::kMaxQuantMmaTokens && Activation16(act);
    case MatmulKernel::kDequantCublasLt:
      return (quantized || w == DType::kF32) && Activation16(act);
    case MatmulKernel::kUnsupported:
      break;
  }
  return false;
}

void QuantizeActivationsQ8Cpu(float* x, int num_tokens, int k) {
  std::vector<int8_t> q(k);
  std::vector<gemv_internal::XScale> s(k / gemv_internal::kQ8Block);
  for (int t = 0; t < num_tokens; ++t) {
    float* row = x + static_cast<int64_t>(t) * k;
    gemv_internal::QuantizeRowQ8Cpu(row, k, q.data(), s.data());
    for (int i = 0; i < k; ++i) {
      row[i] = quant::MulRn(s[i / gemv_internal::kQ8Block].d, static_cast<float>(q[i]));
    }
  }
}

uint32_t GemmOperandAlignment(int64_t ld_elems, int elem_bytes, uint32_t base_alignment) {
  const uint64_t ld_bytes = static_cast<uint64_t>(ld_elems) * static_cast<uint64_t>(elem_bytes);
  uint32_t a = 1;
  while (a < base_alignment && ld_bytes % (2 * uint64_t{a}) == 0 && base_alignment % (2 * a) == 0) {
    a *= 2;
  }
  return a;
}

CpuMatmulPath SelectCpuMatmulPath(DType w, int num_tokens, bool has_avx2) {
  if (!has_avx2) return CpuMatmulPath::kScalar;
  const bool has_fused = GetDTypeInfo(w).quantized;  // every block type has a fused kernel
  // Up to 3 tokens share one decoded block in registers, which beats storing the decoded tile
  // and reloading it; from 4 tokens on, the tile decoded once serves all of them (measured by
  // bench_cpu_matmul, benchmarks/RESULTS.md).
  if (num_tokens <= kMaxCpuFusedTokens && has_fused) return CpuMatmulPath::kAvx2Fused;
  return CpuMatmulPath::kAvx2Blocked;
}

std::string_view CpuMatmulPathName(CpuMatmulPath path) {
  switch (path) {
    case CpuMatmulPath::kScalar:
      return "scalar";
    case CpuMatmulPath::kAvx2Fused:
      return "avx2_fused";
    case CpuMatmulPath::kAvx2Blocked:
      return "avx2_blocked";
    case CpuMatmulPath::kAvx2TokenDots:
      return "avx2_token_dots";
  }
  return "?";
}

std::string_view MatmulKernelName(MatmulKernel kernel) {
  switch (kernel) {
    case MatmulKernel::kCublasLt:
      return "cublaslt";
    case MatmulKernel::kQuantGemv:
      return "quant_gemv";
    case MatmulKernel::kQuantGemvQ8:
      return "quant_gemv_q8";
    case MatmulKernel::kQuantGemvQ8Direct:
      return "quant_gemv_q8_direct";
    case MatmulKernel::kDequantCublasLt:
      return "dequant_cublaslt";
    case MatmulKernel::kQuantMma:
      return "quant_mma";
    case MatmulKernel::kScalarGemv:
      return "scalar_gemv";
    case MatmulKernel::kUnsupported:
      return "unsupported";
  }
  return "?";
}

}  // namespace hearth
