// HearthServer: the gRPC server around one Engine: hearth.v1.Inference, hearth.v1.Control, the
// standard grpc.health.v1 service (SERVING only after a warm-up step; NOT_SERVING while
// draining) and server reflection, plus the metrics exposer and, with --http-port, the
// OpenAI-compatible HTTP API (openai_api.h) over the same engine. Shutdown order: health
// NOT_SERVING (HTTP /ready 503) -> engine drain (new requests UNAVAILABLE / HTTP 503, running
// streams finish or are aborted at the timeout) -> gRPC shutdown (remaining calls cancelled)
// -> HTTP stop (workers joined) -> engine thread stopped.
#pragma once

#include <grpcpp/server.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "engine/engine.h"
#include "server/api_keys.h"
#include "server/control_service.h"
#include "server/inference_service.h"
#include "server/metrics.h"
#include "server/openai_api.h"
#include "server/server_config.h"
#include "server/service_context.h"

namespace hearth::server {

class HearthServer {
 public:
  // Takes over a running engine (built with `metrics` as its observer, or none). Listens,
  // warms up, then reports SERVING.
  static Result<std::unique_ptr<HearthServer>> Start(const ServerConfig& config,
                                                     std::unique_ptr<engine::Engine> engine,
                                                     std::unique_ptr<Metrics> metrics,
                                                     v1::ModelInfo model_info, ApiKeys api_keys);
  ~HearthServer();

  int port() const { return port_; }
  int metrics_port() const { return metrics_ != nullptr ? metrics_->port() : -1; }
  int http_port() const { return http_ != nullptr ? http_->port() : -1; }
  engine::Engine& engine() { return *engine_; }

  // Health NOT_SERVING, then the engine drains (see Engine::Drain). Idempotent.
  engine::DrainResult Drain(std::chrono::milliseconds timeout);
  // Drain (with the configured timeout, if not yet drained), then stop everything.
  void Shutdown();

 private:
  HearthServer() = default;
  void SetServing(bool serving);

  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<engine::Engine> engine_;
  ServiceContext context_;
  std::unique_ptr<WorkerPool> prepare_;  // outlives the gRPC server, whose calls use it
  static constexpr size_t kMaxPreparingThreads = 64;
  std::unique_ptr<InferenceService> inference_;
  std::unique_ptr<ControlService> control_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<OpenAiApi> http_;  // null without --http-port
  int port_ = 0;
  std::chrono::milliseconds drain_timeout_{30000};
  std::mutex mu_;
  bool drained_ = false;
  bool shut_down_ = false;
};

}  // namespace hearth::server
