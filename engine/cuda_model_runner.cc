#include "engine/cuda_model_runner.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "engine/model/cuda_backend.h"
#include "engine/model/cuda_weights.h"
#include "engine/model/decoder.h"
#include "engine/model/device_weight_plan.h"
#include "kernels/attention/attention_plan.h"
#include "kernels/core/cuda_check.h"
#include "kernels/core/device.h"
#include "kernels/core/pdl.h"
#include "kernels/matmul/cublaslt_gemm.h"
#include "kernels/sampling/sampler.h"
#include "model_loader/loaded_model.h"

namespace hearth::engine {
namespace {

// Beyond weights, workspace and KV: cuBLASLt's workspace, the graphs, cuBLAS internals and
// allocator slack. Counted against the budget so that the fraction is an upper bound.
// (CublasLtGemm::kWorkspaceBytes is added to it below.)
constexpr int64_t kReserveBytes = int64_t{256} << 20;
// Penalty list entries the metadata buffer holds before it is grown (steps with penalties only).
constexpr int64_t kInitialPenaltyEntriesPerSeq = 256;

template <class T>
void Put(uint8_t* base, int64_t offset, const T* src, size_t count) {
  if (count > 0) std::memcpy(base + offset, src, count * sizeof(T));
}

cudaGraphExec_t AsExec(void* p) { return static_cast<cudaGraphExec_t>(p); }

}  // namespace

Result<std::unique_ptr<CudaModelRunner>> CudaModelRunner::Create(const LoadedModel& model,
                                                                 const CudaRunnerOptions& o) {
  const int count = GpuCount();
  if (o.device < 0 || o.device >= count) {
    return FailedPreconditionError("device cuda:" + std::to_string(o.device) + " not found (" +
                                   std::to_string(count) + " CUDA devices usable)");
  }
  if (o.block_size <= 0 || o.max_num_seqs <= 0 || o.max_num_batched_tokens <= 0) {
    return InvalidArgumentError(
        "CUDA runner: block_size, max_num_seqs and max_num_batched_tokens "
        "must be positive");
  }
  // The kernel choices the environment may override, refused here rather than at the first step.
  HEARTH_RETURN_IF_ERROR(SamplerFilterPathFromEnv().status());
  CUDA_CHECK(cudaSetDevice(o.device));
  const GpuInfo gpu = GetGpuInfo(o.device);
  std::unique_ptr<CudaModelRunner> r(new CudaModelRunner());
  r->options_ = o;
  HEARTH_ASSIGN_OR_RETURN(r->spec_, model::DecoderSpecFromConfig(model.config(), model.weights()));
  const model::DecoderSpec& s = r->spec_;
  HEARTH_RETURN_IF_ERROR(CheckGpuHeadDim(s.head_dim));
  HEARTH_RETURN_IF_ERROR(CheckGpuBlockSize(o.block_size, s.head_dim, o.dtype));
  // The tiny validation models' head sizes (8, 16, 32) have no tensor-core prefill: their
  // prefill runs the per-token decode path.
  const bool tensor_core_heads = attention::PrefillHeadDimOnTensorCores(s.head_dim);
  HEARTH_ASSIGN_OR_RETURN(
      model::DeviceWeightPlan wplan,
      model::PlanDeviceWeights(model.weights(), s, o.dtype, o.fuse_weights, o.dequant_weights));
  HEARTH_RETURN_IF_ERROR(
      model::CheckGpuMatmuls(wplan, o.dtype, std::max(o.max_num_batched_tokens, o.max_num_seqs)));

  const int64_t context = o.max_model_len > 0 ? o.max_model_len : model.config().context_length;
  const int max_len = static_cast<int>(std::clamp<int64_t>(context, 1, 1 << 24));
  r->table_width_ = (max_len + o.block_size - 1) / o.block_size;
  r->buckets_ = DecodeGraphBuckets(o.max_num_seqs);
  r->graphs_enabled_ = CudaGraphsEnabled(o.cuda_graphs, std::getenv("HEARTH_CUDA_GRAPHS"));
  r->graphs_.assign(r->buckets_.size(), nullptr);

  model::CudaBackendConfig bc;
  bc.act = o.dtype;
  bc.max_tokens = std::max(o.max_num_batched_tokens, r->buckets_.back());
  bc.max_rows = o.max_num_seqs;
  bc.max_seqs = o.max_num_seqs;
  bc.block_size = o.block_size;
  bc.fused_qkv = wplan.fused_qkv;
  bc.fused_gate_up = wplan.fused_gate_up;
  bc.sm_count = gpu.sm_count;
  bc.compute_capability = gpu.cc_major * 10 + gpu.cc_minor;
  bc.attention_workspace_bytes = AttentionWorkspaceBound(
      s.num_heads, s.num_kv_heads, s.head_dim, r->table_width_ * o.block_size,
      bc.max_seqs, bc.max_tokens, o.dtype == DType::kF32 || !tensor_core_heads, gpu.sm_count);
  bc.max_dequant_elems = wplan.max_dequant_elems;
  const int64_t penalty_capacity = int64_t{o.max_num_seqs} * kInitialPenaltyEntriesPerSeq;
  const MetadataLayout meta =
      PlanMetadata(bc.max_tokens, bc.max_seqs, r->table_width_, penalty_capacity);

  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  GpuMemoryBudget budget;
  budget.total_bytes = static_cast<int64_t>(total_bytes);
  budget.free_bytes = static_cast<int64_t>(free_bytes);
  budget.fraction = o.gpu_memory_fraction;
  budget.weights_bytes = wplan.total_bytes;
  budget.workspace_bytes = model::CudaBackend::WorkspaceBytes(s, bc) + meta.total_bytes +
                           SamplerOutputBytes(o.max_num_seqs);
  budget.reserve_bytes =
      kReserveBytes + static_cast<int64_t>(matmul_internal::CublasLtGemm::kWorkspaceBytes);
  budget.kv_bytes_per_block = model::CudaBackend::KvBytesPerBlock(s, o.block_size, o.dtype);
  // At least one full step's worth of blocks, unless the caller fixed the count (tests).
  budget.min_blocks =
      o.num_kv_blocks > 0
          ? 1
          : (std::min(max_len, o.max_num_batched_tokens) + o.block_size - 1) / o.block_size;
  budget.explicit_kv_bytes = o.kv_cache_bytes;
  if (o.num_kv_blocks > 0) budget.explicit_kv_bytes = o.num_kv_blocks * budget.kv_bytes_per_block;
  HEARTH_ASSIGN_OR_RETURN(r->num_kv_blocks_, KvBlocksFromBudget(budget));
  if (r->num_kv_blocks_ > INT32_MAX) r->num_kv_blocks_ = INT32_MAX;
  bc.num_kv_blocks = r->num_kv_blocks_;
  // No sequence is longer than the cache: the block table need not be wider.
  r->table_width_ = static_cast<int>(std::min<int64_t>(r->table_width_, r->num_kv_blocks_));

  r->memory_report_ =
      "hearth: cuda:" + std::to_string(o.device) + " " + gpu.name + ", " +
      std::string(ActivationDTypeName(o.dtype)) + ": weights " + BytesString(budget.weights_bytes) +
      (wplan.dense_bytes > 0 ? " (dequantized copies " + BytesString(wplan.dense_bytes) + ")"
                             : std::string()) +
      ", workspace " + BytesString(budget.workspace_bytes) + ", KV cache " +
      BytesString(r->num_kv_blocks_ * budget.kv_bytes_per_block) + " = " +
      std::to_string(r->num_kv_blocks_) + " blocks of " + std::to_string(o.block_size) +
      " tokens; device total " + BytesString(budget.total_bytes) + ", free at start " +
      BytesString(budget.free_bytes) + ", fraction " + std::to_string(o.gpu_memory_fraction) +
      "; CUDA graphs " + (r->graphs_enabled_ ? "on" : "off") + " (" +
      std::to_string(r->buckets_.size()) + " decode buckets up to " +
      std::to_string(r->buckets_.back()) + "); programmatic launches " +
      (cuda::PdlEnabled() ? "on" : "off") + " (HEARTH_PDL); fused QKV " +
      (wplan.fused_qkv ? "yes" : "no") + ", fused gate/up " + (wplan.fused_gate_up ? "yes" : "no");
  if (o.print_memory) std::fprintf(stderr, "%s\n", r->memory_report_.c_str());

  CUDA_CHECK(cudaStreamCreateWithFlags(&r->stream_, cudaStreamNonBlocking));
  HEARTH_ASSIGN_OR_RETURN(r->weights_, model::CudaWeights::Upload(wplan, s, r->stream_));
  HEARTH_ASSIGN_OR_RETURN(r->backend_, model::CudaBackend::Create(s, bc, r->stream_));
  HEARTH_RETURN_IF_ERROR(r->AllocateMetadata(penalty_capacity));
  CUDA_CHECK(cudaMalloc(&r->out_dev_, SamplerOutputBytes(o.max_num_seqs)));
  CUDA_CHECK(cudaMallocHost(&r->out_host_, SamplerOutputBytes(o.max_num_seqs)));
  return r;
}

CudaModelRunner::~CudaModelRunner() {
  // Possibly another thread than the engine's, and a step may still be queued (the engine
  // waits for its steps, a direct caller of Launch may not): nothing is freed under a kernel.
  cudaSetDevice(options_.device);
  if (stream_ != nullptr) cudaStreamSynchronize(stream_);
  DropGraphs();
  backend_.reset();
  weights_.reset();
  if (meta_dev_ != nullptr) cudaFree(meta_dev_);
  if (meta_host_ != nullptr) cudaFreeHost(meta_host_);
  if (out_dev_ != nullptr) cudaFree(out_dev_);
  if (out_host_ != nullptr) cudaFreeHost(out_host_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

int CudaModelRunner::num_graphs() const {
  return static_cast<int>(
      std::count_if(graphs_.begin(), graphs_.end(), [](void* g) { return g != nullptr; }));
}

void CudaModelRunner::DropGraphs() {
  for (void*& g : graphs_) {
    if (g != nullptr) cudaGraphExecDestroy(AsExec(g));
    g = nullptr;
  }
}

Status CudaModelRunner::AllocateMetadata(int64_t penalty_capacity) {
  const int max_tokens = std::max(options_.max_num_batched_tokens, buckets_.back());
  const MetadataLayout layout =
      PlanMetadata(max_tokens, options_.max_num_seqs, table_width_, penalty_capacity);
  // The new buffers first: if either allocation fails, the old ones (and the graphs that hold
  // their addresses) stay as they were and the runner stays usable.
  uint8_t* host = nullptr;
  uint8_t* dev = nullptr;
  if (const cudaError_t e = cudaMallocHost(&host, layout.total_bytes); e != cudaSuccess) {
    (void)cudaGetLastError();
    return ResourceExhaustedError("CUDA runner: cudaMallocHost of " +
                                  BytesString(layout.total_bytes) +
                                  " of step metadata failed: " + cudaGetErrorString(e));
  }
  if (const cudaError_t e = cudaMalloc(&dev, layout.total_bytes); e != cudaSuccess) {
    (void)cudaGetLastError();
    cudaFreeHost(host);
    return ResourceExhaustedError("CUDA runner: cudaMalloc of " +
                                  BytesString(layout.total_bytes) +
                                  " of step metadata failed: " + cudaGetErrorString(e));
  }
  // Graphs hold the old device addresses: they go with the old buffers, which no queued work
  // may still read.
  DropGraphs();
  if (meta_dev_ != nullptr || meta_host_ != nullptr) CUDA_CHECK(cudaStreamSynchronize(stream_));
  if (meta_dev_ != nullptr) cudaFree(meta_dev_);
  if (meta_host_ != nullptr) cudaFreeHost(meta_host_);
  meta_ = layout;
  meta_host_ = host;
  meta_dev_ = dev;
  model::DeviceStepArrays a;
  a.token_ids = reinterpret_cast<const int32_t*>(meta_dev_ + meta_.token_ids);
  a.positions = reinterpret_cast<const int32_t*>(meta_dev_ + meta_.positions);
  a.slot_mapping = reinterpret_cast<const int64_t*>(meta_dev_ + meta_.slot_mapping);
  a.query_start_loc = reinterpret_cast<const int32_t*>(meta_dev_ + meta_.query_start_loc);
  a.seq_lens = reinterpret_cast<const int32_t*>(meta_dev_ + meta_.seq_lens);
  a.block_tables = reinterpret_cast<const int32_t*>(meta_dev_ + meta_.block_tables);
  a.logits_indices = reinterpret_cast<const int32_t*>(meta_dev_ + meta_.logits_indices);
  backend_->SetStepArrays(a);
  return Status::Ok();
}

Status CudaModelRunner::EnsurePenaltyCapacity(int64_t entries) {
  if (entries <= meta_.penalty_capacity) return Status::Ok();
  return AllocateMetadata(std::max(entries, 2 * meta_.penalty_capacity));
}

Status CudaModelRunner::CheckPlan(const StepPlan& p) const {
  if (p.block_size != options_.block_size) {
    return InvalidArgumentError("CUDA runner: plan block_size " + std::to_string(p.block_size) +
                                " != KV cache block_size " + std::to_string(options_.block_size));
  }
  // Token ids too: the embedding kernel cannot report a bad one (it writes a zero row).
  HEARTH_RETURN_IF_ERROR(model::ValidateStepPlan(p, spec_.vocab, "CUDA runner"));
  if (p.num_tokens > meta_.max_tokens || p.num_seqs > meta_.max_seqs ||
      static_cast<int>(p.logits_indices.size()) > meta_.max_seqs ||
      p.max_blocks_per_seq > table_width_) {
    return InvalidArgumentError(
        "CUDA runner: step of " + std::to_string(p.num_tokens) + " tokens, " +
        std::to_string(p.num_seqs) + " sequences, " + std::to_string(p.logits_indices.size()) +
        " sampled rows, block tables of width " + std::to_string(p.max_blocks_per_seq) +
        " exceeds the runner's capacity (" + std::to_string(meta_.max_tokens) + ", " +
        std::to_string(meta_.max_seqs) + ", " + std::to_string(table_width_) +
        "; rows at most max_num_seqs)");
  }
  return Status::Ok();
}

Status CudaModelRunner::Stage(const StepPlan& p, const SamplingBatch* sampling,
                              const StepPlan& table_source) {
  const size_t t = static_cast<size_t>(p.num_tokens);
  const size_t rows = p.logits_indices.size();
  bool penalties = false;
  if (sampling != nullptr && !sampling->penalty_offsets.empty()) {
    HEARTH_RETURN_IF_ERROR(
        EnsurePenaltyCapacity(static_cast<int64_t>(sampling->penalty_tokens.size())));
    penalties = true;
  }
  uint8_t* h = meta_host_;
  Put(h, meta_.slot_mapping, p.slot_mapping.data(), t);
  Put(h, meta_.token_ids, p.token_ids.data(), t);
  Put(h, meta_.positions, p.positions.data(), t);
  Put(h, meta_.query_start_loc, p.query_start_loc.data(), p.query_start_loc.size());
  Put(h, meta_.seq_lens, p.seq_lens.data(), p.seq_lens.size());
  Put(h, meta_.logits_indices, p.logits_indices.data(), rows);
  if (sampling != nullptr) {
    // Only the real rows sample; a padded plan's extra rows have no sampling entry.
    Put(h, meta_.sampling_params, sampling->params.data(), sampling->params.size());
    Put(h, meta_.sampling_steps, sampling->steps.data(), sampling->steps.size());
    Put(h, meta_.penalty_offsets, sampling->penalty_offsets.data(),
        sampling->penalty_offsets.size());
  }
  // The block table: the source plan's rows at the pitch the step's kernels use (a padded
  // decode step's is the graph's fixed width; only the used entries are written and sent).
  const TableStaging table = PlanTableStaging(table_source, p.max_blocks_per_seq);
  PackTableRows(table_source, table, reinterpret_cast<int32_t*>(h + meta_.block_tables));
  if (table.pitch == table.width) {  // one copy: the arrays and the table behind them
    CUDA_CHECK(cudaMemcpyAsync(meta_dev_, meta_host_, meta_.block_tables + table.bytes(),
                               cudaMemcpyHostToDevice, stream_));
  } else {
    CUDA_CHECK(cudaMemcpyAsync(meta_dev_, meta_host_, meta_.block_tables, cudaMemcpyHostToDevice,
                               stream_));
    if (table.bytes() > 0) {
      const size_t pitch_bytes = static_cast<size_t>(table.pitch) * 4;
      CUDA_CHECK(cudaMemcpy2DAsync(meta_dev_ + meta_.block_tables, pitch_bytes,
                                   meta_host_ + meta_.block_tables, pitch_bytes,
                                   static_cast<size_t>(table.width) * 4, table.rows,
                                   cudaMemcpyHostToDevice, stream_));
    }
  }
  if (penalties) {
    const size_t n = sampling->penalty_tokens.size();
    Put(h, meta_.penalty_tokens, sampling->penalty_tokens.data(), n);
    Put(h, meta_.penalty_counts, sampling->penalty_counts.data(), n);
    for (int64_t offset : {meta_.penalty_tokens, meta_.penalty_counts}) {
      CUDA_CHECK(cudaMemcpyAsync(meta_dev_ + offset, meta_host_ + offset, 4 * n,
                                 cudaMemcpyHostToDevice, stream_));
    }
  }
  return Status::Ok();
}

Status CudaModelRunner::RunEager(const StepPlan& plan) {
  HEARTH_ASSIGN_OR_RETURN(model::DecoderBuffers b,
                          model::RunDecoder(spec_, weights_->decoder(), plan, *backend_));
  (void)b;
  return backend_->LogitsToF32(static_cast<int64_t>(plan.logits_indices.size()));
}

Status CudaModelRunner::CaptureGraph(const StepPlan& plan, int bucket_index) {
  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  const Status body = RunEager(plan);
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
  if (!body.ok()) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    return body;
  }
  CUDA_CHECK(end);
  cudaGraphExec_t exec = nullptr;
  const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CUDA_CHECK(inst);
  graphs_[bucket_index] = exec;
  return Status::Ok();
}

Status CudaModelRunner::Forward(const StepPlan& plan, const SamplingBatch* sampling) {
  CUDA_CHECK(cudaSetDevice(options_.device));  // the engine thread is not the creating thread
  HEARTH_RETURN_IF_ERROR(CheckPlan(plan));
  const int bucket =
      IsPureDecode(plan, table_width_) ? ChooseGraphBucket(buckets_, plan.num_seqs) : 0;
  if (bucket == 0) {
    HEARTH_RETURN_IF_ERROR(Stage(plan, sampling, plan));
    return RunEager(plan);
  }
  // The padded plan has no host block table: Stage sends the real rows of `plan`'s at its pitch.
  const StepPlan padded = PadDecodePlan(plan, bucket, table_width_);
  HEARTH_RETURN_IF_ERROR(Stage(padded, sampling, plan));
  const int index =
      static_cast<int>(std::find(buckets_.begin(), buckets_.end(), bucket) - buckets_.begin());
  if (graphs_enabled_ && graphs_[index] != nullptr) {
    CUDA_CHECK(cudaGraphLaunch(AsExec(graphs_[index]), stream_));
    return Status::Ok();
  }
  // First step of this bucket (or graphs off): run it eagerly, which also warms up what capture
  // must not do (cuBLASLt plan creation, scratch growth); then capture for the next ones.
  HEARTH_RETURN_IF_ERROR(RunEager(padded));
  if (graphs_enabled_) {
    const Status captured = CaptureGraph(padded, index);
    if (!captured.ok()) {
      std::fprintf(stderr,
                   "hearth: CUDA graph capture for decode batch %d failed, graphs off: %s\n",
                   bucket, captured.ToString().c_str());
      (void)cudaGetLastError();
      graphs_enabled_ = false;
    }
  }
  return Status::Ok();
}

Status CudaModelRunner::ExecuteLogits(const StepPlan& plan, std::vector<float>* logits) {
  if (launched_rows_ >= 0)
    return FailedPreconditionError("CUDA runner: ExecuteLogits while a step is in flight");
  if (Status s = Forward(plan, nullptr); !s.ok()) {
    // As in Launch: queued work may still read the pinned staging the next call rewrites.
    (void)cudaStreamSynchronize(stream_);
    return s;
  }
  const size_t n = plan.logits_indices.size() * static_cast<size_t>(spec_.vocab);
  logits->resize(n);
  if (n > 0) {
    CUDA_CHECK(cudaMemcpyAsync(logits->data(), backend_->logits_f32(), n * sizeof(float),
                               cudaMemcpyDeviceToHost, stream_));
  }
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

Status CudaModelRunner::Execute(const StepPlan& plan, const SamplingBatch& sampling,
                                StepResult* result) {
  HEARTH_RETURN_IF_ERROR(Launch(plan, sampling));
  return Wait(result);
}

Status CudaModelRunner::Launch(const StepPlan& plan, const SamplingBatch& sampling) {
  if (launched_rows_ >= 0)
    return FailedPreconditionError("CUDA runner: Launch while a step is in flight (Wait first)");
  const Status enqueued = Enqueue(plan, sampling);
  if (!enqueued.ok()) {
    // Part of the step may be enqueued and still read the pinned staging buffer, which the next
    // Launch rewrites: let it finish (its own error, if any, is the one already returned).
    (void)cudaStreamSynchronize(stream_);
    return enqueued;
  }
  launched_rows_ = static_cast<int>(plan.logits_indices.size());
  return Status::Ok();
}

Status CudaModelRunner::Enqueue(const StepPlan& plan, const SamplingBatch& sampling) {
  const int rows = static_cast<int>(plan.logits_indices.size());
  HEARTH_RETURN_IF_ERROR(ValidateSamplingBatch(sampling, rows, "CUDA runner"));
  for (const ::hearth::SamplingParams& p : sampling.params) {
    HEARTH_RETURN_IF_ERROR(ValidateSamplingParams(p));  // the kernels read them unchecked
  }
  HEARTH_RETURN_IF_ERROR(Forward(plan, &sampling));
  if (rows == 0) return Status::Ok();  // a step of prefill chunks only: nothing samples
  PenaltyLists penalties;
  if (!sampling.penalty_offsets.empty()) {
    penalties.offsets = reinterpret_cast<const int32_t*>(meta_dev_ + meta_.penalty_offsets);
    penalties.tokens = reinterpret_cast<const int32_t*>(meta_dev_ + meta_.penalty_tokens);
    penalties.output_counts = reinterpret_cast<const int32_t*>(meta_dev_ + meta_.penalty_counts);
  }
  // Outputs packed for `rows` rows (SamplerOutputBytes): one copy back.
  const int64_t r = rows;
  SamplerOutputs out;
  out.token_ids = reinterpret_cast<int32_t*>(out_dev_);
  out.token_logprobs = reinterpret_cast<float*>(out_dev_ + 4 * r);
  out.top_ids = reinterpret_cast<int32_t*>(out_dev_ + 8 * r);
  out.top_logprobs = reinterpret_cast<float*>(out_dev_ + (8 + 4 * kMaxLogprobs) * r);
  HEARTH_RETURN_IF_ERROR(Sample(
      backend_->logits_f32(), rows, spec_.vocab,
      reinterpret_cast<const ::hearth::SamplingParams*>(meta_dev_ + meta_.sampling_params),
      reinterpret_cast<const int64_t*>(meta_dev_ + meta_.sampling_steps), penalties, out, stream_));
  CUDA_CHECK(cudaMemcpyAsync(out_host_, out_dev_, SamplerOutputBytes(rows), cudaMemcpyDeviceToHost,
                             stream_));
  return Status::Ok();
}

Status CudaModelRunner::Wait(StepResult* result) {
  if (launched_rows_ < 0)
    return FailedPreconditionError("CUDA runner: Wait without a launched step");
  const int64_t r = std::exchange(launched_rows_, -1);
  // The step's only synchronization: an asynchronous fault of any of its kernels surfaces here.
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  result->token_ids.resize(r);
  result->token_logprobs.resize(r);
  result->top_ids.resize(static_cast<size_t>(r) * kMaxLogprobs);
  result->top_logprobs.resize(static_cast<size_t>(r) * kMaxLogprobs);
  if (r == 0) return Status::Ok();
  std::memcpy(result->token_ids.data(), out_host_, 4 * r);
  std::memcpy(result->token_logprobs.data(), out_host_ + 4 * r, 4 * r);
  std::memcpy(result->top_ids.data(), out_host_ + 8 * r, 4 * kMaxLogprobs * r);
  std::memcpy(result->top_logprobs.data(), out_host_ + (8 + 4 * kMaxLogprobs) * r,
              4 * kMaxLogprobs * r);
  return Status::Ok();
}

}  // namespace hearth::engine
