// The userspace TCP/IP stack against itself through memory: two stacks
// joined by a packet pipe (no WireGuard), which can lose, reorder and hold
// packets. Connections, transfers both ways, closes from each side,
// resets, a full window, many connections, IPv4 and IPv6, the caps, ICMP
// echo, and two stacks holding the same addresses.

#include "netstack/stack.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "bounded_io.h"
#include "stream_helpers.h"
#include "net/error.h"

namespace coral::netstack {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coral::testing::run;
using coral::testing::run_until;
using coral::testing::Bytes;
using coral::testing::pattern;
using coral::testing::read_exactly;
using coral::testing::read_to_end;
using coral::testing::serve_echo;
using coral::testing::write_all;
using StreamPtr = std::unique_ptr<net::ByteStream>;

// Carries one stack's packets to another, a batch at a time, through the
// io_context (as a device would: never inside the sender's call).
// Optionally drops and reorders (a seeded generator: the same run each time).
class Pipe {
 public:
  using Route = std::function<Stack*(const Bytes& packet)>;
  Pipe(asio::io_context& io, Stack& from, Stack& to) : Pipe(io, from, [&to](const Bytes&) { return &to; }) {}
  Pipe(asio::io_context& io, Stack& from, Route route) : io_(io), from_(from), route_(std::move(route)) {
    from.set_output([this](std::span<const Packet> packets) {
      for (const auto& packet : packets) {
        ++sent;
        if (drop_all || (loss > 0 && chance(random_) < loss)) continue;
        held_.emplace_back(packet.begin(), packet.end());
      }
      if (reorder > 0 && held_.size() > 1 && chance(random_) < reorder) std::swap(held_[0], held_[1]);
      schedule();
    });
  }
  ~Pipe() { from_.set_output(nullptr); }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  double loss = 0;
  double reorder = 0;
  bool drop_all = false;
  std::uint64_t sent = 0;

 private:
  void schedule() {
    if (scheduled_ || held_.empty()) return;
    scheduled_ = true;
    asio::post(io_, [this] {
      scheduled_ = false;
      std::vector<Bytes> batch(std::make_move_iterator(held_.begin()), std::make_move_iterator(held_.end()));
      held_.clear();
      for (const Bytes& bytes : batch) {
        const Packet packet(bytes);
        if (Stack* to = route_(bytes)) to->input(std::span(&packet, 1));
      }
    });
  }

