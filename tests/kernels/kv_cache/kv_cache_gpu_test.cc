// KV-cache write and block copy on the GPU against the CPU twins. Both are copies: written
// elements must equal the input exactly, and every element not written must keep its poison.
#include <cuda_runtime.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/kv_cache/block_copy.h"
#include "kernels/kv_cache/cache_write.h"
#include "kernels/kv_cache/kv_cache_cases.h"
#include "tests/support/device_buffer.h"

namespace hearth {
namespace {

using testing::DeviceBuffer;
using testing::RandomVector;
using testing::RoundTo;

class KvCacheGpuTest : public ::testing::TestWithParam<DType> {};

TEST_P(KvCacheGpuTest, WriteMatchesCpuTwinAndTouchesNothingElse) {
  HEARTH_REQUIRE_GPU();
  const DType dtype = GetParam();
  const size_t eb = GetDTypeInfo(dtype).block_bytes;
  for (const auto& c : kv_cache_cases::kTestCases) {
    for (bool fused_rows : {false, true}) {
      SCOPED_TRACE("kv_heads=" + std::to_string(c.num_kv_heads) + " head_dim=" +
                   std::to_string(c.head_dim) + " block_size=" + std::to_string(c.block_size) +
                   " tokens=" + std::to_string(c.num_tokens) + (fused_rows ? " fused rows" : ""));
      const int64_t row = int64_t{c.num_kv_heads} * c.head_dim;
      const int64_t stride = fused_rows ? 3 * row + 8 : row;  // K/V as columns of a wider row
      kv::PagedKvLayout layout{
          .num_blocks = (c.num_tokens + c.block_size - 1) / c.block_size * 2 + 3,
          .num_kv_heads = c.num_kv_heads,
          .block_size = c.block_size,
          .head_dim = c.head_dim};
      std::vector<int64_t> slots(layout.num_blocks * c.block_size);
      std::iota(slots.begin(), slots.end(), 0);
      std::shuffle(slots.begin(), slots.end(), std::mt19937(c.num_tokens));
      slots.resize(c.num_tokens);
      for (int64_t t = 0; t < c.num_tokens; t += 5) slots[t] = -1;  // padding
      const auto k = RoundTo(dtype, RandomVector(c.num_tokens * stride, 1));
      const auto v = RoundTo(dtype, RandomVector(c.num_tokens * stride, 2));
      std::vector<float> kc(layout.elems_per_layer(), NAN), vc(layout.elems_per_layer(), NAN);
      ASSERT_TRUE(WriteKvCacheCpu(k.data(), stride, v.data(), stride, slots.data(), c.num_tokens,
                                  layout, kc.data(), vc.data())
                      .ok());
      DeviceBuffer dk = DeviceBuffer::FromFloats(dtype, k), dv = DeviceBuffer::FromFloats(dtype, v);
      DeviceBuffer ds = DeviceBuffer::FromVector(slots);
      DeviceBuffer dkc(kc.size() * eb), dvc(vc.size() * eb);
      dkc.Poison();
      dvc.Poison();
      const Status s = WriteKvCache(dtype, dk.get(), stride, dv.get(), stride, ds.as<int64_t>(),
                                    c.num_tokens, layout, dkc.get(), dvc.get(), nullptr);
      ASSERT_TRUE(s.ok()) << s.ToString();
      for (int which = 0; which < 2; ++which) {
        const std::vector<float>& ref = which == 0 ? kc : vc;
        const std::vector<uint8_t> bytes = (which == 0 ? dkc : dvc).Bytes();
        const std::vector<float> got = testing::Decode(dtype, bytes);
        for (size_t i = 0; i < ref.size(); ++i) {
          if (std::isnan(ref[i])) {  // not written: poison intact
            bool poisoned = true;
            for (size_t b = 0; b < eb; ++b) poisoned &= bytes[i * eb + b] == testing::kPoisonByte;
            ASSERT_TRUE(poisoned) << (which ? "V" : "K") << " element " << i
                                  << " was written but no slot maps to it";
          } else {
            ASSERT_EQ(got[i], ref[i]) << (which ? "V" : "K") << " cache element " << i;
          }
        }
      }
    }
  }
}

TEST_P(KvCacheGpuTest, BlockCopyMatchesCpuTwin) {
  HEARTH_REQUIRE_GPU();
  const DType dtype = GetParam();
  const size_t eb = GetDTypeInfo(dtype).block_bytes;
  for (const auto& c : kv_cache_cases::kTestCases) {
    SCOPED_TRACE("kv_heads=" + std::to_string(c.num_kv_heads) + " head_dim=" +
                 std::to_string(c.head_dim) + " block_size=" + std::to_string(c.block_size));
    const int layers = 3;
    const kv::PagedKvLayout layout{.num_blocks = 12,
                                   .num_kv_heads = c.num_kv_heads,
                                   .block_size = c.block_size,
                                   .head_dim = c.head_dim};
    const std::vector<int32_t> pairs = {0, 5, 3, 1, 7, 11, 2, 9};
    std::vector<std::vector<float>> host(2 * layers);
    std::vector<DeviceBuffer> dev;
    std::vector<void*> ptrs;
    for (int i = 0; i < 2 * layers; ++i) {
      host[i] = RoundTo(dtype, RandomVector(layout.elems_per_layer(), 100 + i));
      dev.push_back(DeviceBuffer::FromFloats(dtype, host[i]));
      ptrs.push_back(dev.back().get());
    }
    std::vector<float*> kp, vp;
    for (int l = 0; l < layers; ++l)
      kp.push_back(host[2 * l].data()), vp.push_back(host[2 * l + 1].data());
    ASSERT_TRUE(CopyKvBlocksCpu(kp.data(), vp.data(), layers, pairs.data(), 4, layout).ok());
    DeviceBuffer dptrs = DeviceBuffer::FromVector(ptrs);
    DeviceBuffer dpairs = DeviceBuffer::FromVector(pairs);
    const Status s =
        CopyKvBlocks(dtype, dptrs.as<void*>(), layers, dpairs.as<int32_t>(), 4, layout, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (int i = 0; i < 2 * layers; ++i) {
      const auto got = dev[i].Floats(dtype);
      for (size_t j = 0; j < got.size(); ++j)
        ASSERT_EQ(got[j], host[i][j])
            << "cache " << i << " element " << j << " (" << eb << "-byte elements)";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, KvCacheGpuTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(DTypeName(info.param)); });

}  // namespace
}  // namespace hearth
