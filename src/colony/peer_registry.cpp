#include "colony/peer_registry.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <map>
#include <utility>

#include "base/address.h"
#include "base/text.h"
#include "crypto/keys.h"
#include "mesh/refusal.h"

namespace coral::colony {
namespace {

int severity(std::string_view status) {
  if (status == "unhealthy") return 2;
  if (status == "degraded") return 1;
  return 0;
}

std::unexpected<rpc::Error> store_failure(std::string_view what, const std::string& error) {
  return rpc::fail(rpc::Code::internal, std::string(what) + ": " + error);
}

// What a revoked key is told. "revoked" comes first: members stop trying on it.
std::unexpected<rpc::Error> revoked_failure() {
  return std::unexpected(
      rpc::Error{rpc::Code::permission_denied,
                 "revoked: this WireGuard key was revoked by the colony's operator and cannot join again",
                 {{std::string(mesh::kRefusalField), std::string(mesh::kRefusalRevoked)}}});
}

}  // namespace

std::string peer_id_for(std::string_view wireguard_pubkey) {
  const auto digest = crypto::blake2b_256(wireguard_pubkey);
  return "peer-" + base::hex(std::span(digest).first(6));
}

std::string_view peer_health(const Peer& peer, base::Clock::time_point now, std::chrono::seconds heartbeat_interval) {
  if (peer.kind == Peer::Kind::device) return "manual";
  const auto age = now - peer.last_seen;
  std::string_view by_age = "unhealthy";
  if (age <= 2 * heartbeat_interval) {
    by_age = "healthy";
  } else if (age <= 4 * heartbeat_interval) {
    by_age = "degraded";
  }
  if (severity(peer.status) > severity(by_age)) return severity(peer.status) == 2 ? "unhealthy" : "degraded";
  return by_age;
}

std::expected<std::unique_ptr<PeerRegistry>, std::string> PeerRegistry::open(PeerStore& store,
                                                                           config::ColonyConfig config,
                                                                           const base::Clock& clock,
                                                                           RegistryOptions options) {
  auto allocator = mesh::IpAllocator::create(config.wireguard.mesh_network_ipv4, config.wireguard.mesh_network_ipv6);
  if (!allocator) return std::unexpected(allocator.error());

  // The colony's own addresses are index 1 by convention; a config that
  // gives it another address keeps that one out of the pool too.
  if (auto own = allocator->index_of(base::format_ipv4(config.wireguard.mesh_ipv4)); own) allocator->reserve(*own);

  auto stored = store.all();
  if (!stored) return std::unexpected(stored.error());
  // The addresses a peer is served under are its recorded text; they must be
  // those of its index, so that no two peers (nor a peer and the colony)
  // answer for one address. Only a hand-edited store breaks this.
  std::map<std::string, const Peer*, std::less<>> holders;
  for (const Peer& peer : *stored) {
    for (const std::string* address : {&peer.mesh_ipv4, &peer.mesh_ipv6}) {
      auto [it, inserted] = holders.emplace(*address, &peer);
      if (!inserted) {
        return std::unexpected(store.path().string() + ": peers " + it->second->peer_id + " and " + peer.peer_id +
                               " both hold mesh address " + *address +
                               " (was the file edited by hand?); refusing to serve it: restore the file from a "
                               "backup, or remove it to start with no peers");
      }
    }
    const auto expected = allocator->assignment(peer.mesh_index);
    if (expected && (expected->ipv4_text() != peer.mesh_ipv4 || expected->ipv6_text() != peer.mesh_ipv6)) {
      return std::unexpected(store.path().string() + ": peer " + peer.peer_id + " records mesh addresses " +
                             peer.mesh_ipv4 + " / " + peer.mesh_ipv6 + ", but its mesh index " +
                             std::to_string(peer.mesh_index) + " stands for " + expected->ipv4_text() + " / " +
                             expected->ipv6_text() + " (was the file edited by hand?); refusing to serve it");
    }
    if (!allocator->reserve(peer.mesh_index)) {
      return std::unexpected(store.path().string() + ": peer " + peer.peer_id + " holds mesh index " +
                             std::to_string(peer.mesh_index) + " (" + peer.mesh_ipv4 +
                             "), which is not a free peer address of " + config.wireguard.mesh_network_ipv4.to_string() +
                             " / " + config.wireguard.mesh_network_ipv6.to_string());
    }
  }
  auto revoked = store.revoked();
  if (!revoked) return std::unexpected(revoked.error());
  std::unordered_set<crypto::KeyBytes, KeyHash> revoked_keys;
  for (const RevokedKey& key : *revoked) {
    auto parsed = crypto::PublicKey::from_base64(key.wireguard_pubkey);
    if (!parsed) {
      return std::unexpected(store.path().string() + ": revoked key of " + key.peer_id +
                             " is no WireGuard public key (" + parsed.error() + "); refusing to serve it");
    }
    revoked_keys.insert(parsed->bytes());
  }
  auto registry = std::unique_ptr<PeerRegistry>(
      new PeerRegistry(store, std::move(config), clock, options, std::move(*allocator)));
  registry->revoked_ = std::move(revoked_keys);
  return registry;
}

std::size_t PeerRegistry::KeyHash::operator()(const crypto::KeyBytes& key) const noexcept {
  // Public keys are uniformly random: their first bytes are a good hash.
  std::size_t hash = 0;
  std::memcpy(&hash, key.data(), sizeof hash);
  return hash;
}

bool PeerRegistry::is_revoked(const crypto::PublicKey& key) const {
  std::shared_lock lock(revoked_mutex_);
  return revoked_.contains(key.bytes());
}

rpc::Result<std::vector<RevokedKey>> PeerRegistry::revoked_keys() const {
  auto keys = store_.revoked();
  if (!keys) return store_failure("reading the revoked keys", keys.error());
  return std::move(*keys);
}

std::string PeerRegistry::colony_secret() const {
  std::lock_guard lock(secret_mutex_);
  return colony_secret_;
}

void PeerRegistry::set_colony_secret(std::string secret) {
  std::lock_guard lock(secret_mutex_);
  crypto::wipe(colony_secret_);
  colony_secret_ = std::move(secret);
}

PeerRegistry::PeerRegistry(PeerStore& store, config::ColonyConfig config, const base::Clock& clock,
                           RegistryOptions options, mesh::IpAllocator allocator)
    : store_(store),
      config_(std::move(config)),
      clock_(clock),
      options_(options),
      started_at_(clock.now()),
      allocator_(std::move(allocator)),
      colony_secret_(config_.colony_secret) {}

rpc::Result<PeerRegistry::Registered> PeerRegistry::register_peer(std::string_view wireguard_pubkey, Peer::Kind kind,
                                                                  std::string_view component_name) {
  if (auto key = crypto::PublicKey::from_base64(wireguard_pubkey); key && is_revoked(*key)) return revoked_failure();
  std::unique_lock lock(mutex_);
  const auto now = clock_.now();

  auto existing = store_.find_by_pubkey(wireguard_pubkey);
  if (!existing) return store_failure("reading the peer store", existing.error());
  if (existing->has_value() && (*existing)->kind == Peer::Kind::device) {
    return rpc::fail(rpc::Code::already_exists, "this WireGuard key was added to the colony by hand as device " +
                                                    (*existing)->component_name + " (" + (*existing)->peer_id +
                                                    "); the operator must revoke it before it can register");
  }
  if (existing->has_value()) {
    Peer peer = std::move(**existing);
    peer.kind = kind;
    peer.component_name = std::string(component_name);
    peer.last_seen = now;
    peer.status = "healthy";
    peers_cache_.reset();  // the next peers() reads the store again
    if (auto saved = store_.upsert(peer); !saved) return store_failure("recording the peer", saved.error());
    return Registered{std::move(peer), false};
  }

  auto admitted = admit(wireguard_pubkey, kind, component_name, "healthy", now);
  if (!admitted) return std::unexpected(std::move(admitted.error()));
  lock.unlock();
  changed();
  return Registered{std::move(*admitted), true};
}

rpc::Result<Peer> PeerRegistry::admit(std::string_view wireguard_pubkey, Peer::Kind kind, std::string_view name,
                                      std::string_view status, base::Clock::time_point now) {
  auto assignment = allocator_.allocate();
  if (!assignment) return rpc::fail(rpc::Code::resource_exhausted, assignment.error().message);
  Peer peer{
      .peer_id = peer_id_for(wireguard_pubkey),
      .wireguard_pubkey = std::string(wireguard_pubkey),
      .kind = kind,
      .component_name = std::string(name),
      .mesh_index = assignment->index,
      .mesh_ipv4 = assignment->ipv4_text(),
      .mesh_ipv6 = assignment->ipv6_text(),
      .registered_at = now,
      .last_seen = now,
      .status = std::string(status),
  };
  peers_cache_.reset();  // the next peers() reads the store again
  if (auto saved = store_.upsert(peer); !saved) {
    allocator_.release(assignment->index);
    return store_failure("recording the peer", saved.error());
  }
  return peer;
}

rpc::Result<Peer> PeerRegistry::add_device(std::string_view name, std::string_view wireguard_pubkey) {
  if (auto valid = config::validate_colony_id(name); !valid) {
    return rpc::fail(rpc::Code::invalid_argument, "name: " + valid.error());
  }
  if (name.size() == 17 && name.starts_with("peer-") &&
      std::all_of(name.begin() + 5, name.end(), [](char c) { return base::hex_digit(c).has_value(); })) {
    return rpc::fail(rpc::Code::invalid_argument,
                     "name: must not look like a peer id (peer- and 12 hex digits), got " + base::quote(name));
  }
  auto key = crypto::PublicKey::from_base64(wireguard_pubkey);
  if (!key) return rpc::fail(rpc::Code::invalid_argument, "public key: " + key.error());
  if (key->is_zero()) return rpc::fail(rpc::Code::invalid_argument, "public key: must not be all zeros");
  if (*key == config_.wireguard.public_key) {
    return rpc::fail(rpc::Code::invalid_argument, "public key: that is the colony's own key");
  }
  if (is_revoked(*key)) return revoked_failure();
  const std::string pubkey = key->to_base64();

  std::unique_lock lock(mutex_);
  auto existing = store_.find_by_pubkey(pubkey);
  if (!existing) return store_failure("reading the peer store", existing.error());
  if (existing->has_value()) {
    const Peer& holder = **existing;
    return rpc::fail(rpc::Code::already_exists, "WireGuard key " + pubkey + " is already registered: " +
                                                    std::string(to_string(holder.kind)) + " " +
                                                    holder.component_name + " (" + holder.peer_id + ", " +
                                                    holder.mesh_ipv4 + " / " + holder.mesh_ipv6 + ")");
  }
  auto all = store_.all();
  if (!all) return store_failure("reading the peer store", all.error());
  for (const Peer& peer : *all) {
    if (peer.kind == Peer::Kind::device && peer.component_name == name) {
      return rpc::fail(rpc::Code::already_exists, "a device named " + std::string(name) + " is already registered (" +
                                                      peer.peer_id + "); revoke it first or choose another name");
    }
  }

  auto admitted = admit(pubkey, Peer::Kind::device, name, "manual", clock_.now());
  if (!admitted) return std::unexpected(std::move(admitted.error()));
  lock.unlock();
  changed();
  return std::move(*admitted);
}

rpc::Result<Peer> PeerRegistry::revoke(std::string_view selector) {
  std::unique_lock lock(mutex_);
  std::optional<Peer> target;
  auto by_id = store_.find_by_id(selector);
  if (!by_id) return store_failure("reading the peer store", by_id.error());
  if (by_id->has_value()) target = std::move(**by_id);
  if (!target) {
    auto by_key = store_.find_by_pubkey(selector);
    if (!by_key) return store_failure("reading the peer store", by_key.error());
    if (by_key->has_value()) target = std::move(**by_key);
  }
  if (!target) {
    auto all = store_.all();
    if (!all) return store_failure("reading the peer store", all.error());
    std::vector<Peer> named;
    for (Peer& peer : *all) {
      if (peer.component_name == selector) named.push_back(std::move(peer));
    }
    if (named.size() > 1) {
      std::string ids;
      for (const Peer& peer : named) {
        ids += (ids.empty() ? "" : ", ") + peer.peer_id + " (" + std::string(to_string(peer.kind)) + ", " +
               peer.mesh_ipv4 + ")";
      }
      return rpc::fail(rpc::Code::failed_precondition, std::to_string(named.size()) + " peers are named " +
                                                           base::quote(selector) + ": " + ids +
                                                           "; revoke one by its peer id");
    }
    if (named.size() == 1) target = std::move(named.front());
  }
  if (!target) {
    return rpc::fail(rpc::Code::not_found,
                     "no peer of this colony has the name, peer id or WireGuard key " + base::quote(selector));
  }
  auto key = crypto::PublicKey::from_base64(target->wireguard_pubkey);
  if (!key) {
    return rpc::fail(rpc::Code::internal, "peer " + target->peer_id + " has no valid WireGuard key: " + key.error());
  }
  peers_cache_.reset();  // the next peers() reads the store again
  auto removed = store_.revoke(RevokedKey{
      .wireguard_pubkey = target->wireguard_pubkey,
      .peer_id = target->peer_id,
      .name = target->component_name,
      .kind = target->kind,
      .revoked_at = clock_.now(),
  });
  if (!removed) return store_failure("revoking the peer", removed.error());
  if (!removed->has_value()) {
    return rpc::fail(rpc::Code::not_found, "peer " + target->peer_id + " is not registered with this colony");
  }
  allocator_.release(**removed);
  {
    std::unique_lock revoked_lock(revoked_mutex_);
    revoked_.insert(key->bytes());
  }
  lock.unlock();
  changed();
  return std::move(*target);
}

void PeerRegistry::on_change(std::function<void()> callback) {
  std::lock_guard lock(callbacks_mutex_);
  callbacks_.push_back(std::move(callback));
}

void PeerRegistry::changed() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(callbacks_mutex_);
    callbacks = callbacks_;
  }
  for (const auto& callback : callbacks) callback();
}

