#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/codec.h"

namespace coral::http {
namespace {

using FieldList = std::vector<std::pair<std::string, std::string>>;


FieldList list(const Fields& fields) {
  FieldList out;
  for (const Field& field : fields) out.emplace_back(field.name, field.value);
  return out;
}

class TestResponse final : public ResponseHandler {
 public:
  void on_head(ResponseHead response) override { head = std::move(response); }
  void on_body(Bytes chunk) override { body += as_chars(chunk); }
  void on_trailers(Fields fields) override { trailers = std::move(fields); }
  void on_end() override {
    ++ends;
    if (after_end) after_end();
  }
  void on_reset(std::string why) override {
    ++resets;
    reason = std::move(why);
  }
  void on_drained() override { ++drained; }

  std::optional<ResponseHead> head;
  std::string body;
  std::optional<Fields> trailers;
  int ends = 0;
  int resets = 0;
  int drained = 0;
  std::string reason;
  std::function<void()> after_end;
};

RequestHead request(std::string method, std::string path, Fields fields = {}) {
  RequestHead head;
  head.method = std::move(method);
  head.path = std::move(path);
  head.authority = "example.com";
  head.fields = std::move(fields);
  return head;
}

const std::string kGet = "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n";

class H1ClientCodecTest : public testing::Test {
 protected:
  std::expected<void, CodecError> feed(std::string_view input) { return codec->receive(as_bytes(input)); }

  void feed_bytewise(std::string_view input) {
    for (char c : input) ASSERT_TRUE(feed(std::string_view(&c, 1)).has_value());
  }

  std::string drain() {
    std::string out;
    for (;;) {
      const Bytes chunk = codec->next_output();
      if (chunk.empty()) return out;
      out += as_chars(chunk);
    }
  }

  // Starts a GET without body and checks what went out.
  std::shared_ptr<TestResponse> get() {
    auto response = std::make_shared<TestResponse>();
    codec->start_request(request("GET", "/"), true, response);
    EXPECT_EQ(drain(), kGet);
    return response;
  }

