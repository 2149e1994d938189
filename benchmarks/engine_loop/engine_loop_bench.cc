// How much host time the engine loop puts between two device steps, and how much of it the
// pipelined loop (ModelRunner::Launch / Wait) hides behind the device.
//
// The fake runner (tests/server) stands in for the GPU: its step takes --step-us of sleep on a
// worker thread, so the host work measured here is the engine's own (Update, Schedule, the step
// plan, the sampling batch, detokenization, stop strings, stream pushes). Per decode step of N
// concurrent sequences it prints, in microseconds:
//   gap      device idle between steps: previous step's result in hand -> next step launched
//            (Update + Schedule + BuildStepPlan + the sampling batch)
//   hidden   host work done while the device runs (emitting the previous step's tokens, taking
//            new requests, stats): on the critical path in a synchronous loop, hidden here
// Medians and 90th percentiles over the steps in which every sequence decodes. The synchronous
// loop (the CPU runner's) is timed the same way for comparison: all its host work is in `gap`.
//
//   bench_engine_loop [--seqs 1,16,64,256] [--tokens 128] [--prompt 64] [--step-us 2000]
//                     [--penalties 0|1]   (1: every request has repetition_penalty 1.1)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "tests/server/fake_model_runner.h"
#include "tests/server/fake_text_codec.h"

namespace hearth::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The fake runner, pipelined, with the time of every Launch / Wait boundary.
class TimedRunner : public FakeModelRunner {
 public:
  explicit TimedRunner(FakeRunnerOptions o) : FakeModelRunner(std::move(o)) {}
  Status Launch(const engine::StepPlan& plan, const engine::SamplingBatch& sampling) override {
    Step s;
    s.launch_enter = Clock::now();
    s.num_seqs = plan.num_seqs;
    s.num_decode = plan.num_decode_seqs;
    const Status status = FakeModelRunner::Launch(plan, sampling);
    s.launch_return = Clock::now();
    steps_.push_back(s);
    return status;
  }
  // The synchronous loop (async_launch false): the whole step inside Execute.
  Status Execute(const engine::StepPlan& plan, const engine::SamplingBatch& sampling,
                 engine::StepResult* result) override {
    if (async_launch()) return FakeModelRunner::Execute(plan, sampling, result);
    Step s;
    s.launch_enter = Clock::now();
    s.num_seqs = plan.num_seqs;
    s.num_decode = plan.num_decode_seqs;
    const Status status = FakeModelRunner::Execute(plan, sampling, result);
    s.launch_return = s.wait_enter = s.wait_return = Clock::now();
    steps_.push_back(s);
    return status;
  }
  Status Wait(engine::StepResult* result) override {
    steps_.back().wait_enter = Clock::now();
    const Status status = FakeModelRunner::Wait(result);
    steps_.back().wait_return = Clock::now();
    return status;
  }
  struct Step {
    Clock::time_point launch_enter, launch_return, wait_enter, wait_return;
    int num_seqs = 0, num_decode = 0;
  };
  std::vector<Step> steps_;  // engine thread only; read after the engine stopped
};

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

std::vector<int> ParseList(const char* s) {
  std::vector<int> out;
  for (const char* p = s; *p;) {
    out.push_back(std::atoi(p));
    p = std::strchr(p, ',');
    if (p == nullptr) break;
    ++p;
  }
  return out;
}

int Run(int argc, char** argv) {
  std::vector<int> seqs = {1, 16, 64, 256};
  int tokens = 128, prompt = 64, step_us = 2000;
  bool penalties = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--seqs") seqs = ParseList(argv[i + 1]);
    else if (flag == "--tokens") tokens = std::atoi(argv[i + 1]);
    else if (flag == "--prompt") prompt = std::atoi(argv[i + 1]);
    else if (flag == "--step-us") step_us = std::atoi(argv[i + 1]);
    else if (flag == "--penalties") penalties = std::atoi(argv[i + 1]) != 0;
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  std::printf("# engine loop host time per decode step (us); fake device step %d us, prompt %d, "
              "%d output tokens, penalties %s\n", step_us, prompt, tokens, penalties ? "on" : "off");
  std::printf("%10s %6s %8s %10s %10s %10s %10s\n", "loop", "seqs", "steps", "gap_p50", "gap_p90",
              "hidden_p50", "hidden_p90");
  for (int n : seqs)
  for (bool pipelined : {false, true}) {
    FakeRunnerOptions o;
    o.async_launch = pipelined;
    o.step_delay = std::chrono::microseconds(step_us);
    o.block_size = 16;
    o.num_blocks = static_cast<int64_t>(n) * ((prompt + tokens) / 16 + 2);
    auto runner = std::make_unique<TimedRunner>(o);
    TimedRunner* timed = runner.get();
    engine::EngineConfig config;
    config.scheduler.max_num_seqs = std::max(n, 1);
    config.scheduler.max_num_batched_tokens = std::max(2048, n);
    config.max_waiting_requests = n + 1;
    auto created =
        engine::Engine::Create(config, std::move(runner), std::make_shared<FakeTextCodec>());
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
      return 1;
    }
    std::unique_ptr<engine::Engine> engine = std::move(*created);
    std::vector<std::shared_ptr<engine::OutputStream>> streams;
    for (int i = 0; i < n; ++i) {
      engine::EngineRequest r;
      r.request_id = "r" + std::to_string(i);
      for (int t = 0; t < prompt; ++t) r.prompt_token_ids.push_back('a' + (i * 7 + t) % 26);
      r.limits.max_tokens = tokens;
      r.limits.ignore_eos = true;
      r.sampling.temperature = 0.f;
      if (penalties) r.sampling.repetition_penalty = 1.1f;
      auto s = engine->Submit(std::move(r));
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.status().ToString().c_str());
        return 1;
      }
      streams.push_back(*s);
    }
    for (auto& s : streams) {
      while (true) {
        std::optional<engine::OutputChunk> c = s->Next(std::chrono::minutes(5));
        if (!c || c->final) break;
      }
    }
    engine->Shutdown();
    std::vector<double> gap, hidden;
    const auto& st = timed->steps_;
    for (size_t i = 1; i < st.size(); ++i) {
      if (st[i].num_decode != n || st[i - 1].num_decode != n) continue;  // all decoding
      gap.push_back(Us(st[i].launch_enter - st[i - 1].wait_return));
      hidden.push_back(Us(st[i].wait_enter - st[i].launch_return));
    }
    std::printf("%10s %6d %8zu %10.1f %10.1f %10.1f %10.1f\n", pipelined ? "pipelined" : "sync", n,
                gap.size(), Quantile(gap, 0.5), Quantile(gap, 0.9), Quantile(hidden, 0.5),
                Quantile(hidden, 0.9));
  }
  return 0;
}

}  // namespace
}  // namespace hearth::testing

int main(int argc, char** argv) { return hearth::testing::Run(argc, argv); }