rpc::Result<Peer> PeerRegistry::find_owned(std::string_view peer_id, std::string_view wireguard_pubkey) const {
  auto found = store_.find_by_id(peer_id);
  if (!found) return store_failure("reading the peer store", found.error());
  if (!found->has_value()) {
    return rpc::fail(rpc::Code::not_found,
                     "peer " + std::string(peer_id) + " is not registered with this colony: register again");
  }
  if ((*found)->wireguard_pubkey != wireguard_pubkey) {
    return rpc::fail(rpc::Code::permission_denied,
                     "peer " + std::string(peer_id) + " is registered with another WireGuard key");
  }
  // A device's key and id are no secret, and a device runs no coral: only
  // the operator removes it (revoke), and it has no heartbeats to record.
  if ((*found)->kind == Peer::Kind::device) {
    return rpc::fail(rpc::Code::permission_denied, "peer " + std::string(peer_id) +
                                                       " was added to the colony by hand; only its operator can "
                                                       "remove it (coral colony revoke)");
  }
  return std::move(**found);
}

rpc::Result<Peer> PeerRegistry::heartbeat(std::string_view peer_id, std::string_view wireguard_pubkey,
                                          std::string_view status) {
  std::lock_guard lock(mutex_);
  auto peer = find_owned(peer_id, wireguard_pubkey);
  if (!peer) return peer;
  const auto now = clock_.now();
  peers_cache_.reset();  // the next peers() reads the store again
  auto touched = store_.touch(peer_id, now, status);
  if (!touched) return store_failure("recording the heartbeat", touched.error());
  if (!*touched) {
    return rpc::fail(rpc::Code::not_found,
                     "peer " + std::string(peer_id) + " is not registered with this colony: register again");
  }
  peer->last_seen = now;
  peer->status = std::string(status);
  return peer;
}

