// Unit tests for the parts of Hearth's tokenizer that need no outside oracle: UTF-8 handling,
// streaming detokenization, special tokens, load errors on bad vocabularies and files, and
// linear-time behaviour on 1M-character prompts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "model_loader/tokenizer/byte_bpe_model.h"
#include "model_loader/tokenizer/pre_tokenizer.h"
#include "model_loader/tokenizer/sentencepiece_model.h"
#include "model_loader/tokenizer/tokenizer.h"
#include "model_loader/tokenizer/utf8.h"
#include "tests/model_loader/tokenizer/oracle_data.h"
#include "tests/support/test_support.h"

namespace hearth::tokenizer {
namespace {

using testing::Escape;

const std::string kFffd = "\xEF\xBF\xBD";

std::string SpacesForMeta(std::string s) {
  for (size_t at; (at = s.find("\xE2\x96\x81")) != std::string::npos;) s.replace(at, 3, " ");
  return s;
}

std::unique_ptr<Tokenizer> Llama2() {
  auto t = Tokenizer::FromSentencePieceModel(
      hearth::testing::TestDataPath("llama2-tokenizer/tokenizer.model"));
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

// A byte-level vocabulary of the 256 byte tokens, two merges and two special tokens.
Tokenizer::Parts TinyByteLevel() {
  Tokenizer::Parts p;
  p.kind = TokenizerKind::kByteLevelBpe;
  for (int b = 0; b < 256; ++b) {
    std::string t;
    AppendUtf8(ByteToUnicode(static_cast<uint8_t>(b)), &t);
    p.vocab.tokens.push_back(t);
    p.vocab.types.push_back(TokenType::kNormal);
  }
  p.vocab.tokens.push_back("he");
  p.vocab.types.push_back(TokenType::kNormal);
  p.vocab.tokens.push_back("hel");
  p.vocab.types.push_back(TokenType::kNormal);
  p.merges = {"h e", "he l"};
  p.vocab.tokens.push_back("<|bos|>");
  p.vocab.types.push_back(TokenType::kControl);
  p.vocab.tokens.push_back("<|user|>");
  p.vocab.types.push_back(TokenType::kUserDefined);
  p.vocab.bos_id = 258;
  p.vocab.add_bos = true;
  p.pre.patterns = {kGpt2Pattern};
  return p;
}

std::unique_ptr<Tokenizer> Tiny() {
  auto t = Tokenizer::FromParts(TinyByteLevel(), "tiny");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

// ---- UTF-8 -----------------------------------------------------------------------------------

TEST(Utf8, SanitizeReplacesMaximalSubparts) {
  // Expected values are what Python's bytes.decode("utf-8", "replace") gives.
  EXPECT_EQ(SanitizeUtf8("abc"), "abc");
  EXPECT_EQ(SanitizeUtf8("a\xFF"
                         "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(SanitizeUtf8("\xE0\x80"), kFffd + kFffd);              // overlong lead, then stray
  EXPECT_EQ(SanitizeUtf8("\xF0\x9F\x98"), kFffd);                  // truncated 4-byte sequence
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // a surrogate
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(SanitizeUtf8("\xC3\xA9\xC3"), "\xC3\xA9" + kFffd);
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\xA6\x99"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));
}

TEST(Utf8, CompletePrefixHoldsBackOnlyATruncatedTail) {
  EXPECT_EQ(CompleteUtf8Prefix("ab"), 2u);
  EXPECT_EQ(CompleteUtf8Prefix("a\xF0\x9F"), 1u);
  EXPECT_EQ(CompleteUtf8Prefix("a\xFF"), 2u);     // invalid, can never complete: emit
  EXPECT_EQ(CompleteUtf8Prefix("\xE0\x80"), 2u);  // invalid second byte: emit both
  EXPECT_EQ(CompleteUtf8Prefix("\xF0\x9F\xA6\x99"), 4u);
}

// ---- SentencePiece behaviour on Llama 2 --------------------------------------------------------

TEST(SentencePiece, DummyPrefixAndBos) {
  auto tok = Llama2();
  ASSERT_NE(tok, nullptr);
  // Values from tests/data/llama-vocab/README.md (llama-spm).
  EXPECT_EQ(tok->Encode("Hello world", false, false), (std::vector<int32_t>{15043, 3186}));
  EXPECT_EQ(tok->Encode(" Hello world", false, false), (std::vector<int32_t>{29871, 15043, 3186}));
  EXPECT_EQ(tok->Encode("Hello world", true, false), (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{1, 15043, 3186}, true), "Hello world");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{29871, 15043, 3186}, true), " Hello world");
  EXPECT_EQ(tok->Encode("", true, false), (std::vector<int32_t>{1}));
}

TEST(SentencePiece, SpecialTokensOnlyWhenAsked) {
  auto tok = Llama2();
  ASSERT_NE(tok, nullptr);
  const auto as_text = tok->Encode("<s>Hi</s>", false, false);
  EXPECT_EQ(std::count(as_text.begin(), as_text.end(), 1), 0);
  EXPECT_EQ(tok->Decode(as_text, false), "<s>Hi</s>");
  const auto parsed = tok->Encode("<s>Hi</s>", false, true);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), 1);
  EXPECT_EQ(parsed.back(), 2);
  EXPECT_EQ(tok->Decode(parsed, true), "Hi");
  EXPECT_TRUE(tok->IsSpecial(1));
  EXPECT_FALSE(tok->IsSpecial(15043));
  EXPECT_EQ(tok->TokenText(15043), "\xE2\x96\x81Hello");
}

TEST(SentencePiece, ByteFallbackAndInvalidInput) {
  auto tok = Llama2();
  ASSERT_NE(tok, nullptr);
  // U+1F999 is not a Llama 2 piece: four <0xNN> byte pieces (ids 3 + byte) after the prefix.
  EXPECT_EQ(tok->Encode("\xF0\x9F\xA6\x99", false, false),
            (std::vector<int32_t>{29871, 3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99}));
  // Invalid UTF-8 is replaced by U+FFFD before tokenization (documented in README.md).
  EXPECT_EQ(tok->Encode("a\xFF", false, false), tok->Encode("a" + kFffd, false, false));
  // A lone byte piece decodes to U+FFFD, as HF's lossy decode does.
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{3 + 0xF0}, true), kFffd);
}

