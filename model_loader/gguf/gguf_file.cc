// GGUF layout (v2 and v3; v1 used 32-bit counts and is rejected):
//   "GGUF" u32 version, u64 tensor_count, u64 metadata_kv_count,
//   metadata: {string key, u32 type, value}*, tensor infos: {string name, u32 n_dims,
//   u64 ne[n_dims], u32 ggml_type, u64 offset}*, padding to general.alignment, tensor data.
// A string is u64 length + bytes; an array is u32 element type + u64 count + elements.
// All integers are little-endian; this reader assumes a little-endian host.
#include "model_loader/gguf/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "model_loader/mapped_file.h"

namespace hearth::gguf {
namespace {

static_assert(std::endian::native == std::endian::little, "GGUF reader assumes little-endian");

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayDepth = 8;        // arrays of arrays nest at most this deep
constexpr int kMaxDims = 4;              // GGML_MAX_DIMS
// Each parsed metadata value costs ~48 bytes of memory, so hostile files could turn a few bytes
// each into gigabytes. Real vocabularies (tokens + scores + types + merges) stay well below.
constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 23;
constexpr uint64_t kDefaultAlignment = 32;

// GGML type ids (ggml.h) to Hearth dtypes; nullopt for ids Hearth does not load.
std::optional<DType> DTypeFromGgmlType(uint32_t id) {
  switch (id) {
    case 0:
      return DType::kF32;
    case 1:
      return DType::kF16;
    case 2:
      return DType::kQ4_0;
    case 3:
      return DType::kQ4_1;
    case 6:
      return DType::kQ5_0;
    case 7:
      return DType::kQ5_1;
    case 8:
      return DType::kQ8_0;
    case 10:
      return DType::kQ2_K;
    case 11:
      return DType::kQ3_K;
    case 12:
      return DType::kQ4_K;
    case 13:
      return DType::kQ5_K;
    case 14:
      return DType::kQ6_K;
    case 30:
      return DType::kBF16;
    default:
      return std::nullopt;
  }
}

// Smallest encoded size of one value of type t (used to bound counts before allocating).
uint64_t MinEncodedSize(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool:
      return 1;
    case ValueType::kUint16:
    case ValueType::kInt16:
      return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32:
      return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
      return 8;
    case ValueType::kString:
      return 8;
    case ValueType::kArray:
      return 12;
  }
  return 1;
}

bool IsValidValueType(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::kFloat64); }

}  // namespace

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
      return "uint8";
    case ValueType::kInt8:
      return "int8";
    case ValueType::kUint16:
      return "uint16";
    case ValueType::kInt16:
      return "int16";
    case ValueType::kUint32:
      return "uint32";
    case ValueType::kInt32:
      return "int32";
    case ValueType::kFloat32:
      return "float32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kUint64:
      return "uint64";
    case ValueType::kInt64:
      return "int64";
    case ValueType::kFloat64:
      return "float64";
  }
  return "unknown";
}

int64_t TensorInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // bounded at parse time
  return n;
}

class GgufParser {
 public:
  explicit GgufParser(GgufFile& f) : f_(f) {}

  Status Parse() {
    if (f_.size_ < 4)
      return Error(0, DataLoss,
                   "file is " + std::to_string(f_.size_) + " bytes, too short for the GGUF magic");
    uint32_t magic = 0;
    HEARTH_RETURN_IF_ERROR(ReadU32(&magic, "magic"));
    if (magic != kMagic) return Error(0, Invalid, "bad magic (not a GGUF file)");
    HEARTH_RETURN_IF_ERROR(ReadU32(&f_.version_, "version"));
    if (f_.version_ != 2 && f_.version_ != 3) {
      return Error(4, Unimplemented,
                   "unsupported GGUF version " + std::to_string(f_.version_) + " (need 2 or 3)");
    }
    uint64_t tensor_count = 0, kv_count = 0;
    const uint64_t tensor_count_at = pos_;
    HEARTH_RETURN_IF_ERROR(ReadU64(&tensor_count, "tensor count"));
    const uint64_t kv_count_at = pos_;
    HEARTH_RETURN_IF_ERROR(ReadU64(&kv_count, "metadata count"));
    // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes.
    if (kv_count > Remaining() / 13) {
      return Error(
          kv_count_at, OutOfRange,
          "metadata count " + std::to_string(kv_count) + " exceeds what the file can hold");
    }
    // A tensor info takes at least 8 (name length) + 4 (n_dims) + 8 (ne) + 4 + 8 bytes.
    if (tensor_count > Remaining() / 32) {
      return Error(
          tensor_count_at, OutOfRange,
          "tensor count " + std::to_string(tensor_count) + " exceeds what the file can hold");
    }
    f_.metadata_.reserve(kv_count);
    for (uint64_t i = 0; i < kv_count; ++i) HEARTH_RETURN_IF_ERROR(ParseKeyValue());
    HEARTH_RETURN_IF_ERROR(ReadAlignment());
    f_.tensors_.reserve(tensor_count);
    for (uint64_t i = 0; i < tensor_count; ++i) HEARTH_RETURN_IF_ERROR(ParseTensorInfo());
    return PlaceTensors();
  }

