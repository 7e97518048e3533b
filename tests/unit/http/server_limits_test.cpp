// http::Server and Connection against hostile clients, over real loopback
// sockets: the connection cap, the request-head deadline, the minimum
// request-body rate, and a paused request body that stops the connection
// from reading (issue 16 §3).

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "bounded_io.h"
#include "http/codec.h"
#include "http/server.h"

namespace coral::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using coral::testing::run;
using coral::testing::run_until;

// Answers "ok" once a request ends; pauses the body of POST /pause until
// told to resume, counting what it received.
class App final : public Application {
 public:
  class Handler final : public RequestHandler {
   public:
    Handler(App& app, ResponseWriter& writer) : app_(app), writer_(writer) {}
    void on_body(Bytes chunk) override { app_.body_bytes += chunk.size(); }
    void on_end() override {
      writer_.send_head(ResponseHead{.status = 200, .fields = {{"content-length", "2"}}}, false);
      writer_.send_data(as_bytes("ok"), true);
    }
    void on_reset() override {}

   private:
    App& app_;
    ResponseWriter& writer_;
  };

  std::unique_ptr<RequestHandler> on_request(RequestHead head, ResponseWriter& writer) override {
    if (head.path == "/pause") {
      writer.pause_body(true);
      paused = &writer;
    }
    return std::make_unique<Handler>(*this, writer);
  }

  std::size_t body_bytes = 0;
  ResponseWriter* paused = nullptr;
};

asio::awaitable<std::shared_ptr<tcp::socket>> dial(std::uint16_t port) {
  auto socket = std::make_shared<tcp::socket>(co_await asio::this_coro::executor);
  co_await socket->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), asio::use_awaitable);
  co_return socket;
}

// Sends `request` and reads until the peer closes or "ok" arrives (bounded).
asio::awaitable<std::string> send_request(std::shared_ptr<tcp::socket> socket, std::string request) {
  boost::system::error_code ec;
  co_await asio::async_write(*socket, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
  std::string response;
  std::array<char, 512> buffer{};
  for (int reads = 0; !ec && reads < 64 && !response.ends_with("ok"); ++reads) {
    const std::size_t n =
        co_await socket->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    response.append(buffer.data(), n);
  }
  co_return response;
}

// Reads until EOF; true when the peer closed within `limit`.
asio::awaitable<bool> closed_by_peer(std::shared_ptr<tcp::socket> socket, std::chrono::milliseconds limit) {
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  timer.async_wait([socket](boost::system::error_code ec) {
    if (!ec) socket->cancel();
  });
  std::array<char, 512> buffer{};
  boost::system::error_code ec;
  for (int reads = 0; reads < 1000 && !ec; ++reads) {
    co_await socket->async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
  }
  timer.cancel();
  co_return ec == asio::error::eof || ec == asio::error::connection_reset;
}

struct Served {
  asio::io_context io{1};
  App app;
  std::unique_ptr<Server> server;
  std::uint16_t port = 0;

  explicit Served(ServerOptions options) {
    server = std::make_unique<Server>(io, app, options);
    auto listening = server->listen("127.0.0.1", 0);
    EXPECT_TRUE(listening) << listening.error().message();
    server->start();
    port = server->port();
  }
};

TEST(ServerLimits, AtTheCapTheConnectionWaitingLongestMakesRoom) {
  ServerOptions options;
  options.max_connections = 2;
  Served s(options);
  auto idle = run(s.io, dial(s.port));  // sends nothing: the slowloris of the three
  ASSERT_TRUE(idle);
  ASSERT_TRUE(run_until(s.io, [&] { return s.server->connection_count() == 1; }));
  auto slow = run(s.io, dial(s.port));
  ASSERT_TRUE(slow);
  ASSERT_TRUE(run(s.io, [&]() -> asio::awaitable<bool> {
    co_await asio::async_write(**slow, asio::buffer(std::string("GET / HTTP/1.1\r\nho")), asio::use_awaitable);
    co_return true;
  }()));
  ASSERT_TRUE(run_until(s.io, [&] { return s.server->connection_count() == 2; }));

  // A normal client over the cap is served; the idle connection, the one
  // that waited longest, is closed.
  auto normal = run(s.io, dial(s.port));
  ASSERT_TRUE(normal);
  auto answer = run(s.io, send_request(*normal, "GET / HTTP/1.1\r\nhost: t\r\n\r\n"));
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->ends_with("ok")) << "a normal client was locked out: " << *answer;
  auto closed = run(s.io, closed_by_peer(*idle, 2s));
  ASSERT_TRUE(closed);
  EXPECT_TRUE(*closed) << "the longest-waiting connection was left open";
  EXPECT_EQ(s.server->stats().evicted, 1u);
  EXPECT_EQ(s.server->stats().refused_over_capacity, 0u);
}

