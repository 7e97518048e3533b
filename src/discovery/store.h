#pragma once
// Where colony leases live: in this process (MemoryStore) or in Redis
// (RedisStore), shared by discovery replicas. Operations are coroutines
// because a store may be remote; each is atomic on its own, which is what
// makes the takeover rule hold across replicas.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "crypto/keys.h"
#include "rpc/error.h"
#include "rpc/service.h"

namespace coral::discovery {

// One colony's lease: what it registered, and when.
struct ColonyRecord {
  std::string mesh_id;
  std::string wireguard_pubkey;  // base64, as registered
  std::vector<std::string> public_endpoints;
  std::string mesh_ipv4;         // "" when not given (pre-RFD-005 clients)
  std::string mesh_ipv6;
  std::uint32_t connect_port = 0;
  std::vector<std::pair<std::string, std::string>> metadata;  // sorted by key
  base::Clock::time_point last_seen;   // the last registration
  base::Clock::time_point expires_at;  // last_seen + ttl
  // The registration proved possession of the key's private half
  // (proof.h); false for unproven registrations (--accept-unproven).
  bool proven = false;

  bool operator==(const ColonyRecord&) const = default;
};

struct PutResult {
  bool stored = false;
  // When not stored: the live record that holds the mesh_id (another pubkey).
  std::optional<ColonyRecord> holder;
  // When not stored and no holder: storing it would exceed StoreLimits.
  bool full = false;
};

// What unauthenticated clients can make a store hold (docs/discovery.md,
// "Limits"). Renewing a lease never needs room it does not already have,
// unless the record grows.
struct StoreLimits {
  std::size_t max_records = 100'000;
  std::size_t max_bytes = std::size_t{128} << 20;
};

// What a record counts against StoreLimits::max_bytes: the bytes of its
// strings plus kRecordOverhead for its containers and index entries.
inline constexpr std::size_t kRecordOverhead = 256;
std::size_t footprint(const ColonyRecord& record);

class Store {
 public:
  virtual ~Store() = default;

  // Stores `record` (its expires_at already set) unless a live record for
  // the same mesh_id has a different pubkey; then returns that one. A record
  // is live while now < expires_at. Re-registering with the same pubkey
  // replaces the record and so refreshes the lease. A proven record takes
  // over a live unproven one. When the record is new (or grows) and the
  // store's limits would be exceeded even after purging expired records,
  // nothing is stored and `full` is set.
  virtual rpc::Awaitable<rpc::Result<PutResult>> put(ColonyRecord record) = 0;
  // The live record for mesh_id, or nullopt.
  virtual rpc::Awaitable<rpc::Result<std::optional<ColonyRecord>>> get(std::string mesh_id) = 0;
  // How many records are live.
  virtual rpc::Awaitable<rpc::Result<std::size_t>> count_live() = 0;
  // Forgets expired records; returns how many.
  virtual rpc::Awaitable<rpc::Result<std::size_t>> purge_expired() = 0;
  // The discovery service's static X25519 key (proof.h), the same for every
  // replica sharing this store: the one the store holds, or else
  // `candidate`, which then becomes it. The memory store returns
  // `candidate`.
  virtual rpc::Awaitable<rpc::Result<crypto::SecretKey>> shared_key(crypto::SecretKey candidate) = 0;
  // "memory" or "redis://host:port/db", for logs and Health.
  virtual std::string describe() const = 0;
};

}  // namespace coral::discovery
