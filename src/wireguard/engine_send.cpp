// The engine's send side: host packets to sealed datagrams, initiations,
// keepalives and the queue of packets waiting for a session.

#include <cstring>

#include "wireguard/engine.h"
#include "wireguard/tai64n.h"

namespace coral::wireguard {

namespace {

std::span<const std::uint8_t> as_bytes(const std::vector<std::uint8_t>& packet) { return {packet.data(), packet.size()}; }

}  // namespace

void Engine::send_packet(std::span<const std::uint8_t> packet, Time now, EngineOutput& out) {
  const auto info = parse_ip_packet(std::as_bytes(packet));
  if (!info) return count(Drop::invalid_inner_packet);
  const auto peer_id = allowed_ips_.lookup(info->destination);
  if (!peer_id) return count(Drop::no_route);
  Peer& peer = *peers_.at(*peer_id);
  Keypair* keypair = peer.current.get();
  if (keypair == nullptr || !keypair->can_send(now, options_.timings)) {
    stage(peer, packet.first(info->length));
    if (peer.timers.want_handshake(now)) send_initiation(peer, now, out);
    return;
  }
  if (!seal_and_send(peer, *keypair, packet.first(info->length), now, out)) return;
  if (should_rekey_on_send(now, keypair->created(), keypair->we_initiated(), keypair->send_counter(),
                           options_.timings) &&
      peer.timers.want_handshake(now)) {
    send_initiation(peer, now, out);
  }
}

bool Engine::seal_and_send(Peer& peer, Keypair& keypair, std::span<const std::uint8_t> packet, Time now,
                           EngineOutput& out) {
  if (!peer.endpoint) {
    count(Drop::no_endpoint);
    return false;
  }
  const auto size = keypair.seal(packet, options_.mtu, seal_buffer_);
  if (!size) return false;  // used up: can_send() said so first
  peer.timers.authenticated_packet_traversal(now);
  peer.timers.authenticated_packet_sent(now);
  if (!packet.empty()) peer.timers.data_sent(now);
  peer.tx_bytes += *size;
  out.send(*peer.endpoint, std::span<const std::uint8_t>(seal_buffer_.data(), *size));
  return true;
}

void Engine::stage(Peer& peer, std::span<const std::uint8_t> packet) {
  if (peer.staged.size() >= kMaxStagedPackets) {
    peer.staged.pop_front();
    count(Drop::staged_overflow);
  }
  peer.staged.emplace_back(packet.begin(), packet.end());
}

void Engine::send_staged(Peer& peer, Time now, EngineOutput& out) {
  while (!peer.staged.empty()) {
    Keypair* keypair = peer.current.get();
    if (keypair == nullptr || !keypair->can_send(now, options_.timings)) return;
    const std::vector<std::uint8_t> packet = std::move(peer.staged.front());
    peer.staged.pop_front();
    if (!seal_and_send(peer, *keypair, as_bytes(packet), now, out)) return;
  }
}

void Engine::send_keepalive(Peer& peer, Time now, EngineOutput& out) {
  // Queued data says "I am here" as well as a keepalive would.
  if (!peer.staged.empty()) return send_staged(peer, now, out);
  Keypair* keypair = peer.current.get();
  if (keypair == nullptr || !keypair->can_send(now, options_.timings)) {
    if (peer.timers.want_handshake(now)) send_initiation(peer, now, out);
    return;
  }
  seal_and_send(peer, *keypair, {}, now, out);
}

void Engine::send_initiation(Peer& peer, Time now, EngineOutput& out) {
  if (!identity_) return count(Drop::no_private_key);
  if (!peer.endpoint) return count(Drop::no_endpoint);
  clear_handshake(peer);
  const std::uint32_t index = new_index(peer.id);
  auto initiation = peer.handshake.create_initiation(*identity_, index, tai64n(options_.wall_clock()));
  if (!initiation) {
    release_index(index);
    return count(Drop::handshake_failed);
  }
  auto message = serialize(*initiation);
  peer.timers.authenticated_packet_traversal(now);
  peer.timers.authenticated_packet_sent(now);
  peer.timers.handshake_initiated(now);
  send_handshake_message(peer, message, now, out);
}

void Engine::send_handshake_message(Peer& peer, std::span<std::uint8_t> message, Time now, EngineOutput& out) {
  peer.cookies.add_macs(message, now);
  peer.tx_bytes += message.size();
  out.send(*peer.endpoint, message);
}

}  // namespace coral::wireguard
