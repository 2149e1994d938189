#include "engine/engine.h"

#include <algorithm>
#include <cstdio>
#include <span>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "engine/stop_matcher.h"
#include "kernels/core/check.h"

namespace hearth::engine {
namespace {

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// model_runner.h names SamplingParams inside hearth::engine, where that is the engine's
// stop-rule struct; hand over whichever the interface carries until it settles on the sampler's.
template <class P>
P RunnerParams(const ::hearth::SamplingParams& sampling, const SamplingParams& limits) {
  if constexpr (std::is_same_v<P, ::hearth::SamplingParams>) {
    (void)limits;
    return sampling;
  } else {
    (void)sampling;
    return limits;
  }
}

bool HasPenalties(const ::hearth::SamplingParams& p) {
  return p.repetition_penalty != 1.f || p.presence_penalty != 0.f || p.frequency_penalty != 0.f;
}

// One sequence's penalty lists (each prompt token once with count 0, each generated token with
// its count), brought up to date before each step by counting only the tokens added since the
// last one: rebuilding them from the whole sequence cost O(length) per sequence on the step's
// critical path (3.3 ms per step at 256 sequences of 1000 tokens).
class PenaltyCounts {
 public:
  void CatchUp(const Sequence& seq) {
    if (counted_ < 0) {
      for (int32_t t : seq.token_ids().first(seq.num_prompt_tokens())) Slot(t);
      counted_ = 0;
    }
    const std::span<const int32_t> generated = seq.generated_token_ids();
    for (size_t i = static_cast<size_t>(counted_); i < generated.size(); ++i)
      ++counts_[Slot(generated[i])];
    counted_ = static_cast<int>(generated.size());
  }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  const std::vector<int32_t>& counts() const { return counts_; }

 private:
  // Adds `token` (count 0) if absent; returns its index.
  int32_t Slot(int32_t token) {
    const auto [it, inserted] = slot_.try_emplace(token, static_cast<int32_t>(tokens_.size()));
    if (inserted) {
      tokens_.push_back(token);
      counts_.push_back(0);
    }
    return it->second;
  }
  std::vector<int32_t> tokens_, counts_;
  std::unordered_map<int32_t, int32_t> slot_;  // token -> index in the lists
  int counted_ = -1;                            // generated tokens counted; -1: not built
};

}  // namespace

struct Engine::Active {
  EngineRequest request;
  std::shared_ptr<OutputStream> stream;
  Clock::time_point arrival;
  std::optional<Clock::time_point> first_scheduled;
  std::optional<Clock::time_point> first_token;
  std::optional<Clock::time_point> last_token;
  std::unique_ptr<TokenStreamDecoder> decoder;
  StopMatcher stop;
  SeqId seq_id = -1;
  PenaltyCounts penalties;  // used when the request has penalties (HasPenalties)

