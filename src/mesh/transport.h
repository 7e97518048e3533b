#pragma once
// The mesh transport interface (DESIGN.md, "Mesh transports"): how code
// above the network — HTTP servers and clients, the colony's services, the
// proxy — listens on and dials mesh addresses, whatever carries the bytes.
//
//   host       plain host sockets; the host already reaches the mesh
//              addresses (or, in tests, they are loopback addresses)
//   userspace  coral's WireGuard + a userspace TCP/IP stack (later)
//   tun        coral's WireGuard + a TUN device, kernel TCP/IP (later)

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "net/dialer.h"
#include "net/stream.h"

namespace coral::mesh {

class Transport {
 public:
  virtual ~Transport() = default;
  // "host", "userspace" or "tun": for logs and status output.
  virtual std::string_view name() const = 0;
  // Listens on `address` (an IPv4 or IPv6 literal of this node's mesh
  // addresses) at `port`. Errors: net::Errc::not_an_ip_address; the
  // system's (std::errc::address_in_use, ...); net::Errc values for what a
  // transport cannot do (mesh_address_not_local: the host transport, on an
  // address that is on no interface here). net::describe_listen_error
  // words them for people, naming the address.
  virtual std::expected<std::unique_ptr<net::Listener>, std::error_code> listen(const std::string& address,
                                                                               std::uint16_t port) = 0;
  // Opens streams to mesh addresses, for http::Client. Its errors are
  // std::error_code values (net/dialer.h).
  virtual net::Dialer dialer() = 0;
  // The mesh addresses this node was assigned (a proxy's, after
  // MeshService.Register): streams it dials come from them where the
  // transport can arrange it.
  virtual void set_mesh_addresses(const std::string& ipv4, const std::string& ipv6) = 0;
};

}  // namespace coral::mesh
