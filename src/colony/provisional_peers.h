#pragma once
// The colony's provisional peers (DESIGN.md, "Registration over the
// tunnel"): keys the colony does not know, admitted by its WireGuard device
// at their handshake so that they can call MeshService/Register over the
// tunnel, and nothing else.
//
// A provisional peer's only AllowedIPs is its registration address (an IPv6
// link-local address derived from its key: mesh/registration_address.h).
// The colony's stack accepts nothing from link-local sources but TCP to the
// Connect port, and the RPC server serves such callers MeshService/Register
// only (colony/runtime.cpp); the colony forwards nothing. So before
// Register a provisional peer reaches Register and nothing else.
//
// Admission is limited three ways: at most `max_peers` at once, a token
// bucket over all admissions (the handshake flood that passes WireGuard's
// cookies still cannot churn the table), and a lifetime: a peer not
// registered within `ttl` of its admission is forgotten (its sessions
// dropped), whatever it did meanwhile (a wrong secret leaves it provisional
// until then). A peer that registers is promoted: the registry's entry
// (AllowedIPs: its mesh /32 and /128) takes over; its registration address
// stays routed for `grace` more, so that the Register answer and the
// connection's close still reach it.
//
// Sans I/O: time is passed in; not thread-safe (the device's thread).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/token_bucket.h"
#include "crypto/keys.h"

namespace coral::colony {

struct ProvisionalLimits {
  std::size_t max_peers = 64;
  // Admissions over all keys: 20 a second, bursts of 40.
  base::TokenRate admissions = base::TokenRate::per_second(20, 40);
  std::chrono::seconds ttl{30};
  std::chrono::seconds grace{10};
};

// Why a key was not admitted.
enum class ProvisionalRefusal : std::uint8_t { full, rate_limited };

class ProvisionalPeers {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    crypto::PublicKey key;
    std::string registration_address;  // the only source it may use
    Clock::time_point admitted;
    std::optional<Clock::time_point> promoted;  // when the registry took it over
  };

  struct Stats {
    std::uint64_t admitted = 0;
    std::uint64_t refused_full = 0;
    std::uint64_t refused_rate = 0;
    std::uint64_t promoted = 0;
    std::uint64_t forgotten = 0;  // not registered within the ttl
  };

  explicit ProvisionalPeers(ProvisionalLimits limits = {}, Clock::time_point now = Clock::now());

  // Admits `key` (one that is no peer of the device) at `now`. A key that is
  // here already is admitted again without cost (a new handshake of the
  // same provisional peer); its lifetime is not extended.
  std::optional<ProvisionalRefusal> admit(const crypto::PublicKey& key, Clock::time_point now);
  // The registry now holds `key`: its entry, if any, is promoted (once).
  void promote(const crypto::PublicKey& key, Clock::time_point now);
  // Forgets the entries past their ttl (not promoted) or past their grace
  // (promoted). True when something was forgotten: the device's peers
  // must be set again.
  bool sweep(Clock::time_point now);

  const Entry* find(const crypto::PublicKey& key) const;
  // Entries not promoted: peers of the device with only their registration address.
  std::vector<const Entry*> waiting() const;
  std::size_t size() const { return entries_.size(); }
  const Stats& stats() const { return stats_; }
  const ProvisionalLimits& limits() const { return limits_; }

 private:
  ProvisionalLimits limits_;
  base::TokenBucket<Clock> bucket_;
  std::map<crypto::KeyBytes, Entry> entries_;
  Stats stats_;
};

}  // namespace coral::colony
