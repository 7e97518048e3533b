// Host TCP listeners (listen_tcp, TcpListener) and http::Server serving
// listeners it is handed (add_listener), on loopback with port 0.

#include "http/stream.h"

#include <gtest/gtest.h>

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <iostream>
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

#include "http/codec.h"
#include "http/server.h"
#include "bounded_io.h"

namespace coral::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using coral::testing::run;
using coral::testing::run_until;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// What getaddrinfo gives for a passive TCP `host`: what listen_tcp must bind.
std::set<std::string> resolved_addresses(const std::string& host) {
  addrinfo hints{};
  hints.ai_flags = AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  std::set<std::string> out;
  if (::getaddrinfo(host.c_str(), "0", &hints, &list) != 0) return out;
  for (addrinfo* entry = list; entry != nullptr; entry = entry->ai_next) {
    char text[NI_MAXHOST];
    if (::getnameinfo(entry->ai_addr, entry->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) == 0) {
      out.insert(text);
    }
  }
  ::freeaddrinfo(list);
  return out;
}

// "127.0.0.1:8080" -> "127.0.0.1"; "[::1]:8080" -> "::1".
std::string host_of(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
  return host;
}

TEST(ListenTcp, PortZeroPicksAFreePortAndReportsIt) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(listeners) << listeners.error();
  ASSERT_EQ(listeners->size(), 1U);
  Listener& listener = *listeners->front();
  EXPECT_NE(listener.local_port(), 0);
  EXPECT_EQ(listener.local_address(), "127.0.0.1:" + std::to_string(listener.local_port()));
}

TEST(ListenTcp, Ipv6AddressesAreInBrackets) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "::1", 0);
  if (!listeners && listeners.error().find("Cannot assign requested address") != std::string::npos) {
    GTEST_SKIP() << "no ::1 on this host: " << listeners.error();
  }
  ASSERT_TRUE(listeners) << listeners.error();
  ASSERT_EQ(listeners->size(), 1U);
  EXPECT_EQ(listeners->front()->local_address(), "[::1]:" + std::to_string(listeners->front()->local_port()));
}

TEST(ListenTcp, LocalhostListensOnEveryAddressItResolvesToWithOnePort) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "localhost", 0);
  ASSERT_TRUE(listeners) << listeners.error();
  const std::set<std::string> expected = resolved_addresses("localhost");
  ASSERT_FALSE(expected.empty());
  std::set<std::string> hosts;
  const std::uint16_t port = listeners->front()->local_port();
  EXPECT_NE(port, 0);
  for (const auto& listener : *listeners) {
    hosts.insert(host_of(listener->local_address()));
    EXPECT_EQ(listener->local_port(), port) << listener->local_address();
  }
  EXPECT_EQ(hosts, expected);
  if (expected.size() < 2) std::cout << "note: localhost resolves to one address only here\n";
}

TEST(ListenTcp, Ipv6ListenersAreV6OnlySoBothFamiliesShareAPort) {
  // What "localhost" needs when it resolves to 127.0.0.1 and ::1, and what
  // lets "::" and "0.0.0.0" coexist: an IPv6 listener does not claim the
  // IPv4 side of its port (a dual-stack "::" would collide with 127.0.0.1).
  asio::io_context io(1);
  auto v4 = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(v4) << v4.error();
  const std::uint16_t port = v4->front()->local_port();
  auto v6 = listen_tcp(io.get_executor(), "::", port);
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ(v6->front()->local_address(), "[::]:" + std::to_string(port));
}

TEST(ListenTcp, BusyPortSaysAddressAlreadyInUse) {
  asio::io_context io(1);
  auto first = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(first) << first.error();
  const std::uint16_t port = first->front()->local_port();
  auto second = listen_tcp(io.get_executor(), "127.0.0.1", port);
  ASSERT_FALSE(second);
  EXPECT_TRUE(second.error().starts_with("127.0.0.1:" + std::to_string(port) + ": ")) << second.error();
  EXPECT_NE(lower(second.error()).find("address already in use"), std::string::npos) << second.error();
}

