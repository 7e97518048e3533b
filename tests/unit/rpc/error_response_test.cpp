// write_error_response: an RPC error as a complete response in the
// request's own protocol, as an intermediary (the proxy) sends it. A fake
// ResponseWriter records what the function writes; the tests read it the
// way each protocol's client would.

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rpc/envelope.h"
#include "rpc/error_response.h"
#include "rpc/protocol_connect.h"
#include "rpc/protocol_grpc.h"

namespace coral::rpc {
namespace {

// Everything a writer was asked to do, in order.
class RecordingWriter final : public http::ResponseWriter {
 public:
  struct Data {
    std::string bytes;
    bool end_stream = false;
  };

  void send_head(http::ResponseHead response_head, bool end_stream) override {
    ++heads;
    head = std::move(response_head);
    head_ended_stream = end_stream;
    if (end_stream) ended = true;
  }
  void send_data(http::Bytes bytes, bool end_stream) override {
    if (!head) ADD_FAILURE() << "send_data before send_head";
    if (ended) ADD_FAILURE() << "send_data after the end of the stream";
    data.push_back(Data{std::string(http::as_chars(bytes)), end_stream});
    if (end_stream) ended = true;
  }
  void send_trailers(http::Fields fields) override {
    trailers = std::move(fields);
    ended = true;
  }
  void reset() override { ++resets; }
  std::size_t queued_bytes() const override { return 0; }

  int heads = 0;
  std::optional<http::ResponseHead> head;
  bool head_ended_stream = false;
  std::vector<Data> data;
  std::optional<http::Fields> trailers;
  int resets = 0;
  bool ended = false;

  std::string field(std::string_view name) const {
    if (!head) return "(no head)";
    return std::string(http::find_field(head->fields, name).value_or("(none)"));
  }
};

http::RequestHead request_with(std::string content_type) {
  http::RequestHead head;
  head.method = "POST";
  head.path = "/coral.colony.v1.ColonyService/GetStatus";
  if (!content_type.empty()) head.fields.push_back({"content-type", std::move(content_type)});
  return head;
}

const Error kUnavailable{Code::unavailable, "colony alpha is not reachable at 127.0.0.1:9000: connection refused", {}};

struct Frame {
  std::uint8_t flags = 0;
  std::string payload;
};

// Splits `body` into envelopes; a malformed body is a test failure.
std::vector<Frame> frames(std::string_view body) {
  std::vector<Frame> out;
  while (!body.empty()) {
    if (body.size() < kEnvelopeHeaderBytes) {
      ADD_FAILURE() << "body ends inside an envelope header";
      break;
    }
    const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(body[i])); };
    const std::size_t length = (byte(1) << 24) | (byte(2) << 16) | (byte(3) << 8) | byte(4);
    if (body.size() - kEnvelopeHeaderBytes < length) {
      ADD_FAILURE() << "body ends inside an envelope of " << length << " bytes";
      break;
    }
    out.push_back(Frame{static_cast<std::uint8_t>(body[0]), std::string(body.substr(kEnvelopeHeaderBytes, length))});
    body.remove_prefix(kEnvelopeHeaderBytes + length);
  }
  return out;
}

TEST(ErrorResponseTest, GrpcIsTrailersOnlyWithStatusAndMessage) {
  RecordingWriter writer;
  write_error_response(writer, request_with("application/grpc"), kUnavailable);

  EXPECT_EQ(writer.heads, 1);
  ASSERT_TRUE(writer.head);
  EXPECT_EQ(writer.head->status, 200);
  EXPECT_TRUE(writer.head_ended_stream) << "gRPC Trailers-Only: the head ends the stream";
  EXPECT_TRUE(writer.data.empty());
  EXPECT_FALSE(writer.trailers);
  EXPECT_EQ(writer.resets, 0);
  EXPECT_TRUE(writer.field("content-type").starts_with("application/grpc")) << writer.field("content-type");
  EXPECT_EQ(writer.field("grpc-status"), "14");

  // What a gRPC client reads from it.
  const auto status = grpc_status_from_trailers(writer.head->fields);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::unavailable);
  EXPECT_EQ(status.error().message, kUnavailable.message);
}

TEST(ErrorResponseTest, GrpcWithSubtypeAndMetadataKeepsThem) {
  RecordingWriter writer;
  Error error{Code::not_found, "this proxy does not serve colony \"gamma\"", {{"x-colony", "gamma"}}};
  write_error_response(writer, request_with("application/grpc+proto"), error);

  ASSERT_TRUE(writer.head);
  EXPECT_TRUE(writer.head_ended_stream);
  EXPECT_EQ(writer.field("grpc-status"), "5");
  EXPECT_EQ(writer.field("x-colony"), "gamma");
  const auto status = grpc_status_from_trailers(writer.head->fields);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::not_found);
  EXPECT_EQ(status.error().message, error.message);
}

