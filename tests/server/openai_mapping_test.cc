// OpenAI JSON -> hearth.v1.GenerateRequest, message renaming and the error shape, without a
// server.
#include "server/openai_mapping.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "server/request_mapping.h"
#include "tests/server/fake_text_codec.h"

namespace hearth::server {
namespace {

using json = nlohmann::json;

OpenAiRequest Parse(OpenAiEndpoint e, const json& body) {
  Result<OpenAiRequest> r = ParseOpenAiRequest(e, body.dump(), "m.gguf");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : OpenAiRequest();
}

Status Error(OpenAiEndpoint e, const std::string& body) {
  Result<OpenAiRequest> r = ParseOpenAiRequest(e, body, "m.gguf");
  EXPECT_FALSE(r.ok()) << body;
  return r.ok() ? Status::Ok() : r.status();
}

constexpr OpenAiEndpoint kChat = OpenAiEndpoint::kChat;
constexpr OpenAiEndpoint kCompletions = OpenAiEndpoint::kCompletions;

TEST(OpenAiMappingTest, ChatFieldsMapOntoTheGenerateRequest) {
  OpenAiRequest r =
      Parse(kChat,
            {{"model", "m.gguf"},
             {"messages",
              {{{"role", "developer"}, {"content", "be brief"}},
               {{"role", "user"},
                {"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}},
                {"name", "ann"}},
               {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", {{{"id", "c1"}}}}},
               {{"role", "tool"}, {"content", "42"}, {"tool_call_id", "c1"}}}},
             {"max_tokens", 7},
             {"max_completion_tokens", 9},
             {"temperature", 0},
             {"top_p", 0.5},
             {"top_k", -1},
             {"min_p", 0.1},
             {"presence_penalty", 0.5},
             {"frequency_penalty", -0.5},
             {"seed", -1},
             {"stop", "END"},
             {"n", 1},
             {"user", "team-a"},
             {"logprobs", true},
             {"top_logprobs", 2},
             {"stream", true},
             {"stream_options", {{"include_usage", true}}},
             {"tools", {{{"type", "function"}}}},
             {"some_future_field", {1, 2}}});
  const v1::GenerateRequest& g = r.generate;
  ASSERT_EQ(g.chat().messages_size(), 4);
  EXPECT_EQ(g.chat().messages(0).role(), "system");
  EXPECT_EQ(g.chat().messages(1).content(), "a\nb");
  EXPECT_EQ(g.chat().messages(1).name(), "ann");
  EXPECT_EQ(g.chat().messages(2).content(), "");
  EXPECT_EQ(g.chat().messages(2).tool_calls_json(0), R"({"id":"c1"})");
  EXPECT_EQ(g.chat().messages(3).tool_call_id(), "c1");
  EXPECT_EQ(g.chat().tools_json_size(), 1);
  EXPECT_EQ(g.max_tokens(), 9);  // max_completion_tokens wins
  EXPECT_TRUE(g.sampling().has_temperature());
  EXPECT_EQ(g.sampling().temperature(), 0.f);
  EXPECT_EQ(g.sampling().top_p(), 0.5f);
  EXPECT_EQ(g.sampling().top_k(), 0);
  EXPECT_FLOAT_EQ(g.sampling().min_p(), 0.1f);
  EXPECT_EQ(g.sampling().presence_penalty(), 0.5f);
  EXPECT_EQ(g.sampling().frequency_penalty(), -0.5f);
  EXPECT_EQ(g.sampling().seed(), ~uint64_t{0});
  ASSERT_EQ(g.stop().stop_size(), 1);
  EXPECT_EQ(g.stop().stop(0), "END");
  EXPECT_EQ(g.tenant(), "team-a");
  EXPECT_TRUE(g.logprobs());
  EXPECT_EQ(g.top_logprobs(), 2);
  EXPECT_TRUE(r.stream && r.include_usage && r.logprobs);
  EXPECT_EQ(r.model, "m.gguf");
}

TEST(OpenAiMappingTest, PromptShapes) {
  EXPECT_EQ(Parse(kCompletions, {{"prompt", "hi"}}).generate.text(), "hi");
  EXPECT_EQ(Parse(kCompletions, {{"prompt", {"hi"}}}).generate.text(), "hi");
  const v1::GenerateRequest ids = Parse(kCompletions, {{"prompt", {5, 6, 7}}}).generate;
  ASSERT_EQ(ids.token_ids().ids_size(), 3);
  EXPECT_EQ(ids.token_ids().ids(2), 7);
  EXPECT_EQ(Parse(kCompletions, {{"prompt", {{5, 6}}}}).generate.token_ids().ids_size(), 2);
  // Absent model: the served one. logprobs N: N alternatives.
  OpenAiRequest r = Parse(kCompletions, {{"prompt", "x"}, {"logprobs", 3}, {"stop", {"a", "b"}}});
  EXPECT_EQ(r.model, "m.gguf");
  EXPECT_TRUE(r.logprobs && r.generate.logprobs());
  EXPECT_EQ(r.generate.top_logprobs(), 3);
  EXPECT_EQ(r.generate.stop().stop_size(), 2);
  EXPECT_FALSE(r.generate.sampling().has_temperature());  // unset: the default (1)
}

TEST(OpenAiMappingTest, BadFieldsNameTheirParameter) {
  struct Case {
    OpenAiEndpoint endpoint;
    std::string body;
    std::string param;
  };
  const std::vector<Case> cases = {
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "n": 2})", "n"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})",
       "temperature"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", "max_tokens"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1e12})",
       "max_tokens"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "max_completion_tokens": 1.5})",
       "max_completion_tokens"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "stop": 3})", "stop"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "stop": ["a", 1]})", "stop[1]"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "stream_options": {}})",
       "stream_options"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"5": 1}})",
       "logit_bias"},
      {kChat,
       R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})",
       "response_format"},
      {kChat, R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})",
       "tool_choice"},
      {kChat, R"({"messages": "hi"})", "messages"},
      {kChat, R"({})", "messages"},
      {kChat, R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
       "messages[0].content[0].type"},
      {kCompletions, R"({"prompt": ["a", "b"]})", "prompt"},
      {kCompletions, R"({"prompt": [1, "b"]})", "prompt[1]"},
      {kCompletions, R"({"prompt": []})", "prompt"},
      {kCompletions, R"({"prompt": {"text": "x"}})", "prompt"},
      {kCompletions, R"({"prompt": "x", "echo": true})", "echo"},
      {kCompletions, R"({"prompt": "x", "best_of": 3})", "best_of"},
      {kCompletions, R"({"prompt": "x", "suffix": "y"})", "suffix"},
      {kCompletions, R"({"prompt": "x", "logprobs": true})", "logprobs"},
  };
  for (const Case& c : cases) {
    const Status s = Error(c.endpoint, c.body);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.body;
    const HttpError e = ToHttpError(s);
    EXPECT_EQ(e.http_status, 400) << c.body;
    EXPECT_EQ(e.body["error"]["param"], c.param) << c.body << " -> " << s.message();
    EXPECT_EQ(e.body["error"]["type"], "invalid_request_error");
  }
  EXPECT_NE(Error(kChat, "{not json").message().find("not valid JSON"), std::string::npos);
  // A number past double's range is the parser's out_of_range, not its parse_error (found by
  // request_fuzzer: it escaped ParseOpenAiRequest, and the HTTP API answered 500).
  for (const char* body : {R"({"messages": [], "temperature": 1e999})", "-9e99999"}) {
    const Status s = Error(kChat, body);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << body;
    EXPECT_NE(s.message().find("not valid JSON"), std::string::npos) << s.message();
  }
  EXPECT_EQ(Error(kChat, "[1]").code(), StatusCode::kInvalidArgument);
  const Status wrong_model = Error(kChat, R"({"model": "gpt-4o", "messages": []})");
  EXPECT_EQ(wrong_model.code(), StatusCode::kNotFound);
  const HttpError e = ToHttpError(wrong_model);
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.body["error"]["param"], "model");
  EXPECT_EQ(e.body["error"]["code"], "model_not_found");
}

