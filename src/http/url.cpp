#include "http/url.h"

#include <charconv>

#include "base/text.h"

namespace coral::http {

std::expected<Url, std::string> parse_url(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return std::unexpected("invalid URL " + base::quote(text) + ": " + std::string(why));
  };
  constexpr std::string_view kScheme = "http://";
  if (!text.starts_with(kScheme)) return invalid("only http:// is supported");
  std::string_view rest = text.substr(kScheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Url url;
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    url.path_prefix = std::string(prefix);
  }
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unclosed '[' in IPv6 address");
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return invalid("expected ':' after ']'");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return invalid("no host");
  if (authority.find('@') != std::string_view::npos) return invalid("user info is not supported");
  if (!port_text.empty() || authority.ends_with(':')) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return invalid("port must be 1-65535");
    }
    url.port = std::uint16_t(port);
  }
  return url;
}

}  // namespace coral::http
