#include "member/tunnel.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "mesh/registration_address.h"

namespace coral::member {

namespace asio = boost::asio;

namespace {

// How often establish() looks at the device for a completed handshake.
constexpr std::chrono::milliseconds kHandshakePoll{2};

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

}  // namespace

std::expected<std::unique_ptr<Tunnel>, std::string> Tunnel::open(asio::io_context& io, TunnelOptions options) {
  const std::string registration = mesh::registration_address(options.private_key.public_key());
  mesh::WireGuardTransportOptions wg;
  wg.private_key = options.private_key;
  wg.listen_port = 0;  // any free port: members are not dialled, they dial
  wg.link_local = registration;
  wg.connect_timeout = options.connect_timeout;
  auto transport = mesh::make_userspace_transport(io, std::move(wg));
  if (!transport) return std::unexpected("cannot open the WireGuard tunnel: " + transport.error());
  return std::unique_ptr<Tunnel>(new Tunnel(io, std::move(options), std::move(*transport), registration));
}

Tunnel::Tunnel(asio::io_context& io, TunnelOptions options, std::unique_ptr<mesh::WireGuardTransport> transport,
               std::string registration_address)
    : io_(io),
      options_(std::move(options)),
      transport_(std::move(transport)),
      registration_address_(std::move(registration_address)) {}

Tunnel::~Tunnel() = default;

std::expected<void, std::string> Tunnel::point_at(const wireguard::Endpoint& endpoint) {
  // Removed, then added again: a fresh peer, whose keepalive starts a
  // handshake with the new endpoint at once.
  if (auto cleared = transport_->set_peers({}); !cleared) return cleared;
  wireguard::PeerSettings colony;
  colony.public_key = options_.colony_key;
  colony.endpoint = endpoint;
  colony.allowed_ips = options_.colony_subnets;
  colony.persistent_keepalive = kPersistentKeepalive;
  return transport_->set_peers({std::move(colony)});
}

asio::awaitable<std::expected<std::string, std::string>> Tunnel::establish(std::vector<std::string> endpoints,
                                                                          Detail detail) {
  std::vector<std::string> tried;
  asio::steady_timer timer(io_);
  for (const std::string& text : endpoints) {
    auto endpoint = wireguard::Endpoint::parse(text);
    if (!endpoint) {
      detail("Skipping endpoint " + text + ": " + endpoint.error());
      continue;
    }
    if (auto pointed = point_at(*endpoint); !pointed) co_return std::unexpected(pointed.error());
    detail("Adding peer: " + options_.colony_key.to_base64().substr(0, 8) + "... → " + endpoint->to_string());
    tried.push_back(endpoint->to_string());
    const auto deadline = std::chrono::steady_clock::now() + options_.handshake_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto snapshot = transport_->snapshot();
      if (!snapshot.peers.empty() && snapshot.peers.front().last_handshake) co_return endpoint->to_string();
      timer.expires_after(kHandshakePoll);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    detail("No handshake with " + endpoint->to_string() + " within " +
           std::to_string(options_.handshake_timeout.count()) + " ms");
  }
  if (tried.empty()) co_return std::unexpected(std::string("no usable public endpoint announced for the colony"));
  co_return std::unexpected("WireGuard handshake timed out after " + std::to_string(options_.handshake_timeout.count()) +
                            " ms with " + joined(tried));
}

net::Dialer Tunnel::registration_dialer() { return transport_->dialer_from(registration_address_); }

TunnelFacts Tunnel::facts() const {
  TunnelFacts facts;
  const auto snapshot = transport_->snapshot();
  facts.listen_port = transport_->listen_port();
  if (snapshot.peers.empty()) return facts;
  const auto& colony = snapshot.peers.front();
  if (colony.endpoint) facts.endpoint = colony.endpoint->to_string();
  facts.last_handshake = colony.last_handshake;
  facts.rx_bytes = colony.rx_bytes;
  facts.tx_bytes = colony.tx_bytes;
  return facts;
}

}  // namespace coral::member
