// One call's life on the server: route by path, pick the protocol by method
// and content type, collect and decode the request, run the handler
// coroutine, encode its answer in the protocol the client spoke.
//
// Lifetimes: the codec owns a CallHandler per HTTP exchange; the handler
// shares a Call with the coroutine serving it. When the exchange ends first
// (client reset, deadline), the Call is marked finished and its writer
// dropped, and whatever the coroutine produces later is discarded: Asio 1.18
// cannot interrupt a coroutine, so handlers learn it from send() failing
// with `canceled` or from the context's deadline.

#include "rpc/server.h"

#include <google/protobuf/message.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/text.h"
#include "rpc/compression.h"
#include "rpc/envelope.h"
#include "rpc/message_codec.h"
#include "rpc/protocol_connect.h"
#include "rpc/protocol_grpc.h"

namespace coral::rpc {

namespace asio = boost::asio;
using google::protobuf::Message;
using Clock = std::chrono::steady_clock;

struct Server::Shared {
  asio::any_io_executor executor;
  ServerOptions options;
  std::unordered_map<std::string, Method> methods;  // by "/pkg.Service/Method"
  std::function<void(const CallRecord&)> observer;
  Server::AccessCheck access;
  // The size of each unary method's recent answers: the largest, decaying
  // by a quarter with each smaller one, so that one large answer makes the
  // method "large" for a few calls. Absent until its first answer.
  std::unordered_map<const Method*, std::size_t> answer_bytes;

