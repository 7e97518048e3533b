#pragma once
// A member's WireGuard tunnel to its colony, on the userspace transport
// (RFD 005, "Connection Flow" steps 3-4; DESIGN.md "Registration over the
// tunnel"): coral's own WireGuard device on one UDP socket of any free port
// and a userspace TCP/IP stack — no privilege, no other socket.
//
// The device has one peer, the colony: its pinned key, AllowedIPs the
// colony's mesh subnets, a persistent keepalive (a member behind NAT stays
// reachable, and the colony learns where it is from its packets). Before
// Register the stack holds only the member's registration address (an IPv6
// link-local address derived from its key, mesh/registration_address.h),
// the one source a provisional peer may use; after Register, the assigned
// mesh addresses too.
//
// establish() tries the colony's public endpoints in turn and waits for a
// completed handshake on each, so that it can say which answered and which
// timed out.

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "base/cidr.h"
#include "crypto/keys.h"
#include "mesh/wireguard_transport.h"

namespace boost::asio {
class io_context;
}

namespace coral::member {

// Seconds between keepalives towards the colony: under the UDP timeouts of
// common NATs (30 s and up).
inline constexpr std::uint16_t kPersistentKeepalive = 25;

struct TunnelOptions {
  crypto::SecretKey private_key;
  crypto::PublicKey colony_key;
  std::vector<base::Cidr> colony_subnets;  // the colony's mesh subnets: the peer's AllowedIPs
  std::chrono::milliseconds handshake_timeout{2500};  // per endpoint
  std::chrono::milliseconds connect_timeout{5000};
};

// What `coral proxy status` shows of the tunnel.
struct TunnelFacts {
  std::string endpoint;  // where the colony is now ("" before the first handshake)
  std::optional<std::chrono::system_clock::time_point> last_handshake;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
  std::uint16_t listen_port = 0;
};

class Tunnel {
 public:
  using Detail = std::function<void(const std::string& line)>;

  static std::expected<std::unique_ptr<Tunnel>, std::string> open(boost::asio::io_context& io, TunnelOptions options);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  // Points the colony peer at each of `endpoints` ("host:port") in turn
  // until a handshake completes; returns the endpoint that answered, or an
  // error naming every endpoint tried ("handshake timed out after 2500 ms
  // with 192.0.2.1:41820, [2001:db8::1]:41820"). `detail` gets the steps.
  boost::asio::awaitable<std::expected<std::string, std::string>> establish(std::vector<std::string> endpoints,
                                                                           Detail detail);

  mesh::WireGuardTransport& transport() { return *transport_; }
  const std::string& registration_address() const { return registration_address_; }
  // Streams from the registration address (Register over the tunnel).
  net::Dialer registration_dialer();
  TunnelFacts facts() const;
  const std::vector<base::Cidr>& colony_subnets() const { return options_.colony_subnets; }

 private:
  Tunnel(boost::asio::io_context& io, TunnelOptions options, std::unique_ptr<mesh::WireGuardTransport> transport,
         std::string registration_address);
  std::expected<void, std::string> point_at(const wireguard::Endpoint& endpoint);

  boost::asio::io_context& io_;
  TunnelOptions options_;
  std::unique_ptr<mesh::WireGuardTransport> transport_;
  std::string registration_address_;
};

}  // namespace coral::member
