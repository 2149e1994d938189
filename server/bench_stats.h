// The figures of `hearth bench` from its per-request records (pure functions, unit-tested): the
// same definitions as the load generator's benchmarks/serving/serving_stats.py, so an in-process
// run and a run over gRPC are read the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace hearth::server {

// One request of a benchmark run, times in seconds on one monotonic clock.
struct BenchRecord {
  bool ok = true;
  double start = 0;             // submitted
  std::optional<double> first;  // first token received
  double end = 0;               // final chunk received
  int prompt_tokens = 0;
  int output_tokens = 0;
  std::vector<double> gaps;  // between successive chunks after the first, per token
};

// p in [0, 100]; linear interpolation between the closest ranks (numpy's default); NaN for no
// values.
double Percentile(std::vector<double> values, double p);

struct Distribution {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0;
  int n = 0;
};
Distribution Distribute(const std::vector<double>& values, double scale);

struct BenchSummary {
  int requests_ok = 0, requests_failed = 0;
  double wall_s = 0;
  int64_t input_tokens = 0, output_tokens = 0;
  double output_tokens_per_s = 0, total_tokens_per_s = 0, requests_per_s = 0;
  Distribution ttft_ms, tpot_ms, itl_ms, e2e_ms;
  // Little's law over the decode phase: the mean number of sequences decoding at once.
  double mean_decode_batch = 0;
};

// wall_s: from the first request submitted to the last final chunk.
BenchSummary Summarize(const std::vector<BenchRecord>& records, double wall_s);

// Memory traffic of a decode step over its time: every weight once, plus each sequence's KV cache
// (on average input_len + output_len / 2 tokens) for the run's mean decode batch, over the median
// TPOT. Absent without weight bytes or a TPOT.
struct DecodeBandwidth {
  double step_bytes = 0, decode_batch = 0, achieved_gbps = 0;
  std::optional<double> utilization;  // of copy_gbps, when measured
};
std::optional<DecodeBandwidth> DecodeBandwidthOf(const BenchSummary& s, int64_t weight_bytes,
                                                 int64_t kv_bytes_per_token, int input_len,
                                                 int output_len, double copy_gbps);

// USD per million output tokens with every second of the run charged to them; absent without a
// price or output.
std::optional<double> UsdPerMillionOutputTokens(const BenchSummary& s, double price_per_hour);

}  // namespace hearth::server
