// Programmatic dependent launch (PDL, sm_90 and newer) for the forward pass's kernels.
//
// Why. A decode step is a chain of a few hundred short kernels (per layer: norm, the x pre-kernel
// and GEMV of each projection, RoPE, the KV write, attention, SiLU-mul). Launched the ordinary
// way, each one starts only when the one before has drained: every SM idles through the
// previous kernel's tail, the launch and the new kernel's ramp, about as long as a 4096 x 4096
// GEMV of Q4_K weights takes (benchmarks/RESULTS.md: a kernel that only reads those 9.4 MB
// reaches 50% of copy bandwidth chained, 79% at 4096 x 14336). Launched as a programmatic
// dependent, a kernel's CTAs are placed while its predecessor still runs (on SMs as they free),
// so they are ready, and may already load what does not depend on the predecessor (weights),
// when it ends.
//
// The contract, kept by every kernel launched through LaunchKernel:
//   - it calls PdlLaunchDependents() (pdl.cuh) first: its successor may then be launched as
//     soon as all of its CTAs have started, never earlier (so no CTA of it waits for a slot
//     that a waiting successor holds);
//   - every thread calls PdlWait() before it reads or writes any memory that an earlier kernel
//     of the stream writes or reads (its inputs, outputs, workspace), and before it exits.
//     PdlWait returns once the predecessor has completed and its writes are visible; since the
//     predecessor itself waited for its own, this orders a kernel after every earlier one.
// Only constant data (weights) may be read before PdlWait. Kernels of other libraries
// (cuBLASLt) and memory operations keep the ordinary stream order around them.
//
// HEARTH_PDL=0 (or off / false) launches every kernel the ordinary way; on devices older than
// sm_90 launches are ordinary too (PdlWait and PdlLaunchDependents are then no-ops).
#pragma once

#ifdef HEARTH_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace hearth::cuda {

// Whether the value of HEARTH_PDL (nullptr when unset) leaves programmatic launches on: only
// "0", "off" and "false" turn them off.
bool PdlRequested(const char* env_value);

// Whether a device of compute capability cc_major.x can launch programmatic dependents.
constexpr bool PdlSupported(int cc_major) { return cc_major >= 9; }

#ifdef HEARTH_HAVE_CUDA
// PdlRequested(getenv("HEARTH_PDL")) && PdlSupported(the current device), found once per device.
bool PdlEnabled();

// Launches kernel<<<grid, block, smem, stream>>>(args...), as a programmatic dependent of the
// stream's previous kernel where PdlEnabled(). The kernel must keep the contract above. Returns
// the launch's error (also left for cudaGetLastError, as <<<>>> does).
template <class... Params, class... Args>
cudaError_t LaunchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                         cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attr[1];
  if (PdlEnabled()) {
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    config.attrs = attr;
    config.numAttrs = 1;
  }
  return cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...);
}
#endif

}  // namespace hearth::cuda
