#include <cmath>
#include <string>

#include "kernels/rope/rope.h"

namespace hearth {
namespace {

Status CheckArgs(int head_dim, const float* inv_freq, const int32_t* positions, int64_t num_tokens,
                 const float* q, int64_t q_stride, int num_heads, const float* k, int64_t k_stride,
                 int num_kv_heads) {
  if (head_dim <= 0 || head_dim % 2 != 0 || num_tokens < 0 || num_heads < 0 || num_kv_heads < 0 ||
      q_stride < int64_t{num_heads} * head_dim || k_stride < int64_t{num_kv_heads} * head_dim)
    return InvalidArgumentError("rope: bad shape: head_dim " + std::to_string(head_dim) +
                                ", num_heads " + std::to_string(num_heads) + ", num_kv_heads " +
                                std::to_string(num_kv_heads) + ", token strides " +
                                std::to_string(q_stride) + "/" + std::to_string(k_stride));
  if (num_tokens > 0 && (inv_freq == nullptr || positions == nullptr ||
                         (num_heads > 0 && q == nullptr) || (num_kv_heads > 0 && k == nullptr)))
    return InvalidArgumentError("rope: null pointer");
  return Status::Ok();
}

// One head in place: optional RMSNorm, then the rotation.
void RotateHead(RopeStyle style, int head_dim, const float* inv_freq, int32_t pos, float* x,
                const float* norm_weight, float eps) {
  if (norm_weight != nullptr) {
    float ss = 0.f;
    for (int i = 0; i < head_dim; ++i) ss += x[i] * x[i];
    const float scale = 1.f / std::sqrt(ss / static_cast<float>(head_dim) + eps);
    for (int i = 0; i < head_dim; ++i) x[i] = x[i] * scale * norm_weight[i];
  }
  const int half = head_dim / 2;
  for (int p = 0; p < half; ++p) {
    const int ia = style == RopeStyle::kAdjacentPairs ? 2 * p : p;
    const int ib = style == RopeStyle::kAdjacentPairs ? 2 * p + 1 : p + half;
    const float angle = static_cast<float>(pos) * inv_freq[p];
    const float c = std::cos(angle), s = std::sin(angle);
    const float a = x[ia], b = x[ib];
    x[ia] = a * c - b * s;
    x[ib] = a * s + b * c;
  }
}

Status Apply(RopeStyle style, int head_dim, const float* inv_freq, const int32_t* positions,
             int64_t num_tokens, float* q, int64_t q_stride, int num_heads, float* k,
             int64_t k_stride, int num_kv_heads, const float* q_w, const float* k_w, float eps) {
  HEARTH_RETURN_IF_ERROR(CheckArgs(head_dim, inv_freq, positions, num_tokens, q, q_stride,
                                   num_heads, k, k_stride, num_kv_heads));
#pragma omp parallel for if (num_tokens > 64)
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int h = 0; h < num_heads; ++h)
      RotateHead(style, head_dim, inv_freq, positions[t], q + t * q_stride + h * head_dim, q_w,
                 eps);
    for (int h = 0; h < num_kv_heads; ++h)
      RotateHead(style, head_dim, inv_freq, positions[t], k + t * k_stride + h * head_dim, k_w,
                 eps);
  }
  return Status::Ok();
}

}  // namespace

Status RopeCpu(RopeStyle style, int head_dim, const float* inv_freq, const int32_t* positions,
               int64_t num_tokens, float* q, int64_t q_token_stride, int num_heads, float* k,
               int64_t k_token_stride, int num_kv_heads) {
  return Apply(style, head_dim, inv_freq, positions, num_tokens, q, q_token_stride, num_heads, k,
               k_token_stride, num_kv_heads, nullptr, nullptr, 0.f);
}

Status QkNormRopeCpu(RopeStyle style, int head_dim, const float* inv_freq, const int32_t* positions,
                     int64_t num_tokens, float* q, int64_t q_token_stride, int num_heads, float* k,
                     int64_t k_token_stride, int num_kv_heads, const float* q_norm_weight,
                     const float* k_norm_weight, float eps) {
  if (q_norm_weight == nullptr || k_norm_weight == nullptr)
    return InvalidArgumentError("qk_norm_rope: null norm weight");
  return Apply(style, head_dim, inv_freq, positions, num_tokens, q, q_token_stride, num_heads, k,
               k_token_stride, num_kv_heads, q_norm_weight, k_norm_weight, eps);
}

}  // namespace hearth
