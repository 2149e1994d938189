// A model ready for the engine: the file mappings, the config and the canonical weights.
#pragma once

#include <memory>
#include <string>

#include "kernels/core/status.h"
#include "model_loader/gguf/gguf_file.h"
#include "model_loader/model_config.h"
#include "model_loader/safetensors/safetensors_file.h"
#include "model_loader/weights.h"

namespace hearth {

enum class ModelFormat : uint8_t { kGguf, kSafetensors };

class LoadedModel {
 public:
  ModelFormat format() const { return format_; }
  const std::string& path() const { return path_; }
  const ModelConfig& config() const { return config_; }
  const Weights& weights() const { return weights_; }
  // The GGUF file (metadata for the tokenizer), or null for a safetensors directory.
  const gguf::GgufFile* gguf() const { return gguf_.get(); }
  const safetensors::SafetensorsSet* safetensors() const { return safetensors_.get(); }
  uint64_t file_bytes() const;  // all mapped files together

 private:
  friend Result<std::unique_ptr<LoadedModel>> LoadModel(const std::string& path);
  ModelFormat format_ = ModelFormat::kGguf;
  std::string path_;
  ModelConfig config_;
  Weights weights_;
  std::unique_ptr<gguf::GgufFile> gguf_;
  std::unique_ptr<safetensors::SafetensorsSet> safetensors_;
};

// `path` is a .gguf file or a Hugging Face directory (config.json + *.safetensors). The config
// is read, every weight mapped and checked against it.
Result<std::unique_ptr<LoadedModel>> LoadModel(const std::string& path);

}  // namespace hearth