TEST(ListenTcp, AddressNotOnThisHostIsAnErrorNamingIt) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "fdc0:42::1", 0);
  ASSERT_FALSE(listeners);
  EXPECT_TRUE(listeners.error().starts_with("[fdc0:42::1]:0: ")) << listeners.error();
}

TEST(TcpListener, AcceptsAndCarriesBytesBothWays) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(listeners) << listeners.error();
  Listener& listener = *listeners->front();
  const tcp::endpoint to(asio::ip::make_address("127.0.0.1"), listener.local_port());

  auto result = run(io, [&]() -> asio::awaitable<std::string> {
    tcp::socket client(co_await asio::this_coro::executor);
    co_await client.async_connect(to, asio::use_awaitable);
    const std::string client_local = "127.0.0.1:" + std::to_string(client.local_endpoint().port());
    auto accepted = co_await listener.accept();
    if (!accepted) co_return "accept: " + accepted.error().message();
    ByteStream& stream = **accepted;
    if (stream.remote_address() != client_local) co_return "remote_address " + stream.remote_address();

    const std::string_view ping = "ping";
    co_await asio::async_write(client, asio::buffer(ping), asio::use_awaitable);
    std::string got;
    std::array<std::byte, 16> buffer{};
    for (int reads = 0; got.size() < 4 && reads < 8; ++reads) {
      auto n = co_await stream.read_some(buffer);
      if (!n) co_return "read: " + n.error().message();
      got.append(reinterpret_cast<const char*>(buffer.data()), *n);
    }
    if (got != "ping") co_return "server read " + got;

    const Bytes pong = as_bytes(std::string_view("pong"));
    const std::error_code written = co_await stream.write(pong);
    if (written) co_return "write: " + written.message();
    std::string reply(4, '\0');
    co_await asio::async_read(client, asio::buffer(reply), asio::use_awaitable);
    if (reply != "pong") co_return "client read " + reply;

    // close() ends the stream for the other side.
    stream.close();
    boost::system::error_code ec;
    char byte = 0;
    co_await client.async_read_some(asio::buffer(&byte, 1), asio::redirect_error(asio::use_awaitable, ec));
    co_return ec == asio::error::eof || ec == asio::error::connection_reset ? "ok" : "after close: " + ec.message();
  }());
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, "ok");
}

TEST(TcpListener, CloseEndsAPendingAccept) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(listeners) << listeners.error();
  Listener& listener = *listeners->front();
  const std::uint16_t port = listener.local_port();

  std::optional<std::error_code> error;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto accepted = co_await listener.accept();
        error = accepted ? std::error_code() : accepted.error();
      },
      asio::detached);
  io.run_for(20ms);
  EXPECT_FALSE(error);
  listener.close();
  for (int i = 0; i < 100 && !error; ++i) io.run_for(10ms);
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, std::errc::operation_canceled) << error->message();
  EXPECT_EQ(listener.local_address(), "closed");
  EXPECT_EQ(listener.local_port(), 0);

  // The port is free again.
  auto again = listen_tcp(io.get_executor(), "127.0.0.1", port);
  EXPECT_TRUE(again) << again.error();
}

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

  auto first = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(first) << first.error();
  const std::uint16_t first_port = first->front()->local_port();
  server.add_listener(std::move(first->front()));
  server.start();

  auto answer = run(io, get(first_port));
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, "ok");

  // Added after start(): served from then on.
  auto second = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(second) << second.error();
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
  ASSERT_TRUE(listening) << listening.error();
  EXPECT_EQ(server.addresses().size(), resolved_addresses("localhost").size());
  EXPECT_NE(server.port(), 0);

  auto busy = server.listen("127.0.0.1", server.port());
  ASSERT_FALSE(busy);
  EXPECT_NE(lower(busy.error()).find("address already in use"), std::string::npos) << busy.error();
}

}  // namespace
}  // namespace coral::http
