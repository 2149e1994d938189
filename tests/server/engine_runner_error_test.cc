// A ModelRunner error (on a GPU: a CUDA error naming the failing call) fails the step's requests
// with INTERNAL, is counted and reported to the error handler (the server turns health
// NOT_SERVING there), and never takes the engine down: later steps run again.
#include <gtest/gtest.h>

#include <mutex>

#include "tests/server/engine_test_util.h"

namespace hearth::testing {
namespace {

// The fake runner, failing the steps whose index is in [fail_from, fail_to).
class FailingRunner : public FakeModelRunner {
 public:
  FailingRunner(int fail_from, int fail_to)
      : FakeModelRunner(FakeRunnerOptions{}), from_(fail_from), to_(fail_to) {}
  Status Execute(const engine::StepPlan& plan, const engine::SamplingBatch& sampling,
                 engine::StepResult* result) override {
    const int step = calls_++;
    if (step >= from_ && step < to_) {
      return InternalError(
          "cudaStreamSynchronize(stream_) failed at x.cc:1: cudaErrorIllegalAddress");
    }
    return FakeModelRunner::Execute(plan, sampling, result);
  }

 private:
  int from_, to_;
  int calls_ = 0;  // engine thread only
};

TEST(EngineRunnerError, FailsTheStepReportsAndKeepsServing) {
  auto runner = std::make_unique<FailingRunner>(0, 1);
  auto codec = std::make_shared<FakeTextCodec>();
  auto created = engine::Engine::Create(DefaultConfig(), std::move(runner), codec);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<engine::Engine> engine = std::move(*created);
  std::mutex mu;
  std::vector<std::string> reported;
  engine->SetRunnerErrorHandler([&](const Status& s) {
    std::lock_guard lock(mu);
    reported.push_back(s.message());
  });

  auto first = engine->Submit(Prompt("hello", 4));
  ASSERT_TRUE(first.ok());
  const Completion failed = Collect(**first);
  EXPECT_EQ(failed.status.code(), StatusCode::kInternal) << failed.status.ToString();
  EXPECT_NE(failed.status.message().find("cudaErrorIllegalAddress"), std::string::npos);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(reported.size(), 1u);
    EXPECT_NE(reported[0].find("cudaStreamSynchronize"), std::string::npos);
  }
  EXPECT_EQ(engine->stats().num_runner_errors, 1);

  // The engine keeps stepping: the next request completes.
  auto second = engine->Submit(Prompt("hello", 4));
  ASSERT_TRUE(second.ok());
  const Completion ok = Collect(**second);
  EXPECT_TRUE(ok.status.ok()) << ok.status.ToString();
  EXPECT_EQ(ok.tokens.size(), 4u);
  engine->Shutdown();
}

}  // namespace
}  // namespace hearth::testing
