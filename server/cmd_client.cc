// hearth client "prompt": streams a completion from a running server (hearth.v1.Inference).
#include <grpcpp/create_channel.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "hearth/v1/inference.grpc.pb.h"
#include "server/cli.h"

namespace hearth::cli {
namespace {

struct ClientArgs {
  std::string address = "127.0.0.1:50051";
  std::string api_key;
  std::string prompt;
  bool chat = false;
  int max_tokens = 256;
  float temperature = 0.f;
  double timeout_s = 600;
};

int RunClient(const ClientArgs& a) {
  auto channel = grpc::CreateChannel(a.address, grpc::InsecureChannelCredentials());
  auto stub = v1::Inference::NewStub(channel);
  v1::GenerateRequest request;
  if (a.chat) {
    v1::ChatMessage* m = request.mutable_chat()->add_messages();
    m->set_role("user");
    m->set_content(a.prompt);
  } else {
    request.set_text(a.prompt);
  }
  request.set_max_tokens(a.max_tokens);
  request.mutable_sampling()->set_temperature(a.temperature);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(a.timeout_s * 1e3)));
  if (!a.api_key.empty()) ctx.AddMetadata("authorization", "Bearer " + a.api_key);
  auto reader = stub->Generate(&ctx, request);
  v1::GenerateResponse r;
  v1::GenerateResponse last;
  while (reader->Read(&r)) {
    std::fwrite(r.text().data(), 1, r.text().size(), stdout);
    std::fflush(stdout);
    if (r.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) last = r;
  }
  const grpc::Status status = reader->Finish();
  std::printf("\n");
  if (!status.ok()) {
    std::fprintf(
        stderr, "error: %s: %s\n",
        status.error_code() == grpc::StatusCode::UNAVAILABLE ? "UNAVAILABLE" : "RPC failed",
        status.error_message().c_str());
    return 1;
  }
  std::fprintf(stderr,
               "[%s] id %s | prompt %d tokens (%d cached), completion %d tokens | queue %.1f ms, "
               "first token %.1f ms, total %.1f ms\n",
               v1::FinishReason_Name(last.finish_reason()).c_str(), last.request_id().c_str(),
               last.usage().prompt_tokens(), last.usage().cached_tokens(),
               last.usage().completion_tokens(), last.timings().queue_ms(),
               last.timings().first_token_ms(), last.timings().total_ms());
  return 0;
}

}  // namespace

void AddClientCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("client", "Stream a completion from a running server");
  auto a = std::make_shared<ClientArgs>();
  cmd->add_option("prompt", a->prompt, "the prompt text")->required();
  cmd->add_option("--address", a->address, "server host:port (127.0.0.1:50051)");
  cmd->add_option("--api-key", a->api_key, "sent as \"authorization: Bearer <key>\"");
  cmd->add_flag("--chat", a->chat, "send the prompt as a user chat message");
  cmd->add_option("--max-tokens", a->max_tokens, "tokens to generate at most (256)");
  cmd->add_option("--temperature", a->temperature, "0 = greedy (default)");
  cmd->add_option("--timeout", a->timeout_s, "call deadline in seconds (600)");
  cmd->callback([a, exit_code] { *exit_code = RunClient(*a); });
}

}  // namespace hearth::cli
