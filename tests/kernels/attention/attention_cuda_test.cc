// The CUDA paged attention against the CPU attention (run on the same dtype-rounded inputs):
// decode (single-pass and split-KV), tensor-core prefill, mixed steps, the fp32 per-token path,
// long contexts. Outputs are poisoned first; unowned cache slots hold NaN; NaN never passes.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_cpu.h"
#include "kernels/core/half.h"
#include "tests/kernels/attention/paged_case.h"
#include "tests/support/test_support.h"

namespace hearth::attention {
namespace {

using testing::MakePagedCase;
using testing::PagedCase;
using testing::SeqSpec;

#define ASSERT_CUDA(stmt)                                                                \
  do {                                                                                   \
    const cudaError_t err_ = (stmt);                                                     \
    if (err_ != cudaSuccess)                                                             \
      return ::testing::AssertionFailure() << #stmt << ": " << cudaGetErrorString(err_); \
  } while (0)

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  cudaError_t Alloc(size_t bytes) { return cudaMalloc(&ptr_, bytes == 0 ? 16 : bytes); }
  cudaError_t Upload(const void* src, size_t bytes) {
    if (cudaError_t e = Alloc(bytes); e != cudaSuccess) return e;
    return cudaMemcpy(ptr_, src, bytes, cudaMemcpyHostToDevice);
  }
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

float RoundBf16(float x) { return Bf16ToFloat(FloatToBf16(x)); }
float RoundFp16(float x) { return Fp16ToFloat(FloatToFp16(x)); }

using RoundFn = float (*)(float);
RoundFn RounderFor(DType t) {
  return t == DType::kBF16 ? RoundBf16 : t == DType::kF16 ? RoundFp16 : nullptr;
}

double Tolerance(DType t) { return t == DType::kBF16 ? 1e-2 : t == DType::kF16 ? 5e-3 : 1e-5; }

std::vector<uint8_t> ToBytes(const std::vector<float>& v, DType t) {
  const size_t es = t == DType::kF32 ? 4 : 2;
  std::vector<uint8_t> b(v.size() * es);
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::kF32) {
      std::memcpy(&b[i * 4], &v[i], 4);
    } else {
      const uint16_t h = t == DType::kBF16 ? FloatToBf16(v[i]) : FloatToFp16(v[i]);
      std::memcpy(&b[i * 2], &h, 2);
    }
  }
  return b;
}

std::vector<float> FromBytes(const std::vector<uint8_t>& b, DType t) {
  const size_t es = t == DType::kF32 ? 4 : 2;
  std::vector<float> v(b.size() / es);
  for (size_t i = 0; i < v.size(); ++i) {
    if (t == DType::kF32) {
      std::memcpy(&v[i], &b[i * 4], 4);
    } else {
      uint16_t h;
      std::memcpy(&h, &b[i * 2], 2);
      v[i] = t == DType::kBF16 ? Bf16ToFloat(h) : Fp16ToFloat(h);
    }
  }
  return v;
}

std::string Describe(const std::vector<SeqSpec>& seqs) {
  std::ostringstream os;
  for (const SeqSpec& s : seqs) os << "(ctx " << s.context_len << ", q " << s.q_len << ")";
  return os.str();
}

