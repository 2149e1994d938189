#include <cmath>
#include <string>

#include "kernels/norm/rms_norm.h"

namespace hearth {
namespace {

Status CheckArgs(const void* x, const void* weight, const void* out, int64_t num_tokens,
                 int hidden) {
  if (num_tokens < 0 || hidden <= 0)
    return InvalidArgumentError("rms_norm: need num_tokens >= 0 and hidden > 0, got " +
                                std::to_string(num_tokens) + " x " + std::to_string(hidden));
  if (num_tokens > 0 && (x == nullptr || weight == nullptr || out == nullptr))
    return InvalidArgumentError("rms_norm: null pointer");
  return Status::Ok();
}

void NormalizeRow(const float* row, const float* weight, float* out, int hidden, float eps) {
  float sum_sq = 0.f;
  for (int i = 0; i < hidden; ++i) sum_sq += row[i] * row[i];
  const float scale = 1.f / std::sqrt(sum_sq / static_cast<float>(hidden) + eps);
  for (int i = 0; i < hidden; ++i) out[i] = row[i] * scale * weight[i];
}

}  // namespace

Status RmsNormCpu(const float* x, const float* weight, float* out, int64_t num_tokens, int hidden,
                  float eps) {
  HEARTH_RETURN_IF_ERROR(CheckArgs(x, weight, out, num_tokens, hidden));
#pragma omp parallel for if (num_tokens * hidden > (1 << 16))
  for (int64_t t = 0; t < num_tokens; ++t)
    NormalizeRow(x + t * hidden, weight, out + t * hidden, hidden, eps);
  return Status::Ok();
}

Status FusedAddRmsNormCpu(const float* x, float* residual, const float* weight, float* out,
                          int64_t num_tokens, int hidden, float eps) {
  HEARTH_RETURN_IF_ERROR(CheckArgs(x, weight, out, num_tokens, hidden));
  if (num_tokens > 0 && residual == nullptr)
    return InvalidArgumentError("fused_add_rms_norm: null residual");
#pragma omp parallel for if (num_tokens * hidden > (1 << 16))
  for (int64_t t = 0; t < num_tokens; ++t) {
    float* r = residual + t * hidden;
    const float* xr = x + t * hidden;
    for (int i = 0; i < hidden; ++i) r[i] += xr[i];
    NormalizeRow(r, weight, out + t * hidden, hidden, eps);
  }
  return Status::Ok();
}

AccessPath ChooseRmsNormPath(DType dtype, int hidden, const void* x, const void* residual,
                             const void* out) {
  const size_t elem = static_cast<size_t>(GetDTypeInfo(dtype).block_bytes);
  return ChooseAccessPath(elem, {hidden}, {x, residual, out});
}

}  // namespace hearth
