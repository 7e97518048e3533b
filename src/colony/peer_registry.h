#pragma once
// The state both colony services share: the peer store (SQLite), the mesh
// address allocator rebuilt from it, the colony's config and a clock.
//
// At start-up (open) every stored peer's index is replayed into the
// allocator, so assignments survive a restart: the same pubkey keeps its
// addresses, and new peers get the lowest index nobody holds.
//
// Health from heartbeat age (interval I, default 15 s): healthy while the
// last heartbeat is at most 2 I old, degraded up to 4 I, unhealthy beyond.
// A fresh peer that reported itself degraded or unhealthy keeps the worse
// of the two.
//
// Expiry: proxies are ephemeral (a new key each run), so a proxy that has
// not heartbeated for kExpiryHeartbeats intervals (counted from the colony's
// start at the earliest, so that a colony restart gives every proxy a full
// period) is forgotten by expire_stale() and its addresses freed. Agents are
// kept (shown unhealthy): their addresses should survive an outage.
//
// Devices (Peer::Kind::device) are added by hand (add_device: a laptop on
// kernel WireGuard, a wireguard-go node). They run no coral and never
// heartbeat, so they are never expired and their health is "manual"; they
// leave only by revoke(). Their key cannot Register through MeshService (it
// would turn them into an agent or a proxy): already_exists; nor Heartbeat
// or Unregister (permission_denied: their key and peer id are no secret).
//
// revoke() removes any peer at once, by component name, peer id or pubkey,
// frees its addresses and remembers its key as revoked (in the store, with
// its name and the time): that key can never register again, nor be added
// as a device (permission_denied "revoked: ..."). is_revoked() answers from
// memory (the set is loaded at open and grows with revoke()), for the
// WireGuard handshake path. Since the colony secret is shared, a member
// with a fresh key can still join: rotating the secret (set_colony_secret)
// is the lockout; it keeps the peers already registered.
//
// Change hook: on_change callbacks run after every mutation that changed
// the set of peers or their addresses (a new registration, unregister, an
// expiry that removed someone, add_device, revoke), on the thread that made
// it, after the registry's mutex is released (they may call back into the
// registry). Re-registrations and heartbeats change neither, and call
// nothing.
//
// Thread-safe: every operation holds one mutex (the allocator is not
// thread-safe, and allocate + persist must be one step).

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "crypto/keys.h"
#include "config/colony_file.h"
#include "colony/peer_store.h"
#include "mesh/ip_allocator.h"
#include "rpc/error.h"

namespace coral::colony {

struct RegistryOptions {
  std::chrono::seconds heartbeat_interval{15};
};

// Missed heartbeat intervals after which a proxy peer expires (the point
// where HeartbeatResponse.next_heartbeat_before has passed).
inline constexpr int kExpiryHeartbeats = 4;

// "peer-" + the first 12 hex digits of BLAKE2b-256(pubkey text): stable per
// pubkey.
std::string peer_id_for(std::string_view wireguard_pubkey);

// "healthy", "degraded" or "unhealthy" (see the header comment); "manual"
// for a device, whatever its age.
std::string_view peer_health(const Peer& peer, base::Clock::time_point now, std::chrono::seconds heartbeat_interval);

class PeerRegistry {
 public:
  // Builds the allocator from the config's subnets and replays `store`.
  // Errors (a stored index outside the subnet or taken twice, a store that
  // cannot be read) name the store's file.
  static std::expected<std::unique_ptr<PeerRegistry>, std::string> open(PeerStore& store, config::ColonyConfig config,
                                                                        const base::Clock& clock,
                                                                        RegistryOptions options = {});

  struct Registered {
    Peer peer;
    bool is_new = false;  // false: the pubkey was registered already
  };
  // Registers (or refreshes) a peer whose request was already validated.
  // permission_denied ("revoked: ...") for a revoked key; resource_exhausted
  // when the subnet is full; internal when the store fails.
  rpc::Result<Registered> register_peer(std::string_view wireguard_pubkey, Peer::Kind kind,
                                        std::string_view component_name);
  // not_found for an unknown peer; permission_denied when the pubkey differs
  // or the peer is a device (added by hand: only revoke() removes it).
  rpc::Result<Peer> heartbeat(std::string_view peer_id, std::string_view wireguard_pubkey, std::string_view status);
  rpc::Result<Peer> unregister(std::string_view peer_id, std::string_view wireguard_pubkey);

  // Forgets the proxies whose heartbeats stopped (see the header comment)
  // and frees their addresses; returns them.
  rpc::Result<std::vector<Peer>> expire_stale();