// Forced decode split length (0: the planner's choice); prefill kernel requested from the plan
// (kAuto: the planner's choice).
::testing::AssertionResult CheckCase(const std::vector<SeqSpec>& seqs, int num_heads,
                                     int num_kv_heads, int head_dim, DType dtype, uint64_t seed,
                                     int forced_split_tokens = 0, int block_size = 16,
                                     PrefillKernel prefill_kernel = PrefillKernel::kAuto,
                                     int plan_max_seq_len = 0) {
  const PagedCase c =
      MakePagedCase(seqs, num_heads, num_kv_heads, head_dim, seed, RounderFor(dtype), block_size);
  const float scale = 1.f / std::sqrt(float(head_dim));
  std::vector<float> ref(c.q.size());
  const Status cpu = PagedAttentionCpu(c.q.data(), c.k_cache.data(), c.v_cache.data(), c.Batch(),
                                       c.layout, num_heads, scale, ref.data());
  if (!cpu.ok()) return ::testing::AssertionFailure() << "CPU attention: " << cpu.ToString();

  DeviceBuffer q, k, v, out, qsl, lens, tables, workspace;
  const std::vector<uint8_t> qb = ToBytes(c.q, dtype), kb = ToBytes(c.k_cache, dtype),
                             vb = ToBytes(c.v_cache, dtype);
  ASSERT_CUDA(q.Upload(qb.data(), qb.size()));
  ASSERT_CUDA(k.Upload(kb.data(), kb.size()));
  ASSERT_CUDA(v.Upload(vb.data(), vb.size()));
  ASSERT_CUDA(out.Alloc(qb.size()));
  ASSERT_CUDA(cudaMemset(out.get(), hearth::testing::kPoisonByte, qb.size()));
  ASSERT_CUDA(qsl.Upload(c.query_start_loc.data(), c.query_start_loc.size() * 4));
  ASSERT_CUDA(lens.Upload(c.seq_lens.data(), c.seq_lens.size() * 4));
  ASSERT_CUDA(tables.Upload(c.block_tables.data(), c.block_tables.size() * 4));

  PagedAttentionArgs a;
  a.dtype = dtype;
  a.q = q.get();
  a.k_cache = k.get();
  a.v_cache = v.get();
  a.out = out.get();
  a.query_start_loc = static_cast<const int32_t*>(qsl.get());
  a.seq_lens = static_cast<const int32_t*>(lens.get());
  a.block_tables = static_cast<const int32_t*>(tables.get());
  a.num_seqs = static_cast<int>(seqs.size());
  a.num_tokens = c.num_tokens;
  a.num_heads = num_heads;
  a.max_blocks_per_seq = c.max_blocks_per_seq;
  a.layout = c.layout;
  a.scale = scale;
  a.max_query_len = c.max_query_len();
  // A plan for longer sequences than the step has (what the CUDA runner's padded graph steps
  // use: the whole context) when plan_max_seq_len is set.
  a.max_seq_len = plan_max_seq_len > 0 ? plan_max_seq_len : c.max_seq_len();
  a.num_decode_seqs = c.num_decode_seqs();
  a.num_prefill_seqs = 0;
  for (const SeqSpec& s : seqs) a.num_prefill_seqs += s.q_len > 1;

  const GpuInfo gpu = GetGpuInfo(0);
  AttentionLaunchPlan plan =
      PlanAttention(a, gpu.sm_count, gpu.cc_major * 10 + gpu.cc_minor, prefill_kernel);
  if (prefill_kernel != PrefillKernel::kAuto && plan.kernels.prefill == PrefillKind::kTensorCore &&
      plan.kernels.prefill_kernel != prefill_kernel) {
    return ::testing::AssertionFailure()
           << "asked for prefill kernel " << PrefillKernelName(prefill_kernel) << ", the plan has "
           << PrefillKernelName(plan.kernels.prefill_kernel) << " (not a Hopper GPU?)";
  }
  if (forced_split_tokens > 0) {
    plan.decode.tokens_per_split = forced_split_tokens;
    plan.decode.num_splits = (a.max_seq_len + forced_split_tokens - 1) / forced_split_tokens;
    plan.decode.kind = plan.decode.num_splits > 1 ? DecodeKind::kSplitKv : DecodeKind::kSinglePass;
    const int work = plan.kernels.prefill == PrefillKind::kPerToken ? a.num_tokens : a.num_seqs;
    plan.workspace_bytes = DecodeWorkspaceBytes(plan.decode, work, num_heads, head_dim);
  }
  if (plan.workspace_bytes > 0) ASSERT_CUDA(workspace.Alloc(plan.workspace_bytes));
  const Status st = PagedAttention(a, plan, workspace.get(), plan.workspace_bytes, nullptr);
  if (!st.ok()) return ::testing::AssertionFailure() << "PagedAttention: " << st.ToString();
  ASSERT_CUDA(cudaDeviceSynchronize());
  std::vector<uint8_t> ob(qb.size());
  ASSERT_CUDA(cudaMemcpy(ob.data(), out.get(), ob.size(), cudaMemcpyDeviceToHost));
  const std::vector<float> got = FromBytes(ob, dtype);

  const double rel = hearth::testing::RelL2(got, ref);
  const std::string what = std::string(DTypeName(dtype)) + " heads " + std::to_string(num_heads) +
                           "/" + std::to_string(num_kv_heads) + " head_dim " +
                           std::to_string(head_dim) + " plan " + ToString(plan.kernels) + ", " +
                           ToString(plan.decode) + " seqs " + Describe(seqs);
  if (rel < Tolerance(dtype)) return ::testing::AssertionSuccess();
  size_t worst = 0;
  double worst_err = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::isfinite(got[i]) ? std::fabs(double(got[i]) - ref[i]) : INFINITY;
    if (e > worst_err) {
      worst_err = e;
      worst = i;
    }
  }
  const size_t row = size_t(num_heads) * head_dim;
  return ::testing::AssertionFailure()
         << what << ": relative L2 " << rel << " (tolerance " << Tolerance(dtype)
         << "); worst at token " << worst / row << " head " << (worst % row) / head_dim << " dim "
         << worst % head_dim << ": got " << got[worst] << " want " << ref[worst];
}

