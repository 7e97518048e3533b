#pragma once
// What generated clients (protoc-gen-coral) build on: a Channel carries calls
// to one server. Generated clients look like
//   Awaitable<Result<Resp>> Method(const Req&, const CallOptions& = {});
//   Awaitable<Status> Method(const Req&, std::function<void(const Resp&)> on_message,
//                            const CallOptions& = {});   // server-streaming
// and must be co_awaited at once (they keep references to their arguments).

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

#include "http/message.h"
#include "rpc/service.h"

namespace coral::rpc {

struct CallOptions {
  // Sent as Connect-Timeout-Ms / grpc-timeout, and enforced locally too.
  std::optional<std::chrono::milliseconds> timeout;
  http::Fields headers;  // extra request headers, names lower case
};

class Channel {
 public:
  virtual ~Channel() = default;
  // `path` is "/pkg.Service/Method". On success `response` holds the reply.
  virtual Awaitable<Status> unary(std::string_view path, const google::protobuf::Message& request,
                                  google::protobuf::Message& response, const CallOptions& options) = 0;
  // Each message is parsed into `scratch`, then handed to `on_message`.
  virtual Awaitable<Status> server_stream(std::string_view path, const google::protobuf::Message& request,
                                          google::protobuf::Message& scratch,
                                          const std::function<void(const google::protobuf::Message&)>& on_message,
                                          const CallOptions& options) = 0;
};

}  // namespace coral::rpc
