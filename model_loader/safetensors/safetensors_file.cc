#include "model_loader/safetensors/safetensors_file.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "kernels/core/json_depth.h"
#include "model_loader/mapped_file.h"
#include "model_loader/read_file.h"

namespace hearth::safetensors {
namespace {

using nlohmann::json;

// The reference implementation's limit on the JSON header.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
constexpr size_t kMaxDims = 8;

std::optional<DType> DTypeFromSafetensors(std::string_view s) {
  if (s == "F32") return DType::kF32;
  if (s == "F16") return DType::kF16;
  if (s == "BF16") return DType::kBF16;
  return std::nullopt;
}

// A JSON number that is a non-negative integer, as uint64.
std::optional<uint64_t> AsIndex(const json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if (v >= 0) return static_cast<uint64_t>(v);
  }
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->data_ = mapped->data();
  f->size_ = mapped->size();
  f->mapping_ = std::move(mapped);
  HEARTH_RETURN_IF_ERROR(f->Parse());
  return f;
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBuffer(const uint8_t* data,
                                                                     size_t size,
                                                                     std::string name) {
  std::unique_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = std::move(name);
  f->data_ = data;
  f->size_ = data == nullptr ? 0 : size;
  HEARTH_RETURN_IF_ERROR(f->Parse());
  return f;
}

SafetensorsFile::~SafetensorsFile() = default;

Status SafetensorsFile::Parse() {
  auto err = [this](uint64_t at, const std::string& what) {
    return InvalidArgumentError(path_ + ": byte " + std::to_string(at) + ": " + what);
  };
  if (size_ < 8) {
    return DataLossError(path_ + ": byte 0: file is " + std::to_string(size_) +
                         " bytes, too short for the safetensors header length");
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, data_, 8);
  if (header_len > size_ - 8) {
    return DataLossError(path_ + ": byte 0: header length " + std::to_string(header_len) +
                         " exceeds the " + std::to_string(size_ - 8) + " bytes after it");
  }
  if (header_len > kMaxHeaderBytes || header_len < 2) {
    return err(0, "header length " + std::to_string(header_len) + " is not in [2, 100 MiB]");
  }
  const char* text = reinterpret_cast<const char*>(data_ + 8);
  // nlohmann keeps the last of duplicate keys silently; a duplicate tensor name is an error.
  std::string duplicate;
  std::unordered_map<std::string, int> seen;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed.is_string()) {
      if (++seen[parsed.get<std::string>()] == 2 && duplicate.empty()) {
        duplicate = parsed.get<std::string>();
      }
    }
    return true;
  };
  if (JsonDepth(std::string_view(text, header_len)) > kMaxJsonDepth)
    return err(8, "the header nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  json header = json::parse(text, text + header_len, on_event, /*allow_exceptions=*/false);
  if (header.is_discarded()) return err(8, "the header is not valid JSON");
  if (!duplicate.empty()) return err(8, "duplicate tensor name '" + duplicate + "'");
  if (!header.is_object()) return err(8, "the header is not a JSON object");
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = size_ - data_start;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return err(8, "__metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string())
          return err(8, "__metadata__['" + m.key() + "'] is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (!entry.is_object()) return err(8, where + "entry is not an object");
    auto dt = entry.find("dtype");
    auto sh = entry.find("shape");
    auto off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string()) return err(8, where + "missing string 'dtype'");
    if (sh == entry.end() || !sh->is_array()) return err(8, where + "missing array 'shape'");
    if (off == entry.end() || !off->is_array() || off->size() != 2) {
      return err(8, where + "'data_offsets' must be [begin, end]");
    }
    TensorInfo t;
    t.name = name;
    const std::string dtype_name = dt->get<std::string>();
    const std::optional<DType> dtype = DTypeFromSafetensors(dtype_name);
    if (!dtype) {
      return UnimplementedError(path_ + ": " + where + "unsupported dtype " + dtype_name +
                                " (supported: F32, F16, BF16)");
    }
    t.dtype = *dtype;
    if (sh->size() > kMaxDims) return err(8, where + "more than 8 dimensions");
    int64_t num_elems = 1;
    for (const json& d : *sh) {
      const std::optional<uint64_t> dim = AsIndex(d);
      if (!dim || *dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (*dim != 0 &&
           num_elems > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(*dim))) {
        return err(8,
                   where + "shape entries must be non-negative integers whose product fits int64");
      }
      t.shape.push_back(static_cast<int64_t>(*dim));
      num_elems *= static_cast<int64_t>(*dim);
    }
    const std::optional<uint64_t> begin = AsIndex((*off)[0]);
    const std::optional<uint64_t> end = AsIndex((*off)[1]);
    if (!begin || !end || *begin > *end) {
      return err(8, where + "data_offsets must be non-negative integers with begin <= end");
    }
    if (*end > data_size) {
      return OutOfRangeError(path_ + ": " + where + "data_offsets [" + std::to_string(*begin) +
                             ", " + std::to_string(*end) + ") run past the " +
                             std::to_string(data_size) + " data bytes (file offset " +
                             std::to_string(data_start) + " + end > file size " +
                             std::to_string(size_) + ")");
    }
    const std::optional<int64_t> want = DTypeBytes(t.dtype, num_elems);
    if (!want || static_cast<uint64_t>(*want) != *end - *begin) {
      return err(8, where + "shape x " + dtype_name + " size is " +
                        (want ? std::to_string(*want) : std::string("overflowing")) +
                        " bytes but data_offsets span " + std::to_string(*end - *begin));
    }
    t.offset = data_start + *begin;
    t.nbytes = *end - *begin;
    t.data = data_ + t.offset;
    tensors_.push_back(std::move(t));
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.offset < b.offset; });
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (i > 0) {
      const TensorInfo& prev = tensors_[i - 1];
      if (prev.offset + prev.nbytes > tensors_[i].offset) {
        return err(tensors_[i].offset,
                   "tensor '" + tensors_[i].name + "' overlaps tensor '" + prev.name + "'");
      }
    }
    index_.emplace(tensors_[i].name, i);
  }
  return Status::Ok();
}

