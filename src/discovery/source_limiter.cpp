#include "discovery/source_limiter.h"

#include <algorithm>
#include <chrono>

#include "base/address.h"

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
    static constexpr char kHex[] = "0123456789abcdef";
    std::string key = "v6:";
    for (int i = 0; i < 8; ++i) {
      key += kHex[(*v6)[i] >> 4];
      key += kHex[(*v6)[i] & 15];
    }
    return key;
  }
  return "?";
}

bool SourceLimiter::allow(std::string_view peer, base::Clock::time_point now) {
  if (limits_.per_second <= 0) return true;
  if (now - last_sweep_ >= std::chrono::seconds(1) || now < last_sweep_) forget_idle(now);
  std::string key = source_key(peer);
  auto found = buckets_.find(key);
  if (found == buckets_.end()) {
    if (buckets_.size() >= limits_.max_sources) return false;
    found = buckets_.emplace(std::move(key), Bucket{static_cast<double>(limits_.burst), now}).first;
  }
  Bucket& bucket = found->second;
  const double elapsed = std::chrono::duration<double>(now - bucket.last).count();
  if (elapsed > 0) {
    bucket.tokens = std::min<double>(limits_.burst, bucket.tokens + elapsed * limits_.per_second);
    bucket.last = now;
  }
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

void SourceLimiter::forget_idle(base::Clock::time_point now) {
  last_sweep_ = now;
  // Idle long enough to be full again: forgetting it changes nothing.
  const auto refill = std::chrono::duration<double>(limits_.burst / limits_.per_second);
  std::erase_if(buckets_, [&](const auto& entry) {
    return std::chrono::duration<double>(now - entry.second.last) >= refill;
  });
}

}  // namespace coral::discovery