 private:
  enum Kind { Invalid, OutOfRange, DataLoss, Unimplemented };

  Status Error(uint64_t at, Kind kind, const std::string& what) const {
    std::string m = f_.path_ + ": byte " + std::to_string(at) + ": " + what;
    switch (kind) {
      case Invalid:
        return InvalidArgumentError(std::move(m));
      case OutOfRange:
        return OutOfRangeError(std::move(m));
      case DataLoss:
        return DataLossError(std::move(m));
      case Unimplemented:
        return UnimplementedError(std::move(m));
    }
    return InvalidArgumentError(std::move(m));
  }

  uint64_t Remaining() const { return f_.size_ - pos_; }

  Status Need(uint64_t n, std::string_view what) const {
    if (n > Remaining()) {
      return Error(pos_, DataLoss,
                   "truncated: " + std::string(what) + " needs " + std::to_string(n) + " bytes, " +
                       std::to_string(Remaining()) + " left in the file");
    }
    return Status::Ok();
  }

  template <class T>
  Status ReadPod(T* out, std::string_view what) {
    HEARTH_RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, f_.data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }
  // Reads a Raw and stores it widened (integers to 64 bits, floats to double).
  template <class Raw, class Wide>
  Status ReadScalar(Value* out, std::string_view what) {
    Raw x;
    HEARTH_RETURN_IF_ERROR(ReadPod(&x, what));
    out->v = static_cast<Wide>(x);
    return Status::Ok();
  }
  Status ReadU32(uint32_t* out, std::string_view what) { return ReadPod(out, what); }
  Status ReadU64(uint64_t* out, std::string_view what) { return ReadPod(out, what); }

