// The adapter of the CUDA attention: checks the arguments, then runs the kernels the step plan
// chose (decode_attention.cu, prefill_attention.cu).
#include <cstdint>
#include <string>

#include "kernels/attention/attention.h"

namespace hearth::attention {
namespace {

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

Status CheckArgs(const PagedAttentionArgs& a) {
  const kv::PagedKvLayout& l = a.layout;
  if (a.num_seqs < 0 || a.num_tokens < 0 || a.num_heads <= 0 || l.num_kv_heads <= 0 ||
      a.num_heads % l.num_kv_heads != 0) {
    return InvalidArgumentError("attention: need num_heads (" + std::to_string(a.num_heads) +
                                ") a positive multiple of num_kv_heads (" +
                                std::to_string(l.num_kv_heads) + "), sizes >= 0");
  }
  if (l.block_size <= 0 || l.head_dim <= 0) {
    return InvalidArgumentError("attention: bad layout block_size/head_dim");
  }
  if (a.num_decode_seqs + a.num_prefill_seqs > a.num_seqs || a.num_decode_seqs < 0 ||
      a.num_prefill_seqs < 0 || a.max_query_len > a.max_seq_len || a.max_query_len < 0) {
    return InvalidArgumentError(
        "attention: inconsistent step facts (num_decode_seqs " + std::to_string(a.num_decode_seqs) +
        ", num_prefill_seqs " + std::to_string(a.num_prefill_seqs) + ", max_query_len " +
        std::to_string(a.max_query_len) + ", max_seq_len " + std::to_string(a.max_seq_len) + ")");
  }
  if (a.num_tokens == 0) return Status::Ok();
  if (!Aligned16(a.q) || !Aligned16(a.k_cache) || !Aligned16(a.v_cache) || !Aligned16(a.out)) {
    return InvalidArgumentError("attention: q, caches and out must be 16-byte aligned");
  }
  if (a.query_start_loc == nullptr || a.seq_lens == nullptr || a.block_tables == nullptr) {
    return InvalidArgumentError("attention: null batch metadata");
  }
  return Status::Ok();
}

}  // namespace

Status PagedAttention(const PagedAttentionArgs& args, const AttentionLaunchPlan& plan,
                      void* workspace, int64_t workspace_bytes, cudaStream_t stream) {
  HEARTH_RETURN_IF_ERROR(CheckArgs(args));
  if (args.num_tokens == 0) return Status::Ok();
  if (workspace_bytes < plan.workspace_bytes ||
      (plan.workspace_bytes > 0 && workspace == nullptr)) {
    return InvalidArgumentError("attention: workspace of " + std::to_string(workspace_bytes) +
                                " bytes, the plan needs " + std::to_string(plan.workspace_bytes));
  }
  if (plan.kernels.prefill == PrefillKind::kPerToken) {
    return LaunchDecodeAttention(args, plan.decode, /*per_token=*/true, workspace, stream);
  }
  if (plan.kernels.decode) {
    HEARTH_RETURN_IF_ERROR(
        LaunchDecodeAttention(args, plan.decode, /*per_token=*/false, workspace, stream));
  }
  if (plan.kernels.prefill == PrefillKind::kTensorCore) {
    HEARTH_RETURN_IF_ERROR(LaunchPrefillAttention(args, stream));
  }
  return Status::Ok();
}

}  // namespace hearth::attention
