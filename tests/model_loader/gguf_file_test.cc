// GGUF reader: hand-built v2/v3 files with every metadata type, and corrupt files of every
// kind, which must be rejected with a Status naming the file and byte offset (run under ASAN).
#include "model_loader/gguf/gguf_file.h"

#include <gtest/gtest.h>

#include "tests/model_loader/gguf_builder.h"
#include "tests/support/test_support.h"

namespace hearth::gguf {
namespace {

using hearth::testing::Bytes;
using hearth::testing::GgufBuilder;
using namespace hearth::testing;  // NOLINT: GgufType ids

Result<std::unique_ptr<GgufFile>> Parse(const std::vector<uint8_t>& b) {
  return GgufFile::FromBuffer(b.data(), b.size(), "test.gguf");
}

// One key of each scalar type, a string, arrays of each kind and a 3-deep array of arrays.
GgufBuilder EveryType(uint32_t version) {
  GgufBuilder g;
  g.version = version;
  g.Kv("u8", kGU8, Bytes().Put<uint8_t>(200))
      .Kv("i8", kGI8, Bytes().Put<int8_t>(-100))
      .Kv("u16", kGU16, Bytes().Put<uint16_t>(60000))
      .Kv("i16", kGI16, Bytes().Put<int16_t>(-30000))
      .Kv("u32", kGU32, Bytes().Put<uint32_t>(4000000000u))
      .Kv("i32", kGI32, Bytes().Put<int32_t>(-2000000000))
      .Kv("f32", kGF32, Bytes().Put<float>(0.5f))
      .Kv("bool", kGBool, Bytes().Put<uint8_t>(1))
      .Kv("str", kGStr, Bytes().Str("héllo"))
      .Kv("u64", kGU64, Bytes().Put<uint64_t>(~uint64_t{0}))
      .Kv("i64", kGI64, Bytes().Put<int64_t>(-(int64_t{1} << 40)))
      .Kv("f64", kGF64, Bytes().Put<double>(-2.25))
      .Kv("arr_str", kGArr,
          Bytes().Put<uint32_t>(kGStr).Put<uint64_t>(3).Str("a").Str("").Str("ccc"))
      .Kv("arr_f32", kGArr, Bytes().Put<uint32_t>(kGF32).Put<uint64_t>(2).Put(1.5f).Put(-3.f))
      .Kv("arr_i16", kGArr,
          Bytes().Put<uint32_t>(kGI16).Put<uint64_t>(2).Put<int16_t>(-1).Put<int16_t>(7))
      .Kv("arr_empty", kGArr, Bytes().Put<uint32_t>(kGU64).Put<uint64_t>(0));
  // [[[1, 2], []], [[3]]] as arrays of arrays of arrays of uint8.
  Bytes inner12 = Bytes().Put<uint32_t>(kGU8).Put<uint64_t>(2).Put<uint8_t>(1).Put<uint8_t>(2);
  Bytes inner_empty = Bytes().Put<uint32_t>(kGU8).Put<uint64_t>(0);
  Bytes inner3 = Bytes().Put<uint32_t>(kGU8).Put<uint64_t>(1).Put<uint8_t>(3);
  Bytes mid0 = Bytes().Put<uint32_t>(kGArr).Put<uint64_t>(2).Append(inner12).Append(inner_empty);
  Bytes mid1 = Bytes().Put<uint32_t>(kGArr).Put<uint64_t>(1).Append(inner3);
  g.Kv("nested", kGArr, Bytes().Put<uint32_t>(kGArr).Put<uint64_t>(2).Append(mid0).Append(mid1));
  g.Tensor("t.weight", {32, 2}, /*F32*/ 0, 256).Tensor("u.weight", {64}, /*F16*/ 1, 128);
  return g;
}

void CheckEveryType(const GgufFile& f) {
  EXPECT_EQ(f.metadata().size(), 17u);
  EXPECT_EQ(*f.GetInt("u8"), 200);
  EXPECT_EQ(*f.GetInt("i8"), -100);
  EXPECT_EQ(*f.GetInt("u16"), 60000);
  EXPECT_EQ(*f.GetInt("i16"), -30000);
  EXPECT_EQ(*f.GetInt("u32"), 4000000000LL);
  EXPECT_EQ(*f.GetInt("i32"), -2000000000);
  EXPECT_EQ(*f.GetFloat("f32"), 0.5);
  EXPECT_EQ(*f.GetBool("bool"), true);
  EXPECT_EQ(*f.GetString("str"), "héllo");
  EXPECT_EQ(std::get<uint64_t>(f.Find("u64")->v), ~uint64_t{0});
  EXPECT_FALSE(f.GetInt("u64").ok());  // does not fit int64
  EXPECT_EQ(*f.GetInt("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(*f.GetFloat("f64"), -2.25);
  EXPECT_EQ(*f.GetStringArray("arr_str"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(*f.GetFloatArray("arr_f32"), (std::vector<double>{1.5, -3.0}));
  EXPECT_EQ(*f.GetIntArray("arr_i16"), (std::vector<int64_t>{-1, 7}));
  EXPECT_TRUE(f.GetIntArray("arr_empty")->empty());
  const Value* nested = f.Find("nested");
  ASSERT_NE(nested, nullptr);
  const Array& outer = std::get<Array>(nested->v);
  ASSERT_EQ(outer.elem_type, ValueType::kArray);
  ASSERT_EQ(outer.items.size(), 2u);
  const Array& m0 = std::get<Array>(outer.items[0].v);
  ASSERT_EQ(m0.items.size(), 2u);
  const Array& i12 = std::get<Array>(m0.items[0].v);
  ASSERT_EQ(i12.items.size(), 2u);
  EXPECT_EQ(std::get<uint64_t>(i12.items[1].v), 2u);
  EXPECT_TRUE(std::get<Array>(m0.items[1].v).items.empty());
  const Array& i3 = std::get<Array>(std::get<Array>(outer.items[1].v).items[0].v);
  EXPECT_EQ(std::get<uint64_t>(i3.items[0].v), 3u);
  // Type mismatches and absent keys are errors, not crashes.
  EXPECT_EQ(f.GetString("u8").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.GetInt("missing").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(f.GetStringArray("nested").ok());
  EXPECT_FALSE(f.GetIntArray("arr_f32").ok());
  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorInfo* t = f.FindTensor("t.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(t->nbytes, 256u);
  EXPECT_EQ(t->offset % 32, 0u);
  EXPECT_EQ(t->data[0], 1);
  EXPECT_EQ(f.FindTensor("u.weight")->dtype, DType::kF16);
  EXPECT_EQ(f.FindTensor("u.weight")->offset, t->offset + 256);
}

TEST(GgufFile, V3EveryMetadataType) {
  auto b = EveryType(3).Build();
  auto f = Parse(b);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->version(), 3u);
  CheckEveryType(**f);
}

TEST(GgufFile, V2EveryMetadataType) {
  auto b = EveryType(2).Build();
  auto f = Parse(b);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->version(), 2u);
  CheckEveryType(**f);
}

TEST(GgufFile, OpenMapsFileAndNamesItInErrors) {
  auto b = EveryType(3).Build();
  const std::string path = WriteTempFile("every_type.gguf", b);
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  CheckEveryType(**f);
  EXPECT_EQ((*f)->file_size(), b.size());
  b[0] = 'X';
  const std::string bad = WriteTempFile("bad_magic.gguf", b);
  auto g = GgufFile::Open(bad);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find(bad + ": byte 0: bad magic"), std::string::npos)
      << g.status().message();
  EXPECT_EQ(GgufFile::Open(path + ".missing").status().code(), StatusCode::kNotFound);
}

TEST(GgufFile, RejectsV1AndUnknownVersions) {
  for (uint32_t v : {1u, 4u, 0xFFFFFFFFu}) {
    GgufBuilder g;
    g.version = v;
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(f.status().message().find("unsupported GGUF version " + std::to_string(v)),
              std::string::npos);
  }
}

TEST(GgufFile, TruncatedAtEveryOffsetIsAnError) {
  const auto full = EveryType(3).Build();
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);
    auto f = Parse(cut);
    EXPECT_FALSE(f.ok()) << "accepted a file truncated to " << n << " of " << full.size();
    if (!f.ok()) {
      EXPECT_NE(f.status().message().find("test.gguf: byte "), std::string::npos);
    }
  }
}

TEST(GgufFile, FlippedBytesNeverCrash) {
  const auto full = EveryType(3).Build();
  int rejected = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      auto b = full;
      b[i] ^= mask;
      rejected += !Parse(b).ok();
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(GgufFile, HostileCountsAreRejectedBeforeAllocating) {
  {
    GgufBuilder g;
    g.tensor_count_override = uint64_t{1} << 62;
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("tensor count"), std::string::npos);
  }
  {
    GgufBuilder g;
    g.kv_count_override = ~uint64_t{0};
    EXPECT_FALSE(Parse(g.Build()).ok());
  }
  {
    GgufBuilder g;
    g.Kv("s", kGStr, Bytes().Put<uint64_t>(uint64_t{1} << 60));
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("string length"), std::string::npos)
        << f.status().message();
  }
  {
    GgufBuilder g;
    g.Kv("a", kGArr, Bytes().Put<uint32_t>(kGU32).Put<uint64_t>(uint64_t{1} << 61));
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("array count"), std::string::npos) << f.status().message();
  }
  {
    GgufBuilder g;  // a tensor whose dimensions overflow the element count
    g.Tensor("t", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 0);
    EXPECT_EQ(Parse(g.Build()).status().code(), StatusCode::kOutOfRange);
  }
}

Bytes NestedArrays(int depth) {
  Bytes b;
  for (int d = 1; d < depth; ++d) b.Put<uint32_t>(kGArr).Put<uint64_t>(1);
  return b.Put<uint32_t>(kGU8).Put<uint64_t>(1).Put<uint8_t>(9);
}

TEST(GgufFile, NestingDepthIsCapped) {
  GgufBuilder ok;
  ok.Kv("deep", kGArr, NestedArrays(8));
  EXPECT_TRUE(Parse(ok.Build()).ok());
  GgufBuilder bad;
  bad.Kv("deep", kGArr, NestedArrays(9));
  auto f = Parse(bad.Build());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("nested deeper"), std::string::npos);
  GgufBuilder hostile;  // 100k levels: must not recurse that deep
  hostile.Kv("deep", kGArr, NestedArrays(100000));
  EXPECT_FALSE(Parse(hostile.Build()).ok());
}

