#include "server/server_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace hearth::server {

Status LoadConfigFile(const std::string& path, ServerConfig* c) {
  std::ifstream in(path);
  if (!in) return NotFoundError("config file " + path + " cannot be opened");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return InvalidArgumentError("config file " + path + " is not valid JSON: " + e.what());
  }
  if (!j.is_object()) return InvalidArgumentError("config file " + path + " must hold an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    try {
      if (key == "address")
        c->address = v.get<std::string>();
      else if (key == "port")
        c->port = v.get<int>();
      else if (key == "metrics_port")
        c->metrics_port = v.get<int>();
      else if (key == "http_port")
        c->http_port = v.get<int>();
      else if (key == "http_threads")
        c->http_threads = v.get<int>();
      else if (key == "model")
        c->model = v.get<std::string>();
      else if (key == "device")
        c->device = v.get<std::string>();
      else if (key == "dtype")
        c->dtype = v.get<std::string>();
      else if (key == "gpu_memory_fraction")
        c->gpu_memory_fraction = v.get<double>();
      else if (key == "cuda_graphs")
        c->cuda_graphs = v.get<bool>();
      else if (key == "gpu_dequant_weights")
        c->gpu_dequant_weights = v.get<bool>();
      else if (key == "cpu_matmul")
        c->cpu_matmul = v.get<std::string>();
      else if (key == "max_batch_tokens")
        c->max_batch_tokens = v.get<int>();
      else if (key == "max_seqs")
        c->max_seqs = v.get<int>();
      else if (key == "kv_cache_bytes")
        c->kv_cache_bytes = v.get<int64_t>();
      else if (key == "block_size")
        c->block_size = v.get<int>();
      else if (key == "max_waiting")
        c->max_waiting_requests = v.get<int>();
      else if (key == "drain_timeout")
        c->drain_timeout_s = v.get<double>();
      else if (key == "gpu_price_per_hour")
        c->gpu_price_per_hour = v.get<double>();
      else if (key == "max_tenants")
        c->max_tenants = v.get<int>();
      else if (key == "api_keys")
        c->api_keys_file = v.get<std::string>();
      else if (key == "tls_cert")
        c->tls_cert_file = v.get<std::string>();
      else if (key == "tls_key")
        c->tls_key_file = v.get<std::string>();
      else if (key == "tls_client_ca")
        c->tls_client_ca_file = v.get<std::string>();
      else if (key == "max_prompt_bytes")
        c->limits.max_prompt_bytes = v.get<int64_t>();
      else if (key == "max_prompt_tokens")
        c->limits.max_prompt_tokens = v.get<int>();
      else if (key == "default_max_tokens")
        c->limits.default_max_tokens = v.get<int>();
      else
        return InvalidArgumentError("config file " + path + ": unknown key \"" + key + "\"");
    } catch (const std::exception& e) {
      return InvalidArgumentError("config file " + path + ": key \"" + key +
                                  "\" has the wrong type: " + e.what());
    }
  }
  return Status::Ok();
}

Status ValidateServerConfig(const ServerConfig& c) {
  auto bad = [](const std::string& m) { return InvalidArgumentError("config: " + m); };
  if (c.port < 0 || c.port > 65535) return bad("port must be in [0, 65535]");
  if (c.metrics_port < -1 || c.metrics_port > 65535)
    return bad("metrics_port must be in [-1, 65535] (-1 = off)");
  if (c.http_port < -1 || c.http_port > 65535)
    return bad("http_port must be in [-1, 65535] (-1 = off)");
  if (c.http_threads < 0 || c.http_threads > 10000)
    return bad("http_threads must be in [0, 10000] (0 = max_seqs + max_waiting_requests + 32)");
  if (c.max_batch_tokens < 1) return bad("max_batch_tokens must be >= 1");
  if (c.max_seqs < 1) return bad("max_seqs must be >= 1");
  if (c.kv_cache_bytes < 0) return bad("kv_cache_bytes must be >= 0");
  if (!(c.gpu_memory_fraction > 0 && c.gpu_memory_fraction <= 1))
    return bad("gpu_memory_fraction must be in (0, 1]");
  if (c.block_size < 1 || c.block_size > 1024) return bad("block_size must be in [1, 1024]");
  if (c.max_waiting_requests < 1) return bad("max_waiting_requests must be >= 1");
  if (c.max_tenants < 1 || c.max_tenants > 100000) return bad("max_tenants must be in [1, 100000]");
  if (!(c.drain_timeout_s >= 0 && c.drain_timeout_s <= 3600))
    return bad("drain_timeout_s must be in [0, 3600]");
  if (!(c.gpu_price_per_hour >= 0)) return bad("gpu_price_per_hour must be >= 0");
  if (c.tls_cert_file.empty() != c.tls_key_file.empty())
    return bad("tls_cert_file and tls_key_file go together");
  if (!c.tls_client_ca_file.empty() && c.tls_cert_file.empty())
    return bad("tls_client_ca_file (mTLS) needs tls_cert_file and tls_key_file");
  if (c.limits.max_prompt_bytes < 1) return bad("max_prompt_bytes must be >= 1");
  if (c.limits.max_prompt_tokens < 0) return bad("max_prompt_tokens must be >= 0");
  if (c.limits.default_max_tokens < 1) return bad("default_max_tokens must be >= 1");
  return Status::Ok();
}

size_t HttpWorkers(const ServerConfig& config) {
  if (config.http_threads > 0) return static_cast<size_t>(config.http_threads);
  return static_cast<size_t>(config.max_seqs) + static_cast<size_t>(config.max_waiting_requests) +
         32;
}

}  // namespace hearth::server
