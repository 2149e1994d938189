#include "server/openai_mapping.h"

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "kernels/core/json_depth.h"
#include "server/request_mapping.h"

namespace hearth::server {
namespace {

using json = nlohmann::json;

// Thrown by the field readers below and caught in ParseOpenAiRequest (never leaves this file):
// it keeps each reader a one-liner at its call site.
struct BadField {
  Status status;
};

[[noreturn]] void Fail(std::string message) {
  throw BadField{InvalidArgumentError(std::move(message))};
}

// The field, or nullptr when it is absent or null (OpenAI clients send null for "unset").
const json* Get(const json& j, const char* name) {
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::string Shown(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

std::optional<double> GetNumber(const json& j, const char* name) {
  const json* v = Get(j, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number()) Fail(std::string(name) + " must be a number (got " + Shown(*v) + ")");
  return v->get<double>();
}

std::optional<int64_t> GetInt(const json& j, const char* name, int64_t lo, int64_t hi) {
  const json* v = Get(j, name);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) {
    const bool fits = v->is_number_unsigned() ? v->get<uint64_t>() <= static_cast<uint64_t>(hi)
                                              : v->get<int64_t>() >= lo && v->get<int64_t>() <= hi;
    if (fits) return v->get<int64_t>();
  } else if (v->is_number_float()) {  // 2.0 is an integer; 2.5 is not
    const double d = v->get<double>();
    if (d == std::floor(d) && d >= static_cast<double>(lo) && d <= static_cast<double>(hi))
      return static_cast<int64_t>(d);
  }
  Fail(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
       std::to_string(hi) + "] (got " + Shown(*v) + ")");
}

std::optional<int32_t> GetInt32(const json& j, const char* name) {
  auto v =
      GetInt(j, name, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
  return v ? std::optional<int32_t>(static_cast<int32_t>(*v)) : std::nullopt;
}

std::optional<bool> GetBool(const json& j, const char* name) {
  const json* v = Get(j, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) Fail(std::string(name) + " must be true or false (got " + Shown(*v) + ")");
  return v->get<bool>();
}

std::optional<std::string> GetString(const json& j, const char* name) {
  const json* v = Get(j, name);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) Fail(std::string(name) + " must be a string (got " + Shown(*v) + ")");
  return v->get<std::string>();
}

// Token ids from a JSON array of integers ("what" names it in messages).
void AddIds(const json& a, const std::string& what, google::protobuf::RepeatedField<int32_t>* ids) {
  for (size_t i = 0; i < a.size(); ++i) {
    const json& v = a[i];
    if (!v.is_number_integer() || v.get<int64_t>() < std::numeric_limits<int32_t>::min() ||
        v.get<int64_t>() > std::numeric_limits<int32_t>::max() ||
        (v.is_number_unsigned() && v.get<uint64_t>() > std::numeric_limits<int32_t>::max()))
      Fail(what + "[" + std::to_string(i) + "] must be a token id (got " + Shown(v) + ")");
    ids->Add(static_cast<int32_t>(v.get<int64_t>()));
  }
}

// Known OpenAI parameters whose meaning Hearth does not implement: refused, because ignoring
// them would return something other than what the client asked for.
void RefuseUnsupported(const json& j) {
  if (auto n =
          GetInt(j, "n", std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
      n && *n != 1)
    Fail("n must be 1 (got " + std::to_string(*n) + "): one choice per request");
  if (auto b = GetInt(j, "best_of", std::numeric_limits<int32_t>::min(),
                      std::numeric_limits<int32_t>::max());
      b && *b != 1)
    Fail("best_of must be 1 (got " + std::to_string(*b) + ")");
  if (GetBool(j, "echo").value_or(false)) Fail("echo is not supported");
  if (!GetString(j, "suffix").value_or("").empty()) Fail("suffix is not supported");
  if (const json* b = Get(j, "logit_bias"); b != nullptr && !b->empty())
    Fail("logit_bias is not supported");
  if (Get(j, "functions") != nullptr || Get(j, "function_call") != nullptr)
    Fail("functions is not supported (deprecated by OpenAI); use tools");
  if (const json* f = Get(j, "response_format"); f != nullptr) {
    const json* type = f->is_object() ? Get(*f, "type") : nullptr;
    if (type == nullptr || *type != "text")
      Fail("response_format: only {\"type\": \"text\"} is supported (got " + Shown(*f) + ")");
  }
  if (const json* c = Get(j, "tool_choice"); c != nullptr && *c != "auto" && *c != "none")
    Fail("tool_choice: only \"auto\" and \"none\" are supported (got " + Shown(*c) + ")");
}

void MapSampling(const json& j, v1::GenerateRequest* g) {
  v1::SamplingParams* s = g->mutable_sampling();
  if (auto v = GetNumber(j, "temperature")) s->set_temperature(static_cast<float>(*v));
  if (auto v = GetNumber(j, "top_p")) s->set_top_p(static_cast<float>(*v));
  if (auto v = GetInt32(j, "top_k")) s->set_top_k(*v == -1 ? 0 : *v);  // -1: off, as in vLLM
  if (auto v = GetNumber(j, "min_p")) s->set_min_p(static_cast<float>(*v));
  if (auto v = GetNumber(j, "repetition_penalty"))
    s->set_repetition_penalty(static_cast<float>(*v));
  if (auto v = GetNumber(j, "presence_penalty")) s->set_presence_penalty(static_cast<float>(*v));
  if (auto v = GetNumber(j, "frequency_penalty")) s->set_frequency_penalty(static_cast<float>(*v));
  if (auto v = GetInt(j, "seed", std::numeric_limits<int64_t>::min(),
                      std::numeric_limits<int64_t>::max()))
    s->set_seed(static_cast<uint64_t>(*v));

  if (const json* stop = Get(j, "stop")) {
    if (stop->is_string()) {
      g->mutable_stop()->add_stop(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (size_t i = 0; i < stop->size(); ++i) {
        if (!(*stop)[i].is_string())
          Fail("stop[" + std::to_string(i) + "] must be a string (got " + Shown((*stop)[i]) + ")");
        g->mutable_stop()->add_stop((*stop)[i].get<std::string>());
      }
    } else {
      Fail("stop must be a string or an array of strings (got " + Shown(*stop) + ")");
    }
  }
  if (const json* ids = Get(j, "stop_token_ids")) {
    if (!ids->is_array()) Fail("stop_token_ids must be an array of token ids");
    AddIds(*ids, "stop_token_ids", g->mutable_stop()->mutable_stop_token_ids());
  }
  if (auto v = GetBool(j, "ignore_eos")) g->mutable_stop()->set_ignore_eos(*v);
}

// Chat content: a string, or an array of {"type": "text", "text": ...} parts (joined by "\n").
std::string ContentText(const json& content, const std::string& field) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array())
    Fail(field + " must be a string or an array of content parts (got " + Shown(content) + ")");
  std::string text;
  for (size_t k = 0; k < content.size(); ++k) {
    const std::string part = field + "[" + std::to_string(k) + "]";
    const json& p = content[k];
    if (!p.is_object()) Fail(part + " must be an object {\"type\": \"text\", \"text\": ...}");
    const std::string type = GetString(p, "type").value_or("");
    if (type != "text") Fail(part + ".type " + Quoted(type) + " is not supported: only text parts");
    const std::optional<std::string> t = GetString(p, "text");
    if (!t) Fail(part + ".text is missing");
    if (k > 0) text += "\n";
    text += *t;
  }
  return text;
}

void MapChat(const json& j, v1::GenerateRequest* g) {
  const json* messages = Get(j, "messages");
  if (messages == nullptr) Fail("messages is required");
  if (!messages->is_array()) Fail("messages must be an array of messages");
  v1::ChatInput* chat = g->mutable_chat();  // sets the prompt case even when empty
  for (size_t i = 0; i < messages->size(); ++i) {
    const std::string field = "messages[" + std::to_string(i) + "]";
    const json& m = (*messages)[i];
    if (!m.is_object()) Fail(field + " must be an object");
    v1::ChatMessage* out = chat->add_messages();
    std::string role = GetString(m, "role").value_or("");
    if (role == "developer") role = "system";  // OpenAI's newer name for the system role
    out->set_role(role);
    if (const json* content = Get(m, "content"))
      out->set_content(ContentText(*content, field + ".content"));
    if (auto name = GetString(m, "name")) out->set_name(*name);
    if (auto id = GetString(m, "tool_call_id")) out->set_tool_call_id(*id);
    if (const json* calls = Get(m, "tool_calls")) {
      if (!calls->is_array()) Fail(field + ".tool_calls must be an array");
      for (const json& c : *calls) out->add_tool_calls_json(c.dump());
    }
  }
  if (const json* tools = Get(j, "tools")) {
    if (!tools->is_array()) Fail("tools must be an array");
    if (GetString(j, "tool_choice").value_or("auto") != "none")
      for (const json& t : *tools) chat->add_tools_json(t.dump());
  }
  if (auto v = GetBool(j, "add_generation_prompt")) chat->set_add_generation_prompt(*v);
}

void MapPrompt(const json& j, v1::GenerateRequest* g) {
  const json* p = Get(j, "prompt");
  if (p == nullptr) Fail("prompt is required");
  const char* kShapes =
      "prompt must be a string, an array of one string, an array of token ids or an array of "
      "one array of token ids";
  if (p->is_string()) return g->set_text(p->get<std::string>());
  if (!p->is_array()) Fail(kShapes);
  if (p->empty()) Fail("prompt is empty");
  const json& first = (*p)[0];
  if (first.is_number()) return AddIds(*p, "prompt", g->mutable_token_ids()->mutable_ids());
  if (p->size() > 1 && (first.is_string() || first.is_array()))
    Fail("prompt holds " + std::to_string(p->size()) +
         " prompts; send one prompt per request (batches are not supported)");
  if (first.is_string()) return g->set_text(first.get<std::string>());
  if (first.is_array()) {
    g->mutable_token_ids();  // sets the prompt case even when empty
    return AddIds(first, "prompt[0]", g->mutable_token_ids()->mutable_ids());
  }
  Fail(kShapes);
}

OpenAiRequest Parse(OpenAiEndpoint endpoint, const json& j, const std::string& served_model) {
  OpenAiRequest out;
  out.endpoint = endpoint;
  out.model = served_model;
  v1::GenerateRequest* g = &out.generate;
  RefuseUnsupported(j);
  if (endpoint == OpenAiEndpoint::kChat) {
    MapChat(j, g);
  } else {
    MapPrompt(j, g);
  }
  // Chat prefers max_completion_tokens (OpenAI deprecated max_tokens there).
  std::optional<int32_t> max_tokens = GetInt32(j, "max_tokens");
  const char* max_name = "max_tokens";
  if (auto v = GetInt32(j, "max_completion_tokens")) {
    max_tokens = v;
    max_name = "max_completion_tokens";
  }
  if (max_tokens) {
    if (*max_tokens < 1)
      Fail(std::string(max_name) + " must be >= 1 (got " + std::to_string(*max_tokens) + ")");
    g->set_max_tokens(*max_tokens);
  }
  MapSampling(j, g);
  if (auto user = GetString(j, "user")) g->set_tenant(*user);
  if (auto v = GetBool(j, "add_special_tokens")) g->set_add_special_tokens(*v);

  if (endpoint == OpenAiEndpoint::kChat) {
    out.logprobs = GetBool(j, "logprobs").value_or(false);
    g->set_logprobs(out.logprobs);
    if (auto top = GetInt32(j, "top_logprobs")) g->set_top_logprobs(*top);
  } else if (auto n = GetInt32(j, "logprobs")) {  // completions: the number of alternatives
    out.logprobs = true;
    g->set_logprobs(true);
    g->set_top_logprobs(*n);
  }

  out.stream = GetBool(j, "stream").value_or(false);
  if (const json* o = Get(j, "stream_options")) {
    if (!out.stream) Fail("stream_options is only allowed when stream is true");
    if (!o->is_object()) Fail("stream_options must be an object");
    out.include_usage = GetBool(*o, "include_usage").value_or(false);
  }
  return out;
}

// The proto field names that ToEngineRequest's messages start with, and their OpenAI names.
struct Rename {
  std::string_view proto, openai;
};
constexpr std::array<Rename, 6> kCommonRenames = {{{"sampling.", ""},
                                                   {"stop.stop_token_ids", "stop_token_ids"},
                                                   {"stop.stop", "stop"},
                                                   {"tenant", "user"},
                                                   {"chat.tools_json", "tools"},
                                                   {"chat.messages", "messages"}}};
constexpr std::array<Rename, 3> kChatRenames = {
    {{"chat (messages and tools_json)", "messages (with tools)"},
     {"chat:", "messages:"},
     {"the prompt", "messages: the prompt"}}};
constexpr std::array<Rename, 4> kCompletionRenames = {{{"text", "prompt"},
                                                       {"token_ids.ids", "prompt"},
                                                       {"top_logprobs", "logprobs"},
                                                       {"the prompt", "prompt"}}};

// The OpenAI parameters an error message may start with (they become its "param").
constexpr std::array<std::string_view, 34> kParams = {"model",
                                                      "messages",
                                                      "prompt",
                                                      "max_tokens",
                                                      "max_completion_tokens",
                                                      "temperature",
                                                      "top_p",
                                                      "top_k",
                                                      "min_p",
                                                      "repetition_penalty",
                                                      "presence_penalty",
                                                      "frequency_penalty",
                                                      "seed",
                                                      "stop",
                                                      "stop_token_ids",
                                                      "ignore_eos",
                                                      "n",
                                                      "best_of",
                                                      "echo",
                                                      "suffix",
                                                      "logit_bias",
                                                      "response_format",
                                                      "logprobs",
                                                      "top_logprobs",
                                                      "user",
                                                      "stream",
                                                      "stream_options",
                                                      "tools",
                                                      "tool_choice",
                                                      "functions",
                                                      "add_generation_prompt",
                                                      "add_special_tokens",
                                                      "priority",
                                                      "request_id"};

template <size_t N>
bool ApplyRename(std::string* message, const std::array<Rename, N>& renames) {
  for (const Rename& r : renames) {
    if (message->compare(0, r.proto.size(), r.proto) == 0) {
      message->replace(0, r.proto.size(), r.openai);
      return true;
    }
  }
  return false;
}

}  // namespace

Result<OpenAiRequest> ParseOpenAiRequest(OpenAiEndpoint endpoint, std::string_view body,
                                         const std::string& served_model) {
  // Before parsing: the parser is iterative, but what walks the value afterwards is not.
  HEARTH_RETURN_IF_ERROR(CheckJsonDepth(body, "the request body"));
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e999
    return InvalidArgumentError(std::string("the request body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) return InvalidArgumentError("the request body must be a JSON object");
  if (const json* m = Get(j, "model"); m != nullptr && *m != served_model)
    return NotFoundError("model " + Shown(*m) + " is not served here (GET /v1/models lists \"" +
                         served_model + "\")");
  try {
    return Parse(endpoint, j, served_model);
  } catch (const BadField& e) {
    return e.status;
  }
}

Status OpenAiStatus(const Status& status, OpenAiEndpoint endpoint) {
  if (status.ok() || status.code() != StatusCode::kInvalidArgument) return status;
  std::string m = status.message();
  if (!ApplyRename(&m, kCommonRenames)) {
    if (endpoint == OpenAiEndpoint::kChat) {
      ApplyRename(&m, kChatRenames);
    } else {
      ApplyRename(&m, kCompletionRenames);
    }
  }
  return Status(status.code(), std::move(m));
}

HttpError ToHttpError(const Status& status) {
  HttpError e;
  const char* type = "server_error";
  const char* code = nullptr;
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kUnimplemented:
    case StatusCode::kFailedPrecondition:
      e.http_status = 400;
      type = "invalid_request_error";
      break;
    case StatusCode::kNotFound:
      e.http_status = 404;
      type = "invalid_request_error";
      code = "not_found";
      break;
    case StatusCode::kUnauthenticated:
      e.http_status = 401;
      type = "authentication_error";
      code = "invalid_api_key";
      break;
    case StatusCode::kResourceExhausted:
      e.http_status = 429;
      type = "rate_limit_error";
      code = "queue_full";
      break;
    case StatusCode::kUnavailable:
      e.http_status = 503;
      type = "service_unavailable";
      code = "unavailable";
      break;
    case StatusCode::kDeadlineExceeded:
      e.http_status = 504;
      type = "timeout";
      code = "deadline_exceeded";
      break;
    default:
      e.http_status = 500;
      break;
  }
  // "param": the parameter the message starts with, indices included ("messages[1].role").
  const std::string& m = status.message();
  const size_t word_end = m.find_first_of(" [.:");
  json param = nullptr;
  for (std::string_view p : kParams) {
    if (m.compare(0, word_end, p) == 0) {
      param = m.substr(0, m.find_first_of(" :"));
      if (p == "model" && status.code() == StatusCode::kNotFound) code = "model_not_found";
      break;
    }
  }
  e.body = {{"error",
             {{"message", m},
              {"type", type},
              {"param", param},
              {"code", code == nullptr ? json(nullptr) : json(code)}}}};
  return e;
}

}  // namespace hearth::server
