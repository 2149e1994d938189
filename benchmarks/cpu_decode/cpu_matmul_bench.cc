// CPU matmul speed by code path (not a test): MatmulCpuOnPath on random weights for SmolLM2-135M's
// shapes (n x k = 576x576, 1536x576, 576x1536, 49152x576; Llama-3.2-1B's 2048x2048, 8192x2048,
// 2048x8192, 128256x2048 for the K-quants) at 1, 2, 3, 4, 8, 16, 32 tokens, each
// path timed in alternation within one run (the machine is shared, so only ratios taken side by
// side mean anything). "new" is the path SelectCpuMatmulPath picks; "old" the MatmulCpu of an
// older commit when built as bench_cpu_matmul_baseline (column "baseline", see CMakeLists.txt),
// else what MatmulCpu ran before 2026-11-22 as far as it is still reachable (avx2_token_dots for
// 2+ tokens, exact; today's avx2_fused for one). Every variant's output is compared bit for bit,
// but for "int8": MatmulCpuInt8 (8-bit activations, other results) where the type has it, with
// "f32/int8" the selected float path's time over its own.
//
//   bench_cpu_matmul [--rounds N] [--quick] [TYPE...]    (types default to Q4_1 Q8_0)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "kernels/core/cpu_features.h"
#include "kernels/matmul/matmul.h"
#include "tests/kernels/quant/random_blocks.h"

