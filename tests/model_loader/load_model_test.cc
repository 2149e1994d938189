// LoadModel on real files: stories260K as GGUF and as an HF directory (same model), every
// tiny-random-llama GGUF type, SmolLM2-135M; and the weight check's error messages.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model_loader/loaded_model.h"
#include "tests/model_loader/gguf_builder.h"
#include "tests/support/test_support.h"

namespace hearth {
namespace {

using hearth::testing::TestDataPath;

std::unique_ptr<LoadedModel> MustLoad(const std::string& path) {
  auto m = LoadModel(path);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

TEST(LoadModel, Stories260KGgufAndHfAreTheSameModel) {
  auto g = MustLoad(TestDataPath("stories260K/stories260K.gguf"));
  auto h = MustLoad(TestDataPath("stories260K/hf"));
  ASSERT_TRUE(g && h);
  const ModelConfig& gc = g->config();
  const ModelConfig& hc = h->config();
  EXPECT_EQ(g->format(), ModelFormat::kGguf);
  EXPECT_EQ(h->format(), ModelFormat::kSafetensors);
  // The values stated in tests/data/stories260K/README.md.
  EXPECT_EQ(gc.hidden_size, 64);
  EXPECT_EQ(gc.num_layers, 5);
  EXPECT_EQ(gc.num_heads, 8);
  EXPECT_EQ(gc.num_kv_heads, 4);
  EXPECT_EQ(gc.head_dim, 8);
  EXPECT_EQ(gc.ffn_size, 172);
  EXPECT_EQ(gc.vocab_size, 512);
  EXPECT_EQ(gc.context_length, 512);
  EXPECT_TRUE(gc.tied_embeddings);
  EXPECT_EQ(gc.bos_id, 1);
  EXPECT_EQ(gc.eos_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(gc.rope_style, RopeStyle::kAdjacentPairs);
  EXPECT_EQ(hc.rope_style, RopeStyle::kHalves);
  // Equal but for the RoPE style; GGUF stores eps as float32, config.json as decimal text.
  ModelConfig hc_as_gguf = hc;
  hc_as_gguf.rope_style = gc.rope_style;
  hc_as_gguf.norm_eps = static_cast<float>(hc.norm_eps);
  ModelConfig gc_rounded = gc;
  gc_rounded.norm_eps = static_cast<float>(gc.norm_eps);
  EXPECT_EQ(gc_rounded, hc_as_gguf);

  const auto& gw = g->weights().all();
  const auto& hw = h->weights().all();
  ASSERT_EQ(gw.size(), hw.size());
  ASSERT_EQ(gw.size(), 2u + 9u * 5u);
  EXPECT_TRUE(g->weights().unmapped().empty());
  EXPECT_TRUE(h->weights().unmapped().empty());
  for (const auto& [name, a] : gw) {
    SCOPED_TRACE(name);
    ASSERT_EQ(hw.count(name), 1u);
    const WeightView& b = hw.at(name);
    EXPECT_EQ(a.dtype, DType::kF32);  // both files are F32
    EXPECT_EQ(b.dtype, DType::kF32);
    ASSERT_EQ(a.shape, b.shape);
    ASSERT_EQ(a.nbytes, b.nbytes);
    ASSERT_EQ(static_cast<int64_t>(a.nbytes), a.num_elements() * 4);
    const bool is_q = name.ends_with(".wq"), is_k = name.ends_with(".wk");
    if (!is_q && !is_k) {
      EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0);
      continue;
    }
    // HF rows are in rotate-half order: GGUF row 2j+k of a head is HF row k*head_dim/2 + j.
    const int64_t hd = gc.head_dim, in = a.shape[1];
    const int64_t heads = is_q ? gc.num_heads : gc.num_kv_heads;
    ASSERT_EQ(a.shape[0], heads * hd);
    int64_t mismatched_rows = 0, moved_rows = 0;
    for (int64_t head = 0; head < heads; ++head) {
      for (int64_t j = 0; j < hd / 2; ++j) {
        for (int64_t k = 0; k < 2; ++k) {
          const int64_t ga = head * hd + 2 * j + k, hb = head * hd + k * hd / 2 + j;
          moved_rows += ga != hb;
          mismatched_rows += std::memcmp(a.data + ga * in * 4, b.data + hb * in * 4, in * 4) != 0;
        }
      }
    }
    EXPECT_EQ(mismatched_rows, 0);
    EXPECT_GT(moved_rows, 0);
    // Without undoing the permutation the tensors differ (the test would notice a no-op).
    EXPECT_NE(std::memcmp(a.data, b.data, a.nbytes), 0);
  }
  EXPECT_EQ(g->weights().Find("lm_head"), nullptr);
  EXPECT_EQ(g->weights().Find("layers.0.wq")->shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(g->weights().Find("layers.0.wk")->shape, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(g->weights().Find("layers.0.w_down")->shape, (std::vector<int64_t>{64, 172}));
  EXPECT_EQ(g->weights().Find("layers.4.w_down")->source_name, "blk.4.ffn_down.weight");
  EXPECT_EQ(h->weights().Find("layers.4.w_down")->source_name,
            "model.layers.4.mlp.down_proj.weight");
}

// Splits stories260K's model.safetensors into two shards with an index; the sharded directory
// must load to the same config and byte-identical weights.
TEST(LoadModel, ShardedHfDirectoryMatchesSingleFile) {
  namespace fs = std::filesystem;
  auto single = MustLoad(TestDataPath("stories260K/hf"));
  ASSERT_TRUE(single);
  const fs::path dir = fs::path(::testing::TempDir()) / "stories_sharded";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(TestDataPath("stories260K/hf/config.json"), dir / "config.json");
  nlohmann::json headers[2], index;
  std::vector<uint8_t> data[2];
  const auto& tensors = single->safetensors()->shards()[0]->tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    const int s = static_cast<int>(i % 2);
    headers[s][t.name] = {{"dtype", "F32"},
                          {"shape", t.shape},
                          {"data_offsets", {data[s].size(), data[s].size() + t.nbytes}}};
    data[s].insert(data[s].end(), t.data, t.data + t.nbytes);
    index["weight_map"][t.name] = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
  }
  for (int s = 0; s < 2; ++s) {
    const std::string h = headers[s].dump();
    const uint64_t n = h.size();
    std::ofstream out(dir / ("model-0000" + std::to_string(s + 1) + "-of-00002.safetensors"),
                      std::ios::binary);
    out.write(reinterpret_cast<const char*>(&n), 8).write(h.data(), h.size());
    out.write(reinterpret_cast<const char*>(data[s].data()), data[s].size());
  }
  std::ofstream(dir / "model.safetensors.index.json") << index.dump();
  auto sharded = MustLoad(dir.string());
  ASSERT_TRUE(sharded);
  EXPECT_EQ(sharded->safetensors()->shards().size(), 2u);
  EXPECT_EQ(sharded->config(), single->config());
  ASSERT_EQ(sharded->weights().all().size(), single->weights().all().size());
  for (const auto& [name, a] : single->weights().all()) {
    const WeightView* b = sharded->weights().Find(name);
    ASSERT_NE(b, nullptr) << name;
    EXPECT_EQ(a.shape, b->shape) << name;
    ASSERT_EQ(a.nbytes, b->nbytes) << name;
    EXPECT_EQ(std::memcmp(a.data, b->data, a.nbytes), 0) << name;
  }
  fs::remove_all(dir);
}

struct TinyCase {
  const char* file;
  uint64_t total_bytes;   // sum of every tensor's bytes, from gguf-py's GGUFReader
  uint64_t down1_offset;  // blk.1.ffn_down.weight's data offset and size, from gguf-py
  uint64_t down1_bytes;
  const char* embed_type;  // per-tensor types, from gguf-py
  const char* lm_head_type;
  const char* wq_type;
  const char* down_type;
};

TEST(LoadModel, EveryTinyRandomLlamaType) {
  const TinyCase cases[] = {
      {"BF16", 3675136, 2507136, 393216, "BF16", "BF16", "BF16", "BF16"},
      {"F16", 3675136, 2507136, 393216, "F16", "F16", "F16", "F16"},
      {"F32", 7345152, 5259584, 786432, "F32", "F32", "F32", "F32"},
      {"Q2_K", 731648, 529792, 84480, "Q2_K", "Q6_K", "Q2_K", "Q3_K"},
      {"Q3_K_M", 931328, 663424, 110592, "Q3_K", "Q6_K", "Q3_K", "Q4_K"},
      {"Q4_0", 1071104, 750976, 110592, "Q4_0", "Q6_K", "Q4_0", "Q4_0"},
      {"Q4_1", 1177600, 820608, 122880, "Q4_1", "Q6_K", "Q4_1", "Q4_1"},
      {"Q4_K_M", 1130240, 759424, 161280, "Q4_K", "Q6_K", "Q4_K", "Q6_K"},
      {"Q5_0", 1284096, 890240, 135168, "Q5_0", "Q6_K", "Q5_0", "Q5_0"},
      {"Q5_1", 1390592, 959872, 147456, "Q5_1", "Q6_K", "Q5_1", "Q5_1"},
      {"Q5_K_M", 1314560, 894592, 161280, "Q5_K", "Q6_K", "Q5_K", "Q6_K"},
      {"Q6_K", 1510400, 1038208, 161280, "Q6_K", "Q6_K", "Q6_K", "Q6_K"},
      {"Q8_0", 1954816, 1339776, 208896, "Q8_0", "Q8_0", "Q8_0", "Q8_0"},
  };
  for (const TinyCase& tc : cases) {
    const std::string file =
        std::string("tiny-random-llama/tiny-random-llama-") + tc.file + ".gguf";
    SCOPED_TRACE(file);
    auto m = MustLoad(TestDataPath(file));
    ASSERT_TRUE(m);
    const ModelConfig& c = m->config();
    EXPECT_EQ(c.arch, Architecture::kLlama);
    EXPECT_EQ(c.hidden_size, 256);
    EXPECT_EQ(c.num_layers, 2);
    EXPECT_EQ(c.num_heads, 4);
    EXPECT_EQ(c.num_kv_heads, 2);
    EXPECT_EQ(c.head_dim, 64);
    EXPECT_EQ(c.ffn_size, 768);
    EXPECT_EQ(c.vocab_size, 512);
    EXPECT_EQ(c.context_length, 2048);
    EXPECT_FLOAT_EQ(c.norm_eps, 1e-5);
    EXPECT_EQ(c.rope_theta, 10000.0);
    EXPECT_FALSE(c.tied_embeddings);
    EXPECT_EQ(c.bos_id, 1);
    const Weights& w = m->weights();
    EXPECT_EQ(w.all().size(), 21u);
    EXPECT_EQ(DTypeName(w.Find("embed")->dtype), tc.embed_type);
    EXPECT_EQ(DTypeName(w.Find("lm_head")->dtype), tc.lm_head_type);
    EXPECT_EQ(DTypeName(w.Find("layers.1.wq")->dtype), tc.wq_type);
    EXPECT_EQ(DTypeName(w.Find("layers.1.w_down")->dtype), tc.down_type);
    EXPECT_EQ(w.Find("layers.1.attn_norm")->dtype, DType::kF32);
    const gguf::TensorInfo* down = m->gguf()->FindTensor("blk.1.ffn_down.weight");
    EXPECT_EQ(down->offset, tc.down1_offset);
    EXPECT_EQ(down->nbytes, tc.down1_bytes);
    EXPECT_EQ(w.Find("layers.1.w_down")->shape, (std::vector<int64_t>{256, 768}));
    uint64_t total = 0;
    for (const gguf::TensorInfo& t : m->gguf()->tensors()) {
      total += t.nbytes;
      EXPECT_EQ(static_cast<int64_t>(t.nbytes), *DTypeBytes(t.dtype, t.num_elements())) << t.name;
      EXPECT_LE(t.offset + t.nbytes, m->gguf()->file_size());
    }
    EXPECT_EQ(total, tc.total_bytes);
  }
}

TEST(LoadModel, SmolLM2) {
  const char* env = std::getenv("HEARTH_SMOLLM2_GGUF");
  ASSERT_NE(env, nullptr) << "HEARTH_SMOLLM2_GGUF is not set: run scripts/fetch_default_model.sh "
                             "and export its output (scripts/test.sh does)";
  ASSERT_TRUE(std::filesystem::exists(env)) << "HEARTH_SMOLLM2_GGUF=" << env << " does not exist";
  auto m = MustLoad(env);
  ASSERT_TRUE(m);
  // Values read from the file's metadata with gguf-py's GGUFReader.
  const ModelConfig& c = m->config();
  EXPECT_EQ(c.arch, Architecture::kLlama);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.ffn_size, 1536);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.context_length, 8192);
  EXPECT_EQ(c.rope_theta, 100000.0);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(c.bos_id, 1);
  EXPECT_EQ(c.eos_ids, (std::vector<int64_t>{2}));
  EXPECT_EQ(m->gguf()->tensors().size(), 272u);
  EXPECT_EQ(m->weights().all().size(), 272u);
  EXPECT_EQ(m->weights().Find("embed")->shape, (std::vector<int64_t>{49152, 576}));
}

// A minimal GGUF model with the given tensors' shapes (in [out, in] order), all F32.
std::vector<uint8_t> MiniModel(
    const std::string& arch, const std::vector<std::pair<std::string, std::vector<uint64_t>>>& ts) {
  testing::GgufBuilder g;
  g.Str("general.architecture", arch)
      .U32(arch + ".embedding_length", 8)
      .U32(arch + ".block_count", 1)
      .U32(arch + ".attention.head_count", 2)
      .U32(arch + ".attention.head_count_kv", 1)
      .U32(arch + ".feed_forward_length", 16)
      .U32(arch + ".context_length", 32)
      .U32(arch + ".vocab_size", 10);
  for (const auto& [name, shape] : ts) {
    std::vector<uint64_t> ne(shape.rbegin(), shape.rend());
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    g.Tensor(name, ne, 0, n * 4);
  }
  return g.Build();
}

std::vector<std::pair<std::string, std::vector<uint64_t>>> MiniTensors(bool qwen2, bool qwen3) {
  std::vector<std::pair<std::string, std::vector<uint64_t>>> t = {
      {"token_embd.weight", {10, 8}},       {"output_norm.weight", {8}},
      {"blk.0.attn_norm.weight", {8}},      {"blk.0.attn_q.weight", {8, 8}},
      {"blk.0.attn_k.weight", {4, 8}},      {"blk.0.attn_v.weight", {4, 8}},
      {"blk.0.attn_output.weight", {8, 8}}, {"blk.0.ffn_norm.weight", {8}},
      {"blk.0.ffn_gate.weight", {16, 8}},   {"blk.0.ffn_up.weight", {16, 8}},
      {"blk.0.ffn_down.weight", {8, 16}}};
  if (qwen2) {
    t.push_back({"blk.0.attn_q.bias", {8}});
    t.push_back({"blk.0.attn_k.bias", {4}});
    t.push_back({"blk.0.attn_v.bias", {4}});
  }
  if (qwen3) {
    t.push_back({"blk.0.attn_q_norm.weight", {4}});
    t.push_back({"blk.0.attn_k_norm.weight", {4}});
  }
  return t;
}

Result<std::unique_ptr<LoadedModel>> LoadBytes(const std::string& name,
                                               const std::vector<uint8_t>& b) {
  return LoadModel(testing::WriteTempFile(name, b));
}

TEST(LoadModel, Qwen2AndQwen3WeightsMap) {
  auto q2 = LoadBytes("q2.gguf", MiniModel("qwen2", MiniTensors(true, false)));
  ASSERT_TRUE(q2.ok()) << q2.status().ToString();
  EXPECT_EQ((*q2)->weights().Find("layers.0.bk")->shape, (std::vector<int64_t>{4}));
  auto q3 = LoadBytes("q3.gguf", MiniModel("qwen3", MiniTensors(false, true)));
  ASSERT_TRUE(q3.ok()) << q3.status().ToString();
  EXPECT_EQ((*q3)->weights().Find("layers.0.k_norm")->source_name, "blk.0.attn_k_norm.weight");
  // qwen2 without its biases names the first missing one.
  auto nobias = LoadBytes("q2b.gguf", MiniModel("qwen2", MiniTensors(false, false)));
  ASSERT_FALSE(nobias.ok());
  EXPECT_NE(nobias.status().message().find("missing weight 'layers.0.bq'"), std::string::npos)
      << nobias.status().message();
}

TEST(LoadModel, WeightCheckNamesMissingAndMismatched) {
  auto t = MiniTensors(false, false);
  t.erase(t.begin() + 9);  // blk.0.ffn_up.weight
  auto missing = LoadBytes("missing.gguf", MiniModel("llama", t));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(
      missing.status().message().find("missing weight 'layers.0.w_up' (expected shape [16, 8])"),
      std::string::npos)
      << missing.status().message();
  t = MiniTensors(false, false);
  t[4].second = {8, 8};  // wk should be [4, 8]
  auto wrong = LoadBytes("wrong.gguf", MiniModel("llama", t));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("'layers.0.wk' (blk.0.attn_k.weight) has shape [8, 8], "
                                          "expected [4, 8]"),
            std::string::npos)
      << wrong.status().message();
  t = MiniTensors(false, false);
  t.push_back({"blk.7.attn_norm.weight", {8}});
  EXPECT_FALSE(LoadBytes("extra_layer.gguf", MiniModel("llama", t)).ok());
  EXPECT_EQ(LoadModel("/nonexistent/model.gguf").status().code(), StatusCode::kNotFound);
}

TEST(LoadModel, CanonicalNames) {
  EXPECT_EQ(CanonicalNameFromGguf("blk.12.ffn_gate.weight"), "layers.12.w_gate");
  EXPECT_EQ(CanonicalNameFromGguf("output.weight"), "lm_head");
  EXPECT_EQ(CanonicalNameFromGguf("blk.01.ffn_gate.weight"), "");
  EXPECT_EQ(CanonicalNameFromGguf("blk.x.ffn_gate.weight"), "");
  EXPECT_EQ(CanonicalNameFromGguf("blk.-1.ffn_gate.weight"), "");
  EXPECT_EQ(CanonicalNameFromHf("model.layers.3.self_attn.v_proj.bias"), "layers.3.bv");
  EXPECT_EQ(CanonicalNameFromHf("model.layers.3.self_attn.rotary_emb.inv_freq"), "");
  EXPECT_EQ(CanonicalNameFromHf("lm_head.weight"), "lm_head");
}

}  // namespace
}  // namespace hearth
