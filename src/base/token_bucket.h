#pragma once
// A token bucket, sans I/O: the time is passed in to every call, so that the
// limits built on it are tested with a fake clock. One implementation for
// every rate limit in coral (WireGuard handshakes per source, discovery's
// write calls per source, wrong colony secrets per source, the HTTP/2
// client's RST_STREAM budget).
//
// Arithmetic is integral and exact: a bucket holds *credit* in nanoseconds.
// Every nanosecond that passes adds one, a token costs `interval` of them,
// and the bucket holds at most `burst` tokens' worth. So a token comes back
// exactly `interval` after it was taken, and fractions of a token are kept
// between calls (nothing is lost to rounding).
//
// Time going backwards (a wall clock stepped back, a stale time point) earns
// nothing and is not remembered: the bucket goes on refilling from the
// latest time point it saw.
//
// Not thread-safe: one owner serializes the calls.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <unordered_map>

namespace coral::base {

// How fast a bucket refills and how much it holds.
struct TokenRate {
  std::chrono::nanoseconds interval{std::chrono::seconds(1)};  // time to earn one token (> 0)
  std::uint32_t burst = 1;                                     // tokens a full bucket holds

  // `per_second` tokens a second (> 0): the interval is 1 s / per_second,
  // rounded down to a whole nanosecond (at least one), so the rate is never
  // slower than asked.
  static TokenRate per_second(double per_second, std::uint32_t burst);
};

// The clock-independent core: time points are nanoseconds since the epoch
// of the caller's clock (TokenBucket below is what callers use).
class TokenCredit {
 public:
  using Nanos = std::chrono::nanoseconds;
  // Starts full at `now`.
  TokenCredit(TokenRate rate, Nanos now);

  // Takes a token when one is there at `now`.
  bool try_take(Nanos now);
  // Takes a token's worth of credit whether or not a whole token is there;
  // the bucket does not go below empty.
  void spend(Nanos now);
  // Lets the time up to `now` pass without earning anything: what a
  // refused attempt costs when trying again while refused must not bring
  // the next token closer.
  void forfeit(Nanos now);

  // Whole tokens there at `now`.
  std::uint64_t available(Nanos now) const;
  bool full(Nanos now) const;
  // How long until a token is there (zero when one is).
  Nanos until_next(Nanos now) const;

 private:
  Nanos credit_at(Nanos now) const;
  void refill(Nanos now);

  std::int64_t cost_;      // credit of one token (the interval, in ns)
  std::int64_t capacity_;  // credit of a full bucket (saturates at int64 max)
  std::int64_t credit_;
  Nanos last_;  // the latest time point seen
};

// A token bucket on the time points of `Clock` (std::chrono::steady_clock,
// or std::chrono::system_clock as base::Clock uses).
template <class Clock>
class TokenBucket {
 public:
  using time_point = typename Clock::time_point;

  // Starts full at `now`.
  TokenBucket(TokenRate rate, time_point now) : credit_(rate, nanos(now)) {}

  bool try_take(time_point now) { return credit_.try_take(nanos(now)); }
  void spend(time_point now) { credit_.spend(nanos(now)); }
  void forfeit(time_point now) { credit_.forfeit(nanos(now)); }
  std::uint64_t available(time_point now) const { return credit_.available(nanos(now)); }
  bool full(time_point now) const { return credit_.full(nanos(now)); }
  std::chrono::nanoseconds until_next(time_point now) const { return credit_.until_next(nanos(now)); }

 private:
  static std::chrono::nanoseconds nanos(time_point now) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch());
  }

  TokenCredit credit_;
};

// One bucket per key (a source address, usually), all of one rate. A key's
// bucket is made full when the key is first seen, and forgotten once it is
// full again (forgetting it then changes nothing); the forgetting is swept
// at most once per `sweep_every` (and whenever time goes backwards). At most
// `max_keys` keys are tracked: a new key is refused while that many are.
template <class Clock, class Key, class Hash = std::hash<Key>>
class KeyedTokenBuckets {
 public:
  using time_point = typename Clock::time_point;

  struct Limits {
    TokenRate rate;
    std::size_t max_keys = std::numeric_limits<std::size_t>::max();
    std::chrono::nanoseconds sweep_every = std::chrono::seconds(1);
  };

  explicit KeyedTokenBuckets(Limits limits) : limits_(limits) {}

  // Takes a token from `key`'s bucket at `now`, when there is one.
  bool try_take(const Key& key, time_point now) {
    if (now - last_sweep_ >= limits_.sweep_every || now < last_sweep_) forget_full(now);
    auto found = buckets_.find(key);
    if (found == buckets_.end()) {
      if (buckets_.size() >= limits_.max_keys) return false;
      found = buckets_.emplace(key, TokenBucket<Clock>(limits_.rate, now)).first;
    }
    return found->second.try_take(now);
  }

  // Keys with a bucket.
  std::size_t tracked() const { return buckets_.size(); }

 private:
  void forget_full(time_point now) {
    last_sweep_ = now;
    std::erase_if(buckets_, [now](const auto& entry) { return entry.second.full(now); });
  }

  Limits limits_;
  std::unordered_map<Key, TokenBucket<Clock>, Hash> buckets_;
  time_point last_sweep_{};
};

}  // namespace coral::base