  Active(EngineRequest r, std::shared_ptr<OutputStream> s, Clock::time_point t,
         std::unique_ptr<TokenStreamDecoder> d)
      : request(std::move(r)),
        stream(std::move(s)),
        arrival(t),
        decoder(std::move(d)),
        stop(request.stop_strings) {}
};

// One scheduled step, from its launch to the streaming of its tokens (RunStep).
struct Engine::Step {
  SchedulerOutput out;
  Clock::time_point start;       // Schedule() began
  Clock::time_point exec_start;  // handed to the runner
  double device_seconds = 0;     // to its result (on an asynchronous runner: launch to Wait)
  std::unordered_map<std::string, int> tenant_tokens;
  bool launched = false;  // in flight on an asynchronous runner: Wait pending
  Status status;          // the runner's (Execute, Launch or Wait)
  StepResult result;
  std::vector<SeqId> finished;  // by its Update
};

Result<std::unique_ptr<Engine>> Engine::Create(EngineConfig config,
                                               std::unique_ptr<ModelRunner> runner,
                                               std::shared_ptr<const TextCodec> codec,
                                               EngineObserver* observer) {
  if (runner == nullptr) return InvalidArgumentError("engine: no model runner");
  if (codec == nullptr) return InvalidArgumentError("engine: no tokenizer");
  if (runner->num_kv_blocks() <= 0 || runner->num_kv_blocks() > INT32_MAX)
    return InvalidArgumentError("engine: the runner has " +
                                std::to_string(runner->num_kv_blocks()) + " KV blocks");
  if (config.scheduler.eos_token_ids.empty()) config.scheduler.eos_token_ids = codec->eos_ids();
  BlockManagerConfig blocks{.num_blocks = static_cast<int>(runner->num_kv_blocks()),
                            .block_size = runner->block_size(),
                            .enable_prefix_caching = config.enable_prefix_caching};
  HEARTH_RETURN_IF_ERROR(ValidateConfig(config.scheduler, blocks));
  if (config.max_waiting_requests < 1)
    return InvalidArgumentError("engine: max_waiting_requests must be >= 1");
  auto engine = std::unique_ptr<Engine>(
      new Engine(std::move(config), std::move(runner), std::move(codec), observer));
  engine->scheduler_ = std::make_unique<Scheduler>(engine->config_.scheduler, blocks);
  engine->max_seq_len_ = engine->scheduler_->max_seq_len();
  engine->PublishStats();
  engine->thread_ = std::thread([e = engine.get()] { e->Loop(); });
  return engine;
}

Engine::Engine(EngineConfig config, std::unique_ptr<ModelRunner> runner,
               std::shared_ptr<const TextCodec> codec, EngineObserver* observer)
    : config_(std::move(config)),
      runner_(std::move(runner)),
      codec_(std::move(codec)),
      observer_(observer),
      num_kv_blocks_(runner_->num_kv_blocks()),
      block_size_(runner_->block_size()) {}

Engine::~Engine() { Shutdown(); }

Result<std::shared_ptr<OutputStream>> Engine::Submit(EngineRequest request) {
  if (stopping_.load() || draining_.load())
    return UnavailableError("the server is draining or shutting down; retry on another replica");
  auto stream = std::make_shared<OutputStream>();
  {
    std::lock_guard lock(mu_);
    if (in_flight_ids_.count(request.request_id))
      return InvalidArgumentError("request_id \"" + request.request_id +
                                  "\" is already in flight; use a unique id per request");
    if (num_not_scheduled_.load() >= config_.max_waiting_requests)
      return ResourceExhaustedError(std::to_string(config_.max_waiting_requests) +
                                    " requests are already waiting (max_waiting_requests); "
                                    "retry later or on another replica");
    num_not_scheduled_.fetch_add(1);
    in_flight_ids_.insert(request.request_id);
  }
  const std::string id = request.request_id;
  EngineCommand command;
  command.request = std::move(request);
  command.stream = stream;
  command.arrival = Clock::now();
  if (!queue_.Push(std::move(command))) {
    std::lock_guard lock(mu_);
    num_not_scheduled_.fetch_sub(1);
    in_flight_ids_.erase(id);
    return UnavailableError("the engine is shutting down");
  }
  return stream;
}

Status Engine::Abort(const std::string& request_id) {
  {
    std::lock_guard lock(mu_);
    if (!in_flight_ids_.count(request_id))
      return NotFoundError("no request \"" + request_id + "\" is in flight");
  }
  EngineCommand command;
  command.kind = EngineCommand::Kind::kAbort;
  command.request_id = request_id;
  if (!queue_.Push(std::move(command))) return UnavailableError("the engine is shutting down");
  return Status::Ok();
}

Status Engine::WarmUp() {
  EngineRequest r;
  r.request_id = "hearth-warmup";
  r.prompt_token_ids = {std::max(codec_->bos_id(), 0)};
  r.limits.max_tokens = 1;
  r.limits.ignore_eos = true;
  r.sampling.temperature = 0.f;
  HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<OutputStream> stream, Submit(std::move(r)));
  while (true) {
    std::optional<OutputChunk> chunk = stream->Next(std::chrono::minutes(10));
    if (!chunk) return InternalError("warm-up: no output within 10 minutes");
    if (chunk->final) return chunk->status;
  }
}

