#include "base/cidr.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "base/text.h"

namespace coral::base {
namespace {

constexpr std::uint64_t all_ones = std::numeric_limits<std::uint64_t>::max();

// An IPv6 address as two 64-bit halves, most significant first.
struct U128 {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
};

// Big-endian (network order) 64-bit loads and stores.
std::uint64_t load64(const std::uint8_t* bytes) {
  std::uint64_t value = 0;
  std::memcpy(&value, bytes, sizeof value);
  if constexpr (std::endian::native == std::endian::little) value = std::byteswap(value);
  return value;
}

void store64(std::uint64_t value, std::uint8_t* bytes) {
  if constexpr (std::endian::native == std::endian::little) value = std::byteswap(value);
  std::memcpy(bytes, &value, sizeof value);
}

U128 load(const Ipv6Bytes& bytes) { return U128{load64(bytes.data()), load64(bytes.data() + 8)}; }

Ipv6Bytes store(U128 value) {
  Ipv6Bytes bytes{};
  store64(value.hi, bytes.data());
  store64(value.lo, bytes.data() + 8);
  return bytes;
}

// The network mask of a /prefix_length IPv6 prefix (0-128).
U128 mask6(unsigned prefix_length) {
  U128 mask;
  mask.hi = prefix_length >= 64 ? all_ones : prefix_length == 0 ? 0 : all_ones << (64 - prefix_length);
  mask.lo = prefix_length <= 64 ? 0 : all_ones << (128 - prefix_length);
  return mask;
}

std::uint32_t load(const Ipv4Bytes& bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) | bytes[3];
}

Ipv4Bytes store(std::uint32_t value) {
  return {static_cast<std::uint8_t>(value >> 24), static_cast<std::uint8_t>(value >> 16),
          static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
}

// The network mask of a /prefix_length IPv4 prefix (0-32).
std::uint32_t mask4(unsigned prefix_length) {
  return prefix_length == 0 ? 0 : std::uint32_t(0xffffffffU << (32 - prefix_length));
}

std::unexpected<std::string> invalid(std::string_view text, std::string_view why) {
  return std::unexpected("invalid CIDR " + base::quote(text) + ": " + std::string(why));
}

}  // namespace

std::expected<Cidr, std::string> Cidr::parse(std::string_view text) {
  if (text.empty()) return invalid(text, "empty (expected a prefix such as 10.42.0.0/16 or fd42::/64)");
  const std::size_t slash = text.rfind('/');
  if (slash == std::string_view::npos) {
    return invalid(text, "the prefix length is missing (as in 10.42.0.0/16 or fd42::/64)");
  }
  const std::string_view address = text.substr(0, slash);
  const std::string_view length = text.substr(slash + 1);
  const bool v6 = address.find(':') != std::string_view::npos;
  const bool digits = !length.empty() && std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; });
  unsigned prefix_length = 0;
  if (digits && length.size() <= 3 && (length.size() == 1 || length[0] != '0')) {
    for (char c : length) prefix_length = prefix_length * 10 + unsigned(c - '0');
  } else {
    prefix_length = 1000;  // not a number: make4/make6 report the range
  }
  if (v6) {
    const auto bytes = parse_ipv6(address);
    if (!bytes) return invalid(text, base::quote(address) + " is not an IPv6 address");
    return make6(*bytes, prefix_length, text);
  }
  const auto bytes = parse_ipv4(address);
  if (!bytes) return invalid(text, base::quote(address) + " is not an IPv4 or IPv6 address");
  return make4(*bytes, prefix_length, text);
}

std::expected<Cidr, std::string> Cidr::ipv4(const Ipv4Bytes& network, unsigned prefix_length) {
  return make4(network, prefix_length, format_ipv4(network) + "/" + std::to_string(prefix_length));
}

std::expected<Cidr, std::string> Cidr::ipv6(const Ipv6Bytes& network, unsigned prefix_length) {
  return make6(network, prefix_length, format_ipv6(network) + "/" + std::to_string(prefix_length));
}

std::expected<Cidr, std::string> Cidr::make4(const Ipv4Bytes& network, unsigned prefix_length, std::string_view text) {
  if (prefix_length > 32) return invalid(text, "the prefix length must be a number 0-32 for IPv4");
  const std::uint32_t mask = mask4(prefix_length);
  if ((load(network) & ~mask) != 0) {
    return invalid(text, "host bits set (did you mean " + format_ipv4(store(load(network) & mask)) + "/" +
                             std::to_string(prefix_length) + "?)");
  }
  Cidr cidr;
  cidr.family_ = IpFamily::ipv4;
  cidr.prefix_length_ = prefix_length;
  cidr.ipv4_ = network;
  return cidr;
}

