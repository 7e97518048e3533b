#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace coral::http {

// An "http://host:port/prefix" base URL. Only cleartext http: coral's
// traffic is either local or inside the WireGuard mesh.
struct Url {
  std::string host;          // IPv6 without brackets
  std::uint16_t port = 80;
  std::string path_prefix;   // "" or "/prefix" (no trailing slash)
};

// Errors read like: invalid URL "ftp://x": only http:// is supported.
std::expected<Url, std::string> parse_url(std::string_view text);

}  // namespace coral::http
