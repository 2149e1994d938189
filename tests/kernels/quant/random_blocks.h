// Random but well-formed GGUF weight data for kernel tests: random quant bits and scales, with
// the fp16 super-scales (d, dmin, m) set to small finite values so that no block decodes to
// inf or NaN. Plain types hold random values in [-1, 1).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/core/dtype.h"

namespace hearth::testing {

// Bytes of `num_elems` elements of `type` (num_elems a whole number of blocks).
std::vector<uint8_t> RandomWeights(DType type, int64_t num_elems, uint64_t seed);

}  // namespace hearth::testing
