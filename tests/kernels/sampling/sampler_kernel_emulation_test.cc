// The real sources of the sampler's kernels (sampler_split.cu: split pass and combine;
// sampler_filtered.cu: window histogram, block scans, in-bin selection, fallback to the radix
// select, race) run on the CPU under a block emulation (cuda_block_emulation.h), launched as
// Sample launches them, against the CPU twin: the GPU-free check of the kernels' logic.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/cuda_block_emulation.h"

namespace {
std::atomic<int> g_window_fallbacks{0};
std::vector<float> g_thresholds;  // [num_seqs]: each sampled row's final threshold (NaN: none)
std::vector<int> g_row_reads;     // [num_seqs]: the filtered kernel's reads of each row
// When >= 0: the bin the window path is told top-p's lies in before top-k's bin is read (a wrong
// prediction must cost a read, never a token); -2: the bin just above top-k's.
int g_forced_cocollect = -1;
std::vector<std::pair<float, int>> g_topn;  // [num_seqs]: the one-read top-n's bound and count
std::vector<std::pair<float, int>> g_topk;  // [num_seqs]: the one-read top-k's bound and count
std::vector<std::atomic<int>> g_split_chunks(64);  // [num_seqs]: chunks the split pass read
}  // namespace
// Counted by thread 0 of a block each time the window path hands a row over (top-n or selection).
#define HEARTH_SAMPLER_WINDOW_FALLBACK_HOOK()   \
  do {                                          \
    if (threadIdx.x == 0) ++g_window_fallbacks; \
  } while (0)
#define HEARTH_SAMPLER_THRESHOLD_HOOK(t)                  \
  do {                                                    \
    if (threadIdx.x == 0) g_thresholds[blockIdx.x] = (t); \
  } while (0)
#define HEARTH_SAMPLER_ROW_READ_HOOK()              \
  do {                                              \
    if (threadIdx.x == 0) ++g_row_reads[blockIdx.x]; \
  } while (0)
#define HEARTH_SAMPLER_COCOLLECT_HOOK(lo, hi, kbin)                                     \
  do {                                                                                  \
    if (g_forced_cocollect != -1) lo = hi = g_forced_cocollect >= 0 ? g_forced_cocollect \
                                                                    : (kbin) - 1;       \
  } while (0)
#define HEARTH_SAMPLER_TOPN_HOOK(bound, count)                             \
  do {                                                                     \
    if (threadIdx.x == 0) g_topn[blockIdx.x] = std::make_pair(bound, count); \
  } while (0)
#define HEARTH_SAMPLER_TOPK_HOOK(bound, count)                               \
  do {                                                                       \
    if (threadIdx.x == 0) g_topk[blockIdx.x] = std::make_pair(bound, count); \
  } while (0)
#define HEARTH_SAMPLER_SPLIT_CHUNK_HOOK()               \
  do {                                                  \
    if (threadIdx.x == 0) ++g_split_chunks[blockIdx.y]; \
  } while (0)
// The race's work as a GPU warp pays it: a warp runs a Philox block (or the exact score) for a
// group (token) position when any of its lanes does. Lanes of a warp hold groups g - lane equal.
struct RaceCounts {
  std::mutex mu;
  bool on = false;
  std::set<std::tuple<unsigned, unsigned, unsigned, int, int>> warps;  // j = -1: Philox block
  int64_t philox_lanes = 0, exact_lanes = 0;
  int64_t Warps(bool exact) const {
    return std::count_if(warps.begin(), warps.end(),
                         [exact](const auto& k) { return (std::get<4>(k) >= 0) == exact; });
  }
};
RaceCounts g_race;
void CountRace(int g, int j) {
  if (!g_race.on) return;
  std::lock_guard<std::mutex> l(g_race.mu);
  ++(j < 0 ? g_race.philox_lanes : g_race.exact_lanes);
  g_race.warps.insert(
      {blockIdx.x, blockIdx.y, blockDim.x, g - static_cast<int>(threadIdx.x & 31), j});
}
#define HEARTH_SAMPLER_PHILOX_HOOK(g) CountRace((g), -1)
#define HEARTH_SAMPLER_EXACT_HOOK(g, j) CountRace((g), (j))
#include "kernels/sampling/sampler_filtered.cu"  // NOLINT: kernel sources under emulation
#include "kernels/sampling/sampler_split.cu"     // NOLINT
#include "kernels/sampling/sampling_cases.h"
#include "tests/kernels/sampling/sampler_test_batch.h"

