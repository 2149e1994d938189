// Scheduler behaviour through the fake runner, with invariants checked after every step
// (Harness::Step). Named regressions are the bugs nano-vllm and vLLM shipped in this code.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "tests/engine/fake_runner.h"

namespace hearth::engine {
namespace {

using testing::Harness;
using testing::Reference;

constexpr int32_t kEos = 0;

std::vector<int32_t> Prompt(int n, int32_t start = 1000) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

SamplingParams Greedy(int max_tokens, bool ignore_eos = true) {
  SamplingParams p;
  p.max_tokens = max_tokens;
  p.ignore_eos = ignore_eos;
  return p;
}

SchedulerConfig Config(int budget, int max_seqs = 64) {
  SchedulerConfig c;
  c.max_num_batched_tokens = budget;
  c.max_num_seqs = max_seqs;
  c.eos_token_ids = {kEos};
  return c;
}

void ExpectMatchesReference(const Harness& h, SeqId id, const std::vector<int32_t>& prompt,
                            const SamplingParams& params) {
  const Sequence* seq = h.Finished(id);
  ASSERT_NE(seq, nullptr) << "seq " << id << " did not finish";
  const auto ref = h.ReferenceFor(prompt, params);
  const auto got = seq->generated_token_ids();
  EXPECT_EQ(std::vector<int32_t>(got.begin(), got.end()), ref.tokens) << "seq " << id;
  EXPECT_EQ(seq->finish_reason(), ref.reason) << "seq " << id;
}

TEST(SchedulerTest, SingleRequestDecodesToMaxTokens) {
  Harness h(Config(64), {.num_blocks = 16, .block_size = 16});
  const auto prompt = Prompt(20);
  const SeqId id = h.scheduler().AddRequest(prompt, Greedy(5));
  const auto first = h.Step();
  ASSERT_EQ(first.seqs.size(), 1u);
  EXPECT_TRUE(first.seqs[0].is_prefill);
  EXPECT_TRUE(first.seqs[0].samples);
  EXPECT_EQ(first.seqs[0].num_new_tokens, 20);
  const auto second = h.Step();
  ASSERT_EQ(second.seqs.size(), 1u);
  EXPECT_FALSE(second.seqs[0].is_prefill);
  EXPECT_EQ(second.seqs[0].num_new_tokens, 1);
  h.RunToCompletion();
  ExpectMatchesReference(h, id, prompt, Greedy(5));
  EXPECT_EQ(h.Finished(id)->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(h.blocks().stats().num_used_blocks, 0);
}

TEST(SchedulerTest, StopTokenEosAndIgnoreEos) {
  Harness h(Config(256), {.num_blocks = 64, .block_size = 16});
  // Find a prompt whose reference output contains EOS early, then check all three rules.
  std::vector<int32_t> prompt;
  Reference ref;
  for (int32_t start = 0;; ++start) {
    prompt = Prompt(7, start);
    ref = h.ReferenceFor(prompt, Greedy(200));
    if (std::find(ref.tokens.begin(), ref.tokens.end(), kEos) != ref.tokens.end()) break;
  }
  const SamplingParams stop_on_eos = Greedy(200, /*ignore_eos=*/false);
  const SamplingParams stop_token = {
      .max_tokens = 200, .ignore_eos = true, .stop_token_ids = {ref.tokens[2]}};
  const SeqId a = h.scheduler().AddRequest(prompt, stop_on_eos);
  const SeqId b = h.scheduler().AddRequest(prompt, Greedy(200));
  const SeqId c = h.scheduler().AddRequest(prompt, stop_token);
  h.RunToCompletion();
  ExpectMatchesReference(h, a, prompt, stop_on_eos);
  EXPECT_EQ(h.Finished(a)->finish_reason(), FinishReason::kStop);
  EXPECT_EQ(h.Finished(a)->generated_token_ids().back(), kEos);
  ExpectMatchesReference(h, b, prompt, Greedy(200));
  EXPECT_EQ(h.Finished(b)->num_generated_tokens(), 200);
  ExpectMatchesReference(h, c, prompt, stop_token);
  EXPECT_LE(h.Finished(c)->num_generated_tokens(), 3);
}

// nano-vllm: a prompt of exactly one block must still compute its last token (no hit at all).
TEST(SchedulerTest, PromptExactlyOneBlock) {
  Harness h(Config(64), {.num_blocks = 16, .block_size = 16});
  const auto prompt = Prompt(16);
  const SeqId a = h.scheduler().AddRequest(prompt, Greedy(4));
  h.RunToCompletion();
  const SeqId b = h.scheduler().AddRequest(prompt, Greedy(4));
  const auto out = h.Step();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].num_new_tokens, 16) << "a one-block prompt cannot reuse its only block";
  h.RunToCompletion();
  ExpectMatchesReference(h, a, prompt, Greedy(4));
  ExpectMatchesReference(h, b, prompt, Greedy(4));
  EXPECT_EQ(h.Finished(b)->num_cached_tokens(), 0);
}

// nano-vllm: a 100% prefix hit (whole prompt cached) must still compute the last token so the
// step produces logits; and it must not write into the shared block.
TEST(SchedulerTest, FullPrefixHitStillComputesLastToken) {
  Harness h(Config(64), {.num_blocks = 16, .block_size = 16});
  const auto prompt = Prompt(32);
  const SeqId a = h.scheduler().AddRequest(prompt, Greedy(3));
  h.RunToCompletion();
  // Same 32 tokens: two full cached blocks, but only the first may be reused.
  const SeqId b = h.scheduler().AddRequest(prompt, Greedy(3));
  auto out = h.Step();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].num_new_tokens, 16);
  EXPECT_TRUE(out.seqs[0].samples);
  h.RunToCompletion();
  EXPECT_EQ(h.Finished(b)->num_cached_tokens(), 16);
  // 33 tokens whose first 32 are cached: exactly one token computed.
  auto longer = prompt;
  longer.push_back(5);
  const SeqId c = h.scheduler().AddRequest(longer, Greedy(3));
  out = h.Step();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].num_new_tokens, 1);
  EXPECT_TRUE(out.seqs[0].samples);
  h.RunToCompletion();
  EXPECT_EQ(h.Finished(c)->num_cached_tokens(), 32);
  ExpectMatchesReference(h, a, prompt, Greedy(3));
  ExpectMatchesReference(h, b, prompt, Greedy(3));
  ExpectMatchesReference(h, c, longer, Greedy(3));
}

