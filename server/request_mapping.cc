#include "server/request_mapping.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "kernels/core/json_depth.h"
#include "server/api_keys.h"

namespace hearth::server {
namespace {

Status Bad(const std::string& message) { return InvalidArgumentError(message); }

std::string Num(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

bool InRange(float v, float lo, float hi) { return v >= lo && v <= hi; }  // NaN fails

Status CheckIds(const google::protobuf::RepeatedField<int32_t>& ids, const std::string& field,
                int vocab_size) {
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size)
      return Bad(field + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                 " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
  }
  return Status::Ok();
}

Status CheckTenant(const std::string& tenant, int max_bytes) {
  if (static_cast<int>(tenant.size()) > max_bytes)
    return Bad("tenant is longer than " + std::to_string(max_bytes) + " bytes");
  if (!IsTenantName(tenant)) return Bad("tenant may contain only [A-Za-z0-9_.-]");
  return Status::Ok();
}

Status MapSampling(const v1::SamplingParams& s, int vocab_size, ::hearth::SamplingParams* out) {
  out->temperature = s.has_temperature() ? s.temperature() : 1.f;
  if (!InRange(out->temperature, 0.f, 10.f))
    return Bad("sampling.temperature must be in [0, 10] (got " + Num(out->temperature) + ")");
  if (s.top_k() < 0 || s.top_k() > vocab_size)
    return Bad("sampling.top_k must be in [0, vocab_size = " + std::to_string(vocab_size) +
               "] (got " + std::to_string(s.top_k()) + ")");
  out->top_k = s.top_k();
  out->top_p = s.has_top_p() ? s.top_p() : 1.f;
  if (!(out->top_p > 0.f && out->top_p <= 1.f))
    return Bad("sampling.top_p must be in (0, 1] (got " + Num(out->top_p) + ")");
  if (!InRange(s.min_p(), 0.f, 1.f))
    return Bad("sampling.min_p must be in [0, 1] (got " + Num(s.min_p()) + ")");
  out->min_p = s.min_p();
  out->repetition_penalty = s.has_repetition_penalty() ? s.repetition_penalty() : 1.f;
  if (!(out->repetition_penalty > 0.f && out->repetition_penalty <= 10.f))
    return Bad("sampling.repetition_penalty must be in (0, 10] (got " +
               Num(out->repetition_penalty) + ")");
  if (!InRange(s.presence_penalty(), -2.f, 2.f))
    return Bad("sampling.presence_penalty must be in [-2, 2] (got " + Num(s.presence_penalty()) +
               ")");
  out->presence_penalty = s.presence_penalty();
  if (!InRange(s.frequency_penalty(), -2.f, 2.f))
    return Bad("sampling.frequency_penalty must be in [-2, 2] (got " + Num(s.frequency_penalty()) +
               ")");
  out->frequency_penalty = s.frequency_penalty();
  if (s.has_seed()) {
    out->seed = s.seed();
  } else {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    out->seed = rng();
  }
  return Status::Ok();
}

// One JSON object from a request field, or INVALID_ARGUMENT naming the field.
Result<nlohmann::ordered_json> ParseObject(const std::string& text, const std::string& field) {
  if (!IsValidUtf8(text)) return Bad(field + " is not valid UTF-8");
  if (JsonDepth(text) > kMaxChatJsonDepth)
    return Bad(field + " nests JSON deeper than " + std::to_string(kMaxChatJsonDepth) + " levels");
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded()) return Bad(field + " is not valid JSON");
  if (!j.is_object()) return Bad(field + " must be a JSON object");
  return j;
}

Status CheckOptionalText(const std::string& value, const std::string& field) {
  if (static_cast<int>(value.size()) > kMaxChatNameBytes)
    return Bad(field + " is longer than " + std::to_string(kMaxChatNameBytes) + " bytes");
  if (!IsValidUtf8(value)) return Bad(field + " is not valid UTF-8");
  return Status::Ok();
}

Status CheckFunctionName(const nlohmann::ordered_json& function, const std::string& field) {
  const auto name = function.find("name");
  if (name == function.end() || !name->is_string() || name->get_ref<const std::string&>().empty())
    return Bad(field + ".function.name must be a non-empty string");
  return Status::Ok();
}

// {"type": "function", "function": {"name": ..., "description": ..., "parameters": {...}}}
Status CheckTool(const nlohmann::ordered_json& tool, const std::string& field) {
  if (!tool.contains("type") || tool["type"] != "function")
    return Bad(field + " needs \"type\": \"function\"");
  if (!tool.contains("function") || !tool["function"].is_object())
    return Bad(field + " needs a \"function\" object");
  const nlohmann::ordered_json& f = tool["function"];
  HEARTH_RETURN_IF_ERROR(CheckFunctionName(f, field));
  if (f.contains("description") && !f["description"].is_string())
    return Bad(field + ".function.description must be a string");
  if (f.contains("parameters") && !f["parameters"].is_object())
    return Bad(field + ".function.parameters must be a JSON object (a JSON schema)");
  return Status::Ok();
}

// {"id", "type": "function", "function": {"name", "arguments"}}. Arguments pass through as
// given, as HF's apply_chat_template passes them: an object (what Llama 3.x and Qwen templates
// print with tojson) or a string (what DeepSeek's templates concatenate).
Status CheckToolCall(const nlohmann::ordered_json& call, const std::string& field) {
  if (call.contains("type") && call["type"] != "function")
    return Bad(field + ".type must be \"function\"");
  if (call.contains("id") && !call["id"].is_string()) return Bad(field + ".id must be a string");
  if (!call.contains("function") || !call["function"].is_object())
    return Bad(field + " needs a \"function\" object");
  const nlohmann::ordered_json& f = call["function"];
  HEARTH_RETURN_IF_ERROR(CheckFunctionName(f, field));
  if (!f.contains("arguments") || !(f["arguments"].is_object() || f["arguments"].is_string()))
    return Bad(field + ".function.arguments must be a JSON object or a string");
  return Status::Ok();
}

// Validates the chat fields (roles, sizes, tool JSON) and renders them with the model's
// template.
Result<std::string> RenderChatInput(const v1::ChatInput& chat, const engine::TextCodec& codec,
                                    const RequestLimits& lim) {
  if (chat.messages().empty()) return Bad("chat.messages is empty");
  if (chat.messages_size() > lim.max_chat_messages)
    return Bad("chat.messages has more than " + std::to_string(lim.max_chat_messages) +
               " messages");
  int64_t bytes = 0;
  std::vector<engine::ChatTurn> turns;
  for (int i = 0; i < chat.messages_size(); ++i) {
    const v1::ChatMessage& m = chat.messages(i);
    const std::string field = "chat.messages[" + std::to_string(i) + "]";
    if (m.role() != "system" && m.role() != "user" && m.role() != "assistant" && m.role() != "tool")
      return Bad(field + ".role must be one of system, user, assistant, tool (got " +
                 Quoted(m.role()) + ")");
    if (!IsValidUtf8(m.content())) return Bad(field + ".content is not valid UTF-8");
    HEARTH_RETURN_IF_ERROR(CheckOptionalText(m.name(), field + ".name"));
    HEARTH_RETURN_IF_ERROR(CheckOptionalText(m.tool_call_id(), field + ".tool_call_id"));
    if (!m.tool_call_id().empty() && m.role() != "tool")
      return Bad(field + ".tool_call_id is only for role \"tool\"");
    if (m.tool_calls_json_size() > 0 && m.role() != "assistant")
      return Bad(field + ".tool_calls_json is only for role \"assistant\"");
    if (m.tool_calls_json_size() > kMaxToolCalls)
      return Bad(field + ".tool_calls_json has more than " + std::to_string(kMaxToolCalls) +
                 " calls");
    engine::ChatTurn turn{m.role(), m.content()};
    turn.name = m.name();
    turn.tool_call_id = m.tool_call_id();
    bytes += static_cast<int64_t>(m.content().size() + m.name().size() + m.tool_call_id().size());
    if (m.tool_calls_json_size() > 0) {
      nlohmann::ordered_json calls = nlohmann::ordered_json::array();
      for (int k = 0; k < m.tool_calls_json_size(); ++k) {
        const std::string call_field = field + ".tool_calls_json[" + std::to_string(k) + "]";
        bytes += static_cast<int64_t>(m.tool_calls_json(k).size());
        if (bytes > lim.max_prompt_bytes) break;  // reported below, before parsing more
        HEARTH_ASSIGN_OR_RETURN(nlohmann::ordered_json call,
                                ParseObject(m.tool_calls_json(k), call_field));
        HEARTH_RETURN_IF_ERROR(CheckToolCall(call, call_field));
        calls.push_back(std::move(call));
      }
      turn.tool_calls_json = calls.dump();
      // Unset content beside tool calls is None, as OpenAI clients send it.
      turn.null_content = !m.has_content();
    }
    turns.push_back(std::move(turn));
  }
  if (chat.tools_json_size() > kMaxTools)
    return Bad("chat.tools_json has more than " + std::to_string(kMaxTools) + " tools");
  std::vector<std::string> tools;
  for (int i = 0; i < chat.tools_json_size() && bytes <= lim.max_prompt_bytes; ++i) {
    const std::string field = "chat.tools_json[" + std::to_string(i) + "]";
    bytes += static_cast<int64_t>(chat.tools_json(i).size());
    if (bytes > lim.max_prompt_bytes) break;
    HEARTH_ASSIGN_OR_RETURN(nlohmann::ordered_json tool, ParseObject(chat.tools_json(i), field));
    HEARTH_RETURN_IF_ERROR(CheckTool(tool, field));
    tools.push_back(chat.tools_json(i));
  }
  if (bytes > lim.max_prompt_bytes)
    return Bad("chat (messages and tools_json) is longer than max_prompt_bytes = " +
               std::to_string(lim.max_prompt_bytes));
  if (!codec.has_chat_template())
    return Bad("chat: this model has no chat template; send text or token_ids");
  const bool gen = !chat.has_add_generation_prompt() || chat.add_generation_prompt();
  Result<std::string> rendered = codec.RenderChat(turns, tools, gen);
  if (!rendered.ok()) return Bad("chat: " + rendered.status().message());
  return rendered;
}

}  // namespace

