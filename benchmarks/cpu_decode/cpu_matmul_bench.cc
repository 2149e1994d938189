// CPU matmul speed by code path (not a test): MatmulCpuOnPath on random weights for SmolLM2-135M's
// shapes (n x k = 576x576, 1536x576, 576x1536, 49152x576) at 1, 2, 3, 4, 8, 16, 32 tokens, each
// path timed in alternation within one run (the machine is shared, so only ratios taken side by
// side mean anything). "old" is what MatmulCpu ran before the blocked kernel (avx2_fused for one
// token, avx2_token_dots for more), "new" what SelectCpuMatmulPath picks now. Every path's output
// is also compared bit for bit with the others.
//
//   bench_cpu_matmul [--rounds N] [--quick] [TYPE...]    (types default to Q4_1 Q8_0)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/matmul/matmul.h"
#include "tests/kernels/quant/random_blocks.h"

namespace hearth {
namespace {

struct Shape {
  int n, k;
  const char* what;
};
constexpr Shape kShapes[] = {{576, 576, "q/o proj"},
                             {1536, 576, "gate/up"},
                             {576, 1536, "down"},
                             {49152, 576, "lm head"}};
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
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
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
        std::fprintf(stderr, "usage: %s [--rounds N] [--quick] [TYPE...]; unknown '%s'\n",
                     argv[0], a.c_str());
        return 2;
      }
    }
  }
  if (types.empty()) types = {DType::kQ4_1, DType::kQ8_0};
  if (!CpuHasAvx2()) {
    std::fprintf(stderr, "bench_cpu_matmul: this CPU lacks AVX2/F16C; only the scalar path runs\n");
    return 1;
  }
  g_cpu_clock = omp_get_max_threads() == 1;
  std::printf("# bench_cpu_matmul, %d OpenMP threads, min of %d alternating rounds; %s ms per call\n",
              omp_get_max_threads(), rounds, g_cpu_clock ? "CPU-time" : "wall");
  std::printf("%-5s %-8s %11s %3s %9s %9s %9s  %-12s %7s %8s\n", "type", "what", "n x k", "T",
              "fused", "tok_dots", "blocked", "new path", "old/new", "us/tok");
  for (const DType type : types) {
    for (const Shape& shape : kShapes) {
      if (quick && shape.n > 4096) continue;
      const int n = shape.n, k = shape.k;
      const auto w = testing::RandomWeights(type, int64_t{n} * k, 1);
      std::vector<float> x(size_t{32} * k);
      for (size_t i = 0; i < x.size(); ++i) {
        x[i] = static_cast<float>((i * 7919) % 2001) / 1000.f - 1.f;
      }
      for (const int tokens : kTokenCounts) {
        if (quick && tokens > 8) continue;
        constexpr int kNumPaths = sizeof(kPaths) / sizeof(kPaths[0]);
        std::vector<std::vector<float>> y(kNumPaths, std::vector<float>(size_t(tokens) * n));
        double best[kNumPaths];
        bool has[kNumPaths];
        int reps = 1;
        for (int p = 0; p < kNumPaths; ++p) {
          best[p] = 0;
          const Status s = MatmulCpuOnPath(kPaths[p], type, w.data(), x.data(), nullptr,
                                           y[p].data(), tokens, n, k);
          has[p] = s.ok();  // no fused kernel for F32, F16, BF16 and the K-quants
          if (!s.ok() && s.code() != StatusCode::kUnimplemented) {
            std::fprintf(stderr, "%s\n", s.ToString().c_str());
            return 1;
          }
        }
        for (int p = 0; p < kNumPaths; ++p) {
          if (has[p] && std::memcmp(y[p].data(), y[2].data(), y[p].size() * 4) != 0) {
            std::fprintf(stderr, "bench_cpu_matmul: %s differs from %s (%s n=%d k=%d T=%d)\n",
                         std::string(CpuMatmulPathName(kPaths[p])).c_str(),
                         std::string(CpuMatmulPathName(kPaths[2])).c_str(),
                         std::string(DTypeName(type)).c_str(), n, k, tokens);
            return 1;
          }
          best[p] = has[p] ? 1e30 : 0;
        }
        // Enough calls per sample for ~2 ms (the first call's time as the guess): short samples,
        // many rounds and the minimum, so that a time slice lost to other processes rarely counts.
        {
          const double t0 = Now();
          (void)MatmulCpuOnPath(kPaths[2], type, w.data(), x.data(), nullptr, y[2].data(), tokens,
                                n, k);
          reps = std::max(1, static_cast<int>(0.002 / std::max((Now() - t0), 1e-6)));
        }
        for (int round = 0; round < rounds; ++round) {
          for (int p = 0; p < kNumPaths; ++p) {
            if (!has[p]) continue;
            const double t0 = Now();
            for (int r = 0; r < reps; ++r) {
              (void)MatmulCpuOnPath(kPaths[p], type, w.data(), x.data(), nullptr, y[p].data(),
                                    tokens, n, k);
            }
            best[p] = std::min(best[p], (Now() - t0) / reps);
          }
        }
        const CpuMatmulPath now = SelectCpuMatmulPath(type, tokens, true);
        const double old_s = tokens == 1 && has[0] ? best[0] : best[1];
        double new_s = 0;
        for (int p = 0; p < kNumPaths; ++p) {
          if (kPaths[p] == now) new_s = best[p];
        }
        std::printf("%-5s %-8s %5dx%-5d %3d %9.3f %9.3f %9.3f  %-12s %6.2fx %8.1f\n",
                    std::string(DTypeName(type)).c_str(), shape.what, n, k, tokens, best[0] * 1e3,
                    best[1] * 1e3, best[2] * 1e3, std::string(CpuMatmulPathName(now)).c_str(),
                    old_s / new_s, new_s * 1e6 / tokens);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace hearth

int main(int argc, char** argv) { return hearth::Main(argc, argv); }
