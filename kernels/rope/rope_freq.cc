#include <cmath>
#include <numbers>
#include <string>

#include "kernels/rope/rope.h"

namespace hearth {

Result<std::vector<float>> RopeInvFreq(const RopeConfig& c) {
  if (c.head_dim <= 0 || c.head_dim % 2 != 0)
    return InvalidArgumentError("rope: head_dim must be positive and even, got " +
                                std::to_string(c.head_dim));
  if (!(c.theta > 1.f)) return InvalidArgumentError("rope: theta must be > 1");
  const RopeScaling& s = c.scaling;
  if (s.kind != RopeScaling::Kind::kNone && !(s.factor > 0.f))
    return InvalidArgumentError("rope: scaling factor must be > 0");
  if (s.kind == RopeScaling::Kind::kLlama3 &&
      (!(s.high_freq_factor > s.low_freq_factor) || !(s.low_freq_factor > 0.f) ||
       s.original_max_position_embeddings <= 0))
    return InvalidArgumentError(
        "rope: llama3 scaling needs high_freq_factor > low_freq_factor > 0 and "
        "original_max_position_embeddings > 0");
  const int half = c.head_dim / 2;
  std::vector<float> out(half);
  for (int i = 0; i < half; ++i) {
    double f = std::pow(static_cast<double>(c.theta), -2.0 * i / c.head_dim);
    switch (s.kind) {
      case RopeScaling::Kind::kNone:
        break;
      case RopeScaling::Kind::kLinear:
        f /= s.factor;
        break;
      case RopeScaling::Kind::kLlama3: {
        const double old_ctx = s.original_max_position_embeddings;
        const double low_wavelen = old_ctx / s.low_freq_factor;
        const double high_wavelen = old_ctx / s.high_freq_factor;
        const double wavelen = 2 * std::numbers::pi / f;
        if (wavelen > low_wavelen) {
          f /= s.factor;
        } else if (wavelen >= high_wavelen) {
          const double smooth =
              (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
          f = (1 - smooth) * f / s.factor + smooth * f;
        }
        break;
      }
    }
    out[i] = static_cast<float>(f);
  }
  return out;
}

AccessPath ChooseRopePath(DType dtype, const void* q, int64_t q_token_stride, const void* k,
                          int64_t k_token_stride) {
  const size_t elem = static_cast<size_t>(GetDTypeInfo(dtype).block_bytes);
  return ChooseAccessPath(elem, {q_token_stride, k_token_stride}, {q, k});
}

int RopeVecThreads(int head_dim, int elem_bytes, int num_heads_total) {
  const int group = head_dim / 2 / (16 / elem_bytes);
  const int max_slots = 512 / group;
  const int slots = num_heads_total < max_slots ? num_heads_total : max_slots;
  const int threads = (slots * group + 31) / 32 * 32;
  return threads < 32 ? 32 : threads;
}

bool RopeHeadDimSupportedOnGpu(int head_dim) {
  return head_dim == 64 || head_dim == 128 || head_dim == 256;
}

}  // namespace hearth
