// One test body, run over every protocol x encoding x HTTP version coral
// serves: {Connect, gRPC, gRPC-Web} x {proto, JSON} x {HTTP/1.1, h2c}.
//
// Requests are framed by hand (test_harness.h) and sent as raw HTTP
// exchanges over real loopback sockets, so that gRPC and gRPC-Web (which
// coral's own HttpChannel does not speak) get the same coverage as Connect.
// Each protocol's decoder plays that protocol's client: it turns the raw
// response into (messages, status) and lists every framing violation it
// saw, so a test failure names what the server got wrong on the wire.

#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "coral/testing/v1/echo.coral.h"
#include "echo_service.h"
#include "test_harness.h"

namespace coral::rpc {
namespace {

using namespace harness;
namespace v1 = coral::testing::v1;

using MatrixParam = std::tuple<Protocol, Encoding, http::Version>;

std::string param_name(const ::testing::TestParamInfo<MatrixParam>& info) {
  const auto [protocol, encoding, version] = info.param;
  const std::string protocol_name = protocol == Protocol::connect ? "Connect"
                                    : protocol == Protocol::grpc  ? "Grpc"
                                                                  : "GrpcWeb";
  return protocol_name + "_" + (encoding == Encoding::proto ? "Proto" : "Json") + "_" + version_name(version);
}

class RpcMatrix : public ::testing::TestWithParam<MatrixParam> {
 protected:
  Protocol protocol() const { return std::get<0>(GetParam()); }
  Encoding encoding() const { return std::get<1>(GetParam()); }
  http::Version version() const { return std::get<2>(GetParam()); }

  Shape shape(bool streaming, bool gzip = false) const {
    Shape shape;
    shape.protocol = protocol();
    shape.encoding = encoding();
    shape.streaming = streaming;
    shape.gzip = gzip;
    return shape;
  }

  // What a client of this protocol checks first: the response's content type
  // names the protocol and encoding it asked for.
  void expect_content_type(const Decoded& decoded, bool streaming) const {
    const std::string content_type(field(decoded.headers, "content-type"));
    SCOPED_TRACE("content-type: " + content_type);
    if (protocol() == Protocol::connect) {
      const auto parsed = parse_connect_content_type(content_type);
      ASSERT_TRUE(parsed);
      EXPECT_EQ(parsed->streaming, streaming);
      EXPECT_EQ(parsed->encoding, encoding());
    } else {
      const auto parsed = parse_grpc_content_type(content_type);
      ASSERT_TRUE(parsed);
      EXPECT_EQ(parsed->web, protocol() == Protocol::grpc_web);
      EXPECT_EQ(parsed->encoding, encoding());
    }
  }

  // Where a successful call's status must be found in this protocol.
  StatusSource ok_source(bool streaming) const {
    switch (protocol()) {
      case Protocol::connect: return streaming ? StatusSource::end_stream_message : StatusSource::http_status;
      case Protocol::grpc: return StatusSource::trailers;
      case Protocol::grpc_web: return StatusSource::web_trailer_frame;
    }
    return StatusSource::none;
  }

