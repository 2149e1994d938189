// The window-histogram selection of the GPU sampler's filtered rows (sampler_window.h), on the
// CPU: its pure pieces against brute force, and a sequential replay of the kernel's per-row
// algorithm (WindowSample / TopLogprobsWindow in sampler_filtered.cu, one "thread" at a time)
// against the CPU twin's thresholds, tokens and top-n over many random rows, fallbacks included.
#include "kernels/sampling/sampler_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/sampling/philox.h"
#include "kernels/sampling/sampler.h"
#include "kernels/sampling/sampling_cases.h"

namespace hearth {
namespace {

namespace sw = sampler_window;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kThreads = sw::kBins / sw::kBinsPerThread;  // the kernel's block

TEST(SamplerWindow, BinIsMonotoneAndCoversTheWindow) {
  const float m = 3.25f;
  EXPECT_EQ(sw::Bin(m, m), 0);
  EXPECT_EQ(sw::Bin(m, m + 1.f), 0);  // above the max (never happens) stays in bin 0
  EXPECT_EQ(sw::Bin(m, m - sw::kSpan / sw::kBins), 1);
  EXPECT_EQ(sw::Bin(m, m - sw::kSpan + 1e-3f), sw::kBins - 1);
  EXPECT_EQ(sw::Bin(m, m - sw::kSpan), sw::kBins);
  EXPECT_EQ(sw::Bin(m, -kInf), sw::kBins);
  EXPECT_EQ(sw::Bin(m, std::nanf("")), sw::kBins);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.f, 8.f);
  for (float mm : {0.f, 17.5f, -40.f, 1e4f}) {
    std::vector<float> v(20000);
    for (float& x : v) x = mm - std::fabs(normal(rng));
    std::sort(v.begin(), v.end(), std::greater<float>());
    for (size_t i = 1; i < v.size(); ++i)
      ASSERT_LE(sw::Bin(mm, v[i - 1]), sw::Bin(mm, v[i])) << v[i - 1] << " vs " << v[i];
  }
}

TEST(SamplerWindow, PathNames) {
  EXPECT_EQ(*ParseSamplerFilterPath(""), SamplerFilterPath::kOneRead);
  for (SamplerFilterPath path :
       {SamplerFilterPath::kOneRead, SamplerFilterPath::kWindow, SamplerFilterPath::kRadix})
    EXPECT_EQ(*ParseSamplerFilterPath(SamplerFilterPathName(path)), path);
  EXPECT_STREQ(SamplerFilterPathName(SamplerFilterPath::kOneRead), "oneread");
  EXPECT_STREQ(SamplerFilterPathName(SamplerFilterPath::kWindow), "window");
  EXPECT_STREQ(SamplerFilterPathName(SamplerFilterPath::kRadix), "radix");
  const Result<SamplerFilterPath> bad = ParseSamplerFilterPath("fast");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("HEARTH_SAMPLER=fast"), std::string::npos);
  EXPECT_NE(bad.status().ToString().find("\"window\""), std::string::npos);
}

