// Bad templates fail with an error naming the construct and its line:col, never a crash: deep
// nesting, runaway loops, huge outputs and recursive macros hit limits. Also the API around the
// interpreter (tokenizer_config.json selection, the context builder) against jinja2's goldens.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <unistd.h>

#include "model_loader/tokenizer/chat_template.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using nlohmann::ordered_json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ordered_json SampleContext() {
  return ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"},
                 {"role": "assistant", "content": "hello", "tool_calls": [
                   {"id": "call12345", "type": "function",
                    "function": {"name": "f", "arguments": {"a": 1}}}]},
                 {"role": "tool", "content": "42", "tool_call_id": "call12345"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "documents": null, "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "maybe": null
  })");
}

// Parses and renders; returns the error message ("" on success).
std::string RenderError(const std::string& source, const ChatRenderOptions& options = {}) {
  Result<ChatTemplate> t = ChatTemplate::Parse(source);
  if (!t.ok()) return t.status().message();
  Result<std::string> out = t->Render(SampleContext(), options);
  return out.ok() ? "" : out.status().message();
}

TEST(ChatTemplateErrors, SyntaxErrorsNameTheConstructAndPosition) {
  struct Case {
    const char* source;
    const char* expect_a;
    const char* expect_b;
  };
  const Case cases[] = {
      {"hello\n  {% include 'x' %}", "2:6", "unsupported construct '{% include %}'"},
      {"{% for m in messages %}\n{{ m }}", "2:8",
       "missing {% endfor %} for the block opened at 1:4"},
      {"{% if x %}{% endfor %}", "1:14", "endfor"},
      {"{{ 1 +* 2 }}", "1:7", "expected an expression"},
      {"{{ 'abc }}", "1:4", "unterminated string literal"},
      {"ab\n{{ x }", "2:6", "unbalanced '}'"},
      {"{{ x ? y }}", "1:6", "unexpected character '?'"},
      {"{{ a < b < c }}", "1:10", "chained comparison"},
      {"{% for x in y recursive %}{% endfor %}", "1:15", "recursive"},
      {"{{ f(*args) }}", "1:6", "*args"},
      {"{# never closed", "1:1", "unclosed comment"},
      {"{% endif %}", "1:4", "unexpected 'endif'"},
      {"{{ (1 }}", "", "unbalanced"},
  };
  for (const Case& c : cases) {
    std::string err = RenderError(c.source);
    EXPECT_NE(err.find(c.expect_a), std::string::npos) << c.source << " -> " << err;
    EXPECT_NE(err.find(c.expect_b), std::string::npos) << c.source << " -> " << err;
  }
}

TEST(ChatTemplateErrors, RuntimeErrorsNameTheConstructAndPosition) {
  struct Case {
    const char* source;
    const char* expect_a;
    const char* expect_b;
  };
  const Case cases[] = {
      {"line\n{{ messages | frobnicate }}", "2:13", "unsupported filter 'frobnicate'"},
      {"{% if messages is frob %}{% endif %}", "1:16", "unsupported test 'frob'"},
      {"{{ missing.attr }}", "1:", "undefined value has no attribute 'attr'"},
      {"{{ messages[0].content.casefold() }}", "1:", "'casefold' is undefined"},
      {"{{ 1 / 0 }}", "1:6", "division by zero"},
      {"{{ 'a' + 1 }}", "1:8", "unsupported operand"},
      {"{{ raise_exception('roles must alternate') }}", "1:", "roles must alternate"},
      {"{% for x in maybe %}{% endfor %}", "1:13", "not iterable"},
      {"{% set messages.x = 1 %}", "1:4", "non-namespace"},
      {"{{ tools | tojson(separators=(',', ':')) }}", "1:", "separators"},
      {"{{ {1: 2} }}", "1:", "dict key of type int"},
  };
  for (const Case& c : cases) {
    std::string err = RenderError(c.source);
    EXPECT_NE(err.find(c.expect_a), std::string::npos) << c.source << " -> " << err;
    EXPECT_NE(err.find(c.expect_b), std::string::npos) << c.source << " -> " << err;
  }
}