struct Shape {
  int num_heads, num_kv_heads, head_dim;
};
// The last three: the tiny validation models, without tensor-core prefill (per-token path):
// stories260K (8 heads on 4 kv heads, head_dim 8), tiny-llama3 / qwen2 (4 on 2, head_dim 16),
// tiny-qwen3 (4 on 2, head_dim 32).
const Shape kShapes[] = {{32, 8, 128}, {8, 8, 64}, {6, 2, 128}, {16, 2, 64},
                         {14, 2, 64},  {8, 4, 8},  {4, 2, 16},  {4, 2, 32}};
const DType kAllDTypes[] = {DType::kBF16, DType::kF16, DType::kF32};
const DType kTensorCoreDTypes[] = {DType::kBF16, DType::kF16};

const std::vector<SeqSpec> kDecodes = {{0, 1},  {14, 1},  {15, 1},   {16, 1},
                                       {99, 1}, {999, 1}, {2500, 1}, {37, 1}};
const std::vector<SeqSpec> kPrefills = {{0, 37}, {33, 50},    {16, 16}, {100, 200},
                                        {0, 2},  {1000, 129}, {7, 64}};
const std::vector<SeqSpec> kMixed = {{0, 1},   {0, 37},  {20, 1}, {33, 50},  {200, 1},
                                     {16, 16}, {500, 3}, {5, 0},  {1500, 1}, {40, 100}};

// Ladders from the simplest case up, every rung reported (EXPECT, not ASSERT): when something
// is wrong, the first failing rung says which feature broke.
TEST(CudaAttention, DecodeLadder) {
  HEARTH_REQUIRE_GPU();
  EXPECT_TRUE(CheckCase({{0, 1}}, 1, 1, 64, DType::kF32, 1)) << "one token, one head";
  EXPECT_TRUE(CheckCase({{15, 1}}, 1, 1, 64, DType::kF32, 2)) << "one block";
  EXPECT_TRUE(CheckCase({{40, 1}}, 1, 1, 128, DType::kF32, 3)) << "several blocks, d128";
  EXPECT_TRUE(CheckCase({{40, 1}}, 4, 1, 64, DType::kF32, 4)) << "GQA group of 4";
  EXPECT_TRUE(CheckCase({{40, 1}}, 1, 1, 64, DType::kBF16, 5)) << "bf16";
  EXPECT_TRUE(CheckCase({{40, 1}}, 1, 1, 64, DType::kF16, 6)) << "fp16";
  EXPECT_TRUE(CheckCase({{600, 1}}, 2, 1, 64, DType::kF32, 7, 256)) << "split-KV";
  EXPECT_TRUE(CheckCase({{0, 3}, {9, 1}}, 2, 1, 64, DType::kF32, 8)) << "per-token path";
  EXPECT_TRUE(CheckCase({{40, 1}}, 1, 1, 8, DType::kF32, 9)) << "head_dim 8: one lane per token";
  EXPECT_TRUE(CheckCase({{40, 1}}, 2, 1, 8, DType::kBF16, 10)) << "head_dim 8, bf16, group 2";
  EXPECT_TRUE(CheckCase({{0, 3}, {9, 1}}, 8, 4, 8, DType::kBF16, 11)) << "head_dim 8 per-token";
}