rpc::Result<Peer> PeerRegistry::unregister(std::string_view peer_id, std::string_view wireguard_pubkey) {
  std::unique_lock lock(mutex_);
  auto peer = find_owned(peer_id, wireguard_pubkey);
  if (!peer) return peer;
  peers_cache_.reset();  // the next peers() reads the store again
  auto removed = store_.remove(peer_id);
  if (!removed) return store_failure("removing the peer", removed.error());
  if (!removed->has_value()) {
    return rpc::fail(rpc::Code::not_found, "peer " + std::string(peer_id) + " is not registered with this colony");
  }
  allocator_.release(**removed);
  lock.unlock();
  changed();
  return peer;
}

rpc::Result<std::vector<Peer>> PeerRegistry::expire_stale() {
  std::unique_lock lock(mutex_);
  const auto period = kExpiryHeartbeats * options_.heartbeat_interval;
  const auto now = clock_.now();
  // Nobody could heartbeat while the colony was down.
  if (now < started_at_ + period) return std::vector<Peer>();
  const auto deadline = now - period;
  auto stale = store_.last_seen_before(Peer::Kind::proxy, deadline);
  if (!stale) return store_failure("reading the peer store", stale.error());
  std::vector<Peer> expired;
  for (Peer& peer : *stale) {
    peers_cache_.reset();  // the next peers() reads the store again
    auto removed = store_.remove(peer.peer_id);
    if (!removed) {
      // The ones removed before are gone all the same: say so.
      lock.unlock();
      if (!expired.empty()) changed();
      return store_failure("removing an expired peer", removed.error());
    }
    if (!removed->has_value()) continue;
    allocator_.release(**removed);
    expired.push_back(std::move(peer));
  }
  lock.unlock();
  if (!expired.empty()) changed();
  return expired;
}

