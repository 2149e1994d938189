#include "server/metrics.h"

#include <algorithm>
#include <cstdio>

namespace hearth::server {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

constexpr auto kWindow = std::chrono::seconds(10);

Histogram::BucketBoundaries LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

const char* ReasonLabel(const engine::RequestReport& r) {
  if (!r.ok) return "error";
  return engine::FinishReasonName(r.finish_reason);
}

}  // namespace

Metrics::Metrics(double gpu_usd_per_hour, int max_tenants)
    : gpu_usd_per_hour_(gpu_usd_per_hour),
      max_tenants_(static_cast<size_t>(std::max(max_tenants, 1))),
      registry_(std::make_shared<prometheus::Registry>()),
      requests_(BuildCounter()
                    .Name("hearth_requests_total")
                    .Help("Finished requests by tenant and finish reason")
                    .Register(*registry_)),
      refused_(BuildCounter()
                   .Name("hearth_refused_requests_total")
                   .Help("Requests refused before the engine, by gRPC status code")
                   .Register(*registry_)),
      prompt_tokens_(BuildCounter()
                         .Name("hearth_prompt_tokens_total")
                         .Help("Prompt tokens of finished requests, by tenant")
                         .Register(*registry_)),
      completion_tokens_(BuildCounter()
                             .Name("hearth_completion_tokens_total")
                             .Help("Generated tokens of finished requests, by tenant")
                             .Register(*registry_)),
      cached_tokens_(BuildCounter()
                         .Name("hearth_cached_prompt_tokens_total")
                         .Help("Prompt tokens served from the prefix cache, by tenant")
                         .Register(*registry_)),
      tenant_cost_(BuildGauge()
                       .Name("hearth_tenant_cost_usd_per_million_output_tokens")
                       .Help("Dollars per million output tokens since start, by tenant, at the "
                             "configured GPU price")
                       .Register(*registry_)),
      device_seconds_(BuildCounter()
                          .Name("hearth_device_seconds_total")
                          .Help("Seconds the model runner spent executing steps (GPU-seconds)")
                          .Register(*registry_)
                          .Add({})),
      steps_(BuildCounter()
                 .Name("hearth_engine_steps_total")
                 .Help("Engine steps run")
                 .Register(*registry_)
                 .Add({})),
      queue_depth_(BuildGauge()
                       .Name("hearth_queue_depth")
                       .Help("Requests waiting to be scheduled (incl. preempted)")
                       .Register(*registry_)
                       .Add({})),
      running_(BuildGauge()
                   .Name("hearth_running_sequences")
                   .Help("Sequences holding KV blocks")
                   .Register(*registry_)
                   .Add({})),
      kv_used_(BuildGauge()
                   .Name("hearth_kv_blocks_used")
                   .Help("KV-cache blocks referenced by running sequences")
                   .Register(*registry_)
                   .Add({})),
      kv_total_(BuildGauge()
                    .Name("hearth_kv_blocks")
                    .Help("KV-cache blocks in total")
                    .Register(*registry_)
                    .Add({})),
      hit_rate_(BuildGauge()
                    .Name("hearth_prefix_cache_hit_ratio")
                    .Help("Prompt tokens served from the prefix cache over prompt tokens looked "
                          "up, since start")
                    .Register(*registry_)
                    .Add({})),
      price_(BuildGauge()
                 .Name("hearth_gpu_price_usd_per_hour")
                 .Help("The configured device price (--gpu-price-per-hour)")
                 .Register(*registry_)
                 .Add({})),
      ttft_(BuildHistogram()
                .Name("hearth_time_to_first_token_seconds")
                .Help("Arrival to first output token")
                .Register(*registry_)
                .Add({}, LatencyBuckets())),
      inter_token_(BuildHistogram()
                       .Name("hearth_inter_token_latency_seconds")
                       .Help("Gap between consecutive output tokens of a request")
                       .Register(*registry_)
                       .Add({}, LatencyBuckets())),
      e2e_(BuildHistogram()
               .Name("hearth_request_duration_seconds")
               .Help("Arrival to final chunk")
               .Register(*registry_)
               .Add({}, LatencyBuckets())),
      queue_time_(BuildHistogram()
                      .Name("hearth_queue_time_seconds")
                      .Help("Arrival to first scheduling")
                      .Register(*registry_)
                      .Add({}, LatencyBuckets())),
      step_time_(BuildHistogram()
                     .Name("hearth_step_duration_seconds")
                     .Help("One engine step: schedule, plan, execute, update")
                     .Register(*registry_)
                     .Add({}, LatencyBuckets())) {
  price_.Set(gpu_usd_per_hour_);
}

Metrics::~Metrics() = default;

