#include "engine/model/decoder.h"

namespace hearth::engine::model {

Status ValidateStepPlan(const StepPlan& p, int vocab, const std::string& who) {
  if (p.num_tokens < 0 || p.num_tokens > static_cast<int>(p.token_ids.size()) ||
      p.token_ids.size() != p.positions.size() || p.token_ids.size() != p.slot_mapping.size()) {
    return InvalidArgumentError(who + ": per-token arrays of the plan disagree with num_tokens = " +
                                std::to_string(p.num_tokens));
  }
  if (p.num_seqs < 0 || static_cast<int>(p.query_start_loc.size()) != p.num_seqs + 1 ||
      static_cast<int>(p.seq_lens.size()) != p.num_seqs ||
      static_cast<int64_t>(p.block_tables.size()) != int64_t{p.num_seqs} * p.max_blocks_per_seq ||
      p.query_start_loc[p.num_seqs] != p.num_tokens) {
    return InvalidArgumentError(who + ": malformed per-sequence arrays in the step plan");
  }
  for (int32_t row : p.logits_indices) {
    if (row < 0 || row >= p.num_tokens) {
      return OutOfRangeError(who + ": logits index " + std::to_string(row) +
                             " outside the step's " + std::to_string(p.num_tokens) + " tokens");
    }
  }
  for (int t = 0; t < p.num_tokens; ++t) {
    if (p.token_ids[t] < 0 || p.token_ids[t] >= vocab) {
      return OutOfRangeError(who + ": token id " + std::to_string(p.token_ids[t]) +
                             " at flat position " + std::to_string(t) + " outside vocab " +
                             std::to_string(vocab));
    }
  }
  return Status::Ok();
}

Status BackendOps::SplitQkv(const void*, void*, void*, void*, int64_t) {
  return UnimplementedError("backend has no fused QKV projection");
}
Status BackendOps::SiluMulConcat(const void*, void*, int64_t, int) {
  return UnimplementedError("backend has no fused gate/up projection");
}

Result<DecoderBuffers> RunDecoder(const DecoderSpec& s, const DecoderWeights& w,
                                  const StepPlan& plan, BackendOps& ops) {
  HEARTH_ASSIGN_OR_RETURN(DecoderBuffers b, ops.BeginStep(plan));
  const int64_t num_tokens = plan.num_tokens;
  const int64_t num_rows = static_cast<int64_t>(plan.logits_indices.size());
  const float eps = s.norm_eps;

  HEARTH_RETURN_IF_ERROR(ops.Embed(w.embed, b.residual));
  for (int i = 0; i < s.num_layers; ++i) {
    const LayerWeights& l = w.layers[i];
    // The residual add of the previous sublayer is fused into this norm (none before layer 0).
    if (i == 0) {
      HEARTH_RETURN_IF_ERROR(
          ops.RmsNorm(b.residual, l.attn_norm, b.normed, num_tokens, s.hidden, eps));
    } else {
      HEARTH_RETURN_IF_ERROR(ops.FusedAddRmsNorm(b.delta, b.residual, l.attn_norm, b.normed,
                                                 num_tokens, s.hidden, eps));
    }
    if (l.wqkv.data != nullptr) {
      HEARTH_RETURN_IF_ERROR(ops.Linear(l.wqkv, l.bqkv, b.normed, b.qkv, num_tokens));
      HEARTH_RETURN_IF_ERROR(ops.SplitQkv(b.qkv, b.q, b.k, b.v, num_tokens));
    } else {
      HEARTH_RETURN_IF_ERROR(ops.Linear(l.wq, l.bq, b.normed, b.q, num_tokens));
      HEARTH_RETURN_IF_ERROR(ops.Linear(l.wk, l.bk, b.normed, b.k, num_tokens));
      HEARTH_RETURN_IF_ERROR(ops.Linear(l.wv, l.bv, b.normed, b.v, num_tokens));
    }
    HEARTH_RETURN_IF_ERROR(ops.Rope(b.q, b.k, l.q_norm, l.k_norm));
    HEARTH_RETURN_IF_ERROR(ops.WriteKv(i, b.k, b.v));
    HEARTH_RETURN_IF_ERROR(ops.Attention(i, b.q, b.attn));
    HEARTH_RETURN_IF_ERROR(ops.Linear(l.wo, nullptr, b.attn, b.delta, num_tokens));

    HEARTH_RETURN_IF_ERROR(
        ops.FusedAddRmsNorm(b.delta, b.residual, l.ffn_norm, b.normed, num_tokens, s.hidden, eps));
    if (l.w_gate_up.data != nullptr) {
      HEARTH_RETURN_IF_ERROR(ops.Linear(l.w_gate_up, nullptr, b.normed, b.gate_up, num_tokens));
      HEARTH_RETURN_IF_ERROR(ops.SiluMulConcat(b.gate_up, b.act, num_tokens, s.ffn));
    } else {
      HEARTH_RETURN_IF_ERROR(ops.Linear(l.w_gate, nullptr, b.normed, b.gate, num_tokens));
      HEARTH_RETURN_IF_ERROR(ops.Linear(l.w_up, nullptr, b.normed, b.up, num_tokens));
      HEARTH_RETURN_IF_ERROR(ops.SiluMul(b.gate, b.up, b.act, num_tokens, s.ffn));
    }
    HEARTH_RETURN_IF_ERROR(ops.Linear(l.w_down, nullptr, b.act, b.delta, num_tokens));
  }
  if (num_rows == 0) return b;
  // Only the sampled rows go on: the last residual add, the final norm and the LM head.
  HEARTH_RETURN_IF_ERROR(ops.GatherRows(b.delta, b.row_delta, s.hidden));
  HEARTH_RETURN_IF_ERROR(ops.GatherRows(b.residual, b.row_residual, s.hidden));
  HEARTH_RETURN_IF_ERROR(ops.FusedAddRmsNorm(b.row_delta, b.row_residual, w.final_norm,
                                             b.row_normed, num_rows, s.hidden, eps));
  HEARTH_RETURN_IF_ERROR(ops.Linear(w.lm_head, nullptr, b.row_normed, b.logits, num_rows));
  return b;
}

}  // namespace hearth::engine::model
