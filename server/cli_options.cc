#include <CLI/CLI.hpp>

#include "server/cli.h"
#include "server/server_config.h"

namespace hearth::cli {

void AddEngineOptions(CLI::App* cmd, server::ServerConfig& c) {
  cmd->add_option("--model", c.model, "GGUF file or HF directory (default: cached SmolLM2)");
  cmd->add_option("--device", c.device, "cpu, cuda or cuda:N");
  cmd->add_option("--dtype", c.dtype, "bfloat16, float16 or float32 (cuda: bfloat16)");
  cmd->add_option("--gpu-memory-fraction", c.gpu_memory_fraction,
                  "cuda: share of device memory for weights, workspace and KV cache (0.9)");
  cmd->add_option("--cuda-graphs", c.cuda_graphs, "cuda: decode steps as CUDA graphs (true)");
  cmd->add_option("--gpu-dequant-weights", c.gpu_dequant_weights, kGpuDequantWeightsHelp);
  cmd->add_option("--cpu-matmul", c.cpu_matmul, kCpuMatmulHelp);
  cmd->add_option("--max-seqs", c.max_seqs, "sequences in a step at most (256)");
  cmd->add_option("--max-batch-tokens", c.max_batch_tokens, "tokens in a step at most (2048)");
  cmd->add_option("--kv-cache-bytes", c.kv_cache_bytes,
                  "KV-cache bytes (0 = the runner's default)");
  cmd->add_option("--block-size", c.block_size, "tokens per KV block (16)");
}

}  // namespace hearth::cli
