// A model-free ModelRunner for engine and server tests. Each token's "KV" is a hash of the whole
// token history up to it, written to its slot and read back through the block table for the
// previous position (as attention would), and the sampled token is a function of that hash (and
// of the seed and step when not greedy). So a request's output is a pure function of its
// prompt and parameters: it must not depend on batching, chunking, preemption or prefix hits,
// and a wrong block table or reused block changes it or counts a KV error.
// Tokens come from `alphabet` (printable bytes of FakeTextCodec), with EOS about once in
// `eos_one_in` greedy steps (0 = never).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "engine/model_runner.h"

namespace hearth::testing {

struct FakeRunnerOptions {
  int64_t num_blocks = 256;
  int block_size = 16;
  int vocab_size = 258;
  std::string alphabet = "abcdefghij klmnop.";
  int32_t eos_id = 257;
  int eos_one_in = 0;
  std::chrono::microseconds step_delay{0};  // emulated compute per step
  // Asynchronous runner (a GPU's): Launch runs the step on a worker thread, Wait joins it.
  // Also set by HEARTH_TEST_ASYNC_RUNNER=1 in the environment.
  bool async_launch = false;
  // Called at the start of every step's compute with its index (0, 1, ...), on the thread that
  // computes it (the worker when async_launch).
  std::function<void(int64_t step)> before_step = nullptr;
  // Called with every step's sampling batch (tests check the penalty lists the engine builds).
  std::function<void(const engine::SamplingBatch&)> inspect_sampling = nullptr;
};

class FakeModelRunner : public engine::ModelRunner {
 public:
  explicit FakeModelRunner(FakeRunnerOptions options);

  int vocab_size() const override { return options_.vocab_size; }
  int64_t num_kv_blocks() const override { return options_.num_blocks; }
  int block_size() const override { return options_.block_size; }
  Status Execute(const engine::StepPlan& plan, const engine::SamplingBatch& sampling,
                 engine::StepResult* result) override;
  Status ExecuteLogits(const engine::StepPlan& plan, std::vector<float>* logits) override;
  bool async_launch() const override { return options_.async_launch; }
  Status Launch(const engine::StepPlan& plan, const engine::SamplingBatch& sampling) override;
  Status Wait(engine::StepResult* result) override;

  // Reads of unwritten or stale KV, slots disagreeing with the block table (must stay 0).
  int64_t num_kv_errors() const { return kv_errors_.load(); }
  int64_t num_steps() const { return steps_.load(); }

 private:
  struct Kv {
    uint64_t history = 0;
    int32_t position = -1;
  };
  // History hash of every real token row.
  std::vector<uint64_t> RunKv(const engine::StepPlan& plan);

  FakeRunnerOptions options_;
  std::vector<Kv> kv_;
  std::atomic<int64_t> kv_errors_{0};
  std::atomic<int64_t> steps_{0};
  // The launched step (async_launch): its worker's status and result.
  std::future<Status> launched_;
  engine::StepResult launched_result_;
};

}  // namespace hearth::testing
