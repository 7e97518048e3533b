// The userspace transport end to end in one process: two nodes, each
// coral's WireGuard device on a loopback UDP socket plus a userspace TCP/IP
// stack, a hub (10.42.0.1, fd42::1) and a peer (10.42.0.2, fd42::2).
// Streams go through real handshakes, encryption and UDP datagrams. Also
// registration over the tunnel's plumbing: a hub that admits unknown keys
// at their registration addresses, reachable from those only on one port.

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
#include "mesh/registration_address.h"
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

// Sends `message` on a new stream to host:port and reads as many bytes back:
// the answer, or what failed ("dial: ...", "write: ...", "read: ...").
net::Awaitable<std::string> echo_at(net::Dialer dialer, std::string host, std::uint16_t port, std::string message) {
  const net::Target target{host, port};
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

net::Awaitable<std::string> echo_once(net::Dialer dialer, std::string host, std::string message) {
  auto answer = co_await echo_at(std::move(dialer), std::move(host), 9000, std::move(message));
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

// A hub that knows no peer and admits any key as a provisional peer whose
// one allowed source is the key's registration address, reachable from
// link-local sources on port 9000 only; a member that holds only its
// registration address.
struct Registration {
  asio::io_context io{1};
  Node hub;
  Node member;
  std::vector<std::unique_ptr<net::Listener>> listeners;
  std::vector<crypto::PublicKey> admitted;

  Registration() {
    WireGuardTransportOptions hub_options;
    hub_options.private_key = hub.key;
    hub_options.ipv4 = "10.42.0.1";
    hub_options.ipv6 = "fd42::1";
    hub_options.link_local_tcp_port = 9000;
    hub_options.connect_timeout = 1500ms;
    auto hub_transport = make_userspace_transport(io, hub_options);
    EXPECT_TRUE(hub_transport) << (hub_transport ? "" : hub_transport.error());
    if (hub_transport) hub.transport = std::move(*hub_transport);
    WireGuardTransportOptions member_options;
    member_options.private_key = member.key;
    member_options.link_local = registration_address(member.key.public_key());
    member_options.connect_timeout = 1500ms;
    auto member_transport = make_userspace_transport(io, member_options);
    EXPECT_TRUE(member_transport) << (member_transport ? "" : member_transport.error());
    if (member_transport) member.transport = std::move(*member_transport);
  }

  void start() {
    hub.transport->set_unknown_peer_handler(
        [this](const crypto::PublicKey& key, const wireguard::Endpoint&, wireguard::Time) {
          admitted.push_back(key);
          wireguard::PeerSettings peer;
          peer.public_key = key;
          peer.allowed_ips = {base::Cidr::parse(registration_address(key) + "/128").value()};
          return std::optional<wireguard::PeerSettings>(peer);
        });
    for (const std::uint16_t port : {9000, 9001}) {
      auto listener = hub.transport->listen("fd42::1", port);
      ASSERT_TRUE(listener) << listener.error().message();
      listeners.push_back(std::move(*listener));
      asio::co_spawn(io, coral::testing::serve_echo(*listeners.back()), asio::detached);
    }
    ASSERT_TRUE(member.transport->set_peers({hub_as_seen_by_peer(hub)}));
  }
  std::string address() const { return registration_address(member.key.public_key()); }
};

TEST(UserspaceTransportRegistration, AnUnknownKeyReachesTheRegistrationPortFromItsRegistrationAddress) {
  Registration mesh;
  mesh.start();
  const std::string message = std::string(50000, 'r') + "register";
  auto answer = run(mesh.io, echo_at(mesh.member.transport->dialer_from(mesh.address()), "fd42::1", 9000, message));
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, message);
  ASSERT_EQ(mesh.admitted.size(), 1U);
  EXPECT_EQ(mesh.admitted[0], mesh.member.key.public_key());
  const auto snapshot = mesh.hub.transport->snapshot();
  ASSERT_EQ(snapshot.peers.size(), 1U);
  EXPECT_EQ(snapshot.peers[0].public_key, mesh.member.key.public_key());
  ASSERT_EQ(snapshot.peers[0].allowed_ips.size(), 1U);
  EXPECT_EQ(snapshot.peers[0].allowed_ips[0].to_string(), mesh.address() + "/128");
  EXPECT_EQ(mesh.hub.transport->stack_stats().restricted_dropped, 0U);
}

TEST(UserspaceTransportRegistration, OtherPortsAndOtherSourcesGetNothing) {
  Registration mesh;
  mesh.start();
  const auto started = std::chrono::steady_clock::now();
  auto other_port = run(mesh.io, echo_at(mesh.member.transport->dialer_from(mesh.address()), "fd42::1", 9001, "x"));
  ASSERT_TRUE(other_port);
  EXPECT_EQ(*other_port, "dial: " + std::error_code(net::Errc::connect_timed_out).message());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_GE(mesh.hub.transport->stack_stats().restricted_dropped, 1U) << "the SYNs reached the hub's stack, and no further";
  EXPECT_EQ(mesh.admitted.size(), 1U) << "the handshake itself succeeded";
  // The registration port still answers.
  auto registration = run(mesh.io, echo_at(mesh.member.transport->dialer_from(mesh.address()), "fd42::1", 9000, "ok"));
  ASSERT_TRUE(registration);
  EXPECT_EQ(*registration, "ok");
  // Another link-local source is no source of this key's: cryptokey
  // routing drops it before the stack.
  ASSERT_FALSE(mesh.member.transport->set_link_local("fe80::1"));
  const auto packets_before = mesh.hub.transport->stack_stats().packets_in;
  auto spoofed = run(mesh.io, echo_at(mesh.member.transport->dialer_from("fe80::1"), "fd42::1", 9000, "x"));
  ASSERT_TRUE(spoofed);
  EXPECT_EQ(*spoofed, "dial: " + std::error_code(net::Errc::connect_timed_out).message());
  EXPECT_EQ(mesh.hub.transport->stack_stats().packets_in, packets_before);
}

TEST(UserspaceTransportRegistration, WithoutAHandlerAnUnknownKeyGetsNothing) {
  Registration mesh;
  mesh.start();
  mesh.hub.transport->set_unknown_peer_handler(nullptr);
  auto answer = run(mesh.io, echo_at(mesh.member.transport->dialer_from(mesh.address()), "fd42::1", 9000, "x"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(*answer, "dial: " + std::error_code(net::Errc::connect_timed_out).message());
  EXPECT_TRUE(mesh.admitted.empty());
  EXPECT_TRUE(mesh.hub.transport->snapshot().peers.empty());
}

}  // namespace
}  // namespace coral::mesh
