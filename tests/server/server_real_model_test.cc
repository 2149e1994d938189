// The gRPC server over the default model (SmolLM2-135M-Instruct Q4_1, HEARTH_SMOLLM2_GGUF as
// scripts/test.sh sets it; a missing one fails the test): the real tokenizer and chat template
// in front of the prefix cache. A repeated long system prompt must be served from the cache.
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "hearth/v1/inference.grpc.pb.h"
#include "server/engine_builder.h"
#include "server/hearth_server.h"

namespace hearth::testing {
namespace {

TEST(ServerRealModelTest, RepeatedLongSystemPromptReportsCachedTokens) {
  const char* gguf = std::getenv("HEARTH_SMOLLM2_GGUF");
  ASSERT_NE(gguf, nullptr) << "HEARTH_SMOLLM2_GGUF is not set: run scripts/fetch_default_model.sh";
  ASSERT_TRUE(std::filesystem::exists(gguf)) << gguf;
  server::ServerConfig config;
  config.model = gguf;
  config.address = "127.0.0.1";
  config.port = 0;
  config.metrics_port = -1;
  config.max_seqs = 4;
  config.kv_cache_bytes = 64 << 20;
  auto metrics = std::make_unique<server::Metrics>(0.0);
  Result<server::BuiltEngine> built = server::BuildEngine(config, metrics.get());
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  auto srv = server::HearthServer::Start(config, std::move(built->engine), std::move(metrics),
                                         built->info, server::ApiKeys());
  ASSERT_TRUE(srv.ok()) << srv.status().ToString();
  auto stub = v1::Inference::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string((*srv)->port()), grpc::InsecureChannelCredentials()));

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
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
    auto reader = stub->Generate(&ctx, r);
    v1::GenerateResponse chunk, last;
    while (reader->Read(&chunk)) last = chunk;
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return last.usage();
  };
  const v1::Usage first = ask("What is a schooner?");
  const v1::Usage second = ask("What is a brig?");
  std::printf("prompt %d tokens; repeated: %d of %d cached\n", first.prompt_tokens(),
              second.cached_tokens(), second.prompt_tokens());
  EXPECT_EQ(first.cached_tokens(), 0);
  EXPECT_GT(first.prompt_tokens(), 150);
  // Every full block before the questions differ is reused (they and the generation prompt are
  // well under 20 tokens).
  const int block = (*srv)->engine().block_size();
  EXPECT_GE(second.cached_tokens(), (first.prompt_tokens() - 20) / block * block);
  EXPECT_LT(second.cached_tokens(), second.prompt_tokens());
}

}  // namespace
}  // namespace hearth::testing
