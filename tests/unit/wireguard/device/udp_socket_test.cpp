#include "wireguard/device/udp_socket.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "bounded_io.h"
#include "net_namespace.h"
#include "wireguard/device/tun_linux.h"

namespace coral::wireguard::device {
namespace {

std::vector<std::uint8_t> to_bytes(std::string_view text) { return {text.begin(), text.end()}; }

std::string to_text(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

Endpoint endpoint(std::string_view text) {
  auto parsed = Endpoint::parse(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(Endpoint{});
}

// Everything a socket received, and how it came in.
struct Inbox {
  std::vector<Endpoint> sources;
  std::vector<std::string> payloads;
  std::vector<std::size_t> batch_sizes;
};

void receive_into(UdpSocket& socket, Inbox& inbox) {
  socket.start([&inbox](std::span<ReceivedDatagram> datagrams) {
    inbox.batch_sizes.push_back(datagrams.size());
    for (const ReceivedDatagram& datagram : datagrams) {
      inbox.sources.push_back(datagram.source);
      inbox.payloads.push_back(to_text(datagram.data));
    }
  });
}

UdpSocketOptions ipv4_loopback() {
  UdpSocketOptions options;
  options.family = UdpFamily::ipv4_only;
  options.loopback_only = true;
  return options;
}

std::unique_ptr<UdpSocket> open_or_fail(boost::asio::io_context& io, const UdpSocketOptions& options) {
  auto socket = UdpSocket::open(io, options);
  EXPECT_TRUE(socket) << socket.error().message;
  return socket ? std::move(*socket) : nullptr;
}

// `count` datagrams "datagram 0".."datagram N-1" to `to`; the storage
// behind the returned views lives in `storage`.
std::vector<OutgoingDatagram> numbered(const Endpoint& to, std::size_t count,
                                       std::vector<std::vector<std::uint8_t>>& storage) {
  storage.clear();
  for (std::size_t i = 0; i < count; ++i) storage.push_back(to_bytes("datagram " + std::to_string(i)));
  std::vector<OutgoingDatagram> datagrams;
  for (const auto& bytes : storage) datagrams.push_back(OutgoingDatagram{to, bytes});
  return datagrams;
}

std::vector<std::string> numbered_texts(std::size_t count) {
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < count; ++i) texts.push_back("datagram " + std::to_string(i));
  return texts;
}

int read_sysctl(const char* path) {
  std::ifstream file(path);
  int value = 0;
  file >> value;
  return value;
}

TEST(UdpSocket, BindsAFreePortAndRefusesATakenOne) {
  boost::asio::io_context io;
  auto first = open_or_fail(io, ipv4_loopback());
  ASSERT_TRUE(first);
  EXPECT_NE(first->port(), 0);
  EXPECT_EQ(first->family(), UdpFamily::ipv4_only);

  UdpSocketOptions same_port = ipv4_loopback();
  same_port.port = first->port();
  const auto second = UdpSocket::open(io, same_port);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, UdpErrorCode::address_in_use);
  EXPECT_EQ(second.error().message, "UDP port " + std::to_string(first->port()) +
                                        " is already in use (is another WireGuard device listening on it? choose "
                                        "another ListenPort)");
}

TEST(UdpSocket, BatchOf64ArrivesInOneReadWithItsSource) {
  boost::asio::io_context io;
  auto receiver = open_or_fail(io, ipv4_loopback());
  auto sender = open_or_fail(io, ipv4_loopback());
  ASSERT_TRUE(receiver && sender);
  Inbox inbox;
  receive_into(*receiver, inbox);

  std::vector<std::vector<std::uint8_t>> storage;
  const auto datagrams = numbered(endpoint("127.0.0.1:" + std::to_string(receiver->port())), 64, storage);
  const SendResult result = sender->send(datagrams);
  EXPECT_EQ(result.sent, 64U);
  EXPECT_EQ(result.queued + result.failed + result.dropped, 0U);

  ASSERT_TRUE(testing::run_until(io, [&] { return inbox.payloads.size() >= 64; }));
  EXPECT_EQ(inbox.payloads, numbered_texts(64));
  // All 64 were waiting when the socket became readable: one recvmmsg.
  EXPECT_EQ(inbox.batch_sizes, std::vector<std::size_t>{64});
  for (const Endpoint& source : inbox.sources) {
    EXPECT_EQ(source, endpoint("127.0.0.1:" + std::to_string(sender->port())));
  }
  EXPECT_EQ(receiver->stats().datagrams_received, 64U);
  EXPECT_EQ(sender->stats().datagrams_sent, 64U);
}

TEST(UdpSocket, BatchSizeSplitsWhatIsWaiting) {
  boost::asio::io_context io;
  UdpSocketOptions small_batches = ipv4_loopback();
  small_batches.batch_size = 16;
  auto receiver = open_or_fail(io, small_batches);
  auto sender = open_or_fail(io, small_batches);
  ASSERT_TRUE(receiver && sender);
  Inbox inbox;
  receive_into(*receiver, inbox);

  std::vector<std::vector<std::uint8_t>> storage;
  const auto datagrams = numbered(endpoint("127.0.0.1:" + std::to_string(receiver->port())), 50, storage);
  EXPECT_EQ(sender->send(datagrams).sent, 50U);
  ASSERT_TRUE(testing::run_until(io, [&] { return inbox.payloads.size() >= 50; }));
  EXPECT_EQ(inbox.payloads, numbered_texts(50));
  // 16 messages per recvmmsg: four calls at most (fewer when the kernel
  // coalesced equal-sized datagrams into one message).
  EXPECT_LE(inbox.batch_sizes.size(), 4U);
}

TEST(UdpSocket, RunsOfEqualSizedDatagramsArriveWholeAndInOrder) {
  // What a WireGuard data burst looks like: full-size transport messages
  // to one peer, the last one shorter. Sent segmented and received
  // coalesced where the kernel can; each datagram must come out as sent.
  boost::asio::io_context io;
  auto receiver = open_or_fail(io, ipv4_loopback());
  auto sender = open_or_fail(io, ipv4_loopback());
  ASSERT_TRUE(receiver && sender);
  Inbox inbox;
  receive_into(*receiver, inbox);
  const Endpoint to = endpoint("127.0.0.1:" + std::to_string(receiver->port()));
  std::vector<std::vector<std::uint8_t>> storage;
  std::vector<OutgoingDatagram> datagrams;
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < 150; ++i) {
    const std::size_t size = i == 149 ? 700 : 1452;
    std::string text = std::to_string(i) + ":";
    text.resize(size, static_cast<char>('a' + i % 26));
    expected.push_back(text);
    storage.emplace_back(text.begin(), text.end());
  }
  for (const auto& bytes : storage) datagrams.push_back(OutgoingDatagram{to, bytes});
  EXPECT_EQ(sender->send(datagrams).sent, 150U);
  ASSERT_TRUE(testing::run_until(io, [&] { return inbox.payloads.size() >= 150; }));
  EXPECT_EQ(inbox.payloads, expected);
}

TEST(UdpSocket, BatchOverIpv6LoopbackKeepsTheIpv6Source) {
  boost::asio::io_context io;
  UdpSocketOptions options;
  options.loopback_only = true;
  auto receiver = UdpSocket::open(io, options);
  if (!receiver || (*receiver)->family() != UdpFamily::dual_stack) GTEST_SKIP() << "no IPv6 loopback on this host";
  auto sender = open_or_fail(io, options);
  ASSERT_TRUE(sender);
  Inbox inbox;
  receive_into(**receiver, inbox);

  std::vector<std::vector<std::uint8_t>> storage;
  const auto datagrams = numbered(endpoint("[::1]:" + std::to_string((*receiver)->port())), 64, storage);
  EXPECT_EQ(sender->send(datagrams).sent, 64U);
  ASSERT_TRUE(testing::run_until(io, [&] { return inbox.payloads.size() >= 64; }));
  EXPECT_EQ(inbox.payloads, numbered_texts(64));
  for (const Endpoint& source : inbox.sources) {
    EXPECT_EQ(source, endpoint("[::1]:" + std::to_string(sender->port())));
  }
}

TEST(UdpSocket, Ipv4PeerOfTheDualStackSocketIsAPlainIpv4Endpoint) {
  // The dual-stack socket binds every address: keep that off the host.
  if (testing::can_make_network_namespaces()) {
    ASSERT_EQ(testing::enter_fresh_network_namespace(), std::nullopt);
  }
  boost::asio::io_context io;
  auto dual = UdpSocket::open(io, UdpSocketOptions{});
  ASSERT_TRUE(dual) << dual.error().message;
  if ((*dual)->family() != UdpFamily::dual_stack) GTEST_SKIP() << "no IPv6 on this host";
  auto peer = open_or_fail(io, ipv4_loopback());
  ASSERT_TRUE(peer);
  Inbox dual_inbox;
  Inbox peer_inbox;
  receive_into(**dual, dual_inbox);
  receive_into(*peer, peer_inbox);

  const auto hello = to_bytes("hello");
  const OutgoingDatagram to_dual{endpoint("127.0.0.1:" + std::to_string((*dual)->port())), hello};
  EXPECT_EQ(peer->send({&to_dual, 1}).sent, 1U);
  ASSERT_TRUE(testing::run_until(io, [&] { return !dual_inbox.sources.empty(); }));
  const Endpoint source = dual_inbox.sources.front();
  EXPECT_TRUE(source.address.is_ipv4());
  EXPECT_EQ(source.to_string(), "127.0.0.1:" + std::to_string(peer->port()));

  // Answering the endpoint as received reaches the IPv4 peer, and so does
  // its IPv4-mapped spelling.
  const auto answer = to_bytes("answer");
  const auto mapped = to_bytes("mapped");
  const OutgoingDatagram replies[] = {
      {source, answer},
      {endpoint("[::ffff:127.0.0.1]:" + std::to_string(peer->port())), mapped},
  };
  EXPECT_EQ((*dual)->send(replies).sent, 2U);
  ASSERT_TRUE(testing::run_until(io, [&] { return peer_inbox.payloads.size() >= 2; }));
  EXPECT_EQ(peer_inbox.payloads, (std::vector<std::string>{"answer", "mapped"}));
}

TEST(UdpSocket, RefusedDatagramsDoNotStopTheOthers) {
  boost::asio::io_context io;
  auto receiver = open_or_fail(io, ipv4_loopback());
  auto sender = open_or_fail(io, ipv4_loopback());
  ASSERT_TRUE(receiver && sender);
  Inbox inbox;
  receive_into(*receiver, inbox);

  const Endpoint good = endpoint("127.0.0.1:" + std::to_string(receiver->port()));
  const auto one = to_bytes("one");
  const auto two = to_bytes("two");
  const auto three = to_bytes("three");
  const auto lost = to_bytes("lost");
  // Port 0 the kernel refuses (EINVAL); IPv6 an IPv4 socket cannot send.
  const Endpoint port_zero{IpAddress::v4({127, 0, 0, 1}), 0};
  const OutgoingDatagram datagrams[] = {
      {good, one}, {port_zero, lost}, {good, two}, {endpoint("[::1]:9"), lost}, {good, three},
  };
  const SendResult result = sender->send(datagrams);
  EXPECT_EQ(result.sent, 3U);
  EXPECT_EQ(result.failed, 2U);
  EXPECT_EQ(sender->stats().send_failed, 2U);
  EXPECT_EQ(sender->stats().last_send_errno, EAFNOSUPPORT);
  ASSERT_TRUE(testing::run_until(io, [&] { return inbox.payloads.size() >= 3; }));
  EXPECT_EQ(inbox.payloads, (std::vector<std::string>{"one", "two", "three"}));
}

TEST(UdpSocket, UnreachableNetworksDoNotStopTheOthers) {
  if (!testing::can_make_network_namespaces()) GTEST_SKIP() << testing::kNeedsNetworkPrivileges;
  // Only loopback exists in the namespace: TEST-NET addresses have no route.
  ASSERT_EQ(testing::enter_fresh_network_namespace(), std::nullopt);
  boost::asio::io_context io;
  UdpSocketOptions loopback;
  loopback.loopback_only = true;
  auto receiver = open_or_fail(io, loopback);
  auto sender = open_or_fail(io, UdpSocketOptions{});
  ASSERT_TRUE(receiver && sender);
  Inbox inbox;
  receive_into(*receiver, inbox);

  const Endpoint good = endpoint("[::1]:" + std::to_string(receiver->port()));
  const auto one = to_bytes("one");
  const auto two = to_bytes("two");
  const auto lost = to_bytes("lost");
  const OutgoingDatagram datagrams[] = {
      {endpoint("192.0.2.1:51820"), lost},
      {good, one},
      {endpoint("[2001:db8::1]:51820"), lost},
      {good, two},
  };
  const SendResult result = sender->send(datagrams);
  EXPECT_EQ(result.sent, 2U);
  EXPECT_EQ(result.failed, 2U);
  EXPECT_EQ(sender->stats().last_send_errno, ENETUNREACH);
  ASSERT_TRUE(testing::run_until(io, [&] { return inbox.payloads.size() >= 2; }));
  EXPECT_EQ(inbox.payloads, (std::vector<std::string>{"one", "two"}));
}

TEST(UdpSocket, BuffersAreAsLargeAsAskedWhenPrivileged) {
  if (!testing::has_capability(CAP_NET_ADMIN)) GTEST_SKIP() << "needs CAP_NET_ADMIN (run as root)";
  // Beyond the sysctl limits, which only the forcing options pass.
  const int wanted =
      2 * std::max({read_sysctl("/proc/sys/net/core/rmem_max"), read_sysctl("/proc/sys/net/core/wmem_max"), 4 << 20});
  boost::asio::io_context io;
  UdpSocketOptions options = ipv4_loopback();
  options.receive_buffer_bytes = wanted;
  options.send_buffer_bytes = wanted;
  auto socket = open_or_fail(io, options);
  ASSERT_TRUE(socket);
  EXPECT_GE(socket->receive_buffer_bytes(), wanted);
  EXPECT_GE(socket->send_buffer_bytes(), wanted);
}

TEST(UdpSocket, WithoutCapNetAdminBuffersStopAtTheSysctlLimitsAndFwmarksAreRefused) {
  const int receive_max = read_sysctl("/proc/sys/net/core/rmem_max");
  const int send_max = read_sysctl("/proc/sys/net/core/wmem_max");
  ASSERT_GT(receive_max, 0);
  const auto text = testing::run_in_child([&]() -> std::string {
    // Linux 5.17 and later let CAP_NET_RAW set SO_MARK too.
    if (!testing::drop_capability(CAP_NET_ADMIN) || !testing::drop_capability(CAP_NET_RAW)) {
      return "could not drop CAP_NET_ADMIN and CAP_NET_RAW";
    }
    boost::asio::io_context io;
    UdpSocketOptions options = ipv4_loopback();
    options.receive_buffer_bytes = 2 * std::max(receive_max, send_max);
    options.send_buffer_bytes = options.receive_buffer_bytes;
    auto socket = UdpSocket::open(io, options);
    if (!socket) return socket.error().message;
    const auto marked = (*socket)->set_fwmark(51820);
    return std::to_string((*socket)->receive_buffer_bytes()) + " " + std::to_string((*socket)->send_buffer_bytes()) +
           "\n" + (marked ? "marked" : std::string(to_string(marked.error().code)) + ": " + marked.error().message);
  });
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, std::to_string(receive_max) + " " + std::to_string(send_max) +
                       "\npermission_denied: setting fwmark 51820 on the UDP socket: Operation not permitted (needs "
                       "CAP_NET_ADMIN)");
}

