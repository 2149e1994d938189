// Golden parity of the CPU forward pass: logits at every position of fixed prompts against
// Hugging Face transformers (tests/data/golden, relative L2 < 1e-4 per prompt), and greedy
// decoding of stories260K from BOS against llama.cpp's 256 ids (from the GGUF and from hf/).
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/engine/model/forward_test_util.h"
#include "tests/support/test_support.h"

namespace hearth::engine::testing {
namespace {

using hearth::testing::RelL2;
using hearth::testing::TestDataPath;

constexpr double kGoldenTolerance = 1e-4;

// Runs every golden prompt alone and compares its logits block.
void CheckGolden(const std::string& golden_name, const std::string& model_path) {
  const Golden g = ReadGolden(golden_name);
  ASSERT_FALSE(g.prompts.empty());
  auto model = LoadOrDie(model_path);
  ASSERT_NE(model, nullptr);
  auto runner = RunnerOrDie(*model, 64);
  ASSERT_NE(runner, nullptr);
  ASSERT_EQ(runner->vocab_size(), g.vocab);
  size_t row = 0;
  for (size_t i = 0; i < g.prompts.size(); ++i) {
    const std::vector<int32_t>& prompt = g.prompts[i];
    const std::vector<float> logits = PromptLogits(*runner, prompt);
    ASSERT_EQ(logits.size(), prompt.size() * g.vocab);
    const float* ref = g.logits.data() + row * g.vocab;
    const double err = RelL2(logits.data(), ref, logits.size());
    std::printf("[golden] %s prompt %zu (%zu tokens): rel L2 %.3g\n", golden_name.c_str(), i,
                prompt.size(), err);
    EXPECT_LT(err, kGoldenTolerance) << golden_name << " prompt " << i;
    for (size_t p = 0; p < prompt.size(); ++p) {
      EXPECT_EQ(Argmax(logits.data() + p * g.vocab, g.vocab), Argmax(ref + p * g.vocab, g.vocab))
          << golden_name << " prompt " << i << " position " << p;
    }
    row += prompt.size();
  }
}

TEST(ForwardGolden, Stories260kHf) { CheckGolden("stories260K", TestDataPath("stories260K/hf")); }
// The GGUF rotates adjacent pairs on permuted q/k rows: the same logits to float rounding.
TEST(ForwardGolden, Stories260kGguf) {
  CheckGolden("stories260K", TestDataPath("stories260K/stories260K.gguf"));
}
TEST(ForwardGolden, TinyQwen2) { CheckGolden("tiny-qwen2", TestDataPath("tiny-qwen2")); }
TEST(ForwardGolden, TinyQwen3) { CheckGolden("tiny-qwen3", TestDataPath("tiny-qwen3")); }
TEST(ForwardGolden, TinyLlama3) { CheckGolden("tiny-llama3", TestDataPath("tiny-llama3")); }

void CheckStoriesGreedy(const std::string& model_path) {
  const StoriesGolden golden = ReadStoriesGolden();
  const std::vector<int32_t>& expected = golden.ids;
  ASSERT_EQ(expected.size(), 256u);
  auto model = LoadOrDie(model_path);
  ASSERT_NE(model, nullptr);
  auto runner = RunnerOrDie(*model, 32);  // 512 tokens
  ASSERT_NE(runner, nullptr);
  const std::vector<int32_t> got = GreedyThroughScheduler(*runner, {1}, 256);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], expected[i]) << "first difference at generated token " << i;
  }
  EXPECT_EQ(StoriesText(got), golden.text);
}

TEST(ForwardGreedy, Stories260kGgufFromBos) {
  CheckStoriesGreedy(TestDataPath("stories260K/stories260K.gguf"));
}
TEST(ForwardGreedy, Stories260kHfFromBos) { CheckStoriesGreedy(TestDataPath("stories260K/hf")); }

}  // namespace
}  // namespace hearth::engine::testing
