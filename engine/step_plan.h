// The immutable per-step plan: the flat arrays one forward pass needs, built from a
// SchedulerOutput before the step runs (and before Scheduler::Update). Conventions are exactly
// those of kernels/kv_cache/paged_kv.h. Only this file crosses from scheduling to execution.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/scheduler.h"
#include "engine/sequence.h"

namespace hearth::engine {

struct StepPlanOptions {
  // Fixed shapes for CUDA-graph capture. 0 = exact. Otherwise num_padded_tokens is the smallest
  // entry of token_buckets (ascending) that holds the step, or the exact count past the last;
  // padding tokens have token id 0, position 0 and slot -1 (nothing written), and belong to no
  // sequence (they sit after query_start_loc[num_seqs]).
  std::vector<int> token_buckets;
  // Width of block_tables; 0 = just wide enough for this step. A fixed width must hold the
  // longest sequence (ceil(max_seq_len / block_size)).
  int max_blocks_per_seq = 0;
};

struct StepPlan {
  int num_seqs = 0;
  int num_tokens = 0;         // real tokens
  int num_padded_tokens = 0;  // length of the per-token arrays
  int max_blocks_per_seq = 0;
  int block_size = 0;
  // Sequences [0, num_decode_seqs) are decodes (one query token each); the rest are prefill
  // chunks. Attention may split the batch there.
  int num_decode_seqs = 0;
  int max_query_len = 0;  // longest chunk this step (launch geometry)
  int max_seq_len = 0;    // longest seq_lens entry

  std::vector<SeqId> seq_ids;            // [num_seqs], the SchedulerOutput's order
  std::vector<int32_t> token_ids;        // [num_padded_tokens]
  std::vector<int32_t> positions;        // [num_padded_tokens]
  std::vector<int64_t> slot_mapping;     // [num_padded_tokens], -1 = padding (no write)
  std::vector<int32_t> query_start_loc;  // [num_seqs + 1]
  std::vector<int32_t> seq_lens;         // [num_seqs], context + this step's tokens
  std::vector<int32_t> block_tables;     // [num_seqs, max_blocks_per_seq], -1 past the end
  // Flat-batch rows whose logits are sampled, one per sampling sequence in seqs order (the last
  // token of each sequence that samples this step). Sampled tokens go back to Update() in this
  // order.
  std::vector<int32_t> logits_indices;  // [num_sampling_seqs]
};

// Requires: `output` is the latest Schedule() result and Update() has not run yet.
StepPlan BuildStepPlan(const SchedulerOutput& output, const Scheduler& scheduler,
                       const StepPlanOptions& options = {});

}  // namespace hearth::engine