const TensorInfo* SafetensorsFile::FindTensor(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::map<std::string, std::string>> SafetensorsSet::ParseIndex(std::string_view text,
                                                                      const std::string& name) {
  HEARTH_RETURN_IF_ERROR(CheckJsonDepth(text, name));
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError(name + ": not a JSON object");
  }
  auto wm = j.find("weight_map");
  if (wm == j.end() || !wm->is_object()) {
    return InvalidArgumentError(name + ": missing object 'weight_map'");
  }
  std::map<std::string, std::string> out;
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    if (!it.value().is_string()) {
      return InvalidArgumentError(name + ": weight_map['" + it.key() + "'] is not a string");
    }
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
        shard.find('\\') != std::string::npos) {
      return InvalidArgumentError(name + ": weight_map['" + it.key() + "'] = '" + shard +
                                  "' is not a plain file name in the model directory");
    }
    out[it.key()] = shard;
  }
  return out;
}

Result<std::unique_ptr<SafetensorsSet>> SafetensorsSet::Open(const std::string& dir) {
  namespace fs = std::filesystem;
  auto set = std::make_unique<SafetensorsSet>();
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    HEARTH_ASSIGN_OR_RETURN(const std::string index, ReadFile(index_path.string()));
    HEARTH_ASSIGN_OR_RETURN(auto weight_map, ParseIndex(index, index_path.string()));
    std::map<std::string, size_t> shard_ids;
    for (const auto& [tensor, shard] : weight_map) {
      if (shard_ids.count(shard) == 0) {
        HEARTH_ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open((fs::path(dir) / shard).string()));
        shard_ids[shard] = set->shards_.size();
        set->shards_.push_back(std::move(f));
      }
      const size_t id = shard_ids[shard];
      const TensorInfo* t = set->shards_[id]->FindTensor(tensor);
      if (t == nullptr) {
        return NotFoundError(index_path.string() + ": tensor '" + tensor + "' is mapped to " +
                             shard + ", which does not contain it");
      }
      set->index_[tensor] = {id, t};
    }
    // Tensors a shard holds but the index does not name are a sign of a mismatched index.
    for (const auto& shard : set->shards_) {
      for (const TensorInfo& t : shard->tensors()) {
        if (set->index_.count(t.name) == 0) {
          return InvalidArgumentError(shard->path() + ": tensor '" + t.name +
                                      "' is not listed in " + index_path.string());
        }
      }
    }
    if (set->shards_.empty())
      return InvalidArgumentError(index_path.string() + ": empty weight_map");
    return set;
  }
  const fs::path single = fs::path(dir) / "model.safetensors";
  if (!fs::exists(single, ec)) {
    return NotFoundError(dir +
                         ": neither model.safetensors.index.json nor model.safetensors found");
  }
  HEARTH_ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open(single.string()));
  set->shards_.push_back(std::move(f));
  for (const TensorInfo& t : set->shards_[0]->tensors()) set->index_[t.name] = {0, &t};
  return set;
}

const TensorInfo* SafetensorsSet::FindTensor(std::string_view name,
                                             const SafetensorsFile** shard) const {
  auto it = index_.find(std::string(name));
  if (it == index_.end()) return nullptr;
  if (shard != nullptr) *shard = shards_[it->second.first].get();
  return it->second.second;
}

uint64_t SafetensorsSet::total_file_bytes() const {
  uint64_t n = 0;
  for (const auto& s : shards_) n += s->file_size();
  return n;
}

}  // namespace hearth::safetensors
