// The case table of the row gathers (embedding lookup and sampled-row gather).
#pragma once

#include <cstdint>

namespace hearth::embedding_cases {

struct GatherCase {
  int64_t vocab;  // table rows (for gather_rows: num_tokens of the hidden states)
  int hidden;
  int64_t num_rows;
};

// The last one: the tiny validation models (vocab 512, hidden 64).
inline constexpr GatherCase kTestCases[] = {
    {1000, 576, 1},   {1000, 576, 7},  {5000, 769, 64},  {3000, 2048, 512}, {3000, 3072, 7},
    {3000, 4096, 64}, {1000, 5120, 7}, {1000, 5125, 64}, {2000, 8192, 512}, {512, 64, 7},
};

inline constexpr GatherCase kBenchCases[] = {
    {128256, 4096, 1},     {128256, 4096, 64},  {128256, 4096, 512},   {128256, 4096, 4096},
    {128256, 4096, 16384}, {49152, 576, 16384}, {151936, 2048, 16384},
};

// Pure conversions: rounding to the output dtype only.
inline double Tolerance(int out_dtype_bytes, bool bf16) {
  return out_dtype_bytes == 4 ? 0.0 : (bf16 ? 5e-3 : 1e-3);
}

}  // namespace hearth::embedding_cases
