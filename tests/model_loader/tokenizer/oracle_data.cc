#include "tests/model_loader/tokenizer/oracle_data.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/test_support.h"

namespace hearth::tokenizer::testing {

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return {};
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> LoadStrings(const std::string& file) {
  const auto j = nlohmann::json::parse(
      ReadFileOrDie(hearth::testing::TestDataPath("tokenizer/" + file)), nullptr, false);
  if (!j.is_array()) {
    ADD_FAILURE() << "tokenizer/" << file << " is not a JSON array";
    return {};
  }
  return j.get<std::vector<std::string>>();
}

std::vector<std::string> LoadCorpus() { return LoadStrings("strings.json"); }

std::vector<std::vector<int32_t>> LoadOracleIds(const std::string& name) {
  const auto j = nlohmann::json::parse(
      ReadFileOrDie(hearth::testing::TestDataPath("tokenizer/" + name + ".ids.json")), nullptr,
      false);
  if (!j.is_array()) {
    ADD_FAILURE() << "tokenizer/" << name << ".ids.json is not a JSON array";
    return {};
  }
  return j.get<std::vector<std::vector<int32_t>>>();
}

std::vector<VocabVector> LoadVocabVectors(const std::string& name) {
  const std::string base =
      hearth::testing::TestDataPath("llama-vocab/ggml-vocab-" + name + ".gguf");
  const std::string inp = ReadFileOrDie(base + ".inp");
  const std::string out = ReadFileOrDie(base + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0;;) {
    const size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    texts.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<VocabVector> vectors;
  std::istringstream lines(out);
  std::string line;
  for (const std::string& text : texts) {
    if (!std::getline(lines, line)) {
      ADD_FAILURE() << base << ".out has fewer lines than tests";
      break;
    }
    VocabVector v{text, {}};
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) v.ids.push_back(id);
    vectors.push_back(std::move(v));
  }
  return vectors;
}

std::string Escape(const std::string& s) {
  std::string out;
  char buf[8];
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F && b != '\\') {
      out.push_back(c);
    } else {
      std::snprintf(buf, sizeof(buf), "\\x%02X", b);
      out += buf;
    }
  }
  return out;
}

std::string IdsToString(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
  return out + "]";
}

}  // namespace hearth::tokenizer::testing