DrainResult Engine::Drain(std::chrono::milliseconds timeout) {
  draining_.store(true);
  DrainResult result;
  std::unique_lock lock(mu_);
  stats_.draining = true;
  const size_t at_start = in_flight_ids_.size();
  if (!done_cv_.wait_for(lock, timeout, [&] { return in_flight_ids_.empty(); })) {
    std::vector<std::string> ids(in_flight_ids_.begin(), in_flight_ids_.end());
    result.aborted = static_cast<int>(ids.size());
    lock.unlock();
    for (const std::string& id : ids) (void)Abort(id);
    lock.lock();
    done_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return in_flight_ids_.empty(); });
  }
  result.completed = static_cast<int>(at_start) - result.aborted;
  return result;
}

void Engine::Shutdown() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  queue_.Close();
  if (thread_.joinable()) thread_.join();
}

EngineStats Engine::stats() const {
  std::lock_guard lock(mu_);
  EngineStats s = stats_;
  s.num_in_flight = static_cast<int>(in_flight_ids_.size());
  return s;
}

void Engine::Loop() {
  while (true) {
    TakeCommands(/*block=*/!scheduler_->HasUnfinished() && in_flight_ == nullptr);
    if (stopping_.load()) break;
    AbortExpired();
    if (scheduler_->HasUnfinished() || in_flight_ != nullptr) RunStep();
    PublishStats();
  }
  // A step still on the device completes (its tokens reach their streams) before anything is
  // torn down: the runner must not be destroyed, nor blocks reused, under a running step.
  if (std::unique_ptr<Step> last = std::move(in_flight_)) {
    Complete(*last);
    Emit(*last);
    scheduler_->TakeFinished();
  }
  // Shutdown: whatever is still queued or running ends now.
  for (EngineCommand& c : queue_.TakeAll(std::chrono::milliseconds(0))) {
    if (c.kind != EngineCommand::Kind::kAdd) continue;
    OutputChunk chunk;
    chunk.final = true;
    chunk.status = UnavailableError("the server shut down");
    chunk.finish_reason = FinishReason::kAbort;
    c.stream->Push(std::move(chunk));
    std::lock_guard lock(mu_);
    in_flight_ids_.erase(c.request.request_id);
  }
  std::vector<SeqId> ids;
  for (const auto& [id, a] : active_) ids.push_back(id);
  for (SeqId id : ids) Finish(id, FinishReason::kAbort, UnavailableError("the server shut down"));
  PublishStats();
}

void Engine::TakeCommands(bool block) {
  auto commands =
      queue_.TakeAll(block ? std::chrono::milliseconds(100) : std::chrono::milliseconds(0));
  for (EngineCommand& c : commands) {
    if (c.kind == EngineCommand::Kind::kAbort) {
      if (auto it = seq_of_request_.find(c.request_id); it != seq_of_request_.end())
        Finish(it->second, FinishReason::kAbort, Status::Ok());
      continue;
    }
    const bool sequence_start = false;  // generated text continues the prompt
    auto decoder = codec_->NewStreamDecoder(c.request.skip_special_tokens, sequence_start);
    std::vector<int32_t> prompt = c.request.prompt_token_ids;
    const SeqId seq =
        scheduler_->AddRequest(std::move(prompt), c.request.limits, c.request.priority);
    auto active = std::make_unique<Active>(std::move(c.request), std::move(c.stream), c.arrival,
                                           std::move(decoder));
    active->seq_id = seq;
    seq_of_request_[active->request.request_id] = seq;
    active_[seq] = std::move(active);
    // A prompt that can never fit is rejected at once, before any step.
    const Sequence* added = scheduler_->Find(seq);
    if (added != nullptr && added->finish_reason() == FinishReason::kRejected) {
      Finish(seq, FinishReason::kRejected, InvalidArgumentError(added->error()));
      scheduler_->TakeFinished();
    }
  }
}

void Engine::AbortExpired() {
  const Clock::time_point now = Clock::now();
  std::vector<std::pair<SeqId, Status>> expired;
  for (const auto& [id, a] : active_) {
    if (a->stream->cancelled()) {
      expired.emplace_back(id, Status(StatusCode::kCancelled, "cancelled by the client"));
    } else if (a->request.deadline && now >= *a->request.deadline) {
      expired.emplace_back(id, Status(StatusCode::kDeadlineExceeded,
                                      "the request's deadline passed; it was aborted"));
    }
  }
  for (auto& [id, status] : expired) Finish(id, FinishReason::kAbort, std::move(status));
}