// Which rows the one-read top-k takes, and which of them skip the split pass.
TEST(SamplerWindow, OneReadRows) {
  const int vocab = 128256;
  SamplingParams p;
  p.temperature = 0.7f, p.top_k = 50;
  EXPECT_TRUE(SamplerTopKInOneRead(p, vocab));
  EXPECT_TRUE(SamplerSkipsSplitPass(p, vocab, false));
  EXPECT_FALSE(SamplerSkipsSplitPass(p, vocab, true)) << "penalties: the split pass's lse";
  p.num_logprobs = 3;
  EXPECT_TRUE(SamplerTopKInOneRead(p, vocab));
  EXPECT_FALSE(SamplerSkipsSplitPass(p, vocab, false)) << "top-n: ranked before the selection";
  p.num_logprobs = 0, p.top_p = 0.9f, p.min_p = 0.1f;
  EXPECT_TRUE(SamplerSkipsSplitPass(p, vocab, false));
  p.top_k = kSamplerOneReadMaxK + 1;
  EXPECT_FALSE(SamplerTopKInOneRead(p, vocab));
  p.top_k = 0;
  EXPECT_FALSE(SamplerTopKInOneRead(p, vocab));
  EXPECT_FALSE(SamplerInOneRead(p, vocab)) << "top-p with min-p: the window";
  p.min_p = 0.f;
  EXPECT_TRUE(SamplerTopPInOneRead(p, vocab));
  EXPECT_TRUE(SamplerSkipsSplitPass(p, vocab, false)) << "top-p alone";
  p.top_p = 1.f, p.min_p = 0.1f;
  EXPECT_FALSE(SamplerInOneRead(p, vocab)) << "min-p alone: the window";
  p.top_p = 0.9f, p.min_p = 0.f, p.top_k = kSamplerOneReadMaxK + 1;
  EXPECT_FALSE(SamplerInOneRead(p, vocab)) << "a deep top-k with top-p: the window";
  p.top_k = 50, p.temperature = 0.f;
  EXPECT_FALSE(SamplerInOneRead(p, vocab)) << "greedy ignores the filters";
  p.temperature = 1.f;
  EXPECT_FALSE(SamplerTopKInOneRead(p, 50)) << "top-k >= vocab is off";
  EXPECT_TRUE(SamplerTopKInOneRead(p, 51));
}

// The bound's rounds: the fewest that make k x vocab / (rounds x 8192) at most min(64 + 8k, 512),
// at least 1, at most the row's.
TEST(SamplerWindow, OneReadBoundRounds) {
  constexpr int kRound = 8192;
  EXPECT_EQ(sw::OneReadBoundRounds(1, 128256, kRound), 1);
  EXPECT_EQ(sw::OneReadBoundRounds(50, 128256, kRound), 2);   // 50 x 128256 / 16384 = 391 <= 464
  EXPECT_EQ(sw::OneReadBoundRounds(100, 128256, kRound), 4);  // 391 <= 512 (3 rounds: 522)
  EXPECT_EQ(sw::OneReadBoundRounds(256, 128256, kRound), 8);
  EXPECT_EQ(sw::OneReadBoundRounds(256, 262144, kRound), 16);
  EXPECT_EQ(sw::OneReadBoundRounds(256, 20000, kRound), 2);
  EXPECT_EQ(sw::OneReadBoundRounds(5, 100, kRound), 1);
  EXPECT_EQ(sw::OneReadBoundRounds(256, 1 << 20, kRound), 64);  // no overflow at the largest
  for (int k = 1; k <= 256; ++k)
    for (int vocab : {32000, 128256, 152064, 262144}) {
      const int r = sw::OneReadBoundRounds(k, vocab, kRound);
      const double expected = static_cast<double>(k) * vocab / (static_cast<double>(r) * kRound);
      EXPECT_LE(expected, std::min(64.0 + 8 * k, 512.0) + 1e-9) << k << " " << vocab;
      if (r > 1) {
        EXPECT_GT(k * static_cast<double>(vocab) / ((r - 1.0) * kRound),
                  std::min(64.0 + 8 * k, 512.0))
            << "fewer rounds would do: " << k << " " << vocab;
      }
    }
}

// Top-p alone: one round, about 384 values collected.
TEST(SamplerWindow, OneReadTopPK) {
  EXPECT_EQ(sw::OneReadTopPK(128256, 8192), 24);
  EXPECT_EQ(sw::OneReadTopPK(32000, 8192), 98);
  EXPECT_EQ(sw::OneReadTopPK(262144, 8192), 12);
  EXPECT_EQ(sw::OneReadTopPK(1000, 8192), 256);
  EXPECT_EQ(sw::OneReadTopPK(1 << 20, 8192), 3);
}

