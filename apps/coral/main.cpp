// coral: the operator's CLI (RFD 005). See docs/cli.md.

#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/colony_commands.h"
#include "cli/context.h"
#include "cli/init_command.h"
#include "cli/proxy_commands.h"
#include "cli/status_commands.h"
#include "cli/wg_commands.h"

int main(int argc, char** argv) {
  coral::cli::Context context;
  CLI::App app{"coral: create and run colonies, and reach them from this machine"};
  app.require_subcommand(1);
  app.add_option("--config-dir", context.config_dir_flag,
                 "where colonies' files live (default: $CORAL_CONFIG_DIR, else ~/.coral)");
  coral::cli::add_init_command(app, context);
  coral::cli::add_colony_commands(app, context);
  coral::cli::add_proxy_commands(app, context);
  coral::cli::add_status_commands(app, context);
  coral::cli::add_wg_commands(app, context);
  try {
    app.parse(argc, argv);  // runs the chosen command
  } catch (const CLI::ParseError& error) {
    // --help is a "success" parse error; every real one is bad usage: 2.
    return app.exit(error) == 0 ? 0 : 2;
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return 1;
  }
  return context.exit_code;
}
