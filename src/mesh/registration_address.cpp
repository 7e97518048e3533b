#include "mesh/registration_address.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "base/address.h"
#include "crypto/blake2s.h"

namespace coral::mesh {

namespace {

constexpr std::string_view kDomain = "coral registration address v1";

}  // namespace

std::string registration_address(const crypto::PublicKey& key) {
  crypto::Blake2s hash;
  hash.update(std::span(reinterpret_cast<const std::uint8_t*>(kDomain.data()), kDomain.size()));
  hash.update(key.bytes());
  crypto::Blake2sDigest digest{};
  hash.finish(digest);
  base::Ipv6Bytes address{};
  address[0] = 0xfe;
  address[1] = 0x80;
  std::copy_n(digest.begin(), 8, address.begin() + 8);
  return base::format_ipv6(address);
}

bool is_registration_address(std::string_view text) {
  const auto address = base::parse_ipv6(text);
  if (!address) return false;
  static constexpr std::array<std::uint8_t, 8> kPrefix = {0xfe, 0x80, 0, 0, 0, 0, 0, 0};
  return std::equal(kPrefix.begin(), kPrefix.end(), address->begin());
}

}  // namespace coral::mesh
