// Host TCP listeners (listen_tcp, TcpListener) on loopback with port 0, and
// the errors they report (std::error_code values, the address named).

#include "net/tcp.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <span>
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
#include "net/error.h"

namespace coral::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using coral::testing::lower;
using coral::testing::resolved_addresses;
using coral::testing::run;
using coral::testing::run_until;

// "127.0.0.1:8080" -> "127.0.0.1"; "[::1]:8080" -> "::1".
std::string host_of(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
  return host;
}

TEST(ListenTcp, PortZeroPicksAFreePortAndReportsIt) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(listeners) << listeners.error().message();
  ASSERT_EQ(listeners->size(), 1U);
  Listener& listener = *listeners->front();
  EXPECT_NE(listener.local_port(), 0);
  EXPECT_EQ(listener.local_address(), "127.0.0.1:" + std::to_string(listener.local_port()));
}

TEST(ListenTcp, Ipv6AddressesAreInBrackets) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "::1", 0);
  if (!listeners && listeners.error().code == std::errc::address_not_available) {
    GTEST_SKIP() << "no ::1 on this host: " << listeners.error().message();
  }
  ASSERT_TRUE(listeners) << listeners.error().message();
  ASSERT_EQ(listeners->size(), 1U);
  EXPECT_EQ(listeners->front()->local_address(), "[::1]:" + std::to_string(listeners->front()->local_port()));
}

TEST(ListenTcp, LocalhostListensOnEveryAddressItResolvesToWithOnePort) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "localhost", 0);
  ASSERT_TRUE(listeners) << listeners.error().message();
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
  ASSERT_TRUE(v4) << v4.error().message();
  const std::uint16_t port = v4->front()->local_port();
  auto v6 = listen_tcp(io.get_executor(), "::", port);
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->front()->local_address(), "[::]:" + std::to_string(port));
}

TEST(ListenTcp, BusyPortSaysAddressAlreadyInUse) {
  asio::io_context io(1);
  auto first = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(first) << first.error().message();
  const std::uint16_t port = first->front()->local_port();
  auto second = listen_tcp(io.get_executor(), "127.0.0.1", port);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, std::errc::address_in_use) << second.error().message();
  EXPECT_EQ(second.error().endpoint, "127.0.0.1:" + std::to_string(port));
  EXPECT_TRUE(second.error().message().starts_with("127.0.0.1:" + std::to_string(port) + ": "))
      << second.error().message();
  EXPECT_NE(lower(second.error().message()).find("address already in use"), std::string::npos)
      << second.error().message();
}

TEST(ListenTcp, AddressNotOnThisHostIsAnErrorNamingIt) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "fdc0:42::1", 0);
  ASSERT_FALSE(listeners);
  EXPECT_EQ(listeners.error().code, std::errc::address_not_available) << listeners.error().message();
  EXPECT_TRUE(listeners.error().message().starts_with("[fdc0:42::1]:0: ")) << listeners.error().message();
}

TEST(TcpListener, AcceptsAndCarriesBytesBothWays) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(listeners) << listeners.error().message();
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

    const std::string_view pong_text = "pong";
    const auto pong = std::as_bytes(std::span(pong_text));
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
  ASSERT_TRUE(listeners) << listeners.error().message();
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
  EXPECT_TRUE(again) << again.error().message();
}

// A port nothing listens on (bound, then closed).
std::uint16_t closed_port(asio::io_context& io) {
  tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return probe.local_endpoint().port();
}