// A body nested a million levels deep (2 MB; the HTTP server takes bodies up to 25 MiB) is
// refused before anything walks it recursively: the error message's quote of a field (Shown) and
// the tool calls' re-serialization recurse once a level and overflowed the handler thread's stack
// (a crash of the whole server), wherever the nesting sat.
TEST(OpenAiMappingTest, DeepNestingIsRefusedWithoutRecursion) {
  const int deep = 1000000;
  const std::string nest = std::string(deep, '[') + std::string(deep, ']');
  const std::string user = R"({"role": "user", "content": "x"})";
  const std::vector<std::pair<OpenAiEndpoint, std::string>> bodies = {
      {kChat, R"({"model": )" + nest + "}"},
      {kChat, R"({"messages": [)" + user + R"(], "stop": )" + nest + "}"},
      {kChat, R"({"messages": [)" + user + R"(], "temperature": )" + nest + "}"},
      {kChat, R"({"messages": [{"role": "assistant", "tool_calls": [)" + nest + "]}]}"},
      {kChat, R"({"messages": [)" + user + R"(], "tools": [)" + nest + "]}"},
      {kChat, R"({"messages": [{"role": "user", "content": )" + nest + "}]}"},
      {kChat, R"({"messages": [)" + user + R"(], "some_future_field": )" + nest + "}"},
      {kCompletions, R"({"prompt": )" + nest + "}"},
      {kCompletions, R"({"prompt": "x", "stop": [)" + nest + "]}"},
      {kCompletions, nest},
  };
  for (const auto& [endpoint, body] : bodies) {
    const Status s = Error(endpoint, body);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << body.substr(0, 60);
    EXPECT_NE(s.message().find("nests JSON deeper than"), std::string::npos) << s.message();
    EXPECT_EQ(ToHttpError(s).http_status, 400);
  }
  // Brackets inside strings are not nesting; a tool call as deep as the gRPC field allows
  // (kMaxChatJsonDepth) still parses, and the gRPC validation judges it.
  const std::string brackets(100000, '[');
  Parse(kChat, {{"messages", {{{"role", "user"}, {"content", brackets}}}}});
  json call = 1;
  for (int i = 0; i < kMaxChatJsonDepth; ++i) call = json::array({call});
  const OpenAiRequest r =
      Parse(kChat, {{"messages", {{{"role", "assistant"}, {"tool_calls", json::array({call})}}}}});
  ASSERT_EQ(r.generate.chat().messages_size(), 1);
  EXPECT_EQ(r.generate.chat().messages(0).tool_calls_json(0), call.dump());
}

