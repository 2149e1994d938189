#include "engine/model_runner_factory.h"

#include "engine/cpu_model_runner.h"
#include "engine/cuda_runner_plan.h"
#ifdef HEARTH_HAVE_CUDA
#include "engine/cuda_model_runner.h"
#endif

namespace hearth::engine {

Result<std::unique_ptr<ModelRunner>> MakeModelRunner(const LoadedModel& model,
                                                     const RunnerOptions& options) {
  HEARTH_ASSIGN_OR_RETURN(const int device, ParseDevice(options.device));
  DType dtype = device < 0 ? DType::kF32 : DType::kBF16;
  if (!options.dtype.empty()) {
    HEARTH_ASSIGN_OR_RETURN(dtype, ParseActivationDType(options.dtype));
  }
  // Checked on every device, so that a typo is not silently ignored on a GPU.
  HEARTH_ASSIGN_OR_RETURN(const CpuMatmulMode cpu_matmul, ParseCpuMatmulMode(options.cpu_matmul));
  if (device < 0) {
    if (dtype != DType::kF32) {
      return InvalidArgumentError("the CPU runner computes in float32; --dtype " +
                                  std::string(ActivationDTypeName(dtype)) +
                                  " needs --device cuda");
    }
    CpuRunnerOptions cpu;
    cpu.block_size = options.block_size;
    cpu.matmul = cpu_matmul;
    if (options.kv_cache_bytes > 0) cpu.kv_cache_bytes = options.kv_cache_bytes;
    HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<CpuModelRunner> runner,
                            CpuModelRunner::Create(model, cpu));
    return std::unique_ptr<ModelRunner>(std::move(runner));
  }
#ifdef HEARTH_HAVE_CUDA
  CudaRunnerOptions cuda;
  cuda.device = device;
  cuda.dtype = dtype;
  cuda.gpu_memory_fraction = options.gpu_memory_fraction;
  cuda.kv_cache_bytes = options.kv_cache_bytes;
  cuda.block_size = options.block_size;
  cuda.max_num_seqs = options.max_num_seqs;
  cuda.max_num_batched_tokens = options.max_num_batched_tokens;
  cuda.max_model_len = options.max_model_len;
  cuda.cuda_graphs = options.cuda_graphs;
  cuda.dequant_weights = options.gpu_dequant_weights;
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<CudaModelRunner> runner,
                          CudaModelRunner::Create(model, cuda));
  return std::unique_ptr<ModelRunner>(std::move(runner));
#else
  return UnimplementedError("device \"" + options.device +
                            "\": this build of hearth has no CUDA support (built with "
                            "HEARTH_CUDA=OFF); use --device cpu");
#endif
}

}  // namespace hearth::engine
