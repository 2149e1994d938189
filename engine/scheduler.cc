#include "engine/scheduler.h"

#include <algorithm>
#include <climits>
#include <string>
#include <utility>

#include "kernels/core/check.h"

namespace hearth::engine {

int SchedulerOutput::num_sampling_seqs() const {
  return static_cast<int>(
      std::count_if(seqs.begin(), seqs.end(), [](const ScheduledSeq& s) { return s.samples; }));
}

Status ValidateConfig(const SchedulerConfig& config, const BlockManagerConfig& block_config) {
  auto positive = [](const char* name, int64_t value) {
    return value > 0 ? Status::Ok()
                     : InvalidArgumentError(std::string(name) + " must be positive, got " +
                                            std::to_string(value));
  };
  HEARTH_RETURN_IF_ERROR(positive("max_num_batched_tokens", config.max_num_batched_tokens));
  HEARTH_RETURN_IF_ERROR(positive("max_num_seqs", config.max_num_seqs));
  HEARTH_RETURN_IF_ERROR(positive("num_blocks", block_config.num_blocks));
  HEARTH_RETURN_IF_ERROR(positive("block_size", block_config.block_size));
  if (config.max_model_len < 0) {
    return InvalidArgumentError("max_model_len must be >= 0 (0 = the KV cache's capacity), got " +
                                std::to_string(config.max_model_len));
  }
  const int64_t capacity = int64_t{block_config.num_blocks} * block_config.block_size;
  if (capacity > INT32_MAX) {
    return InvalidArgumentError("num_blocks * block_size = " + std::to_string(capacity) +
                                " tokens exceeds the int32 token positions; use fewer blocks");
  }
  return Status::Ok();
}

Scheduler::Scheduler(SchedulerConfig config, BlockManagerConfig block_config)
    : config_(std::move(config)), block_manager_(block_config) {
  const Status valid = ValidateConfig(config_, block_config);
  HEARTH_CHECK(valid.ok());
  const int capacity = block_config.num_blocks * block_config.block_size;
  max_seq_len_ = config_.max_model_len > 0 ? std::min(config_.max_model_len, capacity) : capacity;
}

SeqId Scheduler::AddRequest(std::vector<int32_t> prompt_token_ids, SamplingParams params,
                            int priority) {
  const SeqId id = next_id_++;
  auto seq = std::make_unique<Sequence>(id, std::move(prompt_token_ids), std::move(params),
                                        priority, next_arrival_++);
  std::string reason;
  const int n = seq->num_tokens();
  if (n == 0) {
    reason = "the prompt is empty";
  } else if (seq->params().max_tokens < 1) {
    reason = "max_tokens must be at least 1, got " + std::to_string(seq->params().max_tokens);
  } else if (n >= max_seq_len_) {
    const int capacity = block_manager_.num_blocks() * block_manager_.block_size();
    reason = "the prompt has " + std::to_string(n) + " tokens but a sequence may hold at most " +
             std::to_string(max_seq_len_) + " tokens including at least one generated token (" +
             (max_seq_len_ == capacity
                  ? "the whole KV cache: " + std::to_string(block_manager_.num_blocks()) +
                        " blocks of " + std::to_string(block_manager_.block_size()) + " tokens"
                  : "max_model_len") +
             "); shorten the prompt";
  }
  Sequence& ref = *seq;
  live_.emplace(id, std::move(seq));
  if (!reason.empty()) {
    FinishSeq(ref, FinishReason::kRejected, std::move(reason));
    pending_rejections_.push_back(id);
  } else {
    waiting_.insert(KeyOf(ref));
  }
  return id;
}

void Scheduler::Abort(SeqId id) { pending_aborts_.push_back(id); }

Sequence& Scheduler::Live(SeqId id) {
  auto it = live_.find(id);
  HEARTH_CHECK(it != live_.end());
  return *it->second;
}

const Sequence* Scheduler::Find(SeqId id) const {
  if (auto it = live_.find(id); it != live_.end()) return it->second.get();
  for (const auto& seq : finished_)
    if (seq->id() == id) return seq.get();
  return nullptr;
}

void Scheduler::FinishSeq(Sequence& seq, FinishReason reason, std::string error) {
  const SeqId id = seq.id();
  if (seq.status() == SeqStatus::kRunning) {
    block_manager_.Free(seq);
    running_.erase(KeyOf(seq));
  } else if (seq.status() == SeqStatus::kWaiting || seq.status() == SeqStatus::kPreempted) {
    waiting_.erase(KeyOf(seq));
  }
  seq.Finish(reason, std::move(error));
  num_rejected_ += reason == FinishReason::kRejected ? 1 : 0;
  num_aborted_ += reason == FinishReason::kAbort ? 1 : 0;
  auto it = live_.find(id);
  HEARTH_CHECK(it != live_.end());
  finished_.push_back(std::move(it->second));
  live_.erase(it);
}

std::vector<std::unique_ptr<Sequence>> Scheduler::TakeFinished() {
  return std::exchange(finished_, {});
}

void Scheduler::Preempt(Sequence& victim, SchedulerOutput& out, int& budget) {
  HEARTH_CHECK(victim.status() == SeqStatus::kRunning);
  auto it = std::find_if(out.seqs.begin(), out.seqs.end(),
                         [&](const ScheduledSeq& s) { return s.seq_id == victim.id(); });
  if (it != out.seqs.end()) {  // already given tokens this step: take them back
    budget += it->num_new_tokens;
    out.num_batched_tokens -= it->num_new_tokens;
    out.seqs.erase(it);
  }
  block_manager_.Free(victim);
  running_.erase(KeyOf(victim));
  victim.status_ = SeqStatus::kPreempted;
  ++victim.num_preemptions_;
  ++num_preemptions_;
  waiting_.insert(KeyOf(victim));
  out.preempted.push_back(victim.id());
}

void Scheduler::ScheduleRunning(bool decodes, SchedulerOutput& out, int& budget) {
  // A snapshot: preemption edits running_ while we walk.
  std::vector<SeqId> order;
  order.reserve(running_.size());
  for (const Key& key : running_) order.push_back(std::get<2>(key));
  for (SeqId id : order) {
    if (budget == 0) return;
    Sequence& seq = Live(id);
    if (seq.status() != SeqStatus::kRunning || IsDecode(seq) != decodes) continue;
    HEARTH_CHECK_GT(seq.num_uncomputed_tokens(), 0);
    const int want = std::min(seq.num_uncomputed_tokens(), budget);
    int n = 0;
    while (true) {
      n = block_manager_.MaxAllocatableTokens(seq, want);
      // A prefill may take a shorter chunk; a decode needs its one token.
      if (n == want || (!decodes && n > 0)) break;
      Sequence& victim = Live(std::get<2>(*running_.rbegin()));
      if (&victim == &seq) break;
      Preempt(victim, out, budget);
    }
    if (n == 0) {
      // seq is now the lowest-priority running sequence and still cannot grow: it yields its
      // blocks to the more urgent ones (it cannot be alone: max_seq_len fits the whole cache).
      Preempt(seq, out, budget);
      continue;
    }
    block_manager_.Allocate(seq, n);
    out.seqs.push_back({.seq_id = id,
                        .num_new_tokens = n,
                        .is_prefill = !decodes,
                        .samples = seq.num_computed_tokens() + n == seq.num_tokens()});
    out.num_batched_tokens += n;
    budget -= n;
  }
}

void Scheduler::Admit(SchedulerOutput& out, int& budget) {
  while (!waiting_.empty() && budget > 0 &&
         static_cast<int>(running_.size()) < config_.max_num_seqs) {
    const Key key = *waiting_.begin();
    Sequence& seq = Live(std::get<2>(key));
    const int cached = block_manager_.MatchPrefix(seq);
    const int n = std::min(seq.num_tokens() - cached, budget);
    // The whole first chunk must fit: a partial one would only take blocks that running
    // sequences are about to need, and be preempted for it.
    if (!block_manager_.CanAllocate(seq, n)) return;
    block_manager_.Allocate(seq, n);
    HEARTH_CHECK_EQ(seq.num_computed_tokens(), cached);
    waiting_.erase(key);
    seq.status_ = SeqStatus::kRunning;
    seq.admitted_once_ = true;
    running_.insert(key);
    out.seqs.push_back({.seq_id = seq.id(),
                        .num_new_tokens = n,
                        .is_prefill = true,
                        .samples = cached + n == seq.num_tokens()});
    out.num_batched_tokens += n;
    budget -= n;
  }
}

SchedulerOutput Scheduler::Schedule() {
  HEARTH_CHECK(!awaiting_update_);  // each scheduled step needs its Update() first
  SchedulerOutput out;
  out.finished_or_rejected = std::exchange(pending_rejections_, {});
  for (SeqId id : std::exchange(pending_aborts_, {})) {
    auto it = live_.find(id);
    if (it == live_.end()) continue;  // unknown or already finished
    FinishSeq(*it->second, FinishReason::kAbort);
    out.finished_or_rejected.push_back(id);
  }
  int budget = config_.max_num_batched_tokens;
  ScheduleRunning(/*decodes=*/true, out, budget);
  ScheduleRunning(/*decodes=*/false, out, budget);
  if (out.preempted.empty()) Admit(out, budget);
  awaiting_update_ = !out.seqs.empty();
  return out;
}

std::vector<SeqId> Scheduler::Update(const SchedulerOutput& output,
                                     std::span<const int32_t> sampled) {
  HEARTH_CHECK(awaiting_update_ || output.seqs.empty());
  awaiting_update_ = false;
  std::vector<SeqId> finished;
  size_t next_sample = 0;
  for (const ScheduledSeq& s : output.seqs) {
    Sequence& seq = Live(s.seq_id);
    HEARTH_CHECK(seq.status() == SeqStatus::kRunning);
    block_manager_.MarkComputed(seq, s.num_new_tokens);
    if (!s.samples) continue;
    HEARTH_CHECK_EQ(seq.num_computed_tokens_, seq.num_tokens());
    HEARTH_CHECK_LT(next_sample, sampled.size());
    const int32_t token = sampled[next_sample++];
    seq.AppendToken(token);
    const auto& p = seq.params();
    const bool is_eos = std::find(config_.eos_token_ids.begin(), config_.eos_token_ids.end(),
                                  token) != config_.eos_token_ids.end();
    const bool is_stop = std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) !=
                         p.stop_token_ids.end();
    FinishReason reason = FinishReason::kNone;
    if (is_stop || (is_eos && !p.ignore_eos)) {
      reason = FinishReason::kStop;
    } else if (seq.num_generated_tokens() >= p.max_tokens || seq.num_tokens() >= max_seq_len_) {
      reason = FinishReason::kLength;
    }
    if (reason != FinishReason::kNone) {
      finished.push_back(seq.id());
      FinishSeq(seq, reason);
    }
  }
  HEARTH_CHECK_EQ(next_sample, sampled.size());
  return finished;
}

