// GGUF v2/v3 reader over a read-only memory mapping (or a caller's buffer, for fuzzing).
// The whole header (metadata and tensor infos) is parsed and validated at Open; tensor data is
// never copied. Every malformed input is a Status naming the file and the byte offset.
//
// Contract for the other modules (tokenizer, model_config, weights): the accessors below.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "kernels/core/dtype.h"
#include "kernels/core/status.h"

namespace hearth {
class MappedFile;
}

namespace hearth::gguf {

// GGUF metadata value types (numbering from the GGUF specification).
enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
std::string_view ValueTypeName(ValueType t);

struct Value;
struct Array {
  ValueType elem_type = ValueType::kUint8;
  std::vector<Value> items;  // arrays of arrays nest
};

struct Value {
  ValueType type = ValueType::kUint8;
  // Integers of every width are widened to int64_t (signed) or uint64_t (unsigned), floats to
  // double, strings are copied out of the mapping.
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> v;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // GGUF order: shape[0] is the fastest-varying (row length)
  DType dtype = DType::kF32;
  uint64_t offset = 0;         // absolute byte offset in the file
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping, valid as long as the GgufFile lives
  int64_t num_elements() const;
};

class GgufFile {
 public:
  // Maps `path` read-only and parses it.
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses a caller-owned buffer (must outlive the GgufFile); `name` appears in errors.
  static Result<std::unique_ptr<GgufFile>> FromBuffer(const uint8_t* data, size_t size,
                                                     std::string name);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  size_t file_size() const { return size_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* Find(std::string_view key) const;

  // Typed getters: NotFound if absent, InvalidArgument (naming key and types) if of another type.
  // GetInt accepts every integer type (and bool); GetFloat accepts float32/float64 and integers.
  Result<int64_t> GetInt(std::string_view key) const;
  Result<double> GetFloat(std::string_view key) const;
  Result<bool> GetBool(std::string_view key) const;
  Result<std::string> GetString(std::string_view key) const;
  Result<std::vector<std::string>> GetStringArray(std::string_view key) const;
  Result<std::vector<double>> GetFloatArray(std::string_view key) const;
  Result<std::vector<int64_t>> GetIntArray(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* FindTensor(std::string_view name) const;

 private:
  GgufFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::unique_ptr<MappedFile> mapping_;  // owned mmap, or null for FromBuffer
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<TensorInfo> tensors_;
  // Name -> index into metadata_ / tensors_ (files may hold thousands of tensors).
  std::unordered_map<std::string, size_t> metadata_index_;
  std::unordered_map<std::string, size_t> tensor_index_;
  friend class GgufParser;
};

}  // namespace hearth::gguf