TEST(ChatTemplateLimits, DeepNestingIsAnErrorNotAStackOverflow) {
  for (int depth : {200, 5000, 100000}) {
    std::string parens = "{{ " + std::string(depth, '(') + "1" + std::string(depth, ')') + " }}";
    EXPECT_NE(RenderError(parens), "") << depth;
    std::string nots = "{{ " + [&] {
      std::string s;
      for (int i = 0; i < depth; ++i) s += "not ";
      return s;
    }() + "1 }}";
    EXPECT_NE(RenderError(nots), "") << depth;
    std::string negs = "{{ " + std::string(depth, '-') + "1 }}";
    EXPECT_NE(RenderError(negs), "") << depth;
    std::string ifs;
    for (int i = 0; i < depth; ++i) ifs += "{% if true %}";
    EXPECT_NE(RenderError(ifs), "") << depth;
    std::string lists = "{{ " + std::string(depth, '[') + std::string(depth, ']') + " }}";
    EXPECT_NE(RenderError(lists), "") << depth;
    std::string attrs = "{{ messages" + [&] {
      std::string s;
      for (int i = 0; i < depth; ++i) s += "|first";
      return s;
    }() + " }}";
    // Long chains build left-nested trees: bounded at parse time.
    if (depth <= 200) {
      EXPECT_EQ(RenderError(attrs), "") << depth;
    } else {
      EXPECT_NE(RenderError(attrs).find("chain longer"), std::string::npos) << depth;
    }
    std::string sums = "{{ 1" + [&] {
      std::string s;
      for (int i = 0; i < depth; ++i) s += " + 1";
      return s;
    }() + " }}";
    EXPECT_EQ(RenderError(sums) == "", depth <= 200) << depth;
  }
  // Moderate nesting renders fine.
  EXPECT_EQ(RenderError("{{ ((((((((((1)))))))))) }}"), "");
}

TEST(ChatTemplateLimits, RecursionAndValueDepthAreBounded) {
  std::string err = RenderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_NE(err.find("macro calls nested deeper than 64"), std::string::npos) << err;
  // Recursion through statements inside the macro body hits a limit too.
  err = RenderError(
      "{% macro g(n) %}{% for i in [1] %}{% if true %}{% set x = g(n + 1) %}{% endif %}"
      "{% endfor %}{% endmacro %}{{ g(0) }}");
  EXPECT_NE(err.find("nested deeper"), std::string::npos) << err;
  err = RenderError(
      "{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}"
      "{% endfor %}{{ ns.x }}");
  EXPECT_NE(err.find("value nested deeper"), std::string::npos) << err;
  err = RenderError("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}");
  EXPECT_NE(err.find("namespace"), std::string::npos) << err;
  err = RenderError("{% set ns = namespace() %}{% set ns.me = [ns] %}{{ ns }}");
  EXPECT_NE(err.find("namespace"), std::string::npos) << err;
}

TEST(ChatTemplateLimits, LoopsAndOutputAreCapped) {
  ChatRenderOptions options;
  options.limits.max_loop_iterations = 1000;
  std::string err = RenderError(
      "{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", options);
  EXPECT_NE(err.find("loop iterations"), std::string::npos) << err;
  EXPECT_EQ(RenderError("{% for i in range(10) %}{% for j in range(99) %}{% endfor %}{% endfor %}",
                        options),
            "");

  options = {};
  options.limits.max_output_bytes = 10000;
  err = RenderError("{% for i in range(100) %}{{ 'x' * 200 }}{% endfor %}", options);
  EXPECT_NE(err.find("exceeds 10000 bytes"), std::string::npos) << err;

  EXPECT_NE(RenderError("{{ range(100000000) | length }}").find("range() longer"),
            std::string::npos);
  EXPECT_NE(RenderError("{{ 'x' * 1000000000 }}").find("too long"), std::string::npos);
  EXPECT_NE(RenderError("{{ ['x'] * 1000000000 }}").find("too long"), std::string::npos);
  EXPECT_NE(RenderError("{{ 2 ** 64 }}").find("overflow"), std::string::npos);
  EXPECT_NE(RenderError("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
  EXPECT_NE(RenderError("{{ 99999999999999999999 }}").find("out of range"), std::string::npos);
  // A template-built string doubling each iteration stops at the string limit.
  err = RenderError(
      "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
      "{% endfor %}");
  EXPECT_NE(err.find("too long"), std::string::npos) << err;
}

TEST(ChatTemplateSemantics, UndefinedIsNotNone) {
  Result<ChatTemplate> t = ChatTemplate::Parse(
      "{{ maybe is none }}{{ maybe is defined }}{{ nothing is defined }}{{ nothing is none }}"
      "[{{ nothing }}][{{ maybe }}]");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  Result<std::string> out = t->Render(SampleContext());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "TrueTrueFalseFalse[][None]");
}

TEST(ChatTemplateSemantics, StrftimeNowUsesTheGivenClock) {
  Result<ChatTemplate> t = ChatTemplate::Parse("{{ strftime_now('%d %b %Y') }}");
  ASSERT_TRUE(t.ok());
  ChatRenderOptions options;
  options.now = 1721995200;  // 2024-07-26 12:00:00 UTC
  Result<std::string> out = t->Render(SampleContext(), options);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "26 Jul 2024");
}