namespace hearth {
namespace {

namespace sk = sampling_kernels;

using sampler_test::Batch;
using sampler_test::RunCpu;
using Out = sampler_test::Sampled;

// Sample's three launches (sampler.cu), emulated.
Out RunEmulated(const Batch& b, SamplerFilterPath path) {
  std::vector<float> x = b.logits;  // the sampler's scratch: penalized in place
  Out o = Out::Sized(b.num_seqs);
  const PenaltyLists pen{b.offsets.data(), b.tokens.data(), b.counts.data()};
  const SamplerOutputs out{o.ids.data(), o.lp.data(), o.top_ids.data(), o.top_lp.data()};
  const SamplerSplitPlan plan = PlanSamplerSplit(b.vocab);
  EXPECT_LE(b.num_seqs, static_cast<int>(g_split_chunks.size()));
  for (std::atomic<int>& c : g_split_chunks) c = 0;
  const bool vec4 = b.vocab % 4 == 0 && reinterpret_cast<uintptr_t>(x.data()) % 16 == 0;
  const sk::SplitArgs split{x.data(),
                            b.vocab,
                            plan.chunk_tokens,
                            vec4,
                            b.params.data(),
                            b.steps.data(),
                            pen,
                            out,
                            path == SamplerFilterPath::kOneRead};
  cuda_emulation::Launch(
      {static_cast<unsigned>(plan.num_chunks), static_cast<unsigned>(b.num_seqs)},
      sk::kSplitThreads, &sk::SplitPassKernel, split);
  cuda_emulation::Launch({static_cast<unsigned>(b.num_seqs), 1}, 32, &sk::SplitCombineKernel, split,
                         plan.num_chunks);
  const sk::FilteredArgs filtered{
      x.data(), b.vocab, plan.num_chunks, b.params.data(), b.steps.data(), pen, out, path};
  g_thresholds.assign(b.num_seqs, std::nanf(""));
  g_row_reads.assign(b.num_seqs, 0);
  g_topn.assign(b.num_seqs, {std::nanf(""), -1});
  g_topk.assign(b.num_seqs, {std::nanf(""), -1});
  cuda_emulation::Launch({static_cast<unsigned>(b.num_seqs), 1}, sk::kFilteredThreads,
                         &sk::SampleKernel, filtered);
  return o;
}

// The kernel's final threshold of sampled row s against the CPU twin's: equal, or (top-p only)
// float and double masses straddling the target within 1e-5 of the kept mass.
// Row s's scaled penalized logits, as the filtered kernel selects on them.
std::vector<float> ScaledRow(const Batch& b, int s) {
  const SamplingParams& p = b.params[s];
  std::vector<float> x(b.logits.begin() + int64_t{s} * b.vocab,
                       b.logits.begin() + int64_t{s + 1} * b.vocab);
  for (int e = b.offsets[s]; e < b.offsets[s + 1]; ++e)
    x[b.tokens[e]] = sampling_kernels::Penalize(x[b.tokens[e]], b.counts[e], p);
  for (float& v : x) v *= 1.f / p.temperature;
  return x;
}

void ExpectCpuThreshold(const Batch& b, int s) {
  const SamplingParams& p = b.params[s];
  const std::vector<float> x = ScaledRow(b, s);
  const float got = g_thresholds[s], want = SamplerThresholdCpu(x.data(), b.vocab, p);
  if (got == want) return;
  ASSERT_LT(p.top_p, 1.f) << "row " << s << ": threshold " << got << ", cpu " << want;
  SamplingParams no_p = p;
  no_p.top_p = 1.f;
  const float floor = SamplerThresholdCpu(x.data(), b.vocab, no_p);
  const float m = *std::max_element(x.begin(), x.end());
  double total = 0, at_hi = 0;
  for (float v : x) {
    if (!(v >= floor)) continue;
    total += std::exp(static_cast<double>(v) - m);
    if (v >= std::max(got, want)) at_hi += std::exp(static_cast<double>(v) - m);
  }
  EXPECT_NEAR(at_hi / total, p.top_p, 1e-5)
      << "row " << s << ": threshold " << got << ", cpu " << want << ": not a rounding tie";
}

// The shared comparison with the CPU twin, and each filtered row's final threshold against the
// twin's.
void ExpectMatchesCpuWithThresholds(const Batch& b, const Out& got, const Out& cpu) {
  for (int s = 0; s < b.num_seqs; ++s) {
    const SamplingParams& p = b.params[s];
    if (!IsGreedy(p) && !SamplerUsesSplitPath(p, b.vocab)) ExpectCpuThreshold(b, s);
  }
  sampler_test::ExpectMatchesCpu(b, got, cpu);
}

enum Kind { kNormal, kPeaked, kWide, kTies, kFlat };

Batch MakeBatch(int vocab, int num_seqs, uint64_t seed, const std::vector<Kind>& kinds) {
  Batch b;
  b.vocab = vocab, b.num_seqs = num_seqs;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 2.f);
  b.logits.resize(int64_t{vocab} * num_seqs);
  b.offsets.push_back(0);
  for (int s = 0; s < num_seqs; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    const Kind kind = kinds[s % kinds.size()];
    for (int i = 0; i < vocab; ++i) {
      switch (kind) {
        case kWide:
          row[i] = normal(rng) * 10.f;
          break;
        case kTies:
          row[i] = static_cast<float>(i % 7) * 0.5f;
          break;
        case kFlat:
          row[i] = 0.25f;
          break;
        default:
          row[i] = normal(rng);
      }
    }
    if (kind == kPeaked)
      for (int j = 0; j < 8; ++j) row[rng() % vocab] += 8.f + j;
    SamplingParams p = sampling_cases::kParamMix[s % std::size(sampling_cases::kParamMix)];
    if (s % 4 == 1) p = {0.5f, 300, 1.f, 0.f, 1.f, 0.f, 0.f, 7, 0};    // deep top-k, top-n
    if (s % 4 == 3) p = {1.3f, 0, 0.97f, 0.01f, 1.f, 0.f, 0.f, 0, 0};  // deep top-p, min-p
    p.seed += 1000 * s;
    b.params.push_back(p);
    b.steps.push_back(static_cast<int64_t>(rng() % 100000));
    sampler_test::AppendPenalties(b, static_cast<int>(rng() % 30), rng);
  }
  return b;
}

constexpr SamplerFilterPath kOneRead = SamplerFilterPath::kOneRead;
constexpr SamplerFilterPath kWindow = SamplerFilterPath::kWindow;

TEST(SamplerKernelEmulation, WindowPathMatchesCpuTwin) {
  const int vocab = 2003;
  const Batch b = MakeBatch(vocab, 10, vocab, {kNormal, kPeaked});
  for (const SamplerFilterPath path : {kOneRead, kWindow}) {
    SCOPED_TRACE(SamplerFilterPathName(path));
    g_window_fallbacks = 0;
    ExpectMatchesCpuWithThresholds(b, RunEmulated(b, path), RunCpu(b));
    EXPECT_EQ(g_window_fallbacks.load(), 0) << "ordinary rows: the window serves them all";
  }
}

// The window path on four rows (deep top-k with top-n logprobs, deep top-p with min-p, the
// parameter mix; penalties): the ThreadSanitizer tree's cheap pass over the window's histogram,
// scans, in-bin selection and top-n (the test above takes ~30 s there).
TEST(SamplerKernelEmulation, WindowPathSmallBatch) {
  const Batch b = MakeBatch(1201, 4, 5, {kNormal, kPeaked});
  ExpectMatchesCpuWithThresholds(b, RunEmulated(b, kWindow), RunCpu(b));
}

// Rows the window must hand over (as the GPU test's WindowFallbacksMatchCpuTwin), with one it
// serves in the same batch.
TEST(SamplerKernelEmulation, FallbacksMatchCpuTwin) {
  const int vocab = 4001;
  Batch b = MakeBatch(vocab, 6, 9, {kNormal});
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.f, 20.f);
  for (int s = 0; s < 5; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    SamplingParams p;
    p.seed = 50 + s;
    switch (s) {
      case 0:  // the 1000th largest far below the window
        for (int i = 0; i < vocab; ++i) row[i] = normal(rng);
        p.temperature = 0.5f, p.top_k = 1000, p.num_logprobs = 5;
        break;
      case 1:  // one bin of 4001 for top-k and the top-n
        for (int i = 0; i < vocab; ++i) row[i] = 0.5f;
        p.top_k = 10, p.num_logprobs = 20;
        break;
      case 2:  // the same for top-p
        for (int i = 0; i < vocab; ++i) row[i] = -1.f;
        p.top_p = 0.5f;
        break;
      case 3:  // tie groups of 1333 at top-k's threshold and at the top-n's
        for (int i = 0; i < vocab; ++i) row[i] = static_cast<float>(i % 3);
        p.top_p = 0.7f, p.top_k = 2400, p.num_logprobs = 3;
        break;
      default:  // all -inf but three: served
        for (int i = 0; i < vocab; ++i) row[i] = -INFINITY;
        row[7] = 1.f, row[vocab / 2] = 2.f, row[vocab - 1] = 1.5f;
        p.top_k = 2, p.top_p = 0.9f;
    }
    b.params[s] = p;
  }
  for (const SamplerFilterPath path : {kOneRead, kWindow}) {
    SCOPED_TRACE(SamplerFilterPathName(path));
    g_window_fallbacks = 0;
    ExpectMatchesCpuWithThresholds(b, RunEmulated(b, path), RunCpu(b));
    // Row 0: top-k; 1: top-k and top-n (the one read of top-k 10 overflows on the flat row);
    // 2: top-p; 3: top-k and top-n. Row 4's top-k 2 is served by either.
    EXPECT_EQ(g_window_fallbacks.load(), 6) << "wide, flat and tie rows: the radix path decides";
  }
}