// The tensor-core prefill kernels under test: both, or only the one HEARTH_PREFILL_KERNEL names
// (so that a kernel that faults, which poisons the CUDA context, can be tested apart). Failure
// messages name the kernel.
std::vector<PrefillKernel> PrefillKernelsUnderTest() {
  const PrefillKernel only = PrefillKernelFromEnv();
  if (only != PrefillKernel::kAuto) return {only};
  return {PrefillKernel::kMmaSync, PrefillKernel::kWgmma};
}
const std::vector<PrefillKernel> kPrefillKernels = PrefillKernelsUnderTest();
bool Tested(PrefillKernel k) {
  return std::find(kPrefillKernels.begin(), kPrefillKernels.end(), k) != kPrefillKernels.end();
}

TEST(CudaAttention, PrefillLadder) {
  HEARTH_REQUIRE_GPU();
  for (PrefillKernel pk : kPrefillKernels) {
    SCOPED_TRACE(PrefillKernelName(pk));
    const auto check = [pk](const std::vector<SeqSpec>& seqs, int heads, int kv_heads, int d,
                            DType t, uint64_t seed) {
      return CheckCase(seqs, heads, kv_heads, d, t, seed, 0, 16, pk);
    };
    EXPECT_TRUE(check({{0, 16}}, 1, 1, 64, DType::kBF16, 1)) << "16 tokens, 1 head, 1 tile";
    EXPECT_TRUE(check({{0, 64}}, 1, 1, 64, DType::kBF16, 2)) << "one full KV tile";
    EXPECT_TRUE(check({{0, 64}}, 1, 1, 128, DType::kBF16, 3)) << "d128";
    EXPECT_TRUE(check({{0, 128}}, 1, 1, 128, DType::kBF16, 11)) << "one full 128-row CTA";
    EXPECT_TRUE(check({{0, 200}}, 1, 1, 64, DType::kBF16, 4)) << "several KV tiles and CTAs";
    EXPECT_TRUE(check({{0, 300}}, 1, 1, 128, DType::kBF16, 12)) << "several tiles, d128";
    EXPECT_TRUE(check({{40, 16}}, 1, 1, 64, DType::kBF16, 5)) << "after a context";
    EXPECT_TRUE(check({{0, 16}}, 4, 1, 64, DType::kBF16, 6)) << "GQA group of 4";
    EXPECT_TRUE(check({{0, 30}}, 3, 1, 64, DType::kBF16, 7)) << "GQA group of 3";
    EXPECT_TRUE(check({{0, 16}}, 2, 2, 64, DType::kBF16, 8)) << "two kv heads";
    EXPECT_TRUE(check({{0, 16}}, 1, 1, 64, DType::kF16, 9)) << "fp16";
    EXPECT_TRUE(check({{0, 16}, {5, 20}}, 1, 1, 64, DType::kBF16, 10)) << "two sequences";
  }
}

