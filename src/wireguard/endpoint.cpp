#include "wireguard/endpoint.h"

#include <algorithm>
#include <functional>
#include <string_view>

namespace coral::wireguard {

Endpoint canonical(const Endpoint& endpoint) {
  if (!endpoint.address.is_ipv6() || !base::is_ipv4_mapped(endpoint.address.bytes)) return endpoint;
  const auto& bytes = endpoint.address.bytes;
  return Endpoint{IpAddress::v4({bytes[12], bytes[13], bytes[14], bytes[15]}), endpoint.port};
}

bool EndpointLess::operator()(const Endpoint& a, const Endpoint& b) const {
  if (a.address.family != b.address.family) return a.address.is_ipv4();
  if (a.address.bytes != b.address.bytes) return a.address.bytes < b.address.bytes;
  return a.port < b.port;
}

std::size_t EndpointHash::operator()(const Endpoint& endpoint) const {
  // The 16 address bytes, the port and the family, hashed as one string:
  // std::hash of a string_view is a decent byte hash and needs no seed.
  std::array<char, 19> key{};
  std::copy(endpoint.address.bytes.begin(), endpoint.address.bytes.end(), key.begin());
  key[16] = static_cast<char>(endpoint.port >> 8);
  key[17] = static_cast<char>(endpoint.port & 0xff);
  key[18] = static_cast<char>(endpoint.address.family);
  return std::hash<std::string_view>{}(std::string_view(key.data(), key.size()));
}

EndpointBytes::EndpointBytes(const Endpoint& endpoint) {
  size_ = endpoint.address.is_ipv4() ? 4 : 16;
  std::copy_n(endpoint.address.bytes.begin(), size_, bytes_.begin());
  bytes_[size_] = static_cast<std::uint8_t>(endpoint.port >> 8);
  bytes_[size_ + 1] = static_cast<std::uint8_t>(endpoint.port & 0xff);
  size_ += 2;
}

}  // namespace coral::wireguard