// Kept sets on bin edges, near-uniform: a token lost from (or added to) the race, or a
// threshold one bin off, moves the winner in about half of these rows.
TEST(SamplerKernelEmulation, BinEdgeRowsMatchCpuTwin) {
  const int vocab = 1000, num_seqs = 8;
  Batch b = MakeBatch(vocab, num_seqs, 1, {kNormal});
  b.offsets.assign(num_seqs + 1, 0);
  b.tokens.clear(), b.counts.clear();
  for (int s = 0; s < num_seqs; ++s) {
    b.params[s] =
        sampling_cases::FillBoundaryRow(b.logits.data() + int64_t{s} * vocab, vocab, s, 70 + s);
    b.steps[s] = 11 * s;
  }
  for (const SamplerFilterPath path : {kOneRead, kWindow}) {
    SCOPED_TRACE(SamplerFilterPathName(path));
    g_window_fallbacks = 0;
    ExpectMatchesCpuWithThresholds(b, RunEmulated(b, path), RunCpu(b));
    EXPECT_EQ(g_window_fallbacks.load(), 0);
  }
}

// Split rows (greedy, temperature) whose penalty lists hold the row's peaks, so the penalties
// decide the winner (as the GPU test of the same name). Chunk edges: first, middle, last token.
TEST(SamplerKernelEmulation, SplitPathPenaltiesOnTheTopTokensMatchCpuTwin) {
  const int vocab = 5003, num_seqs = 8;
  Batch b = MakeBatch(vocab, num_seqs, 21, {kNormal});
  b.offsets.assign(1, 0);
  b.tokens.clear(), b.counts.clear();
  int moved = 0;
  for (int s = 0; s < num_seqs; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    const int32_t peaks[] = {0, vocab / 2, vocab - 1};
    for (int j = 0; j < 3; ++j) {
      row[peaks[j]] = 12.f + static_cast<float>(j);
      b.tokens.push_back(peaks[j]);
      b.counts.push_back(j % 2);
    }
    b.offsets.push_back(static_cast<int32_t>(b.tokens.size()));
    SamplingParams p;
    p.temperature = s % 2 == 0 ? 0.f : 0.7f;
    p.repetition_penalty = 1.5f + 0.25f * static_cast<float>(s % 4);
    p.presence_penalty = 1.f, p.frequency_penalty = 0.5f, p.seed = 5 + s;
    ASSERT_TRUE(SamplerUsesSplitPath(p, vocab));
    b.params[s] = p;
  }
  const Out cpu = RunCpu(b);
  for (int s = 0; s < num_seqs; s += 2) moved += cpu.ids[s] != vocab - 1;  // greedy rows
  EXPECT_GT(moved, 0) << "the penalties never moved a greedy token: the test is vacuous";
  ExpectMatchesCpuWithThresholds(b, RunEmulated(b, kOneRead), cpu);
}

