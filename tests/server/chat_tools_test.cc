// Chat tool fields (tools_json, tool_calls_json, tool_call_id, name) from a GenerateRequest to the
// chat template, checked against Python's jinja2:
//  - golden/_api_requests.json: requests in proto3 JSON, rendered by
//    scripts/gen_chat_template_golden.py after the conversion inference.proto documents;
//  - every golden conversation of every real template, sent through the API's fields;
//  - one request end to end over gRPC, whose prompt token count is that of the jinja2 text.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "server/request_mapping.h"
#include "tests/server/server_fixture.h"
#include "tests/server/template_text_codec.h"
#include "tests/support/test_support.h"

namespace hearth::testing {
namespace {

using nlohmann::ordered_json;

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ChatTemplate LoadTemplate(const std::string& file) {
  Result<ChatTemplate> t = ChatTemplate::Parse(ReadText(TestDataPath("chat_templates/" + file)));
  if (t.ok()) return std::move(t).value();
  ADD_FAILURE() << file << ": " << t.status().ToString();
  return std::move(ChatTemplate::Parse("")).value();
}

ChatRenderOptions AtGoldenTime(const ordered_json& golden) {
  ChatRenderOptions options;
  options.now = golden["now"].get<int64_t>();
  return options;
}

// The request's prompt through request mapping and the codec's template, decoded back to text
// (the byte codec round-trips exactly), or the mapping's error.
Result<std::string> RenderedPrompt(const v1::GenerateRequest& request,
                                   const engine::TextCodec& codec) {
  server::MappingContext context;
  context.codec = &codec;
  context.max_seq_len = 1 << 20;
  HEARTH_ASSIGN_OR_RETURN(engine::EngineRequest r, server::ToEngineRequest(request, context));
  return codec.Decode(r.prompt_token_ids, /*skip_special=*/false);
}

void ExpectMatchesGolden(const Result<std::string>& got, const ordered_json& c) {
  if (c.contains("error")) {
    ASSERT_FALSE(got.ok()) << "jinja2 raised " << c["error"] << "; hearth rendered "
                           << ordered_json(*got).dump();
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(got.status().message().rfind("chat: ", 0), 0u) << got.status().message();
    return;
  }
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, c["output"].get<std::string>());
}

TEST(ChatToolsTest, ApiRequestsRenderAsJinja2) {
  const ordered_json golden =
      ordered_json::parse(ReadText(TestDataPath("chat_templates/golden/_api_requests.json")));
  ASSERT_GE(golden["cases"].size(), 12u);
  int rendered = 0;
  for (const ordered_json& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    TemplateTextCodec codec(LoadTemplate(c["template"]), c["bos_token"], c["eos_token"],
                            AtGoldenTime(golden));
    v1::GenerateRequest request;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(c["request"].dump(), &request).ok());
    request.set_max_tokens(1);
    ExpectMatchesGolden(RenderedPrompt(request, codec), c);
    rendered += c.contains("output");
  }
  EXPECT_GE(rendered, 12);
}

// An HF-style message list (golden contexts) as API fields: tools and tool calls serialized,
// content None left unset. False where the API cannot express it (content parts, None content
// without tool calls, template kwargs beyond tools, no messages).
bool ToApiRequest(const ordered_json& context, v1::GenerateRequest* request) {
  static const std::set<std::string> kStandard = {
      "messages", "tools", "documents", "add_generation_prompt", "bos_token", "eos_token"};
  for (const auto& [key, value] : context.items())
    if (!kStandard.count(key)) return false;
  if (context["messages"].empty()) return false;
  v1::ChatInput* chat = request->mutable_chat();
  for (const ordered_json& m : context["messages"]) {
    v1::ChatMessage* out = chat->add_messages();
    const bool calls = m.contains("tool_calls");
    for (const auto& [key, value] : m.items()) {
      if (key == "role") {
        out->set_role(value.get<std::string>());
      } else if (key == "content") {
        if (value.is_string()) {
          out->set_content(value.get<std::string>());
        } else if (!value.is_null() || !calls) {
          return false;
        }
      } else if (key == "tool_calls") {
        for (const ordered_json& call : value) out->add_tool_calls_json(call.dump());
      } else if (key == "tool_call_id" && value.is_string()) {
        out->set_tool_call_id(value.get<std::string>());
      } else if (key == "name" && value.is_string()) {
        out->set_name(value.get<std::string>());
      } else {
        return false;
      }
    }
  }
  if (context["tools"].is_array())
    for (const ordered_json& tool : context["tools"]) chat->add_tools_json(tool.dump());
  return true;
}