TEST(ChatTemplateConfig, PicksTheTemplateFromTokenizerConfig) {
  Result<std::string> s = ChatTemplateFromTokenizerConfig(ordered_json{{"chat_template", "T"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "T");
  ordered_json list = {{"chat_template",
                        {{{"name", "tool_use"}, {"template", "TOOLS"}},
                         {{"name", "default"}, {"template", "DEFAULT"}}}}};
  s = ChatTemplateFromTokenizerConfig(list);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "DEFAULT");
  s = ChatTemplateFromTokenizerConfig(list, "tool_use");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "TOOLS");
  s = ChatTemplateFromTokenizerConfig(list, "rag");
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("tool_use, default"), std::string::npos);
  EXPECT_EQ(ChatTemplateFromTokenizerConfig(ordered_json::object()).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ChatTemplateFromTokenizerConfig(ordered_json{{"chat_template", 3}}).status().code(),
            StatusCode::kInvalidArgument);
}

// A tokenizer_config.json nested a million levels deep: an error, not a stack overflow.
TEST(ChatTemplateConfig, DeepTokenizerConfigIsAnErrorNotAStackOverflow) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "deep_tokenizer_config";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"chat_template":)" << std::string(1000000, '[') << std::string(1000000, ']') << "}";
  Result<std::string> s = ChatTemplateSourceFromHfDir(dir.string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("nests JSON deeper than 64 levels"), std::string::npos)
      << s.status().message();
  std::filesystem::remove_all(dir);
}

// The context builder must produce what apply_chat_template passes: checked by rendering a
// golden case of scripts/gen_chat_template_golden.py from ChatMessage structs.
TEST(ChatTemplateContext, BuilderMatchesTheGoldenContext) {
  ordered_json golden =
      ordered_json::parse(ReadFile(testing::TestDataPath("chat_templates/golden/qwen2.5.json")));
  std::string source = ReadFile(testing::TestDataPath("chat_templates/qwen2.5.jinja"));
  Result<ChatTemplate> t = ChatTemplate::Parse(source);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  int checked = 0;
  for (const ordered_json& c : golden["cases"]) {
    if (!c.contains("output")) continue;
    ordered_json ctx = golden["contexts"][c["context"].get<std::string>()];
    ctx["add_generation_prompt"] = c["add_generation_prompt"];
    std::vector<ChatMessage> messages;
    for (const ordered_json& m : ctx["messages"]) {
      ChatMessage msg;
      msg.role = m["role"];
      msg.content = m["content"];
      if (m.contains("tool_calls")) msg.tool_calls = m["tool_calls"];
      if (m.contains("tool_call_id")) msg.tool_call_id = m["tool_call_id"];
      if (m.contains("name")) msg.name = m["name"];
      messages.push_back(std::move(msg));
    }
    ordered_json extra = ordered_json::object();
    if (ctx.contains("enable_thinking")) extra["enable_thinking"] = ctx["enable_thinking"];
    ordered_json built = BuildChatContext(messages, ctx["tools"], ctx["add_generation_prompt"],
                                          ctx["bos_token"], ctx["eos_token"], extra);
    Result<std::string> out = t->Render(built);
    ASSERT_TRUE(out.ok()) << c["name"] << ": " << out.status().ToString();
    EXPECT_EQ(*out, c["output"].get<std::string>()) << c["name"];
    ++checked;
  }
  EXPECT_GT(checked, 10);
}

