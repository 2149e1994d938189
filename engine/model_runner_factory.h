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
  std::string device = "cpu";  // "cpu" or "cuda[:N]"
  int block_size = 16;         // tokens per KV block
  int64_t kv_cache_bytes = 0;  // KV-cache memory; 0 = the runner's default
  int max_num_seqs = 256;
  int max_num_batched_tokens = 2048;
};

Result<std::unique_ptr<ModelRunner>> MakeModelRunner(const LoadedModel& model,
                                                     const RunnerOptions& options);

}  // namespace hearth::engine