TEST(ServerLimits, AtTheCapWithEveryConnectionBusyANewOneIsClosedAtOnce) {
  ServerOptions options;
  options.max_connections = 2;
  Served s(options);
  // Two requests in progress (bodies paused): neither may be closed.
  std::vector<std::shared_ptr<tcp::socket>> busy;
  for (int i = 0; i < 2; ++i) {
    auto socket = run(s.io, dial(s.port));
    ASSERT_TRUE(socket);
    busy.push_back(*socket);
    ASSERT_TRUE(run(s.io, [&]() -> asio::awaitable<bool> {
      co_await asio::async_write(*busy.back(),
                                 asio::buffer(std::string("POST /pause HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\n12")),
                                 asio::use_awaitable);
      co_return true;
    }()));
    ASSERT_TRUE(run_until(s.io, [&] { return s.server->connection_count() == busy.size() && s.app.paused; }));
    s.app.paused = nullptr;
  }
  auto third = run(s.io, dial(s.port));
  ASSERT_TRUE(third);
  auto closed = run(s.io, closed_by_peer(*third, 2s));
  ASSERT_TRUE(closed);
  EXPECT_TRUE(*closed) << "the connection over the cap was left open";
  EXPECT_EQ(s.server->stats().refused_over_capacity, 1u);
  EXPECT_EQ(s.server->stats().evicted, 0u);
  EXPECT_EQ(s.server->connection_count(), 2u);
}

TEST(ServerLimits, ARequestHeadTrickledByteByByteIsClosedAtTheHeadDeadline) {
  ServerOptions options;
  options.connection.head_timeout = 300ms;
  options.connection.idle_timeout = 10s;
  Served s(options);
  auto socket = run(s.io, dial(s.port));
  ASSERT_TRUE(socket);
  const auto started = std::chrono::steady_clock::now();
  auto trickled = run(s.io, [&, socket = *socket]() -> asio::awaitable<bool> {
    const std::string head = "GET / HTTP/1.1\r\nhost: t\r\nx-slow: " + std::string(100, 'a');
    asio::steady_timer timer(co_await asio::this_coro::executor);
    boost::system::error_code ec;
    // One byte every 50 ms: never idle, never done (bounded: 100 bytes, 5 s).
    for (char c : head) {
      co_await asio::async_write(*socket, asio::buffer(&c, 1), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return true;
      timer.expires_after(50ms);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (socket->available(ec) > 0 || ec) break;
    }
    co_return co_await closed_by_peer(socket, 100ms);
  }());
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(trickled);
  EXPECT_TRUE(*trickled) << "still open after the whole head was trickled";
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(s.server->stats().head_timeouts, 1u);

  // A prompt client on another connection is unaffected.
  auto other = run(s.io, dial(s.port));
  ASSERT_TRUE(other);
  auto answer = run(s.io, send_request(*other, "GET / HTTP/1.1\r\nhost: t\r\n\r\n"));
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->ends_with("ok")) << *answer;
}

