#include "engine/model/device_weight_plan.h"

#include <algorithm>

#include "engine/cuda_runner_plan.h"
#include "kernels/matmul/matmul.h"
#include "model_loader/weights.h"

namespace hearth::engine::model {
namespace {

class Planner {
 public:
  Planner(const Weights& weights, DeviceWeightPlan* plan, bool dequant_copies)
      : weights_(weights), plan_(plan), dequant_copies_(dequant_copies) {}

  Result<const WeightView*> Matrix(const std::string& name, int64_t n, int64_t k) {
    return GetMatrixWeight(weights_, name, n, k);
  }
  Result<const WeightView*> Vector(const std::string& name, int64_t size) {
    return GetVectorWeight(weights_, name, size);
  }

  // A matrix of `type` made of `parts` stacked by rows, all [*, k].
  int AddMatrix(const std::string& name, std::vector<const WeightView*> parts, DType type) {
    DeviceTensor t;
    t.name = name;
    t.type = type;
    t.cols = parts[0]->shape[1];
    for (const WeightView* p : parts) t.rows += p->shape[0];
    t.parts = std::move(parts);
    t.bytes = *DTypeBytes(type, t.rows * t.cols);  // whole blocks: checked by Matrix()
    const bool quantized = GetDTypeInfo(type).quantized;
    if (quantized && !dequant_copies_) {
      plan_->max_dequant_elems = std::max(plan_->max_dequant_elems, t.rows * t.cols);
    }
    const int i = Add(std::move(t));
    if (quantized && dequant_copies_) {
      DeviceTensor& d = plan_->tensors[i];
      d.dense_bytes = d.rows * d.cols * GetDTypeInfo(plan_->act).block_bytes;
      d.dense_offset = arena_.Add(d.dense_bytes);
      plan_->total_bytes = arena_.size();
      plan_->dense_bytes += d.dense_bytes;
    }
    return i;
  }

  int AddVector(const std::string& name, std::vector<const WeightView*> parts, DType type) {
    DeviceTensor t;
    t.name = name;
    t.type = type;
    t.rows = 1;
    for (const WeightView* p : parts) t.cols += p->num_elements();
    t.parts = std::move(parts);
    t.bytes = t.cols * GetDTypeInfo(type).block_bytes;
    return Add(std::move(t));
  }

 private:
  int Add(DeviceTensor t) {
    t.offset = arena_.Add(t.bytes);
    plan_->total_bytes = arena_.size();
    plan_->tensors.push_back(std::move(t));
    return static_cast<int>(plan_->tensors.size()) - 1;
  }

