// ServerConfig: everything `hearth serve` can be told, from flags and an optional JSON config
// file (keys are the long flags with '_' for '-', e.g. "max_batch_tokens", "api_keys"; flags
// given on the command line win). Validated with messages that name the setting and its limit.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/core/status.h"

namespace hearth::server {

// Per-request limits (GetModelInfo reports the values in force).
struct RequestLimits {
  int64_t max_prompt_bytes = 4 << 20;  // text or chat content, bytes
  int max_prompt_tokens = 0;           // 0 = the engine's max sequence length - 1
  int default_max_tokens = 256;
  int max_stop_strings = 16;
  int max_stop_string_bytes = 256;
  int max_stop_token_ids = 64;
  int max_chat_messages = 1024;
  int max_request_id_bytes = 128;
  int max_tenant_bytes = 64;
};

struct ServerConfig {
  std::string address = "0.0.0.0";
  int port = 50051;         // gRPC; 0 = pick a free port
  int metrics_port = 9090;  // Prometheus /metrics over HTTP; 0 = pick, -1 = off
  int http_port = -1;       // OpenAI-compatible HTTP API; 0 = pick, -1 = off
  int http_threads = 0;     // most HTTP workers (one per open connection); 0: HttpWorkers' default
  std::string model;        // GGUF file or HF directory; "" = the default model
  std::string device = "cpu";
  std::string dtype;                 // bfloat16 | float16 | float32; "" = the device's default
  double gpu_memory_fraction = 0.9;  // CUDA: of device memory for weights + workspace + KV cache
  bool cuda_graphs = true;           // CUDA: decode steps replayed as graphs
  bool gpu_dequant_weights = false;  // CUDA: quantized matrices also kept in bf16/fp16
  std::string cpu_matmul;            // CPU: f32 (the default) | int8 (8-bit activations)
  int max_batch_tokens = 2048;
  int max_seqs = 256;
  int64_t kv_cache_bytes = 0;  // 0 = the runner's default
  int block_size = 16;
  int max_waiting_requests = 1024;
  double drain_timeout_s = 30;
  double gpu_price_per_hour = 0;  // USD, for cost per million tokens
  int max_tenants = 256;          // tenants kept apart in the metrics (Metrics::kOtherTenants)
  std::string api_keys_file;      // JSON object {"key": "tenant", ...}; "" = no auth
  std::string tls_cert_file;      // PEM; with tls_key_file enables TLS
  std::string tls_key_file;
  std::string tls_client_ca_file;  // PEM; requires and verifies client certificates (mTLS)
  RequestLimits limits;
};

// Overlays the keys present in a JSON config file onto `config`; unknown keys are errors.
Status LoadConfigFile(const std::string& path, ServerConfig* config);
Status ValidateServerConfig(const ServerConfig& config);

// The most HTTP workers: http_threads, or by default one for every request the engine can
// admit (max_seqs running + max_waiting_requests waiting; each holds its connection's worker to
// its last token) plus 32 for idle keep-alive connections, probes and refusals.
size_t HttpWorkers(const ServerConfig& config);

}  // namespace hearth::server
