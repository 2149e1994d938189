// Tokenizer throughput on one CPU thread: MB/s of Encode over a corpus file, one call per line
// (prompt-sized inputs), for each family. parse_special is on, as HF always splits added tokens,
// so both sides produce the same ids. The same corpus goes through Hugging Face `tokenizers`
// in hf_tokenizer_bench.py; README.md says how to run both.
//
//   bench_tokenizer CORPUS [SMOLLM2_GGUF]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model_loader/tokenizer/tokenizer.h"
#include "model_loader/gguf/gguf_file.h"

namespace {

using hearth::tokenizer::Tokenizer;

void Run(const char* name, const Tokenizer& tok, const std::vector<std::string>& lines,
         size_t nbytes) {
  (void)tok.Encode(lines.front(), false, true);  // warm up
  const auto t0 = std::chrono::steady_clock::now();
  size_t num_tokens = 0;
  for (const std::string& line : lines) num_tokens += tok.Encode(line, false, true).size();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("hearth        %-8s %.1f MB  %zu tokens  encode/line %6.2f MB/s\n", name,
              nbytes / 1e6, num_tokens, nbytes / s / 1e6);
}

std::unique_ptr<Tokenizer> FromGgufOrDie(const std::string& path) {
  auto file = hearth::gguf::GgufFile::Open(path);
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.status().ToString().c_str());
    std::exit(1);
  }
  auto tok = Tokenizer::FromGguf(**file);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(tok).value();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CORPUS [SMOLLM2_GGUF]\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<std::string> lines;
  size_t nbytes = 0;
  for (std::string line; std::getline(in, line);) {
    nbytes += line.size() + 1;
    lines.push_back(std::move(line));
  }
  if (lines.empty()) {
    std::fprintf(stderr, "%s: empty or unreadable corpus\n", argv[1]);
    return 1;
  }
  const std::string data = HEARTH_SOURCE_DIR "/tests/data/";
  Run("spm", *FromGgufOrDie(data + "llama-vocab/ggml-vocab-llama-spm.gguf"), lines, nbytes);
  // The same vocabulary as a SentencePiece-style tokenizer.json (ranked merges, HF semantics).
  auto spm_json = Tokenizer::FromHfDir(data + "llama2-tokenizer/hf");
  if (!spm_json.ok()) {
    std::fprintf(stderr, "%s\n", spm_json.status().ToString().c_str());
    return 1;
  }
  Run("spm-json", **spm_json, lines, nbytes);
  Run("gpt2", *FromGgufOrDie(data + "llama-vocab/ggml-vocab-gpt-2.gguf"), lines, nbytes);
  const char* home = std::getenv("HOME");
  const std::string smollm2 =
      argc > 2 ? argv[2]
               : std::string(home ? home : "") + "/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf";
  Run("smollm2", *FromGgufOrDie(smollm2), lines, nbytes);
  return 0;
}
