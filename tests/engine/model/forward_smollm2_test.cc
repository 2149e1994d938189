// SmolLM2-135M-Instruct (the default model): golden logits from its float32 HF directory
// (HEARTH_SMOLLM2_F32_DIR, made by scripts/dequantize_gguf_to_hf.py) and from the Q4_1 GGUF
// itself (HEARTH_SMOLLM2_GGUF; same weights, dequantized on the fly), and the recorded greedy
// continuation. scripts/test.sh sets both variables; a missing one fails the test.
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/engine/model/forward_test_util.h"
#include "tests/support/test_support.h"

namespace hearth::engine::testing {
namespace {

using hearth::testing::RelL2;

constexpr double kGoldenTolerance = 1e-4;

std::string F32Dir() {
  return RequiredEnv("HEARTH_SMOLLM2_F32_DIR",
                     "run `python3 scripts/dequantize_gguf_to_hf.py` and point it at the output "
                     "directory (scripts/test.sh does both)");
}
std::string GgufPath() {
  return RequiredEnv("HEARTH_SMOLLM2_GGUF", "set it to `scripts/fetch_default_model.sh`'s output");
}

void CheckGolden(const std::string& model_path, const char* label) {
  const Golden g = ReadGolden("smollm2-135m");
  ASSERT_FALSE(g.prompts.empty());
  auto model = LoadOrDie(model_path);
  ASSERT_NE(model, nullptr);
  auto runner = RunnerOrDie(*model, 8);
  ASSERT_NE(runner, nullptr);
  size_t row = 0;
  for (size_t i = 0; i < g.prompts.size(); ++i) {
    const std::vector<float> logits = PromptLogits(*runner, g.prompts[i]);
    ASSERT_EQ(logits.size(), g.prompts[i].size() * g.vocab);
    const float* ref = g.logits.data() + row * g.vocab;
    const double err = RelL2(logits.data(), ref, logits.size());
    std::printf("[golden] smollm2-135m (%s) prompt %zu (%zu tokens): rel L2 %.3g\n", label, i,
                g.prompts[i].size(), err);
    EXPECT_LT(err, kGoldenTolerance) << label << " prompt " << i;
    row += g.prompts[i].size();
  }
}

TEST(ForwardSmolLm2, GoldenLogitsF32Dir) {
  const std::string dir = F32Dir();
  ASSERT_FALSE(dir.empty());
  CheckGolden(dir, "f32 dir");
}

// The Q4_1 / Q8_0 weights read in their stored type: same values as the f32 directory.
TEST(ForwardSmolLm2, GoldenLogitsQ4_1Gguf) {
  const std::string path = GgufPath();
  ASSERT_FALSE(path.empty());
  CheckGolden(path, "Q4_1 gguf");
}

TEST(ForwardSmolLm2, GreedyIdsF32Dir) {
  const std::string dir = F32Dir();
  ASSERT_FALSE(dir.empty());
  const Golden g = ReadGolden("smollm2-135m");
  ASSERT_EQ(g.greedy_ids.size(), 32u);
  auto model = LoadOrDie(dir);
  ASSERT_NE(model, nullptr);
  auto runner = RunnerOrDie(*model, 8);
  ASSERT_NE(runner, nullptr);
  const std::vector<int32_t> got =
      GreedyThroughScheduler(*runner, g.prompts[0], static_cast<int>(g.greedy_ids.size()));
  ASSERT_EQ(got.size(), g.greedy_ids.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], g.greedy_ids[i]) << "first difference at generated token " << i;
  }
}

}  // namespace
}  // namespace hearth::engine::testing
