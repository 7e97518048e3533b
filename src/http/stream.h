#pragma once
// A reliable byte stream the HTTP layer runs over: a host TCP socket today;
// mesh transports (userspace TCP over WireGuard) provide their own.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
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

// Where a server gets its connections from: a host TCP socket today; mesh
// transports provide listeners on their own addresses.
class Listener {
 public:
  virtual ~Listener() = default;
  // The next connection; operation_aborted once closed.
  virtual Awaitable<std::expected<std::unique_ptr<ByteStream>, std::error_code>> accept() = 0;
  // Stops accepting; a pending accept() completes with operation_aborted.
  virtual void close() = 0;
  // "address:port" bound, IPv6 in brackets.
  virtual std::string local_address() const = 0;
  virtual std::uint16_t local_port() const = 0;
};

class TcpListener final : public Listener {
 public:
  explicit TcpListener(boost::asio::ip::tcp::acceptor acceptor);
  Awaitable<std::expected<std::unique_ptr<ByteStream>, std::error_code>> accept() override;
  void close() override;
  std::string local_address() const override;
  std::uint16_t local_port() const override;

 private:
  boost::asio::ip::tcp::acceptor acceptor_;
};

// Listens on every address `host` resolves to ("127.0.0.1", "::1",
// "localhost": both families, "::" any); port 0 picks a free port, the same
// for all of them. Errors say what failed: "127.0.0.1:8080: address already
// in use". IPv6 sockets are v6-only, so "::" and "0.0.0.0" can coexist.
std::expected<std::vector<std::unique_ptr<Listener>>, std::string> listen_tcp(boost::asio::any_io_executor executor,
                                                                              const std::string& host,
                                                                              std::uint16_t port);

// "host:port" with IPv6 hosts in brackets.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace coral::http