TEST(UdpSocket, FwmarkSelectsThePolicyRoutingTable) {
  if (!testing::can_make_network_namespaces()) GTEST_SKIP() << testing::kNeedsNetworkPrivileges;
  ASSERT_EQ(testing::enter_fresh_network_namespace(), std::nullopt);
  // Marked datagrams meet an "unreachable" route (EHOSTUNREACH); unmarked
  // ones find no route at all (ENETUNREACH).
  if (std::system("ip rule add fwmark 0x1234 lookup 100 && ip route add unreachable 192.0.2.0/24 table 100") != 0) {
    GTEST_SKIP() << "needs ip (iproute2)";
  }
  boost::asio::io_context io;
  UdpSocketOptions options;
  options.family = UdpFamily::ipv4_only;
  options.fwmark = 0x1234;
  auto socket = open_or_fail(io, options);
  ASSERT_TRUE(socket);
  const auto data = to_bytes("x");
  const OutgoingDatagram datagram{endpoint("192.0.2.1:51820"), data};
  EXPECT_EQ(socket->send({&datagram, 1}).failed, 1U);
  EXPECT_EQ(socket->stats().last_send_errno, EHOSTUNREACH);
  ASSERT_TRUE(socket->set_fwmark(0));
  EXPECT_EQ(socket->send({&datagram, 1}).failed, 1U);
  EXPECT_EQ(socket->stats().last_send_errno, ENETUNREACH);
}