// ---- streaming -----------------------------------------------------------------------------

void ExpectStreamEqualsDecode(const Tokenizer& tok, const std::vector<int32_t>& ids,
                              bool skip_special, const std::string& label) {
  StreamDecoder stream(tok, skip_special);
  std::string streamed;
  for (const int32_t id : ids) {
    const std::string piece = stream.Push(id);
    EXPECT_TRUE(IsValidUtf8(piece)) << label << ": partial UTF-8 emitted: " << Escape(piece);
    streamed += piece;
  }
  streamed += stream.Flush();
  EXPECT_EQ(streamed, tok.Decode(ids, skip_special)) << label;
}

TEST(StreamDecoder, EqualsFullDecodeOnTheCorpus) {
  auto spm = Llama2();
  auto bpe = Tiny();
  ASSERT_NE(spm, nullptr);
  ASSERT_NE(bpe, nullptr);
  for (const std::string& s : testing::LoadCorpus()) {
    for (const bool skip : {false, true}) {
      ExpectStreamEqualsDecode(*spm, spm->Encode(s, true, true), skip, "spm " + Escape(s));
      ExpectStreamEqualsDecode(*bpe, bpe->Encode(s, true, true), skip, "bpe " + Escape(s));
    }
    // SentencePiece decodes a literal U+2581 in the input as a space, as libsentencepiece does.
    EXPECT_EQ(spm->Decode(spm->Encode(s, true, false), true), SpacesForMeta(s)) << Escape(s);
    EXPECT_EQ(bpe->Decode(bpe->Encode(s, false, false), true), s) << Escape(s);
  }
}

