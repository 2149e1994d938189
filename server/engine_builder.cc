#include "server/engine_builder.h"

#include <cstdlib>
#include <filesystem>
#include <map>

#include "engine/cuda_runner_plan.h"
#include "engine/model_runner_factory.h"
#include "server/tokenizer_codec.h"

namespace hearth::server {

std::string DefaultModelPath() {
  const char* cache = std::getenv("HEARTH_CACHE");
  const char* home = std::getenv("HOME");
  const std::string dir =
      cache != nullptr ? cache : std::string(home != nullptr ? home : ".") + "/.cache/hearth";
  return dir + "/SmolLM2-135M-Instruct.Q4_1.gguf";
}

Result<BuiltEngine> BuildEngine(const ServerConfig& config, engine::EngineObserver* observer) {
  std::string path = config.model;
  if (path.empty()) {
    path = DefaultModelPath();
    if (!std::filesystem::exists(path))
      return NotFoundError("no --model given and the default model is not cached at " + path +
                           "; run scripts/fetch_default_model.sh");
  }
  BuiltEngine built;
  HEARTH_ASSIGN_OR_RETURN(built.model, LoadModel(path));
  HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<const engine::TextCodec> codec,
                          MakeTextCodec(*built.model));
  engine::RunnerOptions runner_options;
  runner_options.device = config.device;
  runner_options.dtype = config.dtype;
  runner_options.gpu_memory_fraction = config.gpu_memory_fraction;
  runner_options.cuda_graphs = config.cuda_graphs;
  runner_options.gpu_dequant_weights = config.gpu_dequant_weights;
  runner_options.cpu_matmul = config.cpu_matmul;
  runner_options.max_model_len = static_cast<int>(built.model->config().context_length);
  runner_options.block_size = config.block_size;
  runner_options.kv_cache_bytes = config.kv_cache_bytes;
  runner_options.max_num_seqs = config.max_seqs;
  runner_options.max_num_batched_tokens = config.max_batch_tokens;
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<engine::ModelRunner> runner,
                          engine::MakeModelRunner(*built.model, runner_options));

  const ModelConfig& mc = built.model->config();
  engine::EngineConfig ec;
  ec.scheduler.max_num_batched_tokens = config.max_batch_tokens;
  ec.scheduler.max_num_seqs = config.max_seqs;
  ec.scheduler.max_model_len = static_cast<int>(mc.context_length);
  ec.max_waiting_requests = config.max_waiting_requests;
  for (int64_t id : mc.eos_ids) ec.scheduler.eos_token_ids.push_back(static_cast<int32_t>(id));
  const bool has_template = codec->has_chat_template();
  HEARTH_ASSIGN_OR_RETURN(
      built.engine, engine::Engine::Create(ec, std::move(runner), std::move(codec), observer));

  v1::ModelInfo& info = built.info;
  info.set_name(std::filesystem::path(path).filename().string());
  info.set_architecture(std::string(ArchitectureName(mc.arch)));
  std::map<std::string, int> types;
  int64_t params = 0;
  int64_t weight_bytes = 0;
  for (const auto& [name, w] : built.model->weights().all()) {
    ++types[std::string(DTypeName(w.dtype))];
    params += w.num_elements();
    weight_bytes += static_cast<int64_t>(w.nbytes);
  }
  std::string mix;
  for (const auto& [t, n] : types) mix += (mix.empty() ? "" : " ") + t + ":" + std::to_string(n);
  info.set_num_parameters(params);
  info.set_weight_types(mix);
  info.set_vocab_size(static_cast<int32_t>(mc.vocab_size));
  info.set_context_length(static_cast<int32_t>(mc.context_length));
  info.set_bos_token_id(static_cast<int32_t>(mc.bos_id));
  for (int64_t id : mc.eos_ids) info.add_eos_token_ids(static_cast<int32_t>(id));
  info.set_has_chat_template(has_template);
  info.set_device(config.device);
  info.set_dtype(!config.dtype.empty() ? config.dtype
                 : config.device == "cpu" ? "f32"
                                          : "bfloat16");
  info.set_hearth_version(HEARTH_VERSION);
  // For the load generator's bandwidth figure. Weights are held in their stored type; the KV
  // cache holds activations' dtype (float32 on the CPU runner, 2-byte types on the GPU).
  info.set_weight_bytes(weight_bytes);
  const Result<DType> kv_dtype =
      engine::ParseActivationDType(info.dtype() == "f32" ? "float32" : info.dtype());
  const int64_t kv_element_bytes = kv_dtype.ok() ? GetDTypeInfo(*kv_dtype).block_bytes : 2;
  info.set_kv_bytes_per_token(2 * mc.num_layers * mc.num_kv_heads * mc.head_dim *
                              kv_element_bytes);
  return built;
}

}  // namespace hearth::server
