// A read-only, private memory mapping of a whole file (RAII). Weights are views into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/core/status.h"

namespace hearth {

class MappedFile {
 public:
  // Maps `path` with PROT_READ and MAP_PRIVATE. An empty file maps to data() == nullptr, size 0.
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace hearth
