// hearth generate --model PATH [--chat] "prompt": one completion through the same Engine the
// server uses, streamed to stdout; prompt and decode tokens/s on stderr at the end.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "server/cli.h"
#include "server/engine_builder.h"

namespace hearth::cli {
namespace {

struct GenerateArgs {
  server::ServerConfig config;
  std::string prompt;
  bool chat = false;
  int max_tokens = 256;
  float temperature = 0.f;
  float top_p = 1.f;
  int top_k = 0;
  uint64_t seed = 0;
};

int Generate(const GenerateArgs& a) {
  if (Status s = server::ValidateServerConfig(a.config); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 2;
  }
  Result<server::BuiltEngine> built = server::BuildEngine(a.config, nullptr);
  if (!built.ok()) {
    std::fprintf(stderr, "error: %s\n", built.status().ToString().c_str());
    return 1;
  }
  engine::Engine& engine = *built->engine;
  const engine::TextCodec& codec = engine.codec();
  engine::EngineRequest r;
  r.request_id = "generate";
  if (a.chat) {
    const engine::ChatTurn turn{"user", a.prompt};
    Result<std::string> text = codec.RenderChat({&turn, 1}, /*add_generation_prompt=*/true);
    if (!text.ok()) {
      std::fprintf(stderr, "error: --chat: %s\n", text.status().ToString().c_str());
      return 1;
    }
    r.prompt_token_ids = codec.Encode(*text, /*add_special=*/false, /*parse_special=*/true);
  } else {
    r.prompt_token_ids = codec.Encode(a.prompt, /*add_special=*/true, /*parse_special=*/false);
  }
  const int room = engine.max_seq_len() - static_cast<int>(r.prompt_token_ids.size());
  if (room < 1) {
    std::fprintf(stderr, "error: the prompt has %zu tokens; the context holds %d\n",
                 r.prompt_token_ids.size(), engine.max_seq_len());
    return 2;
  }
  r.limits.max_tokens = std::min(a.max_tokens, room);
  r.sampling.temperature = a.temperature;
  r.sampling.top_p = a.top_p;
  r.sampling.top_k = a.top_k;
  r.sampling.seed = a.seed;
  if (Status s = ValidateSamplingParams(r.sampling); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    return 2;
  }
  Result<std::shared_ptr<engine::OutputStream>> stream = engine.Submit(std::move(r));
  if (!stream.ok()) {
    std::fprintf(stderr, "error: %s\n", stream.status().ToString().c_str());
    return 1;
  }
  while (true) {
    std::optional<engine::OutputChunk> chunk = (*stream)->Next();
    if (!chunk) continue;
    std::fwrite(chunk->text.data(), 1, chunk->text.size(), stdout);
    std::fflush(stdout);
    if (!chunk->final) continue;
    std::printf("\n");
    std::fflush(stdout);  // the text before the stats on stderr
    if (!chunk->status.ok()) {
      std::fprintf(stderr, "error: %s\n", chunk->status.ToString().c_str());
      return 1;
    }
    const double prefill_s = chunk->first_token_ms / 1e3;
    const double decode_s = (chunk->total_ms - chunk->first_token_ms) / 1e3;
    std::fprintf(stderr,
                 "[%s] prompt: %d tokens, %.1f tokens/s | decode: %d tokens, %.1f tokens/s\n",
                 engine::FinishReasonName(chunk->finish_reason), chunk->prompt_tokens,
                 prefill_s > 0 ? chunk->prompt_tokens / prefill_s : 0.0, chunk->completion_tokens,
                 decode_s > 0 ? (chunk->completion_tokens - 1) / decode_s : 0.0);
    return 0;
  }
}

}  // namespace

void AddGenerateCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("generate", "Complete one prompt locally (no server)");
  auto a = std::make_shared<GenerateArgs>();
  cmd->add_option("prompt", a->prompt, "the prompt text")->required();
  AddEngineOptions(cmd, a->config);
  cmd->add_flag("--chat", a->chat, "wrap the prompt as a user turn of the model's chat template");
  cmd->add_option("--max-tokens", a->max_tokens, "tokens to generate at most (256)");
  cmd->add_option("--temperature", a->temperature, "0 = greedy (default)");
  cmd->add_option("--top-p", a->top_p, "nucleus sampling (1 = off)");
  cmd->add_option("--top-k", a->top_k, "top-k sampling (0 = off)");
  cmd->add_option("--seed", a->seed, "random seed");
  cmd->callback([a, exit_code] { *exit_code = Generate(*a); });
}

}  // namespace hearth::cli
