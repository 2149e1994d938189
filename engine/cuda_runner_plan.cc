#include "engine/cuda_runner_plan.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "kernels/attention/attention_plan.h"
#include "kernels/rope/rope.h"
#include "kernels/sampling/sampling_params.h"

namespace hearth::engine {

Status CheckGpuHeadDim(int head_dim) {
  const bool rope =
      SelectRopeGpuKernel(head_dim, AccessPath::kScalar) != RopeGpuKernel::kUnsupported;
  if (attention::DecodeHeadDimSupported(head_dim) && rope) return Status::Ok();
  return UnimplementedError("CUDA runner: head_dim " + std::to_string(head_dim) +
                            " has no GPU attention kernel (" + attention::DecodeHeadDimsString() +
                            "); use --device cpu");
}

Status CheckGpuBlockSize(int block_size, int head_dim, DType dtype) {
  const bool tensor_core_prefill =
      dtype != DType::kF32 && attention::PrefillHeadDimOnTensorCores(head_dim);
  const bool power_of_two = block_size > 0 && (block_size & (block_size - 1)) == 0;
  if (power_of_two && (!tensor_core_prefill || block_size == 16)) return Status::Ok();
  return UnimplementedError(
      "CUDA runner: --block-size " + std::to_string(block_size) +
      " has no GPU attention kernel for head_dim " + std::to_string(head_dim) + " in " +
      std::string(ActivationDTypeName(dtype)) + " (" +
      (tensor_core_prefill ? std::string("16: the tensor-core prefill's block size")
                           : std::string("a power of two")) +
      ")");
}

Result<int> ParseDevice(std::string_view device) {
  if (device == "cpu") return -1;
  if (device == "cuda") return 0;
  if (device.substr(0, 5) == "cuda:" && device.size() > 5 && device.size() <= 8) {
    int n = 0;
    for (char c : device.substr(5)) {
      if (c < '0' || c > '9') n = -1;
      if (n < 0) break;
      n = n * 10 + (c - '0');
    }
    if (n >= 0) return n;
  }
  return InvalidArgumentError("device \"" + std::string(device) +
                              "\" is not one of cpu, cuda, cuda:N");
}

Result<DType> ParseActivationDType(std::string_view name) {
  if (name == "bfloat16" || name == "bf16") return DType::kBF16;
  if (name == "float16" || name == "fp16" || name == "half") return DType::kF16;
  if (name == "float32" || name == "fp32" || name == "float") return DType::kF32;
  return InvalidArgumentError("dtype \"" + std::string(name) +
                              "\" is not one of bfloat16, float16, float32");
}

std::string_view ActivationDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kBF16:
      return "bfloat16";
    case DType::kF16:
      return "float16";
    case DType::kF32:
      return "float32";
    default:
      return DTypeName(dtype);
  }
}

std::vector<int> DecodeGraphBuckets(int max_num_seqs) {
  std::vector<int> buckets;
  for (int b : {1, 2, 4}) {
    if (b <= max_num_seqs) buckets.push_back(b);
  }
  for (int b = 8; b <= max_num_seqs; b += 8) buckets.push_back(b);
  if (max_num_seqs > 0 && buckets.back() != max_num_seqs) buckets.push_back(max_num_seqs);
  return buckets;
}

int ChooseGraphBucket(const std::vector<int>& buckets, int num_seqs) {
  if (num_seqs < 1) return 0;
  for (int b : buckets) {
    if (b >= num_seqs) return b;
  }
  return 0;
}

bool CudaGraphsEnabled(bool enabled, const char* env_value) {
  if (!enabled) return false;
  if (env_value == nullptr) return true;
  return std::strcmp(env_value, "0") != 0 && std::strcmp(env_value, "off") != 0 &&
         std::strcmp(env_value, "false") != 0;
}

bool IsPureDecode(const StepPlan& plan, int max_blocks_per_seq) {
  return plan.num_seqs > 0 && plan.num_decode_seqs == plan.num_seqs &&
         plan.num_tokens == plan.num_seqs &&
         static_cast<int>(plan.logits_indices.size()) == plan.num_seqs &&
         plan.max_blocks_per_seq <= max_blocks_per_seq;
}

TableStaging PlanTableStaging(const StepPlan& source, int device_pitch) {
  TableStaging t;
  t.rows = source.num_seqs;
  t.width = source.max_blocks_per_seq;
  t.pitch = std::max(device_pitch, t.width);
  return t;
}

void PackTableRows(const StepPlan& source, const TableStaging& t, int32_t* dst) {
  if (t.pitch == t.width) {
    std::copy_n(source.block_tables.data(), int64_t{t.rows} * t.width, dst);
    return;
  }
  for (int r = 0; r < t.rows; ++r) {
    std::copy_n(source.block_tables.data() + int64_t{r} * t.width, t.width,
                dst + int64_t{r} * t.pitch);
  }
}

