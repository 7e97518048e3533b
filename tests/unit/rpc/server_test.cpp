// rpc::Server against bad input and misbehaving peers, over real loopback
// sockets. Each test checks what a user of the server would check (the HTTP
// status, the RPC code, a message that names the problem) and, where the
// server could plausibly be left broken, that it still serves a normal call
// afterwards.
//
// Most tests run over HTTP/1.1 and h2c (the parameter). Tests about one
// HTTP version's connection handling (stalling readers, idle connections,
// what happens to an HTTP/1.1 connection after a refused body) use raw
// sockets and say which version they cover.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/base64.h"
#include "coral/testing/v1/echo.coral.h"
#include "echo_service.h"
#include "test_harness.h"

namespace coral::rpc {
namespace {

using namespace harness;
namespace v1 = coral::testing::v1;

constexpr std::size_t kLimit = 64 * 1024;  // ServerOptions::max_message_bytes of the test server

// ------------------------------------------------------------------ service

asio::awaitable<void> sleep_for(milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// EchoService with the two things the real one cannot do: handlers that
// throw (Echo with text "throw", Count with fail_code "throw" after its
// messages), and a Count whose progress the test can watch from outside (how
// many send()s completed, whether it has returned).
// Everything else is coral::testing::EchoService.
class ProbeService final : public v1::EchoServiceHandler {
 public:
  Awaitable<Result<v1::EchoResponse>> Echo(Context& context, const v1::EchoRequest& request) override {
    ++echo_calls;
    if (request.text() == "throw") throw std::runtime_error("the handler exploded");
    auto response = co_await echo_.Echo(context, request);
    co_return response;
  }
  Awaitable<Result<v1::FailResponse>> Fail(Context& context, const v1::FailRequest& request) override {
    auto response = co_await echo_.Fail(context, request);
    co_return response;
  }
  Awaitable<Result<v1::SleepResponse>> Sleep(Context& context, const v1::SleepRequest& request) override {
    auto response = co_await echo_.Sleep(context, request);
    co_return response;
  }
  Awaitable<Status> Count(Context&, const v1::CountRequest& request, ServerWriter<v1::CountResponse>& writer) override {
    count_finished = false;
    v1::CountResponse message;
    message.set_payload(std::string(request.payload_bytes(), 'x'));
    Status status;
    for (std::uint32_t i = 0; i < request.count() && status; ++i) {
      if (i > 0 && request.interval_millis() > 0) co_await sleep_for(milliseconds(request.interval_millis()));
      message.set_index(i);
      status = co_await writer.send(message);
      if (status) ++count_sent;
    }
    count_finished = true;
    if (status && request.fail_code() == "throw") throw std::runtime_error("the stream exploded");
    co_return status;
  }

  std::atomic<int> echo_calls{0};      // Echo invocations
  std::atomic<int> count_sent{0};      // send()s that completed
  std::atomic<bool> count_finished{false};

 private:
  coral::testing::EchoService echo_;
};

// ------------------------------------------------------------------ helpers

Shape connect_unary(Encoding encoding = Encoding::proto) {
  Shape shape;
  shape.encoding = encoding;
  return shape;
}

Shape connect_stream() {
  Shape shape;
  shape.streaming = true;
  return shape;
}

Shape grpc(bool streaming = false) {
  Shape shape;
  shape.protocol = Protocol::grpc;
  shape.streaming = streaming;
  return shape;
}

Shape grpc_web() {
  Shape shape;
  shape.protocol = Protocol::grpc_web;
  return shape;
}

Shape gzipped(Shape shape) {
  shape.gzip = true;
  return shape;
}

v1::EchoRequest echo_request(std::string text) {
  v1::EchoRequest request;
  request.set_text(std::move(text));
  return request;
}

http::RequestHead raw_head(std::string method, std::string path, http::Fields fields = {}) {
  http::RequestHead head;
  head.method = std::move(method);
  head.path = std::move(path);
  head.fields = std::move(fields);
  return head;
}

// RFC 3986 percent-encoding of everything but unreserved characters.
std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Unpadded base64url, as Connect GET sends binary messages.
std::string base64url(std::string_view data) { return base::base64_encode(data, base::Base64Alphabet::url, false); }

// A gRPC envelope header announcing `length` bytes, with no payload.
std::string envelope_header(std::uint8_t flags, std::uint32_t length) {
  std::string header(1, static_cast<char>(flags));
  for (int shift : {24, 16, 8, 0}) header += static_cast<char>((length >> shift) & 0xff);
  return header;
}

std::string http1_request(std::string_view method, std::string_view path, const http::Fields& fields,
                          std::string_view body = {}) {
  std::string out = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\nhost: 127.0.0.1\r\n";
  for (const auto& field : fields) out += field.name + ": " + field.value + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

// ------------------------------------------------------------------ fixture

ServerOptions small_limits() {
  ServerOptions options;
  options.max_message_bytes = kLimit;
  return options;
}

class ServerTest : public ::testing::TestWithParam<http::Version> {
 protected:
  http::Version version() const { return GetParam(); }

  // A normal call on a fresh connection, over Connect and gRPC: whatever the
  // test did, the server still serves.
  void expect_still_serving() {
    TestClient client(server_.port(), version());
    for (const Shape& shape : {connect_unary(), grpc()}) {
      const auto decoded = call(client, shape, v1::kEchoServiceEchoPath, echo_request("still there?"));
      ASSERT_TRUE(decoded.problems.empty()) << decoded.describe();
      ASSERT_TRUE(decoded.status) << decoded.describe();
      ASSERT_EQ(decoded.messages.size(), 1u);
      EXPECT_EQ(parse_message<v1::EchoResponse>(Encoding::proto, decoded.messages[0]).text(), "still there?");
    }
  }

  // The code the server recorded for the first call to `procedure`.
  std::optional<Code> recorded_code(std::string_view procedure) {
    const auto record = server_.wait_for_call(procedure, 2s);
    return record ? std::optional(record->code) : std::nullopt;
  }

  ProbeService probe_;
  TestServer server_{{&probe_}, small_limits()};
};

INSTANTIATE_TEST_SUITE_P(Http, ServerTest, ::testing::Values(http::Version::http1_1, http::Version::http2),
                         [](const auto& info) { return version_name(info.param); });

// ====================================================== routing & negotiation

TEST_P(ServerTest, UnknownMethodIsUnimplementedInEveryProtocol) {
  TestClient client(server_.port(), version());
  for (const std::string path : {"/coral.testing.v1.EchoService/NoSuchMethod", "/no.such.Service/Echo"}) {
    SCOPED_TRACE(path);
    // Connect unary: 404 (the spec's answer for an unknown procedure).
    const auto connect = call(client, connect_unary(), path, echo_request("hi"));
    EXPECT_TRUE(connect.problems.empty()) << connect.describe();
    EXPECT_EQ(connect.http_status, 404);
    EXPECT_EQ(connect.code(), Code::unimplemented) << connect.describe();
    EXPECT_TRUE(contains(connect.message(), path)) << connect.message();
    // gRPC: HTTP 200 with grpc-status 12, framed as gRPC (Trailers-Only).
    const auto grpc_call = call(client, grpc(), path, echo_request("hi"));
    EXPECT_TRUE(grpc_call.problems.empty()) << grpc_call.describe();
    EXPECT_EQ(grpc_call.http_status, 200);
    EXPECT_EQ(field(grpc_call.status_fields, kGrpcStatus), "12");
    EXPECT_TRUE(contains(grpc_call.message(), path)) << grpc_call.message();
    // gRPC-Web: the same code in the trailer frame.
    const auto web = call(client, grpc_web(), path, echo_request("hi"));
    EXPECT_TRUE(web.problems.empty()) << web.describe();
    EXPECT_EQ(web.code(), Code::unimplemented) << web.describe();
  }
  expect_still_serving();
}

// The access check runs before the handler and before the body is read:
// a refused caller gets the check's error in its protocol's framing, the
// handler never runs, and other procedures stay open to it.
TEST(ServerAccessCheck, RefusedProceduresNeverReachTheirHandler) {
  ProbeService probe;
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> seen;  // (peer, procedure)
  TestServer server({&probe}, small_limits(), {}, [&](std::string_view peer, std::string_view procedure) -> Status {
    std::lock_guard lock(mutex);
    seen.emplace_back(std::string(peer), std::string(procedure));
    if (procedure == v1::kEchoServiceEchoPath) return rpc::fail(Code::permission_denied, "not for you");
    return {};
  });
  for (const http::Version version : {http::Version::http1_1, http::Version::http2}) {
    TestClient client(server.port(), version);
    for (const Shape& shape : {connect_unary(), grpc(), grpc_web()}) {
      const auto refused = call(client, shape, v1::kEchoServiceEchoPath, echo_request("hi"));
      EXPECT_EQ(refused.code(), Code::permission_denied) << refused.describe();
      EXPECT_EQ(refused.message(), "not for you");
    }
    v1::FailRequest fail;
    fail.set_code("not_found");
    fail.set_message("allowed through");
    const auto allowed = call(client, connect_unary(), v1::kEchoServiceFailPath, fail);
    EXPECT_EQ(allowed.code(), Code::not_found) << allowed.describe();
    EXPECT_EQ(allowed.message(), "allowed through");
  }
  EXPECT_EQ(probe.echo_calls.load(), 0);
  std::lock_guard lock(mutex);
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(seen.front().first.starts_with("127.0.0.1:")) << seen.front().first;
  EXPECT_EQ(seen.front().second, v1::kEchoServiceEchoPath);
}

TEST_P(ServerTest, UnsupportedContentTypeIs415WithAcceptPost) {
  TestClient client(server_.port(), version());
  struct Case {
    std::string path;
    std::string content_type;
  };
  for (const Case& c : {Case{std::string(v1::kEchoServiceEchoPath), "text/plain"},
                        Case{std::string(v1::kEchoServiceEchoPath), "application/grpc-web-text"},
                        Case{std::string(v1::kEchoServiceEchoPath), "application/xml"},
                        // Streaming framing on a unary method, and the reverse.
                        Case{std::string(v1::kEchoServiceEchoPath), "application/connect+proto"},
                        Case{std::string(v1::kEchoServiceCountPath), "application/proto"}}) {
    SCOPED_TRACE(c.path + " as " + c.content_type);
    const auto raw = client.exchange(
        raw_head("POST", c.path, {{"content-type", c.content_type}, {"content-length", "5"}}), "hello");
    ASSERT_TRUE(raw.has_head && raw.failure.empty()) << raw.failure;
    EXPECT_EQ(raw.head.status, 415);
    const auto accept_post = http::find_field(raw.head.fields, "accept-post");
    ASSERT_TRUE(accept_post) << "415 without accept-post";
    EXPECT_TRUE(contains(*accept_post, "application/proto"));
    EXPECT_TRUE(contains(*accept_post, "application/grpc"));
    EXPECT_TRUE(contains(*accept_post, "application/connect+proto"));
    const auto error = parse_connect_error(raw.head.status, raw.body);
    EXPECT_TRUE(contains(error.message, "content type") || contains(error.message, "application/"))
        << error.message;
  }
  expect_still_serving();
}

TEST_P(ServerTest, GetOnIdempotentMethodTakesTheMessageFromTheQuery) {
  TestClient client(server_.port(), version());
  const std::string path(v1::kEchoServiceEchoPath);
  {
    SCOPED_TRACE("encoding=json, percent-encoded");
    const auto raw = client.exchange(
        raw_head("GET", path + "?connect=v1&encoding=json&message=" +
                            percent_encode(R"({"text":"hi there & more","number":"7"})")),
        "");
    ASSERT_TRUE(raw.has_head) << raw.failure;
    EXPECT_EQ(raw.head.status, 200) << raw.body;
    EXPECT_EQ(field(raw.head.fields, "content-type"), "application/json");
    const auto response = parse_message<v1::EchoResponse>(Encoding::json, raw.body);
    EXPECT_EQ(response.text(), "hi there & more");
    EXPECT_EQ(response.number(), 7);
    EXPECT_EQ(response.protocol(), "connect");
  }
  {
    SCOPED_TRACE("encoding=proto, base64");
    v1::EchoRequest request = echo_request("binary");
    request.set_payload(std::string("\xff\xfe\x00\x01", 4));  // base64url's '-' and '_' territory
    const auto raw = client.exchange(
        raw_head("GET", path + "?encoding=proto&base64=1&message=" + base64url(request.SerializeAsString())), "");
    ASSERT_TRUE(raw.has_head) << raw.failure;
    EXPECT_EQ(raw.head.status, 200) << raw.body;
    EXPECT_EQ(field(raw.head.fields, "content-type"), "application/proto");
    const auto response = parse_message<v1::EchoResponse>(Encoding::proto, raw.body);
    EXPECT_EQ(response.text(), "binary");
    EXPECT_EQ(response.payload(), std::string("\xff\xfe\x00\x01", 4));
  }
  {
    SCOPED_TRACE("encoding=json, gzip, base64");
    const auto raw = client.exchange(
        raw_head("GET", path + "?encoding=json&compression=gzip&base64=1&message=" +
                            base64url(gzip_or_die(R"({"text":"zipped query"})"))),
        "");
    ASSERT_TRUE(raw.has_head) << raw.failure;
    EXPECT_EQ(raw.head.status, 200) << raw.body;
    EXPECT_EQ(parse_message<v1::EchoResponse>(Encoding::json, raw.body).text(), "zipped query");
  }
}

TEST_P(ServerTest, GetRunsTheHandlerOnce) {
  // One GET is one call: the handler must run once, with the query's message.
  TestClient client(server_.port(), version());
  const auto raw = client.exchange(
      raw_head("GET", std::string(v1::kEchoServiceEchoPath) + "?encoding=json&message=" +
                          percent_encode(R"({"text":"once"})")),
      "");
  ASSERT_TRUE(raw.has_head) << raw.failure;
  EXPECT_EQ(raw.head.status, 200);
  client.run_for(100ms);  // a second run would start right after the first
  EXPECT_EQ(probe_.echo_calls, 1) << "one GET ran the Echo handler " << probe_.echo_calls << " times";
}

TEST_P(ServerTest, GetIsRefusedForMethodsWithSideEffects) {
  TestClient client(server_.port(), version());
  for (const std::string_view path : {v1::kEchoServiceFailPath, v1::kEchoServiceCountPath}) {
    SCOPED_TRACE(path);
    const auto raw = client.exchange(
        raw_head("GET", std::string(path) + "?encoding=json&message=" + percent_encode(R"({"code":"ok"})")), "");
    ASSERT_TRUE(raw.has_head) << raw.failure;
    EXPECT_NE(raw.head.status, 200);
    const auto error = parse_connect_error(raw.head.status, raw.body);
    EXPECT_EQ(error.code, Code::unimplemented) << error.message;
    EXPECT_TRUE(contains(error.message, "GET")) << error.message;
  }
  // The handler never ran: Fail would have answered with a code of its own.
  EXPECT_EQ(recorded_code(v1::kEchoServiceFailPath), Code::unimplemented);
  expect_still_serving();
}

TEST_P(ServerTest, OtherHttpMethodsAreRefused) {
  TestClient client(server_.port(), version());
  const std::string body = echo_request("put").SerializeAsString();
  for (const std::string method : {"PUT", "DELETE", "PATCH"}) {
    SCOPED_TRACE(method);
    const auto raw = client.exchange(raw_head(method, std::string(v1::kEchoServiceEchoPath),
                                              {{"content-type", "application/proto"},
                                               {"content-length", std::to_string(body.size())}}),
                                     body);
    ASSERT_TRUE(raw.has_head) << raw.failure;
    EXPECT_GE(raw.head.status, 400);
    const auto error = parse_connect_error(raw.head.status, raw.body);
    EXPECT_TRUE(contains(error.message, method)) << error.message;
  }
  expect_still_serving();
}

// ====================================================== message decoding

TEST_P(ServerTest, MalformedProtoIsInvalidArgumentNamingTheType) {
  TestClient client(server_.port(), version());
  // Field 1 (text) announces 100 bytes; 2 follow.
  const std::string garbage("\x0a\x64hi", 4);
  auto connect_request = make_raw_request(connect_unary(), v1::kEchoServiceEchoPath, garbage);
  const auto connect = decode_response(
      connect_unary(), client.exchange(std::move(connect_request.head), std::move(connect_request.body)));
  EXPECT_TRUE(connect.problems.empty()) << connect.describe();
  EXPECT_EQ(connect.http_status, 400);
  EXPECT_EQ(connect.code(), Code::invalid_argument) << connect.describe();
  EXPECT_TRUE(contains(connect.message(), "coral.testing.v1.EchoRequest")) << connect.message();

  for (const Shape& shape : {grpc(), grpc_web()}) {
    auto request = make_raw_request(shape, v1::kEchoServiceEchoPath, garbage);
    const auto decoded = decode_response(shape, client.exchange(std::move(request.head), std::move(request.body)));
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.code(), Code::invalid_argument) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), "coral.testing.v1.EchoRequest")) << decoded.message();
  }
  expect_still_serving();
}