// Synchronous runner: schedule, execute, update, emit; one step per call. Asynchronous runner
// (ModelRunner::async_launch): step N was launched by the previous call, so this one waits for
// it and updates, schedules and launches step N+1, and only then streams step N's tokens (text
// decoding, stop strings, chunk pushes), while the device computes step N+1. A request that a
// stop string (or a cancel) ends in that emission is already in step N+1: it is aborted (its
// blocks are freed at the next Schedule, after that step completed) and its step-N+1 token is
// dropped, because only requests still active are emitted. Output is unchanged.
void Engine::RunStep() {
  std::unique_ptr<Step> done = std::move(in_flight_);
  if (done != nullptr) Complete(*done);
  std::unique_ptr<Step> next = ScheduleAndLaunch();
  if (done != nullptr) Emit(*done);
  if (next != nullptr) {
    if (next->launched) {
      in_flight_ = std::move(next);
    } else {  // a synchronous runner's step, or a failed launch
      Complete(*next);
      Emit(*next);
    }
  }
  scheduler_->TakeFinished();
}

std::unique_ptr<Engine::Step> Engine::ScheduleAndLaunch() {
  if (!scheduler_->HasUnfinished()) return nullptr;
  auto step = std::make_unique<Step>();
  step->start = Clock::now();
  step->out = scheduler_->Schedule();
  const SchedulerOutput& out = step->out;
  for (SeqId id : out.finished_or_rejected) {
    const Sequence* seq = scheduler_->Find(id);
    if (seq != nullptr && seq->finish_reason() == FinishReason::kRejected) {
      Finish(id, FinishReason::kRejected, InvalidArgumentError(seq->error()));
    } else {
      Finish(id, FinishReason::kAbort, Status::Ok());
    }
  }
  for (const ScheduledSeq& s : out.seqs) {
    auto it = active_.find(s.seq_id);
    if (it == active_.end()) continue;
    Active& a = *it->second;
    step->tenant_tokens[a.request.tenant] += s.num_new_tokens;
    if (!a.first_scheduled) {
      a.first_scheduled = step->start;
      num_not_scheduled_.fetch_sub(1);
    }
  }
  if (out.empty()) return nullptr;

  ++num_steps_;
  const StepPlan plan = BuildStepPlan(out, *scheduler_, config_.plan_options);
  SamplingBatch batch;
  batch.penalty_offsets.push_back(0);
  bool any_penalties = false;
  for (const ScheduledSeq& s : out.seqs) {
    if (!s.samples) continue;
    const Sequence& seq = *scheduler_->Find(s.seq_id);
    auto it = active_.find(s.seq_id);
    ::hearth::SamplingParams sp =
        it != active_.end() ? it->second->request.sampling : ::hearth::SamplingParams{};
    // The sampled token's logprob only where it is streamed: the sampler skips its log-sum-exp.
    sp.token_logprob = it != active_.end() && it->second->request.logprobs ? 1 : 0;
    using P = std::decay_t<decltype(batch.params)>::value_type;
    batch.params.push_back(RunnerParams<P>(sp, seq.params()));
    batch.steps.push_back(seq.num_generated_tokens());
    if (HasPenalties(sp) && it != active_.end()) {
      any_penalties = true;
      PenaltyCounts& pc = it->second->penalties;
      pc.CatchUp(seq);
      batch.penalty_tokens.insert(batch.penalty_tokens.end(), pc.tokens().begin(),
                                  pc.tokens().end());
      batch.penalty_counts.insert(batch.penalty_counts.end(), pc.counts().begin(),
                                  pc.counts().end());
    }
    batch.penalty_offsets.push_back(static_cast<int32_t>(batch.penalty_tokens.size()));
  }
  if (!any_penalties) batch.penalty_offsets.clear();

  step->exec_start = Clock::now();
  if (runner_->async_launch()) {
    step->status = runner_->Launch(plan, batch);
    step->launched = step->status.ok();
  } else {
    step->status = runner_->Execute(plan, batch, &step->result);
  }
  return step;
}

