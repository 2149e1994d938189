// Request mapping: validates a hearth.v1 request field by field (INVALID_ARGUMENT naming the
// field and its limit), turns it into an engine request, and turns engine output chunks into
// responses. Pure functions, called on gRPC handler threads.
#pragma once

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>

#include "engine/request.h"
#include "engine/text_codec.h"
#include "hearth/v1/inference.pb.h"
#include "server/server_config.h"

namespace hearth::server {

// Limits of the chat tool fields (see proto/hearth/v1/inference.proto).
inline constexpr int kMaxTools = 128;          // chat.tools_json entries
inline constexpr int kMaxToolCalls = 128;      // tool_calls_json entries per message
inline constexpr int kMaxChatNameBytes = 256;  // name, tool_call_id
inline constexpr int kMaxChatJsonDepth = 32;   // nesting of each tool / tool call JSON

struct MappingContext {
  const engine::TextCodec* codec = nullptr;
  RequestLimits limits;
  int max_seq_len = 0;  // the engine's: prompt + generated tokens at most
  // With API keys: the caller's tenant (the request's tenant must be empty or equal).
  bool auth_enabled = false;
  std::string key_tenant;

  // max_prompt_tokens in force (limits.max_prompt_tokens capped at max_seq_len - 1).
  int max_prompt_tokens() const;
};

Result<engine::EngineRequest> ToEngineRequest(const v1::GenerateRequest& request,
                                              const MappingContext& context);

// Validation shared by Tokenize / Detokenize.
Status ValidateTokenize(const v1::TokenizeRequest& request, const MappingContext& context);
Status ValidateDetokenize(const v1::DetokenizeRequest& request, const MappingContext& context);

// One engine chunk as a response (final fields only on the final chunk).
void FillResponse(engine::OutputChunk& chunk, const std::string& request_id,
                  const engine::TextCodec& codec, v1::GenerateResponse* response);

grpc::Status ToGrpcStatus(const Status& status);

// A token's text for the API: as the vocabulary stores it, or <0xNN> per byte where that is
// not valid UTF-8 (a byte token that is part of a character).
std::string PieceText(const engine::TextCodec& codec, int32_t id);

// True when `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

// `s` in quotes for an error message: at most 40 bytes of it, cut at a character boundary and
// followed by "..." when longer (a client's megabyte string is not sent back to it).
std::string Quoted(std::string_view s);

// The length of the longest prefix of UTF-8 `s` that has at most max_bytes bytes and ends at a
// character boundary.
size_t Utf8Prefix(std::string_view s, size_t max_bytes);

}  // namespace hearth::server