Status Metrics::StartExposer(const std::string& bind) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(bind);
  } catch (const std::exception& e) {
    return UnavailableError("metrics: cannot listen on " + bind + ": " + e.what());
  }
  exposer_->RegisterCollectable(registry_);
  return Status::Ok();
}

int Metrics::port() const {
  if (exposer_ == nullptr) return -1;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? -1 : ports.front();
}

double Metrics::UsdPerMillion(double device_seconds, int64_t output_tokens) const {
  if (output_tokens <= 0) return 0;
  return device_seconds / 3600.0 * gpu_usd_per_hour_ / (static_cast<double>(output_tokens) / 1e6);
}

std::pair<const std::string, Metrics::Tenant>& Metrics::Account(const std::string& tenant) {
  auto it = tenants_.find(tenant);
  if (it != tenants_.end()) return *it;
  const size_t others = tenants_.count(kOtherTenants);  // 0 or 1
  const bool full = tenants_.size() - others >= max_tenants_;
  if (full && others == 0)
    std::fprintf(stderr,
                 "hearth: more than %zu tenants (--max-tenants): tenant \"%s\" and later new "
                 "ones are counted together as %s in the metrics and GetLoad\n",
                 max_tenants_, tenant.c_str(), kOtherTenants);
  return *tenants_.try_emplace(full ? std::string(kOtherTenants) : tenant).first;
}

void Metrics::OnStep(const engine::StepReport& r) {
  steps_.Increment();
  device_seconds_.Increment(r.device_seconds);
  step_time_.Observe(r.step_seconds);
  queue_depth_.Set(r.num_waiting);
  running_.Set(r.num_running);
  kv_used_.Set(r.kv_blocks_used);
  kv_total_.Set(r.kv_blocks_total);
  hit_rate_.Set(r.prefix_cache_hit_rate);
  int total_tokens = 0;
  int total_output = 0;
  for (const auto& [tenant, n] : r.tenant_tokens) total_tokens += n;
  for (const auto& [tenant, n] : r.tenant_output_tokens) total_output += n;
  std::lock_guard lock(mu_);
  for (const auto& [tenant, n] : r.tenant_tokens) {
    if (tenant.empty()) continue;
    Tenant& t = Account(tenant).second;
    if (total_tokens > 0) t.device_seconds += r.device_seconds * n / total_tokens;
  }
  for (const auto& [tenant, n] : r.tenant_output_tokens) {
    if (tenant.empty()) continue;
    auto& [name, t] = Account(tenant);
    t.output_tokens += n;
    tenant_cost_.Add({{"tenant", name}}).Set(UsdPerMillion(t.device_seconds, t.output_tokens));
  }
  const auto now = std::chrono::steady_clock::now();
  recent_.push_back({now, total_output, r.device_seconds});
  while (!recent_.empty() && now - recent_.front().time > kWindow) recent_.pop_front();
}

void Metrics::OnInterTokenGap(const std::string& /*tenant*/, double seconds) {
  inter_token_.Observe(seconds);
}

void Metrics::OnRequestDone(const engine::RequestReport& r) {
  if (r.tenant.empty()) return;  // the engine's own warm-up; every client request has a tenant
  if (r.first_token_seconds > 0) ttft_.Observe(r.first_token_seconds);
  e2e_.Observe(r.total_seconds);
  queue_time_.Observe(r.queue_seconds);
  std::lock_guard lock(mu_);
  auto& [name, t] = Account(r.tenant);
  t.prompt_tokens += r.prompt_tokens;
  t.completion_tokens += r.completion_tokens;
  requests_.Add({{"tenant", name}, {"finish_reason", ReasonLabel(r)}}).Increment();
  prompt_tokens_.Add({{"tenant", name}}).Increment(r.prompt_tokens);
  completion_tokens_.Add({{"tenant", name}}).Increment(r.completion_tokens);
  cached_tokens_.Add({{"tenant", name}}).Increment(r.cached_tokens);
}

void Metrics::OnRefused(const std::string& code) { refused_.Add({{"code", code}}).Increment(); }

LoadSnapshot Metrics::Load() const {
  LoadSnapshot s;
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  int64_t tokens = 0;
  double device = 0;
  for (const Sample& x : recent_) {
    if (now - x.time > kWindow) continue;
    tokens += x.output_tokens;
    device += x.device_seconds;
  }
  s.output_tokens_per_s =
      static_cast<double>(tokens) / std::chrono::duration<double>(kWindow).count();
  s.usd_per_million_output_tokens = UsdPerMillion(device, tokens);
  for (const auto& [name, t] : tenants_)
    s.tenants.push_back({name, t.prompt_tokens, t.completion_tokens,
                         UsdPerMillion(t.device_seconds, t.output_tokens)});
  return s;
}

}  // namespace hearth::server
