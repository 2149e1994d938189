// Tokenizer::FromGguf: llama.cpp's tokenizer vectors for every supported vocab GGUF, SmolLM2's
// vocabulary against Hugging Face `tokenizers` (ids from scripts/tokenizer_oracle.py), and clear
// load errors for GGUF metadata with missing or inconsistent tokenizer keys.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "model_loader/gguf/gguf_file.h"
#include "model_loader/tokenizer/tokenizer.h"
#include "tests/model_loader/tokenizer/oracle_data.h"
#include "tests/support/test_support.h"

namespace hearth::tokenizer {
namespace {

using testing::Escape;
using testing::IdsToString;

Result<std::unique_ptr<Tokenizer>> LoadVocab(const std::string& name) {
  HEARTH_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::Open(hearth::testing::TestDataPath(
                                         "llama-vocab/ggml-vocab-" + name + ".gguf")));
  return Tokenizer::FromGguf(*file);
}

class VocabVectors : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabVectors, MatchLlamaCppVectors) {
  const std::string name = GetParam();
  auto tok = LoadVocab(name);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const auto vectors = testing::LoadVocabVectors(name);
  ASSERT_EQ(vectors.size(), 46u);
  for (const auto& v : vectors) {
    // As llama.cpp's test-tokenizer-0: add_special = false, parse_special = false.
    EXPECT_EQ((*tok)->Encode(v.text, false, false), v.ids)
        << name << " '" << Escape(v.text) << "' (expected " << IdsToString(v.ids) << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Supported, VocabVectors,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "mpt", "falcon",
                                           "deepseek-llm", "deepseek-coder", "starcoder", "refact"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = (c == '-') ? '_' : c;
                           return n;
                         });

TEST(GgufVocab, VocabsWithoutVectorsLoadAndRoundTrip) {
  for (const char* name : {"baichuan", "gpt-neox"}) {
    auto tok = LoadVocab(name);
    ASSERT_TRUE(tok.ok()) << name << ": " << tok.status().ToString();
    const std::string text = "Hello world, 12345 привет 你好 🦙";
    EXPECT_EQ((*tok)->Decode((*tok)->Encode(text, false, false), true), text) << name;
  }
}

TEST(GgufVocab, WordPieceIsUnimplemented) {
  auto tok = LoadVocab("bert-bge");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(tok.status().message().find("bert"), std::string::npos) << tok.status().ToString();
}

TEST(GgufVocab, SpecialIdsAndFlags) {
  auto spm = LoadVocab("llama-spm");
  ASSERT_TRUE(spm.ok()) << spm.status().ToString();
  EXPECT_EQ((*spm)->kind(), TokenizerKind::kSentencePiece);
  EXPECT_EQ((*spm)->bos_id(), 1);
  EXPECT_EQ((*spm)->eos_id(), 2);
  EXPECT_TRUE((*spm)->add_bos());
  EXPECT_EQ((*spm)->Encode("Hello world", true, false), (std::vector<int32_t>{1, 15043, 3186}));
  auto bpe = LoadVocab("gpt-2");
  ASSERT_TRUE(bpe.ok()) << bpe.status().ToString();
  EXPECT_EQ((*bpe)->kind(), TokenizerKind::kByteLevelBpe);
  EXPECT_EQ((*bpe)->vocab_size(), 50257);
  EXPECT_EQ((*bpe)->eos_id(), 50256);
  EXPECT_FALSE((*bpe)->add_bos());
}

// ---- SmolLM2-135M-Instruct --------------------------------------------------------------------

std::string SmolLm2Path() {
  if (const char* env = std::getenv("HEARTH_SMOLLM2_GGUF")) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf";
}

std::unique_ptr<Tokenizer> SmolLm2() {
  const std::string path = SmolLm2Path();
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "SmolLM2 GGUF not found at " << path
                  << ": run scripts/fetch_default_model.sh or set HEARTH_SMOLLM2_GGUF";
    return nullptr;
  }
  auto file = gguf::GgufFile::Open(path);
  if (!file.ok()) {
    ADD_FAILURE() << file.status().ToString();
    return nullptr;
  }
  auto tok = Tokenizer::FromGguf(**file);
  if (!tok.ok()) {
    ADD_FAILURE() << tok.status().ToString();
    return nullptr;
  }
  return std::move(tok).value();
}