TEST(StreamDecoder, HoldsPartialCharactersAndTheLeadingSpace) {
  auto tok = Llama2();
  ASSERT_NE(tok, nullptr);
  StreamDecoder stream(*tok, /*skip_special=*/true);
  EXPECT_EQ(stream.Push(1), "");           // BOS
  EXPECT_EQ(stream.Push(15043), "Hello");  // "▁Hello": the dummy prefix is dropped
  EXPECT_EQ(stream.Push(3186), " world");  // later spaces stay
  EXPECT_EQ(stream.Push(3 + 0xF0), "");    // 🦙 as four byte pieces
  EXPECT_EQ(stream.Push(3 + 0x9F), "");
  EXPECT_EQ(stream.Push(3 + 0xA6), "");
  EXPECT_EQ(stream.Push(3 + 0x99), "\xF0\x9F\xA6\x99");
  EXPECT_EQ(stream.Push(3 + 0xE2), "");  // a truncated sequence at the end
  EXPECT_EQ(stream.Flush(), kFffd);
}

TEST(StreamDecoder, ContinuationKeepsTheLeadingSpace) {
  auto tok = Llama2();
  ASSERT_NE(tok, nullptr);
  // Tokens generated after a prompt: "▁world" is " world", not the start of a sequence.
  StreamDecoder stream(*tok, /*skip_special=*/true, /*sequence_start=*/false);
  EXPECT_EQ(stream.Push(3186), " world");
  EXPECT_EQ(stream.Push(2), "");  // EOS skipped
  EXPECT_EQ(stream.Flush(), "");
}

TEST(StreamDecoder, InvalidByteSequencesMatchDecode) {
  auto tok = Tiny();
  ASSERT_NE(tok, nullptr);
  // Byte tokens have id == byte value in the tiny vocabulary... except the mapped order; look
  // them up by encoding single Latin-1 characters is not possible, so use ids directly.
  const auto id_of = [&](uint8_t b) {
    for (int32_t id = 0; id < 256; ++id) {
      std::string t;
      AppendUtf8(ByteToUnicode(b), &t);
      if (tok->TokenText(id) == t) return id;
    }
    return -1;
  };
  const std::vector<std::vector<uint8_t>> cases = {
      {0xF0, 0x9F, 0x41}, {0xFF},
      {0xE0, 0x80, 0x41}, {0xC3},
      {0x80, 0x80},       {0xF0, 0x9F, 0xA6},
      {0xED, 0xA0, 0x80}, {0x41, 0xC3, 0xA9, 0xE2, 0x82}};
  for (const auto& bytes : cases) {
    std::vector<int32_t> ids;
    for (const uint8_t b : bytes) ids.push_back(id_of(b));
    ExpectStreamEqualsDecode(*tok, ids, true, "bytes");
  }
}

// ---- byte-level details ----------------------------------------------------------------------

TEST(ByteLevel, MergesSpecialsAndBos) {
  auto tok = Tiny();
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("hel", false, false), (std::vector<int32_t>{257}));
  EXPECT_EQ(tok->Encode("hel", true, false), (std::vector<int32_t>{258, 257}));
  // Control tokens only with parse_special; user-defined ones always.
  EXPECT_EQ(tok->Encode("<|bos|>", false, true), (std::vector<int32_t>{258}));
  EXPECT_GT(tok->Encode("<|bos|>", false, false).size(), 1u);
  EXPECT_EQ(tok->Encode("<|user|>", false, false), (std::vector<int32_t>{259}));
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{258, 257, 259}, true), "hel<|user|>");
  EXPECT_EQ(tok->Decode(std::vector<int32_t>{258, 257, 99999, -1}, false), "<|bos|>hel");
  // The invalid-UTF-8 policy holds for byte-level models too: U+FFFD per maximal subpart.
  EXPECT_EQ(tok->Encode("h\xFF\xE2\x82l", false, false),
            tok->Encode("h" + kFffd + kFffd + "l", false, false));
}

// ---- bad vocabularies and files --------------------------------------------------------------

void ExpectLoadError(Tokenizer::Parts parts, const std::string& needle) {
  auto t = Tokenizer::FromParts(std::move(parts), "bad.gguf");
  ASSERT_FALSE(t.ok()) << "expected an error mentioning '" << needle << "'";
  EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status().ToString();
  EXPECT_NE(t.status().message().find("bad.gguf"), std::string::npos) << t.status().ToString();
}

