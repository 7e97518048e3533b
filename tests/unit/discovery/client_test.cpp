// The discovery client's errors, as a CLI would print them.

#include "discovery/client.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace coral::discovery {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A loopback port with nothing listening: bind one, then let it go.
std::uint16_t free_port(asio::io_context& io) {
  asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return probe.local_endpoint().port();
}

TEST(DiscoveryClient, UnreachableServiceIsNamedWithTheCauseAfterRetrying) {
  asio::io_context io(1);
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(free_port(io));
  auto client = DiscoveryClient::create(io.get_executor(), endpoint,
                                        ClientOptions{.attempts = 3, .first_backoff = 50ms, .max_backoff = 100ms,
                                                      .timeout = 1000ms});
  ASSERT_TRUE(client) << client.error();
  std::optional<rpc::Result<v1::LookupColonyResponse>> result;
  const auto start = std::chrono::steady_clock::now();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { result = co_await (*client)->lookup("my-app-prod"); },
                 [](std::exception_ptr error) {
                   if (error) std::rethrow_exception(error);
                 });
  io.run_for(5s);
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error().code, rpc::Code::unavailable);
  EXPECT_EQ(result->error().message, "discovery service at " + endpoint + " is not reachable: connection refused");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);  // two backoffs: 50 ms, then 100 ms
}

TEST(DiscoveryClient, InvalidEndpointSaysWhy) {
  asio::io_context io(1);
  auto client = DiscoveryClient::create(io.get_executor(), "https://discovery.example:8080");
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error(), "discovery endpoint: invalid URL \"https://discovery.example:8080\": only http:// is supported");
}

}  // namespace
}  // namespace coral::discovery
