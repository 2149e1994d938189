#include "engine/model_runner_factory.h"

#include "engine/cpu_model_runner.h"

namespace hearth::engine {

Result<std::unique_ptr<ModelRunner>> MakeModelRunner(const LoadedModel& model,
                                                     const RunnerOptions& options) {
  if (options.device == "cpu") {
    CpuRunnerOptions cpu;
    cpu.block_size = options.block_size;
    if (options.kv_cache_bytes > 0) cpu.kv_cache_bytes = options.kv_cache_bytes;
    HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<CpuModelRunner> runner,
                            CpuModelRunner::Create(model, cpu));
    return std::unique_ptr<ModelRunner>(std::move(runner));
  }
  // The CUDA runner is hooked in here once it exists; until then it is refused, not faked.
  return UnimplementedError("device \"" + options.device + "\" has no model runner in this "
                            "build yet; use --device cpu");
}

}  // namespace hearth::engine