  const Weights& weights_;
  DeviceWeightPlan* plan_;
  bool dequant_copies_;
  ArenaLayout arena_;
};

}  // namespace

Result<DeviceWeightPlan> PlanDeviceWeights(const Weights& weights, const DecoderSpec& s, DType act,
                                           bool allow_fusion, bool dequant_copies) {
  DeviceWeightPlan plan;
  plan.act = act;
  // float32 (validation) runs only the GEMVs: no cuBLASLt, so no use for copies.
  Planner p(weights, &plan, dequant_copies && (act == DType::kBF16 || act == DType::kF16));
  const auto dev = [act](const WeightView* w) { return DeviceWeightType(w->dtype, act); };

  HEARTH_ASSIGN_OR_RETURN(const WeightView* embed, p.Matrix("embed", s.vocab, s.hidden));
  plan.embed = p.AddMatrix("embed", {embed}, act);
  if (s.tied_embeddings) {
    plan.lm_head = GetDTypeInfo(embed->dtype).quantized
                       ? p.AddMatrix("lm_head", {embed}, embed->dtype)
                       : plan.embed;
  } else {
    HEARTH_ASSIGN_OR_RETURN(const WeightView* head, p.Matrix("lm_head", s.vocab, s.hidden));
    plan.lm_head = p.AddMatrix("lm_head", {head}, dev(head));
  }
  HEARTH_ASSIGN_OR_RETURN(const WeightView* final_norm, p.Vector("final_norm", s.hidden));
  plan.final_norm = p.AddVector("final_norm", {final_norm}, DType::kF32);

  // Fusion is decided for the whole model: every layer fuses or none does.
  struct Views {
    const WeightView *attn_norm, *wq, *wk, *wv, *wo, *bq = nullptr, *bk = nullptr, *bv = nullptr,
                                                     *q_norm = nullptr, *k_norm = nullptr,
                                                     *ffn_norm, *w_gate, *w_up, *w_down;
  };
  std::vector<Views> views(s.num_layers);
  plan.fused_qkv = allow_fusion;
  plan.fused_gate_up = allow_fusion;
  for (int i = 0; i < s.num_layers; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    Views& v = views[i];
    HEARTH_ASSIGN_OR_RETURN(v.attn_norm, p.Vector(pre + "attn_norm", s.hidden));
    HEARTH_ASSIGN_OR_RETURN(v.wq, p.Matrix(pre + "wq", s.q_width(), s.hidden));
    HEARTH_ASSIGN_OR_RETURN(v.wk, p.Matrix(pre + "wk", s.kv_width(), s.hidden));
    HEARTH_ASSIGN_OR_RETURN(v.wv, p.Matrix(pre + "wv", s.kv_width(), s.hidden));
    HEARTH_ASSIGN_OR_RETURN(v.wo, p.Matrix(pre + "wo", s.hidden, s.q_width()));
    if (s.qkv_bias) {
      HEARTH_ASSIGN_OR_RETURN(v.bq, p.Vector(pre + "bq", s.q_width()));
      HEARTH_ASSIGN_OR_RETURN(v.bk, p.Vector(pre + "bk", s.kv_width()));
      HEARTH_ASSIGN_OR_RETURN(v.bv, p.Vector(pre + "bv", s.kv_width()));
    }
    if (s.qk_norm) {
      HEARTH_ASSIGN_OR_RETURN(v.q_norm, p.Vector(pre + "q_norm", s.head_dim));
      HEARTH_ASSIGN_OR_RETURN(v.k_norm, p.Vector(pre + "k_norm", s.head_dim));
    }
    HEARTH_ASSIGN_OR_RETURN(v.ffn_norm, p.Vector(pre + "ffn_norm", s.hidden));
    HEARTH_ASSIGN_OR_RETURN(v.w_gate, p.Matrix(pre + "w_gate", s.ffn, s.hidden));
    HEARTH_ASSIGN_OR_RETURN(v.w_up, p.Matrix(pre + "w_up", s.ffn, s.hidden));
    HEARTH_ASSIGN_OR_RETURN(v.w_down, p.Matrix(pre + "w_down", s.hidden, s.ffn));
    plan.fused_qkv = plan.fused_qkv && CanFuse({v.wq->dtype, v.wk->dtype, v.wv->dtype}, act);
    plan.fused_gate_up = plan.fused_gate_up && CanFuse({v.w_gate->dtype, v.w_up->dtype}, act);
  }

  plan.layers.resize(s.num_layers);
  for (int i = 0; i < s.num_layers; ++i) {
    const std::string pre = "layers." + std::to_string(i) + ".";
    const Views& v = views[i];
    DeviceWeightPlan::Layer& l = plan.layers[i];
    l.attn_norm = p.AddVector(pre + "attn_norm", {v.attn_norm}, DType::kF32);
    if (plan.fused_qkv) {
      l.wqkv = p.AddMatrix(pre + "wqkv", {v.wq, v.wk, v.wv}, dev(v.wq));
      if (s.qkv_bias) l.bqkv = p.AddVector(pre + "bqkv", {v.bq, v.bk, v.bv}, act);
    } else {
      l.wq = p.AddMatrix(pre + "wq", {v.wq}, dev(v.wq));
      l.wk = p.AddMatrix(pre + "wk", {v.wk}, dev(v.wk));
      l.wv = p.AddMatrix(pre + "wv", {v.wv}, dev(v.wv));
      if (s.qkv_bias) {
        l.bq = p.AddVector(pre + "bq", {v.bq}, act);
        l.bk = p.AddVector(pre + "bk", {v.bk}, act);
        l.bv = p.AddVector(pre + "bv", {v.bv}, act);
      }
    }
    l.wo = p.AddMatrix(pre + "wo", {v.wo}, dev(v.wo));
    if (s.qk_norm) {
      l.q_norm = p.AddVector(pre + "q_norm", {v.q_norm}, DType::kF32);
      l.k_norm = p.AddVector(pre + "k_norm", {v.k_norm}, DType::kF32);
    }
    l.ffn_norm = p.AddVector(pre + "ffn_norm", {v.ffn_norm}, DType::kF32);
    if (plan.fused_gate_up) {
      l.w_gate_up = p.AddMatrix(pre + "w_gate_up", {v.w_gate, v.w_up}, dev(v.w_gate));
    } else {
      l.w_gate = p.AddMatrix(pre + "w_gate", {v.w_gate}, dev(v.w_gate));
      l.w_up = p.AddMatrix(pre + "w_up", {v.w_up}, dev(v.w_up));
    }
    l.w_down = p.AddMatrix(pre + "w_down", {v.w_down}, dev(v.w_down));
  }
  return plan;
}

Status CheckGpuMatmuls(const DeviceWeightPlan& plan, DType act, int max_tokens) {
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const DeviceTensor& t = plan.tensors[i];
    const bool lookup_only = static_cast<int>(i) == plan.embed && plan.lm_head != plan.embed;
    if (t.rows <= 1 || lookup_only) continue;  // vectors; the embedding table
    // float32 steps run at most kMaxGemvTokens tokens a call (CudaBackend::Linear).
    const int most = act == DType::kF32 ? std::min(max_tokens, kMaxGemvTokens) : max_tokens;
    for (int tokens : {1, most}) {
      const MatmulKernel k = SelectMatmulKernelForRun(t.type, act, tokens, static_cast<int>(t.rows),
                                                      static_cast<int>(t.cols), GemvOverride::kNone);
      // float32 runs only the GEMVs (no cuBLASLt for float32 activations).
      const bool runs =
          k != MatmulKernel::kUnsupported &&
          (act != DType::kF32 || k == MatmulKernel::kQuantGemv || k == MatmulKernel::kScalarGemv);
      if (!runs) {
        return UnimplementedError("CUDA runner: no GPU matmul for weight " + t.name + " (" +
                                  std::string(DTypeName(t.type)) + " [" + std::to_string(t.rows) +
                                  ", " + std::to_string(t.cols) + "]) with " +
                                  std::to_string(tokens) + " tokens of " +
                                  std::string(DTypeName(act)) + " activations (kernel " +
                                  std::string(MatmulKernelName(k)) + "); use --device cpu");
      }
    }
  }
  return Status::Ok();
}