TEST_P(ServerTest, InvalidJsonIsInvalidArgumentNamingTheType) {
  TestClient client(server_.port(), version());
  for (const std::string json : {R"({"text": )", "not json at all", R"({"number": "five"})", R"(["text"])"}) {
    SCOPED_TRACE(json);
    auto request = make_raw_request(connect_unary(Encoding::json), v1::kEchoServiceEchoPath, json);
    const auto decoded =
        decode_response(connect_unary(Encoding::json), client.exchange(std::move(request.head), std::move(request.body)));
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.http_status, 400);
    EXPECT_EQ(decoded.code(), Code::invalid_argument) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), "coral.testing.v1.EchoRequest")) << decoded.message();
  }
  expect_still_serving();
}

TEST_P(ServerTest, JsonUnknownFieldsAreIgnoredAndInt64TakesStringOrNumber) {
  TestClient client(server_.port(), version());
  struct Case {
    std::string json;
    std::string text;
    std::int64_t number;
  };
  for (const Case& c : {Case{R"({"text":"hi","futureField":{"nested":[1,2]},"another":null})", "hi", 0},
                        Case{R"({"number":"5"})", "", 5}, Case{R"({"number":5})", "", 5},
                        Case{R"({"number":"-9007199254740993"})", "", -9007199254740993}}) {
    SCOPED_TRACE(c.json);
    for (const Shape& shape : {connect_unary(Encoding::json), [] {
                                 Shape s = grpc();
                                 s.encoding = Encoding::json;
                                 return s;
                               }()}) {
      auto request = make_raw_request(shape, v1::kEchoServiceEchoPath, c.json);
      const auto decoded = decode_response(shape, client.exchange(std::move(request.head), std::move(request.body)));
      ASSERT_TRUE(decoded.problems.empty()) << decoded.describe();
      ASSERT_TRUE(decoded.status) << decoded.describe();
      ASSERT_EQ(decoded.messages.size(), 1u);
      const auto response = parse_message<v1::EchoResponse>(Encoding::json, decoded.messages[0]);
      EXPECT_EQ(response.text(), c.text);
      EXPECT_EQ(response.number(), c.number);
    }
  }
}

