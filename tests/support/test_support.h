// Helpers shared by Hearth's tests: GPU skipping, error metrics, poisoning, test data paths.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "kernels/core/device.h"

namespace hearth::testing {

// True when a CUDA device is usable (never in a CPU-only build or without a driver).
bool GpuAvailable();

// Absolute path of a file under tests/data (HEARTH_TEST_DATA overrides the directory).
std::string TestDataPath(const std::string& relative);

// ||out - ref||_2 / ||ref||_2 in double precision. Returns +inf if any element of `out` or `ref`
// is NaN or inf, so NaN never passes a tolerance check. With ||ref|| = 0 returns ||out||.
double RelL2(const float* out, const float* ref, size_t n);
inline double RelL2(const std::vector<float>& out, const std::vector<float>& ref) {
  EXPECT_EQ(out.size(), ref.size());
  return RelL2(out.data(), ref.data(), std::min(out.size(), ref.size()));
}

// Fills with uniform values in [lo, hi) from a fixed-seed generator.
void FillUniform(std::vector<float>& v, uint64_t seed, float lo = -1.f, float hi = 1.f);
std::vector<float> RandomVector(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f);

// A copy of `bytes` at a 16-byte aligned address with nothing after its last byte: under ASan a
// read past the end is an error (kernels under the CPU emulation that must stop at a tensor's
// end).
struct AlignedDelete {
  void operator()(uint8_t* p) const { ::operator delete (p, std::align_val_t{16}); }
};
using AlignedBytes = std::unique_ptr<uint8_t, AlignedDelete>;
AlignedBytes CopyAligned16(const std::vector<uint8_t>& bytes);

// A kernel's outputs y[t * n + row] against want(t, row), bit for bit (NaN bits too); the first
// three differences are reported with their token and row.
template <class Want>
void ExpectBitsEqual(const std::vector<float>& y, int num_tokens, int n, Want want) {
  size_t mismatches = 0;
  for (int t = 0; t < num_tokens; ++t) {
    for (int row = 0; row < n; ++row) {
      const float w = want(t, row), got = y[size_t(t) * n + row];
      if (std::memcmp(&got, &w, sizeof(float)) != 0 && mismatches++ < 3) {
        ADD_FAILURE() << "token " << t << " row " << row << ": kernel " << got << ", want " << w;
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

// The byte pattern outputs are poisoned with before a kernel runs (a NaN in f32, f16 and bf16).
constexpr uint8_t kPoisonByte = 0xFF;

}  // namespace hearth::testing

// First statement of every GPU test body.
#define HEARTH_REQUIRE_GPU()                                                  \
  do {                                                                        \
    if (!::hearth::testing::GpuAvailable()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)
