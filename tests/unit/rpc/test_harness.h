#pragma once
// Real-socket harness for rpc::Server tests (header-only, shared by
// rpc_matrix_test.cpp and server_test.cpp).
//
//  * TestServer: an rpc::Server behind an http::Server on 127.0.0.1, port 0,
//    running on its own thread, recording every finished call (on_call).
//  * TestClient: raw HTTP exchanges over coral's http::Client (HTTP/1.1 or
//    h2c), collected by a small ResponseHandler; every wait is bounded.
//  * make_request / decode_response: requests framed by hand for Connect
//    (unary and streaming), gRPC and gRPC-Web, and one decoder per protocol
//    that turns a raw response into (messages, Status). These are the
//    tests' "clients" for gRPC and gRPC-Web, which HttpChannel does not speak.
//  * RawSocket / parse_h1_response: for what no well-behaved client does
//    (stalling, half-sent requests, silence).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <ostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <google/protobuf/message.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/client.h"
#include "http/server.h"
#include "rpc/compression.h"
#include "rpc/envelope.h"
#include "rpc/message_codec.h"
#include "rpc/protocol_connect.h"
#include "rpc/protocol_grpc.h"
#include "rpc/server.h"

// Readable values in gtest's messages (found by ADL; gtest would print the
// enums' bytes otherwise).
namespace coral::http {
inline void PrintTo(Version version, std::ostream* out) { *out << to_string(version); }
}  // namespace coral::http
namespace coral::rpc {
inline void PrintTo(Protocol protocol, std::ostream* out) { *out << to_string(protocol); }
inline void PrintTo(Encoding encoding, std::ostream* out) { *out << to_string(encoding); }
inline void PrintTo(Code code, std::ostream* out) { *out << to_string(code); }
}  // namespace coral::rpc

namespace coral::rpc::harness {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline std::string_view as_view(http::Bytes bytes) { return {reinterpret_cast<const char*>(bytes.data()), bytes.size()}; }
inline http::Bytes as_bytes(std::string_view text) { return std::as_bytes(std::span(text.data(), text.size())); }

inline milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// `text` with bytes outside printable ASCII escaped, for failure messages.
inline std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n\n";
    else if (byte >= 0x20 && byte < 0x7f) out += c;
    else out += std::string("\\x") + kHex[byte >> 4] + kHex[byte & 15];
  }
  return out;
}

// The value of field `name`, or "(none)": readable in failure messages.
inline std::string field(const http::Fields& fields, std::string_view name) {
  return std::string(http::find_field(fields, name).value_or("(none)"));
}

inline std::string version_name(http::Version version) { return version == http::Version::http2 ? "H2c" : "Http1"; }

// ============================================================== server side

// A CallRecord that owns its strings (the observer's view dies with the call).
struct RecordedCall {
  std::string procedure;
  Protocol protocol = Protocol::connect;
  Code code = Code::unknown;
  std::chrono::microseconds duration{0};
};

class TestServer {
 public:
  explicit TestServer(std::vector<Service*> services, ServerOptions rpc_options = {},
                      http::ServerOptions http_options = {}, Server::AccessCheck access = {})
      : io_(std::make_unique<asio::io_context>(1)), guard_(asio::make_work_guard(*io_)) {
    rpc_ = std::make_unique<Server>(io_->get_executor(), rpc_options);
    for (Service* service : services) rpc_->add(*service);
    if (access) rpc_->check_access(std::move(access));
    rpc_->on_call([this](const CallRecord& record) {
      std::lock_guard lock(mutex_);
      calls_.push_back(RecordedCall{std::string(record.procedure), record.protocol, record.code, record.duration});
    });
    http_ = std::make_unique<http::Server>(*io_, *rpc_, http_options);
    if (auto listening = http_->listen("127.0.0.1", 0); !listening) {
      throw std::runtime_error(listening.error().message());
    }
    http_->start();
    port_ = http_->port();
    thread_ = std::thread([this] { io_->run(); });
  }

  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  ~TestServer() {
    // Graceful first, on the server's own thread: connections close while
    // the loop still runs. Whatever is left (a handler asleep on a timer)
    // is destroyed with the io_context, while the services and the
    // observer's state are still alive.
    std::promise<void> done;
    auto finished = done.get_future();
    asio::co_spawn(*io_, shut_down(*http_), [&done](std::exception_ptr) { done.set_value(); });
    finished.wait_for(3s);
    guard_.reset();
    io_->stop();
    thread_.join();
    http_.reset();
    io_.reset();
    rpc_.reset();
  }

