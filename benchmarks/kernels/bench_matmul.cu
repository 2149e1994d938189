// Matmul benchmark: every weight type for the Llama-3-8B shapes (n x k) 4096x4096, 14336x4096
// (gate/up), 4096x14336 (down) at 1..4096 tokens, bf16 activations. Per case, op=matmul is the
// kernel GpuMatmul selects (SelectMatmulKernelForRun, with HEARTH_GEMV / HEARTH_QUANT_GEMM as
// set), op=matmul_alt each other kernel that can run the case (GpuMatmul::RunKernel: the GEMVs up
// to 8 tokens, the fused dequantize + MMA from 2 up to 128, dequantize + cuBLASLt from 4), so
// that the selection table is checked against measurements of one run.
// Timing: TimeUs, one launch between CUDA events with L2 flushed before it (a cold launch, its
// start-up included); cases with the suffix _stream (1 token, and op=read) time a chain of
// launches over rotating copies of W (TimeSequenceUs: the steady state of a decode step).
// op=read is a kernel that only reads the weight bytes, timed both ways: the bound at that size
// (and _stream_pdl: its chain launched as programmatic dependents, as the matmuls are, pdl.h).
// op=matmul_split: where the MMA is selected at 16, 32, 64 tokens, it again with k cut into 1, 2,
// 3, 4, 6, 8 ranges (LaunchQuantMmaSplit), the data behind PlanQuantMma's constants.
// gbps = weight bytes / time (the bound up to ~128 tokens), tflops = 2 * tokens * n * k / time.
//   bench_matmul [--quick] [--once] [--tokens N,N,...] [TYPE...]   e.g. bench_matmul Q4_K Q8_0
// --tokens replaces the token counts (default 1, 2, 4, 8, ..., 4096), e.g. 3,5,6,7 to time the
// counts DefaultQuantKernelRanges interpolates.
// --once runs every launch once, untimed, for a profiler (scripts/gpu_check.sh's ncu step: every
// kernel of every case exactly once, so a kernel-name filter picks them without launch counts).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/matmul/gemv_direct.h"
#include "kernels/matmul/matmul.h"
#include "kernels/matmul/quant_mma.h"
#include "tests/kernels/quant/random_blocks.h"

