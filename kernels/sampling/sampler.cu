#include <cfloat>
#include <climits>
#include <string>

#include "kernels/core/cuda_check.h"
#include "kernels/core/pdl.cuh"
#include "kernels/core/pdl.h"
#include "kernels/sampling/sampler.h"
#include "kernels/sampling/sampler_device.cuh"

namespace hearth {

Status Sample(float* logits, int num_seqs, int vocab, const SamplingParams* params,
              const int64_t* steps, const PenaltyLists& penalties, const SamplerOutputs& out,
              cudaStream_t stream, std::optional<SamplerFilterPath> path) {
  if (num_seqs < 0 || num_seqs > kMaxSamplerSeqs || vocab <= 0 || vocab > kMaxSamplerVocab)
    return InvalidArgumentError("sample: bad shape: num_seqs " + std::to_string(num_seqs) +
                                ", vocab " + std::to_string(vocab) + " (at most " +
                                std::to_string(kMaxSamplerSeqs) + " x " +
                                std::to_string(kMaxSamplerVocab) + ")");
  if (num_seqs == 0) return Status::Ok();
  if (logits == nullptr || params == nullptr || steps == nullptr || out.token_ids == nullptr ||
      out.token_logprobs == nullptr || out.top_ids == nullptr || out.top_logprobs == nullptr)
    return InvalidArgumentError("sample: null pointer");
  if (penalties.offsets != nullptr &&
      (penalties.tokens == nullptr || penalties.output_counts == nullptr))
    return InvalidArgumentError(
        "sample: penalty offsets without tokens/output_counts (pass offsets = nullptr for "
        "no penalties)");
  if (!path.has_value()) {
    const Result<SamplerFilterPath>& from_env = SamplerFilterPathFromEnv();
    if (!from_env.ok()) return from_env.status();
    path = *from_env;
  }
  namespace sk = sampling_kernels;
  const SamplerSplitPlan plan = PlanSamplerSplit(vocab);
  const bool vec4 = vocab % 4 == 0 && reinterpret_cast<uintptr_t>(logits) % 16 == 0;
  const sk::SplitArgs split{logits,    vocab,  plan.chunk_tokens,
                            vec4,      params, steps,
                            penalties, out,    *path == SamplerFilterPath::kOneRead};
  CUDA_CHECK(cuda::LaunchKernel(sk::SplitPassKernel, dim3(plan.num_chunks, num_seqs),
                                sk::kSplitThreads, 0, stream, split));
  CUDA_CHECK_LAUNCH();
  CUDA_CHECK(
      cuda::LaunchKernel(sk::SplitCombineKernel, num_seqs, 32, 0, stream, split, plan.num_chunks));
  CUDA_CHECK_LAUNCH();
  const sk::FilteredArgs filtered{logits, vocab, plan.num_chunks, params, steps, penalties,
                                  out,    *path};
  CUDA_CHECK(
      cuda::LaunchKernel(sk::SampleKernel, num_seqs, sk::kFilteredThreads, 0, stream, filtered));
  CUDA_CHECK_LAUNCH();
  return Status::Ok();
}

}  // namespace hearth
