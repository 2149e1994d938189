// A model-free runner for engine tests. Its "KV" for a token is a hash of the whole token history
// up to and including it (read back through the block table for the previous position, exactly as
// attention would), and the token it samples is a function of that hash. So a request's output is
// a pure function of its prompt and stop rules: it must not depend on what else ran, on chunking,
// on preemptions or on prefix-cache hits, and any wrong block table, slot mapping or reused block
// with the wrong content changes the output (or trips a stale-KV check).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/scheduler.h"
#include "engine/sequence.h"
#include "engine/step_plan.h"

namespace hearth::engine::testing {

inline constexpr uint64_t kHistorySeed = 0x243f6a8885a308d3ull;
uint64_t ChainHash(uint64_t prev, int32_t token, int32_t position);
int32_t TokenFromHash(uint64_t h, int vocab_size);

class FakeRunner {
 public:
  FakeRunner(int num_blocks, int block_size, int vocab_size);
  // Runs one step: writes every token's KV to its slot and returns one token per logits index.
  // Reports (gtest failures) reads of unwritten or stale KV and slots that disagree with the
  // block table.
  std::vector<int32_t> Run(const StepPlan& plan);

 private:
  struct Kv {
    uint64_t history = 0;
    int32_t position = -1;  // -1: never written
  };
  int block_size_;
  int vocab_size_;
  std::vector<Kv> kv_;  // [num_blocks * block_size]
};

struct Reference {
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::kNone;
};
// What the fake model generates for `prompt` under `params` with nothing else running.
Reference ReferenceOutput(const std::vector<int32_t>& prompt, const SamplingParams& params,
                          const std::vector<int32_t>& eos_token_ids, int max_seq_len,
                          int vocab_size);

// Checks a plan against the scheduler state it was built from (gtest failures): per-token arrays
// consistent with query_start_loc/seq_lens, each slot inside its own sequence's blocks at the
// position's logical block, no slot written twice, no block written by one sequence listed in
// another's table, writes only at positions >= num_computed_tokens.
void CheckPlan(const StepPlan& plan, const SchedulerOutput& output, const Scheduler& scheduler);

// Schedule -> check -> plan -> check -> run -> update -> check. Collects finished sequences.
class Harness {
 public:
  Harness(SchedulerConfig config, BlockManagerConfig block_config, int vocab_size = 50);
  SchedulerOutput Step();
  // Steps until nothing is left (or max_steps); returns the number of steps.
  int RunToCompletion(int max_steps = 100000);

  Scheduler& scheduler() { return scheduler_; }
  const BlockManager& blocks() const { return scheduler_.block_manager(); }
  int vocab_size() const { return vocab_size_; }
  // Finished sequences by id (taken from the scheduler after each step).
  const Sequence* Finished(SeqId id) const;
  const StepPlan& last_plan() const { return last_plan_; }
  Reference ReferenceFor(const std::vector<int32_t>& prompt, const SamplingParams& params) const;

 private:
  Scheduler scheduler_;
  FakeRunner runner_;
  int vocab_size_;
  StepPlan last_plan_;
  std::vector<std::unique_ptr<Sequence>> finished_;
};

}  // namespace hearth::engine::testing
