// The engine loop end to end with the fake runner and the byte-level fake codec: solo vs
// batched output, stop rules, abort, deadlines, overload, prefix-cache usage and drain.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <thread>

#include "engine/stop_matcher.h"
#include "tests/server/engine_test_util.h"

namespace hearth::testing {
namespace {

using engine::FinishReason;

TEST(StopMatcherTest, HoldsBackPossibleStartsAndCutsAtTheMatch) {
  engine::StopMatcher m({"STOP", "xy"});
  EXPECT_EQ(m.Add("hello S").text, "hello ");  // "S" may start "STOP"
  EXPECT_EQ(m.Add("T").text, "");
  auto step = m.Add("OP and more");
  EXPECT_TRUE(step.matched);
  EXPECT_EQ(step.text, "");
  EXPECT_EQ(step.stop, "STOP");
  EXPECT_EQ(m.Add("later").text, "");
}

TEST(StopMatcherTest, FalseStartIsReleasedAndFlushReturnsTheTail) {
  engine::StopMatcher m({"abc"});
  EXPECT_EQ(m.Add("xab").text, "x");
  EXPECT_EQ(m.Add("d").text, "abd");
  EXPECT_EQ(m.Add("a").text, "");
  EXPECT_EQ(m.Flush(), "a");
}

TEST(StopMatcherTest, EarliestMatchWinsAcrossStrings) {
  engine::StopMatcher m({"cd", "b"});
  auto step = m.Add("abcd");
  EXPECT_TRUE(step.matched);
  EXPECT_EQ(step.text, "a");
  EXPECT_EQ(step.stop, "b");
}

TEST(EngineTest, SoloRequestStreamsTokensTextAndUsage) {
  EngineFixture f;
  Completion c = f.Run(Prompt("hello world", 24));
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  EXPECT_EQ(c.reason, FinishReason::kLength);
  EXPECT_EQ(c.tokens.size(), 24u);
  EXPECT_EQ(c.text, f.codec->Decode(c.tokens, true));
  EXPECT_EQ(c.final.prompt_tokens, 12);  // BOS + 11 bytes
  EXPECT_EQ(c.final.completion_tokens, 24);
  EXPECT_GE(c.final.total_ms, c.final.first_token_ms);
  EXPECT_EQ(f.runner->num_kv_errors(), 0);
}

TEST(EngineTest, ConcurrentGreedyStreamsEqualTheirSoloOutputs) {
  EngineFixture f;
  std::vector<engine::EngineRequest> requests;
  for (int i = 0; i < 32; ++i)
    requests.push_back(Prompt("prompt number " + std::to_string(i * 7919), 10 + i % 13));
  std::vector<Completion> solo;
  for (const auto& r : requests) solo.push_back(f.Run(r));
  std::vector<std::shared_ptr<engine::OutputStream>> streams;
  for (auto r : requests) {
    r.request_id += "-batched";
    auto s = f.engine->Submit(std::move(r));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    streams.push_back(*s);
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    Completion c = Collect(*streams[i]);
    EXPECT_EQ(c.tokens, solo[i].tokens) << "request " << i;
    EXPECT_EQ(c.text, solo[i].text) << "request " << i;
  }
  EXPECT_EQ(f.runner->num_kv_errors(), 0);
}

TEST(EngineTest, PreemptionUnderMemoryPressureKeepsOutputs) {
  // 12 blocks of 16 tokens for 6 requests that each grow to 2-3 blocks: the scheduler must
  // preempt (recompute), and every output must still equal its solo run.
  EngineFixture f(FakeRunnerOptions{.num_blocks = 12});
  std::vector<engine::EngineRequest> requests;
  for (int i = 0; i < 6; ++i) {
    requests.push_back(Prompt("pressure " + std::to_string(i), 30));
    requests.back().limits.ignore_eos = true;
  }
  std::vector<Completion> solo;
  for (const auto& r : requests) solo.push_back(f.Run(r));
  std::vector<std::shared_ptr<engine::OutputStream>> streams;
  for (auto r : requests) {
    r.request_id += "-together";
    streams.push_back(*f.engine->Submit(std::move(r)));
  }
  for (size_t i = 0; i < streams.size(); ++i)
    EXPECT_EQ(Collect(*streams[i]).tokens, solo[i].tokens);
  EXPECT_GT(f.engine->stats().num_preemptions, 0);
  EXPECT_EQ(f.runner->num_kv_errors(), 0);
}

TEST(EngineTest, UrgentRequestOvertakesWaitingOnes) {
  engine::EngineConfig config = DefaultConfig();
  config.scheduler.max_num_seqs = 1;
  EngineFixture f(FakeRunnerOptions{.step_delay = std::chrono::milliseconds(2)}, config);
  std::vector<std::shared_ptr<engine::OutputStream>> low;
  for (int i = 0; i < 3; ++i)
    low.push_back(*f.engine->Submit(Prompt("low " + std::to_string(i), 20)));
  engine::EngineRequest urgent = Prompt("urgent", 20);
  urgent.priority = -5;  // engine convention: lower = more urgent
  auto high = *f.engine->Submit(urgent);
  const Completion h = Collect(*high);
  // The urgent request waited for at most the one low request already running.
  const Completion last = Collect(*low[2]);
  EXPECT_LT(h.final.total_ms, last.final.total_ms);
  EXPECT_LT(h.final.queue_ms, last.final.queue_ms);
  for (int i = 0; i < 2; ++i) Collect(*low[i]);
}

TEST(EngineTest, StopStringEndsTheStreamAndIsNeverStreamed) {
  EngineFixture f;
  Completion solo = f.Run(Prompt("a stop string test", 48));
  ASSERT_GE(solo.text.size(), 30u);
  const std::string stop = solo.text.substr(20, 3);
  const size_t cut = solo.text.find(stop);
  engine::EngineRequest r = Prompt("a stop string test", 48);
  r.request_id = "with-stop";
  r.stop_strings = {stop};
  Completion c = f.Run(r);
  EXPECT_EQ(c.reason, FinishReason::kStop);
  EXPECT_EQ(c.final.stop_reason, stop);
  EXPECT_EQ(c.text, solo.text.substr(0, cut));
  EXPECT_EQ(c.final.completion_tokens, static_cast<int>(cut + stop.size()));
  WaitForIdleBlocks(*f.engine);
}

TEST(EngineTest, StopTokenEndsWithoutItsText) {
  EngineFixture f;
  Completion solo = f.Run(Prompt("stop token", 30));
  const int32_t stop_token = solo.tokens[5];
  size_t first = 0;
  while (solo.tokens[first] != stop_token) ++first;
  engine::EngineRequest r = Prompt("stop token", 30);
  r.request_id = "stop-token";
  r.limits.stop_token_ids = {stop_token};
  Completion c = f.Run(r);
  EXPECT_EQ(c.reason, FinishReason::kStop);
  EXPECT_EQ(c.final.stop_reason, std::to_string(stop_token));
  EXPECT_EQ(c.tokens.size(), first + 1);
  EXPECT_EQ(c.text, solo.text.substr(0, first));
}

// Penalty lists (kept incrementally by the engine) equal their definition at every step: each
// prompt token once with count 0, each generated token with its number of occurrences so far. A
// request without penalties beside it has an empty range.
TEST(EngineTest, PenaltyListsCountEveryTokenSoFar) {
  std::mutex mu;
  std::vector<std::map<int32_t, int32_t>> lists;  // the penalized row's list, per step
  int bad_rows = 0;
  FakeRunnerOptions options;
  options.inspect_sampling = [&](const engine::SamplingBatch& b) {
    std::lock_guard lock(mu);
    if (b.penalty_offsets.empty()) return;
    int penalized = 0;
    for (size_t row = 0; row + 1 < b.penalty_offsets.size(); ++row) {
      if (b.penalty_offsets[row] == b.penalty_offsets[row + 1]) continue;
      ++penalized;
      std::map<int32_t, int32_t> list;
      for (int32_t e = b.penalty_offsets[row]; e < b.penalty_offsets[row + 1]; ++e)
        if (!list.emplace(b.penalty_tokens[e], b.penalty_counts[e]).second) ++bad_rows;
      lists.push_back(std::move(list));
    }
    if (penalized != 1) ++bad_rows;
  };
  EngineFixture f(options);
  engine::EngineRequest penalized = Prompt("penalties, penalties and repeats", 40);
  penalized.limits.ignore_eos = true;
  penalized.sampling.repetition_penalty = 1.3f;
  penalized.sampling.frequency_penalty = 0.5f;
  engine::EngineRequest plain = Prompt("no penalties here", 30);
  plain.limits.ignore_eos = true;
  auto a = f.engine->Submit(penalized);
  auto b = f.engine->Submit(plain);
  ASSERT_TRUE(a.ok() && b.ok());
  const Completion got = Collect(**a);
  Collect(**b);
  ASSERT_TRUE(got.status.ok()) << got.status.ToString();
  std::lock_guard lock(mu);
  EXPECT_EQ(bad_rows, 0);
  ASSERT_EQ(lists.size(), got.tokens.size());  // one sampled row per generated token
  std::map<int32_t, int32_t> want;
  for (int32_t t : penalized.prompt_token_ids) want.emplace(t, 0);
  for (size_t k = 0; k < lists.size(); ++k) {
    EXPECT_EQ(lists[k], want) << "step sampling token " << k;
    ++want[got.tokens[k]];
  }
}

TEST(EngineTest, AbortFreesBlocks) {
  EngineFixture f(FakeRunnerOptions{.step_delay = std::chrono::milliseconds(2)});
  engine::EngineRequest r = Prompt(std::string(100, 'x'), 100000);
  r.limits.ignore_eos = true;
  auto s = f.engine->Submit(r);
  ASSERT_TRUE(s.ok());
  auto first = (*s)->Next(std::chrono::seconds(20));
  ASSERT_TRUE(first.has_value());
  EXPECT_GT(f.engine->stats().kv_blocks_used, 0);
  ASSERT_TRUE(f.engine->Abort(r.request_id).ok());
  Completion c = Collect(**s);
  EXPECT_EQ(c.reason, FinishReason::kAbort);
  WaitForIdleBlocks(*f.engine);
  EXPECT_EQ(f.engine->Abort(r.request_id).code(), StatusCode::kNotFound);
}

TEST(EngineTest, CancelledStreamFreesBlocks) {
  EngineFixture f(FakeRunnerOptions{.step_delay = std::chrono::milliseconds(2)});
  auto s = f.engine->Submit(Prompt(std::string(70, 'y'), 100000));
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Next(std::chrono::seconds(20)).has_value());
  (*s)->Cancel();
  Completion c = Collect(**s);
  EXPECT_EQ(c.reason, FinishReason::kAbort);
  WaitForIdleBlocks(*f.engine);
}

TEST(EngineTest, DeadlineAbortsWithDeadlineExceeded) {
  EngineFixture f(FakeRunnerOptions{.step_delay = std::chrono::milliseconds(2)});
  engine::EngineRequest r = Prompt("deadline", 100000);
  r.deadline = engine::Clock::now() + std::chrono::milliseconds(50);
  Completion c = f.Run(r);
  EXPECT_EQ(c.status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(c.reason, FinishReason::kAbort);
  WaitForIdleBlocks(*f.engine);
}

TEST(EngineTest, OverloadIsRefusedAndAdmittedRequestsComplete) {
  engine::EngineConfig config = DefaultConfig();
  config.max_waiting_requests = 4;
  config.scheduler.max_num_seqs = 2;
  EngineFixture f(FakeRunnerOptions{.step_delay = std::chrono::milliseconds(3)}, config);
  std::vector<std::shared_ptr<engine::OutputStream>> admitted;
  int refused = 0;
  for (int i = 0; i < 40; ++i) {
    auto s = f.engine->Submit(Prompt("overload " + std::to_string(i), 20));
    if (s.ok()) {
      admitted.push_back(*s);
    } else {
      EXPECT_EQ(s.status().code(), StatusCode::kResourceExhausted) << s.status().ToString();
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_GE(admitted.size(), 4u);
  for (auto& s : admitted) {
    Completion c = Collect(*s);
    EXPECT_TRUE(c.status.ok());
    EXPECT_EQ(c.tokens.size(), 20u);
  }
}

TEST(EngineTest, RepeatedSystemPromptReportsCachedTokens) {
  EngineFixture f;
  const std::string system(200, 's');
  Completion a = f.Run(Prompt(system + " first question", 8));
  engine::EngineRequest r = Prompt(system + " second question", 8);
  r.request_id = "second";
  Completion b = f.Run(r);
  EXPECT_EQ(a.final.cached_tokens, 0);
  EXPECT_GE(b.final.cached_tokens, 192);  // 12 full blocks of 16 shared tokens
  EXPECT_LT(b.final.cached_tokens, b.final.prompt_tokens);
}

TEST(EngineTest, RejectedPromptFailsWithInvalidArgument) {
  EngineFixture f(FakeRunnerOptions{.num_blocks = 4});
  Completion c = f.Run(Prompt(std::string(100, 'z'), 4));
  EXPECT_EQ(c.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status.message().find("prompt"), std::string::npos) << c.status.message();
}

TEST(EngineTest, DrainFinishesInFlightThenRefuses) {
  EngineFixture f(FakeRunnerOptions{.step_delay = std::chrono::milliseconds(1)});
  std::vector<std::shared_ptr<engine::OutputStream>> streams;
  for (int i = 0; i < 6; ++i)
    streams.push_back(*f.engine->Submit(Prompt("drain " + std::to_string(i), 30)));
  engine::DrainResult d = f.engine->Drain(std::chrono::seconds(20));
  EXPECT_EQ(d.completed, 6);
  EXPECT_EQ(d.aborted, 0);
  for (auto& s : streams) EXPECT_EQ(Collect(*s).tokens.size(), 30u);
  EXPECT_EQ(f.engine->Submit(Prompt("late", 3)).status().code(), StatusCode::kUnavailable);
}

TEST(EngineTest, DrainTimeoutAbortsTheRest) {
  EngineFixture f(FakeRunnerOptions{.step_delay = std::chrono::milliseconds(2)});
  auto s = f.engine->Submit(Prompt("never ends", 1000000));
  ASSERT_TRUE(s.ok());
  engine::DrainResult d = f.engine->Drain(std::chrono::milliseconds(50));
  EXPECT_EQ(d.aborted, 1);
  EXPECT_EQ(Collect(**s).reason, FinishReason::kAbort);
}

TEST(EngineTest, DuplicateInFlightIdIsRejected) {
  EngineFixture f(FakeRunnerOptions{.step_delay = std::chrono::milliseconds(2)});
  engine::EngineRequest r = Prompt("dup", 1000);
  auto s = f.engine->Submit(r);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(f.engine->Submit(r).status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(f.engine->Abort(r.request_id).ok());
  Collect(**s);
}

TEST(EngineTest, WarmUpAndShutdownEndStreams) {
  EngineFixture f(FakeRunnerOptions{.step_delay = std::chrono::milliseconds(2)});
  ASSERT_TRUE(f.engine->WarmUp().ok());
  auto s = f.engine->Submit(Prompt("shutdown", 1000000));
  ASSERT_TRUE(s.ok());
  f.engine->Shutdown();
  Completion c = Collect(**s);
  EXPECT_EQ(c.status.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace hearth::testing
