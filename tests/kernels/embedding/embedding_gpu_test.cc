// Embedding lookup and sampled-row gather on the GPU against the CPU twins. Both are pure copies
// with one rounding, so the GPU output must equal the CPU output rounded to the output dtype.
#include <cuda_runtime.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/embedding/embedding.h"
#include "kernels/embedding/embedding_cases.h"
#include "tests/support/device_buffer.h"

namespace hearth {
namespace {

using testing::CloseRelL2;
using testing::DeviceBuffer;
using testing::RandomVector;
using testing::RoundTo;

std::vector<int32_t> RandomIds(int64_t n, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(n);
  for (auto& id : ids) id = static_cast<int32_t>(rng() % vocab);
  if (n > 1) ids[n - 1] = static_cast<int32_t>(vocab - 1);  // the last row of the table
  return ids;
}

class EmbeddingGpuTest : public ::testing::TestWithParam<std::tuple<DType, DType>> {};

TEST_P(EmbeddingGpuTest, MatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  const auto [table_dtype, out_dtype] = GetParam();
  for (const auto& c : embedding_cases::kTestCases) {
    SCOPED_TRACE("vocab=" + std::to_string(c.vocab) + " hidden=" + std::to_string(c.hidden) +
                 " rows=" + std::to_string(c.num_rows));
    const auto table = RoundTo(table_dtype, RandomVector(c.vocab * c.hidden, c.hidden, -3.f, 3.f));
    const auto ids = RandomIds(c.num_rows, c.vocab, c.num_rows);
    std::vector<float> ref(c.num_rows * c.hidden);
    const auto table_bytes = testing::Encode(table_dtype, table);
    ASSERT_TRUE(EmbeddingCpu(table_dtype, table_bytes.data(), c.vocab, c.hidden, ids.data(),
                             c.num_rows, ref.data())
                    .ok());
    DeviceBuffer dt = DeviceBuffer::FromFloats(table_dtype, table);
    DeviceBuffer di = DeviceBuffer::FromVector(ids);
    DeviceBuffer dout(ref.size() * GetDTypeInfo(out_dtype).block_bytes);
    dout.Poison();
    const Status s = Embedding(table_dtype, dt.get(), c.vocab, c.hidden, di.as<int32_t>(),
                               c.num_rows, out_dtype, dout.get(), nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(CloseRelL2(dout.Floats(out_dtype), RoundTo(out_dtype, ref), 0.0));
  }
}

TEST_P(EmbeddingGpuTest, OutOfRangeIdsGiveZeroRows) {
  HEARTH_REQUIRE_GPU();
  const auto [table_dtype, out_dtype] = GetParam();
  const int64_t vocab = 10;
  const int hidden = 64;
  const auto table = RoundTo(table_dtype, RandomVector(vocab * hidden, 3, 1.f, 2.f));
  const std::vector<int32_t> ids = {-1, 10, 2};
  DeviceBuffer dt = DeviceBuffer::FromFloats(table_dtype, table);
  DeviceBuffer di = DeviceBuffer::FromVector(ids);
  DeviceBuffer dout(3 * hidden * GetDTypeInfo(out_dtype).block_bytes);
  dout.Poison();
  ASSERT_TRUE(Embedding(table_dtype, dt.get(), vocab, hidden, di.as<int32_t>(), 3, out_dtype,
                        dout.get(), nullptr)
                  .ok());
  const auto out = dout.Floats(out_dtype);
  for (int i = 0; i < 2 * hidden; ++i) ASSERT_EQ(out[i], 0.f) << "element " << i;
  for (int i = 0; i < hidden; ++i)
    ASSERT_EQ(out[2 * hidden + i], RoundTo(out_dtype, {table[2 * hidden + i]})[0]) << i;
}

INSTANTIATE_TEST_SUITE_P(
    Dtypes, EmbeddingGpuTest,
    ::testing::Combine(::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                       ::testing::Values(DType::kF32, DType::kF16, DType::kBF16)),
    [](const auto& info) {
      return std::string(DTypeName(std::get<0>(info.param))) + "_to_" +
             std::string(DTypeName(std::get<1>(info.param)));
    });

class GatherRowsGpuTest : public ::testing::TestWithParam<DType> {};

TEST_P(GatherRowsGpuTest, MatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  const DType dtype = GetParam();
  for (const auto& c : embedding_cases::kTestCases) {
    SCOPED_TRACE("tokens=" + std::to_string(c.vocab) + " hidden=" + std::to_string(c.hidden));
    const auto x = RoundTo(dtype, RandomVector(c.vocab * c.hidden, 5));
    const auto idx = RandomIds(c.num_rows, c.vocab, 7);
    std::vector<float> ref(c.num_rows * c.hidden);
    ASSERT_TRUE(
        GatherRowsCpu(x.data(), c.vocab, c.hidden, idx.data(), c.num_rows, ref.data()).ok());
    DeviceBuffer dx = DeviceBuffer::FromFloats(dtype, x);
    DeviceBuffer di = DeviceBuffer::FromVector(idx);
    DeviceBuffer dout(ref.size() * GetDTypeInfo(dtype).block_bytes);
    dout.Poison();
    const Status s = GatherRows(dtype, dx.get(), c.vocab, c.hidden, di.as<int32_t>(), c.num_rows,
                                dout.get(), nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(CloseRelL2(dout.Floats(dtype), ref, 0.0));
  }
}

TEST_P(GatherRowsGpuTest, RejectsQuantizedDtype) {
  HEARTH_REQUIRE_GPU();
  EXPECT_EQ(GatherRows(DType::kQ8_0, reinterpret_cast<void*>(16), 4, 32,
                       reinterpret_cast<int32_t*>(16), 1, reinterpret_cast<void*>(16), nullptr)
                .code(),
            StatusCode::kUnimplemented);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GatherRowsGpuTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

}  // namespace
}  // namespace hearth
