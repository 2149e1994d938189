#include <cmath>
#include <vector>

#include "kernels/kv_cache/block_copy.h"
#include "kernels/kv_cache/cache_write.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

// Index of (block, head, offset, dim) written out from the layout comment in paged_kv.h,
// independently of PagedKvLayout's helpers.
int64_t Idx(int64_t b, int h, int off, int d, int H, int bs, int D) {
  return ((b * H + h) * bs + off) * int64_t{D} + d;
}

TEST(WriteKvCacheCpu, WritesSlotsAndSkipsPadding) {
  const int H = 2, D = 4, bs = 4;
  const kv::PagedKvLayout layout{
      .num_blocks = 3, .num_kv_heads = H, .block_size = bs, .head_dim = D};
  const int64_t tokens = 4, stride = 3 * H * D;  // K/V inside a wider fused row
  const auto k = testing::RandomVector(tokens * stride, 1);
  const auto v = testing::RandomVector(tokens * stride, 2);
  const std::vector<int64_t> slots = {9, -1, 0, 11};
  std::vector<float> kc(layout.elems_per_layer(), NAN), vc(layout.elems_per_layer(), NAN);
  ASSERT_TRUE(WriteKvCacheCpu(k.data(), stride, v.data(), stride, slots.data(), tokens, layout,
                              kc.data(), vc.data())
                  .ok());
  int written = 0;
  for (int64_t t = 0; t < tokens; ++t) {
    if (slots[t] < 0) continue;
    for (int h = 0; h < H; ++h)
      for (int d = 0; d < D; ++d) {
        const int64_t i = Idx(slots[t] / bs, h, slots[t] % bs, d, H, bs, D);
        EXPECT_EQ(kc[i], k[t * stride + h * D + d]);
        EXPECT_EQ(vc[i], v[t * stride + h * D + d]);
        ++written;
      }
  }
  int finite = 0;
  for (float x : kc) finite += std::isfinite(x);
  EXPECT_EQ(finite, written);  // nothing else touched
}

TEST(WriteKvCacheCpu, RejectsSlotsPastTheCacheAndBadStrides) {
  const kv::PagedKvLayout layout{
      .num_blocks = 1, .num_kv_heads = 1, .block_size = 4, .head_dim = 2};
  std::vector<float> k(2), kc(8), vc(8);
  const int64_t slot[] = {4};
  EXPECT_EQ(WriteKvCacheCpu(k.data(), 2, k.data(), 2, slot, 1, layout, kc.data(), vc.data()).code(),
            StatusCode::kOutOfRange);
  const int64_t ok[] = {3};
  EXPECT_EQ(WriteKvCacheCpu(k.data(), 1, k.data(), 2, ok, 1, layout, kc.data(), vc.data()).code(),
            StatusCode::kInvalidArgument);
}

TEST(CopyKvBlocksCpu, CopiesEveryLayerKAndV) {
  const kv::PagedKvLayout layout{
      .num_blocks = 4, .num_kv_heads = 2, .block_size = 2, .head_dim = 3};
  const int layers = 2;
  std::vector<std::vector<float>> k(layers), v(layers);
  std::vector<float*> kp, vp;
  for (int l = 0; l < layers; ++l) {
    k[l] = testing::RandomVector(layout.elems_per_layer(), 10 + l);
    v[l] = testing::RandomVector(layout.elems_per_layer(), 20 + l);
    kp.push_back(k[l].data());
    vp.push_back(v[l].data());
  }
  const auto k0 = k, v0 = v;
  const int32_t pairs[] = {0, 3, 2, 1};
  ASSERT_TRUE(CopyKvBlocksCpu(kp.data(), vp.data(), layers, pairs, 2, layout).ok());
  const int64_t n = layout.block_stride();
  for (int l = 0; l < layers; ++l)
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(k[l][3 * n + i], k0[l][0 * n + i]);
      EXPECT_EQ(v[l][1 * n + i], v0[l][2 * n + i]);
      EXPECT_EQ(k[l][0 * n + i], k0[l][0 * n + i]);  // sources untouched
      EXPECT_EQ(v[l][2 * n + i], v0[l][2 * n + i]);
    }
  const int32_t bad[] = {0, 4};
  EXPECT_EQ(CopyKvBlocksCpu(kp.data(), vp.data(), layers, bad, 1, layout).code(),
            StatusCode::kOutOfRange);
}

TEST(KvPaths, VectorWhenHeadDimAndStridesAllow) {
  alignas(16) static char buf[64];
  EXPECT_EQ(ChooseKvWritePath(DType::kBF16, 128, 1024, 1024, buf, buf, buf, buf),
            AccessPath::kVector16);
  EXPECT_EQ(ChooseKvWritePath(DType::kBF16, 76, 76, 76, buf, buf, buf, buf), AccessPath::kScalar);
  EXPECT_EQ(ChooseKvWritePath(DType::kBF16, 128, 1028, 1024, buf, buf, buf, buf),
            AccessPath::kScalar);
  EXPECT_TRUE(KvBlockCopyVectorizable(
      DType::kBF16, {.num_blocks = 1, .num_kv_heads = 8, .block_size = 16, .head_dim = 128}));
  EXPECT_FALSE(KvBlockCopyVectorizable(
      DType::kBF16, {.num_blocks = 1, .num_kv_heads = 1, .block_size = 1, .head_dim = 76}));
}

}  // namespace
}  // namespace hearth
