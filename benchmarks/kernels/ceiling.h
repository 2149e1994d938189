// The ceilings every kernel benchmark reports against, measured on the device in the same run:
// device-to-device copy bandwidth and the bf16 tensor-core matmul rate through cuBLAS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "kernels/core/stream.h"

namespace hearth::bench {

struct Ceilings {
  double copy_gbps = 0;    // (bytes read + bytes written) / s of a large cudaMemcpyAsync D2D
  double bf16_tflops = 0;  // 2*M*N*K / s of a large bf16 GEMM (fp32 accumulate) through cuBLAS
};

// Copy of `bytes` bytes, best of several timed repetitions (GB = 1e9 bytes).
double MeasureCopyGBps(size_t bytes = size_t{1} << 30);
// bf16 GEMM m x n x k on random data, best of several timed repetitions (TFLOP = 1e12 FLOP).
double MeasureBf16MatmulTflops(int m = 8192, int n = 8192, int k = 8192);
// A kernel that only reads `bytes` (a multiple of 16) at p once, timed as TimeUs times the
// kernels (L2 flushed before each launch): the bandwidth a memory-bound kernel can reach on
// that many bytes, launch and ramp included. For small operands (a 4096 x 4096 Q4_K matrix is
// 9.4 MB, ~3 us at the copy rate) it is well below the large-copy ceiling.
double MeasureReadGBps(const void* p, size_t bytes);
// The read kernel of MeasureReadGBps, launched once on `stream` (for TimeSequenceUs); with pdl,
// as a programmatic dependent of the stream's previous kernel where the device and HEARTH_PDL
// allow (kernels/core/pdl.h): in a chain it then reads while the previous launch drains.
void LaunchRead(const void* p, size_t bytes, cudaStream_t stream, bool pdl = false);
// Both (prints them once).
Ceilings MeasureCeilings(bool with_matmul = true);

// Fills `n` bf16 values with uniform pseudo-random numbers in [-1, 1) (synchronous). Benchmarks
// time on random data: constant or zero inputs make tensor cores draw less power and run faster
// than real data does. The bit patterns are also finite, non-constant fp16 values.
void FillRandomBf16(void* p, size_t n, uint32_t seed);

// Median time in microseconds of `fn(stream)` over `iters` timed launches after `warmup`, each
// timed with CUDA events. If `flush_l2` is set, a 256 MiB buffer is overwritten before every
// launch so that memory-bound kernels are timed from HBM, not from L2.
double TimeUs(const std::function<void(cudaStream_t)>& fn, int warmup = 3, int iters = 20,
              bool flush_l2 = true);

// Time per launch of a chain: fn(stream, i) for i = 0..launches-1 back to back on one stream,
// timed as a whole (CUDA events around the chain; median of `reps` chains after one untimed).
// No L2 flush: the caller rotates over buffers that together exceed L2, so that every launch
// reads from HBM, as a decode step's chain of layers does; each launch's start then overlaps the
// previous one's tail, as in a CUDA graph.
double TimeSequenceUs(const std::function<void(cudaStream_t, int)>& fn, int launches, int reps = 5);

// One benchmark line, printed in a fixed format that scripts/collect_results.py understands:
//   RESULT op=<op> case=<case> dtype=<dtype> us=<median> gbps=<achieved> tflops=<achieved>
//          pct=<percent of the ceiling that bounds this case> bound=<copy|matmul>
// Pass gbps or tflops as 0 when it does not apply.
void PrintResult(const std::string& op, const std::string& case_name, const std::string& dtype,
                 double us, double gbps, double tflops, const Ceilings& c);

}  // namespace hearth::bench
