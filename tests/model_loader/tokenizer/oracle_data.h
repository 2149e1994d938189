// Loading the tokenizer test data: the shared string corpus, oracle id lists and llama.cpp's
// .inp/.out vectors (format in tests/data/llama-vocab/README.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::tokenizer::testing {

std::string ReadFileOrDie(const std::string& path);

// tests/data/tokenizer/<file>: a JSON list of strings.
std::vector<std::string> LoadStrings(const std::string& file);
// tests/data/tokenizer/strings.json: the corpus every oracle was run on.
std::vector<std::string> LoadCorpus();
// tests/data/tokenizer/<name>.ids.json: one id list per corpus string.
std::vector<std::vector<int32_t>> LoadOracleIds(const std::string& name);

struct VocabVector {
  std::string text;
  std::vector<int32_t> ids;
};
// tests/data/llama-vocab/ggml-vocab-<name>.gguf.inp/.out
std::vector<VocabVector> LoadVocabVectors(const std::string& name);

// Printable form of a string for failure messages (escapes control and non-ASCII bytes).
std::string Escape(const std::string& s);
std::string IdsToString(const std::vector<int32_t>& ids);

}  // namespace hearth::tokenizer::testing
