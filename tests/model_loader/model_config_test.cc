// ModelConfig from Hugging Face config.json texts (shapes of real published configs) and from
// hand-built GGUF metadata; malformed inputs are errors (run under ASAN).
#include "model_loader/model_config.h"

#include <gtest/gtest.h>

#include <string>

#include "model_loader/gguf/gguf_file.h"
#include "tests/model_loader/gguf_builder.h"

namespace hearth {
namespace {

using hearth::testing::GgufBuilder;

// Field values as published in meta-llama/Llama-3.1-8B-Instruct's config.json.
const char* kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009], "hidden_size": 4096, "intermediate_size": 14336,
  "max_position_embeddings": 131072, "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "vocab_size": 128256})";

TEST(ModelConfig, HfLlama31) {
  auto c = ConfigFromHfJson(kLlama31, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->arch, Architecture::kLlama);
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->num_layers, 32);
  EXPECT_EQ(c->num_heads, 32);
  EXPECT_EQ(c->num_kv_heads, 8);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->ffn_size, 14336);
  EXPECT_EQ(c->vocab_size, 128256);
  EXPECT_EQ(c->context_length, 131072);
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->rope_style, RopeStyle::kHalves);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_EQ(c->rope_scaling.low_freq_factor, 1.0);
  EXPECT_EQ(c->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c->rope_scaling.original_max_position, 8192);
  EXPECT_FALSE(c->tied_embeddings);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_FALSE(c->qk_norm);
  EXPECT_EQ(c->bos_id, 128000);
  EXPECT_EQ(c->eos_ids, (std::vector<int64_t>{128001, 128008, 128009}));
}

TEST(ModelConfig, HfQwen2Qwen3Mistral) {
  // Qwen/Qwen2.5-0.5B-Instruct
  auto q2 = ConfigFromHfJson(R"({"architectures":["Qwen2ForCausalLM"],"bos_token_id":151643,
    "eos_token_id":151645,"hidden_size":896,"intermediate_size":4864,"max_position_embeddings":32768,
    "num_attention_heads":14,"num_hidden_layers":24,"num_key_value_heads":2,"rms_norm_eps":1e-06,
    "rope_theta":1000000.0,"tie_word_embeddings":true,"vocab_size":151936,"rope_scaling":null})",
                             "q2");
  ASSERT_TRUE(q2.ok()) << q2.status().ToString();
  EXPECT_EQ(q2->arch, Architecture::kQwen2);
  EXPECT_TRUE(q2->attention_bias);
  EXPECT_TRUE(q2->tied_embeddings);
  EXPECT_EQ(q2->head_dim, 64);
  EXPECT_EQ(q2->norm_eps, 1e-6);
  EXPECT_EQ(q2->eos_ids, (std::vector<int64_t>{151645}));
  // Qwen/Qwen3-0.6B: head_dim is explicit and not hidden/heads.
  auto q3 = ConfigFromHfJson(R"({"architectures":["Qwen3ForCausalLM"],"attention_bias":false,
    "bos_token_id":151643,"eos_token_id":151645,"head_dim":128,"hidden_size":1024,
    "intermediate_size":3072,"max_position_embeddings":40960,"num_attention_heads":16,
    "num_hidden_layers":28,"num_key_value_heads":8,"rms_norm_eps":1e-06,"rope_theta":1000000,
    "tie_word_embeddings":true,"vocab_size":151936})",
                             "q3");
  ASSERT_TRUE(q3.ok()) << q3.status().ToString();
  EXPECT_EQ(q3->arch, Architecture::kQwen3);
  EXPECT_EQ(q3->head_dim, 128);
  EXPECT_TRUE(q3->qk_norm);
  EXPECT_FALSE(q3->attention_bias);
  EXPECT_EQ(q3->rope_theta, 1e6);
  // mistralai/Mistral-7B-Instruct-v0.2 (head_dim null, sliding_window null)
  auto m =
      ConfigFromHfJson(R"({"architectures":["MistralForCausalLM"],"bos_token_id":1,"eos_token_id":2,
    "hidden_size":4096,"intermediate_size":14336,"max_position_embeddings":32768,"head_dim":null,
    "num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,"rms_norm_eps":1e-05,
    "rope_theta":1000000.0,"sliding_window":null,"tie_word_embeddings":false,"vocab_size":32000})",
                       "m");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->arch, Architecture::kLlama);
  EXPECT_EQ(m->head_dim, 128);
}