  // Adds a device by hand: `name` (what `coral colony peers` shows and
  // revoke takes) and its WireGuard public key (base64). Allocates its
  // addresses like Register. invalid_argument for a name that is not 1-63
  // characters of a-z, 0-9, '-', '_', '.' (or looks like a peer id) or a key
  // that is no WireGuard public key (or is the colony's own);
  // permission_denied ("revoked: ...") for a revoked key; already_exists
  // when the key is registered (as anything) or another device has that
  // name; resource_exhausted when the subnet is full.
  rpc::Result<Peer> add_device(std::string_view name, std::string_view wireguard_pubkey);

  // Removes the peer `selector` names: a peer id, else a WireGuard public
  // key, else a component name (a device's name). not_found when nothing
  // matches; failed_precondition when a name matches several peers (the
  // message lists their ids, to revoke one by id). Returns the peer removed.
  // Its key is remembered as revoked (see the header comment).
  rpc::Result<Peer> revoke(std::string_view selector);

  // Whether `key` was revoked. No store read and no wait for the registry's
  // mutex (a shared lock on a set of its own): cheap enough for every
  // handshake from an unknown key. Thread-safe.
  bool is_revoked(const crypto::PublicKey& key) const;
  // The revoked keys as the store records them, oldest first.
  rpc::Result<std::vector<RevokedKey>> revoked_keys() const;

  // The colony secret Register checks (a copy; thread-safe), and its
  // replacement (`coral colony rotate-secret`): from then on Register with
  // the old secret is refused; registered peers stay. The caller has
  // validated it and written it to the colony file.
  std::string colony_secret() const;
  void set_colony_secret(std::string secret);

  // Adds a callback run after each change of the set of peers or their
  // addresses (see the header comment). Callbacks are never removed: they
  // must outlive the registry's use.
  void on_change(std::function<void()> callback);

  rpc::Result<std::vector<Peer>> peers() const;
  // The peer holding `mesh_ip` (IPv4 or IPv6 text); nullopt when nobody
  // does or it is no peer address of the colony. Costs a store read only
  // for addresses that are taken.
  rpc::Result<std::optional<Peer>> find_by_address(std::string_view mesh_ip) const;
  rpc::Result<std::uint64_t> storage_bytes() const;
  std::string_view health(const Peer& peer) const;

  // The colony's config as opened. Its colony_secret is the one at open:
  // Register compares against colony_secret(), which set_colony_secret
  // changes.
  const config::ColonyConfig& config() const { return config_; }
  const base::Clock& clock() const { return clock_; }
  std::chrono::seconds heartbeat_interval() const { return options_.heartbeat_interval; }
  base::Clock::time_point started_at() const { return started_at_; }
  // The subnets and the colony's own addresses, as text.
  std::string colony_ipv4() const;
  std::string colony_ipv6() const;
  std::size_t addresses_in_use() const;

 private:
  PeerRegistry(PeerStore& store, config::ColonyConfig config, const base::Clock& clock, RegistryOptions options,
               mesh::IpAllocator allocator);
  // A new peer: the next free addresses, stored. Called with mutex_ held.
  rpc::Result<Peer> admit(std::string_view wireguard_pubkey, Peer::Kind kind, std::string_view name,
                          std::string_view status, base::Clock::time_point now);
  rpc::Result<Peer> find_owned(std::string_view peer_id, std::string_view wireguard_pubkey) const;
  // Runs the on_change callbacks; called without mutex_ held.
  void changed();

  PeerStore& store_;
  config::ColonyConfig config_;
  const base::Clock& clock_;
  RegistryOptions options_;
  base::Clock::time_point started_at_;
  mutable std::mutex mutex_;
  mesh::IpAllocator allocator_;
  // storage_bytes() asks SQLite at most once a second (GetStatus calls it
  // on every request; the size changes slowly).
  mutable std::optional<std::pair<base::Clock::time_point, std::uint64_t>> storage_cache_;
  // What peers() read last, until the next write to the store (every write
  // goes through this class): GetStatus and ListAgents read every peer.
  mutable std::optional<std::vector<Peer>> peers_cache_;
  // The colony secret in force (config_.colony_secret until rotated).
  mutable std::mutex secret_mutex_;
  std::string colony_secret_;  // guarded by secret_mutex_
  struct KeyHash {
    std::size_t operator()(const crypto::KeyBytes& key) const noexcept;
  };
  // Revoked keys: written by revoke() (under mutex_, then this lock),
  // read by is_revoked() without mutex_.
  mutable std::shared_mutex revoked_mutex_;
  std::unordered_set<crypto::KeyBytes, KeyHash> revoked_;  // guarded by revoked_mutex_
  mutable std::mutex callbacks_mutex_;
  std::vector<std::function<void()>> callbacks_;  // guarded by callbacks_mutex_
};

}  // namespace coral::colony
