// The CUDA runner's pure decisions, on the CPU: device / dtype parsing, graph buckets and decode
// padding, buffer layouts, the KV block count from the memory budget, and the device weight
// plan (fusion, types, offsets) on real model files.
#include "engine/cuda_runner_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "engine/model/decoder_spec.h"
#include "engine/model/device_weight_plan.h"
#include "kernels/attention/attention.h"
#include "model_loader/loaded_model.h"
#include "tests/support/test_support.h"

namespace hearth::engine {
namespace {

TEST(CudaRunnerPlan, ParseDevice) {
  EXPECT_EQ(*ParseDevice("cpu"), -1);
  EXPECT_EQ(*ParseDevice("cuda"), 0);
  EXPECT_EQ(*ParseDevice("cuda:0"), 0);
  EXPECT_EQ(*ParseDevice("cuda:3"), 3);
  EXPECT_EQ(*ParseDevice("cuda:12"), 12);
  for (const char* bad : {"", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1a", "CUDA:0", "cuda0"}) {
    const Result<int> r = ParseDevice(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("cpu, cuda, cuda:N"), std::string::npos);
  }
}

TEST(CudaRunnerPlan, ParseDType) {
  EXPECT_EQ(*ParseActivationDType("bfloat16"), DType::kBF16);
  EXPECT_EQ(*ParseActivationDType("bf16"), DType::kBF16);
  EXPECT_EQ(*ParseActivationDType("float16"), DType::kF16);
  EXPECT_EQ(*ParseActivationDType("fp16"), DType::kF16);
  EXPECT_EQ(*ParseActivationDType("float32"), DType::kF32);
  EXPECT_EQ(*ParseActivationDType("fp32"), DType::kF32);
  for (const char* bad : {"", "int8", "Q4_K", "bfloat"}) {
    const Result<DType> r = ParseActivationDType(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("bfloat16, float16, float32"), std::string::npos);
  }
  EXPECT_EQ(ActivationDTypeName(DType::kBF16), "bfloat16");
  EXPECT_EQ(ActivationDTypeName(DType::kF32), "float32");
}

TEST(CudaRunnerPlan, GraphBuckets) {
  EXPECT_EQ(DecodeGraphBuckets(1), (std::vector<int>{1}));
  EXPECT_EQ(DecodeGraphBuckets(3), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(DecodeGraphBuckets(8), (std::vector<int>{1, 2, 4, 8}));
  EXPECT_EQ(DecodeGraphBuckets(20), (std::vector<int>{1, 2, 4, 8, 16, 20}));
  const std::vector<int> b = DecodeGraphBuckets(256);
  EXPECT_EQ(b.size(), 3u + 32u);
  EXPECT_EQ(b.back(), 256);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  EXPECT_EQ(ChooseGraphBucket(b, 0), 0);
  EXPECT_EQ(ChooseGraphBucket(b, 1), 1);
  EXPECT_EQ(ChooseGraphBucket(b, 3), 4);
  EXPECT_EQ(ChooseGraphBucket(b, 5), 8);
  EXPECT_EQ(ChooseGraphBucket(b, 9), 16);
  EXPECT_EQ(ChooseGraphBucket(b, 64), 64);
  EXPECT_EQ(ChooseGraphBucket(b, 65), 72);
  EXPECT_EQ(ChooseGraphBucket(b, 256), 256);
  EXPECT_EQ(ChooseGraphBucket(b, 257), 0);
  // Every count maps to the smallest bucket holding it.
  for (int n = 1; n <= 256; ++n) {
    const int c = ChooseGraphBucket(b, n);
    ASSERT_GE(c, n);
    for (int x : b) ASSERT_FALSE(x >= n && x < c) << n;
  }
}

TEST(CudaRunnerPlan, GraphsEnabled) {
  EXPECT_TRUE(CudaGraphsEnabled(true, nullptr));
  EXPECT_TRUE(CudaGraphsEnabled(true, "1"));
  EXPECT_FALSE(CudaGraphsEnabled(true, "0"));
  EXPECT_FALSE(CudaGraphsEnabled(true, "off"));
  EXPECT_FALSE(CudaGraphsEnabled(true, "false"));
  EXPECT_FALSE(CudaGraphsEnabled(false, nullptr));
  EXPECT_FALSE(CudaGraphsEnabled(false, "1"));
}

// Three decodes of lengths 5, 17, 33 (block size 16), blocks 7; 2, 9; 4, 5, 6.
StepPlan ThreeDecodes() {
  StepPlan p;
  p.num_seqs = 3;
  p.num_tokens = p.num_padded_tokens = 3;
  p.max_blocks_per_seq = 3;
  p.block_size = 16;
  p.num_decode_seqs = 3;
  p.max_query_len = 1;
  p.max_seq_len = 33;
  p.seq_ids = {10, 11, 12};
  p.token_ids = {101, 102, 103};
  p.positions = {4, 16, 32};
  p.slot_mapping = {7 * 16 + 4, 9 * 16 + 0, 6 * 16 + 0};
  p.query_start_loc = {0, 1, 2, 3};
  p.seq_lens = {5, 17, 33};
  p.block_tables = {7, -1, -1, 2, 9, -1, 4, 5, 6};
  p.logits_indices = {0, 1, 2};
  return p;
}

TEST(CudaRunnerPlan, PureDecode) {
  StepPlan p = ThreeDecodes();
  EXPECT_TRUE(IsPureDecode(p, 3));
  EXPECT_FALSE(IsPureDecode(p, 2));  // the block table does not fit the graph's width
  StepPlan prefill = p;
  prefill.num_decode_seqs = 2;
  EXPECT_FALSE(IsPureDecode(prefill, 8));
  StepPlan no_sample = p;
  no_sample.logits_indices.pop_back();
  EXPECT_FALSE(IsPureDecode(no_sample, 8));
  EXPECT_FALSE(IsPureDecode(StepPlan{}, 8));
}

TEST(CudaRunnerPlan, PadDecodePlan) {
  const StepPlan p = ThreeDecodes();
  const StepPlan q = PadDecodePlan(p, 4, 8);
  EXPECT_EQ(q.num_seqs, 4);
  EXPECT_EQ(q.num_tokens, 4);
  EXPECT_EQ(q.num_padded_tokens, 4);
  EXPECT_EQ(q.max_blocks_per_seq, 8);
  EXPECT_EQ(q.num_decode_seqs, 4);
  EXPECT_EQ(q.max_seq_len, 8 * 16);  // fixed: the attention plan depends on the bucket only
  EXPECT_EQ(q.max_query_len, 1);
  EXPECT_EQ(q.token_ids, (std::vector<int32_t>{101, 102, 103, 0}));
  EXPECT_EQ(q.positions, (std::vector<int32_t>{4, 16, 32, 0}));
  EXPECT_EQ(q.slot_mapping, (std::vector<int64_t>{7 * 16 + 4, 9 * 16, 6 * 16, -1}));
  // The padding sequence has no query token: attention skips it.
  EXPECT_EQ(q.query_start_loc, (std::vector<int32_t>{0, 1, 2, 3, 3}));
  EXPECT_EQ(q.seq_lens, (std::vector<int32_t>{5, 17, 33, 0}));
  EXPECT_EQ(q.logits_indices, (std::vector<int32_t>{0, 1, 2, 3}));
  // No host table: the runner stages only the three real rows' 3 used entries, 8 apart, into
  // the pinned buffer (here poisoned with -1: the padding row and the unused columns stay so).
  EXPECT_TRUE(q.block_tables.empty());
  const TableStaging padded = PlanTableStaging(p, q.max_blocks_per_seq);
  EXPECT_EQ(padded.rows, 3);
  EXPECT_EQ(padded.width, 3);
  EXPECT_EQ(padded.pitch, 8);
  EXPECT_EQ(padded.bytes(), 3 * 3 * 4);
  std::vector<int32_t> staged(4 * 8, -1);
  PackTableRows(p, padded, staged.data());
  const std::vector<int32_t> row0(staged.begin(), staged.begin() + 8);
  EXPECT_EQ(row0, (std::vector<int32_t>{7, -1, -1, -1, -1, -1, -1, -1}));
  const std::vector<int32_t> row2(staged.begin() + 16, staged.begin() + 24);
  EXPECT_EQ(row2, (std::vector<int32_t>{4, 5, 6, -1, -1, -1, -1, -1}));
  for (int i = 24; i < 32; ++i) EXPECT_EQ(staged[i], -1);
  const TableStaging eager = PlanTableStaging(p, p.max_blocks_per_seq);  // as it is
  EXPECT_EQ(eager.pitch, eager.width);
  EXPECT_EQ(eager.bytes(), static_cast<int64_t>(p.block_tables.size()) * 4);
  std::vector<int32_t> as_is(p.block_tables.size(), 0);
  PackTableRows(p, eager, as_is.data());
  EXPECT_EQ(as_is, p.block_tables);
  // 256 sequences of a 128k context (table width 8192) that use 64 blocks each: 64 KiB per step
  // instead of 8 MiB.
  StepPlan wide;
  wide.num_seqs = 256;
  wide.max_blocks_per_seq = 64;
  EXPECT_EQ(PlanTableStaging(wide, 8192).bytes(), 256 * 64 * 4);
  // Two steps of the same bucket give the same attention plan whatever their real count.
  attention::PagedAttentionArgs a, b;
  a.num_seqs = b.num_seqs = 4;
  a.num_heads = b.num_heads = 32;
  a.layout.num_kv_heads = b.layout.num_kv_heads = 8;
  a.layout.head_dim = b.layout.head_dim = 128;
  a.num_decode_seqs = q.num_decode_seqs;
  a.max_seq_len = q.max_seq_len;
  const StepPlan one = PadDecodePlan(
      [] {
        StepPlan s = ThreeDecodes();
        s.num_seqs = s.num_tokens = s.num_padded_tokens = s.num_decode_seqs = 1;
        s.token_ids.resize(1);
        s.positions.resize(1);
        s.slot_mapping.resize(1);
        s.query_start_loc = {0, 1};
        s.seq_lens.resize(1);
        s.block_tables.resize(3);
        s.logits_indices = {0};
        return s;
      }(),
      4, 8);
  b.num_decode_seqs = one.num_decode_seqs;
  b.max_seq_len = one.max_seq_len;
  EXPECT_EQ(attention::ToString(attention::PlanAttention(a, 132).decode),
            attention::ToString(attention::PlanAttention(b, 132).decode));
}

TEST(CudaRunnerPlan, ArenaAndLayouts) {
  ArenaLayout a;
  EXPECT_EQ(a.Add(1), 0);
  EXPECT_EQ(a.Add(256), 256);
  EXPECT_EQ(a.Add(0), 512);
  EXPECT_EQ(a.Add(257), 512);
  EXPECT_EQ(a.size(), 1024);

  const MetadataLayout m = PlanMetadata(2048, 256, 128, 1000);
  const std::vector<int64_t> offsets = {m.slot_mapping,    m.token_ids,      m.positions,
                                        m.query_start_loc, m.seq_lens,       m.logits_indices,
                                        m.sampling_params, m.sampling_steps, m.penalty_offsets,
                                        m.block_tables,    m.penalty_tokens, m.penalty_counts};
  for (size_t i = 0; i < offsets.size(); ++i) {
    EXPECT_EQ(offsets[i] % 256, 0);
    if (i > 0) {
      EXPECT_GT(offsets[i], offsets[i - 1]);
    }
  }
  EXPECT_GE(m.token_ids - m.slot_mapping, 2048 * 8);
  EXPECT_GE(m.penalty_tokens - m.block_tables, 256 * 128 * 4);
  EXPECT_GE(m.total_bytes, m.penalty_counts + 1000 * 4);
  EXPECT_EQ(SamplerOutputBytes(3), 3 * (2 + 2 * 20) * 4);

  model::DecoderSpec s;
  s.hidden = 576;
  s.num_heads = 9;
  s.num_kv_heads = 3;
  s.head_dim = 64;
  s.ffn = 1536;
  s.vocab = 49152;
  const ActivationLayout fused = PlanActivations(s, DType::kBF16, 2048, 256, true, true);
  EXPECT_GE(fused.qkv, 0);
  EXPECT_GE(fused.gate_up, 0);
  EXPECT_EQ(fused.gate, -1);
  EXPECT_EQ(fused.up, -1);
  EXPECT_NE(fused.logits_f32, fused.logits);  // bf16 logits converted into a float32 buffer
  EXPECT_GE(fused.total_bytes - fused.logits_f32, int64_t{256} * 49152 * 4);
  const ActivationLayout plain = PlanActivations(s, DType::kF32, 8, 4, false, false);
  EXPECT_EQ(plain.qkv, -1);
  EXPECT_EQ(plain.gate_up, -1);
  EXPECT_GE(plain.gate, 0);
  EXPECT_EQ(plain.logits_f32, plain.logits);  // float32: the LM head writes the sampler's input
  EXPECT_GE(plain.act - plain.up, 8 * 1536 * 4);
}

TEST(CudaRunnerPlan, AttentionWorkspaceBoundCoversEveryStep) {
  const int heads = 32, kv = 8, dim = 128, bs = 16, len = 8192, seqs = 64, sms = 132;
  const int64_t bound =
      AttentionWorkspaceBound(heads, kv, dim, len, seqs, 512, /*per_token=*/false, sms);
  EXPECT_GT(bound, 0);  // one sequence of 8192 tokens splits
  for (int n = 1; n <= seqs; ++n) {
    for (int decodes = 1; decodes <= n; decodes += 7) {
      attention::PagedAttentionArgs a;
      a.dtype = DType::kBF16;
      a.num_seqs = n;
      a.num_tokens = n;
      a.num_heads = heads;
      a.layout.num_kv_heads = kv;
      a.layout.head_dim = dim;
      a.layout.block_size = bs;
      a.num_decode_seqs = decodes;
      a.num_prefill_seqs = n - decodes;
      a.max_seq_len = len;
      a.max_query_len = 1;
      ASSERT_LE(attention::PlanAttention(a, sms).workspace_bytes, bound) << n << " " << decodes;
    }
  }
  // Steps shorter than the longest possible one: the split count is not monotone in the length
  // (Llama-3-8B heads, 20000-token limit: 63 splits at 20000, 64 at 16384), the bound still
  // holds for every length.
  for (const int limit : {20000, 40000, 131072}) {
    for (const int n : {1, 2, 3, 7, 64}) {
      const int64_t b = AttentionWorkspaceBound(heads, kv, dim, limit, n, 512, false, sms);
      for (int l = 1; l <= limit; l += (l < 20000 ? 1 : 97)) {
        attention::PagedAttentionArgs a;
        a.dtype = DType::kBF16;
        a.num_seqs = a.num_tokens = a.num_decode_seqs = n;
        a.num_heads = heads;
        a.layout.num_kv_heads = kv;
        a.layout.head_dim = dim;
        a.layout.block_size = bs;
        a.max_seq_len = l;
        a.max_query_len = 1;
        ASSERT_LE(attention::PlanAttention(a, sms).workspace_bytes, b)
            << "limit " << limit << ", " << n << " sequences, step max_seq_len " << l;
      }
    }
  }
  // Float32 prefill runs through the decode kernel per token: covered with per_token.
  const int64_t per_token = AttentionWorkspaceBound(heads, kv, dim, len, 4, 512, true, sms);
  attention::PagedAttentionArgs a;
  a.dtype = DType::kF32;
  a.num_seqs = 1;
  a.num_tokens = 3;
  a.num_heads = heads;
  a.layout.num_kv_heads = kv;
  a.layout.head_dim = dim;
  a.num_prefill_seqs = 1;
  a.max_query_len = 3;
  a.max_seq_len = len;
  EXPECT_LE(attention::PlanAttention(a, sms).workspace_bytes, per_token);
}

// Block sizes: the tensor-core prefill (bf16 / fp16, head_dim 64 / 128) takes 16 only; the decode
// kernel (also the per-token prefill of float32 and small heads) any power of two. A size the
// kernels lack is refused at Create, not at the first prompt.
TEST(CudaRunnerPlan, GpuBlockSizes) {
  EXPECT_TRUE(CheckGpuBlockSize(16, 128, DType::kBF16).ok());
  EXPECT_TRUE(CheckGpuBlockSize(16, 64, DType::kF16).ok());
  EXPECT_TRUE(CheckGpuBlockSize(32, 128, DType::kF32).ok());
  EXPECT_TRUE(CheckGpuBlockSize(8, 8, DType::kBF16).ok());
  EXPECT_TRUE(CheckGpuBlockSize(64, 32, DType::kF16).ok());
  const Status tc = CheckGpuBlockSize(32, 128, DType::kBF16);
  EXPECT_EQ(tc.code(), StatusCode::kUnimplemented);
  EXPECT_NE(tc.message().find("--block-size 32"), std::string::npos) << tc.ToString();
  EXPECT_NE(tc.message().find("16: the tensor-core prefill"), std::string::npos) << tc.ToString();
  for (int bs : {0, -16, 12, 24, 48}) {
    const Status s = CheckGpuBlockSize(bs, 64, DType::kF32);
    EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << bs;
    EXPECT_NE(s.message().find("a power of two"), std::string::npos) << s.ToString();
  }
}

// The head sizes the CUDA runner accepts: the decode kernel's (stories260K's 8, the tiny HF
// models' 16 and 32, real models' 64 and 128); others are refused at Create with the list.
TEST(CudaRunnerPlan, GpuHeadDims) {
  for (int d : {8, 16, 32, 64, 128}) {
    const Status s = CheckGpuHeadDim(d);
    EXPECT_TRUE(s.ok()) << d << ": " << s.ToString();
  }
  for (int d : {0, 7, 12, 24, 80, 96, 256}) {
    const Status s = CheckGpuHeadDim(d);
    EXPECT_EQ(s.code(), StatusCode::kUnimplemented) << d;
    EXPECT_NE(s.message().find("head_dim " + std::to_string(d) + " has no GPU attention kernel"),
              std::string::npos)
        << s.ToString();
    EXPECT_NE(s.message().find("(8, 16, 32, 64, 128)"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("--device cpu"), std::string::npos) << s.ToString();
  }
  // Only 64 and 128 prefill on tensor cores; the smaller sizes take the per-token path.
  for (int d : {8, 16, 32}) EXPECT_FALSE(attention::PrefillHeadDimOnTensorCores(d)) << d;
  for (int d : {64, 128}) EXPECT_TRUE(attention::PrefillHeadDimOnTensorCores(d)) << d;
}

// stories260K (head_dim 8, 8 heads on 4 kv heads, 512 tokens): the workspace bound covers its
// per-token prefill steps in every dtype (no tensor-core prefill at head_dim 8).
TEST(CudaRunnerPlan, AttentionWorkspaceBoundStories260K) {
  const int heads = 8, kv = 4, dim = 8, bs = 16, len = 512, sms = 132, tokens = 512;
  const int64_t bound = AttentionWorkspaceBound(heads, kv, dim, len, 8, tokens, true, sms);
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    for (int n : {1, 2, 17, 256, 512}) {
      attention::PagedAttentionArgs a;
      a.dtype = dtype;
      a.num_seqs = 1;
      a.num_tokens = n;
      a.num_heads = heads;
      a.layout.num_kv_heads = kv;
      a.layout.head_dim = dim;
      a.layout.block_size = bs;
      a.num_prefill_seqs = n > 1 ? 1 : 0;
      a.num_decode_seqs = n > 1 ? 0 : 1;
      a.max_query_len = n;
      a.max_seq_len = len;
      const attention::AttentionLaunchPlan p = attention::PlanAttention(a, sms);
      if (n > 1) {
        EXPECT_EQ(p.kernels.prefill, attention::PrefillKind::kPerToken) << n;
      }
      EXPECT_LE(p.workspace_bytes, bound) << n;
    }
  }
}

TEST(CudaRunnerPlan, KvBlocksFromBudget) {
  GpuMemoryBudget b;
  b.total_bytes = int64_t{80} << 30;
  b.free_bytes = int64_t{79} << 30;
  b.fraction = 0.5;
  b.weights_bytes = int64_t{16} << 30;
  b.workspace_bytes = int64_t{2} << 30;
  b.reserve_bytes = int64_t{1} << 30;
  b.kv_bytes_per_block = int64_t{2} << 20;
  b.min_blocks = 128;
  // (40 - 19) GiB of 2 MiB blocks.
  EXPECT_EQ(*KvBlocksFromBudget(b), (int64_t{21} << 30) / (int64_t{2} << 20));
  // Free memory caps the fraction.
  b.fraction = 0.9;
  b.free_bytes = int64_t{30} << 30;
  EXPECT_EQ(*KvBlocksFromBudget(b), (int64_t{11} << 30) / (int64_t{2} << 20));
  // An explicit size wins.
  b.explicit_kv_bytes = int64_t{1} << 30;
  EXPECT_EQ(*KvBlocksFromBudget(b), 512);
  b.explicit_kv_bytes = int64_t{20} << 30;  // 19 + 20 > 30 free
  Result<int64_t> r = KvBlocksFromBudget(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  b.explicit_kv_bytes = 0;
  // Does not fit: the message names needed and available bytes and the terms.
  b.weights_bytes = int64_t{40} << 30;
  r = KvBlocksFromBudget(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("does not fit"), std::string::npos) << m;
  EXPECT_NE(m.find("needs 43.25 GiB"), std::string::npos) << m;  // 40 + 2 + 1 + 0.25
  EXPECT_NE(m.find("available 30.00 GiB"), std::string::npos) << m;
  EXPECT_NE(m.find("weights 40.00 GiB"), std::string::npos) << m;
  b.fraction = 0;
  EXPECT_EQ(KvBlocksFromBudget(b).status().code(), StatusCode::kInvalidArgument);
  b.fraction = 1.5;
  EXPECT_EQ(KvBlocksFromBudget(b).status().code(), StatusCode::kInvalidArgument);
}

TEST(CudaRunnerPlan, DeviceWeightTypesAndFusion) {
  EXPECT_EQ(DeviceWeightType(DType::kF32, DType::kBF16), DType::kBF16);
  EXPECT_EQ(DeviceWeightType(DType::kF16, DType::kBF16), DType::kBF16);
  EXPECT_EQ(DeviceWeightType(DType::kBF16, DType::kF32), DType::kF32);
  EXPECT_EQ(DeviceWeightType(DType::kQ4_K, DType::kBF16), DType::kQ4_K);
  EXPECT_TRUE(CanFuse({DType::kF32, DType::kBF16, DType::kF16}, DType::kBF16));
  EXPECT_TRUE(CanFuse({DType::kQ4_K, DType::kQ4_K, DType::kQ4_K}, DType::kBF16));
  EXPECT_FALSE(CanFuse({DType::kQ4_K, DType::kQ4_K, DType::kQ6_K}, DType::kBF16));
  EXPECT_FALSE(CanFuse({DType::kQ8_0, DType::kBF16}, DType::kBF16));
  EXPECT_FALSE(CanFuse({}, DType::kBF16));
}

struct LoadedPlan {
  std::unique_ptr<LoadedModel> model;
  model::DecoderSpec spec;
  model::DeviceWeightPlan plan;
};

LoadedPlan PlanFor(const std::string& relative, DType act, bool fuse = true,
                   bool dequant_copies = false) {
  LoadedPlan p;
  Result<std::unique_ptr<LoadedModel>> m = LoadModel(hearth::testing::TestDataPath(relative));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return p;
  p.model = std::move(*m);
  Result<model::DecoderSpec> s =
      model::DecoderSpecFromConfig(p.model->config(), p.model->weights());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  p.spec = *s;
  Result<model::DeviceWeightPlan> plan =
      model::PlanDeviceWeights(p.model->weights(), p.spec, act, fuse, dequant_copies);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  if (plan.ok()) p.plan = std::move(*plan);
  return p;
}

// Offsets aligned, tensors disjoint and inside the arena, sizes those of their type and shape.
void ExpectWellFormed(const model::DeviceWeightPlan& plan) {
  std::set<int64_t> starts;
  int64_t end = 0;
  for (const model::DeviceTensor& t : plan.tensors) {
    EXPECT_EQ(t.offset % 256, 0) << t.name;
    EXPECT_GE(t.offset, end) << t.name << " overlaps the previous tensor";
    EXPECT_EQ(t.bytes, *DTypeBytes(t.type, t.rows * t.cols)) << t.name;
    end = t.offset + t.bytes;
    EXPECT_TRUE(starts.insert(t.offset).second) << t.name;
  }
  EXPECT_LE(end, plan.total_bytes);
}

TEST(DeviceWeightPlan, Stories260KFusedBf16) {
  const LoadedPlan p = PlanFor("stories260K/stories260K.gguf", DType::kBF16);
  ASSERT_EQ(p.plan.layers.size(), 5u);
  ExpectWellFormed(p.plan);
  EXPECT_TRUE(p.plan.fused_qkv);
  EXPECT_TRUE(p.plan.fused_gate_up);
  EXPECT_EQ(p.plan.max_dequant_elems, 0);  // all float: no dequantize scratch
  const auto& t = p.plan.tensors;
  const auto& l0 = p.plan.layers[0];
  EXPECT_EQ(l0.wq, -1);
  ASSERT_GE(l0.wqkv, 0);
  EXPECT_EQ(t[l0.wqkv].rows, 64 + 2 * 32);
  EXPECT_EQ(t[l0.wqkv].cols, 64);
  EXPECT_EQ(t[l0.wqkv].type, DType::kBF16);
  EXPECT_EQ(t[l0.wqkv].parts.size(), 3u);
  EXPECT_EQ(t[l0.w_gate_up].rows, 2 * 172);
  EXPECT_EQ(t[l0.attn_norm].type, DType::kF32);
  EXPECT_EQ(p.plan.lm_head, p.plan.embed);  // tied, float: shared
  // Bound views: the fused weight set, the parts empty.
  static const uint8_t base[1] = {};
  const model::DecoderWeights w = model::BindDeviceWeights(p.plan, p.spec, base);
  EXPECT_EQ(w.layers[0].wq.data, nullptr);
  EXPECT_EQ(w.layers[0].wqkv.data, base + t[l0.wqkv].offset);
  EXPECT_EQ(w.layers[0].wqkv.n, 128);
  EXPECT_EQ(w.layers[4].w_gate_up.n, 344);
  EXPECT_EQ(w.lm_head.data, w.embed.data);
}

TEST(DeviceWeightPlan, UnfusedKeepsParts) {
  const LoadedPlan p = PlanFor("stories260K/stories260K.gguf", DType::kF32, /*fuse=*/false);
  ExpectWellFormed(p.plan);
  EXPECT_FALSE(p.plan.fused_qkv);
  EXPECT_FALSE(p.plan.fused_gate_up);
  static const uint8_t base[1] = {};
  const model::DecoderWeights w = model::BindDeviceWeights(p.plan, p.spec, base);
  EXPECT_EQ(w.layers[0].wqkv.data, nullptr);
  EXPECT_EQ(w.layers[0].w_gate_up.data, nullptr);
  EXPECT_NE(w.layers[0].wq.data, nullptr);
  EXPECT_EQ(w.layers[0].wq.type, DType::kF32);
  EXPECT_EQ(w.layers[0].wk.n, 32);
}

TEST(DeviceWeightPlan, Qwen2BiasFusedInActivationDType) {
  const LoadedPlan p = PlanFor("tiny-qwen2", DType::kF16);
  ExpectWellFormed(p.plan);
  ASSERT_TRUE(p.plan.fused_qkv);
  const auto& l = p.plan.layers[1];
  ASSERT_GE(l.bqkv, 0);
  EXPECT_EQ(p.plan.tensors[l.bqkv].type, DType::kF16);  // GpuMatmul's bias is the act dtype
  EXPECT_EQ(p.plan.tensors[l.bqkv].cols, 64 + 2 * 32);
  EXPECT_EQ(l.bq, -1);
}

TEST(DeviceWeightPlan, Qwen3UntiedWithQkNorm) {
  const LoadedPlan p = PlanFor("tiny-qwen3", DType::kBF16);
  ExpectWellFormed(p.plan);
  EXPECT_NE(p.plan.lm_head, p.plan.embed);
  EXPECT_GE(p.plan.layers[0].q_norm, 0);
  EXPECT_EQ(p.plan.tensors[p.plan.layers[0].k_norm].type, DType::kF32);
}

TEST(DeviceWeightPlan, QuantizedGgufKeepsBlocks) {
  for (const char* file : {"tiny-random-llama/tiny-random-llama-Q8_0.gguf",
                           "tiny-random-llama/tiny-random-llama-Q4_K_M.gguf"}) {
    SCOPED_TRACE(file);
    const LoadedPlan p = PlanFor(file, DType::kBF16);
    ExpectWellFormed(p.plan);
    const auto& t = p.plan.tensors;
    // The embedding table is in the activation dtype (the lookup reads float types).
    EXPECT_EQ(t[p.plan.embed].type, DType::kBF16);
    const model::DeviceTensor& down = t[p.plan.layers[0].w_down];
    EXPECT_TRUE(GetDTypeInfo(down.type).quantized);
    EXPECT_EQ(down.type, p.model->weights().Find("layers.0.w_down")->dtype);
    EXPECT_GT(p.plan.max_dequant_elems, 0);
    // Fusion exactly when the parts share a type.
    const Weights& w = p.model->weights();
    const bool same = w.Find("layers.0.wq")->dtype == w.Find("layers.0.wk")->dtype &&
                      w.Find("layers.0.wq")->dtype == w.Find("layers.0.wv")->dtype;
    if (!same) {
      EXPECT_FALSE(p.plan.fused_qkv);
    }
    if (p.plan.fused_qkv) {
      const model::DeviceTensor& qkv = t[p.plan.layers[0].wqkv];
      EXPECT_EQ(qkv.type, w.Find("layers.0.wq")->dtype);
      EXPECT_EQ(qkv.bytes,
                static_cast<int64_t>(w.Find("layers.0.wq")->nbytes + w.Find("layers.0.wk")->nbytes +
                                     w.Find("layers.0.wv")->nbytes));
    }
  }
}

// --gpu-dequant-weights: every quantized matrix gets a copy in the activation dtype, its own
// 256-byte-aligned range of the arena; nothing else does; no per-step dequantize scratch is
// left; float32 activations (GEMVs only) get none.
TEST(DeviceWeightPlan, DequantCopiesOfEveryQuantizedMatrix) {
  for (const char* file : {"tiny-random-llama/tiny-random-llama-Q8_0.gguf",
                           "tiny-random-llama/tiny-random-llama-Q4_K_M.gguf"}) {
    SCOPED_TRACE(file);
    const LoadedPlan base = PlanFor(file, DType::kBF16);
    const LoadedPlan p = PlanFor(file, DType::kBF16, true, /*dequant_copies=*/true);
    ExpectWellFormed(p.plan);
    EXPECT_EQ(base.plan.dense_bytes, 0);
    EXPECT_GT(base.plan.max_dequant_elems, 0);
    EXPECT_EQ(p.plan.max_dequant_elems, 0);
    ASSERT_EQ(p.plan.tensors.size(), base.plan.tensors.size());
    std::vector<std::pair<int64_t, int64_t>> ranges;  // [begin, end) of every tensor and copy
    int64_t dense = 0;
    int copies = 0;
    for (const model::DeviceTensor& t : p.plan.tensors) {
      ranges.emplace_back(t.offset, t.offset + t.bytes);
      if (!GetDTypeInfo(t.type).quantized) {
        EXPECT_EQ(t.dense_offset, -1) << t.name;
        continue;
      }
      ++copies;
      EXPECT_EQ(t.dense_offset % 256, 0) << t.name;
      EXPECT_EQ(t.dense_bytes, t.rows * t.cols * 2) << t.name;
      ranges.emplace_back(t.dense_offset, t.dense_offset + t.dense_bytes);
      dense += t.dense_bytes;
    }
    EXPECT_GT(copies, 0);
    EXPECT_EQ(p.plan.dense_bytes, dense);
    EXPECT_GE(p.plan.total_bytes, base.plan.total_bytes + dense);
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
      EXPECT_LE(ranges[i - 1].second, ranges[i].first) << "overlap at " << ranges[i].first;
    }
    EXPECT_LE(ranges.back().second, p.plan.total_bytes);
    // Bound into the decoder's weights: the copy beside the blocks.
    static const uint8_t kBase[1] = {};
    const model::DecoderWeights d = model::BindDeviceWeights(p.plan, p.spec, kBase);
    const model::DeviceTensor& down = p.plan.tensors[p.plan.layers[0].w_down];
    EXPECT_EQ(d.layers[0].w_down.dense, kBase + down.dense_offset);
    EXPECT_EQ(d.embed.dense, nullptr);
    // float32 activations run the GEMVs only: no copies.
    const LoadedPlan f32 = PlanFor(file, DType::kF32, true, /*dequant_copies=*/true);
    EXPECT_EQ(f32.plan.dense_bytes, 0);
    EXPECT_EQ(f32.plan.total_bytes, PlanFor(file, DType::kF32).plan.total_bytes);
  }
}

TEST(DeviceWeightPlan, GpuMatmulPreflight) {
  // stories260K's w_down has k = 172: float32 runs it on the scalar GEMV (no 8-element groups).
  const LoadedPlan f32 = PlanFor("stories260K/stories260K.gguf", DType::kF32);
  const Status f32_ok = model::CheckGpuMatmuls(f32.plan, DType::kF32, 512);
  EXPECT_TRUE(f32_ok.ok()) << f32_ok.ToString();
  // A weight no kernel takes (Q4_K rows of 172 elements are not whole 256-element blocks) is
  // named in the error.
  model::DeviceWeightPlan bad = f32.plan;
  ASSERT_GE(bad.layers.size(), 1u);
  bad.tensors[bad.layers[0].w_down].type = DType::kQ4_K;
  const Status s = model::CheckGpuMatmuls(bad, DType::kF32, 512);
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("w_down"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("kernel unsupported"), std::string::npos) << s.ToString();
  // bf16 runs it on cuBLASLt.
  const LoadedPlan bf16 = PlanFor("stories260K/stories260K.gguf", DType::kBF16);
  EXPECT_TRUE(model::CheckGpuMatmuls(bf16.plan, DType::kBF16, 512).ok());
  for (const char* name : {"tiny-qwen2", "tiny-qwen3", "tiny-llama3"}) {
    const LoadedPlan p = PlanFor(name, DType::kF32);
    EXPECT_TRUE(model::CheckGpuMatmuls(p.plan, DType::kF32, 512).ok()) << name;
  }
  const LoadedPlan q = PlanFor("tiny-random-llama/tiny-random-llama-Q4_K_M.gguf", DType::kBF16);
  const Status qs = model::CheckGpuMatmuls(q.plan, DType::kBF16, 2048);
  EXPECT_TRUE(qs.ok()) << qs.ToString();
}

TEST(DeviceWeightPlan, MissingWeightNamed) {
  Weights empty;
  model::DecoderSpec s;
  s.hidden = 8;
  s.vocab = 4;
  const Result<model::DeviceWeightPlan> r = model::PlanDeviceWeights(empty, s, DType::kBF16);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("embed"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace hearth::engine
