// BuildStepPlan: exact arrays for a hand-worked step (paged_kv.h conventions), padding for
// CUDA-graph buckets, fixed block-table width.
#include "engine/step_plan.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "engine/scheduler.h"

namespace hearth::engine {
namespace {

std::vector<int32_t> Prompt(int n, int32_t start) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

SamplingParams Params(int max_tokens) {
  SamplingParams p;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

// Steps 1-3: A prefills 17 tokens in chunks (blocks 0, 1). Step 4: A decodes position 17 and B (5
// tokens, block 2) is admitted; B's prompt is 9 tokens but the budget leaves it a 5-token chunk.
class StepPlanTest : public ::testing::Test {
 protected:
  StepPlanTest() : scheduler_(MakeConfig(), {.num_blocks = 8, .block_size = 16}) {
    a_ = scheduler_.AddRequest(Prompt(17, 100), Params(4));
    for (int chunk : {6, 6, 5}) {  // chunked prefill; the last chunk samples token 7
      auto out = scheduler_.Schedule();
      EXPECT_EQ(out.num_batched_tokens, chunk);
      scheduler_.Update(out, chunk == 5 ? std::vector<int32_t>{7} : std::vector<int32_t>{});
    }
    b_ = scheduler_.AddRequest(Prompt(9, 200), Params(4));
    step_ = scheduler_.Schedule();
  }
  static SchedulerConfig MakeConfig() {
    SchedulerConfig c;
    c.max_num_batched_tokens = 6;
    return c;
  }
  Scheduler scheduler_;
  SeqId a_ = -1, b_ = -1;
  SchedulerOutput step_;
};

TEST_F(StepPlanTest, ExactArrays) {
  ASSERT_EQ(step_.seqs.size(), 2u);
  const StepPlan plan = BuildStepPlan(step_, scheduler_);
  EXPECT_EQ(plan.num_seqs, 2);
  EXPECT_EQ(plan.num_tokens, 6);
  EXPECT_EQ(plan.num_padded_tokens, 6);
  EXPECT_EQ(plan.block_size, 16);
  EXPECT_EQ(plan.max_blocks_per_seq, 2);
  EXPECT_EQ(plan.seq_ids, (std::vector<SeqId>{a_, b_}));
  EXPECT_EQ(plan.token_ids, (std::vector<int32_t>{7, 200, 201, 202, 203, 204}));
  EXPECT_EQ(plan.positions, (std::vector<int32_t>{17, 0, 1, 2, 3, 4}));
  EXPECT_EQ(plan.slot_mapping, (std::vector<int64_t>{17, 32, 33, 34, 35, 36}));
  EXPECT_EQ(plan.query_start_loc, (std::vector<int32_t>{0, 1, 6}));
  EXPECT_EQ(plan.seq_lens, (std::vector<int32_t>{18, 5}));
  EXPECT_EQ(plan.block_tables, (std::vector<int32_t>{0, 1, 2, -1}));
  EXPECT_EQ(plan.logits_indices, (std::vector<int32_t>{0}));  // B's chunk is not its last
  EXPECT_EQ(plan.num_decode_seqs, 1);
  EXPECT_EQ(plan.max_query_len, 5);
  EXPECT_EQ(plan.max_seq_len, 18);
}

TEST_F(StepPlanTest, PaddedToBucketAndFixedWidth) {
  const StepPlan plan =
      BuildStepPlan(step_, scheduler_, {.token_buckets = {4, 8, 16}, .max_blocks_per_seq = 4});
  EXPECT_EQ(plan.num_tokens, 6);
  EXPECT_EQ(plan.num_padded_tokens, 8);
  EXPECT_EQ(plan.token_ids, (std::vector<int32_t>{7, 200, 201, 202, 203, 204, 0, 0}));
  EXPECT_EQ(plan.positions, (std::vector<int32_t>{17, 0, 1, 2, 3, 4, 0, 0}));
  EXPECT_EQ(plan.slot_mapping, (std::vector<int64_t>{17, 32, 33, 34, 35, 36, -1, -1}));
  EXPECT_EQ(plan.query_start_loc, (std::vector<int32_t>{0, 1, 6}));
  EXPECT_EQ(plan.max_blocks_per_seq, 4);
  EXPECT_EQ(plan.block_tables, (std::vector<int32_t>{0, 1, -1, -1, 2, -1, -1, -1}));
}

TEST_F(StepPlanTest, PastTheLargestBucketIsExact) {
  const StepPlan plan = BuildStepPlan(step_, scheduler_, {.token_buckets = {1, 2, 4}});
  EXPECT_EQ(plan.num_padded_tokens, 6);
}

TEST(StepPlanEmptyTest, EmptyStep) {
  Scheduler scheduler({}, {.num_blocks = 4, .block_size = 16});
  const SchedulerOutput out = scheduler.Schedule();
  const StepPlan plan = BuildStepPlan(out, scheduler);
  EXPECT_EQ(plan.num_seqs, 0);
  EXPECT_EQ(plan.num_tokens, 0);
  EXPECT_EQ(plan.query_start_loc, (std::vector<int32_t>{0}));
  EXPECT_TRUE(plan.logits_indices.empty());
}

}  // namespace
}  // namespace hearth::engine
