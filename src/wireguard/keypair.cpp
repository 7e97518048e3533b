#include "wireguard/keypair.h"

#include <algorithm>
#include <cstring>

namespace coral::wireguard {

namespace {

std::size_t padded_size(std::size_t packet_size, std::size_t mtu) {
  if (packet_size >= mtu) return packet_size;  // never pad beyond the MTU
  const std::size_t padded = (packet_size + kPaddingMultiple - 1) / kPaddingMultiple * kPaddingMultiple;
  return std::min(padded, mtu);
}

}  // namespace

std::size_t transport_message_size(std::size_t packet_size, std::size_t mtu) {
  return kTransportHeaderBytes + padded_size(packet_size, mtu) + kAeadTagBytes;
}

Keypair::Keypair(const crypto::KeyBytes& send_key, const crypto::KeyBytes& receive_key, std::uint32_t local_index,
                 std::uint32_t remote_index, bool we_initiated, Time created)
    : sender_(send_key),
      receiver_(receive_key),
      local_index_(local_index),
      remote_index_(remote_index),
      we_initiated_(we_initiated),
      created_(created) {}

bool Keypair::can_send(Time now, const Timings& timings) const {
  return send_counter_ < kRejectAfterMessages && now - created_ < timings.reject_after_time;
}

bool Keypair::can_receive(Time now, const Timings& timings) const {
  return now - created_ < timings.reject_after_time;
}

std::optional<std::size_t> Keypair::seal(std::span<const std::uint8_t> packet, std::size_t mtu,
                                         std::span<std::uint8_t> out) {
  if (send_counter_ >= kRejectAfterMessages) return std::nullopt;
  const std::size_t padded = padded_size(packet.size(), mtu);
  const std::size_t size = kTransportHeaderBytes + padded + kAeadTagBytes;
  if (out.size() < size) return std::nullopt;
  const std::uint64_t counter = send_counter_++;
  write_transport_header(remote_index_, counter, out.first<kTransportHeaderBytes>());
  // Pad in place in `out`, then seal in place.
  std::uint8_t* body = out.data() + kTransportHeaderBytes;
  if (!packet.empty()) std::memcpy(body, packet.data(), packet.size());  // a keepalive's data() may be null
  std::memset(body + packet.size(), 0, padded - packet.size());
  sender_.seal(counter, std::span<const std::uint8_t>(body, padded), {}, std::span<std::uint8_t>(body, padded + kAeadTagBytes));
  return size;
}

std::optional<std::size_t> Keypair::open(const TransportData& message, std::span<std::uint8_t> out) {
  if (!replay_.may_accept(message.counter)) return std::nullopt;
  const std::size_t size = message.encrypted.size() - kAeadTagBytes;  // parsing guarantees a tag
  if (out.size() < size) return std::nullopt;
  if (!receiver_.open(message.counter, message.encrypted, {}, out.first(size))) return std::nullopt;
  if (!replay_.accept(message.counter)) return std::nullopt;
  return size;
}

}  // namespace coral::wireguard
