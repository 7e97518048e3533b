#pragma once
// One peer of a WireGuard device, as the engine (engine.h) keeps it: the
// handshake with it, its sessions, its timers, where it is and what waits
// for a session. Plain state; the engine runs the protocol on it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "wireguard/allowed_ips.h"
#include "wireguard/cookie.h"
#include "wireguard/keypair.h"
#include "wireguard/noise.h"
#include "wireguard/settings.h"
#include "wireguard/timers.h"

namespace coral::wireguard {

// Packets waiting for a session, per peer; the oldest go first when full
// (wireguard-go's QueueStagedSize).
inline constexpr std::size_t kMaxStagedPackets = 128;

struct Peer {
  Peer(PeerId peer_id, const LocalIdentity& local, const PeerSettings& peer_settings, const Timings& timings,
       std::uint64_t jitter_seed)
      : id(peer_id),
        settings(peer_settings),
        handshake(local, peer_settings.public_key, peer_settings.preshared_key),
        cookies(peer_settings.public_key),
        timers(timings, jitter_seed),
        endpoint(peer_settings.endpoint) {}

  PeerId id;
  // As configured (the endpoint here is the configured one; `endpoint`
  // below follows the peer as it roams).
  PeerSettings settings;
  Handshake handshake;
  CookieGenerator cookies;
  PeerTimers timers;
  std::optional<Endpoint> endpoint;

  // Sessions (paper, section 5.4.6; the kernel's keypairs): `current`
  // seals; `previous` still opens what was in flight when it was replaced;
  // `next` is a session we responded to, unusable for sending until the
  // initiator's first message on it arrives (then it becomes current).
  std::unique_ptr<Keypair> current;
  std::unique_ptr<Keypair> previous;
  std::unique_ptr<Keypair> next;

  std::deque<std::vector<std::uint8_t>> staged;

  // For `wg show`.
  std::optional<std::chrono::system_clock::time_point> last_handshake;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;

  // The keypair whose local index is `index`, if any.
  Keypair* keypair_for(std::uint32_t index) const {
    for (Keypair* keypair : {current.get(), previous.get(), next.get()}) {
      if (keypair != nullptr && keypair->local_index() == index) return keypair;
    }
    return nullptr;
  }
};

}  // namespace coral::wireguard