  std::uint16_t port() const { return port_; }

  std::vector<RecordedCall> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

  // The first finished call to `procedure` at or after index `from` of
  // calls(), waiting up to `timeout` for it.
  std::optional<RecordedCall> wait_for_call(std::string_view procedure, milliseconds timeout, std::size_t from = 0) const {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        for (std::size_t i = from; i < calls_.size(); ++i) {
          if (calls_[i].procedure == procedure) return calls_[i];
        }
      }
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
  }

 private:
  static asio::awaitable<void> shut_down(http::Server& server) {
    const milliseconds grace(100);
    co_await server.shutdown(grace);
    asio::steady_timer settle(co_await asio::this_coro::executor, milliseconds(20));
    boost::system::error_code ec;
    co_await settle.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  std::unique_ptr<asio::io_context> io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::unique_ptr<Server> rpc_;
  std::unique_ptr<http::Server> http_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<RecordedCall> calls_;
};

// ============================================================== client side

// Everything one HTTP exchange produced.
struct RawResponse {
  bool has_head = false;
  http::ResponseHead head;
  std::string body;
  http::Fields trailers;
  bool ended = false;         // on_end or on_reset
  std::string failure;        // on_reset's reason, or why the request never started
  bool timed_out = false;     // the test gave up waiting
  milliseconds elapsed{0};    // from start to end (or to giving up)
};

class Collector final : public http::ResponseHandler {
 public:
  void on_head(http::ResponseHead head) override {
    response.head = std::move(head);
    response.has_head = true;
  }
  void on_body(http::Bytes chunk) override { response.body.append(as_view(chunk)); }
  void on_trailers(http::Fields fields) override { response.trailers = std::move(fields); }
  void on_end() override { end({}); }
  void on_reset(std::string reason) override { end(reason.empty() ? "reset" : std::move(reason)); }

  void end(std::string failure) {
    if (response.ended) return;
    response.ended = true;
    response.failure = std::move(failure);
    response.elapsed = since(started);
    writer = nullptr;
  }

  RawResponse response;
  http::RequestWriter* writer = nullptr;  // valid until the response ended
  Clock::time_point started = Clock::now();
};

class TestClient {
 public:
  TestClient(std::uint16_t port, http::Version version)
      : guard_(asio::make_work_guard(io_)), target_{"127.0.0.1", port}, client_(io_.get_executor(), options(version)) {}

  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  ~TestClient() {
    client_.close();
    run_for(30ms);  // let the connection loops see the close
  }

  // Starts an exchange. With end_request false the request stays open after
  // `body` (a client that stalls or lies about its length).
  std::shared_ptr<Collector> start(http::RequestHead head, std::string body, bool end_request = true) {
    auto collector = std::make_shared<Collector>();
    asio::co_spawn(io_, drive(client_, target_, std::move(head), std::move(body), end_request, collector),
                   asio::detached);
    return collector;
  }

  // Runs the client's loop until `done` or `timeout`; returns done().
  bool run_until(const std::function<bool()>& done, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(5ms);
    }
    return true;
  }

  void run_for(milliseconds duration) {
    run_until([] { return false; }, duration);
  }

  // One whole exchange, bounded by `timeout`.
  RawResponse exchange(http::RequestHead head, std::string body, milliseconds timeout = 5s, bool end_request = true) {
    auto collector = start(std::move(head), std::move(body), end_request);
    if (!run_until([&] { return collector->response.ended; }, timeout)) {
      collector->response.timed_out = true;
      collector->response.elapsed = since(collector->started);
    }
    return collector->response;
  }

  // Drops every connection at once, as a client that goes away.
  void close() { client_.close(); }

 private:
  static http::ClientOptions options(http::Version version) {
    http::ClientOptions options;
    options.version = version;
    options.connect_timeout = 2s;
    return options;
  }

  static asio::awaitable<void> drive(http::Client& client, net::Target target, http::RequestHead head,
                                     std::string body, bool end_request, std::shared_ptr<Collector> collector) {
    const bool end_now = body.empty() && end_request;
    auto writer = co_await client.start(target, std::move(head), end_now, collector);
    if (!writer) {
      collector->end("cannot start: " + writer.error());
      co_return;
    }
    if (collector->response.ended) co_return;  // failed at once
    collector->writer = *writer;
    if (!body.empty()) (*writer)->send_data(as_bytes(body), end_request);
  }

  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  net::Target target_;
  http::Client client_;
};

