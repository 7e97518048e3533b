#pragma once
// Where the device's inner IP packets come from and go to: a TUN device
// (tun_linux.h) or, with the userspace networking mode, a userspace TCP/IP
// stack. The device reads the packets the host sends (to encrypt them for a
// peer) and writes the packets peers sent (after decrypting them).
//
// Packets are whole IPv4 or IPv6 datagrams, no link-layer header and no
// packet-information prefix, each at most mtu() bytes.
//
// Threading: an implementation lives on one io_context; every call, and
// every call of the receive handler, happens on that io_context's thread.

#include <cstddef>
#include <functional>
#include <span>

namespace coral::wireguard::device {

using Packet = std::span<const std::uint8_t>;

class PacketInterface {
 public:
  // Called with the packets read in one go (a batch of one or more). The
  // packets' bytes belong to the interface and stay valid until the handler
  // returns. The handler may call write() and close(); it must not destroy
  // the interface.
  using ReceiveHandler = std::function<void(std::span<const Packet> packets)>;

  virtual ~PacketInterface() = default;

  // Starts reading: from now until close(), packets go to `handler`. Call
  // once.
  virtual void start(ReceiveHandler handler) = 0;
  // Hands packets to the host, in order. Never blocks and never fails as a
  // whole: a packet the interface cannot take (malformed, queue full,
  // closed) is dropped, as a full NIC queue would drop it, and counted by
  // the implementation. The caller keeps ownership of the bytes.
  virtual void write(std::span<const Packet> packets) = 0;
  // The largest packet, in bytes, that the interface reads or takes.
  virtual std::size_t mtu() const = 0;
  // Stops reading and releases the interface (a TUN device disappears). The
  // handler is not called after close() returns. Idempotent; the
  // destructor closes too.
  virtual void close() = 0;
};

}  // namespace coral::wireguard::device
