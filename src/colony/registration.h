#pragma once
// The colony's registration with discovery: what it announces (the
// request, built from the config) and the loop that renews it every
// register_interval. Discovery being down is never fatal: the first failure
// of an outage is logged as a warning with its cause, retries back off from
// 1 s up to the interval, and the recovery is logged.

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "colony/config.h"
#include "coral/discovery/v1/discovery.pb.h"
#include "discovery/client.h"

namespace coral::colony {

// mesh_id, pubkey, `public_endpoints` (the WireGuard listener's "host:port"s),
// both mesh IPs, connect_port, and metadata app/environment/colony_id.
discovery::v1::RegisterColonyRequest registration_request(const ColonyConfig& config,
                                                          const std::vector<std::string>& public_endpoints);

// When to try again after `failures` failures in a row (1 s, 2 s, 4 s, ...
// never more than `interval`).
std::chrono::milliseconds retry_delay(int failures, std::chrono::milliseconds interval);

class RegistrationLoop {
 public:
  RegistrationLoop(boost::asio::any_io_executor executor, discovery::DiscoveryClient& client,
                   discovery::v1::RegisterColonyRequest request, std::chrono::milliseconds interval);

  // Registers now, then every interval, until stop().
  boost::asio::awaitable<void> run();
  void stop();

  bool registered() const { return registered_; }
  const std::string& last_error() const { return last_error_; }

 private:
  discovery::DiscoveryClient& client_;
  discovery::v1::RegisterColonyRequest request_;
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  bool stopping_ = false;
  bool registered_ = false;
  int failures_ = 0;
  std::string last_error_;
};

}  // namespace coral::colony
