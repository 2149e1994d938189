#include "server/hearth_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>

namespace hearth::server {
namespace {

Result<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return NotFoundError(std::string(what) + " " + path + " cannot be opened");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerConfig& c) {
  if (c.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  HEARTH_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem(c.tls_cert_file, "TLS certificate"));
  HEARTH_ASSIGN_OR_RETURN(pair.private_key, ReadPem(c.tls_key_file, "TLS key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!c.tls_client_ca_file.empty()) {
    HEARTH_ASSIGN_OR_RETURN(options.pem_root_certs, ReadPem(c.tls_client_ca_file, "TLS client CA"));
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

Result<std::unique_ptr<HearthServer>> HearthServer::Start(const ServerConfig& config,
                                                          std::unique_ptr<engine::Engine> engine,
                                                          std::unique_ptr<Metrics> metrics,
                                                          v1::ModelInfo model_info,
                                                          ApiKeys api_keys) {
  HEARTH_RETURN_IF_ERROR(ValidateServerConfig(config));
  if (engine == nullptr) return InvalidArgumentError("server: no engine");
  auto s = std::unique_ptr<HearthServer>(new HearthServer());
  s->metrics_ = std::move(metrics);
  s->engine_ = std::move(engine);
  s->drain_timeout_ = std::chrono::milliseconds(static_cast<int64_t>(config.drain_timeout_s * 1e3));

  ServiceContext& ctx = s->context_;
  ctx.engine = s->engine_.get();
  ctx.metrics = s->metrics_.get();
  ctx.api_keys = std::move(api_keys);
  ctx.mapping.codec = &s->engine_->codec();
  ctx.mapping.limits = config.limits;
  ctx.mapping.max_seq_len = s->engine_->max_seq_len();
  ctx.drain_timeout = s->drain_timeout_;
  ctx.drain = [srv = s.get()](std::chrono::milliseconds t) { return srv->Drain(t); };
  // Preparations are CPU work: more workers than cores only share the cores, but they let a
  // short preparation finish beside long ones instead of queueing behind them.
  s->prepare_ = std::make_unique<WorkerPool>(2, kMaxPreparingThreads, std::chrono::seconds(30));
  ctx.prepare = s->prepare_.get();
  ctx.max_preparing_queued = static_cast<size_t>(config.max_waiting_requests);
  if (model_info.vocab_size() == 0) model_info.set_vocab_size(s->engine_->codec().vocab_size());
  model_info.set_kv_block_size(s->engine_->block_size());
  model_info.set_kv_blocks_total(s->engine_->num_kv_blocks());
  model_info.set_max_num_seqs(s->engine_->config().scheduler.max_num_seqs);
  model_info.set_max_batch_tokens(s->engine_->config().scheduler.max_num_batched_tokens);
  model_info.set_max_prompt_tokens(ctx.mapping.max_prompt_tokens());
  model_info.set_max_prompt_bytes(config.limits.max_prompt_bytes);
  ctx.model_info = std::move(model_info);

  if (s->metrics_ != nullptr && config.metrics_port >= 0) {
    HEARTH_RETURN_IF_ERROR(
        s->metrics_->StartExposer(config.address + ":" + std::to_string(config.metrics_port)));
  }

  s->inference_ = std::make_unique<InferenceService>(&s->context_);
  s->control_ = std::make_unique<ControlService>(&s->context_);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                          Credentials(config));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.address + ":" + std::to_string(config.port), credentials,
                           &s->port_);
  // Room for a maximal prompt, so that its size is answered by validation, naming the limit.
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<int64_t>(config.limits.max_prompt_bytes + (1 << 20), INT32_MAX)));
  builder.RegisterService(s->inference_.get());
  builder.RegisterService(s->control_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0)
    return UnavailableError("server: cannot listen on " + config.address + ":" +
                            std::to_string(config.port) + " (port in use?)");
  s->SetServing(false);
  if (config.http_port >= 0) {
    HEARTH_ASSIGN_OR_RETURN(s->http_, OpenAiApi::Start(config, &s->context_));
  }
  HEARTH_RETURN_IF_ERROR(s->engine_->WarmUp());
  s->SetServing(true);
  // A failed model step (a CUDA error, typically sticky) turns health NOT_SERVING for good; the
  // engine has already failed that step's requests and logged the error.
  s->engine_->SetRunnerErrorHandler([srv = s.get()](const Status&) {
    std::lock_guard lock(srv->mu_);
    if (srv->server_ != nullptr && !srv->shut_down_) srv->SetServing(false);
  });
  return s;
}

HearthServer::~HearthServer() { Shutdown(); }

void HearthServer::SetServing(bool serving) {
  context_.serving = serving;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);  // the overall status ("") and every service set so far
  for (const char* service : {"hearth.v1.Inference", "hearth.v1.Control"})
    health->SetServingStatus(service, serving);
}

engine::DrainResult HearthServer::Drain(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mu_);
    drained_ = true;
    if (server_ != nullptr) SetServing(false);
  }
  return engine_->Drain(timeout);
}

void HearthServer::Shutdown() {
  bool drained = false;
  {
    std::lock_guard lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    drained = drained_;
  }
  if (!drained) (void)Drain(drain_timeout_);
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
  }
  if (http_ != nullptr) http_->Stop();
  control_.reset();  // joins Drain threads
  engine_->Shutdown();
}

}  // namespace hearth::server
