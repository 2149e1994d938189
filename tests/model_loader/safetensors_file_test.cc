// safetensors reader: the stories260K checkpoint, sharded directories, and corrupt headers
// (run under ASAN).
#include "model_loader/safetensors/safetensors_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/model_loader/gguf_builder.h"
#include "tests/support/test_support.h"

namespace hearth::safetensors {
namespace {

using hearth::testing::ReadFileBytes;
using hearth::testing::TestDataPath;

// A file with the given JSON header and `data_bytes` bytes of data.
std::vector<uint8_t> Make(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> b(8 + header.size() + data_bytes);
  const uint64_t n = header.size();
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, header.data(), header.size());
  for (size_t i = 0; i < data_bytes; ++i) b[8 + header.size() + i] = static_cast<uint8_t>(i);
  return b;
}

Result<std::unique_ptr<SafetensorsFile>> Parse(const std::vector<uint8_t>& b) {
  return SafetensorsFile::FromBuffer(b.data(), b.size(), "test.safetensors");
}

const char* kGood = R"({"__metadata__":{"format":"pt"},)"
                    R"("b":{"dtype":"F16","shape":[2,3],"data_offsets":[16,28]},)"
                    R"("a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                    R"("c":{"dtype":"BF16","shape":[],"data_offsets":[28,30]}})";

TEST(Safetensors, ParsesHeader) {
  const auto bytes = Make(kGood, 30);  // must outlive the parsed file's views
  auto f = Parse(bytes);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ((*f)->tensors().size(), 3u);
  EXPECT_EQ((*f)->tensors()[0].name, "a");  // offset order
  const TensorInfo* b = (*f)->FindTensor("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::kF16);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->nbytes, 12u);
  EXPECT_EQ(b->offset, 8 + std::string(kGood).size() + 16);
  EXPECT_EQ(b->data[0], 16);
  EXPECT_EQ((*f)->FindTensor("c")->shape.size(), 0u);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
}

void ExpectRejected(const std::string& header, size_t data_bytes, const std::string& needle,
                    StatusCode code = StatusCode::kInvalidArgument) {
  auto f = Parse(Make(header, data_bytes));
  ASSERT_FALSE(f.ok()) << header;
  EXPECT_EQ(f.status().code(), code) << f.status().ToString();
  EXPECT_NE(f.status().message().find(needle), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find("test.safetensors"), std::string::npos);
}

TEST(Safetensors, RejectsBadHeaders) {
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]})", 16, "not valid JSON");
  ExpectRejected(R"([1,2])", 0, "not a JSON object");
  ExpectRejected(R"({"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", 16,
                 "unsupported dtype I64", StatusCode::kUnimplemented);
  ExpectRejected(R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 2,
                 "unsupported dtype F8_E4M3", StatusCode::kUnimplemented);
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}})", 16, "span 16");
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 15, "run past",
                 StatusCode::kOutOfRange);
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[16,0]}})", 16, "begin <= end");
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", 16, "shape");
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[4.5],"data_offsets":[0,16]}})", 16, "shape");
  ExpectRejected(
      R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}})",
      16, "shape");
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,18446744073709551615]}})", 16,
                 "run past", StatusCode::kOutOfRange);
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", 16, "data_offsets");
  ExpectRejected(R"({"a":{"shape":[4],"data_offsets":[0,16]}})", 16, "dtype");
  ExpectRejected(R"({"a":[1]})", 16, "not an object");
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                 16, "overlaps");
  ExpectRejected(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                 R"("a":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}})",
                 32, "duplicate tensor name 'a'");
  ExpectRejected(R"({"__metadata__":{"x":1}})", 0, "__metadata__");
}

// A header (or an index) nested a million levels deep is an error, not a stack overflow
// (kernels/core/json_depth.h).
TEST(Safetensors, DeepHeaderIsAnErrorNotAStackOverflow) {
  const std::string nest = std::string(1000000, '[') + std::string(1000000, ']');
  ExpectRejected(R"({"a":)" + nest + "}", 0, "the header nests JSON deeper than 64 levels");
  ExpectRejected(R"({"__metadata__":)" + nest + "}", 0, "nests JSON deeper");
  auto index = SafetensorsSet::ParseIndex(R"({"weight_map":)" + nest + "}", "index.json");
  ASSERT_FALSE(index.ok());
  EXPECT_NE(index.status().message().find("index.json: nests JSON deeper"), std::string::npos)
      << index.status().message();
}