// Split rows of real vocabulary sizes, where a chunk is several thousand tokens: most of the split
// pass's batches take its plain 16-byte load path (a full batch of aligned groups), the rest and
// the unaligned vocabulary the checked one.
TEST(SamplerKernelEmulation, SplitPathLargeVocabulariesMatchCpuTwin) {
  for (int vocab : {128256, 152067}) {
    SCOPED_TRACE("vocab " + std::to_string(vocab));
    Batch b = MakeBatch(vocab, 4, vocab, {kNormal, kPeaked});
    for (int s = 0; s < b.num_seqs; ++s) {
      b.params[s].temperature = s % 2 == 0 ? 0.f : 0.6f + 0.4f * static_cast<float>(s);
      b.params[s].top_k = 0, b.params[s].top_p = 1.f, b.params[s].min_p = 0.f;
      b.params[s].num_logprobs = 0;
      ASSERT_TRUE(SamplerUsesSplitPath(b.params[s], vocab));
    }
    ASSERT_GT(PlanSamplerSplit(vocab).chunk_tokens, 4 * 4 * sampling_kernels::kSplitThreads)
        << "no chunk holds a full batch: the plain load path is not reached";
    ExpectMatchesCpuWithThresholds(b, RunEmulated(b, kOneRead), RunCpu(b));
  }
}

// The race alone, token for token (sampler_test::CloseScoreRows: close scores, unfiltered rows in
// the split pass, min-p rows racing in RaceAll after the window, top-k rows in CollectBin's race
// above the bin): every row's token equal to the CPU twin's. A warp bound that prunes a token
// able to win moves the winner of some of these rows.
TEST(SamplerKernelEmulation, RaceMatchesCpuTwinTokenForToken) {
  const Batch b = sampler_test::CloseScoreRows(3001, 32, 77);
  const Out cpu = RunCpu(b);
  for (const SamplerFilterPath path : {kOneRead, kWindow}) {
    SCOPED_TRACE(SamplerFilterPathName(path));
    const Out got = RunEmulated(b, path);
    sampler_test::ExpectMatchesCpu(b, got, cpu);
    for (int s = 0; s < b.num_seqs; ++s) EXPECT_EQ(got.ids[s], cpu.ids[s]) << "row " << s;
  }
}

// The two-level race's edges (sampler_test::TwoLevelEdgeRows), token for token against the CPU
// twin, with the checked loads (odd vocabulary) and the plain ones.
TEST(SamplerKernelEmulation, TwoLevelRaceEdgeRowsMatchCpuTwin) {
  for (int vocab : {9000, 9001}) {
    SCOPED_TRACE("vocab " + std::to_string(vocab));
    const Batch b = sampler_test::TwoLevelEdgeRows(vocab, 5);
    ASSERT_EQ(PlanSamplerSplit(vocab).num_chunks, 3);
    const Out got = RunEmulated(b, kOneRead), cpu = RunCpu(b);
    sampler_test::ExpectMatchesCpu(b, got, cpu);
    for (int s = 0; s < b.num_seqs; ++s) EXPECT_EQ(got.ids[s], cpu.ids[s]) << "row " << s;
    EXPECT_EQ(cpu.ids[0], 4099) << "the lowest +inf token";
    EXPECT_EQ(cpu.ids[1], 0) << "all -inf";
    EXPECT_EQ(cpu.ids[8], 0) << "all -inf, the listed token 0";
    EXPECT_NE(cpu.ids[2] % 7, 0) << "a NaN token won";
    EXPECT_TRUE(cpu.ids[4] == 100 || cpu.ids[4] == 8200) << cpu.ids[4];
    EXPECT_TRUE(cpu.ids[5] == 4132 || cpu.ids[5] == 4262 || cpu.ids[5] == 4516) << cpu.ids[5];
  }
}

// The race's work on bench_sampling's rows (128256 tokens, uniform in [-5, 5) or peaked: normal
// with sigma 2.5 and 16 tokens raised by 8-16), temperature 0.8, unfiltered (the split pass's
// two-level race: level 1 counted, a Philox block per 4 groups of 16 tokens a lane, an exact
// score per group; level 2 is 4 Philox blocks per chunk) and top-p 0.9 (the window path's
// CollectBin: a Philox block per 4 tokens), counted per warp as a GPU runs it: a warp-wide
// Philox block when any lane needs one, a warp-wide exact score (two accurate logs) when any
// lane's fast filter lets its token or group through.
TEST(SamplerKernelEmulation, RaceWorkPerWarp) {
  const int vocab = 128256;
  for (const bool peaked : {false, true}) {
    for (const float top_p : {1.f, 0.9f}) {
      Batch b;
      b.vocab = vocab, b.num_seqs = 1;
      std::mt19937_64 rng(peaked ? 12 : 11);
      std::uniform_real_distribution<float> uniform(0.f, 1.f);
      std::normal_distribution<float> normal(0.f, 2.5f);
      for (int i = 0; i < vocab; ++i)
        b.logits.push_back(peaked ? normal(rng) : uniform(rng) * 10.f - 5.f);
      if (peaked)
        for (int j = 0; j < 16; ++j) b.logits[rng() % vocab] += 8.f + 8.f * uniform(rng);
      SamplingParams p;
      p.temperature = 0.8f, p.top_p = top_p, p.seed = 99;
      b.params = {p};
      b.steps = {7};
      b.offsets = {0, 0};
      {
        std::lock_guard<std::mutex> l(g_race.mu);
        g_race.warps.clear(), g_race.philox_lanes = g_race.exact_lanes = 0, g_race.on = true;
      }
      // Top-p: the window path's race (the one read races its collected values one by one).
      const Out got = RunEmulated(b, top_p == 1.f ? kOneRead : kWindow);
      g_race.on = false;
      const Out cpu = RunCpu(b);
      sampler_test::ExpectMatchesCpu(b, got, cpu);
      if (top_p == 1.f) {
        EXPECT_EQ(got.ids[0], cpu.ids[0]) << "unfiltered: no top-p boundary to round";
        // A race over every token had 7.9 warp-wide Philox blocks per 1000 tokens (2026-11-23).
        EXPECT_LT(g_race.Warps(false) * 1000.0 / vocab, 1.0) << "warp-wide Philox blocks / 1000";
      }
      const double per_k = 1000.0 / vocab;
      std::printf(
          "%s rows, top-p %g: per 1000 tokens, Philox blocks %.1f lanes / %.1f warps, exact "
          "scores %.2f lanes / %.2f warps\n",
          peaked ? "peaked" : "uniform", top_p, g_race.philox_lanes * per_k,
          g_race.Warps(false) * per_k, g_race.exact_lanes * per_k, g_race.Warps(true) * per_k);
      // The per-token race: against each lane's own best, 15-23 per 1000 tokens (of 31.25
      // token positions a warp has); against the warp's bound, 1-3. The two-level race: ~1.
      EXPECT_LT(g_race.Warps(true) * per_k, 5.0) << "warp-wide exact scores per 1000 tokens";
    }
  }
}

