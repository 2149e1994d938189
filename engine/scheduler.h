// Continuous batching with chunked prefill. Each step, Schedule() decides which sequences run
// and how many tokens each computes, under a token budget (max_num_batched_tokens) and a
// sequence limit (max_num_seqs), and returns that decision as data. It never touches device
// memory: the step plan (engine/step_plan.h) turns the decision into the runner's arrays, and
// after the step Update() applies the sampled tokens.
//
// Order within a step: (1) decodes of running sequences, (2) continuing prefill chunks of running
// sequences, (3) admissions from the waiting queue; each in priority order (lower value first,
// then FCFS by arrival). Admission is strictly FCFS within that order: if the head cannot get
// its blocks, nothing behind it is admitted.
//
// Memory pressure: when a running sequence needs a block and none is available, the
// lowest-priority, newest running sequence is preempted by recompute (its blocks are freed, its
// generated tokens become part of the prompt it recomputes, it goes back to waiting ahead of
// newer requests). A step that preempts admits nobody. Running out of KV blocks is never an
// error; a request that could never fit (prompt longer than the per-sequence limit) is finished
// as kRejected with the reason in Sequence::error().
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/block_manager.h"
#include "engine/sequence.h"
#include "kernels/core/status.h"

namespace hearth::engine {

struct SchedulerConfig {
  int max_num_batched_tokens = 2048;  // tokens computed per step, all sequences together
  int max_num_seqs = 256;             // running sequences at most
  // Tokens (prompt + generated) a sequence may reach; 0 = the whole KV cache. Always capped at
  // num_blocks * block_size.
  int max_model_len = 0;
  std::vector<int32_t> eos_token_ids;  // the model's end-of-sequence tokens (unless ignore_eos)
};

// Checks a configuration from the outside world (flags, config files) with actionable messages;
// the Scheduler constructor requires it to pass.
Status ValidateConfig(const SchedulerConfig& config, const BlockManagerConfig& block_config);

struct ScheduledSeq {
  SeqId seq_id = -1;
  int num_new_tokens = 0;   // tokens computed this step: [num_computed, num_computed + this)
  bool is_prefill = false;  // false: a decode (one generated token on a computed context)
  bool samples = false;     // this step computes the sequence's last token: sample one
};

struct SchedulerOutput {
  std::vector<ScheduledSeq> seqs;  // decodes first, then prefill chunks; the flat batch order
  std::vector<SeqId> preempted;    // lost their blocks this step (not in seqs)
  std::vector<SeqId> finished_or_rejected;  // aborted or rejected since the last Schedule()
  int num_batched_tokens = 0;

  int num_sampling_seqs() const;
  bool empty() const { return seqs.empty(); }
};

// Counters for metrics (queue depth, running sequences, KV usage, prefix-cache hit rate).
struct SchedulerStats {
  int num_waiting = 0;  // includes preempted sequences waiting to be recomputed
  int num_running = 0;
  int64_t num_preemptions = 0;  // since start
  int64_t num_rejected = 0;
  int64_t num_aborted = 0;
  BlockManagerStats blocks;
};

class Scheduler {
 public:
  // Requires ValidateConfig(config, block_config).ok().
  Scheduler(SchedulerConfig config, BlockManagerConfig block_config);

  // Queues a request. Priority: lower value = more urgent. A request that can never run is
  // finished at once as kRejected (reported by the next Schedule()). Returns its id.
  SeqId AddRequest(std::vector<int32_t> prompt_token_ids, SamplingParams params, int priority = 0);
  // Finishes the request (kAbort) and frees its blocks at the next Schedule(). Unknown or
  // already finished ids are ignored.
  void Abort(SeqId id);

  SchedulerOutput Schedule();
  // Applies a completed step: advances computed tokens, publishes newly full blocks to the
  // prefix cache, appends one sampled token per sampling sequence (in output.seqs order), and
  // finishes sequences on stop tokens, EOS, max_tokens or the length limit. Returns the ids
  // finished by this update.
  std::vector<SeqId> Update(const SchedulerOutput& output, std::span<const int32_t> sampled);

  // A live or finished-but-not-taken sequence; nullptr if unknown.
  const Sequence* Find(SeqId id) const;
  // Hands over every finished sequence (stop, length, abort, rejected) not yet taken.
  std::vector<std::unique_ptr<Sequence>> TakeFinished();

  bool HasUnfinished() const { return !waiting_.empty() || !running_.empty(); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  int num_running() const { return static_cast<int>(running_.size()); }
  int max_seq_len() const { return max_seq_len_; }
  SchedulerStats stats() const;
  const SchedulerConfig& config() const { return config_; }
  const BlockManager& block_manager() const { return block_manager_; }

  // Scheduler + block manager consistency (run after every step in tests).
  Status CheckInvariants() const;

 private:
  // Priority order: more urgent first, then older first; the id keeps keys unique.
  using Key = std::tuple<int, uint64_t, SeqId>;
  static Key KeyOf(const Sequence& seq) { return {seq.priority(), seq.arrival(), seq.id()}; }

  Sequence& Live(SeqId id);
  void ScheduleRunning(bool decodes, SchedulerOutput& out, int& budget);
  void Admit(SchedulerOutput& out, int& budget);
  void Preempt(Sequence& victim, SchedulerOutput& out, int& budget);
  void FinishSeq(Sequence& seq, FinishReason reason, std::string error = {});
  // A decode computes one generated token (the last sampled one) on top of a computed context.
  static bool IsDecode(const Sequence& seq) {
    return seq.num_uncomputed_tokens() == 1 && seq.num_computed_tokens() >= seq.num_prompt_tokens();
  }

  SchedulerConfig config_;
  BlockManager block_manager_;
  int max_seq_len_ = 0;
  SeqId next_id_ = 0;
  uint64_t next_arrival_ = 0;
  std::unordered_map<SeqId, std::unique_ptr<Sequence>> live_;
  std::set<Key> waiting_;  // waiting and preempted
  std::set<Key> running_;
  std::vector<std::unique_ptr<Sequence>> finished_;
  std::vector<SeqId> pending_aborts_;
  std::vector<SeqId> pending_rejections_;
  bool awaiting_update_ = false;
  int64_t num_preemptions_ = 0;
  int64_t num_rejected_ = 0;
  int64_t num_aborted_ = 0;
};

}  // namespace hearth::engine
