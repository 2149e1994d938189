#include "server/control_service.h"

namespace hearth::server {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* call, const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

ControlService::~ControlService() {
  std::lock_guard lock(mu_);
  for (std::thread& t : drain_threads_) t.join();
}

grpc::ServerUnaryReactor* ControlService::Abort(grpc::CallbackServerContext* call,
                                                const v1::AbortRequest* request,
                                                v1::AbortResponse*) {
  Result<Caller> caller = context_->Identify(*call);
  if (!caller.ok()) return Done(call, ToGrpcStatus(caller.status()));
  if (request->request_id().empty())
    return Done(call, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "request_id is empty"));
  // With API keys a request is named by its tenant and id (EngineRequestId): the caller's own
  // tenant, or for an admin the one it names.
  const std::string& tenant = request->tenant().empty() ? caller->tenant : request->tenant();
  if (context_->api_keys.enabled() && tenant != caller->tenant && !caller->admin)
    return Done(call, grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                   "tenant " + Quoted(request->tenant()) +
                                       ": only an admin API key aborts another tenant's "
                                       "requests; leave it empty or equal to the key's"));
  const std::string id = context_->EngineRequestId(tenant, request->request_id());
  Status s = context_->engine->Abort(id);
  if (s.code() == StatusCode::kNotFound)  // in the client's terms, not the engine's id
    s = NotFoundError("no request " + Quoted(request->request_id()) + " is in flight" +
                      (context_->api_keys.enabled() ? " for tenant " + Quoted(tenant) : ""));
  return Done(call, ToGrpcStatus(s));
}

grpc::ServerUnaryReactor* ControlService::Drain(grpc::CallbackServerContext* call,
                                                const v1::DrainRequest* request,
                                                v1::DrainResponse* response) {
  Result<Caller> caller = context_->Identify(*call);
  if (!caller.ok()) return Done(call, ToGrpcStatus(caller.status()));
  if (!caller->admin)
    return Done(call, grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                   "Drain stops the server taking work: it needs an admin API "
                                   "key ({\"<key>\": {\"tenant\": ..., \"admin\": true}} in "
                                   "the keys file), or SIGTERM"));
  if (request->timeout_s() < 0 || request->timeout_s() > 3600)
    return Done(call, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "timeout_s must be in [0, 3600] (0 = the server's "
                                   "--drain-timeout)"));
  const std::chrono::milliseconds timeout =
      request->timeout_s() > 0 ? std::chrono::milliseconds(request->timeout_s() * 1000)
                               : context_->drain_timeout;
  grpc::ServerUnaryReactor* reactor = call->DefaultReactor();
  std::lock_guard lock(mu_);
  drain_threads_.emplace_back([this, reactor, response, timeout] {
    const engine::DrainResult result = context_->drain(timeout);
    response->set_completed(result.completed);
    response->set_aborted(result.aborted);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ControlService::GetLoad(grpc::CallbackServerContext* call,
                                                  const v1::GetLoadRequest*, v1::Load* load) {
  Result<Caller> caller = context_->Identify(*call);
  if (!caller.ok()) return Done(call, ToGrpcStatus(caller.status()));
  const engine::EngineStats s = context_->engine->stats();
  load->set_waiting(s.num_waiting);
  load->set_running(s.num_running);
  load->set_kv_blocks_used(s.kv_blocks_used);
  load->set_kv_blocks_total(s.kv_blocks_total);
  load->set_prefix_cache_hit_rate(s.prefix_cache_hit_rate);
  load->set_draining(s.draining);
  if (context_->metrics != nullptr) {
    const LoadSnapshot m = context_->metrics->Load();
    load->set_output_tokens_per_s(m.output_tokens_per_s);
    load->set_gpu_usd_per_hour(context_->metrics->gpu_usd_per_hour());
    load->set_usd_per_million_output_tokens(m.usd_per_million_output_tokens);
    for (const TenantLoad& t : m.tenants) {
      if (!caller->admin && t.tenant != caller->tenant) continue;  // others' are an admin's
      v1::TenantCost* c = load->add_tenants();
      c->set_tenant(t.tenant);
      c->set_prompt_tokens(t.prompt_tokens);
      c->set_completion_tokens(t.completion_tokens);
      c->set_usd_per_million_output_tokens(t.usd_per_million_output_tokens);
    }
  }
  return Done(call, grpc::Status::OK);
}

}  // namespace hearth::server
