#pragma once
// IP addresses and "host:port" strings as coral's configs, flags and RPCs
// spell them: dotted-quad IPv4, IPv6 without zone ids, and IPv6 in brackets
// when a port follows ("[fd42::1]:9000"). Parsing only: no name resolution.

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace coral::base {

using Ipv4Bytes = std::array<std::uint8_t, 4>;
using Ipv6Bytes = std::array<std::uint8_t, 16>;

// Exactly four decimal parts 0-255, no leading zeros ("10.42.0.1"); nullopt
// for anything else, including the short forms inet_aton takes ("10.1").
std::optional<Ipv4Bytes> parse_ipv4(std::string_view text);
// Any textual IPv6 form inet_pton takes ("fd42::1", "::ffff:1.2.3.4"), with
// no brackets and no zone id ("fe80::1%eth0" is nullopt).
std::optional<Ipv6Bytes> parse_ipv6(std::string_view text);
// ::ffff:0:0/96, the IPv4-mapped addresses, however they are written.
bool is_ipv4_mapped(const Ipv6Bytes& address);
// The canonical text of an address (RFC 5952 for IPv6: "fd42::1").
std::string format_ipv4(const Ipv4Bytes& address);
std::string format_ipv6(const Ipv6Bytes& address);

// A host name as DNS allows it: at most 253 bytes (plus an optional final
// dot), labels of 1-63 letters, digits and '-', not starting or ending with
// '-', and a last label that is not all digits (so "999.1.1.1" is not a name).
bool is_dns_name(std::string_view text);

enum class HostKind : std::uint8_t { ipv4, ipv6, dns_name };

struct HostPort {
  std::string host;  // without brackets: "fd42::1"
  HostKind kind = HostKind::dns_name;
  std::uint16_t port = 0;

  bool operator==(const HostPort&) const = default;
};

struct HostPortRules {
  // Listeners may ask for port 0 (any free port); peers' endpoints may not.
  bool allow_port_zero = false;
};

// "host:port": an IPv4 address, a bracketed IPv6 address ("[fd42::1]:9000")
// or a DNS name, then a decimal port 1-65535 (0 too when the rules allow it),
// no leading zeros. Errors say what is wrong without repeating the input
// ("IPv6 addresses must be in brackets, as in [2001:db8::1]:41820"), so that
// callers can prefix the field or flag name.
std::expected<HostPort, std::string> parse_host_port(std::string_view text, HostPortRules rules = {});
// The inverse: brackets around IPv6 hosts.
std::string format_host_port(const HostPort& host_port);

}  // namespace coral::base
