#include "mesh/host_transport.h"

#include "base/address.h"

namespace coral::mesh {

namespace {

class HostTransport final : public Transport {
 public:
  HostTransport(boost::asio::any_io_executor executor, HostTransportOptions options)
      : executor_(std::move(executor)), options_(options) {}

  std::string_view name() const override { return "host"; }

  std::expected<std::unique_ptr<http::Listener>, std::string> listen(const std::string& address,
                                                                    std::uint16_t port) override {
    if (!base::parse_ipv4(address) && !base::parse_ipv6(address)) {
      return std::unexpected("\"" + address + "\" is not an IP address");
    }
    auto listeners = http::listen_tcp(executor_, address, port);
    if (!listeners) {
      // EADDRNOTAVAIL is what a user of the host transport meets first: the
      // mesh address is not on any interface of this host.
      if (listeners.error().ends_with("Cannot assign requested address")) {
        return std::unexpected(listeners.error() +
                               " (the host transport needs the mesh address on a local interface)");
      }
      return std::unexpected(listeners.error());
    }
    return std::move(listeners->front());
  }

  http::Dialer dialer() override { return http::tcp_dialer(executor_, options_.connect_timeout, source_); }

  // Bound only where they exist on this host (with loopback mesh subnets,
  // always), so that the colony sees — and audits — the peer's mesh address.
  void set_mesh_addresses(const std::string& ipv4, const std::string& ipv6) override {
    source_->ipv4 = ipv4;
    source_->ipv6 = ipv6;
  }

 private:
  boost::asio::any_io_executor executor_;
  HostTransportOptions options_;
  std::shared_ptr<http::SourceAddresses> source_ = std::make_shared<http::SourceAddresses>();
};

}  // namespace

std::unique_ptr<Transport> make_host_transport(boost::asio::any_io_executor executor, HostTransportOptions options) {
  return std::make_unique<HostTransport>(std::move(executor), options);
}

}  // namespace coral::mesh