TEST(LoadErrors, InconsistentVocabularies) {
  {
    Tokenizer::Parts p = TinyByteLevel();
    p.vocab.types.pop_back();
    ExpectLoadError(std::move(p), "token types");
  }
  {
    Tokenizer::Parts p = TinyByteLevel();
    p.vocab.tokens.clear();
    p.vocab.types.clear();
    ExpectLoadError(std::move(p), "no tokens");
  }
  {
    Tokenizer::Parts p = TinyByteLevel();
    p.vocab.bos_id = 100000;
    ExpectLoadError(std::move(p), "BOS id");
  }
  {
    Tokenizer::Parts p = TinyByteLevel();
    p.vocab.bos_id = -1;
    ExpectLoadError(std::move(p), "no BOS");
  }
  {
    Tokenizer::Parts p = TinyByteLevel();
    p.merges.push_back("he zz");
    ExpectLoadError(std::move(p), "missing from the vocabulary");
  }
  {
    Tokenizer::Parts p = TinyByteLevel();
    p.merges.push_back("hel");
    ExpectLoadError(std::move(p), "two tokens");
  }
  {
    Tokenizer::Parts p = TinyByteLevel();
    p.pre.patterns = {"(unclosed"};
    ExpectLoadError(std::move(p), "does not compile");
  }
  {
    Tokenizer::Parts p = TinyByteLevel();
    p.kind = TokenizerKind::kSentencePiece;  // SentencePiece needs one score per token
    ExpectLoadError(std::move(p), "scores");
  }
  {
    Tokenizer::Parts p = TinyByteLevel();
    p.kind = TokenizerKind::kSentencePiece;
    p.vocab.scores.assign(p.vocab.tokens.size(), 0.f);
    p.vocab.types[5] = TokenType::kByte;  // not spelled <0xNN>
    ExpectLoadError(std::move(p), "expected <0xNN>");
  }
  bool ignore = false;
  const auto unknown = PreTokenizer::ForGgufName("no-such-pre", &ignore);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(unknown.status().message().find("no-such-pre"), std::string::npos);
}

TEST(LoadErrors, TruncatedAndCorruptSentencePieceModels) {
  const std::string model =
      testing::ReadFileOrDie(hearth::testing::TestDataPath("llama2-tokenizer/tokenizer.model"));
  ASSERT_GT(model.size(), 1000u);
  // Every cut inside the first pieces and a spread of later ones: an error or a valid prefix of
  // pieces, never a crash.
  int errors = 0;
  for (size_t cut = 0; cut < model.size(); cut += (cut < 300 ? 1 : 4999)) {
    auto parts = ParseSentencePieceModel(std::string_view(model).substr(0, cut), "cut.model");
    if (!parts.ok()) {
      ++errors;
      EXPECT_NE(parts.status().message().find("cut.model"), std::string::npos);
    }
  }
  EXPECT_GT(errors, 50);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    std::string corrupt = model;
    for (int k = 0; k < 8; ++k) corrupt[rng() % corrupt.size()] = static_cast<char>(rng());
    auto parts = ParseSentencePieceModel(corrupt, "corrupt.model");
    if (parts.ok()) (void)Tokenizer::FromParts(std::move(parts).value(), "corrupt.model");
  }
  EXPECT_FALSE(Tokenizer::FromSentencePieceModel("/nonexistent/tokenizer.model").ok());
}

TEST(LoadErrors, BadTokenizerJson) {
  const auto dir = std::filesystem::temp_directory_path() / "hearth_bad_tokenizer_json";
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& text) {
    std::ofstream(dir / "tokenizer.json", std::ios::binary) << text;
    return Tokenizer::FromHfDir(dir.string());
  };
  EXPECT_EQ(write("{not json").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(write("{}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(write(R"({"model": {"type": "WordPiece"}})").status().code(),
            StatusCode::kUnimplemented);
  EXPECT_EQ(write(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 5}, "merges": []},
                      "pre_tokenizer": {"type": "ByteLevel"}})")
                .status()
                .code(),
            StatusCode::kInvalidArgument);  // ids not contiguous
  EXPECT_EQ(write(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                      "pre_tokenizer": {"type": "Whitespace"}})")
                .status()
                .code(),
            StatusCode::kUnimplemented);
  // Fields of the wrong JSON type are errors, not exceptions.
  EXPECT_EQ(write(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [],
                      "ignore_merges": "yes"}, "pre_tokenizer": {"type": "ByteLevel"}})")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(write(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                      "pre_tokenizer": {"type": "Split", "behavior": 5}})")
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