// ====================================================== envelopes & limits

TEST_P(ServerTest, TruncatedEnvelopeIsInvalidArgument) {
  TestClient client(server_.port(), version());
  // The header announces 10 bytes, the body ends after 4.
  const std::string body = envelope_header(0, 10) + std::string("\x0a\x02hi", 4);
  for (Shape shape : {grpc(), grpc_web(), connect_stream()}) {
    SCOPED_TRACE(to_string(shape.protocol));
    const std::string_view path = shape.streaming ? v1::kEchoServiceCountPath : v1::kEchoServiceEchoPath;
    auto request = make_raw_request(shape, path, "");
    const auto decoded = decode_response(shape, client.exchange(std::move(request.head), body));
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.code(), Code::invalid_argument) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), "ends inside a message")) << decoded.message();
  }
  expect_still_serving();
}

TEST_P(ServerTest, LyingEnvelopeLengthIsRefusedWithoutWaitingForThePayload) {
  TestClient client(server_.port(), version());
  // 1 GiB announced, 3 bytes sent, and the request left open: a server that
  // waited for (or buffered) the payload would never answer.
  for (Shape shape : {grpc(), grpc_web(), connect_stream()}) {
    SCOPED_TRACE(to_string(shape.protocol));
    const std::string_view path = shape.streaming ? v1::kEchoServiceCountPath : v1::kEchoServiceEchoPath;
    auto request = make_raw_request(shape, path, "");
    const auto raw = client.exchange(std::move(request.head), envelope_header(0, 1u << 30) + "abc", 3s,
                                     /*end_request=*/false);
    const auto decoded = decode_response(shape, raw);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.code(), Code::resource_exhausted) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), "1073741824")) << decoded.message();
    EXPECT_LT(raw.elapsed, 1000ms);
  }
  expect_still_serving();
}

