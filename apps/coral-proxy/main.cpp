// coral-proxy: the local proxy on its own (RFD 005), with the flags of
// `coral proxy start`. See docs/proxy.md.

#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/context.h"
#include "cli/proxy_commands.h"

int main(int argc, char** argv) {
  coral::cli::Context context;
  coral::cli::ProxyStartFlags flags;
  CLI::App app{"coral-proxy: a local proxy into colonies' meshes, for the coral CLI and any Connect/gRPC client",
               "coral-proxy"};
  coral::cli::setup_app(app, "coral-proxy");
  app.add_option("--config-dir", context.config_dir_flag,
                 "where colonies' files live (default: $CORAL_CONFIG_DIR, else ~/.coral)");
  coral::cli::add_proxy_start_options(app, flags);
  if (auto code = coral::cli::parse_args(app, argc, argv)) return *code;
  try {
    coral::cli::run_proxy_start(flags, context);
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return coral::cli::kExitFailed;
  }
  return context.exit_code;
}
