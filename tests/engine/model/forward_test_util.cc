#include "tests/engine/model/forward_test_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/scheduler.h"
#include "model_loader/tokenizer/tokenizer.h"
#include "tests/support/test_support.h"

namespace hearth::engine::testing {

Golden ReadGolden(const std::string& name) {
  Golden g;
  const std::string json_path = hearth::testing::TestDataPath("golden/" + name + ".json");
  std::ifstream in(json_path);
  EXPECT_TRUE(in.good()) << "cannot open " << json_path;
  if (!in.good()) return g;
  const nlohmann::json j = nlohmann::json::parse(in);
  g.prompts = j.at("prompts").get<std::vector<std::vector<int32_t>>>();
  g.vocab = j.at("vocab_size").get<int>();
  if (j.contains("greedy_ids")) g.greedy_ids = j.at("greedy_ids").get<std::vector<int32_t>>();
  size_t total = 0;
  for (const auto& p : g.prompts) total += p.size();
  g.logits.resize(total * g.vocab);
  const std::string logits_path =
      hearth::testing::TestDataPath("golden/" + j.at("logits_file").get<std::string>());
  FILE* f = std::fopen(logits_path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << "cannot open " << logits_path;
  if (f == nullptr) return g;
  EXPECT_EQ(std::fread(g.logits.data(), sizeof(float), g.logits.size(), f), g.logits.size())
      << logits_path << " is shorter than " << total << " x " << g.vocab << " floats";
  std::fclose(f);
  return g;
}

std::vector<int32_t> ReadIds(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<int32_t> ids;
  int32_t id;
  while (in >> id) ids.push_back(id);
  return ids;
}

StoriesGolden ReadStoriesGolden() {
  StoriesGolden g;
  g.ids = ReadIds(hearth::testing::TestDataPath("stories260K/expected_greedy_bos_256.ids"));
  const std::string path = hearth::testing::TestDataPath("stories260K/expected_greedy_bos_256.txt");
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  g.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return g;
}

std::string StoriesText(const std::vector<int32_t>& ids) {
  const auto model = LoadOrDie(hearth::testing::TestDataPath("stories260K/stories260K.gguf"));
  if (model == nullptr || model->gguf() == nullptr) return "";
  Result<std::unique_ptr<::hearth::tokenizer::Tokenizer>> tok =
      ::hearth::tokenizer::Tokenizer::FromGguf(*model->gguf());
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  if (!tok.ok()) return "";
  return (*tok)->Decode(ids, /*skip_special=*/true) + "\n";
}

StepPlan SingleSeqPlan(const std::vector<int32_t>& chunk, int start, int block_size,
                       bool all_rows) {
  StepPlan p;
  const int n = static_cast<int>(chunk.size());
  const int seq_len = start + n;
  p.num_seqs = 1;
  p.num_tokens = n;
  p.num_padded_tokens = n;
  p.block_size = block_size;
  p.max_blocks_per_seq = (seq_len + block_size - 1) / block_size;
  p.num_decode_seqs = (n == 1 && start > 0) ? 1 : 0;
  p.max_query_len = n;
  p.max_seq_len = seq_len;
  p.seq_ids = {0};
  p.token_ids = chunk;
  for (int i = 0; i < n; ++i) {
    p.positions.push_back(start + i);
    p.slot_mapping.push_back(start + i);  // block b = logical block b
  }
  p.query_start_loc = {0, n};
  p.seq_lens = {seq_len};
  for (int b = 0; b < p.max_blocks_per_seq; ++b) p.block_tables.push_back(b);
  if (all_rows) {
    for (int i = 0; i < n; ++i) p.logits_indices.push_back(i);
  } else {
    p.logits_indices.push_back(n - 1);
  }
  return p;
}

std::unique_ptr<LoadedModel> LoadOrDie(const std::string& path) {
  auto m = LoadModel(path);
  EXPECT_TRUE(m.ok()) << path << ": " << m.status().ToString();
  if (!m.ok()) return nullptr;
  return std::move(m).value();
}

std::unique_ptr<CpuModelRunner> RunnerOrDie(const LoadedModel& model, int64_t num_kv_blocks) {
  CpuRunnerOptions options;
  options.num_kv_blocks = num_kv_blocks;
  auto r = CpuModelRunner::Create(model, options);
  EXPECT_TRUE(r.ok()) << model.path() << ": " << r.status().ToString();
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

std::vector<float> PromptLogits(ModelRunner& runner, const std::vector<int32_t>& prompt) {
  const StepPlan plan = SingleSeqPlan(prompt, 0, runner.block_size(), /*all_rows=*/true);
  std::vector<float> logits;
  const Status s = runner.ExecuteLogits(plan, &logits);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return logits;
}

int32_t Argmax(const float* row, int vocab) {
  int32_t best = 0;
  for (int i = 1; i < vocab; ++i) {
    if (row[i] > row[best]) best = i;
  }
  return best;
}

std::vector<int32_t> GreedyThroughScheduler(ModelRunner& runner, const std::vector<int32_t>& prompt,
                                            int num_tokens, int max_num_batched_tokens) {
  return GreedyBatchThroughScheduler(runner, {prompt}, num_tokens, 256, max_num_batched_tokens)
      .tokens[0];
}

GreedyBatch GreedyBatchThroughScheduler(ModelRunner& runner,
                                        const std::vector<std::vector<int32_t>>& prompts,
                                        int num_tokens, int max_num_seqs,
                                        int max_num_batched_tokens) {
  SchedulerConfig config;
  config.max_num_batched_tokens = max_num_batched_tokens;
  config.max_num_seqs = max_num_seqs;
  BlockManagerConfig blocks;
  blocks.num_blocks = static_cast<int>(runner.num_kv_blocks());
  blocks.block_size = runner.block_size();
  Scheduler scheduler(config, blocks);
  SamplingParams stop;
  stop.max_tokens = num_tokens;
  stop.ignore_eos = true;
  std::map<SeqId, size_t> index;
  for (size_t i = 0; i < prompts.size(); ++i) index[scheduler.AddRequest(prompts[i], stop)] = i;
  ::hearth::SamplingParams greedy;
  greedy.temperature = 0.f;
  GreedyBatch out;
  out.tokens.resize(prompts.size());
  for (int step = 0; scheduler.HasUnfinished(); ++step) {
    const SchedulerOutput decision = scheduler.Schedule();
    const StepPlan plan = BuildStepPlan(decision, scheduler);
    SamplingBatch sampling;
    for (size_t i = 0; i < plan.logits_indices.size(); ++i) {
      sampling.params.push_back(greedy);
      sampling.steps.push_back(0);
    }
    StepResult result;
    const Status s = runner.Execute(plan, sampling, &result);
    EXPECT_TRUE(s.ok()) << "step " << step << ": " << s.ToString();
    if (!s.ok()) return out;
    scheduler.Update(decision, result.token_ids);
    for (auto& seq : scheduler.TakeFinished()) {
      const auto gen = seq->generated_token_ids();
      out.tokens[index[seq->id()]].assign(gen.begin(), gen.end());
    }
  }
  out.preemptions = scheduler.stats().num_preemptions;
  return out;
}

std::string RequiredEnv(const char* name, const char* how) {
  const char* v = std::getenv(name);
  EXPECT_TRUE(v != nullptr && *v != '\0') << name << " is not set: " << how;
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace hearth::engine::testing
