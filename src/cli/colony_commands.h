#pragma once
// `coral colony ...`: list, current, use (here), start and stop
// (colony_lifecycle), status (colony_status), peers and revoke
// (colony_peers), rotate-secret (colony_secret), invite and import
// (colony_members). See docs/cli.md.

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace coral::cli {

void add_colony_commands(CLI::App& app, Context& context);

// Registered by add_colony_commands on the `colony` subcommand.
void add_colony_lifecycle_commands(CLI::App& colony, Context& context);
void add_colony_status_command(CLI::App& colony, Context& context);
// `peers [list]`, `peers add` and `revoke` (colony_peers.cpp).
void add_colony_peers_commands(CLI::App& colony, Context& context);
// `rotate-secret` (colony_secret.cpp).
void add_colony_secret_command(CLI::App& colony, Context& context);
// `invite` and `import`: member files (colony_members.cpp).
void add_colony_member_commands(CLI::App& colony, Context& context);

// This host's interface addresses (but the mesh's own) at `port`, as
// "host:port": the public endpoints a colony announces when neither its
// flags nor its file name any (`coral colony start`, `coral colony invite`).
std::vector<std::string> host_endpoints(const config::WireGuardConfig& wg, std::uint16_t port);

// "running (pid N)", "stopped", or "stopped (stale PID file of pid N)".
std::string describe_process(const config::ConfigDir& dir, const std::string& id);

}  // namespace coral::cli
