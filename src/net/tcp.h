#pragma once
// The host TCP implementation of the byte-stream contract (net/stream.h):
// streams, listeners and a dialer over the host's own sockets.

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "net/dialer.h"
#include "net/stream.h"

namespace coral::net {

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

// Why listen_tcp listens on nothing: the error, to decide on
// (`code == std::errc::address_in_use`), and the address it was met on,
// which is one `host` resolved to ("localhost" -> "[::1]:8080").
struct ListenError {
  std::error_code code;  // the system's, the resolver's, or net::Errc::no_address
  std::string endpoint;  // "127.0.0.1:8080", "[::1]:8080"; "host:port" as given if it did not resolve
  // "127.0.0.1:8080: Address already in use"
  std::string message() const;
};

// Listens on every address `host` resolves to ("127.0.0.1", "::1",
// "localhost": both families, "::" any); port 0 picks a free port, the same
// for all of them. Fails only when no address could be bound; the error is
// then the last address's. IPv6 sockets are v6-only, so "::" and "0.0.0.0"
// can coexist.
std::expected<std::vector<std::unique_ptr<Listener>>, ListenError> listen_tcp(boost::asio::any_io_executor executor,
                                                                              const std::string& host,
                                                                              std::uint16_t port);

// "host:port" with IPv6 hosts in brackets.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

// Local addresses to connect from, per family ("" for the default). Read at
// every dial, so the owner may change them later.
struct SourceAddresses {
  std::string ipv4;
  std::string ipv6;
};

// Tries each address `target.host` resolves to in turn, within
// `connect_timeout` in all (then Errc::connect_timed_out). A source address
// that cannot be bound (not on this host) is skipped, not an error.
Dialer tcp_dialer(boost::asio::any_io_executor executor, std::chrono::milliseconds connect_timeout,
                  std::shared_ptr<const SourceAddresses> source = nullptr);

}  // namespace coral::net