  coral::testing::EchoService echo_;
  TestServer server_{{&echo_}};
};

TEST_P(RpcMatrix, EchoCountFailAndGzipBehaveAsTheProtocolSpecifies) {
  TestClient client(server_.port(), version());

  // ---- Echo (unary): every field comes back, and the server saw the
  // protocol, encoding and HTTP version that were actually sent.
  {
    SCOPED_TRACE("Echo");
    v1::EchoRequest request;
    request.set_text("hello, matrix");
    request.set_number(-1234567890123);  // 64-bit: a string in JSON
    request.set_payload(std::string("\x00\x01\xfe\xff", 4));
    request.add_tags("a");
    request.add_tags("b");
    const auto decoded = call(client, shape(false), v1::kEchoServiceEchoPath, request, {{"x-test-echo", "matrix"}});
    ASSERT_TRUE(decoded.problems.empty()) << decoded.describe();
    ASSERT_TRUE(decoded.status) << decoded.describe();
    EXPECT_EQ(decoded.http_status, 200);
    EXPECT_EQ(decoded.source, ok_source(false));
    expect_content_type(decoded, false);
    ASSERT_EQ(decoded.messages.size(), 1u);
    const auto response = parse_message<v1::EchoResponse>(encoding(), decoded.messages[0]);
    EXPECT_EQ(response.text(), "hello, matrix");
    EXPECT_EQ(response.number(), -1234567890123);
    EXPECT_EQ(response.payload(), std::string("\x00\x01\xfe\xff", 4));
    ASSERT_EQ(response.tags_size(), 2);
    EXPECT_EQ(response.tags(0), "a");
    EXPECT_EQ(response.tags(1), "b");
    EXPECT_EQ(response.protocol(), to_string(protocol()));
    EXPECT_EQ(response.encoding(), to_string(encoding()));
    EXPECT_EQ(response.http_version(), http::to_string(version()));
    EXPECT_EQ(response.header_echo(), "matrix");
    if (protocol() != Protocol::connect) {
      EXPECT_EQ(field(decoded.status_fields, kGrpcStatus), "0");
    }
  }

  // ---- Count (server streaming): all three messages, in order, then a
  // successful end in the protocol's own form.
  {
    SCOPED_TRACE("Count");
    v1::CountRequest request;
    request.set_count(3);
    request.set_payload_bytes(10);
    const auto decoded = call(client, shape(true), v1::kEchoServiceCountPath, request);
    ASSERT_TRUE(decoded.problems.empty()) << decoded.describe();
    ASSERT_TRUE(decoded.status) << decoded.describe();
    EXPECT_EQ(decoded.source, ok_source(true));
    expect_content_type(decoded, true);
    ASSERT_EQ(decoded.messages.size(), 3u);
    for (std::uint32_t i = 0; i < 3; ++i) {
      const auto message = parse_message<v1::CountResponse>(encoding(), decoded.messages[i]);
      EXPECT_EQ(message.index(), i);
      EXPECT_EQ(message.payload(), std::string(10, 'x'));
    }
    if (protocol() == Protocol::connect) {
      EXPECT_EQ(decoded.end_stream_json, "{}");
    } else {
      EXPECT_EQ(field(decoded.status_fields, kGrpcStatus), "0");
    }
  }

  // ---- Fail (unary error): code and message arrive where the protocol
  // puts them. The message has non-ASCII and '%' so that gRPC's
  // percent-encoding of grpc-message is exercised.
  const std::string failure_text = "nothing here: caf\xc3\xa9 100%";
  {
    SCOPED_TRACE("Fail");
    v1::FailRequest request;
    request.set_code("not_found");
    request.set_message(failure_text);
    const auto decoded = call(client, shape(false), v1::kEchoServiceFailPath, request);
    ASSERT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.code(), Code::not_found) << decoded.describe();
    EXPECT_EQ(decoded.message(), failure_text);
    EXPECT_TRUE(decoded.messages.empty());
    switch (protocol()) {
      case Protocol::connect:
        // Connect unary: HTTP 404 and a JSON error body.
        EXPECT_EQ(decoded.source, StatusSource::http_status);
        EXPECT_EQ(decoded.http_status, 404);
        EXPECT_EQ(field(decoded.headers, "content-type"), "application/json");
        break;
      case Protocol::grpc:
        // No message was sent: Trailers-Only, HTTP 200.
        EXPECT_EQ(decoded.source, StatusSource::trailers_only);
        EXPECT_EQ(decoded.http_status, 200);
        EXPECT_EQ(field(decoded.status_fields, kGrpcStatus), "5");
        EXPECT_EQ(grpc_percent_decode(field(decoded.status_fields, kGrpcMessage)),
                  failure_text);
        break;
      case Protocol::grpc_web:
        EXPECT_EQ(decoded.source, StatusSource::web_trailer_frame);
        EXPECT_EQ(decoded.http_status, 200);
        EXPECT_EQ(field(decoded.status_fields, kGrpcStatus), "5");
        break;
    }
  }