StepPlan PadDecodePlan(const StepPlan& plan, int bucket, int width) {
  const int n = plan.num_seqs;
  StepPlan p;
  p.num_seqs = bucket;
  p.num_tokens = bucket;
  p.num_padded_tokens = bucket;
  p.max_blocks_per_seq = width;
  p.block_size = plan.block_size;
  // Padding sequences count as decodes (of no token: the decode kernel skips them), so that the
  // attention plan depends on the bucket only, not on how many sequences are real.
  p.num_decode_seqs = bucket;
  p.max_query_len = 1;
  p.max_seq_len = width * plan.block_size;
  p.seq_ids = plan.seq_ids;
  p.token_ids.assign(bucket, 0);
  p.positions.assign(bucket, 0);
  p.slot_mapping.assign(bucket, -1);
  p.query_start_loc.assign(bucket + 1, n);
  p.seq_lens.assign(bucket, 0);
  p.logits_indices.resize(bucket);
  for (int i = 0; i < bucket; ++i) p.logits_indices[i] = i;
  for (int i = 0; i < n; ++i) {
    // A decode sequence's single token sits at flat index query_start_loc[i] == i.
    const int t = plan.query_start_loc[i];
    p.token_ids[i] = plan.token_ids[t];
    p.positions[i] = plan.positions[t];
    p.slot_mapping[i] = plan.slot_mapping[t];
    p.query_start_loc[i] = i;
    p.seq_lens[i] = plan.seq_lens[i];
    p.logits_indices[i] = plan.logits_indices[i];
  }
  return p;
}

int64_t ArenaLayout::Add(int64_t bytes) {
  const int64_t offset = size_;
  size_ += (std::max<int64_t>(bytes, 0) + 255) / 256 * 256;
  return offset;
}

ActivationLayout PlanActivations(const model::DecoderSpec& s, DType act, int max_tokens,
                                 int max_rows, bool fused_qkv, bool fused_gate_up) {
  const int64_t e = GetDTypeInfo(act).block_bytes;
  const int64_t t = max_tokens, r = max_rows;
  ArenaLayout a;
  ActivationLayout l;
  l.residual = a.Add(t * s.hidden * e);
  l.normed = a.Add(t * s.hidden * e);
  l.delta = a.Add(t * s.hidden * e);
  l.q = a.Add(t * s.q_width() * e);
  l.k = a.Add(t * s.kv_width() * e);
  l.v = a.Add(t * s.kv_width() * e);
  l.attn = a.Add(t * s.q_width() * e);
  if (fused_qkv) l.qkv = a.Add(t * (s.q_width() + 2 * int64_t{s.kv_width()}) * e);
  if (fused_gate_up) {
    l.gate_up = a.Add(t * 2 * int64_t{s.ffn} * e);
    l.gate = l.up = -1;
  } else {
    l.gate = a.Add(t * s.ffn * e);
    l.up = a.Add(t * s.ffn * e);
  }
  l.act = a.Add(t * s.ffn * e);
  l.row_delta = a.Add(r * s.hidden * e);
  l.row_residual = a.Add(r * s.hidden * e);
  l.row_normed = a.Add(r * s.hidden * e);
  l.logits = a.Add(r * s.vocab * e);
  // Float32 activations: the LM head writes the sampler's float32 logits directly.
  l.logits_f32 = act == DType::kF32 ? l.logits : a.Add(r * s.vocab * 4);
  l.total_bytes = a.size();
  return l;
}

MetadataLayout PlanMetadata(int max_tokens, int max_seqs, int max_blocks_per_seq,
                            int64_t penalty_capacity) {
  ArenaLayout a;
  MetadataLayout m;
  m.max_tokens = max_tokens;
  m.max_seqs = max_seqs;
  m.max_blocks_per_seq = max_blocks_per_seq;
  m.penalty_capacity = penalty_capacity;
  m.slot_mapping = a.Add(int64_t{max_tokens} * 8);
  m.token_ids = a.Add(int64_t{max_tokens} * 4);
  m.positions = a.Add(int64_t{max_tokens} * 4);
  m.query_start_loc = a.Add((int64_t{max_seqs} + 1) * 4);
  m.seq_lens = a.Add(int64_t{max_seqs} * 4);
  m.logits_indices = a.Add(int64_t{max_seqs} * 4);
  m.sampling_params = a.Add(int64_t{max_seqs} * static_cast<int64_t>(sizeof(SamplingParams)));
  m.sampling_steps = a.Add(int64_t{max_seqs} * 8);
  m.penalty_offsets = a.Add((int64_t{max_seqs} + 1) * 4);
  m.block_tables = a.Add(int64_t{max_seqs} * max_blocks_per_seq * 4);
  m.penalty_tokens = a.Add(penalty_capacity * 4);
  m.penalty_counts = a.Add(penalty_capacity * 4);
  m.total_bytes = a.size();
  return m;
}

