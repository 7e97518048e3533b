#include "http/stream.h"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace coral::http {

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

TcpStream::TcpStream(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  boost::system::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  remote_ = ec ? "unknown" : format_endpoint(remote);
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
}

Awaitable<std::expected<std::size_t, std::error_code>> TcpStream::read_some(std::span<std::byte> buffer) {
  boost::system::error_code ec;
  const std::size_t n = co_await socket_.async_read_some(boost::asio::buffer(buffer.data(), buffer.size()),
                                                         boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  if (ec) co_return std::unexpected(std::error_code(ec));
  co_return n;
}

Awaitable<std::error_code> TcpStream::write(std::span<const std::byte> data) {
  boost::system::error_code ec;
  co_await boost::asio::async_write(socket_, boost::asio::buffer(data.data(), data.size()),
                                    boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  co_return std::error_code(ec);
}

void TcpStream::close() {
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

std::string TcpStream::remote_address() const { return remote_; }

TcpListener::TcpListener(boost::asio::ip::tcp::acceptor acceptor) : acceptor_(std::move(acceptor)) {}

Awaitable<std::expected<std::unique_ptr<ByteStream>, std::error_code>> TcpListener::accept() {
  boost::system::error_code ec;
  boost::asio::ip::tcp::socket socket =
      co_await acceptor_.async_accept(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
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

std::expected<std::vector<std::unique_ptr<Listener>>, std::string> listen_tcp(boost::asio::any_io_executor executor,
                                                                              const std::string& host,
                                                                              std::uint16_t port) {
  using boost::asio::ip::tcp;
  const std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  boost::system::error_code ec;
  tcp::resolver resolver(executor);
  const auto results =
      resolver.resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return std::unexpected(where + ": " + ec.message());
  std::string failure;
  std::vector<std::unique_ptr<Listener>> listeners;
  for (const auto& entry : results) {
    tcp::acceptor acceptor(executor);
    const tcp::endpoint endpoint(entry.endpoint().address(), port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor.set_option(boost::asio::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) {
      failure = format_endpoint(endpoint) + ": " + ec.message();
      continue;
    }
    listeners.push_back(std::make_unique<TcpListener>(std::move(acceptor)));
    // "localhost" resolves to 127.0.0.1 and ::1; with port 0 both must get
    // the same port, so later ones reuse the first one's.
    if (port == 0) port = listeners.front()->local_port();
  }
  if (listeners.empty()) return std::unexpected(failure.empty() ? where + ": no address to listen on" : failure);
  return listeners;
}

}  // namespace coral::http