rpc::Result<std::vector<Peer>> PeerRegistry::peers() const {
  std::lock_guard lock(mutex_);
  if (peers_cache_) return *peers_cache_;
  auto all = store_.all();
  if (!all) return store_failure("reading the peer store", all.error());
  peers_cache_ = *all;
  return std::move(*all);
}

rpc::Result<std::optional<Peer>> PeerRegistry::find_by_address(std::string_view mesh_ip) const {
  std::lock_guard lock(mutex_);
  const auto index = allocator_.index_of(mesh_ip);
  if (!index || !allocator_.is_taken(*index)) return std::nullopt;
  auto found = store_.find_by_index(*index);
  if (!found) return store_failure("reading the peer store", found.error());
  return std::move(*found);
}

rpc::Result<std::uint64_t> PeerRegistry::storage_bytes() const {
  std::lock_guard lock(mutex_);
  const auto now = clock_.now();
  if (storage_cache_ && now >= storage_cache_->first && now - storage_cache_->first < std::chrono::seconds(1))
    return storage_cache_->second;
  auto bytes = store_.storage_bytes();
  if (!bytes) return store_failure("measuring the peer store", bytes.error());
  storage_cache_ = std::pair{now, *bytes};
  return *bytes;
}

std::string_view PeerRegistry::health(const Peer& peer) const {
  return peer_health(peer, clock_.now(), options_.heartbeat_interval);
}

std::string PeerRegistry::colony_ipv4() const { return base::format_ipv4(config_.wireguard.mesh_ipv4); }
std::string PeerRegistry::colony_ipv6() const { return base::format_ipv6(config_.wireguard.mesh_ipv6); }

std::size_t PeerRegistry::addresses_in_use() const {
  std::lock_guard lock(mutex_);
  return allocator_.in_use();
}

}  // namespace coral::colony
