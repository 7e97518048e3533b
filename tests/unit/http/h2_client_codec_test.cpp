// The HTTP/2 client codec as the proxy uses it: requests the caller gives
// up on, request bodies the server does not take, and what stays queued.
// Client and server codecs are connected through memory.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/codec.h"
#include "http/h2_client_codec.h"
#include "http/h2_codec.h"

namespace coral::http {
namespace {

// Holds every request open (no answer) and counts what it saw.
class HoldingApp final : public Application {
 public:
  struct Held : RequestHandler {
    HoldingApp& app;
    explicit Held(HoldingApp& a) : app(a) {}
    void on_body(Bytes chunk) override { app.body_bytes += chunk.size(); }
    void on_end() override { ++app.ended; }
    void on_reset() override { ++app.resets; }
  };
  std::unique_ptr<RequestHandler> on_request(RequestHead, ResponseWriter& writer) override {
    ++requests;
    writers.push_back(&writer);
    return std::make_unique<Held>(*this);
  }
  int requests = 0;
  int ended = 0;
  int resets = 0;
  std::size_t body_bytes = 0;
  std::vector<ResponseWriter*> writers;
};

struct Response final : ResponseHandler {
  std::size_t body_bytes = 0;
  bool ended = false;
  std::string reset;
  int drained = 0;
  void on_head(ResponseHead) override {}
  void on_body(Bytes chunk) override { body_bytes += chunk.size(); }
  void on_trailers(Fields) override {}
  void on_end() override { ended = true; }
  void on_reset(std::string why) override { reset = why.empty() ? "(reset)" : std::move(why); }
  void on_drained() override { ++drained; }
};

class H2ClientCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = make_h2_server_codec(app_, [] {}, ServerLimits{});
    client_ = make_h2_client_codec([] {}, H2ClientOptions{.reset_burst = 500,
                                                          .resets_per_second = 16,
                                                          .max_deferred_resets = 100,
                                                          .now = [this] { return now_; }});
  }
  static std::string drain(Codec& codec) {
    std::string all;
    for (Bytes out = codec.next_output(); !out.empty(); out = codec.next_output()) all += std::string(as_chars(out));
    return all;
  }
  void pump() {
    for (int round = 0; round < 100; ++round) {
      const std::string to_server = drain(*client_);
      const std::string to_client = drain(*server_);
      sent_ += to_server;
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
  RequestWriter& open(std::shared_ptr<Response> response, bool end_stream = true) {
    return client_->start_request(RequestHead{"POST", "/hold", "example:80", "http", {}, Version::http2, {}},
                                  end_stream, std::move(response));
  }

  // Opens a request, lets the server see it, cancels it, and lets the server
  // answer it afterwards (unless `answer` is false).
  std::shared_ptr<Response> cancel_after_sent(bool answer) {
    auto response = std::make_shared<Response>();
    RequestWriter& writer = open(response);
    pump();
    writer.reset();
    if (answer && !app_.writers.empty()) {
      app_.writers.back()->send_head(ResponseHead{200, {}}, false);
      app_.writers.back()->send_data(as_bytes("dropped"), true);
    }
    pump();
    return response;
  }

  // RST_STREAM frames the client sent so far (frame headers parsed from
  // everything pump() carried to the server, after the preface).
  int rst_streams_sent() const {
    int count = 0;
    std::size_t at = 24;  // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    while (at + 9 <= sent_.size()) {
      const auto byte = [&](std::size_t i) { return std::size_t(static_cast<unsigned char>(sent_[at + i])); };
      const std::size_t length = byte(0) << 16 | byte(1) << 8 | byte(2);
      if (byte(3) == 0x3) ++count;  // RST_STREAM
      at += 9 + length;
    }
    return count;
  }

  std::string sent_;
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
  HoldingApp app_;
  std::unique_ptr<ServerCodec> server_;
  std::unique_ptr<ClientCodec> client_;
};

// A request reset before its HEADERS went out never reaches the server, and
// the codec forgets it at once: the caller is told, and the stream no longer
// counts against the server's concurrency limit.
TEST_F(H2ClientCodecTest, ResetBeforeTheHeadersWentOutEndsTheStream) {
  pump();  // SETTINGS exchanged
  auto response = std::make_shared<Response>();
  open(response).reset();
  pump();
  EXPECT_FALSE(response->reset.empty());
  EXPECT_TRUE(client_->idle());
  EXPECT_EQ(app_.requests, 0);
}

TEST_F(H2ClientCodecTest, ManyEarlyResetsLeaveNothingOpen) {
  pump();
  std::vector<std::shared_ptr<Response>> responses;
  for (int i = 0; i < 300; ++i) {
    responses.push_back(std::make_shared<Response>());
    open(responses.back()).reset();
    if (i % 7 == 0) pump();
  }
  pump();
  for (const auto& response : responses) EXPECT_FALSE(response->reset.empty());
  EXPECT_TRUE(client_->idle());
  EXPECT_TRUE(client_->can_start_request());
}

TEST_F(H2ClientCodecTest, ResetAfterTheHeadersWentOutReachesTheServer) {
  pump();
  auto response = std::make_shared<Response>();
  RequestWriter& writer = open(response, false);
  pump();
  ASSERT_EQ(app_.requests, 1);
  writer.reset();
  pump();
  EXPECT_EQ(app_.resets, 1);
  EXPECT_FALSE(response->reset.empty());
  EXPECT_TRUE(client_->idle());
}

// What a proxy does when its clients reset requests that the server is
// answering: nghttp2 servers count RST_STREAMs (1000 in a burst, then 33/s)
// and answer more with GOAWAY, which fails every other request on the
// connection. The codec sends at most its budget (500, then 16/s) and
// lets the others end on their own, so 1500 cancels in an instant leave
// the connection usable, and every caller heard of its cancel at once.
TEST_F(H2ClientCodecTest, CancelsBeyondTheBudgetDoNotLookLikeRapidReset) {
  pump();
  for (int i = 0; i < 1500; ++i) {
    auto response = cancel_after_sent(true);
    ASSERT_EQ(app_.requests, i + 1);
    EXPECT_FALSE(response->reset.empty());
    EXPECT_FALSE(response->ended);
    ASSERT_TRUE(client_->can_start_request()) << "after " << i + 1 << " cancelled requests";
  }
  EXPECT_EQ(rst_streams_sent(), 500);  // the budget; the server answered the rest
  EXPECT_TRUE(client_->idle());
  auto last = std::make_shared<Response>();
  open(last);
  pump();
  app_.writers.back()->send_head(ResponseHead{200, {}}, true);
  pump();
  EXPECT_TRUE(last->ended) << last->reset;
}

// Deferred cancels of requests the server does not answer go out as the
// budget refills, oldest first; no more than max_deferred_resets wait.
TEST_F(H2ClientCodecTest, DeferredCancelsGoOutAsTheBudgetRefills) {
  pump();
  for (int i = 0; i < 500; ++i) cancel_after_sent(true);  // spends the budget
  ASSERT_EQ(rst_streams_sent(), 500);
  for (int i = 0; i < 200; ++i) {
    auto response = cancel_after_sent(false);
    EXPECT_FALSE(response->reset.empty());
  }
  EXPECT_EQ(rst_streams_sent(), 500 + 100) << "100 wait, the others are reset at once";
  EXPECT_EQ(app_.resets, 100);
  now_ += std::chrono::seconds(5);  // 80 tokens
  open(std::make_shared<Response>());
  pump();
  EXPECT_EQ(rst_streams_sent(), 500 + 100 + 80);
  EXPECT_EQ(app_.resets, 180);  // the server hears of these cancels
  now_ += std::chrono::seconds(60);
  open(std::make_shared<Response>());
  pump();
  EXPECT_EQ(rst_streams_sent(), 700);
  EXPECT_EQ(app_.resets, 200);
  EXPECT_EQ(app_.requests, 702);
}

// A request cancelled before its HEADERS went out costs no RST_STREAM and
// never reaches the server, even with the budget spent.
TEST_F(H2ClientCodecTest, CancelsOfUnsentRequestsNeverReachTheServer) {
  pump();
  for (int i = 0; i < 500; ++i) cancel_after_sent(true);  // spends the budget
  ASSERT_EQ(rst_streams_sent(), 500);
  std::vector<std::shared_ptr<Response>> responses;
  for (int i = 0; i < 20; ++i) {
    responses.push_back(std::make_shared<Response>());
    open(responses.back()).reset();
  }
  pump();
  EXPECT_EQ(app_.requests, 500);
  EXPECT_EQ(rst_streams_sent(), 500);
  for (const auto& response : responses) EXPECT_FALSE(response->reset.empty());
  EXPECT_TRUE(client_->idle());
}

// A request body the server cannot take yet (its flow-control window is
// used up) stays queued in the writer and is reported by queued_bytes(),
// which is what the proxy's backpressure watches; once the server reads,
// on_drained() tells the producer to go on. (Behaviour the forwarder relies
// on, not a change.)
TEST_F(H2ClientCodecTest, QueuedBodyIsReportedAndDrainIsSignalled) {
  pump();
  auto response = std::make_shared<Response>();
  RequestWriter& writer = open(response, false);
  const std::string chunk(512 * 1024, 'x');
  for (int i = 0; i < 4; ++i) writer.send_data(as_bytes(chunk), false);
  EXPECT_EQ(writer.queued_bytes(), 4 * chunk.size());
  // The server reads nothing: only its 1 MiB stream window goes out.
  const std::string sent = drain(*client_);
  EXPECT_LT(sent.size(), 1100u * 1024);
  EXPECT_GE(writer.queued_bytes(), 900u * 1024);
  EXPECT_EQ(response->drained, 0);
  ASSERT_TRUE(server_->receive(as_bytes(sent)));
  pump();
  EXPECT_EQ(writer.queued_bytes(), 0u);
  EXPECT_EQ(response->drained, 1);
  EXPECT_EQ(app_.body_bytes, 4 * chunk.size());
}

// A caller that cannot pass the response on pauses it: the codec stops
// giving the server window for that stream, so the server keeps the rest
// (and, with backpressure of its own, stops producing); at most the stream
// window (1 MiB) arrives. Resuming credits what was held back.
TEST_F(H2ClientCodecTest, PausedResponseStopsAtTheStreamWindow) {
  pump();
  auto response = std::make_shared<Response>();
  RequestWriter& writer = open(response);
  pump();
  ASSERT_EQ(app_.writers.size(), 1u);
  writer.pause_response(true);
  ResponseWriter& server = *app_.writers.back();
  const std::string big(4 << 20, 'r');
  server.send_head(ResponseHead{200, {}}, false);
  server.send_data(as_bytes(big), true);
  pump();
  EXPECT_LE(response->body_bytes, std::size_t(1 << 20));
  EXPECT_GE(server.queued_bytes(), std::size_t(3 << 20));
  EXPECT_FALSE(response->ended);
  // Other streams are not held up by the paused one.
  auto other = std::make_shared<Response>();
  open(other);
  pump();
  app_.writers.back()->send_head(ResponseHead{200, {}}, false);
  app_.writers.back()->send_data(as_bytes(std::string(2 << 20, 'o')), true);
  pump();
  EXPECT_TRUE(other->ended);
  EXPECT_EQ(other->body_bytes, std::size_t(2 << 20));

  writer.pause_response(false);
  pump();
  EXPECT_TRUE(response->ended);
  EXPECT_EQ(response->body_bytes, big.size());
}

// Window is given back by hand: responses adding up to more than the
// connection's 16 MiB window still flow (the connection window is credited
// as data arrives, each stream's as its caller takes it).
TEST_F(H2ClientCodecTest, ResponsesBeyondTheConnectionWindowFlow) {
  pump();
  const std::string big(8 << 20, 'b');
  for (int i = 0; i < 3; ++i) {
    auto response = std::make_shared<Response>();
    open(response);
    pump();
    app_.writers.back()->send_head(ResponseHead{200, {}}, false);
    app_.writers.back()->send_data(as_bytes(big), true);
    pump();
    EXPECT_TRUE(response->ended) << "response " << i;
    EXPECT_EQ(response->body_bytes, big.size());
  }
}

}  // namespace
}  // namespace coral::http
