// BlockManager in isolation: accounting, publication only after MarkComputed, token-checked hits,
// LRU eviction order.
#include "engine/block_manager.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace hearth::engine {
namespace {

std::vector<int32_t> Iota(int n, int32_t start = 100) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

class BlockManagerTest : public ::testing::Test {
 protected:
  static void Compute(BlockManager& bm, Sequence& seq, int n);
  static void Check(const BlockManager& bm, std::vector<const Sequence*> holders) {
    const Status s = bm.CheckInvariants(holders);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
};

void BlockManagerTest::Compute(BlockManager& bm, Sequence& seq, int n) {
  ASSERT_TRUE(bm.CanAllocate(seq, n));
  bm.Allocate(seq, n);
  bm.MarkComputed(seq, n);
}

TEST_F(BlockManagerTest, AllocateAndFreeAccounting) {
  BlockManager bm({.num_blocks = 8, .block_size = 4});
  Sequence a(0, Iota(10), {}, 0, 0);
  EXPECT_EQ(bm.MatchPrefix(a), 0);
  ASSERT_TRUE(bm.CanAllocate(a, 10));
  bm.Allocate(a, 10);
  EXPECT_EQ(a.block_table().size(), 3u);
  EXPECT_EQ(bm.stats().num_used_blocks, 3);
  EXPECT_EQ(bm.stats().num_free_blocks, 5);
  for (int pos = 0; pos < 10; ++pos) {
    EXPECT_EQ(bm.SlotOf(a, pos), int64_t{a.block_table()[pos / 4]} * 4 + pos % 4);
  }
  Check(bm, {&a});
  EXPECT_TRUE(bm.CanAllocate(a, 32));  // 8 blocks hold 32 tokens (none computed yet)
  EXPECT_FALSE(bm.CanAllocate(a, 33));
  EXPECT_EQ(bm.MaxAllocatableTokens(a, 100), 32);
  EXPECT_EQ(bm.MaxAllocatableTokens(a, 17), 17);
  bm.Free(a);
  EXPECT_TRUE(a.block_table().empty());
  EXPECT_EQ(bm.stats().num_free_blocks, 8);  // nothing was computed, so nothing was published
  Check(bm, {});
}

TEST_F(BlockManagerTest, PublishedOnlyAfterMarkComputed) {
  BlockManager bm({.num_blocks = 16, .block_size = 4});
  Sequence a(0, Iota(13), {}, 0, 0);
  Sequence b(1, Iota(13), {}, 0, 1);
  bm.Allocate(a, 13);
  EXPECT_EQ(bm.MatchPrefix(b), 0) << "KV not written yet must not be shared";
  bm.MarkComputed(a, 13);
  EXPECT_EQ(bm.MatchPrefix(b), 12);  // three full blocks; the last token is always computed
  bm.Allocate(b, 1);
  EXPECT_EQ(b.num_computed_tokens(), 12);
  EXPECT_EQ(b.num_cached_tokens(), 12);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.block_table()[i], b.block_table()[i]);
  EXPECT_NE(a.block_table()[3], b.block_table()[3]);
  Check(bm, {&a, &b});
  EXPECT_EQ(bm.stats().num_used_blocks, 5);
  bm.Free(a);
  Check(bm, {&b});
  EXPECT_EQ(bm.stats().num_used_blocks, 4);
  bm.Free(b);
  Check(bm, {});
  EXPECT_EQ(bm.stats().num_cached_blocks, 3);
  EXPECT_EQ(bm.stats().num_free_blocks, 13);
  EXPECT_EQ(bm.stats().prefix_hit_tokens, 12);
  EXPECT_DOUBLE_EQ(bm.stats().hit_rate(), 12.0 / 26.0);
}

TEST_F(BlockManagerTest, DivergingTokensStopTheMatch) {
  BlockManager bm({.num_blocks = 16, .block_size = 4});
  Sequence a(0, Iota(12), {}, 0, 0);
  Compute(bm, a, 12);
  std::vector<int32_t> other = Iota(12);
  other[5] = 7;  // second block differs
  Sequence b(1, other, {}, 0, 1);
  EXPECT_EQ(bm.MatchPrefix(b), 4);
  std::vector<int32_t> longer = Iota(12);
  longer.push_back(1);
  Sequence c(2, longer, {}, 0, 2);
  EXPECT_EQ(bm.MatchPrefix(c), 12);
}

TEST_F(BlockManagerTest, ConcurrentCopyIsAdoptedSoTheChainContinues) {
  // a and b share two blocks of prompt but differ in the third; both are computed in the same
  // step, so b's first two blocks are private copies until a publishes. b must then adopt a's
  // blocks, and b's own third block must still become findable.
  BlockManager bm({.num_blocks = 16, .block_size = 4});
  std::vector<int32_t> pa = Iota(13), pb = Iota(13);
  pb[9] = 777;
  Sequence a(0, pa, {}, 0, 0), b(1, pb, {}, 0, 1);
  bm.Allocate(a, 13);
  bm.Allocate(b, 13);
  Check(bm, {&a, &b});
  EXPECT_EQ(bm.stats().num_used_blocks, 8);
  bm.MarkComputed(a, 13);
  bm.MarkComputed(b, 13);
  Check(bm, {&a, &b});
  EXPECT_EQ(bm.stats().num_used_blocks, 6);  // b's two copies went back to the free list
  EXPECT_EQ(a.block_table()[0], b.block_table()[0]);
  EXPECT_EQ(a.block_table()[1], b.block_table()[1]);
  std::vector<int32_t> pc = pb;
  pc.push_back(5);
  Sequence c(2, pc, {}, 0, 2);
  EXPECT_EQ(bm.MatchPrefix(c), 12);
  bm.Free(a);
  bm.Free(b);
  Check(bm, {});
}

uint64_t CollidingHash(uint64_t, std::span<const int32_t>) { return 42; }

TEST_F(BlockManagerTest, HashCollisionIsAMissNotWrongKv) {
  // Every block hashes alike: only the token and parent checks stand between a lookup and
  // someone else's KV.
  BlockManager bm({.num_blocks = 16, .block_size = 4, .hash_fn = &CollidingHash});
  Sequence a(0, Iota(9, 0), {}, 0, 0);
  Compute(bm, a, 9);  // block 0 publishes under key 42; block 1 collides and replaces it
  Check(bm, {&a});
  Sequence b(1, Iota(9, 0), {}, 0, 1);
  // The key now names a's second block, whose parent is not the root: a miss.
  EXPECT_EQ(bm.MatchPrefix(b), 0);
  Sequence c(2, Iota(9, 50), {}, 0, 2);
  EXPECT_EQ(bm.MatchPrefix(c), 0);
  // A sequence whose first block equals what is published under the key does hit.
  BlockManager bm2({.num_blocks = 16, .block_size = 4, .hash_fn = &CollidingHash});
  Sequence d(3, Iota(5, 0), {}, 0, 3);
  Compute(bm2, d, 5);
  Sequence e(4, Iota(5, 0), {}, 0, 4);
  EXPECT_EQ(bm2.MatchPrefix(e), 4);
  std::vector<int32_t> f_tokens = Iota(5, 0);
  f_tokens[3] = 99;
  Sequence f(5, f_tokens, {}, 0, 5);
  EXPECT_EQ(bm2.MatchPrefix(f), 0);
}

uint64_t TokensOnlyHash(uint64_t, std::span<const int32_t> tokens) {
  return HashBlock(kRootHash, tokens);
}

TEST_F(BlockManagerTest, SameTokensAfterADifferentParentIsAMiss) {
  // The hash ignores the parent: x's second block and y's second block share a key and tokens,
  // but x's was computed after a different first block, so its KV is wrong for y.
  BlockManager bm({.num_blocks = 16, .block_size = 4, .hash_fn = &TokensOnlyHash});
  const std::vector<int32_t> a = {1, 2, 3, 4}, b = {5, 6, 7, 8}, c = {9, 9, 9, 9};
  auto cat = [](std::vector<std::vector<int32_t>> parts) {
    std::vector<int32_t> v;
    for (auto& p : parts) v.insert(v.end(), p.begin(), p.end());
    v.push_back(0);
    return v;
  };
  Sequence x(0, cat({a, c}), {}, 0, 0);
  Compute(bm, x, 9);
  Sequence z(1, cat({b}), {}, 0, 1);
  Compute(bm, z, 5);
  Sequence y(2, cat({b, c}), {}, 0, 2);
  EXPECT_EQ(bm.MatchPrefix(y), 4) << "matched x's block c, whose KV follows a, not b";
  Sequence w(3, cat({a, c}), {}, 0, 3);
  EXPECT_EQ(bm.MatchPrefix(w), 8);
  Check(bm, {&x, &z});
}

TEST_F(BlockManagerTest, EvictsLeastRecentlyReleasedTailFirst) {
  BlockManager bm({.num_blocks = 4, .block_size = 2});
  Sequence a(0, Iota(5, 0), {}, 0, 0);
  Compute(bm, a, 5);  // blocks 0,1 published, block 2 holds token 4
  bm.Free(a);
  EXPECT_EQ(bm.stats().num_cached_blocks, 2);
  // A new sequence needing 3 blocks: 2 free + 1 eviction, and the evicted one must be a's tail
  // block (logical 1), so a's first block stays reusable.
  Sequence b(1, Iota(6, 100), {}, 0, 1);
  bm.Allocate(b, 6);
  EXPECT_EQ(bm.stats().num_evictions, 1);
  Sequence a2(2, Iota(5, 0), {}, 0, 2);
  EXPECT_EQ(bm.MatchPrefix(a2), 2);
  Check(bm, {&b});
}

TEST_F(BlockManagerTest, PrefixHitCountsEvictableBlocksAsTaken) {
  BlockManager bm({.num_blocks = 3, .block_size = 2});
  Sequence a(0, Iota(5, 0), {}, 0, 0);
  Compute(bm, a, 5);
  bm.Free(a);  // 2 cached, 1 free
  Sequence b(1, Iota(5, 0), {}, 0, 1);
  EXPECT_EQ(bm.MatchPrefix(b), 4);
  EXPECT_TRUE(bm.CanAllocate(b, 1));   // 2 hits + 1 new block
  EXPECT_FALSE(bm.CanAllocate(b, 3));  // would need 2 new blocks beyond the 2 reclaimed
  bm.Allocate(b, 1);
  EXPECT_EQ(bm.stats().num_used_blocks, 3);
  Check(bm, {&b});
}

}  // namespace
}  // namespace hearth::engine
