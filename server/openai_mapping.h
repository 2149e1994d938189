// OpenAI request mapping: a POST /v1/completions or /v1/chat/completions JSON body becomes a
// hearth.v1.GenerateRequest, so that ToEngineRequest (request_mapping.h) applies the very same
// validation and limits as gRPC; its messages, which name the proto's fields
// ("sampling.top_p"), are renamed to OpenAI's ("top_p") by OpenAiStatus. Errors leave as
// OpenAI's JSON shape {"error": {"message", "type", "param", "code"}} with an HTTP status.
// Pure functions, called on HTTP handler threads.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "hearth/v1/inference.pb.h"
#include "kernels/core/status.h"

namespace hearth::server {

enum class OpenAiEndpoint { kCompletions, kChat };

struct OpenAiRequest {
  OpenAiEndpoint endpoint = OpenAiEndpoint::kCompletions;
  v1::GenerateRequest generate;  // not yet validated: ToEngineRequest does that
  std::string model;             // the served model's name (echoed in responses)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with usage
  // Completions' "logprobs": N is the top-N alternatives; chat's is a bool + top_logprobs.
  bool logprobs = false;
};

// Parses a request body. OpenAI-only rules live here (n = 1, known fields that Hearth does not
// support are refused rather than silently ignored, "model" must name the served model or be
// absent: kNotFound); unknown fields are ignored, as OpenAI clients send extras. A body nested
// deeper than kMaxJsonDepth (kernels/core/json_depth.h) is refused before it is parsed.
Result<OpenAiRequest> ParseOpenAiRequest(OpenAiEndpoint endpoint, std::string_view body,
                                         const std::string& served_model);

// `status` (from ParseOpenAiRequest, ToEngineRequest or the engine) with proto field names in
// its message renamed to the endpoint's OpenAI names.
Status OpenAiStatus(const Status& status, OpenAiEndpoint endpoint);

struct HttpError {
  int http_status = 500;
  nlohmann::json body;  // {"error": {"message", "type", "param", "code"}}
};
// 400 invalid argument, 401 unauthenticated, 404 not found, 429 queue full, 503 draining /
// shut down, 504 deadline, 500 otherwise. "param" is the field the message starts with.
HttpError ToHttpError(const Status& status);

}  // namespace hearth::server
