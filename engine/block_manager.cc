#include "engine/block_manager.h"

#include <algorithm>
#include <string>
#include <utility>

#include "kernels/core/check.h"

namespace hearth::engine {
namespace {

// A 64-bit bijective mixer (multiply / xor-shift rounds). Full avalanche is what matters here;
// collisions are caught by the token check anyway.
uint64_t Mix64(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ull;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dull;
  x ^= x >> 33;
  return x;
}

}  // namespace

uint64_t HashBlock(uint64_t parent_hash, std::span<const int32_t> tokens) {
  constexpr uint64_t kStep = 0x9e3779b97f4a7c15ull;  // 2^64 / golden ratio
  uint64_t h = Mix64(parent_hash ^ (kStep * (tokens.size() + 1)));
  size_t i = 0;
  for (; i + 1 < tokens.size(); i += 2) {
    const uint64_t word = uint64_t{static_cast<uint32_t>(tokens[i])} |
                          (uint64_t{static_cast<uint32_t>(tokens[i + 1])} << 32);
    h = Mix64(h ^ word) + kStep;
  }
  if (i < tokens.size()) h = Mix64(h ^ uint64_t{static_cast<uint32_t>(tokens[i])}) + kStep;
  return Mix64(h);
}

BlockManager::BlockManager(BlockManagerConfig config) : config_(config) {
  HEARTH_CHECK_GT(config_.num_blocks, 0);
  HEARTH_CHECK_GT(config_.block_size, 0);
  if (config_.hash_fn == nullptr) config_.hash_fn = &HashBlock;
  blocks_.resize(config_.num_blocks);
  block_tokens_.assign(static_cast<size_t>(config_.num_blocks) * config_.block_size, -1);
  free_list_.reserve(config_.num_blocks);
  // Reversed so that blocks are handed out in ascending order (easier to read in tests/logs).
  for (int32_t b = config_.num_blocks - 1; b >= 0; --b) free_list_.push_back(b);
}

int BlockManager::NumAvailableBlocks() const {
  return static_cast<int>(free_list_.size()) + num_cached_;
}

std::span<const int32_t> BlockManager::TokensOf(int32_t block) const {
  return std::span<const int32_t>(block_tokens_)
      .subspan(static_cast<size_t>(block) * config_.block_size, config_.block_size);
}

void BlockManager::ExtendHashes(Sequence& seq, int num_full_blocks) const {
  const int bs = config_.block_size;
  HEARTH_CHECK_LE(num_full_blocks * bs, seq.num_tokens());
  auto& hashes = seq.block_hashes_;
  while (static_cast<int>(hashes.size()) < num_full_blocks) {
    const size_t i = hashes.size();
    const uint64_t parent = i == 0 ? kRootHash : hashes.back();
    hashes.push_back(config_.hash_fn(parent, seq.token_ids().subspan(i * bs, bs)));
  }
}

void BlockManager::MatchBlocks(Sequence& seq, std::vector<int32_t>* hits) const {
  hits->clear();
  if (!config_.enable_prefix_caching || seq.num_tokens() == 0) return;
  HEARTH_CHECK(seq.block_table_.empty());
  const int bs = config_.block_size;
  const int max_blocks = (seq.num_tokens() - 1) / bs;  // keep the last token to compute
  ExtendHashes(seq, max_blocks);
  uint64_t parent_content = 0;
  for (int i = 0; i < max_blocks; ++i) {
    auto it = index_.find(seq.block_hashes_[i]);
    if (it == index_.end()) break;
    const Block& block = blocks_[it->second];
    const auto want = seq.token_ids().subspan(static_cast<size_t>(i) * bs, bs);
    const auto have = TokensOf(it->second);
    if (block.parent_content_id != parent_content ||
        !std::equal(want.begin(), want.end(), have.begin())) {
      break;  // a hash collision or a stale child of an evicted parent: a miss, never wrong KV
    }
    hits->push_back(it->second);
    parent_content = block.content_id;
  }
}

int BlockManager::MatchPrefix(Sequence& seq) const {
  std::vector<int32_t> hits;
  MatchBlocks(seq, &hits);
  return static_cast<int>(hits.size()) * config_.block_size;
}

bool BlockManager::CanAllocate(Sequence& seq, int num_new_tokens) const {
  HEARTH_CHECK_GE(num_new_tokens, 0);
  int num_have = static_cast<int>(seq.block_table_.size());
  int num_computed = seq.num_computed_tokens_;
  int num_reclaimed = 0;  // cached blocks a prefix hit takes off the evictable list
  if (seq.block_table_.empty()) {
    HEARTH_CHECK_EQ(seq.num_computed_tokens_, 0);
    std::vector<int32_t> hits;
    MatchBlocks(seq, &hits);
    num_have = static_cast<int>(hits.size());
    num_computed = num_have * config_.block_size;
    for (int32_t b : hits) num_reclaimed += blocks_[b].ref_count == 0 ? 1 : 0;
  }
  const int num_needed = std::max(0, NumBlocksFor(num_computed + num_new_tokens) - num_have);
  return num_needed + num_reclaimed <= NumAvailableBlocks();
}

int BlockManager::MaxAllocatableTokens(Sequence& seq, int max_new_tokens) const {
  // CanAllocate is monotone in n: binary search keeps this cheap for long prompts.
  int lo = 0, hi = max_new_tokens;
  if (CanAllocate(seq, hi)) return hi;
  if (!CanAllocate(seq, 0)) return 0;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    (CanAllocate(seq, mid) ? lo : hi) = mid;
  }
  return lo;
}

