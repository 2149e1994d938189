#include "engine/sequence.h"

#include <utility>

#include "kernels/core/check.h"

namespace hearth::engine {

const char* SeqStatusName(SeqStatus status) {
  switch (status) {
    case SeqStatus::kWaiting:
      return "waiting";
    case SeqStatus::kRunning:
      return "running";
    case SeqStatus::kPreempted:
      return "preempted";
    case SeqStatus::kFinished:
      return "finished";
  }
  return "unknown";
}

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kRejected:
      return "rejected";
  }
  return "unknown";
}

Sequence::Sequence(SeqId id, std::vector<int32_t> prompt_token_ids, SamplingParams params,
                   int priority, uint64_t arrival)
    : id_(id),
      priority_(priority),
      arrival_(arrival),
      params_(std::move(params)),
      token_ids_(std::move(prompt_token_ids)),
      num_prompt_tokens_(static_cast<int>(token_ids_.size())) {}

void Sequence::Finish(FinishReason reason, std::string error) {
  HEARTH_CHECK(reason != FinishReason::kNone);
  HEARTH_CHECK(block_table_.empty());  // blocks go back to the block manager first
  status_ = SeqStatus::kFinished;
  finish_reason_ = reason;
  error_ = std::move(error);
}

}  // namespace hearth::engine