// HTTP/2: a HEADERS frame whose header block never ends (no END_HEADERS, no
// CONTINUATION) is a head that never completes.
TEST(ServerLimits, AnHttp2HeaderBlockLeftOpenIsClosedAtTheHeadDeadline) {
  ServerOptions options;
  options.connection.head_timeout = 300ms;
  options.connection.idle_timeout = 10s;
  Served s(options);
  auto socket = run(s.io, dial(s.port));
  ASSERT_TRUE(socket);
  std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  bytes += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);  // SETTINGS, empty
  bytes += std::string("\x00\x00\x01\x01\x00\x00\x00\x00\x01\x82", 10);  // HEADERS stream 1, ":method GET", no END_HEADERS
  const auto started = std::chrono::steady_clock::now();
  auto closed = run(s.io, [&, socket = *socket]() -> asio::awaitable<bool> {
    co_await asio::async_write(*socket, asio::buffer(bytes), asio::use_awaitable);
    co_return co_await closed_by_peer(socket, 3s);
  }());
  ASSERT_TRUE(closed);
  EXPECT_TRUE(*closed) << "an unfinished HTTP/2 header block held the connection";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(s.server->stats().head_timeouts, 1u);
}

// HTTP/2 with a zero window: the answer waits for credit that never comes.
// The connection is closed once the peer took nothing for an idle period.
TEST(ServerLimits, AnHttp2PeerThatNeverGrantsCreditIsClosedAsStalled) {
  ServerOptions options;
  options.connection.idle_timeout = 300ms;
  Served s(options);
  auto socket = run(s.io, dial(s.port));
  ASSERT_TRUE(socket);
  std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  bytes += std::string("\x00\x00\x06\x04\x00\x00\x00\x00\x00" "\x00\x04\x00\x00\x00\x00", 15);  // INITIAL_WINDOW_SIZE 0
  // GET / (":authority: t") on stream 1, ended.
  bytes += std::string("\x00\x00\x06\x01\x05\x00\x00\x00\x01\x82\x86\x84\x41\x01t", 15);
  const auto started = std::chrono::steady_clock::now();
  auto closed = run(s.io, [&, socket = *socket]() -> asio::awaitable<bool> {
    co_await asio::async_write(*socket, asio::buffer(bytes), asio::use_awaitable);
    co_return co_await closed_by_peer(socket, 3s);
  }());
  ASSERT_TRUE(closed);
  EXPECT_TRUE(*closed) << "a peer that takes none of its answer held the connection";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(s.server->stats().send_stalls, 1u) << "idle_timeouts " << s.server->stats().idle_timeouts
                                               << ", head_timeouts " << s.server->stats().head_timeouts;
}

// Sends `head`, then `body` in pieces of `piece` bytes every `every`
// (bounded by the body's size), then reads the answer; true when the peer
// closed the connection before the body was all sent.
asio::awaitable<bool> trickle_body(std::shared_ptr<tcp::socket> socket, std::string head, std::size_t body,
                                   std::size_t piece, std::chrono::milliseconds every, std::string& answer) {
  boost::system::error_code ec;
  co_await asio::async_write(*socket, asio::buffer(head), asio::redirect_error(asio::use_awaitable, ec));
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (std::size_t sent = 0; sent < body && !ec; sent += piece) {
    const std::string chunk(std::min(piece, body - sent), 'b');
    co_await asio::async_write(*socket, asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
    if (ec || socket->available(ec) > 0) break;  // an answer (or EOF) came early
    timer.expires_after(every);
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) co_return true;
  answer = co_await send_request(socket, "");
  co_return !answer.ends_with("ok");
}

// A complete head, then a body trickled at 20 bytes/s: below the minimum
// rate once the grace period is over, the connection is closed, although
// it is never silent for an idle period.
TEST(ServerLimits, ARequestBodyTrickledBelowTheMinimumRateIsClosed) {
  ServerOptions options;
  options.connection.min_body_rate = 240;
  options.connection.body_rate_grace = 500ms;
  options.connection.idle_timeout = 10s;
  Served s(options);
  auto socket = run(s.io, dial(s.port));
  ASSERT_TRUE(socket);
  const auto started = std::chrono::steady_clock::now();
  std::string answer;
  auto closed = run(s.io, trickle_body(*socket, "POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\n", 100, 1,
                                       50ms, answer));
  ASSERT_TRUE(closed);
  EXPECT_TRUE(*closed) << "a body trickled at 20 bytes/s was served: " << answer;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(s.server->stats().slow_bodies, 1u);
}

// The same rule lets a steady upload (2,000 bytes/s) through.
TEST(ServerLimits, ARequestBodyAboveTheMinimumRateIsServed) {
  ServerOptions options;
  options.connection.min_body_rate = 240;
  options.connection.body_rate_grace = 300ms;
  Served s(options);
  auto socket = run(s.io, dial(s.port));
  ASSERT_TRUE(socket);
  std::string answer;
  auto closed = run(s.io, trickle_body(*socket, "POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 2000\r\n\r\n", 2000,
                                       100, 50ms, answer));
  ASSERT_TRUE(closed);
  EXPECT_FALSE(*closed);
  EXPECT_TRUE(answer.ends_with("ok")) << answer;
  EXPECT_EQ(s.app.body_bytes, 2000u);
  EXPECT_EQ(s.server->stats().slow_bodies, 0u);
}

// A body we paused is our delay, not the client's: no rate applies.
TEST(ServerLimits, APausedBodyIsNotHeldToTheMinimumRate) {
  ServerOptions options;
  options.connection.min_body_rate = 240;
  options.connection.body_rate_grace = 200ms;
  Served s(options);
  auto socket = run(s.io, dial(s.port));
  ASSERT_TRUE(socket);
  ASSERT_TRUE(run(s.io, [&]() -> asio::awaitable<bool> {
    co_await asio::async_write(**socket, asio::buffer(std::string("POST /pause HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\n12")),
                               asio::use_awaitable);
    co_return true;
  }()));
  ASSERT_TRUE(run_until(s.io, [&] { return s.app.paused != nullptr; }));
  run_until(s.io, [] { return false; }, 1s);
  EXPECT_EQ(s.server->stats().slow_bodies, 0u);
  EXPECT_EQ(s.server->connection_count(), 1u);
  s.app.paused->pause_body(false);
  auto answer = run(s.io, send_request(*socket, "34567890"));
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->ends_with("ok")) << *answer;
}

