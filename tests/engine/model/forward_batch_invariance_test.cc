// Batch invariance of the CPU forward pass: a greedy request run alone and run among 15 others
// of different lengths (mixed prefill chunks and decodes under a small token budget, so its
// prompt is also chunked) yields the same tokens and bit-identical logits at every step.
#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "engine/scheduler.h"
#include "tests/engine/model/forward_test_util.h"
#include "tests/support/test_support.h"

namespace hearth::engine::testing {
namespace {

using hearth::testing::TestDataPath;

struct Output {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;  // one row per sampled token
};

// Runs `prompts` (all arriving at once) greedily for max_tokens[i] tokens each through the
// scheduler, step plan and runner.ExecuteLogits; returns each request's tokens and logits.
std::vector<Output> RunBatch(CpuModelRunner& runner,
                             const std::vector<std::vector<int32_t>>& prompts,
                             const std::vector<int>& max_tokens, int budget, int* mixed_steps,
                             int64_t* preemptions = nullptr) {
  SchedulerConfig config;
  config.max_num_batched_tokens = budget;
  BlockManagerConfig blocks;
  blocks.num_blocks = static_cast<int>(runner.num_kv_blocks());
  blocks.block_size = runner.block_size();
  Scheduler scheduler(config, blocks);
  std::map<SeqId, size_t> index;
  for (size_t i = 0; i < prompts.size(); ++i) {
    SamplingParams stop;
    stop.max_tokens = max_tokens[i];
    stop.ignore_eos = true;
    index[scheduler.AddRequest(prompts[i], stop)] = i;
  }
  std::vector<Output> out(prompts.size());
  const int vocab = runner.vocab_size();
  *mixed_steps = 0;
  while (scheduler.HasUnfinished()) {
    const SchedulerOutput decision = scheduler.Schedule();
    const StepPlan plan = BuildStepPlan(decision, scheduler);
    if (plan.num_decode_seqs > 0 && plan.num_decode_seqs < plan.num_seqs) ++*mixed_steps;
    std::vector<float> logits;
    const Status s = runner.ExecuteLogits(plan, &logits);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return out;
    std::vector<int32_t> sampled;
    size_t row = 0;
    for (const ScheduledSeq& seq : decision.seqs) {
      if (!seq.samples) continue;
      const float* r = logits.data() + row * vocab;
      const int32_t token = Argmax(r, vocab);
      Output& o = out[index.at(seq.seq_id)];
      o.tokens.push_back(token);
      o.logits.emplace_back(r, r + vocab);
      sampled.push_back(token);
      ++row;
    }
    scheduler.Update(decision, sampled);
  }
  if (preemptions != nullptr) *preemptions = scheduler.stats().num_preemptions;
  return out;
}

void CheckAloneVersusMix(int64_t mix_kv_blocks, bool expect_preemption) {
  auto model = LoadOrDie(TestDataPath("stories260K/stories260K.gguf"));
  ASSERT_NE(model, nullptr);
  const std::vector<int32_t> target = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298,
                                       315, 421, 395, 317, 426, 338, 401, 396, 267, 337};
  constexpr int kTargetTokens = 24;

  int mixed = 0;
  auto alone_runner = RunnerOrDie(*model, 128);
  ASSERT_NE(alone_runner, nullptr);
  const Output alone = RunBatch(*alone_runner, {target}, {kTargetTokens}, 2048, &mixed)[0];
  ASSERT_EQ(alone.tokens.size(), static_cast<size_t>(kTargetTokens));

  // 15 others, 3 to 73 tokens, some arriving before the target in the queue, with different
  // output lengths so the batch composition changes from step to step.
  std::vector<std::vector<int32_t>> prompts;
  std::vector<int> max_tokens;
  for (int i = 0; i < 16; ++i) {
    if (i == 5) {
      prompts.push_back(target);
      max_tokens.push_back(kTargetTokens);
      continue;
    }
    std::vector<int32_t> p = {1};
    const int len = 3 + (i * 29) % 71;
    for (int j = 1; j < len; ++j) p.push_back(3 + (i * 131 + j * 17) % 500);
    prompts.push_back(p);
    max_tokens.push_back(4 + (i * 7) % 30);
  }
  auto batch_runner = RunnerOrDie(*model, mix_kv_blocks);
  ASSERT_NE(batch_runner, nullptr);
  int64_t preemptions = 0;
  const std::vector<Output> batch =
      RunBatch(*batch_runner, prompts, max_tokens, 40, &mixed, &preemptions);
  EXPECT_GT(mixed, 0) << "no step mixed prefill chunks with decodes";
  if (expect_preemption) {
    EXPECT_GT(preemptions, 0) << "the small KV cache preempted nobody";
  }
  const Output& among = batch[5];
  ASSERT_EQ(among.tokens, alone.tokens);
  for (int i = 0; i < kTargetTokens; ++i) {
    ASSERT_EQ(std::memcmp(among.logits[i].data(), alone.logits[i].data(),
                          alone.logits[i].size() * sizeof(float)),
              0)
        << "logits differ at generated token " << i;
  }
}

TEST(ForwardBatchInvariance, AloneVersusAmongFifteenOthers) { CheckAloneVersusMix(128, false); }

// With a KV cache too small for all 16, sequences are preempted and recomputed (their generated
// tokens as prompt, prefix-cache hits included): still the same tokens and logits.
TEST(ForwardBatchInvariance, AloneVersusPreemptingMix) { CheckAloneVersusMix(14, true); }

}  // namespace
}  // namespace hearth::engine::testing
