// hearth inspect PATH: what a model is and what it costs in memory, without a GPU.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "model_loader/loaded_model.h"
#include "server/cli.h"

namespace hearth::cli {
namespace {

std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f %s", b, units[u]);
  return buf;
}

std::optional<DType> KvDType(const std::string& s) {
  if (s == "f16") return DType::kF16;
  if (s == "bf16") return DType::kBF16;
  if (s == "f32") return DType::kF32;
  return std::nullopt;
}

int Inspect(const std::string& path, int64_t context, const std::string& kv_name) {
  const std::optional<DType> kv_dtype = KvDType(kv_name);
  if (!kv_dtype) {
    std::fprintf(stderr, "error: --kv-dtype must be f16, bf16 or f32 (got '%s')\n",
                 kv_name.c_str());
    return 2;
  }
  Result<std::unique_ptr<LoadedModel>> loaded = LoadModel(path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const LoadedModel& m = **loaded;
  const ModelConfig& c = m.config();
  struct Mix {
    int64_t count = 0;
    uint64_t bytes = 0;
  };
  std::map<std::string_view, Mix> mix;
  int64_t params = 0;
  uint64_t weight_bytes = 0;
  for (const auto& [name, w] : m.weights().all()) {
    Mix& x = mix[DTypeName(w.dtype)];
    ++x.count;
    x.bytes += w.nbytes;
    params += w.num_elements();
    weight_bytes += w.nbytes;
  }
  if (context <= 0) context = c.context_length;
  const int64_t kv_per_token =
      2 * c.num_layers * c.num_kv_heads * c.head_dim * GetDTypeInfo(*kv_dtype).block_bytes;
  const double kv_total = static_cast<double>(kv_per_token) * static_cast<double>(context);

  std::printf("path:            %s\n", path.c_str());
  std::printf("format:          %s\n", m.format() == ModelFormat::kGguf ? "GGUF" : "safetensors");
  if (m.gguf()) std::printf("gguf version:    %u\n", m.gguf()->version());
  std::printf("file size:       %llu bytes (%s)\n", (unsigned long long)m.file_bytes(),
              HumanBytes(m.file_bytes()).c_str());
  std::printf("architecture:    %s\n", std::string(ArchitectureName(c.arch)).c_str());
  std::printf("hidden %lld, layers %lld, heads %lld, kv heads %lld, head_dim %lld, ffn %lld\n",
              (long long)c.hidden_size, (long long)c.num_layers, (long long)c.num_heads,
              (long long)c.num_kv_heads, (long long)c.head_dim, (long long)c.ffn_size);
  std::printf("vocab %lld, context %lld, rope theta %g (%s), norm eps %g\n",
              (long long)c.vocab_size, (long long)c.context_length, c.rope_theta,
              c.rope_style == RopeStyle::kAdjacentPairs ? "adjacent pairs" : "halves", c.norm_eps);
  std::printf("tied embeddings: %s, attention bias: %s, q/k norm: %s\n",
              c.tied_embeddings ? "yes" : "no", c.attention_bias ? "yes" : "no",
              c.qk_norm ? "yes" : "no");
  std::printf("parameters:      %lld (%.1f M)\n", (long long)params, params / 1e6);
  std::printf("tensor types:\n");
  for (const auto& [name, x] : mix) {
    std::printf("  %-6s %5lld tensors  %12llu bytes (%s)\n", std::string(name).c_str(),
                (long long)x.count, (unsigned long long)x.bytes, HumanBytes(x.bytes).c_str());
  }
  if (!m.weights().unmapped().empty()) {
    std::printf("unused tensors:  %zu (first: %s)\n", m.weights().unmapped().size(),
                m.weights().unmapped()[0].c_str());
  }
  std::printf("KV cache:        %lld bytes/token (%s, 2 x %lld layers x %lld kv heads x %lld)\n",
              (long long)kv_per_token, kv_name.c_str(), (long long)c.num_layers,
              (long long)c.num_kv_heads, (long long)c.head_dim);
  std::printf("memory at context %lld: weights %s + KV %s = %s\n", (long long)context,
              HumanBytes(weight_bytes).c_str(), HumanBytes(kv_total).c_str(),
              HumanBytes(weight_bytes + kv_total).c_str());
  return 0;
}

}  // namespace

void AddInspectCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("inspect", "Describe a model file and its memory needs");
  auto path = std::make_shared<std::string>();
  auto context = std::make_shared<int64_t>(0);
  auto kv = std::make_shared<std::string>("f16");
  cmd->add_option("path", *path, "A .gguf file or a Hugging Face model directory")->required();
  cmd->add_option("--context", *context,
                  "Context length for the memory estimate "
                  "(default: the model's)");
  cmd->add_option("--kv-dtype", *kv, "KV-cache element type: f16, bf16 or f32")->default_str("f16");
  cmd->callback([=] { *exit_code = Inspect(*path, *context, *kv); });
}

}  // namespace hearth::cli
