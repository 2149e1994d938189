// libFuzzer target for what a client sends the server: the first byte picks the mode,
//   bit 0..1 = 0: the rest is a POST /v1/completions body, 1: a /v1/chat/completions body
//     (ParseOpenAiRequest, then ToEngineRequest's validation and the chat template's rendering,
//     errors renamed and shaped as the HTTP API sends them);
//   2: the rest is a serialized hearth.v1.GenerateRequest (gRPC's Generate: ToEngineRequest);
//   3: the rest is a TokenizeRequest or DetokenizeRequest (bit 4) to validate;
//   bits 2..3: the chat template (Qwen3, Llama 3.1, Hermes 3, SmolLM2: tools, tool calls,
//   system prompts); bit 5: API keys on (the request's tenant must match the key's).
// Invariants: no crash, hang or escaping exception; an error's HTTP body is JSON that parses
// back and names its status; a request that passes carries a prompt within the limits.
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/openai_mapping.h"
#include "server/openai_response.h"
#include "server/request_mapping.h"
#include "tests/server/template_text_codec.h"

namespace {

using hearth::Status;
using hearth::server::MappingContext;
using hearth::testing::TemplateTextCodec;

constexpr const char* kTemplates[] = {"qwen3", "llama3.1", "hermes3", "smollm2"};
constexpr int kMaxSeqLen = 4096;

std::string ReadTemplate(const std::string& name) {
  const char* dir = std::getenv("HEARTH_TEST_DATA");
  const std::string path =
      std::string(dir ? dir : "tests/data") + "/chat_templates/" + name + ".jinja";
  std::ifstream in(path, std::ios::binary);
  if (!in) std::abort();  // the fuzzer's own setup, not an input
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::vector<std::unique_ptr<TemplateTextCodec>>& Codecs() {
  static const auto* codecs = [] {
    auto* v = new std::vector<std::unique_ptr<TemplateTextCodec>>();
    hearth::ChatRenderOptions options;
    options.now = std::time_t{1764000000};  // strftime_now: deterministic runs
    for (const char* name : kTemplates) {
      auto t = hearth::ChatTemplate::Parse(ReadTemplate(name));
      if (!t.ok()) std::abort();
      v->push_back(
          std::make_unique<TemplateTextCodec>(std::move(t).value(), "<s>", "</s>", options));
    }
    return v;
  }();
  return *codecs;
}

// The HTTP API's error response for `status`: it must be JSON a client can parse, with the
// message and a 4xx / 5xx status.
void CheckHttpError(const Status& status) {
  const hearth::server::HttpError e = hearth::server::ToHttpError(status);
  if (e.http_status < 400 || e.http_status > 599) std::abort();
  const std::string body = hearth::server::OpenAiResponder::Dump(e.body);
  const nlohmann::json back = nlohmann::json::parse(body, nullptr, false);
  if (back.is_discarded() || !back["error"]["message"].is_string()) std::abort();
}

// A request that passed validation: its prompt, ids and budget within the context's limits.
void CheckAccepted(const hearth::engine::EngineRequest& r, const MappingContext& ctx) {
  const int64_t prompt = static_cast<int64_t>(r.prompt_token_ids.size());
  if (prompt < 1 || prompt > ctx.max_prompt_tokens()) std::abort();
  if (r.limits.max_tokens < 1 || prompt + r.limits.max_tokens > ctx.max_seq_len) std::abort();
  for (const int32_t id : r.prompt_token_ids)
    if (id < 0 || id >= ctx.codec->vocab_size()) std::abort();
  if (static_cast<int>(r.stop_strings.size()) > ctx.limits.max_stop_strings) std::abort();
}

}  // namespace

// Protobuf logs every string field that is not UTF-8 (a parse failure, which is fine here).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  MappingContext ctx;
  ctx.codec = Codecs()[(mode >> 2) % 4].get();
  ctx.max_seq_len = kMaxSeqLen;
  ctx.auth_enabled = (mode & 0x20) != 0;
  ctx.key_tenant = "team-a";
  switch (mode & 3) {
    case 0:
    case 1: {
      const auto endpoint = (mode & 3) == 0 ? hearth::server::OpenAiEndpoint::kCompletions
                                            : hearth::server::OpenAiEndpoint::kChat;
      auto parsed = hearth::server::ParseOpenAiRequest(endpoint, rest, "m.gguf");
      if (!parsed.ok()) {
        CheckHttpError(parsed.status());
        break;
      }
      auto request = hearth::server::ToEngineRequest(parsed->generate, ctx);
      if (!request.ok()) {
        CheckHttpError(hearth::server::OpenAiStatus(request.status(), endpoint));
        break;
      }
      CheckAccepted(*request, ctx);
      break;
    }
    case 2: {
      hearth::v1::GenerateRequest g;
      if (!g.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) break;
      auto request = hearth::server::ToEngineRequest(g, ctx);
      if (request.ok()) {
        CheckAccepted(*request, ctx);
      } else if (hearth::server::ToGrpcStatus(request.status()).ok()) {
        std::abort();  // an error must not become OK on the wire
      }
      break;
    }
    default: {
      Status s;
      if ((mode & 0x10) == 0) {
        hearth::v1::TokenizeRequest t;
        if (!t.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) break;
        s = hearth::server::ValidateTokenize(t, ctx);
      } else {
        hearth::v1::DetokenizeRequest t;
        if (!t.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) break;
        s = hearth::server::ValidateDetokenize(t, ctx);
      }
      if (!s.ok() && hearth::server::ToGrpcStatus(s).ok()) std::abort();
      break;
    }
  }
  return 0;
}
