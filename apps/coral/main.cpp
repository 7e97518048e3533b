// coral: the operator's CLI (RFD 005). See docs/cli.md.

#include <CLI/CLI.hpp>

#include "cli/colony_commands.h"
#include "cli/context.h"
#include "cli/init_command.h"

int main(int argc, char** argv) {
  coral::cli::Context context;
  CLI::App app{"coral: create and run colonies, and reach them from this machine"};
  app.require_subcommand(1);
  app.add_option("--config-dir", context.config_dir_flag,
                 "where colonies' files live (default: $CORAL_CONFIG_DIR, else ~/.coral)");
  coral::cli::add_init_command(app, context);
  coral::cli::add_colony_commands(app, context);
  CLI11_PARSE(app, argc, argv);
  return context.exit_code;
}
