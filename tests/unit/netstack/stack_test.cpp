// The userspace TCP/IP stack against itself through memory: two stacks
// joined by a packet pipe (no WireGuard), which can lose, reorder and hold
// packets. Connections, transfers both ways, closes from each side,
// resets, a full window, many connections, IPv4 and IPv6, the caps, ICMP
// echo, two stacks holding the same addresses, and a link-local
// (registration) address: dials from it to a ULA listener, the choice of a
// dial's source, and the restriction of what link-local sources may reach.

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
#include <boost/asio/ip/address_v6.hpp>
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

// ---- Link-local addresses (registration addresses, issue 14) ----

net::Awaitable<std::expected<StreamPtr, std::error_code>> dial_from(Stack& stack, const std::string& source,
                                                                    const std::string& host, std::uint16_t port) {
  const net::Dialer dialer = stack.dialer_from(source);
  const net::Target target{host, port};
  co_return co_await dialer(target);
}

// A colony (10.42.0.1, fd42::1) and a member with only a link-local
// address, as before registration; joined both ways.
struct LinkLocalLink {
  explicit LinkLocalLink(std::string member_v6 = "", std::string member_v4 = "") {
    StackOptions colony_options;
    colony_options.ipv4 = "10.42.0.1";
    colony_options.ipv6 = "fd42::1";
    colony_options.connect_timeout = 500ms;
    StackOptions member_options;
    member_options.ipv4 = member_v4;
    member_options.ipv6 = member_v6;
    member_options.link_local = "fe80::a";
    member_options.connect_timeout = 500ms;
    auto c = Stack::create(io, colony_options);
    auto m = Stack::create(io, member_options);
    EXPECT_TRUE(c && m);
    colony = *c;
    member = *m;
    up = std::make_unique<Pipe>(io, *member, *colony);
    down = std::make_unique<Pipe>(io, *colony, *member);
  }
  asio::io_context io{1};
  std::shared_ptr<Stack> colony;
  std::shared_ptr<Stack> member;
  std::unique_ptr<Pipe> up;
  std::unique_ptr<Pipe> down;
};

// member -> colony's `listener` at host, from `source`: both ends.
std::pair<StreamPtr, StreamPtr> connect_from(LinkLocalLink& link, const std::string& source, net::Listener& listener,
                                             const std::string& host) {
  std::optional<std::expected<StreamPtr, std::error_code>> server;
  asio::co_spawn(link.io, accept(listener), [&](std::exception_ptr, std::expected<StreamPtr, std::error_code> s) {
    server = std::move(s);
  });
  auto client = run(link.io, dial_from(*link.member, source, host, listener.local_port()));
  EXPECT_TRUE(client && *client) << (client && !*client ? client->error().message() : "no result");
  EXPECT_TRUE(run_until(link.io, [&] { return server.has_value(); }));
  EXPECT_TRUE(server && *server) << (server && !*server ? server->error().message() : "no result");
  if (!client || !*client || !server || !*server) return {};
  return {std::move(**server), std::move(**client)};
}

// Both ways over a connected pair.
void echo_both_ways(asio::io_context& io, net::ByteStream& server, net::ByteStream& client, std::uint8_t seed) {
  const Bytes up = pattern(200000, seed);
  const Bytes down = pattern(150000, static_cast<std::uint8_t>(seed + 1));
  ASSERT_EQ(run(io, write_all(client, up)), std::error_code{});
  auto received_up = run(io, read_exactly(server, up.size()));
  ASSERT_TRUE(received_up);
  EXPECT_TRUE(*received_up == up);
  ASSERT_EQ(run(io, write_all(server, down)), std::error_code{});
  auto received_down = run(io, read_exactly(client, down.size()));
  ASSERT_TRUE(received_down);
  EXPECT_TRUE(*received_down == down);
}