// A client's string in an error message is quoted by its start only, cut at a character
// boundary, and a gRPC status message is capped: a whole megabyte string made the message exceed
// gRPC's 8 KiB of metadata (the client got RESOURCE_EXHAUSTED, not the error).
TEST(OpenAiMappingTest, ErrorsQuoteOnlyTheStartOfAClientsString) {
  EXPECT_EQ(Quoted("abc"), "\"abc\"");
  EXPECT_EQ(Quoted(std::string(40, 'a')), "\"" + std::string(40, 'a') + "\"");
  EXPECT_EQ(Quoted(std::string(41, 'a')), "\"" + std::string(37, 'a') + "...\"");
  std::string e_acute;
  for (int i = 0; i < 30; ++i) e_acute += "\xC3\xA9";  // 60 bytes, 2 a character
  EXPECT_EQ(Quoted(e_acute), "\"" + e_acute.substr(0, 36) + "...\"");
  const std::string long_type(1 << 20, 't');
  const Status s = Error(
      kChat, json{{"messages", {{{"role", "user"}, {"content", {{{"type", long_type}}}}}}}}.dump());
  EXPECT_LT(s.message().size(), 200u) << s.message().substr(0, 200);
  EXPECT_NE(s.message().find("messages[0].content[0].type \"ttt"), std::string::npos);
  std::string long_message;
  for (int i = 0; i < 1000; ++i) long_message += "\xC3\xA9";
  const grpc::Status g = ToGrpcStatus(InvalidArgumentError(long_message));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(g.error_message().size(), 1024u);
  EXPECT_TRUE(IsValidUtf8(g.error_message()));
  EXPECT_EQ(g.error_message().substr(g.error_message().size() - 3), "...");
}