std::expected<Cidr, std::string> Cidr::make6(const Ipv6Bytes& network, unsigned prefix_length, std::string_view text) {
  if (prefix_length > 128) return invalid(text, "the prefix length must be a number 0-128 for IPv6");
  const U128 value = load(network);
  const U128 mask = mask6(prefix_length);
  if ((value.hi & ~mask.hi) != 0 || (value.lo & ~mask.lo) != 0) {
    return invalid(text, "host bits set (did you mean " + format_ipv6(store(U128{value.hi & mask.hi, value.lo & mask.lo})) +
                             "/" + std::to_string(prefix_length) + "?)");
  }
  Cidr cidr;
  cidr.family_ = IpFamily::ipv6;
  cidr.prefix_length_ = prefix_length;
  cidr.ipv6_ = network;
  return cidr;
}

std::uint64_t Cidr::size() const {
  const unsigned bits = host_bits();
  return bits >= 64 ? all_ones : std::uint64_t{1} << bits;
}

std::uint64_t Cidr::max_index() const {
  const unsigned bits = host_bits();
  return bits >= 64 ? all_ones : (std::uint64_t{1} << bits) - 1;
}

bool Cidr::contains(const Ipv4Bytes& address) const {
  return is_ipv4() && (load(address) & mask4(prefix_length_)) == load(ipv4_);
}

bool Cidr::contains(const Ipv6Bytes& address) const {
  if (!is_ipv6()) return false;
  const U128 value = load(address);
  const U128 network = load(ipv6_);
  const U128 mask = mask6(prefix_length_);
  return (value.hi & mask.hi) == network.hi && (value.lo & mask.lo) == network.lo;
}

bool Cidr::contains(std::string_view address) const {
  if (is_ipv4()) {
    const auto bytes = parse_ipv4(address);
    return bytes && contains(*bytes);
  }
  const auto bytes = parse_ipv6(address);
  return bytes && contains(*bytes);
}

std::optional<Ipv4Bytes> Cidr::ipv4_at(std::uint64_t index) const {
  if (!is_ipv4() || index > max_index()) return std::nullopt;
  return store(load(ipv4_) | static_cast<std::uint32_t>(index));
}

std::optional<Ipv6Bytes> Cidr::ipv6_at(std::uint64_t index) const {
  if (!is_ipv6() || index > max_index()) return std::nullopt;
  // The host bits of the network are zero and the index fits in them (for
  // prefixes shorter than /64 the low half is all host bits).
  const U128 network = load(ipv6_);
  return store(U128{network.hi, network.lo | index});
}

std::optional<std::string> Cidr::address_at(std::uint64_t index) const {
  if (is_ipv4()) return ipv4_at(index).transform([](const Ipv4Bytes& a) { return format_ipv4(a); });
  return ipv6_at(index).transform([](const Ipv6Bytes& a) { return format_ipv6(a); });
}

std::optional<std::uint64_t> Cidr::index_of(const Ipv4Bytes& address) const {
  if (!contains(address)) return std::nullopt;
  return load(address) & ~mask4(prefix_length_);
}

std::optional<std::uint64_t> Cidr::index_of(const Ipv6Bytes& address) const {
  if (!contains(address)) return std::nullopt;
  const U128 value = load(address);
  const U128 mask = mask6(prefix_length_);
  if ((value.hi & ~mask.hi) != 0) return std::nullopt;  // beyond the first 2^64 addresses
  return value.lo & ~mask.lo;
}

std::optional<std::uint64_t> Cidr::index_of(std::string_view address) const {
  if (is_ipv4()) {
    const auto bytes = parse_ipv4(address);
    return bytes ? index_of(*bytes) : std::nullopt;
  }
  const auto bytes = parse_ipv6(address);
  return bytes ? index_of(*bytes) : std::nullopt;
}

std::string Cidr::to_string() const {
  return (is_ipv4() ? format_ipv4(ipv4_) : format_ipv6(ipv6_)) + "/" + std::to_string(prefix_length_);
}

}  // namespace coral::base
