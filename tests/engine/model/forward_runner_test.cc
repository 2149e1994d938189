// CpuModelRunner's contract beyond the numbers: options and malformed steps are errors, not
// crashes; Execute samples what ExecuteLogits computes; the RoPE table folds GGUF rope_freqs in.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/engine/model/forward_test_util.h"
#include "tests/support/test_support.h"

namespace hearth::engine::testing {
namespace {

using hearth::testing::TestDataPath;

std::unique_ptr<LoadedModel> Stories() {
  return LoadOrDie(TestDataPath("stories260K/stories260K.gguf"));
}

TEST(CpuModelRunner, OptionsAreChecked) {
  auto model = Stories();
  ASSERT_NE(model, nullptr);
  CpuRunnerOptions bad_block;
  bad_block.block_size = 0;
  EXPECT_EQ(CpuModelRunner::Create(*model, bad_block).status().code(),
            StatusCode::kInvalidArgument);
  CpuRunnerOptions tiny_cache;
  tiny_cache.kv_cache_bytes = 100;
  const auto r = CpuModelRunner::Create(*model, tiny_cache);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("holds no KV block"), std::string::npos)
      << r.status().ToString();
  CpuRunnerOptions by_bytes;
  by_bytes.kv_cache_bytes = int64_t{1} << 20;
  auto ok = CpuModelRunner::Create(*model, by_bytes);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  // stories260K: 5 layers, 4 kv heads, head_dim 8: 2*5*4*16*8*4 = 20480 bytes per block.
  EXPECT_EQ((*ok)->num_kv_blocks(), (int64_t{1} << 20) / 20480);
  EXPECT_EQ((*ok)->block_size(), 16);
  EXPECT_EQ((*ok)->vocab_size(), 512);
}

TEST(CpuModelRunner, MalformedStepsAreErrors) {
  auto model = Stories();
  ASSERT_NE(model, nullptr);
  auto runner = RunnerOrDie(*model, 4);
  ASSERT_NE(runner, nullptr);
  std::vector<float> logits;
  StepPlan bad_id = SingleSeqPlan({1, 512}, 0, 16, true);
  EXPECT_EQ(runner->ExecuteLogits(bad_id, &logits).code(), StatusCode::kOutOfRange);
  StepPlan bad_row = SingleSeqPlan({1, 5}, 0, 16, true);
  bad_row.logits_indices = {2};
  EXPECT_EQ(runner->ExecuteLogits(bad_row, &logits).code(), StatusCode::kOutOfRange);
  StepPlan bad_block_size = SingleSeqPlan({1, 5}, 0, 8, true);
  EXPECT_EQ(runner->ExecuteLogits(bad_block_size, &logits).code(), StatusCode::kInvalidArgument);
  StepPlan bad_table = SingleSeqPlan({1, 5}, 0, 16, true);
  bad_table.block_tables = {99};  // past the 4 blocks
  EXPECT_FALSE(runner->ExecuteLogits(bad_table, &logits).ok());
  StepPlan bad_loc = SingleSeqPlan({1, 5}, 0, 16, true);
  bad_loc.query_start_loc = {0, 3};
  EXPECT_EQ(runner->ExecuteLogits(bad_loc, &logits).code(), StatusCode::kInvalidArgument);
  StepResult result;
  SamplingBatch empty;  // two sampled rows, no params
  EXPECT_EQ(runner->Execute(SingleSeqPlan({1, 5}, 0, 16, true), empty, &result).code(),
            StatusCode::kInvalidArgument);
}

TEST(CpuModelRunner, ExecuteSamplesTheLogits) {
  auto model = Stories();
  ASSERT_NE(model, nullptr);
  auto a = RunnerOrDie(*model, 4);
  auto b = RunnerOrDie(*model, 4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const StepPlan plan = SingleSeqPlan({1, 403, 407, 261, 378}, 0, 16, /*all_rows=*/true);
  std::vector<float> logits;
  ASSERT_TRUE(a->ExecuteLogits(plan, &logits).ok());
  SamplingBatch sampling;
  sampling.params.resize(plan.logits_indices.size());
  for (auto& p : sampling.params) {
    p.temperature = 0.f;
    p.num_logprobs = 3;
  }
  sampling.steps.assign(plan.logits_indices.size(), 0);
  StepResult result;
  ASSERT_TRUE(b->Execute(plan, sampling, &result).ok());
  const int vocab = a->vocab_size();
  for (size_t i = 0; i < plan.logits_indices.size(); ++i) {
    const float* row = logits.data() + i * vocab;
    EXPECT_EQ(result.token_ids[i], Argmax(row, vocab)) << "row " << i;
    EXPECT_EQ(result.top_ids[i * kMaxLogprobs], result.token_ids[i]);
    double sum = 0;
    for (int v = 0; v < vocab; ++v) sum += std::exp(double{row[v]} - row[result.token_ids[i]]);
    EXPECT_NEAR(result.token_logprobs[i], -std::log(sum), 1e-4) << "row " << i;
    EXPECT_EQ(result.top_ids[i * kMaxLogprobs + 3], -1);
  }
}

}  // namespace
}  // namespace hearth::engine::testing
