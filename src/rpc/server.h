#pragma once
// rpc::Server: the http::Application that serves registered services over
// the Connect protocol (unary, GET for idempotent methods, and streaming),
// gRPC and gRPC-Web, picking the protocol by method and content type as
// connect-go's handler does. See docs/rpc.md for the wire behaviour.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>

#include "http/codec.h"
#include "rpc/service.h"

namespace coral::rpc {

struct ServerOptions {
  // Largest request message (after decompression) and largest request
  // body; larger ones fail with resource_exhausted without being read in full.
  std::size_t max_message_bytes = 4 * 1024 * 1024;
  // Responses smaller than this are not compressed even when the client
  // accepts gzip: for tiny messages it costs more than it saves.
  std::size_t compress_min_bytes = 1024;
  // A server-streaming handler's send() waits while this much is queued.
  std::size_t stream_high_watermark = 256 * 1024;
  // While the connection (all its streams) has this much queued for a client
  // that does not read, new calls on it wait before their handler runs and
  // streaming handlers' send() waits: a client that opens many streams and
  // grants no flow-control credit makes us hold about this much, not one
  // response per stream.
  std::size_t connection_high_watermark = 1024 * 1024;
  // A unary call whose method's recent answers were all at most this big
  // starts even while its connection is congested: a connection shared by
  // many clients (a proxy's) keeps serving small calls while one client's
  // unread large answers hold it above the watermark. Costs at most
  // max_concurrent_streams × this per connection. 0 turns it off.
  std::size_t small_answer_bytes = 16 * 1024;
};

// One finished call, for access and audit logs.
struct CallRecord {
  std::string_view procedure;  // "/pkg.Service/Method", or the raw path when unknown
  Protocol protocol;
  Code code;
  std::string_view peer;
  std::chrono::microseconds duration;
};

class Server final : public http::Application {
 public:
  Server(boost::asio::any_io_executor executor, ServerOptions options = {});
  ~Server() override;

  // `service` must outlive the server.
  void add(Service& service);
  // Called once per finished call.
  void on_call(std::function<void(const CallRecord&)> observer);
  // Decides, before the request body is read, whether the caller at
  // `peer` ("address:port") may call `procedure` ("/pkg.Service/Method",
  // a registered one): an error refuses the call with it (counted and
  // observed like any failed call). Not set: every caller may call all.
  using AccessCheck = std::function<Status(std::string_view peer, std::string_view procedure)>;
  void check_access(AccessCheck check);

  std::unique_ptr<http::RequestHandler> on_request(http::RequestHead head, http::ResponseWriter& writer) override;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace coral::rpc
