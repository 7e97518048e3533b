#include "net/tcp.h"

#include <optional>
#include <vector>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "net/error.h"

namespace coral::net {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string format_endpoint(const tcp::endpoint& endpoint) {
  return format_authority(endpoint.address().to_string(), endpoint.port());
}

TcpStream::TcpStream(tcp::socket socket) : socket_(std::move(socket)) {
  boost::system::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  remote_ = ec ? "unknown" : format_endpoint(remote);
  socket_.set_option(tcp::no_delay(true), ec);
}

Awaitable<std::expected<std::size_t, std::error_code>> TcpStream::read_some(std::span<std::byte> buffer) {
  boost::system::error_code ec;
  const std::size_t n = co_await socket_.async_read_some(asio::buffer(buffer.data(), buffer.size()),
                                                         asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::unexpected(std::error_code(ec));
  co_return n;
}

Awaitable<std::error_code> TcpStream::write(std::span<const std::byte> data) {
  boost::system::error_code ec;
  co_await asio::async_write(socket_, asio::buffer(data.data(), data.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
  co_return std::error_code(ec);
}

void TcpStream::close() {
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

std::string TcpStream::remote_address() const { return remote_; }

TcpListener::TcpListener(tcp::acceptor acceptor) : acceptor_(std::move(acceptor)) {}

Awaitable<std::expected<std::unique_ptr<ByteStream>, std::error_code>> TcpListener::accept() {
  boost::system::error_code ec;
  tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return std::unexpected(std::error_code(ec));
  co_return std::make_unique<TcpStream>(std::move(socket));
}

void TcpListener::close() {
  boost::system::error_code ec;
  acceptor_.close(ec);
}

std::string TcpListener::local_address() const {
  boost::system::error_code ec;
  const auto local = acceptor_.local_endpoint(ec);
  return ec ? "closed" : format_endpoint(local);
}

std::uint16_t TcpListener::local_port() const {
  boost::system::error_code ec;
  const auto local = acceptor_.local_endpoint(ec);
  return ec ? 0 : local.port();
}

std::string ListenError::message() const { return endpoint + ": " + code.message(); }

std::expected<std::vector<std::unique_ptr<Listener>>, ListenError> listen_tcp(asio::any_io_executor executor,
                                                                              const std::string& host,
                                                                              std::uint16_t port) {
  const std::string where = format_authority(host, port);
  boost::system::error_code ec;
  tcp::resolver resolver(executor);
  const auto results =
      resolver.resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return std::unexpected(ListenError{std::error_code(ec), where});
  std::optional<ListenError> failure;
  std::vector<std::unique_ptr<Listener>> listeners;
  for (const auto& entry : results) {
    tcp::acceptor acceptor(executor);
    const tcp::endpoint endpoint(entry.endpoint().address(), port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      failure = ListenError{std::error_code(ec), format_endpoint(endpoint)};
      continue;
    }
    listeners.push_back(std::make_unique<TcpListener>(std::move(acceptor)));
    // "localhost" resolves to 127.0.0.1 and ::1; with port 0 both must get
    // the same port, so later ones reuse the first one's.
    if (port == 0) port = listeners.front()->local_port();
  }
  if (listeners.empty()) return std::unexpected(failure ? *failure : ListenError{Errc::no_address, where});
  return listeners;
}

Dialer tcp_dialer(asio::any_io_executor executor, std::chrono::milliseconds connect_timeout,
                  std::shared_ptr<const SourceAddresses> source) {
  return [executor, connect_timeout, source](const Target& target)
             -> Awaitable<std::expected<std::unique_ptr<ByteStream>, std::error_code>> {
    boost::system::error_code ec;
    // An IP literal, or localhost (RFC 6761: always loopback), needs no
    // resolver: asio's runs getaddrinfo on a thread of its own, which a
    // short-lived CLI pays for at every start.
    std::vector<tcp::endpoint> endpoints;
    if (const auto literal = asio::ip::make_address(target.host, ec); !ec) {
      endpoints.emplace_back(literal, target.port);
    } else if (target.host == "localhost") {
      endpoints.emplace_back(asio::ip::address_v4::loopback(), target.port);
      endpoints.emplace_back(asio::ip::address_v6::loopback(), target.port);
    } else {
      ec.clear();
      tcp::resolver resolver(executor);
      const auto resolved = co_await resolver.async_resolve(target.host, std::to_string(target.port),
                                                            asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return std::unexpected(std::error_code(ec));
      for (const auto& entry : resolved) endpoints.push_back(entry.endpoint());
    }
    ec.clear();
    tcp::socket socket(executor);
    asio::steady_timer timer(executor);
    timer.expires_after(connect_timeout);
    bool timed_out = false;
    timer.async_wait([&](boost::system::error_code wait_error) {
      if (!wait_error) {
        timed_out = true;
        socket.close();
      }
    });
    for (const tcp::endpoint& endpoint : endpoints) {
      socket.close(ec);
      socket.open(endpoint.protocol(), ec);
      if (ec) continue;
      // A source address of the same family, when there is one that is
      // ours; a failing bind only means the default source is used.
      const std::string& from = !source ? std::string() : endpoint.address().is_v6() ? source->ipv6 : source->ipv4;
      if (!from.empty()) {
        boost::system::error_code bind_error;
        const auto address = asio::ip::make_address(from, bind_error);
        if (!bind_error) socket.bind(tcp::endpoint(address, 0), bind_error);
        if (bind_error) {
          socket.close(ec);
          socket.open(endpoint.protocol(), ec);
        }
      }
      co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
      if (!ec || timed_out) break;
    }
    timer.cancel();
    if (timed_out) co_return std::unexpected(make_error_code(Errc::connect_timed_out));
    if (ec) co_return std::unexpected(std::error_code(ec));
    co_return std::make_unique<TcpStream>(std::move(socket));
  };
}

}  // namespace coral::net
