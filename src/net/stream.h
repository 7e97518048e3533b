#pragma once
// The byte-stream contract everything above the network runs over (HTTP,
// RPC, the proxy): a reliable, ordered stream of bytes, and where streams
// come from (Listener) and how they are opened (Dialer, net/dialer.h). Host
// TCP sockets implement it (net/tcp.h); the mesh transports bring their own
// (userspace TCP over WireGuard). Errors are std::error_code values (see
// net/error.h): compare them, never their text.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/asio/awaitable.hpp>

namespace coral::net {

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

// Where a server gets its connections from: a host TCP socket, or a mesh
// transport's listener on one of its addresses.
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

// "host:port", IPv6 hosts (any host with a ':') in brackets.
std::string format_authority(std::string_view host, std::uint16_t port);

// What a failure to listen on `address` (an IP literal) at `port` says to
// people: "127.0.0.1:8080: Address already in use", "[fd42::1]:9000: Cannot
// assign requested address (...)", "\"mesh.example\" is not an IP address".
std::string describe_listen_error(std::string_view address, std::uint16_t port, std::error_code error);

}  // namespace coral::net