// nano-vllm: two requests with the same prefix arriving in one step. The second must not attach
// the first's blocks: their KV is written by this very step.
TEST(SchedulerTest, SamePrefixInOneStepDoesNotShareUnwrittenBlocks) {
  Harness h(Config(256), {.num_blocks = 32, .block_size = 16});
  const auto prompt = Prompt(48);
  const SeqId a = h.scheduler().AddRequest(prompt, Greedy(4));
  const SeqId b = h.scheduler().AddRequest(prompt, Greedy(4));
  const auto out = h.Step();
  ASSERT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(out.seqs[0].num_new_tokens, 48);
  EXPECT_EQ(out.seqs[1].num_new_tokens, 48);
  const auto& plan = h.last_plan();
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(plan.block_tables[i], plan.block_tables[plan.max_blocks_per_seq + i]);
  // After the step the second adopted the first's published blocks (its copies freed).
  const Sequence* sa = h.scheduler().Find(a);
  const Sequence* sb = h.scheduler().Find(b);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sa->block_table()[i], sb->block_table()[i]);
  EXPECT_EQ(h.blocks().stats().num_used_blocks, 3);  // the 49th tokens get blocks next step
  EXPECT_EQ(h.blocks().stats().num_free_blocks, 32 - 3);
  // A third request now hits two blocks.
  const SeqId c = h.scheduler().AddRequest(prompt, Greedy(4));
  h.RunToCompletion();
  EXPECT_EQ(h.Finished(c)->num_cached_tokens(), 32);
  for (SeqId id : {a, b, c}) ExpectMatchesReference(h, id, prompt, Greedy(4));
}

