#pragma once
// IPv4 and IPv6 prefixes in CIDR notation ("10.42.0.0/16", "fd42::/64"), as
// coral's configs and flags spell the colonies' mesh subnets. A Cidr is
// always a network address: parsing refuses host bits ("10.42.0.1/16").
//
// Addresses inside a prefix are numbered from the network address: index i
// is network + i, so index 15 of 10.42.0.0/16 is 10.42.0.15 and index 15 of
// fd42::/64 is fd42::f. Indexes are 64-bit: an IPv6 prefix shorter than /64
// has more addresses than that, and only its first 2^64 are numbered
// (size() and max_index() saturate; see there).
//
// Families are strict: an IPv4 prefix contains no IPv6 address, not even an
// IPv4-mapped one (::ffff:10.42.0.1); callers that take dual-stack socket
// addresses unmap them first.

#include "base/address.h"

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace coral::base {

enum class IpFamily : std::uint8_t { ipv4, ipv6 };

class Cidr {
 public:
  // "address/length": a dotted-quad IPv4 address with a length 0-32, or an
  // IPv6 address (any form parse_ipv6 takes, no zone id) with 0-128; the
  // length in decimal without leading zeros. Errors name the input:
  //   invalid CIDR "10.42.0.1/16": host bits set (did you mean 10.42.0.0/16?)
  static std::expected<Cidr, std::string> parse(std::string_view text);
  // The same rules from parts (errors name "address/length" as parse does).
  static std::expected<Cidr, std::string> ipv4(const Ipv4Bytes& network, unsigned prefix_length);
  static std::expected<Cidr, std::string> ipv6(const Ipv6Bytes& network, unsigned prefix_length);

  IpFamily family() const { return family_; }
  bool is_ipv4() const { return family_ == IpFamily::ipv4; }
  bool is_ipv6() const { return family_ == IpFamily::ipv6; }
  unsigned prefix_length() const { return prefix_length_; }
  // 32 or 128 minus the prefix length.
  unsigned host_bits() const { return (is_ipv4() ? 32U : 128U) - prefix_length_; }
  // The network address. Only the one of the prefix's family is meaningful
  // (the other is all zeros).
  const Ipv4Bytes& network_ipv4() const { return ipv4_; }
  const Ipv6Bytes& network_ipv6() const { return ipv6_; }

  // Number of addresses, 2^host_bits(), saturated at UINT64_MAX when that
  // does not fit (IPv6 prefixes of /64 and shorter).
  std::uint64_t size() const;
  // The highest index: 2^host_bits() - 1, saturated at UINT64_MAX (exact
  // for a /64, whose last index is 2^64 - 1).
  std::uint64_t max_index() const;

  // Whether the address lies in the prefix. An address of the other family
  // never does.
  bool contains(const Ipv4Bytes& address) const;
  bool contains(const Ipv6Bytes& address) const;
  // Text form: an IPv4 or IPv6 address; false if it is neither.
  bool contains(std::string_view address) const;

  // network + index; nullopt if the index is beyond max_index() or the
  // prefix is of the other family.
  std::optional<Ipv4Bytes> ipv4_at(std::uint64_t index) const;
  std::optional<Ipv6Bytes> ipv6_at(std::uint64_t index) const;
  // The canonical text of network + index, in the prefix's family.
  std::optional<std::string> address_at(std::uint64_t index) const;

  // The inverse: address - network; nullopt if the prefix does not contain
  // the address (or, for IPv6 prefixes shorter than /64, if the index does
  // not fit in 64 bits).
  std::optional<std::uint64_t> index_of(const Ipv4Bytes& address) const;
  std::optional<std::uint64_t> index_of(const Ipv6Bytes& address) const;
  std::optional<std::uint64_t> index_of(std::string_view address) const;

  // Canonical text: "10.42.0.0/16", "fd42::/64" (RFC 5952).
  std::string to_string() const;

  bool operator==(const Cidr&) const = default;

 private:
  Cidr() = default;
  // The checks of ipv4()/ipv6(); errors name `text`.
  static std::expected<Cidr, std::string> make4(const Ipv4Bytes& network, unsigned prefix_length, std::string_view text);
  static std::expected<Cidr, std::string> make6(const Ipv6Bytes& network, unsigned prefix_length, std::string_view text);
  IpFamily family_ = IpFamily::ipv4;
  unsigned prefix_length_ = 0;
  Ipv4Bytes ipv4_{};
  Ipv6Bytes ipv6_{};
};

}  // namespace coral::base