TEST(Safetensors, RejectsBadHeaderLengths) {
  std::vector<uint8_t> b = Make(kGood, 30);
  uint64_t huge = ~uint64_t{0};
  std::memcpy(b.data(), &huge, 8);
  EXPECT_EQ(Parse(b).status().code(), StatusCode::kDataLoss);
  EXPECT_FALSE(Parse(std::vector<uint8_t>(5, 0)).ok());
  EXPECT_FALSE(Parse(std::vector<uint8_t>(8, 0)).ok());  // header length 0
  EXPECT_FALSE(SafetensorsFile::FromBuffer(nullptr, 0, "x").ok());
}

TEST(Safetensors, TruncatedAndFlippedNeverCrash) {
  const auto full = Make(kGood, 30);
  for (size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(Parse(std::vector<uint8_t>(full.begin(), full.begin() + n)).ok()) << n;
  }
  for (size_t i = 0; i < full.size(); ++i) {
    for (uint8_t mask : {0x01, 0x20, 0xFF}) {
      auto b = full;
      b[i] ^= mask;
      (void)Parse(b);
    }
  }
}

TEST(Safetensors, Stories260KCheckpoint) {
  auto set = SafetensorsSet::Open(TestDataPath("stories260K/hf"));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ((*set)->shards().size(), 1u);
  EXPECT_EQ((*set)->shards()[0]->tensors().size(), 47u);
  for (const TensorInfo& t : (*set)->shards()[0]->tensors())
    EXPECT_EQ(t.dtype, DType::kF32) << t.name;
  const TensorInfo* emb = (*set)->FindTensor("model.embed_tokens.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->shape, (std::vector<int64_t>{512, 64}));
  const auto full = ReadFileBytes(TestDataPath("stories260K/hf/model.safetensors"));
  uint64_t header_len = 0;
  std::memcpy(&header_len, full.data(), 8);
  for (uint64_t n = 0; n < 8 + header_len + 64; n += 11) {
    EXPECT_FALSE(Parse(std::vector<uint8_t>(full.begin(), full.begin() + n)).ok()) << n;
  }
}

void WriteText(const std::filesystem::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}
void WriteBytes(const std::filesystem::path& p, const std::vector<uint8_t>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}

TEST(Safetensors, ShardedDirectory) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / "sharded_model";
  fs::remove_all(dir);
  fs::create_directories(dir);
  WriteBytes(dir / "model-00001-of-00002.safetensors",
             Make(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8));
  WriteBytes(dir / "model-00002-of-00002.safetensors",
             Make(R"({"y":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}})", 6));
  WriteText(dir / "model.safetensors.index.json",
            R"({"metadata":{"total_size":14},"weight_map":{"x":"model-00001-of-00002.safetensors",)"
            R"("y":"model-00002-of-00002.safetensors"}})");
  auto set = SafetensorsSet::Open(dir.string());
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ((*set)->shards().size(), 2u);
  const SafetensorsFile* shard = nullptr;
  const TensorInfo* y = (*set)->FindTensor("y", &shard);
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(y->dtype, DType::kBF16);
  EXPECT_NE(shard->path().find("00002"), std::string::npos);

  // The index names a tensor its shard lacks.
  WriteText(
      dir / "model.safetensors.index.json",
      R"({"weight_map":{"x":"model-00002-of-00002.safetensors","y":"model-00002-of-00002.safetensors"}})");
  auto bad = SafetensorsSet::Open(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tensor 'x'"), std::string::npos);
  // Paths outside the directory are refused.
  WriteText(dir / "model.safetensors.index.json", R"({"weight_map":{"x":"../evil.safetensors"}})");
  EXPECT_FALSE(SafetensorsSet::Open(dir.string()).ok());
  WriteText(dir / "model.safetensors.index.json", R"({"weight_map":[]})");
  EXPECT_FALSE(SafetensorsSet::Open(dir.string()).ok());
  WriteText(dir / "model.safetensors.index.json", "{not json");
  EXPECT_FALSE(SafetensorsSet::Open(dir.string()).ok());
  WriteText(dir / "model.safetensors.index.json", R"({"weight_map":{"x":"missing.safetensors"}})");
  EXPECT_EQ(SafetensorsSet::Open(dir.string()).status().code(), StatusCode::kNotFound);
  fs::remove_all(dir);
  EXPECT_FALSE(SafetensorsSet::Open(dir.string()).ok());
}

}  // namespace
}  // namespace hearth::safetensors
