#include "server/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hearth::server {

namespace {

// Percentile of values already sorted.
double SortedPercentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double k = static_cast<double>(sorted.size() - 1) * p / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(k));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (k - static_cast<double>(lo));
}

}  // namespace

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return SortedPercentile(values, p);
}

Distribution Distribute(const std::vector<double>& values, double scale) {
  std::vector<double> v;
  v.reserve(values.size());
  for (double x : values) v.push_back(x * scale);
  std::sort(v.begin(), v.end());
  Distribution d;
  d.n = static_cast<int>(v.size());
  d.p50 = SortedPercentile(v, 50);
  d.p90 = SortedPercentile(v, 90);
  d.p99 = SortedPercentile(v, 99);
  double sum = 0;
  for (double x : v) sum += x;
  d.mean =
      v.empty() ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(v.size());
  return d;
}

BenchSummary Summarize(const std::vector<BenchRecord>& records, double wall_s) {
  BenchSummary s;
  s.wall_s = wall_s;
  std::vector<double> ttft, tpot, itl, e2e;
  double decode_busy = 0;
  for (const BenchRecord& r : records) {
    if (!r.ok) {
      ++s.requests_failed;
      continue;
    }
    ++s.requests_ok;
    s.input_tokens += r.prompt_tokens;
    s.output_tokens += r.output_tokens;
    e2e.push_back(r.end - r.start);
    itl.insert(itl.end(), r.gaps.begin(), r.gaps.end());
    if (!r.first) continue;
    ttft.push_back(*r.first - r.start);
    decode_busy += r.end - *r.first;
    if (r.output_tokens > 1) tpot.push_back((r.end - *r.first) / (r.output_tokens - 1));
  }
  if (wall_s > 0) {
    s.output_tokens_per_s = static_cast<double>(s.output_tokens) / wall_s;
    s.total_tokens_per_s = static_cast<double>(s.output_tokens + s.input_tokens) / wall_s;
    s.requests_per_s = s.requests_ok / wall_s;
    s.mean_decode_batch = decode_busy / wall_s;
  }
  s.ttft_ms = Distribute(ttft, 1e3);
  s.tpot_ms = Distribute(tpot, 1e3);
  s.itl_ms = Distribute(itl, 1e3);
  s.e2e_ms = Distribute(e2e, 1e3);
  return s;
}

std::optional<DecodeBandwidth> DecodeBandwidthOf(const BenchSummary& s, int64_t weight_bytes,
                                                 int64_t kv_bytes_per_token, int input_len,
                                                 int output_len, double copy_gbps) {
  const double tpot_s = s.tpot_ms.p50 / 1e3;
  if (weight_bytes <= 0 || !(tpot_s > 0)) return std::nullopt;
  DecodeBandwidth b;
  b.decode_batch = std::max(1.0, s.mean_decode_batch);
  const double kv = b.decode_batch * (input_len + output_len / 2.0) *
                    static_cast<double>(std::max<int64_t>(kv_bytes_per_token, 0));
  b.step_bytes = static_cast<double>(weight_bytes) + kv;
  b.achieved_gbps = b.step_bytes / tpot_s / 1e9;
  if (copy_gbps > 0) b.utilization = b.achieved_gbps / copy_gbps;
  return b;
}

std::optional<double> UsdPerMillionOutputTokens(const BenchSummary& s, double price_per_hour) {
  if (!(price_per_hour > 0) || s.output_tokens == 0) return std::nullopt;
  const double dollars = price_per_hour / 3600.0 * s.wall_s;
  return dollars / static_cast<double>(s.output_tokens) * 1e6;
}

}  // namespace hearth::server