// At the cap, a connection trickling a body (nothing of ours to send) is
// waiting on its client like an idle one: a new client takes its place.
TEST(ServerLimits, AtTheCapATrickledBodyMakesRoom) {
  ServerOptions options;
  options.max_connections = 1;
  Served s(options);
  auto slow = run(s.io, dial(s.port));
  ASSERT_TRUE(slow);
  ASSERT_TRUE(run(s.io, [&]() -> asio::awaitable<bool> {
    co_await asio::async_write(**slow, asio::buffer(std::string("POST / HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\n1")),
                               asio::use_awaitable);
    co_return true;
  }()));
  ASSERT_TRUE(run_until(s.io, [&] { return s.server->connection_count() == 1 && s.app.body_bytes == 1; }));
  auto normal = run(s.io, dial(s.port));
  ASSERT_TRUE(normal);
  auto answer = run(s.io, send_request(*normal, "GET / HTTP/1.1\r\nhost: t\r\n\r\n"));
  ASSERT_TRUE(answer);
  EXPECT_TRUE(answer->ends_with("ok")) << "a normal client was locked out: " << *answer;
  EXPECT_EQ(s.server->stats().evicted, 1u);
}

TEST(ServerLimits, APausedHttp1BodyStopsTheConnectionReadingUntilResumed) {
  Served s(ServerOptions{});
  auto socket = run(s.io, dial(s.port));
  ASSERT_TRUE(socket);
  constexpr std::size_t kBody = 32 << 20;
  std::optional<std::string> answer;
  asio::co_spawn(
      s.io,
      [&, socket = *socket]() -> asio::awaitable<void> {
        std::string request = "POST /pause HTTP/1.1\r\nhost: t\r\ncontent-length: " + std::to_string(kBody) + "\r\n\r\n";
        request.append(kBody, 'b');
        answer = co_await send_request(socket, std::move(request));
      },
      asio::detached);
  // While paused, the server reads no more than what was in flight.
  run_until(s.io, [] { return false; }, 500ms);
  ASSERT_NE(s.app.paused, nullptr);
  EXPECT_LT(s.app.body_bytes, kBody / 2) << "the whole body was read while paused";
  s.app.paused->pause_body(false);
  ASSERT_TRUE(run_until(s.io, [&] { return answer.has_value(); }));
  EXPECT_EQ(s.app.body_bytes, kBody);
  EXPECT_TRUE(answer->ends_with("ok")) << *answer;
}

}  // namespace
}  // namespace coral::http
