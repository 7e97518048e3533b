#pragma once
// A running colony: its state (the peer store under the config dir), its
// services (ColonyService, MeshService) served over Connect, gRPC and
// gRPC-Web on its mesh addresses at connect_port through a mesh transport,
// and its registration with discovery. `coral colony start` is this plus
// signal handling and, with --daemon, a PID file.
//
// Both mesh addresses are tried; one family that cannot be bound (with the
// host transport, an IPv6 mesh address that is on no interface of this
// host) is a warning, both failing is an error. The admin socket
// (admin_server.h) is served too; when it cannot be, the colony runs
// without it, with a warning. Requests from proxy peers
// (a source address held by a peer of kind proxy) are audit-logged.

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "colony/admin_service.h"
#include "colony/provisional_peers.h"
#include "config/colony_file.h"
#include "config/config_dir.h"
#include "mesh/transport.h"

namespace boost::asio {
class io_context;
}

namespace coral::colony {

struct RuntimeOptions {
  // The WireGuard listener's public "host:port"s, announced to discovery.
  std::vector<std::string> public_endpoints;
  std::chrono::seconds heartbeat_interval{15};
  // What the transport's WireGuard device knows of each peer, for the admin
  // socket's ListPeers; empty when there is no device (host transport).
  WireGuardInfoProvider wireguard_info;
  // Provisional peers (userspace transport): how many, how fast, how long.
  ProvisionalLimits provisional;
};

class ColonyRuntime {
 public:
  // Opens the state, binds the listeners and starts serving and (when
  // discovery.auto_register) registering. Errors name what failed: the
  // state file, or every address that could not be bound.
  static std::expected<std::unique_ptr<ColonyRuntime>, std::string> start(boost::asio::io_context& io,
                                                                         const config::ConfigDir& dir,
                                                                         config::ColonyConfig config,
                                                                         mesh::Transport& transport,
                                                                         RuntimeOptions options = {});
  ~ColonyRuntime();

  // "127.42.0.1:9000", "[fd42::1]:9000": where the services are served.
  std::vector<std::string> addresses() const;
  // Warnings from start-up (a family not bound), for the CLI to show.
  const std::vector<std::string>& warnings() const;
  // The admin socket served, or empty when it could not be (see warnings()).
  std::filesystem::path admin_socket() const;

  // Stops registering and accepting; in-flight requests get up to `grace`.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit ColonyRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace coral::colony