// A four-piece SentencePiece-style tokenizer.json (Llama 2's layout).
nlohmann::json SpmTokenizerJson() {
  using Json = nlohmann::json;
  const std::string meta = "\xE2\x96\x81";
  const Json replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", meta}};
  const Json prepend = {{"type", "Prepend"}, {"prepend", meta}};
  return {{"model",
           {{"type", "BPE"},
            {"byte_fallback", true},
            {"fuse_unk", true},
            {"unk_token", "<unk>"},
            {"vocab", {{"<unk>", 0}, {meta, 1}, {"a", 2}, {meta + "a", 3}, {"<0x41>", 4}}},
            {"merges", Json::array({Json::array({meta, "a"})})}}},
          {"normalizer", {{"type", "Sequence"}, {"normalizers", {prepend, replace}}}},
          {"pre_tokenizer", nullptr},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", meta}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}}};
}

// The SentencePiece-style tokenizer.json, and what breaks it.
TEST(LoadErrors, SentencePieceTokenizerJson) {
  using Json = nlohmann::json;
  const std::string meta = "\xE2\x96\x81";
  const Json good = SpmTokenizerJson();
  const auto load = [](const Json& j) { return Tokenizer::FromHfJson(j.dump(), "", "spm.json"); };
  auto tok = load(good);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->kind(), TokenizerKind::kSentencePiece);
  EXPECT_EQ((*tok)->Encode("a a", false, false), (std::vector<int32_t>{3, 3}));
  EXPECT_EQ((*tok)->Encode("A", false, false), (std::vector<int32_t>{1, 4}));  // byte fallback
  EXPECT_EQ((*tok)->Encode("Ab", false, false), (std::vector<int32_t>{1, 4, 0}));  // no <0x62>
  EXPECT_EQ((*tok)->Decode(std::vector<int32_t>{3, 3, 4}, false), "a aA");

  const auto expect_error = [&](Json j, StatusCode code, const std::string& needle) {
    auto t = load(j);
    ASSERT_FALSE(t.ok()) << "expected an error mentioning '" << needle << "'";
    EXPECT_EQ(t.status().code(), code) << t.status().ToString();
    EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status().ToString();
    EXPECT_NE(t.status().message().find("spm.json"), std::string::npos);
  };
  Json j = good;
  j["normalizer"]["normalizers"].push_back({{"type", "NFKC"}});
  expect_error(j, StatusCode::kUnimplemented, "normalizer step");
  j = good;
  j["decoder"]["decoders"].erase(3);  // no Strip, but a dummy prefix is added
  expect_error(j, StatusCode::kUnimplemented, "decoder");
  j = good;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", meta}, {"prepend_scheme", "first"}};
  expect_error(j, StatusCode::kUnimplemented, "Prepend normalizer and Metaspace");
  j = good;
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}};
  expect_error(j, StatusCode::kUnimplemented, "Metaspace replacement");
  j = good;
  j["model"]["merges"].push_back(Json::array({"a", "zz"}));
  expect_error(j, StatusCode::kInvalidArgument, "missing from the vocabulary");
  j = good;
  j["model"]["unk_token"] = "<nope>";
  expect_error(j, StatusCode::kInvalidArgument, "unk_token");
  j = good;
  j["model"]["dropout"] = 0.1;
  expect_error(j, StatusCode::kUnimplemented, "dropout");
  j = good;
  j["model"]["byte_fallback"] = "yes";
  expect_error(j, StatusCode::kInvalidArgument, "malformed");
}

