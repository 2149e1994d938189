// What the sampler's kernel tests share: a batch (rows of logits, parameters, RNG steps, penalty
// lists), the CPU twin's result for it, and the comparison a kernel run (on the GPU, or its source
// under the block emulation) must pass. Host code only, so that the emulation test can include it
// beside the kernel sources.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/sampling/sampler.h"

namespace hearth::sampler_test {

struct Batch {
  int vocab = 0, num_seqs = 0;
  std::vector<float> logits;  // [num_seqs, vocab]
  std::vector<SamplingParams> params;
  std::vector<int64_t> steps;
  std::vector<int32_t> offsets, tokens, counts;  // PenaltyLists (CSR)
};

// Appends the next row's penalty list: n draws of a token (distinct ones kept) with a count of
// 0..3 each, then the row's end offset.
inline void AppendPenalties(Batch& b, int n, std::mt19937_64& rng) {
  std::vector<bool> seen(b.vocab, false);
  for (int j = 0; j < n; ++j) {
    const int32_t tok = static_cast<int32_t>(rng() % b.vocab);
    if (seen[tok]) continue;
    seen[tok] = true;
    b.tokens.push_back(tok);
    b.counts.push_back(static_cast<int32_t>(rng() % 4));
  }
  b.offsets.push_back(static_cast<int32_t>(b.tokens.size()));
}

// A batch of num_seqs rows of vocab logits (to fill) without penalty lists.
inline Batch Unpenalized(int vocab, int num_seqs) {
  Batch b;
  b.vocab = vocab, b.num_seqs = num_seqs;
  b.logits.resize(int64_t{vocab} * num_seqs);
  b.offsets.assign(num_seqs + 1, 0);
  return b;
}

// Rows whose race winner is decided among many close scores: normal, flat, tied (7 values) and
// uniform in [-3, 3) in turn, each unfiltered, with min-p 0.02 or with top-k 500 in turn, no
// penalties. A race that skips a token able to win (a bound too high) moves the winner of many.
inline Batch CloseScoreRows(int vocab, int num_seqs, uint64_t seed) {
  Batch b = Unpenalized(vocab, num_seqs);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 2.f);
  for (int s = 0; s < num_seqs; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    for (int i = 0; i < vocab; ++i) {
      switch (s % 4) {
        case 0:
          row[i] = normal(rng);
          break;
        case 1:
          row[i] = 0.25f;
          break;
        case 2:
          row[i] = static_cast<float>(i % 7) * 0.5f;
          break;
        default:
          row[i] = static_cast<float>(rng() % 6000) / 1000.f - 3.f;
      }
    }
    SamplingParams p;
    p.temperature = 0.5f + 0.25f * static_cast<float>(s % 5);
    p.seed = seed + 300 + s;
    if (s % 3 == 1) p.min_p = 0.02f;
    if (s % 3 == 2) p.top_k = 500;
    b.params.push_back(p);
    b.steps.push_back(11 * s);
  }
  return b;
}

// Rows with NaN logits (a broken model): normal rows with every 7th value NaN and a NaN beside
// a peak, under greedy + top n, top-k, top-p, min-p, all three, and a deep top-k with the top 20;
// the last two rows are NaN alone (filtered: they must draw token 0). No penalties.
inline Batch NanRows(int vocab, int num_seqs, uint64_t seed) {
  Batch b = Unpenalized(vocab, num_seqs);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 2.f);
  for (int s = 0; s < num_seqs; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    const bool all_nan = s >= num_seqs - 2;
    for (int i = 0; i < vocab; ++i) row[i] = all_nan || i % 7 == s % 7 ? NAN : normal(rng);
    if (s < num_seqs - 2) row[100 + s] = NAN, row[101 + s] = 30.f;
    SamplingParams p{0.9f, 0, 1.f, 0.f, 1.f, 0.f, 0.f, 5, seed + 70 + s};
    switch (s % 6) {
      case 0:
        p.temperature = 0.f;  // greedy, top n
        break;
      case 1:
        p.top_k = 20;
        break;
      case 2:
        p.top_p = 0.9f, p.num_logprobs = 0;
        break;
      case 3:
        p.min_p = 0.1f;
        break;
      case 4:
        p.top_k = 40, p.top_p = 0.8f, p.min_p = 0.01f;
        break;
      default:
        p.top_k = vocab * 5 / 6, p.num_logprobs = 20;  // deep: NaN must not be counted
    }
    if (s >= num_seqs - 2) p.temperature = 0.9f, p.top_k = 1 + s % 2;
    b.params.push_back(p);
    b.steps.push_back(7 * s);
  }
  return b;
}

