#pragma once
// A running local proxy (RFD 005): for each colony it serves, load the
// colony's config when this machine has it, look the colony up in
// discovery, open its mesh transport, register as a proxy peer (when the
// colony secret is at hand), then serve HTTP/1.1 + h2c on the listen
// address and forward (forwarder.h). Writes its runtime state
// (state.h) and removes it on shutdown, after unregistering.
//
// `progress` receives each step as the RFD's `--verbose` output shows it
// ("Resolving colony: my-app-prod", " ↳ Querying discovery service at ...").

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "config/config_dir.h"

namespace boost::asio {
class io_context;
}

namespace coral::proxy {

inline constexpr std::string_view kDefaultDiscovery = "http://localhost:8080";

struct ProxyOptions {
  std::vector<std::string> colonies;  // the first is the default route
  std::string listen_host = "localhost";
  std::uint16_t listen_port = 8000;
  bool allow_remote = false;  // a non-loopback listen address
  bool prefer_ipv6 = false;   // forward to the colony's IPv6 mesh address
  std::string discovery;      // overrides the colony config's endpoint
  // How to reach the colonies' meshes (--mesh); nullopt: as each colony
  // announces (member::JoinOptions::mesh).
  std::optional<config::MeshTransport> mesh;
  // Appendix E's lines (--verbose); may be empty.
  std::function<void(const std::string& line)> detail;
};

// One colony as the proxy reaches it.
struct ServedColony {
  std::string colony_id;
  std::string mesh_ipv4;  // the colony's
  std::string mesh_ipv6;
  std::uint16_t connect_port = 0;
  std::string forwarding_to;   // "127.42.0.1:9000"
  std::string proxy_mesh_ipv4; // ours, when registered
  std::string proxy_mesh_ipv6;
  std::string discovery;       // the endpoint used
};

class ProxyRuntime {
 public:
  using Progress = std::function<void(const std::string& line)>;

  static boost::asio::awaitable<std::expected<std::unique_ptr<ProxyRuntime>, std::string>> start(
      boost::asio::io_context& io, config::ConfigDir dir, ProxyOptions options, Progress progress);
  ~ProxyRuntime();

  // "localhost:8000" (the port actually bound when 0 was asked for).
  std::string listen_address() const;
  std::vector<ServedColony> colonies() const;
  // Non-fatal problems met on the way (not registered, colony not reachable yet).
  const std::vector<std::string>& warnings() const;
  // The health endpoint's JSON.
  std::string health_json() const;

  // Stops accepting, drains (up to `grace`), unregisters, removes the state.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit ProxyRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True for loopback hosts: "localhost", 127.0.0.0/8, ::1.
bool is_loopback_host(std::string_view host);

}  // namespace coral::proxy