// Preemption, then a prefix hit on the preempted sequence's own published blocks.
TEST(SchedulerTest, PreemptionThenPrefixHit) {
  // 8 blocks of 8 tokens = 64 tokens; two sequences of 20 + 30 generated cannot both fit.
  Harness h(Config(64), {.num_blocks = 8, .block_size = 8});
  const auto pa = Prompt(20, 1), pb = Prompt(20, 500);
  const SeqId a = h.scheduler().AddRequest(pa, Greedy(30));
  const SeqId b = h.scheduler().AddRequest(pb, Greedy(30));
  bool b_preempted = false;
  bool b_readmitted = false;
  while (h.scheduler().HasUnfinished()) {
    const auto out = h.Step();
    for (SeqId id : out.preempted) {
      EXPECT_EQ(id, b) << "the newest sequence is the victim";
      b_preempted = true;
    }
    for (size_t i = 0; i < out.seqs.size(); ++i) {
      if (!b_preempted || b_readmitted || out.seqs[i].seq_id != b) continue;
      b_readmitted = true;
      EXPECT_TRUE(out.seqs[i].is_prefill);
      // Re-admitted: the prefix it had computed came from the cache, not recomputed from zero.
      const int first_position = h.last_plan().positions[h.last_plan().query_start_loc[i]];
      EXPECT_GT(first_position, 0) << "recompute did not hit its own prefix";
    }
  }
  EXPECT_TRUE(b_preempted);
  EXPECT_TRUE(b_readmitted);
  EXPECT_GE(h.Finished(b)->num_preemptions(), 1);
  EXPECT_EQ(h.Finished(b)->num_cached_tokens(), 0) << "usage reports the first admission's hit";
  ExpectMatchesReference(h, a, pa, Greedy(30));
  ExpectMatchesReference(h, b, pb, Greedy(30));
  EXPECT_GT(h.blocks().stats().prefix_hit_tokens, 0);
}

TEST(SchedulerTest, AbortMidPrefillFreesAllBlocks) {
  Harness h(Config(32), {.num_blocks = 16, .block_size = 16});
  const SeqId a = h.scheduler().AddRequest(Prompt(100), Greedy(4));
  const SeqId waiting = h.scheduler().AddRequest(Prompt(200, 7), Greedy(4), /*priority=*/5);
  auto out = h.Step();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].num_new_tokens, 32);
  EXPECT_FALSE(out.seqs[0].samples);
  h.Step();  // 64 of 100 computed
  EXPECT_GT(h.blocks().stats().num_used_blocks, 0);
  h.scheduler().Abort(a);
  h.scheduler().Abort(waiting);
  h.scheduler().Abort(12345);  // unknown: ignored
  out = h.Step();
  EXPECT_EQ(out.finished_or_rejected, (std::vector<SeqId>{a, waiting}));
  EXPECT_TRUE(out.seqs.empty());
  const auto stats = h.blocks().stats();
  EXPECT_EQ(stats.num_used_blocks, 0);
  EXPECT_EQ(stats.num_free_blocks + stats.num_cached_blocks, 16);
  EXPECT_EQ(stats.num_cached_blocks, 4) << "the 4 full computed blocks stay reusable";
  EXPECT_EQ(h.Finished(a)->finish_reason(), FinishReason::kAbort);
  EXPECT_EQ(h.Finished(waiting)->finish_reason(), FinishReason::kAbort);
  EXPECT_EQ(h.scheduler().stats().num_aborted, 2);
  EXPECT_EQ(h.scheduler().stats().num_waiting + h.scheduler().stats().num_running, 0);
}