  asio::io_context& io_;
  Stack& from_;
  Route route_;
  std::deque<Bytes> held_;
  bool scheduled_ = false;
  std::mt19937 random_{42};
  std::uniform_real_distribution<double> chance{0.0, 1.0};
};

// Two stacks, "colony" (10.42.0.1, fd42::1) and "peer" (10.42.0.2,
// fd42::2), joined both ways.
struct Link {
  explicit Link(StackLimits limits = {}, std::chrono::milliseconds connect_timeout = 3s) {
    colony = make("10.42.0.1", "fd42::1", limits, connect_timeout);
    peer = make("10.42.0.2", "fd42::2", limits, connect_timeout);
    to_colony = std::make_unique<Pipe>(io, *peer, *colony);
    to_peer = std::make_unique<Pipe>(io, *colony, *peer);
  }
  std::shared_ptr<Stack> make(const std::string& v4, const std::string& v6, StackLimits limits,
                              std::chrono::milliseconds connect_timeout) {
    StackOptions options;
    options.ipv4 = v4;
    options.ipv6 = v6;
    options.limits = limits;
    options.connect_timeout = connect_timeout;
    auto stack = Stack::create(io, options);
    EXPECT_TRUE(stack) << stack.error().message();
    return *stack;
  }
  asio::io_context io{1};
  std::shared_ptr<Stack> colony;
  std::shared_ptr<Stack> peer;
  std::unique_ptr<Pipe> to_colony;
  std::unique_ptr<Pipe> to_peer;
};

net::Awaitable<std::expected<StreamPtr, std::error_code>> dial(Stack& stack, const std::string& host,
                                                               std::uint16_t port) {
  // Named, not temporaries in the co_await expression (g++ 12 destroys
  // those wrongly).
  const net::Dialer dialer = stack.dialer();
  const net::Target target{host, port};
  co_return co_await dialer(target);
}

net::Awaitable<std::expected<StreamPtr, std::error_code>> accept(net::Listener& listener) {
  co_return co_await listener.accept();
}

// Connects peer -> colony at host:9000; both ends, or fails the test.
std::pair<StreamPtr, StreamPtr> connect_pair(Link& link, net::Listener& listener, const std::string& host) {
  std::optional<std::expected<StreamPtr, std::error_code>> server;
  asio::co_spawn(link.io, accept(listener), [&](std::exception_ptr, std::expected<StreamPtr, std::error_code> s) {
    server = std::move(s);
  });
  auto client = run(link.io, dial(*link.peer, host, listener.local_port()));
  EXPECT_TRUE(client && *client) << (client && !*client ? client->error().message() : "no result");
  EXPECT_TRUE(run_until(link.io, [&] { return server.has_value(); }));
  EXPECT_TRUE(server && *server) << (server && !*server ? server->error().message() : "no result");
  if (!client || !*client || !server || !*server) return {};
  return {std::move(**server), std::move(**client)};
}

void transfer_both_ways(const std::string& listen_address, const std::string& dial_address) {
  Link link;
  auto listener = link.colony->listen(listen_address, 9000);
  ASSERT_TRUE(listener) << listener.error().message();
  auto [server, client] = connect_pair(link, **listener, dial_address);
  ASSERT_TRUE(server && client);

  const Bytes up = pattern(3 << 20, 1);
  const Bytes down = pattern(2 << 20, 2);
  std::optional<Bytes> received_up, received_down;
  std::optional<std::error_code> wrote_up, wrote_down;
  asio::co_spawn(link.io, write_all(*client, up), [&](std::exception_ptr, std::error_code e) { wrote_up = e; });
  asio::co_spawn(link.io, write_all(*server, down), [&](std::exception_ptr, std::error_code e) { wrote_down = e; });
  asio::co_spawn(link.io, read_exactly(*server, up.size()), [&](std::exception_ptr, Bytes b) { received_up = b; });
  asio::co_spawn(link.io, read_exactly(*client, down.size()), [&](std::exception_ptr, Bytes b) { received_down = b; });
  ASSERT_TRUE(run_until(link.io, [&] { return received_up && received_down && wrote_up && wrote_down; }, 20s));
  EXPECT_FALSE(*wrote_up);
  EXPECT_FALSE(*wrote_down);
  EXPECT_TRUE(*received_up == up);
  EXPECT_TRUE(*received_down == down);
  EXPECT_EQ(client->remote_address(), net::format_authority(dial_address, 9000));
  EXPECT_EQ(link.colony->stats().retransmits, 0U) << "nothing is lost: nothing is sent twice";
  EXPECT_EQ(link.peer->stats().retransmits, 0U);
}

TEST(Stack, TransfersBothWaysOverIpv4) { transfer_both_ways("10.42.0.1", "10.42.0.1"); }

TEST(Stack, TransfersBothWaysOverIpv6) { transfer_both_ways("fd42::1", "fd42::1"); }

TEST(Stack, ListensOnTheAnyAddressOfAFamily) { transfer_both_ways("::", "fd42::1"); }

TEST(Stack, AReceiverSendsFewerAcksThanEverySecondSegment) {
  // lwIP acknowledges every second segment; within one batch only the
  // last of a connection's ACKs leaves (coalesce_acks), and writes made in
  // one turn of the event loop share segments.
  Link link;
  auto listener = link.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_pair(link, **listener, "10.42.0.1");
  ASSERT_TRUE(server && client);
  const auto sent_before = link.peer->stats().packets_out;
  const auto acks_before = link.colony->stats().packets_out;
  const Bytes data = pattern(8 << 20, 11);
  std::optional<Bytes> received;
  asio::co_spawn(link.io, write_all(*client, data), asio::detached);
  asio::co_spawn(link.io, read_exactly(*server, data.size()), [&](std::exception_ptr, Bytes b) { received = b; });
  ASSERT_TRUE(run_until(link.io, [&] { return received.has_value(); }, 20s));
  EXPECT_TRUE(*received == data);
  const auto segments = link.peer->stats().packets_out - sent_before;
  const auto acks = link.colony->stats().packets_out - acks_before;
  EXPECT_GE(segments, (8u << 20) / 1380) << "full-sized segments";
  EXPECT_LT(acks * 4, segments) << acks << " ACKs for " << segments << " segments";
  EXPECT_EQ(link.peer->stats().retransmits, 0u) << "fewer ACKs, and still nothing sent twice";
  std::printf("# %lu segments, %lu ACKs\n", static_cast<unsigned long>(segments), static_cast<unsigned long>(acks));
}

TEST(Stack, ClientCloseIsEndOfStreamForTheServer) {
  Link link;
  auto listener = link.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_pair(link, **listener, "10.42.0.1");
  ASSERT_TRUE(server && client);
  const Bytes last = pattern(100000, 3);
  ASSERT_EQ(run(link.io, write_all(*client, last)), std::error_code{});
  client->close();
  auto ended = run(link.io, read_to_end(*server));
  ASSERT_TRUE(ended);
  EXPECT_TRUE(ended->first == last) << "the bytes written before close arrive";
  EXPECT_EQ(ended->second, std::error_code(boost::system::error_code(asio::error::eof)));
}

TEST(Stack, ServerCloseIsEndOfStreamForTheClient) {
  Link link;
  auto listener = link.colony->listen("fd42::1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_pair(link, **listener, "fd42::1");
  ASSERT_TRUE(server && client);
  const Bytes last = pattern(5000, 4);
  ASSERT_EQ(run(link.io, write_all(*server, last)), std::error_code{});
  server.reset();  // destroying a stream closes it
  auto ended = run(link.io, read_to_end(*client));
  ASSERT_TRUE(ended);
  EXPECT_TRUE(ended->first == last) << "the bytes written before the close arrive";
  EXPECT_EQ(ended->second, std::error_code(boost::system::error_code(asio::error::eof)));
}

TEST(Stack, ClosingWithUnreadDataResetsThePeer) {
  Link link;
  auto listener = link.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_pair(link, **listener, "10.42.0.1");
  ASSERT_TRUE(server && client);
  ASSERT_EQ(run(link.io, write_all(*client, pattern(1000, 5))), std::error_code{});
  ASSERT_TRUE(run_until(link.io, [&] { return link.colony->stats().buffered_bytes == 1000; }));
  server->close();  // 1000 bytes unread
  auto ended = run(link.io, read_to_end(*client));
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->second, std::errc::connection_reset);
  EXPECT_EQ(link.colony->stats().buffered_bytes, 0U);
}

TEST(Stack, NoListenerIsConnectionRefused) {
  Link link;
  auto client = run(link.io, dial(*link.peer, "10.42.0.1", 9999));
  ASSERT_TRUE(client);
  ASSERT_FALSE(*client);
  EXPECT_EQ(client->error(), std::errc::connection_refused);
}

TEST(Stack, SilenceIsConnectTimedOut) {
  Link link({}, 300ms);
  link.to_colony->drop_all = true;
  auto listener = link.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(listener);
  auto client = run(link.io, dial(*link.peer, "10.42.0.1", 9000));
  ASSERT_TRUE(client);
  ASSERT_FALSE(*client);
  EXPECT_EQ(client->error(), net::Errc::connect_timed_out);
  EXPECT_EQ(link.peer->stats().connections, 0U) << "the attempt is gone";
}

TEST(Stack, DialErrorsAreTyped) {
  Link link;
  auto name = run(link.io, dial(*link.peer, "colony.example", 9000));
  ASSERT_TRUE(name && !*name);
  EXPECT_EQ(name->error(), net::Errc::not_an_ip_address);

  asio::io_context& io = link.io;
  StackOptions options;
  options.ipv4 = "10.42.0.3";
  auto v4_only = Stack::create(io, options);
  ASSERT_TRUE(v4_only);
  auto no_v6 = run(io, dial(**v4_only, "fd42::1", 9000));
  ASSERT_TRUE(no_v6 && !*no_v6);
  EXPECT_EQ(no_v6->error(), net::Errc::no_address_of_family);
}

TEST(Stack, ListenErrorsAreTyped) {
  Link link;
  auto first = link.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(first);
  EXPECT_EQ(link.colony->listen("10.42.0.1", 9000).error(), std::errc::address_in_use);
  EXPECT_EQ(link.colony->listen("10.42.0.2", 9000).error(), net::Errc::mesh_address_not_local);
  EXPECT_EQ(link.colony->listen("mesh.example", 9000).error(), net::Errc::not_an_ip_address);
  auto any_port = link.colony->listen("fd42::1", 0);
  ASSERT_TRUE(any_port);
  EXPECT_NE((*any_port)->local_port(), 0);
  EXPECT_EQ((*any_port)->local_address(), "[fd42::1]:" + std::to_string((*any_port)->local_port()));
}

TEST(Stack, SurvivesLossAndReordering) {
  Link link;
  link.to_colony->loss = 0.03;
  link.to_peer->loss = 0.03;
  link.to_colony->reorder = 0.1;
  link.to_peer->reorder = 0.1;
  auto listener = link.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_pair(link, **listener, "10.42.0.1");
  ASSERT_TRUE(server && client);
  const Bytes data = pattern(1 << 20, 6);
  std::optional<Bytes> received;
  asio::co_spawn(link.io, write_all(*client, data), asio::detached);
  asio::co_spawn(link.io, read_exactly(*server, data.size()), [&](std::exception_ptr, Bytes b) { received = b; });
  ASSERT_TRUE(run_until(link.io, [&] { return received.has_value(); }, 60s));
  EXPECT_TRUE(*received == data);
  EXPECT_GT(link.peer->stats().retransmits, 0U) << "the sender made up for the lost segments";
}

TEST(Stack, AFullWindowHoldsTheWriterUntilTheReaderReads) {
  Link link;
  auto listener = link.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_pair(link, **listener, "10.42.0.1");
  ASSERT_TRUE(server && client);
  const Bytes data = pattern(8 << 20, 7);  // more than the window and the send buffer together
  std::optional<std::error_code> wrote;
  asio::co_spawn(link.io, write_all(*client, data), [&](std::exception_ptr, std::error_code e) { wrote = e; });
  EXPECT_FALSE(run_until(link.io, [&] { return wrote.has_value(); }, 1s)) << "the writer waits for the window";
  const auto buffered = link.colony->stats().buffered_bytes;
  EXPECT_GT(buffered, 0U);
  EXPECT_LE(buffered, 2U << 20) << "no more than a window is buffered";
  auto received = run(link.io, read_exactly(*server, data.size()));
  ASSERT_TRUE(received);
  EXPECT_TRUE(*received == data);
  EXPECT_TRUE(run_until(link.io, [&] { return wrote.has_value(); }));
  EXPECT_FALSE(*wrote);
}

net::Awaitable<bool> echo_once(Stack& stack, std::string host, int i, std::uint16_t port = 7) {
  const net::Dialer dialer = stack.dialer();
  const net::Target target{host, port};
  auto stream = co_await dialer(target);
  if (!stream) {
    ADD_FAILURE() << "dial " << i << ": " << stream.error().message();
    co_return false;
  }
  const Bytes message = pattern(2000 + i, static_cast<std::uint8_t>(i));
  if (const auto error = co_await write_all(**stream, message)) {
    ADD_FAILURE() << "write " << i << ": " << error.message();
    co_return false;
  }
  const Bytes answer = co_await read_exactly(**stream, message.size());
  if (answer != message) ADD_FAILURE() << "echo " << i << ": " << answer.size() << " bytes of " << message.size();
  co_return answer == message;
}

TEST(Stack, ManyConcurrentConnections) {
  StackLimits limits;
  limits.max_connections_per_peer = 400;
  limits.max_half_open_per_peer = 256;
  Link link(limits);
  auto v4 = link.colony->listen("10.42.0.1", 7);
  auto v6 = link.colony->listen("fd42::1", 7);
  ASSERT_TRUE(v4 && v6);
  asio::co_spawn(link.io, serve_echo(**v4), asio::detached);
  asio::co_spawn(link.io, serve_echo(**v6), asio::detached);
  int ok = 0, done = 0;
  constexpr int kConnections = 200;
  for (int i = 0; i < kConnections; ++i) {
    asio::co_spawn(link.io, echo_once(*link.peer, i % 2 ? "10.42.0.1" : "fd42::1", i),
                   [&](std::exception_ptr, bool good) {
                     ++done;
                     ok += good;
                   });
  }
  ASSERT_TRUE(run_until(link.io, [&] { return done == kConnections; }, 30s));
  EXPECT_EQ(ok, kConnections);
}

TEST(Stack, APeerOverItsConnectionCapIsRefusedAndCounted) {
  StackLimits limits;
  limits.max_connections_per_peer = 4;
  Link link(limits, 500ms);
  auto listener = link.colony->listen("10.42.0.1", 7);
  ASSERT_TRUE(listener);
  asio::co_spawn(link.io, serve_echo(**listener), asio::detached);
  std::vector<StreamPtr> held;
  for (int i = 0; i < 4; ++i) {
    auto stream = run(link.io, dial(*link.peer, "10.42.0.1", 7));
    ASSERT_TRUE(stream && *stream);
    held.push_back(std::move(**stream));
  }
  auto fifth = run(link.io, dial(*link.peer, "10.42.0.1", 7));
  ASSERT_TRUE(fifth);
  EXPECT_FALSE(*fifth) << "the colony drops the fifth SYN";
  EXPECT_GE(link.colony->stats().connections_refused, 1U);
  EXPECT_EQ(link.colony->stats().connections, 4U);
  // Another peer is not affected: the colony's packets go to whichever
  // peer holds their destination.
  auto other = link.make("10.42.0.9", "", {}, 1s);
  Pipe other_up(link.io, *other, *link.colony);
  link.to_peer.reset();
  link.to_peer = std::make_unique<Pipe>(link.io, *link.colony, [&](const Bytes& packet) -> Stack* {
    if (packet.size() < 20 || (packet[0] >> 4) != 4) return link.peer.get();
    return packet[19] == 9 ? other.get() : link.peer.get();
  });
  auto answer = run(link.io, echo_once(*other, "10.42.0.1", 1));
  ASSERT_TRUE(answer);
  EXPECT_TRUE(*answer);
  // And the capped peer gets its place back when it closes one.
  held.pop_back();
  ASSERT_TRUE(run_until(link.io, [&] { return link.colony->stats().connections < 4; }));
  auto again = run(link.io, echo_once(*link.peer, "10.42.0.1", 2));
  ASSERT_TRUE(again);
  EXPECT_TRUE(*again);
}

// An ICMP echo request from 10.42.0.2 to 10.42.0.1 (IPv4 header checksum
// and ICMP checksum filled in).
Bytes icmp_echo_request() {
  Bytes packet = {0x45, 0, 0, 28, 0x12, 0x34, 0, 0, 64, 1, 0, 0, 10, 42, 0, 2, 10, 42, 0, 1,
                  8, 0, 0, 0, 0x00, 0x01, 0x00, 0x07};
  auto checksum = [](const Bytes& bytes, std::size_t from, std::size_t to) {
    std::uint32_t sum = 0;
    for (std::size_t i = from; i < to; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
  };
  auto ip = checksum(packet, 0, 20);
  packet[10] = ip >> 8;
  packet[11] = ip & 0xff;
  auto icmp = checksum(packet, 20, 28);
  packet[22] = icmp >> 8;
  packet[23] = icmp & 0xff;
  return packet;
}

// A TCP SYN from src:port to 10.42.0.1:9000 (checksums filled in).
Bytes tcp_syn(std::array<std::uint8_t, 4> src, std::uint16_t port, std::uint32_t seq) {
  Bytes packet = {0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, src[0], src[1], src[2], src[3], 10, 42, 0, 1,
                  static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port), 0x23, 0x28,
                  static_cast<std::uint8_t>(seq >> 24), static_cast<std::uint8_t>(seq >> 16),
                  static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq), 0, 0, 0, 0, 0x50, 0x02, 0xff,
                  0xff, 0, 0, 0, 0};
  auto fold = [](std::uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
  };
  auto sum16 = [&](std::size_t from, std::size_t to, std::uint32_t sum) {
    for (std::size_t i = from; i < to; i += 2) sum += (packet[i] << 8) | packet[i + 1];
    return sum;
  };
  const auto ip = fold(sum16(0, 20, 0));
  packet[10] = ip >> 8;
  packet[11] = ip & 0xff;
  const auto tcp = fold(sum16(20, 40, sum16(12, 20, 0) + 6 + 20));
  packet[36] = tcp >> 8;
  packet[37] = tcp & 0xff;
  return packet;
}

