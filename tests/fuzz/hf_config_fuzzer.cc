// libFuzzer target: config.json -> ModelConfig.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model_loader/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)hearth::ConfigFromHfJson(std::string_view(reinterpret_cast<const char*>(data), size),
                                 "fuzz/config.json");
  return 0;
}
