#include "mesh/host_transport.h"

#include "base/address.h"
#include "net/error.h"
#include "net/tcp.h"

namespace coral::mesh {

namespace {

class HostTransport final : public Transport {
 public:
  HostTransport(boost::asio::any_io_executor executor, HostTransportOptions options)
      : executor_(std::move(executor)), options_(options) {}

  std::string_view name() const override { return "host"; }

  std::expected<std::unique_ptr<net::Listener>, std::error_code> listen(const std::string& address,
                                                                       std::uint16_t port) override {
    if (!base::parse_ipv4(address) && !base::parse_ipv6(address)) {
      return std::unexpected(make_error_code(net::Errc::not_an_ip_address));
    }
    auto listeners = net::listen_tcp(executor_, address, port);
    if (!listeners) {
      // EADDRNOTAVAIL is what a user of the host transport meets first: the
      // mesh address is not on any interface of this host. The error says
      // so (and still compares equal to std::errc::address_not_available).
      if (listeners.error().code == std::errc::address_not_available) {
        return std::unexpected(make_error_code(net::Errc::mesh_address_not_local));
      }
      return std::unexpected(listeners.error().code);
    }
    return std::move(listeners->front());
  }

  net::Dialer dialer() override { return net::tcp_dialer(executor_, options_.connect_timeout, source_); }

  // Bound only where they exist on this host (with loopback mesh subnets,
  // always), so that the colony sees — and audits — the peer's mesh address.
  void set_mesh_addresses(const std::string& ipv4, const std::string& ipv6) override {
    source_->ipv4 = ipv4;
    source_->ipv6 = ipv6;
  }

 private:
  boost::asio::any_io_executor executor_;
  HostTransportOptions options_;
  std::shared_ptr<net::SourceAddresses> source_ = std::make_shared<net::SourceAddresses>();
};

}  // namespace

std::unique_ptr<Transport> make_host_transport(boost::asio::any_io_executor executor, HostTransportOptions options) {
  return std::make_unique<HostTransport>(std::move(executor), options);
}

}  // namespace coral::mesh
