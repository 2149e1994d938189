// Embedding lookup (bf16 table -> bf16, f32 table -> bf16) and sampled-row gather, against the
// copy ceiling. Bytes = rows read + rows written.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmarks/kernels/ceiling.h"
#include "kernels/embedding/embedding.h"
#include "kernels/embedding/embedding_cases.h"

namespace {
void Die(const std::string& what) {
  std::fprintf(stderr, "bench_embedding: %s\n", what.c_str());
  std::exit(1);
}
}  // namespace

int main() {
  using namespace hearth;
  const bench::Ceilings ceil = bench::MeasureCeilings(/*with_matmul=*/false);
  for (const auto& c : embedding_cases::kBenchCases) {
    std::vector<int32_t> ids(c.num_rows);
    for (int64_t i = 0; i < c.num_rows; ++i) ids[i] = static_cast<int32_t>((i * 7919) % c.vocab);
    int32_t* dids;
    void *table, *out;
    if (cudaMalloc(&dids, ids.size() * 4) != cudaSuccess ||
        cudaMalloc(&table, c.vocab * c.hidden * 4) != cudaSuccess ||
        cudaMalloc(&out, c.num_rows * c.hidden * 4) != cudaSuccess)
      Die("cudaMalloc failed");
    cudaMemcpy(dids, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice);
    cudaMemset(table, 0x3c, c.vocab * c.hidden * 4);
    const std::string name = std::to_string(c.vocab) + "x" + std::to_string(c.hidden) + "_rows" +
                             std::to_string(c.num_rows);
    for (DType table_dtype : {DType::kBF16, DType::kF32}) {
      const double in_b = GetDTypeInfo(table_dtype).block_bytes;
      const double us = bench::TimeUs([&](cudaStream_t s) {
        const Status st = Embedding(table_dtype, table, c.vocab, c.hidden, dids, c.num_rows,
                                    DType::kBF16, out, s);
        if (!st.ok()) Die(st.ToString());
      });
      bench::PrintResult("embedding", name, std::string(DTypeName(table_dtype)) + "_to_BF16", us,
                         double(c.num_rows) * c.hidden * (in_b + 2) / (us * 1e3), 0, ceil);
    }
    if (c.num_rows <= c.vocab) {
      const double us = bench::TimeUs([&](cudaStream_t s) {
        const Status st =
            GatherRows(DType::kBF16, table, c.vocab, c.hidden, dids, c.num_rows, out, s);
        if (!st.ok()) Die(st.ToString());
      });
      bench::PrintResult("gather_rows", name, "BF16", us,
                         double(c.num_rows) * c.hidden * 4 / (us * 1e3), 0, ceil);
    }
    cudaFree(dids), cudaFree(table), cudaFree(out);
  }
  return 0;
}
