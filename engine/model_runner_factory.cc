#include "engine/model_runner_factory.h"

namespace hearth::engine {

Result<std::unique_ptr<ModelRunner>> MakeModelRunner(const LoadedModel& model,
                                                     const RunnerOptions& options) {
  // The CPU runner (engine/cpu_model_runner.*) and the CUDA runner are hooked in here once they
  // are merged; until then serving a real model is refused rather than faked.
  return UnimplementedError("no model runner is wired into this build yet (device \"" +
                            options.device + "\", model " + model.path() +
                            "): engine/model_runner_factory.cc must construct the CPU runner");
}

}  // namespace hearth::engine
