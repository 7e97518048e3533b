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
#include "net/dialer.h"

namespace coral::http {

struct ClientOptions {
  Version version = Version::http2;  // http2: h2c with prior knowledge
  // The default dialer's; also what a dial error that timed out names
  // ("connection timed out after 10000 ms"), so give a dialer of your own
  // the same.
  std::chrono::milliseconds connect_timeout{10'000};
  net::Dialer dialer;  // empty: net::tcp_dialer(connect_timeout)
};

class Client {
 public:
  Client(boost::asio::any_io_executor executor, ClientOptions options = {});
  ~Client();

  // Sends a request head on a pooled or new connection to `target`. The
  // writer carries the request body (unless end_stream); `handler` gets the
  // response. On failure (cannot connect) the handler is not called; the
  // error is for people ("Connection refused", net::describe_dial_error).
  net::Awaitable<std::expected<RequestWriter*, std::string>> start(const net::Target& target, RequestHead head,
                                                                   bool end_stream,
                                                                   std::shared_ptr<ResponseHandler> handler);
  // The same, without waiting: when a connection to `target` can take the
  // request right now, starts it and returns its writer; otherwise returns
  // nullptr and leaves `head` as it was (then use start()). Saves a
  // coroutine per request on a busy multiplexed connection.
  RequestWriter* try_start(const net::Target& target, RequestHead& head, bool end_stream,
                           std::shared_ptr<ResponseHandler>& handler);
  // Closes every connection; open exchanges are reset.
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace coral::http