std::string PieceText(const engine::TextCodec& codec, int32_t id) {
  std::string text = codec.TokenText(id);
  if (IsValidUtf8(text)) return text;
  std::string shown;
  char buf[8];
  for (unsigned char c : text) {
    std::snprintf(buf, sizeof buf, "<0x%02X>", c);
    shown += buf;
  }
  return shown;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (int k = 1; k <= n; ++k) {
      const unsigned char d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

int MappingContext::max_prompt_tokens() const {
  const int cap = max_seq_len - 1;
  return limits.max_prompt_tokens > 0 ? std::min(limits.max_prompt_tokens, cap) : cap;
}

Result<engine::EngineRequest> ToEngineRequest(const v1::GenerateRequest& req,
                                              const MappingContext& ctx) {
  const engine::TextCodec& codec = *ctx.codec;
  const RequestLimits& lim = ctx.limits;
  engine::EngineRequest out;

  if (static_cast<int>(req.request_id().size()) > lim.max_request_id_bytes)
    return Bad("request_id is longer than " + std::to_string(lim.max_request_id_bytes) + " bytes");
  out.request_id = req.request_id();

  HEARTH_RETURN_IF_ERROR(CheckTenant(req.tenant(), lim.max_tenant_bytes));
  if (ctx.auth_enabled) {
    if (!req.tenant().empty() && req.tenant() != ctx.key_tenant)
      return Bad("tenant " + Quoted(req.tenant()) +
                 " differs from the API key's tenant; leave it empty or equal to the key's");
    out.tenant = ctx.key_tenant;
  } else {
    out.tenant = req.tenant().empty() ? "default" : req.tenant();
  }

  if (req.priority() < -10 || req.priority() > 10)
    return Bad("priority must be in [-10, 10] (got " + std::to_string(req.priority()) + ")");
  out.priority = -req.priority();  // the API's "higher first" is the scheduler's "lower first"

  const bool add_special = !req.has_add_special_tokens() || req.add_special_tokens();
  const std::string max_bytes = std::to_string(lim.max_prompt_bytes);
  switch (req.prompt_case()) {
    case v1::GenerateRequest::kText:
      if (req.text().empty()) return Bad("text is empty");
      if (static_cast<int64_t>(req.text().size()) > lim.max_prompt_bytes)
        return Bad("text is longer than max_prompt_bytes = " + max_bytes);
      if (!IsValidUtf8(req.text())) return Bad("text is not valid UTF-8");
      out.prompt_token_ids = codec.Encode(req.text(), add_special, /*parse_special=*/false);
      break;
    case v1::GenerateRequest::kTokenIds:
      if (req.token_ids().ids().empty()) return Bad("token_ids.ids is empty");
      if (req.token_ids().ids_size() > ctx.max_prompt_tokens())
        return Bad("token_ids.ids has " + std::to_string(req.token_ids().ids_size()) +
                   " ids; max_prompt_tokens = " + std::to_string(ctx.max_prompt_tokens()));
      HEARTH_RETURN_IF_ERROR(CheckIds(req.token_ids().ids(), "token_ids.ids", codec.vocab_size()));
      out.prompt_token_ids.assign(req.token_ids().ids().begin(), req.token_ids().ids().end());
      break;
    case v1::GenerateRequest::kChat: {
      HEARTH_ASSIGN_OR_RETURN(std::string rendered, RenderChatInput(req.chat(), codec, lim));
      // The template writes the special tokens itself.
      out.prompt_token_ids = codec.Encode(rendered, /*add_special=*/false, true);
      break;
    }
    case v1::GenerateRequest::PROMPT_NOT_SET:
      return Bad("prompt: set exactly one of text, token_ids or chat");
  }
  const int num_prompt = static_cast<int>(out.prompt_token_ids.size());
  if (num_prompt == 0) return Bad("the prompt tokenizes to no tokens");
  if (num_prompt > ctx.max_prompt_tokens())
    return Bad("the prompt has " + std::to_string(num_prompt) +
               " tokens; max_prompt_tokens = " + std::to_string(ctx.max_prompt_tokens()));

  const int room = ctx.max_seq_len - num_prompt;
  if (req.max_tokens() < 0 || req.max_tokens() > room)
    return Bad("max_tokens must be in [1, " + std::to_string(room) + "] (context length " +
               std::to_string(ctx.max_seq_len) + " - " + std::to_string(num_prompt) +
               " prompt tokens; got " + std::to_string(req.max_tokens()) + ")");
  out.limits.max_tokens =
      req.max_tokens() > 0 ? req.max_tokens() : std::min(lim.default_max_tokens, room);

  HEARTH_RETURN_IF_ERROR(MapSampling(req.sampling(), codec.vocab_size(), &out.sampling));

  const v1::StopRules& stop = req.stop();
  if (stop.stop_size() > lim.max_stop_strings)
    return Bad("stop.stop has more than " + std::to_string(lim.max_stop_strings) + " strings");
  for (int i = 0; i < stop.stop_size(); ++i) {
    const std::string& s = stop.stop(i);
    const std::string field = "stop.stop[" + std::to_string(i) + "]";
    if (s.empty()) return Bad(field + " is empty");
    if (static_cast<int>(s.size()) > lim.max_stop_string_bytes)
      return Bad(field + " is longer than " + std::to_string(lim.max_stop_string_bytes) + " bytes");
    if (!IsValidUtf8(s)) return Bad(field + " is not valid UTF-8");
    out.stop_strings.push_back(s);
  }
  if (stop.stop_token_ids_size() > lim.max_stop_token_ids)
    return Bad("stop.stop_token_ids has more than " + std::to_string(lim.max_stop_token_ids) +
               " ids");
  HEARTH_RETURN_IF_ERROR(
      CheckIds(stop.stop_token_ids(), "stop.stop_token_ids", codec.vocab_size()));
  out.limits.stop_token_ids.assign(stop.stop_token_ids().begin(), stop.stop_token_ids().end());
  out.limits.ignore_eos = stop.ignore_eos();

  if (req.top_logprobs() < 0 || req.top_logprobs() > kMaxLogprobs)
    return Bad("top_logprobs must be in [0, " + std::to_string(kMaxLogprobs) + "] (got " +
               std::to_string(req.top_logprobs()) + ")");
  if (req.top_logprobs() > 0 && !req.logprobs()) return Bad("top_logprobs needs logprobs = true");
  out.logprobs = req.logprobs();
  out.sampling.num_logprobs = req.logprobs() ? req.top_logprobs() : 0;
  return out;
}

Status ValidateTokenize(const v1::TokenizeRequest& req, const MappingContext& ctx) {
  if (static_cast<int64_t>(req.text().size()) > ctx.limits.max_prompt_bytes)
    return Bad("text is longer than max_prompt_bytes = " +
               std::to_string(ctx.limits.max_prompt_bytes));
  if (!IsValidUtf8(req.text())) return Bad("text is not valid UTF-8");
  return Status::Ok();
}

Status ValidateDetokenize(const v1::DetokenizeRequest& req, const MappingContext& ctx) {
  if (req.ids_size() > ctx.max_prompt_tokens())
    return Bad("ids has " + std::to_string(req.ids_size()) +
               " ids; max_prompt_tokens = " + std::to_string(ctx.max_prompt_tokens()));
  return CheckIds(req.ids(), "ids", ctx.codec->vocab_size());
}

void FillResponse(engine::OutputChunk& chunk, const std::string& request_id,
                  const engine::TextCodec& codec, v1::GenerateResponse* r) {
  r->Clear();
  r->set_request_id(request_id);
  r->set_text(std::move(chunk.text));
  r->mutable_token_ids()->Add(chunk.token_ids.begin(), chunk.token_ids.end());
  for (const engine::TokenLogprobs& lp : chunk.logprobs) {
    v1::StepLogprobs* step = r->add_logprobs();
    step->mutable_sampled()->set_token_id(lp.token_id);
    step->mutable_sampled()->set_logprob(lp.logprob);
    step->mutable_sampled()->set_text(PieceText(codec, lp.token_id));
    for (const auto& [id, logprob] : lp.top) {
      v1::TokenLogprob* t = step->add_top();
      t->set_token_id(id);
      t->set_logprob(logprob);
      t->set_text(PieceText(codec, id));
    }
  }
  if (!chunk.final) return;
  switch (chunk.finish_reason) {
    case engine::FinishReason::kStop:
      r->set_finish_reason(v1::FINISH_REASON_STOP);
      break;
    case engine::FinishReason::kLength:
      r->set_finish_reason(v1::FINISH_REASON_LENGTH);
      break;
    default:
      r->set_finish_reason(v1::FINISH_REASON_ABORT);
      break;
  }
  r->set_stop_reason(chunk.stop_reason);
  r->mutable_usage()->set_prompt_tokens(chunk.prompt_tokens);
  r->mutable_usage()->set_completion_tokens(chunk.completion_tokens);
  r->mutable_usage()->set_cached_tokens(chunk.cached_tokens);
  r->mutable_timings()->set_queue_ms(chunk.queue_ms);
  r->mutable_timings()->set_first_token_ms(chunk.first_token_ms);
  r->mutable_timings()->set_total_ms(chunk.total_ms);
}

grpc::Status ToGrpcStatus(const Status& s) {
  using grpc::StatusCode;
  StatusCode code = StatusCode::INTERNAL;
  switch (s.code()) {
    case hearth::StatusCode::kOk:
      return grpc::Status::OK;
    case hearth::StatusCode::kInvalidArgument:
      code = StatusCode::INVALID_ARGUMENT;
      break;
    case hearth::StatusCode::kNotFound:
      code = StatusCode::NOT_FOUND;
      break;
    case hearth::StatusCode::kOutOfRange:
      code = StatusCode::OUT_OF_RANGE;
      break;
    case hearth::StatusCode::kDataLoss:
      code = StatusCode::DATA_LOSS;
      break;
    case hearth::StatusCode::kUnimplemented:
      code = StatusCode::UNIMPLEMENTED;
      break;
    case hearth::StatusCode::kResourceExhausted:
      code = StatusCode::RESOURCE_EXHAUSTED;
      break;
    case hearth::StatusCode::kFailedPrecondition:
      code = StatusCode::FAILED_PRECONDITION;
      break;
    case hearth::StatusCode::kUnavailable:
      code = StatusCode::UNAVAILABLE;
      break;
    case hearth::StatusCode::kCancelled:
      code = StatusCode::CANCELLED;
      break;
    case hearth::StatusCode::kDeadlineExceeded:
      code = StatusCode::DEADLINE_EXCEEDED;
      break;
    case hearth::StatusCode::kUnauthenticated:
      code = StatusCode::UNAUTHENTICATED;
      break;
    case hearth::StatusCode::kInternal:
      code = StatusCode::INTERNAL;
      break;
  }
  // gRPC sends the message as trailing metadata, 8 KiB at most on the client's default: a longer
  // one reaches the client as RESOURCE_EXHAUSTED ("metadata size exceeds limit") instead.
  constexpr size_t kMaxMessageBytes = 1024;
  const std::string& m = s.message();
  if (m.size() <= kMaxMessageBytes) return grpc::Status(code, m);
  return grpc::Status(code, m.substr(0, Utf8Prefix(m, kMaxMessageBytes - 3)) + "...");
}

size_t Utf8Prefix(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s.size();
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // a continuation
  return n;
}

std::string Quoted(std::string_view s) {
  constexpr size_t kMaxQuotedBytes = 40;
  if (s.size() <= kMaxQuotedBytes) return "\"" + std::string(s) + "\"";
  return "\"" + std::string(s.substr(0, Utf8Prefix(s, kMaxQuotedBytes - 3))) + "...\"";
}

}  // namespace hearth::server
