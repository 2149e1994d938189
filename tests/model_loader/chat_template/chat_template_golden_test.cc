// Conformance with Python's jinja2: renders the real chat templates in tests/data/chat_templates
// and the feature snippets over the cases scripts/gen_chat_template_golden.py rendered with
// jinja2 in Hugging Face's environment, and compares byte for byte. A case where jinja2 raised
// must fail here too.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model_loader/gguf/gguf_file.h"
#include "model_loader/tokenizer/chat_template.h"
#include "model_loader/tokenizer/tokenizer.h"
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

// Where two strings first differ, with some context, for a readable failure.
std::string Diff(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  size_t from = i > 40 ? i - 40 : 0;
  return "first difference at byte " + std::to_string(i) +
         "\n  jinja2: " + ordered_json(want.substr(from, 120)).dump() +
         "\n  hearth: " + ordered_json(got.substr(from, 120)).dump();
}

struct GoldenStats {
  int rendered = 0;
  int raised = 0;
  int raise_exception = 0;  // of those, raised by the template with the same message
};

// The GGUF a golden/gguf/*.json names: "env:VAR" (the SmolLM2 GGUF, fetched by
// scripts/fetch_default_model.sh) or "data:<path under tests/data>".
std::string GgufPath(const std::string& where) {
  if (where.rfind("data:", 0) == 0) return testing::TestDataPath(where.substr(5));
  const std::string var = where.substr(4);
  if (const char* env = std::getenv(var.c_str())) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf";
}

// Reads tokenizer.chat_template and the BOS/EOS token texts from the GGUF with Hearth's own
// reader and tokenizer, as `hearth serve` does.
void LoadGgufTemplate(const ordered_json& golden, std::optional<ChatTemplate>* out) {
  const std::string path = GgufPath(golden["gguf"].get<std::string>());
  ASSERT_TRUE(std::filesystem::exists(path))
      << path << " missing: run scripts/fetch_default_model.sh or set HEARTH_SMOLLM2_GGUF";
  auto file = gguf::GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  Result<std::string> source = (*file)->GetString("tokenizer.chat_template");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  // The script rendered this very template (read with the gguf package).
  ASSERT_EQ(*source, golden["template_source"].get<std::string>());
  auto tok = tokenizer::Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  for (const auto& [name, context] : golden["contexts"].items()) {
    EXPECT_EQ(context["bos_token"], std::string((*tok)->TokenText((*tok)->bos_id()))) << name;
    EXPECT_EQ(context["eos_token"], std::string((*tok)->TokenText((*tok)->eos_id()))) << name;
  }
  Result<ChatTemplate> parsed = ChatTemplate::Parse(*source);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  *out = std::move(parsed).value();
}

