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

#include "http/client.h"
#include "http/stream.h"

namespace coral::mesh {

class Transport {
 public:
  virtual ~Transport() = default;
  // "host", "userspace" or "tun": for logs and status output.
  virtual std::string_view name() const = 0;
  // Listens on `address` (an IPv4 or IPv6 literal of this node's mesh
  // addresses) at `port`. Errors name the address and say what to do.
  virtual std::expected<std::unique_ptr<http::Listener>, std::string> listen(const std::string& address,
                                                                            std::uint16_t port) = 0;
  // Opens streams to mesh addresses, for http::Client.
  virtual http::Dialer dialer() = 0;
  // The mesh addresses this node was assigned (a proxy's, after
  // MeshService.Register): streams it dials come from them where the
  // transport can arrange it.
  virtual void set_mesh_addresses(const std::string& ipv4, const std::string& ipv6) = 0;
};

}  // namespace coral::mesh
