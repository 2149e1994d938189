#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/sampling/philox.h"
#include "kernels/sampling/sampler.h"
#include "kernels/sampling/sampler_race.h"

namespace hearth {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// v sorted into descending order (no NaN): an LSD radix sort over the floats' bits, 4 passes of
// 8 bits, about 10x std::sort's time for a vocabulary (std::sort was 15% of a SmolLM2 batch's
// decode with top-p). Equal values end adjacent, as with any sort, so the sums below, taken in
// this order, are the same; -0 and +0 (equal, the same addend) come out as +0 first.
void SortDescending(std::vector<float>& v) {
  const size_t n = v.size();
  std::vector<uint32_t> keys(n), tmp(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, &v[i], 4);
    // Larger float -> smaller key: ascending keys are descending values.
    keys[i] = (b & 0x80000000u) ? b : ~(b | 0x80000000u);
  }
  for (int shift = 0; shift < 32; shift += 8) {
    size_t count[257] = {};
    for (uint32_t k : keys) ++count[((k >> shift) & 0xFF) + 1];
    for (int d = 0; d < 256; ++d) count[d + 1] += count[d];
    for (uint32_t k : keys) tmp[count[(k >> shift) & 0xFF]++] = k;
    keys.swap(tmp);
  }
  for (size_t i = 0; i < n; ++i) {
    const uint32_t k = keys[i];
    const uint32_t b = (k & 0x80000000u) ? k : (~k & 0x7FFFFFFFu);
    std::memcpy(&v[i], &b, 4);
  }
}

// Threshold on s that top-p keeps: the largest value v whose strictly-larger mass is < target.
float TopPThreshold(const std::vector<float>& s, float floor_value, float max_s, double top_p) {
  std::vector<float> kept;
  for (float v : s)
    if (v >= floor_value) kept.push_back(v);
  SortDescending(kept);
  double total = 0;
  for (float v : kept) total += std::exp(static_cast<double>(v) - max_s);
  const double target = top_p * total;
  double above = 0;
  for (size_t i = 0; i < kept.size();) {
    size_t j = i;
    double group = 0;
    for (; j < kept.size() && kept[j] == kept[i]; ++j)
      group += std::exp(static_cast<double>(kept[j]) - max_s);
    if (above + group >= target) return kept[i];
    above += group;
    i = j;
  }
  return kept.empty() ? floor_value : kept.back();  // rounding: keep everything
}

bool Better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

// u_i's race score s - log(-log u) (the accurate logs; the GPU's RaceScore).
float RaceScore(float s, uint32_t word) {
  return s - std::log(-std::log(philox::ToOpenUnitFloat(word)));
}

uint32_t TokenWord(const SamplingParams& p, int64_t step, int i) {
  return philox::SamplerBlock(p.seed, static_cast<uint64_t>(step), static_cast<uint32_t>(i / 4))
      .v[i % 4];
}

