#pragma once
// `coral status`, `coral agents`, `coral topology`: ask a colony through a
// live local proxy (found through its state file and health endpoint), else
// directly when the colony runs on this host, else show what the config
// says and how to start a proxy. CORAL_PROXY=http://host:port or --proxy
// names a proxy explicitly. See docs/cli.md.

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace coral::cli {

void add_status_commands(CLI::App& app, Context& context);

}  // namespace coral::cli
