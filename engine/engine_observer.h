// EngineObserver: how the engine reports what it does (metrics) without depending on a metrics
// library. Called on the engine thread only; implementations must be quick and thread-safe
// towards their own readers.
#pragma once

#include <string>
#include <unordered_map>

#include "engine/sequence.h"

namespace hearth::engine {

struct StepReport {
  double step_seconds = 0;    // whole step: schedule, plan, execute, update, stream
  double device_seconds = 0;  // ModelRunner::Execute alone
  int num_batched_tokens = 0;
  int num_running = 0;
  int num_waiting = 0;  // in the scheduler + admitted but not yet handed to it
  int kv_blocks_used = 0;
  int kv_blocks_total = 0;
  double prefix_cache_hit_rate = 0;  // since start
  // Tokens each tenant had in this step (the basis for splitting device time between tenants).
  std::unordered_map<std::string, int> tenant_tokens;
  // Tokens sampled (output tokens) per tenant in this step.
  std::unordered_map<std::string, int> tenant_output_tokens;
};

struct RequestReport {
  std::string tenant;
  FinishReason finish_reason = FinishReason::kNone;
  bool ok = true;  // false: failed (rejected, deadline, internal error)
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
  double queue_seconds = 0;
  double first_token_seconds = 0;  // 0 when no token was produced
  double total_seconds = 0;
};

class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  virtual void OnStep(const StepReport& report) = 0;
  virtual void OnInterTokenGap(const std::string& tenant, double seconds) = 0;
  virtual void OnRequestDone(const RequestReport& report) = 0;
};

}  // namespace hearth::engine
