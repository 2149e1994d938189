// Paged attention benchmark, Llama-3-8B attention shape by default (32 query heads, 8 kv heads,
// head_dim 128, bf16, block size 16, shuffled block tables).
//   decode:  bytes = K + V actually read (num_seqs * seq_len * num_kv_heads * head_dim * 2 * 2)
//            + q + out; reported against the device-to-device copy bandwidth.
//   prefill: FLOPs = 4 * num_heads * head_dim * (sum over query tokens of the KV positions each
//            one sees), i.e. the two matmuls (QK^T, PV) at 2 FLOP per MAC counted over the causal
//            triangle only (~ 4*q*k*d/2 per head for a prompt with q = k); reported against
//            the cuBLAS bf16 matmul rate.
// Usage: bench_attention [decode|prefill|all] [mma_sync|wgmma|both]   (default all both)
//   The second argument picks the prefill kernel(s); with both, each prefill case runs twice,
//   its name suffixed _mma_sync / _wgmma.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/attention/attention.h"
#include "kernels/core/device.h"

namespace hearth::attention {
namespace {

void Check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench_attention: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "bench_attention: %s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

__global__ void FillBf16(__nv_bfloat16* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    uint32_t x = static_cast<uint32_t>(i) * 2654435761u ^ seed;
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    p[i] = __float2bfloat16((x & 0xffff) / 32768.0f - 1.0f);
  }
}

struct Case {
  std::string name;
  std::vector<int> context;  // per sequence
  std::vector<int> q_len;    // per sequence
  int num_heads = 32, num_kv_heads = 8, head_dim = 128;
  // The max_seq_len the plan gets, 0 = the case's longest sequence. A CUDA-graph decode step
  // plans for the model's whole context (131072 for Llama 3.1): the `_graph` cases.
  int plan_seq_len = 0;
};

void Run(const Case& c, const bench::Ceilings& ceil, const GpuInfo& gpu,
         PrefillKernel prefill_kernel) {
  const int num_seqs = static_cast<int>(c.q_len.size());
  constexpr int kBs = 16;
  std::vector<int32_t> qsl{0}, lens;
  int max_blocks = 0, max_q = 0, max_len = 0, decodes = 0, prefills = 0;
  int64_t total_blocks = 0, kv_tokens = 0;
  double visible = 0;  // sum over query tokens of visible KV positions
  for (int i = 0; i < num_seqs; ++i) {
    const int len = c.context[i] + c.q_len[i];
    lens.push_back(len);
    qsl.push_back(qsl.back() + c.q_len[i]);
    max_blocks = std::max(max_blocks, (len + kBs - 1) / kBs);
    total_blocks += (len + kBs - 1) / kBs;
    kv_tokens += len;
    max_q = std::max(max_q, c.q_len[i]);
    max_len = std::max(max_len, len);
    decodes += c.q_len[i] == 1;
    prefills += c.q_len[i] > 1;
    for (int j = 0; j < c.q_len[i]; ++j) visible += c.context[i] + j + 1;
  }
  const int num_tokens = qsl.back();
  std::vector<int32_t> ids(total_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(7));
  std::vector<int32_t> tables(size_t(num_seqs) * max_blocks, -1);
  size_t next = 0;
  for (int i = 0; i < num_seqs; ++i) {
    for (int b = 0; b < (lens[i] + kBs - 1) / kBs; ++b)
      tables[size_t(i) * max_blocks + b] = ids[next++];
  }

  kv::PagedKvLayout layout;
  layout.num_blocks = total_blocks;
  layout.num_kv_heads = c.num_kv_heads;
  layout.block_size = kBs;
  layout.head_dim = c.head_dim;
  const size_t q_elems = size_t(num_tokens) * c.num_heads * c.head_dim;
  const size_t cache_elems = layout.elems_per_layer();
  __nv_bfloat16 *q, *k, *v, *out;
  int32_t *d_qsl, *d_lens, *d_tables;
  Check(cudaMalloc(&q, q_elems * 2), "cudaMalloc q");
  Check(cudaMalloc(&out, q_elems * 2), "cudaMalloc out");
  Check(cudaMalloc(&k, cache_elems * 2), "cudaMalloc k");
  Check(cudaMalloc(&v, cache_elems * 2), "cudaMalloc v");
  Check(cudaMalloc(&d_qsl, qsl.size() * 4), "cudaMalloc");
  Check(cudaMalloc(&d_lens, lens.size() * 4), "cudaMalloc");
  Check(cudaMalloc(&d_tables, tables.size() * 4), "cudaMalloc");
  FillBf16<<<1024, 256>>>(q, q_elems, 1);
  FillBf16<<<1024, 256>>>(k, cache_elems, 2);
  FillBf16<<<1024, 256>>>(v, cache_elems, 3);
  Check(cudaMemcpy(d_qsl, qsl.data(), qsl.size() * 4, cudaMemcpyHostToDevice), "upload");
  Check(cudaMemcpy(d_lens, lens.data(), lens.size() * 4, cudaMemcpyHostToDevice), "upload");
  Check(cudaMemcpy(d_tables, tables.data(), tables.size() * 4, cudaMemcpyHostToDevice), "upload");
  Check(cudaDeviceSynchronize(), "fill");

  PagedAttentionArgs a;
  a.dtype = DType::kBF16;
  a.q = q;
  a.k_cache = k;
  a.v_cache = v;
  a.out = out;
  a.query_start_loc = d_qsl;
  a.seq_lens = d_lens;
  a.block_tables = d_tables;
  a.num_seqs = num_seqs;
  a.num_tokens = num_tokens;
  a.num_heads = c.num_heads;
  a.max_blocks_per_seq = max_blocks;
  a.layout = layout;
  a.scale = 1.f / std::sqrt(float(c.head_dim));
  a.max_query_len = max_q;
  a.max_seq_len = c.plan_seq_len > 0 ? c.plan_seq_len : max_len;
  a.num_decode_seqs = decodes;
  a.num_prefill_seqs = prefills;
  const AttentionLaunchPlan plan =
      PlanAttention(a, gpu.sm_count, gpu.cc_major * 10 + gpu.cc_minor, prefill_kernel);
  std::string name = c.name;
  if (prefills > 0) {
    if (plan.kernels.prefill_kernel != prefill_kernel) {
      std::fprintf(stderr, "bench_attention: %s: asked for %s, the plan has %s; skipped\n",
                   c.name.c_str(), PrefillKernelName(prefill_kernel),
                   PrefillKernelName(plan.kernels.prefill_kernel));
      return;
    }
    name += std::string("_") + PrefillKernelName(prefill_kernel);
  }
  void* workspace = nullptr;
  if (plan.workspace_bytes > 0) Check(cudaMalloc(&workspace, plan.workspace_bytes), "workspace");
  std::printf("# %s: %s, %s\n", name.c_str(), ToString(plan.kernels).c_str(),
              ToString(plan.decode).c_str());
  Check(PagedAttention(a, plan, workspace, plan.workspace_bytes, nullptr), "warm-up launch");
  Check(cudaDeviceSynchronize(), "warm-up");
  const double us = bench::TimeUs([&](cudaStream_t s) {
    Check(PagedAttention(a, plan, workspace, plan.workspace_bytes, s), "launch");
  });

  const double bytes = double(kv_tokens) * c.num_kv_heads * c.head_dim * 2 * 2 + 2.0 * q_elems * 2;
  const double flops = 4.0 * c.num_heads * c.head_dim * visible;
  const bool is_decode = prefills == 0;
  bench::PrintResult("attention", name, "bf16", us, is_decode ? bytes / us / 1e3 : 0,
                     is_decode ? 0 : flops / us / 1e6, ceil);
  cudaFree(q);
  cudaFree(out);
  cudaFree(k);
  cudaFree(v);
  cudaFree(d_qsl);
  cudaFree(d_lens);
  cudaFree(d_tables);
  if (workspace != nullptr) cudaFree(workspace);
}

Case Decode(int batch, int context, int heads = 32, int kv_heads = 8, int head_dim = 128) {
  Case c;
  c.name = "decode_b" + std::to_string(batch) + "_ctx" + std::to_string(context) + "_h" +
           std::to_string(heads) + "kv" + std::to_string(kv_heads) + "d" + std::to_string(head_dim);
  c.context.assign(batch, context - 1);
  c.q_len.assign(batch, 1);
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = head_dim;
  return c;
}

Case Prefill(int batch, int prompt, int context = 0, int heads = 32, int kv_heads = 8,
             int head_dim = 128) {
  Case c;
  c.name = "prefill_b" + std::to_string(batch) + "_q" + std::to_string(prompt) + "_ctx" +
           std::to_string(context) + "_h" + std::to_string(heads) + "kv" +
           std::to_string(kv_heads) + "d" + std::to_string(head_dim);
  c.context.assign(batch, context);
  c.q_len.assign(batch, prompt);
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = head_dim;
  return c;
}

}  // namespace
}  // namespace hearth::attention

