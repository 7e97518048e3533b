#pragma once
// `coral wg ...`: WireGuard tools that speak wg's formats. genkey and pubkey
// (here) make the same base64 keys as `wg genkey` and `wg pubkey`. See
// docs/wireguard.md.

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace coral::cli {

// Adds the `wg` command group and registers its subcommands. A new
// subcommand gets an add_wg_<name>_command(CLI::App& wg, Context&) of its
// own, declared below and called from add_wg_commands.
void add_wg_commands(CLI::App& app, Context& context);

// `coral wg genkey` and `coral wg pubkey`, registered on the `wg` group.
void add_wg_key_commands(CLI::App& wg, Context& context);

}  // namespace coral::cli
