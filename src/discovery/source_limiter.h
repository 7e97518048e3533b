#pragma once
// Per-source rate limit of discovery's write calls (RegisterColony and
// GetRegistrationChallenge): a token bucket per source, so that one client
// cannot fill the store or spend the CPU of proof checks. A source is an
// IPv4 address or an IPv6 /64 (one host usually has a whole /64).
//
// Buckets of sources that have been idle long enough to be full again are
// forgotten (swept at most once a second); at most `max_sources` are
// tracked, and calls from new sources are refused while that many are
// active. Not thread-safe: the io_context's thread only.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/token_bucket.h"

namespace coral::discovery {

struct SourceLimits {
  double per_second = 20;        // sustained calls per second per source; 0: no limit
  std::uint32_t burst = 100;     // calls a quiet source may make at once
  std::size_t max_sources = 65'536;
};

class SourceLimiter {
 public:
  explicit SourceLimiter(SourceLimits limits);

  // Whether a call from `peer` ("a.b.c.d:port", "[v6]:port", or a bare
  // address) may proceed at `now`; takes a token when it may. Peers that do
  // not parse share one bucket.
  bool allow(std::string_view peer, base::Clock::time_point now);
  std::size_t tracked() const { return buckets_.tracked(); }

 private:
  bool unlimited_;
  base::KeyedTokenBuckets<std::chrono::system_clock, std::string> buckets_;
};

// The bucket key of a peer: "v4:a.b.c.d", "v6:<first 8 bytes hex>", or "?".
std::string source_key(std::string_view peer);

}  // namespace coral::discovery
