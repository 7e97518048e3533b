#pragma once
// `coral wg up FILE.conf [--interface NAME]`: runs a WireGuard device from
// a wg-quick style configuration file on a TUN device, in the foreground,
// until SIGTERM or SIGINT. See docs/wireguard.md.

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace coral::cli {

void add_wg_up_command(CLI::App& wg, Context& context);

}  // namespace coral::cli
