// What GPU, if any, this process can use. Safe to call in CPU-only builds and on machines
// without a driver: any error from the runtime means "no device".
#pragma once

#include <cstddef>
#include <string>

namespace hearth {

struct GpuInfo {
  int device = -1;
  std::string name;
  int sm_count = 0;
  int cc_major = 0, cc_minor = 0;
  size_t total_memory = 0;
  size_t l2_bytes = 0;
  size_t max_smem_per_block_optin = 0;
};

// Number of usable CUDA devices; 0 without a driver, without a device, or in a CPU-only build.
int GpuCount();

// Properties of device `device`, or an info with device = -1 if it is not usable.
GpuInfo GetGpuInfo(int device = 0);

// Device-to-device copy bandwidth of `device` in GB/s, counting the bytes read and written (the
// roofline's ceiling, as benchmarks/kernels/ceiling.cu measures it), from timed copies of
// `bytes`; 0 without a usable device or when the buffers do not fit.
double MeasureGpuCopyGbps(int device, size_t bytes = size_t{1} << 30);

}  // namespace hearth
