#pragma once
// What a WireGuard device is configured with, as plain values: the common
// ground of the configuration file (conf_file.h), the UAPI protocol (uapi.h)
// and the device. Nothing here does I/O or resolves names.
//
// Text forms are the ones `wg` and wireguard-go print: endpoints as
// "192.0.2.1:51820" or "[2001:db8::1]:51820", allowed IPs as masked
// prefixes ("10.42.0.0/16"), interface addresses with their host part
// ("10.42.0.1/16").

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/address.h"
#include "base/cidr.h"
#include "crypto/keys.h"

namespace coral::wireguard {

// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) stay
// IPv6: families are never converted.
struct IpAddress {
  base::IpFamily family = base::IpFamily::ipv4;
  // IPv4 in the first 4 bytes, the rest zero; IPv6 in all 16.
  base::Ipv6Bytes bytes{};

  static IpAddress v4(const base::Ipv4Bytes& address);
  static IpAddress v6(const base::Ipv6Bytes& address);
  // A dotted quad or any IPv6 form base::parse_ipv6 takes (no brackets, no
  // zone id); nullopt otherwise.
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_ipv4() const { return family == base::IpFamily::ipv4; }
  bool is_ipv6() const { return family == base::IpFamily::ipv6; }
  // The IPv4 address; meaningful only when is_ipv4().
  base::Ipv4Bytes ipv4() const;
  // Canonical text (RFC 5952 for IPv6).
  std::string to_string() const;

  bool operator==(const IpAddress&) const = default;
};

// An address of the interface itself, with the length of the network it is
// on: "10.42.0.1/16". Unlike base::Cidr, the host part is the point.
struct InterfaceAddress {
  IpAddress address;
  unsigned prefix_length = 32;  // 0-32 for IPv4, 0-128 for IPv6

  // "address/length", or a bare address (a /32 or /128, as `ip address add`
  // takes it). Errors name the input: invalid address "10.42.0.1/33": ...
  static std::expected<InterfaceAddress, std::string> parse(std::string_view text);
  std::string to_string() const;

  bool operator==(const InterfaceAddress&) const = default;
};

// Where a peer's UDP packets go: an IP literal and a port 1-65535.
struct Endpoint {
  IpAddress address;
  std::uint16_t port = 0;

  // "192.0.2.1:51820" or "[2001:db8::1]:51820". Host names are refused
  // (nothing here resolves names); so are IPv6 zone ids and port 0. Errors
  // do not repeat the input, so that callers can prefix the field.
  static std::expected<Endpoint, std::string> parse(std::string_view text);
  std::string to_string() const;

  bool operator==(const Endpoint&) const = default;
};

// An AllowedIPs entry: "address/length", or a bare address (/32, /128).
// Host bits are cleared, as the kernel and wireguard-go do ("10.42.0.1/16"
// is 10.42.0.0/16); `host_bits_were_set` tells callers that want to warn.
struct ParsedAllowedIp {
  base::Cidr prefix;
  bool host_bits_were_set = false;
};
// `require_length`: the UAPI's allowed_ip= always carries one; the
// configuration file may omit it. Errors name the input.
std::expected<ParsedAllowedIp, std::string> parse_allowed_ip(std::string_view text, bool require_length);

// The defaults and bounds of the interface's MTU. 1420 is wg-quick's and
// wireguard-go's default: 1500 minus 80 bytes of WireGuard-over-IPv6
// overhead. 1280 is IPv6's minimum link MTU; since the mesh carries IPv6,
// nothing smaller works.
inline constexpr std::uint16_t kDefaultMtu = 1420;
inline constexpr std::uint16_t kMinMtu = 1280;

struct InterfaceSettings {
  crypto::SecretKey private_key;
  std::uint16_t listen_port = 0;  // 0: any free port
  std::vector<InterfaceAddress> addresses;
  std::uint16_t mtu = kDefaultMtu;
  std::uint32_t fwmark = 0;  // 0: none

  bool operator==(const InterfaceSettings&) const = default;
};

struct PeerSettings {
  crypto::PublicKey public_key;
  std::optional<crypto::SecretKey> preshared_key;
  std::optional<Endpoint> endpoint;
  // Masked prefixes, in the order given, without duplicates.
  std::vector<base::Cidr> allowed_ips;
  std::uint16_t persistent_keepalive = 0;  // seconds; 0: off

  bool operator==(const PeerSettings&) const = default;
};

struct DeviceSettings {
  InterfaceSettings interface;
  // In the order given; public keys are unique.
  std::vector<PeerSettings> peers;

  bool operator==(const DeviceSettings&) const = default;
};

}  // namespace coral::wireguard
