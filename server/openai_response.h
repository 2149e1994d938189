// OpenAiResponder: one request's engine output chunks as OpenAI response objects. Streaming:
// server-sent events, "data: {json}\n\n" per chunk object ("chat.completion.chunk" or
// "text_completion"), a chunk with the finish_reason, with stream_options.include_usage a last
// chunk with empty choices and the usage, then "data: [DONE]\n\n". Non-streaming: the chunks
// are accumulated into one "chat.completion" / "text_completion" object.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/request.h"
#include "engine/text_codec.h"
#include "server/openai_mapping.h"

namespace hearth::server {

class OpenAiResponder {
 public:
  // `id` is the engine's request id (also the response's "id"); `created` is Unix seconds.
  OpenAiResponder(const OpenAiRequest& request, std::string id, int64_t created,
                  const engine::TextCodec* codec);

  // Streaming: the events that open the stream (chat: the assistant role delta).
  std::string StreamStart() const;
  // Streaming: the events for one chunk; after the final chunk, the finish (or an error event)
  // and "data: [DONE]".
  std::string StreamEvents(const engine::OutputChunk& chunk);

  // Non-streaming: add each chunk; Response() after the final one. A final chunk with an error
  // status makes Response() an error (ok() false, error() its HTTP form).
  void Add(const engine::OutputChunk& chunk);
  bool ok() const { return error_.ok(); }
  const Status& error() const { return error_; }
  nlohmann::json Response() const;

  // The JSON text of `j` (invalid UTF-8 replaced by U+FFFD, never a throw).
  static std::string Dump(const nlohmann::json& j);
  // One server-sent event carrying `j`.
  static std::string Event(const nlohmann::json& j) { return "data: " + Dump(j) + "\n\n"; }

 private:
  nlohmann::json Envelope(bool chunk) const;  // id, object, created, model
  nlohmann::json Choice() const;              // index 0 with finish_reason null, logprobs null
  nlohmann::json Usage(const engine::OutputChunk& final) const;
  // Appends the chunk's logprobs in the endpoint's format to `into` (chat: {"content": [...]};
  // completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"}).
  void AppendLogprobs(const engine::OutputChunk& chunk, nlohmann::json* into);
  std::string TokenString(int32_t id) const;

  OpenAiEndpoint endpoint_;
  bool logprobs_;
  bool include_usage_;
  std::string model_;
  std::string id_;
  int64_t created_;
  const engine::TextCodec* codec_;
  size_t text_offset_ = 0;  // completions logprobs: bytes of completion text so far

  // Non-streaming accumulation.
  std::string text_;
  nlohmann::json logprobs_json_;
  engine::OutputChunk final_;
  Status error_;
};

}  // namespace hearth::server
