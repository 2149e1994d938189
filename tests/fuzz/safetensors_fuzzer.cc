// libFuzzer target: the safetensors header parser and the shard index parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model_loader/safetensors/safetensors_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = hearth::safetensors::SafetensorsFile::FromBuffer(data, size, "fuzz.safetensors");
  uint8_t sum = 0;
  if (file.ok()) {
    for (const auto& t : (*file)->tensors()) {
      if (t.nbytes > 0) sum ^= t.data[0] ^ t.data[t.nbytes - 1];
    }
  }
  (void)hearth::safetensors::SafetensorsSet::ParseIndex(
      std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.index.json");
  return sum == 0xFFFF;
}
