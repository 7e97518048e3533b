#include "http/h1_server_codec.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coral::http {
namespace {

using FieldList = std::vector<std::pair<std::string, std::string>>;


FieldList list(const Fields& fields) {
  FieldList out;
  for (const Field& field : fields) out.emplace_back(field.name, field.value);
  return out;
}

// What the application saw of one request.
struct Record {
  RequestHead head;
  std::string body;
  int ends = 0;
  int resets = 0;
  int drained = 0;
  bool destroyed = false;
  ResponseWriter* writer = nullptr;
};

class TestApp;

class TestHandler final : public RequestHandler {
 public:
  TestHandler(TestApp& app, std::shared_ptr<Record> record) : app_(app), record_(std::move(record)) {}
  ~TestHandler() override { record_->destroyed = true; }
  void on_body(Bytes chunk) override;
  void on_end() override;
  void on_reset() override { ++record_->resets; }
  void on_drained() override;

 private:
  TestApp& app_;
  std::shared_ptr<Record> record_;
};

// Records every request; the hooks script the responses.
class TestApp final : public Application {
 public:
  std::unique_ptr<RequestHandler> on_request(RequestHead head, ResponseWriter& writer) override {
    auto record = std::make_shared<Record>();
    record->head = std::move(head);
    record->writer = &writer;
    records.push_back(record);
    auto handler = std::make_unique<TestHandler>(*this, record);
    if (on_head) on_head(*record);
    return handler;
  }

  std::vector<std::shared_ptr<Record>> records;
  std::function<void(Record&)> on_head;
  std::function<void(Record&)> on_body;
  std::function<void(Record&)> on_end;
  std::function<void(Record&)> on_drained;
};

void TestHandler::on_body(Bytes chunk) {
  record_->body += as_chars(chunk);
  if (app_.on_body) app_.on_body(*record_);
}
void TestHandler::on_end() {
  ++record_->ends;
  if (app_.on_end) app_.on_end(*record_);
}
void TestHandler::on_drained() {
  ++record_->drained;
  if (app_.on_drained) app_.on_drained(*record_);
}

std::string echo_body(const Record& record) { return record.head.path + ":" + record.body; }

// 200 with "<path>:<request body>", content-length framed.
void echo(Record& record) {
  const std::string body = echo_body(record);
  record.writer->send_head({200, {{"content-length", std::to_string(body.size())}}}, false);
  record.writer->send_data(as_bytes(body), true);
}

std::string echo_response(std::string_view path, std::string_view body = "") {
  const std::string content = std::string(path) + ":" + std::string(body);
  return "HTTP/1.1 200 OK\r\ncontent-length: " + std::to_string(content.size()) + "\r\n\r\n" + content;
}

constexpr std::string_view kBadRequest = "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

class H1ServerCodecTest : public testing::Test {
 protected:
  void make(ServerLimits limits) {
    codec = make_h1_server_codec(
        app, [this] { ++wakes; }, limits);
  }

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

