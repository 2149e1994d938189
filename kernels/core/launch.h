// Host-side launch choices shared by the row and elementwise kernels. Pure functions, unit-tested
// without a GPU: whether 16-byte vector accesses are possible, and how many threads a row gets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace hearth {

enum class AccessPath : uint8_t {
  kVector16,  // every row starts on a 16-byte boundary and is a whole number of 16-byte vectors
  kScalar,    // alignment or the row length prevents vectors: one element per access
};

inline const char* AccessPathName(AccessPath p) {
  return p == AccessPath::kVector16 ? "vector16" : "scalar";
}

// kVector16 iff every pointer is 16-byte aligned and every row stride (in bytes) is a multiple
// of 16. `row_elems` lists the row strides (in elements) of all tensors involved.
inline AccessPath ChooseAccessPath(size_t elem_bytes, std::initializer_list<int64_t> row_elems,
                                   std::initializer_list<const void*> ptrs) {
  for (int64_t n : row_elems)
    if ((static_cast<uint64_t>(n) * elem_bytes) % 16 != 0) return AccessPath::kScalar;
  for (const void* p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return AccessPath::kScalar;
  return AccessPath::kVector16;
}

// Threads for a kernel that gives one block to a row of `row_accesses` accesses (vectors or
// scalars): a multiple of 32, between 32 and 1024, about one access per thread for short rows
// and up to 4 per thread before growing past 256 threads.
inline int RowThreads(int64_t row_accesses) {
  int64_t t = row_accesses <= 256 ? row_accesses : (row_accesses + 3) / 4;
  if (t < 256 && row_accesses > 256) t = 256;
  t = (t + 31) / 32 * 32;
  if (t < 32) t = 32;
  if (t > 1024) t = 1024;
  return static_cast<int>(t);
}

}  // namespace hearth
