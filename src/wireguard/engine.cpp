#include "wireguard/engine.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "crypto/keys.h"

namespace coral::wireguard {

namespace {

// Room for the largest datagram: a 64 KiB packet plus header and tag.
constexpr std::size_t kScratchBytes = 65536 + 64;

std::uint64_t random_u64() {
  std::array<std::uint8_t, 8> bytes{};
  crypto::random_bytes(bytes);
  std::uint64_t value = 0;
  for (const std::uint8_t byte : bytes) value = (value << 8) | byte;
  return value;
}

}  // namespace

std::string_view to_string(Drop drop) {
  switch (drop) {
    case Drop::malformed_message: return "malformed_message";
    case Drop::invalid_mac: return "invalid_mac";
    case Drop::cookie_sent: return "cookie_sent";
    case Drop::handshake_failed: return "handshake_failed";
    case Drop::unknown_peer: return "unknown_peer";
    case Drop::unknown_index: return "unknown_index";
    case Drop::bad_cookie_reply: return "bad_cookie_reply";
    case Drop::decryption_failed: return "decryption_failed";
    case Drop::expired_session: return "expired_session";
    case Drop::invalid_inner_packet: return "invalid_inner_packet";
    case Drop::source_not_allowed: return "source_not_allowed";
    case Drop::no_route: return "no_route";
    case Drop::no_endpoint: return "no_endpoint";
    case Drop::staged_overflow: return "staged_overflow";
    case Drop::no_private_key: return "no_private_key";
    case Drop::rate_limited: return "rate_limited";
  }
  return "unknown";
}

Engine::Engine(EngineOptions options)
    : options_(std::move(options)),
      cookie_checker_(crypto::PublicKey{}),
      jitter_seed_(random_u64()),
      seal_buffer_(kScratchBytes),
      open_buffer_(kScratchBytes) {}

Engine::~Engine() = default;

void Engine::configure(const DeviceSettings& settings, Time now, EngineOutput& out) {
  const bool new_key = settings.interface.private_key != settings_.interface.private_key || !identity_;
  if (new_key) {
    if (settings.interface.private_key.is_zero()) {
      identity_.reset();
    } else {
      identity_.emplace(settings.interface.private_key);
      cookie_checker_.set_local_public(identity_->public_key());
    }
  }
  // Peers that are gone, then the others in order.
  std::vector<Peer*> gone;
  for (const auto& [id, peer] : peers_) {
    const bool kept = std::any_of(settings.peers.begin(), settings.peers.end(), [&](const PeerSettings& wanted) {
      return wanted.public_key == peer->settings.public_key;
    });
    if (!kept) gone.push_back(peer.get());
  }
  for (Peer* peer : gone) remove_peer(*peer);
  if (new_key) {
    for (auto& [id, peer] : peers_) {
      drop_sessions(*peer);
      clear_handshake(*peer);
      if (identity_) peer->handshake.set_local_identity(*identity_);
    }
  }
  settings_.interface = settings.interface;
  settings_.peers = settings.peers;
  for (const PeerSettings& wanted : settings.peers) {
    if (Peer* peer = peer_by_key(wanted.public_key)) {
      update_peer(*peer, wanted, now, out);
    } else {
      add_peer(wanted, now, out);
    }
  }
}

void Engine::add_peer(const PeerSettings& settings, Time now, EngineOutput& out) {
  // A peer needs an identity to precompute its static-static DH; without
  // a private key there is nothing to talk with, so it waits as settings.
  if (!identity_) return;
  const PeerId id = next_peer_id_++;
  auto peer = std::make_unique<Peer>(id, *identity_, settings, options_.timings, jitter_seed_ + id);
  Peer& added = *peer;
  peers_.emplace(id, std::move(peer));
  peer_ids_by_key_.emplace(settings.public_key.bytes(), id);
  route_allowed_ips(added);
  if (added.timers.set_persistent_keepalive(std::chrono::seconds(settings.persistent_keepalive))) {
    send_keepalive(added, now, out);
  }
}

void Engine::update_peer(Peer& peer, const PeerSettings& settings, Time now, EngineOutput& out) {
  const PeerSettings before = std::exchange(peer.settings, settings);
  if (before.preshared_key != settings.preshared_key) peer.handshake.set_preshared_key(settings.preshared_key);
  if (before.endpoint != settings.endpoint && settings.endpoint) peer.endpoint = settings.endpoint;
  if (before.allowed_ips != settings.allowed_ips) route_allowed_ips(peer);
  if (before.persistent_keepalive != settings.persistent_keepalive &&
      peer.timers.set_persistent_keepalive(std::chrono::seconds(settings.persistent_keepalive))) {
    send_keepalive(peer, now, out);
  }
}

void Engine::remove_peer(Peer& peer) {
  drop_sessions(peer);
  clear_handshake(peer);
  allowed_ips_.remove_peer(peer.id);
  peer_ids_by_key_.erase(peer.settings.public_key.bytes());
  peers_.erase(peer.id);  // `peer` is gone from here on
}

void Engine::route_allowed_ips(const Peer& peer) {
  allowed_ips_.remove_peer(peer.id);
  for (const base::Cidr& prefix : peer.settings.allowed_ips) allowed_ips_.insert(prefix, peer.id);
}

Peer* Engine::peer_by_index(std::uint32_t index) const {
  const auto found = indices_.find(index);
  if (found == indices_.end()) return nullptr;
  const auto peer = peers_.find(found->second);
  return peer == peers_.end() ? nullptr : peer->second.get();
}

Peer* Engine::peer_by_key(const crypto::PublicKey& public_key) const {
  const auto found = peer_ids_by_key_.find(public_key.bytes());
  if (found == peer_ids_by_key_.end()) return nullptr;
  return peers_.at(found->second).get();
}

const Peer* Engine::find_peer(const crypto::PublicKey& public_key) const { return peer_by_key(public_key); }

std::uint32_t Engine::new_index(PeerId peer) {
  // Random indices (paper, section 5.4.2) so that they say nothing about
  // how many sessions there are; 2^32 values against a few thousand in use
  // makes a second draw rare and a hundredth one impossible in practice.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::array<std::uint8_t, 4> bytes{};
    crypto::random_bytes(bytes);
    const std::uint32_t index = static_cast<std::uint32_t>(bytes[0]) | static_cast<std::uint32_t>(bytes[1]) << 8 |
                                static_cast<std::uint32_t>(bytes[2]) << 16 | static_cast<std::uint32_t>(bytes[3]) << 24;
    if (indices_.emplace(index, peer).second) return index;
  }
  assert(false && "index table full: 100 random draws all collided");
  return 0;
}

