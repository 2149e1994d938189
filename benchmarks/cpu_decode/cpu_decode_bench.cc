// Batch-1 greedy decode speed of the CPU runner on a GGUF or HF model: prefill a prompt, then
// time `--decode` single-token steps (the step plan a decode gets from the scheduler, built
// directly). Prints one line "hearth decode: N tokens in S s = T tok/s" for run.py.
//
//   cpu_decode_bench MODEL [--prompt N] [--decode N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/cpu_model_runner.h"
#include "model_loader/loaded_model.h"

namespace hearth::engine {
namespace {

StepPlan DecodePlan(const std::vector<int32_t>& chunk, int start, int block_size) {
  StepPlan p;
  const int n = static_cast<int>(chunk.size());
  const int seq_len = start + n;
  p.num_seqs = 1;
  p.num_tokens = p.num_padded_tokens = n;
  p.block_size = block_size;
  p.max_blocks_per_seq = (seq_len + block_size - 1) / block_size;
  p.num_decode_seqs = n == 1 ? 1 : 0;
  p.max_query_len = n;
  p.max_seq_len = seq_len;
  p.seq_ids = {0};
  p.token_ids = chunk;
  for (int i = 0; i < n; ++i) {
    p.positions.push_back(start + i);
    p.slot_mapping.push_back(start + i);
  }
  p.query_start_loc = {0, n};
  p.seq_lens = {seq_len};
  for (int b = 0; b < p.max_blocks_per_seq; ++b) p.block_tables.push_back(b);
  p.logits_indices = {n - 1};
  return p;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [--prompt N] [--decode N] [--cpu-matmul f32|int8]\n",
                 argv[0]);
    return 2;
  }
  int prompt_len = 16, decode = 64;
  CpuMatmulMode matmul = CpuMatmulMode::kF32;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--prompt") == 0) prompt_len = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--decode") == 0) decode = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--cpu-matmul") == 0) {
      const Result<CpuMatmulMode> mode = ParseCpuMatmulMode(argv[i + 1]);
      if (!mode.ok()) {
        std::fprintf(stderr, "%s\n", mode.status().ToString().c_str());
        return 2;
      }
      matmul = *mode;
    }
  }
  auto model = LoadModel(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  CpuRunnerOptions options;
  options.num_kv_blocks = (prompt_len + decode) / kv::kDefaultBlockSize + 2;
  options.matmul = matmul;
  auto runner = CpuModelRunner::Create(**model, options);
  if (!runner.ok()) {
    std::fprintf(stderr, "%s\n", runner.status().ToString().c_str());
    return 1;
  }
  CpuModelRunner& r = **runner;
  const int bos = (*model)->config().bos_id >= 0 ? static_cast<int>((*model)->config().bos_id) : 1;
  std::vector<int32_t> prompt(prompt_len);
  for (int i = 0; i < prompt_len; ++i) prompt[i] = i == 0 ? bos : 100 + 7 * i;
  SamplingBatch sampling;
  sampling.params.resize(1);
  sampling.params[0].temperature = 0.f;
  sampling.steps = {0};
  StepResult result;
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  StepPlan plan = DecodePlan(prompt, 0, r.block_size());
  Status s = r.Execute(plan, sampling, &result);
  const auto t1 = Clock::now();
  int pos = prompt_len;
  for (int i = 0; i < decode && s.ok(); ++i, ++pos) {
    plan = DecodePlan({result.token_ids[0]}, pos, r.block_size());
    s = r.Execute(plan, sampling, &result);
  }
  const auto t2 = Clock::now();
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  std::printf("hearth prefill: %d tokens in %.3f s = %.2f tok/s\n", prompt_len, prefill_s,
              prompt_len / prefill_s);
  std::printf("hearth decode: %d tokens in %.3f s = %.2f tok/s\n", decode, decode_s,
              decode / decode_s);
  return 0;
}

}  // namespace
}  // namespace hearth::engine

int main(int argc, char** argv) { return hearth::engine::Main(argc, argv); }
