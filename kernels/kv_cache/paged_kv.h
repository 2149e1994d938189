// The paged KV cache: the one definition of its layout and of the metadata that addresses it.
// The engine's block manager is the only producer of block tables and slot mappings; kernels
// (cache write, attention) and tests are the only consumers.
//
// Storage. Per layer, two arrays of the same shape, K and V:
//     [num_blocks, num_kv_heads, block_size, head_dim]          ("HND" within a block)
// so one block of one KV head is a contiguous block_size x head_dim tile (4 KiB for 16 x 128 in
// bf16), which attention loads as a unit. Physical block ids are shared by all layers: block b
// of every layer belongs to the same sequence. Element type: the activation dtype on the GPU
// (bf16/fp16/fp32), float32 on the CPU backend.
//
// Slots. Token t of a step is written to slot s = slot_mapping[t] = block * block_size + offset;
// a negative slot means padding: nothing is written.
//
// Block tables. int32 [num_seqs, max_blocks_per_seq], row-major; row i lists sequence i's
// physical blocks in logical order. Entries at or past ceil(seq_lens[i] / block_size) are
// unspecified (the block manager writes -1) and never read.
//
// Per-step batch metadata (engine/step_plan builds these; attention consumes them):
//   query_start_loc  int32 [num_seqs + 1]  token range of sequence i in this step's flat batch is
//                                          [query_start_loc[i], query_start_loc[i+1])
//   seq_lens         int32 [num_seqs]      tokens of sequence i in the cache after this step's
//                                          writes (context + this step's tokens)
//   positions        int32 [num_tokens]    absolute position of each token (RoPE, causal mask)
//   slot_mapping     int64 [num_tokens]    cache slot of each token (see Slots), negative = padding
// The new tokens of sequence i are its last (query_start_loc[i+1] - query_start_loc[i]) tokens,
// so query token j of sequence i (0-based in its chunk) sits at position
// seq_lens[i] - q_len_i + j and attends to cache positions [0, that position].
#pragma once

#include <cstdint>

namespace hearth::kv {

constexpr int kDefaultBlockSize = 16;

struct PagedKvLayout {
  int64_t num_blocks = 0;
  int num_kv_heads = 0;
  int block_size = kDefaultBlockSize;
  int head_dim = 0;

  constexpr int64_t head_stride() const { return int64_t{block_size} * head_dim; }
  constexpr int64_t block_stride() const { return int64_t{num_kv_heads} * head_stride(); }
  constexpr int64_t elems_per_layer() const { return num_blocks * block_stride(); }  // K or V

  // Element offset of (physical block, kv head, offset within the block, dim 0).
  constexpr int64_t offset(int64_t block, int kv_head, int in_block) const {
    return block * block_stride() + int64_t{kv_head} * head_stride() + int64_t{in_block} * head_dim;
  }
  // Element offset of slot `slot` (block * block_size + in_block) for kv head `kv_head`.
  constexpr int64_t slot_offset(int64_t slot, int kv_head) const {
    return offset(slot / block_size, kv_head, static_cast<int>(slot % block_size));
  }
};

}  // namespace hearth::kv
