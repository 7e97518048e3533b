#pragma once
// `coral init`: creates a colony (keys, colony secret, mesh subnets) in the
// config directory and makes it the current colony. See docs/cli.md.

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace coral::cli {

void add_init_command(CLI::App& app, Context& context);

}  // namespace coral::cli
