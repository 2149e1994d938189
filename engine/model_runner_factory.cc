#include "engine/model_runner_factory.h"

#if defined(HEARTH_HAVE_CPU_RUNNER)
#include "engine/cpu_model_runner.h"
#endif

namespace hearth::engine {

Result<std::unique_ptr<ModelRunner>> MakeModelRunner(const LoadedModel& model,
                                                     const RunnerOptions& options) {
  if (options.device == "cpu") {
#if defined(HEARTH_HAVE_CPU_RUNNER)
    CpuRunnerOptions cpu;
    cpu.block_size = options.block_size;
    if (options.kv_cache_bytes > 0) cpu.kv_cache_bytes = options.kv_cache_bytes;
    HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<CpuModelRunner> runner,
                            CpuModelRunner::Create(model, cpu));
    return std::unique_ptr<ModelRunner>(std::move(runner));
#else
    return UnimplementedError("this build has no CPU model runner (engine/cpu_model_runner.* "
                              "is not merged yet), so " + model.path() + " cannot run");
#endif
  }
  // The CUDA runner is hooked in here once it exists; until then it is refused, not faked.
  return UnimplementedError("device \"" + options.device + "\" has no model runner in this "
                            "build yet; use --device cpu");
}

}  // namespace hearth::engine