// The gRPC validation (ToEngineRequest) runs on the mapped request; its messages come back in
// OpenAI's names.
TEST(OpenAiMappingTest, SharedValidationSpeaksOpenAiNames) {
  testing::FakeTextCodec codec;
  MappingContext ctx;
  ctx.codec = &codec;
  ctx.max_seq_len = 512;
  ctx.limits.max_prompt_bytes = 500;
  struct Case {
    OpenAiEndpoint endpoint;
    json body;
    std::string param;
  };
  const json msgs = {{{"role", "user"}, {"content", "x"}}};
  const std::vector<Case> cases = {
      {kChat, {{"messages", msgs}, {"temperature", 11}}, "temperature"},
      {kChat, {{"messages", msgs}, {"top_p", 0}}, "top_p"},
      {kChat, {{"messages", msgs}, {"top_k", 999}}, "top_k"},
      {kChat, {{"messages", msgs}, {"min_p", 2}}, "min_p"},
      {kChat, {{"messages", msgs}, {"presence_penalty", 3}}, "presence_penalty"},
      {kChat, {{"messages", msgs}, {"frequency_penalty", -3}}, "frequency_penalty"},
      {kChat, {{"messages", msgs}, {"repetition_penalty", 0}}, "repetition_penalty"},
      {kChat, {{"messages", msgs}, {"stop", ""}}, "stop[0]"},
      {kChat, {{"messages", msgs}, {"stop_token_ids", {999}}}, "stop_token_ids[0]"},
      {kChat, {{"messages", msgs}, {"user", "bad user!"}}, "user"},
      {kChat, {{"messages", msgs}, {"top_logprobs", 3}}, "top_logprobs"},
      {kChat, {{"messages", msgs}, {"logprobs", true}, {"top_logprobs", 21}}, "top_logprobs"},
      {kChat, {{"messages", msgs}, {"max_tokens", 100000}}, "max_tokens"},
      {kChat, {{"messages", json::array()}}, "messages"},
      {kChat, {{"messages", {{{"role", "robot"}, {"content", "x"}}}}}, "messages[0].role"},
      {kChat, {{"messages", {{{"role", "user"}, {"content", std::string(600, 'x')}}}}}, "messages"},
      {kCompletions, {{"prompt", ""}}, "prompt"},
      {kCompletions, {{"prompt", {5, 999}}}, "prompt[1]"},
      {kCompletions, {{"prompt", "x"}, {"logprobs", 21}}, "logprobs"},
  };
  for (const Case& c : cases) {
    OpenAiRequest r = Parse(c.endpoint, c.body);
    Result<engine::EngineRequest> e = ToEngineRequest(r.generate, ctx);
    ASSERT_FALSE(e.ok()) << c.body.dump();
    const Status s = OpenAiStatus(e.status(), c.endpoint);
    EXPECT_EQ(ToHttpError(s).body["error"]["param"], c.param)
        << c.body.dump() << " -> " << s.message();
    EXPECT_EQ(s.message().find("sampling."), std::string::npos) << s.message();
  }
}

TEST(OpenAiMappingTest, StatusCodesBecomeHttpStatuses) {
  EXPECT_EQ(ToHttpError(Status(StatusCode::kUnauthenticated, "unknown API key")).http_status, 401);
  EXPECT_EQ(ToHttpError(ResourceExhaustedError("queue full")).http_status, 429);
  EXPECT_EQ(ToHttpError(UnavailableError("draining")).http_status, 503);
  EXPECT_EQ(ToHttpError(InternalError("bug")).http_status, 500);
  const HttpError e = ToHttpError(UnavailableError("draining"));
  EXPECT_EQ(e.body["error"]["message"], "draining");
  EXPECT_TRUE(e.body["error"]["param"].is_null());
}

}  // namespace
}  // namespace hearth::server