TEST(GgufFile, Alignment) {
  for (uint32_t a : {0u, 3u, 4u, 12u, 48u, 1u << 31}) {
    GgufBuilder g;
    g.U32("general.alignment", a);
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok()) << "alignment " << a;
    // The value's type field: after the 24-byte header and the key (8 + 17 bytes).
    EXPECT_NE(f.status().message().find("test.gguf: byte 49: general.alignment"), std::string::npos)
        << f.status().message();
  }
  GgufBuilder wrong_type;
  wrong_type.Str("general.alignment", "64");
  EXPECT_FALSE(Parse(wrong_type.Build()).ok());
  GgufBuilder g;
  g.alignment = 64;
  g.U32("general.alignment", 64).Tensor("a", {8}, 0, 32).Tensor("b", {8}, 0, 32);
  auto f = Parse(g.Build());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->FindTensor("a")->offset % 64, 0u);
  EXPECT_EQ((*f)->FindTensor("b")->offset - (*f)->FindTensor("a")->offset, 64u);
}

TEST(GgufFile, TensorPlacementErrors) {
  {
    GgufBuilder g;  // offset not a multiple of the alignment
    g.Tensor("a", {8}, 0, 32, /*offset=*/4);
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("not a multiple of the alignment"), std::string::npos);
  }
  {
    GgufBuilder g;  // data past the end
    g.Tensor("a", {8}, 0, 32);
    auto b = g.Build();
    b.resize(b.size() - 1);
    auto f = Parse(b);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), StatusCode::kOutOfRange);
    EXPECT_NE(f.status().message().find("'a'"), std::string::npos);
  }
  {
    GgufBuilder g;  // huge offset: no overflow in the bounds check
    g.Tensor("a", {8}, 0, 0, ~uint64_t{0} - 31);
    EXPECT_EQ(Parse(g.Build()).status().code(), StatusCode::kOutOfRange);
  }
  {
    GgufBuilder g;  // overlapping spans
    g.Tensor("a", {16}, 0, 64, 0).Tensor("b", {8}, 0, 32, 32);
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("overlaps"), std::string::npos) << f.status().message();
  }
  {
    GgufBuilder g;  // duplicate names
    g.Tensor("a", {8}, 0, 32).Tensor("a", {8}, 0, 32);
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("duplicate tensor name 'a'"), std::string::npos);
  }
  {
    GgufBuilder g;  // zero and too many dimensions
    g.Tensor("a", {}, 0, 0);
    EXPECT_FALSE(Parse(g.Build()).ok());
    GgufBuilder h;
    h.Tensor("a", {1, 1, 1, 1, 1}, 0, 4);
    EXPECT_FALSE(Parse(h.Build()).ok());
  }
  {
    GgufBuilder g;  // quantized row length not a multiple of the block
    g.Tensor("a", {16, 2}, /*Q4_0*/ 2, 18);
    EXPECT_FALSE(Parse(g.Build()).ok());
  }
}

