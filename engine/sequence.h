// One request's state as the engine sees it: its tokens, how far its KV has been computed, its
// block table and where it stands in the scheduler's life cycle. Owned by the Scheduler; only the
// engine thread touches it (engine/README.md).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hearth::engine {

using SeqId = int64_t;

// Engine-side stop rules and limits. The sampling kernel has its own parameter struct
// (kernels/sampling); this one holds only what the scheduler needs to decide when a sequence
// ends. Stop strings arrive later with the tokenizer.
struct SamplingParams {
  int max_tokens = 16;                  // generated tokens at most (>= 1)
  bool ignore_eos = false;              // keep going past the model's end-of-sequence tokens
  std::vector<int32_t> stop_token_ids;  // finish (kStop) after sampling any of these
};

enum class SeqStatus : uint8_t {
  kWaiting,    // never scheduled yet; holds no blocks
  kRunning,    // admitted; holds blocks for its computed tokens
  kPreempted,  // lost its blocks to memory pressure; waits to be recomputed; holds no blocks
  kFinished,   // done (see FinishReason); holds no blocks
};

enum class FinishReason : uint8_t {
  kNone,      // not finished
  kStop,      // sampled an end-of-sequence or stop token
  kLength,    // reached max_tokens or the engine's maximum sequence length
  kAbort,     // aborted by the client (or disconnect)
  kRejected,  // could never run (e.g. the prompt does not fit in the whole KV cache): see error
};

const char* SeqStatusName(SeqStatus status);
const char* FinishReasonName(FinishReason reason);

// Priority: LOWER value = MORE urgent (0 before 1). Ties are broken by arrival order (FCFS).
class Sequence {
 public:
  Sequence(SeqId id, std::vector<int32_t> prompt_token_ids, SamplingParams params, int priority,
           uint64_t arrival);

  SeqId id() const { return id_; }
  int priority() const { return priority_; }
  uint64_t arrival() const { return arrival_; }
  const SamplingParams& params() const { return params_; }

  // All tokens: the prompt followed by the generated tokens. After a preemption the generated
  // tokens are recomputed together with the prompt, so "prompt" for scheduling purposes is
  // "everything but the not-yet-computed tail"; num_prompt_tokens() keeps the client's prompt.
  std::span<const int32_t> token_ids() const { return token_ids_; }
  int num_tokens() const { return static_cast<int>(token_ids_.size()); }
  int num_prompt_tokens() const { return num_prompt_tokens_; }
  int num_generated_tokens() const { return num_tokens() - num_prompt_tokens_; }
  std::span<const int32_t> generated_token_ids() const {
    return std::span<const int32_t>(token_ids_).subspan(num_prompt_tokens_);
  }

  // Tokens whose KV is in the cache (written by a completed step, or shared from the prefix
  // cache). The tokens in [num_computed_tokens, num_tokens) are what the next steps compute.
  int num_computed_tokens() const { return num_computed_tokens_; }
  int num_uncomputed_tokens() const { return num_tokens() - num_computed_tokens_; }
  // Prompt tokens served from the prefix cache at the first admission (reported as usage).
  int num_cached_tokens() const { return num_cached_tokens_; }
  int num_preemptions() const { return num_preemptions_; }

  // Logical block i of this sequence lives in physical block block_table()[i]. Produced only by
  // the BlockManager.
  const std::vector<int32_t>& block_table() const { return block_table_; }

  SeqStatus status() const { return status_; }
  bool is_finished() const { return status_ == SeqStatus::kFinished; }
  FinishReason finish_reason() const { return finish_reason_; }
  const std::string& error() const { return error_; }  // why it was rejected; else empty

 private:
  friend class BlockManager;
  friend class Scheduler;

  void AppendToken(int32_t token) { token_ids_.push_back(token); }
  void Finish(FinishReason reason, std::string error = {});

  SeqId id_;
  int priority_;
  uint64_t arrival_;
  SamplingParams params_;
  std::vector<int32_t> token_ids_;
  int num_prompt_tokens_;
  int num_computed_tokens_ = 0;
  int num_cached_tokens_ = 0;
  int num_preemptions_ = 0;
  bool admitted_once_ = false;
  SeqStatus status_ = SeqStatus::kWaiting;
  FinishReason finish_reason_ = FinishReason::kNone;
  std::string error_;

  // Block-manager state. block_hashes_[i] is the prefix hash of full logical block i, a pure
  // function of the tokens (which only ever grow), computed lazily and kept across preemptions.
  // num_published_blocks_: leading blocks the block manager has already offered to the prefix
  // cache since the current allocation began.
  std::vector<int32_t> block_table_;
  std::vector<uint64_t> block_hashes_;
  int num_published_blocks_ = 0;
};

}  // namespace hearth::engine