TEST(ChatToolsTest, GoldenConversationsThroughApiFieldsRenderAsJinja2) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(TestDataPath("chat_templates/golden")))
    if (e.path().extension() == ".json" && e.path().filename().string()[0] != '_')
      files.push_back(e.path());
  ASSERT_GE(files.size(), 10u);
  int rendered = 0, raised = 0, with_tools = 0;
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    const ordered_json golden = ordered_json::parse(ReadText(path.string()));
    const ordered_json& contexts = golden["contexts"];
    const std::string bos = contexts.begin().value()["bos_token"];
    const std::string eos = contexts.begin().value()["eos_token"];
    TemplateTextCodec codec(LoadTemplate(golden["template"]), bos, eos, AtGoldenTime(golden));
    for (const ordered_json& c : golden["cases"]) {
      SCOPED_TRACE(c["name"].get<std::string>());
      v1::GenerateRequest request;
      if (!ToApiRequest(contexts[c["context"].get<std::string>()], &request)) continue;
      request.mutable_chat()->set_add_generation_prompt(c["add_generation_prompt"]);
      request.set_max_tokens(1);
      ExpectMatchesGolden(RenderedPrompt(request, codec), c);
      (c.contains("error") ? raised : rendered) += 1;
      with_tools += request.chat().tools_json_size() > 0;
    }
  }
  std::printf("through API fields: %d rendered as jinja2 did, %d raised in both, %d with tools\n",
              rendered, raised, with_tools);
  EXPECT_GT(rendered, 200);
  EXPECT_GT(with_tools, 50);
}

TEST(ChatToolsTest, ToolsOverGrpcReachTheTemplate) {
  const ordered_json golden =
      ordered_json::parse(ReadText(TestDataPath("chat_templates/golden/_api_requests.json")));
  const ordered_json* tools_case = nullptr;
  for (const ordered_json& c : golden["cases"])
    if (c["name"] == "qwen2.5/tools_and_named_user") tools_case = &c;
  ASSERT_NE(tools_case, nullptr);
  ServerOptions o;
  o.codec = std::make_shared<TemplateTextCodec>(LoadTemplate("qwen2.5.jinja"), "", "<|im_end|>");
  ServerFixture f(o);
  v1::GenerateRequest with_tools;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage((*tools_case)["request"].dump(), &with_tools)
          .ok());
  with_tools.set_max_tokens(3);
  v1::GenerateRequest without_tools = with_tools;
  without_tools.mutable_chat()->clear_tools_json();

  // What the server's tokenizer makes of the text jinja2 rendered.
  grpc::ClientContext ctx;
  v1::TokenizeRequest t;
  t.set_text((*tools_case)["output"].get<std::string>());
  t.set_add_special_tokens(false);
  t.set_parse_special(true);
  v1::TokenizeResponse tokens;
  ASSERT_TRUE(f.inference->Tokenize(&ctx, t, &tokens).ok());

  ServerFixture::Stream a = f.Generate(with_tools);
  ServerFixture::Stream b = f.Generate(without_tools);
  ASSERT_TRUE(a.status.ok()) << a.status.error_message();
  ASSERT_TRUE(b.status.ok()) << b.status.error_message();
  EXPECT_EQ(a.final.usage().prompt_tokens(), tokens.ids_size());
  EXPECT_LT(b.final.usage().prompt_tokens(), a.final.usage().prompt_tokens() - 300);
  EXPECT_EQ(a.final.usage().completion_tokens(), 3);
}

}  // namespace
}  // namespace hearth::testing