TEST(GgufFile, UnknownTensorTypesNameTensorAndOffset) {
  for (uint32_t type : {4u, 5u, 9u, 15u, 16u, 29u, 31u, 99u, 0xFFFFFFFFu}) {
    GgufBuilder g;
    g.Tensor("blk.0.attn_q.weight", {256}, type, 256);
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), StatusCode::kUnimplemented);
    const std::string& m = f.status().message();
    EXPECT_NE(m.find("unknown/unsupported tensor type " + std::to_string(type)), std::string::npos)
        << m;
    EXPECT_NE(m.find("blk.0.attn_q.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("test.gguf: byte "), std::string::npos) << m;
  }
}

TEST(GgufFile, EveryTensorTypeHasItsBlockSize) {
  struct Case {
    uint32_t ggml_type;
    DType dtype;
    int block_elems, block_bytes;  // from ggml.c's type traits
  };
  const Case cases[] = {
      {0, DType::kF32, 1, 4},       {1, DType::kF16, 1, 2},       {30, DType::kBF16, 1, 2},
      {8, DType::kQ8_0, 32, 34},    {2, DType::kQ4_0, 32, 18},    {3, DType::kQ4_1, 32, 20},
      {6, DType::kQ5_0, 32, 22},    {7, DType::kQ5_1, 32, 24},    {10, DType::kQ2_K, 256, 84},
      {11, DType::kQ3_K, 256, 110}, {12, DType::kQ4_K, 256, 144}, {13, DType::kQ5_K, 256, 176},
      {14, DType::kQ6_K, 256, 210},
  };
  GgufBuilder g;
  for (const Case& c : cases) {
    const uint64_t bytes = 512 / c.block_elems * c.block_bytes * 3;
    g.Tensor("t" + std::to_string(c.ggml_type), {512, 3}, c.ggml_type, bytes);
  }
  auto f = Parse(g.Build());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  for (const Case& c : cases) {
    const TensorInfo* t = (*f)->FindTensor("t" + std::to_string(c.ggml_type));
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, c.dtype);
    EXPECT_EQ(t->nbytes, 512u / c.block_elems * c.block_bytes * 3) << DTypeName(c.dtype);
    EXPECT_EQ(t->num_elements(), 1536);
  }
}

