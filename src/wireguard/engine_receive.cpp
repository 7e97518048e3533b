// The engine's receive side: datagrams from the network to handshakes,
// cookie replies and packets for the host. Everything here faces the
// network: each step checks before it changes anything, and a failed check
// drops the datagram (counted) without a reply.

#include "wireguard/endpoint.h"
#include "wireguard/engine.h"

namespace coral::wireguard {

void Engine::receive_datagram(std::span<const std::uint8_t> datagram, const Endpoint& from, Time now,
                              EngineOutput& out) {
  const auto type = message_type(datagram);
  if (!type) return count(Drop::malformed_message);
  switch (*type) {
    case MessageType::handshake_initiation: return receive_initiation(datagram, from, now, out);
    case MessageType::handshake_response: return receive_response(datagram, from, now, out);
    case MessageType::cookie_reply: return receive_cookie_reply(datagram, now);
    case MessageType::transport_data: return receive_transport(datagram, from, now, out);
  }
}

bool Engine::admit_handshake_message(std::span<const std::uint8_t> message, const Endpoint& from,
                                     std::uint32_t sender_index, Time now, EngineOutput& out) {
  if (!identity_) {
    count(Drop::no_private_key);
    return false;
  }
  // Load is measured over every handshake message that reaches us, valid
  // or not: floods of garbage are what it is for.
  if (!window_start_ || now - *window_start_ >= options_.under_load_window) {
    window_start_ = now;
    handshakes_in_window_ = 0;
  }
  if (++handshakes_in_window_ > options_.under_load_handshakes) under_load_until_ = now + options_.under_load_for;
  const EndpointBytes source(from);
  switch (cookie_checker_.verify(message, source.bytes(), now, under_load(now))) {
    case MacVerdict::invalid_mac1:
      count(Drop::invalid_mac);
      return false;
    case MacVerdict::cookie_required: {
      CookieReply reply = cookie_checker_.create_reply(message, source.bytes(), now);
      reply.receiver_index = sender_index;
      const auto bytes = serialize(reply);
      out.send(from, bytes);
      count(Drop::cookie_sent);
      return false;
    }
    case MacVerdict::valid:
      if (under_load(now) && !rate_limiter_.allow(from.address, now)) {
        count(Drop::rate_limited);
        return false;
      }
      return true;
  }
  return false;
}

void Engine::receive_initiation(std::span<const std::uint8_t> datagram, const Endpoint& from, Time now,
                                EngineOutput& out) {
  const auto initiation = parse_initiation(datagram);
  if (!initiation) return count(Drop::malformed_message);
  if (!admit_handshake_message(datagram, from, initiation->sender_index, now, out)) return;
  auto opened = open_initiation(*identity_, *initiation);
  if (!opened) return count(Drop::handshake_failed);
  Peer* peer = peer_by_key(opened->initiator_static());
  if (peer == nullptr && unknown_peer_handler_) peer = admit_unknown_peer(*opened, from, now, out);
  if (peer == nullptr) return count(Drop::unknown_peer);
  if (!peer->handshake.consume_initiation(*opened, now)) return count(Drop::handshake_failed);
  peer->timers.authenticated_packet_received(now);
  peer->timers.authenticated_packet_traversal(now);
  peer->rx_bytes += datagram.size();
  peer->endpoint = from;

  // The handshake we may have had going is replaced by this one.
  if (const auto old = peer->handshake.local_index(); old && peer->keypair_for(*old) == nullptr) release_index(*old);
  const std::uint32_t index = new_index(peer->id);
  auto response = peer->handshake.create_response(index);
  if (!response) {
    release_index(index);
    return count(Drop::handshake_failed);
  }
  auto keys = peer->handshake.derive_keys();
  if (!keys) {
    release_index(index);
    return count(Drop::handshake_failed);
  }
  install_keypair(*peer, std::move(*keys), now);
  auto message = serialize(*response);
  peer->timers.session_derived(now);
  peer->timers.authenticated_packet_traversal(now);
  peer->timers.authenticated_packet_sent(now);
  peer->timers.handshake_response_sent(now);
  send_handshake_message(*peer, message, now, out);
}

Peer* Engine::admit_unknown_peer(const OpenedInitiation& initiation, const Endpoint& from, Time now,
                                 EngineOutput& out) {
  const crypto::PublicKey& key = initiation.initiator_static();
  // open_initiation only decrypted the static key, which anyone can
  // encrypt to us; the timestamp is sealed with the static-static DH, so
  // only the key's holder gets past this. A throwaway handshake checks it
  // before the handler is asked (the admitted peer's own handshake checks
  // it again below: one more DH, for admitted keys only).
  Handshake probe(*identity_, key);
  if (!probe.consume_initiation(initiation, now)) return nullptr;
  std::optional<PeerSettings> admitted = unknown_peer_handler_(key, from, now);
  if (!admitted || admitted->public_key != key) return nullptr;
  settings_.peers.push_back(*admitted);
  add_peer(*admitted, now, out);
  return peer_by_key(key);
}

void Engine::receive_response(std::span<const std::uint8_t> datagram, const Endpoint& from, Time now,
                              EngineOutput& out) {
  const auto response = parse_response(datagram);
  if (!response) return count(Drop::malformed_message);
  if (!admit_handshake_message(datagram, from, response->sender_index, now, out)) return;
  Peer* peer = peer_by_index(response->receiver_index);
  if (peer == nullptr) return count(Drop::unknown_index);
  if (!peer->handshake.consume_response(*identity_, *response)) return count(Drop::handshake_failed);
  auto keys = peer->handshake.derive_keys();
  if (!keys) return count(Drop::handshake_failed);
  install_keypair(*peer, std::move(*keys), now);
  peer->endpoint = from;
  peer->rx_bytes += datagram.size();
  peer->last_handshake = options_.wall_clock();
  peer->timers.authenticated_packet_received(now);
  peer->timers.authenticated_packet_traversal(now);
  peer->timers.session_derived(now);
  peer->timers.handshake_complete(now);
  // Confirms the session to the responder, who may not send until it hears
  // from us on it.
  send_keepalive(*peer, now, out);
}

void Engine::receive_cookie_reply(std::span<const std::uint8_t> datagram, Time now) {
  const auto reply = parse_cookie_reply(datagram);
  if (!reply) return count(Drop::malformed_message);
  Peer* peer = peer_by_index(reply->receiver_index);
  if (peer == nullptr) return count(Drop::unknown_index);
  if (!peer->cookies.consume_reply(*reply, now)) return count(Drop::bad_cookie_reply);
}

void Engine::receive_transport(std::span<const std::uint8_t> datagram, const Endpoint& from, Time now,
                               EngineOutput& out) {
  const auto message = parse_transport_data(datagram);
  if (!message) return count(Drop::malformed_message);
  Peer* peer = peer_by_index(message->receiver_index);
  Keypair* keypair = peer == nullptr ? nullptr : peer->keypair_for(message->receiver_index);
  if (keypair == nullptr) return count(Drop::unknown_index);
  if (!keypair->can_receive(now, options_.timings)) return count(Drop::expired_session);
  const auto size = keypair->open(*message, open_buffer_);
  if (!size) return count(Drop::decryption_failed);

  if (keypair == peer->next.get()) {
    // The initiator's first message on the session we responded to: it
    // is confirmed and becomes the one we seal with.
    if (peer->previous) release_index(peer->previous->local_index());
    peer->previous = std::move(peer->current);
    peer->current = std::move(peer->next);
    peer->last_handshake = options_.wall_clock();
    peer->timers.handshake_complete(now);
    send_staged(*peer, now, out);
  }
  peer->endpoint = from;  // roaming: the peer is where its authenticated packets come from
  peer->rx_bytes += datagram.size();
  peer->timers.authenticated_packet_received(now);
  peer->timers.authenticated_packet_traversal(now);
  if (should_rekey_on_receive(now, keypair->created(), keypair->we_initiated(), options_.timings) &&
      peer->timers.want_last_minute_handshake(now)) {
    send_initiation(*peer, now, out);
  }
  if (*size == 0) return;  // a keepalive
  peer->timers.data_received(now);

  const auto packet = std::span<const std::uint8_t>(open_buffer_.data(), *size);
  const auto info = parse_ip_packet(std::as_bytes(packet));
  if (!info) return count(Drop::invalid_inner_packet);
  if (allowed_ips_.lookup(info->source) != peer->id) return count(Drop::source_not_allowed);
  out.deliver(packet.first(info->length));
}

}  // namespace coral::wireguard
