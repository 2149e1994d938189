// The gRPC server over real models: stories260K (tests/data), whose 32 concurrent greedy streams
// must each equal their solo output, and the default model (SmolLM2-135M-Instruct Q4_1,
// HEARTH_SMOLLM2_GGUF as scripts/test.sh sets it; a missing one fails the test), whose real
// tokenizer and chat template sit in front of the prefix cache: a repeated long system prompt
// must be served from the cache.
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "hearth/v1/inference.grpc.pb.h"
#include "server/engine_builder.h"
#include "server/hearth_server.h"
#include "tests/support/test_support.h"

namespace hearth::testing {
namespace {

struct RealServer {
  explicit RealServer(const std::string& model) {
    server::ServerConfig config;
    config.model = model;
    config.address = "127.0.0.1";
    config.port = 0;
    config.metrics_port = -1;
    config.max_seqs = 32;
    config.kv_cache_bytes = 64 << 20;
    auto metrics = std::make_unique<server::Metrics>(0.0);
    Result<server::BuiltEngine> b = server::BuildEngine(config, metrics.get());
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    if (!b.ok()) return;
    built = std::move(*b);
    auto s = server::HearthServer::Start(config, std::move(built.engine), std::move(metrics),
                                         built.info, server::ApiKeys());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return;
    srv = std::move(*s);
    stub = v1::Inference::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(srv->port()),
                                                      grpc::InsecureChannelCredentials()));
  }
  // The streamed token ids and the final chunk.
  std::pair<std::vector<int32_t>, v1::GenerateResponse> Generate(const v1::GenerateRequest& r) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
    auto reader = stub->Generate(&ctx, r);
    std::vector<int32_t> ids;
    v1::GenerateResponse chunk, last;
    while (reader->Read(&chunk)) {
      ids.insert(ids.end(), chunk.token_ids().begin(), chunk.token_ids().end());
      last = chunk;
    }
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {ids, last};
  }
  server::BuiltEngine built;  // its model outlives the server (declared first, destroyed last)
  std::unique_ptr<server::HearthServer> srv;
  std::unique_ptr<v1::Inference::Stub> stub;
};

TEST(ServerRealModelTest, ThirtyTwoConcurrentGreedyStreamsEqualSoloOnStories260K) {
  RealServer f(TestDataPath("stories260K/stories260K.gguf"));
  ASSERT_NE(f.srv, nullptr);
  std::vector<v1::GenerateRequest> requests(32);
  for (int i = 0; i < 32; ++i) {
    requests[i].set_text(i % 2 ? "Once upon a time"
                               : "Lily and Tom went to the park " + std::string(i % 5, '!'));
    requests[i].set_max_tokens(12 + i % 8);
    requests[i].mutable_sampling()->set_temperature(0.f);
    requests[i].mutable_stop()->set_ignore_eos(true);
  }
  std::vector<std::vector<int32_t>> solo, batched(32);
  for (const auto& r : requests) solo.push_back(f.Generate(r).first);
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i)
    threads.emplace_back([&, i] { batched[i] = f.Generate(requests[i]).first; });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(solo[i].size(), static_cast<size_t>(12 + i % 8));
    EXPECT_EQ(batched[i], solo[i]) << "stream " << i;
  }
}

TEST(ServerRealModelTest, RepeatedLongSystemPromptReportsCachedTokens) {
  const char* gguf = std::getenv("HEARTH_SMOLLM2_GGUF");
  ASSERT_NE(gguf, nullptr) << "HEARTH_SMOLLM2_GGUF is not set: run scripts/fetch_default_model.sh";
  ASSERT_TRUE(std::filesystem::exists(gguf)) << gguf;
  RealServer f(gguf);
  ASSERT_NE(f.srv, nullptr);
  std::string system = "You are a meticulous assistant for a maritime museum.";
  for (int i = 0; i < 10; ++i)
    system += " Rule " + std::to_string(i) + ": answer only about ships and the sea.";
  auto ask = [&](const std::string& question) {
    v1::GenerateRequest r;
    v1::ChatMessage* m = r.mutable_chat()->add_messages();
    m->set_role("system");
    m->set_content(system);
    m = r.mutable_chat()->add_messages();
    m->set_role("user");
    m->set_content(question);
    r.set_max_tokens(2);
    r.mutable_sampling()->set_temperature(0.f);
    return f.Generate(r).second.usage();
  };
  const v1::Usage first = ask("What is a schooner?");
  const v1::Usage second = ask("What is a brig?");
  std::printf("prompt %d tokens; repeated: %d of %d cached\n", first.prompt_tokens(),
              second.cached_tokens(), second.prompt_tokens());
  EXPECT_EQ(first.cached_tokens(), 0);
  EXPECT_GT(first.prompt_tokens(), 150);
  // Every full block before the questions differ is reused (they and the generation prompt are
  // well under 20 tokens).
  const int block = f.srv->engine().block_size();
  EXPECT_GE(second.cached_tokens(), (first.prompt_tokens() - 20) / block * block);
  EXPECT_LT(second.cached_tokens(), second.prompt_tokens());
}

}  // namespace
}  // namespace hearth::testing
