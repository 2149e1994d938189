// From a model path to a running Engine: load the weights, build the tokenizer (TextCodec) and
// the model runner (engine/model_runner_factory), start the engine thread. Shared by
// `hearth serve` and `hearth generate`.
#pragma once

#include <memory>
#include <string>

#include "engine/engine.h"
#include "hearth/v1/inference.pb.h"
#include "model_loader/loaded_model.h"
#include "server/server_config.h"

namespace hearth::server {

struct BuiltEngine {
  std::unique_ptr<LoadedModel> model;  // must outlive the engine (weights are mmapped)
  std::unique_ptr<engine::Engine> engine;
  v1::ModelInfo info;
};

// ${HEARTH_CACHE:-~/.cache/hearth}/SmolLM2-135M-Instruct.Q4_1.gguf, as
// scripts/fetch_default_model.sh caches it.
std::string DefaultModelPath();

Result<BuiltEngine> BuildEngine(const ServerConfig& config, engine::EngineObserver* observer);

}  // namespace hearth::server
