#include "model_loader/loaded_model.h"

#include <filesystem>

namespace hearth {

uint64_t LoadedModel::file_bytes() const {
  if (gguf_) return gguf_->file_size();
  return safetensors_ ? safetensors_->total_file_bytes() : 0;
}

Result<std::unique_ptr<LoadedModel>> LoadModel(const std::string& path) {
  namespace fs = std::filesystem;
  std::unique_ptr<LoadedModel> m(new LoadedModel());
  m->path_ = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    m->format_ = ModelFormat::kSafetensors;
    HEARTH_ASSIGN_OR_RETURN(m->config_, ConfigFromHfDir(path));
    HEARTH_ASSIGN_OR_RETURN(m->safetensors_, safetensors::SafetensorsSet::Open(path));
    HEARTH_ASSIGN_OR_RETURN(m->weights_, Weights::FromSafetensors(*m->safetensors_));
  } else {
    if (!fs::exists(path, ec)) return NotFoundError(path + ": no such file or directory");
    m->format_ = ModelFormat::kGguf;
    HEARTH_ASSIGN_OR_RETURN(m->gguf_, gguf::GgufFile::Open(path));
    HEARTH_ASSIGN_OR_RETURN(m->config_, ConfigFromGguf(*m->gguf_));
    HEARTH_ASSIGN_OR_RETURN(m->weights_, Weights::FromGguf(*m->gguf_));
  }
  Status s = m->weights_.CheckAgainst(m->config_);
  if (!s.ok()) return Status(s.code(), path + ": " + s.message());
  return m;
}

}  // namespace hearth
