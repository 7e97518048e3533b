// The userspace transport end to end in one process: two nodes, each
// coral's WireGuard device on a loopback UDP socket plus a userspace TCP/IP
// stack, a hub (10.42.0.1, fd42::1) and a peer (10.42.0.2, fd42::2).
// Streams go through real handshakes, encryption and UDP datagrams.

#include "mesh/wireguard_transport.h"

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

#include "bounded_io.h"
#include "stream_helpers.h"
#include "net/error.h"

namespace coral::mesh {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coral::testing::run;
using coral::testing::run_until;

struct Node {
  crypto::SecretKey key = crypto::SecretKey::generate();
  std::unique_ptr<WireGuardTransport> transport;
};

Node make_node(asio::io_context& io, const std::string& v4, const std::string& v6) {
  Node node;
  WireGuardTransportOptions options;
  options.private_key = node.key;
  options.listen_port = 0;
  options.ipv4 = v4;
  options.ipv6 = v6;
  options.connect_timeout = 1500ms;
  auto transport = make_userspace_transport(io, options);
  EXPECT_TRUE(transport) << (transport ? "" : transport.error());
  if (transport) node.transport = std::move(*transport);
  return node;
}

// The peer's view of the hub: the hub's key at its loopback port, the
// whole mesh behind it.
wireguard::PeerSettings hub_as_seen_by_peer(const Node& hub) {
  wireguard::PeerSettings peer;
  peer.public_key = hub.key.public_key();
  peer.endpoint = wireguard::Endpoint::parse("127.0.0.1:" + std::to_string(hub.transport->listen_port())).value();
  peer.allowed_ips = {base::Cidr::parse("10.42.0.0/16").value(), base::Cidr::parse("fd42::/64").value()};
  return peer;
}

net::Awaitable<std::string> echo_once(net::Dialer dialer, std::string host, std::string message) {
  const net::Target target{host, 9000};
  auto stream = co_await dialer(target);
  if (!stream) co_return "dial: " + stream.error().message();
  if (auto error = co_await (*stream)->write(std::as_bytes(std::span(message)))) co_return "write: " + error.message();
  std::string answer;
  std::array<std::byte, 4096> buffer{};
  while (answer.size() < message.size()) {
    auto n = co_await (*stream)->read_some(buffer);
    if (!n) co_return "read: " + n.error().message();
    answer.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
  co_return answer;
}

struct Mesh {
  asio::io_context io{1};
  Node hub = make_node(io, "10.42.0.1", "fd42::1");
  Node peer = make_node(io, "10.42.0.2", "fd42::2");
  std::vector<std::unique_ptr<net::Listener>> listeners;

  void serve() {
    for (const char* address : {"10.42.0.1", "fd42::1"}) {
      auto listener = hub.transport->listen(address, 9000);
      ASSERT_TRUE(listener) << listener.error().message();
      listeners.push_back(std::move(*listener));
      asio::co_spawn(io, coral::testing::serve_echo(*listeners.back()), asio::detached);
    }
  }
  void join() {
    auto on_hub = hub_peer(peer.key.public_key().to_base64(), "10.42.0.2", "fd42::2");
    ASSERT_TRUE(on_hub) << on_hub.error();
    ASSERT_TRUE(hub.transport->set_peers({*on_hub}));
    ASSERT_TRUE(peer.transport->set_peers({hub_as_seen_by_peer(hub)}));
  }
};

TEST(UserspaceTransport, APeerReachesTheHubsServicesOverBothFamilies) {
  Mesh mesh;
  mesh.serve();
  mesh.join();
  EXPECT_EQ(mesh.hub.transport->name(), "userspace");
  for (const char* host : {"10.42.0.1", "fd42::1"}) {
    auto answer = run(mesh.io, echo_once(mesh.peer.transport->dialer(), host, std::string(100000, 'x') + host));
    ASSERT_TRUE(answer);
    EXPECT_EQ(*answer, std::string(100000, 'x') + host);
  }
  const auto snapshot = mesh.hub.transport->snapshot();
  ASSERT_EQ(snapshot.peers.size(), 1U);
  EXPECT_TRUE(snapshot.peers[0].last_handshake.has_value());
  EXPECT_GT(snapshot.peers[0].rx_bytes, 100000U);
  EXPECT_TRUE(snapshot.peers[0].endpoint.has_value()) << "the hub learned the peer's endpoint";
  EXPECT_GE(mesh.hub.transport->stack_stats().packets_in, 70U);
}

TEST(UserspaceTransport, AKeyTheHubDoesNotKnowGetsNothing) {
  Mesh mesh;
  mesh.serve();
  // The peer knows the hub, the hub does not know the peer.
  ASSERT_TRUE(mesh.peer.transport->set_peers({hub_as_seen_by_peer(mesh.hub)}));
  auto answer = run(mesh.io, echo_once(mesh.peer.transport->dialer(), "10.42.0.1", "hello"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, "dial: " + std::error_code(net::Errc::connect_timed_out).message());
  EXPECT_EQ(mesh.hub.transport->stack_stats().packets_in, 0U) << "nothing reached the hub's stack";
}

TEST(UserspaceTransport, RemovingAPeerCutsItOffAtOnce) {
  Mesh mesh;
  mesh.serve();
  mesh.join();
  auto first = run(mesh.io, echo_once(mesh.peer.transport->dialer(), "10.42.0.1", "before"));
  ASSERT_TRUE(first);
  ASSERT_EQ(*first, "before");
  ASSERT_TRUE(mesh.hub.transport->set_peers({}));
  const auto packets_before = mesh.hub.transport->stack_stats().packets_in;
  auto second = run(mesh.io, echo_once(mesh.peer.transport->dialer(), "10.42.0.1", "after"));
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, "dial: " + std::error_code(net::Errc::connect_timed_out).message());
  EXPECT_EQ(mesh.hub.transport->stack_stats().packets_in, packets_before);
}

TEST(UserspaceTransport, APeerCannotSpeakForAnotherAddress) {
  // The hub gives the peer 10.42.0.2 only; a stack on the peer's side
  // claiming 10.42.0.3 gets nothing through (cryptokey routing).
  Mesh mesh;
  mesh.serve();
  auto on_hub = hub_peer(mesh.peer.key.public_key().to_base64(), "10.42.0.3", "fd42::3");
  ASSERT_TRUE(on_hub);
  ASSERT_TRUE(mesh.hub.transport->set_peers({*on_hub}));
  ASSERT_TRUE(mesh.peer.transport->set_peers({hub_as_seen_by_peer(mesh.hub)}));
  auto answer = run(mesh.io, echo_once(mesh.peer.transport->dialer(), "10.42.0.1", "spoof"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, "dial: " + std::error_code(net::Errc::connect_timed_out).message());
  EXPECT_EQ(mesh.hub.transport->stack_stats().packets_in, 0U);
}

TEST(UserspaceTransport, OpenErrorsNameWhatFailed) {
  asio::io_context io(1);
  Node first = make_node(io, "10.42.0.1", "");
  WireGuardTransportOptions options;
  options.private_key = crypto::SecretKey::generate();
  options.listen_port = first.transport->listen_port();
  options.ipv4 = "10.42.0.9";
  auto clash = make_userspace_transport(io, options);
  ASSERT_FALSE(clash);
  EXPECT_NE(clash.error().find("UDP port " + std::to_string(options.listen_port)), std::string::npos) << clash.error();
  options.listen_port = 0;
  options.ipv4 = "10.42.0.300";
  auto bad = make_userspace_transport(io, options);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("10.42.0.300"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace coral::mesh