// Unfiltered sampled rows at the two-level race's edges (sampler_race.h), over 3 chunks of the
// split pass at vocab ~9000 (pass an odd vocab for the checked loads): +inf values in two chunks
// and twice in one group (the lowest wins), all -inf (and a NaN), NaN values, penalty-listed
// peaks (with top-n logprobs: the filtered kernel takes the split pass's token), -inf but for
// listed tokens, three finite values in one group, logits offset by 1e4, and all -inf with a
// listed token tied with its group.
inline Batch TwoLevelEdgeRows(int vocab, uint64_t seed) {
  Batch b;
  b.vocab = vocab, b.num_seqs = 9;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, 2.f);
  b.logits.resize(int64_t{vocab} * b.num_seqs);
  b.offsets.push_back(0);
  for (int s = 0; s < b.num_seqs; ++s) {
    float* row = b.logits.data() + int64_t{s} * vocab;
    for (int i = 0; i < vocab; ++i) row[i] = normal(rng);
    SamplingParams p;
    p.temperature = 0.6f + 0.2f * static_cast<float>(s % 4);
    p.seed = seed + 17 * s;
    auto list = [&](int32_t tok, int32_t count) {
      b.tokens.push_back(tok);
      b.counts.push_back(count);
    };
    switch (s) {
      case 0:
        // 4099 and 4352 share a group, 4200 is in another: the group stands for 4099, not 4352.
        row[vocab - 3] = row[5000] = row[4099] = row[4096 + 256] = row[4200] = INFINITY;
        break;
      case 1:
        for (int i = 0; i < vocab; ++i) row[i] = -INFINITY;
        row[0] = std::nanf("");  // as -inf in the race inside the group
        break;
      case 2:
        for (int i = 0; i < vocab; i += 7) row[i] = std::nanf("");
        break;
      case 3:
        row[10] = row[4500] = 14.f, row[vocab - 1] = 13.f;
        list(10, 2), list(4500, 0), list(vocab - 1, 1), list(77, 3);
        p.repetition_penalty = 1.4f, p.presence_penalty = 0.5f, p.num_logprobs = 3;
        break;
      case 4:
        for (int i = 0; i < vocab; ++i) row[i] = -INFINITY;
        row[100] = 1.f, row[8200] = 2.f;
        list(100, 1), list(8200, 0);
        p.repetition_penalty = 1.2f;
        break;
      case 5:
        for (int i = 0; i < vocab; ++i) row[i] = -INFINITY;
        row[4096 + 4 * 9] = 0.5f;  // group 9 of batch 8: u = 0, 1 and 3
        row[4096 + 128 + 4 * 9 + 2] = 0.7f;
        row[4096 + 384 + 4 * 9] = 0.6f;
        break;
      case 6:
        for (int i = 0; i < vocab; ++i) row[i] += 1e4f;
        break;
      case 8:  // all -inf, token 0 listed: it ties with its group (key 1) and has the lower id
        for (int i = 0; i < vocab; ++i) row[i] = -INFINITY;
        list(0, 0);
        break;
      default: {
        p.temperature = 1.5f;
        std::vector<bool> seen(vocab, false);  // a token is listed once per row
        for (int j = 0; j < 40; ++j) {
          const int32_t tok = static_cast<int32_t>(rng() % vocab);
          if (!seen[tok]) seen[tok] = true, list(tok, j % 3);
        }
        p.frequency_penalty = 0.3f;
      }
    }
    b.params.push_back(p);
    b.steps.push_back(static_cast<int64_t>(rng() % 100000));
    b.offsets.push_back(static_cast<int32_t>(b.tokens.size()));
  }
  return b;
}

struct Sampled {
  std::vector<int32_t> ids, top_ids;  // [num_seqs], [num_seqs, kMaxLogprobs]
  std::vector<float> lp, top_lp;
  static Sampled Sized(int num_seqs) {
    return {std::vector<int32_t>(num_seqs), std::vector<int32_t>(num_seqs * kMaxLogprobs),
            std::vector<float>(num_seqs), std::vector<float>(num_seqs * kMaxLogprobs)};
  }
};

// Token and count arrays for PenaltyLists: a non-null sentinel when no row has penalty tokens
// (the sampler rejects offsets without them, and an empty vector's data() may be null).
inline const int32_t* PenaltyArray(const std::vector<int32_t>& v) {
  static const int32_t zero = 0;
  return v.empty() ? &zero : v.data();
}