TEST(ErrorResponseTest, GrpcWebIsHeadPlusOneTrailerFrame) {
  RecordingWriter writer;
  write_error_response(writer, request_with("application/grpc-web+proto"), kUnavailable);

  EXPECT_EQ(writer.heads, 1);
  ASSERT_TRUE(writer.head);
  EXPECT_EQ(writer.head->status, 200);
  EXPECT_FALSE(writer.head_ended_stream);
  EXPECT_TRUE(writer.field("content-type").starts_with("application/grpc-web")) << writer.field("content-type");
  EXPECT_EQ(writer.field("grpc-status"), "(none)") << "gRPC-Web carries the status in the body";
  ASSERT_EQ(writer.data.size(), 1u);
  EXPECT_TRUE(writer.data[0].end_stream);
  EXPECT_FALSE(writer.trailers);

  const auto body = frames(writer.data[0].bytes);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].flags, 0x80);
  EXPECT_NE(body[0].payload.find("grpc-status: 14\r\n"), std::string::npos) << body[0].payload;

  const auto fields = parse_grpc_web_trailers(body[0].payload);
  ASSERT_TRUE(fields) << fields.error().message;
  const auto status = grpc_status_from_trailers(*fields);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::unavailable);
  EXPECT_EQ(status.error().message, kUnavailable.message);
}

TEST(ErrorResponseTest, ConnectStreamingIsHeadPlusEndStreamMessage) {
  RecordingWriter writer;
  write_error_response(writer, request_with("application/connect+json"), kUnavailable);

  EXPECT_EQ(writer.heads, 1);
  ASSERT_TRUE(writer.head);
  EXPECT_EQ(writer.head->status, 200);
  EXPECT_FALSE(writer.head_ended_stream);
  EXPECT_EQ(writer.field("content-type"), "application/connect+json");
  ASSERT_EQ(writer.data.size(), 1u);
  EXPECT_TRUE(writer.data[0].end_stream);

  const auto body = frames(writer.data[0].bytes);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].flags, 0x02);
  EXPECT_NE(body[0].payload.find("\"error\""), std::string::npos) << body[0].payload;
  EXPECT_NE(body[0].payload.find("\"code\":\"unavailable\""), std::string::npos) << body[0].payload;

  const auto end = parse_connect_end_stream(body[0].payload);
  ASSERT_TRUE(end) << end.error().message;
  ASSERT_TRUE(end->error);
  EXPECT_EQ(end->error->code, Code::unavailable);
  EXPECT_EQ(end->error->message, kUnavailable.message);
}

TEST(ErrorResponseTest, ConnectStreamingProtoAnswersInProto) {
  RecordingWriter writer;
  write_error_response(writer, request_with("application/connect+proto"), kUnavailable);

  ASSERT_TRUE(writer.head);
  EXPECT_EQ(writer.head->status, 200);
  EXPECT_EQ(writer.field("content-type"), "application/connect+proto");
  ASSERT_EQ(writer.data.size(), 1u);
  const auto body = frames(writer.data[0].bytes);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].flags, 0x02);  // the end-of-stream message is JSON in both encodings
  const auto end = parse_connect_end_stream(body[0].payload);
  ASSERT_TRUE(end) << end.error().message;
  ASSERT_TRUE(end->error);
  EXPECT_EQ(end->error->code, Code::unavailable);
}

struct UnaryCase {
  std::string content_type;
  Code code;
  int http_status;
};

class ErrorResponseUnaryTest : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(ErrorResponseUnaryTest, ConnectUnaryIsHttpStatusWithJsonBody) {
  const auto& param = GetParam();
  const Error error{param.code, "colony beta: something went wrong", {}};
  RecordingWriter writer;
  write_error_response(writer, request_with(param.content_type), error);

  EXPECT_EQ(writer.heads, 1);
  ASSERT_TRUE(writer.head);
  EXPECT_EQ(writer.head->status, param.http_status);
  EXPECT_FALSE(writer.head_ended_stream);
  EXPECT_EQ(writer.field("content-type"), "application/json");
  ASSERT_EQ(writer.data.size(), 1u);
  EXPECT_TRUE(writer.data[0].end_stream);
  const std::string& body = writer.data[0].bytes;
  EXPECT_EQ(writer.field("content-length"), std::to_string(body.size()));

  const std::string code_json = "\"code\":\"" + std::string(to_string(param.code)) + "\"";
  EXPECT_NE(body.find(code_json), std::string::npos) << body;
  EXPECT_NE(body.find("\"message\":\"colony beta: something went wrong\""), std::string::npos) << body;

  const Error parsed = parse_connect_error(writer.head->status, body);
  EXPECT_EQ(parsed.code, param.code);
  EXPECT_EQ(parsed.message, error.message);
}

INSTANTIATE_TEST_SUITE_P(
    ContentTypes, ErrorResponseUnaryTest,
    ::testing::Values(UnaryCase{"application/json", Code::unavailable, 503},
                      UnaryCase{"application/json", Code::not_found, 404},
                      UnaryCase{"application/proto", Code::unavailable, 503},
                      UnaryCase{"", Code::unavailable, 503},
                      UnaryCase{"", Code::not_found, 404},
                      UnaryCase{"text/plain", Code::not_found, 404}),
    [](const ::testing::TestParamInfo<UnaryCase>& info) {
      std::string name = info.param.content_type.empty() ? "none" : info.param.content_type;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name + "_" + std::string(to_string(info.param.code));
    });

TEST(ErrorResponseTest, ConnectUnaryCarriesMetadataAsHeaders) {
  RecordingWriter writer;
  write_error_response(writer, request_with("application/json"),
                       Error{Code::not_found, "no such colony", {{"x-served", "alpha, beta"}}});
  ASSERT_TRUE(writer.head);
  EXPECT_EQ(writer.head->status, 404);
  EXPECT_EQ(writer.field("x-served"), "alpha, beta");
}

}  // namespace
}  // namespace coral::rpc