  void record_answer(const Method* method, std::size_t bytes) {
    auto [it, inserted] = answer_bytes.try_emplace(method, bytes);
    if (!inserted) it->second = std::max(bytes, it->second - it->second / 4);
  }
  bool answers_small(const Method* method) const {
    if (options.small_answer_bytes == 0 || method->kind != MethodKind::unary) return false;
    const auto it = answer_bytes.find(method);
    return it != answer_bytes.end() && it->second <= options.small_answer_bytes;
  }
};

namespace {

// How the request arrived, which decides how every answer is framed.
enum class Wire : std::uint8_t { connect_unary, connect_get, connect_stream, grpc, grpc_web };

Protocol protocol_of(Wire wire) {
  switch (wire) {
    case Wire::grpc: return Protocol::grpc;
    case Wire::grpc_web: return Protocol::grpc_web;
    default: return Protocol::connect;
  }
}

bool enveloped(Wire wire) { return wire == Wire::connect_stream || wire == Wire::grpc || wire == Wire::grpc_web; }

bool accepts_gzip(const http::Fields& fields, std::string_view header) {
  const auto value = http::find_field(fields, header);
  if (!value) return false;
  std::string_view rest = *value;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view token = rest.substr(0, comma);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (const auto semicolon = token.find(';'); semicolon != std::string_view::npos) token = token.substr(0, semicolon);
    if (is_gzip(token)) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

class Call final : public std::enable_shared_from_this<Call>, public MessageSink {
 public:
  Call(std::shared_ptr<Server::Shared> shared, http::RequestHead head, http::ResponseWriter& writer)
      : shared_(std::move(shared)),
        head_(std::move(head)),
        writer_(&writer),
        envelopes_(shared_->options.max_message_bytes),
        drain_timer_(shared_->executor, Clock::time_point::max()),
        started_(Clock::now()) {}

  void begin();
  void on_body(http::Bytes chunk);
  void on_end();
  // The exchange is over for the codec (reset, or done and its handler
  // destroyed): drop the writer; a call still running ends as canceled.
  void on_reset() {
    writer_ = nullptr;
    if (!finished_) finish(Code::canceled);
    drain_timer_.cancel();
  }
  void on_drained() { drain_timer_.cancel(); }

  // MessageSink
  Awaitable<Status> send(const Message& message) override;

 private:
  Status negotiate();
  // A content type we do not speak, or one that does not fit the method: 415
  // (as the Connect specification says), listing what we accept.
  void reject_media_type();
  Status read_body_headers();
  Status decode_request(Message& request);
  // `self` keeps the call alive from the spawn on: the stream may close
  // before the coroutine's first step runs.
  Awaitable<void> run(std::shared_ptr<Call> self, std::unique_ptr<Message> request);
  void start_deadline();
  // Backpressure: true while this call's stream, or its connection, holds
  // more than the watermarks for a client that does not read.
  bool congested() const;
  // Waits (on_drained wakes it) while congested() and the call goes on.
  Awaitable<void> wait_for_room();

  void send_head_once(int status, std::string_view content_type, bool end_stream = false);
  void advertise_compression(http::Fields& fields) const;
  std::string encode_payload(std::string_view bytes, bool& compressed);
  void respond_unary(const Message& response);
  void reply_error(const Error& error);
  void end_stream(const Error* error);
  void finish(Code code);

  std::shared_ptr<Server::Shared> shared_;
  http::RequestHead head_;
  http::ResponseWriter* writer_;  // null once the exchange is over
  const Method* method_ = nullptr;
  Wire wire_ = Wire::connect_unary;
  Encoding encoding_ = Encoding::proto;
  bool request_gzip_ = false;   // the request body / its messages are gzipped
  bool response_gzip_ = false;  // the client accepts gzip
  std::string body_;            // Connect unary body
  std::size_t body_bytes_ = 0;
  EnvelopeReader envelopes_;
  Context context_;
  std::optional<asio::steady_timer> deadline_timer_;
  asio::steady_timer drain_timer_;
  Clock::time_point started_;
  bool head_sent_ = false;
  // Set when an error is about HTTP rather than RPC (415, 405): the Connect
  // error body then goes out with this status and these fields.
  int http_status_ = 0;
  http::Fields http_fields_;
  bool rejected_ = false;  // answered before the request was read: ignore the rest
  bool finished_ = false;
};

// The codec's handle on a Call.
class CallHandler final : public http::RequestHandler {
 public:
  explicit CallHandler(std::shared_ptr<Call> call) : call_(std::move(call)) {}
  ~CallHandler() override { call_->on_reset(); }
  void on_body(http::Bytes chunk) override { call_->on_body(chunk); }
  void on_end() override { call_->on_end(); }
  void on_reset() override { call_->on_reset(); }
  void on_drained() override { call_->on_drained(); }

 private:
  std::shared_ptr<Call> call_;
};

void Call::begin() {
  context_.request = &head_;
  context_.peer = head_.remote;
  if (auto status = negotiate(); !status) {
    rejected_ = true;
    reply_error(status.error());
    return;
  }
  context_.protocol = protocol_of(wire_);
  context_.encoding = encoding_;
  if (auto status = read_body_headers(); !status) {
    rejected_ = true;
    reply_error(status.error());
    return;
  }
  start_deadline();
}

Status Call::negotiate() {
  const std::string_view path = std::string_view(head_.path).substr(0, head_.path.find('?'));
  const auto content_type = http::find_field(head_.fields, "content-type").value_or("");
  // The protocol first (so that even "no such method" is framed as the
  // client expects), then the method.
  if (const auto grpc = parse_grpc_content_type(content_type)) {
    wire_ = grpc->web ? Wire::grpc_web : Wire::grpc;
    encoding_ = grpc->encoding;
  } else if (const auto connect = parse_connect_content_type(content_type)) {
    wire_ = connect->streaming ? Wire::connect_stream : Wire::connect_unary;
    encoding_ = connect->encoding;
  } else if (head_.method == "GET") {
    wire_ = Wire::connect_get;
  }
  if (auto it = shared_->methods.find(std::string(path)); it != shared_->methods.end()) method_ = &it->second;
  if (!method_) return rpc::fail(Code::unimplemented, "no such method: " + std::string(path));
  if (shared_->access) {
    if (auto allowed = shared_->access(head_.remote, path); !allowed) return allowed;
  }
  if (wire_ == Wire::connect_get) {
    if (!method_->idempotent || method_->kind != MethodKind::unary) {
      http_status_ = 405;
      http_fields_ = {{"allow", "POST"}};
      return rpc::fail(Code::unimplemented, "GET is only allowed for side-effect-free unary methods");
    }
    auto query = parse_connect_get_query(head_.path.find('?') == std::string::npos
                                             ? std::string_view()
                                             : std::string_view(head_.path).substr(head_.path.find('?') + 1));
    if (!query) return std::unexpected(query.error());
    encoding_ = query->encoding;
    if (query->compression && !query->compression->empty() && *query->compression != "identity") {
      if (!is_gzip(*query->compression)) return rpc::fail(Code::unimplemented, "unknown compression " + *query->compression);
      request_gzip_ = true;
    }
    body_ = std::move(query->message);
    return {};
  }
  if (head_.method != "POST") {
    http_status_ = 405;
    http_fields_ = {{"allow", method_->idempotent && method_->kind == MethodKind::unary ? "GET, POST" : "POST"}};
    return rpc::fail(Code::unimplemented, "HTTP method " + head_.method + " is not allowed");
  }
  const bool streaming = method_->kind == MethodKind::server_streaming;
  if (!parse_grpc_content_type(content_type) && !parse_connect_content_type(content_type)) {
    reject_media_type();
    return rpc::fail(Code::invalid_argument, "unsupported content type " + base::quote(content_type));
  }
  if (wire_ == Wire::connect_unary && streaming) {
    reject_media_type();
    return rpc::fail(Code::invalid_argument,
                     "streaming method needs application/connect+proto or application/connect+json");
  }
  if (wire_ == Wire::connect_stream && !streaming) {
    reject_media_type();
    wire_ = Wire::connect_unary;  // answer as the unary method it is
    return rpc::fail(Code::invalid_argument, "unary method needs application/proto or application/json");
  }
  return {};
}

void Call::reject_media_type() {
  http_status_ = 415;
  http_fields_ = {{"accept-post", "application/proto, application/json, application/connect+proto, "
                                  "application/connect+json, application/grpc, application/grpc+proto, "
                                  "application/grpc+json, application/grpc-web, application/grpc-web+proto"}};
}

Status Call::read_body_headers() {
  const auto& fields = head_.fields;
  Result<std::optional<std::chrono::milliseconds>> timeout = std::optional<std::chrono::milliseconds>{};
  switch (wire_) {
    case Wire::connect_unary:
    case Wire::connect_get: {
      if (const auto version = http::find_field(fields, kConnectProtocolVersion); version && *version != "1") {
        return rpc::fail(Code::invalid_argument, "connect-protocol-version must be 1");
      }
      timeout = parse_connect_timeout(http::find_field(fields, kConnectTimeoutMs));
      if (wire_ == Wire::connect_unary) {
        if (const auto encoding = http::find_field(fields, "content-encoding"); encoding && *encoding != "identity") {
          if (!is_gzip(*encoding)) return rpc::fail(Code::unimplemented, "unknown content-encoding " + std::string(*encoding));
          request_gzip_ = true;
        }
        if (const auto length = http::find_field(fields, "content-length")) {
          if (std::strtoull(std::string(*length).c_str(), nullptr, 10) > shared_->options.max_message_bytes) {
            return rpc::fail(Code::resource_exhausted, "request body of " + std::string(*length) + " bytes exceeds the limit of " +
                                                      std::to_string(shared_->options.max_message_bytes) + " bytes");
          }
        }
      }
      response_gzip_ = accepts_gzip(fields, "accept-encoding");
      break;
    }
    case Wire::connect_stream:
      timeout = parse_connect_timeout(http::find_field(fields, kConnectTimeoutMs));
      if (const auto encoding = http::find_field(fields, "connect-content-encoding"); encoding && *encoding != "identity") {
        if (!is_gzip(*encoding)) return rpc::fail(Code::unimplemented, "unknown connect-content-encoding " + std::string(*encoding));
        request_gzip_ = true;
      }
      response_gzip_ = accepts_gzip(fields, "connect-accept-encoding");
      break;
    case Wire::grpc:
    case Wire::grpc_web:
      timeout = parse_grpc_timeout(http::find_field(fields, "grpc-timeout"));
      if (const auto encoding = http::find_field(fields, "grpc-encoding"); encoding && *encoding != "identity") {
        if (!is_gzip(*encoding)) return rpc::fail(Code::unimplemented, "unknown grpc-encoding " + std::string(*encoding));
        request_gzip_ = true;
      }
      response_gzip_ = accepts_gzip(fields, "grpc-accept-encoding");
      break;
  }
  if (!timeout) return std::unexpected(timeout.error());
  // A timeout of years is no deadline (and would overflow the clock).
  if (*timeout && **timeout < std::chrono::hours(24 * 365)) context_.deadline = started_ + **timeout;
  return {};
}

void Call::start_deadline() {
  if (!context_.deadline) return;
  deadline_timer_.emplace(shared_->executor, *context_.deadline);
  deadline_timer_->async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->finished_) return;
    self->reply_error(Error{Code::deadline_exceeded, "the call's deadline passed", {}});
  });
}

