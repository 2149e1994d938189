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
  if (auto t = context_->Authenticate(*call); !t.ok()) return Done(call, ToGrpcStatus(t.status()));
  if (request->request_id().empty())
    return Done(call, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "request_id is empty"));
  return Done(call, ToGrpcStatus(context_->engine->Abort(request->request_id())));
}

grpc::ServerUnaryReactor* ControlService::Drain(grpc::CallbackServerContext* call,
                                                const v1::DrainRequest* request,
                                                v1::DrainResponse* response) {
  if (auto t = context_->Authenticate(*call); !t.ok()) return Done(call, ToGrpcStatus(t.status()));
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
  if (auto t = context_->Authenticate(*call); !t.ok()) return Done(call, ToGrpcStatus(t.status()));
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