TEST(StackLinkLocal, AStackWithOnlyALinkLocalAddressReachesAUlaListener) {
  LinkLocalLink link;
  EXPECT_EQ(link.member->link_local(), "fe80::a");
  EXPECT_EQ(link.member->ipv6(), "");
  auto listener = link.colony->listen("fd42::1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_from(link, "fe80::a", **listener, "fd42::1");
  ASSERT_TRUE(server && client);
  EXPECT_EQ(server->remote_address().rfind("[fe80::a]:", 0), 0U) << server->remote_address();
  EXPECT_EQ(client->remote_address(), "[fd42::1]:9000");
  echo_both_ways(link.io, *server, *client, 20);
  // dialer() never picks the link-local address.
  auto plain = run(link.io, dial(*link.member, "fd42::1", 9000));
  ASSERT_TRUE(plain && !*plain);
  EXPECT_EQ(plain->error(), net::Errc::no_address_of_family);
}

TEST(StackLinkLocal, DialerFromChoosesTheSource) {
  LinkLocalLink link("fd42::2", "10.42.0.2");
  auto listener = link.colony->listen("::", 9000);
  ASSERT_TRUE(listener);
  auto [from_link_local, c1] = connect_from(link, "fe80::a", **listener, "fd42::1");
  ASSERT_TRUE(from_link_local);
  EXPECT_EQ(from_link_local->remote_address().rfind("[fe80::a]:", 0), 0U) << from_link_local->remote_address();
  auto [from_ula, c2] = connect_from(link, "fd42::2", **listener, "fd42::1");
  ASSERT_TRUE(from_ula);
  EXPECT_EQ(from_ula->remote_address().rfind("[fd42::2]:", 0), 0U) << from_ula->remote_address();
  echo_both_ways(link.io, *from_ula, *c2, 21);

  auto not_ours = run(link.io, dial_from(*link.member, "fd42::99", "fd42::1", 9000));
  ASSERT_TRUE(not_ours && !*not_ours);
  EXPECT_EQ(not_ours->error(), net::Errc::source_address_not_local);
  EXPECT_EQ(not_ours->error(), std::errc::address_not_available);
  auto other_family = run(link.io, dial_from(*link.member, "10.42.0.2", "fd42::1", 9000));
  ASSERT_TRUE(other_family && !*other_family);
  EXPECT_EQ(other_family->error(), net::Errc::no_address_of_family);
  auto not_an_address = run(link.io, dial_from(*link.member, "member.example", "fd42::1", 9000));
  ASSERT_TRUE(not_an_address && !*not_an_address);
  EXPECT_EQ(not_an_address->error(), net::Errc::not_an_ip_address);
}

TEST(StackLinkLocal, ARestrictedStackLetsLinkLocalSourcesReachOnlyItsPort) {
  LinkLocalLink link("fd42::2");
  link.colony->restrict_link_local(9000);
  auto registration = link.colony->listen("fd42::1", 9000);
  auto other = link.colony->listen("fd42::1", 9001);
  ASSERT_TRUE(registration && other);
  auto [server, client] = connect_from(link, "fe80::a", **registration, "fd42::1");
  ASSERT_TRUE(server && client);
  echo_both_ways(link.io, *server, *client, 22);
  EXPECT_EQ(link.colony->stats().restricted_dropped, 0U);

  const auto started = std::chrono::steady_clock::now();
  auto refused = run(link.io, dial_from(*link.member, "fe80::a", "fd42::1", 9001));
  ASSERT_TRUE(refused && !*refused);
  EXPECT_EQ(refused->error(), net::Errc::connect_timed_out) << "no SYN-ACK, and no reset either";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_GE(link.colony->stats().restricted_dropped, 1U);
  EXPECT_EQ(link.colony->stats().half_open, 0U) << "lwIP never saw the SYN";
  // The same port from the member's ULA address: not restricted.
  auto [ula_server, ula_client] = connect_from(link, "fd42::2", **other, "fd42::1");
  ASSERT_TRUE(ula_server && ula_client);
  echo_both_ways(link.io, *ula_server, *ula_client, 23);
  // Lifted: link-local sources reach every port again.
  link.colony->restrict_link_local(0);
  auto [lifted_server, lifted_client] = connect_from(link, "fe80::a", **other, "fd42::1");
  EXPECT_TRUE(lifted_server && lifted_client);
}

// An IPv6 packet from `source` to `destination`: `next_header`, then
// `payload`, whose upper-layer checksum (at `checksum_at`) is filled in.
Bytes ipv6_packet(const char* source, const char* destination, std::uint8_t next_header, Bytes payload,
                  std::optional<std::size_t> checksum_at) {
  const auto src = asio::ip::make_address_v6(source).to_bytes();
  const auto dst = asio::ip::make_address_v6(destination).to_bytes();
  Bytes packet = {0x60, 0, 0, 0, static_cast<std::uint8_t>(payload.size() >> 8),
                  static_cast<std::uint8_t>(payload.size()), next_header, 64};
  packet.insert(packet.end(), src.begin(), src.end());
  packet.insert(packet.end(), dst.begin(), dst.end());
  if (checksum_at) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < 16; i += 2) sum += (src[i] << 8) + src[i + 1] + (dst[i] << 8) + dst[i + 1];
    sum += static_cast<std::uint32_t>(payload.size()) + next_header;
    if (payload.size() % 2) payload.push_back(0);
    for (std::size_t i = 0; i < payload.size(); i += 2) sum += (payload[i] << 8) + payload[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    const auto checksum = static_cast<std::uint16_t>(~sum);
    payload[*checksum_at] = checksum >> 8;
    payload[*checksum_at + 1] = checksum & 0xff;
    payload.resize(packet[4] << 8 | packet[5]);
  }
  packet.insert(packet.end(), payload.begin(), payload.end());
  return packet;
}