void CheckGoldenFile(const std::filesystem::path& path, GoldenStats& stats) {
  SCOPED_TRACE(path.filename().string());
  ordered_json golden = ordered_json::parse(ReadFile(path.string()));
  ChatRenderOptions options;
  options.now = golden["now"].get<int64_t>();
  std::optional<ChatTemplate> file_template;
  if (golden.contains("gguf")) {
    LoadGgufTemplate(golden, &file_template);
    if (!file_template) return;
  } else if (golden.contains("template")) {
    std::string source =
        ReadFile(testing::TestDataPath("chat_templates/" + golden["template"].get<std::string>()));
    ASSERT_FALSE(source.empty()) << golden["template"];
    Result<ChatTemplate> parsed = ChatTemplate::Parse(source);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    file_template = std::move(parsed).value();
  }
  for (const ordered_json& c : golden["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    std::optional<ChatTemplate> own;
    if (c.contains("template")) {
      Result<ChatTemplate> parsed = ChatTemplate::Parse(c["template"].get<std::string>());
      if (!parsed.ok()) {
        EXPECT_TRUE(c.contains("error"))
            << "hearth failed to parse: " << parsed.status().ToString();
        if (c.contains("error")) ++stats.raised;
        continue;
      }
      own = std::move(parsed).value();
    }
    const ChatTemplate& t = own ? *own : *file_template;
    // Cases share contexts by name; add_generation_prompt is per case when given.
    ordered_json context = golden["contexts"][c["context"].get<std::string>()];
    if (c.contains("add_generation_prompt")) {
      context["add_generation_prompt"] = c["add_generation_prompt"];
    }
    Result<std::string> out = t.Render(context, options);
    if (c.contains("error")) {
      EXPECT_FALSE(out.ok()) << "jinja2 raised " << c["error"] << " but hearth rendered "
                             << ordered_json(out.ok() ? *out : "").dump();
      // raise_exception(msg) must surface the template's own message.
      const std::string error = c["error"].get<std::string>();
      if (std::getenv("HEARTH_CHAT_TEMPLATE_VERBOSE") != nullptr && !out.ok()) {
        std::printf("%s\n  jinja2: %s\n  hearth: %s\n", c["name"].get<std::string>().c_str(),
                    error.c_str(), out.status().message().c_str());
      }
      const std::string kRaised = "TemplateError: ";
      if (!out.ok() && error.rfind(kRaised, 0) == 0) {
        std::string msg = error.substr(kRaised.size());
        EXPECT_NE(out.status().message().find("raised an exception: " + msg), std::string::npos)
            << "jinja2: " << error << "\nhearth: " << out.status().message();
        ++stats.raise_exception;
      }
      ++stats.raised;
      continue;
    }
    ASSERT_TRUE(out.ok()) << "jinja2 rendered it, hearth failed: " << out.status().ToString();
    const std::string want = c["output"].get<std::string>();
    EXPECT_EQ(want, *out) << Diff(want, *out);
    ++stats.rendered;
  }
}

std::vector<std::filesystem::path> GoldenFiles(const std::string& subdir = "") {
  std::vector<std::filesystem::path> files;
  std::filesystem::path dir = testing::TestDataPath("chat_templates/golden" + subdir);
  if (!std::filesystem::is_directory(dir)) return files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ChatTemplateGolden, RealTemplatesMatchJinja2) {
  std::vector<std::filesystem::path> files = GoldenFiles();
  ASSERT_GE(files.size(), 10u) << "golden files missing under tests/data/chat_templates/golden; "
                                  "run scripts/gen_chat_template_golden.py";
  GoldenStats stats;
  for (const auto& f : files) {
    if (f.filename().string().rfind("_", 0) == 0) continue;  // feature snippets: next test
    CheckGoldenFile(f, stats);
  }
  std::printf(
      "real templates: %d cases rendered identically, %d raised in both (%d by "
      "raise_exception with the same message)\n",
      stats.rendered, stats.raised, stats.raise_exception);
  EXPECT_GT(stats.rendered, 100);
}

// The template as a GGUF stores it (tokenizer.chat_template), read by Hearth's GGUF reader, with
// BOS/EOS from the GGUF's vocabulary: SmolLM2's GGUF and llama.cpp's Phi-3 vocab GGUF.
TEST(ChatTemplateGolden, GgufTemplatesMatchJinja2) {
  std::vector<std::filesystem::path> files = GoldenFiles("/gguf");
  ASSERT_GE(files.size(), 2u) << "golden/gguf/*.json missing; run scripts/gen_chat_template_golden.py";
  GoldenStats stats;
  for (const auto& f : files) CheckGoldenFile(f, stats);
  std::printf("GGUF templates: %d cases rendered identically, %d raised in both\n", stats.rendered,
              stats.raised);
  EXPECT_GT(stats.rendered, 20);
}

TEST(ChatTemplateGolden, FeatureSnippetsMatchJinja2) {
  std::filesystem::path path = testing::TestDataPath("chat_templates/golden/_features.json");
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  GoldenStats stats;
  CheckGoldenFile(path, stats);
  std::printf("feature snippets: %d rendered identically, %d raised in both\n", stats.rendered,
              stats.raised);
}

}  // namespace
}  // namespace hearth