// Top-k and top-p together, top-p the tighter (chat defaults such as top-k 40-50 with top-p
// 0.9-0.95 on peaked rows): top-p's bin is known from the histogram and collected in the read of
// top-k's bin, 2 reads of the row instead of 3. A wrong prediction (forced here) costs the third
// read back, never a token or a threshold.
TEST(SamplerKernelEmulation, TopKAndTopPShareOneCollectRead) {
  const int vocab = 3001, num_seqs = 12;
  Batch b = MakeBatch(vocab, num_seqs, 31, {kPeaked, kNormal});
  for (int s = 0; s < num_seqs; ++s) {
    SamplingParams& p = b.params[s];
    // min-p on normal rows only (on the peaked ones it would leave fewer than 50 candidates)
    p = {0.8f, 50, s < 4 ? 0.9f : 0.5f, s % 2 == 1 && s % 3 != 0 ? 0.01f : 0.f, 1.f, 0.f, 0.f, 0,
         static_cast<uint64_t>(90 + s)};
  }
  // Row 7: top-k the tighter (top-p's bin is top-k's), which the collect of top-k serves.
  b.params[7].top_k = 5, b.params[7].top_p = 0.99f;
  // Rows 8-11 (sampling_cases::FillTopPInsideTopKRow): top-p keeps 20 tokens tied at the max,
  // and the race goes wrong if the bins between top-p's and top-k's or the second bin's slots
  // are raced wrongly.
  b.offsets.resize(9);
  b.tokens.resize(b.offsets[8]), b.counts.resize(b.offsets[8]);
  for (int s = 8; s < num_seqs; ++s) {
    b.params[s] =
        sampling_cases::FillTopPInsideTopKRow(b.logits.data() + int64_t{s} * vocab, vocab, 90 + s);
    b.offsets.push_back(b.offsets.back());  // no penalties
  }
  const std::vector<bool> certain = {true, false, true, false, true,  false,
                                     true, true,  true, true,  true,  true};
  // Each row's bins from the CPU twin's thresholds: top-k's alone and the final one.
  std::vector<int> kbin(num_seqs), pbin(num_seqs);
  int fused = 0;
  for (int s = 0; s < num_seqs; ++s) {
    const std::vector<float> x = ScaledRow(b, s);
    const float m = *std::max_element(x.begin(), x.end());
    SamplingParams no_p = b.params[s];
    no_p.top_p = 1.f;
    const float t0 = no_p.min_p > 0.f ? m + std::log(no_p.min_p) : -INFINITY;
    ASSERT_GT(std::count_if(x.begin(), x.end(), [&](float v) { return v >= t0; }), no_p.top_k)
        << "row " << s << ": top-k must bind (else no top-k bin is read)";
    kbin[s] = sampler_window::Bin(m, SamplerThresholdCpu(x.data(), vocab, no_p));
    pbin[s] = sampler_window::Bin(m, SamplerThresholdCpu(x.data(), vocab, b.params[s]));
    ASSERT_LE(pbin[s], kbin[s]);
    fused += pbin[s] < kbin[s];
  }
  ASSERT_EQ(fused, 11) << "rows 0-6 and 8-11: top-p's bin above top-k's";
  const Out cpu = RunCpu(b);
  for (const int forced : {-1, 0, -2}) {
    SCOPED_TRACE("forced prediction " + std::to_string(forced));
    g_forced_cocollect = forced;
    g_window_fallbacks = 0;
    ExpectMatchesCpuWithThresholds(b, RunEmulated(b, kWindow), cpu);
    g_forced_cocollect = -1;
    EXPECT_EQ(g_window_fallbacks.load(), 0);
    for (int s = 0; s < num_seqs; ++s) {
      SCOPED_TRACE("row " + std::to_string(s) + ": top-k bin " + std::to_string(kbin[s]) +
                   ", top-p bin " + std::to_string(pbin[s]));
      if (forced == -1) {
        // Top-k's bin carries next to no mass on the peaked rows and rows 8-11, so the
        // prediction is certain; row 7 needs no second bin.
        if (certain[s]) {
          EXPECT_EQ(g_row_reads[s], 2);
        }
        EXPECT_LE(g_row_reads[s], 3);
        continue;
      }
      const int predicted = forced >= 0 ? forced : kbin[s] - 1;
      if (predicted >= 0 && predicted < kbin[s]) {  // a second bin was collected
        EXPECT_EQ(g_row_reads[s], predicted == pbin[s] ? 2 : 3);
      } else {
        EXPECT_EQ(g_row_reads[s], pbin[s] == kbin[s] ? 2 : 3);
      }
    }
  }
}

