// Device side of programmatic dependent launch (pdl.h has the contract): the two PTX
// instructions, no-ops before sm_90, on the host and under the CPU block emulation.
#pragma once

namespace hearth::cuda {

// Lets the stream's next kernel, if it was launched as a programmatic dependent, be launched
// once every CTA of this grid has called this (or exited).
__device__ __forceinline__ void PdlLaunchDependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Returns once the grids this one depends on have completed and their memory operations are
// visible; at once when the launch was an ordinary one.
__device__ __forceinline__ void PdlWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// The start of a kernel that reads nothing before its predecessors are done: its successor may
// be launched, then it waits for the predecessors.
__device__ __forceinline__ void PdlBegin() {
  PdlLaunchDependents();
  PdlWait();
}

}  // namespace hearth::cuda