TEST(Stack, ASynFloodFromOnePeerHoldsItsCapOnlyAndOthersStillConnect) {
  // 88,000 SYNs (what killed a userspace-stack tool in the field) from one
  // peer's address (10.42.0.66, which no stack here holds: nobody resets
  // the half-open connections): a WireGuard peer cannot send from
  // another's address, so the per-peer cap is what stands between it and
  // everyone else.
  Link link;
  auto listener = link.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(listener);
  asio::co_spawn(link.io, serve_echo(**listener), asio::detached);
  std::vector<Bytes> flood;
  constexpr int kSyns = 88000;
  for (int i = 0; i < kSyns; ++i) flood.push_back(tcp_syn({10, 42, 0, 66}, static_cast<std::uint16_t>(1024 + i % 60000), i));
  for (std::size_t at = 0; at < flood.size(); at += 64) {
    std::vector<Packet> batch;
    for (std::size_t i = at; i < std::min(flood.size(), at + 64); ++i) batch.emplace_back(flood[i]);
    link.colony->input(batch);
    link.io.poll();
  }
  const auto stats = link.colony->stats();
  const StackLimits limits;
  EXPECT_EQ(stats.half_open, limits.max_half_open_per_peer);
  EXPECT_EQ(stats.connections, 0U);
  EXPECT_GE(stats.half_open_refused, static_cast<std::uint64_t>(kSyns) - limits.max_half_open_per_peer - 60000)
      << "refused SYNs are counted (repeated ports are retransmissions of a held SYN)";
  // Another peer connects as if nothing happened.
  auto other = link.make("10.42.0.3", "", {}, 2s);
  Pipe up(link.io, *other, *link.colony);
  link.to_peer.reset();
  link.to_peer = std::make_unique<Pipe>(link.io, *link.colony, [&](const Bytes& packet) -> Stack* {
    return packet.size() >= 20 && packet[19] == 3 ? other.get() : nullptr;
  });
  auto answer = run(link.io, echo_once(*other, "10.42.0.1", 5, 9000));
  ASSERT_TRUE(answer);
  EXPECT_TRUE(*answer);
}