// The margin the rounds leave below kCap, on rows in random order (normal and LM-like peaked,
// 128256 tokens, 12 rows each): the values that reach the bound, as the kernel's replay counts
// them, never exceed kCap; printed against the design's k x vocab / (rounds x 8192).
TEST(SamplerWindow, OneReadBoundLeavesMargin) {
  const int vocab = 128256, threads = 1024, round = 8 * threads;
  std::mt19937_64 rng(71);
  std::normal_distribution<float> normal(0.f, 2.5f);
  std::vector<float> row(vocab);
  for (const int k : {1, 5, 20, 50, 100, 256}) {
    const int first = std::min(vocab, sw::OneReadBoundRounds(k, vocab, round) * round);
    int most = 0;
    double total = 0;
    for (int trial = 0; trial < 24; ++trial) {
      for (float& v : row) v = normal(rng);
      if (trial % 2 == 1)
        for (int j = 0; j < 16; ++j) row[rng() % vocab] += 8.f + static_cast<float>(j);
      std::vector<float> maxima(threads, -INFINITY);
      for (int i = 0; i < first; ++i) maxima[i % threads] = std::max(maxima[i % threads], row[i]);
      std::nth_element(maxima.begin(), maxima.begin() + (k - 1), maxima.end(), std::greater<>());
      const float bound = maxima[k - 1];
      const int reaching = static_cast<int>(
          std::count_if(row.begin(), row.end(), [&](float v) { return v >= bound; }));
      ASSERT_GE(reaching, k);
      most = std::max(most, reaching), total += reaching;
    }
    std::printf("k %d: %d rounds, values reaching the bound: mean %.0f, most %d (design %.0f)\n", k,
                first / round, total / 24, most, static_cast<double>(k) * vocab / first);
    EXPECT_LE(most, sw::kCap * 3 / 4) << "k " << k;
  }
}

TEST(SamplerWindow, FindCrossingMatchesBruteForce) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < 2000; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 40);
    std::vector<int> w(n);
    for (int& x : w) x = static_cast<int>(rng() % 4);
    const int target = 1 + static_cast<int>(rng() % 60);
    int above = 0;
    const int got = sw::FindCrossing(w.data(), n, target, above);
    int cum = 0, want = -1;
    for (int b = 0; b < n && want < 0; ++b) {
      if (cum + w[b] >= target)
        want = b;
      else
        cum += w[b];
    }
    ASSERT_EQ(got, want);
    ASSERT_EQ(above, cum);
  }
}

TEST(SamplerWindow, DecideAndBinFits) {
  EXPECT_EQ(sw::Decide(5, 100.f, true), sw::Decision::kInBin);
  EXPECT_EQ(sw::Decide(-1, 3.f, true), sw::Decision::kFallback);
  EXPECT_EQ(sw::Decide(-1, 3.f, false), sw::Decision::kKeepAll);  // top-k >= the candidates
  EXPECT_EQ(sw::Decide(-1, 0.f, true), sw::Decision::kKeepAll);
  EXPECT_TRUE(sw::BinFits(sw::kCap));
  EXPECT_FALSE(sw::BinFits(sw::kCap + 1));
}

// The threshold of one buffer the kernel's way: the largest qualifying value, else the lowest
// candidate. `w` null: counts.
float InBinThreshold(const std::vector<float>& val, const std::vector<float>* w, float floor,
                     float above, float target, bool* hit) {
  float best = -kInf, low = kInf;
  *hit = false;
  for (float v : val) {
    if (!(v >= floor)) continue;
    float gt, ge;
    sw::InBinWeights(val.data(), w ? w->data() : nullptr, static_cast<int>(val.size()), floor, v,
                     gt, ge);
    if (sw::IsThreshold(above, gt, ge, target)) *hit = true, best = std::max(best, v);
    low = std::min(low, v);
  }
  return *hit ? best : low;
}

TEST(SamplerWindow, InBinThresholdIsTheKthLargestWithTies) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 3000; ++trial) {
    const int c = 1 + static_cast<int>(rng() % 50);
    std::vector<float> val(c);
    for (float& v : val) v = static_cast<float>(rng() % 8) * 0.25f;  // many ties
    const int above = static_cast<int>(rng() % 5);
    const int k = above + 1 + static_cast<int>(rng() % c);
    bool hit;
    const float t =
        InBinThreshold(val, nullptr, -kInf, static_cast<float>(above), static_cast<float>(k), &hit);
    std::vector<float> sorted = val;
    std::sort(sorted.begin(), sorted.end(), std::greater<float>());
    ASSERT_TRUE(hit);
    ASSERT_EQ(t, sorted[k - above - 1]);
  }
}