// The two-level race of an unfiltered row (sampler.h, sampler_race.h), as the split pass runs it.
// x: the penalized logits (unscaled); listed: the penalty-listed tokens, which race alone.
int32_t RaceTwoLevel(const std::vector<float>& x, const std::vector<char>& listed, int vocab,
                     const SamplingParams& p, int64_t step) {
  namespace race = sampler_race;
  const float inv_t = 1.f / p.temperature, c2 = race::Log2Scale(inv_t);
  float bv = kNegInf;
  int bk = std::numeric_limits<int>::max(), part = -1;  // part: a group, or -1 (token bk alone)
  for (int t = 0; t < vocab; ++t) {
    if (!listed[t]) continue;
    const float score = RaceScore(x[t] * inv_t, TokenWord(p, step, t));
    if (Better(score, t, bv, bk)) bv = score, bk = t, part = -1;
  }
  for (int g = 0; g < race::NumGroups(vocab); ++g) {
    float m2 = kNegInf;
    int key = -1;  // the group's lowest unlisted token
    for (int n = 0; n < race::kGroupTokens; ++n) {
      const int i = race::GroupToken(g, n);
      if (i >= vocab || listed[i]) continue;
      if (key < 0) key = i;
      m2 = std::fmax(m2, x[i] * c2);
    }
    if (key < 0) continue;
    float score;
    if (m2 == kNegInf) {
      score = kNegInf;
    } else if (m2 == -kNegInf) {
      score = m2;
      for (int n = race::kGroupTokens - 1; n >= 0; --n) {
        const int i = race::GroupToken(g, n);
        if (i < vocab && !listed[i] && x[i] * c2 == m2) key = i;
      }
    } else {
      float sum = 0.f;
      for (int n = 0; n < race::kGroupTokens; ++n) {
        const int i = race::GroupToken(g, n);
        if (i >= vocab || listed[i]) continue;
        const float d = x[i] * c2 - m2;
        if (d == d) sum += race::Exp2(d);  // NaN tokens are left out
      }
      const philox::U32x4 r =
          race::GroupBlock(p.seed, static_cast<uint64_t>(step), race::GroupPhiloxBlock(g));
      score = RaceScore(race::LogMass(m2, sum), r.v[race::GroupPhiloxWord(g)]);
    }
    if (Better(score, key, bv, bk)) bv = score, bk = key, part = g;
  }
  if (bk == std::numeric_limits<int>::max()) return 0;  // every part's score was NaN
  if (part < 0) return bk;
  float tv = kNegInf;
  int token = std::numeric_limits<int>::max();
  for (int n = 0; n < race::kGroupTokens; ++n) {
    const int i = race::GroupToken(part, n);
    if (i >= vocab || listed[i]) continue;
    float score = RaceScore(x[i] * inv_t, TokenWord(p, step, i));
    if (!(score == score)) score = kNegInf;
    if (Better(score, i, tv, token)) tv = score, token = i;
  }
  return token;
}

// x: the penalized logits, scaled in place. NaN logits are never drawn (as on the GPU, whose
// comparisons never keep them): -inf for the argmax and the filters.
int32_t SampleRow(std::vector<float>& x, const std::vector<char>& listed, int vocab,
                  const SamplingParams& p, int64_t step) {
  if (IsGreedy(p) || !SamplerUnfiltered(p, vocab))
    for (float& v : x) v = v == v ? v : kNegInf;
  if (IsGreedy(p)) {
    return static_cast<int32_t>(std::max_element(x.begin(), x.end()) - x.begin());
  }
  if (SamplerUnfiltered(p, vocab)) return RaceTwoLevel(x, listed, vocab, p, step);
  const float inv_t = 1.f / p.temperature;
  for (float& v : x) v *= inv_t;
  const float t = SamplerThresholdCpu(x.data(), vocab, p);
  int32_t best = -1;
  float best_score = kNegInf;
  for (int i = 0; i < vocab; ++i) {
    if (!(x[i] >= t)) continue;
    const float score = RaceScore(x[i], TokenWord(p, step, i));
    if (score > best_score) best_score = score, best = i;
  }
  if (best < 0) best = static_cast<int32_t>(std::max_element(x.begin(), x.end()) - x.begin());
  return best;
}

}  // namespace

float SamplerThresholdCpu(const float* s, int vocab, const SamplingParams& p) {
  std::vector<float> x(s, s + vocab);
  for (float& v : x) v = v == v ? v : kNegInf;  // NaN is never kept (and would break the sorts)
  const float m = *std::max_element(x.begin(), x.end());
  float t = kNegInf;
  if (p.min_p > 0.f) t = m + std::log(p.min_p);
  if (p.top_k > 0 && p.top_k < vocab) {
    std::vector<float> sorted = x;
    std::nth_element(sorted.begin(), sorted.begin() + (p.top_k - 1), sorted.end(),
                     std::greater<float>());
    t = std::max(t, sorted[p.top_k - 1]);
  }
  if (p.top_p < 1.f) t = std::max(t, TopPThreshold(x, t, m, p.top_p));
  return t;
}

