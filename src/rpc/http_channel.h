#pragma once
// A Channel that speaks the Connect protocol (unary and server-streaming,
// binary or JSON) over coral's HTTP client: HTTP/1.1, or h2c with one
// multiplexed connection per server.

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "http/client.h"
#include "http/url.h"
#include "rpc/channel.h"

namespace coral::rpc {

struct ChannelOptions {
  http::Url url;                                   // where the services are
  http::Version version = http::Version::http2;    // http2: h2c with prior knowledge
  Encoding encoding = Encoding::proto;
  bool gzip_requests = false;                      // compress request messages
  std::size_t max_message_bytes = 4 * 1024 * 1024; // largest response message
  std::chrono::milliseconds connect_timeout{10'000};
  net::Dialer dialer;                             // empty: TCP
  // Names the server in the errors that say it could not be reached or the
  // connection failed ("discovery service at http://localhost:8080 is not
  // reachable: connection refused"); empty: describe().
  std::string unreachable_name = {};
};

// What coral's own clients use: Connect, binary proto, h2c with prior
// knowledge, 4 MiB messages.
ChannelOptions h2c_proto_options(http::Url url, net::Dialer dialer = {},
                                 std::chrono::milliseconds connect_timeout = std::chrono::seconds(10));

class HttpChannel final : public Channel {
 public:
  HttpChannel(boost::asio::any_io_executor executor, ChannelOptions options);
  ~HttpChannel() override;

  Awaitable<Status> unary(std::string_view path, const google::protobuf::Message& request,
                          google::protobuf::Message& response, const CallOptions& options) override;
  Awaitable<Status> server_stream(std::string_view path, const google::protobuf::Message& request,
                                  google::protobuf::Message& scratch,
                                  const std::function<void(const google::protobuf::Message&)>& on_message,
                                  const CallOptions& options) override;

  // "http://host:port": names the server in error messages.
  std::string describe() const;
  // ChannelOptions::unreachable_name, or describe().
  std::string unreachable_name() const;

 private:
  struct Exchange;
  Awaitable<Result<std::shared_ptr<Exchange>>> start(std::string_view path, bool streaming, std::string body,
                                                     const CallOptions& options);

  boost::asio::any_io_executor executor_;
  ChannelOptions options_;
  http::Client client_;
};

}  // namespace coral::rpc