Bytes icmp6_echo_request(const char* source, const char* destination) {
  return ipv6_packet(source, destination, 58, {128, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'}, 2);
}

Bytes tcp6_syn_payload(std::uint16_t port) {
  return {0x30, 0x39, static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port), 0, 0, 0, 1, 0, 0, 0, 0,
          0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0};
}

TEST(StackLinkLocal, ARestrictedStackDropsEverythingElseFromLinkLocalSourcesUnanswered) {
  asio::io_context io(1);
  StackOptions options;
  options.ipv6 = "fd42::1";
  options.link_local_tcp_port = 9000;
  auto created = Stack::create(io, options);
  ASSERT_TRUE(created);
  Stack& stack = **created;
  auto listener = stack.listen("fd42::1", 9001);
  ASSERT_TRUE(listener);
  std::vector<Bytes> out;
  stack.set_output([&](std::span<const Packet> packets) {
    for (const auto& p : packets) out.emplace_back(p.begin(), p.end());
  });
  const auto send = [&](const Bytes& bytes) {
    const Packet packet(bytes);
    stack.input(std::span(&packet, 1));
    io.poll();
  };
  // ICMPv6 echo from a ULA source: answered.
  send(icmp6_echo_request("fd42::2", "fd42::1"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0][6], 58);
  EXPECT_EQ(out[0][40], 129) << "echo reply";
  out.clear();
  // From a link-local source: echo, UDP, TCP to another (listening) port,
  // and TCP to the allowed port behind a hop-by-hop header.
  const Bytes hop_by_hop = [] {
    Bytes payload = {6, 0, 1, 4, 0, 0, 0, 0};
    const Bytes syn = tcp6_syn_payload(9000);
    payload.insert(payload.end(), syn.begin(), syn.end());
    return payload;
  }();
  const Bytes refused[] = {
      icmp6_echo_request("fe80::a", "fd42::1"),
      ipv6_packet("fe80::a", "fd42::1", 17, {0x30, 0x39, 0x23, 0x28, 0, 12, 0, 0, 'u', 'd', 'p', '!'}, 6),
      ipv6_packet("fe80::a", "fd42::1", 6, tcp6_syn_payload(9001), 16),
      ipv6_packet("fe80::a", "fd42::1", 0, hop_by_hop, std::nullopt),
      ipv6_packet("fe80::1:2", "fd42::1", 6, {0x30, 0x39, 0x23}, std::nullopt),  // too short for its ports
  };
  for (const Bytes& packet : refused) send(packet);
  EXPECT_TRUE(out.empty()) << out.size() << " answers";
  EXPECT_EQ(stack.stats().restricted_dropped, std::size(refused));
  EXPECT_EQ(stack.stats().half_open, 0U);
  // The allowed port: lwIP sees it (nothing listens on 9000 here: a reset).
  send(ipv6_packet("fe80::a", "fd42::1", 6, tcp6_syn_payload(9000), 16));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0][6], 6);
  EXPECT_EQ(out[0][40 + 13] & 0x04, 0x04) << "RST";
  out.clear();
  // Unrestricted, lwIP answers a link-local source's echo to its ULA
  // address (the reply leaves on the interface the request came in on).
  stack.restrict_link_local(0);
  send(icmp6_echo_request("fe80::a", "fd42::1"));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0][40], 129);
  EXPECT_EQ(Bytes(out[0].begin() + 24, out[0].begin() + 40),
            Bytes({0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a}));
  EXPECT_EQ(stack.stats().restricted_dropped, std::size(refused));
}