// ======================================================= framing by hand

// How a call is put on the wire.
struct Shape {
  Protocol protocol = Protocol::connect;
  Encoding encoding = Encoding::proto;
  bool streaming = false;  // server-streaming method: Connect frames it differently
  bool gzip = false;       // compress the request, accept compressed responses
};

struct Request {
  http::RequestHead head;
  std::string body;
};

inline std::string encode_or_die(Encoding encoding, const google::protobuf::Message& message) {
  auto bytes = encode_message(encoding, message);
  if (!bytes) throw std::runtime_error("cannot encode request: " + bytes.error().message);
  return std::move(*bytes);
}

inline std::string gzip_or_die(std::string_view data) {
  auto compressed = gzip_compress(data);
  if (!compressed) throw std::runtime_error("cannot gzip: " + compressed.error().message);
  return std::move(*compressed);
}

// A POST as a client of `shape.protocol` sends it, body included. `payload`
// is the serialized message; `extra` fields are appended to the head.
inline Request make_raw_request(const Shape& shape, std::string_view path, std::string payload,
                                http::Fields extra = {}) {
  Request request;
  request.head.method = "POST";
  request.head.path = std::string(path);
  auto& fields = request.head.fields;
  if (shape.gzip) payload = gzip_or_die(payload);
  switch (shape.protocol) {
    case Protocol::connect:
      if (shape.streaming) {
        fields.push_back({"content-type", connect_content_type(true, shape.encoding)});
        if (shape.gzip) {
          fields.push_back({"connect-content-encoding", "gzip"});
          fields.push_back({"connect-accept-encoding", "gzip"});
        }
        append_envelope(request.body, shape.gzip ? kFlagCompressed : 0, payload);
      } else {
        fields.push_back({"content-type", connect_content_type(false, shape.encoding)});
        fields.push_back({"connect-protocol-version", "1"});
        if (shape.gzip) {
          fields.push_back({"content-encoding", "gzip"});
          fields.push_back({"accept-encoding", "gzip"});
        }
        request.body = std::move(payload);
        fields.push_back({"content-length", std::to_string(request.body.size())});
      }
      break;
    case Protocol::grpc:
    case Protocol::grpc_web:
      fields.push_back({"content-type", grpc_content_type(shape.protocol == Protocol::grpc_web, shape.encoding)});
      if (shape.protocol == Protocol::grpc) fields.push_back({"te", "trailers"});
      else fields.push_back({"x-grpc-web", "1"});
      if (shape.gzip) {
        fields.push_back({"grpc-encoding", "gzip"});
        fields.push_back({"grpc-accept-encoding", "gzip"});
      }
      append_envelope(request.body, shape.gzip ? kFlagCompressed : 0, payload);
      break;
  }
  for (auto& field : extra) fields.push_back(std::move(field));
  return request;
}

inline Request make_request(const Shape& shape, std::string_view path, const google::protobuf::Message& message,
                            http::Fields extra = {}) {
  return make_raw_request(shape, path, encode_or_die(shape.encoding, message), std::move(extra));
}

// Where a decoded status came from: each protocol has its own place.
enum class StatusSource : std::uint8_t {
  none,
  http_status,         // Connect unary: the HTTP status (+ JSON error body)
  end_stream_message,  // Connect streaming: the end-of-stream envelope
  trailers,            // gRPC: HTTP trailers after the messages
  trailers_only,       // gRPC: status in the only HEADERS (no messages)
  web_trailer_frame,   // gRPC-Web: the 0x80 envelope at the end of the body
};

inline std::string_view to_string(StatusSource source) {
  switch (source) {
    case StatusSource::none: return "none";
    case StatusSource::http_status: return "http_status";
    case StatusSource::end_stream_message: return "end_stream_message";
    case StatusSource::trailers: return "trailers";
    case StatusSource::trailers_only: return "trailers_only";
    case StatusSource::web_trailer_frame: return "web_trailer_frame";
  }
  return "?";
}

