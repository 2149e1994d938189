#include "tests/engine/fake_runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <unordered_map>

namespace hearth::engine::testing {

uint64_t ChainHash(uint64_t prev, int32_t token, int32_t position) {
  uint64_t x =
      prev ^ (uint64_t{static_cast<uint32_t>(token)} << 32 | static_cast<uint32_t>(position));
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x + prev * 3;
}

int32_t TokenFromHash(uint64_t h, int vocab_size) {
  return static_cast<int32_t>((h >> 17) % static_cast<uint64_t>(vocab_size));
}

FakeRunner::FakeRunner(int num_blocks, int block_size, int vocab_size)
    : block_size_(block_size),
      vocab_size_(vocab_size),
      kv_(static_cast<size_t>(num_blocks) * block_size) {}

std::vector<int32_t> FakeRunner::Run(const StepPlan& plan) {
  std::vector<uint64_t> row_history(plan.num_padded_tokens, 0);
  for (int i = 0; i < plan.num_seqs; ++i) {
    const int32_t* table =
        plan.block_tables.data() + static_cast<size_t>(i) * plan.max_blocks_per_seq;
    auto slot_of = [&](int pos) -> int64_t {
      const int32_t block = table[pos / block_size_];
      EXPECT_GE(block, 0) << "seq " << plan.seq_ids[i] << " position " << pos;
      return int64_t{block} * block_size_ + pos % block_size_;
    };
    for (int t = plan.query_start_loc[i]; t < plan.query_start_loc[i + 1]; ++t) {
      const int pos = plan.positions[t];
      uint64_t prev = kHistorySeed;
      if (pos > 0) {
        const Kv& kv = kv_[slot_of(pos - 1)];
        EXPECT_EQ(kv.position, pos - 1)
            << "seq " << plan.seq_ids[i] << " reads unwritten or stale KV at position " << pos - 1;
        prev = kv.history;
      }
      const uint64_t h = ChainHash(prev, plan.token_ids[t], pos);
      EXPECT_EQ(plan.slot_mapping[t], slot_of(pos)) << "slot mapping disagrees with block table";
      kv_[plan.slot_mapping[t]] = {h, pos};
      row_history[t] = h;
    }
  }
  std::vector<int32_t> sampled;
  for (int32_t row : plan.logits_indices)
    sampled.push_back(TokenFromHash(row_history[row], vocab_size_));
  return sampled;
}

Reference ReferenceOutput(const std::vector<int32_t>& prompt, const SamplingParams& params,
                          const std::vector<int32_t>& eos_token_ids, int max_seq_len,
                          int vocab_size) {
  Reference ref;
  uint64_t h = kHistorySeed;
  std::vector<int32_t> all = prompt;
  for (size_t pos = 0; pos < prompt.size(); ++pos) h = ChainHash(h, prompt[pos], pos);
  auto contains = [](const std::vector<int32_t>& v, int32_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  while (true) {
    const int32_t token = TokenFromHash(h, vocab_size);
    all.push_back(token);
    ref.tokens.push_back(token);
    if (contains(params.stop_token_ids, token) ||
        (!params.ignore_eos && contains(eos_token_ids, token))) {
      ref.reason = FinishReason::kStop;
      return ref;
    }
    if (static_cast<int>(ref.tokens.size()) >= params.max_tokens ||
        static_cast<int>(all.size()) >= max_seq_len) {
      ref.reason = FinishReason::kLength;
      return ref;
    }
    h = ChainHash(h, token, static_cast<int32_t>(all.size() - 1));
  }
}

void CheckPlan(const StepPlan& plan, const SchedulerOutput& output, const Scheduler& scheduler) {
  const int bs = plan.block_size;
  ASSERT_EQ(plan.num_seqs, static_cast<int>(output.seqs.size()));
  ASSERT_EQ(plan.num_tokens, output.num_batched_tokens);
  ASSERT_EQ(static_cast<int>(plan.query_start_loc.size()), plan.num_seqs + 1);
  ASSERT_EQ(plan.query_start_loc[plan.num_seqs], plan.num_tokens);
  ASSERT_EQ(static_cast<int>(plan.logits_indices.size()), output.num_sampling_seqs());
  std::set<int64_t> written;
  std::unordered_map<int32_t, SeqId> writer_of_block;
  for (int i = 0; i < plan.num_seqs; ++i) {
    const Sequence* seq = scheduler.Find(plan.seq_ids[i]);
    ASSERT_NE(seq, nullptr);
    const int begin = plan.query_start_loc[i], end = plan.query_start_loc[i + 1];
    ASSERT_EQ(end - begin, output.seqs[i].num_new_tokens);
    ASSERT_GT(end - begin, 0);
    ASSERT_EQ(plan.seq_lens[i], seq->num_computed_tokens() + (end - begin));
    const int32_t* row =
        plan.block_tables.data() + static_cast<size_t>(i) * plan.max_blocks_per_seq;
    const int used_blocks = (plan.seq_lens[i] + bs - 1) / bs;
    for (int b = 0; b < plan.max_blocks_per_seq; ++b) {
      if (b < used_blocks) {
        ASSERT_EQ(row[b], seq->block_table()[b]);
      } else {
        ASSERT_EQ(row[b], -1);
      }
    }
    for (int t = begin; t < end; ++t) {
      const int pos = plan.positions[t];
      ASSERT_EQ(pos, plan.seq_lens[i] - (end - begin) + (t - begin));
      ASSERT_GE(pos, seq->num_computed_tokens());
      ASSERT_EQ(plan.token_ids[t], seq->token_ids()[pos]);
      const int64_t slot = plan.slot_mapping[t];
      ASSERT_EQ(slot / bs, seq->block_table()[pos / bs]) << "slot outside its own block";
      ASSERT_EQ(slot % bs, pos % bs);
      ASSERT_TRUE(written.insert(slot).second) << "slot " << slot << " written twice";
      writer_of_block[static_cast<int32_t>(slot / bs)] = seq->id();
    }
  }
  // A block being written must belong to its writer alone (shared blocks are read-only).
  for (int i = 0; i < plan.num_seqs; ++i) {
    const Sequence* seq = scheduler.Find(plan.seq_ids[i]);
    for (int32_t b : seq->block_table()) {
      auto it = writer_of_block.find(b);
      if (it != writer_of_block.end()) {
        ASSERT_EQ(it->second, seq->id()) << "block " << b << " written by seq " << it->second
                                         << " is also in seq " << seq->id() << "'s table";
      }
    }
  }
  for (int t = plan.num_tokens; t < plan.num_padded_tokens; ++t)
    ASSERT_EQ(plan.slot_mapping[t], -1);
  for (size_t k = 0; k < plan.logits_indices.size(); ++k) {
    ASSERT_GE(plan.logits_indices[k], 0);
    ASSERT_LT(plan.logits_indices[k], plan.num_tokens);
  }
}

Harness::Harness(SchedulerConfig config, BlockManagerConfig block_config, int vocab_size)
    : scheduler_(std::move(config), block_config),
      runner_(block_config.num_blocks, block_config.block_size, vocab_size),
      vocab_size_(vocab_size) {}

SchedulerOutput Harness::Step() {
  SchedulerOutput out = scheduler_.Schedule();
  EXPECT_TRUE(scheduler_.CheckInvariants().ok()) << scheduler_.CheckInvariants().ToString();
  last_plan_ = BuildStepPlan(out, scheduler_);
  CheckPlan(last_plan_, out, scheduler_);
  const std::vector<int32_t> sampled = runner_.Run(last_plan_);
  scheduler_.Update(out, sampled);
  EXPECT_TRUE(scheduler_.CheckInvariants().ok()) << scheduler_.CheckInvariants().ToString();
  for (auto& seq : scheduler_.TakeFinished()) finished_.push_back(std::move(seq));
  return out;
}

int Harness::RunToCompletion(int max_steps) {
  int steps = 0;
  while (scheduler_.HasUnfinished() && steps < max_steps) {
    const SchedulerOutput out = Step();
    ++steps;
    if (out.empty() && scheduler_.HasUnfinished() && out.finished_or_rejected.empty()) {
      ADD_FAILURE() << "step " << steps << " scheduled nothing with " << scheduler_.num_waiting()
                    << " waiting and " << scheduler_.num_running() << " running";
      break;
    }
  }
  // One more Schedule() reports aborts/rejections queued after the last step.
  if (!scheduler_.HasUnfinished()) Step();
  EXPECT_FALSE(scheduler_.HasUnfinished()) << "not finished after " << max_steps << " steps";
  return steps;
}

const Sequence* Harness::Finished(SeqId id) const {
  for (const auto& seq : finished_)
    if (seq->id() == id) return seq.get();
  return nullptr;
}

Reference Harness::ReferenceFor(const std::vector<int32_t>& prompt,
                                const SamplingParams& params) const {
  return ReferenceOutput(prompt, params, scheduler_.config().eos_token_ids,
                         scheduler_.max_seq_len(), vocab_size_);
}

}  // namespace hearth::engine::testing
