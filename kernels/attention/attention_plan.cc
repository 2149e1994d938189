#include "kernels/attention/attention_plan.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "kernels/attention/attention.h"

namespace hearth::attention {

namespace {
int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

DecodePlan PlanDecode(int num_seqs, int num_kv_heads, int max_seq_len, int sm_count,
                      int block_size) {
  DecodePlan plan;
  plan.tokens_per_split =
      static_cast<int>(CeilDiv(std::max(max_seq_len, 1), block_size) * block_size);
  const int64_t ctas = int64_t{std::max(num_seqs, 1)} * std::max(num_kv_heads, 1);
  const int64_t target = int64_t{std::max(sm_count, 1)} * kDecodeTargetCtasPerSm;
  if (ctas >= target || max_seq_len < 2 * kDecodeMinTokensPerSplit) return plan;

  const int64_t wanted = CeilDiv(target, ctas);
  const int64_t most = std::min<int64_t>(kDecodeMaxSplits, max_seq_len / kDecodeMinTokensPerSplit);
  const int64_t splits = std::min(wanted, most);
  if (splits < 2) return plan;
  // Round the split length up to whole blocks, then drop splits the rounding made empty.
  const int64_t per = CeilDiv(CeilDiv(max_seq_len, splits), block_size) * block_size;
  plan.num_splits = static_cast<int>(CeilDiv(max_seq_len, per));
  if (plan.num_splits < 2) {
    plan.num_splits = 1;
    return plan;
  }
  plan.kind = DecodeKind::kSplitKv;
  plan.tokens_per_split = static_cast<int>(per);
  return plan;
}

int64_t DecodeWorkspaceBytes(const DecodePlan& plan, int num_work_items, int num_heads,
                             int head_dim) {
  if (plan.kind == DecodeKind::kSinglePass) return 0;
  const int64_t slots = int64_t{num_work_items} * num_heads * plan.num_splits;
  return slots * (int64_t{head_dim} + 1) * static_cast<int64_t>(sizeof(float));
}

bool DecodeHeadDimSupported(int head_dim) {
  for (int d : kDecodeHeadDims) {
    if (d == head_dim) return true;
  }
  return false;
}

std::string DecodeHeadDimsString() {
  std::string s;
  for (int d : kDecodeHeadDims) s += (s.empty() ? "" : ", ") + std::to_string(d);
  return s;
}

bool PrefillHeadDimOnTensorCores(int head_dim) { return head_dim == 64 || head_dim == 128; }

StepKernels SelectStepKernels(DType dtype, int num_decode_seqs, int num_prefill_seqs, int head_dim,
                              int group, int compute_capability, PrefillKernel requested) {
  StepKernels k;
  // fp32 has no tensor-core prefill, nor do the tiny validation models' head sizes: the
  // per-token path covers the whole step, decode tokens too.
  if (num_prefill_seqs > 0 && (dtype == DType::kF32 || !PrefillHeadDimOnTensorCores(head_dim))) {
    k.prefill = PrefillKind::kPerToken;
    return k;
  }
  k.decode = num_decode_seqs > 0;
  if (num_prefill_seqs > 0) {
    k.prefill = PrefillKind::kTensorCore;
    k.prefill_kernel = SelectPrefillKernel(head_dim, group, compute_capability, requested);
  }
  return k;
}

PrefillKernel SelectPrefillKernel(int head_dim, int group, int compute_capability,
                                  PrefillKernel requested) {
  const bool wgmma_runs = compute_capability == 90 && PrefillHeadDimOnTensorCores(head_dim) &&
                          group >= 1 && group <= kPrefillWgmmaRowsPerCta;
  if (requested == PrefillKernel::kMmaSync) return PrefillKernel::kMmaSync;
  return wgmma_runs ? PrefillKernel::kWgmma : PrefillKernel::kMmaSync;
}

Result<PrefillKernel> ParsePrefillKernel(std::string_view name) {
  if (name.empty() || name == "auto") return PrefillKernel::kAuto;
  if (name == "mma_sync") return PrefillKernel::kMmaSync;
  if (name == "wgmma") return PrefillKernel::kWgmma;
  return InvalidArgumentError("prefill kernel '" + std::string(name) +
                              "' unknown (mma_sync, wgmma, auto)");
}

PrefillKernel PrefillKernelFromEnv() {
  static const PrefillKernel kernel = [] {
    const char* v = std::getenv("HEARTH_PREFILL_KERNEL");
    if (v == nullptr) return PrefillKernel::kAuto;
    Result<PrefillKernel> k = ParsePrefillKernel(v);
    if (!k.ok()) {
      std::fprintf(stderr, "hearth: ignoring HEARTH_PREFILL_KERNEL: %s\n",
                   k.status().ToString().c_str());
      return PrefillKernel::kAuto;
    }
    return *k;
  }();
  return kernel;
}

const char* PrefillKernelName(PrefillKernel k) {
  switch (k) {
    case PrefillKernel::kAuto:
      return "auto";
    case PrefillKernel::kMmaSync:
      return "mma_sync";
    case PrefillKernel::kWgmma:
      return "wgmma";
  }
  return "?";
}

int DecodeHeadsPerCta(int group) {
  for (int h : {8, 4, 2}) {
    if (group % h == 0) return h;
  }
  return 1;
}

Grid3 DecodeGrid(int num_work_items, int num_kv_heads, int group, int num_splits) {
  return {num_work_items, int64_t{num_kv_heads} * (group / DecodeHeadsPerCta(group)), num_splits};
}

int PrefillTokensPerCta(int group, int rows_per_cta) {
  return group > 0 ? rows_per_cta / group : 0;
}

Grid3 PrefillGrid(int max_query_len, int group, int num_kv_heads, int num_seqs, int rows_per_cta) {
  const int per_cta = PrefillTokensPerCta(group, rows_per_cta);
  if (per_cta == 0) return {0, 0, 0};
  return {CeilDiv(max_query_len, per_cta), num_kv_heads, num_seqs};
}

std::string ToString(const DecodePlan& plan) {
  if (plan.kind == DecodeKind::kSinglePass) return "decode single-pass";
  return "decode split-kv x" + std::to_string(plan.num_splits) + " (" +
         std::to_string(plan.tokens_per_split) + " tokens each)";
}

std::string ToString(const StepKernels& k) {
  std::string s = k.decode ? "decode" : "";
  const char* p = k.prefill == PrefillKind::kTensorCore
                      ? (k.prefill_kernel == PrefillKernel::kWgmma ? "prefill-wgmma" : "prefill-tc")
                  : k.prefill == PrefillKind::kPerToken ? "per-token"
                                                        : nullptr;
  if (p != nullptr) s += (s.empty() ? "" : "+") + std::string(p);
  return s.empty() ? "none" : s;
}

AttentionLaunchPlan PlanAttention(const PagedAttentionArgs& args, int sm_count,
                                  int compute_capability, PrefillKernel prefill_kernel) {
  AttentionLaunchPlan plan;
  const int group = args.layout.num_kv_heads > 0 ? args.num_heads / args.layout.num_kv_heads : 0;
  if (prefill_kernel == PrefillKernel::kAuto) prefill_kernel = PrefillKernelFromEnv();
  plan.kernels = SelectStepKernels(args.dtype, args.num_decode_seqs, args.num_prefill_seqs,
                                   args.layout.head_dim, group, compute_capability, prefill_kernel);
  if (plan.kernels.prefill == PrefillKind::kPerToken) {
    // One work item per query token: plan as if each token were a sequence.
    plan.decode = PlanDecode(args.num_tokens, args.layout.num_kv_heads, args.max_seq_len, sm_count,
                             args.layout.block_size);
    plan.workspace_bytes =
        DecodeWorkspaceBytes(plan.decode, args.num_tokens, args.num_heads, args.layout.head_dim);
  } else if (plan.kernels.decode) {
    plan.decode = PlanDecode(args.num_decode_seqs, args.layout.num_kv_heads, args.max_seq_len,
                             sm_count, args.layout.block_size);
    // Work items are indexed by sequence (prefill sequences' slots stay unused).
    plan.workspace_bytes =
        DecodeWorkspaceBytes(plan.decode, args.num_seqs, args.num_heads, args.layout.head_dim);
  }
  return plan;
}

}  // namespace hearth::attention
