// The pure planning functions of the CUDA attention (no GPU needed).
#include "kernels/attention/attention_plan.h"

#include <gtest/gtest.h>

#include "kernels/attention/attention.h"

namespace hearth::attention {
namespace {

constexpr int kH100Sms = 132;

TEST(PlanDecode, FullBatchIsSinglePass) {
  const DecodePlan p = PlanDecode(256, 8, 4096, kH100Sms);
  EXPECT_EQ(p.kind, DecodeKind::kSinglePass);
  EXPECT_EQ(p.num_splits, 1);
  EXPECT_GE(p.tokens_per_split, 4096);
}

TEST(PlanDecode, ShortContextsNeverSplit) {
  const DecodePlan p = PlanDecode(1, 8, 2 * kDecodeMinTokensPerSplit - 1, kH100Sms);
  EXPECT_EQ(p.kind, DecodeKind::kSinglePass);
}

TEST(PlanDecode, SmallBatchLongContextSplits) {
  const DecodePlan p = PlanDecode(1, 8, 32768, kH100Sms);
  EXPECT_EQ(p.kind, DecodeKind::kSplitKv);
  EXPECT_GT(p.num_splits, 8);
  EXPECT_LE(p.num_splits, kDecodeMaxSplits);
}

TEST(PlanDecode, Llama3Batch64Context4k) {
  const DecodePlan p = PlanDecode(64, 8, 4096, kH100Sms);
  EXPECT_EQ(p.kind, DecodeKind::kSplitKv);
  EXPECT_EQ(p.num_splits, 3);
  EXPECT_EQ(p.tokens_per_split, 1376);
}

TEST(PlanDecode, InvariantsOverAGrid) {
  for (int seqs : {1, 2, 7, 64, 300}) {
    for (int kvh : {1, 2, 8, 32}) {
      for (int len : {1, 15, 16, 17, 511, 512, 1000, 4096, 32768, 100000}) {
        for (int sms : {0, 1, 108, 132}) {
          const DecodePlan p = PlanDecode(seqs, kvh, len, sms);
          SCOPED_TRACE(ToString(p));
          EXPECT_EQ(p.tokens_per_split % 16, 0);
          EXPECT_GE(int64_t{p.num_splits} * p.tokens_per_split, len);
          EXPECT_LE(p.num_splits, kDecodeMaxSplits);
          EXPECT_EQ(p.kind == DecodeKind::kSplitKv, p.num_splits > 1);
          if (p.num_splits > 1) {
            EXPECT_LT(int64_t{p.num_splits - 1} * p.tokens_per_split, len) << "empty last split";
            EXPECT_GE(p.tokens_per_split, kDecodeMinTokensPerSplit);
          }
        }
      }
    }
  }
}

TEST(DecodeWorkspace, SizedPerSplitAndHead) {
  DecodePlan p;
  EXPECT_EQ(DecodeWorkspaceBytes(p, 64, 32, 128), 0);
  p.kind = DecodeKind::kSplitKv;
  p.num_splits = 3;
  EXPECT_EQ(DecodeWorkspaceBytes(p, 64, 32, 128), int64_t{64} * 32 * 3 * 129 * 4);
}

TEST(SelectStepKernels, ByBatchComposition) {
  StepKernels k = SelectStepKernels(DType::kBF16, 5, 0);
  EXPECT_TRUE(k.decode);
  EXPECT_EQ(k.prefill, PrefillKind::kNone);
  k = SelectStepKernels(DType::kBF16, 0, 2);
  EXPECT_FALSE(k.decode);
  EXPECT_EQ(k.prefill, PrefillKind::kTensorCore);
  k = SelectStepKernels(DType::kF16, 3, 2);
  EXPECT_TRUE(k.decode);
  EXPECT_EQ(k.prefill, PrefillKind::kTensorCore);
  EXPECT_EQ(k.prefill_kernel, PrefillKernel::kWgmma);
  EXPECT_EQ(ToString(k), "decode+prefill-wgmma");
  k = SelectStepKernels(DType::kF16, 3, 2, 128, 4, 90, PrefillKernel::kMmaSync);
  EXPECT_EQ(k.prefill_kernel, PrefillKernel::kMmaSync);
  EXPECT_EQ(ToString(k), "decode+prefill-tc");
  k = SelectStepKernels(DType::kF32, 3, 2);  // no fp32 tensor-core prefill: per-token covers all
  EXPECT_FALSE(k.decode);
  EXPECT_EQ(k.prefill, PrefillKind::kPerToken);
  k = SelectStepKernels(DType::kF32, 3, 0);
  EXPECT_TRUE(k.decode);
  EXPECT_EQ(k.prefill, PrefillKind::kNone);
  EXPECT_EQ(ToString(SelectStepKernels(DType::kBF16, 0, 0)), "none");
}

TEST(HeadDims, DecodeKernelSizes) {
  for (int d : {8, 16, 32, 64, 128}) EXPECT_TRUE(DecodeHeadDimSupported(d)) << d;
  for (int d : {-8, 0, 4, 7, 12, 24, 48, 80, 96, 256}) EXPECT_FALSE(DecodeHeadDimSupported(d)) << d;
  EXPECT_EQ(DecodeHeadDimsString(), "8, 16, 32, 64, 128");
  for (int d : kDecodeHeadDims) {
    // Every size is a whole number of 8-element lanes that tile a warp (the kernel's
    // static_assert), so the kernel's 16-byte loads of q and K/V rows stay aligned.
    EXPECT_EQ(d % 8, 0) << d;
    EXPECT_EQ(32 % (d / 8), 0) << d;
    EXPECT_EQ(PrefillHeadDimOnTensorCores(d), d == 64 || d == 128) << d;
  }
}

// The tiny validation models (stories260K: head_dim 8, group 2; tiny HF models: 16 / 32): decode
// steps run the decode kernel in every dtype, any step with a prefill runs per token.
TEST(SelectStepKernels, SmallHeadsPrefillPerToken) {
  for (int d : {8, 16, 32}) {
    for (DType t : {DType::kBF16, DType::kF16, DType::kF32}) {
      StepKernels k = SelectStepKernels(t, 4, 0, d, 2, 90);
      EXPECT_TRUE(k.decode);
      EXPECT_EQ(k.prefill, PrefillKind::kNone);
      k = SelectStepKernels(t, 4, 1, d, 2, 90);
      EXPECT_FALSE(k.decode);
      EXPECT_EQ(k.prefill, PrefillKind::kPerToken) << d;
      k = SelectStepKernels(t, 0, 1, d, 2, 90, PrefillKernel::kWgmma);
      EXPECT_EQ(k.prefill, PrefillKind::kPerToken) << d;
    }
  }
}

TEST(SelectPrefillKernel, WgmmaWhereItRuns) {
  // Llama-3-8B, Llama-2-7B, SmolLM2-135M (group 3, head_dim 64), a group of 128.
  EXPECT_EQ(SelectPrefillKernel(128, 4, 90), PrefillKernel::kWgmma);
  EXPECT_EQ(SelectPrefillKernel(128, 1, 90), PrefillKernel::kWgmma);
  EXPECT_EQ(SelectPrefillKernel(64, 3, 90), PrefillKernel::kWgmma);
  EXPECT_EQ(SelectPrefillKernel(64, kPrefillWgmmaRowsPerCta, 90), PrefillKernel::kWgmma);
  // Not Hopper, other head_dims, too large a group: the mma.sync kernel (which reports what it
  // cannot run).
  EXPECT_EQ(SelectPrefillKernel(128, 4, 80), PrefillKernel::kMmaSync);
  EXPECT_EQ(SelectPrefillKernel(128, 4, 89), PrefillKernel::kMmaSync);
  EXPECT_EQ(SelectPrefillKernel(128, 4, 100), PrefillKernel::kMmaSync);
  EXPECT_EQ(SelectPrefillKernel(96, 4, 90), PrefillKernel::kMmaSync);
  EXPECT_EQ(SelectPrefillKernel(256, 4, 90), PrefillKernel::kMmaSync);
  EXPECT_EQ(SelectPrefillKernel(128, kPrefillWgmmaRowsPerCta + 1, 90), PrefillKernel::kMmaSync);
  EXPECT_EQ(SelectPrefillKernel(128, 0, 90), PrefillKernel::kMmaSync);
}

TEST(SelectPrefillKernel, RequestsAreHonouredWhereTheyRun) {
  EXPECT_EQ(SelectPrefillKernel(128, 4, 90, PrefillKernel::kMmaSync), PrefillKernel::kMmaSync);
  EXPECT_EQ(SelectPrefillKernel(128, 4, 90, PrefillKernel::kWgmma), PrefillKernel::kWgmma);
  EXPECT_EQ(SelectPrefillKernel(128, 4, 90, PrefillKernel::kAuto), PrefillKernel::kWgmma);
  EXPECT_EQ(SelectPrefillKernel(128, 4, 80, PrefillKernel::kWgmma), PrefillKernel::kMmaSync);
  EXPECT_EQ(SelectPrefillKernel(96, 4, 90, PrefillKernel::kWgmma), PrefillKernel::kMmaSync);
  // Never kAuto out.
  for (int cc : {80, 89, 90, 100}) {
    for (int d : {64, 96, 128}) {
      for (PrefillKernel r :
           {PrefillKernel::kAuto, PrefillKernel::kMmaSync, PrefillKernel::kWgmma}) {
        EXPECT_NE(SelectPrefillKernel(d, 4, cc, r), PrefillKernel::kAuto) << cc << " " << d;
      }
    }
  }
}

TEST(ParsePrefillKernel, NamesRoundTrip) {
  for (PrefillKernel k : {PrefillKernel::kAuto, PrefillKernel::kMmaSync, PrefillKernel::kWgmma}) {
    Result<PrefillKernel> r = ParsePrefillKernel(PrefillKernelName(k));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, k);
  }
  Result<PrefillKernel> empty = ParsePrefillKernel("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, PrefillKernel::kAuto);
  Result<PrefillKernel> bad = ParsePrefillKernel("new");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("mma_sync, wgmma"), std::string::npos)
      << bad.status().ToString();
}

TEST(PlanAttention, PrefillKernelRequest) {
  PagedAttentionArgs a;
  a.dtype = DType::kBF16;
  a.num_heads = 32;
  a.layout.num_kv_heads = 8;
  a.layout.head_dim = 128;
  a.num_seqs = 1;
  a.num_tokens = 4096;
  a.num_prefill_seqs = 1;
  a.max_query_len = 4096;
  a.max_seq_len = 4096;
  EXPECT_EQ(PlanAttention(a, kH100Sms, 90, PrefillKernel::kMmaSync).kernels.prefill_kernel,
            PrefillKernel::kMmaSync);
  EXPECT_EQ(PlanAttention(a, kH100Sms, 90, PrefillKernel::kWgmma).kernels.prefill_kernel,
            PrefillKernel::kWgmma);
  EXPECT_EQ(PlanAttention(a, kH100Sms, 80, PrefillKernel::kWgmma).kernels.prefill_kernel,
            PrefillKernel::kMmaSync);
}

TEST(PlanAttention, WorkspaceFollowsTheKernels) {
  PagedAttentionArgs a;
  a.dtype = DType::kBF16;
  a.num_heads = 32;
  a.layout.num_kv_heads = 8;
  a.layout.head_dim = 128;
  a.num_seqs = 3;
  a.num_tokens = 3;
  a.num_decode_seqs = 3;
  a.max_query_len = 1;
  a.max_seq_len = 32768;
  AttentionLaunchPlan p = PlanAttention(a, kH100Sms);
  EXPECT_TRUE(p.kernels.decode);
  EXPECT_EQ(p.decode.kind, DecodeKind::kSplitKv);
  EXPECT_EQ(p.workspace_bytes, DecodeWorkspaceBytes(p.decode, 3, 32, 128));

  a.dtype = DType::kF32;
  a.num_decode_seqs = 1;
  a.num_prefill_seqs = 2;
  a.num_tokens = 1 + 2 * 100;
  a.max_query_len = 100;
  p = PlanAttention(a, kH100Sms);
  EXPECT_EQ(p.kernels.prefill, PrefillKind::kPerToken);
  EXPECT_EQ(p.workspace_bytes, DecodeWorkspaceBytes(p.decode, a.num_tokens, 32, 128));
}

TEST(LaunchGeometry, DecodeHeadsPerCtaDividesTheGroup) {
  EXPECT_EQ(DecodeHeadsPerCta(1), 1);
  EXPECT_EQ(DecodeHeadsPerCta(3), 1);  // SmolLM2-135M: 9 heads over 3 kv heads
  EXPECT_EQ(DecodeHeadsPerCta(4), 4);  // Llama-3-8B
  EXPECT_EQ(DecodeHeadsPerCta(6), 2);
  EXPECT_EQ(DecodeHeadsPerCta(7), 1);  // Qwen2-0.5B
  EXPECT_EQ(DecodeHeadsPerCta(8), 8);
  EXPECT_EQ(DecodeHeadsPerCta(16), 8);
  for (int g = 1; g <= 64; ++g) EXPECT_EQ(g % DecodeHeadsPerCta(g), 0) << g;
}

TEST(LaunchGeometry, DecodeGridCoversEveryHead) {
  const Grid3 g = DecodeGrid(64, 8, 4, 3);
  EXPECT_EQ(g.x, 64);
  EXPECT_EQ(g.y, 8);  // one chunk of 4 heads per kv head
  EXPECT_EQ(g.z, 3);
  const Grid3 h = DecodeGrid(5, 2, 7, 1);
  EXPECT_EQ(h.y * DecodeHeadsPerCta(7), 2 * 7);
}

TEST(LaunchGeometry, PrefillGridCoversTheLongestChunk) {
  EXPECT_EQ(PrefillTokensPerCta(1), 64);
  EXPECT_EQ(PrefillTokensPerCta(4), 16);
  EXPECT_EQ(PrefillTokensPerCta(3), 21);
  EXPECT_EQ(PrefillTokensPerCta(65), 0);
  Grid3 g = PrefillGrid(4096, 4, 8, 1);
  EXPECT_EQ(g.x, 256);
  EXPECT_EQ(g.y, 8);
  EXPECT_EQ(g.z, 1);
  g = PrefillGrid(100, 3, 2, 5);
  EXPECT_EQ(g.x, 5);  // ceil(100 / 21)
  EXPECT_GE(g.x * PrefillTokensPerCta(3), 100);
  EXPECT_EQ(PrefillGrid(0, 4, 8, 3).x, 0);
}

TEST(LaunchGeometry, WgmmaPrefillGridHolds128Rows) {
  constexpr int kRows = kPrefillWgmmaRowsPerCta;
  EXPECT_EQ(PrefillTokensPerCta(1, kRows), 128);
  EXPECT_EQ(PrefillTokensPerCta(4, kRows), 32);
  EXPECT_EQ(PrefillTokensPerCta(3, kRows), 42);
  EXPECT_EQ(PrefillTokensPerCta(128, kRows), 1);
  EXPECT_EQ(PrefillTokensPerCta(129, kRows), 0);
  Grid3 g = PrefillGrid(4096, 4, 8, 1, kRows);
  EXPECT_EQ(g.x, 128);
  EXPECT_EQ(g.y, 8);
  EXPECT_EQ(g.z, 1);
  for (int group : {1, 2, 3, 4, 5, 7, 8, 16, 64, 128}) {
    for (int q : {2, 31, 32, 33, 1000, 4096}) {
      g = PrefillGrid(q, group, 2, 3, kRows);
      EXPECT_GE(g.x * PrefillTokensPerCta(group, kRows), q) << group << " " << q;
      EXPECT_LT((g.x - 1) * PrefillTokensPerCta(group, kRows), q) << group << " " << q;
      EXPECT_LE(PrefillTokensPerCta(group, kRows) * group, kRows);
    }
  }
}

}  // namespace
}  // namespace hearth::attention
