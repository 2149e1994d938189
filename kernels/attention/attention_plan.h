// Pure planning functions for the CUDA attention: which kernels run in a step and how decode is
// split over the KV length. Host-only and unit-tested on the CPU.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"

namespace hearth::attention {

// Decode (one query token per sequence): one CTA per (sequence, kv head, split). With few
// sequences or long contexts a single pass leaves SMs idle, so the KV range is split
// (flash-decoding) and a second kernel merges the partial results by their log-sum-exp.
enum class DecodeKind : uint8_t { kSinglePass, kSplitKv };

struct DecodePlan {
  DecodeKind kind = DecodeKind::kSinglePass;
  int num_splits = 1;        // KV partitions per (sequence, kv head); 1 for kSinglePass
  int tokens_per_split = 0;  // multiple of the block size; covers max_seq_len in num_splits
};

// CTAs per SM the decode kernel is sized for (128 threads each).
constexpr int kDecodeTargetCtasPerSm = 8;
// A split shorter than this costs more in the merge than it gains in parallelism.
constexpr int kDecodeMinTokensPerSplit = 256;
constexpr int kDecodeMaxSplits = 64;

// Splits only when num_seqs * num_kv_heads CTAs would fill less than the target occupancy, and
// never below kDecodeMinTokensPerSplit tokens a split. Inputs must be non-negative; sm_count < 1
// is treated as 1.
DecodePlan PlanDecode(int num_seqs, int num_kv_heads, int max_seq_len, int sm_count,
                      int block_size = 16);

// Workspace bytes the split-KV decode needs for `plan` (0 for kSinglePass): per (work item,
// head, split) a float partial output of head_dim and a float log-sum-exp.
int64_t DecodeWorkspaceBytes(const DecodePlan& plan, int num_work_items, int num_heads,
                             int head_dim);

// Head sizes the decode kernel is compiled for (decode_attention.cu's head_dim switch, which also
// serves the per-token path): 8, 16, 32 (the tiny validation models: stories260K has 8, the
// tiny-llama3 / qwen2 / qwen3 models 16 and 32), 64 and 128. A model with another head size has
// no GPU attention at all.
inline constexpr int kDecodeHeadDims[] = {8, 16, 32, 64, 128};
bool DecodeHeadDimSupported(int head_dim);
// "8, 16, 32, 64, 128": for error messages.
std::string DecodeHeadDimsString();
// Head sizes the tensor-core prefill kernels are compiled for: 64 and 128. The decode kernel's
// other sizes prefill through the per-token path (kPerToken below).
bool PrefillHeadDimOnTensorCores(int head_dim);

// Which kernels one step launches. Decode tokens (q_len == 1) go to the decode kernel, every
// other sequence to the tensor-core prefill kernel; fp32 (validation only) and head sizes without
// a tensor-core prefill (PrefillHeadDimOnTensorCores: the tiny validation models' 8, 16, 32) send
// their prefill sequences (and then the whole batch) through the decode kernel run once per query
// token (kPerToken).
enum class PrefillKind : uint8_t { kNone, kTensorCore, kPerToken };

// The tensor-core prefill kernel: kMmaSync (prefill_attention.cu, any tensor-core GPU, CTA of
// 64 rows) or kWgmma (prefill_attention_wgmma.cu, Hopper warpgroup MMA, CTA of 128 rows in two
// warpgroups). kAuto resolves through SelectPrefillKernel.
enum class PrefillKernel : uint8_t { kAuto, kMmaSync, kWgmma };

struct StepKernels {
  bool decode = false;  // decode kernel over the q_len == 1 sequences
  PrefillKind prefill = PrefillKind::kNone;
  PrefillKernel prefill_kernel = PrefillKernel::kMmaSync;  // when prefill == kTensorCore
};

// num_decode_seqs: sequences with q_len == 1; num_prefill_seqs: sequences with q_len > 1.
// `prefill_kernel` is resolved with SelectPrefillKernel (kAuto: the default choice).
StepKernels SelectStepKernels(DType dtype, int num_decode_seqs, int num_prefill_seqs,
                              int head_dim = 128, int group = 1, int compute_capability = 90,
                              PrefillKernel requested = PrefillKernel::kAuto);

// Rows (query token x query head of one GQA group) one wgmma prefill CTA holds.
constexpr int kPrefillWgmmaRowsPerCta = 128;

// The prefill kernel for a step. kWgmma needs compute capability 9.0 exactly (sm_90a code),
// head_dim 64 or 128 and a GQA group of at most kPrefillWgmmaRowsPerCta; otherwise kMmaSync
// (whose launcher reports any shape it cannot run). A request other than kAuto is honoured
// when it can run; kAuto picks kWgmma where it can run.
PrefillKernel SelectPrefillKernel(int head_dim, int group, int compute_capability,
                                  PrefillKernel requested = PrefillKernel::kAuto);

// "mma_sync", "wgmma", "auto" (also the empty string) -> the enum; anything else is an error.
// The server reads HEARTH_PREFILL_KERNEL through it (see PrefillKernelFromEnv).
Result<PrefillKernel> ParsePrefillKernel(std::string_view name);
// HEARTH_PREFILL_KERNEL of the environment, read once; kAuto when unset or invalid (an invalid
// value is reported once on stderr).
PrefillKernel PrefillKernelFromEnv();
const char* PrefillKernelName(PrefillKernel k);

// Launch geometry (pure, so that it is tested without a GPU).
struct Grid3 {
  int64_t x = 1, y = 1, z = 1;
};
// Query heads one decode CTA serves: the largest of {8, 4, 2, 1} dividing the GQA group (its
// K/V loads are shared by those heads).
int DecodeHeadsPerCta(int group);
// Decode CTAs: x = work item, y = kv head x head chunk, z = KV split.
Grid3 DecodeGrid(int num_work_items, int num_kv_heads, int group, int num_splits);
// Prefill: a CTA holds rows_per_cta rows of (query token x query head of one GQA group); 64
// for the mma.sync kernel, kPrefillWgmmaRowsPerCta for the wgmma kernel.
constexpr int kPrefillRowsPerCta = 64;
// 0 if the group exceeds a CTA.
int PrefillTokensPerCta(int group, int rows_per_cta = kPrefillRowsPerCta);
// Prefill CTAs: x = query tile (of the longest chunk), y = kv head, z = sequence.
Grid3 PrefillGrid(int max_query_len, int group, int num_kv_heads, int num_seqs,
                  int rows_per_cta = kPrefillRowsPerCta);

std::string ToString(const DecodePlan& plan);
std::string ToString(const StepKernels& k);

}  // namespace hearth::attention