  TestApp app;
  int wakes = 0;
  std::unique_ptr<H1ServerCodec> codec = make_h1_server_codec(app, [this] { ++wakes; }, {});
};

// ------------------------------------------------------------------ requests

TEST_F(H1ServerCodecTest, SimpleGet) {
  ASSERT_TRUE(feed("GET /foo?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\nACCEPT: */*\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 1u);
  Record& record = *app.records[0];
  EXPECT_EQ(record.head.method, "GET");
  EXPECT_EQ(record.head.path, "/foo?x=1");
  EXPECT_EQ(record.head.authority, "example.com");
  EXPECT_EQ(record.head.scheme, "http");
  EXPECT_EQ(record.head.version, Version::http1_1);
  EXPECT_EQ(list(record.head.fields), (FieldList{{"user-agent", "test"}, {"accept", "*/*"}}));
  EXPECT_EQ(record.ends, 1);
  EXPECT_FALSE(codec->idle());

  record.writer->send_head({200, {{"content-type", "text/plain"}, {"content-length", "5"}}}, false);
  record.writer->send_data(as_bytes("hello"), true);
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello");
  EXPECT_TRUE(record.destroyed);
  EXPECT_EQ(record.resets, 0);
  EXPECT_TRUE(codec->idle());
  EXPECT_FALSE(codec->wants_close());
}

TEST_F(H1ServerCodecTest, ContentLengthBody) {
  app.on_end = echo;
  const std::string request = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
  ASSERT_TRUE(feed(request));
  ASSERT_EQ(app.records.size(), 1u);
  EXPECT_EQ(app.records[0]->body, "hello world");
  EXPECT_EQ(list(app.records[0]->head.fields), (FieldList{{"content-length", "11"}}));
  EXPECT_EQ(drain(), echo_response("/echo", "hello world"));
}

TEST_F(H1ServerCodecTest, ContentLengthBodyOneByteAtATime) {
  app.on_end = echo;
  const std::string request = "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
  feed_bytewise(request);
  feed_bytewise(request);
  ASSERT_EQ(app.records.size(), 2u);
  EXPECT_EQ(app.records[0]->body, "hello world");
  EXPECT_EQ(app.records[1]->body, "hello world");
  EXPECT_EQ(drain(), echo_response("/echo", "hello world") + echo_response("/echo", "hello world"));
}

TEST_F(H1ServerCodecTest, BodyIsDeliveredIncrementally) {
  ASSERT_TRUE(feed("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"));
  ASSERT_EQ(app.records.size(), 1u);
  Record& record = *app.records[0];
  EXPECT_EQ(record.body, "abc");
  EXPECT_EQ(record.ends, 0);
  ASSERT_TRUE(feed("defghij"));
  EXPECT_EQ(record.body, "abcdefghij");
  EXPECT_EQ(record.ends, 1);
}

const std::string kChunkedRequest =
    "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n";

TEST_F(H1ServerCodecTest, ChunkedBody) {
  app.on_end = echo;
  ASSERT_TRUE(feed(kChunkedRequest + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 2u);  // answered at once, so the next one is read too
  EXPECT_EQ(app.records[0]->body, "hello world");
  EXPECT_TRUE(app.records[0]->head.fields.empty());  // transfer-encoding is the codec's
  EXPECT_EQ(drain(), echo_response("/c", "hello world") + echo_response("/next"));
  EXPECT_EQ(app.records.size(), 2u);
}

TEST_F(H1ServerCodecTest, ChunkedBodyOneByteAtATime) {
  app.on_end = echo;
  feed_bytewise(kChunkedRequest);
  feed_bytewise(kChunkedRequest);
  ASSERT_EQ(app.records.size(), 2u);
  EXPECT_EQ(app.records[0]->body, "hello world");
  EXPECT_EQ(app.records[1]->body, "hello world");
  EXPECT_EQ(app.records[1]->ends, 1);
  EXPECT_EQ(drain(), echo_response("/c", "hello world") + echo_response("/c", "hello world"));
}

TEST_F(H1ServerCodecTest, ConnectionSpecificFieldsAreDropped) {
  ASSERT_TRUE(
      feed("GET / HTTP/1.1\r\nHost: h\r\nTE: trailers\r\nConnection: keep-alive, X-Hop\r\n"
           "X-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Keep: 2\r\nProxy-Connection: x\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 1u);
  EXPECT_EQ(list(app.records[0]->head.fields), (FieldList{{"te", "trailers"}, {"x-keep", "2"}}));
}

TEST_F(H1ServerCodecTest, TeOtherThanTrailersIsDropped) {
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nHost: h\r\nTE: gzip\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 1u);
  EXPECT_TRUE(app.records[0]->head.fields.empty());
}

TEST_F(H1ServerCodecTest, AbsoluteFormTargetOverridesHost) {
  ASSERT_TRUE(feed("GET http://example.org:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 1u);
  EXPECT_EQ(app.records[0]->head.authority, "example.org:8080");
  EXPECT_EQ(app.records[0]->head.path, "/p?q");
  EXPECT_EQ(app.records[0]->head.scheme, "http");
}

// ---------------------------------------------------------------- pipelining

TEST_F(H1ServerCodecTest, PipelinedRequestsAreAnsweredInOrder) {
  app.on_end = echo;
  ASSERT_TRUE(feed("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(drain(), echo_response("/a") + echo_response("/b"));
  EXPECT_EQ(app.records.size(), 2u);
  EXPECT_TRUE(codec->idle());
}

TEST_F(H1ServerCodecTest, PipelinedRequestWaitsForTheResponseBeforeIt) {
  ASSERT_TRUE(feed("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 1u);
  EXPECT_EQ(drain(), "");
  EXPECT_EQ(app.records.size(), 1u);

  app.records[0]->writer->send_head({204, {}}, true);
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(drain(), "HTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_EQ(app.records.size(), 2u);  // parsed once the first exchange retired
  EXPECT_TRUE(app.records[0]->destroyed);
  EXPECT_EQ(app.records[1]->head.path, "/b");

  echo(*app.records[1]);
  EXPECT_EQ(drain(), echo_response("/b"));
}

TEST_F(H1ServerCodecTest, MalformedPipelinedRequestAfterAResponse) {
  ASSERT_TRUE(feed("GET /a HTTP/1.1\r\nHost: h\r\n\r\nBAD REQUEST LINE\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 1u);
  echo(*app.records[0]);
  EXPECT_EQ(drain(), echo_response("/a") + std::string(kBadRequest));
  EXPECT_TRUE(codec->wants_close());
}

// ---------------------------------------------------------------- keep-alive

TEST_F(H1ServerCodecTest, ConnectionCloseClosesAfterTheResponse) {
  app.on_end = echo;
  ASSERT_TRUE(feed("GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\n/a:");
  EXPECT_EQ(app.records.size(), 1u);  // RFC 9112 section 9.6: nothing after the close
  EXPECT_TRUE(codec->wants_close());
  EXPECT_EQ(feed("GET /c HTTP/1.1\r\nHost: h\r\n\r\n"), std::unexpected(CodecError::closed));
}

TEST_F(H1ServerCodecTest, ConnectionCloseWaitsForAStreamingResponse) {
  ASSERT_TRUE(feed("GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
  Record& record = *app.records[0];
  record.writer->send_head({200, {}}, false);
  EXPECT_FALSE(codec->wants_close());
  record.writer->send_data(as_bytes("x"), true);
  EXPECT_TRUE(codec->wants_close());
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n1\r\nx\r\n0\r\n\r\n");
}

TEST_F(H1ServerCodecTest, Http10ClosesByDefault) {
  app.on_end = echo;
  ASSERT_TRUE(feed("GET /a HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\n/a:");
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ServerCodecTest, Http10KeepAlive) {
  app.on_end = echo;
  ASSERT_TRUE(feed("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: keep-alive\r\n\r\n/a:");
  EXPECT_FALSE(codec->wants_close());
}

TEST_F(H1ServerCodecTest, Http10StreamingResponseIsDelimitedByClose) {
  ASSERT_TRUE(feed("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  Record& record = *app.records[0];
  record.writer->send_head({200, {}}, false);
  record.writer->send_data(as_bytes("abc"), true);
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabc");
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ServerCodecTest, ShutdownWhenIdleClosesAtOnce) {
  codec->shutdown();
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ServerCodecTest, ShutdownClosesAfterTheCurrentResponse) {
  ASSERT_TRUE(feed("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"));
  codec->shutdown();
  EXPECT_FALSE(codec->wants_close());
  echo(*app.records[0]);
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\n/a:");
  EXPECT_TRUE(codec->wants_close());
}

// ----------------------------------------------------------------- responses

TEST_F(H1ServerCodecTest, ChunkedResponseWithTrailers) {
  ASSERT_TRUE(feed("POST /rpc HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"));
  ResponseWriter& writer = *app.records[0]->writer;
  writer.send_head({200, {{"content-type", "application/grpc-web+proto"}}}, false);
  writer.send_data(as_bytes("abc"), false);
  writer.send_data(as_bytes(""), false);  // no zero-size chunk: that would end the body
  writer.send_data(as_bytes("0123456789abcdefg"), false);
  writer.send_trailers({{"grpc-status", "0"}, {"grpc-message", "ok"}, {"content-length", "9"}});
  EXPECT_EQ(drain(),
            "HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web+proto\r\ntransfer-encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n11\r\n0123456789abcdefg\r\n0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n");
  EXPECT_TRUE(app.records[0]->destroyed);
  EXPECT_FALSE(codec->wants_close());
}

TEST_F(H1ServerCodecTest, TrailersEndAContentLengthResponse) {
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  ResponseWriter& writer = *app.records[0]->writer;
  writer.send_head({200, {{"content-length", "2"}}}, false);
  writer.send_data(as_bytes("ok"), false);
  writer.send_trailers({{"grpc-status", "0"}});
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  EXPECT_TRUE(app.records[0]->destroyed);
}

TEST_F(H1ServerCodecTest, HeadOnlyResponseGetsContentLengthZero) {
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  app.records[0]->writer->send_head({404, {{"x-why", "nothing here"}}}, true);
  EXPECT_EQ(drain(), "HTTP/1.1 404 Not Found\r\nx-why: nothing here\r\ncontent-length: 0\r\n\r\n");
}

TEST_F(H1ServerCodecTest, UnsafeAndConnectionFieldsAreNotWritten) {
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  app.records[0]->writer->send_head({200,
                                     {{"connection", "keep-alive"},
                                      {"x-bad", "a\r\nb"},
                                      {"bad name", "v"},
                                      {"transfer-encoding", "gzip"},
                                      {"x-ok", "1"}}},
                                    true);
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\nx-ok: 1\r\ncontent-length: 0\r\n\r\n");
}

TEST_F(H1ServerCodecTest, ShortContentLengthBodyClosesTheConnection) {
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  ResponseWriter& writer = *app.records[0]->writer;
  writer.send_head({200, {{"content-length", "10"}}}, false);
  writer.send_data(as_bytes("abcdefghijklmnop"), true);  // the excess is dropped
  EXPECT_FALSE(codec->wants_close());
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabcdefghij");

  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 2u);
  ResponseWriter& second = *app.records[1]->writer;
  second.send_head({200, {{"content-length", "10"}}}, false);
  second.send_data(as_bytes("abc"), true);
  EXPECT_TRUE(codec->wants_close());
}

// ------------------------------------------------------------- 100-continue

TEST_F(H1ServerCodecTest, ExpectContinue) {
  app.on_end = echo;
  ASSERT_TRUE(feed("POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 1u);
  EXPECT_TRUE(app.records[0]->head.fields.size() == 1);  // content-length only; expect is the codec's
  EXPECT_EQ(drain(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(feed("hello"));
  EXPECT_EQ(drain(), echo_response("/u", "hello"));
}

TEST_F(H1ServerCodecTest, ExpectContinueRejectedSkipsTheContinueAndCloses) {
  app.on_head = [](Record& record) { record.writer->send_head({413, {}}, true); };
  ASSERT_TRUE(feed("POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n"));
  EXPECT_EQ(drain(), "HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  EXPECT_TRUE(codec->wants_close());
  EXPECT_EQ(app.records[0]->resets, 1);
  EXPECT_TRUE(app.records[0]->destroyed);
}

// ------------------------------------------------- early responses and resets

TEST_F(H1ServerCodecTest, ResponseBeforeTheBodyClosesAfterIt) {
  ASSERT_TRUE(feed("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n0123456789"));
  Record& record = *app.records[0];
  EXPECT_EQ(record.body, "0123456789");
  // The application gives up on the body (too large) and answers.
  record.writer->send_head({413, {}}, true);
  EXPECT_EQ(drain(), "HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
  EXPECT_TRUE(codec->wants_close());
  EXPECT_EQ(record.resets, 1);
  EXPECT_TRUE(record.destroyed);
  EXPECT_EQ(feed("more body"), std::unexpected(CodecError::closed));
  EXPECT_EQ(record.body, "0123456789");
}

TEST_F(H1ServerCodecTest, EarlyResponseWithTheBodyBufferedKeepsTheConnection) {
  app.on_head = [](Record& record) { record.writer->send_head({404, {}}, true); };
  ASSERT_TRUE(feed("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"));
  EXPECT_EQ(drain(), "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
  EXPECT_FALSE(codec->wants_close());
  EXPECT_EQ(app.records[0]->ends, 1);
  EXPECT_EQ(app.records[0]->resets, 0);
  EXPECT_TRUE(app.records[0]->destroyed);
}

TEST_F(H1ServerCodecTest, WriterResetClosesTheConnection) {
  ASSERT_TRUE(feed("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"));
  Record& record = *app.records[0];
  record.writer->send_head({200, {}}, false);
  record.writer->reset();
  EXPECT_TRUE(codec->wants_close());
  record.writer->send_data(as_bytes("ignored"), true);  // inert after reset
  // The head went out before the body was read: it already announced the close.
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n");
  EXPECT_EQ(record.resets, 1);
  EXPECT_TRUE(record.destroyed);
}

TEST_F(H1ServerCodecTest, ResetInsideOnRequestStopsParsing) {
  app.on_head = [](Record& record) { record.writer->reset(); };
  ASSERT_TRUE(feed("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"));
  EXPECT_TRUE(codec->wants_close());
  EXPECT_EQ(app.records[0]->body, "");
  EXPECT_EQ(app.records[0]->resets, 1);
  EXPECT_TRUE(app.records[0]->destroyed);
  EXPECT_EQ(drain(), "");
}

TEST_F(H1ServerCodecTest, ResetInsideOnBodyStopsParsing) {
  app.on_body = [](Record& record) { record.writer->reset(); };
  ASSERT_TRUE(
      feed("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_EQ(app.records.size(), 1u);
  Record& record = *app.records[0];
  EXPECT_EQ(record.body, "abc");
  EXPECT_EQ(record.ends, 0);
  EXPECT_EQ(record.resets, 1);
  EXPECT_TRUE(record.destroyed);
  EXPECT_TRUE(codec->wants_close());
  EXPECT_TRUE(codec->idle());
  EXPECT_EQ(feed("more"), std::unexpected(CodecError::closed));
  EXPECT_EQ(drain(), "");
}

TEST_F(H1ServerCodecTest, ConnectionLostResetsTheHandler) {
  ASSERT_TRUE(feed("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello"));
  Record& record = *app.records[0];
  codec->connection_lost();
  EXPECT_EQ(record.resets, 1);
  EXPECT_EQ(record.ends, 0);
  EXPECT_TRUE(record.destroyed);
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ServerCodecTest, ConnectionLostAfterACompleteExchangeDoesNotReset) {
  app.on_end = echo;
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  codec->connection_lost();
  EXPECT_EQ(app.records[0]->resets, 0);
  EXPECT_TRUE(app.records[0]->destroyed);
}

// ------------------------------------------------------- output and wake-ups

TEST_F(H1ServerCodecTest, WritesOutsideReceiveWake) {
  app.on_end = echo;
  ASSERT_TRUE(feed("GET /sync HTTP/1.1\r\nHost: h\r\n\r\n"));
  EXPECT_EQ(wakes, 0);  // the caller drains after receive() anyway
  EXPECT_EQ(drain(), echo_response("/sync"));

  app.on_end = nullptr;
  ASSERT_TRUE(feed("GET /later HTTP/1.1\r\nHost: h\r\n\r\n"));
  ResponseWriter& writer = *app.records[1]->writer;
  EXPECT_EQ(wakes, 0);
  writer.send_head({200, {}}, false);
  EXPECT_EQ(wakes, 1);
  writer.send_data(as_bytes("abc"), false);
  EXPECT_EQ(wakes, 1);  // one wake per next_output()
  EXPECT_EQ(drain(), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n");
  writer.send_data(as_bytes("de"), true);
  EXPECT_EQ(wakes, 2);
  EXPECT_EQ(drain(), "2\r\nde\r\n0\r\n\r\n");
}

TEST_F(H1ServerCodecTest, QueuedBytesAndOnDrained) {
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
  Record& record = *app.records[0];
  ResponseWriter& writer = *record.writer;
  int refills = 2;
  app.on_drained = [&](Record& r) {
    if (refills-- > 0) r.writer->send_data(as_bytes("more"), false);
  };
  writer.send_head({200, {}}, false);
  writer.send_data(as_bytes("0123456789"), false);
  EXPECT_GT(writer.queued_bytes(), 10u);

  EXPECT_EQ(as_chars(codec->next_output()), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\n0123456789\r\n");
  EXPECT_EQ(record.drained, 1);
  EXPECT_EQ(writer.queued_bytes(), 9u);  // refilled from on_drained
  EXPECT_EQ(as_chars(codec->next_output()), "4\r\nmore\r\n");
  EXPECT_EQ(record.drained, 2);
  EXPECT_EQ(as_chars(codec->next_output()), "4\r\nmore\r\n");
  EXPECT_EQ(record.drained, 3);
  EXPECT_EQ(writer.queued_bytes(), 0u);
  EXPECT_TRUE(codec->next_output().empty());
  EXPECT_EQ(record.drained, 3);
}

// -------------------------------------------------------------------- errors

TEST_F(H1ServerCodecTest, MalformedRequestLine) {
  EXPECT_EQ(feed("GARBAGE\r\n\r\n"), std::unexpected(CodecError::protocol));
  EXPECT_EQ(drain(), kBadRequest);
  EXPECT_TRUE(codec->wants_close());
  EXPECT_TRUE(app.records.empty());
}

TEST_F(H1ServerCodecTest, MissingHostIsRejected) {
  EXPECT_EQ(feed("GET / HTTP/1.1\r\n\r\n"), std::unexpected(CodecError::protocol));
  EXPECT_EQ(drain(), kBadRequest);
}

TEST_F(H1ServerCodecTest, UnknownTransferCodingIsNotImplemented) {
  EXPECT_EQ(feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
            std::unexpected(CodecError::protocol));
  EXPECT_EQ(drain(), "HTTP/1.1 501 Not Implemented\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
}

TEST_F(H1ServerCodecTest, ContentLengthWithChunkedIsRejected) {
  EXPECT_EQ(feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            std::unexpected(CodecError::protocol));
  EXPECT_EQ(drain(), kBadRequest);
}

TEST_F(H1ServerCodecTest, MalformedChunkResetsTheExchange) {
  ASSERT_TRUE(feed("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_EQ(feed("zz\r\n"), std::unexpected(CodecError::protocol));
  EXPECT_EQ(app.records[0]->resets, 1);
  EXPECT_TRUE(app.records[0]->destroyed);
  EXPECT_EQ(drain(), kBadRequest);  // no response had started
}

const std::string kBigField = "X-Big: " + std::string(2000, 'a') + "\r\n";

TEST_F(H1ServerCodecTest, OversizedHeader) {
  make({.max_header_bytes = 1024});
  EXPECT_EQ(feed("GET / HTTP/1.1\r\nHost: h\r\n" + kBigField + "\r\n"), std::unexpected(CodecError::header_too_large));
  EXPECT_EQ(drain(), "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
  EXPECT_TRUE(codec->wants_close());
}

TEST_F(H1ServerCodecTest, OversizedHeaderOneByteAtATime) {
  make({.max_header_bytes = 1024});
  const std::string request = "GET / HTTP/1.1\r\nHost: h\r\n" + kBigField + "\r\n";
  std::expected<void, CodecError> result;
  for (std::size_t i = 0; i < request.size() && result; ++i) result = feed(request.substr(i, 1));
  EXPECT_EQ(result, std::unexpected(CodecError::header_too_large));
}

TEST_F(H1ServerCodecTest, OversizedHeaderOfManySmallFieldsInLineSizedPieces) {
  // Beast consumes complete field lines as they come and only bounds what
  // is left over; the codec counts the whole block.
  make({.max_header_bytes = 1024});
  ASSERT_TRUE(feed("GET / HTTP/1.1\r\nHost: h\r\n"));
  std::expected<void, CodecError> result;
  for (int i = 0; i < 200 && result; ++i) result = feed("x-field: 0123456789\r\n");
  EXPECT_EQ(result, std::unexpected(CodecError::header_too_large));
  EXPECT_TRUE(app.records.empty());
}

// ------------------------------------------------------------------- upgrade

const std::string kUpgradeRequest =
    "POST /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    "HTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
const std::string kPreface = std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string("\0\0\0\4\0\0\0\0\0", 9);
constexpr std::string_view kSwitching =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

void expect_upgrade(H1ServerCodec& codec) {
  std::optional<H2cUpgrade> upgrade = codec.take_upgrade();
  ASSERT_TRUE(upgrade);
  EXPECT_EQ(upgrade->head.method, "POST");
  EXPECT_EQ(upgrade->head.path, "/up");
  EXPECT_EQ(upgrade->head.authority, "h");
  EXPECT_EQ(upgrade->head.version, Version::http1_1);
  EXPECT_EQ(list(upgrade->head.fields), (FieldList{{"content-length", "5"}, {"content-type", "text/plain"}}));
  EXPECT_EQ(upgrade->body, "hello");
  EXPECT_EQ(upgrade->settings, "AAMAAABkAAQAAP__");
  EXPECT_FALSE(codec.take_upgrade());
}

TEST_F(H1ServerCodecTest, H2cUpgrade) {
  ASSERT_TRUE(feed(kUpgradeRequest + kPreface));
  EXPECT_TRUE(app.records.empty());
  expect_upgrade(*codec);
  EXPECT_EQ(codec->take_leftover(), kPreface);
  EXPECT_EQ(drain(), kSwitching);
  EXPECT_FALSE(codec->wants_close());
}

TEST_F(H1ServerCodecTest, H2cUpgradeOneByteAtATime) {
  EXPECT_FALSE(codec->take_upgrade());
  feed_bytewise(kUpgradeRequest + kPreface);
  EXPECT_TRUE(app.records.empty());
  expect_upgrade(*codec);
  EXPECT_EQ(codec->take_leftover(), kPreface);
  EXPECT_EQ(drain(), kSwitching);
}

TEST_F(H1ServerCodecTest, UpgradeWithoutSettingsIsServedAsHttp11) {
  app.on_end = echo;
  ASSERT_TRUE(feed("GET /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"));
  EXPECT_FALSE(codec->take_upgrade());
  ASSERT_EQ(app.records.size(), 1u);
  EXPECT_TRUE(app.records[0]->head.fields.empty());
  EXPECT_EQ(drain(), echo_response("/a"));
}

TEST_F(H1ServerCodecTest, UpgradeWithMalformedSettingsIsServedAsHttp11) {
  app.on_end = echo;
  // Not base64url, and base64url of 4 bytes (SETTINGS entries are 6 bytes each).
  for (const std::string settings : {"!!!", "AAMAAA"}) {
    ASSERT_TRUE(feed("GET /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                     "HTTP2-Settings: " + settings + "\r\n\r\n"));
    EXPECT_FALSE(codec->take_upgrade()) << settings;
    EXPECT_EQ(drain(), echo_response("/a")) << settings;
  }
  EXPECT_EQ(app.records.size(), 2u);
}

TEST_F(H1ServerCodecTest, OtherUpgradesAreIgnored) {
  app.on_end = echo;
  ASSERT_TRUE(
      feed("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n"));
  EXPECT_FALSE(codec->take_upgrade());
  ASSERT_EQ(app.records.size(), 1u);
  EXPECT_EQ(list(app.records[0]->head.fields), (FieldList{{"sec-websocket-version", "13"}}));
  EXPECT_EQ(drain(), echo_response("/ws"));
}

TEST_F(H1ServerCodecTest, ChunkedUpgradeRequestIsServedAsHttp11) {
  app.on_end = echo;
  ASSERT_TRUE(
      feed("POST /a HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
           "HTTP2-Settings: AAMAAABkAAQAAP__\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"));
  EXPECT_FALSE(codec->take_upgrade());
  EXPECT_EQ(drain(), echo_response("/a", "hi"));
}


// ------------------------------------------- hostile clients (issue 16 §3)

TEST_F(H1ServerCodecTest, ReadingHeadFromFirstByteToEndOfHeadBlock) {
  EXPECT_FALSE(codec->reading_head());
  ASSERT_TRUE(feed("POST /a HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_TRUE(codec->reading_head()) << "half a head";
  ASSERT_TRUE(feed("Content-Length: 4\r\n\r\nab"));
  EXPECT_FALSE(codec->reading_head()) << "head complete, body in progress";
  ASSERT_TRUE(feed("cd"));
  EXPECT_FALSE(codec->reading_head());
}

// A client that pipelines requests and reads no responses: the next request
// is not started while a response's worth of output is still queued.
TEST_F(H1ServerCodecTest, PipelinedRequestsWaitWhileOutputIsQueued) {
  const std::string big(300 * 1024, 'x');
  app.on_end = [&](Record& record) {
    record.writer->send_head({200, {{"content-length", std::to_string(big.size())}}}, false);
    record.writer->send_data(as_bytes(big), true);
  };
  std::string requests;
  for (int i = 0; i < 50; ++i) requests += "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(feed(requests));
  EXPECT_EQ(app.records.size(), 1u) << "every pipelined request answered into memory";
  EXPECT_GE(codec->buffered_output(), big.size());
  // Each time the I/O layer takes the output, the next request is served.
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(codec->next_output().empty());
  EXPECT_GE(app.records.size(), 2u);
  EXPECT_LE(app.records.size(), 4u);
  std::size_t total = 0;
  for (int i = 0; i < 1000 && app.records.size() < 50; ++i) total += codec->next_output().size();
  EXPECT_EQ(app.records.size(), 50u) << "served once the client reads";
  EXPECT_GT(total, 0u);
}

TEST_F(H1ServerCodecTest, PauseBodyStopsReadingUntilResumed) {
  app.on_head = [](Record& record) { record.writer->pause_body(true); };
  ASSERT_TRUE(feed("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234"));
  ASSERT_EQ(app.records.size(), 1u);
  Record& record = *app.records[0];
  EXPECT_EQ(record.body, "01234") << "bytes already received are delivered";
  EXPECT_TRUE(codec->read_paused());
  const int wakes_before = wakes;
  record.writer->pause_body(false);
  EXPECT_FALSE(codec->read_paused());
  EXPECT_GT(wakes, wakes_before) << "resuming wakes the I/O layer, which reads again";
  ASSERT_TRUE(feed("56789"));
  EXPECT_EQ(record.body, "0123456789");
  EXPECT_EQ(record.ends, 1);
  EXPECT_FALSE(codec->read_paused()) << "a complete request never pauses reading";
  record.writer->pause_body(true);
  EXPECT_FALSE(codec->read_paused());
}

}  // namespace
}  // namespace coral::http