TEST(UdpSocket, FullSendBufferQueuesAndSendsInOrderOnceWritable) {
  if (!testing::can_make_network_namespaces()) GTEST_SKIP() << testing::kNeedsNetworkPrivileges;
  ASSERT_EQ(testing::enter_fresh_network_namespace(), std::nullopt);
  boost::asio::io_context io;
  // A route through a TUN device whose queue drains at 4 Mbit/s (tbf): the
  // qdisc holds the datagrams, and they count against the socket's small
  // send buffer until they leave, so sendmmsg meets EAGAIN.
  TunOptions tun_options;
  tun_options.name = "coral-q0";
  tun_options.addresses = {*InterfaceAddress::parse("10.9.0.1/24")};
  auto tun = TunDevice::open(io, tun_options);
  ASSERT_TRUE(tun) << tun.error().message;
  if (std::system("tc qdisc add dev coral-q0 root tbf rate 4mbit burst 1600 limit 100000 2>/dev/null") != 0) {
    GTEST_SKIP() << "needs tc (iproute2) and the tbf qdisc";
  }
  UdpSocketOptions options;
  options.family = UdpFamily::ipv4_only;
  options.send_buffer_bytes = 1;  // the kernel's minimum, about two datagrams of this size
  auto sender = open_or_fail(io, options);
  ASSERT_TRUE(sender);

  // The UDP payloads that come out of the TUN device.
  std::vector<std::string> arrived;
  (*tun)->start([&](std::span<const Packet> packets) {
    for (const Packet& packet : packets) {
      if (packet.size() < 28 || packet[0] >> 4 != 4 || packet[9] != 17) {  // IPv4, UDP
        continue;
      }
      const std::size_t header = std::size_t{packet[0] & 0x0fu} * 4;
      const std::string payload = to_text(packet.subspan(header + 8));
      arrived.push_back(payload.substr(0, payload.find('|')));
    }
  });

  std::vector<std::vector<std::uint8_t>> storage;
  for (int i = 0; i < 30; ++i)
    storage.push_back(to_bytes("datagram " + std::to_string(i) + "|" + std::string(900, 'x')));
  std::vector<OutgoingDatagram> datagrams;
  for (const auto& bytes : storage) datagrams.push_back({endpoint("10.9.0.2:9"), bytes});
  const SendResult result = sender->send(datagrams);
  EXPECT_GT(result.sent, 0U);
  EXPECT_GT(result.queued, 0U) << "the send buffer never filled up";
  EXPECT_EQ(result.sent + result.queued, 30U);
  EXPECT_EQ(sender->queued(), result.queued);

  // More while the queue exists: it goes behind the queue.
  const auto last = to_bytes("datagram 30|");
  const OutgoingDatagram after{endpoint("10.9.0.2:9"), last};
  EXPECT_EQ(sender->send({&after, 1}).queued, 1U);

  ASSERT_TRUE(testing::run_until(
      io, [&] { return arrived.size() >= 31; }, std::chrono::seconds(5)));
  EXPECT_EQ(arrived, numbered_texts(31));
  EXPECT_EQ(sender->queued(), 0U);
  EXPECT_EQ(sender->stats().datagrams_sent, 31U);
}

