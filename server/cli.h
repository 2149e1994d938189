// The `hearth` command line: one binary, one subcommand per job. Each Add*Command registers its
// subcommand on the app; the subcommand's callback stores the process exit code in *exit_code.
#pragma once

namespace CLI {
class App;
}
namespace hearth::server {
struct ServerConfig;
}

namespace hearth::cli {

// The options that choose and size the engine (model, device, dtype, GPU memory, CUDA graphs,
// batch and KV-cache limits), written into `config`: shared by the subcommands that run an engine
// in process (generate, bench). `serve` takes the same through its config-file-aware flags.
void AddEngineOptions(CLI::App* cmd, server::ServerConfig& config);
inline constexpr const char* kGpuDequantWeightsHelp =
    "cuda: keep every quantized matrix also dequantized to the activation dtype (2 bytes a weight, "
    "taken from the KV cache), so steps of more than 64 tokens skip dequantizing the weights each "
    "step (false)";
inline constexpr const char* kCpuMatmulHelp =
    "cpu: f32 (float32 activations, the reference; default) or int8 (8-bit activations for "
    "every GGUF block type (Q8_0, Q4_0..Q5_1, Q2_K..Q6_K), as llama.cpp: ~3x faster decode on "
    "large K-quant models, results within x's 8-bit rounding)";

void AddVersionCommand(CLI::App& app, int* exit_code);
void AddInspectCommand(CLI::App& app, int* exit_code);
void AddServeCommand(CLI::App& app, int* exit_code);
void AddGenerateCommand(CLI::App& app, int* exit_code);
void AddClientCommand(CLI::App& app, int* exit_code);
void AddBenchCommand(CLI::App& app, int* exit_code);

}  // namespace hearth::cli