TEST(SmolLm2, MatchesHuggingFaceTokenizers) {
  auto tok = SmolLm2();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 49152);
  EXPECT_EQ(tok->TokenText(tok->bos_id()), "<|im_start|>");
  EXPECT_EQ(tok->TokenText(tok->eos_id()), "<|im_end|>");
  EXPECT_FALSE(tok->add_bos());
  const auto corpus = testing::LoadCorpus();
  const auto expected = testing::LoadOracleIds("smollm2");
  ASSERT_EQ(corpus.size(), expected.size());
  ASSERT_GE(corpus.size(), 1000u);
  int mismatches = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const auto ids = tok->Encode(corpus[i], false, /*parse_special=*/true);
    if (ids != expected[i] && ++mismatches <= 10) {
      ADD_FAILURE() << "string " << i << " '" << Escape(corpus[i]) << "'\n  ours "
                    << IdsToString(ids) << "\n  HF   " << IdsToString(expected[i]);
    }
    EXPECT_EQ(tok->Decode(ids, false), corpus[i]);
  }
  EXPECT_EQ(mismatches, 0) << "of " << corpus.size() << " strings";
}

TEST(SmolLm2, ChatMarkersOnlyWithParseSpecial) {
  auto tok = SmolLm2();
  ASSERT_NE(tok, nullptr);
  const std::string text = "<|im_start|>user\nHi<|im_end|>";
  const auto parsed = tok->Encode(text, false, true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed.front(), 1);
  EXPECT_EQ(parsed.back(), 2);
  const auto plain = tok->Encode(text, false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  EXPECT_EQ(tok->Decode(plain, true), text);
  EXPECT_EQ(tok->Decode(parsed, true), "user\nHi");
}

TEST(SmolLm2, MillionCharacterPrompt) {
  auto tok = SmolLm2();
  ASSERT_NE(tok, nullptr);
  std::string mixed;
  const auto corpus = testing::LoadCorpus();
  for (size_t i = 0; mixed.size() < (1u << 20); ++i) mixed += corpus[i % corpus.size()];
  for (const std::string& text : {std::string(1 << 20, 'a'), std::string(1 << 20, ' '), mixed}) {
    const auto ids = tok->Encode(text, false, false);
    EXPECT_EQ(tok->Decode(ids, false), text);
    StreamDecoder stream(*tok, false);
    std::string streamed;
    for (const int32_t id : ids) streamed += stream.Push(id);
    EXPECT_EQ(streamed + stream.Flush(), text);
  }
}

// ---- bad metadata: a minimal GGUF v3 writer for vocab-only files ------------------------------

class GgufWriter {
 public:
  void String(const std::string& key, const std::string& v) {
    Key(key, 8);
    Str(v);
  }
  void U32(const std::string& key, uint32_t v) {
    Key(key, 4);
    Raw(&v, 4);
  }
  void Bool(const std::string& key, bool v) {
    Key(key, 7);
    body_.push_back(v ? 1 : 0);
  }
  void Strings(const std::string& key, const std::vector<std::string>& v) {
    Key(key, 9);
    Array(8, v.size());
    for (const auto& s : v) Str(s);
  }
  void Floats(const std::string& key, const std::vector<float>& v) {
    Key(key, 9);
    Array(6, v.size());
    for (float f : v) Raw(&f, 4);
  }
  void Ints(const std::string& key, const std::vector<int32_t>& v) {
    Key(key, 9);
    Array(5, v.size());
    for (int32_t i : v) Raw(&i, 4);
  }
  std::vector<uint8_t> Bytes() const {
    std::vector<uint8_t> out = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    const uint64_t tensors = 0, kvs = count_;
    out.insert(out.end(), reinterpret_cast<const uint8_t*>(&tensors),
               reinterpret_cast<const uint8_t*>(&tensors) + 8);
    out.insert(out.end(), reinterpret_cast<const uint8_t*>(&kvs),
               reinterpret_cast<const uint8_t*>(&kvs) + 8);
    out.insert(out.end(), body_.begin(), body_.end());
    while (out.size() % 32) out.push_back(0);
    return out;
  }

 private:
  void Raw(const void* p, size_t n) {
    body_.insert(body_.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  }
  void Str(const std::string& s) {
    const uint64_t n = s.size();
    Raw(&n, 8);
    Raw(s.data(), s.size());
  }
  void Key(const std::string& key, uint32_t type) {
    ++count_;
    Str(key);
    Raw(&type, 4);
  }
  void Array(uint32_t elem, uint64_t n) {
    Raw(&elem, 4);
    Raw(&n, 8);
  }
  std::vector<uint8_t> body_;
  uint64_t count_ = 0;
};

// A valid SentencePiece vocabulary: <unk> <s> </s>, byte pieces for 'a' and 'b', ▁ a b ▁a.
void AddSpmVocab(GgufWriter& w, bool with_scores = true, bool with_types = true) {
  w.String("tokenizer.ggml.model", "llama");
  w.Strings("tokenizer.ggml.tokens",
            {"<unk>", "<s>", "</s>", "<0x61>", "<0x62>", "\xE2\x96\x81", "a", "b",
             "\xE2\x96\x81"
             "a"});
  if (with_scores) w.Floats("tokenizer.ggml.scores", {0, 0, 0, 0, 0, -1, -2, -3, -0.5f});
  if (with_types) w.Ints("tokenizer.ggml.token_type", {2, 3, 3, 6, 6, 1, 1, 1, 1});
}

Result<std::unique_ptr<Tokenizer>> Load(const GgufWriter& w) {
  const std::vector<uint8_t> bytes = w.Bytes();
  auto file = gguf::GgufFile::FromBuffer(bytes.data(), bytes.size(), "test.gguf");
  if (!file.ok()) {
    ADD_FAILURE() << "the test's GGUF does not parse: " << file.status().ToString();
    return file.status();
  }
  return Tokenizer::FromGguf(**file);
}

void ExpectError(const GgufWriter& w, const std::string& needle) {
  auto tok = Load(w);
  ASSERT_FALSE(tok.ok()) << "expected an error mentioning " << needle;
  EXPECT_NE(tok.status().message().find(needle), std::string::npos) << tok.status().ToString();
}

TEST(GgufVocabErrors, ValidTinyVocabLoads) {
  GgufWriter w;
  AddSpmVocab(w);
  w.U32("tokenizer.ggml.bos_token_id", 1);
  auto tok = Load(w);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->Encode("ab", true, false), (std::vector<int32_t>{1, 8, 7}));
}

TEST(GgufVocabErrors, MissingOrInconsistentKeys) {
  {
    GgufWriter w;
    w.Strings("tokenizer.ggml.tokens", {"a"});
    ExpectError(w, "tokenizer.ggml.model");
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "llama");
    ExpectError(w, "tokenizer.ggml.tokens");
  }
  {
    GgufWriter w;
    AddSpmVocab(w, /*with_scores=*/false);
    ExpectError(w, "tokenizer.ggml.scores");
  }
  {
    GgufWriter w;
    AddSpmVocab(w, true, /*with_types=*/false);
    ExpectError(w, "tokenizer.ggml.token_type");
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "llama");
    w.Strings("tokenizer.ggml.tokens", {"a", "b"});
    w.Floats("tokenizer.ggml.scores", {0});
    w.Ints("tokenizer.ggml.token_type", {1, 1});
    ExpectError(w, "scores");
  }
  {
    GgufWriter w;
    AddSpmVocab(w);
    w.U32("tokenizer.ggml.bos_token_id", 1000);
    ExpectError(w, "bos_token_id");
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "gpt2");
    w.Strings("tokenizer.ggml.tokens", {"a", "b"});
    ExpectError(w, "tokenizer.ggml.merges");
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "gpt2");
    w.Strings("tokenizer.ggml.tokens", {"a", "b"});
    w.Strings("tokenizer.ggml.merges", {"a c"});
    ExpectError(w, "merge 0");
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "gpt2");
    w.Strings("tokenizer.ggml.tokens", {"a", "b"});
    w.Strings("tokenizer.ggml.merges", {});
    w.String("tokenizer.ggml.pre", "klingon");
    ExpectError(w, "klingon");
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "llama");
    w.Ints("tokenizer.ggml.tokens", {1, 2});  // wrong element type
    ExpectError(w, "tokenizer.ggml.tokens");
  }
  {
    GgufWriter w;
    AddSpmVocab(w, true, /*with_types=*/false);
    w.Ints("tokenizer.ggml.token_type", {2, 3, 3});
    ExpectError(w, "token types");
  }
  {
    GgufWriter w;
    w.String("tokenizer.ggml.model", "t5");
    ExpectError(w, "t5");
  }
}

}  // namespace
}  // namespace hearth::tokenizer
