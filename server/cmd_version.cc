#include <CLI/CLI.hpp>
#include <cstdio>

#include "kernels/core/device.h"
#include "server/cli.h"

namespace hearth::cli {

void AddVersionCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("version", "Print the version and the GPUs this build sees");
  cmd->callback([exit_code] {
    std::printf("hearth %s (CUDA backend: %s)\n", HEARTH_VERSION,
#ifdef HEARTH_HAVE_CUDA
                "built"
#else
                "not built"
#endif
    );
    const int n = GpuCount();
    for (int i = 0; i < n; ++i) {
      const GpuInfo g = GetGpuInfo(i);
      std::printf("cuda:%d %s, %d SMs, %.1f GiB\n", i, g.name.c_str(), g.sm_count,
                  g.total_memory / 1073741824.0);
    }
    if (n == 0) std::printf("no CUDA device\n");
    *exit_code = 0;
  });
}

}  // namespace hearth::cli
