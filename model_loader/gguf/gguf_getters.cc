// Typed access to GGUF metadata values.
#include <cmath>
#include <limits>

#include "model_loader/gguf/gguf_file.h"

namespace hearth::gguf {
namespace {

Status WrongType(const std::string& path, std::string_view key, const Value& v,
                 std::string_view wanted) {
  return InvalidArgumentError(path + ": metadata key '" + std::string(key) + "' is " +
                              std::string(ValueTypeName(v.type)) + ", expected " +
                              std::string(wanted));
}

// An integer or bool value as int64; nullopt for other types or uint64 above INT64_MAX.
std::optional<int64_t> AsInt(const Value& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.v)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* s = std::get_if<int64_t>(&v.v)) return *s;
  if (const auto* b = std::get_if<bool>(&v.v)) return *b ? 1 : 0;
  return std::nullopt;
}

std::optional<double> AsFloat(const Value& v) {
  if (const auto* d = std::get_if<double>(&v.v)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&v.v)) return static_cast<double>(*u);
  if (const auto* s = std::get_if<int64_t>(&v.v)) return static_cast<double>(*s);
  return std::nullopt;
}

}  // namespace

Result<int64_t> GgufFile::GetInt(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr)
    return NotFoundError(path_ + ": metadata key '" + std::string(key) + "' not found");
  const std::optional<int64_t> x = AsInt(*v);
  if (!x) return WrongType(path_, key, *v, "an integer that fits int64");
  return *x;
}

Result<double> GgufFile::GetFloat(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr)
    return NotFoundError(path_ + ": metadata key '" + std::string(key) + "' not found");
  if (v->type == ValueType::kBool) return WrongType(path_, key, *v, "a number");
  const std::optional<double> x = AsFloat(*v);
  if (!x) return WrongType(path_, key, *v, "a number");
  return *x;
}

Result<bool> GgufFile::GetBool(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr)
    return NotFoundError(path_ + ": metadata key '" + std::string(key) + "' not found");
  const auto* b = std::get_if<bool>(&v->v);
  if (b == nullptr) return WrongType(path_, key, *v, "bool");
  return *b;
}

Result<std::string> GgufFile::GetString(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr)
    return NotFoundError(path_ + ": metadata key '" + std::string(key) + "' not found");
  const auto* s = std::get_if<std::string>(&v->v);
  if (s == nullptr) return WrongType(path_, key, *v, "string");
  return *s;
}

Result<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr)
    return NotFoundError(path_ + ": metadata key '" + std::string(key) + "' not found");
  const auto* a = std::get_if<Array>(&v->v);
  if (a == nullptr || a->elem_type != ValueType::kString) {
    return WrongType(path_, key, *v, "array of string");
  }
  std::vector<std::string> out;
  out.reserve(a->items.size());
  for (const Value& item : a->items) out.push_back(std::get<std::string>(item.v));
  return out;
}

Result<std::vector<double>> GgufFile::GetFloatArray(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr)
    return NotFoundError(path_ + ": metadata key '" + std::string(key) + "' not found");
  const auto* a = std::get_if<Array>(&v->v);
  if (a == nullptr || a->elem_type == ValueType::kString || a->elem_type == ValueType::kArray ||
      a->elem_type == ValueType::kBool) {
    return WrongType(path_, key, *v, "array of numbers");
  }
  std::vector<double> out;
  out.reserve(a->items.size());
  for (const Value& item : a->items) out.push_back(*AsFloat(item));
  return out;
}

Result<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr)
    return NotFoundError(path_ + ": metadata key '" + std::string(key) + "' not found");
  const auto* a = std::get_if<Array>(&v->v);
  if (a == nullptr || a->elem_type == ValueType::kString || a->elem_type == ValueType::kArray ||
      a->elem_type == ValueType::kFloat32 || a->elem_type == ValueType::kFloat64) {
    return WrongType(path_, key, *v, "array of integers");
  }
  std::vector<int64_t> out;
  out.reserve(a->items.size());
  for (size_t i = 0; i < a->items.size(); ++i) {
    const std::optional<int64_t> x = AsInt(a->items[i]);
    if (!x) {
      return InvalidArgumentError(path_ + ": metadata key '" + std::string(key) + "' element " +
                                  std::to_string(i) + " does not fit int64");
    }
    out.push_back(*x);
  }
  return out;
}

}  // namespace hearth::gguf