SchedulerStats Scheduler::stats() const {
  return {.num_waiting = num_waiting(),
          .num_running = num_running(),
          .num_preemptions = num_preemptions_,
          .num_rejected = num_rejected_,
          .num_aborted = num_aborted_,
          .blocks = block_manager_.stats()};
}

Status Scheduler::CheckInvariants() const {
  std::vector<const Sequence*> holders;
  if (static_cast<int>(running_.size()) > config_.max_num_seqs)
    return InternalError("scheduler: more running sequences than max_num_seqs");
  if (waiting_.size() + running_.size() != live_.size())
    return InternalError("scheduler: live sequences are not all queued exactly once");
  for (const auto& [id, seq] : live_) {
    const bool running = running_.count(KeyOf(*seq)) > 0;
    const bool waiting = waiting_.count(KeyOf(*seq)) > 0;
    const std::string name = "scheduler: seq " + std::to_string(id);
    if (running == waiting) return InternalError(name + " is in both or neither queue");
    if (running != (seq->status() == SeqStatus::kRunning))
      return InternalError(name + " queue disagrees with status " + SeqStatusName(seq->status()));
    if (running) {
      holders.push_back(seq.get());
      if (seq->num_uncomputed_tokens() < 1) return InternalError(name + " has nothing to compute");
    } else if (!seq->block_table().empty() || seq->num_computed_tokens() != 0) {
      return InternalError(name + " waits while holding blocks or computed tokens");
    }
    if (seq->num_tokens() > max_seq_len_) return InternalError(name + " exceeds max_seq_len");
  }
  for (const auto& seq : finished_) {
    if (!seq->block_table().empty())
      return InternalError("scheduler: finished seq " + std::to_string(seq->id()) +
                           " holds blocks");
  }
  return block_manager_.CheckInvariants(holders);
}

}  // namespace hearth::engine
