#include "engine/model/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/activation/silu_mul.h"
#include "kernels/core/cuda_check.h"
#include "kernels/embedding/embedding.h"
#include "kernels/kv_cache/cache_write.h"
#include "kernels/matmul/matmul.h"
#include "kernels/norm/rms_norm.h"
#include "kernels/quant/dequant.h"
#include "kernels/rope/rope.h"

namespace hearth::engine::model {
namespace {

int64_t ElemBytes(DType t) { return GetDTypeInfo(t).block_bytes; }

void* At(void* base, int64_t offset) {
  return offset < 0 ? nullptr : static_cast<uint8_t*>(base) + offset;
}

}  // namespace

CudaBackend::CudaBackend(const DecoderSpec& spec, const CudaBackendConfig& config,
                         cudaStream_t stream)
    : spec_(spec), config_(config), stream_(stream) {}

CudaBackend::~CudaBackend() {
  for (void* p : {kv_arena_, act_arena_, attn_workspace_, static_cast<void*>(inv_freq_)}) {
    if (p != nullptr) cudaFree(p);
  }
}

int64_t CudaBackend::KvBytesPerBlock(const DecoderSpec& spec, int block_size, DType act) {
  return int64_t{2} * spec.num_layers * spec.num_kv_heads * block_size * spec.head_dim *
         ElemBytes(act);
}

int64_t CudaBackend::WorkspaceBytes(const DecoderSpec& spec, const CudaBackendConfig& c) {
  const ActivationLayout a =
      PlanActivations(spec, c.act, c.max_tokens, c.max_rows, c.fused_qkv, c.fused_gate_up);
  // GpuMatmul: the dequantized weight (2 bytes an element) of the largest quantized matrix when
  // a step has more than kMaxGemvTokens tokens (bf16/fp16 only: fp32 steps run the GEMV in
  // chunks of 8 tokens), and what its Create allocates (the int8 activation scratch for 8 tokens
  // of k <= 65536; the split-k scratch of the fused dequantize + MMA when that is chosen).
  const int64_t dequant = c.act == DType::kF32 ? 0 : c.max_dequant_elems * 2;
  return a.total_bytes + c.attention_workspace_bytes + dequant + GpuMatmul::CreateBytes();
}

Result<std::unique_ptr<CudaBackend>> CudaBackend::Create(const DecoderSpec& spec,
                                                         const CudaBackendConfig& config,
                                                         cudaStream_t stream) {
  if (config.act != DType::kBF16 && config.act != DType::kF16 && config.act != DType::kF32) {
    return InvalidArgumentError("CUDA backend: activation dtype " +
                                std::string(DTypeName(config.act)) + " (bf16, fp16, fp32)");
  }
  if (config.max_tokens <= 0 || config.max_rows <= 0 || config.max_seqs <= 0 ||
      config.num_kv_blocks <= 0) {
    return InvalidArgumentError("CUDA backend: sizes must be positive");
  }
  std::unique_ptr<CudaBackend> b(new CudaBackend(spec, config, stream));
  b->layout_.num_blocks = config.num_kv_blocks;
  b->layout_.num_kv_heads = spec.num_kv_heads;
  b->layout_.block_size = config.block_size;
  b->layout_.head_dim = spec.head_dim;
  const int64_t kv_bytes =
      config.num_kv_blocks * KvBytesPerBlock(spec, config.block_size, config.act);
  CUDA_CHECK(cudaMalloc(&b->kv_arena_, kv_bytes));
  // Zeroed once: attention never reads a slot before it is written, but a clean cache makes a
  // stray read visible as zeros rather than as whatever the allocator held.
  CUDA_CHECK(cudaMemsetAsync(b->kv_arena_, 0, kv_bytes, stream));
  b->act_layout_ = PlanActivations(spec, config.act, config.max_tokens, config.max_rows,
                                   config.fused_qkv, config.fused_gate_up);
  CUDA_CHECK(cudaMalloc(&b->act_arena_, b->act_layout_.total_bytes));
  if (config.attention_workspace_bytes > 0) {
    CUDA_CHECK(cudaMalloc(&b->attn_workspace_, config.attention_workspace_bytes));
  }
  CUDA_CHECK(cudaMalloc(&b->inv_freq_, spec.inv_freq.size() * sizeof(float)));
  CUDA_CHECK(cudaMemcpy(b->inv_freq_, spec.inv_freq.data(), spec.inv_freq.size() * sizeof(float),
                        cudaMemcpyHostToDevice));
  HEARTH_ASSIGN_OR_RETURN(b->matmul_, GpuMatmul::Create());
  if (config.act != DType::kF32 && config.max_dequant_elems > 0) {
    HEARTH_RETURN_IF_ERROR(b->matmul_->Reserve(config.max_dequant_elems));
  }
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return b;
}

Result<DecoderBuffers> CudaBackend::BeginStep(const StepPlan& plan) {
  const int64_t rows = static_cast<int64_t>(plan.logits_indices.size());
  if (plan.num_tokens > config_.max_tokens || rows > config_.max_rows ||
      plan.num_seqs > config_.max_seqs) {
    return InvalidArgumentError(
        "CUDA backend: step of " + std::to_string(plan.num_tokens) + " tokens, " +
        std::to_string(plan.num_seqs) + " sequences, " + std::to_string(rows) +
        " sampled rows exceeds the workspace (" + std::to_string(config_.max_tokens) + ", " +
        std::to_string(config_.max_seqs) + ", " + std::to_string(config_.max_rows) + ")");
  }
  if (plan.block_size != layout_.block_size) {
    return InvalidArgumentError("CUDA backend: plan block_size " + std::to_string(plan.block_size) +
                                " != KV cache block_size " + std::to_string(layout_.block_size));
  }
  plan_ = &plan;
  void* base = act_arena_;
  const ActivationLayout& l = act_layout_;
  DecoderBuffers b;
  b.residual = At(base, l.residual);
  b.normed = At(base, l.normed);
  b.delta = At(base, l.delta);
  b.q = At(base, l.q);
  b.k = At(base, l.k);
  b.v = At(base, l.v);
  b.attn = At(base, l.attn);
  b.gate = At(base, l.gate);
  b.up = At(base, l.up);
  b.act = At(base, l.act);
  b.qkv = At(base, l.qkv);
  b.gate_up = At(base, l.gate_up);
  b.row_delta = At(base, l.row_delta);
  b.row_residual = At(base, l.row_residual);
  b.row_normed = At(base, l.row_normed);
  b.logits = At(base, l.logits);

  attention::PagedAttentionArgs& a = attn_args_;
  a = {};
  a.dtype = config_.act;
  a.query_start_loc = arrays_.query_start_loc;
  a.seq_lens = arrays_.seq_lens;
  a.block_tables = arrays_.block_tables;
  a.num_seqs = plan.num_seqs;
  a.num_tokens = plan.num_tokens;
  a.num_heads = spec_.num_heads;
  a.max_blocks_per_seq = plan.max_blocks_per_seq;
  a.layout = layout_;
  a.scale = 1.f / std::sqrt(static_cast<float>(spec_.head_dim));
  a.max_query_len = plan.max_query_len;
  a.max_seq_len = plan.max_seq_len;
  // The attention kernels split by query length, not by the scheduler's decode/prefill label:
  // a one-token prompt (a "prefill" of q_len 1) goes to the decode kernel too. A padded decode
  // plan declares all its bucket's sequences decodes (PadDecodePlan) so that the split-KV plan
  // depends on the bucket only; the padding sequences (q_len 0) are skipped by the kernel.
  int single = 0;
  a.num_prefill_seqs = 0;
  for (int i = 0; i < plan.num_seqs; ++i) {
    const int q_len = plan.query_start_loc[i + 1] - plan.query_start_loc[i];
    if (q_len == 1) ++single;
    if (q_len > 1) ++a.num_prefill_seqs;
  }
  a.num_decode_seqs = std::max(plan.num_decode_seqs, single);
  attn_plan_ = attention::PlanAttention(a, config_.sm_count, config_.compute_capability);
  if (attn_plan_.workspace_bytes > config_.attention_workspace_bytes) {
    return InternalError(
        "CUDA backend: attention plan needs " + std::to_string(attn_plan_.workspace_bytes) +
        " workspace bytes, sized for " + std::to_string(config_.attention_workspace_bytes));
  }
  return b;
}

Status CudaBackend::Embed(const LinearWeight& table, void* out) {
  return ::hearth::Embedding(table.type, table.data, table.n, static_cast<int>(table.k),
                             arrays_.token_ids, plan_->num_tokens, config_.act, out, stream_);
}

Status CudaBackend::RmsNorm(const void* x, const float* weight, void* out, int64_t rows, int width,
                            float eps) {
  return ::hearth::RmsNorm(config_.act, x, weight, out, rows, width, eps, stream_);
}

Status CudaBackend::FusedAddRmsNorm(const void* x, void* residual, const float* weight, void* out,
                                    int64_t rows, int width, float eps) {
  return ::hearth::FusedAddRmsNorm(config_.act, x, residual, weight, out, rows, width, eps,
                                   stream_);
}

Status CudaBackend::Linear(const LinearWeight& w, const void* bias, const void* x, void* y,
                           int64_t rows) {
  const int n = static_cast<int>(w.n), k = static_cast<int>(w.k);
  if (config_.act != DType::kF32 || rows <= kMaxGemvTokens) {
    return matmul_->RunWithDense(w.type, w.data, w.dense, config_.act, x, bias, y,
                                 static_cast<int>(rows), n, k, stream_);
  }
  // Float32 (validation) has no GEMM for more than kMaxGemvTokens tokens: the GEMV per chunk.
  const auto* xb = static_cast<const uint8_t*>(x);
  auto* yb = static_cast<uint8_t*>(y);
  for (int64_t r = 0; r < rows; r += kMaxGemvTokens) {
    const int chunk = static_cast<int>(std::min<int64_t>(kMaxGemvTokens, rows - r));
    HEARTH_RETURN_IF_ERROR(matmul_->Run(w.type, w.data, config_.act, xb + r * k * 4, bias,
                                        yb + r * n * 4, chunk, n, k, stream_));
  }
  return Status::Ok();
}

Status CudaBackend::Rope(void* q, void* k, const float* q_norm, const float* k_norm) {
  const DecoderSpec& s = spec_;
  const RopeStyle style = s.rope_halves ? RopeStyle::kHalves : RopeStyle::kAdjacentPairs;
  if (q_norm != nullptr || k_norm != nullptr) {
    if (q_norm == nullptr || k_norm == nullptr) {
      return InvalidArgumentError("CUDA backend: q/k norm needs both weights");
    }
    return QkNormRope(config_.act, style, s.head_dim, inv_freq_, arrays_.positions,
                      plan_->num_tokens, q, s.q_width(), s.num_heads, k, s.kv_width(),
                      s.num_kv_heads, q_norm, k_norm, s.norm_eps, stream_);
  }
  return ::hearth::Rope(config_.act, style, s.head_dim, inv_freq_, arrays_.positions,
                        plan_->num_tokens, q, s.q_width(), s.num_heads, k, s.kv_width(),
                        s.num_kv_heads, stream_);
}

Status CudaBackend::WriteKv(int layer, const void* k, const void* v) {
  const int64_t layer_bytes = layout_.elems_per_layer() * ElemBytes(config_.act);
  auto* base = static_cast<uint8_t*>(kv_arena_);
  return WriteKvCache(config_.act, k, spec_.kv_width(), v, spec_.kv_width(), arrays_.slot_mapping,
                      plan_->num_tokens, layout_, base + layer * layer_bytes,
                      base + (int64_t{spec_.num_layers} + layer) * layer_bytes, stream_);
}

Status CudaBackend::Attention(int layer, const void* q, void* out) {
  const int64_t layer_bytes = layout_.elems_per_layer() * ElemBytes(config_.act);
  auto* base = static_cast<uint8_t*>(kv_arena_);
  attention::PagedAttentionArgs a = attn_args_;
  a.q = q;
  a.out = out;
  a.k_cache = base + layer * layer_bytes;
  a.v_cache = base + (int64_t{spec_.num_layers} + layer) * layer_bytes;
  return attention::PagedAttention(a, attn_plan_, attn_workspace_,
                                   config_.attention_workspace_bytes, stream_);
}

Status CudaBackend::SiluMul(const void* gate, const void* up, void* out, int64_t rows, int ffn) {
  return ::hearth::SiluMul(config_.act, gate, ffn, up, ffn, out, rows, ffn, stream_);
}

Status CudaBackend::SiluMulConcat(const void* gate_up, void* out, int64_t rows, int ffn) {
  return ::hearth::SiluMulConcat(config_.act, gate_up, out, rows, ffn, stream_);
}

Status CudaBackend::GatherRows(const void* x, void* out, int width) {
  return ::hearth::GatherRows(config_.act, x, plan_->num_tokens, width, arrays_.logits_indices,
                              static_cast<int64_t>(plan_->logits_indices.size()), out, stream_);
}

Status CudaBackend::SplitQkv(const void* qkv, void* q, void* k, void* v, int64_t rows) {
  // Three strided 2-D copies (copy-engine / memcpy nodes in a graph); q must be contiguous for
  // attention, k and v are read once more by the cache write.
  const int64_t e = ElemBytes(config_.act);
  const int64_t qw = spec_.q_width() * e, kw = spec_.kv_width() * e;
  const int64_t pitch = qw + 2 * kw;
  if (rows == 0) return Status::Ok();
  const auto* src = static_cast<const uint8_t*>(qkv);
  CUDA_CHECK(cudaMemcpy2DAsync(q, qw, src, pitch, qw, rows, cudaMemcpyDeviceToDevice, stream_));
  CUDA_CHECK(
      cudaMemcpy2DAsync(k, kw, src + qw, pitch, kw, rows, cudaMemcpyDeviceToDevice, stream_));
  CUDA_CHECK(
      cudaMemcpy2DAsync(v, kw, src + qw + kw, pitch, kw, rows, cudaMemcpyDeviceToDevice, stream_));
  return Status::Ok();
}

Status CudaBackend::LogitsToF32(int64_t rows) {
  if (config_.act == DType::kF32 || rows == 0) return Status::Ok();
  return DequantizeGpu(config_.act, At(act_arena_, act_layout_.logits), DType::kF32, logits_f32(),
                       rows * spec_.vocab, stream_);
}

float* CudaBackend::logits_f32() const {
  return static_cast<float*>(At(act_arena_, act_layout_.logits_f32));
}

}  // namespace hearth::engine::model