TEST(StackLinkLocal, TheLinkLocalAddressOutlivesSetAddressesAndItsRemovalEndsItsConnections) {
  LinkLocalLink link("fd42::2", "10.42.0.2");
  auto listener = link.colony->listen("::", 9000);
  ASSERT_TRUE(listener);
  auto [ll_server, ll_client] = connect_from(link, "fe80::a", **listener, "fd42::1");
  auto [ula_server, ula_client] = connect_from(link, "fd42::2", **listener, "fd42::1");
  ASSERT_TRUE(ll_server && ula_server);
  // A new mesh address leaves the link-local one and its connection alone.
  ASSERT_FALSE(link.member->set_addresses("10.42.0.3", "fd42::2"));
  EXPECT_EQ(link.member->link_local(), "fe80::a");
  echo_both_ways(link.io, *ll_server, *ll_client, 24);
  // Setting the same one again changes nothing.
  ASSERT_FALSE(link.member->set_link_local("fe80::a"));
  echo_both_ways(link.io, *ll_server, *ll_client, 25);
  // Removed: its connection is reset, at both ends; the ULA one is not.
  ASSERT_FALSE(link.member->set_link_local(""));
  EXPECT_EQ(link.member->link_local(), "");
  auto client_end = run(link.io, read_to_end(*ll_client));
  ASSERT_TRUE(client_end);
  EXPECT_TRUE(client_end->second);
  auto server_end = run(link.io, read_to_end(*ll_server));
  ASSERT_TRUE(server_end);
  EXPECT_EQ(server_end->second, std::errc::connection_reset) << "the colony is told";
  echo_both_ways(link.io, *ula_server, *ula_client, 26);
  auto gone = run(link.io, dial_from(*link.member, "fe80::a", "fd42::1", 9000));
  ASSERT_TRUE(gone && !*gone);
  EXPECT_EQ(gone->error(), net::Errc::source_address_not_local);
  // Another one works at once.
  ASSERT_FALSE(link.member->set_link_local("fe80::b"));
  auto [new_server, new_client] = connect_from(link, "fe80::b", **listener, "fd42::1");
  ASSERT_TRUE(new_server && new_client);
  echo_both_ways(link.io, *new_server, *new_client, 27);
  // Errors.
  EXPECT_EQ(link.member->set_link_local("fd42::9"), std::errc::invalid_argument) << "not link-local";
  EXPECT_EQ(link.member->set_link_local("10.0.0.1"), net::Errc::not_an_ip_address);
  EXPECT_EQ(link.member->set_link_local("link.example"), net::Errc::not_an_ip_address);
  EXPECT_EQ(link.member->link_local(), "fe80::b");
  StackOptions bad;
  bad.link_local = "fd42::9";
  EXPECT_FALSE(Stack::create(link.io, bad));
}

TEST(StackLinkLocal, TwoStacksMayHoldTheSameLinkLocalAddress) {
  // lwIP keeps link-local addresses with their interface's zone: closing
  // the twin (lwIP's clean-up aborts connections by local address) leaves
  // the first's connection alone.
  LinkLocalLink first;
  StackOptions twin_options;
  twin_options.link_local = "fe80::a";
  auto twin = Stack::create(first.io, twin_options);
  ASSERT_TRUE(twin);
  auto listener = first.colony->listen("fd42::1", 9000);
  ASSERT_TRUE(listener);
  auto [server, client] = connect_from(first, "fe80::a", **listener, "fd42::1");
  ASSERT_TRUE(server && client);
  (*twin)->close();
  echo_both_ways(first.io, *server, *client, 28);
}

}  // namespace
}  // namespace coral::netstack
