#include <string>
#include <type_traits>

#include "kernels/quant/block_decode.h"
#include "kernels/quant/dequant.h"

namespace hearth {

Status DequantizeCpu(DType type, const void* src, float* dst, int64_t num_elems) {
  const DTypeInfo info = GetDTypeInfo(type);
  if (!DTypeBytes(type, num_elems).has_value()) {
    return InvalidArgumentError("DequantizeCpu: " + std::to_string(num_elems) + " elements of " +
                                std::string(info.name) + " are not a whole number of " +
                                std::to_string(info.block_elems) + "-element blocks");
  }
  if (num_elems > 0 && (src == nullptr || dst == nullptr)) {
    return InvalidArgumentError("DequantizeCpu: null source or destination");
  }
  return quant::VisitWeightType(type, [&](auto tag) -> Status {
    using Codec = quant::BlockCodec<decltype(tag)::value>;
    const auto* bytes = static_cast<const uint8_t*>(src);
    const int64_t num_groups = num_elems / 8;
    constexpr int kGroupsPerBlock = Codec::kElems / 8;
#pragma omp parallel for schedule(static) if (num_groups > (1 << 16))
    for (int64_t g = 0; g < num_groups; ++g) {
      Codec::Decode8(bytes + (g / kGroupsPerBlock) * Codec::kBytes,
                     static_cast<int>(g % kGroupsPerBlock), dst + 8 * g);
    }
    // Plain types may end in a partial group of 8: decode it through a padded copy.
    const int64_t tail = num_elems - 8 * num_groups;
    if (tail > 0) {
      const int elem_bytes = Codec::kBytes / 8;
      uint8_t padded[Codec::kBytes] = {};
      std::memcpy(padded, bytes + 8 * num_groups * elem_bytes, tail * elem_bytes);
      float out[8];
      Codec::Decode8(padded, 0, out);
      std::memcpy(dst + 8 * num_groups, out, tail * sizeof(float));
    }
    return Status::Ok();
  });
}

}  // namespace hearth