inline Sampled RunCpu(const Batch& b) {
  Sampled r = Sampled::Sized(b.num_seqs);
  const Status s = SampleCpu(b.logits.data(), b.num_seqs, b.vocab, b.params.data(), b.steps.data(),
                             {b.offsets.data(), PenaltyArray(b.tokens), PenaltyArray(b.counts)},
                             {r.ids.data(), r.lp.data(), r.top_ids.data(), r.top_lp.data()});
  EXPECT_TRUE(s.ok()) << "SampleCpu failed: " << s.ToString();
  return r;
}

// A kernel run against the CPU twin, row by row: same tokens (greedy exactly; at most one sampled
// row per batch off by float rounding), logprobs and top-n (tied ids interchangeable), unused
// top-n slots -1 / -inf.
inline void ExpectMatchesCpu(const Batch& b, const Sampled& got, const Sampled& cpu) {
  int sampled_rows = 0, mismatches = 0;
  const int vocab = b.vocab;
  for (int s = 0; s < b.num_seqs; ++s) {
    const SamplingParams& p = b.params[s];
    const float* row = b.logits.data() + int64_t{s} * vocab;
    const bool greedy = IsGreedy(p);
    sampled_rows += !greedy;
    ASSERT_GE(got.ids[s], 0) << "row " << s;
    ASSERT_LT(got.ids[s], vocab) << "row " << s;
    if (got.ids[s] != cpu.ids[s]) {
      if (greedy) ADD_FAILURE() << "greedy row " << s << " differs (details below)";
      mismatches += !greedy;
      std::printf(
          "row %d (%s, T=%g k=%d p=%g min_p=%g): kernel token %d (raw logit %g), cpu "
          "token %d (raw logit %g)\n",
          s, greedy ? "greedy" : "sampled", p.temperature, p.top_k, p.top_p, p.min_p, got.ids[s],
          row[got.ids[s]], cpu.ids[s], row[cpu.ids[s]]);
      continue;
    }
    if (!(std::isnan(got.lp[s]) && std::isnan(cpu.lp[s]))) {  // NaN both: rows with infinities
      EXPECT_NEAR(got.lp[s], cpu.lp[s], 1e-3) << "token logprob, row " << s;
    }
    for (int j = 0; j < kMaxLogprobs; ++j) {
      const int64_t i = int64_t{s} * kMaxLogprobs + j;
      if (j >= p.num_logprobs) {
        EXPECT_EQ(got.top_ids[i], -1) << "row " << s << " slot " << j;
        EXPECT_EQ(got.top_lp[i], -INFINITY) << "row " << s << " slot " << j;
        continue;
      }
      if (cpu.top_ids[i] == -1) {  // fewer values than n that are not NaN
        EXPECT_EQ(got.top_ids[i], -1) << "row " << s << " rank " << j;
        continue;
      }
      ASSERT_GE(got.top_ids[i], 0) << "row " << s << " rank " << j;
      ASSERT_LT(got.top_ids[i], vocab) << "row " << s << " rank " << j;
      // Equal: both -inf (a row with fewer finite values than n) or both NaN (lse NaN).
      const bool both_nan = std::isnan(got.top_lp[i]) && std::isnan(cpu.top_lp[i]);
      if (got.top_lp[i] != cpu.top_lp[i] && !both_nan) {
        EXPECT_NEAR(got.top_lp[i], cpu.top_lp[i], 1e-3) << "row " << s << " rank " << j;
      }
      if (got.top_lp[i] != cpu.top_lp[i] || got.top_ids[i] != cpu.top_ids[i]) {
        EXPECT_EQ(row[got.top_ids[i]], row[cpu.top_ids[i]])
            << "row " << s << " rank " << j << ": ids " << got.top_ids[i] << " vs "
            << cpu.top_ids[i] << " differ and are not tied";
      }
    }
  }
  std::printf("vocab %d: %d rows (%d sampled), %d sampled-token mismatches\n", vocab, b.num_seqs,
              sampled_rows, mismatches);
  EXPECT_GT(b.num_seqs, 0);
  // A sampled row may differ only when float rounding (GPU float sums vs CPU double, logf ulps)
  // moves a top-p boundary or reorders two race scores within ~1e-6: rare. More than one per
  // batch means the two samplers disagree for real.
  EXPECT_LE(mismatches, 1) << "sampled rows whose kernel and CPU tokens differ";
}

}  // namespace hearth::sampler_test