// ---- The kernel's per-row algorithm, replayed sequentially ------------------------------------

// BlockFindCrossing: kThreads threads of kBinsPerThread bins, exclusive prefix per thread.
template <class T>
int FindCrossingBlocked(const std::vector<T>& w, int limit, T target, T& above) {
  std::vector<T> prefix(kThreads + 1, T(0));
  for (int t = 0; t < kThreads; ++t) {
    T sum = T(0);
    for (int j = 0; j < sw::kBinsPerThread; ++j) {
      const int b = t * sw::kBinsPerThread + j;
      sum += b < limit ? w[b] : T(0);
    }
    prefix[t + 1] = prefix[t] + sum;
  }
  for (int t = 0; t < kThreads; ++t) {
    T local[sw::kBinsPerThread];
    for (int j = 0; j < sw::kBinsPerThread; ++j) {
      const int b = t * sw::kBinsPerThread + j;
      local[j] = b < limit ? w[b] : T(0);
    }
    T run = prefix[t];
    const int hit = sw::FindCrossing(local, sw::kBinsPerThread, target, run);
    if (hit >= 0 && t * sw::kBinsPerThread + hit < limit) {
      above = run;
      return t * sw::kBinsPerThread + hit;
    }
  }
  above = prefix[kThreads];
  return -1;
}

struct WindowRow {
  bool fallback = false;
  float t = -kInf;   // the kept tokens: s >= t
  int reads = 0;     // reads of the row after the split pass
  bool co = false;   // top-p's bin was collected in the read of top-k's (sw::CoCollectedBin)
};

// WindowSample of sampler_filtered.cu on s (scaled penalized logits); the race is left to the
// caller (same kept set, same race).
WindowRow SimulateWindowRow(const std::vector<float>& s, const SamplingParams& p) {
  const int vocab = static_cast<int>(s.size());
  WindowRow r;
  float m = -kInf;
  for (float v : s) m = v > m ? v : m;
  if (!(std::fabs(m) <= std::numeric_limits<float>::max())) return r.fallback = true, r;
  const float t0 = p.min_p > 0.f ? m + std::log(p.min_p) : -kInf;
  const bool need_k = p.top_k > 0 && p.top_k < vocab, need_p = p.top_p < 1.f;
  r.t = t0;
  if (!need_k && !need_p) return r.reads = 1, r;
  std::vector<int> count(sw::kBins, 0);
  std::vector<float> mass(sw::kBins, 0.f);
  float below_n = 0.f, below_mass = 0.f;
  for (float v : s) {
    if (!(v >= t0)) continue;
    const int b = sw::Bin(m, v);
    const float w = need_p ? std::exp(v - m) : 0.f;
    if (b == sw::kBins) {
      below_n += 1.f, below_mass += w;
      continue;
    }
    ++count[b];
    mass[b] += w;
  }
  r.reads = 1;
  // The buffer's two bins (the second: -1, or a bin above the first collected in the same read).
  std::vector<float> buf, buf_w, buf2, buf2_w;
  int buffered = -1, buffered2 = -1;
  auto collect = [&](int bin, int bin2) {
    buf.clear(), buf_w.clear(), buf2.clear(), buf2_w.clear();
    for (float v : s) {
      const int b = v >= t0 ? sw::Bin(m, v) : sw::kBins;
      if (b == bin) buf.push_back(v), buf_w.push_back(std::exp(v - m));
      if (b == bin2) buf2.push_back(v), buf2_w.push_back(std::exp(v - m));
    }
    buffered = bin, buffered2 = bin2;
    ++r.reads;
  };
  int kbin = -1;
  bool hit;
  if (need_k) {
    int above = 0;
    kbin = FindCrossingBlocked(count, sw::kBins, p.top_k, above);
    const sw::Decision d =
        sw::Decide(kbin, below_n, static_cast<float>(above) + below_n >= p.top_k);
    if (d == sw::Decision::kFallback || (kbin >= 0 && !sw::BinFits(count[kbin])))
      return r.fallback = true, r;
    if (d == sw::Decision::kInBin) {
      int co = -1;
      if (need_p) {
        float mass_above = 0.f, unused = 0.f;
        FindCrossingBlocked(mass, kbin, kInf, mass_above);
        const int lo = FindCrossingBlocked(mass, kbin, p.top_p * mass_above, unused);
        const int hi = FindCrossingBlocked(mass, kbin, p.top_p * (mass_above + mass[kbin]), unused);
        co = sw::CoCollectedBin(lo, hi, count[kbin], lo >= 0 ? count[lo] : 0);
      }
      collect(kbin, co);
      EXPECT_EQ(static_cast<int>(buf.size()), count[kbin]);
      if (co >= 0) {
        EXPECT_EQ(static_cast<int>(buf2.size()), count[co]);
      }
      r.t = std::max(r.t, InBinThreshold(buf, nullptr, t0, static_cast<float>(above),
                                         static_cast<float>(p.top_k), &hit));
      EXPECT_TRUE(hit) << "counts always find the k-th largest";
    }
  }
  if (need_p) {
    float total = 0.f;
    FindCrossingBlocked(mass, kbin >= 0 ? kbin : sw::kBins, kInf, total);
    if (kbin >= 0) {
      for (size_t j = 0; j < buf.size(); ++j)
        if (buf[j] >= r.t) total += buf_w[j];
    } else {
      total += below_mass;
    }
    const float target = p.top_p * total;
    float above = 0.f;
    int pbin = FindCrossingBlocked(mass, kbin >= 0 ? kbin : sw::kBins, target, above);
    if (pbin < 0 && kbin >= 0) pbin = kbin;
    const sw::Decision d = sw::Decide(pbin, below_n, above + below_mass >= target);
    if (d == sw::Decision::kFallback || (pbin >= 0 && !sw::BinFits(count[pbin])))
      return r.fallback = true, r;
    if (d == sw::Decision::kInBin) {
      if (pbin >= 0 && pbin == buffered2) {
        r.co = true;
        r.t = std::max(r.t, InBinThreshold(buf2, &buf2_w, r.t, above, target, &hit));
      } else {
        if (pbin != buffered || buffered2 >= 0) collect(pbin, -1);
        r.t = std::max(r.t, InBinThreshold(buf, &buf_w, r.t, above, target, &hit));
      }
    }
  }
  if (buffered < 0) ++r.reads;  // the race reads the row again; else it rode the collect pass
  return r;
}