TEST(UdpSocket, NothingIsDeliveredAfterClose) {
  boost::asio::io_context io;
  auto receiver = open_or_fail(io, ipv4_loopback());
  auto sender = open_or_fail(io, ipv4_loopback());
  ASSERT_TRUE(receiver && sender);
  // The handler closes the socket it is called by, after the first batch.
  std::size_t calls = 0;
  receiver->start([&](std::span<ReceivedDatagram>) {
    ++calls;
    receiver->close();
  });
  std::vector<std::vector<std::uint8_t>> storage;
  const auto datagrams = numbered(endpoint("127.0.0.1:" + std::to_string(receiver->port())), 10, storage);
  // Two sends, so that the second finds the socket closed.
  EXPECT_EQ(sender->send(std::span(datagrams).first(5)).sent, 5U);
  ASSERT_TRUE(testing::run_until(io, [&] { return calls > 0; }));
  EXPECT_EQ(sender->send(std::span(datagrams).subspan(5)).sent, 5U);
  testing::run_until(
      io, [] { return false; }, std::chrono::milliseconds(50));
  EXPECT_EQ(calls, 1U);

  sender->close();
  const SendResult result = sender->send(datagrams);
  EXPECT_EQ(result.dropped, 10U);
  EXPECT_EQ(result.sent, 0U);
}

TEST(UdpSocket, HandlerMayDestroyTheSocket) {
  boost::asio::io_context io;
  auto receiver = open_or_fail(io, ipv4_loopback());
  auto sender = open_or_fail(io, ipv4_loopback());
  ASSERT_TRUE(receiver && sender);
  std::size_t received = 0;
  receiver->start([&](std::span<ReceivedDatagram> datagrams) {
    received += datagrams.size();
    receiver.reset();
  });
  std::vector<std::vector<std::uint8_t>> storage;
  const auto datagrams = numbered(endpoint("127.0.0.1:" + std::to_string(receiver->port())), 3, storage);
  EXPECT_EQ(sender->send(datagrams).sent, 3U);
  ASSERT_TRUE(testing::run_until(io, [&] { return receiver == nullptr; }));
  EXPECT_EQ(received, 3U);
}

}  // namespace
}  // namespace coral::wireguard::device