TEST(GgufFile, MetadataErrors) {
  {
    GgufBuilder g;
    g.U32("k", 1).U32("k", 2);
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("duplicate metadata key 'k'"), std::string::npos);
  }
  {
    GgufBuilder g;
    g.Kv("b", kGBool, Bytes().Put<uint8_t>(2));
    EXPECT_FALSE(Parse(g.Build()).ok());
  }
  {
    GgufBuilder g;
    g.Kv("x", 13, Bytes().Put<uint32_t>(0));
    auto f = Parse(g.Build());
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.status().message().find("unknown value type 13"), std::string::npos);
  }
  {
    GgufBuilder g;
    g.Kv("x", kGArr, Bytes().Put<uint32_t>(77).Put<uint64_t>(0));
    EXPECT_FALSE(Parse(g.Build()).ok());
  }
  EXPECT_FALSE(GgufFile::FromBuffer(nullptr, 0, "empty").ok());
}

// Real files: truncations throughout the header and into the data, and flipped header bytes.
TEST(GgufFile, RealFileCorruptions) {
  const auto full = ReadFileBytes(TestDataPath("stories260K/stories260K.gguf"));
  ASSERT_GT(full.size(), 1000000u) << "missing tests/data/stories260K/stories260K.gguf";
  auto ok = Parse(full);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  const uint64_t data_start = (*ok)->tensors().front().offset;
  for (uint64_t n = 0; n < data_start + 4096; n += (n < data_start ? 13 : 509)) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);
    EXPECT_FALSE(Parse(cut).ok()) << "accepted truncation at " << n;
  }
  for (uint64_t i = 0; i < data_start; i += 97) {
    auto b = std::vector<uint8_t>(full.begin(), full.begin() + data_start + 64);
    b[i] ^= 0xA5;
    (void)Parse(b);  // either outcome, never a crash (ASAN)
  }
}

}  // namespace
}  // namespace hearth::gguf