// The race over s >= t, as SampleCpu runs it.
int Race(const std::vector<float>& s, float t, const SamplingParams& p, int64_t step) {
  int best = -1;
  float best_score = -kInf;
  for (int i = 0; i < static_cast<int>(s.size()); ++i) {
    if (!(s[i] >= t)) continue;
    const philox::U32x4 r =
        philox::SamplerBlock(p.seed, static_cast<uint64_t>(step), static_cast<uint32_t>(i / 4));
    const float score = s[i] - std::log(-std::log(philox::ToOpenUnitFloat(r.v[i % 4])));
    if (score > best_score) best_score = score, best = i;
  }
  return best;
}

enum class RowKind { kNormal, kPeaked, kFlat, kTies, kWide, kNegInf };
const char* KindName(RowKind k) {
  static const char* names[] = {"normal", "peaked", "flat", "ties", "wide", "neg_inf"};
  return names[static_cast<int>(k)];
}

std::vector<float> MakeRow(RowKind kind, int vocab, std::mt19937_64& rng) {
  std::vector<float> x(vocab);
  const float sigma = 1.f + static_cast<float>(rng() % 5);
  std::normal_distribution<float> normal(0.f, sigma);
  std::uniform_real_distribution<float> uniform(-5.f, 5.f);
  for (float& v : x) {
    switch (kind) {
      case RowKind::kFlat:
        v = uniform(rng);
        break;
      case RowKind::kTies:
        v = std::round(normal(rng) * 4.f) / 4.f;
        break;
      case RowKind::kWide:
        v = normal(rng) * 6.f;
        break;
      default:
        v = normal(rng);
    }
  }
  if (kind == RowKind::kPeaked || kind == RowKind::kNegInf)
    for (int j = 0; j < 8; ++j) x[rng() % vocab] += 8.f + j;
  if (kind == RowKind::kNegInf)
    for (int j = 0; j < vocab / 10; ++j) x[rng() % vocab] = -kInf;
  return x;
}

