#include "discovery/source_limiter.h"

#include "base/address.h"
#include "base/text.h"

namespace coral::discovery {

std::string source_key(std::string_view peer) {
  std::string host(peer);
  if (auto parsed = base::parse_host_port(peer)) host = std::move(parsed->host);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  if (const auto v4 = base::parse_ipv4(host)) return "v4:" + base::format_ipv4(*v4);
  if (const auto v6 = base::parse_ipv6(host)) {
    if (base::is_ipv4_mapped(*v6)) {
      return "v4:" + base::format_ipv4(base::Ipv4Bytes{(*v6)[12], (*v6)[13], (*v6)[14], (*v6)[15]});
    }
    return "v6:" + base::hex(std::span(*v6).first(8));
  }
  return "?";
}

SourceLimiter::SourceLimiter(SourceLimits limits)
    : unlimited_(limits.per_second <= 0),
      buckets_({.rate = base::TokenRate::per_second(limits.per_second, limits.burst),
                .max_keys = limits.max_sources}) {}

bool SourceLimiter::allow(std::string_view peer, base::Clock::time_point now) {
  return unlimited_ || buckets_.try_take(source_key(peer), now);
}

}  // namespace coral::discovery
