#pragma once
// A session's keys (WireGuard paper, section 5.4.6): what a completed
// handshake leaves behind, and the transport data messages sealed and
// opened with it.
//
// A transport data message is the 16-byte header (type 4, three zero
// bytes, the receiver's index and the 64-bit counter, both little-endian),
// then the packet zero-padded to a multiple of 16 bytes (never beyond the
// MTU), sealed with the counter as nonce. An empty packet is a keepalive.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "crypto/aead.h"
#include "crypto/keys.h"
#include "wireguard/constants.h"
#include "wireguard/messages.h"
#include "wireguard/replay_window.h"

namespace coral::wireguard {

// The size of the transport message that carries `packet_size` bytes of
// packet on an interface with `mtu`: header + padded packet + tag.
std::size_t transport_message_size(std::size_t packet_size, std::size_t mtu);

class Keypair {
 public:
  Keypair(const crypto::KeyBytes& send_key, const crypto::KeyBytes& receive_key, std::uint32_t local_index,
          std::uint32_t remote_index, bool we_initiated, Time created);

  std::uint32_t local_index() const { return local_index_; }
  std::uint32_t remote_index() const { return remote_index_; }
  bool we_initiated() const { return we_initiated_; }
  Time created() const { return created_; }
  // Messages sealed so far (the next counter to use).
  std::uint64_t send_counter() const { return send_counter_; }
  // Whether it may still seal (counter below REJECT_AFTER_MESSAGES) and is
  // younger than REJECT_AFTER_TIME.
  bool can_send(Time now, const Timings& timings) const;
  bool can_receive(Time now, const Timings& timings) const;

  // Seals `packet` into `out` (transport_message_size(packet.size(), mtu)
  // bytes) and returns the message's size, or nullopt when the keypair is
  // used up (see can_send; the caller checks age). `packet` and `out` must
  // not overlap.
  std::optional<std::size_t> seal(std::span<const std::uint8_t> packet, std::size_t mtu, std::span<std::uint8_t> out);

  // Opens a transport message addressed to this keypair into `out` (at
  // least message.encrypted.size() - 16 bytes) and returns the padded
  // packet's size: nullopt when the tag does not verify or the counter was
  // seen (replay) or is out of the window. The counter is only marked seen
  // once the tag verified.
  std::optional<std::size_t> open(const TransportData& message, std::span<std::uint8_t> out);

 private:
  crypto::ChaCha20Poly1305 sender_;
  crypto::ChaCha20Poly1305 receiver_;
  ReplayWindow replay_;
  std::uint64_t send_counter_ = 0;
  std::uint32_t local_index_;
  std::uint32_t remote_index_;
  bool we_initiated_;
  Time created_;
};

}  // namespace coral::wireguard
