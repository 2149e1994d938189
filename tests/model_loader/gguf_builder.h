// Builds small GGUF files byte by byte for tests: any version, any metadata, any tensor infos,
// including deliberately broken ones (counts, offsets and types are the caller's to choose).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::testing {

// Little-endian byte sink.
struct Bytes {
  std::vector<uint8_t> b;
  template <class T>
  Bytes& Put(T v) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    b.insert(b.end(), raw, raw + sizeof(T));
    return *this;
  }
  Bytes& Str(std::string_view s) {
    Put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Append(const Bytes& o) {
    b.insert(b.end(), o.b.begin(), o.b.end());
    return *this;
  }
};

// GGUF value type ids.
enum GgufType : uint32_t {
  kGU8 = 0,
  kGI8 = 1,
  kGU16 = 2,
  kGI16 = 3,
  kGU32 = 4,
  kGI32 = 5,
  kGF32 = 6,
  kGBool = 7,
  kGStr = 8,
  kGArr = 9,
  kGU64 = 10,
  kGI64 = 11,
  kGF64 = 12,
};

class GgufBuilder {
 public:
  uint32_t version = 3;
  uint32_t magic = 0x46554747;
  std::optional<uint64_t> tensor_count_override, kv_count_override;
  uint64_t alignment = 32;  // used for padding; write general.alignment yourself to change it

  // A key with a raw value encoding (type id + the value's bytes).
  GgufBuilder& Kv(std::string_view key, uint32_t type, const Bytes& value) {
    kvs_.Str(key).Put<uint32_t>(type).Append(value);
    ++num_kvs_;
    return *this;
  }
  GgufBuilder& U32(std::string_view key, uint32_t v) { return Kv(key, kGU32, Bytes().Put(v)); }
  GgufBuilder& F32(std::string_view key, float v) { return Kv(key, kGF32, Bytes().Put(v)); }
  GgufBuilder& Str(std::string_view key, std::string_view v) {
    return Kv(key, kGStr, Bytes().Str(v));
  }
  GgufBuilder& Bool(std::string_view key, bool v) {
    return Kv(key, kGBool, Bytes().Put<uint8_t>(v));
  }

  // A tensor info; data_bytes of pattern data are placed at `offset` (relative to the data
  // section; default: after the previous tensor, aligned).
  GgufBuilder& Tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t ggml_type,
                      uint64_t data_bytes, std::optional<uint64_t> offset = std::nullopt) {
    const uint64_t off = offset ? *offset : (next_offset_ + alignment - 1) / alignment * alignment;
    infos_.Str(name).Put<uint32_t>(ne.size());
    for (uint64_t d : ne) infos_.Put<uint64_t>(d);
    infos_.Put<uint32_t>(ggml_type).Put<uint64_t>(off);
    if (off < (uint64_t{1} << 30) && data_bytes < (uint64_t{1} << 30)) {  // else: info only
      if (off + data_bytes > data_.size()) data_.resize(off + data_bytes, 0);
      for (uint64_t i = 0; i < data_bytes; ++i) data_[off + i] = static_cast<uint8_t>(i * 7 + 1);
      next_offset_ = std::max(next_offset_, off + data_bytes);
    }
    ++num_tensors_;
    return *this;
  }

  std::vector<uint8_t> Build() const {
    Bytes out;
    out.Put<uint32_t>(magic).Put<uint32_t>(version);
    out.Put<uint64_t>(tensor_count_override.value_or(num_tensors_));
    out.Put<uint64_t>(kv_count_override.value_or(num_kvs_));
    out.Append(kvs_).Append(infos_);
    if (num_tensors_ > 0) {
      while (out.b.size() % alignment != 0) out.b.push_back(0);
      out.b.insert(out.b.end(), data_.begin(), data_.end());
    }
    return out.b;
  }

 private:
  Bytes kvs_, infos_;
  std::vector<uint8_t> data_;
  uint64_t num_kvs_ = 0, num_tensors_ = 0, next_offset_ = 0;
};

inline std::string WriteTempFile(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = std::string(::testing::TempDir()) + name;
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return path;
}

inline std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace hearth::testing
