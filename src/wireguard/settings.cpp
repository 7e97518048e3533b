#include "wireguard/settings.h"

#include <algorithm>

#include "base/text.h"

namespace coral::wireguard {
namespace {

// A prefix length in decimal, without sign or leading zeros, at most `max`.
std::optional<unsigned> parse_prefix_length(std::string_view text, unsigned max) {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + unsigned(c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

// Clears every bit past the first `prefix_length`; true if any was set.
bool mask(std::uint8_t* bytes, std::size_t size, unsigned prefix_length) {
  bool cleared = false;
  for (std::size_t i = 0; i < size; ++i) {
    const unsigned first_bit = unsigned(i) * 8;
    std::uint8_t keep = 0xff;
    if (prefix_length <= first_bit) {
      keep = 0;
    } else if (prefix_length < first_bit + 8) {
      keep = static_cast<std::uint8_t>(0xff << (first_bit + 8 - prefix_length));
    }
    cleared |= (bytes[i] & ~keep) != 0;
    bytes[i] &= keep;
  }
  return cleared;
}

// "address[/length]" split, with the address parsed. The length defaults to
// the full width when absent and `require_length` is false.
struct AddressAndLength {
  IpAddress address;
  unsigned prefix_length = 0;
};
std::expected<AddressAndLength, std::string> split_prefix(std::string_view text, bool require_length) {
  if (text.empty()) return std::unexpected("empty");
  const std::size_t slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  const auto address = IpAddress::parse(address_text);
  if (!address) return std::unexpected(base::quote(address_text) + " is not an IPv4 or IPv6 address");
  const unsigned max = address->is_ipv4() ? 32 : 128;
  if (slash == std::string_view::npos) {
    if (require_length) return std::unexpected("the prefix length is missing");
    return AddressAndLength{*address, max};
  }
  const auto length = parse_prefix_length(text.substr(slash + 1), max);
  if (!length) {
    return std::unexpected(std::string("the prefix length must be a number 0-") + (address->is_ipv4() ? "32" : "128") +
                           (address->is_ipv4() ? " for IPv4" : " for IPv6"));
  }
  return AddressAndLength{*address, *length};
}

}  // namespace

IpAddress IpAddress::v4(const base::Ipv4Bytes& address) {
  IpAddress result;
  result.family = base::IpFamily::ipv4;
  std::copy(address.begin(), address.end(), result.bytes.begin());
  return result;
}

IpAddress IpAddress::v6(const base::Ipv6Bytes& address) {
  IpAddress result;
  result.family = base::IpFamily::ipv6;
  result.bytes = address;
  return result;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    if (auto v6_bytes = base::parse_ipv6(text)) return v6(*v6_bytes);
    return std::nullopt;
  }
  if (auto v4_bytes = base::parse_ipv4(text)) return v4(*v4_bytes);
  return std::nullopt;
}

base::Ipv4Bytes IpAddress::ipv4() const { return {bytes[0], bytes[1], bytes[2], bytes[3]}; }

std::string IpAddress::to_string() const { return is_ipv4() ? base::format_ipv4(ipv4()) : base::format_ipv6(bytes); }

std::expected<InterfaceAddress, std::string> InterfaceAddress::parse(std::string_view text) {
  auto parts = split_prefix(text, /*require_length=*/false);
  if (!parts) return std::unexpected("invalid address " + base::quote(text) + ": " + parts.error());
  return InterfaceAddress{parts->address, parts->prefix_length};
}

std::string InterfaceAddress::to_string() const { return address.to_string() + "/" + std::to_string(prefix_length); }

std::expected<Endpoint, std::string> Endpoint::parse(std::string_view text) {
  auto host_port = base::parse_host_port(text);
  if (!host_port) return std::unexpected(std::move(host_port.error()));
  if (host_port->kind == base::HostKind::dns_name) {
    return std::unexpected("host names are not resolved here; give an IP address, as in 192.0.2.1:51820 or "
                           "[2001:db8::1]:51820");
  }
  const auto address = IpAddress::parse(host_port->host);
  // parse_host_port said it is an IPv4 or IPv6 literal.
  if (!address) return std::unexpected("the host is not an IP address");
  return Endpoint{*address, host_port->port};
}

std::string Endpoint::to_string() const {
  const std::string port_text = std::to_string(port);
  return address.is_ipv4() ? address.to_string() + ":" + port_text : "[" + address.to_string() + "]:" + port_text;
}

std::expected<ParsedAllowedIp, std::string> parse_allowed_ip(std::string_view text, bool require_length) {
  auto parts = split_prefix(text, require_length);
  if (!parts) return std::unexpected("invalid prefix " + base::quote(text) + ": " + parts.error());
  IpAddress network = parts->address;
  const bool host_bits = mask(network.bytes.data(), network.is_ipv4() ? 4 : 16, parts->prefix_length);
  auto prefix = network.is_ipv4() ? base::Cidr::ipv4(network.ipv4(), parts->prefix_length)
                                  : base::Cidr::ipv6(network.bytes, parts->prefix_length);
  // The length is in range and the host bits are clear: Cidr agrees.
  if (!prefix) return std::unexpected("invalid prefix " + base::quote(text) + ": " + prefix.error());
  return ParsedAllowedIp{*prefix, host_bits};
}

}  // namespace coral::wireguard
