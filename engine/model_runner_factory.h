// MakeModelRunner: the one place that picks a ModelRunner implementation for a loaded model.
// The server and `hearth generate` call it; tests construct fakes directly.
#pragma once

#include <memory>
#include <string>

#include "engine/model_runner.h"
#include "kernels/core/status.h"
#include "model_loader/loaded_model.h"

namespace hearth::engine {

struct RunnerOptions {
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"
  // Activations and KV cache: "bfloat16" (the CUDA default), "float16", "float32" (validation;
  // the CPU runner's only dtype). "" = the device's default.
  std::string dtype;
  int block_size = 16;         // tokens per KV block
  int64_t kv_cache_bytes = 0;  // KV-cache memory; 0 = the runner's default (CUDA: the fraction)
  double gpu_memory_fraction = 0.9;  // CUDA: of total device memory, weights + workspace + KV
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
  int max_model_len = 0;    // 0 = the model's context length (CUDA: block-table width)
  bool cuda_graphs = true;  // CUDA: decode steps as graphs (also HEARTH_CUDA_GRAPHS=0)
  // CUDA: quantized matrices also kept in the activation dtype for large steps
  // (CudaRunnerOptions::dequant_weights).
  bool gpu_dequant_weights = false;
  // CPU: the linear layers' activations, "f32" (float32, the reference; "" = f32) or "int8"
  // (8-bit, for every GGUF block type: MatmulCpuInt8). Ignored by the CUDA runner.
  std::string cpu_matmul;
};

// Errors: an unknown device or dtype, a CUDA device in a build without CUDA, a model that does
// not fit on the device (bytes needed vs available), the runners' own errors.
Result<std::unique_ptr<ModelRunner>> MakeModelRunner(const LoadedModel& model,
                                                     const RunnerOptions& options);

}  // namespace hearth::engine