// The top-n logprobs in one read: the bound is the n-th largest of the 1024 threads' maxima
// over the first 8192 values (checked against a host replay), the top n are exact against the
// CPU twin (ties by lowest id, NaN left out, -inf where fewer than n are finite), and rows where
// more than kCap values reach the bound take the window's two reads (or the radix select).
TEST(SamplerKernelEmulation, TopLogprobsInOneRead) {
  const int vocab = 20011, num_seqs = 8;
  Batch b = MakeBatch(vocab, num_seqs, 41, {kNormal, kPeaked, kWide});
  b.offsets.assign(num_seqs + 1, 0);
  b.tokens.clear(), b.counts.clear();
  for (int s = 0; s < num_seqs; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    SamplingParams& p = b.params[s];
    p = {};
    p.temperature = 0.f;  // greedy: the filtered kernel only ranks the top n
    p.num_logprobs = s % 2 == 0 ? kMaxLogprobs : 5;
    switch (s) {
      case 3:  // ties: 50 values, 400 tokens each; the top n all tied, ranked by id
        for (int i = 0; i < vocab; ++i) row[i] = static_cast<float>(i % 50) * 0.1f;
        break;
      case 4:  // many -inf (NaN logits make every logprob NaN; the CPU twin does not rank them)
        for (int i = 5; i < vocab; i += 3) row[i] = -INFINITY;
        break;
      case 5:  // 3 finite values: the rest of the top n is -inf, lowest ids first
        for (int i = 0; i < vocab; ++i) row[i] = -INFINITY;
        row[17] = 1.f, row[9000] = 2.f, row[vocab - 1] = 0.5f;
        break;
      case 6:  // flat: every value reaches the bound, more than kCap: the window, then radix
        for (int i = 0; i < vocab; ++i) row[i] = 0.25f;
        break;
      case 7:  // sampled with top-k: the top n read once beside the selection's reads
        p.temperature = 0.7f, p.top_k = 40;
        break;
      default:
        break;
    }
  }
  g_window_fallbacks = 0;
  ExpectMatchesCpuWithThresholds(b, RunEmulated(b, kOneRead), RunCpu(b));
  EXPECT_EQ(g_window_fallbacks.load(), 2)
      << "rows 5 and 6: the n-th value below the window, one bin of 20011";
  for (int s = 0; s < num_seqs; ++s) {
    SCOPED_TRACE("row " + std::to_string(s));
    const float* row = b.logits.data() + int64_t{s} * vocab;
    const int n = b.params[s].num_logprobs;
    std::vector<float> maxima(sk::kFilteredThreads, -INFINITY);
    for (int i = 0; i < sk::kBatch * sk::kFilteredThreads && i < vocab; ++i)
      if (row[i] == row[i]) maxima[i % sk::kFilteredThreads] =
                                std::max(maxima[i % sk::kFilteredThreads], row[i]);
    std::nth_element(maxima.begin(), maxima.begin() + (n - 1), maxima.end(), std::greater<>());
    EXPECT_EQ(g_topn[s].first, maxima[n - 1]) << "the bound";
    const auto reaches = [&](float v) { return v >= maxima[n - 1]; };
    const int reaching = static_cast<int>(std::count_if(row, row + vocab, reaches));
    EXPECT_EQ(g_topn[s].second, reaching) << "candidates collected";
    if (s == 5 || s == 6) {  // the bound is -inf or every value: the window's reads
      EXPECT_GT(reaching, sampler_window::kCap);
      continue;
    }
    if (s == 3) {
      EXPECT_EQ(reaching, 400) << "the top tie group";
    } else {
      EXPECT_LE(reaching, 4 * n * vocab / (sk::kBatch * sk::kFilteredThreads) + 20)
          << "about n per 8192 values";
    }
    if (s != 7) {
      EXPECT_EQ(g_row_reads[s], 1);
    }
  }
}

