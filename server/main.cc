// hearth: serve | generate | client | inspect | bench. Errors are printed and become a non-zero
// exit code; nothing below main calls exit().
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <cstdlib>

#include "server/cli.h"

int main(int argc, char** argv) {
  // The CPU backend's OpenMP threads must sleep, not spin, between parallel regions: a spinning
  // team is many times slower whenever another process shares the cores (seen on a 2-core
  // machine: 2.3 vs 2966 tokens/s for stories260K). libgomp reads OMP_WAIT_POLICY when it is
  // loaded, before main, so the only way to default it is to run again with it set. An explicit
  // setting by the user is kept; if the re-exec fails we simply go on.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/1);
    execv("/proc/self/exe", argv);
  }
  CLI::App app{"Hearth: a self-hosted inference server for open-weight language models"};
  app.require_subcommand(1);
  int exit_code = 0;
  hearth::cli::AddVersionCommand(app, &exit_code);
  hearth::cli::AddInspectCommand(app, &exit_code);
  hearth::cli::AddServeCommand(app, &exit_code);
  hearth::cli::AddGenerateCommand(app, &exit_code);
  hearth::cli::AddClientCommand(app, &exit_code);
  hearth::cli::AddBenchCommand(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
