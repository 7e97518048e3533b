#pragma once
// An HTTP client over HTTP/1.1 or h2c (prior knowledge) that keeps
// connections per target: one multiplexed HTTP/2 connection (a new one only
// when it is full, going away or broken), or a pool of idle HTTP/1.1 ones.

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "http/codec.h"
#include "http/stream.h"

namespace coral::http {

struct Target {
  std::string host;  // name or address, IPv6 without brackets
  std::uint16_t port = 0;
  std::string authority() const;  // "host:port", IPv6 in brackets
  auto operator<=>(const Target&) const = default;
};

// Opens a stream to a target. The default dials TCP; mesh transports
// bring their own. Errors read like "connection refused".
using Dialer = std::function<Awaitable<std::expected<std::unique_ptr<ByteStream>, std::string>>(const Target&)>;

// Local addresses to connect from, per family ("" for the default). Read at
// every dial, so the owner may change them later.
struct SourceAddresses {
  std::string ipv4;
  std::string ipv6;
};
// Tries each address `host` resolves to in turn. A source address that
// cannot be bound (not on this host) is skipped, not an error.
Dialer tcp_dialer(boost::asio::any_io_executor executor, std::chrono::milliseconds connect_timeout,
                  std::shared_ptr<const SourceAddresses> source = nullptr);

struct ClientOptions {
  Version version = Version::http2;  // http2: h2c with prior knowledge
  std::chrono::milliseconds connect_timeout{10'000};
  Dialer dialer;  // empty: tcp_dialer(connect_timeout)
};

class Client {
 public:
  Client(boost::asio::any_io_executor executor, ClientOptions options = {});
  ~Client();

  // Sends a request head on a pooled or new connection to `target`. The
  // writer carries the request body (unless end_stream); `handler` gets the
  // response. On failure (cannot connect) the handler is not called.
  Awaitable<std::expected<RequestWriter*, std::string>> start(const Target& target, RequestHead head,
                                                              bool end_stream,
                                                              std::shared_ptr<ResponseHandler> handler);
  // The same, without waiting: when a connection to `target` can take the
  // request right now, starts it and returns its writer; otherwise returns
  // nullptr and leaves `head` as it was (then use start()). Saves a
  // coroutine per request on a busy multiplexed connection.
  RequestWriter* try_start(const Target& target, RequestHead& head, bool end_stream,
                           std::shared_ptr<ResponseHandler>& handler);
  // Closes every connection; open exchanges are reset.
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace coral::http