// Mutated real templates (bytes flipped, spliced, truncated) never crash; under ASAN this also
// checks memory safety of every error path the mutations reach.
TEST(ChatTemplateRobustness, MutatedRealTemplatesNeverCrash) {
  std::vector<std::string> sources;
  for (const auto& entry :
       std::filesystem::directory_iterator(testing::TestDataPath("chat_templates"))) {
    if (entry.path().extension() == ".jinja") sources.push_back(ReadFile(entry.path().string()));
  }
  ASSERT_GE(sources.size(), 10u);
  std::mt19937 rng(1234);
  const std::string alphabet = "{}%#-+()[]'\".|~,:=*/ \nifelsendforsetmacroloopnot01";
  ChatRenderOptions options;
  options.now = 0;
  options.limits.max_loop_iterations = 10000;
  options.limits.max_output_bytes = 1 << 16;
  int parsed = 0, rendered = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string s = sources[rng() % sources.size()];
    int edits = 1 + rng() % 8;
    for (int e = 0; e < edits && !s.empty(); ++e) {
      size_t pos = rng() % s.size();
      switch (rng() % 4) {
        case 0:
          s[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          s.erase(pos, 1 + rng() % 16);
          break;
        case 2:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 3: {
          const std::string& other = sources[rng() % sources.size()];
          size_t from = rng() % other.size();
          s.insert(pos, other.substr(from, 1 + rng() % 64));
          break;
        }
      }
    }
    Result<ChatTemplate> t = ChatTemplate::Parse(s);
    if (!t.ok()) continue;
    ++parsed;
    Result<std::string> out = t->Render(SampleContext(), options);
    rendered += out.ok();
  }
  std::printf("mutations: %d parsed, %d rendered\n", parsed, rendered);
  EXPECT_GT(parsed, 0);
}

TEST(ChatTemplateSourceFromHfDir, FollowsTransformersLookupOrder) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() /
                       ("hearth_hf_template_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto write = [&](const char* name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
  };
  // Neither file: no template, which is not an error for the model.
  EXPECT_EQ(ChatTemplateSourceFromHfDir(dir.string()).status().code(), StatusCode::kNotFound);
  // tokenizer_config.json without chat_template: still none.
  write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  EXPECT_EQ(ChatTemplateSourceFromHfDir(dir.string()).status().code(), StatusCode::kNotFound);
  write("tokenizer_config.json", R"({"chat_template": "{{ messages[0].content }}"})");
  auto from_config = ChatTemplateSourceFromHfDir(dir.string());
  ASSERT_TRUE(from_config.ok()) << from_config.status().ToString();
  EXPECT_EQ(*from_config, "{{ messages[0].content }}");
  write("tokenizer_config.json",
        R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  ASSERT_TRUE(ChatTemplateSourceFromHfDir(dir.string()).ok());
  EXPECT_EQ(*ChatTemplateSourceFromHfDir(dir.string()), "D");
  // chat_template.jinja (transformers >= 4.43 saves it beside the config) wins.
  write("chat_template.jinja", "J{{ 1 }}");
  EXPECT_EQ(*ChatTemplateSourceFromHfDir(dir.string()), "J{{ 1 }}");
  fs::remove(dir / "chat_template.jinja");
  // Malformed files are errors that name the file.
  for (const char* bad : {"{not json", "[1, 2]", R"({"chat_template": 7})",
                          R"({"chat_template": [{"name": "x"}]})"}) {
    write("tokenizer_config.json", bad);
    const auto r = ChatTemplateSourceFromHfDir(dir.string());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("tokenizer_config.json"), std::string::npos) << bad;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hearth
