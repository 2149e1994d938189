// The paged-KV block manager: the only producer of block tables (and, through SlotOf, of slot
// mappings). Layout and conventions: kernels/kv_cache/paged_kv.h.
//
// Every physical block is in exactly one of three states:
//   free      ref_count 0, no published content     on the free list
//   used      ref_count > 0 (one per block-table reference; shared prefix blocks have > 1)
//   cached    ref_count 0, published content        on the LRU list, reusable by a prefix hit
//                                                    or evicted (oldest first) when no block is
//                                                    free
// so free + used + cached == num_blocks at all times (CheckInvariants verifies it).
//
// Prefix caching. A FULL block's key is a 64-bit hash of (parent block's hash, its block_size
// token ids). It is published (made findable) only by MarkComputed, i.e. after the step that
// wrote its KV completed; a sequence admitted in the same step as another with the same prefix
// therefore never attaches blocks whose KV is still being written. A hit is only trusted after
// checking the block's own tokens AND that its parent is the very block (by content id, unique
// per publication) the match walked through, so a hash collision gives a miss, never wrong KV.
//
// Why no copy-on-write: only full blocks are ever shared, and a prefix hit is capped below the
// last token (MatchPrefix), so every shared block lies entirely below the sharer's
// num_computed_tokens. Steps write KV only at positions >= num_computed_tokens, hence never into
// a shared block.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/sequence.h"
#include "kernels/core/status.h"
#include "kernels/kv_cache/paged_kv.h"

namespace hearth::engine {

// The prefix hash of one full block: a pure function of the parent's hash (kRootHash for the
// first block) and the block's tokens.
inline constexpr uint64_t kRootHash = 0x6a09e667f3bcc909ull;
uint64_t HashBlock(uint64_t parent_hash, std::span<const int32_t> tokens);
using BlockHashFn = uint64_t (*)(uint64_t parent_hash, std::span<const int32_t> tokens);

struct BlockManagerConfig {
  int num_blocks = 0;
  int block_size = kv::kDefaultBlockSize;
  bool enable_prefix_caching = true;
  BlockHashFn hash_fn = nullptr;  // nullptr = HashBlock; tests pass a colliding one
};

struct BlockManagerStats {
  int num_blocks = 0;
  int num_free_blocks = 0;          // on the free list
  int num_used_blocks = 0;          // referenced by at least one block table
  int num_cached_blocks = 0;        // unreferenced, holding published KV (evictable)
  int64_t prefix_query_tokens = 0;  // prompt tokens looked up at admissions
  int64_t prefix_hit_tokens = 0;    // of those, served from the cache
  int64_t num_evictions = 0;        // cached blocks recycled for new content
  double hit_rate() const {
    return prefix_query_tokens == 0 ? 0.0
                                    : static_cast<double>(prefix_hit_tokens) / prefix_query_tokens;
  }
};

class BlockManager {
 public:
  explicit BlockManager(BlockManagerConfig config);

  int block_size() const { return config_.block_size; }
  int num_blocks() const { return config_.num_blocks; }
  // Blocks a new allocation can take: free + cached (evictable).
  int NumAvailableBlocks() const;
  int NumBlocksFor(int num_tokens) const {
    return (num_tokens + config_.block_size - 1) / config_.block_size;
  }

  // For a sequence holding no blocks: the number of its leading tokens whose KV is in the cache
  // (a multiple of block_size), capped at num_tokens - 1 rounded down to a block, because the
  // last token must always be computed to produce logits. Changes no block state (it only
  // extends the sequence's own hash cache).
  int MatchPrefix(Sequence& seq) const;

  // Whether slots for seq's next num_new_tokens tokens can be had now. For a sequence holding no
  // blocks this includes attaching the prefix MatchPrefix finds (which takes cached blocks off
  // the evictable list) and num_new_tokens counts tokens after that prefix.
  bool CanAllocate(Sequence& seq, int num_new_tokens) const;
  // The largest n <= max_new_tokens for which CanAllocate(seq, n) holds (0 if none).
  int MaxAllocatableTokens(Sequence& seq, int max_new_tokens) const;

  // Gives seq slots for tokens [num_computed, num_computed + num_new_tokens). For a sequence
  // holding no blocks it first attaches the cached prefix and advances num_computed_tokens past
  // it (and, at the first admission, records num_cached_tokens). Requires CanAllocate.
  void Allocate(Sequence& seq, int num_new_tokens);

  // Records that a step wrote the KV of seq's next num_new_tokens tokens (advancing
  // num_computed_tokens) and publishes the blocks that became full to the prefix cache. Call only
  // after that step has completed (the scheduler does, in Update).
  void MarkComputed(Sequence& seq, int num_new_tokens);

  // Drops all of seq's block references; its num_computed_tokens becomes 0. Blocks whose last
  // reference goes become cached (if published) or free. Tail blocks are released first so they
  // are evicted before the prefix blocks they depend on.
  void Free(Sequence& seq);

  // The slot (block * block_size + offset) holding position `position` of seq.
  int64_t SlotOf(const Sequence& seq, int position) const;

  BlockManagerStats stats() const;

  // Full consistency check against the sequences holding blocks (all of them): every block's
  // ref count equals its block-table references, each block in exactly one state, lists and
  // the hash index consistent, tables cover the computed tokens. O(num_blocks + table sizes).
  Status CheckInvariants(std::span<const Sequence* const> holders) const;

 private:
  struct Block {
    int ref_count = 0;
    uint64_t hash = 0;
    uint64_t content_id = 0;         // 0: unpublished; else unique per publication
    uint64_t parent_content_id = 0;  // content id of logical predecessor (0 for a first block)
    int32_t lru_prev = -1;
    int32_t lru_next = -1;
    bool in_lru = false;
  };

  void ExtendHashes(Sequence& seq, int num_full_blocks) const;
  // Physical blocks of seq's cached prefix (see MatchPrefix).
  void MatchBlocks(Sequence& seq, std::vector<int32_t>* hits) const;
  std::span<const int32_t> TokensOf(int32_t block) const;
  int32_t TakeBlock();  // a free block, evicting the least recently used cached one if needed
  void Unpublish(int32_t block);
  void LruPushBack(int32_t block);
  void LruRemove(int32_t block);

  BlockManagerConfig config_;
  std::vector<Block> blocks_;
  std::vector<int32_t> block_tokens_;  // [num_blocks, block_size]: tokens of published blocks
  std::vector<int32_t> free_list_;
  int32_t lru_head_ = -1;  // least recently released
  int32_t lru_tail_ = -1;
  int num_cached_ = 0;
  std::unordered_map<uint64_t, int32_t> index_;  // hash -> published block
  uint64_t next_content_id_ = 1;
  int64_t prefix_query_tokens_ = 0;
  int64_t prefix_hit_tokens_ = 0;
  int64_t num_evictions_ = 0;
};

}  // namespace hearth::engine
