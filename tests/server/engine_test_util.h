// Helpers for engine and server tests: an engine over the fake runner and codec, a request
// builder, and a stream collector.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "engine/engine.h"
#include "tests/server/fake_model_runner.h"
#include "tests/server/fake_text_codec.h"

namespace hearth::testing {

inline engine::EngineConfig DefaultConfig() {
  engine::EngineConfig config;
  config.scheduler.max_num_batched_tokens = 64;  // small: prompts take several chunks
  config.scheduler.max_num_seqs = 16;
  return config;
}

struct Completion {
  std::string text;
  std::vector<int32_t> tokens;
  engine::OutputChunk final;
  Status status;
  engine::FinishReason reason = engine::FinishReason::kNone;
};

struct EngineFixture {
  explicit EngineFixture(FakeRunnerOptions options = {},
                         engine::EngineConfig config = DefaultConfig()) {
    auto r = std::make_unique<FakeModelRunner>(options);
    runner = r.get();
    codec = std::make_shared<FakeTextCodec>();
    auto e = engine::Engine::Create(config, std::move(r), codec);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    engine = std::move(*e);
  }
  Completion Run(engine::EngineRequest request);

  FakeModelRunner* runner = nullptr;
  std::shared_ptr<FakeTextCodec> codec;
  std::unique_ptr<engine::Engine> engine;
};

inline Completion Collect(engine::OutputStream& stream) {
  Completion c;
  while (true) {
    std::optional<engine::OutputChunk> chunk = stream.Next(std::chrono::seconds(20));
    if (!chunk) {
      ADD_FAILURE() << "no chunk within 20 s";
      return c;
    }
    c.text += chunk->text;
    c.tokens.insert(c.tokens.end(), chunk->token_ids.begin(), chunk->token_ids.end());
    if (chunk->final) {
      c.status = chunk->status;
      c.reason = chunk->finish_reason;
      c.final = std::move(*chunk);
      return c;
    }
  }
}

inline Completion EngineFixture::Run(engine::EngineRequest request) {
  auto s = engine->Submit(std::move(request));
  if (!s.ok()) {
    Completion c;
    c.status = s.status();
    return c;
  }
  return Collect(**s);
}

inline engine::EngineRequest Prompt(const std::string& text, int max_tokens) {
  static std::atomic<int> counter{0};
  engine::EngineRequest r;
  r.request_id = "req-" + std::to_string(counter.fetch_add(1));
  r.prompt_token_ids = FakeTextCodec().Encode(text, true, false);
  r.limits.max_tokens = max_tokens;
  r.sampling.temperature = 0.f;
  return r;
}

// KV blocks referenced by sequences return to 0 (freed at the step after an abort).
inline void WaitForIdleBlocks(const engine::Engine& engine) {
  for (int i = 0; i < 2000 && engine.stats().kv_blocks_used != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
}

}  // namespace hearth::testing