// Rows in one read (kOneRead): the bound (the k-th largest of the 1024 threads' maxima over the
// row's first rounds, checked against a host replay), the values collected (all that reach it),
// thresholds and tokens against the CPU twin, and the reads: rows without penalties or top-n
// logprobs are read once in all (no chunk of the split pass), the others once after the split
// pass (and once for their top-n). `handed`: the rows the window path must serve instead, where
// more than kCap values reach the bound (a tie group that large, a row sorted ascending) or, for
// top-p alone, the collected values hold less than top_p of the row's mass (checked in double).
void ExpectInOneRead(const Batch& b, const std::vector<int>& handed) {
  g_window_fallbacks = 0;
  ExpectMatchesCpuWithThresholds(b, RunEmulated(b, kOneRead), RunCpu(b));
  const int round = sk::kBatch * sk::kFilteredThreads;
  for (int s = 0; s < b.num_seqs; ++s) {
    const SamplingParams& p = b.params[s];
    const bool top_k = SamplerTopKInOneRead(p, b.vocab);
    SCOPED_TRACE("row " + std::to_string(s) + (top_k ? " top-k " : " top-p ") +
                 std::to_string(top_k ? p.top_k : p.top_p));
    ASSERT_TRUE(SamplerInOneRead(p, b.vocab));
    const std::vector<float> x = ScaledRow(b, s);
    const int k = top_k ? p.top_k : sampler_window::OneReadTopPK(b.vocab, round);
    const int rounds = top_k ? sampler_window::OneReadBoundRounds(k, b.vocab, round) : 1;
    const int first = std::min(b.vocab, rounds * round);
    std::vector<float> maxima(sk::kFilteredThreads, -INFINITY);
    for (int i = 0; i < first; ++i)
      if (x[i] == x[i]) maxima[i % maxima.size()] = std::max(maxima[i % maxima.size()], x[i]);
    std::nth_element(maxima.begin(), maxima.begin() + (k - 1), maxima.end(), std::greater<>());
    const float bound = maxima[k - 1];
    const auto reaches = [&](float v) { return v >= bound && v != -INFINITY; };
    const int reaching = static_cast<int>(std::count_if(x.begin(), x.end(), reaches));
    EXPECT_EQ(g_topk[s].first, bound) << "the bound";
    EXPECT_EQ(g_topk[s].second, reaching) << "values collected";
    bool served = reaching <= sampler_window::kCap;
    if (!top_k && served) {
      const float m = *std::max_element(x.begin(), x.end());
      double total = 0, collected = 0;
      for (float v : x) {
        total += std::exp(static_cast<double>(v) - m);  // NaN stays
        if (reaches(v)) collected += std::exp(static_cast<double>(v) - m);
      }
      served = collected >= p.top_p * total;
      std::printf("row %d: top-p %g, the collected %d values hold %.4f of the mass\n", s, p.top_p,
                  reaching, collected / total);
    }
    const bool is_handed = std::find(handed.begin(), handed.end(), s) != handed.end();
    EXPECT_EQ(!served, is_handed);
    const bool has_pen = b.offsets[s + 1] > b.offsets[s];
    const bool alone = SamplerSkipsSplitPass(p, b.vocab, has_pen);
    EXPECT_EQ(g_split_chunks[s].load(), alone ? 0 : PlanSamplerSplit(b.vocab).num_chunks);
    if (is_handed) {
      EXPECT_GT(g_row_reads[s], 1 + (p.num_logprobs > 0));
    } else {
      EXPECT_EQ(g_row_reads[s], 1 + (p.num_logprobs > 0)) << "alone " << alone;
    }
  }
}

TEST(SamplerKernelEmulation, TopKInOneRead) {
  const int vocab = 20011, num_seqs = 12;
  Batch b = MakeBatch(vocab, num_seqs, 51, {kNormal, kPeaked, kWide});
  std::mt19937_64 rng(52);
  b.offsets.assign(1, 0);
  b.tokens.clear(), b.counts.clear();
  for (int s = 0; s < num_seqs; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    SamplingParams& p = b.params[s];
    p = {};
    p.temperature = 0.8f, p.seed = 300 + s;
    switch (s) {
      case 0:  // normal: top-p over the 50 (of ~400 collected) keeps ~40
        p.top_k = 50, p.top_p = 0.8f;
        break;
      case 1:  // peaked: top-p keeps a few of the 40
        p.top_k = 40, p.top_p = 0.9f;
        break;
      case 2:  // wide, min-p the tighter, no logprob asked
        p.top_k = 5, p.min_p = 0.05f, p.token_logprob = 0;
        break;
      case 3:  // 7 tie groups of ~2858: the one read overflows, and the window's bin too
        for (int i = 0; i < vocab; ++i) row[i] = static_cast<float>(i % 7) * 0.5f;
        p.top_k = 10;
        break;
      case 4:  // ascending: the first rounds bound nothing (the window serves it)
        for (int i = 0; i < vocab; ++i) row[i] = static_cast<float>(i) * 1e-3f;
        p.top_k = 20;
        break;
      case 5:  // penalties on peaks above the (wide) row: after the split pass, its raw lse
        p.top_k = 50, p.top_p = 0.95f, p.repetition_penalty = 1.3f, p.presence_penalty = 0.5f;
        break;
      case 6:  // top-n logprobs: after the split pass, beside the top-n's read
        p.top_k = 30, p.num_logprobs = 5;
        break;
      case 7:  // the largest k, with min-p and top-p
        p.top_k = kSamplerOneReadMaxK, p.top_p = 0.8f, p.min_p = 0.01f;
        break;
      case 8:  // k = 1: the max alone
        p.top_k = 1;
        break;
      case 9:  // -inf but three values, two past the first round: the bound is -inf
        for (int i = 0; i < vocab; ++i) row[i] = -INFINITY;
        row[7] = 1.f, row[vocab / 2] = 2.f, row[vocab - 1] = 1.5f;
        p.top_k = 2, p.top_p = 0.9f;
        break;
      case 10:  // NaN logits: never collected
        for (int i = 3; i < vocab; i += 7) row[i] = std::nanf("");
        p.top_k = 20, p.top_p = 0.9f;
        break;
      default:  // fewer than k finite values, min-p: the bound is -inf, top-k keeps them all
        for (int i = 0; i < vocab; ++i) row[i] = i % 4001 == 5 ? 1.f * (i / 4001) : -INFINITY;
        p.top_k = 50, p.min_p = 0.1f;
    }
    if (s == 5) {
      sampler_test::AppendPenalties(b, 40, rng);
      for (int e = b.offsets[s]; e < b.offsets[s + 1]; e += 2)
        row[b.tokens[e]] = 100.f + static_cast<float>(e - b.offsets[s]);
    } else {
      b.offsets.push_back(b.offsets.back());
    }
  }
  ExpectInOneRead(b, {3, 4});
  EXPECT_EQ(g_window_fallbacks.load(), 1) << "row 3: the window hands over to the radix";
}