Status SampleCpu(const float* logits, int num_seqs, int vocab, const SamplingParams* params,
                 const int64_t* steps, const PenaltyLists& pen, const SamplerOutputs& out) {
  if (num_seqs < 0 || vocab <= 0)
    return InvalidArgumentError("sample: bad shape: num_seqs " + std::to_string(num_seqs) +
                                ", vocab " + std::to_string(vocab));
  if (num_seqs == 0) return Status::Ok();
  if (logits == nullptr || params == nullptr || steps == nullptr || out.token_ids == nullptr ||
      out.token_logprobs == nullptr || out.top_ids == nullptr || out.top_logprobs == nullptr)
    return InvalidArgumentError("sample: null pointer");
  if (pen.offsets != nullptr && (pen.tokens == nullptr || pen.output_counts == nullptr))
    return InvalidArgumentError(
        "sample: penalty offsets without tokens/output_counts (pass offsets = nullptr for "
        "no penalties)");
  for (int i = 0; i < num_seqs; ++i) HEARTH_RETURN_IF_ERROR(ValidateSamplingParams(params[i]));

  for (int seq = 0; seq < num_seqs; ++seq) {
    const SamplingParams& p = params[seq];
    const float* raw = logits + int64_t{seq} * vocab;
    // Raw distribution: log-sum-exp in double.
    const float raw_max = *std::max_element(raw, raw + vocab);
    double sum = 0;
    for (int i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(raw[i]) - raw_max);
    const double lse = raw_max + std::log(sum);
    // Top-n raw logprobs, by value then lowest id.
    int32_t* top_ids = out.top_ids + int64_t{seq} * kMaxLogprobs;
    float* top_lp = out.top_logprobs + int64_t{seq} * kMaxLogprobs;
    std::fill(top_ids, top_ids + kMaxLogprobs, -1);
    std::fill(top_lp, top_lp + kMaxLogprobs, kNegInf);
    const int n = std::min(p.num_logprobs, vocab);
    if (n > 0) {
      std::vector<int32_t> idx(vocab);
      std::iota(idx.begin(), idx.end(), 0);
      // NaN logits are not ranked (their slots stay -1 / -inf when fewer than n others).
      std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](int32_t a, int32_t b) {
        const bool a_nan = raw[a] != raw[a], b_nan = raw[b] != raw[b];
        if (a_nan || b_nan) return !a_nan && b_nan;
        return raw[a] > raw[b] || (raw[a] == raw[b] && a < b);
      });
      for (int j = 0; j < n && raw[idx[j]] == raw[idx[j]]; ++j) {
        top_ids[j] = idx[j];
        top_lp[j] = static_cast<float>(raw[idx[j]] - lse);
      }
    }
    // Penalties.
    std::vector<float> x(raw, raw + vocab);
    std::vector<char> listed(vocab, 0);
    if (pen.offsets != nullptr) {
      const int32_t begin = pen.offsets[seq], end = pen.offsets[seq + 1];
      if (begin < 0 || end < begin)
        return InvalidArgumentError("sample: penalty offsets of sequence " + std::to_string(seq) +
                                    " are not increasing");
      for (int32_t e = begin; e < end; ++e) {
        const int32_t tok = pen.tokens[e], count = pen.output_counts[e];
        if (tok < 0 || tok >= vocab)
          return OutOfRangeError("sample: penalty token " + std::to_string(tok) +
                                 " outside the vocabulary");
        float v = x[tok];
        v = v > 0.f ? v / p.repetition_penalty : v * p.repetition_penalty;
        if (count > 0) v -= p.frequency_penalty * static_cast<float>(count) + p.presence_penalty;
        x[tok] = v;
        listed[tok] = 1;
      }
    }
    const int32_t token = SampleRow(x, listed, vocab, p, steps[seq]);
    out.token_ids[seq] = token;
    out.token_logprobs[seq] = p.token_logprob != 0 ? static_cast<float>(raw[token] - lse) : 0.f;
  }
  return Status::Ok();
}

}  // namespace hearth
