#include "server/openai_api.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include "server/http_peer.h"
#include "server/openai_response.h"
#include "server/request_mapping.h"
#include "server/worker_pool.h"

namespace hearth::server {
namespace {

using json = nlohmann::json;
using Ms = std::chrono::milliseconds;

// How often an idle stream checks that its client is still there.
constexpr Ms kPollInterval{100};

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// cpp-httplib's task queue (one job per accepted connection) over a WorkerPool.
class HttpTaskQueue : public httplib::TaskQueue {
 public:
  explicit HttpTaskQueue(size_t max_threads)
      : pool_(kMinHttpWorkers, max_threads, kHttpWorkerIdleExit) {}
  void enqueue(std::function<void()> fn) override { pool_.Run(std::move(fn)); }
  void shutdown() override { pool_.Shutdown(); }

 private:
  static constexpr size_t kMinHttpWorkers = 8;
  static constexpr std::chrono::seconds kHttpWorkerIdleExit{30};
  WorkerPool pool_;
};

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(OpenAiResponder::Dump(body), "application/json");
}

// One streaming request between its submission and its last event: drains the OutputStream
// into the connection on the worker thread that httplib lends the content provider.
struct SseStream {
  OpenAiResponder responder;
  std::shared_ptr<engine::OutputStream> stream;

  // Returns true after the final chunk's events are written; false (request cancelled) when
  // the client is gone.
  bool Pump(httplib::DataSink& sink) {
    std::string events = responder.StreamStart();
    while (true) {
      // Chunks already pending go out together, in one write.
      std::optional<engine::OutputChunk> chunk =
          stream->Next(events.empty() ? kPollInterval : Ms(0));
      if (chunk) {
        events += responder.StreamEvents(*chunk);
        if (chunk->final) {
          if (!sink.write(events.data(), events.size())) return Cancel();
          sink.done();
          return true;
        }
        if (events.size() < (1 << 16)) continue;
      } else if (events.empty()) {
        if (!sink.is_writable()) return Cancel();  // peeks the socket: the client closed it
        continue;
      }
      if (!sink.write(events.data(), events.size())) return Cancel();
      events.clear();
    }
  }
  bool Cancel() {
    stream->Cancel();
    return false;
  }
};

}  // namespace

OpenAiApi::OpenAiApi(const ServiceContext* context) : context_(context) {}

OpenAiApi::~OpenAiApi() { Stop(); }

