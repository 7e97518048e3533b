#pragma once
// Under load, even handshake messages with a valid mac2 (their sender
// proved it can receive at its address) are limited per source address:
// a token bucket of kHandshakesPerSecond with a burst of kBurst, as
// wireguard-go's ratelimiter does, so that one address cannot spend all of
// the engine's Diffie-Hellman time.

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "base/token_bucket.h"
#include "wireguard/constants.h"
#include "wireguard/settings.h"

namespace coral::wireguard {

class HandshakeRateLimiter {
 public:
  static constexpr std::uint32_t kHandshakesPerSecond = 20;
  static constexpr std::uint32_t kBurst = 5;

  // Whether a handshake message from `source` may be processed at `now`;
  // takes a token when it may.
  bool allow(const IpAddress& source, Time now) { return buckets_.try_take(source, now); }
  // Addresses with a bucket (forgotten once their bucket is full again,
  // swept at most once a second).
  std::size_t tracked() const { return buckets_.tracked(); }

 private:
  struct AddressHash {
    std::size_t operator()(const IpAddress& address) const;
  };

  base::KeyedTokenBuckets<std::chrono::steady_clock, IpAddress, AddressHash> buckets_{
      {.rate = base::TokenRate::per_second(kHandshakesPerSecond, kBurst)}};
};

}  // namespace coral::wireguard
