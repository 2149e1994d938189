#include "tests/support/test_support.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace hearth::testing {

bool GpuAvailable() {
  static const bool available = GpuCount() > 0;
  return available;
}

std::string TestDataPath(const std::string& relative) {
  const char* dir = std::getenv("HEARTH_TEST_DATA");
  std::string base = dir != nullptr ? dir : HEARTH_SOURCE_DIR "/tests/data";
  return base + "/" + relative;
}

double RelL2(const float* out, const float* ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(out[i]) || !std::isfinite(ref[i])) return INFINITY;
    const double d = static_cast<double>(out[i]) - ref[i];
    num += d * d;
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

void FillUniform(std::vector<float>& v, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& x : v) x = dist(rng);
}

std::vector<float> RandomVector(size_t n, uint64_t seed, float lo, float hi) {
  std::vector<float> v(n);
  FillUniform(v, seed, lo, hi);
  return v;
}

AlignedBytes CopyAligned16(const std::vector<uint8_t>& bytes) {
  AlignedBytes p(static_cast<uint8_t*>(::operator new (bytes.size(), std::align_val_t{16})));
  std::memcpy(p.get(), bytes.data(), bytes.size());
  return p;
}

}  // namespace hearth::testing
