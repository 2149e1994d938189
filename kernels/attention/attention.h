// Causal paged attention on the GPU over the layout of kernels/kv_cache/paged_kv.h: decode tokens
// through a (split-KV) decode kernel, prefill chunks through a flash-attention kernel on tensor
// cores (mma.sync m16n8k16), GQA throughout. Compiled only with HEARTH_CUDA; declarations here
// need no CUDA headers.
#pragma once

#include <cstdint>

#include "kernels/attention/attention_plan.h"
#include "kernels/core/dtype.h"
#include "kernels/core/status.h"
#include "kernels/core/stream.h"
#include "kernels/kv_cache/paged_kv.h"

namespace hearth::attention {

// One step's attention. Device pointers unless noted; q, caches and out share `dtype`.
struct PagedAttentionArgs {
  DType dtype = DType::kBF16;                // kBF16, kF16, or kF32 (validation)
  const void* q = nullptr;                   // [num_tokens, num_heads, head_dim]
  const void* k_cache = nullptr;             // [num_blocks, num_kv_heads, block_size, head_dim]
  const void* v_cache = nullptr;             // [num_blocks, num_kv_heads, block_size, head_dim]
  void* out = nullptr;                       // [num_tokens, num_heads, head_dim]
  const int32_t* query_start_loc = nullptr;  // [num_seqs + 1]
  const int32_t* seq_lens = nullptr;         // [num_seqs]
  const int32_t* block_tables = nullptr;     // [num_seqs, max_blocks_per_seq]
  int num_seqs = 0;
  int num_tokens = 0;
  int num_heads = 0;
  int max_blocks_per_seq = 0;
  kv::PagedKvLayout layout;
  float scale = 0.f;  // softmax scale, usually 1/sqrt(head_dim)
  // Host-side facts of the step (the step plan has them; kernels size their grids by them).
  int max_query_len = 0;     // longest chunk in this step
  int max_seq_len = 0;       // longest seq_len in this step
  int num_decode_seqs = 0;   // sequences with q_len == 1
  int num_prefill_seqs = 0;  // sequences with q_len > 1
};

// The kernels and decode plan `PagedAttention` will use for `args` on a device with `sm_count`
// SMs (pure; also what the workspace must be sized for).
struct AttentionLaunchPlan {
  StepKernels kernels;
  DecodePlan decode;  // for the decode kernel (or the per-token path)
  int64_t workspace_bytes = 0;
};
AttentionLaunchPlan PlanAttention(const PagedAttentionArgs& args, int sm_count);

// Runs the step's attention on `stream`. `workspace` (device, >= plan.workspace_bytes bytes, may
// be null when that is 0) holds split-KV partials. Errors: unsupported dtype / head_dim (64, 128)
// / block_size (16), inconsistent sizes, a too-small workspace, a failed launch.
Status PagedAttention(const PagedAttentionArgs& args, const AttentionLaunchPlan& plan,
                      void* workspace, int64_t workspace_bytes, cudaStream_t stream);

// Launchers of the two kernel families (decode_attention.cu, prefill_attention.cu).
// per_token = false: one work item per q_len == 1 sequence (others skipped);
// per_token = true: one work item per query token of every sequence (causal).
Status LaunchDecodeAttention(const PagedAttentionArgs& args, const DecodePlan& plan, bool per_token,
                             void* workspace, cudaStream_t stream);
// Every sequence with q_len > 1 (others skipped); bf16 and fp16 only.
Status LaunchPrefillAttention(const PagedAttentionArgs& args, cudaStream_t stream);

}  // namespace hearth::attention