namespace {

using hearth::DType;

#define BENCH_CHECK_CUDA(stmt)                                                \
  do {                                                                        \
    const cudaError_t e_ = (stmt);                                            \
    if (e_ != cudaSuccess) {                                                  \
      std::fprintf(stderr, "%s failed: %s\n", #stmt, cudaGetErrorString(e_)); \
      std::exit(1);                                                           \
    }                                                                         \
  } while (0)

struct Shape {
  int n, k;
};
constexpr Shape kShapes[] = {{4096, 4096}, {14336, 4096}, {4096, 14336}};
// 16..128: continuous batching's decode batches, where the fused dequantize + MMA competes with
// dequantize + cuBLASLt.
constexpr int kDefaultTokens[] = {1, 2, 4, 8, 16, 32, 64, 128, 512, 4096};
// Cases up to here report GB/s on the weight bytes (the read bounds them).
constexpr int kMaxWeightBoundTokens = 128;
// The steady-state timings rotate over this many bytes of W copies (H100's L2: 50 MB).
constexpr int64_t kRotationBytes = int64_t{512} << 20;
// Up to 8 splits of 64 tokens of 14336 rows (the split sweep at 16, 32, 64 tokens).
constexpr int64_t kSplitScratchBytes = int64_t{8} * 64 * 14336 * 4;

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, once = false;
  std::vector<DType> types;
  std::vector<int> token_counts(std::begin(kDefaultTokens), std::end(kDefaultTokens));
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--once") == 0) {
      once = true;
    } else if (std::strcmp(argv[i], "--tokens") == 0 && i + 1 < argc) {
      token_counts.clear();
      for (const char* p = argv[++i]; *p != '\0';) {
        char* end = nullptr;
        const long v = std::strtol(p, &end, 10);
        if (end == p || v < 1 || v > 4096 || (*end != ',' && *end != '\0')) {
          std::fprintf(stderr, "--tokens: a comma-separated list of 1..4096, got %s\n", argv[i]);
          return 2;
        }
        token_counts.push_back(static_cast<int>(v));
        p = *end == ',' ? end + 1 : end;
      }
    } else if (auto t = hearth::DTypeFromName(argv[i])) {
      types.push_back(*t);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (types.empty()) {
    types = {DType::kQ4_K, DType::kQ6_K, DType::kQ8_0, DType::kBF16, DType::kQ4_0, DType::kQ4_1,
             DType::kQ5_0, DType::kQ5_1, DType::kQ2_K, DType::kQ3_K, DType::kQ5_K, DType::kF16};
  }
  const hearth::bench::Ceilings ceilings = hearth::bench::MeasureCeilings(true);
  auto mm = hearth::GpuMatmul::Create();
  if (!mm.ok()) {
    std::fprintf(stderr, "%s\n", mm.status().ToString().c_str());
    return 1;
  }
  const int64_t max_elems = int64_t{4096} * 14336;
  const int max_tokens = quick ? 512 : 4096;
  void *dw, *dx, *dy;
  BENCH_CHECK_CUDA(cudaMalloc(&dx, int64_t{max_tokens} * 14336 * 2));
  BENCH_CHECK_CUDA(cudaMalloc(&dy, int64_t{max_tokens} * 14336 * 2));
  // Random, never constant (a constant fill flatters tensor-core timings).
  hearth::bench::FillRandomBf16(dx, static_cast<size_t>(max_tokens) * 14336, 7);
  if (!(*mm)->Reserve(max_elems).ok()) return 1;
  void* dsplit;  // the split sums of LaunchQuantMmaSplit
  BENCH_CHECK_CUDA(cudaMalloc(&dsplit, kSplitScratchBytes));
  // The rotation of W copies for the steady-state timings (TimeSequenceUs).
  void* drot = nullptr;
  if (!once) {
    BENCH_CHECK_CUDA(cudaMalloc(&drot, kRotationBytes + int64_t{4096} * 14336 * 2));
  }
  const auto gemv = hearth::ParseGemvOverride(std::getenv("HEARTH_GEMV"));
  const auto quant_gemm = hearth::ParseQuantGemm(std::getenv("HEARTH_QUANT_GEMM"));
  if (!gemv.ok() || !quant_gemm.ok()) {
    std::fprintf(stderr, "%s\n",
                 (gemv.ok() ? quant_gemm.status() : gemv.status()).ToString().c_str());
    return 2;
  }

  const auto time_us = [once](const std::function<void(cudaStream_t)>& fn) {
    return once ? hearth::bench::TimeUs(fn, 0, 1, false) : hearth::bench::TimeUs(fn);
  };
  for (DType type : types) {
    const std::string tname(hearth::DTypeName(type));
    const std::vector<uint8_t> w = hearth::testing::RandomWeights(type, max_elems, 42);
    BENCH_CHECK_CUDA(cudaMalloc(&dw, w.size()));
    BENCH_CHECK_CUDA(cudaMemcpy(dw, w.data(), w.size(), cudaMemcpyHostToDevice));
    const DType act = type == DType::kF16 ? DType::kF16 : DType::kBF16;
    for (const Shape& s : kShapes) {
      const int64_t w_bytes = *hearth::DTypeBytes(type, int64_t{s.n} * s.k);
      // What a kernel that only reads these bytes reaches (the decode GEMVs' bound at this size).
      if (!once) {
        const double read_gbps = hearth::bench::MeasureReadGBps(dw, w_bytes / 16 * 16);
        hearth::bench::PrintResult("read", "n" + std::to_string(s.n) + "_k" + std::to_string(s.k),
                                   tname, w_bytes / (read_gbps * 1e3), read_gbps, 0, ceilings);
      }
      // Steady state at 1 token: the same launch over `copies` distinct copies of W back to back
      // (CUDA events around the chain; together far beyond L2), as a decode step's layers run.
      const int64_t stride = (w_bytes + 255) / 256 * 256;
      const int copies = once ? 0 : static_cast<int>(std::max<int64_t>(4, kRotationBytes / stride));
      for (int c = 0; c < copies; ++c) {
        BENCH_CHECK_CUDA(cudaMemcpy(static_cast<uint8_t*>(drot) + c * stride, dw, w_bytes,
                                    cudaMemcpyDeviceToDevice));
      }
      const auto copy_at = [&](int i) {
        return static_cast<const uint8_t*>(drot) + (i % copies) * stride;
      };
      const std::string shape_name = "n" + std::to_string(s.n) + "_k" + std::to_string(s.k);
      if (copies > 0) {
        const double us = hearth::bench::TimeSequenceUs(
            [&](cudaStream_t st, int i) {
              hearth::bench::LaunchRead(copy_at(i), w_bytes / 16 * 16, st);
            },
            2 * copies);
        hearth::bench::PrintResult("read", shape_name + "_stream", tname, us, w_bytes / (us * 1e3),
                                   0, ceilings);
        // The same chain launched as programmatic dependents (kernels/core/pdl.h; ordinary
        // launches with HEARTH_PDL=0 or before sm_90): the bound of a decode step's GEMVs when
        // each one's weight reads start while the one before drains.
        const double us_pdl = hearth::bench::TimeSequenceUs(
            [&](cudaStream_t st, int i) {
              hearth::bench::LaunchRead(copy_at(i), w_bytes / 16 * 16, st, /*pdl=*/true);
            },
            2 * copies);
        hearth::bench::PrintResult("read", shape_name + "_stream_pdl", tname, us_pdl,
                                   w_bytes / (us_pdl * 1e3), 0, ceilings);
      }
      for (int num_tokens : token_counts) {
        if (num_tokens > max_tokens) continue;
        const hearth::MatmulKernel selected =
            hearth::SelectMatmulKernelForRun(type, act, num_tokens, s.n, s.k, *gemv, *quant_gemm);
        // The selected kernel (op=matmul), then the others that can run this case
        // (op=matmul_alt) for comparison in the same run: the GEMVs up to 8 tokens, the MMA from
        // 2 tokens up to kMaxQuantMmaTokens, dequantize + cuBLASLt from 4.
        std::vector<hearth::MatmulKernel> kernels = {selected};
        for (hearth::MatmulKernel alt :
             {hearth::MatmulKernel::kQuantGemv, hearth::MatmulKernel::kQuantGemvQ8,
              hearth::MatmulKernel::kQuantGemvQ8Direct, hearth::MatmulKernel::kQuantMma,
              hearth::MatmulKernel::kDequantCublasLt}) {
          const bool worth = (alt != hearth::MatmulKernel::kQuantMma || num_tokens >= 2) &&
                             (alt != hearth::MatmulKernel::kDequantCublasLt || num_tokens >= 4);
          if (alt != selected && worth &&
              hearth::MatmulKernelRuns(alt, type, act, num_tokens, s.n, s.k)) {
            kernels.push_back(alt);
          }
        }
        for (hearth::MatmulKernel kernel : kernels) {
          const std::string op = kernel == selected ? "matmul" : "matmul_alt";
          const std::string case_name = shape_name + "_t" + std::to_string(num_tokens) + "_" +
                                        std::string(hearth::MatmulKernelName(kernel));
          hearth::Status status;
          const auto run = [&](cudaStream_t stream, const void* wp) {
            const hearth::Status st = (*mm)->RunKernel(kernel, type, wp, act, dx, nullptr, dy,
                                                       num_tokens, s.n, s.k, stream);
            if (!st.ok()) status = st;
          };
          const double us = time_us([&](cudaStream_t stream) { run(stream, dw); });
          if (!status.ok()) {
            std::fprintf(stderr, "%s %s: %s\n", tname.c_str(), case_name.c_str(),
                         status.ToString().c_str());
            continue;
          }
          // Up to ~128 tokens the weight read bounds the time; for many, the tensor cores.
          const double tflops = 2.0 * num_tokens * s.n * double(s.k) / (us * 1e6);
          hearth::bench::PrintResult(op, case_name, tname, us,
                                     num_tokens <= kMaxWeightBoundTokens ? w_bytes / (us * 1e3) : 0,
                                     tflops, ceilings);
          // The split of k tried every way on the MMA's decode batches (PlanQuantMma's tuning).
          if (kernel == hearth::MatmulKernel::kQuantMma && !once &&
              (num_tokens == 16 || num_tokens == 32 || num_tokens == 64)) {
            for (int splits : {1, 2, 3, 4, 6, 8}) {
              const double us_split = time_us([&](cudaStream_t stream) {
                const hearth::Status st =
                    hearth::LaunchQuantMmaSplit(splits, type, dw, act, dx, nullptr, dy, num_tokens,
                                                s.n, s.k, dsplit, kSplitScratchBytes, stream);
                if (!st.ok()) status = st;
              });
              if (!status.ok()) break;
              hearth::bench::PrintResult("matmul_split",
                                         case_name + "_split" + std::to_string(splits), tname,
                                         us_split, w_bytes / (us_split * 1e3), 0, ceilings);
            }
            if (!status.ok()) {
              std::fprintf(stderr, "%s %s split: %s\n", tname.c_str(), case_name.c_str(),
                           status.ToString().c_str());
            }
          }
          if (num_tokens == 1 && copies > 0) {
            const double us_seq = hearth::bench::TimeSequenceUs(
                [&](cudaStream_t stream, int i) { run(stream, copy_at(i)); }, 2 * copies);
            hearth::bench::PrintResult(op, case_name + "_stream", tname, us_seq,
                                       w_bytes / (us_seq * 1e3), 0, ceilings);
          }
        }
      }
    }
    BENCH_CHECK_CUDA(cudaFree(dw));
  }
  BENCH_CHECK_CUDA(cudaFree(dx));
  BENCH_CHECK_CUDA(cudaFree(dy));
  if (drot != nullptr) BENCH_CHECK_CUDA(cudaFree(drot));
  BENCH_CHECK_CUDA(cudaFree(dsplit));
  return 0;
}
