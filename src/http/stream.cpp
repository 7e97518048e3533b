#include "http/stream.h"

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

}  // namespace coral::http