void BlockManager::Allocate(Sequence& seq, int num_new_tokens) {
  HEARTH_CHECK(CanAllocate(seq, num_new_tokens));
  if (seq.block_table_.empty()) {
    std::vector<int32_t> hits;
    MatchBlocks(seq, &hits);
    for (int32_t b : hits) {
      Block& block = blocks_[b];
      if (block.ref_count == 0) {
        LruRemove(b);
        --num_cached_;
      }
      ++block.ref_count;
    }
    const int hit_tokens = static_cast<int>(hits.size()) * config_.block_size;
    seq.block_table_ = std::move(hits);
    seq.num_published_blocks_ = static_cast<int>(seq.block_table_.size());
    seq.num_computed_tokens_ = hit_tokens;
    if (!seq.admitted_once_) seq.num_cached_tokens_ = hit_tokens;
    prefix_query_tokens_ += seq.num_tokens();
    prefix_hit_tokens_ += hit_tokens;
  }
  const int num_needed = NumBlocksFor(seq.num_computed_tokens_ + num_new_tokens);
  while (static_cast<int>(seq.block_table_.size()) < num_needed) {
    const int32_t b = TakeBlock();
    blocks_[b].ref_count = 1;
    seq.block_table_.push_back(b);
  }
}

int32_t BlockManager::TakeBlock() {
  if (!free_list_.empty()) {
    const int32_t b = free_list_.back();
    free_list_.pop_back();
    return b;
  }
  HEARTH_CHECK_GE(lru_head_, 0);  // CanAllocate promised a block
  const int32_t b = lru_head_;
  LruRemove(b);
  --num_cached_;
  index_.erase(blocks_[b].hash);
  blocks_[b].content_id = 0;
  blocks_[b].parent_content_id = 0;
  ++num_evictions_;
  return b;
}

void BlockManager::Unpublish(int32_t b) {
  Block& block = blocks_[b];
  index_.erase(block.hash);
  block.content_id = 0;
  block.parent_content_id = 0;
  if (block.ref_count == 0) {
    LruRemove(b);
    --num_cached_;
    free_list_.push_back(b);
  }
}

