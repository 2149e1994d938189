// Metrics: the engine's observer, kept as Prometheus metrics (served on their own HTTP port by
// prometheus-cpp's pull exposer) and as the numbers behind Control.GetLoad. Cost: each step's
// device time is split between tenants by the tokens they had in the step; a tenant's cost per
// million output tokens is its device-hours times --gpu-price-per-hour over its output tokens.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "engine/engine_observer.h"
#include "kernels/core/status.h"

namespace hearth::server {

struct TenantLoad {
  std::string tenant;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double usd_per_million_output_tokens = 0;
};

struct LoadSnapshot {
  double output_tokens_per_s = 0;            // last 10 s
  double usd_per_million_output_tokens = 0;  // last 10 s
  std::vector<TenantLoad> tenants;
};

class Metrics : public engine::EngineObserver {
 public:
  // Tenants kept apart in the metrics and in GetLoad: past `max_tenants` names, new ones are
  // counted together as kOtherTenants (not a valid tenant name, so it collides with none).
  // Without API keys clients name their own tenant, and every new name would otherwise add label
  // sets to every scrape and memory for good.
  static constexpr int kDefaultMaxTenants = 256;
  static constexpr const char* kOtherTenants = "(other)";
  explicit Metrics(double gpu_usd_per_hour, int max_tenants = kDefaultMaxTenants);
  ~Metrics() override;

  // Serves /metrics on `bind` ("127.0.0.1:0" picks a port).
  Status StartExposer(const std::string& bind);
  int port() const;  // the exposer's port, or -1

  void OnStep(const engine::StepReport& report) override;
  void OnInterTokenGap(const std::string& tenant, double seconds) override;
  void OnRequestDone(const engine::RequestReport& report) override;
  // A request refused before reaching the engine (bad field, overload, auth, draining).
  void OnRefused(const std::string& grpc_code_name);

  LoadSnapshot Load() const;
  double gpu_usd_per_hour() const { return gpu_usd_per_hour_; }
  prometheus::Registry& registry() { return *registry_; }

 private:
  struct Tenant {
    double device_seconds = 0;
    int64_t prompt_tokens = 0;
    int64_t output_tokens = 0;
    int64_t completion_tokens = 0;
  };
  struct Sample {
    std::chrono::steady_clock::time_point time;
    int output_tokens = 0;
    double device_seconds = 0;
  };
  double UsdPerMillion(double device_seconds, int64_t output_tokens) const;
  // The tenant `tenant` is accounted as, and its entry (under mu_).
  std::pair<const std::string, Tenant>& Account(const std::string& tenant);

  double gpu_usd_per_hour_;
  size_t max_tenants_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& refused_;
  prometheus::Family<prometheus::Counter>& prompt_tokens_;
  prometheus::Family<prometheus::Counter>& completion_tokens_;
  prometheus::Family<prometheus::Counter>& cached_tokens_;
  prometheus::Family<prometheus::Gauge>& tenant_cost_;
  prometheus::Counter& device_seconds_;
  prometheus::Counter& steps_;
  prometheus::Gauge& queue_depth_;
  prometheus::Gauge& running_;
  prometheus::Gauge& kv_used_;
  prometheus::Gauge& kv_total_;
  prometheus::Gauge& hit_rate_;
  prometheus::Gauge& price_;
  prometheus::Histogram& ttft_;
  prometheus::Histogram& inter_token_;
  prometheus::Histogram& e2e_;
  prometheus::Histogram& queue_time_;
  prometheus::Histogram& step_time_;

  mutable std::mutex mu_;
  std::map<std::string, Tenant> tenants_;
  std::deque<Sample> recent_;
};

}  // namespace hearth::server
