// Engine: the loop. One engine thread owns the Scheduler (and through it the BlockManager), the
// ModelRunner and every request's decoding state; other threads only Submit (push to the
// RequestQueue), Abort, read their OutputStream and read a stats snapshot. See README.md
// "Engine thread" for the data path and the shutdown order.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "engine/engine_observer.h"
#include "engine/model_runner.h"
#include "engine/output_stream.h"
#include "engine/request.h"
#include "engine/request_queue.h"
#include "engine/scheduler.h"
#include "engine/step_plan.h"
#include "engine/text_codec.h"

namespace hearth::engine {

struct EngineConfig {
  SchedulerConfig scheduler;  // eos_token_ids empty: taken from the codec
  bool enable_prefix_caching = true;
  // Requests admitted but not yet scheduled at most; Submit answers kResourceExhausted beyond.
  int max_waiting_requests = 256;
  StepPlanOptions plan_options;
};

struct EngineStats {
  int num_waiting = 0;
  int num_running = 0;
  int num_in_flight = 0;  // submitted, final chunk not yet sent
  int kv_blocks_used = 0;
  int kv_blocks_total = 0;
  double prefix_cache_hit_rate = 0;
  int64_t num_steps = 0;
  int64_t num_preemptions = 0;
  int64_t num_runner_errors = 0;  // steps whose ModelRunner::Execute failed
  bool draining = false;
};

struct DrainResult {
  int completed = 0;  // finished normally while draining
  int aborted = 0;    // aborted at the timeout
};

class Engine {
 public:
  // Starts the engine thread. `observer` may be null; it must outlive the engine.
  static Result<std::unique_ptr<Engine>> Create(EngineConfig config,
                                                std::unique_ptr<ModelRunner> runner,
                                                std::shared_ptr<const TextCodec> codec,
                                                EngineObserver* observer = nullptr);
  ~Engine();  // Shutdown()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. kUnavailable while draining or shut down; kResourceExhausted when
  // max_waiting_requests are already waiting; kInvalidArgument for a request id already in
  // flight. The stream always ends with a final chunk.
  Result<std::shared_ptr<OutputStream>> Submit(EngineRequest request);
  // Aborts an in-flight request (its stream ends with kAbort). kNotFound if none has this id.
  Status Abort(const std::string& request_id);

  // Runs one 1-token request through the whole path (health turns SERVING after this).
  Status WarmUp();

  // Refuses new requests, waits up to `timeout` for in-flight ones, then aborts the rest and
  // waits for their final chunks.
  DrainResult Drain(std::chrono::milliseconds timeout);
  // Stops the thread: queued and running requests end with kUnavailable. Idempotent.
  void Shutdown();

  // Called on the engine thread after a ModelRunner error (the step's requests have failed with
  // kInternal and the error is on stderr); the server turns health NOT_SERVING. Set before
  // traffic; replaces any previous handler.
  void SetRunnerErrorHandler(std::function<void(const Status&)> handler);

  EngineStats stats() const;
  const EngineConfig& config() const { return config_; }
  const TextCodec& codec() const { return *codec_; }
  int max_seq_len() const { return max_seq_len_; }
  int64_t num_kv_blocks() const { return num_kv_blocks_; }
  int block_size() const { return block_size_; }

 private:
  struct Active;  // one request's engine-thread state (engine.cc)
  struct Step;    // one scheduled step, from its launch to the streaming of its tokens

  Engine(EngineConfig config, std::unique_ptr<ModelRunner> runner,
         std::shared_ptr<const TextCodec> codec, EngineObserver* observer);
  void Loop();
  void TakeCommands(bool block);
  void AbortExpired();
  void RunStep();
  std::unique_ptr<Step> ScheduleAndLaunch();  // nullptr: nothing to run
  void Complete(Step& step);                  // its result (Wait) and Update, or its failure
  void Emit(Step& step);                      // its tokens, finishes and observer report
  void EmitToken(Active& a, const Sequence& seq, int32_t token, const StepResult& result,
                 size_t row);
  void Finish(SeqId id, FinishReason reason, Status status, std::string stop_reason = {});
  void PublishStats();

  EngineConfig config_;
  std::unique_ptr<ModelRunner> runner_;
  std::shared_ptr<const TextCodec> codec_;
  EngineObserver* observer_;
  int max_seq_len_ = 0;
  int64_t num_kv_blocks_ = 0;
  int block_size_ = 0;

  RequestQueue queue_;
  std::atomic<int> num_not_scheduled_{0};  // submitted, not yet scheduled or finished
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;  // guards in_flight_ids_, stats_, and wakes Drain
  std::condition_variable done_cv_;
  std::unordered_set<std::string> in_flight_ids_;
  EngineStats stats_;
  std::function<void(const Status&)> on_runner_error_;  // guarded by mu_
  std::atomic<int64_t> num_runner_errors_{0};
  int drain_completed_ = 0;

  // Engine thread only.
  std::unique_ptr<Scheduler> scheduler_;
  std::unordered_map<SeqId, std::unique_ptr<Active>> active_;
  std::unordered_map<std::string, SeqId> seq_of_request_;
  int64_t num_steps_ = 0;
  // Launched on an asynchronous runner, not yet waited for (see ModelRunner::Launch).
  std::unique_ptr<Step> in_flight_;
  std::thread thread_;
};

}  // namespace hearth::engine