TEST(SchedulerTest, KvExhaustionPreemptsInsteadOfFailing) {
  // 12 blocks x 4 tokens = 48 tokens of KV for 6 requests wanting ~26 tokens each.
  Harness h(Config(64, 8), {.num_blocks = 12, .block_size = 4});
  std::vector<std::pair<SeqId, std::vector<int32_t>>> reqs;
  for (int i = 0; i < 6; ++i) {
    auto p = Prompt(6 + i, 100 * i);
    reqs.emplace_back(h.scheduler().AddRequest(p, Greedy(20)), p);
  }
  int preemptions = 0;
  int steps = 0;
  while (h.scheduler().HasUnfinished() && steps++ < 10000) {
    preemptions += static_cast<int>(h.Step().preempted.size());
  }
  EXPECT_GT(preemptions, 0);
  EXPECT_EQ(h.scheduler().stats().num_preemptions, preemptions);
  for (const auto& [id, p] : reqs) ExpectMatchesReference(h, id, p, Greedy(20));
}

TEST(SchedulerTest, ChunkedPrefillAcrossBlockBoundaries) {
  // Chunks of 7 over blocks of 16: chunk ends land mid-block; a decode runs alongside.
  Harness h(Config(8), {.num_blocks = 32, .block_size = 16});
  const auto pd = Prompt(3, 9);
  const SeqId d = h.scheduler().AddRequest(pd, Greedy(40));
  h.Step();  // d prefilled (3 tokens)
  const auto pp = Prompt(50, 300);
  const SeqId p = h.scheduler().AddRequest(pp, Greedy(2));
  int computed = 0;
  while (computed < 50) {
    const auto out = h.Step();
    ASSERT_EQ(out.seqs.size(), 2u);
    EXPECT_EQ(out.seqs[0].seq_id, d);
    EXPECT_FALSE(out.seqs[0].is_prefill);
    EXPECT_EQ(out.seqs[1].seq_id, p);
    EXPECT_TRUE(out.seqs[1].is_prefill);
    const int n = out.seqs[1].num_new_tokens;
    EXPECT_EQ(n, std::min(7, 50 - computed));
    EXPECT_EQ(h.last_plan().positions[1], computed);
    EXPECT_EQ(h.last_plan().seq_lens[1], computed + n);
    EXPECT_EQ(out.seqs[1].samples, computed + n == 50);
    computed += n;
  }
  h.RunToCompletion();
  ExpectMatchesReference(h, d, pd, Greedy(40));
  ExpectMatchesReference(h, p, pp, Greedy(2));
}

TEST(SchedulerTest, PrioritiesOrderAdmission) {
  Harness h(Config(256, /*max_seqs=*/1), {.num_blocks = 32, .block_size = 16});
  const SeqId low = h.scheduler().AddRequest(Prompt(5, 1), Greedy(2), /*priority=*/5);
  const SeqId high1 = h.scheduler().AddRequest(Prompt(5, 2), Greedy(2), /*priority=*/0);
  const SeqId mid = h.scheduler().AddRequest(Prompt(5, 3), Greedy(2), /*priority=*/1);
  const SeqId high2 = h.scheduler().AddRequest(Prompt(5, 4), Greedy(2), /*priority=*/0);
  std::vector<SeqId> admitted;
  while (h.scheduler().HasUnfinished()) {
    for (const auto& s : h.Step().seqs)
      if (s.is_prefill) admitted.push_back(s.seq_id);
  }
  EXPECT_EQ(admitted, (std::vector<SeqId>{high1, high2, mid, low}));
}

TEST(SchedulerTest, LowerPriorityRunningSequenceIsPreemptedFirst) {
  Harness h(Config(64), {.num_blocks = 8, .block_size = 8});
  const SeqId urgent_late = h.scheduler().AddRequest(Prompt(20, 1), Greedy(30), /*priority=*/0);
  const SeqId relaxed = h.scheduler().AddRequest(Prompt(20, 2), Greedy(30), /*priority=*/3);
  std::vector<SeqId> victims;
  while (h.scheduler().HasUnfinished()) {
    for (SeqId id : h.Step().preempted) victims.push_back(id);
  }
  ASSERT_FALSE(victims.empty());
  for (SeqId id : victims) EXPECT_EQ(id, relaxed);
  EXPECT_EQ(h.Finished(urgent_late)->num_preemptions(), 0);
}

