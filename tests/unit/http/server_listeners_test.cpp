// http::Server serving the listeners it is handed (add_listener) or binds
// itself (listen), on loopback with port 0.

#include "http/server.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "bounded_io.h"
#include "host_addresses.h"
#include "http/codec.h"
#include "net/tcp.h"
namespace coral::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using coral::testing::lower;
using coral::testing::resolved_addresses;
using coral::testing::run;

// Answers every request with "<remote>" (the client's address as the
// server saw it).
class EchoRemote final : public Application {
  class Handler final : public RequestHandler {
   public:
    Handler(std::string remote, ResponseWriter& writer) : remote_(std::move(remote)), writer_(writer) {}
    void on_body(Bytes) override {}
    void on_end() override {
      writer_.send_head(ResponseHead{.status = 200, .fields = {{"content-length", std::to_string(remote_.size())}}},
                        false);
      writer_.send_data(as_bytes(remote_), true);
    }
    void on_reset() override {}

   private:
    std::string remote_;
    ResponseWriter& writer_;
  };

 public:
  std::unique_ptr<RequestHandler> on_request(RequestHead head, ResponseWriter& writer) override {
    return std::make_unique<Handler>(head.remote, writer);
  }
};

// One HTTP/1.1 GET to `port` on 127.0.0.1; the response as text.
asio::awaitable<std::string> get(std::uint16_t port) {
  tcp::socket socket(co_await asio::this_coro::executor);
  const tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
  co_await socket.async_connect(server, asio::use_awaitable);
  const std::string local = "127.0.0.1:" + std::to_string(socket.local_endpoint().port());
  const std::string request = "GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n";
  co_await asio::async_write(socket, asio::buffer(request), asio::use_awaitable);
  std::string response;
  std::array<char, 512> buffer{};
  boost::system::error_code ec;
  for (int reads = 0; !ec && reads < 64; ++reads) {
    const std::size_t n =
        co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    response.append(buffer.data(), n);
  }
  // The body must be the client's own address.
  co_return response.ends_with("\r\n\r\n" + local) ? "ok" : response;
}

TEST(ServerListeners, ServesListenersAddedBeforeAndAfterStart) {
  asio::io_context io(1);
  EchoRemote app;
  Server server(io, app);
  EXPECT_EQ(server.port(), 0);
  EXPECT_TRUE(server.addresses().empty());

  auto first = net::listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(first) << first.error().message();
  const std::uint16_t first_port = first->front()->local_port();
  server.add_listener(std::move(first->front()));
  server.start();

  auto answer = run(io, get(first_port));
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, "ok");

  // Added after start(): served from then on.
  auto second = net::listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(second) << second.error().message();
  const std::uint16_t second_port = second->front()->local_port();
  server.add_listener(std::move(second->front()));
  answer = run(io, get(second_port));
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, "ok");

  EXPECT_EQ(server.port(), first_port);
  EXPECT_EQ(server.addresses(), (std::vector<std::string>{"127.0.0.1:" + std::to_string(first_port),
                                                         "127.0.0.1:" + std::to_string(second_port)}));

  auto done = run(io, [&]() -> asio::awaitable<bool> {
    co_await server.shutdown(1s);
    co_return true;
  }());
  ASSERT_TRUE(done);
  // Shut down: neither listener accepts any more.
  for (const std::uint16_t port : {first_port, second_port}) {
    auto refused = run(io, [&]() -> asio::awaitable<bool> {
      tcp::socket socket(co_await asio::this_coro::executor);
      boost::system::error_code ec;
      const tcp::endpoint target(asio::ip::make_address("127.0.0.1"), port);
      co_await socket.async_connect(target, asio::redirect_error(asio::use_awaitable, ec));
      co_return ec == asio::error::connection_refused;
    }());
    ASSERT_TRUE(refused);
    EXPECT_TRUE(*refused) << port;
  }
}

// A server may be destroyed as soon as shutdown() completes, or without
// it, while the io_context goes on running: its accept loops, whose accepts
// complete only then, must not touch it (ASan checks).
TEST(ServerListeners, DestroyedRightAfterShutdownWhileTheLoopGoesOn) {
  asio::io_context io(1);
  EchoRemote app;
  auto server = std::make_unique<Server>(io, app);
  ASSERT_TRUE(server->listen("127.0.0.1", 0));
  server->start();
  io.run_for(10ms);  // the accept loops are waiting

  bool done = false;
  asio::co_spawn(io, server->shutdown(1s), [&](std::exception_ptr) { done = true; });
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_one_for(10ms);
  }
  ASSERT_TRUE(done);
  server.reset();
  io.restart();
  io.run_for(50ms);
}

TEST(ServerListeners, DestroyedWithoutShutdownWhileTheLoopGoesOn) {
  asio::io_context io(1);
  EchoRemote app;
  auto server = std::make_unique<Server>(io, app);
  ASSERT_TRUE(server->listen("127.0.0.1", 0));
  server->start();
  io.run_for(10ms);
  server.reset();
  io.restart();
  io.run_for(50ms);
}

TEST(ServerListeners, ListenAddsEveryAddressOfTheHost) {
  asio::io_context io(1);
  EchoRemote app;
  Server server(io, app);
  auto listening = server.listen("localhost", 0);
  ASSERT_TRUE(listening) << listening.error().message();
  EXPECT_EQ(server.addresses().size(), resolved_addresses("localhost").size());
  EXPECT_NE(server.port(), 0);

  auto busy = server.listen("127.0.0.1", server.port());
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, std::errc::address_in_use) << busy.error().message();
  EXPECT_NE(lower(busy.error().message()).find("address already in use"), std::string::npos)
      << busy.error().message();
}

}  // namespace
}  // namespace coral::http
