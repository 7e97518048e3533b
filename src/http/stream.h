#pragma once
// A reliable byte stream the HTTP layer runs over: a host TCP socket today;
// mesh transports (userspace TCP over WireGuard) provide their own.

#include <cstddef>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace coral::http {

template <class T>
using Awaitable = boost::asio::awaitable<T>;

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads at least one byte; an error (eof included) ends the stream.
  virtual Awaitable<std::expected<std::size_t, std::error_code>> read_some(std::span<std::byte> buffer) = 0;
  // Writes all of `data`.
  virtual Awaitable<std::error_code> write(std::span<const std::byte> data) = 0;
  // Closes both directions at once; pending operations complete with errors.
  virtual void close() = 0;
  // "address:port" of the other end, for logs.
  virtual std::string remote_address() const = 0;
};

class TcpStream final : public ByteStream {
 public:
  explicit TcpStream(boost::asio::ip::tcp::socket socket);
  Awaitable<std::expected<std::size_t, std::error_code>> read_some(std::span<std::byte> buffer) override;
  Awaitable<std::error_code> write(std::span<const std::byte> data) override;
  void close() override;
  std::string remote_address() const override;

 private:
  boost::asio::ip::tcp::socket socket_;
  std::string remote_;
};

// "host:port" with IPv6 hosts in brackets.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace coral::http