// Mass (double, over s >= floor) of s >= v, for judging a float-rounding disagreement.
double MassAtLeast(const std::vector<float>& s, float floor, float v, float m) {
  double sum = 0;
  for (float x : s)
    if (x >= floor && x >= v) sum += std::exp(static_cast<double>(x) - m);
  return sum;
}

TEST(SamplerWindow, ReplayMatchesTheCpuTwinOnRandomRows) {
  std::vector<SamplingParams> mixes;
  for (const SamplingParams& p : sampling_cases::kParamMix)
    if (!IsGreedy(p) && !SamplerUsesSplitPath(p, 50000)) mixes.push_back(p);
  mixes.push_back({0.8f, 50, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 11});    // the benchmark's top-k
  mixes.push_back({0.8f, 0, 0.9f, 0.f, 1.f, 0.f, 0.f, 0, 12});    // the benchmark's top-p
  mixes.push_back({0.5f, 1000, 1.f, 0.f, 1.f, 0.f, 0.f, 0, 13});  // deep top-k
  mixes.push_back({1.5f, 0, 0.999f, 0.f, 1.f, 0.f, 0.f, 0, 14});  // deep top-p
  mixes.push_back({1.f, 20, 0.95f, 0.f, 1.f, 0.f, 0.f, 0, 15});   // both, top-k binding
  mixes.push_back({0.7f, 0, 1.f, 0.1f, 1.f, 0.f, 0.f, 0, 16});    // min-p alone: one read
  mixes.push_back({0.8f, 40, 0.95f, 0.05f, 1.f, 0.f, 0.f, 0, 17});  // llama.cpp's defaults
  mixes.push_back({0.6f, 50, 0.9f, 0.f, 1.f, 0.f, 0.f, 0, 18});     // chat: both, top-p binding
  std::mt19937_64 rng(42);
  int rows = 0, fallbacks = 0, rounding = 0, token_diffs = 0, reads = 0;
  int three_reads = 0, co_collected = 0;  // rows whose top-p bin lies above top-k's
  int fallbacks_by_kind[6] = {};
  for (int vocab : {1000, 32000, 50001}) {
    for (int kind_i = 0; kind_i < 6; ++kind_i) {
      const RowKind kind = static_cast<RowKind>(kind_i);
      for (int rep = 0; rep < 2; ++rep) {
        const std::vector<float> x = MakeRow(kind, vocab, rng);
        for (const SamplingParams& p : mixes) {
          // Filters that keep everything (top-k 1000 of 1000): the split pass's two-level race
          // draws those rows, not the window path.
          if (SamplerUnfiltered(p, vocab)) continue;
          SCOPED_TRACE(std::string(KindName(kind)) + " vocab " + std::to_string(vocab) + " T " +
                       std::to_string(p.temperature) + " k " + std::to_string(p.top_k) + " p " +
                       std::to_string(p.top_p) + " min_p " + std::to_string(p.min_p));
          std::vector<float> s(x);
          for (float& v : s) v *= 1.f / p.temperature;
          const WindowRow w = SimulateWindowRow(s, p);
          ++rows;
          if (w.fallback) {
            // Justified only when a threshold (top-k's, or the final one) lies below the window
            // or in a bin of more than kCap candidates.
            SamplingParams no_p = p;
            no_p.top_p = 1.f;
            const float m = *std::max_element(s.begin(), s.end());
            const float t0 = p.min_p > 0.f ? m + std::log(p.min_p) : -kInf;
            bool justified = false;
            for (float t : {SamplerThresholdCpu(s.data(), vocab, no_p),
                            SamplerThresholdCpu(s.data(), vocab, p)}) {
              const int b = sw::Bin(m, t);
              int in_bin = 0;
              for (float v : s) in_bin += v >= t0 && sw::Bin(m, v) == b;
              justified |= b == sw::kBins || !sw::BinFits(in_bin);
            }
            EXPECT_TRUE(justified) << "a fallback the window could have served";
            ++fallbacks, ++fallbacks_by_kind[kind_i];
            continue;
          }
          reads += w.reads;
          three_reads += w.reads == 3;
          co_collected += w.co;
          const float want = SamplerThresholdCpu(s.data(), vocab, p);
          if (w.t != want) {
            // Only top-p may differ, and only where float and double masses straddle the target.
            ASSERT_LT(p.top_p, 1.f) << "count thresholds are exact: " << w.t << " vs " << want;
            SamplingParams no_p = p;
            no_p.top_p = 1.f;
            const float floor = SamplerThresholdCpu(s.data(), vocab, no_p);
            const float m = *std::max_element(s.begin(), s.end());
            const double total = MassAtLeast(s, floor, -kInf, m);
            const double at_hi = MassAtLeast(s, floor, std::max(w.t, want), m);
            ASSERT_NEAR(at_hi / total, p.top_p, 1e-5)
                << "window t " << w.t << " vs cpu t " << want << ": not a rounding tie";
            if (std::getenv("HEARTH_WINDOW_TEST_VERBOSE"))
              std::printf("rounding: %s vocab %d T %g k %d p %g: t %g vs %g, mass %.9f\n",
                          KindName(kind), vocab, p.temperature, p.top_k, p.top_p, w.t, want,
                          at_hi / total);
            ++rounding;
          }
          // End to end: the CPU twin's token on the same logits.
          const int64_t step = static_cast<int64_t>(rng() % 1000);
          int32_t token = -1, top_ids[kMaxLogprobs];
          float lp, top_lp[kMaxLogprobs];
          const int32_t zero = 0;
          ASSERT_TRUE(SampleCpu(x.data(), 1, vocab, &p, &step, {nullptr, &zero, &zero},
                                {&token, &lp, top_ids, top_lp})
                          .ok());
          int got = Race(s, w.t, p, step);
          if (got < 0) got = static_cast<int>(std::max_element(s.begin(), s.end()) - s.begin());
          token_diffs += got != token;
          if (w.t == want) {
            ASSERT_EQ(got, token);
          }
        }
      }
    }
  }
  std::printf(
      "%d rows: %d fallbacks (normal %d, peaked %d, flat %d, ties %d, wide %d, neg_inf "
      "%d), %d top-p rounding ties (%d tokens moved), %.2f reads per windowed row; top-p's bin "
      "above top-k's: %d collected with it, %d read again\n",
      rows, fallbacks, fallbacks_by_kind[0], fallbacks_by_kind[1], fallbacks_by_kind[2],
      fallbacks_by_kind[3], fallbacks_by_kind[4], fallbacks_by_kind[5], rounding, token_diffs,
      static_cast<double>(reads) / std::max(1, rows - fallbacks), co_collected, three_reads);
  // Where top-p's bin lies above top-k's, most rows have it collected with top-k's (43 of 63 on
  // these rows: flat and tied rows put much mass in top-k's bin, where the prediction stops).
  EXPECT_GT(co_collected, three_reads);
  // The window serves the usual rows (fallbacks: deep top-k on wide rows, tie groups > kCap).
  EXPECT_LE(fallbacks, rows / 20);
}