// A raw response, as a client of one protocol understands it.
struct Decoded {
  std::vector<std::string> messages;   // payloads, decompressed
  std::size_t compressed_messages = 0; // how many arrived compressed
  Status status;                       // ok, or the error the server sent
  int http_status = 0;                 // of the response head (0: none)
  http::Fields headers;                // of the response head
  StatusSource source = StatusSource::none;
  std::string end_stream_json;         // Connect streaming: the end-of-stream payload
  http::Fields status_fields;          // gRPC / gRPC-Web: the fields the status was read from
  std::vector<std::string> problems;   // protocol violations: each one is a server bug

  Code code() const { return status ? Code::ok : status.error().code; }
  std::string message() const { return status ? std::string() : status.error().message; }
  std::string describe() const {
    std::string out = "http=" + std::to_string(http_status) + " code=" + std::string(rpc::to_string(code())) +
                      " message=\"" + message() +
                      "\" source=" + std::string(to_string(source)) + " messages=" + std::to_string(messages.size());
    for (const auto& problem : problems) out += "\n  problem: " + problem;
    return out;
  }
};

namespace detail {

// Splits a body into envelopes; a trailing partial one is a problem.
inline std::vector<Envelope> split_envelopes(std::string_view body, std::vector<std::string>& problems) {
  std::vector<Envelope> envelopes;
  while (!body.empty()) {
    if (body.size() < kEnvelopeHeaderBytes) {
      problems.push_back("body ends inside an envelope header (" + std::to_string(body.size()) + " bytes left)");
      break;
    }
    const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(body[i])); };
    const std::size_t length = (byte(1) << 24) | (byte(2) << 16) | (byte(3) << 8) | byte(4);
    if (body.size() - kEnvelopeHeaderBytes < length) {
      problems.push_back("body ends inside an envelope of " + std::to_string(length) + " bytes");
      break;
    }
    envelopes.push_back(Envelope{static_cast<std::uint8_t>(body[0]),
                                 std::string(body.substr(kEnvelopeHeaderBytes, length))});
    body.remove_prefix(kEnvelopeHeaderBytes + length);
  }
  return envelopes;
}

inline bool header_says_gzip(const http::Fields& fields, std::string_view name) {
  const auto value = http::find_field(fields, name);
  return value && is_gzip(*value);
}

// A data envelope's payload, inflated when its flag says so.
inline void take_message(Envelope& envelope, bool gzip_declared, std::string_view header, Decoded& out) {
  if (envelope.flags & kFlagCompressed) {
    ++out.compressed_messages;
    if (!gzip_declared) out.problems.push_back("compressed message without " + std::string(header) + ": gzip");
    auto inflated = gzip_decompress(envelope.payload, SIZE_MAX);
    if (!inflated) {
      out.problems.push_back("cannot inflate a message: " + inflated.error().message);
      return;
    }
    out.messages.push_back(std::move(*inflated));
  } else {
    out.messages.push_back(std::move(envelope.payload));
  }
}

inline void check_transport(const RawResponse& raw, Decoded& out) {
  out.http_status = raw.has_head ? raw.head.status : 0;
  out.headers = raw.head.fields;
  if (raw.timed_out) out.problems.push_back("no complete response in time");
  if (!raw.failure.empty()) out.problems.push_back("exchange failed: " + raw.failure);
  if (!raw.has_head) out.problems.push_back("no response head");
}

inline Decoded decode_connect_unary(const RawResponse& raw) {
  Decoded out;
  check_transport(raw, out);
  if (!raw.has_head) return out;
  out.source = StatusSource::http_status;
  const auto content_type = http::find_field(raw.head.fields, "content-type").value_or("");
  if (raw.head.status != 200) {
    if (!http::iequals(content_type, kConnectErrorContentType)) {
      out.problems.push_back("error response with content-type \"" + std::string(content_type) + "\"");
    }
    out.status = std::unexpected(parse_connect_error(raw.head.status, raw.body));
    return out;
  }
  if (!parse_connect_content_type(content_type) || parse_connect_content_type(content_type)->streaming) {
    out.problems.push_back("unary response with content-type \"" + std::string(content_type) + "\"");
  }
  if (header_says_gzip(raw.head.fields, "content-encoding")) {
    ++out.compressed_messages;
    auto inflated = gzip_decompress(raw.body, SIZE_MAX);
    if (!inflated) {
      out.problems.push_back("cannot inflate the body: " + inflated.error().message);
      return out;
    }
    out.messages.push_back(std::move(*inflated));
  } else {
    out.messages.push_back(raw.body);
  }
  return out;
}

