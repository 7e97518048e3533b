#pragma once
// A running WireGuard device: the protocol engine (wireguard/engine.h)
// between a UDP socket (the peers) and a packet interface (a TUN device or
// a userspace TCP/IP stack), with the engine's timers on a steady_timer.
//
// Everything runs on one io_context thread. Input comes in batches (a
// recvmmsg's worth of datagrams, a drain of the TUN device); the engine's
// output for a whole batch is collected and leaves in one sendmmsg and one
// write of packets, then the timer is re-armed for the engine's next
// deadline.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>

#include "wireguard/device/packet_interface.h"
#include "wireguard/device/udp_socket.h"
#include "wireguard/engine.h"
#include "wireguard/settings.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace coral::wireguard::device {

struct DeviceOptions {
  EngineOptions engine;
  UdpSocketOptions udp;  // its port comes from the settings' listen port
};

class Device {
 public:
  // Binds the UDP socket (settings.interface.listen_port; 0: any free
  // port), configures the engine and starts moving packets between `packets`
  // and the peers. Errors name what failed: "UDP port 51820: address in use".
  static std::expected<std::unique_ptr<Device>, std::string> open(boost::asio::io_context& io,
                                                                   const DeviceSettings& settings,
                                                                   std::unique_ptr<PacketInterface> packets,
                                                                   DeviceOptions options = {});
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // The UDP port bound.
  std::uint16_t listen_port() const;
  const DeviceSettings& settings() const;
  // Applies new settings (from the UAPI or a reload). A new listen port
  // rebinds the socket; on failure nothing changes.
  std::expected<void, std::string> configure(const DeviceSettings& settings);
  // The engine's handler for initiations from keys that are no peer's
  // (wireguard/engine.h, UnknownPeerHandler): called on the device's
  // thread while a batch of datagrams is read; it must not call back into
  // the device (configure, close). Admitted peers are in settings().peers.
  void set_unknown_peer_handler(UnknownPeerHandler handler);
  // What `wg show` prints.
  uapi::DeviceSnapshot snapshot() const;
  const Engine& engine() const;
  const UdpSocket& socket() const;

  // Stops moving packets: closes the socket and the packet interface.
  void close();

 private:
  struct Impl;
  explicit Device(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace coral::wireguard::device