  Status ReadString(std::string* out, std::string_view what) {
    const uint64_t at = pos_;
    uint64_t len = 0;
    HEARTH_RETURN_IF_ERROR(ReadU64(&len, what));
    if (len > Remaining()) {
      return Error(at, DataLoss,
                   std::string(what) + " length " + std::to_string(len) + " exceeds the " +
                       std::to_string(Remaining()) + " bytes left in the file");
    }
    out->assign(reinterpret_cast<const char*>(f_.data_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

  Status CountValue(uint64_t at) {
    if (++num_values_ > kMaxMetadataValues) {
      return Error(at, OutOfRange,
                   "more than " + std::to_string(kMaxMetadataValues) + " metadata values in total");
    }
    return Status::Ok();
  }

  Status ParseValue(ValueType type, int depth, Value* out) {
    const uint64_t at = pos_;
    HEARTH_RETURN_IF_ERROR(CountValue(at));
    out->type = type;
    switch (type) {
      case ValueType::kUint8:
        return ReadScalar<uint8_t, uint64_t>(out, "uint8");
      case ValueType::kUint16:
        return ReadScalar<uint16_t, uint64_t>(out, "uint16");
      case ValueType::kUint32:
        return ReadScalar<uint32_t, uint64_t>(out, "uint32");
      case ValueType::kUint64:
        return ReadScalar<uint64_t, uint64_t>(out, "uint64");
      case ValueType::kInt8:
        return ReadScalar<int8_t, int64_t>(out, "int8");
      case ValueType::kInt16:
        return ReadScalar<int16_t, int64_t>(out, "int16");
      case ValueType::kInt32:
        return ReadScalar<int32_t, int64_t>(out, "int32");
      case ValueType::kInt64:
        return ReadScalar<int64_t, int64_t>(out, "int64");
      case ValueType::kFloat32:
        return ReadScalar<float, double>(out, "float32");
      case ValueType::kFloat64:
        return ReadScalar<double, double>(out, "float64");
      case ValueType::kBool: {
        uint8_t x;
        HEARTH_RETURN_IF_ERROR(ReadPod(&x, "bool"));
        if (x > 1) return Error(at, Invalid, "bool value " + std::to_string(x) + " is not 0 or 1");
        out->v = x == 1;
        break;
      }
      case ValueType::kString: {
        std::string s;
        HEARTH_RETURN_IF_ERROR(ReadString(&s, "string"));
        out->v = std::move(s);
        break;
      }
      case ValueType::kArray: {
        if (depth >= kMaxArrayDepth) {
          return Error(at, Invalid, "arrays nested deeper than " + std::to_string(kMaxArrayDepth));
        }
        uint32_t elem = 0;
        HEARTH_RETURN_IF_ERROR(ReadU32(&elem, "array element type"));
        if (!IsValidValueType(elem)) {
          return Error(at, Invalid, "unknown array element type " + std::to_string(elem));
        }
        const uint64_t count_at = pos_;
        uint64_t count = 0;
        HEARTH_RETURN_IF_ERROR(ReadU64(&count, "array count"));
        Array arr;
        arr.elem_type = static_cast<ValueType>(elem);
        if (count > Remaining() / MinEncodedSize(arr.elem_type)) {
          return Error(count_at, DataLoss,
                       "array count " + std::to_string(count) + " of " +
                           std::string(ValueTypeName(arr.elem_type)) + " exceeds the " +
                           std::to_string(Remaining()) + " bytes left in the file");
        }
        if (count > kMaxMetadataValues - num_values_) {
          return Error(
              count_at, OutOfRange,
              "array count " + std::to_string(count) + " exceeds the metadata value limit");
        }
        arr.items.resize(count);
        for (uint64_t i = 0; i < count; ++i) {
          HEARTH_RETURN_IF_ERROR(ParseValue(arr.elem_type, depth + 1, &arr.items[i]));
        }
        out->v = std::move(arr);
        break;
      }
    }
    return Status::Ok();
  }

  Status ParseKeyValue() {
    const uint64_t at = pos_;
    std::string key;
    HEARTH_RETURN_IF_ERROR(ReadString(&key, "metadata key"));
    if (f_.Find(key) != nullptr) return Error(at, Invalid, "duplicate metadata key '" + key + "'");
    const uint64_t type_at = pos_;
    uint32_t type = 0;
    HEARTH_RETURN_IF_ERROR(ReadU32(&type, "metadata value type"));
    if (!IsValidValueType(type)) {
      return Error(type_at, Invalid,
                   "metadata key '" + key + "' has unknown value type " + std::to_string(type));
    }
    if (key == "general.alignment") alignment_at_ = type_at;
    Value v;
    HEARTH_RETURN_IF_ERROR(ParseValue(static_cast<ValueType>(type), 0, &v));
    f_.metadata_index_.emplace(key, f_.metadata_.size());
    f_.metadata_.emplace_back(std::move(key), std::move(v));
    return Status::Ok();
  }

  Status ReadAlignment() {
    const Value* v = f_.Find("general.alignment");
    if (v == nullptr) {
      f_.alignment_ = kDefaultAlignment;
      return Status::Ok();
    }
    const auto* a = std::get_if<uint64_t>(&v->v);
    const auto* s = std::get_if<int64_t>(&v->v);
    uint64_t align = 0;
    if (a != nullptr)
      align = *a;
    else if (s != nullptr && *s > 0)
      align = static_cast<uint64_t>(*s);
    if (align == 0 || !std::has_single_bit(align) || align % 8 != 0 || align > (1u << 30)) {
      return Error(alignment_at_, Invalid,
                   "general.alignment must be a power of two, a multiple of 8 and at most 2^30 "
                   "(got type " +
                       std::string(ValueTypeName(v->type)) + ", value " +
                       (a   ? std::to_string(*a)
                        : s ? std::to_string(*s)
                            : std::string("?")) +
                       ")");
    }
    f_.alignment_ = align;
    return Status::Ok();
  }

  Status ParseTensorInfo() {
    const uint64_t at = pos_;
    TensorInfo t;
    HEARTH_RETURN_IF_ERROR(ReadString(&t.name, "tensor name"));
    if (f_.FindTensor(t.name) != nullptr) {
      return Error(at, Invalid, "duplicate tensor name '" + t.name + "'");
    }
    uint32_t n_dims = 0;
    const uint64_t dims_at = pos_;
    HEARTH_RETURN_IF_ERROR(ReadU32(&n_dims, "tensor n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return Error(dims_at, Invalid,
                   "tensor '" + t.name + "' has " + std::to_string(n_dims) +
                       " dimensions (need 1 to " + std::to_string(kMaxDims) + ")");
    }
    int64_t num_elems = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne_at = pos_;
      uint64_t ne = 0;
      HEARTH_RETURN_IF_ERROR(ReadU64(&ne, "tensor dimension"));
      if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          static_cast<int64_t>(ne) > std::numeric_limits<int64_t>::max() / num_elems) {
        return Error(ne_at, OutOfRange,
                     "tensor '" + t.name + "' dimension " + std::to_string(d) + " = " +
                         std::to_string(ne) + " is zero or overflows the element count");
      }
      num_elems *= static_cast<int64_t>(ne);
      t.shape.push_back(static_cast<int64_t>(ne));
    }
    const uint64_t type_at = pos_;
    uint32_t ggml_type = 0;
    HEARTH_RETURN_IF_ERROR(ReadU32(&ggml_type, "tensor type"));
    const std::optional<DType> dtype = DTypeFromGgmlType(ggml_type);
    if (!dtype) {
      return Error(
          type_at, Unimplemented,
          "tensor '" + t.name + "': unknown/unsupported tensor type " + std::to_string(ggml_type));
    }
    t.dtype = *dtype;
    const DTypeInfo info = GetDTypeInfo(t.dtype);
    if (t.shape[0] % info.block_elems != 0) {
      return Error(type_at, Invalid,
                   "tensor '" + t.name + "' row length " + std::to_string(t.shape[0]) +
                       " is not a multiple of the " + std::string(info.name) + " block size " +
                       std::to_string(info.block_elems));
    }
    const std::optional<int64_t> nbytes = DTypeBytes(t.dtype, num_elems);
    if (!nbytes) return Error(type_at, OutOfRange, "tensor '" + t.name + "' byte size overflows");
    t.nbytes = static_cast<uint64_t>(*nbytes);
    HEARTH_RETURN_IF_ERROR(ReadU64(&t.offset, "tensor offset"));  // relative until PlaceTensors
    offsets_at_.push_back(pos_ - 8);
    f_.tensor_index_.emplace(t.name, f_.tensors_.size());
    f_.tensors_.push_back(std::move(t));
    return Status::Ok();
  }

  // Resolves relative offsets to absolute ones and checks alignment, bounds and overlaps.
  Status PlaceTensors() {
    const uint64_t align = f_.alignment_;
    const uint64_t data_start = (pos_ + align - 1) / align * align;  // pos_ < 2^63: no overflow
    for (size_t i = 0; i < f_.tensors_.size(); ++i) {
      TensorInfo& t = f_.tensors_[i];
      const uint64_t rel = t.offset;
      if (rel % align != 0) {
        return Error(offsets_at_[i], Invalid,
                     "tensor '" + t.name + "' offset " + std::to_string(rel) +
                         " is not a multiple of " + "the alignment " + std::to_string(align));
      }
      if (data_start > f_.size_ || rel > f_.size_ - data_start ||
          t.nbytes > f_.size_ - data_start - rel) {
        return Error(offsets_at_[i], OutOfRange,
                     "tensor '" + t.name + "' data [" + std::to_string(rel) + ", +" +
                         std::to_string(t.nbytes) + ") after data start " +
                         std::to_string(data_start) + " runs past the end of the file (" +
                         std::to_string(f_.size_) + " bytes)");
      }
      t.offset = data_start + rel;
      t.data = f_.data_ + t.offset;
    }
    std::vector<size_t> order(f_.tensors_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return f_.tensors_[a].offset < f_.tensors_[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
      const TensorInfo& prev = f_.tensors_[order[k - 1]];
      const TensorInfo& cur = f_.tensors_[order[k]];
      if (prev.offset + prev.nbytes > cur.offset) {
        return Error(offsets_at_[order[k]], Invalid,
                     "tensor '" + cur.name + "' data at byte " + std::to_string(cur.offset) +
                         " overlaps tensor '" + prev.name + "' [" + std::to_string(prev.offset) +
                         ", " + std::to_string(prev.offset + prev.nbytes) + ")");
      }
    }
    return Status::Ok();
  }

  GgufFile& f_;
  uint64_t pos_ = 0;
  uint64_t num_values_ = 0;
  uint64_t alignment_at_ = 0;  // where general.alignment's type field sits, for errors
  std::vector<uint64_t> offsets_at_;  // where each tensor's offset field sits, for errors
};

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->data_ = mapped->data();
  f->size_ = mapped->size();
  f->mapping_ = std::move(mapped);
  HEARTH_RETURN_IF_ERROR(GgufParser(*f).Parse());
  return f;
}

Result<std::unique_ptr<GgufFile>> GgufFile::FromBuffer(const uint8_t* data, size_t size,
                                                       std::string name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = std::move(name);
  f->data_ = data;
  f->size_ = data == nullptr ? 0 : size;
  HEARTH_RETURN_IF_ERROR(GgufParser(*f).Parse());
  return f;
}

GgufFile::~GgufFile() = default;

const Value* GgufFile::Find(std::string_view key) const {
  auto it = metadata_index_.find(std::string(key));
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace hearth::gguf
