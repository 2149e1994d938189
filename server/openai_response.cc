#include "server/openai_response.h"

#include <cmath>

namespace hearth::server {
namespace {

using json = nlohmann::json;

const char* FinishName(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::kStop:
      return "stop";
    case engine::FinishReason::kLength:
      return "length";
    default:
      return "abort";  // Control.Abort or the drain timeout (as vLLM names it)
  }
}

// JSON has no -inf; a token the model rules out gets vLLM's stand-in.
double Logprob(float lp) { return std::isfinite(lp) ? lp : -9999.0; }

json Bytes(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

}  // namespace

OpenAiResponder::OpenAiResponder(const OpenAiRequest& request, std::string id, int64_t created,
                                 const engine::TextCodec* codec)
    : endpoint_(request.endpoint),
      logprobs_(request.logprobs),
      include_usage_(request.include_usage),
      model_(request.model),
      id_(std::move(id)),
      created_(created),
      codec_(codec) {}

std::string OpenAiResponder::Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json OpenAiResponder::Envelope(bool chunk) const {
  const char* object = endpoint_ == OpenAiEndpoint::kCompletions ? "text_completion"
                       : chunk                                   ? "chat.completion.chunk"
                                                                 : "chat.completion";
  return {{"id", id_}, {"object", object}, {"created", created_}, {"model", model_}};
}

json OpenAiResponder::Choice() const {
  return {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
}

json OpenAiResponder::Usage(const engine::OutputChunk& f) const {
  return {{"prompt_tokens", f.prompt_tokens},
          {"completion_tokens", f.completion_tokens},
          {"total_tokens", f.prompt_tokens + f.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", f.cached_tokens}}}};
}

std::string OpenAiResponder::TokenString(int32_t id) const {
  // A continuation decoder keeps the token's leading space, which a whole-sequence decode of
  // one token would drop; special tokens are shown.
  std::unique_ptr<engine::TokenStreamDecoder> d =
      codec_->NewStreamDecoder(/*skip_special=*/false, /*sequence_start=*/false);
  std::string s = d->Push(id);
  return s + d->Flush();
}

void OpenAiResponder::AppendLogprobs(const engine::OutputChunk& chunk, json* into) {
  if (endpoint_ == OpenAiEndpoint::kChat) {
    if (into->is_null()) *into = {{"content", json::array()}, {"refusal", nullptr}};
    for (const engine::TokenLogprobs& lp : chunk.logprobs) {
      const std::string token = TokenString(lp.token_id);
      json top = json::array();
      for (const auto& [id, logprob] : lp.top) {
        const std::string t = TokenString(id);
        top.push_back({{"token", t}, {"logprob", Logprob(logprob)}, {"bytes", Bytes(t)}});
      }
      (*into)["content"].push_back({{"token", token},
                                    {"logprob", Logprob(lp.logprob)},
                                    {"bytes", Bytes(token)},
                                    {"top_logprobs", std::move(top)}});
    }
    return;
  }
  if (into->is_null())
    *into = {{"tokens", json::array()},
             {"token_logprobs", json::array()},
             {"top_logprobs", json::array()},
             {"text_offset", json::array()}};
  for (const engine::TokenLogprobs& lp : chunk.logprobs) {
    const std::string token = TokenString(lp.token_id);
    json top = json::object();
    for (const auto& [id, logprob] : lp.top) {
      const std::string t = TokenString(id);
      if (!top.contains(t)) top[t] = Logprob(logprob);  // most likely first: keep the first
    }
    (*into)["tokens"].push_back(token);
    (*into)["token_logprobs"].push_back(Logprob(lp.logprob));
    (*into)["top_logprobs"].push_back(std::move(top));
    (*into)["text_offset"].push_back(text_offset_);
    text_offset_ += token.size();
  }
}

std::string OpenAiResponder::StreamStart() const {
  if (endpoint_ != OpenAiEndpoint::kChat) return "";
  json c = Envelope(true);
  json choice = Choice();
  choice["delta"] = {{"role", "assistant"}, {"content", ""}};
  c["choices"] = json::array({std::move(choice)});
  if (include_usage_) c["usage"] = nullptr;
  return Event(c);
}

std::string OpenAiResponder::StreamEvents(const engine::OutputChunk& chunk) {
  const bool chat = endpoint_ == OpenAiEndpoint::kChat;
  std::string out;
  if (!chunk.text.empty() || (logprobs_ && !chunk.logprobs.empty())) {
    json c = Envelope(true);
    json choice = Choice();
    if (chat) {
      choice["delta"] = {{"content", chunk.text}};
    } else {
      choice["text"] = chunk.text;
    }
    if (logprobs_ && !chunk.logprobs.empty()) AppendLogprobs(chunk, &choice["logprobs"]);
    c["choices"] = json::array({std::move(choice)});
    if (include_usage_) c["usage"] = nullptr;
    out += Event(c);
  }
  if (!chunk.final) return out;
  if (!chunk.status.ok()) {
    // Headers (200) are long gone: the error travels as an event, which the openai package
    // raises as an APIError.
    out += Event(ToHttpError(OpenAiStatus(chunk.status, endpoint_)).body);
    return out + "data: [DONE]\n\n";
  }
  json f = Envelope(true);
  json choice = Choice();
  if (chat) {
    choice["delta"] = json::object();
  } else {
    choice["text"] = "";
  }
  choice["finish_reason"] = FinishName(chunk.finish_reason);
  f["choices"] = json::array({std::move(choice)});
  if (include_usage_) f["usage"] = nullptr;
  out += Event(f);
  if (include_usage_) {
    json u = Envelope(true);
    u["choices"] = json::array();
    u["usage"] = Usage(chunk);
    out += Event(u);
  }
  return out + "data: [DONE]\n\n";
}

void OpenAiResponder::Add(const engine::OutputChunk& chunk) {
  text_ += chunk.text;
  if (logprobs_) AppendLogprobs(chunk, &logprobs_json_);
  if (!chunk.final) return;
  final_.finish_reason = chunk.finish_reason;
  final_.prompt_tokens = chunk.prompt_tokens;
  final_.completion_tokens = chunk.completion_tokens;
  final_.cached_tokens = chunk.cached_tokens;
  if (!chunk.status.ok()) error_ = OpenAiStatus(chunk.status, endpoint_);
}

json OpenAiResponder::Response() const {
  json r = Envelope(false);
  json choice = Choice();
  if (endpoint_ == OpenAiEndpoint::kChat) {
    choice["message"] = {{"role", "assistant"}, {"content", text_}, {"refusal", nullptr}};
  } else {
    choice["text"] = text_;
  }
  if (logprobs_) choice["logprobs"] = logprobs_json_;
  choice["finish_reason"] = FinishName(final_.finish_reason);
  r["choices"] = json::array({std::move(choice)});
  r["usage"] = Usage(final_);
  return r;
}

}  // namespace hearth::server
