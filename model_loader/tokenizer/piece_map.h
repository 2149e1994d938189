// Flat open-addressing hash maps for the merge loops' hot lookups (a piece's text -> id, a
// token pair -> merge). One probe sequence in one array instead of std::unordered_map's node
// chasing: the SentencePiece encoder does ~3 lookups per input byte.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace hearth::tokenizer {

inline uint64_t HashBytes(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, then a final mix for the low bits
  for (const char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

// Keys are views into storage that must outlive the map and never move.
class PieceMap {
 public:
  explicit PieceMap(size_t expected = 0) { Reserve(expected); }

  // Inserts or, with `overwrite`, replaces; otherwise the first id for a key is kept.
  void Insert(std::string_view key, int32_t id, bool overwrite) {
    if ((count_ + 1) * 2 > slots_.size()) Reserve(slots_.size() + 1);
    const uint64_t h = HashBytes(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = {h, key.data(), static_cast<uint32_t>(key.size()), id};
        ++count_;
        return;
      }
      if (s.hash == h && s.size == key.size() && std::memcmp(s.data, key.data(), s.size) == 0) {
        if (overwrite) s.id = id;
        return;
      }
    }
  }

  // The id, or -1.
  int32_t Find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = HashBytes(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && s.size == key.size() && std::memcmp(s.data, key.data(), s.size) == 0) {
        return s.id;
      }
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    const char* data = nullptr;
    uint32_t size = 0;
    int32_t id = -1;  // -1: empty
  };
  void Reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    if (cap <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    count_ = 0;
    for (const Slot& s : old) {
      if (s.id >= 0) Insert(std::string_view(s.data, s.size), s.id, false);
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

// (left id, right id) -> (rank, merged id); the first insertion of a pair wins.
class MergeMap {
 public:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  void Reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
  }
  void Insert(int32_t left, int32_t right, Merge m) {
    const uint64_t key = Key(left, right);
    for (size_t i = Mix(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty) {
        slots_[i] = {key, m};
        return;
      }
      if (slots_[i].key == key) return;
    }
  }
  const Merge* Find(int32_t left, int32_t right) const {
    const uint64_t key = Key(left, right);
    for (size_t i = Mix(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].merge;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  static uint64_t Key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static uint64_t Mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    return k ^ (k >> 33);
  }
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace hearth::tokenizer