TEST(SamplerWindow, FallsBackOnlyWhereItMust) {
  SamplingParams topk;
  topk.temperature = 0.5f;
  topk.top_k = 1000;
  // Wide logits: the 1000th largest of s (std 40) lies far more than kSpan below the max.
  std::mt19937_64 rng(5);
  std::normal_distribution<float> wide(0.f, 20.f);
  std::vector<float> s(50000);
  for (float& v : s) v = wide(rng) / topk.temperature;
  EXPECT_TRUE(SimulateWindowRow(s, topk).fallback) << "k-th largest below the window";
  // All equal: every candidate lands in bin 0, more than kCap of them.
  std::vector<float> flat(5000, 1.5f);
  EXPECT_TRUE(SimulateWindowRow(flat, topk).fallback) << "bin over kCap";
  SamplingParams topp;
  topp.top_p = 0.5f;
  EXPECT_TRUE(SimulateWindowRow(flat, topp).fallback) << "top-p: bin over kCap";
  // A few distinct values, many ties each: fits, and exact.
  std::vector<float> few(2000);
  for (size_t i = 0; i < few.size(); ++i) few[i] = static_cast<float>(i % 97) * 0.01f;
  const WindowRow r = SimulateWindowRow(few, topp);
  EXPECT_FALSE(r.fallback);
  EXPECT_EQ(r.t, SamplerThresholdCpu(few.data(), static_cast<int>(few.size()), topp));
  // A deep top-p over a long tail below the window: e^-40 per tail token never reaches the
  // 1 - top_p the window misses, so the window decides, exactly.
  SamplingParams deep;
  deep.top_p = 0.999999f;
  std::vector<float> tail(200000, -40.f);
  tail[0] = 0.f;
  const WindowRow d = SimulateWindowRow(tail, deep);
  EXPECT_FALSE(d.fallback);
  EXPECT_EQ(d.t, SamplerThresholdCpu(tail.data(), static_cast<int>(tail.size()), deep));
  // Top-k above the number of candidates keeps them all, even with some below the window.
  SamplingParams all;
  all.min_p = 1e-30f, all.top_k = 500;
  std::vector<float> spread(1000, -100.f);  // below the min-p floor (m - 69)
  for (int i = 0; i < 200; ++i) spread[i] = i < 100 ? 0.f : -40.f;
  const WindowRow a = SimulateWindowRow(spread, all);
  EXPECT_FALSE(a.fallback);
  EXPECT_EQ(a.t, SamplerThresholdCpu(spread.data(), static_cast<int>(spread.size()), all));
  // Not finite max: the radix path's business.
  std::vector<float> dead(100, -kInf);
  EXPECT_TRUE(SimulateWindowRow(dead, topk).fallback);
}

