#include "tests/server/fake_model_runner.h"

#include <cmath>
#include <cstdlib>
#include <thread>
#include <type_traits>

namespace hearth::testing {
namespace {

uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

uint64_t ChainHash(uint64_t prev, int32_t token, int32_t position) {
  return Mix(prev ^
             (uint64_t{static_cast<uint32_t>(token)} << 32 | static_cast<uint32_t>(position))) +
         prev * 3;
}

// (temperature, seed) of one sampling row, whichever struct the runner interface carries.
template <class P>
std::pair<float, uint64_t> TemperatureAndSeed(const P& p) {
  if constexpr (std::is_same_v<P, ::hearth::SamplingParams>) {
    return {p.temperature, p.seed};
  } else {
    return {0.f, 0};
  }
}

}  // namespace

FakeModelRunner::FakeModelRunner(FakeRunnerOptions options)
    : options_(std::move(options)),
      kv_(static_cast<size_t>(options_.num_blocks) * options_.block_size) {
  // ctest reruns the engine and server suites with the pipelined (GPU-like) engine loop.
  if (const char* env = std::getenv("HEARTH_TEST_ASYNC_RUNNER"); env != nullptr && env[0] == '1')
    options_.async_launch = true;
}

std::vector<uint64_t> FakeModelRunner::RunKv(const engine::StepPlan& plan) {
  const int bs = options_.block_size;
  std::vector<uint64_t> history(plan.num_padded_tokens, 0);
  for (int i = 0; i < plan.num_seqs; ++i) {
    const int32_t* table =
        plan.block_tables.data() + static_cast<size_t>(i) * plan.max_blocks_per_seq;
    auto slot_of = [&](int pos) -> int64_t {
      const int32_t block = table[pos / bs];
      if (block < 0) return -1;
      return int64_t{block} * bs + pos % bs;
    };
    for (int t = plan.query_start_loc[i]; t < plan.query_start_loc[i + 1]; ++t) {
      const int pos = plan.positions[t];
      uint64_t prev = 0x243f6a8885a308d3ull;
      if (pos > 0) {
        const int64_t slot = slot_of(pos - 1);
        if (slot < 0 || kv_[slot].position != pos - 1) {
          kv_errors_.fetch_add(1);
        } else {
          prev = kv_[slot].history;
        }
      }
      const uint64_t h = ChainHash(prev, plan.token_ids[t], pos);
      const int64_t slot = plan.slot_mapping[t];
      if (slot != slot_of(pos) || slot < 0) {
        kv_errors_.fetch_add(1);
      } else {
        kv_[slot] = {h, pos};
      }
      history[t] = h;
    }
  }
  return history;
}

Status FakeModelRunner::Execute(const engine::StepPlan& plan, const engine::SamplingBatch& sampling,
                                engine::StepResult* result) {
  const int64_t step = steps_.fetch_add(1);
  if (options_.before_step) options_.before_step(step);
  if (options_.inspect_sampling) options_.inspect_sampling(sampling);
  if (options_.step_delay.count() > 0) std::this_thread::sleep_for(options_.step_delay);
  const std::vector<uint64_t> history = RunKv(plan);
  const size_t n = plan.logits_indices.size();
  if (sampling.params.size() != n || sampling.steps.size() != n)
    return InternalError("fake runner: sampling batch does not match logits_indices");
  result->token_ids.assign(n, 0);
  result->token_logprobs.assign(n, 0.f);
  result->top_ids.assign(n * kMaxLogprobs, -1);
  result->top_logprobs.assign(n * kMaxLogprobs, -INFINITY);
  const std::string& alphabet = options_.alphabet;
  for (size_t i = 0; i < n; ++i) {
    uint64_t h = history[plan.logits_indices[i]];
    const auto [temperature, seed] = TemperatureAndSeed(sampling.params[i]);
    const bool greedy = !(temperature >= kGreedyTemperature);
    if (!greedy) h = Mix(h ^ Mix(seed + 0x9e37) ^ Mix(sampling.steps[i] + 17));
    int32_t token = static_cast<unsigned char>(alphabet[(h >> 17) % alphabet.size()]);
    if (options_.eos_one_in > 0 && (h >> 45) % options_.eos_one_in == 0) token = options_.eos_id;
    result->token_ids[i] = token;
    result->token_logprobs[i] = -0.25f;
    result->top_ids[i * kMaxLogprobs] = token;
    result->top_logprobs[i * kMaxLogprobs] = -0.25f;
    for (int j = 1; j < kMaxLogprobs; ++j) {
      result->top_ids[i * kMaxLogprobs + j] =
          static_cast<unsigned char>(alphabet[((h >> 17) + j) % alphabet.size()]);
      result->top_logprobs[i * kMaxLogprobs + j] = -0.25f - j;
    }
  }
  return Status::Ok();
}

Status FakeModelRunner::Launch(const engine::StepPlan& plan,
                               const engine::SamplingBatch& sampling) {
  if (!options_.async_launch) return engine::ModelRunner::Launch(plan, sampling);
  if (launched_.valid()) return InternalError("fake runner: Launch with a step in flight");
  // Copies: the engine may destroy the plan and batch once Launch returns.
  launched_ = std::async(std::launch::async, [this, plan, sampling] {
    return Execute(plan, sampling, &launched_result_);
  });
  return Status::Ok();
}

Status FakeModelRunner::Wait(engine::StepResult* result) {
  if (!launched_.valid()) return InternalError("fake runner: Wait without a launched step");
  const Status status = launched_.get();
  *result = std::move(launched_result_);
  return status;
}

Status FakeModelRunner::ExecuteLogits(const engine::StepPlan& plan, std::vector<float>* logits) {
  const std::vector<uint64_t> history = RunKv(plan);
  logits->assign(plan.logits_indices.size() * options_.vocab_size, 0.f);
  for (size_t i = 0; i < plan.logits_indices.size(); ++i) {
    const uint64_t h = history[plan.logits_indices[i]];
    const int32_t token =
        static_cast<unsigned char>(options_.alphabet[(h >> 17) % options_.alphabet.size()]);
    (*logits)[i * options_.vocab_size + token] = 10.f;
  }
  return Status::Ok();
}

}  // namespace hearth::testing
