// hearth serve: the gRPC server (and, with --http-port, the OpenAI-compatible HTTP API).
// SIGTERM / SIGINT drain (health NOT_SERVING, new requests UNAVAILABLE, running streams finish
// within --drain-timeout) and exit 0.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>

#include "server/cli.h"
#include "server/engine_builder.h"
#include "server/hearth_server.h"
#include "server/termination_signal.h"

namespace hearth::cli {
namespace {

int Serve(server::ServerConfig config, const std::string& config_file,
          const std::function<void(server::ServerConfig&)>& apply_flags) {
  // Every thread started from here on inherits the blocked mask; this thread takes the signals.
  server::BlockTerminationSignals();

  if (!config_file.empty()) {
    if (Status s = server::LoadConfigFile(config_file, &config); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
      return 2;
    }
  }
  apply_flags(config);  // flags given on the command line win over the file
  if (Status s = server::ValidateServerConfig(config); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 2;
  }
  server::ApiKeys keys;
  if (!config.api_keys_file.empty()) {
    Result<server::ApiKeys> loaded = server::ApiKeys::FromFile(config.api_keys_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "error: %s\n", loaded.status().ToString().c_str());
      return 2;
    }
    keys = std::move(*loaded);
  }
  auto metrics = std::make_unique<server::Metrics>(config.gpu_price_per_hour, config.max_tenants);
  Result<server::BuiltEngine> built = server::BuildEngine(config, metrics.get());
  if (!built.ok()) {
    std::fprintf(stderr, "error: %s\n", built.status().ToString().c_str());
    return 1;
  }
  Result<std::unique_ptr<server::HearthServer>> srv = server::HearthServer::Start(
      config, std::move(built->engine), std::move(metrics), built->info, std::move(keys));
  if (!srv.ok()) {
    std::fprintf(stderr, "error: %s\n", srv.status().ToString().c_str());
    return 1;
  }
  if ((*srv)->http_port() >= 0)
    std::printf("hearth: OpenAI-compatible HTTP API on %s://%s:%d/v1\n",
                config.tls_cert_file.empty() ? "http" : "https", config.address.c_str(),
                (*srv)->http_port());
  // On stdout, one line, so that scripts can find the ports (either may be picked by the OS).
  std::printf("hearth: serving %s on %s:%d (metrics port %d)\n", built->info.name().c_str(),
              config.address.c_str(), (*srv)->port(), (*srv)->metrics_port());
  std::fflush(stdout);
  const int sig = server::WaitForTerminationSignal();
  std::fprintf(stderr, "hearth: %s, draining (up to %g s)\n",
               sig == SIGTERM ? "SIGTERM" : "SIGINT", config.drain_timeout_s);
  const engine::DrainResult d =
      (*srv)->Drain(std::chrono::milliseconds(static_cast<int64_t>(config.drain_timeout_s * 1e3)));
  std::fprintf(stderr, "hearth: drained: %d completed, %d aborted\n", d.completed, d.aborted);
  (*srv)->Shutdown();
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("serve", "Serve a model over gRPC (hearth.v1)");
  auto config_file = std::make_shared<std::string>();
  cmd->add_option("--config", *config_file,
                  "JSON config file (keys as the long flags, '_' for '-'); flags win");
  // Each flag writes into its own variable; only flags actually given override the file.
  using Setter = std::function<void(server::ServerConfig&)>;
  auto flags = std::make_shared<std::vector<std::pair<CLI::Option*, Setter>>>();
  auto flag = [&](const char* name, auto field, const char* help) {
    server::ServerConfig defaults;
    using T = std::decay_t<decltype(field(defaults))>;
    auto value = std::make_shared<T>(field(defaults));
    CLI::Option* opt = cmd->add_option(name, *value, help);
    flags->emplace_back(opt, [value, field](server::ServerConfig& c) { field(c) = *value; });
  };
  using C = server::ServerConfig;
  flag(
      "--model", [](C & c) -> auto& { return c.model; },
      "GGUF file or HF directory (default: the cached SmolLM2-135M-Instruct)");
  flag(
      "--address", [](C & c) -> auto& { return c.address; }, "listen address (0.0.0.0)");
  flag(
      "--port", [](C & c) -> auto& { return c.port; }, "gRPC port (50051; 0 = any free)");
  flag(
      "--metrics-port", [](C & c) -> auto& { return c.metrics_port; },
      "Prometheus /metrics port (9090; -1 = off)");
  flag(
      "--http-port", [](C & c) -> auto& { return c.http_port; },
      "OpenAI-compatible HTTP API port (-1 = off, the default; 0 = any free)");
  flag(
      "--http-threads", [](C & c) -> auto& { return c.http_threads; },
      "Most HTTP worker threads, one per open connection, started on demand (0 = max-seqs + "
      "max-waiting + 32)");
  flag(
      "--device", [](C & c) -> auto& { return c.device; }, "cpu or cuda[:N] (cpu)");
  flag(
      "--dtype", [](C & c) -> auto& { return c.dtype; },
      "bfloat16, float16 or float32 (cuda: bfloat16; cpu: float32 only)");
  flag(
      "--gpu-memory-fraction", [](C & c) -> auto& { return c.gpu_memory_fraction; },
      "cuda: share of device memory for weights, workspace and KV cache (0.9)");
  flag(
      "--cuda-graphs", [](C & c) -> auto& { return c.cuda_graphs; },
      "cuda: replay decode steps as CUDA graphs (true; HEARTH_CUDA_GRAPHS=0 also turns off)");
  flag(
      "--gpu-dequant-weights", [](C & c) -> auto& { return c.gpu_dequant_weights; },
      kGpuDequantWeightsHelp);
  flag(
      "--cpu-matmul", [](C & c) -> auto& { return c.cpu_matmul; }, kCpuMatmulHelp);
  flag(
      "--max-batch-tokens", [](C & c) -> auto& { return c.max_batch_tokens; },
      "tokens per engine step (2048)");
  flag(
      "--max-seqs", [](C & c) -> auto& { return c.max_seqs; }, "running sequences (256)");
  flag(
      "--kv-cache-bytes", [](C & c) -> auto& { return c.kv_cache_bytes; },
      "KV-cache memory in bytes (0 = the runner's default)");
  flag(
      "--block-size", [](C & c) -> auto& { return c.block_size; }, "tokens per KV block (16)");
  flag(
      "--max-waiting", [](C & c) -> auto& { return c.max_waiting_requests; },
      "waiting requests beyond which RESOURCE_EXHAUSTED (1024)");
  flag(
      "--drain-timeout", [](C & c) -> auto& { return c.drain_timeout_s; },
      "seconds running streams may take to finish on drain (30)");
  flag(
      "--gpu-price-per-hour", [](C & c) -> auto& { return c.gpu_price_per_hour; },
      "USD per device-hour, for the cost metrics (0)");
  flag(
      "--max-tenants", [](C & c) -> auto& { return c.max_tenants; },
      "tenants kept apart in the metrics and GetLoad; later new ones count together as "
      "\"(other)\" (256)");
  flag(
      "--api-keys", [](C & c) -> auto& { return c.api_keys_file; },
      "JSON file {\"key\": \"tenant\"} (an operator's key: {\"key\": {\"tenant\": \"ops\", "
      "\"admin\": true}}, needed for Control.Drain); enables bearer-token auth");
  flag(
      "--tls-cert", [](C & c) -> auto& { return c.tls_cert_file; },
      "PEM certificate chain (enables TLS)");
  flag(
      "--tls-key", [](C & c) -> auto& { return c.tls_key_file; }, "PEM private key");
  flag(
      "--tls-client-ca", [](C & c) -> auto& { return c.tls_client_ca_file; },
      "PEM CA that client certificates must chain to (mTLS)");
  flag(
      "--max-prompt-bytes", [](C & c) -> auto& { return c.limits.max_prompt_bytes; },
      "request limit (4 MiB)");
  flag(
      "--default-max-tokens", [](C & c) -> auto& { return c.limits.default_max_tokens; },
      "max_tokens of requests that leave it unset (256)");
  flag(
      "--max-prompt-tokens", [](C & c) -> auto& { return c.limits.max_prompt_tokens; },
      "request limit (0 = context length - 1)");
  cmd->callback([config_file, flags, exit_code] {
    auto apply = [&flags](server::ServerConfig& target) {
      for (const auto& [opt, set] : *flags)
        if (opt->count() > 0) set(target);
    };
    *exit_code = Serve(server::ServerConfig(), *config_file, apply);
  });
}

}  // namespace hearth::cli