TEST_P(ServerTest, ManySmallEnvelopesDoNotBufferPastTheLimit) {
  // A unary call carries one message. 4000 small envelopes (400 KiB, over the
  // 64 KiB body limit) with the request left open: the server must refuse
  // once the body passes the limit (or a second message arrives), not
  // buffer whatever the client sends until it ends the request.
  TestClient client(server_.port(), version());
  std::string body;
  const std::string one = echo_request(std::string(90, 's')).SerializeAsString();
  while (body.size() < 400 * 1024) append_envelope(body, 0, one);
  for (Shape shape : {grpc(), grpc_web()}) {
    SCOPED_TRACE(to_string(shape.protocol));
    auto request = make_raw_request(shape, v1::kEchoServiceEchoPath, "");
    const auto raw = client.exchange(std::move(request.head), body, 2s, /*end_request=*/false);
    const auto decoded = decode_response(shape, raw);
    EXPECT_FALSE(raw.timed_out) << "no answer while the request stays open: the server is still buffering";
    EXPECT_TRUE(decoded.code() == Code::resource_exhausted || decoded.code() == Code::invalid_argument)
        << decoded.describe();
  }
  expect_still_serving();
}

// HTTP/1.1 only: after refusing a body it will not read, the server closes
// the connection rather than draining (docs/rpc.md), and does so promptly.
TEST(ServerHttp1, LyingEnvelopeLengthClosesTheConnectionWithoutReadingOn) {
  ProbeService probe;
  TestServer server({&probe}, small_limits());
  RawSocket socket(server.port());
  const std::string chunk = envelope_header(0, 1u << 30) + "abc";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", chunk.size());
  ASSERT_TRUE(socket.send(http1_request("POST", v1::kEchoServiceEchoPath,
                                        {{"content-type", "application/grpc"},
                                         {"te", "trailers"},
                                         {"transfer-encoding", "chunked"}}) +
                          size + "\r\n" + chunk + "\r\n"));
  const auto start = Clock::now();
  const auto read = socket.read_until_closed(3s);
  EXPECT_TRUE(read.eof) << "the server kept the connection open; got: " << printable(socket.received());
  EXPECT_LT(since(start), 1000ms);
  const auto response = parse_h1_response(socket.received());
  ASSERT_TRUE(response) << printable(socket.received());
  EXPECT_EQ(response->status, 200);
  const http::Fields& status_fields = response->trailers.empty() ? response->fields : response->trailers;
  EXPECT_EQ(field(status_fields, kGrpcStatus), "8") << printable(socket.received());
  EXPECT_EQ(field(response->fields, "connection"), "close") << printable(socket.received());
}