// The wgmma kernel's own edges: 128-row CTAs split across two warpgroups (rows of one token in
// both), groups up to 128, chunks starting off block and tile boundaries.
TEST(CudaAttention, PrefillWgmmaEdges) {
  HEARTH_REQUIRE_GPU();
  if (!Tested(PrefillKernel::kWgmma)) GTEST_SKIP() << "HEARTH_PREFILL_KERNEL excludes wgmma";
  const PrefillKernel pk = PrefillKernel::kWgmma;
  for (DType t : kTensorCoreDTypes) {
    for (int d : {64, 128}) {
      EXPECT_TRUE(CheckCase({{0, 129}}, 1, 1, d, t, 81, 0, 16, pk)) << "one row past a CTA";
      EXPECT_TRUE(CheckCase({{0, 50}}, 5, 1, d, t, 82, 0, 16, pk)) << "group 5: 25 tokens/CTA";
      EXPECT_TRUE(CheckCase({{0, 40}}, 48, 1, d, t, 83, 0, 16, pk)) << "group 48 > 1 warpgroup";
      EXPECT_TRUE(CheckCase({{0, 9}, {3, 5}}, 128, 1, d, t, 84, 0, 16, pk)) << "group 128";
      EXPECT_TRUE(CheckCase({{63, 65}, {65, 63}, {1, 127}, {17, 2}}, 8, 2, d, t, 85, 0, 16, pk))
          << "chunks off block and tile boundaries";
      EXPECT_TRUE(CheckCase({{2047, 700}, {5, 1}, {0, 1}}, 16, 2, d, t, 86, 0, 16, pk))
          << "long chunk after an odd context, beside decodes";
    }
  }
  // The mma.sync kernel cannot hold a group over 64 (an error, no launch); wgmma can.
  EXPECT_FALSE(CheckCase({{0, 9}}, 96, 1, 64, DType::kBF16, 87, 0, 16, PrefillKernel::kMmaSync));
  EXPECT_TRUE(CheckCase({{0, 9}}, 96, 1, 64, DType::kBF16, 87, 0, 16, pk)) << "group 96";
}

TEST(CudaAttention, Decode) {
  HEARTH_REQUIRE_GPU();
  for (DType t : kAllDTypes) {
    for (const Shape& s : kShapes) {
      ASSERT_TRUE(CheckCase(kDecodes, s.num_heads, s.num_kv_heads, s.head_dim, t, 11));
    }
  }
}

TEST(CudaAttention, DecodeForcedSplits) {
  HEARTH_REQUIRE_GPU();
  for (DType t : kAllDTypes) {
    for (int split : {16, 64, 272, 1024}) {
      ASSERT_TRUE(CheckCase(kDecodes, 32, 8, 128, t, 12, split));
      ASSERT_TRUE(CheckCase(kDecodes, 14, 2, 64, t, 13, split));
      ASSERT_TRUE(CheckCase(kDecodes, 8, 4, 8, t, 14, split));  // stories260K's heads
    }
  }
}

TEST(CudaAttention, Prefill) {
  HEARTH_REQUIRE_GPU();
  for (PrefillKernel pk : kPrefillKernels) {
    for (DType t : kAllDTypes) {  // fp32 runs the per-token path (once)
      if (t == DType::kF32 && pk != PrefillKernel::kMmaSync) continue;
      for (const Shape& s : kShapes) {
        EXPECT_TRUE(
            CheckCase(kPrefills, s.num_heads, s.num_kv_heads, s.head_dim, t, 21, 0, 16, pk));
      }
    }
  }
}

TEST(CudaAttention, MixedStep) {
  HEARTH_REQUIRE_GPU();
  for (PrefillKernel pk : kPrefillKernels) {
    for (DType t : kAllDTypes) {
      if (t == DType::kF32 && pk != PrefillKernel::kMmaSync) continue;  // per-token path
      for (const Shape& s : kShapes) {
        EXPECT_TRUE(CheckCase(kMixed, s.num_heads, s.num_kv_heads, s.head_dim, t, 31, 0, 16, pk));
      }
      EXPECT_TRUE(CheckCase(kMixed, 32, 8, 128, t, 32, /*forced_split_tokens=*/128, 16, pk));
    }
  }
}

TEST(CudaAttention, SingleTokenPrompts) {
  HEARTH_REQUIRE_GPU();
  for (PrefillKernel pk : kPrefillKernels) {
    for (DType t : kAllDTypes) {
      EXPECT_TRUE(CheckCase({{0, 1}}, 8, 2, 64, t, 41, 0, 16, pk));
      EXPECT_TRUE(CheckCase({{0, 2}}, 8, 2, 128, t, 42, 0, 16, pk));
      EXPECT_TRUE(CheckCase({{0, 1}, {0, 1}, {0, 2}}, 4, 4, 128, t, 43, 0, 16, pk));
    }
  }
}