void Call::on_body(http::Bytes chunk) {
  if (rejected_ || finished_) return;
  body_bytes_ += chunk.size();
  if (enveloped(wire_)) {
    if (auto status = envelopes_.feed(chunk); !status) {
      rejected_ = true;
      return reply_error(status.error());
    }
  }
  // Requests carry one message: its envelope header is the only slack.
  const std::size_t slack = enveloped(wire_) ? kEnvelopeHeaderBytes : 0;
  if (body_bytes_ > shared_->options.max_message_bytes + slack) {
    rejected_ = true;
    return reply_error(Error{Code::resource_exhausted,
                             "request body exceeds the limit of " +
                                 std::to_string(shared_->options.max_message_bytes) + " bytes",
                             {}});
  }
  if (!enveloped(wire_)) body_.append(http::as_chars(chunk));
}

void Call::on_end() {
  if (rejected_ || finished_) return;
  std::unique_ptr<Message> request(method_->request_prototype->New());
  if (auto status = decode_request(*request); !status) {
    rejected_ = true;
    reply_error(status.error());
    return;
  }
  asio::co_spawn(shared_->executor, run(shared_from_this(), std::move(request)), asio::detached);
}

Status Call::decode_request(Message& request) {
  std::string payload;
  bool compressed = request_gzip_;
  if (enveloped(wire_)) {
    auto envelope = envelopes_.next();
    if (!envelope) {
      return rpc::fail(Code::invalid_argument, envelopes_.has_partial() ? "request body ends inside a message"
                                                                   : "request has no message");
    }
    if (envelopes_.next() || envelopes_.has_partial()) {
      return rpc::fail(Code::invalid_argument, "a unary or server-streaming request carries exactly one message");
    }
    compressed = envelope->flags & kFlagCompressed;
    if (compressed && !request_gzip_) return rpc::fail(Code::internal, "compressed message without a declared encoding");
    payload = std::move(envelope->payload);
  } else {
    payload = std::move(body_);
  }
  if (compressed) {
    auto inflated = gzip_decompress(payload, shared_->options.max_message_bytes);
    if (!inflated) return std::unexpected(inflated.error());
    payload = std::move(*inflated);
  }
  return decode_message(encoding_, payload, request);
}