TEST(Stack, AnswersIcmpEcho) {
  asio::io_context io(1);
  StackOptions options;
  options.ipv4 = "10.42.0.1";
  auto stack = Stack::create(io, options);
  ASSERT_TRUE(stack);
  std::vector<Bytes> out;
  (*stack)->set_output([&](std::span<const Packet> packets) {
    for (const auto& p : packets) out.emplace_back(p.begin(), p.end());
  });
  const Bytes request = icmp_echo_request();
  const Packet packet(request);
  (*stack)->input(std::span(&packet, 1));
  EXPECT_TRUE(out.empty()) << "the reply leaves from a fresh handler, not inside input()";
  io.poll();
  ASSERT_EQ(out.size(), 1U);
  const Bytes& reply = out[0];
  ASSERT_EQ(reply.size(), 28U);
  EXPECT_EQ(reply[9], 1) << "ICMP";
  EXPECT_EQ(Bytes(reply.begin() + 12, reply.begin() + 16), (Bytes{10, 42, 0, 1}));
  EXPECT_EQ(Bytes(reply.begin() + 16, reply.begin() + 20), (Bytes{10, 42, 0, 2}));
  EXPECT_EQ(reply[20], 0) << "echo reply";
  EXPECT_EQ(Bytes(reply.begin() + 24, reply.end()), Bytes(request.begin() + 24, request.end()));
}