DecoderWeights BindDeviceWeights(const DeviceWeightPlan& plan, const DecoderSpec& s,
                                 const uint8_t* base) {
  const auto ptr = [&](int i) -> const void* {
    return i < 0 ? nullptr : base + plan.tensors[i].offset;
  };
  const auto vec = [&](int i) { return static_cast<const float*>(ptr(i)); };
  const auto mat = [&](int i) {
    if (i < 0) return LinearWeight{};
    const DeviceTensor& t = plan.tensors[i];
    return LinearWeight{t.type, ptr(i), t.rows, t.cols,
                        t.dense_offset < 0 ? nullptr : base + t.dense_offset};
  };
  DecoderWeights d;
  d.embed = mat(plan.embed);
  d.lm_head = mat(plan.lm_head);
  d.final_norm = vec(plan.final_norm);
  d.layers.resize(s.num_layers);
  for (int i = 0; i < s.num_layers; ++i) {
    const DeviceWeightPlan::Layer& p = plan.layers[i];
    LayerWeights& l = d.layers[i];
    l.attn_norm = vec(p.attn_norm);
    l.wq = mat(p.wq);
    l.wk = mat(p.wk);
    l.wv = mat(p.wv);
    l.wo = mat(p.wo);
    l.bq = ptr(p.bq);
    l.bk = ptr(p.bk);
    l.bv = ptr(p.bv);
    l.q_norm = vec(p.q_norm);
    l.k_norm = vec(p.k_norm);
    l.ffn_norm = vec(p.ffn_norm);
    l.w_gate = mat(p.w_gate);
    l.w_up = mat(p.w_up);
    l.w_down = mat(p.w_down);
    l.wqkv = mat(p.wqkv);
    l.bqkv = ptr(p.bqkv);
    l.w_gate_up = mat(p.w_gate_up);
  }
  return d;
}

}  // namespace hearth::engine::model