  int wakes = 0;
  std::unique_ptr<ClientCodec> codec = make_h1_client_codec([this] { ++wakes; });
};

// ---------------------------------------------------------------- requests

TEST_F(H1ClientCodecTest, GetRequestBytes) {
  EXPECT_TRUE(codec->can_start_request());
  auto response = std::make_shared<TestResponse>();
  codec->start_request(request("GET", "/path?q=1",
                               {{"accept", "*/*"},
                                {"connection", "keep-alive"},
                                {"te", "trailers"},
                                {"host", "ignored"},
                                {"x-bad", "a\nb"}}),
                       true, response);
  EXPECT_EQ(wakes, 1);
  EXPECT_FALSE(codec->can_start_request());
  EXPECT_FALSE(codec->idle());
  EXPECT_EQ(drain(), "GET /path?q=1 HTTP/1.1\r\nhost: example.com\r\naccept: */*\r\n\r\n");
}

TEST_F(H1ClientCodecTest, EmptyPostSendsContentLengthZero) {
  codec->start_request(request("POST", "/p"), true, std::make_shared<TestResponse>());
  EXPECT_EQ(drain(), "POST /p HTTP/1.1\r\nhost: example.com\r\ncontent-length: 0\r\n\r\n");
}

TEST_F(H1ClientCodecTest, StreamedBodyIsChunked) {
  RequestWriter& writer =
      codec->start_request(request("POST", "/rpc", {{"content-type", "application/grpc-web+proto"}}), false,
                           std::make_shared<TestResponse>());
  writer.send_data(as_bytes("hello"), false);
  writer.send_data(as_bytes(""), false);
  writer.send_data(as_bytes("0123456789abcdefg"), true);
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(drain(),
            "POST /rpc HTTP/1.1\r\nhost: example.com\r\ncontent-type: application/grpc-web+proto\r\n"
            "transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n");
  writer.send_data(as_bytes("late"), true);  // request complete: ignored
  EXPECT_EQ(drain(), "");
}

TEST_F(H1ClientCodecTest, KnownContentLengthBodyIsSentRaw) {
  RequestWriter& writer =
      codec->start_request(request("PUT", "/k", {{"content-length", "10"}}), false, std::make_shared<TestResponse>());
  writer.send_data(as_bytes("hello"), false);
  writer.send_data(as_bytes("world"), true);
  EXPECT_EQ(drain(), "PUT /k HTTP/1.1\r\nhost: example.com\r\ncontent-length: 10\r\n\r\nhelloworld");
}

TEST_F(H1ClientCodecTest, BodyLongerThanContentLengthResets) {
  auto response = std::make_shared<TestResponse>();
  RequestWriter& writer = codec->start_request(request("PUT", "/k", {{"content-length", "3"}}), false, response);
  writer.send_data(as_bytes("hello"), true);
  EXPECT_EQ(response->resets, 1);
  EXPECT_EQ(response->reason, "request body longer than its content-length");
  EXPECT_TRUE(codec->wants_close());
  EXPECT_FALSE(codec->can_start_request());
}

TEST_F(H1ClientCodecTest, WritesOutsideReceiveWakeOncePerDrain) {
  RequestWriter& writer = codec->start_request(request("POST", "/s"), false, std::make_shared<TestResponse>());
  EXPECT_EQ(wakes, 1);
  writer.send_data(as_bytes("a"), false);
  EXPECT_EQ(wakes, 1);
  drain();
  writer.send_data(as_bytes("b"), false);
  EXPECT_EQ(wakes, 2);
  EXPECT_EQ(as_chars(codec->next_output()), "1\r\nb\r\n");
}

TEST_F(H1ClientCodecTest, QueuedBytesAndOnDrained) {
  auto response = std::make_shared<TestResponse>();
  RequestWriter& writer = codec->start_request(request("POST", "/s"), false, response);
  drain();
  writer.send_data(as_bytes("abc"), false);
  EXPECT_EQ(writer.queued_bytes(), 8u);
  EXPECT_EQ(as_chars(codec->next_output()), "3\r\nabc\r\n");
  EXPECT_EQ(writer.queued_bytes(), 0u);
  EXPECT_EQ(response->drained, 1);
  EXPECT_TRUE(codec->next_output().empty());
  EXPECT_EQ(response->drained, 1);
}

// --------------------------------------------------------------- responses

const std::string kContentLengthResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

TEST_F(H1ClientCodecTest, ContentLengthResponse) {
  auto response = get();
  ASSERT_TRUE(feed(kContentLengthResponse));
  ASSERT_TRUE(response->head);
  EXPECT_EQ(response->head->status, 200);
  EXPECT_EQ(list(response->head->fields), (FieldList{{"content-type", "text/plain"}, {"content-length", "5"}}));
  EXPECT_EQ(response->body, "hello");
  EXPECT_FALSE(response->trailers);
  EXPECT_EQ(response->ends, 1);
  EXPECT_EQ(response->resets, 0);
  EXPECT_TRUE(codec->can_start_request());
  EXPECT_TRUE(codec->idle());
  EXPECT_FALSE(codec->wants_close());
}

TEST_F(H1ClientCodecTest, ContentLengthResponseOneByteAtATime) {
  auto response = get();
  feed_bytewise(kContentLengthResponse);
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->ends, 1);
}

const std::string kChunkedResponse =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n"
    "3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nGrpc-Status: 0\r\nGrpc-Message: ok\r\n\r\n";

TEST_F(H1ClientCodecTest, ChunkedResponseWithTrailers) {
  auto response = get();
  ASSERT_TRUE(feed(kChunkedResponse));
  ASSERT_TRUE(response->head);
  EXPECT_EQ(list(response->head->fields), (FieldList{{"trailer", "grpc-status"}}));
  EXPECT_EQ(response->body, "abcdefg");
  ASSERT_TRUE(response->trailers);
  EXPECT_EQ(list(*response->trailers), (FieldList{{"grpc-status", "0"}, {"grpc-message", "ok"}}));
  EXPECT_EQ(response->ends, 1);
}

TEST_F(H1ClientCodecTest, ChunkedResponseOneByteAtATime) {
  auto response = get();
  feed_bytewise(kChunkedResponse);
  EXPECT_EQ(response->body, "abcdefg");
  ASSERT_TRUE(response->trailers);
  EXPECT_EQ(list(*response->trailers), (FieldList{{"grpc-status", "0"}, {"grpc-message", "ok"}}));
  EXPECT_EQ(response->ends, 1);
}

TEST_F(H1ClientCodecTest, ResponseReadUntilClose) {
  auto response = get();
  ASSERT_TRUE(feed("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc"));
  ASSERT_TRUE(feed("def"));
  EXPECT_EQ(response->ends, 0);
  codec->connection_lost();
  EXPECT_EQ(response->body, "abcdef");
  EXPECT_EQ(response->ends, 1);
  EXPECT_EQ(response->resets, 0);
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ClientCodecTest, ConnectionLostMidResponseResets) {
  auto response = get();
  ASSERT_TRUE(feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
  codec->connection_lost();
  EXPECT_EQ(response->ends, 0);
  EXPECT_EQ(response->resets, 1);
  EXPECT_EQ(response->reason, "connection closed before the response completed");
}

TEST_F(H1ClientCodecTest, ConnectionLostBeforeTheHeadResets) {
  auto response = get();
  ASSERT_TRUE(feed("HTTP/1.1 200 OK\r\nContent-"));
  codec->connection_lost();
  EXPECT_FALSE(response->head);
  EXPECT_EQ(response->resets, 1);
}

TEST_F(H1ClientCodecTest, InterimResponsesAreSkipped) {
  auto response = get();
  feed_bytewise(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_TRUE(response->head);
  EXPECT_EQ(response->head->status, 200);
  EXPECT_EQ(list(response->head->fields), (FieldList{{"content-length", "2"}}));
  EXPECT_EQ(response->body, "ok");
  EXPECT_EQ(response->ends, 1);
}

TEST_F(H1ClientCodecTest, ConnectionCloseResponse) {
  auto response = get();
  ASSERT_TRUE(feed("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"));
  EXPECT_EQ(response->ends, 1);
  EXPECT_TRUE(list(response->head->fields) == (FieldList{{"content-length", "2"}}));
  EXPECT_TRUE(codec->wants_close());
  EXPECT_FALSE(codec->can_start_request());
}

TEST_F(H1ClientCodecTest, Http10ResponseClosesTheConnection) {
  auto response = get();
  ASSERT_TRUE(feed("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  EXPECT_EQ(response->ends, 1);
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ClientCodecTest, HandlerIsReleasedAfterTheEnd) {
  auto response = get();
  std::weak_ptr<TestResponse> weak = response;
  ASSERT_TRUE(feed(kContentLengthResponse));
  EXPECT_EQ(response->ends, 1);
  response.reset();
  EXPECT_TRUE(weak.expired());
}

TEST_F(H1ClientCodecTest, HeadResponseHasNoBody) {
  auto response = std::make_shared<TestResponse>();
  codec->start_request(request("HEAD", "/"), true, response);
  EXPECT_EQ(drain(), "HEAD / HTTP/1.1\r\nhost: example.com\r\n\r\n");
  ASSERT_TRUE(feed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"));
  EXPECT_EQ(response->ends, 1);
  EXPECT_TRUE(codec->can_start_request());
}

TEST_F(H1ClientCodecTest, NextRequestFromOnEnd) {
  auto first = std::make_shared<TestResponse>();
  auto second = std::make_shared<TestResponse>();
  first->after_end = [&] { codec->start_request(request("GET", "/"), true, second); };
  codec->start_request(request("GET", "/"), true, first);
  EXPECT_EQ(drain(), kGet);
  ASSERT_TRUE(feed(kContentLengthResponse));
  EXPECT_EQ(first->ends, 1);
  EXPECT_FALSE(codec->can_start_request());
  EXPECT_EQ(drain(), kGet);
  ASSERT_TRUE(feed("HTTP/1.1 204 No Content\r\n\r\n"));
  EXPECT_EQ(second->ends, 1);
  EXPECT_EQ(second->head->status, 204);
}

TEST_F(H1ClientCodecTest, ResponseBeforeTheRequestBodyEndsClosesTheConnection) {
  auto response = std::make_shared<TestResponse>();
  RequestWriter& writer = codec->start_request(request("POST", "/upload"), false, response);
  writer.send_data(as_bytes("part"), false);
  drain();
  ASSERT_TRUE(feed("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(response->head->status, 413);
  EXPECT_EQ(response->ends, 1);
  EXPECT_TRUE(codec->wants_close());
  writer.send_data(as_bytes("more"), true);  // inert
  EXPECT_EQ(drain(), "");
}

TEST_F(H1ClientCodecTest, WriterResetEndsTheExchange) {
  auto response = std::make_shared<TestResponse>();
  RequestWriter& writer = codec->start_request(request("POST", "/upload"), false, response);
  writer.reset();
  EXPECT_EQ(response->resets, 1);
  EXPECT_EQ(response->reason, "request reset");
  EXPECT_TRUE(codec->wants_close());
  EXPECT_EQ(feed("HTTP/1.1 200 OK\r\n\r\n"), std::unexpected(CodecError::closed));
}

// A handler that resets its own request as soon as the head arrives.
struct ResetOnHead final : ResponseHandler {
  void on_head(ResponseHead) override {
    ++heads;
    writer->reset();
  }
  void on_body(Bytes) override { ++bodies; }
  void on_trailers(Fields) override {}
  void on_end() override {}
  void on_reset(std::string) override { ++resets; }

  RequestWriter* writer = nullptr;
  int heads = 0;
  int bodies = 0;
  int resets = 0;
};

TEST_F(H1ClientCodecTest, ResetFromOnHeadStopsTheResponse) {
  auto handler = std::make_shared<ResetOnHead>();
  handler->writer = &codec->start_request(request("GET", "/"), true, handler);
  EXPECT_EQ(drain(), kGet);
  EXPECT_TRUE(feed(kContentLengthResponse));
  EXPECT_EQ(handler->heads, 1);
  EXPECT_EQ(handler->bodies, 0);
  EXPECT_EQ(handler->resets, 1);
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ClientCodecTest, MalformedResponse) {
  auto response = get();
  EXPECT_EQ(feed("HTTP/1.1 2000 Nope\r\n\r\n"), std::unexpected(CodecError::protocol));
  EXPECT_EQ(response->resets, 1);
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ClientCodecTest, BytesWithoutARequestAreAProtocolError) {
  EXPECT_EQ(feed("HTTP/1.1 200 OK\r\n\r\n"), std::unexpected(CodecError::protocol));
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ClientCodecTest, StartRequestWhenBusyResets) {
  get();
  auto second = std::make_shared<TestResponse>();
  codec->start_request(request("GET", "/"), true, second);
  EXPECT_EQ(second->resets, 1);
  EXPECT_EQ(drain(), "");
}

TEST_F(H1ClientCodecTest, InvalidTargetIsRefused) {
  auto response = std::make_shared<TestResponse>();
  codec->start_request(request("GET", "/a HTTP/1.1\r\nhost: evil\r\n\r\nGET /b"), true, response);
  EXPECT_EQ(response->resets, 1);
  EXPECT_EQ(response->reason, "invalid request method or target");
  EXPECT_EQ(drain(), "");
  EXPECT_TRUE(codec->can_start_request());
}

TEST_F(H1ClientCodecTest, ShutdownClosesWhenIdle) {
  auto response = get();
  codec->shutdown();
  EXPECT_FALSE(codec->wants_close());
  EXPECT_FALSE(codec->can_start_request());
  ASSERT_TRUE(feed(kContentLengthResponse));
  EXPECT_TRUE(codec->wants_close());
}

}  // namespace
}  // namespace coral::http
