#include "wireguard/rate_limiter.h"

#include <algorithm>
#include <chrono>

namespace coral::wireguard {

namespace {

// Buckets count nanoseconds of credit: each nanosecond that passes adds
// one, a handshake costs a 20th of a second's worth, and a bucket holds
// at most a burst's worth.
constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;
constexpr std::uint64_t kTokenCost = kNanosPerSecond / HandshakeRateLimiter::kHandshakesPerSecond;
constexpr std::uint64_t kMaxTokens = kTokenCost * HandshakeRateLimiter::kBurst;
constexpr Duration kIdle = std::chrono::seconds(1);

}  // namespace

std::size_t HandshakeRateLimiter::AddressHash::operator()(const IpAddress& address) const {
  std::size_t hash = static_cast<std::size_t>(address.family);
  for (const std::uint8_t byte : address.bytes) hash = hash * 131 + byte;
  return hash;
}

bool HandshakeRateLimiter::allow(const IpAddress& source, Time now) {
  if (now - last_sweep_ >= kIdle) forget_idle(now);
  auto [entry, added] = buckets_.try_emplace(source, Bucket{kMaxTokens, now});
  Bucket& bucket = entry->second;
  if (!added) {
    const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(now - bucket.last).count();
    bucket.tokens = std::min(kMaxTokens, bucket.tokens + static_cast<std::uint64_t>(std::max<std::int64_t>(elapsed, 0)));
    bucket.last = now;
  }
  if (bucket.tokens < kTokenCost) return false;
  bucket.tokens -= kTokenCost;
  return true;
}

void HandshakeRateLimiter::forget_idle(Time now) {
  last_sweep_ = now;
  std::erase_if(buckets_, [now](const auto& entry) { return now - entry.second.last >= kIdle; });
}

}  // namespace coral::wireguard