// TopLogprobsWindow, replayed: the raw top-n by value then lowest id, as SampleCpu's.
TEST(SamplerWindow, TopLogprobsReplayMatchesPartialSort) {
  std::mt19937_64 rng(7);
  int windowed = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const RowKind kind = static_cast<RowKind>(trial % 6);
    const int vocab = trial % 2 ? 50001 : 1000;
    const std::vector<float> x = MakeRow(kind, vocab, rng);
    const int n = 1 + trial % kMaxLogprobs;
    float m = -kInf;
    for (float v : x) m = std::max(m, v);
    std::vector<int> count(sw::kBins, 0);
    float below = 0.f;
    for (float v : x) {
      const int b = sw::Bin(m, v);
      if (b == sw::kBins)
        below += 1.f;
      else
        ++count[b];
    }
    int above = 0;
    const int bin = FindCrossingBlocked(count, sw::kBins, n, above);
    if (sw::Decide(bin, below, true) != sw::Decision::kInBin || !sw::BinFits(count[bin])) continue;
    ++windowed;
    std::vector<std::pair<float, int>> gt, in_bin;
    for (int i = 0; i < vocab; ++i) {
      const int b = sw::Bin(m, x[i]);
      if (b < bin)
        gt.push_back({x[i], i});
      else if (b == bin)
        in_bin.push_back({x[i], i});
    }
    ASSERT_EQ(static_cast<int>(gt.size()), above);
    ASSERT_LT(above, n);
    std::vector<int> got(n, -1);
    auto better = [](const std::pair<float, int>& a, const std::pair<float, int>& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    for (const auto* list : {&gt, &in_bin}) {
      for (const auto& me : *list) {
        int pos = list == &gt ? 0 : above;
        for (const auto& o : *list) pos += better(o, me);
        if (pos < n) got[pos] = me.second;
      }
    }
    std::vector<int> want(vocab);
    std::iota(want.begin(), want.end(), 0);
    std::partial_sort(want.begin(), want.begin() + n, want.end(),
                      [&](int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
    want.resize(n);
    ASSERT_EQ(got, want) << KindName(kind) << " vocab " << vocab << " n " << n;
  }
  EXPECT_GT(windowed, 40);
}

}  // namespace
}  // namespace hearth
