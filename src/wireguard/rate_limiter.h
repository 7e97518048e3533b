#pragma once
// Under load, even handshake messages with a valid mac2 (their sender
// proved it can receive at its address) are limited per source address:
// a token bucket of kHandshakesPerSecond with a burst of kBurst, as
// wireguard-go's ratelimiter does, so that one address cannot spend all of
// the engine's Diffie-Hellman time.

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "wireguard/constants.h"
#include "wireguard/settings.h"

namespace coral::wireguard {

class HandshakeRateLimiter {
 public:
  static constexpr std::uint32_t kHandshakesPerSecond = 20;
  static constexpr std::uint32_t kBurst = 5;

  // Whether a handshake message from `source` may be processed at `now`;
  // takes a token when it may.
  bool allow(const IpAddress& source, Time now);
  // Addresses with a bucket (idle ones are forgotten after a second).
  std::size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    // Tokens scaled by kTokenScale so that refills stay integral.
    std::uint64_t tokens;
    Time last;
  };
  struct AddressHash {
    std::size_t operator()(const IpAddress& address) const;
  };
  void forget_idle(Time now);

  std::unordered_map<IpAddress, Bucket, AddressHash> buckets_;
  Time last_sweep_{};
};

}  // namespace coral::wireguard
