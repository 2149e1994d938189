#include "engine/model/cpu_backend.h"

#include <cmath>
#include <string>

#include "engine/model/decoder.h"
#include "kernels/activation/silu_mul.h"
#include "kernels/attention/attention_cpu.h"
#include "kernels/embedding/embedding.h"
#include "kernels/kv_cache/cache_write.h"
#include "kernels/matmul/matmul.h"
#include "kernels/norm/rms_norm.h"
#include "kernels/quant/dequant.h"
#include "kernels/rope/rope.h"

namespace hearth::engine::model {
namespace {

float* F(void* p) { return static_cast<float*>(p); }
const float* F(const void* p) { return static_cast<const float*>(p); }

float* Sized(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
  return v.data();
}

}  // namespace

CpuBackend::CpuBackend(const DecoderSpec& spec, int64_t num_kv_blocks, int block_size,
                       CpuMatmulMode matmul)
    : spec_(spec), matmul_(matmul) {
  layout_.num_blocks = num_kv_blocks;
  layout_.num_kv_heads = spec.num_kv_heads;
  layout_.block_size = block_size;
  layout_.head_dim = spec.head_dim;
  k_cache_.resize(spec.num_layers);
  v_cache_.resize(spec.num_layers);
  for (int i = 0; i < spec.num_layers; ++i) {
    k_cache_[i].assign(static_cast<size_t>(layout_.elems_per_layer()), 0.f);
    v_cache_[i].assign(static_cast<size_t>(layout_.elems_per_layer()), 0.f);
  }
}

int64_t CpuBackend::KvBytesPerBlock(const DecoderSpec& spec, int block_size) {
  return int64_t{2} * spec.num_layers * spec.num_kv_heads * block_size * spec.head_dim *
         static_cast<int64_t>(sizeof(float));
}

Status CpuBackend::CheckStep(const StepPlan& p) const {
  if (p.block_size != layout_.block_size) {
    return InvalidArgumentError("CPU backend: plan block_size " + std::to_string(p.block_size) +
                                " != KV cache block_size " + std::to_string(layout_.block_size));
  }
  return ValidateStepPlan(p, spec_.vocab, "CPU backend");
}

Result<DecoderBuffers> CpuBackend::BeginStep(const StepPlan& plan) {
  HEARTH_RETURN_IF_ERROR(CheckStep(plan));
  plan_ = &plan;
  const int64_t t = plan.num_tokens;
  const int64_t r = static_cast<int64_t>(plan.logits_indices.size());
  const DecoderSpec& s = spec_;
  DecoderBuffers b;
  b.residual = Sized(residual_, t * s.hidden);
  b.normed = Sized(normed_, t * s.hidden);
  b.delta = Sized(delta_, t * s.hidden);
  b.q = Sized(q_, t * s.q_width());
  b.k = Sized(k_, t * s.kv_width());
  b.v = Sized(v_, t * s.kv_width());
  b.attn = Sized(attn_, t * s.q_width());
  b.gate = Sized(gate_, t * s.ffn);
  b.up = Sized(up_, t * s.ffn);
  b.act = Sized(act_, t * s.ffn);
  b.row_delta = Sized(row_delta_, r * s.hidden);
  b.row_residual = Sized(row_residual_, r * s.hidden);
  b.row_normed = Sized(row_normed_, r * s.hidden);
  b.logits = Sized(logits_, r * s.vocab);
  return b;
}

Status CpuBackend::Embed(const LinearWeight& table, void* out) {
  const StepPlan& p = *plan_;
  const DTypeInfo info = GetDTypeInfo(table.type);
  if (!info.quantized) {
    return EmbeddingCpu(table.type, table.data, table.n, static_cast<int>(table.k),
                        p.token_ids.data(), p.num_tokens, F(out));
  }
  // Quantized table (GGUF Q8_0, Q4_K, ...): dequantize just the looked-up rows.
  const int64_t row_bytes = *DTypeBytes(table.type, table.k);  // whole blocks (HostWeights)
  const auto* base = static_cast<const uint8_t*>(table.data);
  for (int t = 0; t < p.num_tokens; ++t) {
    HEARTH_RETURN_IF_ERROR(DequantizeCpu(table.type, base + p.token_ids[t] * row_bytes,
                                         F(out) + int64_t{t} * table.k, table.k));
  }
  return Status::Ok();
}

Status CpuBackend::RmsNorm(const void* x, const float* weight, void* out, int64_t rows, int width,
                           float eps) {
  return RmsNormCpu(F(x), weight, F(out), rows, width, eps);
}

Status CpuBackend::FusedAddRmsNorm(const void* x, void* residual, const float* weight, void* out,
                                   int64_t rows, int width, float eps) {
  return FusedAddRmsNormCpu(F(x), F(residual), weight, F(out), rows, width, eps);
}

Status CpuBackend::Linear(const LinearWeight& w, const void* bias, const void* x, void* y,
                          int64_t rows) {
  return MatmulCpuWith(matmul_, w.type, w.data, F(x), F(bias), F(y), static_cast<int>(rows),
                       static_cast<int>(w.n), static_cast<int>(w.k));
}

Status CpuBackend::Rope(void* q, void* k, const float* q_norm, const float* k_norm) {
  const StepPlan& p = *plan_;
  const DecoderSpec& s = spec_;
  const RopeStyle style = s.rope_halves ? RopeStyle::kHalves : RopeStyle::kAdjacentPairs;
  if (q_norm != nullptr || k_norm != nullptr) {
    if (q_norm == nullptr || k_norm == nullptr) {
      return InvalidArgumentError("CPU backend: q/k norm needs both weights");
    }
    return QkNormRopeCpu(style, s.head_dim, s.inv_freq.data(), p.positions.data(), p.num_tokens,
                         F(q), s.q_width(), s.num_heads, F(k), s.kv_width(), s.num_kv_heads, q_norm,
                         k_norm, s.norm_eps);
  }
  return RopeCpu(style, s.head_dim, s.inv_freq.data(), p.positions.data(), p.num_tokens, F(q),
                 s.q_width(), s.num_heads, F(k), s.kv_width(), s.num_kv_heads);
}

Status CpuBackend::WriteKv(int layer, const void* k, const void* v) {
  const StepPlan& p = *plan_;
  return WriteKvCacheCpu(F(k), spec_.kv_width(), F(v), spec_.kv_width(), p.slot_mapping.data(),
                         p.num_tokens, layout_, k_cache_[layer].data(), v_cache_[layer].data());
}

Status CpuBackend::Attention(int layer, const void* q, void* out) {
  const StepPlan& p = *plan_;
  attention::PagedBatch batch;
  batch.num_seqs = p.num_seqs;
  batch.num_tokens = p.num_tokens;
  batch.query_start_loc = p.query_start_loc.data();
  batch.seq_lens = p.seq_lens.data();
  batch.block_tables = p.block_tables.data();
  batch.max_blocks_per_seq = p.max_blocks_per_seq;
  const float scale = 1.f / std::sqrt(static_cast<float>(spec_.head_dim));
  return attention::PagedAttentionCpu(F(q), k_cache_[layer].data(), v_cache_[layer].data(), batch,
                                      layout_, spec_.num_heads, scale, F(out));
}

Status CpuBackend::SiluMul(const void* gate, const void* up, void* out, int64_t rows, int ffn) {
  return SiluMulCpu(F(gate), ffn, F(up), ffn, F(out), rows, ffn);
}

Status CpuBackend::GatherRows(const void* x, void* out, int width) {
  const StepPlan& p = *plan_;
  return GatherRowsCpu(F(x), p.num_tokens, width, p.logits_indices.data(),
                       static_cast<int64_t>(p.logits_indices.size()), F(out));
}

}  // namespace hearth::engine::model