  // ---- A stream that fails after sending messages: Connect's end-stream
  // error, gRPC trailers (not Trailers-Only: messages went first), gRPC-Web's
  // trailer frame.
  {
    SCOPED_TRACE("Count then not_found");
    v1::CountRequest request;
    request.set_count(2);
    request.set_fail_code("not_found");
    const auto decoded = call(client, shape(true), v1::kEchoServiceCountPath, request);
    ASSERT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.messages.size(), 2u);
    EXPECT_EQ(decoded.code(), Code::not_found) << decoded.describe();
    EXPECT_EQ(decoded.message(), "count failed: not_found");
    EXPECT_EQ(decoded.source, ok_source(true));
    EXPECT_EQ(decoded.http_status, 200);
  }

  // ---- gzip both ways: the request is compressed, and the response, over
  // ServerOptions::compress_min_bytes (1 KiB), comes back compressed.
  const std::string big_payload = [] {
    std::string text;
    for (int i = 0; text.size() < 4096; ++i) text += "line " + std::to_string(i) + " of a compressible payload\n";
    return text;
  }();
  {
    SCOPED_TRACE("Echo, gzip");
    v1::EchoRequest request;
    request.set_text("zipped");
    request.set_payload(big_payload);
    const auto decoded = call(client, shape(false, true), v1::kEchoServiceEchoPath, request);
    ASSERT_TRUE(decoded.problems.empty()) << decoded.describe();
    ASSERT_TRUE(decoded.status) << decoded.describe();
    ASSERT_EQ(decoded.messages.size(), 1u);
    EXPECT_EQ(decoded.compressed_messages, 1u) << "a " << big_payload.size() << "-byte answer was not compressed";
    const std::string_view header = protocol() == Protocol::connect ? "content-encoding" : "grpc-encoding";
    EXPECT_EQ(field(decoded.headers, header), "gzip");
    const auto response = parse_message<v1::EchoResponse>(encoding(), decoded.messages[0]);
    EXPECT_EQ(response.text(), "zipped");
    EXPECT_EQ(response.payload(), big_payload);
  }
  {
    SCOPED_TRACE("Count, gzip");
    v1::CountRequest request;
    request.set_count(3);
    request.set_payload_bytes(2048);
    const auto decoded = call(client, shape(true, true), v1::kEchoServiceCountPath, request);
    ASSERT_TRUE(decoded.problems.empty()) << decoded.describe();
    ASSERT_TRUE(decoded.status) << decoded.describe();
    ASSERT_EQ(decoded.messages.size(), 3u);
    EXPECT_EQ(decoded.compressed_messages, 3u);
    const std::string_view header = protocol() == Protocol::connect ? "connect-content-encoding" : "grpc-encoding";
    EXPECT_EQ(field(decoded.headers, header), "gzip");
    for (std::uint32_t i = 0; i < 3; ++i) {
      const auto message = parse_message<v1::CountResponse>(encoding(), decoded.messages[i]);
      EXPECT_EQ(message.index(), i);
      EXPECT_EQ(message.payload(), std::string(2048, 'x'));
    }
  }

  // Every call above was seen by the server with the protocol it was sent in.
  const auto calls = server_.calls();
  EXPECT_EQ(calls.size(), 6u);
  for (const auto& record : calls) {
    EXPECT_EQ(record.protocol, protocol()) << record.procedure;
  }
}

INSTANTIATE_TEST_SUITE_P(AllProtocols, RpcMatrix,
                         ::testing::Combine(::testing::Values(Protocol::connect, Protocol::grpc, Protocol::grpc_web),
                                            ::testing::Values(Encoding::proto, Encoding::json),
                                            ::testing::Values(http::Version::http1_1, http::Version::http2)),
                         param_name);

}  // namespace
}  // namespace coral::rpc