TEST(CudaAttention, LongContexts) {
  HEARTH_REQUIRE_GPU();
  for (DType t : kTensorCoreDTypes) {
    ASSERT_TRUE(CheckCase({{32767, 1}, {20000, 1}, {5, 1}}, 32, 8, 128, t, 51));
    for (PrefillKernel pk : kPrefillKernels) {
      EXPECT_TRUE(CheckCase({{0, 4096}}, 8, 2, 128, t, 52, 0, 16, pk));
      EXPECT_TRUE(CheckCase({{7000, 1000}, {3, 1}, {16000, 1}}, 8, 2, 128, t, 53, 0, 16, pk));
      EXPECT_TRUE(CheckCase({{30000, 300}}, 8, 8, 64, t, 54, 0, 16, pk));
    }
  }
  ASSERT_TRUE(CheckCase({{32767, 1}, {9000, 1}}, 32, 8, 128, DType::kF32, 55));
  ASSERT_TRUE(CheckCase({{3000, 70}}, 8, 2, 64, DType::kF32, 56));
}

TEST(CudaAttention, DecodeOtherBlockSizes) {
  HEARTH_REQUIRE_GPU();
  for (DType t : kAllDTypes) {
    for (int block_size : {8, 32}) {
      ASSERT_TRUE(CheckCase(kDecodes, 32, 8, 128, t, 71, 0, block_size)) << block_size;
      ASSERT_TRUE(CheckCase(kDecodes, 32, 8, 128, t, 72, 320, block_size)) << block_size;
    }
  }
  // The tensor-core prefill kernels read whole 16-token blocks only.
  for (PrefillKernel pk : kPrefillKernels) {
    const ::testing::AssertionResult r = CheckCase({{0, 5}}, 4, 4, 64, DType::kBF16, 73, 0, 32, pk);
    ASSERT_FALSE(r) << PrefillKernelName(pk);
    EXPECT_NE(std::string(r.message()).find("block_size 32 unsupported"), std::string::npos)
        << r.message();
  }
}

TEST(CudaAttention, UnsupportedShapesAreErrors) {
  HEARTH_REQUIRE_GPU();
  const ::testing::AssertionResult r = CheckCase({{0, 5}, {3, 1}}, 4, 4, 96, DType::kBF16, 61);
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("head_dim 96 unsupported"), std::string::npos)
      << r.message();
  // A head size without tensor-core prefill plans the per-token path even when wgmma is asked
  // for; the decode kernel then refuses 96 before launching anything.
  const ::testing::AssertionResult w =
      CheckCase({{0, 5}}, 4, 4, 96, DType::kBF16, 62, 0, 16, PrefillKernel::kWgmma);
  ASSERT_FALSE(w);
  EXPECT_NE(std::string(w.message()).find("head_dim 96 unsupported (8, 16, 32, 64, 128)"),
            std::string::npos)
      << w.message();
}

// A decode plan sized for a 128k context (the CUDA runner's padded graph steps: 64 splits of
// 2048 tokens) over sequences of a few thousand tokens: each sequence spreads over the splits by
// its own length, and the result is the same attention.
TEST(CudaAttention, DecodeSplitsFollowEachSequenceLength) {
  HEARTH_REQUIRE_GPU();
  const std::vector<std::vector<SeqSpec>> batches = {
      {{1799, 1}}, {{1499, 1}, {299, 1}, {39, 1}, {4999, 1}}, {{255, 1}, {256, 1}, {257, 1}}};
  for (const DType dtype : {DType::kBF16, DType::kF32}) {
    for (const Shape& sh : {Shape{32, 8, 128}, Shape{8, 8, 64}}) {
      for (const auto& seqs : batches) {
        EXPECT_TRUE(CheckCase(seqs, sh.num_heads, sh.num_kv_heads, sh.head_dim, dtype, 91, 0, 16,
                              PrefillKernel::kAuto, /*plan_max_seq_len=*/131072));
      }
    }
  }
}

}  // namespace
}  // namespace hearth::attention
