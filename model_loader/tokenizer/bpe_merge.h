// The merge loop both BPE flavours share: symbols in a linked list, candidate pairs in a heap,
// the best pair (lowest priority value, leftmost on ties) merged first. Stale heap entries are
// dropped when popped, so a piece of n symbols costs O(n log n), never O(n^2).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "model_loader/tokenizer/piece_map.h"

namespace hearth::tokenizer {

struct MergeSymbol {
  uint32_t start;  // byte span in the piece being encoded
  uint32_t len;    // 0 once merged into its left neighbour
  int32_t id;      // token id of the span, or -1 if the span is not a token
  int32_t prev;
  int32_t next;
};

struct MergeCandidate {
  float priority;  // lower merges first (a merge rank < 2^24, or minus a SentencePiece score)
  int32_t id;      // the merged token
};

// Runs the merges over `symbols` (linked by prev/next from index 0, one unit each) and leaves
// the survivors linked from index 0. `pair(a, b)` returns the candidate for merging adjacent
// symbols a and b, or nullopt if they do not merge.
template <class PairFn>
void RunMerges(std::vector<MergeSymbol>& symbols, PairFn pair) {
  // 16 bytes: long pieces are bound by heap traffic. Symbol indices grow with position, so the
  // left index breaks ties leftmost-first. An entry is stale once its left symbol is gone or
  // either side grew; lengths only grow, so an unchanged sum means both sides are unchanged.
  struct Entry {
    float priority;
    int32_t left;
    uint32_t size;
    int32_t id;
  };
  const auto worse = [](const Entry& a, const Entry& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.left > b.left;
  };
  std::vector<Entry> heap;
  const auto candidate = [&](int32_t left, int32_t right) -> bool {
    if (left < 0 || right < 0) return false;
    const std::optional<MergeCandidate> c = pair(symbols[left], symbols[right]);
    if (!c) return false;
    heap.push_back({c->priority, left, symbols[left].len + symbols[right].len, c->id});
    return true;
  };
  heap.reserve(symbols.size());
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    candidate(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));
  }
  std::make_heap(heap.begin(), heap.end(), worse);
  const auto push = [&](int32_t left, int32_t right) {
    if (candidate(left, right)) std::push_heap(heap.begin(), heap.end(), worse);
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    const Entry e = heap.back();
    heap.pop_back();
    MergeSymbol& l = symbols[e.left];
    if (l.len == 0 || l.next < 0) continue;
    MergeSymbol& r = symbols[l.next];
    if (l.len + r.len != e.size) continue;
    l.len += r.len;
    l.id = e.id;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = e.left;
    r.len = 0;
    push(l.prev, e.left);
    push(e.left, l.next);
  }
}

// RunMerges' pair function for a ranked merge list (GGUF/tokenizer.json merges): two symbols
// that are tokens merge when the list names their pair, lowest rank first.
inline auto RankedPairs(const MergeMap& merges) {
  return [&merges](const MergeSymbol& a, const MergeSymbol& b) -> std::optional<MergeCandidate> {
    if (a.id < 0 || b.id < 0) return std::nullopt;
    const MergeMap::Merge* m = merges.Find(a.id, b.id);
    if (m == nullptr) return std::nullopt;
    return MergeCandidate{static_cast<float>(m->rank), m->id};
  };
}

}  // namespace hearth::tokenizer