TEST_P(ServerTest, BodyOverTheLimitIsResourceExhausted) {
  // A fresh client per case: after refusing a body the server may close the
  // connection (see ServerHttp1.ResponseToARefusedBodyAnnouncesTheClose for
  // how it tells the client), and that is not what this test is about.
  v1::EchoRequest big = echo_request("big");
  big.set_payload(std::string(kLimit + 1000, 'b'));
  {
    SCOPED_TRACE("Connect unary, with content-length");
    TestClient client(server_.port(), version());
    const auto decoded = call(client, connect_unary(), v1::kEchoServiceEchoPath, big);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.http_status, 429);
    EXPECT_EQ(decoded.code(), Code::resource_exhausted) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), std::to_string(kLimit))) << decoded.message();
  }
  {
    SCOPED_TRACE("Connect unary, without content-length");
    TestClient client(server_.port(), version());
    auto request = make_request(connect_unary(), v1::kEchoServiceEchoPath, big);
    std::erase_if(request.head.fields, [](const http::Field& field) { return field.name == "content-length"; });
    const auto decoded =
        decode_response(connect_unary(), client.exchange(std::move(request.head), std::move(request.body)));
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.http_status, 429);
    EXPECT_EQ(decoded.code(), Code::resource_exhausted) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), std::to_string(kLimit))) << decoded.message();
  }
  for (Shape shape : {grpc(), grpc_web()}) {
    SCOPED_TRACE(to_string(shape.protocol));
    TestClient client(server_.port(), version());
    const auto decoded = call(client, shape, v1::kEchoServiceEchoPath, big);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.code(), Code::resource_exhausted) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), std::to_string(kLimit))) << decoded.message();
  }
  {
    SCOPED_TRACE("just under the limit");
    TestClient client(server_.port(), version());
    v1::EchoRequest fits = echo_request("fits");
    fits.set_payload(std::string(kLimit - 100, 'f'));
    const auto decoded = call(client, connect_unary(), v1::kEchoServiceEchoPath, fits);
    EXPECT_TRUE(decoded.status) << decoded.describe();
  }
  expect_still_serving();
}

// HTTP/1.1: when the server answers before reading the request body and
// then closes rather than drain it (docs/rpc.md), the response must say
// "connection: close". Without it a keep-alive client pools the connection
// and its next request dies with "connection closed" (a race that
// BodyOverTheLimitIsResourceExhausted hit when it reused its client).
TEST(ServerHttp1, ResponseToARefusedBodyAnnouncesTheClose) {
  ProbeService probe;
  TestServer server({&probe}, small_limits());
  const std::string lying_chunk = [] {
    const std::string chunk = envelope_header(0, 1u << 30) + "abc";
    char size[16];
    std::snprintf(size, sizeof size, "%zx", chunk.size());
    return std::string(size) + "\r\n" + chunk + "\r\n";
  }();
  struct Case {
    std::string name;
    std::string path;
    http::Fields fields;
    std::string body;  // the start of a body that never ends
  };
  const std::vector<Case> cases = {
      {"Connect unary, content-length over the limit", std::string(v1::kEchoServiceEchoPath),
       {{"content-type", "application/proto"}, {"connect-protocol-version", "1"}, {"content-length", "100000"}},
       std::string(100, 'x')},
      {"Connect streaming, envelope over the limit", std::string(v1::kEchoServiceCountPath),
       {{"content-type", "application/connect+proto"}, {"transfer-encoding", "chunked"}}, lying_chunk},
      {"gRPC, envelope over the limit", std::string(v1::kEchoServiceEchoPath),
       {{"content-type", "application/grpc"}, {"te", "trailers"}, {"transfer-encoding", "chunked"}}, lying_chunk},
      {"gRPC-Web, envelope over the limit", std::string(v1::kEchoServiceEchoPath),
       {{"content-type", "application/grpc-web+proto"}, {"transfer-encoding", "chunked"}}, lying_chunk},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RawSocket socket(server.port());
    ASSERT_TRUE(socket.send(http1_request("POST", c.path, c.fields) + c.body));
    const auto read = socket.read_until_closed(3s);
    EXPECT_TRUE(read.eof) << "the server waited for the rest of the body";
    const auto response = parse_h1_response(socket.received());
    ASSERT_TRUE(response) << printable(socket.received());
    EXPECT_TRUE(response->complete) << printable(socket.received());
    EXPECT_EQ(field(response->fields, "connection"), "close") << printable(socket.received());
  }
}

TEST_P(ServerTest, GzipBombIsResourceExhausted) {
  TestClient client(server_.port(), version());
  // 16 MiB of zeros gzip to ~16 KiB: well under the body limit, far over the
  // message limit once inflated.
  const std::string inflated(16u << 20, '\0');
  for (Shape shape : {gzipped(connect_unary()), gzipped(grpc()), gzipped(grpc_web())}) {
    SCOPED_TRACE(to_string(shape.protocol));
    auto request = make_raw_request(shape, v1::kEchoServiceEchoPath, inflated);
    ASSERT_LT(request.body.size(), kLimit);
    const auto decoded = decode_response(shape, client.exchange(std::move(request.head), std::move(request.body)));
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.code(), Code::resource_exhausted) << decoded.describe();
  }
  expect_still_serving();
}

// ====================================================== deadlines

TEST_P(ServerTest, DeadlinePassingEndsTheCallWithDeadlineExceeded) {
  TestClient client(server_.port(), version());
  v1::SleepRequest sleep;
  sleep.set_millis(2000);
  {
    SCOPED_TRACE("Connect-Timeout-Ms: 100");
    const auto start = Clock::now();
    const auto decoded = call(client, connect_unary(), v1::kEchoServiceSleepPath, sleep, {{"connect-timeout-ms", "100"}});
    EXPECT_LT(since(start), 1000ms);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.http_status, 504);
    EXPECT_EQ(decoded.code(), Code::deadline_exceeded) << decoded.describe();
  }
  for (Shape shape : {grpc(), grpc_web()}) {
    SCOPED_TRACE(std::string(to_string(shape.protocol)) + ", grpc-timeout: 100m");
    const auto start = Clock::now();
    const auto decoded = call(client, shape, v1::kEchoServiceSleepPath, sleep, {{"grpc-timeout", "100m"}});
    EXPECT_LT(since(start), 1000ms);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(field(decoded.status_fields, kGrpcStatus), "4");
    EXPECT_EQ(decoded.code(), Code::deadline_exceeded) << decoded.describe();
  }
  {
    // A stream cut by its deadline ends with the error after the messages
    // sent so far.
    SCOPED_TRACE("Connect streaming, Connect-Timeout-Ms: 150");
    v1::CountRequest count;
    count.set_count(1000);
    count.set_interval_millis(10);
    const auto start = Clock::now();
    const auto decoded =
        call(client, connect_stream(), v1::kEchoServiceCountPath, count, {{"connect-timeout-ms", "150"}});
    EXPECT_LT(since(start), 1000ms);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.code(), Code::deadline_exceeded) << decoded.describe();
    EXPECT_GT(decoded.messages.size(), 0u);
    EXPECT_LT(decoded.messages.size(), 1000u);
  }
  for (const auto& record : server_.calls()) EXPECT_EQ(record.code, Code::deadline_exceeded) << record.procedure;
  expect_still_serving();
}

