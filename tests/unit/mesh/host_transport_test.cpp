// The host mesh transport: listening on a mesh address (loopback
// 127.42.0.0/16 here), dialing it, and the errors a user meets first.

#include "mesh/host_transport.h"
#include "bounded_io.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace coral::mesh {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coral::testing::run;
using coral::testing::run_until;

// Reads exactly `size` bytes (bounded number of reads).
http::Awaitable<std::string> read_exactly(http::ByteStream& stream, std::size_t size) {
  std::string got;
  std::array<std::byte, 64> buffer{};
  for (int reads = 0; got.size() < size && reads < 64; ++reads) {
    auto n = co_await stream.read_some(buffer);
    if (!n) co_return got + "<" + n.error().message() + ">";
    got.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
  co_return got;
}

TEST(HostTransport, IsNamedHost) {
  asio::io_context io(1);
  auto transport = make_host_transport(io.get_executor());
  EXPECT_EQ(transport->name(), "host");
}

TEST(HostTransport, ListensOnAMeshAddressAndDialsIt) {
  asio::io_context io(1);
  auto transport = make_host_transport(io.get_executor());
  auto listener = transport->listen("127.42.0.1", 0);
  ASSERT_TRUE(listener) << listener.error();
  const std::uint16_t port = (*listener)->local_port();
  ASSERT_NE(port, 0);
  EXPECT_EQ((*listener)->local_address(), "127.42.0.1:" + std::to_string(port));

  http::Dialer dial = transport->dialer();
  const http::Target target{.host = "127.42.0.1", .port = port};
  auto result = run(io, [&]() -> asio::awaitable<std::string> {
    auto dialed = co_await dial(target);
    if (!dialed) co_return "dial: " + dialed.error();
    auto accepted = co_await (*listener)->accept();
    if (!accepted) co_return "accept: " + accepted.error().message();
    http::ByteStream& client = **dialed;
    http::ByteStream& server = **accepted;
    // Each side names the other: the host transport's addresses are real.
    if (client.remote_address() != "127.42.0.1:" + std::to_string(port)) {
      co_return "client remote " + client.remote_address();
    }
    if (!server.remote_address().starts_with("127.")) co_return "server remote " + server.remote_address();

    const http::Bytes hello = http::as_bytes(std::string_view("hello colony"));
    if (auto error = co_await client.write(hello)) co_return "client write: " + error.message();
    std::string got = co_await read_exactly(server, 12);
    if (got != "hello colony") co_return "server got " + got;
    const http::Bytes reply = http::as_bytes(std::string_view("hello proxy"));
    if (auto error = co_await server.write(reply)) co_return "server write: " + error.message();
    got = co_await read_exactly(client, 11);
    if (got != "hello proxy") co_return "client got " + got;
    co_return "ok";
  }());
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, "ok");
}

TEST(HostTransport, DialingANonListeningPortSaysConnectionRefused) {
  asio::io_context io(1);
  auto transport = make_host_transport(io.get_executor(), {.connect_timeout = 2000ms});
  std::uint16_t port = 0;
  {
    auto probe = transport->listen("127.42.0.1", 0);
    ASSERT_TRUE(probe) << probe.error();
    port = (*probe)->local_port();
  }  // closed: nothing listens there now
  http::Dialer dial = transport->dialer();
  const http::Target target{.host = "127.42.0.1", .port = port};
  auto result = run(io, [&]() -> asio::awaitable<std::string> {
    auto dialed = co_await dial(target);
    co_return dialed ? "connected" : dialed.error();
  }());
  ASSERT_TRUE(result);
  EXPECT_NE(result->find("refused"), std::string::npos) << *result;
}

TEST(HostTransport, ListenRefusesWhatIsNotAnIpAddress) {
  asio::io_context io(1);
  auto transport = make_host_transport(io.get_executor());
  for (const std::string address : {"localhost", "127.42.0", "", "[::1]", "mesh.example"}) {
    auto listener = transport->listen(address, 0);
    ASSERT_FALSE(listener) << address;
    EXPECT_EQ(listener.error(), "\"" + address + "\" is not an IP address");
  }
}

TEST(HostTransport, Ipv6AddressNotOnThisHostSaysWhatTheTransportNeeds) {
  asio::io_context io(1);
  auto transport = make_host_transport(io.get_executor());
  auto listener = transport->listen("fdc0:42::1", 9000);
  ASSERT_FALSE(listener);
  EXPECT_TRUE(listener.error().starts_with("[fdc0:42::1]:9000: ")) << listener.error();
  EXPECT_NE(listener.error().find("needs the mesh address on a local interface"), std::string::npos)
      << listener.error();
}

TEST(HostTransport, BusyPortIsNotBlamedOnTheInterface) {
  asio::io_context io(1);
  auto transport = make_host_transport(io.get_executor());
  auto first = transport->listen("127.42.0.1", 0);
  ASSERT_TRUE(first) << first.error();
  const std::uint16_t port = (*first)->local_port();
  auto second = transport->listen("127.42.0.1", port);
  ASSERT_FALSE(second);
  EXPECT_TRUE(second.error().starts_with("127.42.0.1:" + std::to_string(port) + ": ")) << second.error();
  EXPECT_EQ(second.error().find("local interface"), std::string::npos) << second.error();
}

}  // namespace
}  // namespace coral::mesh