bool Call::congested() const {
  return writer_ && (writer_->queued_bytes() > shared_->options.stream_high_watermark ||
                     writer_->connection_queued_bytes() > shared_->options.connection_high_watermark);
}

Awaitable<void> Call::wait_for_room() {
  // Bounded: on_reset() and finish() cancel the timer, and drops in the
  // queued bytes call on_drained().
  while (writer_ && !finished_ && congested()) {
    boost::system::error_code ec;
    drain_timer_.expires_at(Clock::time_point::max());
    co_await drain_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

Awaitable<void> Call::run([[maybe_unused]] std::shared_ptr<Call> self, std::unique_ptr<Message> request) {
  Status status;
  std::unique_ptr<Message> response;
  // A connection whose client takes none of its answers gets no new ones
  // produced: the handler runs once there is room (or the call ends).
  // Methods known to answer small are let through (see small_answer_bytes).
  if (!shared_->answers_small(method_)) co_await wait_for_room();
  if (finished_) co_return;
  try {
    if (method_->kind == MethodKind::unary) {
      response.reset(method_->response_prototype->New());
      status = co_await method_->unary(context_, *request, *response);
    } else {
      status = co_await method_->server_streaming(context_, *request, *this);
    }
  } catch (const std::exception& e) {
    status = rpc::fail(Code::internal, std::string("handler failed: ") + e.what());
  }
  if (finished_) co_return;
  if (!status) {
    reply_error(status.error());
  } else if (method_->kind == MethodKind::unary) {
    respond_unary(*response);
  } else {
    end_stream(nullptr);
  }
}

// Tells the client which encodings it may send (the gRPC compression spec
// asks for this on every response; Connect's is the same idea).
void Call::advertise_compression(http::Fields& fields) const {
  switch (wire_) {
    case Wire::connect_unary:
    case Wire::connect_get: fields.push_back({"accept-encoding", "gzip"}); break;
    case Wire::connect_stream: fields.push_back({"connect-accept-encoding", "gzip"}); break;
    case Wire::grpc:
    case Wire::grpc_web: fields.push_back({"grpc-accept-encoding", "gzip"}); break;
  }
}

void Call::send_head_once(int status, std::string_view content_type, bool end_stream) {
  if (head_sent_ || !writer_) return;
  head_sent_ = true;
  http::ResponseHead head{status, {{"content-type", std::string(content_type)}}};
  advertise_compression(head.fields);
  for (auto& field : context_.response_headers) head.fields.push_back(field);
  if (response_gzip_) {
    switch (wire_) {
      case Wire::connect_stream: head.fields.push_back({"connect-content-encoding", "gzip"}); break;
      case Wire::grpc:
      case Wire::grpc_web: head.fields.push_back({"grpc-encoding", "gzip"}); break;
      default: break;
    }
  }
  writer_->send_head(std::move(head), end_stream);
}

std::string Call::encode_payload(std::string_view bytes, bool& compressed) {
  compressed = false;
  if (response_gzip_ && bytes.size() >= shared_->options.compress_min_bytes) {
    if (auto gz = gzip_compress(bytes)) {
      compressed = true;
      return std::move(*gz);
    }
  }
  return std::string(bytes);
}

void Call::respond_unary(const Message& response) {
  auto bytes = encode_message(encoding_, response);
  if (!bytes) return reply_error(bytes.error());
  if (!writer_) return finish(Code::canceled);
  if (enveloped(wire_)) {
    // gRPC and gRPC-Web unary: one message, then the status.
    shared_->record_answer(method_, bytes->size());
    bool compressed = false;
    const std::string payload = encode_payload(*bytes, compressed);
    std::string body;
    append_envelope(body, compressed ? kFlagCompressed : 0, payload);
    send_head_once(200, wire_ == Wire::grpc ? grpc_content_type(false, encoding_) : grpc_content_type(true, encoding_));
    writer_->send_data(http::as_bytes(body), false);
    return end_stream(nullptr);
  }
  shared_->record_answer(method_, bytes->size());
  bool compressed = false;
  const std::string body = encode_payload(*bytes, compressed);
  http::ResponseHead head{200, {{"content-type", connect_content_type(false, encoding_)},
                                {"content-length", std::to_string(body.size())}}};
  if (compressed) head.fields.push_back({"content-encoding", "gzip"});
  advertise_compression(head.fields);
  for (auto& field : context_.response_headers) head.fields.push_back(field);
  for (auto& field : context_.response_trailers) head.fields.push_back({"trailer-" + field.name, field.value});
  head_sent_ = true;
  writer_->send_head(std::move(head), body.empty());
  if (!body.empty()) writer_->send_data(http::as_bytes(body), true);
  finish(Code::ok);
}

Awaitable<Status> Call::send(const Message& message) {
  auto self = shared_from_this();
  if (finished_ || !writer_) co_return rpc::fail(Code::canceled, "the call is over: the client went away or its deadline passed");
  auto bytes = encode_message(encoding_, message);
  if (!bytes) co_return std::unexpected(bytes.error());
  bool compressed = false;
  const std::string payload = encode_payload(*bytes, compressed);
  std::string frame;
  append_envelope(frame, compressed ? kFlagCompressed : 0, payload);
  send_head_once(200, wire_ == Wire::connect_stream ? connect_content_type(true, encoding_)
                                                    : grpc_content_type(wire_ == Wire::grpc_web, encoding_));
  writer_->send_data(http::as_bytes(frame), false);
  // Backpressure: wait while the client reads slower than we produce.
  co_await wait_for_room();
  if (finished_ || !writer_) co_return rpc::fail(Code::canceled, "the call is over: the client went away or its deadline passed");
  co_return Status{};
}

void Call::end_stream(const Error* error) {
  if (!writer_) return finish(Code::canceled);
  switch (wire_) {
    case Wire::connect_stream: {
      send_head_once(200, connect_content_type(true, encoding_));
      std::string frame;
      append_envelope(frame, kFlagEndStream, connect_end_stream_json(error, context_.response_trailers));
      writer_->send_data(http::as_bytes(frame), true);
      break;
    }
    case Wire::grpc: {
      auto trailers = grpc_status_trailers(error, context_.response_trailers);
      if (error) trailers.insert(trailers.end(), error->metadata.begin(), error->metadata.end());
      if (!head_sent_) {
        // Trailers-Only: the status travels in the only HEADERS frame.
        head_sent_ = true;
        http::ResponseHead head{200, {{"content-type", grpc_content_type(false, encoding_)}}};
        advertise_compression(head.fields);
        for (auto& field : context_.response_headers) head.fields.push_back(field);
        head.fields.insert(head.fields.end(), trailers.begin(), trailers.end());
        writer_->send_head(std::move(head), true);
      } else {
        writer_->send_trailers(std::move(trailers));
      }
      break;
    }
    case Wire::grpc_web: {
      send_head_once(200, grpc_content_type(true, encoding_));
      auto trailers = grpc_status_trailers(error, context_.response_trailers);
      if (error) trailers.insert(trailers.end(), error->metadata.begin(), error->metadata.end());
      std::string frame;
      append_envelope(frame, kFlagGrpcWebTrailers, encode_grpc_web_trailers(trailers));
      writer_->send_data(http::as_bytes(frame), true);
      break;
    }
    case Wire::connect_unary:
    case Wire::connect_get: break;  // unary answers go through respond_unary / fail
  }
  finish(error ? error->code : Code::ok);
}

void Call::reply_error(const Error& error) {
  if (finished_) return;
  if (!writer_) return finish(Code::canceled);
  if (enveloped(wire_)) return end_stream(&error);
  if (head_sent_) {
    writer_->reset();
    return finish(error.code);
  }
  // Connect unary (and anything we could not classify): an HTTP status and a
  // JSON error body.
  const bool no_method = error.code == Code::unimplemented && !method_;
  const int status = http_status_ ? http_status_ : no_method ? 404 : connect_http_status(error.code);
  const std::string body = connect_error_json(error);
  http::ResponseHead head{status, {{"content-type", "application/json"},
                                   {"content-length", std::to_string(body.size())}}};
  for (auto& field : http_fields_) head.fields.push_back(field);
  advertise_compression(head.fields);
  for (auto& field : context_.response_headers) head.fields.push_back(field);
  for (auto& field : error.metadata) head.fields.push_back(field);
  head_sent_ = true;
  writer_->send_head(std::move(head), false);
  writer_->send_data(http::as_bytes(body), true);
  finish(error.code);
}

void Call::finish(Code code) {
  if (finished_) return;
  finished_ = true;
  if (deadline_timer_) deadline_timer_->cancel();
  drain_timer_.cancel();
  if (shared_->observer) {
    const std::string_view path = std::string_view(head_.path).substr(0, head_.path.find('?'));
    shared_->observer(CallRecord{path, protocol_of(wire_), code, head_.remote,
                                 std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started_)});
  }
}

}  // namespace

Server::Server(asio::any_io_executor executor, ServerOptions options) : shared_(std::make_shared<Shared>()) {
  shared_->executor = executor;
  shared_->options = options;
}

Server::~Server() = default;

void Server::add(Service& service) {
  for (Method& method : service.methods()) {
    std::string path = "/" + std::string(method.service) + "/" + std::string(method.name);
    shared_->methods.insert_or_assign(std::move(path), std::move(method));
  }
}

void Server::on_call(std::function<void(const CallRecord&)> observer) { shared_->observer = std::move(observer); }
void Server::check_access(AccessCheck check) { shared_->access = std::move(check); }

std::unique_ptr<http::RequestHandler> Server::on_request(http::RequestHead head, http::ResponseWriter& writer) {
  auto call = std::make_shared<Call>(shared_, std::move(head), writer);
  auto handler = std::make_unique<CallHandler>(call);
  call->begin();
  return handler;
}

}  // namespace coral::rpc
