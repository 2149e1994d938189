#include "engine/step_plan.h"

#include <algorithm>

#include "kernels/core/check.h"

namespace hearth::engine {

StepPlan BuildStepPlan(const SchedulerOutput& output, const Scheduler& scheduler,
                       const StepPlanOptions& options) {
  const BlockManager& blocks = scheduler.block_manager();
  StepPlan plan;
  plan.block_size = blocks.block_size();
  plan.num_seqs = static_cast<int>(output.seqs.size());
  plan.num_tokens = output.num_batched_tokens;
  plan.num_padded_tokens = plan.num_tokens;
  for (int bucket : options.token_buckets) {
    if (bucket >= plan.num_tokens) {
      plan.num_padded_tokens = bucket;
      break;
    }
  }

  std::vector<const Sequence*> seqs;
  seqs.reserve(plan.num_seqs);
  int widest = 0;
  for (const ScheduledSeq& s : output.seqs) {
    const Sequence* seq = scheduler.Find(s.seq_id);
    HEARTH_CHECK(seq != nullptr);
    HEARTH_CHECK(seq->status() == SeqStatus::kRunning);
    const int seq_len = seq->num_computed_tokens() + s.num_new_tokens;
    HEARTH_CHECK_LE(seq_len, seq->num_tokens());
    widest = std::max(widest, blocks.NumBlocksFor(seq_len));
    seqs.push_back(seq);
  }
  plan.max_blocks_per_seq = options.max_blocks_per_seq > 0 ? options.max_blocks_per_seq : widest;
  HEARTH_CHECK_LE(widest, plan.max_blocks_per_seq);

  plan.seq_ids.reserve(plan.num_seqs);
  plan.token_ids.assign(plan.num_padded_tokens, 0);
  plan.positions.assign(plan.num_padded_tokens, 0);
  plan.slot_mapping.assign(plan.num_padded_tokens, -1);
  plan.query_start_loc.assign(plan.num_seqs + 1, 0);
  plan.seq_lens.assign(plan.num_seqs, 0);
  plan.block_tables.assign(static_cast<size_t>(plan.num_seqs) * plan.max_blocks_per_seq, -1);

  int t = 0;
  for (int i = 0; i < plan.num_seqs; ++i) {
    const ScheduledSeq& s = output.seqs[i];
    const Sequence& seq = *seqs[i];
    const int start = seq.num_computed_tokens();
    const int seq_len = start + s.num_new_tokens;
    plan.seq_ids.push_back(s.seq_id);
    plan.query_start_loc[i] = t;
    plan.seq_lens[i] = seq_len;
    for (int pos = start; pos < seq_len; ++pos, ++t) {
      plan.token_ids[t] = seq.token_ids()[pos];
      plan.positions[t] = pos;
      plan.slot_mapping[t] = blocks.SlotOf(seq, pos);
    }
    const int num_blocks = blocks.NumBlocksFor(seq_len);
    std::copy_n(seq.block_table().begin(), num_blocks,
                plan.block_tables.begin() + static_cast<ptrdiff_t>(i) * plan.max_blocks_per_seq);
    if (s.samples) plan.logits_indices.push_back(t - 1);
    if (!s.is_prefill) {
      HEARTH_CHECK_EQ(plan.num_decode_seqs, i);  // the scheduler lists decodes first
      HEARTH_CHECK_EQ(s.num_new_tokens, 1);
      ++plan.num_decode_seqs;
    }
    plan.max_query_len = std::max(plan.max_query_len, s.num_new_tokens);
    plan.max_seq_len = std::max(plan.max_seq_len, seq_len);
  }
  HEARTH_CHECK_EQ(t, plan.num_tokens);
  plan.query_start_loc[plan.num_seqs] = t;
  return plan;
}

}  // namespace hearth::engine
