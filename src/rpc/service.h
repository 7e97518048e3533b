#pragma once
// What generated service code (protoc-gen-coral) builds on, server side.
//
// A service is a class derived from the generated `<Service>Handler`, whose
// methods are coroutines:
//   unary:            awaitable<Result<Resp>> Method(Context&, const Req&)
//   server-streaming: awaitable<Status> Method(Context&, const Req&, ServerWriter<Resp>&)
// The generated handler turns them into `Method` entries that rpc::Server
// routes to by path.

#include <functional>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "rpc/context.h"
#include "rpc/error.h"

namespace google::protobuf {
class Message;
}

namespace coral::rpc {

template <class T>
using Awaitable = boost::asio::awaitable<T>;

// Where a server-streaming handler sends its messages. send() completes
// once the message is handed to the transport (waiting while the peer reads
// slowly), and fails with `canceled` once the caller is gone.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  virtual Awaitable<Status> send(const google::protobuf::Message& message) = 0;
};

template <class T>
class ServerWriter {
 public:
  explicit ServerWriter(MessageSink& sink) : sink_(sink) {}
  Awaitable<Status> send(const T& message) { return sink_.send(message); }

 private:
  MessageSink& sink_;
};

enum class MethodKind : std::uint8_t { unary, server_streaming };

using UnaryInvoker = std::function<Awaitable<Status>(Context&, const google::protobuf::Message& request,
                                                     google::protobuf::Message& response)>;
using ServerStreamInvoker = std::function<Awaitable<Status>(Context&, const google::protobuf::Message& request,
                                                            MessageSink& sink)>;

struct Method {
  std::string_view service;  // "coral.colony.v1.ColonyService"
  std::string_view name;     // "GetStatus"
  MethodKind kind = MethodKind::unary;
  // idempotency_level = NO_SIDE_EFFECTS: Connect GET requests are allowed.
  bool idempotent = false;
  const google::protobuf::Message* request_prototype = nullptr;   // default instance
  const google::protobuf::Message* response_prototype = nullptr;  // default instance
  UnaryInvoker unary;                     // set when kind == unary
  ServerStreamInvoker server_streaming;   // set when kind == server_streaming
};

class Service {
 public:
  virtual ~Service() = default;
  // Entries bind `this`: the service must outlive the server it is added to.
  virtual std::vector<Method> methods() = 0;
};

// The error a generated handler returns for a method the service does not
// implement.
Error unimplemented_method(std::string_view service, std::string_view method);

}  // namespace coral::rpc
