#include "kernels/core/dtype.h"

namespace hearth {

std::optional<DType> DTypeFromName(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(DType::kI32); ++i) {
    const auto t = static_cast<DType>(i);
    if (DTypeName(t) == name) return t;
  }
  return std::nullopt;
}

}  // namespace hearth