TEST(ModelConfig, HfErrors) {
  auto unknown = ConfigFromHfJson(R"({"architectures":["GPT2LMHeadModel"]})", "cfg.json");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown architecture 'GPT2LMHeadModel'"),
            std::string::npos);
  EXPECT_NE(unknown.status().message().find("cfg.json"), std::string::npos);
  EXPECT_FALSE(ConfigFromHfJson("{", "c").ok());
  EXPECT_FALSE(ConfigFromHfJson("[]", "c").ok());
  EXPECT_FALSE(ConfigFromHfJson(R"({"architectures":[]})", "c").ok());
  std::string j = kLlama31;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = j;
    s.replace(s.find(from), from.size(), to);
    return ConfigFromHfJson(s, "c");
  };
  EXPECT_FALSE(with("\"hidden_size\": 4096", "\"hidden_size\": \"4096\"").ok());
  EXPECT_FALSE(with("\"hidden_size\": 4096", "\"hidden_size\": -1").ok());
  EXPECT_FALSE(with("\"hidden_size\": 4096", "\"hidden_sizes\": 4096").ok());
  EXPECT_FALSE(with("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5").ok());
  EXPECT_FALSE(with("\"num_hidden_layers\": 32", "\"num_hidden_layers\": 99999999999").ok());
  EXPECT_FALSE(with("\"rope_type\": \"llama3\"", "\"rope_type\": \"yarn\"").ok());
  EXPECT_FALSE(with("\"high_freq_factor\": 4.0", "\"high_freq_factor\": 0.5").ok());
  EXPECT_FALSE(with("\"attention_bias\": false", "\"attention_bias\": true").ok());
  EXPECT_FALSE(with("\"rope_theta\": 500000.0", "\"rope_theta\": -1").ok());
  EXPECT_FALSE(with("128001, 128008", "128001, \"x\"").ok());
  EXPECT_FALSE(with("128001, 128008", "128001, 999999999").ok());
}

// config.json nested a million levels deep: an error, not a stack overflow.
TEST(ModelConfig, DeepJsonIsAnErrorNotAStackOverflow) {
  const std::string nest = std::string(1000000, '[') + std::string(1000000, ']');
  for (const std::string& text :
       {R"({"architectures":)" + nest + "}", R"({"rope_scaling":)" + nest + "}", nest}) {
    auto c = ConfigFromHfJson(text, "deep.json");
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.status().message().find("deep.json: nests JSON deeper than 64 levels"),
              std::string::npos)
        << c.status().message();
  }
}

GgufBuilder GgufModel(const std::string& arch) {
  GgufBuilder g;
  g.Str("general.architecture", arch)
      .U32(arch + ".embedding_length", 256)
      .U32(arch + ".block_count", 2)
      .U32(arch + ".attention.head_count", 4)
      .U32(arch + ".attention.head_count_kv", 2)
      .U32(arch + ".feed_forward_length", 768)
      .U32(arch + ".context_length", 4096)
      .F32(arch + ".rope.freq_base", 1000000.f)
      .F32(arch + ".attention.layer_norm_rms_epsilon", 1e-6f)
      .U32("tokenizer.ggml.bos_token_id", 1)
      .U32("tokenizer.ggml.eos_token_id", 2)
      .U32(arch + ".vocab_size", 1000);
  return g;
}

TEST(ModelConfig, GgufArchitectures) {
  for (const std::string arch : {"llama", "qwen2", "qwen3"}) {
    GgufBuilder g = GgufModel(arch);
    if (arch == "qwen3")
      g.U32("qwen3.attention.key_length", 128).U32("qwen3.attention.value_length", 128);
    const auto bytes = g.Build();
    auto f = gguf::GgufFile::FromBuffer(bytes.data(), bytes.size(), arch + ".gguf");
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    auto c = ConfigFromGguf(**f);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(ArchitectureName(c->arch), arch);
    EXPECT_EQ(c->hidden_size, 256);
    EXPECT_EQ(c->num_kv_heads, 2);
    EXPECT_EQ(c->head_dim, arch == "qwen3" ? 128 : 64);
    EXPECT_EQ(c->vocab_size, 1000);
    EXPECT_EQ(c->rope_theta, 1e6);
    EXPECT_EQ(c->rope_style, RopeStyle::kAdjacentPairs);
    EXPECT_TRUE(c->tied_embeddings);  // no output.weight
    EXPECT_EQ(c->attention_bias, arch == "qwen2");
    EXPECT_EQ(c->qk_norm, arch == "qwen3");
    EXPECT_EQ(c->bos_id, 1);
    EXPECT_EQ(c->eos_ids, (std::vector<int64_t>{2}));
  }
}

TEST(ModelConfig, GgufErrors) {
  auto parse = [](const GgufBuilder& g) {
    static std::vector<uint8_t> bytes;
    bytes = g.Build();
    auto f = gguf::GgufFile::FromBuffer(bytes.data(), bytes.size(), "m.gguf");
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? ConfigFromGguf(**f) : Result<ModelConfig>(f.status());
  };
  auto gpt2 = parse(GgufModel("gpt2"));
  ASSERT_FALSE(gpt2.ok());
  EXPECT_NE(gpt2.status().message().find("unknown architecture 'gpt2'"), std::string::npos);
  GgufBuilder missing;
  missing.Str("general.architecture", "llama");
  EXPECT_EQ(parse(missing).status().code(), StatusCode::kNotFound);
  GgufBuilder wrong = GgufModel("llama");
  wrong.Str("llama.rope.scaling.type", "yarn");
  EXPECT_EQ(parse(wrong).status().code(), StatusCode::kUnimplemented);
  GgufBuilder linear = GgufModel("llama");
  linear.Str("llama.rope.scaling.type", "linear").F32("llama.rope.scaling.factor", 4.f);
  auto lin = parse(linear);
  ASSERT_TRUE(lin.ok()) << lin.status().ToString();
  EXPECT_EQ(lin->rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_EQ(lin->rope_scaling.factor, 4.0);
  GgufBuilder partial = GgufModel("llama");
  partial.U32("llama.rope.dimension_count", 32);
  EXPECT_EQ(parse(partial).status().code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace hearth