TEST(SchedulerTest, PromptThatCanNeverFitIsRejected) {
  Harness h(Config(64), {.num_blocks = 4, .block_size = 16});  // 64 tokens of KV
  const SeqId big = h.scheduler().AddRequest(Prompt(64), Greedy(1));
  const SeqId empty = h.scheduler().AddRequest({}, Greedy(1));
  const SeqId ok = h.scheduler().AddRequest(Prompt(63), Greedy(5));
  const auto out = h.Step();
  EXPECT_EQ(out.finished_or_rejected, (std::vector<SeqId>{big, empty}));
  EXPECT_EQ(h.scheduler().stats().num_rejected, 2);
  h.RunToCompletion();
  ASSERT_NE(h.Finished(big), nullptr);
  EXPECT_EQ(h.Finished(big)->finish_reason(), FinishReason::kRejected);
  EXPECT_NE(h.Finished(big)->error().find("KV cache"), std::string::npos)
      << h.Finished(big)->error();
  EXPECT_EQ(h.Finished(empty)->finish_reason(), FinishReason::kRejected);
  // 63 prompt tokens + 1 generated fill the cache: finished by length, not stuck.
  EXPECT_EQ(h.Finished(ok)->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(h.Finished(ok)->num_tokens(), 64);
  ExpectMatchesReference(h, ok, Prompt(63), Greedy(5));
}

TEST(SchedulerTest, MaxModelLenLimitsGeneration) {
  SchedulerConfig config = Config(64);
  config.max_model_len = 30;
  Harness h(config, {.num_blocks = 16, .block_size = 16});
  const SeqId a = h.scheduler().AddRequest(Prompt(25), Greedy(100));
  const SeqId b = h.scheduler().AddRequest(Prompt(30), Greedy(100));
  h.RunToCompletion();
  EXPECT_EQ(h.Finished(a)->num_tokens(), 30);
  EXPECT_EQ(h.Finished(a)->finish_reason(), FinishReason::kLength);
  EXPECT_EQ(h.Finished(b)->finish_reason(), FinishReason::kRejected);
  EXPECT_NE(h.Finished(b)->error().find("max_model_len"), std::string::npos);
}

TEST(SchedulerTest, RespectsSequenceLimitAndTokenBudget) {
  Harness h(Config(/*budget=*/20, /*max_seqs=*/3), {.num_blocks = 64, .block_size = 16});
  for (int i = 0; i < 8; ++i) h.scheduler().AddRequest(Prompt(9, 50 * i), Greedy(6));
  while (h.scheduler().HasUnfinished()) {
    const auto out = h.Step();
    EXPECT_LE(out.num_batched_tokens, 20);
    EXPECT_LE(h.scheduler().num_running(), 3);
    int sum = 0;
    for (const auto& s : out.seqs) sum += s.num_new_tokens;
    EXPECT_EQ(sum, out.num_batched_tokens);
  }
}

TEST(SchedulerTest, ValidateConfigExplainsBadValues) {
  const BlockManagerConfig blocks{.num_blocks = 16, .block_size = 16};
  EXPECT_TRUE(ValidateConfig(Config(64), blocks).ok());
  const Status zero_budget = ValidateConfig(Config(0), blocks);
  EXPECT_EQ(zero_budget.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(zero_budget.message().find("max_num_batched_tokens"), std::string::npos);
  EXPECT_FALSE(ValidateConfig(Config(64, 0), blocks).ok());
  EXPECT_FALSE(ValidateConfig(Config(64), {.num_blocks = 0, .block_size = 16}).ok());
  EXPECT_FALSE(ValidateConfig(Config(64), {.num_blocks = 16, .block_size = 0}).ok());
  EXPECT_FALSE(ValidateConfig(Config(64), {.num_blocks = 1 << 28, .block_size = 16}).ok());
  SchedulerConfig negative_len = Config(64);
  negative_len.max_model_len = -1;
  EXPECT_FALSE(ValidateConfig(negative_len, blocks).ok());
}

}  // namespace
}  // namespace hearth::engine