TEST(Stack, DropsWhatIsNotAnIpPacket) {
  asio::io_context io(1);
  StackOptions options;
  options.ipv4 = "10.42.0.1";
  auto stack = Stack::create(io, options);
  ASSERT_TRUE(stack);
  int emitted = 0;
  (*stack)->set_output([&](std::span<const Packet> packets) { emitted += static_cast<int>(packets.size()); });
  const Bytes junk = {0x60, 1, 2, 3};
  const Bytes truncated = pattern(40, 9);
  const std::array<Packet, 2> packets = {Packet(junk), Packet(truncated)};
  (*stack)->input(packets);
  io.poll();
  EXPECT_EQ(emitted, 0);
  EXPECT_EQ((*stack)->stats().packets_in, 2U);
}

TEST(Stack, TwoStacksMayHoldTheSameAddresses) {
  // Two colonies' meshes in one process, both 10.42.0.0/16: each peer
  // reaches its own colony's listener on 10.42.0.1:9000.
  Link first;
  auto a = first.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(a);
  auto other_colony = first.make("10.42.0.1", "fd42::1", {}, 1s);
  auto other_peer = first.make("10.42.0.2", "fd42::2", {}, 1s);
  Pipe up(first.io, *other_peer, *other_colony);
  Pipe down(first.io, *other_colony, *other_peer);
  auto b = other_colony->listen("10.42.0.1", 9001);
  ASSERT_TRUE(b);

  auto to_first = run(first.io, dial(*first.peer, "10.42.0.1", 9000));
  ASSERT_TRUE(to_first && *to_first) << "first peer reaches the first colony";
  auto wrong = run(first.io, dial(*other_peer, "10.42.0.1", 9000));
  ASSERT_TRUE(wrong);
  EXPECT_FALSE(*wrong) << "the other peer's SYN reaches only the other colony, which has nothing on 9000";
  EXPECT_EQ(wrong->error(), std::errc::connection_refused);
  auto to_other = run(first.io, dial(*other_peer, "10.42.0.1", 9001));
  ASSERT_TRUE(to_other && *to_other);
}

