#include "kernels/core/pdl.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace hearth::cuda {

bool PdlRequested(const char* env_value) {
  if (env_value == nullptr) return true;
  return std::strcmp(env_value, "0") != 0 && std::strcmp(env_value, "off") != 0 &&
         std::strcmp(env_value, "false") != 0;
}

#ifdef HEARTH_HAVE_CUDA
bool PdlEnabled() {
  static const bool requested = PdlRequested(std::getenv("HEARTH_PDL"));
  if (!requested) return false;
  // Per device: 0 unknown, 1 off, 2 on.
  static std::array<std::atomic<int>, 64> known{};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  std::atomic<int>* slot = device < static_cast<int>(known.size()) ? &known[device] : nullptr;
  if (slot != nullptr) {
    const int k = slot->load(std::memory_order_relaxed);
    if (k != 0) return k == 2;
  }
  int major = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  const bool on = PdlSupported(major);
  if (slot != nullptr) slot->store(on ? 2 : 1, std::memory_order_relaxed);
  return on;
}
#endif

}  // namespace hearth::cuda
