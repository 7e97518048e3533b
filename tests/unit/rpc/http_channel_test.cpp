// coral's Connect client against coral's server, both on one io_context in
// this thread: connection reuse, and how failures reach the caller.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "echo_service.h"
#include "http/server.h"
#include "rpc/http_channel.h"
#include "rpc/server.h"

namespace coral::rpc {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coral::testing::v1::EchoRequest;
using coral::testing::v1::EchoServiceClient;

ChannelOptions channel_options(std::uint16_t port, http::Version version, std::size_t max_message_bytes = 4 << 20) {
  return ChannelOptions{.url = http::Url{"127.0.0.1", port, ""},
                        .version = version,
                        .encoding = Encoding::proto,
                        .gzip_requests = false,
                        .max_message_bytes = max_message_bytes,
                        .connect_timeout = 2s,
                        .dialer = {}};
}

class HttpChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rpc_.add(echo_);
    ASSERT_TRUE(server_.listen("127.0.0.1", 0));
    server_.start();
  }

  // Runs `body` to completion (bounded), then stops the loop.
  template <class Body>
  void run(Body body) {
    bool done = false;
    asio::co_spawn(io_, std::move(body), [&](std::exception_ptr error) {
      done = true;
      if (error) std::rethrow_exception(error);
    });
    for (int i = 0; i < 500 && !done; ++i) io_.run_for(10ms);
    ASSERT_TRUE(done) << "test body did not finish within 5 s";
  }

  // A port that was just free on 127.0.0.1: bound, read, closed.
  std::uint16_t closed_port() {
    http::Server probe(io_, rpc_);
    EXPECT_TRUE(probe.listen("127.0.0.1", 0));
    return probe.port();
  }

  asio::io_context io_{1};
  coral::testing::EchoService echo_;
  Server rpc_{io_.get_executor()};
  http::Server server_{io_, rpc_};
};

TEST_F(HttpChannelTest, ConcurrentH2CallsShareOneConnection) {
  HttpChannel channel(io_.get_executor(), channel_options(server_.port(), http::Version::http2));
  EchoServiceClient client(channel);
  int answered = 0;
  std::size_t most_connections = 0;
  for (int i = 0; i < 20; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          EchoRequest request;
          request.set_number(i);
          auto reply = co_await client.Echo(request);
          if (reply && reply->number() == i && reply->http_version() == "HTTP/2") ++answered;
          most_connections = std::max(most_connections, server_.connection_count());
        },
        asio::detached);
  }
  for (int i = 0; i < 500 && answered < 20; ++i) io_.run_for(10ms);
  EXPECT_EQ(answered, 20);
  EXPECT_EQ(most_connections, 1u);
}

TEST_F(HttpChannelTest, SequentialH1CallsReuseTheIdleConnection) {
  HttpChannel channel(io_.get_executor(), channel_options(server_.port(), http::Version::http1_1));
  EchoServiceClient client(channel);
  run([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      auto reply = co_await client.Echo(EchoRequest{});
      EXPECT_TRUE(reply) << reply.error().message;
      EXPECT_EQ(server_.connection_count(), 1u);
    }
  });
}

TEST_F(HttpChannelTest, UnreachableServerIsUnavailableAndSaysWhere) {
  const std::uint16_t port = closed_port();
  HttpChannel channel(io_.get_executor(), channel_options(port, http::Version::http2));
  EchoServiceClient client(channel);
  run([&]() -> asio::awaitable<void> {
    auto reply = co_await client.Echo(EchoRequest{});
    EXPECT_FALSE(reply);
    if (reply) co_return;
    EXPECT_EQ(reply.error().code, Code::unavailable);
    EXPECT_NE(reply.error().message.find("http://127.0.0.1:" + std::to_string(port) + " is not reachable"),
              std::string::npos)
        << reply.error().message;
    EXPECT_NE(reply.error().message.find("connection refused"), std::string::npos) << reply.error().message;
  });
}

TEST_F(HttpChannelTest, AnUnreachableServerIsNamedAsTheCallerAsks) {
  const std::uint16_t port = closed_port();
  ChannelOptions options = channel_options(port, http::Version::http2);
  options.unreachable_name = "the echo service";
  HttpChannel channel(io_.get_executor(), std::move(options));
  EXPECT_EQ(channel.unreachable_name(), "the echo service");
  EXPECT_EQ(channel.describe(), "http://127.0.0.1:" + std::to_string(port));
  EchoServiceClient client(channel);
  run([&]() -> asio::awaitable<void> {
    auto reply = co_await client.Echo(EchoRequest{});
    EXPECT_FALSE(reply);
    if (reply) co_return;
    EXPECT_EQ(reply.error().code, Code::unavailable);
    EXPECT_EQ(reply.error().message, "the echo service is not reachable: connection refused");
  });
}

TEST_F(HttpChannelTest, TimeoutIsDeadlineExceededWithoutWaitingForTheServer) {
  HttpChannel channel(io_.get_executor(), channel_options(server_.port(), http::Version::http2));
  EchoServiceClient client(channel);
  run([&]() -> asio::awaitable<void> {
    coral::testing::v1::SleepRequest sleep;
    sleep.set_millis(3000);
    CallOptions options;
    options.timeout = 100ms;
    const auto start = std::chrono::steady_clock::now();
    auto reply = co_await client.Sleep(sleep, options);
    EXPECT_FALSE(reply);
    if (!reply) {
      EXPECT_EQ(reply.error().code, Code::deadline_exceeded);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  });
}

TEST_F(HttpChannelTest, OversizedResponseIsResourceExhausted) {
  HttpChannel channel(io_.get_executor(), channel_options(server_.port(), http::Version::http2, 1024));
  EchoServiceClient client(channel);
  run([&]() -> asio::awaitable<void> {
    EchoRequest request;
    request.set_payload(std::string(64 * 1024, 'x'));
    auto reply = co_await client.Echo(request);
    EXPECT_FALSE(reply);
    if (!reply) {
      EXPECT_EQ(reply.error().code, Code::resource_exhausted) << reply.error().message;
    }
  });
}

}  // namespace
}  // namespace coral::rpc