Result<std::unique_ptr<OpenAiApi>> OpenAiApi::Start(const ServerConfig& config,
                                                    const ServiceContext* context) {
  auto api = std::unique_ptr<OpenAiApi>(new OpenAiApi(context));
  api->started_unix_s_ = UnixSeconds();
  char prefix[17];
  std::snprintf(
      prefix, sizeof prefix, "%016llx",
      static_cast<unsigned long long>(std::random_device{}()) << 32 | std::random_device{}());
  api->id_prefix_ = prefix;

  if (config.tls_cert_file.empty()) {
    api->http_ = std::make_unique<httplib::Server>();
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(
        config.tls_cert_file.c_str(), config.tls_key_file.c_str(),
        config.tls_client_ca_file.empty() ? nullptr : config.tls_client_ca_file.c_str());
    if (!tls->is_valid())
      return InvalidArgumentError("http: cannot load the TLS certificate " + config.tls_cert_file +
                                  " and key " + config.tls_key_file);
    api->http_ = std::move(tls);
  }
  httplib::Server& http = *api->http_;
  // One worker per connection, and a request holds its connection's worker until its last
  // token: every request the engine can admit (running or waiting) needs one, plus idle
  // keep-alive connections and probes, and a request past those must reach its 429. Workers
  // start on demand and retire when idle (WorkerPool).
  const size_t threads = HttpWorkers(config);
  http.new_task_queue = [threads] { return new HttpTaskQueue(threads); };
  http.set_keep_alive_max_count(1000);
  // Room for a maximal prompt even when every byte of it is JSON-escaped (\u00XX), so that its
  // size is answered by validation, naming the limit.
  http.set_payload_max_length(static_cast<size_t>(config.limits.max_prompt_bytes) * 6 + (1 << 20));
  api->Route();
  // Our own socket options (replacing httplib's): SO_REUSEADDR, not its SO_REUSEPORT, so that a
  // second server on a port in use fails instead of silently sharing it; and keep the socket.
  http.set_socket_options([api = api.get()](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    api->listen_fd_ = sock;
  });

  if (config.http_port == 0) {
    api->port_ = http.bind_to_any_port(config.address);
  } else {
    api->port_ = http.bind_to_port(config.address, config.http_port) ? config.http_port : -1;
  }
  if (api->port_ <= 0)
    return UnavailableError("http: cannot listen on " + config.address + ":" +
                            std::to_string(config.http_port) + " (port in use?)");
  // The library listens with a backlog of 5 (compiled in): a burst of new connections would
  // wait for SYN retries or be reset. Listening again on the bound socket raises it.
  if (::listen(api->listen_fd_, SOMAXCONN) != 0)
    return UnavailableError(std::string("http: listen: ") + std::strerror(errno));
  auto ended = std::make_shared<std::atomic<bool>>(false);
  api->listener_ = std::thread([&http, ended] {
    http.listen_after_bind();
    *ended = true;
  });
  // stop() is a no-op until the acceptor runs: wait for it, so that Stop() always stops it.
  while (!http.is_running() && !*ended) std::this_thread::sleep_for(Ms(1));
  if (*ended) {
    api->listener_.join();
    return UnavailableError("http: the acceptor on " + config.address + ":" +
                            std::to_string(api->port_) + " ended at once");
  }
  return api;
}

void OpenAiApi::Stop() {
  if (stopped_.exchange(true) || http_ == nullptr) return;
  http_->stop();
  if (listener_.joinable()) listener_.join();  // the pool's shutdown joins every worker
}

void OpenAiApi::Route() {
  httplib::Server& http = *http_;
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    Generate(OpenAiEndpoint::kChat, req, res);
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    Generate(OpenAiEndpoint::kCompletions, req, res);
  });
  http.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    Models(req, res, nullptr);
  });
  http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    Models(req, res, &id);
  });
  http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, 200, {{"status", "ok"}});
  });
  http.Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
    const bool ready = context_->serving.load();
    SendJson(res, ready ? 200 : 503, {{"status", ready ? "ready" : "not ready"}});
  });
  // httplib's own refusals (no route, body too large, malformed HTTP) in OpenAI's shape.
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req,
                                                                 httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours
    const Status s = res.status == 404 ? NotFoundError("no route " + req.method + " " + req.path)
                     : res.status == 413
                         ? InvalidArgumentError("the request body is larger than this server takes")
                         : InvalidArgumentError("malformed HTTP request");
    HttpError e = ToHttpError(s);
    SendJson(res, res.status, e.body);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        SendJson(res, 500, ToHttpError(InternalError("http handler: " + what)).body);
      });
}

Result<std::string> OpenAiApi::Authenticate(const httplib::Request& req) const {
  if (!context_->api_keys.enabled()) return std::string();
  return context_->api_keys.Authenticate(req.get_header_value("Authorization"));
}

void OpenAiApi::SendError(httplib::Response& res, const Status& status, bool refused) const {
  if (refused && context_->metrics != nullptr)
    context_->metrics->OnRefused(StatusCodeName(status.code()));
  HttpError e = ToHttpError(status);
  if (e.http_status == 429 || e.http_status == 503) res.set_header("Retry-After", "1");
  SendJson(res, e.http_status, e.body);
}

