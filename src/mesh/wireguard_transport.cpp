#include "mesh/wireguard_transport.h"

#include <utility>

#include "base/cidr.h"
#include "net/error.h"
#include "wireguard/device/device.h"

namespace coral::mesh {

namespace {

class UserspaceTransport final : public WireGuardTransport {
 public:
  UserspaceTransport(std::shared_ptr<netstack::Stack> stack, std::unique_ptr<wireguard::device::Device> device)
      : stack_(std::move(stack)), device_(std::move(device)) {}

  ~UserspaceTransport() override {
    // Connections first (their resets still go out), then the device.
    stack_->close();
    device_->close();
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

  std::expected<void, std::string> set_peers(std::vector<wireguard::PeerSettings> peers) override {
    wireguard::DeviceSettings settings = device_->settings();
    settings.peers = std::move(peers);
    return device_->configure(settings);
  }

  wireguard::uapi::DeviceSnapshot snapshot() const override { return device_->snapshot(); }
  std::uint16_t listen_port() const override { return device_->listen_port(); }
  netstack::StackStats stack_stats() const override { return stack_->stats(); }

 private:
  std::shared_ptr<netstack::Stack> stack_;
  std::unique_ptr<wireguard::device::Device> device_;
};

}  // namespace

std::expected<std::unique_ptr<WireGuardTransport>, std::string> make_userspace_transport(
    boost::asio::io_context& io, WireGuardTransportOptions options) {
  netstack::StackOptions stack_options;
  stack_options.ipv4 = options.ipv4;
  stack_options.ipv6 = options.ipv6;
  stack_options.mtu = options.mtu;
  stack_options.connect_timeout = options.connect_timeout;
  stack_options.limits = options.limits;
  auto stack = netstack::Stack::create(io, stack_options);
  if (!stack) {
    if (stack.error() == net::Errc::not_an_ip_address)
      return std::unexpected("mesh addresses \"" + options.ipv4 + "\", \"" + options.ipv6 + "\": not IP addresses");
    return std::unexpected("userspace TCP/IP stack: " + stack.error().message());
  }
  wireguard::DeviceSettings settings;
  settings.interface.private_key = options.private_key;
  settings.interface.listen_port = options.listen_port;
  settings.interface.mtu = options.mtu;
  auto device = wireguard::device::Device::open(io, settings, (*stack)->packet_interface());
  if (!device) {
    (*stack)->close();
    return std::unexpected(device.error());
  }
  return std::make_unique<UserspaceTransport>(std::move(*stack), std::move(*device));
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