TEST_P(ServerTest, LongestTimeoutsAreNoDeadline) {
  // The largest values each header can carry (10 digits of ms; 8 digits of
  // hours, which format_grpc_timeout itself sends for very long timeouts)
  // are far in the future, not already past. Sleep, not Echo: a deadline
  // wrongly in the past must get the chance to fire first.
  TestClient client(server_.port(), version());
  v1::SleepRequest sleep;
  sleep.set_millis(50);
  const auto connect = call(client, connect_unary(), v1::kEchoServiceSleepPath, sleep,
                            {{"connect-timeout-ms", "9999999999"}});
  EXPECT_TRUE(connect.status) << connect.describe();
  for (const std::string timeout : {"99999999H", "3000000H", "99999999M"}) {
    SCOPED_TRACE("grpc-timeout: " + timeout);
    const auto decoded = call(client, grpc(), v1::kEchoServiceSleepPath, sleep, {{"grpc-timeout", timeout}});
    EXPECT_TRUE(decoded.status) << decoded.describe();
  }
}

TEST_P(ServerTest, MalformedTimeoutIsInvalidArgument) {
  TestClient client(server_.port(), version());
  const auto connect = call(client, connect_unary(), v1::kEchoServiceEchoPath, echo_request("t"),
                            {{"connect-timeout-ms", "soon"}});
  EXPECT_EQ(connect.code(), Code::invalid_argument) << connect.describe();
  const auto grpc_call = call(client, grpc(), v1::kEchoServiceEchoPath, echo_request("t"), {{"grpc-timeout", "1 hour"}});
  EXPECT_EQ(grpc_call.code(), Code::invalid_argument) << grpc_call.describe();
}

// ====================================================== compression, empty bodies

TEST_P(ServerTest, UnknownCompressionIsUnimplementedAndNamed) {
  TestClient client(server_.port(), version());
  const std::string body = echo_request("br?").SerializeAsString();
  {
    SCOPED_TRACE("Connect unary, content-encoding: br");
    auto request = make_raw_request(connect_unary(), v1::kEchoServiceEchoPath, body, {{"content-encoding", "br"}});
    const auto decoded =
        decode_response(connect_unary(), client.exchange(std::move(request.head), std::move(request.body)));
    EXPECT_EQ(decoded.code(), Code::unimplemented) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), "br")) << decoded.message();
  }
  {
    SCOPED_TRACE("gRPC, grpc-encoding: br");
    Shape shape = grpc();
    auto request = make_raw_request(shape, v1::kEchoServiceEchoPath, "", {{"grpc-encoding", "br"}});
    request.body.clear();
    append_envelope(request.body, kFlagCompressed, "not really brotli");
    const auto decoded = decode_response(shape, client.exchange(std::move(request.head), std::move(request.body)));
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(field(decoded.status_fields, kGrpcStatus), "12");
    EXPECT_TRUE(contains(decoded.message(), "br")) << decoded.message();
    // gRPC's compression spec: the UNIMPLEMENTED answer lists what the
    // server accepts, so that the client can retry with one of them.
    EXPECT_TRUE(contains(field(decoded.headers, kGrpcAcceptEncoding), "gzip"))
        << "grpc-accept-encoding: " << field(decoded.headers, kGrpcAcceptEncoding);
  }
  expect_still_serving();
}

TEST_P(ServerTest, EmptyUnaryBodyIsAnEmptyMessage) {
  TestClient client(server_.port(), version());
  for (const Encoding encoding : {Encoding::proto, Encoding::json}) {
    SCOPED_TRACE(to_string(encoding));
    auto request = make_raw_request(connect_unary(encoding), v1::kEchoServiceEchoPath, "");
    const auto decoded =
        decode_response(connect_unary(encoding), client.exchange(std::move(request.head), std::move(request.body)));
    ASSERT_TRUE(decoded.status) << decoded.describe();
    ASSERT_EQ(decoded.messages.size(), 1u);
    EXPECT_EQ(parse_message<v1::EchoResponse>(encoding, decoded.messages[0]).text(), "");
  }
}

// ====================================================== handler failures

TEST_P(ServerTest, ThrowingHandlerIsInternalAndTheServerKeepsServing) {
  TestClient client(server_.port(), version());
  for (Shape shape : {connect_unary(), grpc(), grpc_web()}) {
    SCOPED_TRACE(to_string(shape.protocol));
    const auto decoded = call(client, shape, v1::kEchoServiceEchoPath, echo_request("throw"));
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.code(), Code::internal) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), "the handler exploded")) << decoded.message();
    if (shape.protocol == Protocol::connect) {
      EXPECT_EQ(decoded.http_status, 500);
    }
    // The same connection serves the next call.
    const auto next = call(client, shape, v1::kEchoServiceEchoPath, echo_request("after"));
    EXPECT_TRUE(next.status) << next.describe();
  }
  EXPECT_EQ(recorded_code(v1::kEchoServiceEchoPath), Code::internal);
  expect_still_serving();
}

TEST_P(ServerTest, StreamingHandlerThrowingAfterMessagesEndsTheStreamWithInternal) {
  TestClient client(server_.port(), version());
  v1::CountRequest count;
  count.set_count(2);
  count.set_fail_code("throw");
  for (Shape shape : {connect_stream(), grpc(true)}) {
    SCOPED_TRACE(to_string(shape.protocol));
    const auto decoded = call(client, shape, v1::kEchoServiceCountPath, count);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.messages.size(), 2u);
    EXPECT_EQ(decoded.code(), Code::internal) << decoded.describe();
    EXPECT_TRUE(contains(decoded.message(), "the stream exploded")) << decoded.message();
  }
  expect_still_serving();
}

