// The HTTP/2 client and server codecs, connected through memory: what one
// writes, the other reads, until neither has anything more to say.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "http/codec.h"
#include "http/h2_codec.h"

namespace coral::http {
namespace {


// Answers every request from a script keyed by path.
class ScriptedApp final : public Application {
 public:
  struct Exchange : RequestHandler {
    ScriptedApp& app;
    RequestHead head;
    ResponseWriter& writer;
    std::string body;
    Exchange(ScriptedApp& a, RequestHead h, ResponseWriter& w) : app(a), head(std::move(h)), writer(w) {}
    void on_body(Bytes chunk) override {
      body += std::string(as_chars(chunk));
      if (head.path == "/early" && !answered) {
        answered = true;
        writer.send_head(ResponseHead{429, {}}, true);
      }
    }
    bool answered = false;
    void on_end() override {
      app.requests.push_back({head.method + " " + head.path, body});
      if (head.path == "/hold") {
        app.held = &writer;  // answered later, from outside receive()
        app.held_all.push_back(&writer);
        return;
      }
      if (head.path == "/pause") {
        writer.send_head(ResponseHead{200, {}}, true);
        return;
      }
      ResponseHead response{200, {{"content-type", "text/plain"}, {"x-path", head.path}}};
      if (head.path == "/trailers") {
        writer.send_head(response, false);
        writer.send_data(as_bytes("part1,"), false);
        writer.send_data(as_bytes("part2"), false);
        writer.send_trailers({{"grpc-status", "0"}, {"grpc-message", "fine"}});
        return;
      }
      if (head.path == "/early") {
        return;  // answered in on_body, before the request ends
      }
      if (head.path == "/reset") {
        writer.reset();
        return;
      }
      writer.send_head(response, false);
      writer.send_data(as_bytes("echo:" + body), true);
    }
    void on_reset() override { app.resets++; }
  };

  std::unique_ptr<RequestHandler> on_request(RequestHead head, ResponseWriter& writer) override {
    if (head.path == "/pause") {
      writer.pause_body(true);
      paused = &writer;
    }
    auto exchange = std::make_unique<Exchange>(*this, std::move(head), writer);
    if (paused == &writer) paused_exchange = exchange.get();
    return exchange;
  }

  std::vector<std::pair<std::string, std::string>> requests;
  ResponseWriter* held = nullptr;
  std::vector<ResponseWriter*> held_all;
  ResponseWriter* paused = nullptr;
  Exchange* paused_exchange = nullptr;
  int resets = 0;
};

struct Response final : ResponseHandler {
  ResponseHead head;
  std::string body;
  Fields trailers;
  bool ended = false;
  std::string reset;
  void on_head(ResponseHead h) override { head = std::move(h); }
  void on_body(Bytes chunk) override { body += std::string(as_chars(chunk)); }
  void on_trailers(Fields t) override { trailers = std::move(t); }
  void on_end() override { ended = true; }
  void on_reset(std::string why) override { reset = std::move(why); }
};

class H2CodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = make_h2_server_codec(app_, [this] { server_woken_++; }, ServerLimits{});
    client_ = make_h2_client_codec([] {});
  }

  // Moves bytes both ways until both codecs are quiet (bounded).
  void pump() {
    for (int round = 0; round < 100; ++round) {
      const std::string to_server = drain(*client_);
      const std::string to_client = drain(*server_);
      if (to_server.empty() && to_client.empty()) return;
      if (!to_server.empty()) {
        ASSERT_TRUE(server_->receive(as_bytes(to_server)));
      }
      if (!to_client.empty()) {
        ASSERT_TRUE(client_->receive(as_bytes(to_client)));
      }
    }
    FAIL() << "codecs kept talking";
  }
  static std::string drain(Codec& codec) {
    std::string all;
    for (Bytes out = codec.next_output(); !out.empty(); out = codec.next_output()) all += std::string(as_chars(out));
    return all;
  }
  std::shared_ptr<Response> get(const std::string& path, std::string body = {}) {
    auto response = std::make_shared<Response>();
    RequestHead head{"POST", path, "example:80", "http", {{"content-type", "text/plain"}}, Version::http2, {}};
    RequestWriter& writer = client_->start_request(std::move(head), body.empty(), response);
    if (!body.empty()) writer.send_data(as_bytes(body), true);
    return response;
  }