void BlockManager::MarkComputed(Sequence& seq, int num_new_tokens) {
  HEARTH_CHECK_GE(num_new_tokens, 0);
  seq.num_computed_tokens_ += num_new_tokens;
  HEARTH_CHECK_LE(seq.num_computed_tokens_, seq.num_tokens());
  HEARTH_CHECK_LE(NumBlocksFor(seq.num_computed_tokens_),
                  static_cast<int>(seq.block_table_.size()));
  const int bs = config_.block_size;
  const int num_full = seq.num_computed_tokens_ / bs;
  HEARTH_CHECK_LE(num_full, static_cast<int>(seq.block_table_.size()));
  if (!config_.enable_prefix_caching) {
    seq.num_published_blocks_ = std::max(seq.num_published_blocks_, num_full);
    return;
  }
  ExtendHashes(seq, num_full);
  for (int i = seq.num_published_blocks_; i < num_full; ++i) {
    const int32_t b = seq.block_table_[i];
    Block& block = blocks_[b];
    if (block.content_id != 0) continue;  // attached from the cache: already published
    // A block is only findable through its parent, so an unpublished parent ends the chain.
    const uint64_t parent_content = i == 0 ? 0 : blocks_[seq.block_table_[i - 1]].content_id;
    if (i > 0 && parent_content == 0) continue;
    const uint64_t hash = seq.block_hashes_[i];
    const auto tokens = seq.token_ids().subspan(static_cast<size_t>(i) * bs, bs);
    if (auto it = index_.find(hash); it != index_.end()) {
      const Block& other = blocks_[it->second];
      const auto other_tokens = TokensOf(it->second);
      if (other.parent_content_id == parent_content &&
          std::equal(tokens.begin(), tokens.end(), other_tokens.begin())) {
        // The same content was published meanwhile (two same-prefix sequences computed it in
        // the same step): adopt the published block and drop our copy, so the chain goes on
        // and the sequence's later blocks can still be published. Our copy is fresh, hence
        // referenced by this sequence alone, and not written again (it is full and computed).
        const int32_t shared = it->second;
        if (blocks_[shared].ref_count == 0) {
          LruRemove(shared);
          --num_cached_;
        }
        ++blocks_[shared].ref_count;
        HEARTH_CHECK_EQ(block.ref_count, 1);
        block.ref_count = 0;
        free_list_.push_back(b);
        seq.block_table_[i] = shared;
        continue;
      }
      Unpublish(it->second);  // a stale entry or a collision: the fresher content wins the key
    }
    block.hash = hash;
    block.content_id = next_content_id_++;
    block.parent_content_id = parent_content;
    std::copy(tokens.begin(), tokens.end(), block_tokens_.begin() + static_cast<ptrdiff_t>(b) * bs);
    index_[hash] = b;
  }
  seq.num_published_blocks_ = std::max(seq.num_published_blocks_, num_full);
}

void BlockManager::Free(Sequence& seq) {
  auto& table = seq.block_table_;
  for (auto it = table.rbegin(); it != table.rend(); ++it) {
    Block& block = blocks_[*it];
    HEARTH_CHECK_GT(block.ref_count, 0);
    if (--block.ref_count > 0) continue;
    if (block.content_id != 0) {
      LruPushBack(*it);
      ++num_cached_;
    } else {
      free_list_.push_back(*it);
    }
  }
  table.clear();
  seq.num_computed_tokens_ = 0;
  seq.num_published_blocks_ = 0;
}

int64_t BlockManager::SlotOf(const Sequence& seq, int position) const {
  const int bs = config_.block_size;
  HEARTH_CHECK_GE(position, 0);
  HEARTH_CHECK_LT(position / bs, static_cast<int>(seq.block_table_.size()));
  return int64_t{seq.block_table_[position / bs]} * bs + position % bs;
}

void BlockManager::LruPushBack(int32_t b) {
  Block& block = blocks_[b];
  HEARTH_CHECK(!block.in_lru);
  block.in_lru = true;
  block.lru_prev = lru_tail_;
  block.lru_next = -1;
  if (lru_tail_ >= 0)
    blocks_[lru_tail_].lru_next = b;
  else
    lru_head_ = b;
  lru_tail_ = b;
}

void BlockManager::LruRemove(int32_t b) {
  Block& block = blocks_[b];
  HEARTH_CHECK(block.in_lru);
  if (block.lru_prev >= 0)
    blocks_[block.lru_prev].lru_next = block.lru_next;
  else
    lru_head_ = block.lru_next;
  if (block.lru_next >= 0)
    blocks_[block.lru_next].lru_prev = block.lru_prev;
  else
    lru_tail_ = block.lru_prev;
  block.lru_prev = block.lru_next = -1;
  block.in_lru = false;
}

