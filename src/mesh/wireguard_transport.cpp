#include "mesh/wireguard_transport.h"

#include <utility>

#include "base/cidr.h"
#include "net/error.h"
#include "mesh/host_transport.h"
#include "wireguard/device/device.h"
#include "wireguard/device/tun_linux.h"
#include "wireguard/device/uapi_server.h"

namespace coral::mesh {

namespace {

// What both WireGuard transports share: the device, its UAPI socket.
class DeviceTransport : public WireGuardTransport {
 public:
  std::expected<void, std::string> set_peers(std::vector<wireguard::PeerSettings> peers) override {
    wireguard::DeviceSettings settings = device_->settings();
    settings.peers = std::move(peers);
    return device_->configure(settings);
  }
  wireguard::uapi::DeviceSnapshot snapshot() const override { return device_->snapshot(); }
  std::uint16_t listen_port() const override { return device_->listen_port(); }
  std::string uapi_path() const override { return uapi_ ? uapi_->path().string() : std::string(); }
  std::string uapi_unavailable() const override { return uapi_unavailable_; }
  void set_unknown_peer_handler(wireguard::UnknownPeerHandler handler) override {
    device_->set_unknown_peer_handler(std::move(handler));
  }

  // Serves the UAPI socket where the process may create it.
  void serve_uapi(boost::asio::io_context& io, const std::string& name) {
    if (name.empty()) {
      uapi_unavailable_ = "no interface name";
      return;
    }
    auto server = wireguard::device::UapiServer::open(io, *device_, name);
    if (server) {
      uapi_ = std::move(*server);
    } else {
      uapi_unavailable_ = server.error();
    }
  }

 protected:
  explicit DeviceTransport(std::unique_ptr<wireguard::device::Device> device) : device_(std::move(device)) {}
  void close_device() {
    if (uapi_) uapi_->close();
    device_->close();
  }

  std::unique_ptr<wireguard::device::Device> device_;
  std::unique_ptr<wireguard::device::UapiServer> uapi_;
  std::string uapi_unavailable_;
};

class UserspaceTransport final : public DeviceTransport {
 public:
  UserspaceTransport(std::shared_ptr<netstack::Stack> stack, std::unique_ptr<wireguard::device::Device> device)
      : DeviceTransport(std::move(device)), stack_(std::move(stack)) {}

  ~UserspaceTransport() override {
    // Connections first (their resets still go out), then the device.
    stack_->close();
    close_device();
  }

  std::string_view name() const override { return "userspace"; }

  std::expected<std::unique_ptr<net::Listener>, std::error_code> listen(const std::string& address,
                                                                       std::uint16_t port) override {
    return stack_->listen(address, port);
  }

  net::Dialer dialer() override { return stack_->dialer(); }

  void set_mesh_addresses(const std::string& ipv4, const std::string& ipv6) override {
    stack_->set_addresses(ipv4, ipv6);
  }

  netstack::StackStats stack_stats() const override { return stack_->stats(); }

  std::error_code set_link_local(const std::string& address) override { return stack_->set_link_local(address); }
  net::Dialer dialer_from(const std::string& source) override { return stack_->dialer_from(source); }

 private:
  std::shared_ptr<netstack::Stack> stack_;
};

class TunTransport final : public DeviceTransport {
 public:
  TunTransport(std::unique_ptr<wireguard::device::Device> device, std::unique_ptr<Transport> host)
      : DeviceTransport(std::move(device)), host_(std::move(host)) {}
  ~TunTransport() override { close_device(); }

  std::string_view name() const override { return "tun"; }
  std::expected<std::unique_ptr<net::Listener>, std::error_code> listen(const std::string& address,
                                                                       std::uint16_t port) override {
    return host_->listen(address, port);
  }
  net::Dialer dialer() override { return host_->dialer(); }
  void set_mesh_addresses(const std::string& ipv4, const std::string& ipv6) override {
    host_->set_mesh_addresses(ipv4, ipv6);
  }
  netstack::StackStats stack_stats() const override { return {}; }
  // The kernel's TCP/IP holds the addresses: no link-local registration
  // address here.
  std::error_code set_link_local(const std::string& address) override {
    if (address.empty()) return {};
    return net::Errc::not_supported_by_transport;
  }
  net::Dialer dialer_from(const std::string&) override {
    return [](const net::Target&) -> net::Awaitable<std::expected<std::unique_ptr<net::ByteStream>, std::error_code>> {
      co_return std::unexpected(std::error_code(net::Errc::not_supported_by_transport));
    };
  }