// ====================================================== concurrency

TEST_P(ServerTest, SlowCallsRunConcurrently) {
  // 20 calls of 300 ms each, all at once (h2c: one connection; HTTP/1.1: the
  // client opens one per call). Served one after another they would take 6 s.
  TestClient client(server_.port(), version());
  v1::SleepRequest sleep;
  sleep.set_millis(300);
  std::vector<std::shared_ptr<Collector>> exchanges;
  const auto start = Clock::now();
  for (int i = 0; i < 20; ++i) {
    auto request = make_request(i % 2 ? grpc() : connect_unary(), v1::kEchoServiceSleepPath, sleep);
    exchanges.push_back(client.start(std::move(request.head), std::move(request.body)));
  }
  ASSERT_TRUE(client.run_until(
      [&] { return std::ranges::all_of(exchanges, [](const auto& e) { return e->response.ended; }); }, 5s));
  EXPECT_LT(since(start), 2000ms);
  for (int i = 0; i < 20; ++i) {
    const auto decoded = decode_response(i % 2 ? grpc() : connect_unary(), exchanges[i]->response);
    EXPECT_TRUE(decoded.status) << i << ": " << decoded.describe();
  }
}

// ====================================================== misbehaving peers

TEST_P(ServerTest, ClientVanishingMidStreamCancelsTheCall) {
  for (Shape shape : {connect_stream(), grpc(true)}) {
    SCOPED_TRACE(to_string(shape.protocol));
    const std::size_t calls_before = server_.calls().size();
    probe_.count_sent = 0;
    TestClient client(server_.port(), version());
    v1::CountRequest count;
    count.set_count(1000);
    count.set_interval_millis(10);
    auto request = make_request(shape, v1::kEchoServiceCountPath, count);
    auto exchange = client.start(std::move(request.head), std::move(request.body));
    // Two messages in (index 0 is an empty proto: a bare 5-byte envelope).
    ASSERT_TRUE(client.run_until(
        [&] {
          std::vector<std::string> problems;
          return detail::split_envelopes(exchange->response.body, problems).size() >= 2;
        },
        3s));
    client.close();
    client.run_for(20ms);  // let the close reach the socket

    // The server notices at once, not at the handler's next send...
    const auto record = server_.wait_for_call(v1::kEchoServiceCountPath, 2s, calls_before);
    ASSERT_TRUE(record) << "the call never finished on the server";
    EXPECT_EQ(record->code, Code::canceled);
    // ...and the handler's next send() fails, so it stops producing.
    const auto deadline = Clock::now() + 2s;
    while (!probe_.count_finished && Clock::now() < deadline) std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(probe_.count_finished) << "the handler is still streaming to a client that left";
    EXPECT_LT(probe_.count_sent, 100);
  }
  expect_still_serving();
}

// A client that stops reading: the handler's send() must wait
// (stream_high_watermark) instead of queueing the whole stream in memory,
// and the stream must complete intact once the client reads again.
// 400 x 64 KiB = 25 MiB; what may be in flight while stalled is the socket
// buffers (send buffer autotuned to at most 4 MiB here, a 64 KiB receive
// buffer; h2: the 1 MiB stream window) plus the 256 KiB watermark.
constexpr int kStallMessages = 400;
constexpr std::uint32_t kStallPayload = 64 * 1024;

// The most a TCP send buffer may autotune to here (tcp_wmem's maximum).
std::size_t max_tcp_send_buffer() {
  std::size_t min = 0, initial = 0, max = 4u << 20;
  if (FILE* file = std::fopen("/proc/sys/net/ipv4/tcp_wmem", "r")) {
    if (std::fscanf(file, "%zu %zu %zu", &min, &initial, &max) != 3) max = 4u << 20;
    std::fclose(file);
  }
  return max;
}

std::string count_request_envelope() {
  v1::CountRequest count;
  count.set_count(kStallMessages);
  count.set_payload_bytes(kStallPayload);
  std::string body;
  append_envelope(body, 0, count.SerializeAsString());
  return body;
}

void expect_complete_count_stream(std::string_view body) {
  std::vector<std::string> problems;
  auto envelopes = detail::split_envelopes(body, problems);
  EXPECT_TRUE(problems.empty()) << problems.front();
  ASSERT_EQ(envelopes.size(), std::size_t(kStallMessages) + 1);
  for (int i = 0; i < kStallMessages; ++i) {
    v1::CountResponse message;
    ASSERT_TRUE(message.ParseFromString(envelopes[i].payload));
    ASSERT_EQ(message.index(), std::uint32_t(i));
    ASSERT_EQ(message.payload().size(), kStallPayload);
  }
  EXPECT_EQ(envelopes.back().flags, kFlagEndStream);
  EXPECT_EQ(envelopes.back().payload, "{}");
}

TEST(ServerHttp1, SlowReaderIsBackpressuredAndThenServedInFull) {
  ProbeService probe;
  TestServer server({&probe});
  RawSocket socket(server.port(), /*receive_buffer=*/32 * 1024);
  const std::string body = count_request_envelope();
  ASSERT_TRUE(socket.send(http1_request("POST", v1::kEchoServiceCountPath,
                                        {{"content-type", "application/connect+proto"},
                                         {"content-length", std::to_string(body.size())}},
                                        body)));
  // Do not read for half a second.
  std::this_thread::sleep_for(500ms);
  const int sent_while_stalled = probe.count_sent;
  EXPECT_FALSE(probe.count_finished) << "the whole stream was queued for a client that does not read";
  // Kernel buffers, plus 1 MiB for the watermark, the codec's batch and the
  // small receive buffer.
  const std::size_t bound = (max_tcp_send_buffer() + (1u << 20)) / kStallPayload;
  EXPECT_LT(std::size_t(sent_while_stalled), bound)
      << "queued ~" << sent_while_stalled * 64 << " KiB for a stalled client";
  EXPECT_GT(sent_while_stalled, 0);

  // Connect streaming has no HTTP trailers: the chunked body ends with an
  // empty last chunk. (Parsing 25 MiB on every read would be quadratic.)
  socket.read_until([](const std::string& received) { return received.ends_with("\r\n0\r\n\r\n"); }, 20s);
  const auto response = parse_h1_response(socket.received());
  ASSERT_TRUE(response && response->complete) << "stream incomplete after the client read again";
  EXPECT_EQ(response->status, 200);
  expect_complete_count_stream(response->body);
  EXPECT_EQ(server.wait_for_call(v1::kEchoServiceCountPath, 2s)->code, Code::ok);
}

