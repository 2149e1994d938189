// Hearth's SentencePiece-BPE against libsentencepiece (the oracle) on Llama 2's tokenizer.model:
// the tokenizer.model path (our protobuf reader) and, when the GGUF reader is built, the
// llama-spm vocab GGUF must both give libsentencepiece's ids on every corpus string.
// This file must not include abseil headers (see shared/DEPENDENCIES.md).
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include "model_loader/tokenizer/tokenizer.h"
#include "tests/model_loader/tokenizer/oracle_data.h"
#include "tests/support/test_support.h"
#include "model_loader/gguf/gguf_file.h"

namespace hearth::tokenizer {
namespace {

using testing::Escape;
using testing::IdsToString;

const std::string& ModelPath() {
  static const std::string path = hearth::testing::TestDataPath("llama2-tokenizer/tokenizer.model");
  return path;
}

// Extra strings aimed at SentencePiece specifics: the dummy prefix, runs of spaces (the -1e9
// pieces), byte fallback for characters outside the 32000 pieces, and control-token texts.
std::vector<std::string> SpmCorpus() {
  std::vector<std::string> corpus = testing::LoadCorpus();
  const char* extra[] = {"",  " ",    "  ",       "   a", "a   ",        "\n",     " \n",
                         "▁", "▁▁▁",  "<s>",      "</s>", "<unk>",       "<0x41>", "𝔘",
                         "ꙮ", "\x7f", "\x01\x02", "a\tb", "🦙🦙🦙"};
  for (const char* s : extra) corpus.push_back(s);
  return corpus;
}

void ExpectLikeSentencePiece(const Tokenizer& ours, const char* label) {
  sentencepiece::SentencePieceProcessor sp;
  const auto status = sp.Load(ModelPath());
  ASSERT_TRUE(status.ok()) << status.ToString();
  const auto corpus = SpmCorpus();
  ASSERT_GE(corpus.size(), 1000u);
  int mismatches = 0;
  for (const std::string& s : corpus) {
    std::vector<int> expected_int;
    ASSERT_TRUE(sp.Encode(s, &expected_int).ok());
    const std::vector<int32_t> expected(expected_int.begin(), expected_int.end());
    const auto ids = ours.Encode(s, /*add_special=*/false, /*parse_special=*/false);
    if (ids != expected && ++mismatches <= 10) {
      ADD_FAILURE() << label << " '" << Escape(s) << "'\n  ours " << IdsToString(ids) << "\n  spm  "
                    << IdsToString(expected);
    }
    std::string expected_text;
    ASSERT_TRUE(sp.Decode(expected_int, &expected_text).ok());
    EXPECT_EQ(ours.Decode(ids, /*skip_special=*/true), expected_text) << label << " " << Escape(s);
  }
  EXPECT_EQ(mismatches, 0) << label << ": of " << corpus.size() << " strings";
}

TEST(SpmOracle, TokenizerModelMatchesLibSentencePiece) {
  auto tok = Tokenizer::FromSentencePieceModel(ModelPath());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->vocab_size(), 32000);
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);
  ExpectLikeSentencePiece(**tok, "tokenizer.model");
}

TEST(SpmOracle, LlamaSpmGgufMatchesLibSentencePiece) {
  auto file =
      gguf::GgufFile::Open(hearth::testing::TestDataPath("llama-vocab/ggml-vocab-llama-spm.gguf"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ExpectLikeSentencePiece(**tok, "llama-spm.gguf");
}

}  // namespace
}  // namespace hearth::tokenizer