 private:
  // The kernel holds the mesh addresses (on the TUN device): host sockets.
  std::unique_ptr<Transport> host_;
};

wireguard::DeviceSettings device_settings(const WireGuardTransportOptions& options) {
  wireguard::DeviceSettings settings;
  settings.interface.private_key = options.private_key;
  settings.interface.listen_port = options.listen_port;
  settings.interface.mtu = options.mtu;
  return settings;
}

}  // namespace

std::string default_interface_name(std::string_view name) {
  std::string short_name;
  for (const char c : name) {
    if (short_name.size() == 8) break;
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') || lower == '-') short_name += lower;
  }
  return "coral-" + short_name + "0";
}

std::expected<std::unique_ptr<WireGuardTransport>, std::string> make_userspace_transport(
    boost::asio::io_context& io, WireGuardTransportOptions options) {
  netstack::StackOptions stack_options;
  stack_options.ipv4 = options.ipv4;
  stack_options.ipv6 = options.ipv6;
  stack_options.mtu = options.mtu;
  stack_options.connect_timeout = options.connect_timeout;
  stack_options.limits = options.limits;
  stack_options.link_local = options.link_local;
  stack_options.link_local_tcp_port = options.link_local_tcp_port;
  auto stack = netstack::Stack::create(io, stack_options);
  if (!stack) {
    if (stack.error() == net::Errc::not_an_ip_address || stack.error() == std::errc::invalid_argument) {
      std::string message = "mesh addresses \"" + options.ipv4 + "\", \"" + options.ipv6 + "\"";
      if (options.link_local.empty()) return std::unexpected(message + ": not IP addresses");
      return std::unexpected(message + ", link-local \"" + options.link_local +
                             "\": not IP addresses (the link-local one in fe80::/10)");
    }
    return std::unexpected("userspace TCP/IP stack: " + stack.error().message());
  }
  auto device = wireguard::device::Device::open(io, device_settings(options), (*stack)->packet_interface());
  if (!device) {
    (*stack)->close();
    return std::unexpected(device.error());
  }
  auto transport = std::make_unique<UserspaceTransport>(std::move(*stack), std::move(*device));
  transport->serve_uapi(io, options.interface_name);
  return transport;
}

std::expected<std::unique_ptr<WireGuardTransport>, TunTransportFailure> make_tun_transport(
    boost::asio::io_context& io, WireGuardTransportOptions options) {
  wireguard::device::TunOptions tun;
  tun.name = options.interface_name;
  tun.mtu = options.mtu;
  for (const auto& [address, length] :
       {std::pair{options.ipv4, options.ipv4_prefix_length}, std::pair{options.ipv6, options.ipv6_prefix_length}}) {
    if (address.empty()) continue;
    auto parsed = wireguard::InterfaceAddress::parse(address + "/" + std::to_string(length));
    if (!parsed) return std::unexpected(TunTransportFailure{TunTransportError::other, parsed.error()});
    tun.addresses.push_back(*parsed);
  }
  auto device_packets = wireguard::device::TunDevice::open(io, tun);
  if (!device_packets) {
    using wireguard::device::TunErrorCode;
    TunTransportError code = TunTransportError::other;
    switch (device_packets.error().code) {
      case TunErrorCode::permission_denied:
        code = TunTransportError::no_capability;
        break;
      case TunErrorCode::no_tun_device:
        code = TunTransportError::no_tun_device;
        break;
      case TunErrorCode::name_in_use:
        code = TunTransportError::interface_in_use;
        break;
      default:
        break;
    }
    return std::unexpected(TunTransportFailure{code, device_packets.error().message});
  }
  auto device = wireguard::device::Device::open(io, device_settings(options), std::move(*device_packets));
  if (!device) return std::unexpected(TunTransportFailure{TunTransportError::other, device.error()});
  HostTransportOptions host_options;
  host_options.connect_timeout = options.connect_timeout;
  auto transport = std::make_unique<TunTransport>(std::move(*device), make_host_transport(io.get_executor(), host_options));
  transport->serve_uapi(io, options.interface_name);
  return transport;
}

std::expected<wireguard::PeerSettings, std::string> hub_peer(const std::string& public_key_base64,
                                                             const std::string& mesh_ipv4,
                                                             const std::string& mesh_ipv6) {
  auto key = crypto::PublicKey::from_base64(public_key_base64);
  if (!key) return std::unexpected("public key: " + key.error());
  wireguard::PeerSettings peer;
  peer.public_key = *key;
  for (const auto& [address, length] : {std::pair{mesh_ipv4, 32}, std::pair{mesh_ipv6, 128}}) {
    if (address.empty()) continue;
    auto prefix = base::Cidr::parse(address + "/" + std::to_string(length));
    if (!prefix) return std::unexpected("mesh address \"" + address + "\": " + prefix.error());
    peer.allowed_ips.push_back(*prefix);
  }
  return peer;
}

}  // namespace coral::mesh
