#pragma once
// Asking a running proxy about itself: GET /-/coral/proxy/health on its
// listen address. How the CLI tells a live proxy from a stale state file,
// and where `coral proxy status` gets status, requests and uptime.

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "coral/proxy/v1/health.pb.h"

namespace coral::cli {

struct ProxyHealth {
  long long pid = 0;
  long long uptime_seconds = 0;
  long long requests = 0;
  long long failed = 0;
  // What the proxy said of each colony (status: "connected",
  // "unreachable: <why>" or "revoked: <why>").
  std::vector<proxy::v1::ColonyHealth> colonies;

  // The status of `colony_id`, "not served" when the proxy does not serve it.
  std::string colony_status(const std::string& colony_id) const;
  const proxy::v1::ColonyHealth* find(const std::string& colony_id) const;
  bool serves(const std::string& colony_id) const;
};

// `listen` is "host:port" ("localhost:8000", "[::1]:8000"). Errors say why
// (connection refused, not a coral proxy).
boost::asio::awaitable<std::expected<ProxyHealth, std::string>> fetch_proxy_health(std::string listen);

}  // namespace coral::cli
