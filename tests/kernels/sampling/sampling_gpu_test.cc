// The GPU sampler against the CPU twin over the sampler case table: same tokens (greedy rows
// exactly; sampled rows up to float-rounding near a filter boundary or a near-tie of race
// scores), same raw logprobs and top-n, and run-to-run determinism.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/sampling/sampler.h"
#include "kernels/sampling/sampling_cases.h"
#include "tests/kernels/sampling/sampler_test_batch.h"
#include "tests/support/device_buffer.h"

namespace hearth {
namespace {

using testing::DeviceBuffer;

using sampler_test::Batch;
using sampler_test::ExpectMatchesCpu;
using sampler_test::RunCpu;
using Result = sampler_test::Sampled;

Batch MakeBatch(int vocab, int num_seqs, uint64_t seed) {
  Batch b;
  b.vocab = vocab;
  b.num_seqs = num_seqs;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 2.f);
  b.logits.resize(int64_t{vocab} * num_seqs);
  for (float& x : b.logits) x = normal(rng);
  b.offsets.push_back(0);
  for (int s = 0; s < num_seqs; ++s) {
    // A few peaked tokens per row, as real logits have.
    for (int j = 0; j < 8; ++j) b.logits[int64_t{s} * vocab + rng() % vocab] += 8.f + j;
    SamplingParams p = sampling_cases::kParamMix[s % std::size(sampling_cases::kParamMix)];
    p.seed += 1000 * s;
    b.params.push_back(p);
    b.steps.push_back(static_cast<int64_t>(rng() % 100000));
    sampler_test::AppendPenalties(b, static_cast<int>(rng() % 64), rng);  // distinct penalty tokens
  }
  return b;
}

Result RunGpu(const Batch& b, SamplerFilterPath path = SamplerFilterPath::kOneRead) {
  DeviceBuffer logits = DeviceBuffer::FromVector(b.logits);
  DeviceBuffer params = DeviceBuffer::FromVector(b.params);
  DeviceBuffer steps = DeviceBuffer::FromVector(b.steps);
  DeviceBuffer off = DeviceBuffer::FromVector(b.offsets);
  DeviceBuffer tok =
      DeviceBuffer::FromVector(b.tokens.empty() ? std::vector<int32_t>{0} : b.tokens);
  DeviceBuffer cnt =
      DeviceBuffer::FromVector(b.counts.empty() ? std::vector<int32_t>{0} : b.counts);
  DeviceBuffer ids(b.num_seqs * 4), lp(b.num_seqs * 4);
  DeviceBuffer top_ids(b.num_seqs * kMaxLogprobs * 4), top_lp(b.num_seqs * kMaxLogprobs * 4);
  for (DeviceBuffer* d : {&ids, &lp, &top_ids, &top_lp}) d->Poison();
  const Status s =
      Sample(logits.as<float>(), b.num_seqs, b.vocab, params.as<SamplingParams>(),
             steps.as<int64_t>(), {off.as<int32_t>(), tok.as<int32_t>(), cnt.as<int32_t>()},
             {ids.as<int32_t>(), lp.as<float>(), top_ids.as<int32_t>(), top_lp.as<float>()},
             nullptr, path);
  EXPECT_TRUE(s.ok()) << "Sample (GPU) failed: " << s.ToString();
  HEARTH_CUDA_OK(cudaDeviceSynchronize());
  return {ids.ToVector<int32_t>(), top_ids.ToVector<int32_t>(), lp.ToVector<float>(),
          top_lp.ToVector<float>()};
}

// Every selection of the filtered rows against the CPU twin.
// A batch without penalties: fill(row, vocab, s) writes row s and returns its parameters; step
// step_stride * s.
template <class Fill>
Batch FilledBatch(int vocab, int num_seqs, int step_stride, Fill fill) {
  Batch b;
  b.vocab = vocab;
  b.num_seqs = num_seqs;
  b.logits.resize(int64_t{vocab} * num_seqs);
  b.offsets.assign(num_seqs + 1, 0);
  for (int s = 0; s < num_seqs; ++s) {
    b.params.push_back(fill(b.logits.data() + int64_t{s} * vocab, vocab, s));
    b.steps.push_back(int64_t{step_stride} * s);
  }
  return b;
}

constexpr SamplerFilterPath kPaths[] = {SamplerFilterPath::kOneRead, SamplerFilterPath::kWindow,
                                        SamplerFilterPath::kRadix};

void ExpectEveryPathMatchesCpu(const Batch& b) {
  const Result cpu = RunCpu(b);
  for (SamplerFilterPath path : kPaths) {
    SCOPED_TRACE(SamplerFilterPathName(path));
    ExpectMatchesCpu(b, RunGpu(b, path), cpu);
  }
}

TEST(SamplerGpu, MatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  for (SamplerFilterPath path : kPaths) {
    for (const auto& c : sampling_cases::kTestCases) {
      SCOPED_TRACE(std::string(SamplerFilterPathName(path)) + " vocab=" + std::to_string(c.vocab) +
                   " num_seqs=" + std::to_string(c.num_seqs));
      const Batch b = MakeBatch(c.vocab, c.num_seqs, c.vocab + c.num_seqs);
      ExpectMatchesCpu(b, RunGpu(b, path), RunCpu(b));
    }
  }
}

// Rows where the window path must hand over to the radix select (sampler_window.h), mixed in
// one batch with rows it serves: thresholds below the window (wide logits, deep top-k), tie
// groups of more than kCap tokens at the threshold (all-equal rows, for top-k, top-p and the
// top-n), all -inf but one. Both paths, against the CPU twin.
TEST(SamplerGpu, WindowFallbacksMatchCpuTwin) {
  HEARTH_REQUIRE_GPU();
  const int vocab = 50001, num_seqs = 12;
  Batch b;
  b.vocab = vocab;
  b.num_seqs = num_seqs;
  b.offsets.assign(num_seqs + 1, 0);
  std::mt19937_64 rng(31);
  std::normal_distribution<float> normal(0.f, 2.f);
  b.logits.resize(int64_t{vocab} * num_seqs);
  for (int s = 0; s < num_seqs; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    SamplingParams p;
    p.seed = 100 + s;
    switch (s % 6) {
      case 0:  // wide: the 1000th largest s lies ~80 below the max
        for (int i = 0; i < vocab; ++i) row[i] = normal(rng) * 20.f;
        p.temperature = 0.5f, p.top_k = 1000, p.num_logprobs = 5;
        break;
      case 1:  // all equal: one bin of 50001 for top-k
        for (int i = 0; i < vocab; ++i) row[i] = 0.5f;
        p.top_k = 10, p.num_logprobs = 20;
        break;
      case 2:  // all equal, top-p
        for (int i = 0; i < vocab; ++i) row[i] = -1.f;
        p.top_p = 0.5f;
        break;
      case 3:  // a few values, ties of thousands at the top-p threshold
        for (int i = 0; i < vocab; ++i) row[i] = static_cast<float>(i % 5);
        p.top_p = 0.7f, p.top_k = 30000, p.num_logprobs = 3;
        break;
      case 4:  // all -inf but three
        for (int i = 0; i < vocab; ++i) row[i] = -INFINITY;
        row[7] = 1.f, row[vocab / 2] = 2.f, row[vocab - 1] = 1.5f;
        p.top_k = 2, p.top_p = 0.9f;
        break;
      default:  // an ordinary row the window serves, in the same batch
        for (int i = 0; i < vocab; ++i) row[i] = normal(rng);
        p.top_k = 40, p.top_p = 0.8f, p.min_p = 0.02f, p.num_logprobs = 4;
    }
    b.params.push_back(p);
    b.steps.push_back(3 * s);
  }
  ExpectEveryPathMatchesCpu(b);
}

// Kept sets on the window's bin edges, near-uniform (sampling_cases::FillBoundaryRow): a token
// lost from the race, a tie dropped or a threshold one bin off moves the winner in about half of
// these rows, so more than one mismatch in 64 means a real bug. Both paths.
TEST(SamplerGpu, BinEdgeRowsMatchCpuTwin) {
  HEARTH_REQUIRE_GPU();
  ExpectEveryPathMatchesCpu(FilledBatch(32000, 64, 17, [](float* row, int vocab, int s) {
    return sampling_cases::FillBoundaryRow(row, vocab, s, 300 + s);
  }));
}

// Top-p's bin above top-k's, collected in the same read (sampling_cases::FillTopPInsideTopKRow):
// a wrong race over the bins between them or over the second bin's slots moves the winner in
// most rows. Both paths (the radix one as a reference on the same rows).
TEST(SamplerGpu, TopPBinCollectedWithTopKsMatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  ExpectEveryPathMatchesCpu(FilledBatch(128256, 32, 13, [](float* row, int vocab, int s) {
    return sampling_cases::FillTopPInsideTopKRow(row, vocab, 500 + s);
  }));
}

// Top-k rows selected in one read (kOneRead, as the emulation's TopKInOneRead) at Llama 3's
// vocabulary: k from 1 to kSamplerOneReadMaxK (1 to 8 rounds for the bound), with min-p and
// top-p, with the token's logprob (the read's own log-sum-exp) and without, with top-n logprobs
// (after the split pass), and rows where more than kCap values reach the bound (ascending, tie
// groups), which the window path serves.
TEST(SamplerGpu, TopKInOneReadMatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  ExpectEveryPathMatchesCpu(FilledBatch(128256, 32, 19, [](float* row, int vocab, int s) {
    std::mt19937_64 rng(600 + s);
    std::normal_distribution<float> normal(0.f, 2.5f);
    for (int i = 0; i < vocab; ++i) row[i] = normal(rng);
    if (s % 2 == 1)
      for (int j = 0; j < 16; ++j) row[rng() % vocab] += 8.f + static_cast<float>(j);
    SamplingParams p;
    p.temperature = 0.6f + 0.1f * static_cast<float>(s % 5), p.seed = 600 + s;
    const int ks[] = {1, 5, 20, 40, 50, 100, kSamplerOneReadMaxK};
    p.top_k = ks[s % 7];
    if (s % 3 == 1) p.top_p = 0.9f;
    if (s % 4 == 2) p.min_p = 0.05f;
    if (s % 5 == 3) p.token_logprob = 0;
    if (s % 8 == 5) p.num_logprobs = 5;
    if (s == 30)
      for (int i = 0; i < vocab; ++i) row[i] = static_cast<float>(i) * 1e-4f;
    if (s == 31)
      for (int i = 0; i < vocab; ++i) row[i] = static_cast<float>(i % 9) * 0.25f;
    return p;
  }));
}

// NaN logits (sampler_test::NanRows): never drawn nor ranked on either path, as by the CPU twin;
// filtered rows of NaN alone draw token 0 (they used to read the logit at index INT_MAX).
TEST(SamplerGpu, NanLogitsMatchCpuTwin) {
  HEARTH_REQUIRE_GPU();
  ExpectEveryPathMatchesCpu(sampler_test::NanRows(128256, 14, 8));
}

// Split-path rows (greedy / unfiltered temperature, no logprobs) whose penalty lists hold the
// row's peaked tokens, so the penalties decide the winner.
TEST(SamplerGpu, SplitPathPenaltiesOnTheTopTokensMatchCpu) {
  HEARTH_REQUIRE_GPU();
  for (int vocab : {50001, 128256}) {
    SCOPED_TRACE("vocab=" + std::to_string(vocab));
    const int num_seqs = 16;
    Batch b;
    b.vocab = vocab;
    b.num_seqs = num_seqs;
    std::mt19937_64 rng(vocab);
    std::normal_distribution<float> normal(0.f, 2.f);
    b.logits.resize(int64_t{vocab} * num_seqs);
    for (float& x : b.logits) x = normal(rng);
    b.offsets.push_back(0);
    std::vector<int32_t> raw_argmax(num_seqs);
    for (int s = 0; s < num_seqs; ++s) {
      float* row = b.logits.data() + int64_t{s} * vocab;
      std::vector<int32_t> peaks;
      // Peaks spread over the chunks (first and last token included), all penalized.
      for (int32_t tok : {0, vocab - 1, vocab / 2, static_cast<int>(rng() % vocab)}) {
        if (std::find(peaks.begin(), peaks.end(), tok) != peaks.end()) continue;
        row[tok] = 12.f + static_cast<float>(peaks.size());
        peaks.push_back(tok);
      }
      raw_argmax[s] = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
      for (int32_t tok : peaks) {
        b.tokens.push_back(tok);
        b.counts.push_back(static_cast<int32_t>(rng() % 3));
      }
      b.offsets.push_back(static_cast<int32_t>(b.tokens.size()));
      SamplingParams p;
      p.temperature = s % 2 == 0 ? 0.f : 0.7f;
      p.repetition_penalty = 1.5f + 0.25f * (s % 4);
      p.presence_penalty = 1.f;
      p.frequency_penalty = 0.5f;
      p.seed = 77 + s;
      ASSERT_TRUE(SamplerUsesSplitPath(p, vocab));
      b.params.push_back(p);
      b.steps.push_back(s);
    }
    const Result gpu = RunGpu(b), cpu = RunCpu(b);
    int greedy_moved = 0, sampled_mismatches = 0;
    for (int s = 0; s < num_seqs; ++s) {
      const bool greedy = IsGreedy(b.params[s]);
      if (greedy) {
        EXPECT_EQ(gpu.ids[s], cpu.ids[s])
            << "greedy row " << s << " (raw argmax " << raw_argmax[s] << ")";
        greedy_moved += cpu.ids[s] != raw_argmax[s];
      } else {
        sampled_mismatches += gpu.ids[s] != cpu.ids[s];
      }
      if (gpu.ids[s] == cpu.ids[s]) {
        EXPECT_NEAR(gpu.lp[s], cpu.lp[s], 1e-3) << "token logprob, row " << s;
      }
      for (int j = 0; j < kMaxLogprobs; ++j) {
        EXPECT_EQ(gpu.top_ids[int64_t{s} * kMaxLogprobs + j], -1) << "row " << s << " slot " << j;
        EXPECT_EQ(gpu.top_lp[int64_t{s} * kMaxLogprobs + j], -INFINITY)
            << "row " << s << " slot " << j;
      }
    }
    EXPECT_GT(greedy_moved, 0) << "the penalties never changed a greedy token: test is vacuous";
    EXPECT_LE(sampled_mismatches, 1);
  }
}

// Wide logits (std 20, some rows offset by 1e4): most tokens are skipped by the race's exact
// bounds (kMaxGumbel, the fast-log filter), which must not change the winner.
TEST(SamplerGpu, RaceSkipsKeepTheWinner) {
  HEARTH_REQUIRE_GPU();
  const int vocab = 128256, num_seqs = 16;
  Batch b;
  b.vocab = vocab;
  b.num_seqs = num_seqs;
  std::mt19937_64 rng(4242);
  std::normal_distribution<float> normal(0.f, 20.f);
  b.logits.resize(int64_t{vocab} * num_seqs);
  for (int s = 0; s < num_seqs; ++s) {
    const float offset = s % 4 == 3 ? 1e4f : 0.f;
    for (int i = 0; i < vocab; ++i) b.logits[int64_t{s} * vocab + i] = normal(rng) + offset;
    SamplingParams p;
    p.temperature = 0.5f + 0.25f * (s % 4);
    if (s >= num_seqs / 2) p.top_k = 1000;  // the filtered path's race
    p.seed = 9 + s;
    b.params.push_back(p);
    b.steps.push_back(1000 + s);
  }
  b.offsets.assign(num_seqs + 1, 0);
  const Result gpu = RunGpu(b), cpu = RunCpu(b);
  int mismatches = 0;
  for (int s = 0; s < num_seqs; ++s) {
    if (gpu.ids[s] == cpu.ids[s]) continue;
    ++mismatches;
    const float* row = b.logits.data() + int64_t{s} * vocab;
    std::cout << "row " << s << " (T=" << b.params[s].temperature << " top_k=" << b.params[s].top_k
              << "): gpu token " << gpu.ids[s] << " (logit " << row[gpu.ids[s]] << "), cpu token "
              << cpu.ids[s] << " (logit " << row[cpu.ids[s]] << ")\n";
  }
  // As in MatchesCpuTwin: one float-rounding near-tie per batch at most.
  EXPECT_LE(mismatches, 1) << "rows whose GPU and CPU tokens differ (listed above)";
}

// Close race scores at a real vocabulary's size (as the emulation's
// RaceMatchesCpuTwinTokenForToken): the warp bound of RaceGroup, the race loops' warp trip
// counts and their votes on hardware. A bound 0.05 too high changed 13 of 32 tokens there.
TEST(SamplerGpu, RaceCloseScoresMatchCpuTwin) {
  HEARTH_REQUIRE_GPU();
  const Batch b = sampler_test::CloseScoreRows(128256, 32, 77);
  ExpectMatchesCpu(b, RunGpu(b), RunCpu(b));
}

// The two-level race's edges on hardware (as the emulation's test of the same name): infinities,
// NaN, listed tokens, one-group rows, with the plain and the checked loads.
TEST(SamplerGpu, TwoLevelRaceEdgeRowsMatchCpuTwin) {
  HEARTH_REQUIRE_GPU();
  for (int vocab : {9000, 9001}) {
    SCOPED_TRACE("vocab " + std::to_string(vocab));
    const Batch b = sampler_test::TwoLevelEdgeRows(vocab, 5);
    const Result gpu = RunGpu(b), cpu = RunCpu(b);
    ExpectMatchesCpu(b, gpu, cpu);
    for (int s : {0, 1, 4, 5, 8}) EXPECT_EQ(gpu.ids[s], cpu.ids[s]) << "row " << s << ": exact";
  }
}

TEST(SamplerGpu, SameInputsSameTokens) {
  HEARTH_REQUIRE_GPU();
  const Batch b = MakeBatch(128256, 32, 99);
  const Result r1 = RunGpu(b), r2 = RunGpu(b);
  EXPECT_EQ(r1.ids, r2.ids);
  EXPECT_EQ(r1.lp, r2.lp);
  EXPECT_EQ(r1.top_ids, r2.top_ids);
  Batch other = b;
  for (auto& s : other.steps) s += 1;  // the next step draws new numbers
  const Result r3 = RunGpu(other);
  int differ = 0;
  for (int s = 0; s < b.num_seqs; ++s) differ += r1.ids[s] != r3.ids[s];
  EXPECT_GT(differ, 0);
}

TEST(SamplerGpu, SampledFrequenciesFollowTheFilteredDistribution) {
  HEARTH_REQUIRE_GPU();
  // One hand-made distribution over many steps: the GPU draws must land in the top-p set.
  const std::vector<double> probs = {0.5, 0.2, 0.15, 0.1, 0.05};
  Batch b;
  b.vocab = 5;
  b.num_seqs = 256;
  b.offsets.assign(257, 0);
  for (int s = 0; s < 256; ++s) {
    for (double q : probs) b.logits.push_back(static_cast<float>(std::log(q)));
    SamplingParams p;
    p.top_p = 0.75f;
    p.seed = 5;
    b.params.push_back(p);
    b.steps.push_back(s);
  }
  const Result r = RunGpu(b);
  int counts[5] = {};
  for (int32_t t : r.ids) {
    ASSERT_GE(t, 0);
    ASSERT_LT(t, 3) << "top_p 0.75 keeps tokens 0, 1, 2 only";
    ++counts[t];
  }
  EXPECT_NEAR(counts[0] / 256.0, 0.5 / 0.85, 0.1);
  EXPECT_EQ(r.ids, RunCpu(b).ids);  // few tokens, no boundary: must agree exactly
}

TEST(SamplerGpu, RejectsBadShapes) {
  HEARTH_REQUIRE_GPU();
  EXPECT_EQ(Sample(nullptr, 1, 0, nullptr, nullptr, {}, {}, nullptr).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Sample(nullptr, 1, kMaxSamplerVocab + 1, nullptr, nullptr, {}, {}, nullptr).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hearth