// At Llama 3's vocabulary the bound takes several rounds: 2 for k = 50, 8 (half the row) for
// k = 256; one for top-p alone (a peaked row).
TEST(SamplerKernelEmulation, TopKInOneReadLargeVocabulary) {
  const int vocab = 128256;
  Batch b = MakeBatch(vocab, 4, 53, {kNormal, kPeaked});
  b.offsets.assign(5, 0);
  b.tokens.clear(), b.counts.clear();
  const int ks[] = {50, kSamplerOneReadMaxK, 20, 0};
  for (int s = 0; s < 4; ++s) {
    b.params[s] = {};
    b.params[s].temperature = 0.7f, b.params[s].top_k = ks[s], b.params[s].seed = 400 + s;
  }
  b.params[1].top_p = 0.9f, b.params[2].min_p = 0.1f, b.params[3].top_p = 0.9f;
  EXPECT_EQ(sampler_window::OneReadBoundRounds(50, vocab, 8192), 2);
  EXPECT_EQ(sampler_window::OneReadBoundRounds(kSamplerOneReadMaxK, vocab, 8192), 8);
  ExpectInOneRead(b, {});
  EXPECT_EQ(g_window_fallbacks.load(), 0);
}

// Tie groups at the top of the row (40 tokens at one value, top-k 10 keeps them all): the race
// among them is decided by the random draws alone, token for token against the CPU twin. A sort
// that loses or repeats an element of a tie group moves the winner of some of these rows.
TEST(SamplerKernelEmulation, TiedTopInOneRead) {
  const int vocab = 20011, num_seqs = 8;
  Batch b = sampler_test::Unpenalized(vocab, num_seqs);
  std::mt19937_64 rng(59);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int s = 0; s < num_seqs; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    for (int i = 0; i < vocab; ++i) row[i] = i % 500 == s ? 6.f : normal(rng);
    if (s % 2 == 1)  // a second group just below
      for (int i = 250 + s; i < vocab; i += 500) row[i] = 5.5f;
    SamplingParams p;
    p.temperature = 0.9f, p.top_k = s % 2 == 0 ? 10 : 60, p.seed = 700 + s;
    if (s >= 4) p.min_p = 0.5f;
    b.params.push_back(p);
    b.steps.push_back(3 * s);
  }
  const Out got = RunEmulated(b, kOneRead), cpu = RunCpu(b);
  sampler_test::ExpectMatchesCpu(b, got, cpu);
  for (int s = 0; s < num_seqs; ++s) {
    EXPECT_EQ(got.ids[s], cpu.ids[s]) << "row " << s;
    EXPECT_EQ(g_row_reads[s], 1) << "row " << s;
  }
}

// Top-p alone (the usual OpenAI-style request): served by the one read where the collected top
// of the row holds top_p of its mass (peaked, wide rows), else by the window after it (normal
// rows at top-p 0.9, a NaN row).
TEST(SamplerKernelEmulation, TopPAloneInOneRead) {
  const int vocab = 20011, num_seqs = 9;
  Batch b = MakeBatch(vocab, num_seqs, 57,
                      {kPeaked, kNormal, kPeaked, kPeaked, kWide, kPeaked, kPeaked, kPeaked});
  std::mt19937_64 rng(58);
  b.offsets.assign(1, 0);
  b.tokens.clear(), b.counts.clear();
  // Row 8: row 7's logits, whose collected top holds 0.874 of the mass: served at top-p 0.8,
  // handed to the window at 0.9.
  std::copy_n(b.logits.begin() + int64_t{7} * vocab, vocab, b.logits.begin() + int64_t{8} * vocab);
  const float top_ps[] = {0.9f, 0.9f, 0.95f, 0.5f, 0.99f, 0.9f, 0.9f, 0.8f, 0.9f};
  for (int s = 0; s < num_seqs; ++s) {
    SamplingParams& p = b.params[s];
    p = {};
    p.temperature = s >= 7 ? 1.3f : 0.8f, p.top_p = top_ps[s], p.seed = 500 + s;
    if (s == 3) p.token_logprob = 0;
    if (s == 5)
      for (int i = 3; i < vocab; i += 7) b.logits[int64_t{s} * vocab + i] = std::nanf("");
    if (s == 6) p.num_logprobs = 3;
    if (s == 2) {  // penalties: after the split pass
      p.repetition_penalty = 1.2f, p.frequency_penalty = 0.3f;
      sampler_test::AppendPenalties(b, 30, rng);
    } else {
      b.offsets.push_back(b.offsets.back());
    }
  }
  ExpectInOneRead(b, {1, 5, 8});
  EXPECT_EQ(g_window_fallbacks.load(), 0);
}

// NaN logits (a broken model) are never drawn nor ranked, on both paths, as by the CPU twin;
// a filtered row of NaN alone draws token 0 (it used to read the logit at index INT_MAX).
TEST(SamplerKernelEmulation, NanLogitsMatchCpuTwin) {
  const Batch b = sampler_test::NanRows(3001, 8, 61);
  const Out cpu = RunCpu(b);
  for (int s = 6; s < 8; ++s) EXPECT_EQ(cpu.ids[s], 0) << "all NaN: token 0";
  for (const SamplerFilterPath path : {kOneRead, kWindow, SamplerFilterPath::kRadix}) {
    SCOPED_TRACE(SamplerFilterPathName(path));
    ExpectMatchesCpuWithThresholds(b, RunEmulated(b, path), cpu);
  }
}

TEST(SamplerKernelEmulation, RadixPathMatchesCpuTwin) {
  const Batch b = MakeBatch(2001, 10, 5, {kNormal, kWide, kTies});
  g_window_fallbacks = 0;
  ExpectMatchesCpuWithThresholds(b, RunEmulated(b, SamplerFilterPath::kRadix), RunCpu(b));
  EXPECT_EQ(g_window_fallbacks.load(), 0) << "the radix path never enters the window";
}

}  // namespace
}  // namespace hearth
