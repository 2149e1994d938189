#include "kernels/core/pdl.h"

#include <cstdlib>
#include <cstring>

#ifdef HEARTH_HAVE_CUDA
#include "kernels/core/cuda_check.h"
#endif

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
  const Result<int> major = CurrentDeviceAttribute<cudaDevAttrComputeCapabilityMajor>();
  if (!major.ok()) {
    (void)cudaGetLastError();  // no device: ordinary launches, whose own errors then report it
    return false;
  }
  return PdlSupported(*major);
}
#endif

}  // namespace hearth::cuda