TEST(ServerH2c, SlowReaderIsBackpressuredAndThenServedInFull) {
  ProbeService probe;
  TestServer server({&probe});
  TestClient client(server.port(), http::Version::http2);
  auto head = raw_head("POST", std::string(v1::kEchoServiceCountPath),
                       {{"content-type", "application/connect+proto"}});
  auto exchange = client.start(std::move(head), count_request_envelope());
  ASSERT_TRUE(client.run_until([&] { return !exchange->response.body.empty(); }, 3s));
  // The client's loop does not run: nothing is read, no WINDOW_UPDATE goes out.
  std::this_thread::sleep_for(500ms);
  const int sent_while_stalled = probe.count_sent;
  EXPECT_FALSE(probe.count_finished) << "the whole stream was queued for a client that does not read";
  // The 1 MiB stream window and the watermark allow ~20 messages; 60 leaves
  // room for what the client read before it stalled.
  EXPECT_LT(sent_while_stalled, 60) << "queued ~" << sent_while_stalled * 64 << " KiB for a stalled client";

  ASSERT_TRUE(client.run_until([&] { return exchange->response.ended; }, 20s));
  EXPECT_TRUE(exchange->response.failure.empty()) << exchange->response.failure;
  expect_complete_count_stream(exchange->response.body);
  EXPECT_EQ(server.wait_for_call(v1::kEchoServiceCountPath, 2s)->code, Code::ok);
}

// ====================================================== idle connections

// A server whose connections time out after 300 ms of idleness.
class IdleTimeout : public ::testing::Test {
 protected:
  static http::ServerOptions short_idle() {
    http::ServerOptions options;
    options.connection.idle_timeout = 300ms;
    return options;
  }

  // The server closes `socket` after the idle timeout: not before, and
  // within a few timer periods.
  void expect_closed_after_idle_timeout(RawSocket& socket) {
    const auto start = Clock::now();
    const auto read = socket.read_until_closed(3s);
    EXPECT_TRUE(read.eof) << "connection still open after 3 s";
    EXPECT_GE(since(start), 250ms);
    EXPECT_LT(since(start), 1500ms);
  }

  void expect_still_serving() {
    TestClient client(server_.port(), http::Version::http1_1);
    const auto decoded = call(client, connect_unary(), v1::kEchoServiceEchoPath, echo_request("hi"));
    EXPECT_TRUE(decoded.status) << decoded.describe();
  }

  ProbeService probe_;
  TestServer server_{{&probe_}, ServerOptions{}, short_idle()};
};

TEST_F(IdleTimeout, SilentConnectionIsClosed) {
  RawSocket socket(server_.port());
  expect_closed_after_idle_timeout(socket);
  expect_still_serving();
}

TEST_F(IdleTimeout, HalfSentRequestHeadIsClosed) {
  // Slowloris: a request line and one field, then nothing.
  RawSocket socket(server_.port());
  ASSERT_TRUE(socket.send("POST /coral.testing.v1.EchoService/Echo HTTP/1.1\r\nhost: 127.0.0.1\r\n"));
  expect_closed_after_idle_timeout(socket);
  expect_still_serving();
}

TEST_F(IdleTimeout, RequestWhoseBodyNeverArrivesIsClosed) {
  // A complete head announcing 10 bytes of body, then nothing: the request
  // never completes.
  RawSocket socket(server_.port());
  ASSERT_TRUE(socket.send(http1_request("POST", v1::kEchoServiceEchoPath,
                                        {{"content-type", "application/proto"}, {"content-length", "10"}})));
  expect_closed_after_idle_timeout(socket);
  expect_still_serving();
}

TEST_F(IdleTimeout, H2cConnectionWithoutStreamsIsClosed) {
  RawSocket socket(server_.port());
  // The connection preface and an empty SETTINGS frame, then no stream.
  ASSERT_TRUE(socket.send(std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\x04\0\0\0\0\0", 9)));
  expect_closed_after_idle_timeout(socket);
  expect_still_serving();
}

TEST_F(IdleTimeout, H2cStreamWhoseBodyNeverArrivesIsEnded) {
  // HEADERS and part of a message, then silence: the stream (or the whole
  // connection) must not be held open for ever.
  TestClient client(server_.port(), http::Version::http2);
  auto request = make_request(grpc(), v1::kEchoServiceEchoPath, echo_request("never finished"));
  request.body.resize(request.body.size() - 3);
  auto exchange = client.start(std::move(request.head), std::move(request.body), /*end_request=*/false);
  const auto start = Clock::now();
  EXPECT_TRUE(client.run_until([&] { return exchange->response.ended; }, 3s)) << "stream still open after 3 s";
  EXPECT_LT(since(start), 1500ms);
  expect_still_serving();
}

TEST_F(IdleTimeout, CallInProgressOutlivesTheIdleTimeout) {
  // Idle means no request in progress: a slow handler is not idleness.
  for (const auto version : {http::Version::http1_1, http::Version::http2}) {
    SCOPED_TRACE(version_name(version));
    TestClient client(server_.port(), version);
    v1::SleepRequest sleep;
    sleep.set_millis(800);
    const auto decoded = call(client, connect_unary(), v1::kEchoServiceSleepPath, sleep);
    EXPECT_TRUE(decoded.status) << decoded.describe();
  }
}

}  // namespace
}  // namespace coral::rpc