  ScriptedApp app_;
  int server_woken_ = 0;
  std::unique_ptr<ServerCodec> server_;
  std::unique_ptr<ClientCodec> client_;
};

TEST_F(H2CodecTest, RequestAndResponseWithBodies) {
  auto response = get("/echo", "hello");
  pump();
  ASSERT_TRUE(response->ended) << response->reset;
  EXPECT_EQ(response->head.status, 200);
  EXPECT_EQ(find_field(response->head.fields, "x-path"), "/echo");
  EXPECT_EQ(response->body, "echo:hello");
  ASSERT_EQ(app_.requests.size(), 1u);
  EXPECT_EQ(app_.requests[0].first, "POST /echo");
  EXPECT_TRUE(server_->idle());
}

TEST_F(H2CodecTest, ManyConcurrentStreamsOnOneConnection) {
  std::vector<std::shared_ptr<Response>> responses;
  for (int i = 0; i < 50; ++i) responses.push_back(get("/echo", "n" + std::to_string(i)));
  pump();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(responses[i]->ended);
    EXPECT_EQ(responses[i]->body, "echo:n" + std::to_string(i));
  }
}

TEST_F(H2CodecTest, TrailersFollowTheBody) {
  auto response = get("/trailers");
  pump();
  ASSERT_TRUE(response->ended);
  EXPECT_EQ(response->body, "part1,part2");
  ASSERT_EQ(response->trailers.size(), 2u);
  EXPECT_EQ(find_field(response->trailers, "grpc-status"), "0");
  EXPECT_EQ(find_field(response->trailers, "grpc-message"), "fine");
}

TEST_F(H2CodecTest, ServerResetReachesTheClient) {
  auto response = get("/reset");
  pump();
  EXPECT_FALSE(response->ended);
  EXPECT_NE(response->reset.find("stream reset"), std::string::npos) << response->reset;
}

TEST_F(H2CodecTest, ClientResetReachesTheHandler) {
  auto response = std::make_shared<Response>();
  RequestWriter& writer = client_->start_request(
      RequestHead{"POST", "/hold", "example:80", "http", {}, Version::http2, {}}, false, response);
  writer.send_data(as_bytes("x"), true);
  pump();
  ASSERT_NE(app_.held, nullptr);
  writer.reset();
  pump();
  EXPECT_EQ(app_.resets, 1);
  EXPECT_TRUE(server_->idle());
}

TEST_F(H2CodecTest, OutputProducedLaterWakesTheConnection) {
  auto response = get("/hold", "later");
  pump();
  ASSERT_NE(app_.held, nullptr);
  const int before = server_woken_;
  app_.held->send_head(ResponseHead{200, {}}, false);
  app_.held->send_data(as_bytes("done"), true);
  EXPECT_GT(server_woken_, before);
  pump();
  ASSERT_TRUE(response->ended);
  EXPECT_EQ(response->body, "done");
}

TEST_F(H2CodecTest, ShutdownLetsOpenStreamsFinishThenCloses) {
  auto response = get("/hold", "x");
  pump();
  server_->shutdown();
  pump();
  EXPECT_FALSE(client_->can_start_request());
  EXPECT_FALSE(server_->wants_close());  // a stream is still open
  app_.held->send_head(ResponseHead{200, {}}, true);
  pump();
  EXPECT_TRUE(response->ended);
  EXPECT_TRUE(server_->wants_close());
}

