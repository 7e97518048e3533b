#pragma once
// What the colony service tests share: a valid colony on loopback-style
// mesh subnets (127.42.0.0/16 and a ULA /64), and fresh peer keys.

#include <string>

#include "base/address.h"
#include "base/cidr.h"
#include "base/log.h"
#include "config/colony_file.h"
#include "crypto/keys.h"

namespace coral::colony::testing {

inline config::ColonyConfig test_config(const std::string& ipv4_net = "127.42.0.0/16") {
  config::ColonyConfig config;
  config.colony_id = "my-shop-production-a3f2e1";
  config.app_name = "my-shop";
  config.environment = "production";
  config.wireguard.private_key = crypto::SecretKey::generate();
  config.wireguard.public_key = config.wireguard.private_key.public_key();
  config.wireguard.mesh_ipv4 = *base::parse_ipv4("127.42.0.1");
  config.wireguard.mesh_ipv6 = *base::parse_ipv6("fdc0:42::1");
  config.wireguard.mesh_network_ipv4 = base::Cidr::parse(ipv4_net).value();
  config.wireguard.mesh_network_ipv6 = base::Cidr::parse("fdc0:42::/64").value();
  config.services.connect_port = 9000;
  config.services.dashboard_port = 3000;
  config.colony_secret = crypto::generate_colony_secret();
  return config;
}

// Logs go to stderr (as the colony's do), at info, so that tests can capture
// them. Once per process, whichever test of the binary asks first (setup
// registers a logger by name and refuses a second one).
inline void log_to_stderr() {
  static const bool once = (log::setup(log::Level::info, log::Format::text), true);
  (void)once;
}

inline std::string new_pubkey() { return crypto::SecretKey::generate().public_key().to_base64(); }

}  // namespace coral::colony::testing