void Engine::Complete(Step& step) {
  if (step.launched) {
    step.status = runner_->Wait(&step.result);
    step.launched = false;
  }
  step.device_seconds = Seconds(Clock::now() - step.exec_start);
  const SchedulerOutput& out = step.out;
  const size_t num_sampling = static_cast<size_t>(out.num_sampling_seqs());
  if (step.status.ok() && step.result.token_ids.size() != num_sampling) {
    step.status = InternalError("model runner returned " +
                                std::to_string(step.result.token_ids.size()) + " tokens for " +
                                std::to_string(num_sampling) + " sequences");
  }
  if (step.status.ok()) {
    step.finished = scheduler_->Update(out, step.result.token_ids);
    return;
  }
  // Every request in the step fails; the scheduler still needs its Update. The error is logged
  // with the failing call (CUDA errors name it) and reported, so health can turn NOT_SERVING
  // instead of the process dying or failing silently.
  ++num_runner_errors_;
  PublishStats();  // before the failed requests' final chunks: their clients may read stats
  std::fprintf(stderr, "hearth: model step failed (%d sequences): %s\n",
               static_cast<int>(out.seqs.size()), step.status.ToString().c_str());
  std::function<void(const Status&)> handler;
  {
    std::lock_guard lock(mu_);
    handler = on_runner_error_;
  }
  if (handler) handler(step.status);
  for (const ScheduledSeq& s : out.seqs)
    Finish(s.seq_id, FinishReason::kAbort,
           InternalError("model step failed: " + step.status.ToString()));
  step.result.token_ids.assign(num_sampling, 0);
  (void)scheduler_->Update(out, step.result.token_ids);
}

void Engine::Emit(Step& step) {
  if (!step.status.ok()) return;  // Complete failed its requests
  const SchedulerOutput& out = step.out;
  const StepResult& result = step.result;
  std::unordered_map<std::string, int> tenant_output_tokens;
  size_t row = 0;
  for (const ScheduledSeq& s : out.seqs) {
    if (!s.samples) continue;
    auto it = active_.find(s.seq_id);
    if (it != active_.end()) {
      ++tenant_output_tokens[it->second->request.tenant];
      EmitToken(*it->second, *scheduler_->Find(s.seq_id), result.token_ids[row], result, row);
    }
    ++row;
  }
  for (SeqId id : step.finished) {
    const Sequence* seq = scheduler_->Find(id);
    if (seq == nullptr) continue;
    std::string stop_reason;
    if (seq->finish_reason() == FinishReason::kStop)
      stop_reason = std::to_string(seq->token_ids().back());
    Finish(id, seq->finish_reason(), Status::Ok(), std::move(stop_reason));
  }

  if (observer_ != nullptr) {
    const SchedulerStats s = scheduler_->stats();
    observer_->OnStep({.step_seconds = Seconds(Clock::now() - step.start),
                       .device_seconds = step.device_seconds,
                       .num_batched_tokens = out.num_batched_tokens,
                       .num_running = s.num_running,
                       .num_waiting = s.num_waiting,
                       .kv_blocks_used = s.blocks.num_used_blocks,
                       .kv_blocks_total = s.blocks.num_blocks,
                       .prefix_cache_hit_rate = s.blocks.hit_rate(),
                       .tenant_tokens = std::move(step.tenant_tokens),
                       .tenant_output_tokens = std::move(tenant_output_tokens)});
  }
}

void Engine::EmitToken(Active& a, const Sequence& seq, int32_t token, const StepResult& result,
                       size_t row) {
  const Clock::time_point now = Clock::now();
  if (!a.first_token) a.first_token = now;
  if (a.last_token && observer_ != nullptr)
    observer_->OnInterTokenGap(a.request.tenant, Seconds(now - *a.last_token));
  a.last_token = now;

  OutputChunk chunk;
  chunk.token_ids.push_back(token);
  const int num_top = a.request.sampling.num_logprobs;
  if (a.request.logprobs) {
    TokenLogprobs lp;
    lp.token_id = token;
    if (row < result.token_logprobs.size()) lp.logprob = result.token_logprobs[row];
    for (int j = 0; j < num_top; ++j) {
      const size_t k = row * kMaxLogprobs + j;
      if (k >= result.top_ids.size() || result.top_ids[k] < 0) break;
      lp.top.emplace_back(result.top_ids[k], result.top_logprobs[k]);
    }
    chunk.logprobs.push_back(std::move(lp));
  }
  // A stop or EOS token ends the stream without text of its own.
  const bool stopped_by_token = seq.is_finished() && seq.finish_reason() == FinishReason::kStop;
  if (!stopped_by_token) {
    StopMatcher::Step step = a.stop.Add(a.decoder->Push(token));
    chunk.text = std::move(step.text);
    if (step.matched) {
      a.stream->Push(std::move(chunk));
      Finish(seq.id(), FinishReason::kStop, Status::Ok(), step.stop);
      return;
    }
  }
  if (!chunk.text.empty() || !chunk.token_ids.empty()) a.stream->Push(std::move(chunk));
}