int64_t SamplerOutputBytes(int rows) { return int64_t{rows} * (2 + 2 * int64_t{kMaxLogprobs}) * 4; }

int64_t AttentionWorkspaceBound(int num_heads, int num_kv_heads, int head_dim, int max_seq_len,
                                int max_seqs, int max_tokens, bool per_token, int sm_count) {
  // PlanDecode's split count is not monotone in the step's max_seq_len (rounding the split length
  // up to whole blocks can drop a split: 63 splits at 20000 tokens, 64 at 16384), so evaluating it
  // at the longest length is not a bound. Its pre-rounding count min(wanted, 64, L / 256) is: it
  // grows with L, and the rounded count never exceeds it (per >= L / splits).
  const int64_t target = int64_t{std::max(sm_count, 1)} * attention::kDecodeTargetCtasPerSm;
  const auto splits_bound = [&](int num_seqs) -> int64_t {
    const int64_t ctas = int64_t{std::max(num_seqs, 1)} * std::max(num_kv_heads, 1);
    if (ctas >= target || max_seq_len < 2 * attention::kDecodeMinTokensPerSplit) return 1;
    return std::min<int64_t>({(target + ctas - 1) / ctas, attention::kDecodeMaxSplits,
                              max_seq_len / attention::kDecodeMinTokensPerSplit});
  };
  const auto bytes = [&](int64_t items, int64_t splits) -> int64_t {
    return splits < 2 ? 0 : items * num_heads * splits * (int64_t{head_dim} + 1) * 4;
  };
  int64_t bound = 0;
  // Decode kernel: split by the decode count, work items indexed by every sequence of the step.
  for (int n = 1; n <= max_seqs; ++n) bound = std::max(bound, bytes(max_seqs, splits_bound(n)));
  if (per_token) {
    for (int n = 1; n <= max_tokens; ++n) bound = std::max(bound, bytes(n, splits_bound(n)));
  }
  return bound;
}

std::string BytesString(int64_t bytes) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%.2f GiB (%lld bytes)",
                static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0),
                static_cast<long long>(bytes));
  return buf;
}

Result<int64_t> KvBlocksFromBudget(const GpuMemoryBudget& b) {
  if (b.kv_bytes_per_block <= 0) return InvalidArgumentError("KV cache: block of 0 bytes");
  if (!(b.fraction > 0.0 && b.fraction <= 1.0)) {
    return InvalidArgumentError("--gpu-memory-fraction must be in (0, 1], got " +
                                std::to_string(b.fraction));
  }
  const int64_t fixed = b.weights_bytes + b.workspace_bytes + b.reserve_bytes;
  const int64_t min_kv = b.min_blocks * b.kv_bytes_per_block;
  const int64_t budget =
      std::min(static_cast<int64_t>(b.fraction * static_cast<double>(b.total_bytes)), b.free_bytes);
  const std::string terms = "weights " + BytesString(b.weights_bytes) + " + workspace " +
                            BytesString(b.workspace_bytes) + " + reserve " +
                            BytesString(b.reserve_bytes) + " + KV cache";
  if (b.explicit_kv_bytes > 0) {
    const int64_t blocks = b.explicit_kv_bytes / b.kv_bytes_per_block;
    if (blocks < b.min_blocks || fixed + blocks * b.kv_bytes_per_block > b.free_bytes) {
      return ResourceExhaustedError(
          "model does not fit: needs " +
          BytesString(fixed + std::max(blocks, b.min_blocks) * b.kv_bytes_per_block) + " (" +
          terms + " " + BytesString(std::max(blocks, b.min_blocks) * b.kv_bytes_per_block) +
          " from --kv-cache-bytes, at least " + std::to_string(b.min_blocks) +
          " blocks), device has " + BytesString(b.free_bytes) + " free");
    }
    return blocks;
  }
  if (fixed + min_kv > budget) {
    return ResourceExhaustedError(
        "model does not fit: needs " + BytesString(fixed + min_kv) + " (" + terms +
        " of at least " + std::to_string(b.min_blocks) + " blocks = " + BytesString(min_kv) +
        "), available " + BytesString(budget) + " (min of --gpu-memory-fraction " +
        std::to_string(b.fraction) + " x total " + BytesString(b.total_bytes) + " and free " +
        BytesString(b.free_bytes) + ")");
  }
  return (budget - fixed) / b.kv_bytes_per_block;
}

DType DeviceWeightType(DType stored, DType act) {
  return GetDTypeInfo(stored).quantized ? stored : act;
}

bool CanFuse(const std::vector<DType>& stored, DType act) {
  if (stored.empty()) return false;
  const DType first = DeviceWeightType(stored[0], act);
  for (DType t : stored) {
    if (DeviceWeightType(t, act) != first) return false;
  }
  return true;
}

}  // namespace hearth::engine
