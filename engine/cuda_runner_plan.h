// The CUDA runner's decisions as pure host functions (no CUDA headers, built in every build and
// unit-tested on the CPU): device and dtype parsing, the CUDA-graph decode buckets and the
// padding of a decode step to its bucket, the sizes of the fixed workspace and step-metadata
// buffers, and the KV-cache block count from the memory budget.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/decoder_spec.h"
#include "engine/step_plan.h"
#include "kernels/core/dtype.h"
#include "kernels/core/status.h"

namespace hearth::engine {

// "cpu" -> -1; "cuda" -> 0; "cuda:N" -> N (N >= 0). Anything else is InvalidArgument.
Result<int> ParseDevice(std::string_view device);

// Activation dtype names: "bfloat16" / "bf16", "float16" / "fp16" / "half", "float32" / "fp32" /
// "float". Anything else is InvalidArgument listing them.
Result<DType> ParseActivationDType(std::string_view name);
std::string_view ActivationDTypeName(DType dtype);  // "bfloat16", "float16", "float32"

// ---- model shape -----------------------------------------------------------------------------
// Whether the GPU kernels cover a model's head size: the decode attention kernel (which also
// prefills, token by token, the head sizes the tensor-core kernels lack: 8, 16, 32) and RoPE.
// Otherwise Unimplemented, naming the supported sizes and --device cpu.
Status CheckGpuHeadDim(int head_dim);
// Whether the GPU attention kernels take this KV block size for the model and dtype: a power of
// two (the decode kernel maps positions to blocks by shift) and, where prefill runs on tensor
// cores (bf16 / fp16 with a tensor-core head size), exactly 16. Otherwise Unimplemented, naming
// the sizes that work: refused at start, not at the first prompt.
Status CheckGpuBlockSize(int block_size, int head_dim, DType dtype);

// ---- CUDA graphs -----------------------------------------------------------------------------
// Decode batch sizes a graph is captured for: 1, 2, 4, 8, then every multiple of 8 up to
// max_num_seqs (the last bucket is max_num_seqs itself when it is not a multiple of 8).
std::vector<int> DecodeGraphBuckets(int max_num_seqs);
// The smallest bucket holding num_seqs, or 0 when none does (num_seqs < 1 or past the last).
int ChooseGraphBucket(const std::vector<int>& buckets, int num_seqs);
// Graphs are on unless `enabled` is false or HEARTH_CUDA_GRAPHS (env_value, may be null) is
// "0", "off" or "false".
bool CudaGraphsEnabled(bool enabled, const char* env_value);

// True when every sequence of the plan decodes one token and samples it (the only steps graphs
// replay), and its block table fits a width of max_blocks_per_seq.
bool IsPureDecode(const StepPlan& plan, int max_blocks_per_seq);
// The plan of a pure decode step padded to `bucket` sequences with block-table rows
// max_blocks_per_seq apart, so that every array has the size (and every kernel the grid) the
// bucket's graph was captured with. Padding sequences have no query token (query_start_loc
// repeats num_real) and seq_len 0, so attention skips them; padding tokens have id 0, position 0
// and slot -1 (nothing written); logits_indices continue 0..bucket-1 so that every row of the
// padded batch is a real row of the buffers. num_decode_seqs = bucket and max_seq_len =
// max_blocks_per_seq * block_size, so that the attention plan (split-KV) depends on the bucket
// only and is the same every step of it. block_tables stays empty: the CUDA runner stages the
// real rows of `plan`'s table at that pitch (TableStaging, PackTableRows) instead of building and
// copying bucket x max_blocks_per_seq entries (8 MiB at 256 sequences of a 128k context).
// Requires IsPureDecode(plan, max_blocks_per_seq) and plan.num_seqs <= bucket.
StepPlan PadDecodePlan(const StepPlan& plan, int bucket, int max_blocks_per_seq);

// How a step's block table crosses to the device: `rows` rows of `width` used entries each,
// `pitch` entries apart on both sides (pinned staging and device buffer). A padded decode step
// (its kernels read rows `pitch` apart: the graph's fixed table width) sends only its real rows'
// entries; attention never reads a row past its sequence's blocks, nor a padding row (seq_len 0).
// Any other step sends its plan's table as it is (pitch = width).
struct TableStaging {
  int rows = 0, width = 0, pitch = 0;
  int64_t bytes() const { return int64_t{rows} * width * 4; }
};
TableStaging PlanTableStaging(const StepPlan& source, int device_pitch);
// Writes source's rows into dst (int32 [rows, pitch]) `t.pitch` entries apart; entries past
// `t.width` in each row and rows past `t.rows` are left as they are.
void PackTableRows(const StepPlan& source, const TableStaging& t, int32_t* dst);

// ---- buffers ---------------------------------------------------------------------------------
// Offsets of sub-buffers in one allocation; every offset is a multiple of 256 bytes.
class ArenaLayout {
 public:
  int64_t Add(int64_t bytes);  // returns the offset of a new sub-buffer
  int64_t size() const { return size_; }

