#include "wireguard/rate_limiter.h"

namespace coral::wireguard {

std::size_t HandshakeRateLimiter::AddressHash::operator()(const IpAddress& address) const {
  std::size_t hash = static_cast<std::size_t>(address.family);
  for (const std::uint8_t byte : address.bytes) hash = hash * 131 + byte;
  return hash;
}

}  // namespace coral::wireguard