BlockManagerStats BlockManager::stats() const {
  BlockManagerStats s;
  s.num_blocks = config_.num_blocks;
  s.num_free_blocks = static_cast<int>(free_list_.size());
  s.num_cached_blocks = num_cached_;
  s.num_used_blocks = s.num_blocks - s.num_free_blocks - s.num_cached_blocks;
  s.prefix_query_tokens = prefix_query_tokens_;
  s.prefix_hit_tokens = prefix_hit_tokens_;
  s.num_evictions = num_evictions_;
  return s;
}

Status BlockManager::CheckInvariants(std::span<const Sequence* const> holders) const {
  const int n = config_.num_blocks;
  auto fail = [](std::string what) { return InternalError("block manager: " + what); };
  std::vector<int> refs(n, 0);
  std::vector<size_t> last_holder(n, SIZE_MAX);
  for (size_t h = 0; h < holders.size(); ++h) {
    const Sequence* seq = holders[h];
    const auto& table = seq->block_table_;
    for (int32_t b : table) {
      if (b < 0 || b >= n)
        return fail("seq " + std::to_string(seq->id()) + " has block id " + std::to_string(b) +
                    " out of range");
      if (std::exchange(last_holder[b], h) == h)
        return fail("seq " + std::to_string(seq->id()) + " lists block " + std::to_string(b) +
                    " twice");
      ++refs[b];
    }
    if (NumBlocksFor(seq->num_computed_tokens_) > static_cast<int>(table.size()))
      return fail("seq " + std::to_string(seq->id()) + " has " +
                  std::to_string(seq->num_computed_tokens_) + " computed tokens but " +
                  std::to_string(table.size()) + " blocks");
  }
  std::vector<char> on_free(n, 0);
  for (int32_t b : free_list_) {
    if (b < 0 || b >= n || on_free[b]) return fail("free list corrupt at " + std::to_string(b));
    on_free[b] = 1;
  }
  std::vector<char> on_lru(n, 0);
  int lru_len = 0;
  for (int32_t b = lru_head_, prev = -1; b >= 0; prev = b, b = blocks_[b].lru_next) {
    if (on_lru[b] || blocks_[b].lru_prev != prev || ++lru_len > n)
      return fail("LRU list corrupt at " + std::to_string(b));
    on_lru[b] = 1;
  }
  if (lru_len != num_cached_) return fail("LRU length != cached count");
  int num_free = 0, num_used = 0, num_cached = 0;
  for (int32_t b = 0; b < n; ++b) {
    const Block& block = blocks_[b];
    const std::string id = "block " + std::to_string(b);
    if (block.ref_count != refs[b])
      return fail(id + " ref_count " + std::to_string(block.ref_count) + " but " +
                  std::to_string(refs[b]) + " block-table references");
    if (block.in_lru != static_cast<bool>(on_lru[b])) return fail(id + " in_lru flag wrong");
    const int states = (on_free[b] ? 1 : 0) + (on_lru[b] ? 1 : 0) + (block.ref_count > 0 ? 1 : 0);
    if (states != 1) return fail(id + " is in " + std::to_string(states) + " states");
    if (on_free[b] && block.content_id != 0) return fail(id + " free but published");
    if (on_lru[b] && block.content_id == 0) return fail(id + " cached but unpublished");
    num_free += on_free[b];
    num_cached += on_lru[b];
    num_used += block.ref_count > 0;
    if (block.content_id != 0) {
      auto it = index_.find(block.hash);
      if (it == index_.end() || it->second != b) return fail(id + " published but not indexed");
    }
  }
  for (const auto& [hash, b] : index_) {
    if (blocks_[b].content_id == 0 || blocks_[b].hash != hash)
      return fail("index entry for block " + std::to_string(b) + " is stale");
  }
  if (num_free + num_used + num_cached != n) return fail("block states do not add up");
  return Status::Ok();
}

}  // namespace hearth::engine