 private:
  int64_t size_ = 0;
};

// The activation buffers of one step, sized once for max_tokens tokens and max_rows sampled rows
// (engine/model/backend_ops.h DecoderBuffers) plus the float32 logits the sampler reads.
struct ActivationLayout {
  int64_t residual = 0, normed = 0, delta = 0, q = 0, k = 0, v = 0, attn = 0, gate = 0, up = 0,
          act = 0, qkv = -1, gate_up = -1, row_delta = 0, row_residual = 0, row_normed = 0,
          logits = 0, logits_f32 = 0;  // -1: absent (no fused weight)
  int64_t total_bytes = 0;
};
ActivationLayout PlanActivations(const model::DecoderSpec& spec, DType act, int max_tokens,
                                 int max_rows, bool fused_qkv, bool fused_gate_up);

// The step metadata as staged in pinned host memory and copied to the device in one transfer:
// per-token arrays, per-sequence arrays and the sampling inputs first, the block table (capacity
// max_seqs x max_blocks_per_seq, its used prefix only is copied) after them, penalty lists last
// (copied only in steps that have penalties). Fixed offsets, so CUDA graphs see fixed addresses.
struct MetadataLayout {
  int max_tokens = 0, max_seqs = 0, max_blocks_per_seq = 0;
  int64_t penalty_capacity = 0;  // entries of penalty tokens (and of counts)
  int64_t slot_mapping = 0;      // int64 [max_tokens]
  int64_t token_ids = 0;         // int32 [max_tokens]
  int64_t positions = 0;         // int32 [max_tokens]
  int64_t query_start_loc = 0;   // int32 [max_seqs + 1]
  int64_t seq_lens = 0;          // int32 [max_seqs]
  int64_t logits_indices = 0;    // int32 [max_seqs]
  int64_t sampling_params = 0;   // SamplingParams [max_seqs]
  int64_t sampling_steps = 0;    // int64 [max_seqs]
  int64_t penalty_offsets = 0;   // int32 [max_seqs + 1]
  int64_t block_tables = 0;      // int32 [max_seqs, max_blocks_per_seq], rows at the step's pitch
  int64_t penalty_tokens = 0;    // int32 [penalty_capacity]
  int64_t penalty_counts = 0;    // int32 [penalty_capacity]
  int64_t total_bytes = 0;
};
MetadataLayout PlanMetadata(int max_tokens, int max_seqs, int max_blocks_per_seq,
                            int64_t penalty_capacity);

// Bytes of the sampler's outputs for `rows` rows, packed in the order ids [rows] int32,
// logprobs [rows] f32, top ids [rows, kMaxLogprobs] int32, top logprobs [rows, kMaxLogprobs] f32:
// one device-to-host copy per step.
int64_t SamplerOutputBytes(int rows);

// Upper bound of the split-KV workspace PlanAttention can ask for in any step with at most
// max_seqs sequences (decode kernel) or, when per_token (float32: prefill through the decode
// kernel), max_tokens tokens, every sequence at most max_seq_len long, whatever the block size.
int64_t AttentionWorkspaceBound(int num_heads, int num_kv_heads, int head_dim, int max_seq_len,
                                int max_seqs, int max_tokens, bool per_token, int sm_count);

// ---- KV cache --------------------------------------------------------------------------------
struct GpuMemoryBudget {
  int64_t total_bytes = 0;         // device memory
  int64_t free_bytes = 0;          // free before the runner allocates anything
  double fraction = 0.9;           // of total_bytes the runner may use in all
  int64_t weights_bytes = 0;       // device weights
  int64_t workspace_bytes = 0;     // activations, metadata, attention / matmul scratch
  int64_t reserve_bytes = 0;       // cuBLASLt workspace, graphs, allocator slack
  int64_t kv_bytes_per_block = 0;  // all layers, K and V
  int64_t min_blocks = 1;          // fewer is an error (the model does not fit)
  int64_t explicit_kv_bytes = 0;   // > 0: use this instead of the fraction (--kv-cache-bytes)
};
// The number of KV blocks: (min(fraction * total, free) - weights - workspace - reserve) / per
// block, or explicit_kv_bytes / per block. Errors (ResourceExhausted) name the bytes needed and
// the bytes available, with the terms of the sum.
Result<int64_t> KvBlocksFromBudget(const GpuMemoryBudget& budget);

// ---- device weights --------------------------------------------------------------------------
// The type a weight has on the device: float types become the activation dtype, quantized GGUF
// types stay as they are (blocks).
DType DeviceWeightType(DType stored, DType act);
// Whether wq|wk|wv (and w_gate|w_up) can be one matrix: same device type for all parts.
bool CanFuse(const std::vector<DType>& stored, DType act);

std::string BytesString(int64_t bytes);  // "1.50 GiB (1610612736 bytes)"

}  // namespace hearth::engine
