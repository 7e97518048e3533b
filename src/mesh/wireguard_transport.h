#pragma once
// The mesh transports that carry the mesh over coral's own WireGuard
// (DESIGN.md, "Mesh transports"):
//
//   userspace  the WireGuard device over one UDP socket, and a userspace
//              TCP/IP stack (src/netstack) that holds the node's mesh
//              addresses: no privilege, no other socket on the host.
//   tun        the WireGuard device over one UDP socket, and a TUN device
//              (coral-<name>0) holding the mesh addresses: the kernel's
//              TCP/IP, the mesh routed system-wide. Needs CAP_NET_ADMIN.
//
// Both also serve the UAPI socket (/var/run/wireguard/<interface>.sock)
// where the process may create it, so that `wg show` reads the device.
//
// The node's peers are the device's: set_peers() makes the device's peer
// list (sessions of peers that stay are kept; a peer that goes loses its
// sessions at once, and its packets get nothing from then on). Peers that
// the unknown-peer handler admitted are in that list too: set_peers()
// keeps them only if it lists them.
//
// Registration over the tunnel (issue 14): a member without mesh
// addresses holds a link-local registration address
// (mesh/registration_address.h) and dials the colony from it
// (dialer_from); the colony admits unknown keys through an unknown-peer
// handler with that address as their AllowedIPs, and restricts what
// link-local sources reach to its registration port (link_local_tcp_port).
// The userspace transport does all of it; the tun transport has no
// link-local address (the options are ignored, set_link_local and
// dialer_from fail with net::Errc::not_supported_by_transport).

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "crypto/keys.h"
#include "mesh/transport.h"
#include "netstack/stack.h"
#include "wireguard/engine.h"
#include "wireguard/settings.h"
#include "wireguard/uapi.h"

namespace coral::mesh {

struct WireGuardTransportOptions {
  crypto::SecretKey private_key;
  std::uint16_t listen_port = 0;  // UDP; 0: any free port
  std::string ipv4;               // the node's mesh addresses; empty: none yet
  std::string ipv6;
  // The mesh subnets' prefix lengths: the TUN device's routes.
  unsigned ipv4_prefix_length = 16;
  unsigned ipv6_prefix_length = 64;
  // The TUN device's name and the UAPI socket's (default_interface_name);
  // empty: no UAPI socket (and no tun transport).
  std::string interface_name;
  std::uint16_t mtu = wireguard::kDefaultMtu;
  std::chrono::milliseconds connect_timeout{5000};
  netstack::StackLimits limits;
  // The userspace stack's link-local address (a registration address) and
  // the one TCP port that link-local sources may reach (0: any); see
  // netstack::StackOptions. Ignored by the tun transport.
  std::string link_local;
  std::uint16_t link_local_tcp_port = 0;
};

class WireGuardTransport : public Transport {
 public:
  // Makes `peers` the device's peers.
  virtual std::expected<void, std::string> set_peers(std::vector<wireguard::PeerSettings> peers) = 0;
  // What `wg show` reports: peers, endpoints, handshakes, bytes.
  virtual wireguard::uapi::DeviceSnapshot snapshot() const = 0;
  // The UDP port the device is bound to.
  virtual std::uint16_t listen_port() const = 0;
  // The userspace stack's counters (connections, refusals, packets); zero
  // for the tun transport.
  virtual netstack::StackStats stack_stats() const = 0;
  // Where `wg show` finds the device, or why it cannot ("" and the reason).
  virtual std::string uapi_path() const = 0;
  virtual std::string uapi_unavailable() const = 0;

  // The device's handler for handshakes from keys that are no peer's
  // (wireguard::UnknownPeerHandler): called on the transport's io_context
  // thread while the device reads datagrams; it must not call back into
  // the transport (set_peers, ...) from inside the call. An empty one
  // drops them (the default).
  virtual void set_unknown_peer_handler(wireguard::UnknownPeerHandler handler) = 0;
  // Sets the link-local address ("" removes it; see
  // netstack::Stack::set_link_local). The tun transport: "" succeeds,
  // anything else is net::Errc::not_supported_by_transport.
  virtual std::error_code set_link_local(const std::string& address) = 0;
  // Streams from `source`, one of the node's addresses (the link-local one
  // included); see netstack::Stack::dialer_from. The tun transport's fails
  // every dial with net::Errc::not_supported_by_transport.
  virtual net::Dialer dialer_from(const std::string& source) = 0;
};

// coral-<up to 8 characters of the name>0: at most 15 bytes, as the kernel
// wants ("shop-production-a3f2" -> "coral-shop-pro0").
std::string default_interface_name(std::string_view name);

// The userspace transport on `io` (its thread runs the device and the
// stack). Errors name what failed: "UDP port 41820: Address already in
// use", "mesh address \"10.42.0.300\" is not an IP address".
std::expected<std::unique_ptr<WireGuardTransport>, std::string> make_userspace_transport(
    boost::asio::io_context& io, WireGuardTransportOptions options);

// Why a tun transport did not open.
enum class TunTransportError {
  no_capability,     // no CAP_NET_ADMIN (or /dev/net/tun not accessible)
  no_tun_device,     // /dev/net/tun missing
  interface_in_use,  // an interface of that name exists
  other,             // the message says what
};
struct TunTransportFailure {
  TunTransportError code = TunTransportError::other;
  std::string message;  // for people, naming the interface and what to do
};

// The tun transport on `io`: the TUN device `options.interface_name` with
// the mesh addresses and the subnets' routes, the WireGuard device, and
// the host's sockets on the mesh addresses.
std::expected<std::unique_ptr<WireGuardTransport>, TunTransportFailure> make_tun_transport(
    boost::asio::io_context& io, WireGuardTransportOptions options);

// A peer of the hub: its key, and AllowedIPs of exactly its two mesh
// addresses (a /32 and a /128; either may be empty).
std::expected<wireguard::PeerSettings, std::string> hub_peer(const std::string& public_key_base64,
                                                             const std::string& mesh_ipv4,
                                                             const std::string& mesh_ipv6);

}  // namespace coral::mesh
