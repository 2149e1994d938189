// OpenAiApi: the OpenAI-compatible HTTP API (cpp-httplib) beside the gRPC services, in the same
// process and over the same ServiceContext: one engine, one set of metrics, the same API keys
// and request limits. Routes: POST /v1/chat/completions, POST /v1/completions (streaming as
// server-sent events or not), GET /v1/models[/<id>], GET /health (liveness: 200 while the
// process serves) and GET /ready (200 exactly while gRPC health is SERVING, else 503).
//
// Threads: one acceptor plus a pool of workers (WorkerPool: started on demand up to HttpWorkers(),
// retired after 30 s idle, 8 kept), each serving one connection at a time. A handler authenticates,
// maps and validates (openai_mapping), submits to the engine (a queue push) and then drains the
// request's OutputStream on its worker thread; it never touches engine state. A streaming client
// that goes away is noticed within ~100 ms (the socket is polled while no chunk is pending, and
// every write checks it first); the stream is then cancelled and the engine frees the request's KV
// blocks at its next step. A request answered without streaming is watched the same way (HttpPeer
// polls its connection every 100 ms while the answer is computed) and cancelled when its client
// hangs up.
//
// Shutdown (HearthServer): drain first (new requests get 503, running ones finish), then Stop():
// the listening socket closes and the workers are joined once their connections end.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "server/openai_mapping.h"
#include "server/server_config.h"
#include "server/service_context.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace hearth::server {

class OpenAiApi {
 public:
  // Listens on config.address:config.http_port (0 = any free port), with TLS (and mTLS) when
  // the config has a certificate, as the gRPC port does. `context` must outlive the API.
  static Result<std::unique_ptr<OpenAiApi>> Start(const ServerConfig& config,
                                                  const ServiceContext* context);
  ~OpenAiApi();  // Stop()

  int port() const { return port_; }
  // Stops accepting and joins the workers once their connections end. Idempotent.
  void Stop();

 private:
  explicit OpenAiApi(const ServiceContext* context);
  void Route();
  void Generate(OpenAiEndpoint endpoint, const httplib::Request& req, httplib::Response& res);
  void Models(const httplib::Request& req, httplib::Response& res, const std::string* id);
  Result<std::string> Authenticate(const httplib::Request& req) const;
  // Sends an OpenAI error; counts it as refused (hearth_refused_requests_total) when `refused`.
  void SendError(httplib::Response& res, const Status& status, bool refused) const;

  const ServiceContext* context_;
  std::unique_ptr<httplib::Server> http_;
  std::thread listener_;
  int port_ = 0;
  int listen_fd_ = -1;  // the listening socket (owned by http_)
  int64_t started_unix_s_ = 0;
  std::string id_prefix_;  // random per process, so ids never repeat across restarts
  std::atomic<uint64_t> next_id_{1};
  std::atomic<bool> stopped_{false};
};

}  // namespace hearth::server