namespace hearth {

#ifdef HEARTH_BENCH_BASELINE
// MatmulCpu of an older commit, compiled under this name (bench_cpu_matmul_baseline).
Status MatmulCpuBaseline(DType w_type, const void* w, const float* x, const float* bias, float* y,
                         int num_tokens, int n, int k);
#endif

namespace {

struct Shape {
  int n, k;
  const char* what;
};
constexpr Shape kShapes[] = {
    {576, 576, "q/o proj"}, {1536, 576, "gate/up"}, {576, 1536, "down"}, {49152, 576, "lm head"}};
// For the types whose block (256 for the K-quants) does not divide 576: Llama-3.2-1B's shapes.
constexpr Shape kLlama1bShapes[] = {{2048, 2048, "q/o proj"},
                                    {8192, 2048, "gate/up"},
                                    {2048, 8192, "down"},
                                    {128256, 2048, "lm head"}};
constexpr int kTokenCounts[] = {1, 2, 3, 4, 8, 16, 32};
constexpr CpuMatmulPath kPaths[] = {CpuMatmulPath::kAvx2Fused, CpuMatmulPath::kAvx2TokenDots,
                                    CpuMatmulPath::kAvx2Blocked};

// With one thread the process's CPU time: time slices lost to other processes on a shared
// machine do not count. With more, wall time (a thread waiting at the barrier costs time).
bool g_cpu_clock = false;
double Now() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int Main(int argc, char** argv) {
  int rounds = 25;
  bool quick = false;
  std::vector<DType> types;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--quick") {
      quick = true;
    } else {
      bool found = false;
      for (int t = 0; t <= static_cast<int>(DType::kQ6_K); ++t) {
        if (DTypeName(static_cast<DType>(t)) == a) {
          types.push_back(static_cast<DType>(t));
          found = true;
        }
      }
      if (!found) {
        std::fprintf(stderr, "usage: %s [--rounds N] [--quick] [TYPE...]; unknown '%s'\n", argv[0],
                     a.c_str());
        return 2;
      }
    }
  }
  if (types.empty()) types = {DType::kQ4_1, DType::kQ8_0};
  if (!CpuHasAvx2F16c()) {
    std::fprintf(stderr, "bench_cpu_matmul: this CPU lacks AVX2/F16C; only the scalar path runs\n");
    return 1;
  }
  g_cpu_clock = omp_get_max_threads() == 1;
  std::printf(
      "# bench_cpu_matmul, %d OpenMP threads, min of %d alternating rounds; %s ms per call\n",
      omp_get_max_threads(), rounds, g_cpu_clock ? "CPU-time" : "wall");
  std::printf("%-5s %-8s %11s %3s %9s %9s %9s", "type", "what", "n x k", "T", "fused", "tok_dots",
              "blocked");
#ifdef HEARTH_BENCH_BASELINE
  std::printf(" %9s", "baseline");
#endif
  std::printf("  %-12s %7s %8s %9s %8s\n", "new path", "old/new", "us/tok", "int8", "f32/int8");
  for (const DType type : types) {
    const bool small_block = 576 % GetDTypeInfo(type).block_elems == 0;
    for (const Shape& shape : small_block ? kShapes : kLlama1bShapes) {
      if (quick && shape.n > 16384) continue;
      const int n = shape.n, k = shape.k;
      const auto w = testing::RandomWeights(type, int64_t{n} * k, 1);
      std::vector<float> x(size_t{32} * k);
      for (size_t i = 0; i < x.size(); ++i) {
        x[i] = static_cast<float>((i * 7919) % 2001) / 1000.f - 1.f;
      }
      for (const int tokens : kTokenCounts) {
        if (quick && tokens > 8) continue;
        // The timed variants: the three AVX2 paths, then (if linked in) the baseline.
        std::vector<std::function<Status(float*)>> run;
        for (const CpuMatmulPath path : kPaths) {
          run.push_back([&, path, tokens](float* y) {
            return MatmulCpuOnPath(path, type, w.data(), x.data(), nullptr, y, tokens, n, k);
          });
        }
#ifdef HEARTH_BENCH_BASELINE
        run.push_back([&, tokens](float* y) {
          return MatmulCpuBaseline(type, w.data(), x.data(), nullptr, y, tokens, n, k);
        });
#endif
        // Last, not compared: the 8-bit path.
        const bool int8 = HasCpuInt8Matmul(type);
        if (int8) {
          run.push_back([&, tokens](float* y) {
            return MatmulCpuInt8(type, w.data(), x.data(), nullptr, y, tokens, n, k);
          });
        }
        const int num_variants = static_cast<int>(run.size());
        const int num_float = num_variants - (int8 ? 1 : 0);
        std::vector<std::vector<float>> y(num_variants, std::vector<float>(size_t(tokens) * n));
        std::vector<double> best(num_variants, 0);
        std::vector<bool> has(num_variants);
        for (int v = 0; v < num_variants; ++v) {
          const Status s = run[v](y[v].data());
          has[v] = s.ok();  // no fused kernel for F32, F16, BF16 and the K-quants
          if (!s.ok() && s.code() != StatusCode::kUnimplemented) {
            std::fprintf(stderr, "%s\n", s.ToString().c_str());
            return 1;
          }
        }
        for (int v = 0; v < num_variants; ++v) {
          if (has[v] && v < num_float &&
              std::memcmp(y[v].data(), y[2].data(), y[v].size() * 4) != 0) {
            std::fprintf(stderr,
                         "bench_cpu_matmul: variant %d differs from blocked (%s n=%d k=%d "
                         "T=%d)\n",
                         v, std::string(DTypeName(type)).c_str(), n, k, tokens);
            return 1;
          }
          if (has[v]) best[v] = 1e30;
        }
        // Enough calls per sample for ~2 ms (the first call's time as the guess): short samples,
        // many rounds and the minimum, so that a time slice lost to other processes rarely counts.
        int reps = 1;
        {
          const double t0 = Now();
          (void)run[2](y[2].data());
          reps = std::max(1, static_cast<int>(0.002 / std::max((Now() - t0), 1e-6)));
        }
        for (int round = 0; round < rounds; ++round) {
          for (int v = 0; v < num_variants; ++v) {
            if (!has[v]) continue;
            const double t0 = Now();
            for (int r = 0; r < reps; ++r) (void)run[v](y[v].data());
            best[v] = std::min(best[v], (Now() - t0) / reps);
          }
        }
        const CpuMatmulPath now = SelectCpuMatmulPath(type, tokens, true);
        double new_s = 0;
        for (int v = 0; v < 3; ++v) {
          if (kPaths[v] == now) new_s = best[v];
        }
        // "old": the baseline if linked in, else the pre-change choice (one token fused; the
        // fused kernel itself has changed since, so that ratio is only indicative).
        const double old_s = num_float > 3 ? best[3] : (tokens == 1 && has[0] ? best[0] : best[1]);
        std::printf("%-5s %-8s %5dx%-5d %3d %9.3f %9.3f %9.3f",
                    std::string(DTypeName(type)).c_str(), shape.what, n, k, tokens, best[0] * 1e3,
                    best[1] * 1e3, best[2] * 1e3);
        if (num_float > 3) std::printf(" %9.3f", best[3] * 1e3);
        std::printf("  %-12s %6.2fx %8.1f", std::string(CpuMatmulPathName(now)).c_str(),
                    old_s / new_s, new_s * 1e6 / tokens);
        if (int8) {
          std::printf(" %9.3f %7.2fx", best[num_float] * 1e3, new_s / best[num_float]);
        }
        std::printf("\n");
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace hearth

int main(int argc, char** argv) { return hearth::Main(argc, argv); }