TEST(Stack, ClosingOneStackLeavesAnotherOnTheSameAddressAlone) {
  Link first;
  auto listener = first.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_pair(first, **listener, "10.42.0.1");
  ASSERT_TRUE(server && client);
  {
    auto twin = first.make("10.42.0.1", "fd42::1", {}, 1s);
    auto twin_listener = twin->listen("10.42.0.1", 9001);
    ASSERT_TRUE(twin_listener);
    ASSERT_FALSE(twin->set_addresses("10.42.0.7", "fd42::7"));
    twin->close();
  }
  const Bytes data = pattern(50000, 8);
  ASSERT_EQ(run(first.io, write_all(*client, data)), std::error_code{});
  auto received = run(first.io, read_exactly(*server, data.size()));
  ASSERT_TRUE(received);
  EXPECT_TRUE(*received == data) << "the first colony's connection still works";
  auto again = run(first.io, dial(*first.peer, "10.42.0.1", 9000));
  ASSERT_TRUE(again && *again) << "and its listener still listens on 10.42.0.1";
}

TEST(Stack, ChangingAnAddressEndsWhatUsedIt) {
  Link link;
  auto v4 = link.colony->listen("10.42.0.1", 9000);
  auto v6 = link.colony->listen("fd42::1", 9000);
  ASSERT_TRUE(v4 && v6);
  auto [server4, client4] = connect_pair(link, **v4, "10.42.0.1");
  auto [server6, client6] = connect_pair(link, **v6, "fd42::1");
  ASSERT_TRUE(server4 && server6);
  ASSERT_FALSE(link.colony->set_addresses("10.42.0.5", "fd42::1"));
  EXPECT_EQ(link.colony->ipv4(), "10.42.0.5");
  EXPECT_EQ(link.colony->ipv6(), "fd42::1");
  auto gone = run(link.io, read_to_end(*server4));
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->second) << "the IPv4 connection ended";
  auto old_listener = run(link.io, accept(**v4));
  ASSERT_TRUE(old_listener && !*old_listener) << "the listener on the old address is closed";
  const Bytes data = pattern(1000, 9);
  ASSERT_EQ(run(link.io, write_all(*client6, data)), std::error_code{});
  auto received = run(link.io, read_exactly(*server6, data.size()));
  ASSERT_TRUE(received);
  EXPECT_TRUE(*received == data) << "the IPv6 connection is untouched";
  EXPECT_EQ(link.colony->set_addresses("10.42.0.300", "").value(), static_cast<int>(net::Errc::not_an_ip_address));
}

TEST(Stack, CloseResetsConnectionsAndFailsOperations) {
  Link link;
  auto listener = link.colony->listen("10.42.0.1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_pair(link, **listener, "10.42.0.1");
  ASSERT_TRUE(server && client);
  std::optional<std::error_code> read_error;
  asio::co_spawn(link.io, read_to_end(*server), [&](std::exception_ptr, std::pair<Bytes, std::error_code> r) {
    read_error = r.second;
  });
  link.colony->close();
  ASSERT_TRUE(run_until(link.io, [&] { return read_error.has_value(); }));
  EXPECT_TRUE(*read_error);
  auto after = run(link.io, accept(**listener));
  ASSERT_TRUE(after && !*after);
  auto ended = run(link.io, read_to_end(*client));
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->second, std::errc::connection_reset) << "the peer is told";
}

}  // namespace
}  // namespace coral::netstack