void OpenAiApi::Models(const httplib::Request& req, httplib::Response& res, const std::string* id) {
  if (Result<std::string> t = Authenticate(req); !t.ok()) return SendError(res, t.status(), false);
  const std::string& name = context_->model_info.name();
  json model = {{"id", name},
                {"object", "model"},
                {"created", started_unix_s_},
                {"owned_by", "hearth"},
                {"max_model_len", context_->mapping.max_seq_len}};
  if (id == nullptr) return SendJson(res, 200, {{"object", "list"}, {"data", {model}}});
  if (*id != name)
    return SendError(res, NotFoundError("model \"" + *id + "\" is not served here"), false);
  SendJson(res, 200, model);
}

void OpenAiApi::Generate(OpenAiEndpoint endpoint, const httplib::Request& req,
                         httplib::Response& res) {
  const int64_t created = UnixSeconds();
  const bool chat = endpoint == OpenAiEndpoint::kChat;
  const std::string id = std::string(chat ? "chatcmpl-" : "cmpl-") + id_prefix_ + "-" +
                         std::to_string(next_id_.fetch_add(1));
  Result<std::string> tenant = Authenticate(req);
  if (!tenant.ok()) return SendError(res, tenant.status(), true);
  Result<OpenAiRequest> parsed =
      ParseOpenAiRequest(endpoint, req.body, context_->model_info.name());
  if (!parsed.ok()) return SendError(res, parsed.status(), true);
  const engine::TextCodec& codec = *context_->mapping.codec;
  if (chat && !codec.has_chat_template())
    return SendError(res,
                     InvalidArgumentError("messages: this model has no chat template; send a "
                                          "prompt to POST /v1/completions instead"),
                     true);
  MappingContext mapping = context_->mapping;
  mapping.auth_enabled = context_->api_keys.enabled();
  mapping.key_tenant = std::move(*tenant);
  // With API keys the key is the tenant. OpenAI's "user" names the caller's end user (clients
  // send it for abuse tracking): it must neither fail such clients nor pick the accounting key.
  if (mapping.auth_enabled) parsed->generate.clear_tenant();
  Result<engine::EngineRequest> request = ToEngineRequest(parsed->generate, mapping);
  if (!request.ok()) return SendError(res, OpenAiStatus(request.status(), endpoint), true);
  request->request_id = context_->EngineRequestId(request->tenant, id);
  Result<std::shared_ptr<engine::OutputStream>> stream =
      context_->engine->Submit(std::move(*request));
  if (!stream.ok()) return SendError(res, stream.status(), true);

  OpenAiResponder responder(*parsed, id, created, &codec);
  if (parsed->stream) {
    auto sse = std::make_shared<SseStream>(SseStream{std::move(responder), std::move(*stream)});
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");  // proxies (nginx) must not buffer the stream
    res.set_chunked_content_provider(
        "text/event-stream", [sse](size_t, httplib::DataSink& sink) { return sse->Pump(sink); },
        // Never written (e.g. the connection failed before the headers): still cancel.
        [sse](bool success) {
          if (!success) sse->stream->Cancel();
        });
    return;
  }
  // Nothing goes out before the answer is whole: the connection is polled meanwhile, and a
  // client that hangs up cancels the request (its engine work stops at the next step).
  HttpPeer peer({req.local_addr, req.local_port, req.remote_addr, req.remote_port});
  auto next_check = std::chrono::steady_clock::now() + kPollInterval;
  while (true) {
    // The engine always ends a stream with a final chunk.
    std::optional<engine::OutputChunk> chunk = (*stream)->Next(kPollInterval);
    if (chunk) {
      responder.Add(*chunk);
      if (chunk->final) break;
    }
    if (std::chrono::steady_clock::now() < next_check) continue;
    if (peer.Gone()) {
      (*stream)->Cancel();  // no one to answer: nothing is sent
      return;
    }
    next_check = std::chrono::steady_clock::now() + kPollInterval;
  }
  if (!responder.ok()) return SendError(res, responder.error(), false);
  SendJson(res, 200, responder.Response());
}

}  // namespace hearth::server