void Engine::Finish(SeqId id, FinishReason reason, Status status, std::string stop_reason) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  std::unique_ptr<Active> a = std::move(it->second);
  active_.erase(it);
  seq_of_request_.erase(a->request.request_id);
  const Clock::time_point now = Clock::now();

  OutputChunk chunk;
  chunk.final = true;
  const Sequence* seq = scheduler_->Find(id);
  if (seq != nullptr) {
    if (!seq->is_finished()) scheduler_->Abort(id);  // stop string, cancel, deadline, error
    chunk.prompt_tokens = seq->num_prompt_tokens();
    chunk.completion_tokens = seq->num_generated_tokens();
    chunk.cached_tokens = seq->num_cached_tokens();
  }
  if (reason != FinishReason::kStop || stop_reason.empty() ||
      (seq != nullptr && seq->is_finished())) {
    // Not ended by a stop string: the decoder's and the matcher's held-back text is output.
    StopMatcher::Step step = a->stop.Add(a->decoder->Flush());
    chunk.text = std::move(step.text);
    if (step.matched) {
      reason = FinishReason::kStop;
      stop_reason = step.stop;
    } else {
      chunk.text += a->stop.Flush();
    }
  }
  chunk.status = std::move(status);
  chunk.finish_reason = reason;
  chunk.stop_reason = std::move(stop_reason);
  chunk.queue_ms = a->first_scheduled ? Ms(*a->first_scheduled - a->arrival) : Ms(now - a->arrival);
  chunk.first_token_ms = a->first_token ? Ms(*a->first_token - a->arrival) : 0;
  chunk.total_ms = Ms(now - a->arrival);
  if (!a->first_scheduled) num_not_scheduled_.fetch_sub(1);

  RequestReport report{.tenant = a->request.tenant,
                       .finish_reason = reason,
                       .ok = chunk.status.ok(),
                       .prompt_tokens = chunk.prompt_tokens,
                       .completion_tokens = chunk.completion_tokens,
                       .cached_tokens = chunk.cached_tokens,
                       .queue_seconds = chunk.queue_ms / 1e3,
                       .first_token_seconds = chunk.first_token_ms / 1e3,
                       .total_seconds = chunk.total_ms / 1e3};
  // Metrics and the in-flight set are updated before the final chunk is pushed: a client that
  // has its final chunk may at once scrape /metrics, call GetLoad or reuse its request id.
  if (observer_ != nullptr) observer_->OnRequestDone(report);
  {
    std::lock_guard lock(mu_);
    in_flight_ids_.erase(a->request.request_id);
  }
  a->stream->Push(std::move(chunk));
  done_cv_.notify_all();
}

void Engine::PublishStats() {
  const SchedulerStats s = scheduler_->stats();
  std::lock_guard lock(mu_);
  stats_.num_waiting = s.num_waiting;
  stats_.num_running = s.num_running;
  stats_.kv_blocks_used = s.blocks.num_used_blocks;
  stats_.kv_blocks_total = s.blocks.num_blocks;
  stats_.prefix_cache_hit_rate = s.blocks.hit_rate();
  stats_.num_preemptions = s.num_preemptions;
  stats_.num_steps = num_steps_;
  stats_.num_runner_errors = num_runner_errors_.load();
  stats_.draining = draining_.load();
}

void Engine::SetRunnerErrorHandler(std::function<void(const Status&)> handler) {
  std::lock_guard lock(mu_);
  on_runner_error_ = std::move(handler);
}

}  // namespace hearth::engine