int main(int argc, char** argv) {
  using namespace hearth::attention;
  const std::string which = argc > 1 ? argv[1] : "all";
  const std::string kernels = argc > 2 ? argv[2] : "both";
  std::vector<PrefillKernel> prefill_kernels;
  if (kernels == "both") {
    prefill_kernels = {PrefillKernel::kMmaSync, PrefillKernel::kWgmma};
  } else if (hearth::Result<PrefillKernel> k = ParsePrefillKernel(kernels);
             k.ok() && *k != PrefillKernel::kAuto) {
    prefill_kernels = {*k};
  }
  if ((which != "all" && which != "decode" && which != "prefill") || prefill_kernels.empty()) {
    std::fprintf(stderr, "usage: %s [decode|prefill|all] [mma_sync|wgmma|both]\n", argv[0]);
    return 2;
  }
  const hearth::GpuInfo gpu = hearth::GetGpuInfo(0);
  if (gpu.device < 0) {
    std::fprintf(stderr, "bench_attention: no CUDA device\n");
    return 1;
  }
  const hearth::bench::Ceilings ceil = hearth::bench::MeasureCeilings(which != "decode");
  std::vector<Case> cases;
  if (which != "prefill") {
    for (int batch : {1, 16, 64, 256}) cases.push_back(Decode(batch, 4096));
    cases.push_back(Decode(64, 1024));
    cases.push_back(Decode(1, 32768));
    cases.push_back(Decode(8, 32768));
    cases.push_back(Decode(64, 4096, 32, 32, 128));  // no GQA (Llama-2-7B)
    cases.push_back(Decode(64, 4096, 32, 8, 64));
    // Batch-1 decode as the engine's graphs plan it: short contexts, where every sequence sits
    // in split 0 of 64 and the merge has nothing to combine.
    for (int context : {160, 640, 4096}) {
      Case g = Decode(1, context);
      g.name += "_graph";
      g.plan_seq_len = 131072;
      cases.push_back(g);
    }
  }
  if (which != "decode") {
    cases.push_back(Prefill(1, 4096));
    cases.push_back(Prefill(4, 1024));
    cases.push_back(Prefill(1, 16384));
    cases.push_back(Prefill(1, 512, 4096));  // a chunk after a 4k prefix
    cases.push_back(Prefill(1, 4096, 0, 32, 32, 128));
    cases.push_back(Prefill(1, 4096, 0, 32, 8, 64));
  }
  for (const Case& c : cases) {
    const bool is_prefill = c.name.rfind("prefill", 0) == 0;
    if (!is_prefill) {
      Run(c, ceil, gpu, PrefillKernel::kAuto);
      continue;
    }
    for (PrefillKernel k : prefill_kernels) Run(c, ceil, gpu, k);
  }
  return 0;
}
