// safetensors reader over a read-only mapping: one file, or a sharded directory described by
// model.safetensors.index.json. Layout: u64 header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}
// with offsets relative to byte 8 + N. Only F32, F16 and BF16 tensors are accepted; any other
// dtype (I64, F8_E4M3, ...) is an Unimplemented error naming the tensor (Hearth's supported
// architectures store no integer buffers in their checkpoints).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"

namespace hearth {
class MappedFile;
}

namespace hearth::safetensors {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, PyTorch order
  uint64_t offset = 0;         // absolute byte offset in the file
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
};

class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Parses a caller-owned buffer (must outlive the object); `name` appears in errors.
  static Result<std::unique_ptr<SafetensorsFile>> FromBuffer(const uint8_t* data, size_t size,
                                                             std::string name);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  size_t file_size() const { return size_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in offset order
  const TensorInfo* FindTensor(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  Status Parse();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::unique_ptr<MappedFile> mapping_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Every shard of a checkpoint directory: model.safetensors.index.json's weight_map names the
// shard of each tensor; without an index, the directory's single model.safetensors.
class SafetensorsSet {
 public:
  static Result<std::unique_ptr<SafetensorsSet>> Open(const std::string& dir);
  // Parses an index JSON (for tests and fuzzing): tensor name -> shard file name. Shard names
  // must be plain file names (no '/', not "." or "..").
  static Result<std::map<std::string, std::string>> ParseIndex(std::string_view json,
                                                               const std::string& name);

  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }
  // The tensor and the shard holding it, or null.
  const TensorInfo* FindTensor(std::string_view name,
                               const SafetensorsFile** shard = nullptr) const;
  uint64_t total_file_bytes() const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::unordered_map<std::string, std::pair<size_t, const TensorInfo*>> index_;
};

}  // namespace hearth::safetensors
