#include <cmath>
#include <string>

#include "kernels/activation/silu_mul.h"

namespace hearth {

Status SiluMulCpu(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride,
                  float* out, int64_t num_tokens, int ffn) {
  if (num_tokens < 0 || ffn <= 0 || gate_stride < ffn || up_stride < ffn)
    return InvalidArgumentError("silu_mul: bad shape: num_tokens " + std::to_string(num_tokens) +
                                ", ffn " + std::to_string(ffn) + ", strides " +
                                std::to_string(gate_stride) + "/" + std::to_string(up_stride));
  if (num_tokens > 0 && (gate == nullptr || up == nullptr || out == nullptr))
    return InvalidArgumentError("silu_mul: null pointer");
#pragma omp parallel for if (num_tokens * ffn > (1 << 16))
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* g = gate + t * gate_stride;
    const float* u = up + t * up_stride;
    float* o = out + t * ffn;
    for (int i = 0; i < ffn; ++i) o[i] = g[i] / (1.f + std::exp(-g[i])) * u[i];
  }
  return Status::Ok();
}

Status SiluMulConcatCpu(const float* gate_up, float* out, int64_t num_tokens, int ffn) {
  return SiluMulCpu(gate_up, 2 * int64_t{ffn}, gate_up + ffn, 2 * int64_t{ffn}, out, num_tokens,
                    ffn);
}

AccessPath ChooseSiluMulPath(DType dtype, int ffn, int64_t gate_stride, int64_t up_stride,
                             const void* gate, const void* up, const void* out) {
  return ChooseAccessPath(GetDTypeInfo(dtype).block_bytes, {ffn, gate_stride, up_stride},
                          {gate, up, out});
}

}  // namespace hearth
