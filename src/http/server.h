#pragma once
// An HTTP/1.1 + h2c server: accepts connections from its listeners (host TCP
// sockets, or a mesh transport's) and runs a server codec on each, for one
// Application.

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "http/codec.h"
#include "http/connection.h"
#include "net/tcp.h"

namespace boost::asio {
class io_context;
}

namespace coral::http {

struct ServerOptions {
  ServerLimits limits;
  ConnectionOptions connection;
  // Connections served at once, so that a flood of idle or slow connections
  // cannot take every file descriptor. At the cap, a new connection takes
  // the place of the one that has waited longest on its client (idle, or
  // still sending its request head), which is closed; when every connection
  // has a request in progress, the new one is closed as soon as it is
  // accepted. Both are counted in ServerStats, with a warning at most every
  // 10 s. A slowloris flood thus cannot lock a normal client out: its
  // connections are the ones closed. The server lowers it to leave 256 descriptors of the
  // process's open-files limit free (files, upstream and store sockets), so
  // that accept() does not fail with EMFILE.
  std::size_t max_connections = 4096;
};

// What the server refused or cut short, since it was made.
struct ServerStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_over_capacity = 0;  // closed at once: max_connections busy ones
  std::uint64_t evicted = 0;                // closed to make room: waited longest on their client
  std::uint64_t head_timeouts = 0;          // closed: a request head took too long
  std::uint64_t idle_timeouts = 0;          // closed: silent while idle or owing bytes
  std::uint64_t send_stalls = 0;            // closed: took none of our queued output for idle_timeout
  std::uint64_t slow_bodies = 0;            // closed: sent a request body slower than min_body_rate
};

class Server {
 public:
  Server(boost::asio::io_context& io, Application& app, ServerOptions options = {});
  ~Server();

  // Binds host:port ("127.0.0.1", "::1", "localhost", port 0 for any free
  // one) with net::listen_tcp. The error's message() says what failed, e.g.
  // "127.0.0.1:8080: Address already in use".
  std::expected<void, net::ListenError> listen(const std::string& host, std::uint16_t port);
  // Serves connections from `listener` too (from now on if started).
  void add_listener(std::unique_ptr<net::Listener> listener);
  // The bound port of the first listener (useful after port 0).
  std::uint16_t port() const;
  // "address:port" of every listener, in the order they were added.
  std::vector<std::string> addresses() const;
  // Starts accepting on every listener.
  void start();
  // Stops accepting, asks every connection to finish (h2 GOAWAY, h1 close
  // after the response in progress) and waits for them, up to `grace`;
  // whatever is left then is closed.
  boost::asio::awaitable<void> shutdown(std::chrono::milliseconds grace);
  std::size_t connection_count() const;
  const ServerStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coral::http
