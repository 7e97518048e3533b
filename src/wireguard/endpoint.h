#pragma once
// Endpoints (settings.h's Endpoint: an IP literal and a UDP port) as the
// data path uses them: one canonical form per address, ordering and hashing
// for peer and cookie tables, and the bytes a cookie is computed over.
//
// Canonical form: an IPv4 peer reaching a dual-stack socket shows up as
// ::ffff:a.b.c.d, and a configuration may spell it that way too. Roaming
// compares endpoints and the cookie binds one, so both forms must be one
// value: canonical() turns IPv4-mapped IPv6 into plain IPv4. The UDP socket
// (device/udp_socket.h) hands out canonical endpoints only.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "wireguard/settings.h"

namespace coral::wireguard {

// IPv4-mapped IPv6 (::ffff:0:0/96) becomes the IPv4 address it carries; any
// other endpoint is returned as it is.
Endpoint canonical(const Endpoint& endpoint);

// Orders endpoints by family (IPv4 first), address bytes, then port: a key
// for std::map. Compares the values as given (not canonical()).
struct EndpointLess {
  bool operator()(const Endpoint& a, const Endpoint& b) const;
};

// For std::unordered_map; equal endpoints hash equally.
struct EndpointHash {
  std::size_t operator()(const Endpoint& endpoint) const;
};

// The source of a handshake message as WireGuard's cookie binds it (paper,
// section 5.4.7: "the IP address and UDP port"): the 4 or 16 address bytes,
// then the port in network byte order, as the kernel's cookie.c hashes them.
// Only the node that makes a cookie ever computes this, so peers need not
// agree on the layout.
class EndpointBytes {
 public:
  explicit EndpointBytes(const Endpoint& endpoint);
  std::span<const std::uint8_t> bytes() const { return {bytes_.data(), size_}; }

 private:
  std::array<std::uint8_t, 18> bytes_{};
  std::size_t size_ = 0;
};

}  // namespace coral::wireguard
