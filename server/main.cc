// hearth: serve | generate | client | inspect | bench. Errors are printed and become a non-zero
// exit code; nothing below main calls exit().
#include <CLI/CLI.hpp>
#include <cstdlib>

#include "server/cli.h"

int main(int argc, char** argv) {
  // The CPU backend's OpenMP threads sleep instead of spinning between parallel regions: a
  // spinning team is many times slower whenever another process shares the cores (seen on
  // 2-core machines: 2.3 vs 2966 tokens/s for stories260K). An explicit setting wins.
  setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
  CLI::App app{"Hearth: a self-hosted inference server for open-weight language models"};
  app.require_subcommand(1);
  int exit_code = 0;
  hearth::cli::AddVersionCommand(app, &exit_code);
  hearth::cli::AddInspectCommand(app, &exit_code);
  hearth::cli::AddServeCommand(app, &exit_code);
  hearth::cli::AddGenerateCommand(app, &exit_code);
  hearth::cli::AddClientCommand(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
