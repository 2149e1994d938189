// The pipelined engine loop (asynchronous runners, ModelRunner::Launch / Wait): step N's tokens
// reach their streams while the runner computes step N+1, output is unchanged, and a failed
// launch fails only its step. The whole engine, error and server suites also run pipelined
// (ctest's *_pipelined entries, HEARTH_TEST_ASYNC_RUNNER=1).
#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>

#include "tests/server/engine_test_util.h"

namespace hearth::testing {
namespace {

using engine::FinishReason;

// A stream decoder that reports each token it is given (the engine calls Push while emitting).
class HookedCodec : public FakeTextCodec {
 public:
  explicit HookedCodec(std::function<void(int index)> on_push) : on_push_(std::move(on_push)) {}
  std::unique_ptr<engine::TokenStreamDecoder> NewStreamDecoder(bool skip_special,
                                                               bool sequence_start) const override {
    return std::make_unique<Decoder>(FakeTextCodec::NewStreamDecoder(skip_special, sequence_start),
                                     on_push_);
  }

 private:
  class Decoder : public engine::TokenStreamDecoder {
   public:
    Decoder(std::unique_ptr<engine::TokenStreamDecoder> inner, std::function<void(int)> hook)
        : inner_(std::move(inner)), hook_(std::move(hook)) {}
    std::string Push(int32_t id) override {
      hook_(pushed_++);
      return inner_->Push(id);
    }
    std::string Flush() override { return inner_->Flush(); }

   private:
    std::unique_ptr<engine::TokenStreamDecoder> inner_;
    std::function<void(int)> hook_;
    int pushed_ = 0;
  };
  std::function<void(int)> on_push_;
};

// One request: step k computes token k. The engine's emission of token k (its Push into the
// stream decoder) waits until step k+1 has started computing, and step k+1's computation waits
// until token k was emitted: both hold only if step k+1 is launched before step k's tokens are
// streamed and runs while they are. Each wait is bounded; a timeout counts as a failure (a loop
// that streams step k before launching step k+1 times out at every token).
TEST(EnginePipelineTest, StreamsStepNWhileTheRunnerComputesStepNPlusOne) {
  constexpr int kTokens = 8;
  engine::EngineRequest request = Prompt("overlap", kTokens);
  request.limits.ignore_eos = true;
  EngineFixture reference;  // synchronous runner: the expected output
  const Completion expected = reference.Run(request);
  ASSERT_TRUE(expected.status.ok()) << expected.status.ToString();
  ASSERT_EQ(expected.tokens.size(), static_cast<size_t>(kTokens));

  std::mutex mu;
  std::condition_variable cv;
  int started = 0;  // steps whose computation has started
  int emitted = 0;  // tokens pushed into the stream decoder
  int timeouts = 0;
  auto wait_for = [&](std::unique_lock<std::mutex>& lock, const std::function<bool()>& done) {
    if (!cv.wait_for(lock, std::chrono::seconds(1), done)) ++timeouts;
  };
  FakeRunnerOptions options;
  options.async_launch = true;
  options.before_step = [&](int64_t step) {
    std::unique_lock lock(mu);
    started = static_cast<int>(step) + 1;
    cv.notify_all();
    if (step > 0) wait_for(lock, [&] { return emitted >= step; });
  };
  auto codec = std::make_shared<HookedCodec>([&](int index) {
    std::unique_lock lock(mu);
    if (index + 1 < kTokens) wait_for(lock, [&] { return started >= index + 2; });
    emitted = index + 1;
    cv.notify_all();
  });
  auto runner = std::make_unique<FakeModelRunner>(options);
  FakeModelRunner* fake = runner.get();
  auto created = engine::Engine::Create(DefaultConfig(), std::move(runner), codec);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto stream = (*created)->Submit(request);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  const Completion c = Collect(**stream);
  EXPECT_TRUE(c.status.ok()) << c.status.ToString();
  EXPECT_EQ(c.tokens, expected.tokens);
  EXPECT_EQ(c.text, expected.text);
  EXPECT_EQ(fake->num_steps(), kTokens);  // one prefill step, then one decode per token
  std::lock_guard lock(mu);
  EXPECT_EQ(timeouts, 0) << "token emissions that did not overlap the next step";
}

// Launch itself fails (on a GPU: a bad plan or a failed enqueue): nothing is in flight, the
// step's requests fail with INTERNAL, the handler hears it, and later steps run.
class LaunchFailingRunner : public FakeModelRunner {
 public:
  explicit LaunchFailingRunner(int fail_call)
      : FakeModelRunner(FakeRunnerOptions{.async_launch = true}), fail_call_(fail_call) {}
  Status Launch(const engine::StepPlan& plan, const engine::SamplingBatch& sampling) override {
    if (calls_++ == fail_call_) return InternalError("cudaMemcpyAsync failed: launch refused");
    return FakeModelRunner::Launch(plan, sampling);
  }

 private:
  int fail_call_;
  int calls_ = 0;  // engine thread only
};

TEST(EnginePipelineTest, FailedLaunchFailsItsStepOnly) {
  auto runner = std::make_unique<LaunchFailingRunner>(/*fail_call=*/3);
  FakeModelRunner* fake = runner.get();
  auto created = engine::Engine::Create(DefaultConfig(), std::move(runner),
                                        std::make_shared<FakeTextCodec>());
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<engine::Engine> engine = std::move(*created);
  std::mutex mu;
  int reported = 0;
  engine->SetRunnerErrorHandler([&](const Status&) {
    std::lock_guard lock(mu);
    ++reported;
  });
  // Steps 0-2 run (prefill, two decodes: two tokens streamed), step 3's launch fails.
  engine::EngineRequest first = Prompt("first", 10);
  first.limits.ignore_eos = true;
  auto s = engine->Submit(first);
  ASSERT_TRUE(s.ok());
  const Completion failed = Collect(**s);
  EXPECT_EQ(failed.status.code(), StatusCode::kInternal) << failed.status.ToString();
  EXPECT_NE(failed.status.message().find("launch refused"), std::string::npos);
  EXPECT_EQ(failed.tokens.size(), 3u);  // steps 0-2's tokens, none after the failure
  EXPECT_EQ(engine->stats().num_runner_errors, 1);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(reported, 1);
  }
  engine::EngineRequest second = Prompt("second", 6);
  second.limits.ignore_eos = true;
  auto t = engine->Submit(second);
  ASSERT_TRUE(t.ok());
  const Completion ok = Collect(**t);
  EXPECT_TRUE(ok.status.ok()) << ok.status.ToString();
  EXPECT_EQ(ok.tokens.size(), 6u);
  WaitForIdleBlocks(*engine);
  EXPECT_EQ(fake->num_kv_errors(), 0);
  engine->Shutdown();
}

}  // namespace
}  // namespace hearth::testing
