// The host mesh transport: listening on a mesh address (loopback
// 127.42.0.0/16 here), dialing it, and the errors a user meets first.

#include "mesh/host_transport.h"
#include "net/error.h"
#include "bounded_io.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

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
net::Awaitable<std::string> read_exactly(net::ByteStream& stream, std::size_t size) {
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
  ASSERT_TRUE(listener) << listener.error().message();
  const std::uint16_t port = (*listener)->local_port();
  ASSERT_NE(port, 0);
  EXPECT_EQ((*listener)->local_address(), "127.42.0.1:" + std::to_string(port));

  net::Dialer dial = transport->dialer();
  const net::Target target{.host = "127.42.0.1", .port = port};
  auto result = run(io, [&]() -> asio::awaitable<std::string> {
    auto dialed = co_await dial(target);
    if (!dialed) co_return "dial: " + dialed.error().message();
    auto accepted = co_await (*listener)->accept();
    if (!accepted) co_return "accept: " + accepted.error().message();
    net::ByteStream& client = **dialed;
    net::ByteStream& server = **accepted;
    // Each side names the other: the host transport's addresses are real.
    if (client.remote_address() != "127.42.0.1:" + std::to_string(port)) {
      co_return "client remote " + client.remote_address();
    }
    if (!server.remote_address().starts_with("127.")) co_return "server remote " + server.remote_address();

    const std::string_view hello_text = "hello colony";
    const auto hello = std::as_bytes(std::span(hello_text));
    if (auto error = co_await client.write(hello)) co_return "client write: " + error.message();
    std::string got = co_await read_exactly(server, 12);
    if (got != "hello colony") co_return "server got " + got;
    const std::string_view reply_text = "hello proxy";
    const auto reply = std::as_bytes(std::span(reply_text));
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
    ASSERT_TRUE(probe) << probe.error().message();
    port = (*probe)->local_port();
  }  // closed: nothing listens there now
  net::Dialer dial = transport->dialer();
  const net::Target target{.host = "127.42.0.1", .port = port};
  auto result = run(io, [&]() -> asio::awaitable<std::error_code> {
    auto dialed = co_await dial(target);
    co_return dialed ? std::error_code() : dialed.error();
  }());
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, std::errc::connection_refused) << result->message();
  const std::string said = net::describe_dial_error(target, *result, 2000ms);
  EXPECT_NE(said.find("refused"), std::string::npos) << said;
}

TEST(HostTransport, ListenRefusesWhatIsNotAnIpAddress) {
  asio::io_context io(1);
  auto transport = make_host_transport(io.get_executor());
  for (const std::string address : {"localhost", "127.42.0", "", "[::1]", "mesh.example"}) {
    auto listener = transport->listen(address, 0);
    ASSERT_FALSE(listener) << address;
    EXPECT_EQ(listener.error(), net::Errc::not_an_ip_address) << listener.error().message();
    EXPECT_EQ(net::describe_listen_error(address, 0, listener.error()), "\"" + address + "\" is not an IP address");
  }
}

TEST(HostTransport, Ipv6AddressNotOnThisHostSaysWhatTheTransportNeeds) {
  asio::io_context io(1);
  auto transport = make_host_transport(io.get_executor());
  auto listener = transport->listen("fdc0:42::1", 9000);
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error(), net::Errc::mesh_address_not_local) << listener.error().message();
  EXPECT_EQ(listener.error(), std::errc::address_not_available) << listener.error().message();
  const std::string said = net::describe_listen_error("fdc0:42::1", 9000, listener.error());
  EXPECT_TRUE(said.starts_with("[fdc0:42::1]:9000: ")) << said;
  EXPECT_NE(said.find("needs the mesh address on a local interface"), std::string::npos) << said;
}

TEST(HostTransport, BusyPortIsNotBlamedOnTheInterface) {
  asio::io_context io(1);
  auto transport = make_host_transport(io.get_executor());
  auto first = transport->listen("127.42.0.1", 0);
  ASSERT_TRUE(first) << first.error().message();
  const std::uint16_t port = (*first)->local_port();
  auto second = transport->listen("127.42.0.1", port);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use) << second.error().message();
  const std::string said = net::describe_listen_error("127.42.0.1", port, second.error());
  EXPECT_TRUE(said.starts_with("127.42.0.1:" + std::to_string(port) + ": ")) << said;
  EXPECT_EQ(said.find("local interface"), std::string::npos) << said;
}

}  // namespace
}  // namespace coral::mesh
