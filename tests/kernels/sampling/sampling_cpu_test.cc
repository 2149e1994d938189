#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "kernels/sampling/philox.h"
#include "kernels/sampling/sampler.h"
#include "kernels/sampling/sampler_race.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

// Random123's known-answer vectors for philox4x32 10 (tests/kat_vectors).
TEST(Philox, KnownAnswerVectors) {
  auto r = philox::Philox4x32x10({{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
  r = philox::Philox4x32x10({{~0u, ~0u, ~0u, ~0u}}, ~0u, ~0u);
  EXPECT_EQ(r.v[0], 0x408f276du);
  EXPECT_EQ(r.v[1], 0x41c83b0eu);
  EXPECT_EQ(r.v[2], 0xa20bc7c6u);
  EXPECT_EQ(r.v[3], 0x6d5451fdu);
  r = philox::Philox4x32x10({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u,
                            0x299f31d0u);
  EXPECT_EQ(r.v[0], 0xd16cfe09u);
  EXPECT_EQ(r.v[1], 0x94fdccebu);
  EXPECT_EQ(r.v[2], 0x5001e420u);
  EXPECT_EQ(r.v[3], 0x24126ea1u);
}

// Every one of the 2^23 values: the bit construction equals (k + 0.5) / 2^23.
TEST(Philox, UnitFloatsAreTheCellCentres) {
  for (uint32_t k = 0; k < (1u << 23); ++k) {
    const float want = (static_cast<float>(k) + 0.5f) * (1.0f / 8388608.0f);
    const float got = philox::ToOpenUnitFloat(k << 9 | (k & 0x1ffu));  // low 9 bits ignored
    if (got != want) {
      ADD_FAILURE() << "k " << k << ": " << got << " != " << want;
      return;
    }
  }
}

TEST(Philox, UnitFloatsAreInsideTheOpenInterval) {
  EXPECT_GT(philox::ToOpenUnitFloat(0), 0.f);
  EXPECT_LT(philox::ToOpenUnitFloat(~0u), 1.f);
  double sum = 0;
  for (uint32_t i = 0; i < 4000; ++i)
    sum += philox::ToOpenUnitFloat(philox::SamplerBlock(7, 1, i).v[i % 4]);
  EXPECT_NEAR(sum / 4000, 0.5, 0.02);
}

TEST(SamplingParams, ValidationNamesTheField) {
  EXPECT_TRUE(ValidateSamplingParams({}).ok());
  SamplingParams p;
  p.top_p = 0.f;
  EXPECT_NE(ValidateSamplingParams(p).message().find("top_p"), std::string::npos);
  p = {};
  p.num_logprobs = kMaxLogprobs + 1;
  EXPECT_EQ(ValidateSamplingParams(p).code(), StatusCode::kInvalidArgument);
  p = {};
  p.repetition_penalty = 0.f;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = {};
  p.token_logprob = 2;
  EXPECT_NE(ValidateSamplingParams(p).message().find("token_logprob"), std::string::npos);
  p = {};
  p.temperature = 0.f;
  EXPECT_TRUE(IsGreedy(p));
  p.temperature = 0.5f;
  EXPECT_FALSE(IsGreedy(p));
}

// One row through SampleCpu.
struct Row {
  int32_t token;
  float logprob;
  std::vector<int32_t> top_ids;
  std::vector<float> top_lp;
};

Row SampleOne(const std::vector<float>& logits, const SamplingParams& p, int64_t step,
              const std::vector<int32_t>& pen_tokens = {},
              const std::vector<int32_t>& pen_counts = {}) {
  Row r{-1, 0.f, std::vector<int32_t>(kMaxLogprobs), std::vector<float>(kMaxLogprobs)};
  const int32_t offsets[2] = {0, static_cast<int32_t>(pen_tokens.size())};
  PenaltyLists pen;
  if (!pen_tokens.empty()) pen = {offsets, pen_tokens.data(), pen_counts.data()};
  const Status s = SampleCpu(logits.data(), 1, static_cast<int>(logits.size()), &p, &step, pen,
                             {&r.token, &r.logprob, r.top_ids.data(), r.top_lp.data()});
  EXPECT_TRUE(s.ok()) << s.ToString();
  return r;
}

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0.f;
  return p;
}

TEST(SampleCpu, GreedyPicksArgmaxLowestIdOnTies) {
  EXPECT_EQ(SampleOne({0.f, 3.f, 1.f, 3.f}, Greedy(), 0).token, 1);
}

// Without token_logprob the sampled token is the same and its logprob is 0 (not computed).
TEST(SampleCpu, TokenLogprobOnlyWhenAsked) {
  const std::vector<float> logits = {0.5f, 2.f, -1.f, 1.f};
  for (SamplingParams p : {Greedy(), SamplingParams{}}) {
    const Row with = SampleOne(logits, p, 3);
    p.token_logprob = 0;
    const Row without = SampleOne(logits, p, 3);
    EXPECT_EQ(with.token, without.token);
    EXPECT_LT(with.logprob, 0.f);
    EXPECT_EQ(without.logprob, 0.f);
  }
}

// Penalties per the vLLM / OpenAI definitions, observed through greedy picks.
TEST(SampleCpu, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams p = Greedy();
  p.repetition_penalty = 1.1f;
  EXPECT_EQ(SampleOne({2.f, 1.9f, -1.f}, p, 0, {0}, {0}).token, 1);      // 2/1.1 < 1.9
  EXPECT_EQ(SampleOne({2.f, 1.7f, -1.f}, p, 0, {0}, {0}).token, 0);      // 2/1.1 > 1.7
  EXPECT_EQ(SampleOne({-1.f, -1.05f}, p, 0, {0}, {0}).token, 1);         // -1*1.1 < -1.05
  EXPECT_EQ(SampleOne({-1.f, -1.05f}, Greedy(), 0, {0}, {0}).token, 0);  // penalty 1: off
}

TEST(SampleCpu, FrequencyAndPresencePenaltiesUseOutputCounts) {
  SamplingParams p = Greedy();
  p.frequency_penalty = 0.2f;
  EXPECT_EQ(SampleOne({1.f, 0.5f}, p, 0, {0}, {3}).token, 1);  // 1 - 0.6 < 0.5
  EXPECT_EQ(SampleOne({1.f, 0.5f}, p, 0, {0}, {2}).token, 0);  // 1 - 0.4 > 0.5
  EXPECT_EQ(SampleOne({1.f, 0.5f}, p, 0, {0}, {0}).token, 0);  // prompt-only: no effect
  p = Greedy();
  p.presence_penalty = 0.6f;
  EXPECT_EQ(SampleOne({1.f, 0.5f}, p, 0, {0}, {1}).token, 1);  // 1 - 0.6 < 0.5
  EXPECT_EQ(SampleOne({1.f, 0.5f}, p, 0, {0}, {0}).token, 0);
  p.presence_penalty = -0.6f;  // negative: encourages
  EXPECT_EQ(SampleOne({0.5f, 1.f}, p, 0, {0}, {4}).token, 0);
}

// Logits of a hand-made distribution.
std::vector<float> LogitsOf(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double q : probs) l.push_back(static_cast<float>(std::log(q)));
  return l;
}

// The set of tokens drawn over many steps, and the frequency of each.
std::map<int32_t, double> Draw(const std::vector<float>& logits, const SamplingParams& p,
                               int steps = 3000) {
  std::map<int32_t, double> f;
  for (int s = 0; s < steps; ++s) f[SampleOne(logits, p, s).token] += 1.0 / steps;
  return f;
}

std::set<int32_t> Keys(const std::map<int32_t, double>& m) {
  std::set<int32_t> k;
  for (auto& [t, _] : m) k.insert(t);
  return k;
}

const std::vector<double> kProbs = {0.5, 0.2, 0.15, 0.1, 0.05};

TEST(SampleCpu, TopKKeepsTheKLargest) {
  SamplingParams p;
  p.top_k = 2;
  const auto f = Draw(LogitsOf(kProbs), p);
  EXPECT_EQ(Keys(f), (std::set<int32_t>{0, 1}));
  EXPECT_NEAR(f.at(0), 0.5 / 0.7, 0.04);
}

TEST(SampleCpu, TopPKeepsTokensWhoseLargerMassIsBelowP) {
  SamplingParams p;
  p.top_p = 0.6f;  // masses above: 0, 0.5, 0.7 -> {0, 1}
  EXPECT_EQ(Keys(Draw(LogitsOf(kProbs), p)), (std::set<int32_t>{0, 1}));
  p.top_p = 0.75f;  // 0.7 < 0.75 -> {0, 1, 2}
  const auto f = Draw(LogitsOf(kProbs), p);
  EXPECT_EQ(Keys(f), (std::set<int32_t>{0, 1, 2}));
  EXPECT_NEAR(f.at(2), 0.15 / 0.85, 0.03);
}

// The top-p threshold as it was computed before the radix sort (std::sort of the kept values,
// descending), for SamplerThresholdCpu to match bit for bit.
float TopPThresholdBySort(std::vector<float> x, double top_p) {
  for (float& v : x) v = v == v ? v : -INFINITY;
  const float m = *std::max_element(x.begin(), x.end());
  std::sort(x.begin(), x.end(), std::greater<float>());
  double total = 0;
  for (float v : x) total += std::exp(static_cast<double>(v) - m);
  const double target = top_p * total;
  double above = 0;
  for (size_t i = 0; i < x.size();) {
    size_t j = i;
    double group = 0;
    for (; j < x.size() && x[j] == x[i]; ++j) group += std::exp(static_cast<double>(x[j]) - m);
    if (above + group >= target) return x[i];
    above += group;
    i = j;
  }
  return x.back();
}

// The radix sort gives the threshold std::sort gave, on rows with ties, +-0, +-inf, NaN,
// subnormals and a SmolLM2-sized vocabulary.
TEST(SampleCpu, TopPThresholdMatchesTheSortedReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 3.f);
  for (int row = 0; row < 40; ++row) {
    const int vocab = row < 20 ? 1 + row * 7 : 49152;
    std::vector<float> x(vocab);
    for (float& v : x) v = normal(rng);
    const float specials[] = {0.f, -0.f, INFINITY, -INFINITY, NAN, 1e-42f, -1e-42f, 2.5f, 2.5f};
    for (int i = 0; i < std::min(vocab, 12); ++i) {
      if ((row + i) % 3 == 0) x[rng() % vocab] = specials[(row + i) % 9];
    }
    if (row % 5 == 0) {  // a coarse row: many exact ties
      for (float& v : x) v = std::round(v);
    }
    if (std::all_of(x.begin(), x.end(), [](float v) { return !(v == v) || v == -INFINITY; }))
      continue;  // the reference needs a finite maximum
    if (std::any_of(x.begin(), x.end(), [](float v) { return v == INFINITY; })) continue;
    for (const float top_p : {0.1f, 0.5f, 0.9f, 0.95f, 0.999f}) {
      SamplingParams p;
      p.top_p = top_p;
      const float got = SamplerThresholdCpu(x.data(), vocab, p);
      const float want = TopPThresholdBySort(x, top_p);
      EXPECT_EQ(got, want) << "row " << row << " vocab " << vocab << " top_p " << top_p << ": "
                           << got << " vs " << want;
    }
  }
}

TEST(SampleCpu, MinPKeepsTokensAboveAFractionOfTheTop) {
  SamplingParams p;
  p.min_p = 0.3f;  // p >= 0.15
  EXPECT_EQ(Keys(Draw(LogitsOf(kProbs), p)), (std::set<int32_t>{0, 1, 2}));
  p.min_p = 0.35f;  // p >= 0.175
  EXPECT_EQ(Keys(Draw(LogitsOf(kProbs), p)), (std::set<int32_t>{0, 1}));
}

TEST(SampleCpu, TopPIsRenormalizedOverTopK) {
  SamplingParams p;
  p.top_p = 0.8f;  // alone: above mass of token 2 is 0.7 < 0.8 -> kept
  EXPECT_EQ(Keys(Draw(LogitsOf(kProbs), p)), (std::set<int32_t>{0, 1, 2}));
  p.top_k = 3;  // within {0,1,2}: above mass of token 2 is 0.7/0.85 = 0.82 >= 0.8 -> dropped
  EXPECT_EQ(Keys(Draw(LogitsOf(kProbs), p)), (std::set<int32_t>{0, 1}));
}

TEST(SampleCpu, TemperatureSamplesTheScaledSoftmax) {
  SamplingParams p;
  p.temperature = 2.f;
  const auto f = Draw(LogitsOf(kProbs), p, 6000);
  double z = 0;
  for (double q : kProbs) z += std::sqrt(q);
  for (int i = 0; i < 5; ++i)
    EXPECT_NEAR(f.count(i) ? f.at(i) : 0.0, std::sqrt(kProbs[i]) / z, 0.03) << i;
}

// The two-level race of unfiltered rows (sampler_race.h) against the softmax it must sample: a
// row of 600 tokens (two batches: groups of 16 tokens 128 apart, and partial groups at the end),
// a few penalty-listed tokens racing alone, one NaN and one -inf token that must never win.
// Pearson's chi-square over the tokens expected at least 5 times (the rest pooled), 40000 draws:
// a group or a level that drew with the wrong weights lands far above the bound.
TEST(SampleCpu, UnfilteredTwoLevelDrawFollowsTheSoftmax) {
  const int vocab = 600, draws = 40000;
  std::vector<float> logits = testing::RandomVector(vocab, 17, -2.f, 2.f);
  for (int i : {3, 130, 515, 599}) logits[i] += 3.f;  // peaks in several groups
  logits[42] = std::nanf("");
  logits[77] = -INFINITY;
  const std::vector<int32_t> pen_tokens = {3, 200, 516, 598}, pen_counts = {1, 0, 2, 0};
  SamplingParams p;
  p.temperature = 0.8f, p.repetition_penalty = 1.3f, p.frequency_penalty = 0.2f, p.seed = 31;
  // The expected distribution: softmax of the penalized logits / T, NaN and -inf left out.
  std::vector<double> s(vocab);
  for (int i = 0; i < vocab; ++i) s[i] = logits[i];
  for (size_t e = 0; e < pen_tokens.size(); ++e) {
    double& v = s[pen_tokens[e]];
    v = v > 0 ? v / p.repetition_penalty : v * p.repetition_penalty;
    if (pen_counts[e] > 0) v -= p.frequency_penalty * pen_counts[e] + p.presence_penalty;
  }
  double z = 0;
  std::vector<double> prob(vocab, 0.0);
  for (int i = 0; i < vocab; ++i)
    if (std::isfinite(s[i])) z += prob[i] = std::exp(s[i] / p.temperature);
  std::vector<int> count(vocab, 0);
  for (int d = 0; d < draws; ++d) ++count[SampleOne(logits, p, d, pen_tokens, pen_counts).token];
  EXPECT_EQ(count[42], 0) << "a NaN logit won";
  EXPECT_EQ(count[77], 0) << "a -inf logit won";
  double chi2 = 0, pooled_expected = 0, pooled_count = 0;
  int bins = 0;
  for (int i = 0; i < vocab; ++i) {
    const double expected = draws * prob[i] / z;
    if (expected < 5) {
      pooled_expected += expected, pooled_count += count[i];
      continue;
    }
    chi2 += (count[i] - expected) * (count[i] - expected) / expected, ++bins;
  }
  if (pooled_expected > 0) {
    chi2 += (pooled_count - pooled_expected) * (pooled_count - pooled_expected) / pooled_expected;
    ++bins;
  }
  const double dof = bins - 1;
  std::printf("chi-square %.1f over %d bins (mean %g, sd %.1f)\n", chi2, bins, dof,
              std::sqrt(2 * dof));
  EXPECT_LT(chi2, dof + 6 * std::sqrt(2 * dof));
  // The penalized peak (token 3) and an unlisted one (130) against their probabilities.
  EXPECT_NEAR(count[130] / double(draws), prob[130] / z, 0.01);
  EXPECT_NEAR(count[3] / double(draws), prob[3] / z, 0.01);
}

// Infinite values in the two-level race: the lowest +inf token wins, whatever its group; a row
// of -inf draws token 0; -inf tokens never win against finite ones.
TEST(SampleCpu, UnfilteredTwoLevelDrawInfinities) {
  SamplingParams p;
  p.temperature = 0.7f;
  std::vector<float> row = testing::RandomVector(1500, 3, -1.f, 1.f);
  row[1300] = row[700] = row[701] = INFINITY;  // groups of batches 2 and 1
  for (int step = 0; step < 50; ++step) EXPECT_EQ(SampleOne(row, p, step).token, 700);
  row[5] = INFINITY;  // a penalty-listed +inf token races alone, and is still the lowest
  for (int step = 0; step < 20; ++step) EXPECT_EQ(SampleOne(row, p, step, {5}, {1}).token, 5);
  const std::vector<float> minus(1500, -INFINITY);
  EXPECT_EQ(SampleOne(minus, p, 0).token, 0);
  std::vector<float> one(1500, -INFINITY);
  one[1234] = -3.f, one[17] = -2.f;
  std::set<int32_t> won;
  for (int step = 0; step < 200; ++step) won.insert(SampleOne(one, p, step).token);
  EXPECT_EQ(won, (std::set<int32_t>{17, 1234}));
}

// The split pass skips a group when its GroupScoreCeiling is below a score already reached: no
// group score (its log-mass with 16 tokens at its max, plus the largest Gumbel a Philox word
// gives) may exceed that, at any scale.
TEST(SampleCpu, GroupSlackBoundsEveryGroupScore) {
  const float max_gumbel = -std::log(-std::log(philox::ToOpenUnitFloat(0xffffffffu)));
  for (float m2 : {-1e6f, -1e3f, -37.3f, -1.f, 0.f, 0.3f, 1.f, 12.5f, 1e3f, 14427.f, 1e6f}) {
    const float top = sampler_race::LogMass(m2, 16.f) + max_gumbel;
    EXPECT_LE(top, sampler_race::GroupScoreCeiling(m2)) << m2;
    EXPECT_GT(top + 1.f, sampler_race::GroupScoreCeiling(m2) - 2.f)
        << m2 << ": the slack is loose by more than 2";
  }
}

TEST(SampleCpu, SameSeedAndStepSameTokenOtherwiseIndependent) {
  const auto logits = testing::RandomVector(5000, 1, -2.f, 2.f);
  SamplingParams p;
  p.seed = 1234;
  std::vector<int32_t> a, b, c;
  for (int s = 0; s < 40; ++s) {
    a.push_back(SampleOne(logits, p, s).token);
    b.push_back(SampleOne(logits, p, s).token);
  }
  p.seed = 1235;
  for (int s = 0; s < 40; ++s) c.push_back(SampleOne(logits, p, s).token);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_GT(std::set<int32_t>(a.begin(), a.end()).size(), 30u);  // steps draw fresh numbers
}

TEST(SampleCpu, LogprobsAreOfTheRawDistribution) {
  const std::vector<float> logits = {1.f, 3.f, 2.f, -1.f, 3.f};
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  SamplingParams p = Greedy();
  p.num_logprobs = 3;
  p.repetition_penalty = 2.f;  // penalties do not change the reported logprobs
  const Row r = SampleOne(logits, p, 0, {1}, {1});
  EXPECT_EQ(r.token, 4);
  EXPECT_NEAR(r.logprob, 3.0 - std::log(z), 1e-6);
  EXPECT_EQ(r.top_ids[0], 1);  // ties by lowest id
  EXPECT_EQ(r.top_ids[1], 4);
  EXPECT_EQ(r.top_ids[2], 2);
  EXPECT_NEAR(r.top_lp[2], 2.0 - std::log(z), 1e-6);
  EXPECT_EQ(r.top_ids[3], -1);
  EXPECT_EQ(r.top_lp[3], -INFINITY);
}

// NaN logits (a broken model) are never drawn nor ranked among the top n (their logprobs would
// be NaN); a row of NaN alone draws token 0. Before, the sorts met NaN (undefined order).
TEST(SampleCpu, NanLogitsAreNeverDrawnNorRanked) {
  const float nan = std::nanf("");
  const std::vector<float> logits = {nan, 1.f, 3.f, nan, 2.f};
  SamplingParams p = Greedy();
  p.num_logprobs = 5;
  Row r = SampleOne(logits, p, 0);
  EXPECT_EQ(r.token, 2);
  EXPECT_EQ(std::vector<int32_t>(r.top_ids.begin(), r.top_ids.begin() + 5),
            (std::vector<int32_t>{2, 4, 1, -1, -1}));
  EXPECT_EQ(r.top_lp[3], -INFINITY);
  for (int step = 0; step < 50; ++step) {
    SamplingParams f;
    f.top_k = 2, f.top_p = 0.99f, f.seed = 3;
    const int32_t token = SampleOne(logits, f, step).token;
    EXPECT_TRUE(token == 2 || token == 4) << token;
  }
  SamplingParams f;
  f.top_k = 1;
  EXPECT_EQ(SampleOne({nan, nan, nan}, f, 0).token, 0);
  EXPECT_EQ(SampleOne({nan, nan, nan}, Greedy(), 0).token, 0);
  EXPECT_EQ(SamplerThresholdCpu(logits.data(), 5, f), 3.f);
}

TEST(SampleCpu, RejectsBadInput) {
  const std::vector<float> logits = {1.f, 2.f};
  SamplingParams p;
  p.top_p = 2.f;
  int64_t step = 0;
  int32_t tok;
  float lp, tlp[kMaxLogprobs];
  int32_t tid[kMaxLogprobs];
  EXPECT_EQ(SampleCpu(logits.data(), 1, 2, &p, &step, {}, {&tok, &lp, tid, tlp}).code(),
            StatusCode::kInvalidArgument);
  p = {};
  const int32_t off[2] = {0, 1}, bad_tok[1] = {2}, cnt[1] = {1};
  EXPECT_EQ(
      SampleCpu(logits.data(), 1, 2, &p, &step, {off, bad_tok, cnt}, {&tok, &lp, tid, tlp}).code(),
      StatusCode::kOutOfRange);
  EXPECT_EQ(SampleCpu(logits.data(), 1, 0, &p, &step, {}, {&tok, &lp, tid, tlp}).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

TEST(SamplerSplit, PlanCoversTheRowInAtMostMaxChunks) {
  for (int vocab : {1, 1000, 1024, 1025, 32000, 50001, 128256, 151936, 262144, kMaxSamplerVocab}) {
    const SamplerSplitPlan plan = PlanSamplerSplit(vocab);
    EXPECT_GE(plan.num_chunks, 1) << vocab;
    EXPECT_LE(plan.num_chunks, kSamplerMaxChunks) << vocab;
    EXPECT_EQ(plan.chunk_tokens % kSamplerChunkAlign, 0) << vocab;  // whole rounds of batches
    EXPECT_GT(plan.chunk_tokens, 0) << vocab;
    EXPECT_GE(int64_t{plan.num_chunks} * plan.chunk_tokens, vocab) << vocab;
    EXPECT_LT(int64_t{plan.num_chunks - 1} * plan.chunk_tokens, vocab) << "empty chunk, " << vocab;
  }
  EXPECT_EQ(PlanSamplerSplit(128256).num_chunks, 8);  // chunks of 16384
  EXPECT_EQ(PlanSamplerSplit(152064).num_chunks, 10);
  EXPECT_EQ(PlanSamplerSplit(1000).num_chunks, 1);
  // The partials (4 words per chunk) fit in a row's top-n slots.
  EXPECT_LE(4 * kSamplerMaxChunks, 2 * kMaxLogprobs);
}

TEST(SamplerSplit, GreedyAndUnfilteredRowsWithoutLogprobs) {
  SamplingParams p;
  EXPECT_TRUE(SamplerUsesSplitPath(p, 1000));  // T = 1, no filters
  p.num_logprobs = 1;
  EXPECT_FALSE(SamplerUsesSplitPath(p, 1000));
  p = {};
  p.top_k = 50;
  EXPECT_FALSE(SamplerUsesSplitPath(p, 1000));
  EXPECT_TRUE(SamplerUsesSplitPath(p, 50));  // top_k >= vocab is off
  p = {};
  p.top_p = 0.9f;
  EXPECT_FALSE(SamplerUsesSplitPath(p, 1000));
  p = {};
  p.min_p = 0.1f;
  EXPECT_FALSE(SamplerUsesSplitPath(p, 1000));
  p.temperature = 0.f;  // greedy ignores the filters
  EXPECT_TRUE(SamplerUsesSplitPath(p, 1000));
  p.repetition_penalty = 1.5f;  // penalties are handled by both paths
  EXPECT_TRUE(SamplerUsesSplitPath(p, 1000));
}

TEST(SampleCpu, RejectsPenaltyOffsetsWithoutTokenArrays) {
  const float logits[3] = {0.f, 1.f, 2.f};
  const SamplingParams p;
  const int64_t step = 0;
  const int32_t offsets[2] = {0, 0};
  int32_t token = -1, top_ids[kMaxLogprobs];
  float lp = 0.f, top_lp[kMaxLogprobs];
  const Status s = SampleCpu(logits, 1, 3, &p, &step, {offsets, nullptr, nullptr},
                             {&token, &lp, top_ids, top_lp});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("offsets = nullptr"), std::string::npos) << s.ToString();
  const int32_t zero = 0;  // empty lists with non-null arrays are fine
  EXPECT_TRUE(
      SampleCpu(logits, 1, 3, &p, &step, {offsets, &zero, &zero}, {&token, &lp, top_ids, top_lp})
          .ok());
}

}  // namespace
}  // namespace hearth