TEST(TcpDialer, ConnectsToAListenerAndNamesItsEnd) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(listeners) << listeners.error().message();
  Listener& listener = *listeners->front();
  const Dialer dial = tcp_dialer(io.get_executor(), 2s);
  const Target target{"127.0.0.1", listener.local_port()};
  auto result = run(io, [&]() -> asio::awaitable<std::string> {
    auto dialed = co_await dial(target);
    if (!dialed) co_return "dial: " + dialed.error().message();
    auto accepted = co_await listener.accept();
    if (!accepted) co_return "accept: " + accepted.error().message();
    if ((*dialed)->remote_address() != target.authority()) co_return "remote " + (*dialed)->remote_address();
    const std::string_view hello = "hello";
    if (auto error = co_await (*dialed)->write(std::as_bytes(std::span(hello)))) co_return "write: " + error.message();
    std::array<std::byte, 16> buffer{};
    auto n = co_await (*accepted)->read_some(buffer);
    if (!n) co_return "read: " + n.error().message();
    co_return std::string(reinterpret_cast<const char*>(buffer.data()), *n);
  }());
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, "hello");
}

TEST(TcpDialer, ARefusedDialIsConnectionRefused) {
  asio::io_context io(1);
  const Target target{"127.0.0.1", closed_port(io)};
  const Dialer dial = tcp_dialer(io.get_executor(), 2s);
  auto result = run(io, [&]() -> asio::awaitable<std::error_code> {
    auto dialed = co_await dial(target);
    co_return dialed ? std::error_code() : dialed.error();
  }());
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, std::errc::connection_refused) << result->message();
  EXPECT_FALSE(is_resolve_error(*result));
  EXPECT_EQ(describe_dial_error(target, *result, 2s), "Connection refused");
}

TEST(TcpDialer, ADialThatDoesNotCompleteInTimeIsConnectTimedOut) {
  // A listener whose accept queue is full drops further SYNs (Linux): a
  // connect to it neither completes nor fails until the timeout.
  asio::io_context io(1);
  tcp::acceptor full(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  const std::uint16_t port = full.local_endpoint().port();
  std::vector<std::unique_ptr<tcp::socket>> fillers;
  for (int i = 0; i < 4; ++i) {
    fillers.push_back(std::make_unique<tcp::socket>(io));
    fillers.back()->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                  [](boost::system::error_code) {});
  }
  io.run_for(50ms);
  const Dialer dial = tcp_dialer(io.get_executor(), 300ms);
  const Target target{"127.0.0.1", port};
  const auto started = std::chrono::steady_clock::now();
  auto result = run(io, [&]() -> asio::awaitable<std::error_code> {
    auto dialed = co_await dial(target);
    co_return dialed ? std::error_code() : dialed.error();
  }());
  ASSERT_TRUE(result);
  if (!*result) GTEST_SKIP() << "the full listener took the connection: the kernel does not drop SYNs here";
  EXPECT_EQ(*result, Errc::connect_timed_out) << result->message();
  EXPECT_EQ(*result, std::errc::timed_out);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms);
  EXPECT_EQ(describe_dial_error(target, *result, 300ms), "connection timed out after 300 ms");
}

TEST(TcpDialer, ConnectsFromTheSourceAddressOfTheFamilyWhenItIsOurs) {
  asio::io_context io(1);
  auto listeners = listen_tcp(io.get_executor(), "127.0.0.1", 0);
  ASSERT_TRUE(listeners) << listeners.error().message();
  Listener& listener = *listeners->front();
  auto source = std::make_shared<SourceAddresses>();
  source->ipv4 = "127.42.0.7";
  source->ipv6 = "fdc0:42::7";  // not this family's: unused
  const Dialer dial = tcp_dialer(io.get_executor(), 2s, source);
  const Target target{"127.0.0.1", listener.local_port()};
  auto from = [&]() -> std::string {
    auto seen = run(io, [&]() -> asio::awaitable<std::string> {
      auto dialed = co_await dial(target);
      if (!dialed) co_return "dial: " + dialed.error().message();
      auto accepted = co_await listener.accept();
      if (!accepted) co_return "accept: " + accepted.error().message();
      co_return host_of((*accepted)->remote_address());
    }());
    return seen ? *seen : "timed out";
  };
  EXPECT_EQ(from(), "127.42.0.7");
  // Read at every dial; one that is on no interface here is skipped.
  source->ipv4 = "192.0.2.1";
  EXPECT_EQ(from(), "127.0.0.1");
}

}  // namespace
}  // namespace coral::net