// JSON nested a million levels deep (2 MB) in a tokenizer.json or tokenizer_config.json is an
// error, not a stack overflow: error messages quote the offending value (dump() recurses once a
// level). kernels/core/json_depth.h.
TEST(LoadErrors, DeepJsonIsAnErrorNotAStackOverflow) {
  using Json = nlohmann::json;
  const std::string nest = std::string(1000000, '[') + std::string(1000000, ']');
  const auto with_nest = [&](const Json& j) {
    std::string text = j.dump();
    const size_t at = text.find("\"@@\"");
    return text.replace(at, 4, nest);
  };
  Json pre = SpmTokenizerJson();
  pre["pre_tokenizer"] = "@@";
  Json merge = SpmTokenizerJson();
  merge["model"]["merges"].push_back("@@");
  Json added = SpmTokenizerJson();
  added["added_tokens"] = Json::array({"@@"});
  for (const std::string& text : {with_nest(pre), with_nest(merge), with_nest(added), nest}) {
    auto t = Tokenizer::FromHfJson(text, "", "deep.json");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("deep.json: nests JSON deeper than 64 levels"),
              std::string::npos)
        << t.status().message();
  }
  auto config = Tokenizer::FromHfJson(SpmTokenizerJson().dump(),
                                      with_nest(Json{{"bos_token", "@@"}}), "deep.json");
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("(tokenizer_config.json): nests JSON deeper"),
            std::string::npos)
      << config.status().message();
}

// The fuzzer's tokenizer.json seeds load, so mutations start from a working tokenizer.
TEST(LoadErrors, FuzzSeedTokenizerJsonsLoad) {
  const std::filesystem::path seeds =
      std::filesystem::path(hearth::testing::TestDataPath("")) / ".." / "fuzz" / "tokenizer_fuzzer";
  for (const char* name : {"json_sentencepiece", "json_bytelevel"}) {
    const std::string seed = testing::ReadFileOrDie((seeds / name).string());
    ASSERT_FALSE(seed.empty()) << name;
    auto tok = Tokenizer::FromHfJson(std::string_view(seed).substr(1), "", name);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    EXPECT_FALSE((*tok)->Encode("Hello world", false, false).empty()) << name;
  }
}

// Encode is const and shares no mutable state across threads (PCRE2 scratch is thread-local).
TEST(Threads, ConcurrentEncodesAgree) {
  auto spm = Llama2();
  auto bpe = Tiny();
  ASSERT_NE(spm, nullptr);
  ASSERT_NE(bpe, nullptr);
  const auto corpus = testing::LoadCorpus();
  std::vector<std::vector<int32_t>> expected;
  for (const auto& s : corpus) {
    expected.push_back(spm->Encode(s, true, true));
    expected.push_back(bpe->Encode(s, true, true));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (size_t i = 0; i < corpus.size(); ++i) {
        if (spm->Encode(corpus[i], true, true) != expected[2 * i]) ++mismatches;
        if (bpe->Encode(corpus[i], true, true) != expected[2 * i + 1]) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---- long inputs: linear time, no deep recursion ---------------------------------------------
// No timing assertion; these sizes would take minutes with a quadratic merge loop or regex.

TEST(LongInput, MillionCharacterPrompts) {
  auto spm = Llama2();
  auto bpe = Tiny();
  ASSERT_NE(spm, nullptr);
  ASSERT_NE(bpe, nullptr);
  const size_t n = 1 << 20;
  std::string mixed;
  const auto corpus = testing::LoadCorpus();
  for (size_t i = 0; mixed.size() < n; ++i) mixed += corpus[i % corpus.size()] + " ";
  for (const std::string& text :
       {std::string(n, 'a'), std::string(n, ' '), std::string(n, '\n'), mixed}) {
    const auto spm_ids = spm->Encode(text, false, false);
    EXPECT_FALSE(spm_ids.empty());
    EXPECT_EQ(spm->Decode(spm_ids, true), SpacesForMeta(text));
    const auto bpe_ids = bpe->Encode(text, false, false);
    EXPECT_EQ(bpe->Decode(bpe_ids, true), text);
  }
}

}  // namespace
}  // namespace hearth::tokenizer
