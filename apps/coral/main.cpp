// coral: the operator's CLI (RFD 005). See docs/cli.md.

#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/colony_commands.h"
#include "cli/completion.h"
#include "cli/context.h"
#include "cli/init_command.h"
#include "cli/proxy_commands.h"
#include "cli/status_commands.h"
#include "cli/wg_commands.h"

int main(int argc, char** argv) {
  coral::cli::Context context;
  CLI::App app{"coral: create and run colonies, and reach them from this machine", "coral"};
  coral::cli::setup_app(app, "coral");
  app.require_subcommand(1);
  app.add_option("--config-dir", context.config_dir_flag,
                 "where colonies' files live (default: $CORAL_CONFIG_DIR, else ~/.coral)");
  coral::cli::add_init_command(app, context);
  coral::cli::add_colony_commands(app, context);
  coral::cli::add_proxy_commands(app, context);
  coral::cli::add_status_commands(app, context);
  coral::cli::add_wg_commands(app, context);
  app.add_subcommand("version", "Print coral's version")->callback([] {
    std::cout << coral::cli::version_text("coral") << "\n";
  });
  coral::cli::add_completion_command(app, context.exit_code);
  return coral::cli::run_app(app, argc, argv, context.exit_code);
}
