// hearth bench's figures on the hand-made records of tests/benchmarks/serving_stats_test.py (the
// same known answers: the in-process benchmark and the gRPC load generator define them alike),
// percentiles against values numpy's np.percentile gives.
#include "server/bench_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace hearth::server {
namespace {

TEST(BenchStats, PercentileIsNumpysLinear) {
  const std::vector<double> v = {3, 1, 4, 1, 5, 9, 2};  // sorted: 1 1 2 3 4 5 9
  // np.percentile(v, [0, 50, 90, 99, 100]) = 1, 3, 6.6, 8.76, 9
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 3);
  EXPECT_NEAR(Percentile(v, 90), 6.6, 1e-12);
  EXPECT_NEAR(Percentile(v, 99), 8.76, 1e-12);
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 9);
  EXPECT_DOUBLE_EQ(Percentile({7}, 99), 7);
  EXPECT_TRUE(std::isnan(Percentile({}, 50)));
}

// Two requests over a 10 s run: A starts at 0, first token at 1, 11 tokens by 6 (TPOT 0.5 s);
// B starts at 2, first token at 4, 5 tokens by 10 (TPOT 1.5 s). One failure.
std::vector<BenchRecord> TwoRequestsAndAFailure() {
  BenchRecord a{true, 0.0, 1.0, 6.0, 100, 11, std::vector<double>(10, 0.5)};
  BenchRecord b{true, 2.0, 4.0, 10.0, 100, 5, std::vector<double>(4, 1.5)};
  BenchRecord failed;
  failed.ok = false;
  return {a, b, failed};
}

TEST(BenchStats, SummaryOfKnownRecords) {
  const BenchSummary s = Summarize(TwoRequestsAndAFailure(), 10.0);
  EXPECT_EQ(s.requests_ok, 2);
  EXPECT_EQ(s.requests_failed, 1);
  EXPECT_EQ(s.input_tokens, 200);
  EXPECT_EQ(s.output_tokens, 16);
  EXPECT_DOUBLE_EQ(s.output_tokens_per_s, 1.6);
  EXPECT_DOUBLE_EQ(s.total_tokens_per_s, 21.6);
  EXPECT_DOUBLE_EQ(s.requests_per_s, 0.2);
  EXPECT_DOUBLE_EQ(s.ttft_ms.p50, 1500);
  EXPECT_DOUBLE_EQ(s.ttft_ms.p99, 1990);
  EXPECT_DOUBLE_EQ(s.tpot_ms.mean, 1000);
  EXPECT_EQ(s.itl_ms.n, 14);
  EXPECT_DOUBLE_EQ(s.itl_ms.p50, 500);
  EXPECT_DOUBLE_EQ(s.e2e_ms.p50, 7000);
  EXPECT_DOUBLE_EQ(s.mean_decode_batch, (5.0 + 6.0) / 10.0);  // Little's law
}

TEST(BenchStats, DecodeBandwidthAndCost) {
  const BenchSummary s = Summarize(TwoRequestsAndAFailure(), 10.0);
  // 1 GB of weights, 1000 B/token of KV, batch 1.1, 100 in / 10 out -> context 105 on average;
  // TPOT p50 is 1000 ms.
  const auto bw = DecodeBandwidthOf(s, 1000000000, 1000, 100, 10, 2.0);
  ASSERT_TRUE(bw.has_value());
  EXPECT_DOUBLE_EQ(bw->step_bytes, 1e9 + 1.1 * 105 * 1000);
  EXPECT_DOUBLE_EQ(bw->decode_batch, 1.1);
  EXPECT_DOUBLE_EQ(bw->achieved_gbps, (1e9 + 1.1 * 105 * 1000) / 1e9);
  ASSERT_TRUE(bw->utilization.has_value());
  EXPECT_DOUBLE_EQ(*bw->utilization, bw->achieved_gbps / 2.0);
  EXPECT_FALSE(DecodeBandwidthOf(s, 0, 1000, 100, 10, 2.0).has_value());
  EXPECT_FALSE(DecodeBandwidthOf(s, 1000000000, 1000, 100, 10, 0)->utilization.has_value());
  // $3.60/h for 10 s = $0.01 over 16 tokens.
  const auto usd = UsdPerMillionOutputTokens(s, 3.6);
  ASSERT_TRUE(usd.has_value());
  EXPECT_NEAR(*usd, 0.01 / 16 * 1e6, 1e-9);
  EXPECT_FALSE(UsdPerMillionOutputTokens(s, 0).has_value());
}

TEST(BenchStats, NothingFinished) {
  BenchRecord failed;
  failed.ok = false;
  const BenchSummary s = Summarize({failed}, 0.0);
  EXPECT_EQ(s.requests_ok, 0);
  EXPECT_EQ(s.requests_failed, 1);
  EXPECT_EQ(s.output_tokens_per_s, 0);
  EXPECT_TRUE(std::isnan(s.ttft_ms.p50));
  EXPECT_EQ(s.ttft_ms.n, 0);
  EXPECT_FALSE(DecodeBandwidthOf(s, 1000, 10, 1, 1, 1).has_value());
  EXPECT_FALSE(UsdPerMillionOutputTokens(s, 1.0).has_value());
}

}  // namespace
}  // namespace hearth::server
