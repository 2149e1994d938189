// Helpers of the forward-pass tests: golden files, hand-built step plans, greedy loops through
// the scheduler.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/cpu_model_runner.h"
#include "engine/step_plan.h"
#include "model_loader/loaded_model.h"

namespace hearth::engine::testing {

struct Golden {
  std::vector<std::vector<int32_t>> prompts;
  int vocab = 0;
  std::vector<float> logits;        // [sum of prompt lengths, vocab]
  std::vector<int32_t> greedy_ids;  // empty unless recorded
};
// Reads tests/data/golden/<name>.json and its logits (gtest failures on a bad file).
Golden ReadGolden(const std::string& name);

// The integer ids of a one-id-per-line file.
std::vector<int32_t> ReadIds(const std::string& path);

// stories260K's greedy golden from BOS (tests/data/stories260K/README.md): the 256 ids and their
// text (expected_greedy_bos_256.ids / .txt).
struct StoriesGolden {
  std::vector<int32_t> ids;
  std::string text;
};
StoriesGolden ReadStoriesGolden();
// Ids as the golden .txt writes them: the stories260K GGUF vocabulary's decoding (control tokens
// skipped) and a trailing newline.
std::string StoriesText(const std::vector<int32_t>& ids);

// A plan for one sequence computing tokens [start, start + chunk.size()) of a context whose
// first `start` tokens are already in blocks 0.. of the cache (block i = physical block i).
// All rows sample when all_rows, else only the last.
StepPlan SingleSeqPlan(const std::vector<int32_t>& chunk, int start, int block_size, bool all_rows);

// Loads a model or fails the test.
std::unique_ptr<LoadedModel> LoadOrDie(const std::string& path);
std::unique_ptr<CpuModelRunner> RunnerOrDie(const LoadedModel& model, int64_t num_kv_blocks);

// Logits at every position of `prompt`, run alone from position 0 in one prefill step.
std::vector<float> PromptLogits(ModelRunner& runner, const std::vector<int32_t>& prompt);

// Greedy decoding of `num_tokens` tokens after `prompt` through the scheduler, step plan and
// runner.Execute (EOS ignored).
std::vector<int32_t> GreedyThroughScheduler(ModelRunner& runner,
                                            const std::vector<int32_t>& prompt, int num_tokens,
                                            int max_num_batched_tokens = 2048);

// The same for several prompts together (continuous batching, chunked prefill, preemption when
// blocks run out): the tokens of each prompt, and the scheduler's preemption count.
struct GreedyBatch {
  std::vector<std::vector<int32_t>> tokens;
  int64_t preemptions = 0;
};
GreedyBatch GreedyBatchThroughScheduler(ModelRunner& runner,
                                        const std::vector<std::vector<int32_t>>& prompts,
                                        int num_tokens, int max_num_seqs,
                                        int max_num_batched_tokens);

int32_t Argmax(const float* row, int vocab);  // lowest id on ties

// The env var's value, or a test failure naming it and how to set it.
std::string RequiredEnv(const char* name, const char* how);

}  // namespace hearth::engine::testing
