#include "wireguard/device/device.h"

#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace coral::wireguard::device {

namespace {

// The engine's output for one batch of input, stored back to back in one
// arena and handed to the socket and the packet interface in one call each.
class BatchedOutput final : public EngineOutput {
 public:
  void send(const Endpoint& to, std::span<const std::uint8_t> message) override {
    datagrams_.push_back({to, append(message), message.size()});
  }
  void deliver(std::span<const std::uint8_t> packet) override { packets_.push_back({append(packet), packet.size()}); }

  bool empty() const { return datagrams_.empty() && packets_.empty(); }

  void flush(UdpSocket& socket, PacketInterface& packets) {
    if (!datagrams_.empty()) {
      outgoing_.clear();
      for (const Queued& datagram : datagrams_) {
        outgoing_.push_back({datagram.to, std::span<const std::uint8_t>(arena_.data() + datagram.offset, datagram.size)});
      }
      socket.send(outgoing_);
    }
    if (!packets_.empty()) {
      packet_views_.clear();
      for (const QueuedPacket& packet : packets_) {
        packet_views_.push_back(Packet(arena_.data() + packet.offset, packet.size));
      }
      packets.write(packet_views_);
    }
    datagrams_.clear();
    packets_.clear();
    arena_.clear();
  }

 private:
  struct Queued {
    Endpoint to;
    std::size_t offset;
    std::size_t size;
  };
  struct QueuedPacket {
    std::size_t offset;
    std::size_t size;
  };

  std::size_t append(std::span<const std::uint8_t> bytes) {
    const std::size_t offset = arena_.size();
    arena_.insert(arena_.end(), bytes.begin(), bytes.end());
    return offset;
  }

  // Offsets, not pointers: the arena may grow while a batch is collected.
  std::vector<std::uint8_t> arena_;
  std::vector<Queued> datagrams_;
  std::vector<QueuedPacket> packets_;
  std::vector<OutgoingDatagram> outgoing_;
  std::vector<Packet> packet_views_;
};

Time steady_now() { return std::chrono::steady_clock::now(); }

}  // namespace

struct Device::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& context, DeviceOptions device_options, std::unique_ptr<PacketInterface> packet_interface)
      : io(context), options(std::move(device_options)), engine(options.engine), packets(std::move(packet_interface)),
        timer(context) {}

  boost::asio::io_context& io;
  DeviceOptions options;
  Engine engine;
  std::unique_ptr<PacketInterface> packets;
  std::unique_ptr<UdpSocket> socket;
  boost::asio::steady_timer timer;
  std::optional<Time> armed_for;
  BatchedOutput output;
  bool closed = false;

  std::expected<std::unique_ptr<UdpSocket>, std::string> bind(std::uint16_t port) {
    UdpSocketOptions udp = options.udp;
    udp.port = port;
    auto opened = UdpSocket::open(io, udp);
    if (!opened) return std::unexpected("UDP port " + std::to_string(port) + ": " + opened.error().message);
    return std::move(*opened);
  }

  void start_socket() {
    std::weak_ptr<Impl> weak = weak_from_this();
    socket->start([weak](std::span<ReceivedDatagram> datagrams) {
      if (auto self = weak.lock()) self->on_datagrams(datagrams);
    });
  }

  void on_datagrams(std::span<ReceivedDatagram> datagrams) {
    const Time now = steady_now();
    for (const ReceivedDatagram& datagram : datagrams) engine.receive_datagram(datagram.data, datagram.source, now, output);
    finish_batch();
  }

  void on_packets(std::span<const Packet> batch) {
    const Time now = steady_now();
    for (const Packet& packet : batch) {
      engine.send_packet(packet, now, output);
    }
    finish_batch();
  }

  void on_timer() {
    armed_for.reset();
    engine.tick(steady_now(), output);
    finish_batch();
  }

  void finish_batch() {
    if (closed) return;
    if (!output.empty()) output.flush(*socket, *packets);
    rearm();
  }

  // One timer for the whole engine, armed for its earliest deadline; it
  // is only moved when that deadline comes earlier (a later one is
  // handled by ticking early, which finds nothing due and re-arms).
  void rearm() {
    const auto deadline = engine.next_deadline();
    if (!deadline || (armed_for && *armed_for <= *deadline)) return;
    armed_for = deadline;
    timer.expires_at(*deadline);
    std::weak_ptr<Impl> weak = weak_from_this();
    timer.async_wait([weak](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && !self->closed) self->on_timer();
    });
  }
};

std::expected<std::unique_ptr<Device>, std::string> Device::open(boost::asio::io_context& io,
                                                                 const DeviceSettings& settings,
                                                                 std::unique_ptr<PacketInterface> packets,
                                                                 DeviceOptions options) {
  options.engine.mtu = packets->mtu();
  auto impl = std::make_shared<Impl>(io, std::move(options), std::move(packets));
  auto socket = impl->bind(settings.interface.listen_port);
  if (!socket) return std::unexpected(socket.error());
  impl->socket = std::move(*socket);
  impl->engine.configure(settings, steady_now(), impl->output);
  impl->start_socket();
  std::weak_ptr<Impl> weak = impl;
  impl->packets->start([weak](std::span<const Packet> batch) {
    if (auto self = weak.lock()) self->on_packets(batch);
  });
  impl->finish_batch();
  return std::unique_ptr<Device>(new Device(std::move(impl)));
}

Device::Device(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Device::~Device() { close(); }

std::uint16_t Device::listen_port() const { return impl_->socket->port(); }

const DeviceSettings& Device::settings() const { return impl_->engine.settings(); }

std::expected<void, std::string> Device::configure(const DeviceSettings& settings) {
  if (settings.interface.listen_port != 0 && settings.interface.listen_port != listen_port()) {
    auto socket = impl_->bind(settings.interface.listen_port);
    if (!socket) return std::unexpected(socket.error());
    impl_->socket->close();
    impl_->socket = std::move(*socket);
    impl_->start_socket();
  }
  impl_->engine.configure(settings, steady_now(), impl_->output);
  impl_->finish_batch();
  return {};
}

void Device::set_unknown_peer_handler(UnknownPeerHandler handler) {
  impl_->engine.set_unknown_peer_handler(std::move(handler));
}

uapi::DeviceSnapshot Device::snapshot() const {
  uapi::DeviceSnapshot snapshot = impl_->engine.snapshot();
  snapshot.listen_port = listen_port();
  return snapshot;
}

const Engine& Device::engine() const { return impl_->engine; }

const UdpSocket& Device::socket() const { return *impl_->socket; }

void Device::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  impl_->timer.cancel();
  impl_->socket->close();
  impl_->packets->close();
}

}  // namespace coral::wireguard::device