void Engine::release_index(std::uint32_t index) { indices_.erase(index); }

void Engine::drop_sessions(Peer& peer) {
  for (std::unique_ptr<Keypair>* slot : {&peer.current, &peer.previous, &peer.next}) {
    if (*slot) release_index((*slot)->local_index());
    slot->reset();
  }
}

void Engine::clear_handshake(Peer& peer) {
  if (const auto index = peer.handshake.local_index(); index && peer.keypair_for(*index) == nullptr) {
    release_index(*index);
  }
  peer.handshake.clear();
}

void Engine::install_keypair(Peer& peer, TransportKeys keys, Time now) {
  auto keypair = std::make_unique<Keypair>(keys.send_key.bytes(), keys.receive_key.bytes(), keys.local_index,
                                           keys.remote_index, keys.initiator, now);
  if (keys.initiator) {
    // A confirmed session: it seals from now on. What was `next` (a
    // session we responded to that never got confirmed) is kept as
    // previous rather than the older current, as the kernel does.
    if (peer.next) {
      if (peer.previous) release_index(peer.previous->local_index());
      peer.previous = std::move(peer.next);
      if (peer.current) release_index(peer.current->local_index());
    } else {
      if (peer.previous) release_index(peer.previous->local_index());
      peer.previous = std::move(peer.current);
    }
    peer.current = std::move(keypair);
  } else {
    // Unconfirmed until the initiator's first message arrives on it.
    if (peer.next) release_index(peer.next->local_index());
    peer.next = std::move(keypair);
  }
}

void Engine::tick(Time now, EngineOutput& out) {
  std::vector<PeerId> ids;
  ids.reserve(peers_.size());
  for (const auto& [id, peer] : peers_) ids.push_back(id);
  for (const PeerId id : ids) {
    Peer& peer = *peers_.at(id);
    const TimerActions due = peer.timers.tick(now);
    if (due.zero_keys) {
      drop_sessions(peer);
      clear_handshake(peer);
    }
    if (due.handshake_gave_up) {
      drops_[static_cast<std::size_t>(Drop::staged_overflow)] += peer.staged.size();
      peer.staged.clear();
    }
    if (due.initiate_handshake) send_initiation(peer, now, out);
    if (due.send_keepalive || due.send_persistent_keepalive) send_keepalive(peer, now, out);
  }
}

std::optional<Time> Engine::next_deadline() const {
  std::optional<Time> earliest;
  for (const auto& [id, peer] : peers_) {
    const auto deadline = peer->timers.next_deadline();
    if (deadline && (!earliest || *deadline < *earliest)) earliest = deadline;
  }
  return earliest;
}

uapi::DeviceSnapshot Engine::snapshot() const {
  uapi::DeviceSnapshot snapshot;
  snapshot.private_key = settings_.interface.private_key;
  snapshot.fwmark = settings_.interface.fwmark;
  for (const PeerSettings& configured : settings_.peers) {
    uapi::PeerSnapshot peer_snapshot;
    peer_snapshot.public_key = configured.public_key;
    if (configured.preshared_key) peer_snapshot.preshared_key = *configured.preshared_key;
    peer_snapshot.endpoint = configured.endpoint;
    peer_snapshot.persistent_keepalive_interval = configured.persistent_keepalive;
    if (const Peer* peer = peer_by_key(configured.public_key)) {
      peer_snapshot.endpoint = peer->endpoint;
      peer_snapshot.last_handshake = peer->last_handshake;
      peer_snapshot.tx_bytes = peer->tx_bytes;
      peer_snapshot.rx_bytes = peer->rx_bytes;
      peer_snapshot.allowed_ips = allowed_ips_.prefixes_of(peer->id);
    } else {
      peer_snapshot.allowed_ips = configured.allowed_ips;
    }
    snapshot.peers.push_back(std::move(peer_snapshot));
  }
  return snapshot;
}

}  // namespace coral::wireguard
