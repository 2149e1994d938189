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
  if ((s.type == RopeScalingType::kLinear || s.type == RopeScalingType::kLlama3) &&
      !(s.factor > 0.0))
    return InvalidArgumentError("rope: scaling factor must be > 0");
  if (s.type == RopeScalingType::kLlama3 &&
      (!(s.high_freq_factor > s.low_freq_factor) || !(s.low_freq_factor > 0.0) ||
       s.original_max_position <= 0))
    return InvalidArgumentError(
        "rope: llama3 scaling needs high_freq_factor > low_freq_factor > 0 and "
        "original_max_position_embeddings > 0");
  if (s.type == RopeScalingType::kFreqFactors && c.freq_factors == nullptr)
    return InvalidArgumentError("rope: frequency-factor scaling needs the rope_freqs table");
  const int half = c.head_dim / 2;
  std::vector<float> out(half);
  for (int i = 0; i < half; ++i) {
    double f = std::pow(static_cast<double>(c.theta), -2.0 * i / c.head_dim);
    switch (s.type) {
      case RopeScalingType::kNone:
        break;
      case RopeScalingType::kLinear:
        f /= s.factor;
        break;
      case RopeScalingType::kLlama3: {
        const double old_ctx = static_cast<double>(s.original_max_position);
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
      case RopeScalingType::kFreqFactors: {
        const float d = c.freq_factors[i];
        if (!(d > 0.f)) {
          return InvalidArgumentError("rope: rope_freqs[" + std::to_string(i) +
                                      "] must be positive, got " + std::to_string(d));
        }
        f /= d;
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

RopeGpuKernel SelectRopeGpuKernel(int head_dim, AccessPath path) {
  if (head_dim <= 0 || head_dim % 2 != 0 || head_dim > kRopeMaxGpuHeadDim) {
    return RopeGpuKernel::kUnsupported;
  }
  if (head_dim != 64 && head_dim != 128 && head_dim != 256) return RopeGpuKernel::kThreadPerHead;
  return path == AccessPath::kVector16 ? RopeGpuKernel::kVector : RopeGpuKernel::kWarpPerHead;
}

const char* RopeGpuKernelName(RopeGpuKernel kernel) {
  switch (kernel) {
    case RopeGpuKernel::kVector:
      return "vector";
    case RopeGpuKernel::kWarpPerHead:
      return "warp_per_head";
    case RopeGpuKernel::kThreadPerHead:
      return "thread_per_head";
    case RopeGpuKernel::kUnsupported:
      return "unsupported";
  }
  return "?";
}

}  // namespace hearth
