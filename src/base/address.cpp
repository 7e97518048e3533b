#include "base/address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace coral::base {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// inet_pton needs a NUL-terminated string; addresses are short.
template <std::size_t N>
bool copy_terminated(std::string_view text, std::array<char, N>& buffer) {
  if (text.size() >= N) return false;
  std::copy(text.begin(), text.end(), buffer.begin());
  buffer[text.size()] = '\0';
  return true;
}

std::expected<std::uint16_t, std::string> parse_port(std::string_view text, HostPortRules rules) {
  if (text.empty()) return std::unexpected("the port is missing");
  const bool digits = std::all_of(text.begin(), text.end(), is_digit);
  unsigned value = 0;
  const bool parsed = digits && text.size() <= 5 && (text.size() == 1 || text[0] != '0') &&
                      std::from_chars(text.data(), text.data() + text.size(), value).ec == std::errc{};
  const unsigned lowest = rules.allow_port_zero ? 0 : 1;
  if (!parsed || value < lowest || value > 65535) {
    return std::unexpected(rules.allow_port_zero ? "the port must be a number 0-65535" : "the port must be a number 1-65535");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<Ipv4Bytes> parse_ipv4(std::string_view text) {
  // glibc's inet_pton(AF_INET) takes only the four-part dotted-decimal form
  // and refuses leading zeros (which inet_aton would read as octal).
  std::array<char, INET_ADDRSTRLEN> buffer{};
  if (!copy_terminated(text, buffer)) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return is_digit(c) || c == '.'; })) return std::nullopt;
  Ipv4Bytes address{};
  if (inet_pton(AF_INET, buffer.data(), address.data()) != 1) return std::nullopt;
  return address;
}

std::optional<Ipv6Bytes> parse_ipv6(std::string_view text) {
  std::array<char, INET6_ADDRSTRLEN> buffer{};
  if (!copy_terminated(text, buffer)) return std::nullopt;
  if (text.find('%') != std::string_view::npos) return std::nullopt;  // inet_pton refuses zones too; be explicit
  Ipv6Bytes address{};
  if (inet_pton(AF_INET6, buffer.data(), address.data()) != 1) return std::nullopt;
  return address;
}

bool is_ipv4_mapped(const Ipv6Bytes& address) {
  return std::all_of(address.begin(), address.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
         address[10] == 0xff && address[11] == 0xff;
}

std::string format_ipv4(const Ipv4Bytes& address) {
  std::array<char, INET_ADDRSTRLEN> buffer{};
  inet_ntop(AF_INET, address.data(), buffer.data(), buffer.size());
  return buffer.data();
}

std::string format_ipv6(const Ipv6Bytes& address) {
  std::array<char, INET6_ADDRSTRLEN> buffer{};
  inet_ntop(AF_INET6, address.data(), buffer.data(), buffer.size());
  return buffer.data();
}

bool is_dns_name(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty() || text.size() > 253) return false;
  std::string_view last_label;
  while (true) {
    const std::size_t dot = text.find('.');
    const std::string_view label = text.substr(0, dot);
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; })) return false;
    last_label = label;
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  return !std::all_of(last_label.begin(), last_label.end(), is_digit);
}

std::expected<HostPort, std::string> parse_host_port(std::string_view text, HostPortRules rules) {
  if (text.empty()) return std::unexpected("must be host:port, got an empty string");
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::unexpected("'[' without a closing ']'");
    const std::string_view host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return std::unexpected("must be [IPv6 address]:port; the port is missing");
    if (host.find('%') != std::string_view::npos) return std::unexpected("IPv6 zone ids (\"%eth0\") are not allowed");
    if (!parse_ipv6(host)) {
      if (parse_ipv4(host)) return std::unexpected("only IPv6 addresses go in brackets; write IPv4 as a.b.c.d:port");
      return std::unexpected("the host in brackets is not an IPv6 address");
    }
    auto port = parse_port(rest.substr(1), rules);
    if (!port) return std::unexpected(std::move(port.error()));
    return HostPort{.host = std::string(host), .kind = HostKind::ipv6, .port = *port};
  }
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::unexpected("must be host:port; the port is missing");
  const std::string_view host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos) {
    return std::unexpected("IPv6 addresses must be in brackets, as in [2001:db8::1]:41820");
  }
  if (host.empty()) return std::unexpected("the host is missing");
  HostKind kind = HostKind::dns_name;
  if (parse_ipv4(host)) {
    kind = HostKind::ipv4;
  } else if (!is_dns_name(host)) {
    return std::unexpected("the host is neither an IPv4 address, a bracketed IPv6 address nor a DNS name");
  }
  auto port = parse_port(text.substr(colon + 1), rules);
  if (!port) return std::unexpected(std::move(port.error()));
  return HostPort{.host = std::string(host), .kind = kind, .port = *port};
}

std::string format_host_port(const HostPort& host_port) {
  const std::string port = std::to_string(host_port.port);
  if (host_port.kind == HostKind::ipv6) return "[" + host_port.host + "]:" + port;
  return host_port.host + ":" + port;
}

}  // namespace coral::base
