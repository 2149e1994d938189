#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/sampling/philox.h"
#include "kernels/sampling/sampler.h"

namespace hearth {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Threshold on s that top-p keeps: the largest value v whose strictly-larger mass is < target.
float TopPThreshold(const std::vector<float>& s, float floor_value, float max_s, double top_p) {
  std::vector<float> kept;
  for (float v : s)
    if (v >= floor_value) kept.push_back(v);
  std::sort(kept.begin(), kept.end(), std::greater<float>());
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

int32_t SampleRow(std::vector<float>& x, int vocab, const SamplingParams& p, int64_t step) {
  if (IsGreedy(p)) {
    return static_cast<int32_t>(std::max_element(x.begin(), x.end()) - x.begin());
  }
  const float inv_t = 1.f / p.temperature;
  for (float& v : x) v *= inv_t;
  const float t = SamplerThresholdCpu(x.data(), vocab, p);
  int32_t best = -1;
  float best_score = kNegInf;
  for (int i = 0; i < vocab; ++i) {
    if (!(x[i] >= t)) continue;
    const philox::U32x4 r =
        philox::SamplerBlock(p.seed, static_cast<uint64_t>(step), static_cast<uint32_t>(i / 4));
    const float u = philox::ToOpenUnitFloat(r.v[i % 4]);
    const float score = x[i] - std::log(-std::log(u));
    if (score > best_score) best_score = score, best = i;
  }
  if (best < 0) best = static_cast<int32_t>(std::max_element(x.begin(), x.end()) - x.begin());
  return best;
}

}  // namespace

float SamplerThresholdCpu(const float* s, int vocab, const SamplingParams& p) {
  const std::vector<float> x(s, s + vocab);
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
      std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](int32_t a, int32_t b) {
        return raw[a] > raw[b] || (raw[a] == raw[b] && a < b);
      });
      for (int j = 0; j < n; ++j) {
        top_ids[j] = idx[j];
        top_lp[j] = static_cast<float>(raw[idx[j]] - lse);
      }
    }
    // Penalties.
    std::vector<float> x(raw, raw + vocab);
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
      }
    }
    const int32_t token = SampleRow(x, vocab, p, steps[seq]);
    out.token_ids[seq] = token;
    out.token_logprobs[seq] = p.token_logprob != 0 ? static_cast<float>(raw[token] - lse) : 0.f;
  }
  return Status::Ok();
}

}  // namespace hearth
