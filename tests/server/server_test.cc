// The gRPC server end to end on a loopback port, over the fake runner and byte codec.
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "server/request_mapping.h"
#include "tests/server/server_fixture.h"

namespace hearth::testing {
namespace {

TEST(ServerTest, HealthIsServingAfterWarmUp) {
  ServerFixture f;
  EXPECT_EQ(f.HealthStatus(), 1);
  EXPECT_GE(f.runner->num_steps(), 1);  // the warm-up step ran
}

TEST(ServerTest, StreamedCompletionEqualsDirectEngineOutput) {
  EngineFixture direct;
  engine::EngineRequest r = Prompt("The quick brown fox", 40);
  Completion expected = direct.Run(r);
  ServerFixture f;
  ServerFixture::Stream s = f.Generate(TextRequest("The quick brown fox", 40));
  ASSERT_TRUE(s.status.ok()) << s.status.error_message();
  EXPECT_EQ(s.tokens, expected.tokens);
  EXPECT_EQ(s.text, expected.text);
  EXPECT_EQ(s.final.finish_reason(), v1::FINISH_REASON_LENGTH);
  EXPECT_EQ(s.final.usage().prompt_tokens(), 20);
  EXPECT_EQ(s.final.usage().completion_tokens(), 40);
  EXPECT_GT(s.final.timings().total_ms(), 0);
  EXPECT_FALSE(s.final.request_id().empty());
  EXPECT_EQ(f.runner->num_kv_errors(), 0);
}

TEST(ServerTest, ThirtyTwoConcurrentGreedyStreamsEqualTheirSoloOutputs) {
  ServerOptions o;
  o.runner.step_delay = std::chrono::microseconds(200);
  ServerFixture f(o);
  std::vector<v1::GenerateRequest> requests;
  for (int i = 0; i < 32; ++i)
    requests.push_back(TextRequest("concurrent prompt " + std::to_string(i * 31), 12 + i % 9));
  std::vector<ServerFixture::Stream> solo, batched(32);
  for (const auto& r : requests) solo.push_back(f.Generate(r));
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i)
    threads.emplace_back([&, i] { batched[i] = f.Generate(requests[i]); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < 32; ++i) {
    ASSERT_TRUE(batched[i].status.ok()) << batched[i].status.error_message();
    EXPECT_EQ(batched[i].tokens, solo[i].tokens) << "stream " << i;
    EXPECT_EQ(batched[i].text, solo[i].text) << "stream " << i;
  }
  EXPECT_EQ(f.runner->num_kv_errors(), 0);
}

TEST(ServerTest, ControlAbortEndsTheStreamAndFreesBlocks) {
  ServerOptions o;
  o.runner.step_delay = std::chrono::milliseconds(2);
  ServerFixture f(o);
  v1::GenerateRequest r = TextRequest(std::string(90, 'q'), 3000);
  r.set_request_id("to-abort");
  r.mutable_stop()->set_ignore_eos(true);
  grpc::ClientContext ctx;
  auto reader = f.inference->Generate(&ctx, r);
  v1::GenerateResponse chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  EXPECT_GT(f.server->engine().stats().kv_blocks_used, 0);
  // Its id is taken while it is in flight.
  v1::GenerateRequest same_id = TextRequest("same id", 2);
  same_id.set_request_id("to-abort");
  ServerFixture::Stream dup = f.Generate(same_id);
  EXPECT_EQ(dup.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(dup.status.error_message().find("request_id"), std::string::npos);
  grpc::ClientContext actx;
  v1::AbortRequest abort;
  abort.set_request_id("to-abort");
  v1::AbortResponse aborted;
  ASSERT_TRUE(f.control->Abort(&actx, abort, &aborted).ok());
  v1::FinishReason reason = v1::FINISH_REASON_UNSPECIFIED;
  while (reader->Read(&chunk)) reason = chunk.finish_reason();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(reason, v1::FINISH_REASON_ABORT);
  f.WaitForIdleBlocks();
  grpc::ClientContext again;
  EXPECT_EQ(f.control->Abort(&again, abort, &aborted).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(ServerTest, ClientDisconnectFreesBlocks) {
  ServerOptions o;
  o.runner.step_delay = std::chrono::milliseconds(2);
  ServerFixture f(o);
  {
    grpc::ClientContext ctx;
    auto reader = f.inference->Generate(&ctx, TextRequest(std::string(70, 'd'), 3000));
    v1::GenerateResponse chunk;
    ASSERT_TRUE(reader->Read(&chunk));
    ctx.TryCancel();
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  f.WaitForIdleBlocks();
  EXPECT_EQ(f.server->engine().stats().num_in_flight, 0);
}

TEST(ServerTest, DeadlineExceededAbortsAndFreesBlocks) {
  ServerOptions o;
  o.runner.step_delay = std::chrono::milliseconds(2);
  ServerFixture f(o);
  ServerFixture::Stream s =
      f.Generate(TextRequest("deadline", 3000), "", std::chrono::milliseconds(100));
  EXPECT_EQ(s.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  f.WaitForIdleBlocks();
}

TEST(ServerTest, OverloadGetsResourceExhaustedAndAdmittedRequestsComplete) {
  ServerOptions o;
  o.runner.step_delay = std::chrono::milliseconds(3);
  o.engine.max_waiting_requests = 2;
  o.engine.scheduler.max_num_seqs = 1;
  ServerFixture f(o);
  std::vector<ServerFixture::Stream> results(24);
  std::vector<std::thread> threads;
  for (int i = 0; i < 24; ++i)
    threads.emplace_back(
        [&, i] { results[i] = f.Generate(TextRequest("overload " + std::to_string(i), 15)); });
  for (auto& t : threads) t.join();
  int ok = 0, exhausted = 0;
  for (const auto& r : results) {
    if (r.status.ok()) {
      ++ok;
      EXPECT_EQ(r.tokens.size(), 15u);
    } else {
      EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
          << r.status.error_message();
      ++exhausted;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(exhausted, 0);
}

constexpr const char* kCall = R"({"id": "c1", "type": "function",
                                   "function": {"name": "f", "arguments": {"x": 1}}})";
constexpr const char* kTool = R"({"type": "function", "function": {"name": "f"}})";

// The request's prompt becomes a chat with one more message "hi" of `role` (or, with `same`,
// its first message).
v1::ChatMessage* Chat(v1::GenerateRequest& r, const std::string& role, bool same = false) {
  v1::ChatMessage* m =
      same ? r.mutable_chat()->mutable_messages(0) : r.mutable_chat()->add_messages();
  m->set_role(role);
  m->set_content("hi");
  return m;
}
void Tool(v1::GenerateRequest& r, const std::string& json) {
  r.mutable_chat()->add_tools_json(json);
}

TEST(ServerTest, EveryInvalidFieldIsRejectedNamingIt) {
  ServerFixture f;
  struct Case {
    std::string field;
    std::function<void(v1::GenerateRequest&)> breaks;
  };
  const std::vector<Case> cases = {
      {"prompt", [](auto& r) { r.clear_text(); }},
      {"text", [](auto& r) { r.set_text(""); }},
      {"text", [](auto& r) { r.set_text(std::string((4 << 20) + 1, 'a')); }},
      {"token_ids.ids", [](auto& r) { r.mutable_token_ids(); }},
      {"token_ids.ids[1]",
       [](auto& r) {
         r.mutable_token_ids()->add_ids(5);
         r.mutable_token_ids()->add_ids(258);
       }},
      {"token_ids.ids[0]", [](auto& r) { r.mutable_token_ids()->add_ids(-1); }},
      {"chat.messages", [](auto& r) { r.mutable_chat(); }},
      {"chat.messages[0].role",
       [](auto& r) { r.mutable_chat()->add_messages()->set_role("robot"); }},
      // A megabyte role: the message quotes only its start (a whole one exceeded gRPC's 8 KiB of
      // trailing metadata, and the client got no INVALID_ARGUMENT).
      {"chat.messages[0].role",
       [](auto& r) { r.mutable_chat()->add_messages()->set_role(std::string(1 << 20, 'r')); }},
      {"chat.messages",
       [](auto& r) {
         for (int i = 0; i < 1025; ++i) Chat(r, "user");
       }},
      {"max_prompt_bytes",
       [](auto& r) {
         Chat(r, "system")->set_content(std::string(2 << 20, 's'));
         Chat(r, "user")->set_content(std::string((2 << 20) + 1, 'u'));
       }},
      {"chat.messages[0].name", [](auto& r) { Chat(r, "user")->set_name(std::string(257, 'n')); }},
      {"chat.messages[0].tool_call_id", [](auto& r) { Chat(r, "user")->set_tool_call_id("c1"); }},
      {"chat.messages[0].tool_calls_json",
       [](auto& r) { Chat(r, "user")->add_tool_calls_json(kCall); }},
      {"chat.messages[0].tool_calls_json",
       [](auto& r) {
         for (int i = 0; i < 129; ++i) Chat(r, "assistant", i > 0)->add_tool_calls_json(kCall);
       }},
      {"chat.messages[0].tool_calls_json[0]",
       [](auto& r) { Chat(r, "assistant")->add_tool_calls_json("{\"function\": "); }},
      {"chat.messages[0].tool_calls_json[0]",
       [](auto& r) { Chat(r, "assistant")->add_tool_calls_json("[1]"); }},
      {"chat.messages[0].tool_calls_json[0].function.name",
       [](auto& r) {
         Chat(r, "assistant")->add_tool_calls_json(R"({"function": {"arguments": "{}"}})");
       }},
      {"chat.messages[0].tool_calls_json[0].function.arguments",
       [](auto& r) {
         Chat(r, "assistant")->add_tool_calls_json(R"({"function": {"name": "f"}})");
       }},
      {"chat.messages[0].tool_calls_json[0].type",
       [](auto& r) {
         Chat(r, "assistant")
             ->add_tool_calls_json(R"({"type": "x", "function": {"name": "f", "arguments": {}}})");
       }},
      {"chat.messages[0].tool_calls_json[0]",
       [](auto& r) {
         Chat(r, "assistant")
             ->add_tool_calls_json(R"({"function": {"name": "f", "arguments": )" +
                                   std::string(40, '[') + std::string(40, ']') + "}}");
       }},
      {"chat.tools_json[0]", [](auto& r) { Chat(r, "user"), Tool(r, "nope"); }},
      {"chat.tools_json[0]", [](auto& r) { Chat(r, "user"), Tool(r, R"({"function": {}})"); }},
      {"chat.tools_json[0].function.name",
       [](auto& r) { Chat(r, "user"), Tool(r, R"({"type": "function", "function": {}})"); }},
      {"chat.tools_json[0].function.parameters",
       [](auto& r) {
         Chat(r, "user"),
             Tool(r, R"({"type": "function", "function": {"name": "f", "parameters": 3}})");
       }},
      {"chat.tools_json",
       [](auto& r) {
         Chat(r, "user");
         for (int i = 0; i < 129; ++i) Tool(r, kTool);
       }},
      {"max_prompt_bytes",
       [](auto& r) {
         Chat(r, "user");
         Tool(r, R"({"type": "function", "function": {"name": "f", "description": ")" +
                     std::string(4 << 20, 'd') + "\"}}");
       }},
      {"max_tokens", [](auto& r) { r.set_max_tokens(-1); }},
      {"max_tokens", [](auto& r) { r.set_max_tokens(1 << 20); }},
      {"sampling.temperature", [](auto& r) { r.mutable_sampling()->set_temperature(11); }},
      {"sampling.temperature", [](auto& r) { r.mutable_sampling()->set_temperature(NAN); }},
      {"sampling.top_k", [](auto& r) { r.mutable_sampling()->set_top_k(-1); }},
      {"sampling.top_k", [](auto& r) { r.mutable_sampling()->set_top_k(259); }},
      {"sampling.top_p", [](auto& r) { r.mutable_sampling()->set_top_p(0); }},
      {"sampling.top_p", [](auto& r) { r.mutable_sampling()->set_top_p(1.5); }},
      {"sampling.min_p", [](auto& r) { r.mutable_sampling()->set_min_p(2); }},
      {"sampling.repetition_penalty",
       [](auto& r) { r.mutable_sampling()->set_repetition_penalty(0); }},
      {"sampling.presence_penalty", [](auto& r) { r.mutable_sampling()->set_presence_penalty(3); }},
      {"sampling.frequency_penalty",
       [](auto& r) { r.mutable_sampling()->set_frequency_penalty(-3); }},
      {"stop.stop",
       [](auto& r) {
         for (int i = 0; i < 17; ++i) r.mutable_stop()->add_stop("x");
       }},
      {"stop.stop[0]", [](auto& r) { r.mutable_stop()->add_stop(""); }},
      {"stop.stop[0]", [](auto& r) { r.mutable_stop()->add_stop(std::string(257, 'x')); }},
      {"stop.stop_token_ids",
       [](auto& r) {
         for (int i = 0; i < 65; ++i) r.mutable_stop()->add_stop_token_ids(1);
       }},
      {"stop.stop_token_ids[0]", [](auto& r) { r.mutable_stop()->add_stop_token_ids(999); }},
      {"top_logprobs",
       [](auto& r) {
         r.set_logprobs(true);
         r.set_top_logprobs(21);
       }},
      {"top_logprobs", [](auto& r) { r.set_top_logprobs(3); }},
      {"request_id", [](auto& r) { r.set_request_id(std::string(129, 'i')); }},
      {"tenant", [](auto& r) { r.set_tenant("bad tenant!"); }},
      {"tenant", [](auto& r) { r.set_tenant(std::string(65, 't')); }},
      {"priority", [](auto& r) { r.set_priority(11); }},
      {"priority", [](auto& r) { r.set_priority(-11); }},
  };
  for (const Case& c : cases) {
    v1::GenerateRequest r = TextRequest("valid prompt", 4);
    c.breaks(r);
    ServerFixture::Stream s = f.Generate(r);
    EXPECT_EQ(s.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_NE(s.status.error_message().find(c.field), std::string::npos)
        << "message \"" << s.status.error_message() << "\" does not name " << c.field;
  }
  // Tokenize / Detokenize / Control fields.
  auto expect_invalid = [](const grpc::Status& status, const std::string& field) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_NE(status.error_message().find(field), std::string::npos)
        << "message \"" << status.error_message() << "\" does not name " << field;
  };
  for (int32_t id : {300, -1}) {
    grpc::ClientContext c;
    v1::DetokenizeRequest d;
    d.add_ids(id);
    v1::DetokenizeResponse dr;
    expect_invalid(f.inference->Detokenize(&c, d, &dr), "ids[0]");
  }
  {
    grpc::ClientContext c;
    v1::DetokenizeRequest d;
    for (int i = 0; i < 256 * 16; ++i) d.add_ids(1);
    v1::DetokenizeResponse dr;
    expect_invalid(f.inference->Detokenize(&c, d, &dr), "max_prompt_tokens");
  }
  {
    const std::string text((4 << 20) + 1, 'a');
    grpc::ClientContext c;
    v1::TokenizeRequest t;
    t.set_text(text);
    v1::TokenizeResponse tr;
    expect_invalid(f.inference->Tokenize(&c, t, &tr), "text");
  }
  for (int32_t timeout : {-1, 3601}) {
    grpc::ClientContext c;
    v1::DrainRequest dreq;
    dreq.set_timeout_s(timeout);
    v1::DrainResponse dresp;
    expect_invalid(f.control->Drain(&c, dreq, &dresp), "timeout_s");
  }
  grpc::ClientContext c4;
  v1::AbortRequest areq;
  v1::AbortResponse aresp;
  expect_invalid(f.control->Abort(&c4, areq, &aresp), "request_id");
  EXPECT_EQ(f.HealthStatus(), 1);  // still serving
}

// Protobuf refuses to decode a proto3 string holding invalid UTF-8, so over gRPC such a request
// never reaches validation: gRPC answers it UNIMPLEMENTED (what its callback API answers for any
// request it cannot decode) and the server carries on. In-process callers (an HTTP front end
// building the messages itself) get INVALID_ARGUMENT naming the field.
TEST(ServerTest, InvalidUtf8IsRefused) {
  ServerFixture f;
  server::MappingContext mapping;
  FakeTextCodec codec;
  mapping.codec = &codec;
  mapping.max_seq_len = 4096;
  const std::vector<std::pair<std::string, std::function<void(v1::GenerateRequest&)>>> cases = {
      {"text", [](auto& r) { r.set_text("caf\xc3"); }},
      {"chat.messages[0].content", [](auto& r) { Chat(r, "user")->set_content("\xff"); }},
      {"chat.messages[0].name", [](auto& r) { Chat(r, "user")->set_name("\xc0\x80"); }},
      {"chat.messages[0].tool_call_id", [](auto& r) { Chat(r, "tool")->set_tool_call_id("\xc3"); }},
      {"chat.messages[1].tool_calls_json[0]",
       [](auto& r) {
         Chat(r, "user");
         Chat(r, "assistant")->add_tool_calls_json("{\"id\": \"\xfe\"}");
       }},
      {"chat.tools_json[0]", [](auto& r) { Chat(r, "user"), Tool(r, "\"\xff\""); }},
      {"stop.stop[0]", [](auto& r) { r.mutable_stop()->add_stop("\xed\xa0\x80"); }},
  };
  for (const auto& [field, breaks] : cases) {
    v1::GenerateRequest r = TextRequest("valid prompt", 4);
    breaks(r);
    Result<engine::EngineRequest> mapped = server::ToEngineRequest(r, mapping);
    ASSERT_FALSE(mapped.ok()) << field;
    EXPECT_EQ(mapped.status().code(), StatusCode::kInvalidArgument) << field;
    EXPECT_NE(mapped.status().message().find(field + " is not valid UTF-8"), std::string::npos)
        << mapped.status().message();
    EXPECT_FALSE(f.Generate(r).status.ok()) << field;
  }
  v1::TokenizeRequest t;
  t.set_text("\xc0\x80");
  EXPECT_NE(server::ValidateTokenize(t, mapping).message().find("text"), std::string::npos);
  EXPECT_TRUE(f.Generate(TextRequest("still serving", 3)).status.ok());
}

TEST(ServerTest, TokenizeDetokenizeAndModelInfo) {
  ServerFixture f;
  grpc::ClientContext c1;
  v1::TokenizeRequest t;
  t.set_text("hé");
  v1::TokenizeResponse tr;
  ASSERT_TRUE(f.inference->Tokenize(&c1, t, &tr).ok());
  EXPECT_EQ(tr.ids_size(), 4);  // BOS + 3 bytes
  EXPECT_EQ(tr.ids(0), FakeTextCodec::kBos);
  grpc::ClientContext c2;
  v1::DetokenizeRequest d;
  d.mutable_ids()->CopyFrom(tr.ids());
  d.set_skip_special_tokens(true);
  v1::DetokenizeResponse dr;
  ASSERT_TRUE(f.inference->Detokenize(&c2, d, &dr).ok());
  EXPECT_EQ(dr.text(), "hé");
  grpc::ClientContext c3;
  v1::ModelInfo info;
  ASSERT_TRUE(f.inference->GetModelInfo(&c3, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.name(), "fake");
  EXPECT_EQ(info.kv_block_size(), 16);
  EXPECT_EQ(info.kv_blocks_total(), 256);
  EXPECT_EQ(info.max_prompt_tokens(), 256 * 16 - 1);
}

// FakeTextCodec whose Encode of a text starting "slow:" takes 2 s, as a tokenizer takes
// seconds over a maximal prompt.
class SlowEncodeCodec : public FakeTextCodec {
 public:
  std::vector<int32_t> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override {
    if (text.substr(0, 5) != "slow:")
      return FakeTextCodec::Encode(text, add_special, parse_special);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    std::vector<int32_t> ids = FakeTextCodec::Encode(text, add_special, parse_special);
    slow_done.fetch_add(1);
    return ids;
  }
  mutable std::atomic<int> slow_done{0};
};

// Requests are prepared (chat template, tokenization, validation: seconds for a maximal prompt)
// off gRPC's threads, which also carry every stream's writes, GetModelInfo and the health
// checks: with 16 slow preparations under way (8 Generate, 8 Tokenize), those answer at once,
// and so does a request that prepares quickly.
TEST(ServerTest, SlowPreparationsDoNotHoldUpOtherCalls) {
  ServerOptions o;
  o.codec = std::make_shared<SlowEncodeCodec>();
  ServerFixture f(o);
  std::vector<std::thread> slow;
  std::vector<grpc::Status> slow_status(16);
  std::vector<int> tokenized(16, -1);
  for (int i = 0; i < 16; ++i)
    slow.emplace_back([&, i] {
      if (i % 2 == 0) {
        slow_status[i] = f.Generate(TextRequest("slow: x", 2)).status;
        return;
      }
      grpc::ClientContext c;  // Tokenize's encoding is prepared the same way
      v1::TokenizeRequest request;
      request.set_text("slow: x");
      v1::TokenizeResponse response;
      slow_status[i] = f.inference->Tokenize(&c, request, &response);
      tokenized[i] = response.ids_size();
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all 16 are preparing
  auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  auto t = std::chrono::steady_clock::now();
  grpc::ClientContext c;
  v1::ModelInfo info;
  EXPECT_TRUE(f.inference->GetModelInfo(&c, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_LT(seconds_since(t), 0.5);
  EXPECT_EQ(f.HealthStatus(), 1);
  EXPECT_LT(seconds_since(t), 0.5);
  t = std::chrono::steady_clock::now();
  EXPECT_TRUE(f.Generate(TextRequest("quick", 2)).status.ok());
  EXPECT_LT(seconds_since(t), 0.5);
  for (std::thread& th : slow) th.join();
  for (const grpc::Status& st : slow_status) EXPECT_TRUE(st.ok()) << st.error_message();
  for (int i = 1; i < 16; i += 2) EXPECT_GT(tokenized[i], 7) << i;  // 7 bytes + BOS
}

// A client that cancels while its request is being prepared: the request never runs on (its
// stream is cancelled as soon as it exists) and nothing leaks.
TEST(ServerTest, CancelledWhilePreparedFreesEverything) {
  ServerOptions o;
  auto codec = std::make_shared<SlowEncodeCodec>();
  o.codec = codec;
  o.runner.step_delay = std::chrono::milliseconds(2);
  ServerFixture f(o);
  const int64_t steps_before = f.runner->num_steps();
  grpc::ClientContext ctx;
  v1::GenerateRequest r = TextRequest("slow: then long", 3000);
  r.mutable_stop()->set_ignore_eos(true);
  auto reader = f.inference->Generate(&ctx, r);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ctx.TryCancel();
  v1::GenerateResponse chunk;
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The preparation ends 2 s after the call began; the request is gone soon after.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline && codec->slow_done.load() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(codec->slow_done.load(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // room for 100 steps
  EXPECT_EQ(f.server->engine().stats().num_in_flight, 0);
  EXPECT_LT(f.runner->num_steps() - steps_before, 20);
  f.WaitForIdleBlocks();
}

constexpr char kKeyA[] = "key-for-team-a-0123456789", kKeyB[] = "key-for-team-b-0123456789",
               kAdminKey[] = "key-for-the-operators-0123";

ServerOptions TwoTenantsAndAnAdmin() {
  ServerOptions o;
  o.runner.step_delay = std::chrono::milliseconds(2);
  o.api_keys = {{kKeyA, "team-a"}, {kKeyB, "team-b"}, {kAdminKey, "ops"}};
  o.admin_keys = {kAdminKey};
  return o;
}

grpc::Status AbortAs(ServerFixture& f, const std::string& key, const std::string& id,
                     const std::string& tenant = "") {
  grpc::ClientContext c;
  c.AddMetadata("authorization", std::string("Bearer ") + key);
  v1::AbortRequest abort;
  abort.set_request_id(id);
  abort.set_tenant(tenant);
  v1::AbortResponse aborted;
  return f.control->Abort(&c, abort, &aborted);
}

// With API keys, request ids are per tenant: two tenants may both use an id, and a tenant's
// key neither aborts nor learns of another tenant's request by it; an admin key names the
// tenant and aborts any.
TEST(ServerTest, RequestIdsAndAbortsArePerTenant) {
  ServerFixture f(TwoTenantsAndAnAdmin());
  v1::GenerateRequest r = TextRequest(std::string(90, 'q'), 3000);
  r.set_request_id("job-1");
  r.mutable_stop()->set_ignore_eos(true);
  grpc::ClientContext ca, cb;
  ca.AddMetadata("authorization", std::string("Bearer ") + kKeyA);
  cb.AddMetadata("authorization", std::string("Bearer ") + kKeyB);
  auto a = f.inference->Generate(&ca, r);
  auto b = f.inference->Generate(&cb, r);  // the same id, another tenant: no clash
  v1::GenerateResponse chunk;
  ASSERT_TRUE(a->Read(&chunk));
  ASSERT_TRUE(b->Read(&chunk));
  EXPECT_EQ(chunk.request_id(), "job-1");  // the client's id, not the engine's
  // B cannot reach A's request: not found (as if absent), or refused when naming A's tenant.
  grpc::Status s = AbortAs(f, kKeyB, "job-2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("no request \"job-2\" is in flight for tenant \"team-b\""),
            std::string::npos)
      << s.error_message();
  s = AbortAs(f, kKeyB, "job-1", "team-a");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_TRUE(AbortAs(f, kKeyB, "job-1", "team-b").ok());  // its own, named or not
  v1::FinishReason reason = v1::FINISH_REASON_UNSPECIFIED;
  while (b->Read(&chunk)) reason = chunk.finish_reason();
  EXPECT_TRUE(b->Finish().ok());
  EXPECT_EQ(reason, v1::FINISH_REASON_ABORT);
  // A's request runs on; the admin key aborts it by naming its tenant.
  EXPECT_EQ(f.server->engine().stats().num_in_flight, 1);
  EXPECT_EQ(AbortAs(f, kAdminKey, "job-1").error_code(), grpc::StatusCode::NOT_FOUND);  // "ops"
  EXPECT_TRUE(AbortAs(f, kAdminKey, "job-1", "team-a").ok());
  reason = v1::FINISH_REASON_UNSPECIFIED;
  while (a->Read(&chunk)) reason = chunk.finish_reason();
  EXPECT_TRUE(a->Finish().ok());
  EXPECT_EQ(reason, v1::FINISH_REASON_ABORT);
  f.WaitForIdleBlocks();
}

// Draining stops the whole server taking work: with API keys only an admin key may, and a
// tenant's GetLoad shows its own costs only.
TEST(ServerTest, DrainNeedsAnAdminKeyAndLoadShowsATenantItsOwnCosts) {
  ServerFixture f(TwoTenantsAndAnAdmin());
  EXPECT_TRUE(f.Generate(TextRequest("a", 3), kKeyA).status.ok());
  EXPECT_TRUE(f.Generate(TextRequest("b", 5), kKeyB).status.ok());
  auto load_as = [&](const std::string& key) {
    grpc::ClientContext c;
    c.AddMetadata("authorization", "Bearer " + key);
    v1::Load load;
    EXPECT_TRUE(f.control->GetLoad(&c, v1::GetLoadRequest(), &load).ok());
    std::map<std::string, int64_t> tokens;
    for (const v1::TenantCost& t : load.tenants()) tokens[t.tenant()] = t.completion_tokens();
    return tokens;
  };
  EXPECT_EQ(load_as(kKeyA), (std::map<std::string, int64_t>{{"team-a", 3}}));
  EXPECT_EQ(load_as(kKeyB), (std::map<std::string, int64_t>{{"team-b", 5}}));
  EXPECT_EQ(load_as(kAdminKey), (std::map<std::string, int64_t>{{"team-a", 3}, {"team-b", 5}}));
  auto drain_as = [&](const std::string& key) {
    grpc::ClientContext c;
    c.AddMetadata("authorization", "Bearer " + key);
    v1::DrainRequest d;
    d.set_timeout_s(1);
    v1::DrainResponse drained;
    return f.control->Drain(&c, d, &drained);
  };
  const grpc::Status refused = drain_as(kKeyA);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("admin"), std::string::npos) << refused.error_message();
  EXPECT_EQ(f.HealthStatus(), 1);  // still serving
  EXPECT_TRUE(f.Generate(TextRequest("still", 2), kKeyB).status.ok());
  EXPECT_TRUE(drain_as(kAdminKey).ok());
  EXPECT_EQ(f.HealthStatus(), 2);
}

TEST(ServerTest, MissingOrWrongApiKeyIsUnauthenticated) {
  ServerOptions o;
  o.api_keys = {{"key-for-team-a-0123456789", "team-a"}};
  ServerFixture f(o);
  const v1::GenerateRequest r = TextRequest("auth", 4);
  EXPECT_EQ(f.Generate(r).status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(f.Generate(r, "wrong-key-0123456789").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(f.Generate(r, "key-for-team-a-0123456789").status.ok());
  v1::GenerateRequest other = r;
  other.set_tenant("team-b");
  EXPECT_EQ(f.Generate(other, "key-for-team-a-0123456789").status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext c;
  v1::Load load;
  EXPECT_EQ(f.control->GetLoad(&c, v1::GetLoadRequest(), &load).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Every other RPC, without a key and with a wrong one.
  for (const std::string& key : {std::string(), std::string("wrong-key-0123456789")}) {
    grpc::ClientContext c[5];
    for (grpc::ClientContext& ctx : c)
      if (!key.empty()) ctx.AddMetadata("authorization", "Bearer " + key);
    v1::TokenizeRequest tokenize;
    tokenize.set_text("x");
    v1::TokenizeResponse tokenized;
    v1::DetokenizeResponse detokenized;
    v1::ModelInfo info;
    v1::AbortRequest abort;
    abort.set_request_id("x");
    v1::AbortResponse aborted;
    v1::DrainResponse drained;
    for (const grpc::Status& s :
         {f.inference->Tokenize(&c[0], tokenize, &tokenized),
          f.inference->Detokenize(&c[1], v1::DetokenizeRequest(), &detokenized),
          f.inference->GetModelInfo(&c[2], v1::GetModelInfoRequest(), &info),
          f.control->Abort(&c[3], abort, &aborted),
          f.control->Drain(&c[4], v1::DrainRequest(), &drained)})
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  }
  EXPECT_EQ(f.HealthStatus(), 1);  // the refused Drain did not drain
  grpc::ClientContext c2;
  c2.AddMetadata("authorization", "Bearer key-for-team-a-0123456789");
  ASSERT_TRUE(f.control->GetLoad(&c2, v1::GetLoadRequest(), &load).ok());
  ASSERT_EQ(load.tenants_size(), 1);
  EXPECT_EQ(load.tenants(0).tenant(), "team-a");
  EXPECT_EQ(load.tenants(0).completion_tokens(), 4);
}

TEST(ServerTest, DrainCompletesInFlightStreamsThenRefusesNewOnes) {
  ServerOptions o;
  o.runner.step_delay = std::chrono::milliseconds(1);
  ServerFixture f(o);
  std::vector<ServerFixture::Stream> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] { results[i] = f.Generate(TextRequest("drain me", 300)); });
  while (f.server->engine().stats().num_in_flight < 4)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  grpc::ClientContext ctx;
  v1::DrainResponse drained;
  ASSERT_TRUE(f.control->Drain(&ctx, v1::DrainRequest(), &drained).ok());
  // Drain returns only once nothing is in flight; streams that ended before it arrived (a slow
  // machine) are not counted, none is aborted.
  EXPECT_EQ(f.server->engine().stats().num_in_flight, 0);
  EXPECT_LE(drained.completed(), 4);
  EXPECT_EQ(drained.aborted(), 0);
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.tokens.size(), 300u);
  }
  EXPECT_EQ(f.Generate(TextRequest("late", 3)).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(f.HealthStatus(), 2);
}

TEST(ServerTest, DrainTimeoutAbortsRemainingStreamsCleanly) {
  ServerOptions o;
  o.runner.step_delay = std::chrono::milliseconds(2);
  ServerFixture f(o);
  constexpr int kStreams = 3;
  std::vector<ServerFixture::Stream> results(kStreams);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      v1::GenerateRequest r = TextRequest("too long to drain " + std::to_string(i), 3000);
      r.mutable_stop()->set_ignore_eos(true);
      results[i] = f.Generate(r);
    });
  }
  while (f.server->engine().stats().num_running < kStreams)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  grpc::ClientContext ctx;
  v1::DrainRequest request;
  request.set_timeout_s(1);
  v1::DrainResponse drained;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(f.control->Drain(&ctx, request, &drained).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(drained.aborted(), kStreams);
  EXPECT_EQ(drained.completed(), 0);
  for (auto& t : threads) t.join();
  // Each stream ends as a Control.Abort would end it: the tokens produced so far, a final chunk
  // with FINISH_REASON_ABORT and its usage, then status OK.
  for (const auto& r : results) {
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.final.finish_reason(), v1::FINISH_REASON_ABORT);
    EXPECT_GT(r.tokens.size(), 0u);
    EXPECT_LT(r.tokens.size(), 3000u);
    EXPECT_EQ(r.final.usage().completion_tokens(), static_cast<int>(r.tokens.size()));
  }
  EXPECT_EQ(f.server->engine().stats().num_in_flight, 0);
  f.WaitForIdleBlocks();  // freed at the engine's next step
  EXPECT_EQ(f.Generate(TextRequest("late", 3)).status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(f.HealthStatus(), 2);
  EXPECT_EQ(f.runner->num_kv_errors(), 0);
}

TEST(ServerTest, RepeatedLongSystemPromptReportsCachedTokens) {
  ServerFixture f;
  auto chat = [](const std::string& question) {
    v1::GenerateRequest r;
    auto* m = r.mutable_chat()->add_messages();
    m->set_role("system");
    m->set_content(std::string(300, 'S') + " You are a careful assistant.");
    auto* u = r.mutable_chat()->add_messages();
    u->set_role("user");
    u->set_content(question);
    r.set_max_tokens(5);
    return r;
  };
  ServerFixture::Stream a = f.Generate(chat("first?"));
  ServerFixture::Stream b = f.Generate(chat("second?"));
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_EQ(a.final.usage().cached_tokens(), 0);
  EXPECT_GE(b.final.usage().cached_tokens(), 320);  // 20 full blocks of the system turn
  EXPECT_LT(b.final.usage().cached_tokens(), b.final.usage().prompt_tokens());
}

TEST(ServerTest, StopStringAndLogprobsOverGrpc) {
  ServerFixture f;
  ServerFixture::Stream solo = f.Generate(TextRequest("stop over grpc", 40));
  ASSERT_GE(solo.text.size(), 20u);
  const std::string stop = solo.text.substr(15, 2);
  v1::GenerateRequest r = TextRequest("stop over grpc", 40);
  r.mutable_stop()->add_stop(stop);
  r.set_logprobs(true);
  r.set_top_logprobs(3);
  grpc::ClientContext ctx;
  auto reader = f.inference->Generate(&ctx, r);
  v1::GenerateResponse chunk;
  std::string text;
  v1::GenerateResponse last;
  while (reader->Read(&chunk)) {
    text += chunk.text();
    EXPECT_EQ(chunk.logprobs_size(), chunk.token_ids_size());
    for (const auto& lp : chunk.logprobs()) EXPECT_EQ(lp.top_size(), 3);
    last = chunk;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(text, solo.text.substr(0, solo.text.find(stop)));
  EXPECT_EQ(last.finish_reason(), v1::FINISH_REASON_STOP);
  EXPECT_EQ(last.stop_reason(), stop);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(ServerTest, MutualTlsAcceptsOnlyClientsWithACertificate) {
  // A self-signed certificate (its own CA) for 127.0.0.1 serves as server cert, client cert and
  // both trust roots.
  const std::string dir = ::testing::TempDir();
  const std::string cert = dir + "/hearth_tls_cert.pem", key = dir + "/hearth_tls_key.pem";
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
      " -addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
  ServerOptions o;
  o.config.tls_cert_file = cert;
  o.config.tls_key_file = key;
  o.config.tls_client_ca_file = cert;
  ServerFixture f(o);
  const std::string target = "127.0.0.1:" + std::to_string(f.server->port());
  auto generate = [&](const std::shared_ptr<grpc::ChannelCredentials>& creds) {
    auto stub = v1::Inference::NewStub(grpc::CreateChannel(target, creds));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto reader = stub->Generate(&ctx, TextRequest("tls", 3));
    v1::GenerateResponse r;
    int tokens = 0;
    while (reader->Read(&r)) tokens += r.token_ids_size();
    grpc::Status status = reader->Finish();
    return status.ok() ? tokens : -static_cast<int>(status.error_code());
  };
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = ReadFile(cert);
  with_cert.pem_cert_chain = ReadFile(cert);
  with_cert.pem_private_key = ReadFile(key);
  EXPECT_EQ(generate(grpc::SslCredentials(with_cert)), 3);
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = ReadFile(cert);
  EXPECT_LT(generate(grpc::SslCredentials(without_cert)), 0);
  EXPECT_LT(generate(grpc::InsecureChannelCredentials()), 0);
}

TEST(ServerTest, MetricsScrapePassesPromtool) {
  ServerOptions o;
  o.config.metrics_port = 0;  // only here: the HTTP exposer takes ~2 s to stop
  ServerFixture f(o);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.Generate(TextRequest("metrics", 6)).status.ok());
  (void)f.Generate(TextRequest("", 6));  // a refused request
  const std::string body = f.ScrapeMetrics();
  ASSERT_FALSE(body.empty()) << "no /metrics on port " << f.server->metrics_port();
  for (const char* name :
       {"hearth_requests_total", "hearth_completion_tokens_total{tenant=\"default\"} 18",
        "hearth_queue_depth", "hearth_running_sequences", "hearth_kv_blocks_used",
        "hearth_prefix_cache_hit_ratio", "hearth_time_to_first_token_seconds_bucket",
        "hearth_inter_token_latency_seconds_bucket", "hearth_request_duration_seconds_bucket",
        "hearth_step_duration_seconds_bucket", "hearth_device_seconds_total",
        "hearth_tenant_cost_usd_per_million_output_tokens{tenant=\"default\"}",
        "hearth_refused_requests_total{code=\"INVALID_ARGUMENT\"} 1"}) {
    EXPECT_NE(body.find(name), std::string::npos) << name << " missing from:\n" << body;
  }
  const std::string path = ::testing::TempDir() + "/hearth_metrics.txt";
  std::ofstream(path) << body;
  const int rc =
      std::system(("promtool check metrics < " + path + " > " + path + ".out 2>&1").c_str());
  std::ifstream out(path + ".out");
  std::string report((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << "promtool check metrics:\n" << report;
}

// Without API keys clients name their tenant: past --max-tenants names, new ones are counted
// together as "(other)", so a client cannot grow the scrape and the server's memory with names.
TEST(ServerTest, TenantsPastTheLimitAreCountedTogether) {
  ServerOptions o;
  o.config.metrics_port = 0;  // the exposer takes ~2 s to stop
  o.config.max_tenants = 3;
  ServerFixture f(o);
  for (int i = 0; i < 6; ++i) {
    v1::GenerateRequest r = TextRequest("tenant", 2);
    r.set_tenant("t" + std::to_string(i));
    ASSERT_TRUE(f.Generate(r).status.ok());
  }
  ASSERT_TRUE(f.Generate(TextRequest("no tenant", 2)).status.ok());  // "default": a 7th name
  v1::GenerateRequest first_again = TextRequest("tenant", 2);
  first_again.set_tenant("t1");  // a tenant already kept apart stays so
  ASSERT_TRUE(f.Generate(first_again).status.ok());
  const std::string body = f.ScrapeMetrics();
  for (const char* line : {"hearth_completion_tokens_total{tenant=\"t0\"} 2",
                           "hearth_completion_tokens_total{tenant=\"t1\"} 4",
                           "hearth_completion_tokens_total{tenant=\"t2\"} 2",
                           // t3, t4, t5 and "default" (the request without a tenant)
                           "hearth_completion_tokens_total{tenant=\"(other)\"} 8"})
    EXPECT_NE(body.find(line), std::string::npos) << line << " missing from:\n" << body;
  for (const char* absent : {"\"t3\"", "\"t4\"", "\"t5\"", "\"default\""})
    EXPECT_EQ(body.find(absent), std::string::npos) << absent << " in:\n" << body;
  grpc::ClientContext c;
  v1::Load load;
  ASSERT_TRUE(f.control->GetLoad(&c, v1::GetLoadRequest(), &load).ok());
  std::map<std::string, int64_t> tokens;
  for (const v1::TenantCost& t : load.tenants()) tokens[t.tenant()] = t.completion_tokens();
  EXPECT_EQ(tokens,
            (std::map<std::string, int64_t>{{"t0", 2}, {"t1", 4}, {"t2", 2}, {"(other)", 8}}));
}

}  // namespace
}  // namespace hearth::testing