inline Decoded decode_connect_stream(const RawResponse& raw) {
  Decoded out;
  check_transport(raw, out);
  if (!raw.has_head) return out;
  if (raw.head.status != 200) {
    out.source = StatusSource::http_status;
    out.status = std::unexpected(parse_connect_error(raw.head.status, raw.body));
    return out;
  }
  const bool gzip = header_says_gzip(raw.head.fields, "connect-content-encoding");
  auto envelopes = split_envelopes(raw.body, out.problems);
  bool ended = false;
  for (auto& envelope : envelopes) {
    if (ended) {
      out.problems.push_back("data after the end-of-stream message");
      break;
    }
    if (envelope.flags & kFlagEndStream) {
      ended = true;
      std::string json = envelope.payload;
      if (envelope.flags & kFlagCompressed) {
        auto inflated = gzip_decompress(json, SIZE_MAX);
        if (!inflated) {
          out.problems.push_back("cannot inflate the end-of-stream message");
          continue;
        }
        json = std::move(*inflated);
      }
      out.end_stream_json = json;
      out.source = StatusSource::end_stream_message;
      auto end = parse_connect_end_stream(json);
      if (!end) {
        out.problems.push_back("bad end-of-stream message: " + end.error().message);
      } else if (end->error) {
        out.status = std::unexpected(*end->error);
      }
      continue;
    }
    take_message(envelope, gzip, "connect-content-encoding", out);
  }
  if (!ended) out.problems.push_back("stream ended without an end-of-stream message");
  return out;
}

inline Decoded decode_grpc(const RawResponse& raw) {
  Decoded out;
  check_transport(raw, out);
  if (!raw.has_head) return out;
  if (raw.head.status != 200) out.problems.push_back("HTTP status " + std::to_string(raw.head.status));
  const bool gzip = header_says_gzip(raw.head.fields, "grpc-encoding");
  auto envelopes = split_envelopes(raw.body, out.problems);
  for (auto& envelope : envelopes) take_message(envelope, gzip, "grpc-encoding", out);
  if (!raw.trailers.empty()) {
    out.source = StatusSource::trailers;
    out.status_fields = raw.trailers;
  } else if (raw.body.empty() && http::find_field(raw.head.fields, kGrpcStatus)) {
    out.source = StatusSource::trailers_only;
    out.status_fields = raw.head.fields;
  } else {
    out.problems.push_back("no grpc-status: neither trailers nor Trailers-Only");
    return out;
  }
  out.status = grpc_status_from_trailers(out.status_fields);
  return out;
}

inline Decoded decode_grpc_web(const RawResponse& raw) {
  Decoded out;
  check_transport(raw, out);
  if (!raw.has_head) return out;
  if (raw.head.status != 200) out.problems.push_back("HTTP status " + std::to_string(raw.head.status));
  const bool gzip = header_says_gzip(raw.head.fields, "grpc-encoding");
  auto envelopes = split_envelopes(raw.body, out.problems);
  bool ended = false;
  for (auto& envelope : envelopes) {
    if (ended) {
      out.problems.push_back("data after the trailer frame");
      break;
    }
    if (envelope.flags & kFlagGrpcWebTrailers) {
      ended = true;
      auto fields = parse_grpc_web_trailers(envelope.payload);
      if (!fields) {
        out.problems.push_back("bad trailer frame: " + fields.error().message);
        continue;
      }
      out.source = StatusSource::web_trailer_frame;
      out.status_fields = *fields;
      out.status = grpc_status_from_trailers(out.status_fields);
      continue;
    }
    take_message(envelope, gzip, "grpc-encoding", out);
  }
  if (!ended) {
    if (raw.body.empty() && http::find_field(raw.head.fields, kGrpcStatus)) {
      out.source = StatusSource::trailers_only;
      out.status_fields = raw.head.fields;
      out.status = grpc_status_from_trailers(out.status_fields);
    } else {
      out.problems.push_back("no trailer frame");
    }
  }
  return out;
}

}  // namespace detail

inline Decoded decode_response(const Shape& shape, const RawResponse& raw) {
  switch (shape.protocol) {
    case Protocol::connect:
      return shape.streaming ? detail::decode_connect_stream(raw) : detail::decode_connect_unary(raw);
    case Protocol::grpc: return detail::decode_grpc(raw);
    case Protocol::grpc_web: return detail::decode_grpc_web(raw);
  }
  return {};
}

