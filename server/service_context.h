// What the gRPC services share: the engine, the metrics, the API keys, the request limits and
// the model description. Owned by HearthServer, which outlives the services' calls.
#pragma once

#include <grpcpp/server_context.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "engine/engine.h"
#include "hearth/v1/inference.pb.h"
#include "server/api_keys.h"
#include "server/metrics.h"
#include "server/request_mapping.h"

namespace hearth::server {

struct ServiceContext {
  engine::Engine* engine = nullptr;
  Metrics* metrics = nullptr;
  ApiKeys api_keys;
  MappingContext mapping;  // codec, limits, max_seq_len (key_tenant filled per call)
  v1::ModelInfo model_info;
  std::chrono::milliseconds drain_timeout{30000};
  // True exactly while gRPC health says SERVING (the HTTP API's /ready); set by HearthServer.
  std::atomic<bool> serving{false};
  // Health NOT_SERVING + engine drain; set by HearthServer.
  std::function<engine::DrainResult(std::chrono::milliseconds)> drain;

  // The caller's tenant from "authorization: Bearer <key>" ("" without API keys).
  Result<std::string> Authenticate(const grpc::CallbackServerContext& call) const {
    if (!api_keys.enabled()) return std::string();
    const auto& md = call.client_metadata();
    auto it = md.find("authorization");
    const std::string header =
        it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
    return api_keys.Authenticate(header);
  }
};

}  // namespace hearth::server
