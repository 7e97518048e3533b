#pragma once
// `coral proxy start | stop | status | list` (RFD 005, "CLI Commands"), and
// the flags `coral-proxy` shares with `coral proxy start`. See docs/cli.md.

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace coral::cli {

struct ProxyStartFlags {
  std::vector<std::string> colonies;
  std::string listen;  // HOST:PORT
  int port = -1;       // --port N: localhost:N
  std::string discovery;
  bool daemon = false;
  bool verbose = false;
  bool ipv6 = false;
  bool allow_remote = false;
  std::string mesh;  // --mesh: "", userspace or host
  std::string log_level = "info";
  std::string grace = "10s";
};

// Adds the options and positional colony ids of `proxy start` to `command`.
void add_proxy_start_options(CLI::App& command, ProxyStartFlags& flags);
void run_proxy_start(const ProxyStartFlags& flags, Context& context);

void add_proxy_commands(CLI::App& app, Context& context);

}  // namespace coral::cli