// Request, exchange, decode.
inline Decoded call(TestClient& client, const Shape& shape, std::string_view path,
                    const google::protobuf::Message& message, http::Fields extra = {}, milliseconds timeout = 5s) {
  auto request = make_request(shape, path, message, std::move(extra));
  return decode_response(shape, client.exchange(std::move(request.head), std::move(request.body), timeout));
}

// Parses a message of type T; a failure is a test failure.
template <class T>
T parse_message(Encoding encoding, std::string_view bytes) {
  T message;
  if (auto parsed = decode_message(encoding, bytes, message); !parsed) {
    ADD_FAILURE() << "cannot decode " << message_name(message) << ": " << parsed.error().message;
  }
  return message;
}

// ======================================================== raw sockets

// A blocking loopback TCP socket whose every wait is bounded.
class RawSocket {
 public:
  // `receive_buffer` > 0 shrinks SO_RCVBUF before connecting (slow readers).
  explicit RawSocket(std::uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    timeval send_timeout{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("connect() failed");
    }
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  ~RawSocket() { close(); }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  struct ReadResult {
    bool eof = false;        // the server closed (or reset) the connection
    bool timed_out = false;  // gave up waiting
  };

  // Reads into received() until `enough(received())`, EOF or `timeout`.
  ReadResult read_until(const std::function<bool(const std::string&)>& enough, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    char buffer[64 * 1024];
    while (!enough(received_)) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left <= milliseconds(0)) return {false, true};
      pollfd poll_fd{fd_, POLLIN, 0};
      const int ready = ::poll(&poll_fd, 1, static_cast<int>(left.count()) + 1);
      if (ready < 0) return {true, false};
      if (ready == 0) continue;
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return {true, false};
      received_.append(buffer, static_cast<std::size_t>(n));
    }
    return {};
  }

  ReadResult read_until_closed(milliseconds timeout) {
    return read_until([](const std::string&) { return false; }, timeout);
  }

  const std::string& received() const { return received_; }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  std::string received_;
};

// An HTTP/1.1 response as raw bytes make it out: content-length or chunked.
struct H1Response {
  int status = 0;
  http::Fields fields;  // names lower case
  std::string body;     // de-chunked
  http::Fields trailers;
  bool complete = false;
};

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Parses "name: value" lines up to an empty line; returns the bytes used, or
// npos when the block is incomplete.
inline std::size_t parse_field_block(std::string_view raw, http::Fields& fields) {
  std::size_t pos = 0;
  for (;;) {
    const auto eol = raw.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::string_view::npos;
    const auto line = raw.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) return pos;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    fields.push_back({lower(line.substr(0, colon)), std::string(trim(line.substr(colon + 1)))});
  }
}

// nullopt until the status line and header block are complete.
inline std::optional<H1Response> parse_h1_response(std::string_view raw) {
  H1Response out;
  const auto eol = raw.find("\r\n");
  if (eol == std::string_view::npos || !raw.starts_with("HTTP/1.1 ") || eol < 12) return std::nullopt;
  out.status = std::stoi(std::string(raw.substr(9, 3)));
  const auto used = parse_field_block(raw.substr(eol + 2), out.fields);
  if (used == std::string_view::npos) return std::nullopt;
  std::string_view rest = raw.substr(eol + 2 + used);
  if (const auto length = http::find_field(out.fields, "content-length")) {
    const std::size_t n = std::stoull(std::string(*length));
    out.body = std::string(rest.substr(0, n));
    out.complete = rest.size() >= n;
    return out;
  }
  const auto coding = http::find_field(out.fields, "transfer-encoding");
  if (!coding || lower(*coding) != "chunked") {
    out.body = std::string(rest);  // until close
    return out;
  }
  for (;;) {
    const auto size_end = rest.find("\r\n");
    if (size_end == std::string_view::npos) return out;
    const std::size_t size = std::stoull(std::string(rest.substr(0, size_end)), nullptr, 16);
    rest.remove_prefix(size_end + 2);
    if (size == 0) {
      const auto trailer_bytes = parse_field_block(rest, out.trailers);
      out.complete = trailer_bytes != std::string_view::npos;
      return out;
    }
    if (rest.size() < size + 2) return out;
    out.body.append(rest.substr(0, size));
    rest.remove_prefix(size + 2);
  }
}

}  // namespace coral::rpc::harness