TEST_F(H2CodecTest, OversizedHeadersResetOnlyThatStream) {
  auto big = std::make_shared<Response>();
  client_->start_request(RequestHead{"POST", "/echo", "example:80", "http",
                                     {{"x-big", std::string(70 * 1024, 'a')}}, Version::http2, {}},
                         true, big);
  pump();
  EXPECT_FALSE(big->ended);
  EXPECT_FALSE(big->reset.empty());
  EXPECT_TRUE(app_.requests.empty());
  auto fine = get("/echo", "still here");
  pump();
  EXPECT_EQ(fine->body, "echo:still here");
}

TEST_F(H2CodecTest, AnEarlyResponseStopsTheRequestBody) {
  auto response = std::make_shared<Response>();
  RequestWriter& writer = client_->start_request(
      RequestHead{"POST", "/early", "example:80", "http", {}, Version::http2, {}}, false, response);
  writer.send_data(as_bytes("first chunk"), false);
  pump();
  EXPECT_TRUE(response->ended);
  EXPECT_EQ(response->head.status, 429);
  EXPECT_TRUE(server_->idle());  // the stream is closed, not waiting for more body
  EXPECT_EQ(app_.resets, 0);
}

TEST_F(H2CodecTest, GarbageIsAProtocolError) {
  auto result = server_->receive(as_bytes("GET / HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(result);
  EXPECT_FALSE(drain(*server_).empty());  // GOAWAY
  EXPECT_TRUE(server_->wants_close());
}

TEST_F(H2CodecTest, ConnectionLostResetsEveryStream) {
  auto a = get("/hold", "1");
  pump();
  server_->connection_lost();
  client_->connection_lost();
  EXPECT_EQ(app_.resets, 1);
  EXPECT_FALSE(a->reset.empty());
}


// ------------------------------------------- hostile clients (issue 16 §3)

TEST_F(H2CodecTest, PauseBodyWithholdsCreditUntilResumed) {
  const std::string body(3 << 20, 'b');
  auto response = get("/pause", body);
  pump();
  ASSERT_NE(app_.paused_exchange, nullptr);
  // The peer may send one stream window (1 MiB), no more, while paused.
  ASSERT_LE(app_.paused_exchange->body.size(), std::size_t(1) << 20) << "the whole body arrived while paused";
  EXPECT_GT(app_.paused_exchange->body.size(), 0u);
  EXPECT_TRUE(app_.requests.empty());
  // Other streams are not starved by the paused one.
  auto other = get("/echo", std::string(2 << 20, 'o'));
  pump();
  ASSERT_TRUE(other->ended) << other->reset;
  EXPECT_EQ(other->body.size(), std::size_t(5 + (2 << 20)));
  app_.paused->pause_body(false);
  pump();
  ASSERT_EQ(app_.requests.size(), 2u);
  EXPECT_EQ(app_.requests[1].second.size(), body.size());
  EXPECT_TRUE(response->ended) << response->reset;
}

TEST_F(H2CodecTest, ConnectionQueuedBytesCountsEveryStream) {
  auto a = get("/hold", "1");
  auto b = get("/hold", "2");
  pump();
  ASSERT_EQ(app_.held_all.size(), 2u);
  const std::string chunk(100 * 1024, 'q');
  for (ResponseWriter* writer : app_.held_all) {
    writer->send_head(ResponseHead{200, {}}, false);
    writer->send_data(as_bytes(chunk), false);
  }
  EXPECT_EQ(app_.held_all[0]->queued_bytes(), chunk.size());
  EXPECT_EQ(app_.held_all[0]->connection_queued_bytes(), 2 * chunk.size());
  pump();
  EXPECT_EQ(app_.held_all[1]->connection_queued_bytes(), 0u);
}

TEST_F(H2CodecTest, ReadingHeadUntilPrefaceAndSettings) {
  EXPECT_TRUE(server_->reading_head()) << "nothing received yet: the preface is owed";
  auto response = get("/echo", "x");
  pump();
  EXPECT_FALSE(server_->reading_head());
}

}  // namespace
}  // namespace coral::http
