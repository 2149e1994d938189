// hearth: serve | generate | client | inspect | bench. Errors are printed and become a non-zero
// exit code; nothing below main calls exit().
#include <CLI/CLI.hpp>

#include "server/cli.h"

int main(int argc, char** argv) {
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
