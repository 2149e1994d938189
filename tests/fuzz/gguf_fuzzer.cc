// libFuzzer target: the GGUF reader, then everything built on its output (config, weights).
#include <cstddef>
#include <cstdint>

#include "model_loader/gguf/gguf_file.h"
#include "model_loader/model_config.h"
#include "model_loader/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = hearth::gguf::GgufFile::FromBuffer(data, size, "fuzz.gguf");
  if (!file.ok()) return 0;
  const hearth::gguf::GgufFile& f = **file;
  // Touch every tensor's bytes so that ASAN checks the spans the reader accepted.
  uint8_t sum = 0;
  for (const auto& t : f.tensors()) {
    if (t.nbytes > 0) sum ^= t.data[0] ^ t.data[t.nbytes - 1];
  }
  (void)f.GetStringArray("tokenizer.ggml.tokens");
  (void)f.GetFloatArray("tokenizer.ggml.scores");
  (void)f.GetIntArray("tokenizer.ggml.token_type");
  auto config = hearth::ConfigFromGguf(f);
  auto weights = hearth::Weights::FromGguf(f);
  if (config.ok() && weights.ok()) (void)weights->CheckAgainst(*config);
  return sum == 0xFFFF;  // never true; keeps `sum` live
}
