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
#include "server/worker_pool.h"

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
  // Where requests are prepared (null: on the calling thread); set by HearthServer.
  WorkerPool* prepare = nullptr;
  size_t max_preparing_queued = 0;  // preparations waiting for a worker, at most

  // Runs a request's preparation (its chat template, tokenization and validation: seconds of
  // CPU for a maximal prompt) on the prepare pool, never on gRPC's threads, which also carry
  // every stream's writes, the health checks and GetModelInfo. False (the job dropped) when
  // max_preparing_queued preparations already wait.
  bool Prepare(std::function<void()> job) const {
    if (prepare == nullptr) {
      job();
      return true;
    }
    return prepare->TryRun(std::move(job), max_preparing_queued);
  }

  // The caller from "authorization: Bearer <key>" (Caller{"", admin} without API keys).
  Result<Caller> Identify(const grpc::CallbackServerContext& call) const {
    if (!api_keys.enabled()) return Caller{"", true};
    const auto& md = call.client_metadata();
    auto it = md.find("authorization");
    const std::string header =
        it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
    return api_keys.Identify(header);
  }
  // The caller's tenant ("" without API keys).
  Result<std::string> Authenticate(const grpc::CallbackServerContext& call) const {
    HEARTH_ASSIGN_OR_RETURN(Caller caller, Identify(call));
    return std::move(caller.tenant);
  }
  // The engine's id of a client's request: with API keys, scoped by the key's tenant
  // ("team-a/<id>"; tenants have no '/'), so that tenants never collide on an id nor reach
  // each other's requests by it; without keys, the client's id.
  std::string EngineRequestId(const std::string& tenant, const std::string& client_id) const {
    return api_keys.enabled() ? tenant + "/" + client_id : client_id;
  }
};

}  // namespace hearth::server
